//! Test support for fixvenue, never linked into the venue binary: the FIX client that integration tests,
//! benchmarks and the conformance runner share, and the TLS client setup it needs.

pub mod client;
pub mod tls;
pub mod venue;
