//! The writer: concurrent submitters (threads and tokio tasks) are completed only once durable and logged in their
//! own order; a turn is one commit; a full queue makes the submitter wait; a failed commit fails every waiter and
//! refuses what comes after.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::super::tests::{open, outgoing};
use super::*;
use crate::session_log::{MESSAGE_BYTES_MAX, Message, SeqNums};

/// Test-only controls of the writer thread.
#[derive(Default)]
pub(super) struct Hooks {
    /// Held by a test, it stops the thread after it took a turn's first submission and before it takes the rest.
    gate: Mutex<()>,
    /// Set by a test, every commit fails as an fdatasync error would.
    fail_commits: AtomicBool,
}

impl Hooks {
    pub(super) fn hold(&self) {
        drop(self.gate.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(super) fn before_commit(&self) -> Result<(), String> {
        if self.fail_commits.load(Ordering::Acquire) {
            return Err("injected fdatasync failure: Input/output error (os error 5)".into());
        }
        Ok(())
    }
}

fn close_gate(writer: &SessionLogWriter) -> MutexGuard<'_, ()> {
    writer.handle.shared.hooks.gate.lock().expect("gate")
}

fn start(dir: &std::path::Path, queue_submissions: usize) -> SessionLogWriter {
    let (log, _, _) = open(dir).expect("opens");
    SessionLogWriter::start(log, WriterConfig { queue_submissions }).expect("starts")
}

/// The records of one submission of `session`: MsgSeqNums `first..first + count`, sizes varying.
fn records(session: &str, first: u64, count: u64) -> Vec<Record> {
    (first..first + count)
        .map(|seq| {
            outgoing(
                session,
                seq,
                &vec![b'0' + (seq % 10) as u8; 20 + (seq as usize * 37) % 700],
            )
        })
        .collect()
}

/// One submitter's view: the MsgSeqNum of each submission's last record and the index its completion gave.
type Completed = Vec<(u64, u64)>;

const SUBMISSIONS_EACH: u64 = 150;

fn thread_submitter(handle: SessionLogHandle, session: String) -> Completed {
    let mut completed = Vec::new();
    let mut next = 1;
    for round in 0..SUBMISSIONS_EACH {
        let count = 1 + round % 3;
        let completion = handle
            .submit_blocking(records(&session, next, count))
            .expect("submits");
        let index = completion
            .blocking_recv()
            .expect("answered")
            .expect("durable");
        assert!(
            index <= handle.stats().durable_index,
            "completed before durable"
        );
        next += count;
        completed.push((next - 1, index));
    }
    completed
}

async fn task_submitter(handle: SessionLogHandle, session: String) -> Completed {
    let mut completed = Vec::new();
    let mut next = 1;
    for round in 0..SUBMISSIONS_EACH {
        let count = 1 + round % 3;
        let completion = handle
            .submit(records(&session, next, count))
            .await
            .expect("submits");
        let index = completion.await.expect("answered").expect("durable");
        assert!(
            index <= handle.stats().durable_index,
            "completed before durable"
        );
        next += count;
        completed.push((next - 1, index));
    }
    completed
}

#[test]
fn concurrent_submitters_are_completed_once_durable_and_logged_in_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = start(dir.path(), 8);
    let threads: Vec<_> = (0..6)
        .map(|n| {
            let (handle, session) = (writer.handle(), format!("thread-{n}"));
            std::thread::spawn(move || (session.clone(), thread_submitter(handle, session)))
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let (handle, session) = (writer.handle(), format!("task-{n}"));
            runtime.spawn(async move { (session.clone(), task_submitter(handle, session).await) })
        })
        .collect();
    let mut completed: BTreeMap<String, Completed> = threads
        .into_iter()
        .map(|thread| thread.join().expect("submitter"))
        .collect();
    for task in tasks {
        let (session, done) = runtime.block_on(task).expect("task");
        completed.insert(session, done);
    }
    drop(runtime);
    let stats = writer.stats();
    let log = writer.finish().expect("finishes");
    let submissions = 12 * SUBMISSIONS_EACH;
    assert_eq!(stats.submissions, submissions);
    assert!(stats.commits <= submissions, "{stats:?}");
    assert_eq!(stats.durable_index, log.durable_index());
    drop(log);

    let (_, seen, _) = open(dir.path()).expect("reopens");
    let records_each = (0..SUBMISSIONS_EACH)
        .map(|round| 1 + round % 3)
        .sum::<u64>();
    assert_eq!(seen.len() as u64, 12 * records_each);
    let mut by_session: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for (index, record) in &seen {
        let Record::Outgoing(message) = record else {
            panic!("only outgoing records were written");
        };
        by_session
            .entry(message.session_id.clone())
            .or_default()
            .push((message.msg_seq_num, *index));
    }
    for (session, done) in &completed {
        let logged = &by_session[session];
        // Every record, in the submitter's own order.
        let seqs: Vec<u64> = logged.iter().map(|&(seq, _)| seq).collect();
        assert_eq!(seqs, (1..=records_each).collect::<Vec<_>>(), "{session}");
        // Each completion names its submission's last record.
        for &(last_seq, index) in done {
            assert_eq!(
                logged[last_seq as usize - 1],
                (last_seq, index),
                "{session}"
            );
        }
    }
}

#[test]
fn a_turn_takes_every_waiting_submission_and_commits_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = start(dir.path(), 64);
    let handle = writer.handle();
    let gate = close_gate(&writer);
    // The thread takes the first and waits at the gate; the other 49 queue behind it.
    let completions: Vec<_> = (1..=50)
        .map(|n| {
            handle
                .submit_blocking(records(&format!("s{n}"), 1, 2))
                .expect("submits")
        })
        .collect();
    assert_eq!(writer.stats().commits, 0);
    drop(gate);
    let indexes: Vec<u64> = completions
        .into_iter()
        .map(|completion| {
            completion
                .blocking_recv()
                .expect("answered")
                .expect("durable")
        })
        .collect();
    assert_eq!(indexes, (1..=50).map(|n| 2 * n).collect::<Vec<_>>());
    let stats = writer.stats();
    assert_eq!(
        (stats.commits, stats.submissions, stats.durable_index),
        (1, 50, 100),
        "50 submissions from 50 sessions, one fdatasync"
    );
    drop(handle);
    writer.finish().expect("finishes");
}

#[test]
fn a_turn_larger_than_one_commit_is_committed_in_bounded_parts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = start(dir.path(), 64);
    let handle = writer.handle();
    let big = |seq| {
        vec![Record::Incoming(Message {
            session_id: "big".into(),
            msg_seq_num: seq,
            ts_ns: 0,
            bytes: vec![b'x'; MESSAGE_BYTES_MAX],
        })]
    };
    let gate = close_gate(&writer);
    let completions: Vec<_> = (1..=40)
        .map(|seq| handle.submit_blocking(big(seq)).expect("submits"))
        .collect();
    drop(gate);
    for (seq, completion) in (1..).zip(completions) {
        assert_eq!(completion.blocking_recv().expect("answered"), Ok(seq));
    }
    // 40 x 64 KiB is 2.5 MiB: three commits of at most COMMIT_BYTES_MAX.
    assert_eq!(writer.stats().commits, 3);
    drop(handle);
    drop(writer.finish().expect("finishes"));
    assert_eq!(open(dir.path()).expect("reopens").1.len(), 40);
}

#[test]
fn a_full_queue_makes_the_submitter_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = start(dir.path(), 4);
    let handle = writer.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let gate = close_gate(&writer);
    let completions = runtime.block_on(async {
        let mut completions = Vec::new();
        // One taken by the thread (waiting at the gate), four in the queue.
        for seq in 1..=5 {
            completions.push(handle.submit(records("s", seq, 1)).await.expect("submits"));
        }
        // The sixth waits: the queue never grows past its bound.
        let sixth =
            tokio::time::timeout(Duration::from_millis(50), handle.submit(records("s", 6, 1)));
        assert!(
            sixth.await.is_err(),
            "a sixth submission fitted a full queue"
        );
        completions
    });
    drop(gate);
    runtime.block_on(async {
        let sixth = handle.submit(records("s", 6, 1)).await.expect("submits");
        for (seq, completion) in (1..).zip(completions) {
            assert_eq!(completion.await.expect("answered"), Ok(seq));
        }
        assert_eq!(sixth.await.expect("answered"), Ok(6));
    });
    drop(handle);
    writer.finish().expect("finishes");
}

#[test]
fn a_failed_commit_fails_every_waiter_and_refuses_later_submissions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = start(dir.path(), 16);
    let handle = writer.handle();
    let first = handle.submit_blocking(records("s", 1, 3)).expect("submits");
    assert_eq!(first.blocking_recv().expect("answered"), Ok(3));

    let gate = close_gate(&writer);
    writer
        .handle
        .shared
        .hooks
        .fail_commits
        .store(true, Ordering::Release);
    let failing: Vec<_> = (0..10)
        .map(|n| {
            handle
                .submit_blocking(records(&format!("f{n}"), 1, 2))
                .expect("submits")
        })
        .collect();
    drop(gate);
    for completion in failing {
        let error = completion
            .blocking_recv()
            .expect("answered")
            .expect_err("fails");
        assert!(
            matches!(&error, WriteError::Failed(reason) if reason.contains("injected fdatasync failure")),
            "{error}"
        );
    }
    assert!(matches!(
        handle.submit_blocking(records("s", 4, 1)),
        Err(SubmitError::Failed(_))
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let refused = runtime.block_on(handle.submit(records("s", 4, 1)));
    assert!(
        matches!(refused, Err(SubmitError::Failed(_))),
        "{refused:?}"
    );
    let stats = writer.stats();
    assert_eq!((stats.submissions, stats.durable_index), (1, 3));
    drop(handle);
    assert!(matches!(writer.finish(), Err(WriteError::Failed(_))));
    // Nothing of the failed turn is in the log.
    let (_, seen, _) = open(dir.path()).expect("reopens");
    assert_eq!(seen.len(), 3);
}

#[test]
fn submissions_and_configurations_out_of_bounds_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _, _) = open(dir.path()).expect("opens");
    for queue_submissions in [0, QUEUE_SUBMISSIONS_MAX + 1] {
        let (log, _, _) = open(tempfile::tempdir().expect("tempdir").path()).expect("opens");
        assert_eq!(
            SessionLogWriter::start(log, WriterConfig { queue_submissions }).err(),
            Some(StartError::QueueSubmissions { queue_submissions })
        );
    }
    let writer = SessionLogWriter::start(log, WriterConfig::default()).expect("starts");
    let handle = writer.handle();
    assert_eq!(
        handle.submit_blocking(Vec::new()).err(),
        Some(SubmitError::Empty)
    );
    assert_eq!(
        handle
            .submit_blocking(records("s", 1, SUBMISSION_RECORDS_MAX as u64 + 1))
            .err(),
        Some(SubmitError::TooManyRecords {
            count: SUBMISSION_RECORDS_MAX + 1
        })
    );
    let big: Vec<_> = (1..=8)
        .map(|seq| outgoing("s", seq, &vec![b'x'; MESSAGE_BYTES_MAX]))
        .collect();
    assert!(matches!(
        handle.submit_blocking(big).err(),
        Some(SubmitError::TooManyBytes { .. })
    ));
    let bad = vec![
        outgoing("s", 1, b"ok"),
        Record::SeqNums(SeqNums {
            session_id: "s".into(),
            ts_ns: 0,
            next_in: 1,
            next_out: 0,
            period_start_s: 0,
            reports_through: 0,
        }),
    ];
    assert_eq!(
        handle.submit_blocking(bad).err(),
        Some(SubmitError::Invalid {
            index: 1,
            error: RecordError::SeqNumZero
        })
    );
    assert_eq!(writer.stats(), WriterStats::default());
    drop(handle);
    writer.finish().expect("finishes");
}

#[test]
fn every_committed_record_reaches_the_sink_once_in_log_order_with_its_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _, _) = open(dir.path()).expect("opens");
    let (sink, committed) = std::sync::mpsc::sync_channel(1024);
    let writer =
        SessionLogWriter::start_with(log, WriterConfig::default(), Some(sink)).expect("starts");
    let handles: Vec<_> = (0..3)
        .map(|n| {
            let handle = writer.handle();
            std::thread::spawn(move || thread_submitter(handle, format!("S{n}")))
        })
        .collect();
    for handle in handles {
        handle.join().expect("submitter");
    }
    let log = writer.finish().expect("finishes");
    let mut next_index = 1;
    let mut per_session: BTreeMap<String, u64> = BTreeMap::new();
    while let Ok(turn) = committed.try_recv() {
        assert_eq!(turn.first_index, next_index, "turns are contiguous");
        next_index += turn.records.len() as u64;
        for record in turn.records {
            let Record::Outgoing(message) = record else {
                panic!("only outgoing records were submitted");
            };
            let last = per_session.entry(message.session_id).or_insert(0);
            assert_eq!(
                message.msg_seq_num,
                *last + 1,
                "each session's records in order"
            );
            *last = message.msg_seq_num;
        }
    }
    assert_eq!(
        next_index - 1,
        log.durable_index(),
        "every durable record was handed on"
    );
    let per_submitter: u64 = (0..SUBMISSIONS_EACH).map(|round| 1 + round % 3).sum();
    assert!(per_session.values().all(|&n| n == per_submitter));
}
