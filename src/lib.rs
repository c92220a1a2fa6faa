//! fixvenue: a FIX 4.4 trading venue.
//!
//! The crate is layered the way a message travels (see ARCHITECTURE.md):
//!
//! - [`fix`]: the wire format, pure. Framing (`8=FIX.4.4|9=..|35=..|...|10=NNN|`, size cap, resync), zero-copy
//!   decoding with nom, encoding into `bytes::BytesMut`, the data dictionary loaded from `fix-spec/FIX44.xml`, and
//!   validation that yields the exact SessionRejectReason. It knows nothing of sockets, tokio or time sources.
//! - [`engine`]: matching, pure: one book per instrument in integer ticks and lots, price-time priority, order
//!   types, TIF, self-trade prevention, trading status, pre-trade risk; sequenced commands in, events out.
//! - [`config`]: `venue.toml` (instruments, accounts, `[default_account]`), loaded with serde and validated into
//!   the engine's integer terms; the bundled default is compiled in.
//! - [`sequencer`]: the single writer: stamps each command with the next sequence number and a timestamp,
//!   journals it, applies it to the engine, and releases events only after the batch's fdatasync.
//! - [`store`]: the journal of sequenced commands (CRC-framed, preallocated segments, torn-tail recovery).
//! - [`session`]: the FIX session protocol, pure: `sessions/*.cfg`, Logon and authentication, sequence numbers,
//!   resend and gap fill, heartbeats, rejects; `(state, event, now) -> actions`.
//! - [`net`]: the acceptor: tokio listeners, plain and TLS (rustls), one task per connection, connection limits,
//!   shutdown; carries out the session's actions, store first, then socket.
//! - [`runtime`]: wiring for `serve` and `check-config`: configuration, store, acceptor, signals.
//! - [`conformance`]: the conformance runner: scenario files played against any FIX 4.4 acceptor.
//! - [`bench`]: the `fixvenue bench ...` workloads, measured on the shared corpus.
//!
//! `main.rs` alone knows the command line.

pub mod bench;
pub mod config;
pub mod conformance;
pub mod engine;
pub mod fix;
pub mod gateway;
pub mod net;
pub mod runtime;
pub mod sequencer;
pub mod session;
pub mod store;
