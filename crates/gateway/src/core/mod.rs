//! The gateway's state machine, pure: client requests, released batches and the time go in; engine commands (with
//! their journal origins), FIX answers per session and trade records come out.
//!
//! Two views of every order:
//! - at submission: the moment a command is handed to the sequencer the gateway knows its sequence number (it is
//!   the only submitter and numbers are contiguous), so the order id, the ClOrdID maps and "a cancel or replace is
//!   in flight" are updated at once. A cancel sent right after its order therefore finds it.
//! - at release: quantities, prices and OrdStatus change only when the engine's events for a durable batch come
//!   back. Every report is built from this view.
//!
//! Ordering: an answer that needs no command (a reject at the edge, a status report) is held until every
//! command submitted before it has been released, so each session sees its answers in the order of its
//! requests, and a status report reflects every request before it.
//!
//! The modules, each using only those listed before it (no module uses one listed after it):
//! - `order`: the order record both views keep, and how each released event changes it.
//! - `reports`: the messages written (ExecutionReport, OrderCancelReject, OrderMassCancelReport,
//!   BusinessMessageReject) and the FIX codes of an order's fields; pure builders.
//! - `state`: [`Gateway`] and the types it is given and gives back ([`Input`], [`Output`], [`Market`],
//!   [`SessionInfo`]); its numbering of sessions and accounts; the answers held behind commands in flight.
//! - `views`: the submission view (what a command changes the moment it is submitted, or replayed), lookups
//!   by ClOrdID, forgetting finished orders, an order's ExecutionReport.
//! - `checks`: the edge checks (instrument, tick, lot, account, duplicate ClOrdID, what an amendment may change).
//! - `handling`: order handling: new, cancel and replace (one path), mass cancel, cancel on disconnect, status.
//! - `trades`: the trade log's records of released trades.
//! - `admin`: the operator's commands (trading status, mass cancel by instrument, kill switches).
//! - `intake`: [`Gateway::input`] and the time: each input routed to its handling.
//! - `release`: [`Gateway::released`] and [`Gateway::replay`]: each command's events applied, one function an
//!   event, and its reports built.

mod admin;
mod checks;
mod handling;
mod intake;
mod order;
mod release;
mod reports;
mod state;
mod trades;
mod views;

pub use self::reports::{Dialect, NO_ORDER_ID, business_reject};
pub use self::state::{
    AdminCommand, AdminDone, DONE_ORDERS_MAX, Gateway, Input, KillTarget, Market, OUTBOX_MAX,
    Output, SessionInfo,
};
