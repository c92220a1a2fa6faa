//! The engine against a naive reference book: random sequences of limit (GTC, IOC, FOK), market, cancel and replace
//! commands from a few accounts (so self-trade prevention fires) must give the same trades, in the same order, and
//! the same final book. The reference keeps every order in one vector and finds the best by scanning. Any command
//! at all keeps the engine's invariants, and round-trips through the journal's record encoding with any origin.

use std::collections::BTreeMap;

use engine::{
    AccountId, AccountProfile, Command, Engine, EngineConfig, Event, Funding, InstrumentId,
    InstrumentSpec, NewOrder, OrderId, OrderKind, OrderState, OrderStatus, Replace, Sequenced,
    SessionId, Side, StpMode, TimeInForce, TradingStatus,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Clone, Debug)]
enum Op {
    Limit {
        account: u32,
        side: Side,
        price_ticks: i64,
        qty_lots: i64,
        tif: TimeInForce,
    },
    Market {
        account: u32,
        side: Side,
        qty_lots: i64,
    },
    Cancel {
        pick: usize,
    },
    Replace {
        pick: usize,
        price_delta_ticks: i64,
        qty_lots: i64,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    let tif = prop_oneof![6 => Just(TimeInForce::Gtc), 1 => Just(TimeInForce::Ioc), 1 => Just(TimeInForce::Fok)];
    prop_oneof![
        6 => (1..4u32, side(), 95..106i64, 1..20i64, tif)
            .prop_map(|(account, side, price_ticks, qty_lots, tif)| Op::Limit { account, side, price_ticks, qty_lots, tif }),
        1 => (1..4u32, side(), 1..40i64).prop_map(|(account, side, qty_lots)| Op::Market { account, side, qty_lots }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), -2..3i64, 1..25i64)
            .prop_map(|(pick, price_delta_ticks, qty_lots)| Op::Replace { pick, price_delta_ticks, qty_lots }),
    ]
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RefOrder {
    id: u64,
    account: u32,
    side: Side,
    price_ticks: i64,
    qty_lots: i64,
    cum_lots: i64,
    time: u64,
}

/// (buy order, sell order, price, quantity)
type Trade = (u64, u64, i64, i64);

#[derive(Default)]
struct RefBook {
    orders: Vec<RefOrder>,
    clock: u64,
}

impl RefBook {
    /// Index of the best order on `side` (best price, then earliest), if any.
    fn best(&self, side: Side) -> Option<usize> {
        let key = |order: &RefOrder| match side {
            Side::Buy => (-order.price_ticks, order.time),
            Side::Sell => (order.price_ticks, order.time),
        };
        (0..self.orders.len())
            .filter(|&i| self.orders[i].side == side)
            .min_by_key(|&i| key(&self.orders[i]))
    }

    fn in_priority(&self, side: Side) -> Vec<RefOrder> {
        let mut orders: Vec<RefOrder> = self
            .orders
            .iter()
            .filter(|o| o.side == side)
            .cloned()
            .collect();
        orders.sort_by_key(|order| match side {
            Side::Buy => (-order.price_ticks, order.time),
            Side::Sell => (order.price_ticks, order.time),
        });
        orders
    }

    fn crosses(side: Side, bound_ticks: Option<i64>, price_ticks: i64) -> bool {
        match (side, bound_ticks) {
            (_, None) => true,
            (Side::Buy, Some(bound)) => price_ticks <= bound,
            (Side::Sell, Some(bound)) => price_ticks >= bound,
        }
    }

    /// Whether a FOK can fill: walks the book as the sweep would; meeting its own account first kills it.
    fn fok_fillable(&self, taker: &RefOrder, bound_ticks: Option<i64>) -> bool {
        let mut available = 0;
        for maker in self.in_priority(taker.side.opposite()) {
            if !Self::crosses(taker.side, bound_ticks, maker.price_ticks) {
                break;
            }
            if maker.account == taker.account {
                return false;
            }
            available += maker.qty_lots - maker.cum_lots;
            if available >= taker.qty_lots - taker.cum_lots {
                return true;
            }
        }
        false
    }

    /// Matches `taker`; rests it if `rests` and something is left.
    fn take(
        &mut self,
        mut taker: RefOrder,
        bound_ticks: Option<i64>,
        rests: bool,
        fok: bool,
        trades: &mut Vec<Trade>,
    ) {
        if fok && !self.fok_fillable(&taker, bound_ticks) {
            return;
        }
        while taker.cum_lots < taker.qty_lots {
            let Some(at) = self.best(taker.side.opposite()) else {
                break;
            };
            let maker = &mut self.orders[at];
            if !Self::crosses(taker.side, bound_ticks, maker.price_ticks) {
                break;
            }
            if maker.account == taker.account {
                return;
            }
            let qty = (taker.qty_lots - taker.cum_lots).min(maker.qty_lots - maker.cum_lots);
            taker.cum_lots += qty;
            maker.cum_lots += qty;
            let (buy, sell) = if taker.side == Side::Buy {
                (taker.id, maker.id)
            } else {
                (maker.id, taker.id)
            };
            trades.push((buy, sell, maker.price_ticks, qty));
            if maker.cum_lots == maker.qty_lots {
                self.orders.remove(at);
            }
        }
        if rests && taker.cum_lots < taker.qty_lots {
            self.clock += 1;
            taker.time = self.clock;
            self.orders.push(taker);
        }
    }

    fn apply(&mut self, seq: u64, command: &Command, trades: &mut Vec<Trade>) {
        match *command {
            Command::New(order) => {
                let taker = RefOrder {
                    id: seq,
                    account: order.account.0,
                    side: order.side,
                    price_ticks: order.kind.limit_ticks().unwrap_or(0),
                    qty_lots: order.qty_lots,
                    cum_lots: 0,
                    time: 0,
                };
                let rests = order.kind.limit_ticks().is_some() && order.tif == TimeInForce::Gtc;
                self.take(
                    taker,
                    order.kind.limit_ticks(),
                    rests,
                    order.tif == TimeInForce::Fok,
                    trades,
                );
            }
            Command::Cancel { order_id, account } => {
                self.orders
                    .retain(|order| !(order.id == order_id.0 && order.account == account.0));
            }
            Command::Replace(replace) => self.replace(&replace, trades),
            _ => unreachable!("the generator makes no other commands"),
        }
    }

    fn replace(&mut self, replace: &Replace, trades: &mut Vec<Trade>) {
        let Some(at) = self
            .orders
            .iter()
            .position(|order| order.id == replace.order_id.0)
        else {
            return;
        };
        let order = self.orders[at].clone();
        let price_ticks = replace.price_ticks.unwrap_or(order.price_ticks);
        if replace.qty_lots <= order.cum_lots {
            self.orders.remove(at);
        } else if price_ticks == order.price_ticks && replace.qty_lots <= order.qty_lots {
            self.orders[at].qty_lots = replace.qty_lots;
        } else {
            self.orders.remove(at);
            let taker = RefOrder {
                price_ticks,
                qty_lots: replace.qty_lots,
                ..order
            };
            self.take(taker, Some(price_ticks), true, false, trades);
        }
    }
}

fn engine() -> Engine {
    let spec = InstrumentSpec {
        symbol: "ZVZZT".into(),
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
    };
    let profile = AccountProfile {
        funding: Funding::Credit {
            limit_cash: i64::MAX / 4,
        },
        max_open_orders: 10_000,
        stp_mode: StpMode::CancelIncoming,
        stp_group: None,
    };
    let config = EngineConfig {
        instruments: vec![spec],
        accounts: BTreeMap::new(),
        default_account: profile,
    };
    let mut engine = Engine::new(config).expect("valid engine config");
    engine.set_audit_interval(1);
    engine
}

/// Turns a generated op into a command; cancels and replaces pick one of the live orders of the reference.
fn command(op: &Op, reference: &RefBook) -> Option<Command> {
    let new = |account: u32, side, kind, qty_lots, tif| {
        Command::New(NewOrder {
            instrument: InstrumentId(0),
            account: AccountId(account),
            session: SessionId(1),
            side,
            kind,
            qty_lots,
            tif,
            post_only: false,
            display_lots: 0,
        })
    };
    let pick = |pick: usize| {
        reference
            .orders
            .get(pick % reference.orders.len().max(1))
            .cloned()
    };
    match *op {
        Op::Limit {
            account,
            side,
            price_ticks,
            qty_lots,
            tif,
        } => Some(new(
            account,
            side,
            OrderKind::Limit { price_ticks },
            qty_lots,
            tif,
        )),
        Op::Market {
            account,
            side,
            qty_lots,
        } => Some(new(
            account,
            side,
            OrderKind::Market,
            qty_lots,
            TimeInForce::Ioc,
        )),
        Op::Cancel { pick: at } => pick(at).map(|order| Command::Cancel {
            order_id: OrderId(order.id),
            account: AccountId(order.account),
        }),
        Op::Replace {
            pick: at,
            price_delta_ticks,
            qty_lots,
        } => pick(at).map(|order| {
            Command::Replace(Replace {
                order_id: OrderId(order.id),
                account: AccountId(order.account),
                price_ticks: (price_delta_ticks != 0)
                    .then_some(order.price_ticks + price_delta_ticks),
                qty_lots,
            })
        }),
    }
}

fn engine_trades(events: &[Event]) -> Vec<Trade> {
    events
        .iter()
        .filter_map(|event| match *event {
            Event::Trade {
                buy,
                sell,
                price_ticks,
                qty_lots,
                ..
            } => Some((buy.order_id.0, sell.order_id.0, price_ticks, qty_lots)),
            _ => None,
        })
        .collect()
}

/// Per order: its quantity, and the executed lots and sum of price x lots the test counts from the trades.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    qty_lots: i64,
    cum_lots: i64,
    notional: i128,
}

/// Every order state the events carry agrees with the tally of the trades before it: CumQty, LeavesQty, the AvgPx
/// sum, and a status that fits them.
fn check_states(events: &[Event], tallies: &mut BTreeMap<u64, Tally>) -> Result<(), String> {
    let agree = |tally: &Tally, state: &OrderState, live: bool, event: &Event| {
        let leaves_lots = if live {
            tally.qty_lots - tally.cum_lots
        } else {
            0
        };
        let fits = state.cum_lots == tally.cum_lots
            && state.notional.get() == tally.notional
            && state.leaves_lots == leaves_lots;
        if fits {
            Ok(())
        } else {
            Err(format!("{state:?} against {tally:?} in {event:?}"))
        }
    };
    for event in events {
        match *event {
            Event::Accepted {
                order_id,
                qty_lots,
                state,
                ..
            } => {
                let tally = Tally {
                    qty_lots,
                    ..Tally::default()
                };
                tallies.insert(order_id.0, tally);
                agree(&tally, &state, true, event)?;
                if state.status != OrderStatus::New {
                    return Err(format!("accepted as {:?}", state.status));
                }
            }
            Event::Trade {
                price_ticks,
                qty_lots,
                buy,
                sell,
                ..
            } => {
                for fill in [buy, sell] {
                    let tally = tallies.entry(fill.order_id.0).or_default();
                    tally.cum_lots += qty_lots;
                    tally.notional += i128::from(price_ticks) * i128::from(qty_lots);
                    agree(tally, &fill.state(), true, event)?;
                    let filled = fill.leaves_lots == 0;
                    if filled != (fill.state().status == OrderStatus::Filled) {
                        return Err(format!("status {:?} in {event:?}", fill.state().status));
                    }
                }
            }
            Event::Replaced {
                order_id,
                qty_lots,
                state,
                ..
            } => {
                let tally = tallies.entry(order_id.0).or_default();
                tally.qty_lots = qty_lots;
                agree(tally, &state, true, event)?;
            }
            Event::Canceled {
                order_id, state, ..
            }
            | Event::Expired {
                order_id, state, ..
            } => {
                let tally = tallies.entry(order_id.0).or_default();
                agree(tally, &state, false, event)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn engine_side(engine: &Engine, side: Side) -> Vec<(u64, i64, i64)> {
    engine
        .book_side(InstrumentId(0), side)
        .iter()
        .map(|order| {
            (
                order.order_id.0,
                order.price_ticks,
                order.visible_lots + order.hidden_lots,
            )
        })
        .collect()
}

fn reference_side(reference: &RefBook, side: Side) -> Vec<(u64, i64, i64)> {
    reference
        .in_priority(side)
        .iter()
        .map(|order| (order.id, order.price_ticks, order.qty_lots - order.cum_lots))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_book(ops in proptest::collection::vec(op(), 1..120)) {
        let mut engine = engine();
        let mut reference = RefBook::default();
        let mut events = Vec::new();
        let mut seq = 0;
        let mut tallies = BTreeMap::new();
        for op in &ops {
            let Some(command) = command(op, &reference) else { continue };
            seq += 1;
            events.clear();
            engine.apply(&Sequenced { seq, ts_ns: 0, command }, &mut events);
            if let Err(why) = check_states(&events, &mut tallies) {
                prop_assert!(false, "order state of command {} {:?}: {}", seq, command, why);
            }
            let mut expected = Vec::new();
            reference.apply(seq, &command, &mut expected);
            prop_assert_eq!(engine_trades(&events), expected, "trades of command {} {:?}", seq, command);
        }
        for side in [Side::Buy, Side::Sell] {
            prop_assert_eq!(engine_side(&engine, side), reference_side(&reference, side));
        }
        engine.audit();
    }
}

/// Any value a client or a journal could put in a command, extremes included.
fn wild_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 90..110i64,
        2 => -3..40i64,
        1 => Just(0i64),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => any::<i64>(),
    ]
}

fn wild_kind() -> impl Strategy<Value = OrderKind> {
    prop_oneof![
        4 => wild_i64().prop_map(|price_ticks| OrderKind::Limit { price_ticks }),
        1 => Just(OrderKind::Market),
        1 => wild_i64().prop_map(|stop_ticks| OrderKind::Stop { stop_ticks }),
        1 => (wild_i64(), wild_i64())
            .prop_map(|(stop_ticks, price_ticks)| OrderKind::StopLimit { stop_ticks, price_ticks }),
    ]
}

fn wild_tif() -> impl Strategy<Value = TimeInForce> {
    use engine::Expiry;
    prop_oneof![
        Just(TimeInForce::Day),
        Just(TimeInForce::Gtc),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok),
        any::<i64>().prop_map(|at_ns| TimeInForce::Gtd(Expiry::AtNs(at_ns))),
        any::<i32>()
            .prop_map(|days_since_epoch| TimeInForce::Gtd(Expiry::OnDate { days_since_epoch })),
    ]
}

fn wild_command() -> impl Strategy<Value = Command> {
    use engine::{MassCancelScope, TradingStatus as Status};
    let new = (
        0..3u32,
        0..4u32,
        any::<bool>(),
        wild_kind(),
        wild_i64(),
        wild_tif(),
        any::<bool>(),
        wild_i64(),
    )
        .prop_map(
            |(instrument, account, buy, kind, qty_lots, tif, post_only, display_lots)| {
                Command::New(NewOrder {
                    instrument: InstrumentId(instrument),
                    account: AccountId(account),
                    session: SessionId(account % 2),
                    side: if buy { Side::Buy } else { Side::Sell },
                    kind,
                    qty_lots,
                    tif,
                    post_only,
                    display_lots,
                })
            },
        );
    let order_id = prop_oneof![4 => 0..60u64, 1 => Just(u64::MAX)];
    let status = prop_oneof![
        Just(Status::Open),
        Just(Status::Halted),
        Just(Status::CancelOnly),
        Just(Status::PostOnly)
    ];
    prop_oneof![
        8 => new,
        2 => (order_id.clone(), 0..4u32)
            .prop_map(|(id, account)| Command::Cancel { order_id: OrderId(id), account: AccountId(account) }),
        2 => (order_id, 0..4u32, proptest::option::of(wild_i64()), wild_i64()).prop_map(|(id, account, price_ticks, qty_lots)| {
            Command::Replace(Replace { order_id: OrderId(id), account: AccountId(account), price_ticks, qty_lots })
        }),
        1 => prop_oneof![
            Just(MassCancelScope::All),
            (0..3u32).prop_map(|i| MassCancelScope::Instrument(InstrumentId(i))),
            (0..4u32).prop_map(|a| MassCancelScope::Account(AccountId(a))),
            (0..3u32).prop_map(|s| MassCancelScope::Session(SessionId(s))),
            (0..3u32, 0..3u32)
                .prop_map(|(s, i)| MassCancelScope::SessionInstrument(SessionId(s), InstrumentId(i))),
        ]
        .prop_map(Command::MassCancel),
        1 => (0..3u32, status).prop_map(|(i, status)| Command::SetStatus { instrument: InstrumentId(i), status }),
        1 => any::<i64>().prop_map(|now_ns| Command::Time { now_ns }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever arrives, the engine answers with events and keeps every invariant (it audits after each command
    /// here); it never panics.
    #[test]
    fn any_command_sequence_keeps_the_invariants(
        commands in proptest::collection::vec(wild_command(), 1..150),
        ts_step_ns in 0..10_000_000_000_000i64,
    ) {
        let mut engine = engine();
        let mut events = Vec::new();
        for (index, command) in commands.into_iter().enumerate() {
            events.clear();
            let seq = index as u64 + 1;
            engine.apply(&Sequenced { seq, ts_ns: seq as i64 * ts_step_ns, command }, &mut events);
            let may_be_silent =
                matches!(command, Command::MassCancel(_) | Command::Time { .. } | Command::SetStatus { .. });
            prop_assert!(!events.is_empty() || may_be_silent, "no event for {:?}", command);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any command with any origin up to the limit survives the journal's record encoding, and the payload is
    /// refused if a byte is cut off or added.
    #[test]
    fn records_round_trip_with_any_origin(
        command in wild_command(),
        seq in any::<u64>(),
        ts_ns in any::<i64>(),
        origin in proptest::collection::vec(any::<u8>(), 0..=journal::record::ORIGIN_BYTES_MAX),
    ) {
        use journal::record;
        let record = Sequenced { seq, ts_ns, command };
        let mut bytes = Vec::new();
        record::encode(&record, &origin, &mut bytes);
        prop_assert!(bytes.len() <= record::RECORD_PAYLOAD_BYTES_MAX);
        prop_assert_eq!(record::decode(&bytes), Ok((record, &origin[..])));
        prop_assert!(record::decode(&bytes[..bytes.len() - 1]).is_err());
        bytes.push(0);
        prop_assert!(record::decode(&bytes).is_err());
    }
}
