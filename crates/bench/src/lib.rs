//! Benchmark workloads behind `fixvenue bench ...`. Each prints one `RESULT ...` line so that figures can be set
//! beside a peer library's figures taken on the same corpus in the same run.

pub mod codec;
pub mod corpus;
pub mod e2e;
pub mod engine;
pub mod logread;
pub mod md;
pub mod scrape;
pub mod session;
pub mod verify;
