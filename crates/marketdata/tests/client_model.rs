//! The feed against a client: random order flow (limits, icebergs, market and IOC orders, stops and stop-limits,
//! replaces, cancels, mass cancels, halts) runs through the engine; its released events feed [`MarketData`];
//! every message a subscriber gets is applied by testkit's feed-handler book (W, then each X). After every
//! command (every RptSeq) each subscriber's book must equal the engine's: price levels with their quantities and
//! order counts (full depth, top 3, full refresh) and order by order (OrderID, price, visible quantity, position).

use std::collections::BTreeMap;

use engine::{
    AccountId, AccountProfile, Command, Engine, EngineConfig, Event, Funding, InstrumentId,
    InstrumentSpec, MassCancelScope, NewOrder, OrderId, OrderKind, Replace, Sequenced, SessionId,
    Side, StpMode, TimeInForce, TradingStatus,
};
use fix::types::TimePrecision;
use marketdata::request::{MarketDataRequest, MdInbound, MdRequest};
use marketdata::{MarketData, Style};
use proptest::prelude::*;
use rust_decimal::Decimal;
use session::app::AppMessage;
use testkit::Msg;
use testkit::md::{FeedBook, Row};

const SYMBOLS: [&str; 2] = ["AAA", "BBB"];

fn spec(symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        symbol: symbol.into(),
        currency: 0,
        tick_size: Decimal::new(1, 2),
        lot_size: Decimal::ONE,
        min_qty_lots: 1,
        max_qty_lots: 1_000_000,
        max_notional_cash: i64::MAX,
        cash_per_tick_lot: 100,
        collar_bp: 990_000,
        reference_ticks: 100,
        close_ns: 0,
        status: TradingStatus::Open,
    }
}

fn engine() -> Engine {
    let config = EngineConfig {
        instruments: SYMBOLS.iter().map(|s| spec(s)).collect(),
        accounts: BTreeMap::new(),
        default_account: AccountProfile {
            funding: Funding::Credit {
                limit_cash: i64::MAX / 4,
            },
            max_open_orders: 10_000,
            stp_mode: StpMode::CancelResting,
            stp_group: None,
        },
    };
    let mut engine = Engine::new(config).expect("engine");
    engine.set_audit_interval(1);
    engine
}

#[derive(Clone, Debug)]
enum Op {
    Limit {
        instrument: u32,
        account: u32,
        side: Side,
        price: i64,
        qty: i64,
        display: i64,
        tif: u8,
    },
    Market {
        instrument: u32,
        account: u32,
        side: Side,
        qty: i64,
    },
    Stop {
        instrument: u32,
        account: u32,
        side: Side,
        stop: i64,
        limit: Option<i64>,
        qty: i64,
    },
    Cancel {
        pick: usize,
    },
    Replace {
        pick: usize,
        price_delta: i64,
        qty: i64,
    },
    MassCancel {
        instrument: Option<u32>,
    },
    Status {
        instrument: u32,
        halted: bool,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..2u32, 1..5u32, side(), 95..106i64, 1..20i64, prop_oneof![3 => Just(0i64), 1 => 1..5i64], 0..8u8)
            .prop_map(|(instrument, account, side, price, qty, display, tif)| Op::Limit { instrument, account, side, price, qty, display, tif }),
        1 => (0..2u32, 1..5u32, side(), 1..30i64).prop_map(|(instrument, account, side, qty)| Op::Market { instrument, account, side, qty }),
        2 => (0..2u32, 1..5u32, side(), 96..105i64, prop::option::of(94..107i64), 1..10i64)
            .prop_map(|(instrument, account, side, stop, limit, qty)| Op::Stop { instrument, account, side, stop, limit, qty }),
        3 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => (any::<usize>(), -2..3i64, 1..25i64).prop_map(|(pick, price_delta, qty)| Op::Replace { pick, price_delta, qty }),
        1 => prop::option::of(0..2u32).prop_map(|instrument| Op::MassCancel { instrument }),
        1 => (0..2u32, prop::bool::weighted(0.3)).prop_map(|(instrument, halted)| Op::Status { instrument, halted }),
    ]
}

/// Live orders known from the events (id -> (account, price)), for cancels and replaces to pick from.
#[derive(Default)]
struct Live {
    orders: BTreeMap<u64, (u32, Option<i64>)>,
}

impl Live {
    fn learn(&mut self, accounts: &BTreeMap<u64, u32>, events: &[Event]) {
        for e in events {
            match *e {
                Event::Accepted { order_id, kind, .. } => {
                    let account = accounts.get(&order_id.0).copied().unwrap_or(1);
                    self.orders
                        .insert(order_id.0, (account, kind.limit_ticks()));
                }
                Event::Replaced {
                    order_id,
                    price_ticks,
                    ..
                } => {
                    if let Some(o) = self.orders.get_mut(&order_id.0) {
                        o.1 = Some(price_ticks);
                    }
                }
                Event::Canceled { order_id, .. } | Event::Expired { order_id, .. } => {
                    self.orders.remove(&order_id.0);
                }
                Event::Trade { buy, sell, .. } => {
                    for fill in [buy, sell] {
                        if fill.leaves_lots == 0 {
                            self.orders.remove(&fill.order_id.0);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn pick(&self, pick: usize) -> Option<(u64, u32, Option<i64>)> {
        if self.orders.is_empty() {
            return None;
        }
        let (id, (account, price)) = self.orders.iter().nth(pick % self.orders.len())?;
        Some((*id, *account, *price))
    }
}

fn command(op: &Op, live: &Live) -> Option<(Command, u32)> {
    let new = |instrument: u32, account: u32, side, kind, qty_lots, tif, display_lots| {
        (
            Command::New(NewOrder {
                instrument: InstrumentId(instrument),
                account: AccountId(account),
                session: SessionId(account),
                side,
                kind,
                qty_lots,
                tif,
                post_only: false,
                display_lots,
            }),
            account,
        )
    };
    Some(match *op {
        Op::Limit {
            instrument,
            account,
            side,
            price,
            qty,
            display,
            tif,
        } => {
            let tif = match tif {
                0 => TimeInForce::Ioc,
                1 => TimeInForce::Fok,
                _ => TimeInForce::Gtc,
            };
            let display = if tif == TimeInForce::Gtc {
                display.min(qty)
            } else {
                0
            };
            new(
                instrument,
                account,
                side,
                OrderKind::Limit { price_ticks: price },
                qty,
                tif,
                display,
            )
        }
        Op::Market {
            instrument,
            account,
            side,
            qty,
        } => new(
            instrument,
            account,
            side,
            OrderKind::Market,
            qty,
            TimeInForce::Ioc,
            0,
        ),
        Op::Stop {
            instrument,
            account,
            side,
            stop,
            limit,
            qty,
        } => {
            let kind = match limit {
                Some(price_ticks) => OrderKind::StopLimit {
                    stop_ticks: stop,
                    price_ticks,
                },
                None => OrderKind::Stop { stop_ticks: stop },
            };
            new(instrument, account, side, kind, qty, TimeInForce::Gtc, 0)
        }
        Op::Cancel { pick } => {
            let (id, account, _) = live.pick(pick)?;
            (
                Command::Cancel {
                    order_id: OrderId(id),
                    account: AccountId(account),
                },
                account,
            )
        }
        Op::Replace {
            pick,
            price_delta,
            qty,
        } => {
            let (id, account, price) = live.pick(pick)?;
            (
                Command::Replace(Replace {
                    order_id: OrderId(id),
                    account: AccountId(account),
                    price_ticks: price.map(|p| (p + price_delta).max(1)),
                    qty_lots: qty,
                }),
                account,
            )
        }
        Op::MassCancel { instrument } => (
            Command::MassCancel(match instrument {
                Some(i) => MassCancelScope::Instrument(InstrumentId(i)),
                None => MassCancelScope::All,
            }),
            0,
        ),
        Op::Status { instrument, halted } => (
            Command::SetStatus {
                instrument: InstrumentId(instrument),
                status: if halted {
                    TradingStatus::Halted
                } else {
                    TradingStatus::Open
                },
            },
            0,
        ),
    })
}

/// The subscriptions under test, one per session: (MarketDepth, AggregatedBook, MDUpdateType).
const VIEWS: [(i64, bool, u8); 4] = [
    (0, true, b'1'),
    (0, false, b'1'),
    (3, true, b'1'),
    (2, true, b'0'),
];

fn subscribe(md: &mut MarketData, out: &mut Vec<(usize, AppMessage)>) {
    for (session, (depth, aggregated, update_type)) in VIEWS.into_iter().enumerate() {
        let request = MarketDataRequest {
            md_req_id: format!("S{session}"),
            subscription: b'1',
            market_depth: depth,
            update_type: Some(update_type),
            aggregated: Some(aggregated),
            entry_types: b"0127489B".to_vec(),
            symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
            refused: None,
        };
        md.request(
            session,
            MdInbound {
                ref_seq: 1,
                routing: Default::default(),
                request: MdRequest::MarketData(request),
            },
            out,
        );
    }
}

fn as_msg(msg: &AppMessage) -> Msg {
    let mut bytes = b"35=".to_vec();
    bytes.extend_from_slice(&msg.msg_type);
    bytes.push(1);
    bytes.extend_from_slice(&msg.body);
    Msg::parse(&bytes)
}

/// The engine's view of one side as a subscriber of `view` should hold it.
fn expected(
    engine: &Engine,
    instrument: u32,
    side: Side,
    depth: i64,
    aggregated: bool,
) -> Vec<Row> {
    let orders = engine.book_side(InstrumentId(instrument), side);
    let price = |ticks: i64| Decimal::from(ticks) * Decimal::new(1, 2);
    if !aggregated {
        return orders
            .iter()
            .map(|o| Row {
                price: price(o.price_ticks),
                size: Decimal::from(o.visible_lots),
                orders: None,
                order_id: Some(o.order_id.0.to_string()),
            })
            .collect();
    }
    let mut rows: Vec<Row> = Vec::new();
    for o in orders {
        match rows.last_mut() {
            Some(row) if row.price == price(o.price_ticks) => {
                row.size += Decimal::from(o.visible_lots);
                *row.orders.as_mut().expect("aggregated") += 1;
            }
            _ => rows.push(Row {
                price: price(o.price_ticks),
                size: Decimal::from(o.visible_lots),
                orders: Some(1),
                order_id: None,
            }),
        }
    }
    if depth > 0 {
        rows.truncate(depth as usize);
    }
    rows
}

fn check_books(engine: &Engine, feeds: &[FeedBook], step: usize) -> Result<(), TestCaseError> {
    for (session, (depth, aggregated, _)) in VIEWS.into_iter().enumerate() {
        for (i, symbol) in SYMBOLS.iter().enumerate() {
            let book = &feeds[session].symbols[*symbol];
            for (side, rows) in [(Side::Buy, &book.bids), (Side::Sell, &book.offers)] {
                let want = expected(engine, i as u32, side, depth, aggregated);
                prop_assert_eq!(
                    rows,
                    &want,
                    "step {}: view {} {} {}",
                    step,
                    session,
                    symbol,
                    side
                );
            }
        }
    }
    Ok(())
}

fn run(ops: &[Op], batch: usize) -> Result<(), TestCaseError> {
    let mut engine = engine();
    let styles = [Style {
        time_precision: TimePrecision::Millis,
        venue_extensions: true,
    }; VIEWS.len()];
    let specs = SYMBOLS.iter().map(|s| spec(s)).collect();
    let mut md = MarketData::new(specs, vec!["USD".into()], &styles);
    let mut feeds = vec![FeedBook::default(); VIEWS.len()];
    let mut out = Vec::new();
    subscribe(&mut md, &mut out);
    let mut live = Live::default();
    let mut accounts = BTreeMap::new();
    let mut events = Vec::new();
    let mut seq = 0;
    let apply = |out: &mut Vec<(usize, AppMessage)>,
                 feeds: &mut Vec<FeedBook>|
     -> Result<(), TestCaseError> {
        for (session, msg) in out.drain(..) {
            let msg = as_msg(&msg);
            match msg.msg_type() {
                "W" | "X" => feeds[session]
                    .apply(&msg)
                    .map_err(|e| TestCaseError::fail(format!("session {session}: {e} in {msg}")))?,
                "f" | "h" => {}
                other => return Err(TestCaseError::fail(format!("unexpected 35={other}: {msg}"))),
            }
        }
        Ok(())
    };
    apply(&mut out, &mut feeds)?;
    check_books(&engine, &feeds, 0)?;
    for (step, op) in ops.iter().enumerate() {
        let Some((command, account)) = command(op, &live) else {
            continue;
        };
        seq += 1;
        if matches!(command, Command::New(_)) {
            accounts.insert(seq, account);
        }
        events.clear();
        let ts_ns = 1_800_000_000_000_000_000 + seq as i64 * 1_000_000;
        engine.apply(
            &Sequenced {
                seq,
                ts_ns,
                command,
            },
            &mut events,
        );
        live.learn(&accounts, &events);
        md.command(ts_ns, &events, &mut out);
        prop_assert_eq!(
            md.mismatches(),
            0,
            "step {}: the rebuilt book differs from the engine's levels",
            step
        );
        if (step + 1) % batch == 0 || step + 1 == ops.len() {
            md.end_batch(&mut out);
            apply(&mut out, &mut feeds)?;
            check_books(&engine, &feeds, step + 1)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// One batch per command: the client's book equals the engine's at every RptSeq.
    #[test]
    fn every_increment_rebuilds_the_engines_book(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops, 1)?;
    }

    /// Several commands per batch (one X per subscription per batch): equal at every batch's end.
    #[test]
    fn batched_increments_rebuild_the_engines_book(ops in prop::collection::vec(op(), 1..120), batch in 2..9usize) {
        run(&ops, batch)?;
    }
}
