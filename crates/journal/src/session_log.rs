//! The session log: the second user of the write-ahead log ([`crate::wal`], named `sessionlog`). It owns the
//! durable record of every FIX message the venue sends (with its session and MsgSeqNum, so that a MsgSeqNum is never
//! reused for different content), every message it receives (the compliance log) and every sequence-number change
//! (a reset, a configured start). [`writer`] is its one writer thread, with group commit across all sessions.
//!
//! It must never: interpret FIX (the bytes are opaque here), know sockets or tokio tasks, release anything as
//! durable before the fdatasync of its commit, or accept a record after a failed commit (fail closed).
//!
//! Record (version 1), every integer little-endian:
//! `version: u8 = 1`, `kind: u8` (1 outgoing and kept for resend, 2 incoming, 3 sequence numbers, 4 outgoing and not
//! kept for resend, 5 sequence numbers reset), `session_len: u8`, the session id
//! (UTF-8, 1..=[`SESSION_ID_BYTES_MAX`] bytes), `ts_ns: i64`, then for a message `msg_seq_num: u64` (≥ 1),
//! `len: u32` and the raw FIX bytes (1..=[`MESSAGE_BYTES_MAX`]); for sequence numbers (3 and 5) `next_in: u64`,
//! `next_out: u64` (both ≥ 1), `period_start_s: i64`, `reports_through: u64`. Decoding is strict: an unknown version or kind, a bound exceeded, a record ending
//! early or a trailing byte is an error, never a guess or a panic.
//!
//! Segments are named `sessionlog-<index of their first record, 20 digits>.seg`. The frames around the records are
//! the write-ahead log's (CRC and hash chain, from `SHA-256("sessionlog")`); [`check`] is the read-only check of
//! `fixvenue verify`.

use std::path::{Path, PathBuf};

use super::wal::{self, Wal, WalOptions};

pub use super::wal::{CommitError, OpenError, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MIN};

pub mod reader;
pub mod writer;

/// The log's name: segment files are `sessionlog-<20 digits>.seg`.
pub const SESSION_LOG_NAME: &str = "sessionlog";
/// The version appended (and the only one read).
pub const RECORD_VERSION: u8 = 1;
/// The longest session id (for example `FIX.4.4:VENUE->CLIENT1`); it must fit the one-byte length.
pub const SESSION_ID_BYTES_MAX: usize = 128;
const _: () = assert!(SESSION_ID_BYTES_MAX <= u8::MAX as usize);
/// The largest raw FIX message, the `fix` crate's default frame limit (`MESSAGE_BYTES_MAX_DEFAULT`): the venue
/// never reads nor writes a longer one.
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// The most bytes one encoded record takes: version, kind, session id with its length, time, MsgSeqNum, the
/// message with its length.
pub const RECORD_BYTES_MAX: usize =
    1 + 1 + 1 + SESSION_ID_BYTES_MAX + 8 + 8 + 4 + MESSAGE_BYTES_MAX;
const _: () = assert!(RECORD_BYTES_MAX + wal::FRAME_HEADER_BYTES <= wal::COMMIT_BYTES_MAX);

const KIND_OUTGOING: u8 = 1;
const KIND_INCOMING: u8 = 2;
const KIND_SEQ_NUMS: u8 = 3;
const KIND_SENT: u8 = 4;
const KIND_RESET: u8 = 5;

/// One FIX message as sent or received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub session_id: String,
    /// MsgSeqNum (34), at least 1.
    pub msg_seq_num: u64,
    /// When it was sent or received, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The raw FIX bytes, at most [`MESSAGE_BYTES_MAX`].
    pub bytes: Vec<u8>,
}

/// A session's sequence numbers from now on (a reset, a Logon with 141=Y, a configured start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqNums {
    pub session_id: String,
    pub ts_ns: i64,
    /// The MsgSeqNum expected next from the counterparty, at least 1.
    pub next_in: u64,
    /// The MsgSeqNum the venue sends next, at least 1.
    pub next_out: u64,
    /// The start of the session's schedule period these numbers belong to, seconds since the Unix epoch.
    pub period_start_s: i64,
    /// The journal's sequence number through which every report of a journaled command for this session is
    /// logged before this record (0: none known). Start-up rebuilds the reports of later commands from the journal.
    pub reports_through: u64,
}

/// One record of the session log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A message the venue sends and keeps for resend (an application message): durable before its bytes reach
    /// the socket.
    Outgoing(Message),
    /// A message the venue received (the compliance log; a Logon's password is redacted before it is logged).
    Incoming(Message),
    /// A session's sequence numbers from now on: never lower than the last ones logged since the last
    /// [`Record::Reset`] (a reader keeps the highest of each).
    SeqNums(SeqNums),
    /// A message the venue sends and does not keep for resend (a session-level message, a PossDup resend, a
    /// GapFill): logged for compliance, durable before its bytes reach the socket.
    Sent(Message),
    /// The session's sequence numbers were reset to these: the messages kept for resend before it are gone.
    Reset(SeqNums),
}

/// Why a record may not be written: it breaks a bound of the format.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("a session id of {bytes} bytes; it takes 1 to {SESSION_ID_BYTES_MAX}")]
    SessionId { bytes: usize },
    #[error("a message of {bytes} bytes; it takes 1 to {MESSAGE_BYTES_MAX}")]
    MessageBytes { bytes: usize },
    #[error("sequence number 0; they start at 1")]
    SeqNumZero,
}

/// Why bytes are not a record.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("session log record byte {offset}: {what}")]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl Record {
    pub fn session_id(&self) -> &str {
        match self {
            Record::Outgoing(message) | Record::Incoming(message) | Record::Sent(message) => {
                &message.session_id
            }
            Record::SeqNums(seq_nums) | Record::Reset(seq_nums) => &seq_nums.session_id,
        }
    }

    /// Checks the bounds of the format; a record that passes always encodes within [`RECORD_BYTES_MAX`].
    pub fn check(&self) -> Result<(), RecordError> {
        let session_bytes = self.session_id().len();
        if session_bytes == 0 || session_bytes > SESSION_ID_BYTES_MAX {
            return Err(RecordError::SessionId {
                bytes: session_bytes,
            });
        }
        match self {
            Record::Outgoing(message) | Record::Incoming(message) | Record::Sent(message) => {
                let bytes = message.bytes.len();
                if bytes == 0 || bytes > MESSAGE_BYTES_MAX {
                    return Err(RecordError::MessageBytes { bytes });
                }
                if message.msg_seq_num == 0 {
                    return Err(RecordError::SeqNumZero);
                }
            }
            Record::SeqNums(seq_nums) | Record::Reset(seq_nums) => {
                if seq_nums.next_in == 0 || seq_nums.next_out == 0 {
                    return Err(RecordError::SeqNumZero);
                }
            }
        }
        Ok(())
    }

    /// The bytes [`Record::encode`] appends.
    pub fn encoded_bytes(&self) -> usize {
        let head = 1 + 1 + 1 + self.session_id().len() + 8;
        match self {
            Record::Outgoing(message) | Record::Incoming(message) | Record::Sent(message) => {
                head + 8 + 4 + message.bytes.len()
            }
            Record::SeqNums(_) | Record::Reset(_) => head + 8 + 8 + 8 + 8,
        }
    }

    /// Appends the encoding of a record that passed [`Record::check`] to `out`.
    ///
    /// Panics if the record breaks a bound: callers check it first.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Err(error) = self.check() {
            panic!("encoding a session log record that breaks a bound: {error}");
        }
        let kind = match self {
            Record::Outgoing(_) => KIND_OUTGOING,
            Record::Incoming(_) => KIND_INCOMING,
            Record::SeqNums(_) => KIND_SEQ_NUMS,
            Record::Sent(_) => KIND_SENT,
            Record::Reset(_) => KIND_RESET,
        };
        let session_id = self.session_id().as_bytes();
        out.extend_from_slice(&[RECORD_VERSION, kind, session_id.len() as u8]);
        out.extend_from_slice(session_id);
        match self {
            Record::Outgoing(message) | Record::Incoming(message) | Record::Sent(message) => {
                out.extend_from_slice(&message.ts_ns.to_le_bytes());
                out.extend_from_slice(&message.msg_seq_num.to_le_bytes());
                out.extend_from_slice(&(message.bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(&message.bytes);
            }
            Record::SeqNums(seq_nums) | Record::Reset(seq_nums) => {
                out.extend_from_slice(&seq_nums.ts_ns.to_le_bytes());
                out.extend_from_slice(&seq_nums.next_in.to_le_bytes());
                out.extend_from_slice(&seq_nums.next_out.to_le_bytes());
                out.extend_from_slice(&seq_nums.period_start_s.to_le_bytes());
                out.extend_from_slice(&seq_nums.reports_through.to_le_bytes());
            }
        }
    }

    /// Decodes one record; the bytes must hold exactly one, within every bound.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.byte()? != RECORD_VERSION {
            return Err(DecodeError {
                offset: 0,
                what: "unknown record version",
            });
        }
        let kind = reader.byte()?;
        if !(KIND_OUTGOING..=KIND_RESET).contains(&kind) {
            return Err(DecodeError {
                offset: 1,
                what: "unknown record kind",
            });
        }
        let session_id = reader.session_id()?;
        let ts_ns = i64::from_le_bytes(reader.array()?);
        let record = match kind {
            KIND_OUTGOING => Record::Outgoing(reader.message(session_id, ts_ns)?),
            KIND_INCOMING => Record::Incoming(reader.message(session_id, ts_ns)?),
            KIND_SENT => Record::Sent(reader.message(session_id, ts_ns)?),
            KIND_SEQ_NUMS => Record::SeqNums(reader.seq_nums(session_id, ts_ns)?),
            KIND_RESET => Record::Reset(reader.seq_nums(session_id, ts_ns)?),
            _ => {
                return Err(DecodeError {
                    offset: 1,
                    what: "unknown record kind",
                });
            }
        };
        if reader.at != bytes.len() {
            return reader.fail("trailing bytes after the record");
        }
        Ok(record)
    }
}

/// The time of the record in `bytes` (every kind has one, after the session id), read without decoding the rest:
/// what a reader that only needs the time (the seal of `fixvenue verify`) checks, without allocating.
pub fn record_ts_ns(bytes: &[u8]) -> Result<i64, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.byte()? != RECORD_VERSION {
        return reader.fail("unknown record version");
    }
    if !(KIND_OUTGOING..=KIND_RESET).contains(&reader.byte()?) {
        return reader.fail("unknown record kind");
    }
    let len = usize::from(reader.byte()?);
    if len == 0 || len > SESSION_ID_BYTES_MAX {
        return reader.fail("session id length out of bounds");
    }
    reader.take(len)?;
    Ok(i64::from_le_bytes(reader.array()?))
}

/// Checks the session log in `dir` read-only ([`wal::verify::check`]): CRCs, the hash chain, and that every
/// record starts like one; hands each such record's index, stored hash, time and bytes ([`Record::decode`] reads
/// them) to `visit`. Never writes: safe while the venue runs.
pub fn check(
    dir: &Path,
    mut visit: impl FnMut(u64, &wal::Hash, i64, &[u8]),
) -> Result<wal::verify::LogCheck, OpenError> {
    wal::verify::check(
        dir,
        SESSION_LOG_NAME,
        SessionLogOptions::default().wal().body_bytes_max,
        &mut |index, hash, body| {
            let ts_ns = record_ts_ns(body).map_err(|error| error.to_string())?;
            visit(index, hash, ts_ns, body);
            Ok(())
        },
    )
}

/// A cursor over one record's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.at,
            what,
        })
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let Some(taken) = self.bytes.get(self.at..self.at.saturating_add(count)) else {
            return self.fail("record ends early");
        };
        self.at += count;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn seq_num(&mut self) -> Result<u64, DecodeError> {
        let value = u64::from_le_bytes(self.array()?);
        if value == 0 {
            return self.fail("sequence number 0");
        }
        Ok(value)
    }

    fn session_id(&mut self) -> Result<String, DecodeError> {
        let len = usize::from(self.byte()?);
        if len == 0 || len > SESSION_ID_BYTES_MAX {
            return self.fail("session id length out of bounds");
        }
        let at = self.at;
        match std::str::from_utf8(self.take(len)?) {
            Ok(session_id) => Ok(session_id.to_owned()),
            Err(_) => Err(DecodeError {
                offset: at,
                what: "session id is not UTF-8",
            }),
        }
    }

    fn seq_nums(&mut self, session_id: String, ts_ns: i64) -> Result<SeqNums, DecodeError> {
        Ok(SeqNums {
            session_id,
            ts_ns,
            next_in: self.seq_num()?,
            next_out: self.seq_num()?,
            period_start_s: i64::from_le_bytes(self.array()?),
            reports_through: u64::from_le_bytes(self.array()?),
        })
    }

    fn message(&mut self, session_id: String, ts_ns: i64) -> Result<Message, DecodeError> {
        let msg_seq_num = self.seq_num()?;
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len == 0 || len > MESSAGE_BYTES_MAX {
            return self.fail("message length out of bounds");
        }
        Ok(Message {
            session_id,
            msg_seq_num,
            ts_ns,
            bytes: self.take(len)?.to_vec(),
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SessionLogOptions {
    pub segment_bytes: u64,
}

impl Default for SessionLogOptions {
    fn default() -> SessionLogOptions {
        SessionLogOptions {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
        }
    }
}

impl SessionLogOptions {
    fn wal(self) -> WalOptions {
        WalOptions {
            name: SESSION_LOG_NAME,
            segment_bytes: self.segment_bytes,
            body_bytes_max: RECORD_BYTES_MAX,
        }
    }
}

/// Why a record could not be appended.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    #[error("{0}")]
    Invalid(#[from] RecordError),
    #[error("the session log failed earlier and accepts nothing more: {0}")]
    Failed(String),
}

/// What start-up found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub records: u64,
    pub last_index: u64,
    /// A torn write at the tail that was cut off: the segment, the offset of the cut and the bytes zeroed.
    pub torn_tail: Option<(PathBuf, u64, u64)>,
}

/// The open session log, positioned after its last valid record. One owner appends and commits (in the venue,
/// [`writer::SessionLogWriter`]'s thread).
pub struct SessionLog {
    wal: Wal,
}

impl SessionLog {
    /// Opens (or creates) the session log in `dir`, handing every record and its index (1, 2, 3, ... in the
    /// order appended) to `apply` in order. A record that does not decode is damage: cut as a torn tail at the
    /// end of the last segment, refused with its file and offset anywhere else. On an error, whatever `apply`
    /// built from the records seen so far must be discarded.
    pub fn open(
        dir: &Path,
        options: SessionLogOptions,
        mut apply: impl FnMut(u64, &Record),
    ) -> Result<(SessionLog, Recovery), OpenError> {
        let (wal, recovery) = Wal::open(dir, options.wal(), |index, body| {
            let record = Record::decode(body).map_err(|error| error.to_string())?;
            apply(index, &record);
            Ok(())
        })?;
        let recovery = Recovery {
            records: recovery.records,
            last_index: recovery.last_index,
            torn_tail: recovery.torn_tail,
        };
        Ok((SessionLog { wal }, recovery))
    }

    /// The index of the last record appended (durable or not); 0 for an empty log.
    pub fn last_index(&self) -> u64 {
        self.wal.last_index()
    }

    /// The chain hash of the last record appended or recovered ([`wal::genesis`] of the log when empty).
    pub fn last_hash(&self) -> wal::Hash {
        self.wal.last_hash()
    }

    /// The index of the last record made durable by a commit.
    pub fn durable_index(&self) -> u64 {
        self.wal.durable_index()
    }

    /// Bytes appended and not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.wal.pending_bytes()
    }

    /// Frames `record` into the commit buffer and returns its index. The record is checked before it is
    /// encoded, and its encoding is decoded again and compared before it is accepted. Nothing is durable before
    /// [`SessionLog::commit`]; callers commit before [`SessionLog::pending_bytes`] would pass
    /// [`wal::COMMIT_BYTES_MAX`].
    pub fn append(&mut self, record: &Record) -> Result<u64, AppendError> {
        record.check()?;
        let body = self
            .wal
            .append(|buf| record.encode(buf))
            .map_err(|error| match error {
                wal::AppendError::Failed(reason) => AppendError::Failed(reason),
                // Impossible: a checked record fits RECORD_BYTES_MAX, the frame's limit.
                too_large @ wal::AppendError::TooLarge { .. } => {
                    panic!("a checked session log record does not fit a frame: {too_large}")
                }
            })?;
        assert_eq!(
            Record::decode(body).as_ref(),
            Ok(record),
            "a session log record does not round-trip"
        );
        Ok(self.wal.last_index())
    }

    /// Writes every pending record and makes it durable (one fdatasync per segment touched). After a failure the
    /// log refuses every append and commit.
    pub fn commit(&mut self) -> Result<(), CommitError> {
        self.wal.commit()
    }
}

#[cfg(test)]
mod tests;
