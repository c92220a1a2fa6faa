//! The checks of `fixvenue verify` that need sled: the trade log against the journal's replay, and sled's index
//! of the session log (each session's stored messages and numbers) against the session log. The compliance log
//! is the session log itself: sled holds no copy of it to compare.
//!
//! sled takes an exclusive lock and writes when it opens, so this never opens the data dir's sled: it takes a
//! shared lock on sled's lock file (which fails while a venue holds it: then the check is skipped and says why),
//! copies the database to a temporary directory while holding that lock, lets go, and works on the copy. A venue
//! started during the copy fails to open its store (locked) and says so. The journal is replayed read-only
//! (through [`journal::journal::check`], never `Journal::open`, which would cut a torn tail) into a fresh engine and
//! gateway built from the configuration as start-up builds them; sled's index is compared with one rebuilt from
//! the session log by the indexer's own code (`SessionStore::index`) in another temporary sled.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;

use journal::session_log::Record;
use store::db::{DB_DIR, Db};
use store::sessions::SessionStore;
use store::trades::TradeLog;

use super::VerifyError;

/// Records indexed at once when rebuilding sled's index from the session log.
const REBUILD_BATCH_RECORDS: usize = 16_384;
/// Stored messages read at once per session when comparing.
const MESSAGES_PAGE: usize = 4_096;
/// The most store findings kept.
const STORE_FINDINGS_MAX: usize = 100;

use crate::replay::ReplayConfig;

/// What the store checks found.
#[derive(Debug, Default)]
pub struct StoreReport {
    /// Why the checks did not run (the venue runs; there is no store).
    pub skipped: Option<String>,
    /// What agreed, and lags that are not damage.
    pub notes: Vec<String>,
    pub findings: Vec<String>,
}

impl StoreReport {
    fn find(&mut self, what: String) {
        if self.findings.len() < STORE_FINDINGS_MAX {
            self.findings.push(what);
        }
    }
}

/// A private temporary directory (mode 0700, a name no one can guess), removed on drop.
fn scratch(what: &str) -> Result<tempfile::TempDir, VerifyError> {
    tempfile::Builder::new()
        .prefix(&format!("fixvenue-verify-{what}-"))
        .tempdir()
        .map_err(io(&std::env::temp_dir()))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VerifyError + '_ {
    move |e| VerifyError::Store(format!("{}: {e}", path.display()))
}

/// Copies `data_dir`'s sled into `scratch` under a shared lock; `Ok(None)` when a venue holds the lock.
fn copy_store(data_dir: &Path, scratch: &Path) -> Result<Option<()>, VerifyError> {
    let sled_dir = data_dir.join(DB_DIR);
    let lock_path = sled_dir.join("db");
    let lock = File::open(&lock_path).map_err(io(&lock_path))?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockShared) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(io(&lock_path)(e.into())),
    }
    copy_dir(&sled_dir, &scratch.join(DB_DIR)).map_err(io(&sled_dir))?;
    drop(lock);
    Ok(Some(()))
}

/// Runs both checks on a copy of `data_dir`'s sled, or says why not.
pub fn check(data_dir: &Path, config: &ReplayConfig) -> Result<StoreReport, VerifyError> {
    let mut report = StoreReport::default();
    if !data_dir.join(DB_DIR).join("db").is_file() {
        report.skipped = Some(format!("no session store (sled) in {}", data_dir.display()));
        return Ok(report);
    }
    let scratch = scratch("store")?;
    if copy_store(data_dir, scratch.path())?.is_none() {
        report.skipped = Some(
            "sled is locked, most likely by the running venue: the trade log and sled checks need a stopped \
             venue (the log checks above do not)"
                .into(),
        );
        return Ok(report);
    }
    let db = Db::open(scratch.path()).map_err(|e| VerifyError::Store(format!("{e:#}")))?;
    check_trades(data_dir, config, &db, &mut report)?;
    check_index(data_dir, &db, &mut report)?;
    Ok(report)
}

fn store_error(what: &str) -> impl FnOnce(&dyn std::fmt::Display) -> VerifyError + '_ {
    move |e| VerifyError::Store(format!("{what}: {e}"))
}

/// Replays the journal read-only into a fresh engine and gateway and compares its trades with the trade log.
fn check_trades(
    data_dir: &Path,
    config: &ReplayConfig,
    db: &Db,
    report: &mut StoreReport,
) -> Result<(), VerifyError> {
    let trades = TradeLog::open(db).map_err(|e| store_error("trade log")(&e))?;
    let mut checker = trades.checker();
    let mut mismatch = None;
    let mut replayed = 0u64;
    crate::replay::replay(&crate::runtime::journal_dir(data_dir), config, |command| {
        for trade in &command.trades {
            replayed += 1;
            if let Err(e) = checker.next(trade) {
                mismatch = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .map_err(|e| VerifyError::Store(format!("journal replay: {:#}", anyhow::Error::new(e))))?;
    if let Some(e) = mismatch {
        report.find(format!("trade log: {e}"));
        return Ok(());
    }
    match checker.finish() {
        Err(e) => report.find(format!("trade log: {e}")),
        Ok(done) => {
            report.notes.push(format!(
                "trade log: {} trades agree with the journal's replay ({replayed} replayed)",
                done.checked
            ));
            if done.appended > 0 {
                report.notes.push(format!(
                    "trade log: lags the journal by {} trades (a crash before its flush): the venue appends them \
                     at its next start",
                    done.appended
                ));
            }
        }
    }
    Ok(())
}

/// Compares sled's index with one rebuilt from the session log records it claims to hold (through its mark).
fn check_index(data_dir: &Path, db: &Db, report: &mut StoreReport) -> Result<(), VerifyError> {
    let store = SessionStore::open(db).map_err(|e| store_error("session store")(&e))?;
    let mark = store
        .indexed_through()
        .map_err(|e| store_error("session store")(&e))?;
    let scratch = scratch("index")?;
    let rebuilt_db = Db::open(scratch.path()).map_err(|e| store_error("rebuilding")(&e))?;
    let rebuilt = SessionStore::open(&rebuilt_db).map_err(|e| store_error("rebuilding")(&e))?;
    let mut batch: Vec<Record> = Vec::with_capacity(REBUILD_BATCH_RECORDS);
    let mut first = 1;
    let mut failed = None;
    let log = journal::session_log::check(
        &crate::indexer::session_log_dir(data_dir),
        |index, _, _, body| {
            if index > mark || failed.is_some() {
                return;
            }
            match Record::decode(body) {
                Ok(record) => batch.push(record),
                Err(e) => failed = Some(format!("session log record {index}: {e}")),
            }
            if batch.len() == REBUILD_BATCH_RECORDS {
                if let Err(e) = rebuilt.index(first, &batch) {
                    failed = Some(format!("rebuilding: {e}"));
                }
                first += batch.len() as u64;
                batch.clear();
            }
        },
    )?;
    if let Some(why) = failed {
        return Err(VerifyError::Store(why));
    }
    rebuilt
        .index(first, &batch)
        .map_err(|e| store_error("rebuilding")(&e))?;
    if mark > log.last_index {
        report.find(format!(
            "sled: indexed through session log record {mark}, but the session log ends at {}",
            log.last_index
        ));
    }
    compare_index(&store, &rebuilt, report)?;
    report.notes.push(format!(
        "sled: its index through session log record {mark} (of {}) compared with the log's",
        log.last_index
    ));
    Ok(())
}

fn compare_index(
    store: &SessionStore,
    rebuilt: &SessionStore,
    report: &mut StoreReport,
) -> Result<(), VerifyError> {
    let read = |e: store::sessions::ReadError| store_error("session store")(&e);
    let mut sessions = store.session_ids().map_err(read)?;
    sessions.extend(rebuilt.session_ids().map_err(read)?);
    sessions.sort();
    sessions.dedup();
    for session in &sessions {
        let (stored, expected) = (
            store.seqnums(session).map_err(read)?,
            rebuilt.seqnums(session).map_err(read)?,
        );
        if stored != expected {
            report.find(format!(
                "sled: {session}'s sequence numbers are {stored:?}, the session log says {expected:?}"
            ));
        }
        compare_messages(store, rebuilt, session, report).map_err(read)?;
    }
    report.notes.push(format!(
        "sled: {} sessions' numbers and stored messages compared",
        sessions.len()
    ));
    Ok(())
}

/// Compares one session's stored messages, a page at a time.
fn compare_messages(
    store: &SessionStore,
    rebuilt: &SessionStore,
    session: &str,
    report: &mut StoreReport,
) -> Result<(), store::sessions::ReadError> {
    let mut begin = 1;
    loop {
        let stored = store.messages(session, begin, u64::MAX, MESSAGES_PAGE)?;
        let expected = rebuilt.messages(session, begin, u64::MAX, MESSAGES_PAGE)?;
        if stored != expected {
            let differs = stored
                .iter()
                .zip(&expected)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.0)
                .unwrap_or(begin + stored.len().min(expected.len()) as u64);
            report.find(format!(
                "sled: {session}'s stored messages differ from the session log's from MsgSeqNum {differs}"
            ));
            return Ok(());
        }
        match stored.last() {
            Some((last, _)) if stored.len() == MESSAGES_PAGE => begin = last + 1,
            _ => return Ok(()),
        }
    }
}
