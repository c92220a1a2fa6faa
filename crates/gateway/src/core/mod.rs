//! The gateway's state machine, pure: client requests, released batches and the time go in; engine commands (with
//! their journal origins), FIX answers per session and trade records come out.
//!
//! Numbers: the gateway queues the commands of a turn and hands them to the sequencer together
//! ([`Gateway::submit_pending`]), learning their sequence numbers (a new order's OrderID) from the answer; it never
//! counts them itself, so another submitter (an admin halt, a drop copy) numbering commands in between changes
//! nothing. A request that names an order of the turn not yet numbered (a cancel, a duplicate ClOrdID, a status
//! request) and an answer held behind the turn's commands make it hand them over at once.
//!
//! Two views of every order:
//! - at submission: the moment a command is queued (a cancel or replace) or numbered (a new order), the order id,
//!   the ClOrdID maps and "a cancel or replace is in flight" are updated. A cancel sent right after its order
//!   therefore finds it.
//! - at release: OrdStatus, CumQty, LeavesQty and AvgPx are the engine's, copied from the `OrderState` each of
//!   its events about the order carries (the engine is their one writer); the gateway keeps the routing, the
//!   ClOrdID chain and the terms the client set. Every report, status answers included, is built from this view.
//!
//! Ordering: an answer that needs no command (a reject at the edge, a status report) is held until every
//! command submitted before it has been released, so each session sees its answers in the order of its
//! requests, and a status report reflects every request before it.
//!
//! The modules, each using only those listed before it (no module uses one listed after it):
//! - `order`: the order record both views keep: routing, ClOrdID chain, terms, and the engine's latest state.
//! - `reports`: the messages written (ExecutionReport, OrderCancelReject, OrderMassCancelReport,
//!   BusinessMessageReject) and the FIX codes of an order's fields; pure builders.
//! - `captured`: the trades kept for trade capture (the current UTC day's, bounded) and the live subscriptions.
//! - `state`: [`Gateway`] and the types it is given and gives back ([`Input`], [`Output`], [`Market`],
//!   [`SessionInfo`], [`Submit`]); its numbering of sessions and accounts; the commands of the turn and the numbers
//!   the sequencer gave them; the answers held behind commands in flight.
//! - `views`: the submission view (what a command changes the moment it is queued or numbered, or replayed),
//!   handing commands to the sequencer, holding answers behind them, lookups by ClOrdID, forgetting finished
//!   orders, an order's ExecutionReport.
//! - `dropcopy`: the drop-copy sessions' scopes and the copies of a report (797=Y, the originating session's
//!   CompIDs in OnBehalfOfCompID/DeliverToCompID), built beside the original.
//! - `checks`: the edge checks (instrument, tick, lot, account, duplicate ClOrdID, what an amendment may change).
//! - `handling`: order handling: new, cancel and replace (one path), mass cancel, cancel on disconnect, status.
//! - `trades`: the trade log's records of released trades.
//! - `capture`: TradeCaptureReportRequest (AD) answered with AQ and AE: snapshot of the day's trades in the
//!   session's scope, live updates, refusals.
//! - `admin`: the operator's commands (trading status, mass cancel by instrument, kill switches).
//! - `intake`: [`Gateway::input`] and the time: each input routed to its handling.
//! - `release`: [`Gateway::released`] and [`Gateway::replay`]: each command's events applied, one function an
//!   event, and its reports built; market data (the `marketdata` crate) is given each command's events too.
//! - `market`: what the gateway thread tells market data (a subscriber fell behind) and reads of it.

mod admin;
mod capture;
mod captured;
mod checks;
mod dropcopy;
mod handling;
mod intake;
mod market;
mod order;
mod release;
mod reports;
mod state;
mod trades;
mod views;

pub use self::captured::{CAPTURE_SNAPSHOT_MAX, CAPTURE_SUBSCRIPTIONS_MAX, CAPTURE_TRADES_MAX};
pub use self::reports::{Dialect, NO_ORDER_ID, business_reject};
pub use self::state::{
    AdminCommand, AdminDone, DONE_ORDERS_MAX, Gateway, Input, KillTarget, Market, OUTBOX_MAX,
    Output, SessionInfo, Submit,
};
