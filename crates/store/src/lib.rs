//! The sled index: what is looked up and queried, beside the logs that are the truth.
//!
//! Modules, each depending only on those above it (`db` <- `sessions`, `db` <- `trades`, `export` -> all three;
//! `sessions` and `trades` never import each other):
//!
//! - [`db`]: the one sled handle under the data dir: its open (with the wait while another handle lets go of the
//!   lock), its flush, and the errors of both ([`db::OpenError`], [`db::WriteError`]). It never encodes or decodes
//!   a record and knows nothing of sessions or trades.
//! - [`sessions`]: the session store: every message in and out per session (for resend and the compliance log)
//!   and the sequence numbers, in trees it takes from the [`db::Db`]. It never opens or locks the database itself
//!   and never touches the trade log.
//! - [`index`]: the session log's records applied to the session store's trees, behind the log, with the mark of
//!   how far it got (so start-up brings sled up to the log's tail).
//! - [`trades`]: the trade log, checked against the journal's replay at start-up, in a tree it takes from the
//!   [`db::Db`]. It never decides what a trade is, never opens or locks the database itself, and never touches
//!   the session store.
//! - [`export`]: the compliance exports of the trade log and the message log (JSON by serde_json, CSV by the csv
//!   crate). It never writes to the store and never creates a data dir or a store that is not there.
//!
//! Errors are one enum per operation, each keeping its source: opening fails with [`db::OpenError`], writing and
//! flushing with [`db::WriteError`], reading the session store with [`sessions::ReadError`], reading the trade
//! log with [`trades::TradeReadError`], appending to it with [`trades::TradeAppendError`], its start-up check with
//! [`trades::TradeCheckError`], an export with [`export::ExportError`].
//!
//! Invariants: nothing here knows sockets or the engine's books; only this crate opens sled, and only [`db`]
//! within it. On-disk formats are versioned records (a version byte first) and change only with that byte.

pub mod db;
pub mod export;
pub mod index;
pub mod sessions;
pub mod trades;
