//! The session log and the sled indexer behind it, as the venue runs them: [`start`] brings sled up to the log's
//! tail (start-up catch-up, before any connection is accepted), then starts the log's writer thread and the
//! indexer thread, which applies every committed turn to sled in large batches, off the acknowledgement path.
//!
//! The indexer publishes how far it got on a `watch` channel: a ResendRequest, served from sled, first waits for
//! the index to reach the log's durable tail. If the indexer stops (a sled error), the channel closes and the
//! venue stops (fail closed): nothing is acknowledged that the index could not serve later.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use journal::session_log::writer::{
    Committed, SessionLogHandle, SessionLogWriter, WriteError, WriterConfig,
};
use journal::session_log::{OpenError, Record, SessionLog, SessionLogOptions};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use store::sessions::{ReadError, SessionStore};
use tokio::sync::watch;

/// The session log's directory under the data directory.
pub fn session_log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sessionlog")
}

/// Records applied to sled in one batch at most, at start-up and behind the writer.
pub const INDEX_BATCH_RECORDS_MAX: usize = 16_384;
/// Committed turns the indexer may be behind before the writer waits for it.
pub const INDEX_QUEUE_TURNS: usize = 4_096;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("session log {dir}")]
    Open {
        dir: PathBuf,
        #[source]
        source: OpenError,
    },
    #[error("session log index (sled)")]
    Index(#[source] ReadError),
    #[error("session log writer: {0}")]
    Writer(String),
    #[error("session log writer")]
    Finish(#[source] WriteError),
    #[error("the session log indexer thread panicked")]
    Panicked,
}

/// What start-up found and did.
#[derive(Debug, Clone, Default)]
pub struct CatchUp {
    pub records: u64,
    pub last_index: u64,
    /// Records applied to sled at start-up (those past its mark).
    pub indexed: u64,
    /// Per session, the journal sequence number through which its reports are logged (sessions never marked are
    /// absent: none of their reports is known to be logged).
    pub reports_through: HashMap<String, u64>,
    /// The sessions the log has numbers of (a SeqNums or Reset record): every session that ever logged on or had a
    /// message kept for it. A configured session absent here has never had anything logged.
    pub numbered: HashSet<String>,
}

/// The session log's figures, observed by the indexer for each committed turn.
#[derive(Clone, Debug)]
pub struct SessionLogMetrics {
    /// Seconds one turn's commit (writes and fdatasync) took.
    pub commit: Histogram,
    /// Records made durable by one turn's commit.
    pub records: Histogram,
}

impl Default for SessionLogMetrics {
    fn default() -> SessionLogMetrics {
        SessionLogMetrics {
            // 10 µs to about 2.6 s, as the journal's.
            commit: Histogram::new(exponential_buckets(10e-6, 2.0, 19)),
            // 1 to 65,536 records.
            records: Histogram::new(exponential_buckets(1.0, 2.0, 17)),
        }
    }
}

/// The running session log: its writer, the indexer behind it, and how far the indexer got.
pub struct SessionLogging {
    writer: SessionLogWriter,
    indexer: JoinHandle<Result<(), ReadError>>,
    indexed: watch::Receiver<u64>,
    metrics: SessionLogMetrics,
}

impl SessionLogging {
    /// A client end of the writer, one per user.
    pub fn handle(&self) -> SessionLogHandle {
        self.writer.handle()
    }

    /// The session log's commit latency and size, for the metrics export.
    pub fn metrics(&self) -> SessionLogMetrics {
        self.metrics.clone()
    }

    /// How far the indexer got (the index of the last record applied to sled); closed if it stopped.
    pub fn indexed(&self) -> watch::Receiver<u64> {
        self.indexed.clone()
    }

    /// Waits (blocking) for every handle to be dropped, the writer to commit what it holds and the indexer to
    /// apply it.
    pub fn finish(self) -> Result<(), IndexError> {
        let finished = self.writer.finish();
        let indexed = self.indexer.join().map_err(|_| IndexError::Panicked)?;
        finished.map_err(IndexError::Finish)?;
        indexed.map_err(IndexError::Index)
    }
}

/// Opens the session log under `data_dir`, applies to `store` every record past its mark, and starts the writer
/// and the indexer.
pub fn start(
    store: &SessionStore,
    data_dir: &Path,
) -> Result<(SessionLogging, CatchUp), IndexError> {
    let dir = session_log_dir(data_dir);
    let mark = store.indexed_through().map_err(IndexError::Index)?;
    let mut batch: Vec<Record> = Vec::new();
    let mut batch_first = 0;
    let mut failed = None;
    let mut indexed = 0;
    let mut reports_through: HashMap<String, u64> = HashMap::new();
    let mut numbered: HashSet<String> = HashSet::new();
    let opened = SessionLog::open(&dir, SessionLogOptions::default(), |index, record| {
        if let Record::SeqNums(numbers) | Record::Reset(numbers) = record {
            if !numbered.contains(&numbers.session_id) {
                numbered.insert(numbers.session_id.clone());
            }
            if numbers.reports_through > 0 {
                let through = reports_through
                    .entry(numbers.session_id.clone())
                    .or_default();
                *through = (*through).max(numbers.reports_through);
            }
        }
        if index <= mark || failed.is_some() {
            return;
        }
        if batch.is_empty() {
            batch_first = index;
        }
        batch.push(record.clone());
        if batch.len() == INDEX_BATCH_RECORDS_MAX {
            indexed += batch.len() as u64;
            if let Err(e) = store.index(batch_first, &batch) {
                failed = Some(e);
            }
            batch.clear();
        }
    });
    let (log, recovery) = opened.map_err(|source| IndexError::Open {
        dir: dir.clone(),
        source,
    })?;
    if let Some(e) = failed {
        return Err(IndexError::Index(e));
    }
    if !batch.is_empty() {
        indexed += batch.len() as u64;
        store
            .index(batch_first, &batch)
            .map_err(IndexError::Index)?;
    }
    if mark > recovery.last_index {
        // sled knows records the log does not: the log lost its tail (or is another venue's). The log is the
        // truth, and numbers served from sled could run ahead of it: refuse to start.
        return Err(IndexError::Writer(format!(
            "sled is indexed through session log record {mark} but the log ends at {}: the data dir is \
             inconsistent",
            recovery.last_index
        )));
    }
    let catch_up = CatchUp {
        records: recovery.records,
        last_index: recovery.last_index,
        indexed,
        reports_through,
        numbered,
    };
    let (sink, committed) = sync_channel(INDEX_QUEUE_TURNS);
    let writer = SessionLogWriter::start_with(log, WriterConfig::default(), Some(sink))
        .map_err(|e| IndexError::Writer(e.to_string()))?;
    let (indexed_tx, indexed_rx) = watch::channel(recovery.last_index);
    let index_store = store.clone();
    let metrics = SessionLogMetrics::default();
    let observed = metrics.clone();
    let indexer = std::thread::Builder::new()
        .name("sessionlog-index".into())
        .spawn(move || run(&index_store, &committed, &indexed_tx, &observed))
        .map_err(|e| IndexError::Writer(format!("spawning the indexer thread: {e}")))?;
    Ok((
        SessionLogging {
            writer,
            indexer,
            indexed: indexed_rx,
            metrics,
        },
        catch_up,
    ))
}

/// The indexer thread: takes every turn waiting (up to a batch), applies them in one call, publishes the mark.
fn run(
    store: &SessionStore,
    committed: &Receiver<Committed>,
    indexed: &watch::Sender<u64>,
    metrics: &SessionLogMetrics,
) -> Result<(), ReadError> {
    let observe = |turn: &Committed| {
        metrics.commit.observe(turn.commit_ns as f64 / 1e9);
        metrics.records.observe(turn.records.len() as f64);
    };
    while let Ok(first) = committed.recv() {
        observe(&first);
        let first_index = first.first_index;
        let mut records = first.records;
        while records.len() < INDEX_BATCH_RECORDS_MAX {
            match committed.try_recv() {
                Ok(next) => {
                    observe(&next);
                    debug_assert_eq!(next.first_index, first_index + records.len() as u64);
                    records.extend(next.records);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = store.index(first_index, &records) {
            tracing::error!("session log indexer stopped: sled refused a write: {e}");
            return Err(e);
        }
        indexed.send_replace(first_index + records.len() as u64 - 1);
    }
    Ok(())
}
