//! Invariants, checked in release builds. The cheap ones run after every command; the full audit walks everything
//! and runs every `AUDIT_INTERVAL_COMMANDS` commands (or every command when a test asks).

use std::collections::BTreeMap;

use super::Engine;
use super::accounts::{Funding, Reservation};
use super::book::{Ladder, NIL};
use super::types::{Asset, Command, Event, InstrumentId, OrderId, OrderState, OrderStatus, Side};

impl Engine {
    /// After every command: the books it touched are not crossed, its events are sane, and a new order's quantity
    /// is all accounted for (traded, canceled, or live).
    /// `new_live_lots`: for an accepted new order, the lots the handler reports still live (resting or pending).
    pub(super) fn check_after_command(
        &self,
        command: &Command,
        events: &[Event],
        new_live_lots: Option<i64>,
    ) {
        let mut accounted_lots = 0;
        // Each book a command touched is checked once (a command touches one book, bar mass cancel and time).
        let mut checked = None;
        for event in events {
            match *event {
                Event::Level {
                    instrument,
                    qty_lots,
                    ..
                } => {
                    assert!(qty_lots >= 0, "negative level quantity in {event}");
                    if checked != Some(instrument) {
                        checked = Some(instrument);
                        let book = &self.core.books[instrument.0 as usize];
                        assert!(
                            !book.is_crossed(),
                            "book {} crossed after {command:?}",
                            instrument.0
                        );
                    }
                }
                Event::Trade {
                    qty_lots,
                    price_ticks,
                    buy,
                    sell,
                    ..
                } => {
                    assert!(qty_lots > 0 && price_ticks > 0, "empty trade {event}");
                    assert!(
                        buy.leaves_lots >= 0 && sell.leaves_lots >= 0,
                        "negative leaves in {event}"
                    );
                    assert!(
                        buy.cum_lots >= qty_lots && sell.cum_lots >= qty_lots,
                        "cum below fill in {event}"
                    );
                    check_state(&buy.state(), event);
                    check_state(&sell.state(), event);
                    if buy.order_id.0 == self.last_seq || sell.order_id.0 == self.last_seq {
                        accounted_lots += qty_lots;
                    }
                }
                Event::Canceled {
                    order_id,
                    canceled_lots,
                    state,
                    ..
                } => {
                    check_state(&state, event);
                    assert!(canceled_lots >= 0, "negative cancel in {event}");
                    if order_id == OrderId(self.last_seq) {
                        accounted_lots += canceled_lots;
                    }
                }
                Event::Accepted { state, .. }
                | Event::Rejected { state, .. }
                | Event::Replaced { state, .. }
                | Event::Expired { state, .. }
                | Event::Triggered { state, .. }
                | Event::Replenished { state, .. } => check_state(&state, event),
                _ => {}
            }
        }
        let accepted = matches!(events.first(), Some(Event::Accepted { order_id, .. }) if order_id.0 == self.last_seq);
        assert_eq!(
            accepted,
            new_live_lots.is_some(),
            "accepted event and handler disagree after {command:?}"
        );
        if let (Command::New(order), Some(live_lots)) = (command, new_live_lots) {
            assert_eq!(
                accounted_lots + live_lots,
                order.qty_lots,
                "order {} quantity not conserved: traded+canceled {accounted_lots}, live {live_lots}",
                self.last_seq
            );
        }
    }

    /// Walks every book, order, index and account and panics on the first broken invariant.
    pub fn audit(&self) {
        let mut linked = 0usize;
        for (index, book) in self.core.books.iter().enumerate() {
            assert!(!book.is_crossed(), "book {index} crossed");
            linked += self.audit_ladder(InstrumentId(index as u32), &book.bids, Side::Buy);
            linked += self.audit_ladder(InstrumentId(index as u32), &book.asks, Side::Sell);
            for (side, stops) in [(Side::Buy, &book.buy_stops), (Side::Sell, &book.sell_stops)] {
                for &(stop_ticks, id) in stops {
                    let pending = self.core.pending.get(&id).expect("indexed stop is pending");
                    assert_eq!(
                        pending.kind.stop_ticks(),
                        Some(stop_ticks),
                        "stop {} indexed at wrong price",
                        id.0
                    );
                    let slot = self
                        .core
                        .pool
                        .slot_of(id)
                        .expect("pending stop is in the pool");
                    assert_eq!(
                        self.core.pool.get(slot).side,
                        side,
                        "stop {} on wrong side",
                        id.0
                    );
                }
            }
        }
        let stops: usize = self
            .core
            .books
            .iter()
            .map(|book| book.buy_stops.len() + book.sell_stops.len())
            .sum();
        assert_eq!(
            stops,
            self.core.pending.len(),
            "stop index and pending stops disagree"
        );
        assert_eq!(
            linked + self.core.pending.len(),
            self.core.pool.len(),
            "pool holds orders outside any book"
        );
        self.audit_orders();
    }

    /// Levels strictly sorted, FIFO links consistent, level totals equal to their orders' visible quantity.
    fn audit_ladder(&self, instrument: InstrumentId, ladder: &Ladder, side: Side) -> usize {
        let mut linked = 0;
        for pair in ladder.levels.windows(2) {
            let better = match side {
                Side::Buy => pair[1].price_ticks > pair[0].price_ticks,
                Side::Sell => pair[1].price_ticks < pair[0].price_ticks,
            };
            assert!(better, "levels of book {} out of order", instrument.0);
        }
        for level in &ladder.levels {
            let (mut slot, mut prev, mut orders, mut total_lots) = (level.head, NIL, 0u32, 0i64);
            while slot != NIL {
                let order = self.core.pool.get(slot);
                assert_eq!(order.prev, prev, "broken back link at order {}", order.id.0);
                assert_eq!(
                    (order.instrument, order.side),
                    (instrument, side),
                    "order {} misfiled",
                    order.id.0
                );
                assert_eq!(
                    order.price_ticks, level.price_ticks,
                    "order {} at wrong level",
                    order.id.0
                );
                assert!(
                    order.visible_lots > 0 && order.hidden_lots >= 0,
                    "order {} has no visible qty",
                    order.id.0
                );
                assert!(
                    !self.core.pending.contains_key(&order.id),
                    "order {} both pending and resting",
                    order.id.0
                );
                orders += 1;
                total_lots += order.visible_lots;
                prev = slot;
                slot = order.next;
            }
            assert_eq!(
                level.tail, prev,
                "level {} tail is not its last order",
                level.price_ticks
            );
            assert_eq!(
                (level.orders, level.total_lots),
                (orders, total_lots),
                "level {} totals",
                level.price_ticks
            );
            assert!(orders > 0, "empty level {} kept", level.price_ticks);
            linked += orders as usize;
        }
        linked
    }

    /// Every order: CumQty + LeavesQty = OrderQty; expiry index exact; quantity ledger balanced; each account's
    /// reservations and open-order count equal the sum over its live orders.
    fn audit_orders(&self) {
        let core = &self.core;
        let mut held: BTreeMap<(u32, Asset), i64> = BTreeMap::new();
        let mut open: BTreeMap<u32, u32> = BTreeMap::new();
        let (mut live_lots, mut expiring) = (0i64, 0usize);
        for slot in core.pool.live_slots() {
            let order = core.pool.get(slot);
            assert_eq!(
                order.cum_lots + order.leaves_lots(),
                order.qty_lots,
                "order {} cum+leaves",
                order.id.0
            );
            assert!(
                order.cum_lots >= 0 && order.leaves_lots() > 0,
                "order {} quantities",
                order.id.0
            );
            assert!(
                (order.cum_lots == 0) == (order.notional.get() == 0)
                    && order.notional.get() >= i128::from(order.cum_lots),
                "order {} notional {} against cum {}",
                order.id.0,
                order.notional.get(),
                order.cum_lots
            );
            live_lots += order.leaves_lots();
            if order.expire_ns != i64::MAX {
                assert!(
                    core.expiries.contains(&(order.expire_ns, order.id)),
                    "order {} not in expiries",
                    order.id.0
                );
                expiring += 1;
            }
            let spec = &self.instruments[order.instrument.0 as usize];
            let reservation = Reservation {
                instrument: order.instrument,
                currency: spec.currency,
                side: order.side,
                reserve_ticks: order.reserve_ticks,
            };
            let (asset, amount) =
                core.accounts
                    .held_by(order.account_slot, spec, reservation, order.leaves_lots());
            *held.entry((order.account_slot, asset)).or_default() += amount;
            *open.entry(order.account_slot).or_default() += 1;
        }
        assert_eq!(
            expiring,
            core.expiries.len(),
            "expiry index holds dead orders"
        );
        assert_eq!(
            core.lots_accepted,
            2 * core.lots_traded + core.lots_canceled + live_lots,
            "quantity created or lost: accepted {} traded {} canceled {} live {live_lots}",
            core.lots_accepted,
            core.lots_traded,
            core.lots_canceled
        );
        self.audit_accounts(&held, &open);
    }

    fn audit_accounts(&self, held: &BTreeMap<(u32, Asset), i64>, open: &BTreeMap<u32, u32>) {
        for (slot, state) in self.core.accounts.states().iter().enumerate() {
            let slot = slot as u32;
            assert_eq!(
                state.open_orders,
                open.get(&slot).copied().unwrap_or(0),
                "account {} open orders",
                state.id.0
            );
            match state.profile.funding {
                Funding::Credit { .. } => {
                    for (currency, &reserved) in state.credit_open_cash.iter().enumerate() {
                        let expected = held
                            .get(&(slot, Asset::Cash(currency as u32)))
                            .copied()
                            .unwrap_or(0);
                        assert_eq!(
                            reserved, expected,
                            "account {} credit reservation",
                            state.id.0
                        );
                    }
                }
                Funding::Prefunded { .. } => {
                    for (asset, balance) in &state.balances {
                        let expected = held.get(&(slot, *asset)).copied().unwrap_or(0);
                        assert_eq!(
                            balance.reserved, expected,
                            "account {} reserved {asset}",
                            state.id.0
                        );
                        assert!(
                            balance.total >= balance.reserved,
                            "account {} overdrawn in {asset}",
                            state.id.0
                        );
                    }
                }
            }
        }
    }
}

/// An event's order state agrees with itself: quantities not negative, AvgPx's sum present exactly when something
/// executed (prices are positive), nothing left once the order is done, something left while it lives, filled
/// only with something executed. One branch on the way through: it runs for every event of every command.
#[inline]
fn check_state(state: &OrderState, event: &Event) {
    let (cum, leaves) = (state.cum_lots, state.leaves_lots);
    let quantities = cum >= 0
        && leaves >= 0
        && (cum == 0) == (state.notional.get() == 0)
        && state.notional.get() >= i128::from(cum);
    let status = match state.status {
        OrderStatus::New => cum == 0 && leaves > 0,
        OrderStatus::PartiallyFilled => cum > 0 && leaves > 0,
        OrderStatus::Filled => cum > 0 && leaves == 0,
        OrderStatus::Canceled | OrderStatus::Rejected | OrderStatus::Expired => leaves == 0,
    };
    if !(quantities && status) {
        state_broken(state, event);
    }
}

#[cold]
#[inline(never)]
fn state_broken(state: &OrderState, event: &Event) -> ! {
    panic!("order state {state:?} does not fit its quantities in {event}")
}
