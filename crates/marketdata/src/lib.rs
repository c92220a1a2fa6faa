//! Market data, pure: released engine events, client requests and delivery failures go in; FIX messages per
//! session come out. No I/O, no clock (the time is the released commands' timestamps).
//!
//! - [`book`]: the order-by-order book of an instrument, rebuilt from the engine's `Queue` events, with each
//!   order's position on its side (MDEntryPositionNo) and the aggregated level views.
//! - [`stats`]: last trade, opening, high, low, VWAP and volume of the trading day.
//! - [`request`]: V, x, e and g read into owned requests on the connection's task, every field the venue does not
//!   act on noted for a refusal.
//! - [`encode`]: W, X, Y, y, f and h written in the dictionary's order; extensions (RptSeq, MinPriceIncrement,
//!   MaxTradeVol) only for sessions with VenueExtensions=Y.
//! - [`feed`]: [`MarketData`]: subscriptions, per-command updates with RptSeq per subscription and instrument,
//!   batching (one X per subscription per released batch), status pushes, slow subscribers.
//! - [`answers`]: the requests answered (snapshots, rejects with MDReqRejReason, reference data, status).
//! - [`tags`]: the tags and values of these messages.
//!
//! Market data is never stored for resend: [`is_market_data`] names the message types the session layer numbers
//! without storing, so a ResendRequest over them is answered with a SequenceReset-GapFill.

pub mod answers;
pub mod book;
pub mod encode;
pub mod feed;
pub mod request;
pub mod stats;
pub mod tags;

pub use answers::not_permitted;
pub use encode::Style;
pub use feed::{
    MARKET_DEPTH_MAX, MD_BEHIND_MAX_NS, MD_FALL_WINDOW_NS, MD_FALLS_MAX,
    MD_SUBSCRIPTIONS_PER_SESSION_MAX, MD_SYMBOLS_PER_REQUEST_MAX, MD_X_ENTRIES_MAX, MarketData,
    TRADING_SESSION_ID,
};
pub use request::{MdInbound, MdRequest};

#[cfg(test)]
mod tests;

/// Market data, reference data and status answers: numbered like every message, never stored for resend.
pub fn is_market_data(msg_type: &[u8]) -> bool {
    session::app::is_market_data(msg_type)
}
