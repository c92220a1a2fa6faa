//! Persistence. The journal of sequenced commands is the source of truth: CRC-framed records in preallocated
//! segments, one fdatasync per group commit ([`journal`], with the record encoding in [`record`]).
//!
//! This module owns every byte the venue writes to disk for the engine; it knows nothing of sockets or FIX.

pub mod export;
pub mod journal;
pub mod record;
pub mod sessions;
pub mod trades;
