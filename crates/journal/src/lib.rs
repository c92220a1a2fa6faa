//! Durability for the engine: the write-ahead journal of sequenced commands and the sequencer, its single writer.
//!
//! - [`journal`]: CRC-framed records in preallocated segments, one fdatasync per group commit, torn-tail
//!   recovery, corruption refused with file and offset.
//! - [`record`]: the record payload, one sequenced command and its origin (the submitter's opaque context).
//! - [`sequencer`]: the one thread that numbers, journals and applies commands, and releases their events only
//!   after their batch is durable.
//!
//! Invariants: nothing here knows FIX, sessions or sockets; nothing is released before its fdatasync.

pub mod journal;
pub mod record;
pub mod sequencer;
pub mod wal;
