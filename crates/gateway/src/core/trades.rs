//! Trades: the trade log's record of each trade in a released batch, with the names the engine does not know
//! (the instrument's symbol and currency, each side's account, session and ClOrdID).

use engine::{Fill, InstrumentId, MatchId, Sequenced, Side};
use store::trades::{TradeRecord, TradeSide};

use super::state::Gateway;

/// A trade event of the engine.
#[derive(Clone, Copy, Debug)]
pub(super) struct Trade {
    pub(super) match_id: MatchId,
    pub(super) instrument: InstrumentId,
    pub(super) price_ticks: i64,
    pub(super) qty_lots: i64,
    pub(super) aggressor: Side,
    pub(super) buy: Fill,
    pub(super) sell: Fill,
}

impl Gateway {
    /// The trade log's record of `trade`, made by the command `record`; `exec_ids` are the ExecIDs of the buy
    /// and the sell side's fill reports.
    pub(super) fn trade_record(
        &self,
        record: &Sequenced,
        trade: &Trade,
        exec_ids: [String; 2],
    ) -> TradeRecord {
        let [buy_exec_id, sell_exec_id] = exec_ids;
        let spec = &self.market.instruments[trade.instrument.0 as usize];
        TradeRecord {
            match_seq: record.seq,
            match_n: trade.match_id.n,
            ts_ns: record.ts_ns,
            symbol: spec.symbol.clone(),
            price: spec.ticks_to_price(trade.price_ticks),
            qty: spec.lots_to_qty(trade.qty_lots),
            currency: self
                .market
                .currencies
                .get(spec.currency as usize)
                .cloned()
                .unwrap_or_default(),
            aggressor: trade.aggressor,
            buy: self.trade_side(trade.buy, buy_exec_id),
            sell: self.trade_side(trade.sell, sell_exec_id),
        }
    }

    fn trade_side(&self, fill: Fill, exec_id: String) -> TradeSide {
        let order = self.orders.get(&fill.order_id);
        TradeSide {
            order_id: fill.order_id.0,
            account: self
                .account_names
                .get(&fill.account)
                .cloned()
                .unwrap_or_default(),
            session: order
                .and_then(|o| o.session)
                .map(|s| self.sessions[s].info.id.clone())
                .unwrap_or_default(),
            cl_ord_id: order.map(|o| o.cl_ord_id.to_string()).unwrap_or_default(),
            exec_id,
        }
    }
}
