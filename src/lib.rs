//! fixvenue: the venue binary's own layer — the network edge and the wiring — over the workspace's library
//! crates (see ARCHITECTURE.md):
//!
//! - `fix` (crates/fix): the wire format, pure.
//! - `engine` (crates/engine): matching, pure.
//! - `config` (crates/config): `venue.toml` parsed and validated into the engine's terms, pure.
//! - `journal` (crates/journal): the write-ahead journal and the sequencer, its single writer.
//! - `session` (crates/session): the FIX session protocol, pure.
//! - `store` (crates/store): the sled index (session store, trade log, exports).
//! - `gateway` (crates/gateway): order entry, FIX application messages to commands and back to reports.
//!
//! This crate adds:
//! - [`net`]: the acceptor: tokio listeners, plain and TLS (rustls), one task per connection, connection limits,
//!   shutdown; carries out the session's actions, store first, then socket; delivers the gateway's reports.
//! - [`indexer`]: the session log's writer and the sled indexer behind it, with the start-up catch-up.
//! - [`metrics`]: the venue's figures (per-session counters, rejects, latency, the market view fed by released
//!   batches) and their Prometheus export.
//! - [`admin`]: the admin HTTP server (axum): health, readiness, `/metrics`, JSON API, operator actions, live page.
//! - [`runtime`]: wiring for `serve` and `check-config`: configuration files, store, journal, gateway,
//!   acceptor, signals.
//! - [`private`]: the modes of the data files (0600 / 0700 unless venue.toml says otherwise).
//! - [`query`]: the compliance queries (`fixvenue log`, `fixvenue order`), read-only over the log files, so they
//!   work while the venue runs.
//! - [`replay`]: a read-only replay of the journal through a fresh engine and gateway, as start-up does.
//! - [`verify`]: `fixvenue verify` and `fixvenue seal`, the read-only tamper-evidence checks of the two logs (CRCs,
//!   hash chains, a seal's hashes).
//!
//! `main.rs` alone knows the command line. Nothing here is linked into the benchmarks' or the conformance
//! runner's code paths, and the venue binary links neither.

pub mod admin;
pub mod indexer;
pub mod metrics;
pub mod net;
pub mod private;
pub mod query;
pub mod replay;
pub mod runtime;
pub mod verify;

/// The directory the bundled session configuration's relative names resolve from: the repository root at build
/// time (`certs/server.pem` is there). `runtime` resolves the bundled names under it, and `net::tls` serves the
/// copies built into the binary for those names when the files are gone.
pub(crate) const BUNDLED_BASE_DIR: &str = env!("CARGO_MANIFEST_DIR");
