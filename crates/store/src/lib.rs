//! The sled index: what is looked up and queried, beside the logs that are the truth.
//!
//! - [`sessions`]: the session store: every message in and out per session (for resend and the compliance log)
//!   and the sequence numbers.
//! - [`trades`]: the trade log, checked against the journal's replay at start-up.
//! - [`export`]: the compliance exports of the trade log and the message log.
//!
//! Invariants: nothing here knows sockets or the engine's books; only this crate opens sled.

pub mod export;
pub mod sessions;
pub mod trades;
