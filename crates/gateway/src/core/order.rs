//! The order record both views keep (see [`super`]): the routing and FIX context of an order (session, account,
//! ClOrdID chain, the terms the client set), and the engine's latest state of it, copied from its events.
//! Pure: it knows no maps, no sessions and no reports.

use engine::{
    AccountId, InstrumentId, NewOrder, OrderId, OrderKind, OrderState, OrderStatus, Side,
    TimeInForce,
};
use fix::tags::OrdStatus;
use session::Routing;

#[derive(Clone, Debug)]
pub(super) struct Order {
    pub(super) id: OrderId,
    /// Index of the owning session; `None` if the journal names a session no longer configured.
    pub(super) session: Option<usize>,
    pub(super) account: AccountId,
    pub(super) instrument: InstrumentId,
    // The order's terms as the client last set them (its NewOrderSingle, then each replace the engine took):
    // what a report repeats, not what the engine decides.
    pub(super) side: Side,
    pub(super) kind: OrderKind,
    pub(super) tif: TimeInForce,
    pub(super) qty_lots: i64,
    /// The engine's state of the order as its latest released event gave it (OrdStatus, CumQty, LeavesQty, the
    /// AvgPx sum), copied and never worked out here: the engine is the one writer of an order's execution.
    /// `None` (PendingNew) until the engine's answer to the NewOrderSingle is released.
    pub(super) state: Option<OrderState>,
    pub(super) cl_ord_id: Box<str>,
    pub(super) orig_cl_ord_id: Option<Box<str>>,
    /// The ClOrdID of a cancel or replace submitted and not yet released.
    pub(super) pending: Option<Box<str>>,
    /// Every ClOrdID the session's map holds for this order (its own, and those of its cancels and replaces).
    pub(super) aliases: Vec<Box<str>>,
    /// The routing of the NewOrderSingle, reversed for the order's reports; `None` when it had none.
    pub(super) routing: Option<Box<Routing>>,
}

impl Order {
    /// An order as its NewOrderSingle is submitted: `PendingNew`, no state from the engine yet.
    pub(super) fn submitted(
        id: OrderId,
        session: Option<usize>,
        order: &NewOrder,
        cl_ord_id: &str,
    ) -> Order {
        Order {
            id,
            session,
            account: order.account,
            instrument: order.instrument,
            side: order.side,
            kind: order.kind,
            tif: order.tif,
            qty_lots: order.qty_lots,
            state: None,
            cl_ord_id: cl_ord_id.into(),
            orig_cl_ord_id: None,
            pending: None,
            aliases: vec![cl_ord_id.into()],
            routing: None,
        }
    }

    /// OrdStatus (39): the engine's, or PendingNew before its answer.
    pub(super) fn status(&self) -> OrdStatus {
        match self.state {
            None => OrdStatus::PendingNew,
            Some(state) => ord_status(state.status),
        }
    }

    pub(super) fn terminal(&self) -> bool {
        self.state.is_some_and(|state| state.status.is_terminal())
    }

    /// CumQty in lots, as the engine last stated it.
    pub(super) fn cum_lots(&self) -> i64 {
        self.state.map_or(0, |state| state.cum_lots)
    }

    /// LeavesQty in lots, as the engine last stated it (all of it before the engine's answer).
    pub(super) fn leaves_lots(&self) -> i64 {
        self.state.map_or(self.qty_lots, |state| state.leaves_lots)
    }

    /// The sum of price_ticks x qty_lots over the fills, as the engine last stated it (for AvgPx).
    pub(super) fn notional(&self) -> i128 {
        self.state.map_or(0, |state| state.notional.get())
    }

    // ----- the release view: what each event changes -----

    /// An event of the engine about this order: its state is now the event's.
    pub(super) fn update(&mut self, state: OrderState) {
        self.state = Some(state);
    }

    /// A replace took effect in the book: the terms are the replace's, the state the event's.
    pub(super) fn replace(&mut self, price_ticks: i64, qty_lots: i64, state: OrderState) {
        self.kind = with_limit(self.kind, price_ticks);
        self.qty_lots = qty_lots;
        self.update(state);
        self.promote_pending();
    }

    /// A cancel or replace took effect: its ClOrdID becomes the order's, the previous one its OrigClOrdID.
    pub(super) fn promote_pending(&mut self) {
        if let Some(cl_ord_id) = self.pending.take() {
            let old = std::mem::replace(&mut self.cl_ord_id, cl_ord_id);
            self.orig_cl_ord_id = Some(old);
        }
    }
}

/// The FIX spelling of the engine's order status.
pub(super) fn ord_status(status: OrderStatus) -> OrdStatus {
    match status {
        OrderStatus::New => OrdStatus::New,
        OrderStatus::PartiallyFilled => OrdStatus::PartiallyFilled,
        OrderStatus::Filled => OrdStatus::Filled,
        OrderStatus::Canceled => OrdStatus::Canceled,
        OrderStatus::Rejected => OrdStatus::Rejected,
        OrderStatus::Expired => OrdStatus::Expired,
    }
}

fn with_limit(kind: OrderKind, price_ticks: i64) -> OrderKind {
    match kind {
        OrderKind::Limit { .. } => OrderKind::Limit { price_ticks },
        OrderKind::StopLimit { stop_ticks, .. } => OrderKind::StopLimit {
            stop_ticks,
            price_ticks,
        },
        other => other,
    }
}
