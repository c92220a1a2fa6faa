//! The longest identifiers the venue accepts in FIX fields. A longer value is refused with a reason, never cut.
//! Every crate that reads, checks or stores one of these identifiers uses these constants, so a value accepted at
//! the edge always fits the records it ends up in (the journal's origins, the trade log).

/// ClOrdID (11), OrigClOrdID (41), OrderID (37) and the request ids (OrdStatusReqID 790, MassStatusReqID 584).
pub const CL_ORD_ID_BYTES_MAX: usize = 64;
/// Account (1), and an account a session configures (`Accounts`, or its CompID by default).
pub const ACCOUNT_BYTES_MAX: usize = 64;
/// Symbol (55), and an instrument's symbol in venue.toml.
pub const SYMBOL_BYTES_MAX: usize = 64;
