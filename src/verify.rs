//! `fixvenue verify` and `fixvenue seal`: the tamper-evidence checks of a data directory's two logs, the journal
//! (`DATA_DIR/journal`) and the session log (`DATA_DIR/sessionlog`).
//!
//! [`verify`] reads both logs read-only ([`journal::wal::verify`]): every CRC and every link of the hash chain, the
//! journal's numbering, each finding with its log, segment file, byte offset and record index. It never writes,
//! never cuts a tail and takes no lock, so it runs on a stopped venue's data dir and on a running venue's alike; an
//! incomplete last commit (a torn write, or one being written) is reported as such and is not damage. With a seal
//! it also checks that each log still holds, at the sealed index, the sealed hash.
//!
//! [`seal`] makes the seal: for each log, the index, hash and time of the last record stamped before the end of a
//! UTC day (or the last record, without a day), as a small JSON document ([`Seal`]) to keep somewhere the venue's
//! operators cannot write. A forger who rewrites a log and recomputes every hash after the edit passes the chain
//! check; only a seal taken before the edit catches that.
//!
//! [`store`] adds the checks that need sled (on a stopped venue only): the trade log against the journal's
//! read-only replay, and sled's index against the session log.
//!
//! Never: write to the data dir, open the data dir's sled (it is locked while the venue runs, and opening writes:
//! [`store`] works on a copy), or decide the exit status (main does, from [`Report::is_clean`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use journal::wal::verify::LogCheck;
use journal::wal::{self, Hash};

use crate::runtime::journal_dir;

pub mod store;

/// The seal document's format name.
pub const SEAL_FORMAT: &str = "fixvenue-seal/1";
/// The logs a data dir holds, in the order they are checked and reported.
pub const LOG_NAMES: [&str; 2] = [
    journal::journal::JOURNAL_NAME,
    journal::session_log::SESSION_LOG_NAME,
];
/// The largest seal file read.
const SEAL_BYTES_MAX: u64 = 64 * 1024;

/// Why a check could not run (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: no such directory")]
    NoDataDir(PathBuf),
    #[error(
        "{dir} is not a venue data dir: it has no {missing} directory (a data dir holds journal/ and sessionlog/)"
    )]
    NotADataDir { dir: PathBuf, missing: &'static str },
    #[error("{0}")]
    Log(#[from] wal::OpenError),
    #[error("seal {path}: {reason}")]
    BadSeal { path: PathBuf, reason: String },
    #[error("{0}")]
    Date(String),
    #[error("store check: {0}")]
    Store(String),
}

/// One log's point in a seal: its last record as of the sealed moment (index 0 and the genesis hash when it had
/// none).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedLog {
    pub log: String,
    pub index: u64,
    /// The record's chain hash, 64 lowercase hex digits.
    pub hash: String,
    /// The record's time (ns since the Unix epoch); absent for index 0.
    pub ts_ns: Option<i64>,
}

/// The seal document.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    pub format: String,
    /// The UTC day sealed (YYYY-MM-DD); absent for a seal of everything written so far.
    pub date: Option<String>,
    /// Records stamped before this time (the end of `date`, ns since the Unix epoch) are sealed; absent without a
    /// date.
    pub before_ts_ns: Option<i64>,
    pub logs: Vec<SealedLog>,
}

/// What a seal check found for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealCheck {
    pub log: &'static str,
    pub index: u64,
    /// `None`: the log still holds the sealed hash at the sealed index; `Some(why)`: it does not.
    pub mismatch: Option<String>,
}

/// What [`verify`] found.
#[derive(Debug)]
pub struct Report {
    /// The journal's check, then the session log's.
    pub logs: Vec<LogCheck>,
    pub seal: Vec<SealCheck>,
    /// The trade log and sled checks, when asked for.
    pub store: Option<store::StoreReport>,
}

impl Report {
    /// Nothing found in either log, the seal (if any) matched, and the store checks (if run) found nothing. An
    /// incomplete tail is not a finding, nor a skipped store check.
    pub fn is_clean(&self) -> bool {
        self.logs.iter().all(LogCheck::is_clean)
            && self.seal.iter().all(|check| check.mismatch.is_none())
            && self
                .store
                .as_ref()
                .is_none_or(|store| store.findings.is_empty())
    }
}

/// The directory of the log named `name` under `data_dir`, after checking it is a data dir.
fn log_dirs(data_dir: &Path) -> Result<[PathBuf; 2], VerifyError> {
    if !data_dir.is_dir() {
        return Err(VerifyError::NoDataDir(data_dir.to_path_buf()));
    }
    let dirs = [
        journal_dir(data_dir),
        crate::indexer::session_log_dir(data_dir),
    ];
    for (dir, name) in dirs.iter().zip(LOG_NAMES) {
        if !dir.is_dir() {
            return Err(VerifyError::NotADataDir {
                dir: data_dir.to_path_buf(),
                missing: name,
            });
        }
    }
    Ok(dirs)
}

/// What the check of one log hands each record to: its index, stored hash and time.
type Visit<'a> = dyn FnMut(u64, &Hash, i64) + 'a;

/// Checks the log `position` of [`LOG_NAMES`] in `dir`, handing every readable record to `visit`.
fn check_log(position: usize, dir: &Path, visit: &mut Visit<'_>) -> Result<LogCheck, VerifyError> {
    Ok(match position {
        0 => journal::journal::check(dir, |index, hash, record, _| {
            visit(index, hash, record.ts_ns)
        })?,
        _ => journal::session_log::check(dir, |index, hash, ts_ns, _| visit(index, hash, ts_ns))?,
    })
}

/// Checks both logs of `data_dir` read-only, against `seal` when given, and with `store` the trade log and sled
/// against the logs (only when the logs are clean: a damaged log is no reference).
pub fn verify(
    data_dir: &Path,
    seal: Option<&Seal>,
    store: Option<&crate::replay::ReplayConfig>,
) -> Result<Report, VerifyError> {
    let dirs = log_dirs(data_dir)?;
    let mut report = Report {
        logs: Vec::new(),
        seal: Vec::new(),
        store: None,
    };
    for (position, (dir, name)) in dirs.iter().zip(LOG_NAMES).enumerate() {
        let sealed = seal.and_then(|seal| seal.logs.iter().find(|log| log.log == name));
        let target = sealed.map(|sealed| sealed.index);
        let mut found: Option<Hash> = (target == Some(0)).then(|| wal::genesis(name));
        let log = check_log(position, dir, &mut |index, hash, _| {
            if Some(index) == target {
                found = Some(*hash);
            }
        })?;
        if let Some(sealed) = sealed {
            report
                .seal
                .push(compare_seal(name, sealed, found.as_ref(), &log));
        }
        report.logs.push(log);
    }
    if let Some(config) = store {
        report.store = Some(if report.logs.iter().all(LogCheck::is_clean) {
            store::check(data_dir, config)?
        } else {
            store::StoreReport {
                skipped: Some("the logs have findings: they are no reference for the store".into()),
                ..store::StoreReport::default()
            }
        });
    }
    Ok(report)
}

fn compare_seal(
    name: &'static str,
    sealed: &SealedLog,
    found: Option<&Hash>,
    log: &LogCheck,
) -> SealCheck {
    let mismatch = match found {
        Some(hash) if hex::encode(hash) == sealed.hash => None,
        Some(hash) => Some(format!(
            "record {} has hash {}, the seal says {}: the log was rewritten after the seal",
            sealed.index,
            hex::encode(hash),
            sealed.hash
        )),
        None if log.last_index < sealed.index => Some(format!(
            "the sealed record {} is gone: the log ends at {}",
            sealed.index, log.last_index
        )),
        None => Some(format!(
            "the sealed record {} could not be read (see the findings)",
            sealed.index
        )),
    };
    SealCheck {
        log: name,
        index: sealed.index,
        mismatch,
    }
}

/// The end of UTC day `date` (YYYY-MM-DD) in ns since the Unix epoch.
pub fn end_of_day_ns(date: &str) -> Result<i64, VerifyError> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| VerifyError::Date(format!("--date {date:?} is not a date (YYYY-MM-DD)")))?;
    let next = day
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|midnight| midnight.and_utc().timestamp_nanos_opt())
        .ok_or_else(|| VerifyError::Date(format!("--date {date} is out of range")))?;
    Ok(next)
}

/// Seals `data_dir`'s logs: for each, the last record stamped before the end of `date` (UTC), or the last record
/// without a date. Checks the logs as [`verify`] does and returns the report too: a seal of damaged logs is worth
/// nothing, and the caller refuses to write one.
pub fn seal(data_dir: &Path, date: Option<&str>) -> Result<(Seal, Report), VerifyError> {
    let before_ts_ns = date.map(end_of_day_ns).transpose()?;
    let dirs = log_dirs(data_dir)?;
    let mut report = Report {
        logs: Vec::new(),
        seal: Vec::new(),
        store: None,
    };
    let mut logs = Vec::new();
    for (position, (dir, name)) in dirs.iter().zip(LOG_NAMES).enumerate() {
        let mut point: (u64, Hash, Option<i64>) = (0, wal::genesis(name), None);
        let log = check_log(position, dir, &mut |index, hash, ts_ns| {
            if before_ts_ns.is_none_or(|before| ts_ns < before) {
                point = (index, *hash, Some(ts_ns));
            }
        })?;
        logs.push(SealedLog {
            log: name.to_string(),
            index: point.0,
            hash: hex::encode(point.1),
            ts_ns: point.2,
        });
        report.logs.push(log);
    }
    let seal = Seal {
        format: SEAL_FORMAT.to_string(),
        date: date.map(str::to_string),
        before_ts_ns,
        logs,
    };
    Ok((seal, report))
}

/// Reads and validates a seal file.
pub fn read_seal(path: &Path) -> Result<Seal, VerifyError> {
    let bad = |reason: String| VerifyError::BadSeal {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, SEAL_BYTES_MAX + 1),
        &mut text,
    )
    .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > SEAL_BYTES_MAX {
        return Err(bad(format!("longer than {SEAL_BYTES_MAX} bytes")));
    }
    let seal: Seal = serde_json::from_str(&text).map_err(|e| bad(format!("not a seal: {e}")))?;
    if seal.format != SEAL_FORMAT {
        return Err(bad(format!(
            "format {:?}; this version reads {SEAL_FORMAT:?}",
            seal.format
        )));
    }
    for (position, log) in seal.logs.iter().enumerate() {
        if !LOG_NAMES.contains(&log.log.as_str()) {
            return Err(bad(format!(
                "unknown log {:?} (the logs are {LOG_NAMES:?})",
                log.log
            )));
        }
        if seal.logs[..position]
            .iter()
            .any(|other| other.log == log.log)
        {
            return Err(bad(format!("log {:?} sealed twice", log.log)));
        }
        let hex_digits = log.hash.len() == 2 * wal::HASH_BYTES
            && log
                .hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_digits {
            return Err(bad(format!(
                "{} hash {:?} is not 64 lowercase hex digits",
                log.log, log.hash
            )));
        }
    }
    if seal.logs.is_empty() {
        return Err(bad("seals no log".into()));
    }
    Ok(seal)
}

/// The report as text: per log, its summary and findings; then the seal's checks and a last line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for log in &report.logs {
        render_log(&mut out, log);
    }
    for check in &report.seal {
        match &check.mismatch {
            None => writeln!(
                out,
                "seal: {} record {} holds the sealed hash",
                check.log, check.index
            ),
            Some(why) => writeln!(out, "SEAL MISMATCH: {}: {why}", check.log),
        }
        .expect("writes to a String");
    }
    if let Some(store) = &report.store {
        render_store(&mut out, store);
    }
    let findings: u64 = report
        .logs
        .iter()
        .map(|log| log.findings.len() as u64 + log.findings_dropped)
        .sum::<u64>()
        + report.seal.iter().filter(|c| c.mismatch.is_some()).count() as u64
        + report
            .store
            .as_ref()
            .map_or(0, |store| store.findings.len() as u64);
    if findings == 0 {
        out.push_str("verify: clean\n");
    } else {
        writeln!(
            out,
            "verify: {findings} finding(s): the logs were damaged or edited"
        )
        .expect("writes to a String");
    }
    out
}

fn render_store(out: &mut String, store: &store::StoreReport) {
    if let Some(why) = &store.skipped {
        writeln!(out, "store: skipped: {why}").expect("writes to a String");
    }
    for note in &store.notes {
        writeln!(out, "store: {note}").expect("writes to a String");
    }
    for finding in &store.findings {
        writeln!(out, "  FINDING store {finding}").expect("writes to a String");
    }
}

fn render_log(out: &mut String, log: &LogCheck) {
    let file = |path: &Path| {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let range = if log.records == 0 {
        "none".to_string()
    } else {
        format!("{}..={}", log.first_index, log.last_index)
    };
    writeln!(
        out,
        "{}: {} records checked ({range}) in {} segment(s) of {}; last hash {}",
        log.name,
        log.records,
        log.segments,
        log.dir.display(),
        hex::encode(log.last_hash)
    )
    .expect("writes to a String");
    for finding in &log.findings {
        writeln!(
            out,
            "  FINDING {} {} byte offset {} record {}: {}",
            log.name,
            file(&finding.at.path),
            finding.at.offset,
            finding.at.index,
            finding.what
        )
        .expect("writes to a String");
    }
    if log.findings_dropped > 0 {
        writeln!(out, "  ... and {} more finding(s)", log.findings_dropped)
            .expect("writes to a String");
    }
    if let Some(tail) = &log.tail {
        writeln!(
            out,
            "  tail: {} byte offset {} record {}: {} bytes of an incomplete last commit ({}): a commit being \
             written while verify read it, or a torn write the venue cuts at its next start; not damage",
            file(&tail.at.path),
            tail.at.offset,
            tail.at.index,
            tail.bytes,
            tail.what
        )
        .expect("writes to a String");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_day_is_the_next_midnight_utc() {
        assert_eq!(
            end_of_day_ns("1970-01-01").expect("a date"),
            86_400 * 1_000_000_000
        );
        assert!(end_of_day_ns("2026-13-01").is_err());
        assert!(end_of_day_ns("yesterday").is_err());
    }

    #[test]
    fn a_data_dir_needs_both_logs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nothing");
        assert!(matches!(log_dirs(&missing), Err(VerifyError::NoDataDir(_))));
        std::fs::create_dir(dir.path().join("journal")).expect("mkdir");
        let error = log_dirs(dir.path()).expect_err("no session log");
        assert!(
            error.to_string().contains("no sessionlog directory"),
            "{error}"
        );
    }

    #[test]
    fn a_seal_file_is_validated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seal.json");
        let hash = "ab".repeat(32);
        let cases = [
            ("{", "not a seal"),
            (
                r#"{"format":"x","date":null,"before_ts_ns":null,"logs":[]}"#,
                "format",
            ),
            (
                r#"{"format":"fixvenue-seal/1","date":null,"before_ts_ns":null,"logs":[]}"#,
                "seals no log",
            ),
            (
                &format!(
                    r#"{{"format":"fixvenue-seal/1","date":null,"before_ts_ns":null,"logs":[{{"log":"other","index":1,"hash":"{hash}","ts_ns":null}}]}}"#
                ),
                "unknown log",
            ),
            (
                r#"{"format":"fixvenue-seal/1","date":null,"before_ts_ns":null,"logs":[{"log":"journal","index":1,"hash":"AB","ts_ns":null}]}"#,
                "64 lowercase hex",
            ),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).expect("writes");
            let error = read_seal(&path).expect_err(text);
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
        let good = format!(
            r#"{{"format":"fixvenue-seal/1","date":"2026-11-30","before_ts_ns":1,"logs":[{{"log":"journal","index":1,"hash":"{hash}","ts_ns":0}}]}}"#
        );
        std::fs::write(&path, good).expect("writes");
        assert_eq!(read_seal(&path).expect("reads").logs[0].index, 1);
    }
}
