//! The single writer. One thread owns the engine and the journal. Submissions (commands, each with its origin:
//! the submitter's own opaque context, such as the FIX session and ClOrdID) arrive over a bounded channel; each
//! command gets the next global sequence number and a timestamp, is appended to the journal with its origin (one
//! record, so one fdatasync covers both) and applied to the engine. Group commit: a batch is made durable (one
//! fdatasync) when it is full or when no command has arrived for a short bounded wait, and only then are its
//! events released to the rest of the venue, each command with its origin. Nothing that acknowledges a command can
//! leave before its batch is durable, because nothing leaves but released batches.
//!
//! Sequence numbers are assigned contiguously in submission order: the commands of an accepted submission get
//! consecutive numbers in the order given, submissions are taken in the order they were numbered, nothing accepted
//! is skipped or reordered, and a refused submission (`Err` from [`Submitter::submit`] or
//! [`Submitter::try_submit`]) gets none. Every command takes a number, whatever the engine makes of it. A
//! submission learns its numbers from what `submit` returns (numbered under the lock that also orders the
//! channel), so any number of submitters (the gateway, an admin halt, a drop copy) can share the sequencer:
//! nobody predicts another's numbers. The sequencer thread checks every submission's first number against its
//! journal and stops (fail closed) if they ever differ.
//!
//! On a journal failure the sequencer stops (fail closed): the batch in flight is never released, the release
//! channel closes, and [`Sequencer::finish`] reports why.

use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::journal::{
    AppendError, COMMIT_BYTES_MAX, CommitError, FRAME_BYTES_MAX, Journal, JournalOptions,
    OpenError, Recovery,
};
pub use crate::record::ORIGIN_BYTES_MAX;
use engine::{Command, Engine, Event, Seq, Sequenced};

/// The most commands in one submission.
pub const SUBMISSION_COMMANDS_MAX: usize = 4_096;

/// One command to sequence and its origin: the submitter's own context for it (at most [`ORIGIN_BYTES_MAX`]
/// bytes), opaque to the sequencer and the engine, journaled with the command and handed back with its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub command: Command,
    pub origin: Vec<u8>,
}

impl Submission {
    /// A command with an empty origin.
    pub fn bare(command: Command) -> Submission {
        Submission {
            command,
            origin: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SequencerConfig {
    /// The most commands made durable by one fdatasync.
    pub batch_commands_max: usize,
    /// How long an open batch waits for more commands before it is committed.
    pub batch_wait: Duration,
    /// Submissions the input channel holds before `submit` blocks (and `try_submit` refuses).
    pub input_capacity: usize,
    /// Released batches the output channel holds before the sequencer waits for its reader.
    pub output_capacity: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            batch_commands_max: 16_384,
            batch_wait: Duration::from_micros(100),
            input_capacity: 1_024,
            output_capacity: 64,
        }
    }
}

/// The time source: nanoseconds since the Unix epoch. The sequencer never lets stamps go backwards.
pub type Clock = Box<dyn FnMut() -> i64 + Send>;

/// The system clock.
pub fn system_clock() -> Clock {
    Box::new(|| {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
    })
}

/// A durable batch: its commands as sequenced, their origins and the events they produced, in order.
#[derive(Clone, Debug, Default)]
pub struct Released {
    pub commands: Vec<Sequenced>,
    /// `origins[i]` is the origin `commands[i]` was submitted with.
    pub origins: Vec<Vec<u8>>,
    pub events: Vec<Event>,
    /// `events[event_ends[i - 1]..event_ends[i]]` are the events of `commands[i]` (from 0 for the first).
    pub event_ends: Vec<usize>,
    /// How long the batch's commit (write and fdatasync) took, in nanoseconds (the venue's metrics).
    pub commit_ns: u64,
}

impl Released {
    /// The events of the `index`-th command of the batch.
    pub fn events_of(&self, index: usize) -> &[Event] {
        let start = if index == 0 {
            0
        } else {
            self.event_ends[index - 1]
        };
        &self.events[start..self.event_ends[index]]
    }

    /// The origin the `index`-th command of the batch was submitted with.
    pub fn origin_of(&self, index: usize) -> &[u8] {
        &self.origins[index]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("submission of {count} commands; the most is {SUBMISSION_COMMANDS_MAX}")]
    TooLarge { count: usize },
    #[error("origin of {bytes} bytes; the most is {ORIGIN_BYTES_MAX}")]
    OriginTooLarge { bytes: usize },
    #[error("the sequencer's input is full")]
    Full,
    #[error("the sequencer has stopped")]
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error("journal append: {0}")]
    Append(#[from] AppendError),
    #[error("journal commit: {0}")]
    Commit(#[from] CommitError),
    #[error("engine is at sequence {engine} but the journal at {journal}")]
    OutOfStep { engine: Seq, journal: Seq },
    #[error("a submission was numbered from {numbered} but the journal's next number is {journal}")]
    MisNumbered { numbered: Seq, journal: Seq },
    #[error("nobody reads the released batches any more")]
    ReleaseClosed,
    #[error("the sequencer thread panicked")]
    Panicked,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("opening the journal: {0}")]
    Open(#[from] OpenError),
}

/// Opens the journal in `dir` and replays it into `engine` (start-up recovery), then audits the engine.
/// `on_record` sees every replayed record in order with its origin (empty for a record journaled before origins
/// existed) and the events the engine produced for it, so the caller can rebuild its own state. On an error,
/// whatever `on_record` built must be discarded.
pub fn recover(
    dir: &Path,
    options: JournalOptions,
    mut engine: Engine,
    mut on_record: impl FnMut(&Sequenced, &[u8], &[Event]),
) -> Result<(Engine, Journal, Recovery), RecoverError> {
    let mut events = Vec::with_capacity(1_024);
    let (journal, recovery) = Journal::open(dir, options, |record, origin| {
        events.clear();
        engine.apply(record, &mut events);
        on_record(record, origin, &events);
    })?;
    engine.audit();
    Ok((engine, journal, recovery))
}

pub struct Sequencer {
    submitter: Submitter,
    last_seq_at_start: Seq,
    thread: JoinHandle<Result<(Engine, Journal), SequencerError>>,
}

/// A submission as it travels to the sequencer thread: the number its first command was given, and the commands.
type Numbered = (Seq, Vec<Submission>);

/// The sequencer's input and the next number it will give, behind one lock, so that the order of the numbers is
/// the order of the channel. `None` once the sequencer is finished.
struct Input {
    sender: Option<SyncSender<Numbered>>,
    next_seq: Seq,
}

/// A handle that submits commands to the sequencer; clone it for each submitter. Each accepted submission is
/// answered with the sequence numbers its commands were given.
#[derive(Clone)]
pub struct Submitter {
    input: Arc<Mutex<Input>>,
}

impl Submitter {
    fn lock(&self) -> MutexGuard<'_, Input> {
        // The lock guards plain data that no panic can leave half-written (a number and a sender).
        self.input.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Submits commands with their origins, waiting while the input is full; returns the sequence numbers the
    /// commands were given, in order (empty for an empty submission). A submission with too many commands or an
    /// origin over [`ORIGIN_BYTES_MAX`] is refused whole: nothing of it is sequenced.
    pub fn submit(&self, submission: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        check_submission(&submission)?;
        let mut input = self.lock();
        let first = input.next_seq;
        let count = submission.len() as Seq;
        let sender = input.sender.as_ref().ok_or(SubmitError::Stopped)?;
        sender
            .send((first, submission))
            .map_err(|_| SubmitError::Stopped)?;
        input.next_seq += count;
        Ok(first..first + count)
    }

    /// Submits commands with their origins unless the input is full (the gateway's overload policy: reject,
    /// then disconnect); returns their sequence numbers. Refuses what [`Submitter::submit`] refuses, whole. It
    /// never waits for room in the input, but it does wait for the lock while another submitter's `submit` waits
    /// for room (numbers and channel order must stay one).
    pub fn try_submit(&self, submission: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        check_submission(&submission)?;
        let mut input = self.lock();
        let first = input.next_seq;
        let count = submission.len() as Seq;
        let sender = input.sender.as_ref().ok_or(SubmitError::Stopped)?;
        sender
            .try_send((first, submission))
            .map_err(|error| match error {
                TrySendError::Full(_) => SubmitError::Full,
                TrySendError::Disconnected(_) => SubmitError::Stopped,
            })?;
        input.next_seq += count;
        Ok(first..first + count)
    }
}

/// Refuses a submission the sequencer must not take: too many commands, or an origin too long to journal.
fn check_submission(submission: &[Submission]) -> Result<(), SubmitError> {
    if submission.len() > SUBMISSION_COMMANDS_MAX {
        return Err(SubmitError::TooLarge {
            count: submission.len(),
        });
    }
    match submission
        .iter()
        .find(|item| item.origin.len() > ORIGIN_BYTES_MAX)
    {
        Some(item) => Err(SubmitError::OriginTooLarge {
            bytes: item.origin.len(),
        }),
        None => Ok(()),
    }
}

impl Sequencer {
    /// Starts the sequencer thread; returns it and the receiver of released batches.
    pub fn start(
        engine: Engine,
        journal: Journal,
        config: SequencerConfig,
        clock: Clock,
    ) -> Result<(Sequencer, Receiver<Released>), SequencerError> {
        if engine.last_seq() != journal.last_seq() {
            return Err(SequencerError::OutOfStep {
                engine: engine.last_seq(),
                journal: journal.last_seq(),
            });
        }
        let (sender, commands) = mpsc::sync_channel(config.input_capacity.max(1));
        let (output, released) = mpsc::sync_channel(config.output_capacity.max(1));
        let last_ts_ns = journal.last_ts_ns();
        let last_seq_at_start = journal.last_seq();
        let mut worker = Worker {
            engine,
            journal,
            config,
            clock,
            last_ts_ns,
            batch: Released::default(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                worker
                    .run(&commands, &output)
                    .map(|()| (worker.engine, worker.journal))
            })
            .expect("spawning the sequencer thread");
        let submitter = Submitter {
            input: Arc::new(Mutex::new(Input {
                sender: Some(sender),
                next_seq: last_seq_at_start + 1,
            })),
        };
        let sequencer = Sequencer {
            submitter,
            last_seq_at_start,
            thread,
        };
        Ok((sequencer, released))
    }

    /// The journal's last sequence number when the sequencer started: the first command submitted after the
    /// start gets this plus one.
    pub fn last_seq_at_start(&self) -> Seq {
        self.last_seq_at_start
    }

    /// A handle for another submitter (an admin halt, a drop copy): its commands are numbered among everyone
    /// else's, and each submission learns its own numbers. A handle outliving [`Sequencer::finish`] is refused.
    pub fn submitter(&self) -> Submitter {
        self.submitter.clone()
    }

    /// [`Submitter::submit`] on the sequencer's own handle.
    pub fn submit(&self, submission: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        self.submitter.submit(submission)
    }

    /// [`Submitter::try_submit`] on the sequencer's own handle.
    pub fn try_submit(&self, submission: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        self.submitter.try_submit(submission)
    }

    /// Closes the input (for every handle), lets the sequencer commit and release what it holds, and hands back
    /// the engine and journal (or the error that stopped it).
    pub fn finish(self) -> Result<(Engine, Journal), SequencerError> {
        drop(self.submitter.lock().sender.take());
        self.thread.join().map_err(|_| SequencerError::Panicked)?
    }
}

struct Worker {
    engine: Engine,
    journal: Journal,
    config: SequencerConfig,
    clock: Clock,
    last_ts_ns: i64,
    batch: Released,
}

impl Worker {
    fn run(
        &mut self,
        input: &Receiver<Numbered>,
        output: &SyncSender<Released>,
    ) -> Result<(), SequencerError> {
        while let Ok(submission) = input.recv() {
            self.take(submission, output)?;
            let deadline = Instant::now() + self.config.batch_wait;
            loop {
                let wait = deadline.saturating_duration_since(Instant::now());
                match input.recv_timeout(wait) {
                    Ok(submission) => self.take(submission, output)?,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            self.commit_and_release(output)?;
        }
        self.commit_and_release(output)
    }

    /// Sequences, journals and applies each command, committing whenever the batch is full.
    fn take(
        &mut self,
        (first, submission): Numbered,
        output: &SyncSender<Released>,
    ) -> Result<(), SequencerError> {
        let journal = self.journal.last_seq() + 1;
        if first != journal {
            // Whatever the submitter was told is wrong: stop rather than let it misname orders.
            return Err(SequencerError::MisNumbered {
                numbered: first,
                journal,
            });
        }
        for Submission {
            mut command,
            origin,
        } in submission
        {
            let full = self.batch.commands.len() >= self.config.batch_commands_max
                || self.journal.pending_bytes() + FRAME_BYTES_MAX > COMMIT_BYTES_MAX;
            if full {
                self.commit_and_release(output)?;
            }
            let ts_ns = (self.clock)().max(self.last_ts_ns);
            self.last_ts_ns = ts_ns;
            if let Command::Time { now_ns } = &mut command {
                // The venue's time is the sequencer's stamp, whatever the submitter thought.
                *now_ns = ts_ns;
            }
            let record = Sequenced {
                seq: self.journal.last_seq() + 1,
                ts_ns,
                command,
            };
            self.journal.append(&record, &origin)?;
            self.engine.apply(&record, &mut self.batch.events);
            self.batch.commands.push(record);
            self.batch.origins.push(origin);
            self.batch.event_ends.push(self.batch.events.len());
        }
        Ok(())
    }

    /// Makes the batch durable, then (and only then) hands it to the reader.
    fn commit_and_release(&mut self, output: &SyncSender<Released>) -> Result<(), SequencerError> {
        if self.batch.commands.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        self.journal.commit()?;
        self.batch.commit_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let batch = std::mem::take(&mut self.batch);
        output
            .send(batch)
            .map_err(|_| SequencerError::ReleaseClosed)
    }
}
