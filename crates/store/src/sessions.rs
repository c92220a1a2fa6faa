//! The session store (sled 0.34 under the data dir): per session the next incoming and outgoing MsgSeqNum and
//! every outgoing application message by MsgSeqNum (for ResendRequests, across restarts). The compliance log of
//! every message in and out is the session log itself (`journal::session_log`), which the compliance queries
//! read directly; sled keeps no copy of it.
//!
//! Trees, taken from the [`Db`]: `seqnums` (session id -> [`SeqNums`] record), `auth` (session id -> failed
//! Logons and lock-out expiry, [`AuthState`]), `msgs/<session id>` (MsgSeqNum, big-endian -> frame) and `meta`.
//! Every record starts with a version byte. A `fixlog` tree left by an older version (a copy of every message) is
//! dropped once at start-up ([`SessionStore::drop_retired_fixlog`]). This module never opens or locks the
//! database itself ([`crate::db`] does) and knows nothing of trades.
//!
//! Durability: these trees are an index written behind the session log by [`crate::index`] (all but `auth`, which
//! the connection writes and flushes when it changes); the session log is the truth, and start-up brings the index
//! up to its tail.

use chrono::DateTime;
use session::SeqNums;
use session::auth::AuthState;

use crate::db::{Db, OpenError, WriteError};

/// The version byte of every record this module writes.
pub const RECORD_VERSION: u8 = 1;

/// The name of the tree older versions kept the compliance log in; [`SessionStore::drop_retired_fixlog`] drops it.
pub const RETIRED_FIXLOG_TREE: &str = "fixlog";

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
            meta: db.open_tree("meta")?,
        })
    }

    pub(crate) fn messages_tree(&self, session: &str) -> Result<sled::Tree, sled::Error> {
        self.db.tree(&format!("msgs/{session}"))
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
        self.db.flush()?;
        Ok(report)
    }

    pub fn flush(&self) -> Result<(), WriteError> {
        self.db.flush()
    }

    /// Drops the `fixlog` tree an older version kept (a copy of every message, now read from the session log
    /// instead), freeing its space; true when there was one. Nothing reads it, so dropping it loses nothing.
    pub fn drop_retired_fixlog(&self) -> Result<bool, WriteError> {
        let dropped = self.db.drop_tree(RETIRED_FIXLOG_TREE)?;
        if dropped {
            self.db.flush()?;
        }
        Ok(dropped)
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
    /// ones on a reset) and its numbers.
    fn put(
        store: &SessionStore,
        session: &str,
        numbers: Option<SeqNums>,
        reset: bool,
        messages: &[(u64, &[u8])],
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
    }

    #[test]
    fn seqnums_and_messages_round_trip_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            assert_eq!(store.seqnums("S").unwrap(), None);
            put(
                &store,
                "S",
                Some(seq(3, 5)),
                false,
                &[(3, b"three"), (4, b"four")],
            );
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
        assert_eq!((report.sessions, report.messages), (1, 2));
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
        put(&store, "S", Some(seq(1, 3)), false, &[(1, b"a"), (2, b"b")]);
        put(&store, "S", Some(seq(1, 1)), true, &[]);
        assert!(store.messages("S", 1, 10, 10).unwrap().is_empty());
    }

    #[test]
    fn check_raises_next_out_past_stored_messages_and_refuses_corrupt_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(&store, "S", Some(seq(1, 2)), false, &[(7, b"x")]);
        let report = store.check().unwrap();
        assert_eq!(report.repaired, vec!["S".to_string()]);
        assert_eq!(store.seqnums("S").unwrap().unwrap().next_out, 8);
        store.seqnums.insert("T", &b"\x09garbage"[..]).unwrap();
        assert!(matches!(store.check(), Err(ReadError::Corrupt(_))));
        assert!(matches!(store.seqnums("T"), Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn a_retired_fixlog_tree_is_dropped_once_and_the_other_trees_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path()).unwrap();
            let store = SessionStore::open(&db).unwrap();
            put(&store, "S", Some(seq(2, 3)), false, &[(2, b"two")]);
            // A data dir of an older version: its compliance log copy, in chunks.
            let fixlog = db.tree(RETIRED_FIXLOG_TREE).unwrap();
            for key in 1u64..=100 {
                fixlog.insert(key.to_be_bytes(), vec![2u8; 4096]).unwrap();
            }
            db.flush().unwrap();
        }
        {
            let store = open(dir.path());
            assert!(store.drop_retired_fixlog().unwrap());
            assert!(!store.drop_retired_fixlog().unwrap());
        }
        let store = open(dir.path());
        assert!(
            !store
                .db
                .tree_names()
                .iter()
                .any(|name| name.as_ref() == RETIRED_FIXLOG_TREE.as_bytes())
        );
        assert!(!store.drop_retired_fixlog().unwrap());
        assert_eq!(store.seqnums("S").unwrap(), Some(seq(2, 3)));
        assert_eq!(
            store.messages("S", 1, 10, 10).unwrap(),
            vec![(2, b"two".to_vec())]
        );
        assert_eq!(store.check().unwrap().messages, 1);
    }
}
