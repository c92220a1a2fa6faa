//! The order record both views keep (see [`super`]), and how each event of a released batch changes it.
//! Pure: it knows no maps, no sessions and no reports.

use engine::{AccountId, Fill, InstrumentId, NewOrder, OrderId, OrderKind, Side, TimeInForce};
use fix::tags::OrdStatus;
use session::Routing;

#[derive(Clone, Debug)]
pub(super) struct Order {
    pub(super) id: OrderId,
    /// Index of the owning session; `None` if the journal names a session no longer configured.
    pub(super) session: Option<usize>,
    pub(super) account: AccountId,
    pub(super) instrument: InstrumentId,
    pub(super) side: Side,
    pub(super) kind: OrderKind,
    pub(super) tif: TimeInForce,
    pub(super) qty_lots: i64,
    pub(super) cum_lots: i64,
    pub(super) leaves_lots: i64,
    /// Sum of price (ticks) x quantity (lots) over the fills, for AvgPx.
    pub(super) notional: i128,
    /// At release. `PendingNew` until the engine's answer is released.
    pub(super) status: OrdStatus,
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
    /// An order as its NewOrderSingle is submitted: `PendingNew`, nothing executed.
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
            cum_lots: 0,
            leaves_lots: order.qty_lots,
            notional: 0,
            status: OrdStatus::PendingNew,
            cl_ord_id: cl_ord_id.into(),
            orig_cl_ord_id: None,
            pending: None,
            aliases: vec![cl_ord_id.into()],
            routing: None,
        }
    }

    pub(super) fn terminal(&self) -> bool {
        matches!(
            self.status,
            OrdStatus::Filled | OrdStatus::Canceled | OrdStatus::Rejected | OrdStatus::Expired
        )
    }

    // ----- the release view: what each event changes -----

    /// The engine accepted the order.
    pub(super) fn accept(&mut self) {
        self.status = OrdStatus::New;
    }

    /// The order ended with nothing left to trade: rejected, canceled or expired.
    pub(super) fn close(&mut self, status: OrdStatus) {
        self.status = status;
        self.leaves_lots = 0;
    }

    /// One side of a trade of `qty_lots` at `price_ticks`.
    pub(super) fn fill(&mut self, fill: &Fill, price_ticks: i64, qty_lots: i64) {
        self.cum_lots = fill.cum_lots;
        self.leaves_lots = fill.leaves_lots;
        self.notional += i128::from(price_ticks) * i128::from(qty_lots);
        self.status = if fill.leaves_lots == 0 {
            OrdStatus::Filled
        } else {
            OrdStatus::PartiallyFilled
        };
    }

    /// A replace took effect in the book.
    pub(super) fn replace(&mut self, price_ticks: i64, qty_lots: i64, leaves_lots: i64) {
        self.kind = with_limit(self.kind, price_ticks);
        self.qty_lots = qty_lots;
        self.leaves_lots = leaves_lots;
        self.status = if self.cum_lots > 0 {
            OrdStatus::PartiallyFilled
        } else {
            OrdStatus::New
        };
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
