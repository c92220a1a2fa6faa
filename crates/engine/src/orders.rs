//! The command handlers: the order manager's checks in front of the book, then new orders, stops, cancels,
//! replaces, mass cancels, trading status and time.

use super::accounts::{Reservation, StpMode};
use super::book::{Book, LEVELS_PER_SIDE_MAX, NIL, Order};
use super::exec::{MatchCx, Taker, execute};
use super::instrument::{InstrumentSpec, TICKS_LOTS_MAX};
use super::types::*;
use super::{Engine, PendingStop};

/// What the checks decided for an admissible new order.
#[derive(Clone, Copy, Debug)]
struct Admission {
    reserve_ticks: i64,
    expire_ns: i64,
}

/// Status rules for a new order.
fn check_status(status: TradingStatus, order: &NewOrder) -> Result<(), RejectReason> {
    match status {
        TradingStatus::Open => Ok(()),
        TradingStatus::Halted => Err(RejectReason::Halted),
        TradingStatus::CancelOnly => Err(RejectReason::CancelOnly),
        TradingStatus::PostOnly => {
            let resting_limit = matches!(order.kind, OrderKind::Limit { .. })
                && !matches!(order.tif, TimeInForce::Ioc | TimeInForce::Fok);
            if resting_limit {
                Ok(())
            } else {
                Err(RejectReason::PostOnlyStatus)
            }
        }
    }
}

fn check_qty(spec: &InstrumentSpec, qty_lots: i64) -> Result<(), RejectReason> {
    if qty_lots <= 0 {
        Err(RejectReason::QtyNotPositive)
    } else if qty_lots < spec.min_qty_lots {
        Err(RejectReason::QtyBelowMin)
    } else if qty_lots > spec.max_qty_lots || qty_lots > TICKS_LOTS_MAX {
        Err(RejectReason::QtyAboveMax)
    } else {
        Ok(())
    }
}

/// A limit or stop price must be positive and inside the collar around the reference price.
fn check_price(spec: &InstrumentSpec, book: &Book, price_ticks: i64) -> Result<(), RejectReason> {
    if price_ticks <= 0 {
        return Err(RejectReason::PriceNotPositive);
    }
    let (low_ticks, high_ticks) = book.collar_ticks(spec);
    if price_ticks < low_ticks || price_ticks > high_ticks {
        return Err(RejectReason::PriceOutsideCollar);
    }
    Ok(())
}

/// The combinations of order type, TIF, post-only and iceberg that the venue supports.
fn check_shape(order: &NewOrder) -> Result<(), RejectReason> {
    let immediate = matches!(order.tif, TimeInForce::Ioc | TimeInForce::Fok);
    let is_stop = order.kind.stop_ticks().is_some();
    if order.post_only && is_stop {
        return Err(RejectReason::StopNotAllowed);
    }
    if order.post_only && (!matches!(order.kind, OrderKind::Limit { .. }) || immediate) {
        return Err(RejectReason::PostOnlyNotLimit);
    }
    if order.display_lots != 0 {
        if order.display_lots < 0 || order.display_lots > order.qty_lots {
            return Err(RejectReason::DisplayInvalid);
        }
        if order.kind.limit_ticks().is_none() || immediate {
            return Err(RejectReason::IcebergNotLimit);
        }
    }
    Ok(())
}

/// Day orders expire at the next close; GTD at their time or at the close of their date.
fn expiry_ns(spec: &InstrumentSpec, tif: TimeInForce, ts_ns: i64) -> Result<i64, RejectReason> {
    let expire_ns = match tif {
        TimeInForce::Day => spec.next_close_ns(ts_ns),
        TimeInForce::Gtd(Expiry::AtNs(at_ns)) => at_ns,
        TimeInForce::Gtd(Expiry::OnDate { days_since_epoch }) => {
            spec.close_on_day_ns(days_since_epoch)
        }
        TimeInForce::Gtc | TimeInForce::Ioc | TimeInForce::Fok => return Ok(i64::MAX),
    };
    if expire_ns <= ts_ns {
        Err(RejectReason::ExpiredOnArrival)
    } else {
        Ok(expire_ns)
    }
}

/// Whether a limit order at `price_ticks` would trade against the book now.
fn would_take(book: &Book, side: Side, price_ticks: i64) -> bool {
    match book.ladder(side.opposite()).best_price_ticks() {
        Some(best_ticks) => super::book::crosses(side, price_ticks, best_ticks),
        None => false,
    }
}

/// Every stateless and book-level check of a new order, in the order a client would want them reported.
fn admit(
    spec: &InstrumentSpec,
    book: &Book,
    order: &NewOrder,
    ts_ns: i64,
) -> Result<Admission, RejectReason> {
    check_status(book.status, order)?;
    check_qty(spec, order.qty_lots)?;
    check_shape(order)?;
    let limit_ticks = order.kind.limit_ticks();
    if let Some(price_ticks) = limit_ticks {
        check_price(spec, book, price_ticks)?;
    }
    if let Some(stop_ticks) = order.kind.stop_ticks() {
        check_price(spec, book, stop_ticks)?;
    }
    let value_ticks = limit_ticks.unwrap_or_else(|| book.reference_ticks(spec));
    if spec.notional_cash(value_ticks, order.qty_lots) > spec.max_notional_cash {
        return Err(RejectReason::NotionalAboveMax);
    }
    let expire_ns = expiry_ns(spec, order.tif, ts_ns)?;
    let post_only = order.post_only || book.status == TradingStatus::PostOnly;
    if let (true, OrderKind::Limit { price_ticks }) = (post_only, order.kind) {
        if would_take(book, order.side, price_ticks) {
            return Err(RejectReason::PostOnlyWouldTake);
        }
    }
    if book.bids.levels.len().max(book.asks.levels.len()) >= LEVELS_PER_SIDE_MAX {
        return Err(RejectReason::BookFull);
    }
    let reserve_ticks = limit_ticks.unwrap_or_else(|| book.collar_ticks(spec).1);
    Ok(Admission {
        reserve_ticks,
        expire_ns,
    })
}

/// Whether a stop at `stop_ticks` is triggered by a last trade at `last_ticks`.
fn stop_triggered(side: Side, stop_ticks: i64, last_ticks: Option<i64>) -> bool {
    match (side, last_ticks) {
        (Side::Buy, Some(last_ticks)) => last_ticks >= stop_ticks,
        (Side::Sell, Some(last_ticks)) => last_ticks <= stop_ticks,
        (_, None) => false,
    }
}

impl Engine {
    /// Returns the lots of the new order still live after the command (resting or waiting as a stop), if accepted.
    pub(super) fn on_new(
        &mut self,
        seq: Seq,
        ts_ns: i64,
        order: &NewOrder,
        out: &mut Vec<Event>,
    ) -> Option<i64> {
        let order_id = OrderId(seq);
        let Some(spec) = self.instruments.get(order.instrument.0 as usize) else {
            out.push(Event::Rejected {
                order_id,
                reason: RejectReason::UnknownInstrument,
                state: OrderState::unfilled(OrderStatus::Rejected, 0),
            });
            return None;
        };
        let admitted = admit(
            spec,
            &self.core.books[order.instrument.0 as usize],
            order,
            ts_ns,
        )
        .and_then(|admission| {
            if self.core.pool.is_full() {
                Err(RejectReason::BookFull)
            } else {
                Ok(admission)
            }
        })
        .and_then(|admission| {
            self.core
                .accounts
                .slot_for(order.account)
                .map(|slot| (admission, slot))
        });
        let (admission, account_slot) = match admitted {
            Ok(admitted) => admitted,
            Err(reason) => {
                out.push(Event::Rejected {
                    order_id,
                    reason,
                    state: OrderState::unfilled(OrderStatus::Rejected, 0),
                });
                return None;
            }
        };
        let mark = out.len();
        out.push(Event::Accepted {
            order_id,
            instrument: order.instrument,
            side: order.side,
            kind: order.kind,
            qty_lots: order.qty_lots,
            state: OrderState::unfilled(OrderStatus::New, order.qty_lots),
        });
        let reservation = Reservation {
            instrument: order.instrument,
            currency: spec.currency,
            side: order.side,
            reserve_ticks: admission.reserve_ticks,
        };
        if let Err(reason) =
            self.core
                .accounts
                .admit(account_slot, spec, reservation, order.qty_lots, out)
        {
            out.truncate(mark);
            out.push(Event::Rejected {
                order_id,
                reason,
                state: OrderState::unfilled(OrderStatus::Rejected, 0),
            });
            return None;
        }
        self.core.lots_accepted += order.qty_lots;
        let taker = self.taker_for(order_id, order, admission, account_slot);
        let index = order.instrument.0 as usize;
        let mut cx = MatchCx {
            seq,
            trades: 0,
            spec: &self.instruments[index],
            index,
            out,
        };
        let book = &self.core.books[order.instrument.0 as usize];
        let live_lots = match order.kind.stop_ticks() {
            Some(stop_ticks) if !stop_triggered(order.side, stop_ticks, book.last_trade_ticks) => {
                park_stop(&mut self.core, &taker, order, account_slot);
                order.qty_lots
            }
            Some(_) => {
                cx.out.push(Event::Triggered {
                    order_id,
                    state: OrderState::unfilled(OrderStatus::New, order.qty_lots),
                });
                execute(&mut self.core, &mut cx, taker)
            }
            None => execute(&mut self.core, &mut cx, taker),
        };
        if cx.trades == 0 {
            return Some(live_lots);
        }
        trigger_stops(&mut self.core, &mut cx);
        // Triggered stops may have traded against the order that just came to rest.
        let live_lots = match (live_lots, self.core.pool.slot_of(order_id)) {
            (0, _) | (_, None) => 0,
            (_, Some(slot)) => self.core.pool.get(slot).leaves_lots(),
        };
        Some(live_lots)
    }

    fn taker_for(
        &self,
        order_id: OrderId,
        order: &NewOrder,
        admission: Admission,
        account_slot: u32,
    ) -> Taker {
        let spec = &self.instruments[order.instrument.0 as usize];
        let account = self.core.accounts.get(account_slot);
        let bound_ticks = order.kind.limit_ticks().unwrap_or(match order.side {
            Side::Buy => admission.reserve_ticks,
            Side::Sell => {
                self.core.books[order.instrument.0 as usize]
                    .collar_ticks(spec)
                    .0
            }
        });
        Taker {
            id: order_id,
            instrument: order.instrument,
            side: order.side,
            account: order.account,
            account_slot,
            session: order.session,
            stp_party: account.stp_party(),
            stp_mode: account.profile.stp_mode,
            bound_ticks,
            rests: order.kind.limit_ticks().is_some()
                && !matches!(order.tif, TimeInForce::Ioc | TimeInForce::Fok),
            fill_or_kill: matches!(order.tif, TimeInForce::Fok),
            qty_lots: order.qty_lots,
            cum_lots: 0,
            notional: Notional::ZERO,
            display_lots: if order.display_lots == order.qty_lots {
                0
            } else {
                order.display_lots
            },
            expire_ns: admission.expire_ns,
            reserve_ticks: admission.reserve_ticks,
            currency: spec.currency,
            unsettled_lots: 0,
            unsettled_cash: 0,
        }
    }
}

/// Keeps an untriggered stop in the pool (outside any level) and in its book's trigger index.
fn park_stop(core: &mut super::Core, taker: &Taker, order: &NewOrder, account_slot: u32) {
    let stop_ticks = order.kind.stop_ticks().expect("only stops are parked");
    core.pool.insert(Order {
        id: taker.id,
        instrument: taker.instrument,
        side: taker.side,
        price_ticks: order.kind.limit_ticks().unwrap_or(0),
        visible_lots: taker.qty_lots,
        hidden_lots: 0,
        display_lots: taker.display_lots,
        qty_lots: taker.qty_lots,
        cum_lots: 0,
        notional: Notional::ZERO,
        expire_ns: taker.expire_ns,
        reserve_ticks: taker.reserve_ticks,
        account: taker.account,
        account_slot,
        session: taker.session,
        stp_party: taker.stp_party,
        prev: NIL,
        next: NIL,
    });
    core.pending.insert(
        taker.id,
        PendingStop {
            kind: order.kind,
            tif: order.tif,
            stp_mode: taker.stp_mode,
        },
    );
    core.books[taker.instrument.0 as usize]
        .stops_mut(taker.side)
        .insert((stop_ticks, taker.id));
    if taker.expire_ns != i64::MAX {
        core.expiries.insert((taker.expire_ns, taker.id));
    }
}

/// Fires every stop that the last trade price has reached, in arrival order, until none is left to fire. Each
/// round removes at least one stop, so the loop ends within the number of pending stops.
pub(super) fn trigger_stops(core: &mut super::Core, cx: &mut MatchCx<'_>) {
    let index = cx.index;
    loop {
        let book = &core.books[index];
        let Some(last_ticks) = book.last_trade_ticks else {
            return;
        };
        let mut due: Vec<(i64, OrderId, Side)> = book
            .buy_stops
            .range(..=(last_ticks, OrderId(u64::MAX)))
            .map(|&(stop_ticks, id)| (stop_ticks, id, Side::Buy))
            .chain(
                book.sell_stops
                    .range((last_ticks, OrderId(0))..)
                    .map(|&(stop_ticks, id)| (stop_ticks, id, Side::Sell)),
            )
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_by_key(|&(_, id, _)| id);
        for (stop_ticks, id, side) in due {
            core.books[index].stops_mut(side).remove(&(stop_ticks, id));
            fire_stop(core, cx, id);
        }
    }
}

/// A stop whose trigger was reached becomes a market or limit order and meets the book.
fn fire_stop(core: &mut super::Core, cx: &mut MatchCx<'_>, id: OrderId) {
    let slot = core
        .pool
        .slot_of(id)
        .expect("a pending stop is in the pool");
    let order = core.pool.remove(slot);
    let pending = core
        .pending
        .remove(&id)
        .expect("a pending stop has its terms");
    if order.expire_ns != i64::MAX {
        core.expiries.remove(&(order.expire_ns, id));
    }
    cx.out.push(Event::Triggered {
        order_id: id,
        state: order.state(),
    });
    let book = &core.books[order.instrument.0 as usize];
    let (low_ticks, high_ticks) = book.collar_ticks(cx.spec);
    let bound_ticks = match (pending.kind.limit_ticks(), order.side) {
        (Some(price_ticks), _) => price_ticks,
        (None, Side::Buy) => high_ticks.min(order.reserve_ticks),
        (None, Side::Sell) => low_ticks,
    };
    let taker = Taker {
        id,
        instrument: order.instrument,
        side: order.side,
        account: order.account,
        account_slot: order.account_slot,
        session: order.session,
        stp_party: order.stp_party,
        stp_mode: pending.stp_mode,
        bound_ticks,
        rests: pending.kind.limit_ticks().is_some()
            && !matches!(pending.tif, TimeInForce::Ioc | TimeInForce::Fok),
        fill_or_kill: matches!(pending.tif, TimeInForce::Fok),
        qty_lots: order.qty_lots,
        cum_lots: 0,
        notional: Notional::ZERO,
        display_lots: order.display_lots,
        expire_ns: order.expire_ns,
        reserve_ticks: order.reserve_ticks,
        currency: cx.spec.currency,
        unsettled_lots: 0,
        unsettled_cash: 0,
    };
    execute(core, cx, taker);
}

/// How a live order leaves without trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Removal {
    Canceled(CancelReason),
    Expired,
}

impl Engine {
    pub(super) fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        out: &mut Vec<Event>,
    ) {
        match self.core.pool.slot_of(order_id) {
            None => out.push(Event::CancelRejected {
                order_id,
                reason: CancelRejectReason::UnknownOrder,
            }),
            Some(slot) if self.core.pool.get(slot).account != account => {
                out.push(Event::CancelRejected {
                    order_id,
                    reason: CancelRejectReason::NotOwner,
                });
            }
            Some(slot) => self.remove_live(slot, Removal::Canceled(CancelReason::Requested), out),
        }
    }

    /// Takes a live order (resting or pending stop) out of the engine, releasing its reservation.
    fn remove_live(&mut self, slot: u32, removal: Removal, out: &mut Vec<Event>) {
        let core = &mut self.core;
        let order = core.pool.get(slot).clone();
        let spec = &self.instruments[order.instrument.0 as usize];
        let book = &mut core.books[order.instrument.0 as usize];
        let pending = if core.pending.is_empty() {
            None
        } else {
            core.pending.remove(&order.id)
        };
        let level_lots = match pending {
            Some(pending) => {
                let stop_ticks = pending
                    .kind
                    .stop_ticks()
                    .expect("a pending order is a stop");
                book.stops_mut(order.side).remove(&(stop_ticks, order.id));
                None
            }
            None => Some(book.ladder_mut(order.side).unlink(&mut core.pool, slot)),
        };
        core.pool.remove(slot);
        let lots = order.leaves_lots();
        let reservation = Reservation {
            instrument: order.instrument,
            currency: spec.currency,
            side: order.side,
            reserve_ticks: order.reserve_ticks,
        };
        out.push(match removal {
            // A replace at or below the executed quantity ends an order that executed anything as filled.
            Removal::Canceled(CancelReason::ReplacedBelowExecuted) if order.cum_lots > 0 => {
                Event::Canceled {
                    order_id: order.id,
                    canceled_lots: lots,
                    reason: CancelReason::ReplacedBelowExecuted,
                    state: order.closed(OrderStatus::Filled),
                }
            }
            Removal::Canceled(reason) => Event::Canceled {
                order_id: order.id,
                canceled_lots: lots,
                reason,
                state: order.closed(OrderStatus::Canceled),
            },
            Removal::Expired => Event::Expired {
                order_id: order.id,
                expired_lots: lots,
                state: order.closed(OrderStatus::Expired),
            },
        });
        core.accounts
            .release(order.account_slot, spec, reservation, lots, out);
        core.accounts.close_order(order.account_slot);
        if order.expire_ns != i64::MAX {
            core.expiries.remove(&(order.expire_ns, order.id));
        }
        core.lots_canceled += lots;
        if let Some(qty_lots) = level_lots {
            let (instrument, side, price_ticks) = (order.instrument, order.side, order.price_ticks);
            out.push(Event::Level {
                instrument,
                side,
                price_ticks,
                qty_lots,
            });
        }
    }

    pub(super) fn on_mass_cancel(&mut self, scope: MassCancelScope, out: &mut Vec<Event>) {
        let mut slots = Vec::new();
        let only_instrument = match scope {
            MassCancelScope::Instrument(instrument)
            | MassCancelScope::SessionInstrument(_, instrument) => Some(instrument),
            MassCancelScope::All | MassCancelScope::Account(_) | MassCancelScope::Session(_) => {
                None
            }
        };
        for (index, book) in self.core.books.iter().enumerate() {
            if only_instrument.is_some_and(|instrument| instrument.0 as usize != index) {
                continue;
            }
            for side in [Side::Buy, Side::Sell] {
                for level in book.ladder(side).levels.iter().rev() {
                    let mut slot = level.head;
                    while slot != NIL {
                        slots.push(slot);
                        slot = self.core.pool.get(slot).next;
                    }
                }
            }
        }
        for &id in self.core.pending.keys() {
            slots.push(
                self.core
                    .pool
                    .slot_of(id)
                    .expect("a pending stop is in the pool"),
            );
        }
        for slot in slots {
            let order = self.core.pool.get(slot);
            let selected = match scope {
                MassCancelScope::All => true,
                MassCancelScope::Instrument(instrument) => order.instrument == instrument,
                MassCancelScope::Account(account) => order.account == account,
                MassCancelScope::Session(session) => order.session == session,
                MassCancelScope::SessionInstrument(session, instrument) => {
                    order.session == session && order.instrument == instrument
                }
            };
            if selected {
                self.remove_live(slot, Removal::Canceled(CancelReason::MassCancel), out);
            }
        }
    }

    pub(super) fn on_status(
        &mut self,
        instrument: InstrumentId,
        status: TradingStatus,
        out: &mut Vec<Event>,
    ) {
        if let Some(book) = self.core.books.get_mut(instrument.0 as usize) {
            book.status = status;
            out.push(Event::Status { instrument, status });
        }
    }

    /// Expires every order whose time has come, earliest first (ties by id).
    pub(super) fn on_time(&mut self, now_ns: i64, out: &mut Vec<Event>) {
        while let Some(&(expire_ns, order_id)) = self.core.expiries.first() {
            if expire_ns > now_ns {
                break;
            }
            let slot = self
                .core
                .pool
                .slot_of(order_id)
                .expect("an expiring order is live");
            self.remove_live(slot, Removal::Expired, out);
        }
    }

    pub(super) fn on_replace(&mut self, seq: Seq, replace: &Replace, out: &mut Vec<Event>) {
        let order_id = replace.order_id;
        let checked = self.check_replace(replace);
        let (slot, price_ticks) = match checked {
            Ok(checked) => checked,
            Err(reason) => {
                out.push(Event::CancelRejected { order_id, reason });
                return;
            }
        };
        let order = self.core.pool.get(slot).clone();
        if replace.qty_lots <= order.cum_lots {
            self.remove_live(
                slot,
                Removal::Canceled(CancelReason::ReplacedBelowExecuted),
                out,
            );
            return;
        }
        if let Err(reason) =
            self.swap_reservation(&order, price_ticks, replace.qty_lots - order.cum_lots, out)
        {
            out.push(Event::CancelRejected {
                order_id,
                reason: CancelRejectReason::Risk(reason),
            });
            return;
        }
        let keeps_priority = price_ticks == order.price_ticks && replace.qty_lots <= order.qty_lots;
        if keeps_priority {
            self.shrink_in_place(slot, replace.qty_lots, out);
        } else {
            self.requeue(seq, slot, price_ticks, replace.qty_lots, out);
        }
    }

    /// The checks of a replace request; yields the order's slot and its new price.
    fn check_replace(&self, replace: &Replace) -> Result<(u32, i64), CancelRejectReason> {
        let slot = self
            .core
            .pool
            .slot_of(replace.order_id)
            .ok_or(CancelRejectReason::UnknownOrder)?;
        let order = self.core.pool.get(slot);
        if order.account != replace.account {
            return Err(CancelRejectReason::NotOwner);
        }
        if self.core.pending.contains_key(&order.id) {
            return Err(CancelRejectReason::NotReplaceable);
        }
        let spec = &self.instruments[order.instrument.0 as usize];
        let book = &self.core.books[order.instrument.0 as usize];
        match book.status {
            TradingStatus::Halted => return Err(CancelRejectReason::Halted),
            TradingStatus::CancelOnly => return Err(CancelRejectReason::CancelOnly),
            TradingStatus::Open | TradingStatus::PostOnly => {}
        }
        let price_ticks = replace.price_ticks.unwrap_or(order.price_ticks);
        check_qty(spec, replace.qty_lots).map_err(CancelRejectReason::Risk)?;
        if price_ticks != order.price_ticks {
            check_price(spec, book, price_ticks).map_err(CancelRejectReason::Risk)?;
        }
        if order.display_lots > 0 && order.display_lots > replace.qty_lots {
            return Err(CancelRejectReason::Risk(RejectReason::DisplayInvalid));
        }
        if spec.notional_cash(price_ticks, replace.qty_lots) > spec.max_notional_cash {
            return Err(CancelRejectReason::Risk(RejectReason::NotionalAboveMax));
        }
        let takes = price_ticks != order.price_ticks && would_take(book, order.side, price_ticks);
        if takes && book.status == TradingStatus::PostOnly {
            return Err(CancelRejectReason::Risk(RejectReason::PostOnlyWouldTake));
        }
        Ok((slot, price_ticks))
    }

    /// Moves an order's reservation to its new price and leaves quantity; on refusal nothing changes and no
    /// event is left behind.
    fn swap_reservation(
        &mut self,
        order: &Order,
        price_ticks: i64,
        leaves_lots: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let spec = &self.instruments[order.instrument.0 as usize];
        let old = Reservation {
            instrument: order.instrument,
            currency: spec.currency,
            side: order.side,
            reserve_ticks: order.reserve_ticks,
        };
        let new = Reservation {
            reserve_ticks: price_ticks,
            ..old
        };
        let mark = out.len();
        let accounts = &mut self.core.accounts;
        accounts.release(order.account_slot, spec, old, order.leaves_lots(), out);
        if let Err(reason) = accounts.reserve(order.account_slot, spec, new, leaves_lots, out) {
            out.truncate(mark);
            accounts
                .reserve(order.account_slot, spec, old, order.leaves_lots(), out)
                .expect("a reservation just released fits again");
            out.truncate(mark);
            return Err(reason);
        }
        Ok(())
    }

    /// Quantity down at the same price: the order keeps its place; the cut comes off the hidden reserve first.
    fn shrink_in_place(&mut self, slot: u32, qty_lots: i64, out: &mut Vec<Event>) {
        let core = &mut self.core;
        let order = core.pool.get_mut(slot);
        let cut_lots = order.qty_lots - qty_lots;
        let hidden_cut_lots = cut_lots.min(order.hidden_lots);
        order.hidden_lots -= hidden_cut_lots;
        let visible_cut_lots = cut_lots - hidden_cut_lots;
        order.visible_lots -= visible_cut_lots;
        order.qty_lots = qty_lots;
        core.lots_canceled += cut_lots;
        let order = order.clone();
        out.push(Event::Replaced {
            order_id: order.id,
            price_ticks: order.price_ticks,
            qty_lots,
            leaves_lots: order.leaves_lots(),
            priority_kept: true,
            state: order.state(),
        });
        if visible_cut_lots > 0 {
            let ladder = core.books[order.instrument.0 as usize].ladder_mut(order.side);
            let level = ladder
                .levels
                .iter_mut()
                .find(|level| level.price_ticks == order.price_ticks)
                .expect("a resting order has its level");
            level.total_lots -= visible_cut_lots;
            let (instrument, side, price_ticks, qty_lots) = (
                order.instrument,
                order.side,
                order.price_ticks,
                level.total_lots,
            );
            out.push(Event::Level {
                instrument,
                side,
                price_ticks,
                qty_lots,
            });
        }
    }

    /// A new price or a larger quantity: the order leaves its level and meets the book again as if it had just
    /// arrived, keeping its id and executed quantity.
    fn requeue(
        &mut self,
        seq: Seq,
        slot: u32,
        price_ticks: i64,
        qty_lots: i64,
        out: &mut Vec<Event>,
    ) {
        let core = &mut self.core;
        let order = core.pool.get(slot).clone();
        let level_lots = core.books[order.instrument.0 as usize]
            .ladder_mut(order.side)
            .unlink(&mut core.pool, slot);
        core.pool.remove(slot);
        if order.expire_ns != i64::MAX {
            core.expiries.remove(&(order.expire_ns, order.id));
        }
        let old_leaves_lots = order.leaves_lots();
        let leaves_lots = qty_lots - order.cum_lots;
        if leaves_lots >= old_leaves_lots {
            core.lots_accepted += leaves_lots - old_leaves_lots;
        } else {
            core.lots_canceled += old_leaves_lots - leaves_lots;
        }
        out.push(Event::Replaced {
            order_id: order.id,
            price_ticks,
            qty_lots,
            leaves_lots,
            priority_kept: false,
            state: OrderState {
                leaves_lots,
                ..order.state()
            },
        });
        let (instrument, side) = (order.instrument, order.side);
        out.push(Event::Level {
            instrument,
            side,
            price_ticks: order.price_ticks,
            qty_lots: level_lots,
        });
        let spec = &self.instruments[instrument.0 as usize];
        let stp_mode = core.accounts.get(order.account_slot).profile.stp_mode;
        let taker = requeued_taker(&order, spec.currency, stp_mode, price_ticks, qty_lots);
        let mut cx = MatchCx {
            seq,
            trades: 0,
            spec,
            index: instrument.0 as usize,
            out,
        };
        execute(core, &mut cx, taker);
        if cx.trades > 0 {
            trigger_stops(core, &mut cx);
        }
    }
}

fn requeued_taker(
    order: &Order,
    currency: u32,
    stp_mode: StpMode,
    price_ticks: i64,
    qty_lots: i64,
) -> Taker {
    Taker {
        id: order.id,
        instrument: order.instrument,
        side: order.side,
        account: order.account,
        account_slot: order.account_slot,
        session: order.session,
        stp_party: order.stp_party,
        stp_mode,
        bound_ticks: price_ticks,
        rests: true,
        // A resting order is GTC or GTD: never fill or kill.
        fill_or_kill: false,
        qty_lots,
        cum_lots: order.cum_lots,
        notional: order.notional,
        display_lots: order.display_lots,
        expire_ns: order.expire_ns,
        reserve_ticks: price_ticks,
        currency,
        unsettled_lots: 0,
        unsettled_cash: 0,
    }
}
