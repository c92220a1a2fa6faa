//! Market data as the gateway thread sees it: what it is told when a subscriber's queue has no room, and what it
//! can ask (the rest is wired in `intake` and `release`: requests, released and replayed commands).

use marketdata::MarketData;

use super::state::Gateway;

impl Gateway {
    /// A market-data message to `session` found no room in its outbound queue: its increments are dropped until
    /// a fresh snapshot; `Some(reason)` when it fell behind too often and must be logged out.
    pub fn market_data_fell_behind(&mut self, session: usize) -> Option<String> {
        self.md.fell_behind(session)
    }

    /// The market-data state (books, statistics, subscriptions), read-only.
    pub fn market_data(&self) -> &MarketData {
        &self.md
    }
}
