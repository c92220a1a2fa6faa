//! Durability: the write-ahead journal of sequenced commands and the sequencer, its single writer; the session log
//! of FIX messages and its single writer. Both logs share one mechanism, [`wal`].
//!
//! - [`wal`]: the write-ahead log itself: opaque CRC-framed, SHA-256 hash-chained records in preallocated
//!   segments, one fdatasync per group commit, torn-tail recovery, corruption refused with file and offset;
//!   [`wal::verify`], its read-only check (every finding with its position). Two users, below.
//!   [`wal::reader`] reads a log read-only while its writer appends (the compliance queries), with its two users'
//!   readers [`journal::reader`] and [`session_log::reader`].
//! - [`journal`]: the first user (`journal-*.seg`): one record per sequenced command with its origin.
//! - [`record`]: the record payload, one sequenced command and its origin (the submitter's opaque context).
//! - [`sequencer`]: the one thread that numbers, journals and applies commands, and releases their events only
//!   after their batch is durable.
//! - [`session_log`]: the second user (`sessionlog-*.seg`): every message sent and received with its session,
//!   MsgSeqNum and time, and every sequence-number change; [`session_log::writer`] is its one writer thread, group
//!   committing all sessions' writes and completing each submitter's oneshot only after the fdatasync.
//!
//! Invariants: nothing here parses FIX (the session log keeps messages as opaque bytes) or touches a socket;
//! nothing is released or completed before its fdatasync; after a failed commit a log accepts nothing more.

pub mod journal;
pub mod record;
pub mod sequencer;
pub mod session_log;
pub mod wal;
