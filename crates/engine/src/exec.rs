//! Execution of one aggressive order against a book: the sweep in price-time priority, self-trade prevention,
//! icebergs refilling from their reserve, settlement of both parties, then rest or cancel of what is left.

use super::Core;
use super::accounts::{Reservation, StpMode};
use super::book::{Level, NIL, Order, crosses, unlink_in_level};
use super::instrument::InstrumentSpec;
use super::types::{
    AccountId, CancelReason, Event, Fill, InstrumentId, MatchId, Notional, OrderId, OrderState,
    OrderStatus, Seq, SessionId, Side,
};

/// An order while it takes liquidity. It enters the pool only if it comes to rest.
#[derive(Clone, Debug)]
pub(crate) struct Taker {
    pub id: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub account: AccountId,
    pub account_slot: u32,
    pub session: SessionId,
    pub stp_party: u64,
    pub stp_mode: StpMode,
    /// The worst price it may trade at: its limit, or the collar for a market order.
    pub bound_ticks: i64,
    /// Whether an unfilled rest goes into the book (a limit order that is not IOC or FOK).
    pub rests: bool,
    /// Fill or kill: all of it at once, or nothing. (Its TimeInForce is not kept: this is all the sweep needs, and
    /// a taker that fits in 120 bytes is moved without a call to memcpy.)
    pub fill_or_kill: bool,
    pub qty_lots: i64,
    pub cum_lots: i64,
    /// The sum of price_ticks x qty_lots over its fills (see `OrderState`).
    pub notional: Notional,
    pub display_lots: i64,
    pub expire_ns: i64,
    pub reserve_ticks: i64,
    pub currency: u32,
    /// Fills not yet settled for the taker: it settles once per sweep, the makers once per fill.
    pub unsettled_lots: i64,
    pub unsettled_cash: i64,
}

impl Taker {
    pub fn remaining_lots(&self) -> i64 {
        self.qty_lots - self.cum_lots
    }

    pub fn reservation(&self) -> Reservation {
        Reservation {
            instrument: self.instrument,
            currency: self.currency,
            side: self.side,
            reserve_ticks: self.reserve_ticks,
        }
    }

    fn fill(&self) -> Fill {
        Fill {
            order_id: self.id,
            account: self.account,
            cum_lots: self.cum_lots,
            leaves_lots: self.remaining_lots(),
            notional: self.notional,
        }
    }

    /// Its state while it takes liquidity (new or partly filled).
    pub fn state(&self) -> OrderState {
        OrderState {
            status: OrderStatus::live(self.cum_lots),
            cum_lots: self.cum_lots,
            leaves_lots: self.remaining_lots(),
            notional: self.notional,
        }
    }
}

/// Why a sweep stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SweepEnd {
    /// Filled, or no more prices within its bound.
    Done,
    /// Self-trade prevention canceled the incoming order.
    SelfTrade,
}

/// Per-command matching state: the sequence number that names trades and how many trades it has made.
pub(crate) struct MatchCx<'a> {
    pub seq: Seq,
    pub trades: u32,
    pub spec: &'a InstrumentSpec,
    /// The index of `spec` in the engine's instrument list.
    pub index: usize,
    pub out: &'a mut Vec<Event>,
}

/// Runs `taker` against the book, then rests or cancels its remainder. Returns the lots left resting.
pub(crate) fn execute(core: &mut Core, cx: &mut MatchCx<'_>, mut taker: Taker) -> i64 {
    if taker.fill_or_kill {
        if let Err(reason) = fok_fillable(core, &taker) {
            finish_unfilled(core, cx, &taker, reason);
            return 0;
        }
    }
    let end = sweep(core, cx, &mut taker);
    settle_taker(core, cx, &mut taker);
    let remaining_lots = taker.remaining_lots();
    if remaining_lots == 0 {
        core.accounts.close_order(taker.account_slot);
    } else if end == SweepEnd::SelfTrade {
        finish_unfilled(core, cx, &taker, CancelReason::SelfTradeIncoming);
    } else if taker.rests {
        rest(core, cx, &taker);
        return remaining_lots;
    } else {
        let reason = if taker.fill_or_kill {
            CancelReason::FillOrKill
        } else {
            CancelReason::Unfilled
        };
        finish_unfilled(core, cx, &taker, reason);
    }
    0
}

/// Settles the taker's fills of the sweep in one go.
fn settle_taker(core: &mut Core, cx: &mut MatchCx<'_>, taker: &mut Taker) {
    if taker.unsettled_lots == 0 {
        return;
    }
    let (value, lots, reservation) = (
        taker.unsettled_cash,
        taker.unsettled_lots,
        taker.reservation(),
    );
    core.accounts.settle(
        taker.account_slot,
        cx.spec,
        reservation,
        value,
        lots,
        cx.out,
    );
    (taker.unsettled_lots, taker.unsettled_cash) = (0, 0);
}

/// Cancels what is left of a taker that will not rest.
fn finish_unfilled(core: &mut Core, cx: &mut MatchCx<'_>, taker: &Taker, reason: CancelReason) {
    let lots = taker.remaining_lots();
    let state = OrderState {
        status: OrderStatus::Canceled,
        leaves_lots: 0,
        ..taker.state()
    };
    cx.out.push(Event::Canceled {
        order_id: taker.id,
        canceled_lots: lots,
        reason,
        state,
    });
    let (spec, reservation) = (cx.spec, taker.reservation());
    core.accounts
        .release(taker.account_slot, spec, reservation, lots, cx.out);
    core.accounts.close_order(taker.account_slot);
    core.lots_canceled += lots;
}

/// Puts the remainder of `taker` into the book at its limit price.
fn rest(core: &mut Core, cx: &mut MatchCx<'_>, taker: &Taker) {
    let leaves_lots = taker.remaining_lots();
    let visible_lots = if taker.display_lots > 0 {
        taker.display_lots.min(leaves_lots)
    } else {
        leaves_lots
    };
    let order = Order {
        id: taker.id,
        instrument: taker.instrument,
        side: taker.side,
        price_ticks: taker.bound_ticks,
        visible_lots,
        hidden_lots: leaves_lots - visible_lots,
        display_lots: taker.display_lots,
        qty_lots: taker.qty_lots,
        cum_lots: taker.cum_lots,
        notional: taker.notional,
        expire_ns: taker.expire_ns,
        reserve_ticks: taker.reserve_ticks,
        account: taker.account,
        account_slot: taker.account_slot,
        session: taker.session,
        stp_party: taker.stp_party,
        prev: NIL,
        next: NIL,
    };
    let slot = core.pool.insert(order);
    let book = &mut core.books[taker.instrument.0 as usize];
    let total_lots = book.ladder_mut(taker.side).push_back(&mut core.pool, slot);
    if taker.expire_ns != i64::MAX {
        core.expiries.insert((taker.expire_ns, taker.id));
    }
    cx.out.push(Event::Level {
        instrument: taker.instrument,
        side: taker.side,
        price_ticks: taker.bound_ticks,
        qty_lots: total_lots,
    });
}

/// Whether a FOK order can fill in full now, walking the book as the sweep would.
fn fok_fillable(core: &Core, taker: &Taker) -> Result<(), CancelReason> {
    let ladder = core.books[taker.instrument.0 as usize].ladder(taker.side.opposite());
    let mut available_lots = 0;
    for level in ladder.levels.iter().rev() {
        if !crosses(taker.side, taker.bound_ticks, level.price_ticks) {
            break;
        }
        let mut slot = level.head;
        while slot != NIL {
            let order = core.pool.get(slot);
            if order.stp_party == taker.stp_party {
                if taker.stp_mode != StpMode::CancelResting {
                    return Err(CancelReason::SelfTradeIncoming);
                }
            } else {
                available_lots += order.leaves_lots();
                if available_lots >= taker.remaining_lots() {
                    return Ok(());
                }
            }
            slot = order.next;
        }
    }
    Err(CancelReason::FillOrKill)
}

/// Matches `taker` level by level from the best opposite price while prices are within its bound.
fn sweep(core: &mut Core, cx: &mut MatchCx<'_>, taker: &mut Taker) -> SweepEnd {
    let opposite = taker.side.opposite();
    loop {
        if taker.remaining_lots() == 0 {
            return SweepEnd::Done;
        }
        let book = &core.books[taker.instrument.0 as usize];
        let Some(price_ticks) = book.ladder(opposite).best_price_ticks() else {
            return SweepEnd::Done;
        };
        if !crosses(taker.side, taker.bound_ticks, price_ticks) {
            return SweepEnd::Done;
        }
        let end = match_best_level(core, cx, taker);
        let ladder = core.books[taker.instrument.0 as usize].ladder_mut(opposite);
        let level = ladder
            .levels
            .last()
            .expect("the swept level is still there");
        let total_lots = level.total_lots;
        if level.orders == 0 {
            ladder.levels.pop();
        }
        cx.out.push(Event::Level {
            instrument: taker.instrument,
            side: opposite,
            price_ticks,
            qty_lots: total_lots,
        });
        if end == SweepEnd::SelfTrade {
            return end;
        }
    }
}

/// Matches `taker` against the FIFO of the best opposite level until one of them is done. Leaves an emptied level
/// in place for the caller to report and remove.
fn match_best_level(core: &mut Core, cx: &mut MatchCx<'_>, taker: &mut Taker) -> SweepEnd {
    let (index, side) = (taker.instrument.0 as usize, taker.side.opposite());
    while taker.remaining_lots() > 0 {
        let slot = best_level(core, index, side).head;
        if slot == NIL {
            break;
        }
        let maker = core.pool.get(slot);
        if maker.stp_party == taker.stp_party {
            if taker.stp_mode != StpMode::CancelIncoming {
                detach(core, index, side, slot);
                remove_maker(core, cx, slot, CancelReason::SelfTradeResting);
            }
            if taker.stp_mode == StpMode::CancelResting {
                continue;
            }
            return SweepEnd::SelfTrade;
        }
        let qty_lots = taker.remaining_lots().min(maker.visible_lots);
        let price_ticks = maker.price_ticks;
        best_level(core, index, side).total_lots -= qty_lots;
        taker.cum_lots += qty_lots;
        taker.notional.add(price_ticks, qty_lots);
        let maker = core.pool.get_mut(slot);
        maker.visible_lots -= qty_lots;
        maker.cum_lots += qty_lots;
        maker.notional.add(price_ticks, qty_lots);
        trade(core, cx, taker, slot, price_ticks, qty_lots);
        let maker = core.pool.get(slot);
        if maker.visible_lots > 0 {
            continue;
        }
        let hidden_lots = maker.hidden_lots;
        detach(core, index, side, slot);
        if hidden_lots > 0 {
            replenish(core, cx, index, side, slot);
        } else {
            retire_filled(core, slot);
        }
    }
    SweepEnd::Done
}

fn best_level(core: &mut Core, index: usize, side: Side) -> &mut Level {
    core.books[index]
        .ladder_mut(side)
        .levels
        .last_mut()
        .expect("the level being swept is the best one")
}

/// Unlinks `slot` from the best level of `side`, taking its visible quantity off the level's total.
fn detach(core: &mut Core, index: usize, side: Side, slot: u32) {
    let Core { books, pool, .. } = core;
    let level = books[index]
        .ladder_mut(side)
        .levels
        .last_mut()
        .expect("the level being swept is the best one");
    let order = pool.get(slot);
    let (prev, next, visible_lots) = (order.prev, order.next, order.visible_lots);
    unlink_in_level(level, pool, prev, next);
    level.orders -= 1;
    level.total_lots -= visible_lots;
}

/// Links `slot` at the back of the best level of `side`, adding its visible quantity to the level's total.
fn attach_back(core: &mut Core, index: usize, side: Side, slot: u32) {
    let Core { books, pool, .. } = core;
    let level = books[index]
        .ladder_mut(side)
        .levels
        .last_mut()
        .expect("the level being swept is the best one");
    let old_tail = level.tail;
    let order = pool.get_mut(slot);
    order.prev = old_tail;
    order.next = NIL;
    let visible_lots = order.visible_lots;
    if old_tail == NIL {
        level.head = slot;
    } else {
        pool.get_mut(old_tail).next = slot;
    }
    level.tail = slot;
    level.orders += 1;
    level.total_lots += visible_lots;
}

/// Records one trade: both parties settle, the event names the buyer and the seller.
fn trade(
    core: &mut Core,
    cx: &mut MatchCx<'_>,
    taker: &mut Taker,
    slot: u32,
    price_ticks: i64,
    qty_lots: i64,
) {
    let maker = core.pool.get(slot);
    let maker_reservation = Reservation {
        instrument: maker.instrument,
        currency: taker.currency,
        side: maker.side,
        reserve_ticks: maker.reserve_ticks,
    };
    let maker_slot = maker.account_slot;
    let maker_fill = Fill {
        order_id: maker.id,
        account: maker.account,
        cum_lots: maker.cum_lots,
        leaves_lots: maker.leaves_lots(),
        notional: maker.notional,
    };
    let (buy, sell) = match taker.side {
        Side::Buy => (taker.fill(), maker_fill),
        Side::Sell => (maker_fill, taker.fill()),
    };
    cx.trades += 1;
    core.lots_traded += qty_lots;
    core.books[taker.instrument.0 as usize].last_trade_ticks = Some(price_ticks);
    cx.out.push(Event::Trade {
        match_id: MatchId {
            seq: cx.seq,
            n: cx.trades,
        },
        instrument: taker.instrument,
        price_ticks,
        qty_lots,
        aggressor: taker.side,
        buy,
        sell,
    });
    let value = cx.spec.notional_cash(price_ticks, qty_lots);
    core.accounts.settle(
        maker_slot,
        cx.spec,
        maker_reservation,
        value,
        qty_lots,
        cx.out,
    );
    taker.unsettled_lots += qty_lots;
    taker.unsettled_cash += value;
}

/// Refills an iceberg's visible slice from its reserve and sends it to the back of its level (already detached).
fn replenish(core: &mut Core, cx: &mut MatchCx<'_>, index: usize, side: Side, slot: u32) {
    let order = core.pool.get_mut(slot);
    let visible_lots = order.display_lots.min(order.hidden_lots);
    order.visible_lots = visible_lots;
    order.hidden_lots -= visible_lots;
    let (order_id, hidden_lots, state) = (order.id, order.hidden_lots, order.state());
    attach_back(core, index, side, slot);
    cx.out.push(Event::Replenished {
        order_id,
        visible_lots,
        hidden_lots,
        state,
    });
}

/// A maker that is fully filled leaves the pool (already unlinked from its level).
fn retire_filled(core: &mut Core, slot: u32) {
    let order = core.pool.remove(slot);
    core.accounts.close_order(order.account_slot);
    if order.expire_ns != i64::MAX {
        core.expiries.remove(&(order.expire_ns, order.id));
    }
}

/// A maker canceled during the sweep (already unlinked from its level): release, report, forget.
fn remove_maker(core: &mut Core, cx: &mut MatchCx<'_>, slot: u32, reason: CancelReason) {
    let order = core.pool.remove(slot);
    let lots = order.leaves_lots();
    let reservation = Reservation {
        instrument: order.instrument,
        currency: cx.spec.currency,
        side: order.side,
        reserve_ticks: order.reserve_ticks,
    };
    cx.out.push(Event::Canceled {
        order_id: order.id,
        canceled_lots: lots,
        reason,
        state: order.closed(OrderStatus::Canceled),
    });
    core.accounts
        .release(order.account_slot, cx.spec, reservation, lots, cx.out);
    core.accounts.close_order(order.account_slot);
    if order.expire_ns != i64::MAX {
        core.expiries.remove(&(order.expire_ns, order.id));
    }
    core.lots_canceled += lots;
}
