//! The session store (sled 0.34 under the data dir): per session the next incoming and outgoing MsgSeqNum, every
//! outgoing application message by MsgSeqNum (for ResendRequests, across restarts), and the compliance log of
//! every incoming and outgoing message with a microsecond timestamp and its direction.
//!
//! Trees, taken from the [`Db`]: `seqnums` (session id -> [`SeqNums`] record), `auth` (session id -> failed
//! Logons and lock-out expiry, [`AuthState`]), `msgs/<session id>` (MsgSeqNum, big-endian -> frame), `fixlog`
//! (the log index of a record or chunk -> [`LogRecord`]s) and `meta`. Every record starts with a version byte.
//! This module never opens or locks the database itself ([`crate::db`] does) and knows nothing of trades.
//!
//! Durability: these trees are an index written behind the session log by [`crate::index`] (all but `auth`, which
//! the connection writes and flushes when it changes); the session log is the truth, and start-up brings the index
//! up to its tail.

use chrono::DateTime;
use session::SeqNums;
use session::auth::AuthState;

use crate::db::{Db, OpenError, SESSION_ID_BYTES_MAX, WriteError};

/// The version byte of every record this module writes.
pub const RECORD_VERSION: u8 = 1;

/// Whether a logged message came in or went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// One compliance log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub direction: Direction,
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    pub session: String,
    /// The message with passwords redacted.
    pub frame: Vec<u8>,
}

/// Errors of reading the session store, and of [`SessionStore::check`] (whose repairs and flush fail as `Io`).
/// Writes fail with [`WriteError`] alone, opening with [`OpenError`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("session store I/O")]
    Io(#[from] sled::Error),
    /// A record that does not decode, named by its tree and session.
    #[error("session store is corrupt: {0}")]
    Corrupt(String),
}

impl From<WriteError> for ReadError {
    fn from(e: WriteError) -> Self {
        ReadError::Io(e.0)
    }
}

/// What [`SessionStore::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub sessions: usize,
    pub messages: usize,
    pub log_records: usize,
    /// Sessions whose stored messages ran past their next outgoing number; the number was raised so that no
    /// number is used twice.
    pub repaired: Vec<String>,
}

/// The session store.
#[derive(Clone)]
pub struct SessionStore {
    db: Db,
    seqnums: sled::Tree,
    auth: sled::Tree,
    fixlog: sled::Tree,
    meta: sled::Tree,
}

/// No lock-out, in an `auth` record.
const NOT_LOCKED_US: i64 = i64::MIN;

fn encode_auth(a: &AuthState) -> [u8; 13] {
    let mut out = [0u8; 13];
    out[0] = RECORD_VERSION;
    out[1..5].copy_from_slice(&a.failures().to_be_bytes());
    let until = a
        .locked_until()
        .map_or(NOT_LOCKED_US, |t| t.timestamp_micros());
    out[5..13].copy_from_slice(&until.to_be_bytes());
    out
}

fn decode_auth(bytes: &[u8]) -> Option<AuthState> {
    if bytes.len() != 13 || bytes[0] != RECORD_VERSION {
        return None;
    }
    let failures = u32::from_be_bytes(bytes[1..5].try_into().ok()?);
    let until = i64::from_be_bytes(bytes[5..13].try_into().ok()?);
    let locked_until = match until {
        NOT_LOCKED_US => None,
        us => Some(DateTime::from_timestamp_micros(us)?),
    };
    Some(AuthState::restored(failures, locked_until))
}

fn encode_seqnums(s: &SeqNums) -> [u8; 25] {
    let mut out = [0u8; 25];
    out[0] = RECORD_VERSION;
    out[1..9].copy_from_slice(&s.next_in.to_be_bytes());
    out[9..17].copy_from_slice(&s.next_out.to_be_bytes());
    out[17..25].copy_from_slice(&s.period_start_s.to_be_bytes());
    out
}

fn decode_seqnums(bytes: &[u8]) -> Option<SeqNums> {
    if bytes.len() != 25 || bytes[0] != RECORD_VERSION {
        return None;
    }
    let u = |r: std::ops::Range<usize>| u64::from_be_bytes(bytes[r].try_into().expect("8 bytes"));
    let seq = SeqNums {
        next_in: u(1..9),
        next_out: u(9..17),
        period_start_s: u(17..25) as i64,
    };
    (seq.next_in >= 1 && seq.next_out >= 1).then_some(seq)
}

pub(crate) fn encode_log_parts(
    direction: Direction,
    time_us: i64,
    session: &str,
    frame: &[u8],
) -> Vec<u8> {
    let id = &session.as_bytes()[..session.len().min(SESSION_ID_BYTES_MAX)];
    let mut out = Vec::with_capacity(12 + id.len() + frame.len());
    out.push(RECORD_VERSION);
    out.push(match direction {
        Direction::In => b'I',
        Direction::Out => b'O',
    });
    out.extend_from_slice(&time_us.to_be_bytes());
    out.extend_from_slice(&(id.len() as u16).to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(frame);
    out
}

fn decode_log(bytes: &[u8]) -> Option<LogRecord> {
    let (&version, rest) = bytes.split_first()?;
    let (&direction, rest) = rest.split_first()?;
    if version != RECORD_VERSION {
        return None;
    }
    let direction = match direction {
        b'I' => Direction::In,
        b'O' => Direction::Out,
        _ => return None,
    };
    let time_us = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let len = usize::from(u16::from_be_bytes(rest.get(8..10)?.try_into().ok()?));
    let session = String::from_utf8(rest.get(10..10 + len)?.to_vec()).ok()?;
    Some(LogRecord {
        direction,
        time_us,
        session,
        frame: rest[10 + len..].to_vec(),
    })
}

/// The version byte of a `fixlog` value holding several records (the indexer's chunks): then, per record, its
/// session log index (u64), its length (u32) and its version-1 encoding, integers big-endian.
pub const LOG_CHUNK_VERSION: u8 = 2;

/// Appends one record to a chunk started with [`LOG_CHUNK_VERSION`].
pub(crate) fn push_log_chunk(chunk: &mut Vec<u8>, index: u64, record: &[u8]) {
    chunk.extend_from_slice(&index.to_be_bytes());
    chunk.extend_from_slice(&(record.len() as u32).to_be_bytes());
    chunk.extend_from_slice(record);
}

/// The records of one `fixlog` value, with their session log index when they have one: a single record
/// (version 1) or a chunk (version 2).
fn decode_log_value(bytes: &[u8]) -> Option<Vec<(Option<u64>, LogRecord)>> {
    match bytes.split_first()? {
        (&RECORD_VERSION, _) => Some(vec![(None, decode_log(bytes)?)]),
        (&LOG_CHUNK_VERSION, mut rest) => {
            let mut out = Vec::new();
            while !rest.is_empty() {
                let index = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
                let len = u32::from_be_bytes(rest.get(8..12)?.try_into().ok()?) as usize;
                out.push((Some(index), decode_log(rest.get(12..12 + len)?)?));
                rest = &rest[12 + len..];
            }
            Some(out)
        }
        _ => None,
    }
}

pub(crate) fn message_record(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 1);
    out.push(RECORD_VERSION);
    out.extend_from_slice(frame);
    out
}

impl SessionStore {
    /// Opens (or creates) the session store's trees in `db`.
    pub fn open(db: &Db) -> Result<SessionStore, OpenError> {
        Ok(SessionStore {
            db: db.clone(),
            seqnums: db.open_tree("seqnums")?,
            auth: db.open_tree("auth")?,
            fixlog: db.open_tree("fixlog")?,
            meta: db.open_tree("meta")?,
        })
    }

    pub(crate) fn messages_tree(&self, session: &str) -> Result<sled::Tree, sled::Error> {
        self.db.tree(&format!("msgs/{session}"))
    }

    pub(crate) fn fixlog(&self) -> &sled::Tree {
        &self.fixlog
    }

    pub(crate) fn meta(&self) -> &sled::Tree {
        &self.meta
    }

    pub(crate) fn put_seqnums(&self, session: &str, seq: &SeqNums) -> Result<(), WriteError> {
        self.seqnums
            .insert(session.as_bytes(), &encode_seqnums(seq))?;
        Ok(())
    }

    /// Stores a session's failed Logons and lock-out (written when they change, so a lock-out survives a restart).
    pub fn put_auth(&self, session: &str, auth: &AuthState) -> Result<(), WriteError> {
        self.auth.insert(session.as_bytes(), &encode_auth(auth))?;
        Ok(())
    }

    /// The stored sequence numbers of a session, `None` for a session never seen.
    pub fn seqnums(&self, session: &str) -> Result<Option<SeqNums>, ReadError> {
        match self.seqnums.get(session.as_bytes())? {
            None => Ok(None),
            Some(bytes) => decode_seqnums(&bytes)
                .map(Some)
                .ok_or_else(|| ReadError::Corrupt(format!("seqnums record of {session}"))),
        }
    }

    /// Every session the store holds sequence numbers or stored messages for, sorted (`fixvenue verify` compares
    /// them with the session log's).
    pub fn session_ids(&self) -> Result<Vec<String>, ReadError> {
        let mut ids = std::collections::BTreeSet::new();
        for item in self.seqnums.iter() {
            let (key, _) = item?;
            ids.insert(String::from_utf8_lossy(&key).into_owned());
        }
        for name in self.db.tree_names() {
            if let Some(session) = name.strip_prefix(b"msgs/") {
                ids.insert(String::from_utf8_lossy(session).into_owned());
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// The stored failed Logons and lock-out of a session, `None` for a session never refused.
    pub fn auth(&self, session: &str) -> Result<Option<AuthState>, ReadError> {
        match self.auth.get(session.as_bytes())? {
            None => Ok(None),
            Some(bytes) => decode_auth(&bytes)
                .map(Some)
                .ok_or_else(|| ReadError::Corrupt(format!("auth record of {session}"))),
        }
    }

    /// Stored outgoing messages with `begin <= seq <= end`, in order, at most `max`.
    pub fn messages(
        &self,
        session: &str,
        begin: u64,
        end: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, ReadError> {
        let tree = self.messages_tree(session)?;
        let mut out = Vec::new();
        for item in tree
            .range(begin.to_be_bytes()..=end.to_be_bytes())
            .take(max)
        {
            let (key, value) = item?;
            let seq = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| ReadError::Corrupt(format!("message key in msgs/{session}")))?,
            );
            match value.split_first() {
                Some((&RECORD_VERSION, frame)) => out.push((seq, frame.to_vec())),
                _ => return Err(ReadError::Corrupt(format!("message {seq} of {session}"))),
            }
        }
        Ok(out)
    }

    /// The compliance log, oldest first, at most `max` records.
    pub fn log(&self, max: usize) -> Result<Vec<LogRecord>, ReadError> {
        self.log_iter().take(max).collect()
    }

    /// Start-up check: every record decodes, and no session has a stored message at or beyond its next
    /// outgoing number (raised if so, never lowered).
    pub fn check(&self) -> Result<CheckReport, ReadError> {
        let mut report = CheckReport::default();
        for item in self.seqnums.iter() {
            let (key, value) = item?;
            let session = String::from_utf8(key.to_vec())
                .map_err(|_| ReadError::Corrupt("session id is not UTF-8".into()))?;
            let mut seq = decode_seqnums(&value)
                .ok_or_else(|| ReadError::Corrupt(format!("seqnums record of {session}")))?;
            report.sessions += 1;
            let msgs = self.messages_tree(&session)?;
            for m in msgs.iter() {
                let (_, v) = m?;
                if v.first() != Some(&RECORD_VERSION) {
                    return Err(ReadError::Corrupt(format!("a stored message of {session}")));
                }
                report.messages += 1;
            }
            if let Some((last, _)) = msgs.last()? {
                let last = u64::from_be_bytes(
                    last.as_ref()
                        .try_into()
                        .map_err(|_| ReadError::Corrupt(format!("message key of {session}")))?,
                );
                if last >= seq.next_out {
                    seq.next_out = last + 1;
                    self.seqnums.insert(key, &encode_seqnums(&seq))?;
                    report.repaired.push(session);
                }
            }
        }
        for item in self.auth.iter() {
            let (key, value) = item?;
            decode_auth(&value).ok_or_else(|| {
                ReadError::Corrupt(format!("auth record of {}", String::from_utf8_lossy(&key)))
            })?;
        }
        for item in self.fixlog.iter() {
            let (_, value) = item?;
            decode_log_value(&value).ok_or_else(|| ReadError::Corrupt("fixlog record".into()))?;
        }
        for record in self.log_iter() {
            record?;
            report.log_records += 1;
        }
        self.db.flush()?;
        Ok(report)
    }

    pub fn flush(&self) -> Result<(), WriteError> {
        self.db.flush()
    }

    /// The compliance log, oldest first, one record at a time (read-only; memory stays bounded).
    pub fn log_iter(&self) -> impl Iterator<Item = Result<LogRecord, ReadError>> + use<> {
        // A range the indexer applied twice (after a crash) may sit in two chunks: a record whose session log
        // index was already passed is skipped.
        let mut passed = 0u64;
        self.fixlog.iter().flat_map(move |item| {
            let records = match item {
                Err(e) => vec![Err(ReadError::from(e))],
                Ok((_, value)) => match decode_log_value(&value) {
                    Some(records) => records
                        .into_iter()
                        .filter(|(index, _)| match index {
                            Some(i) if *i <= passed => false,
                            Some(i) => {
                                passed = *i;
                                true
                            }
                            None => true,
                        })
                        .map(|(_, record)| Ok(record))
                        .collect(),
                    None => vec![Err(ReadError::Corrupt("fixlog record".into()))],
                },
            };
            records.into_iter()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> SessionStore {
        SessionStore::open(&Db::open(dir).unwrap()).unwrap()
    }

    fn seq(next_in: u64, next_out: u64) -> SeqNums {
        SeqNums {
            next_in,
            next_out,
            period_start_s: -5,
        }
    }

    /// Writes the trees as the indexer does for one session: its stored messages (after dropping the earlier
    /// ones on a reset), its numbers and compliance log records.
    fn put(
        store: &SessionStore,
        session: &str,
        numbers: Option<SeqNums>,
        reset: bool,
        messages: &[(u64, &[u8])],
        log: &[LogRecord],
    ) {
        let msgs = store.messages_tree(session).unwrap();
        if reset {
            msgs.clear().unwrap();
        }
        for (n, frame) in messages {
            msgs.insert(n.to_be_bytes(), message_record(frame)).unwrap();
        }
        if let Some(numbers) = numbers {
            store.put_seqnums(session, &numbers).unwrap();
        }
        for (id, r) in (1u64..).zip(log) {
            let value = encode_log_parts(r.direction, r.time_us, &r.session, &r.frame);
            store.fixlog.insert(id.to_be_bytes(), value).unwrap();
        }
    }

    #[test]
    fn seqnums_messages_and_log_round_trip_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            assert_eq!(store.seqnums("S").unwrap(), None);
            let log = LogRecord {
                direction: Direction::Out,
                time_us: 1_800_000_000_123_456,
                session: "S".into(),
                frame: b"8=FIX.4.4\x01".to_vec(),
            };
            put(
                &store,
                "S",
                Some(seq(3, 5)),
                false,
                &[(3, b"three"), (4, b"four")],
                std::slice::from_ref(&log),
            );
            assert_eq!(store.log(10).unwrap(), vec![log]);
        }
        let store = open(dir.path());
        assert_eq!(store.seqnums("S").unwrap(), Some(seq(3, 5)));
        assert_eq!(
            store.messages("S", 1, 10, 100).unwrap(),
            vec![(3, b"three".to_vec()), (4, b"four".to_vec())]
        );
        assert_eq!(store.messages("S", 4, 4, 100).unwrap().len(), 1);
        assert_eq!(store.messages("S", 1, 10, 1).unwrap().len(), 1);
        let report = store.check().unwrap();
        assert_eq!(
            (report.sessions, report.messages, report.log_records),
            (1, 2, 1)
        );
        assert!(report.repaired.is_empty());
    }

    #[test]
    fn auth_state_round_trips_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let until = DateTime::from_timestamp_micros(1_800_000_300_123_456).unwrap();
        let locked = AuthState::restored(5, Some(until));
        {
            let store = open(dir.path());
            assert_eq!(store.auth("S").unwrap(), None);
            store.put_auth("S", &locked).unwrap();
            store.put_auth("T", &AuthState::restored(2, None)).unwrap();
        }
        let store = open(dir.path());
        assert_eq!(store.auth("S").unwrap(), Some(locked));
        assert_eq!(store.auth("T").unwrap(), Some(AuthState::restored(2, None)));
        store.check().unwrap();
        store.auth.insert("U", &b"\x01short"[..]).unwrap();
        assert!(matches!(store.auth("U"), Err(ReadError::Corrupt(_))));
        assert!(matches!(store.check(), Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn reset_drops_stored_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(
            &store,
            "S",
            Some(seq(1, 3)),
            false,
            &[(1, b"a"), (2, b"b")],
            &[],
        );
        put(&store, "S", Some(seq(1, 1)), true, &[], &[]);
        assert!(store.messages("S", 1, 10, 10).unwrap().is_empty());
    }

    #[test]
    fn check_raises_next_out_past_stored_messages_and_refuses_corrupt_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(&store, "S", Some(seq(1, 2)), false, &[(7, b"x")], &[]);
        let report = store.check().unwrap();
        assert_eq!(report.repaired, vec!["S".to_string()]);
        assert_eq!(store.seqnums("S").unwrap().unwrap().next_out, 8);
        store.seqnums.insert("T", &b"\x09garbage"[..]).unwrap();
        assert!(matches!(store.check(), Err(ReadError::Corrupt(_))));
        assert!(matches!(store.seqnums("T"), Err(ReadError::Corrupt(_))));
    }
}
