//! The sled index: what is looked up and queried, beside the logs that are the truth.
//!
//! Modules, each depending only on those above it (`db` <- `sessions`, `db` <- `trades`, `export` -> `trades`;
//! `sessions` and `trades` never import each other):
//!
//! - [`db`]: the one sled handle under the data dir: its open (with the wait while another handle lets go of the
//!   lock), its flush, and the errors of both ([`db::OpenError`], [`db::WriteError`]). It never encodes or decodes
//!   a record and knows nothing of sessions or trades.
//! - [`sessions`]: the session store: every outgoing application message per session (for resend) and the
//!   sequence numbers (the compliance log is the session log itself, never copied here), in trees it takes from
//!   the [`db::Db`]. It never opens or locks the database itself and never touches the trade log.
//! - [`index`]: the session log's records applied to the session store's trees, behind the log, with the mark of
//!   how far it got (so start-up brings sled up to the log's tail).
//! - [`trades`]: the trade log, checked against the journal's replay at start-up, in a tree it takes from the
//!   [`db::Db`]. It never decides what a trade is, never opens or locks the database itself, and never touches
//!   the session store.
//! - [`export`]: the formats of the trade export (JSON by serde_json, CSV by the csv crate), written a trade at
//!   a time as the caller hands them. It never opens the store or a data dir.
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
