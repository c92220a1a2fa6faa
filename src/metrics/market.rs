//! The venue's market as the released batches tell it: each instrument's book by price level, status, last
//! trade, volume and trade count; the trade tape; the open orders by account. Fed by every command the journal
//! replays at start-up and every batch the sequencer releases after, in order, so it is exactly the engine's
//! state as of the last released batch (the book is the engine's `Level` events, never recomputed here).

use std::collections::{BTreeMap, HashMap, VecDeque};

use rust_decimal::Decimal;

use engine::{Command, Event, InstrumentSpec, OrderKind, Sequenced, Side, TradingStatus};

/// Trades the tape keeps, newest last.
pub const TAPE_MAX: usize = 200;
/// Open orders tracked for the admin API, at most (beyond it new orders are not listed, and the count of those
/// left out is reported).
pub const OPEN_ORDERS_MAX: usize = 1 << 20;

/// One instrument's state.
#[derive(Debug)]
pub struct InstrumentState {
    pub spec: InstrumentSpec,
    pub status: TradingStatus,
    /// Price (ticks) -> visible quantity (lots).
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
    pub last_price_ticks: Option<i64>,
    pub last_qty_lots: i64,
    pub volume_lots: u64,
    pub trades: u64,
}

/// A trade on the tape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TapeTrade {
    pub seq: u64,
    pub time_ns: i64,
    pub symbol: String,
    pub price: Decimal,
    pub qty: Decimal,
    pub aggressor: &'static str,
}

/// An open order, for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpenOrder {
    pub order_id: u64,
    pub cl_ord_id: String,
    pub session: String,
    pub account: String,
    pub symbol: String,
    pub side: &'static str,
    pub price: Option<Decimal>,
    pub leaves_qty: Decimal,
}

#[derive(Debug)]
struct Tracked {
    instrument: usize,
    account: String,
    session: String,
    cl_ord_id: String,
    side: Side,
    price_ticks: Option<i64>,
    leaves_lots: i64,
}

/// The market, as of the last released command.
#[derive(Debug)]
pub struct Market {
    pub instruments: Vec<InstrumentState>,
    pub tape: VecDeque<TapeTrade>,
    orders: HashMap<u64, Tracked>,
    /// Orders left out of the open-order list because it was full.
    pub orders_untracked: u64,
    pub last_seq: u64,
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

impl Market {
    pub fn new(instruments: &[InstrumentSpec]) -> Market {
        Market {
            instruments: instruments
                .iter()
                .map(|spec| InstrumentState {
                    spec: spec.clone(),
                    status: spec.status,
                    bids: BTreeMap::new(),
                    asks: BTreeMap::new(),
                    last_price_ticks: None,
                    last_qty_lots: 0,
                    volume_lots: 0,
                    trades: 0,
                })
                .collect(),
            tape: VecDeque::new(),
            orders: HashMap::new(),
            orders_untracked: 0,
            last_seq: 0,
        }
    }

    /// One command with its origin (the gateway's journal origin) and the events it produced.
    pub fn apply(&mut self, command: &Sequenced, origin: &[u8], events: &[Event]) {
        self.last_seq = command.seq;
        for event in events {
            self.event(command, origin, event);
        }
    }

    fn event(&mut self, command: &Sequenced, origin: &[u8], event: &Event) {
        match *event {
            Event::Level {
                instrument,
                side,
                price_ticks,
                qty_lots,
            } => {
                let Some(state) = self.instruments.get_mut(instrument.0 as usize) else {
                    return;
                };
                let ladder = match side {
                    Side::Buy => &mut state.bids,
                    Side::Sell => &mut state.asks,
                };
                if qty_lots == 0 {
                    ladder.remove(&price_ticks);
                } else {
                    ladder.insert(price_ticks, qty_lots);
                }
            }
            Event::Status { instrument, status } => {
                if let Some(state) = self.instruments.get_mut(instrument.0 as usize) {
                    state.status = status;
                }
            }
            Event::Trade {
                instrument,
                price_ticks,
                qty_lots,
                aggressor,
                buy,
                sell,
                ..
            } => {
                self.trade(
                    command,
                    instrument.0 as usize,
                    price_ticks,
                    qty_lots,
                    aggressor,
                );
                for fill in [buy, sell] {
                    self.leaves(fill.order_id.0, fill.leaves_lots);
                }
            }
            Event::Accepted { order_id, .. } => self.accepted(command, origin, order_id.0),
            Event::Replaced {
                order_id,
                price_ticks,
                leaves_lots,
                ..
            } => {
                if let Some(o) = self.orders.get_mut(&order_id.0) {
                    if o.price_ticks.is_some() {
                        o.price_ticks = Some(price_ticks);
                    }
                    o.leaves_lots = leaves_lots;
                }
                self.leaves(order_id.0, leaves_lots);
            }
            Event::Canceled { order_id, .. } | Event::Expired { order_id, .. } => {
                self.orders.remove(&order_id.0);
            }
            _ => {}
        }
    }

    fn trade(&mut self, command: &Sequenced, i: usize, price: i64, qty: i64, aggressor: Side) {
        let Some(state) = self.instruments.get_mut(i) else {
            return;
        };
        state.last_price_ticks = Some(price);
        state.last_qty_lots = qty;
        state.volume_lots += qty.unsigned_abs();
        state.trades += 1;
        let trade = TapeTrade {
            seq: command.seq,
            time_ns: command.ts_ns,
            symbol: state.spec.symbol.clone(),
            price: Decimal::from(price) * state.spec.tick_size,
            qty: Decimal::from(qty) * state.spec.lot_size,
            aggressor: side_name(aggressor),
        };
        if self.tape.len() == TAPE_MAX {
            self.tape.pop_front();
        }
        self.tape.push_back(trade);
    }

    fn leaves(&mut self, order_id: u64, leaves_lots: i64) {
        if leaves_lots <= 0 {
            self.orders.remove(&order_id);
        } else if let Some(o) = self.orders.get_mut(&order_id) {
            o.leaves_lots = leaves_lots;
        }
    }

    fn accepted(&mut self, command: &Sequenced, origin: &[u8], order_id: u64) {
        let Command::New(order) = &command.command else {
            return;
        };
        if self.orders.len() >= OPEN_ORDERS_MAX {
            self.orders_untracked += 1;
            return;
        }
        let (session, account, cl_ord_id) = match gateway::origin::Origin::decode(origin) {
            Ok(gateway::origin::Origin::New {
                session,
                account,
                cl_ord_id,
            }) => (
                session.to_string(),
                account.to_string(),
                cl_ord_id.to_string(),
            ),
            _ => (
                String::new(),
                format!("#{}", order.account.0),
                String::new(),
            ),
        };
        let price_ticks = match order.kind {
            OrderKind::Limit { price_ticks } | OrderKind::StopLimit { price_ticks, .. } => {
                Some(price_ticks)
            }
            OrderKind::Market | OrderKind::Stop { .. } => None,
        };
        self.orders.insert(
            order_id,
            Tracked {
                instrument: order.instrument.0 as usize,
                account,
                session,
                cl_ord_id,
                side: order.side,
                price_ticks,
                leaves_lots: order.qty_lots,
            },
        );
    }

    /// The open orders of `account`, oldest first.
    pub fn open_orders(&self, account: &str) -> Vec<OpenOrder> {
        let mut ids: Vec<u64> = self
            .orders
            .iter()
            .filter(|(_, o)| o.account == account)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.iter()
            .filter_map(|id| {
                let o = &self.orders[id];
                let spec = &self.instruments.get(o.instrument)?.spec;
                Some(OpenOrder {
                    order_id: *id,
                    cl_ord_id: o.cl_ord_id.clone(),
                    session: o.session.clone(),
                    account: o.account.clone(),
                    symbol: spec.symbol.clone(),
                    side: side_name(o.side),
                    price: o.price_ticks.map(|p| Decimal::from(p) * spec.tick_size),
                    leaves_qty: Decimal::from(o.leaves_lots) * spec.lot_size,
                })
            })
            .collect()
    }

    /// Open orders tracked, all accounts.
    pub fn open_order_count(&self) -> usize {
        self.orders.len()
    }

    pub fn instrument(&self, symbol: &str) -> Option<&InstrumentState> {
        self.instruments.iter().find(|s| s.spec.symbol == symbol)
    }
}

/// A trading status as the API writes it.
pub fn status_name(status: TradingStatus) -> &'static str {
    match status {
        TradingStatus::Open => "open",
        TradingStatus::Halted => "halted",
        TradingStatus::CancelOnly => "cancel_only",
        TradingStatus::PostOnly => "post_only",
    }
}

impl InstrumentState {
    pub fn price(&self, ticks: i64) -> Decimal {
        Decimal::from(ticks) * self.spec.tick_size
    }

    pub fn qty(&self, lots: i64) -> Decimal {
        Decimal::from(lots) * self.spec.lot_size
    }

    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.iter().next_back().map(|(p, q)| (*p, *q))
    }

    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.iter().next().map(|(p, q)| (*p, *q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{AccountId, Engine, InstrumentId, NewOrder, SessionId, TimeInForce};
    use gateway::origin::Origin;

    /// A limit order; buys from account 7, sells from account 8 (no self-trade).
    fn limit(side: Side, qty_lots: i64, price_ticks: i64) -> Command {
        Command::New(NewOrder {
            instrument: InstrumentId(0),
            account: AccountId(if side == Side::Buy { 7 } else { 8 }),
            session: SessionId(1),
            side,
            kind: OrderKind::Limit { price_ticks },
            qty_lots,
            tif: TimeInForce::Gtc,
            post_only: false,
            display_lots: 0,
        })
    }

    #[test]
    fn the_market_follows_the_engine_events() {
        let config = venue_config::VenueConfig::bundled().resolve().unwrap();
        let mut engine = Engine::new(config.engine).unwrap();
        let mut market = Market::new(engine.instruments());
        let mut events = Vec::new();
        let commands = [
            (limit(Side::Buy, 10, 10_000), "B1"),
            (limit(Side::Buy, 5, 9_900), "B2"),
            (limit(Side::Sell, 4, 10_000), "S1"),
            (
                Command::SetStatus {
                    instrument: InstrumentId(0),
                    status: TradingStatus::Halted,
                },
                "",
            ),
        ];
        for (i, (command, cl_ord_id)) in commands.into_iter().enumerate() {
            let record = Sequenced {
                seq: i as u64 + 1,
                ts_ns: 1_000,
                command,
            };
            let origin = Origin::New {
                session: "FIX.4.4:FIXVENUE->CLIENT1",
                account: "ACC",
                cl_ord_id,
            }
            .encode();
            events.clear();
            engine.apply(&record, &mut events);
            market.apply(&record, &origin, &events);
        }
        let zvzzt = market.instrument("ZVZZT").unwrap();
        assert_eq!(
            zvzzt.bids.iter().collect::<Vec<_>>(),
            vec![(&9_900, &5), (&10_000, &6)]
        );
        assert!(zvzzt.asks.is_empty());
        assert_eq!(
            (zvzzt.trades, zvzzt.volume_lots, zvzzt.last_price_ticks),
            (1, 4, Some(10_000))
        );
        assert_eq!(zvzzt.status, TradingStatus::Halted);
        assert_eq!(market.tape.len(), 1);
        assert_eq!(market.tape[0].price.to_string(), "100.00");
        let open: Vec<(String, String)> = market
            .open_orders("ACC")
            .iter()
            .map(|o| (o.cl_ord_id.clone(), o.leaves_qty.to_string()))
            .collect();
        assert_eq!(
            open,
            vec![("B1".into(), "6".into()), ("B2".into(), "5".into())]
        );
        assert!(market.open_orders("OTHER").is_empty());
        assert_eq!(market.last_seq, 4);
    }
}
