//! The session log's one writer thread, with group commit across all sessions. [`SessionLogWriter`] owns the
//! [`SessionLog`]; clients ([`SessionLogHandle`], one clone per connection) submit a batch of records over a
//! bounded channel with a completion (a `tokio::sync::oneshot`): an async connection task awaits it without
//! blocking a tokio worker, a plain thread takes it with `blocking_recv`. Each turn the thread takes every waiting
//! submission (at most the queue's capacity), appends them all, commits once (one fdatasync for every session's
//! writes of the turn; more only if the turn passes [`wal::COMMIT_BYTES_MAX`]) and then completes every waiter with
//! the index of its submission's last record. The records of a submission are consecutive in the log, in the order
//! given; submissions from one client are logged in the order it submitted them.
//!
//! It must never: complete a waiter before the fdatasync that covers its records, let the queue grow past its
//! bound (a full queue makes the submitter wait: back-pressure), or go on after a failed commit. On a failure
//! every waiter of that turn and every later one gets [`WriteError::Failed`] with the reason, later submissions
//! are refused, and the thread stops (fail closed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::{Record, RecordError, SessionLog};
use crate::wal::{self, FRAME_HEADER_BYTES};

/// The most records in one submission.
pub const SUBMISSION_RECORDS_MAX: usize = 1_024;
/// The most encoded bytes in one submission, so that one submission fits one commit.
pub const SUBMISSION_BYTES_MAX: usize = wal::COMMIT_BYTES_MAX / 2;
/// The largest queue of waiting submissions a writer may be configured with.
pub const QUEUE_SUBMISSIONS_MAX: usize = 4_096;
/// The queue of waiting submissions by default: at most this many times [`SUBMISSION_BYTES_MAX`] in memory.
pub const QUEUE_SUBMISSIONS_DEFAULT: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Submissions the queue holds before a submitter waits; also the most submissions of one turn.
    pub queue_submissions: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            queue_submissions: QUEUE_SUBMISSIONS_DEFAULT,
        }
    }
}

/// Why the writer could not start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartError {
    #[error("a queue of {queue_submissions} submissions; it takes 1 to {QUEUE_SUBMISSIONS_MAX}")]
    QueueSubmissions { queue_submissions: usize },
    #[error("the session log has {pending_bytes} bytes appended and not committed")]
    Pending { pending_bytes: usize },
}

/// Why records were not made durable. Nothing of a submission that gets one is reported durable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("the session log failed and accepts nothing more: {0}")]
    Failed(String),
    #[error("the session log writer has stopped")]
    Stopped,
}

/// Why a submission was refused; nothing of it was queued.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("an empty submission")]
    Empty,
    #[error("a submission of {count} records; the most is {SUBMISSION_RECORDS_MAX}")]
    TooManyRecords { count: usize },
    #[error("a submission of {bytes} bytes; the most is {SUBMISSION_BYTES_MAX}")]
    TooManyBytes { bytes: usize },
    #[error("record {index} of the submission: {error}")]
    Invalid { index: usize, error: RecordError },
    #[error("the session log failed and accepts nothing more: {0}")]
    Failed(String),
    #[error("the session log writer has stopped")]
    Stopped,
}

/// What a submitter awaits: the index of its submission's last record once it is durable, or why not. A closed
/// channel (`RecvError`) means the writer stopped without an answer: treat it as not durable.
pub type Completion = oneshot::Receiver<Result<u64, WriteError>>;

struct Submission {
    records: Vec<Record>,
    done: oneshot::Sender<Result<u64, WriteError>>,
}

/// The records of one turn, after its commit: what a reader behind the log (the sled indexer) is handed, in log
/// order. `records[i]` has index `first_index + i`.
#[derive(Debug)]
pub struct Committed {
    pub first_index: u64,
    pub records: Vec<Record>,
    /// Nanoseconds the turn's commits (writes and fdatasyncs) took.
    pub commit_ns: u64,
}

/// Where committed turns go: a bounded channel, so that a reader that falls far behind slows the writer rather
/// than letting memory grow.
pub type CommittedSink = std::sync::mpsc::SyncSender<Committed>;

/// What the writer has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Successful commits (fdatasync rounds).
    pub commits: u64,
    /// Submissions made durable and completed.
    pub submissions: u64,
    /// The index of the last record made durable.
    pub durable_index: u64,
}

#[derive(Default)]
struct Shared {
    failed: OnceLock<String>,
    commits: AtomicU64,
    submissions: AtomicU64,
    durable_index: AtomicU64,
    #[cfg(test)]
    hooks: tests::Hooks,
}

impl Shared {
    fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.commits.load(Ordering::Acquire),
            submissions: self.submissions.load(Ordering::Acquire),
            durable_index: self.durable_index.load(Ordering::Acquire),
        }
    }
}

/// A client's end: cheap to clone, one per connection.
#[derive(Clone)]
pub struct SessionLogHandle {
    input: mpsc::Sender<Submission>,
    shared: Arc<Shared>,
}

impl SessionLogHandle {
    /// Queues `records` (consecutive in the log, in this order), waiting while the queue is full, and returns the
    /// completion to await before anything that depends on their durability (an outgoing message's bytes on the
    /// socket) happens.
    pub async fn submit(&self, records: Vec<Record>) -> Result<Completion, SubmitError> {
        let (submission, completion) = self.prepare(records)?;
        match self.input.send(submission).await {
            Ok(()) => Ok(completion),
            Err(_) => Err(self.refused()),
        }
    }

    /// [`SessionLogHandle::submit`] from a plain thread: blocks while the queue is full. Panics if called from
    /// an async context (use `submit` there).
    pub fn submit_blocking(&self, records: Vec<Record>) -> Result<Completion, SubmitError> {
        let (submission, completion) = self.prepare(records)?;
        match self.input.blocking_send(submission) {
            Ok(()) => Ok(completion),
            Err(_) => Err(self.refused()),
        }
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        self.shared.stats()
    }

    /// Checks a submission against every bound before it takes a place in the queue.
    fn prepare(&self, records: Vec<Record>) -> Result<(Submission, Completion), SubmitError> {
        if let Some(reason) = self.shared.failed.get() {
            return Err(SubmitError::Failed(reason.clone()));
        }
        if records.is_empty() {
            return Err(SubmitError::Empty);
        }
        if records.len() > SUBMISSION_RECORDS_MAX {
            return Err(SubmitError::TooManyRecords {
                count: records.len(),
            });
        }
        let mut bytes = 0;
        for (index, record) in records.iter().enumerate() {
            record
                .check()
                .map_err(|error| SubmitError::Invalid { index, error })?;
            bytes += FRAME_HEADER_BYTES + record.encoded_bytes();
        }
        if bytes > SUBMISSION_BYTES_MAX {
            return Err(SubmitError::TooManyBytes { bytes });
        }
        let (done, completion) = oneshot::channel();
        Ok((Submission { records, done }, completion))
    }

    fn refused(&self) -> SubmitError {
        match self.shared.failed.get() {
            Some(reason) => SubmitError::Failed(reason.clone()),
            None => SubmitError::Stopped,
        }
    }
}

/// The writer thread and its owner's handle on it.
pub struct SessionLogWriter {
    handle: SessionLogHandle,
    thread: JoinHandle<Result<SessionLog, WriteError>>,
}

impl SessionLogWriter {
    /// Starts the writer thread, which owns `log` from now on.
    pub fn start(log: SessionLog, config: WriterConfig) -> Result<SessionLogWriter, StartError> {
        SessionLogWriter::start_with(log, config, None)
    }

    /// [`SessionLogWriter::start`], handing every committed turn's records to `sink` after its waiters are
    /// completed. A sink that hung up is a reader that stopped: the writer goes on (the log is the truth; the
    /// reader's owner notices and stops the venue).
    pub fn start_with(
        log: SessionLog,
        config: WriterConfig,
        sink: Option<CommittedSink>,
    ) -> Result<SessionLogWriter, StartError> {
        let queue_submissions = config.queue_submissions;
        if !(1..=QUEUE_SUBMISSIONS_MAX).contains(&queue_submissions) {
            return Err(StartError::QueueSubmissions { queue_submissions });
        }
        if log.pending_bytes() != 0 {
            return Err(StartError::Pending {
                pending_bytes: log.pending_bytes(),
            });
        }
        let shared = Arc::new(Shared::default());
        shared
            .durable_index
            .store(log.durable_index(), Ordering::Release);
        let (input, receiver) = mpsc::channel(queue_submissions);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("session-log".into())
            .spawn(move || run(log, receiver, &thread_shared, queue_submissions, sink))
            .expect("spawning the session log writer thread");
        Ok(SessionLogWriter {
            handle: SessionLogHandle { input, shared },
            thread,
        })
    }

    /// A new client end.
    pub fn handle(&self) -> SessionLogHandle {
        self.handle.clone()
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        self.handle.stats()
    }

    /// Stops taking submissions once every handle is dropped, waits for the thread to make the queued ones
    /// durable, and hands the log back; or says why the writer failed. Blocks until every handle is dropped.
    pub fn finish(self) -> Result<SessionLog, WriteError> {
        drop(self.handle);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(WriteError::Failed("the writer thread panicked".into())))
    }
}

/// The thread: turns until every handle is dropped or a commit fails.
fn run(
    mut log: SessionLog,
    mut input: mpsc::Receiver<Submission>,
    shared: &Shared,
    turn_submissions_max: usize,
    mut sink: Option<CommittedSink>,
) -> Result<SessionLog, WriteError> {
    let mut turn = Vec::with_capacity(turn_submissions_max);
    let mut lasts = Vec::with_capacity(turn_submissions_max);
    while let Some(first) = input.blocking_recv() {
        #[cfg(test)]
        shared.hooks.hold();
        turn.push(first);
        while turn.len() < turn_submissions_max {
            match input.try_recv() {
                Ok(submission) => turn.push(submission),
                Err(_) => break,
            }
        }
        lasts.clear();
        let started = std::time::Instant::now();
        if let Err(reason) = write_turn(&mut log, &turn, &mut lasts, shared) {
            return Err(fail_closed(reason, turn, input, shared));
        }
        shared
            .durable_index
            .store(log.durable_index(), Ordering::Release);
        // Counted before the waiters hear of it, so that a completed submitter always sees itself counted.
        shared
            .submissions
            .fetch_add(turn.len() as u64, Ordering::AcqRel);
        let commit_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let first_index = match (turn.first(), lasts.first()) {
            (Some(submission), Some(&last)) => last + 1 - submission.records.len() as u64,
            _ => log.durable_index() + 1,
        };
        let mut records = Vec::new();
        for (submission, &last) in turn.drain(..).zip(&lasts) {
            // A submitter that stopped waiting dropped its completion: nothing to tell it.
            let _ = submission.done.send(Ok(last));
            if sink.is_some() {
                records.extend(submission.records);
            }
        }
        if let Some(to) = &sink
            && to
                .send(Committed {
                    first_index,
                    records,
                    commit_ns,
                })
                .is_err()
        {
            sink = None;
        }
    }
    Ok(log)
}

/// Appends every record of the turn and commits; `lasts[i]` is the index of submission i's last record.
fn write_turn(
    log: &mut SessionLog,
    turn: &[Submission],
    lasts: &mut Vec<u64>,
    shared: &Shared,
) -> Result<(), String> {
    for submission in turn {
        for record in &submission.records {
            // A torn write is at most one commit long: commit before the buffer would pass the bound.
            if log.pending_bytes() + FRAME_HEADER_BYTES + record.encoded_bytes()
                > wal::COMMIT_BYTES_MAX
            {
                commit(log, shared)?;
            }
            log.append(record).map_err(|error| error.to_string())?;
        }
        lasts.push(log.last_index());
    }
    commit(log, shared)
}

fn commit(log: &mut SessionLog, shared: &Shared) -> Result<(), String> {
    #[cfg(test)]
    shared.hooks.before_commit()?;
    log.commit().map_err(|error| error.to_string())?;
    shared.commits.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// Records the failure (so that submitters are refused from now on), closes the queue, and answers every waiter
/// of the failed turn and every queued one with the error.
fn fail_closed(
    reason: String,
    turn: Vec<Submission>,
    mut input: mpsc::Receiver<Submission>,
    shared: &Shared,
) -> WriteError {
    let reason = shared.failed.get_or_init(|| reason).clone();
    let error = WriteError::Failed(reason);
    input.close();
    for submission in turn {
        let _ = submission.done.send(Err(error.clone()));
    }
    // After close no submission can enter; this drains the ones already queued and ends.
    while let Some(submission) = input.blocking_recv() {
        let _ = submission.done.send(Err(error.clone()));
    }
    error
}

#[cfg(test)]
mod tests;
