//! The FIX 4.4 session protocol, pure: `(state, event, now) -> actions`.
//!
//! - [`config`]: `sessions/*.cfg` (QuickFIX INI) into [`config::SessionConfig`]s, with errors naming file, line
//!   and key.
//! - [`state`]: the [`Session`] state machine: Logon rules and authentication, sequence numbers, gap detection and
//!   the queue behind a gap, ResendRequest and SequenceReset, heartbeats and TestRequest, validation rejects,
//!   Logout, reverse routing. Timers are data ([`Session::next_deadline`]). `state.rs` holds the state, the
//!   dispatch and the messages sent; `state/` one module per protocol area (logon, sequence, resend, heartbeat,
//!   logout, routing, redact).
//! - [`app`]: the one interface to the application layer ([`app::Application`]).
//! - [`auth`]: Username/Password against an argon2 hash, constant-time, with a lock-out.
//! - [`schedule`]: StartTime/EndTime/StartDay/EndDay periods.
//! - `fuzz` (tests and the `fuzzing` feature only): arbitrary event sequences with invariant checks (the fuzz
//!   target and a property test).
//!
//! Invariants: nothing here does I/O, reads a clock or spawns; every send is returned as an [`Action`] carrying
//! its MsgSeqNum, and an application message is marked to be stored before the runtime writes it. Nothing here
//! logs a password: [`redact`] strips 554, 925 and 96 from frames before they reach a log.

pub mod app;
pub mod auth;
pub mod config;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod schedule;
pub mod state;

pub use state::{
    Action, Counters, Event, Level, Outbound, QUEUED_BYTES_MAX, QUEUED_MESSAGES_MAX,
    RESEND_BATCH_MAX, Routing, SeqNums, Session, Status, redact,
};

#[cfg(test)]
mod tests;
