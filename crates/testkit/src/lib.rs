//! Test support for fixvenue, never linked into the venue binary: the one FIX client that integration tests,
//! benchmarks and the conformance runner share, a manual clock, and the venue launcher.
//!
//! - [`stream`]: a connection to an acceptor, plain or TLS ([`tls`]: the client's certificates).
//! - [`frames`]: bytes into whole messages through `fix::frame`, in a bounded buffer, with deadlines.
//! - [`stamp`]: the client's header (CompIDs, MsgSeqNum, SendingTime) on messages built through `fix::encode`.
//! - [`md`]: a market-data client's book (W then every X applied, as a feed handler does).
//! - [`msg`]: a received message, owned, with field lookup and the `35=8|150=0|!41|` specs tests match.
//! - [`client`]: the client, async: send, receive, expect, logon and logout over one of the above.
//! - [`blocking`]: the same for tests that do not run on tokio, with the order-entry shorthands.
//! - [`recovering`]: a blocking initiator that recovers as a real engine does (resends, gap fills, gaps asked
//!   for) and records everything, for crash tests.
//! - [`clock`]: a manual clock for the pure state machines' `now`.
//! - [`venue`]: `fixvenue serve` as a child process, killed on drop.
//! - [`http`]: a minimal blocking HTTP client for the admin server, and a Prometheus sample reader.
//!
//! Invariants: testkit depends on no crate of the venue but `fix` (the session, gateway and venue crates use it
//! in their tests, so it must not use them); there is one framer and one encoder, `fix`'s.

pub mod blocking;
pub mod client;
pub mod clock;
pub mod frames;
pub mod http;
pub mod md;
pub mod msg;
pub mod recovering;
pub mod stamp;
pub mod stream;
pub mod tls;
pub mod venue;

pub use client::{Client, ClientError};
pub use clock::ManualClock;
pub use msg::Msg;
pub use stream::{Endpoint, Stream};
