//! The messages the gateway writes, pure: ExecutionReports, OrderCancelReject, OrderMassCancelReport and
//! BusinessMessageReject, and the FIX codes of an order's fields. A builder is given everything it writes; it
//! looks nothing up and decides nothing.

use bytes::BytesMut;
use rust_decimal::Decimal;

use engine::{CancelReason, Expiry, InstrumentSpec, OrderId, OrderKind, Seq, Side, TimeInForce};
use fix::encode::FieldWriter;
use fix::tags::{self, ExecType, OrdStatus, msg_type};
use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};
use session::Routing;
use session::app::AppMessage;

use super::order::Order;
use crate::origin::Origin;
use crate::request::{MassCancelRequest, MassStatusRequest, NewRequest, StatusRequest};

/// OrderID of an order the venue refused before it got one.
pub const NO_ORDER_ID: &str = "NONE";

/// The one BusinessMessageReject builder, shared with the session layer.
pub use session::app::business_reject;

/// How a session wants its messages written (its configuration's TimeStampPrecision and VenueExtensions).
/// The default is standard FIX 4.4: millisecond timestamps and no extension, so that an unmodified QuickFIX,
/// QuickFIX/J or jspurefix validates everything the venue sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dialect {
    pub time_precision: TimePrecision,
    /// TrdMatchID (880) on fills and ExecType L for a triggered stop.
    pub venue_extensions: bool,
}

/// What an ExecutionReport of an order says besides the order itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct ExecReport<'a> {
    pub(super) exec_type: ExecType,
    pub(super) exec_id: &'a str,
    pub(super) extra: Option<Extra<'a>>,
    pub(super) ts_ns: i64,
    /// The request a status report answers.
    pub(super) status_ids: Option<StatusIds<'a>>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Extra<'a> {
    /// OrdRejReason and Text.
    Reject(u32, &'a str),
    Fill {
        price_ticks: i64,
        qty_lots: i64,
        match_id: (Seq, u32),
        /// The order was resting (LastLiquidityInd 1), not the aggressor (2).
        added: bool,
    },
    Text(Option<&'a str>),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum StatusIds<'a> {
    /// OrdStatusReqID, if the request gave one, and the ClOrdID the request named (the answer's ClOrdID).
    Order {
        req_id: Option<&'a str>,
        cl_ord_id: &'a str,
    },
    Mass {
        id: &'a str,
        total: usize,
        last: bool,
    },
}

impl StatusIds<'_> {
    fn put(&self, w: &mut Body<'_>) {
        match *self {
            StatusIds::Order {
                req_id: Some(id), ..
            } => {
                w.put_str(tags::ORD_STATUS_REQ_ID, id);
            }
            StatusIds::Order { req_id: None, .. } => {}
            StatusIds::Mass { id, total, last } => {
                w.put_str(tags::MASS_STATUS_REQ_ID, id);
                w.put_u64(tags::TOT_NUM_REPORTS, total as u64);
                w.put_bool(tags::LAST_RPT_REQUESTED, last);
            }
        }
    }
}

/// CopyMsgIndicator (797): standard FIX 4.4 on ExecutionReport, Y on a drop copy.
pub(super) const COPY_MSG_INDICATOR: u32 = 797;

/// An ExecutionReport of `order` as the release view has it; `account` is its account's name. `copy`: the
/// header routing of a drop copy (the report then ends with CopyMsgIndicator 797=Y); `None` for the report to the
/// order's own session (with the order's routing).
pub(super) fn execution_report(
    spec: &InstrumentSpec,
    account: Option<&str>,
    order: &Order,
    report: &ExecReport<'_>,
    dialect: Dialect,
    copy: Option<&Routing>,
) -> AppMessage {
    // A buffer of its own: the caller lends the order out of the gateway's state while this runs.
    let mut scratch = BytesMut::with_capacity(384);
    let mut w = Body::new(&mut scratch, dialect);
    w.put_str(tags::ORDER_ID, &order.id.0.to_string());
    // A status answer names the order by the ClOrdID the client asked with (a PossDup resend of an order since
    // canceled or replaced under another ClOrdID, say), with the OrigClOrdID of that cancel or replace.
    let asked = match report.status_ids {
        Some(StatusIds::Order { cl_ord_id, .. }) => Some(cl_ord_id),
        _ => None,
    };
    w.put_str(tags::CL_ORD_ID, asked.unwrap_or(&order.cl_ord_id));
    if (asked.is_some() || matches!(report.exec_type, ExecType::Canceled | ExecType::Replaced))
        && let Some(orig) = &order.orig_cl_ord_id
    {
        w.put_str(tags::ORIG_CL_ORD_ID, orig);
    }
    if let Some(ids) = &report.status_ids {
        ids.put(&mut w);
    }
    w.put_str(tags::EXEC_ID, report.exec_id);
    w.put_enum(tags::EXEC_TYPE, report.exec_type);
    w.put_enum(tags::ORD_STATUS, order.status());
    if let Some(Extra::Reject(code, _)) = report.extra {
        w.put_u64(tags::ORD_REJ_REASON, u64::from(code));
    }
    if let Some(name) = account {
        w.put_str(tags::ACCOUNT, name);
    }
    put_order_terms(&mut w, spec, order);
    if let Some(Extra::Fill {
        price_ticks,
        qty_lots,
        ..
    }) = report.extra
    {
        w.put_decimal(tags::LAST_QTY, spec.lots_to_qty(qty_lots));
        w.put_decimal(tags::LAST_PX, spec.ticks_to_price(price_ticks));
    }
    w.put_decimal(tags::LEAVES_QTY, spec.lots_to_qty(order.leaves_lots()));
    w.put_decimal(tags::CUM_QTY, spec.lots_to_qty(order.cum_lots()));
    w.put_decimal(tags::AVG_PX, avg_px(spec, order));
    w.put_time(tags::TRANSACT_TIME, report.ts_ns);
    put_extra(&mut w, report.extra);
    if let Some(copy) = copy {
        w.put_bool(COPY_MSG_INDICATOR, true);
        return w.finish(msg_type::EXECUTION_REPORT, copy);
    }
    let routing = order.routing.as_deref().cloned().unwrap_or_default();
    w.finish(msg_type::EXECUTION_REPORT, &routing)
}

/// Symbol, Side, OrderQty, OrdType, Price, StopPx, TimeInForce and the GTD expiry of an order.
fn put_order_terms(w: &mut Body<'_>, spec: &InstrumentSpec, order: &Order) {
    w.put_str(tags::SYMBOL, &spec.symbol);
    w.put_char(tags::SIDE, side_code(order.side));
    w.put_decimal(tags::ORDER_QTY, spec.lots_to_qty(order.qty_lots));
    w.put_char(tags::ORD_TYPE, ord_type_code(order.kind));
    if let Some(p) = order.kind.limit_ticks() {
        w.put_decimal(tags::PRICE, spec.ticks_to_price(p));
    }
    if let Some(p) = order.kind.stop_ticks() {
        w.put_decimal(tags::STOP_PX, spec.ticks_to_price(p));
    }
    w.put_char(tags::TIME_IN_FORCE, tif_code(order.tif));
    match order.tif {
        TimeInForce::Gtd(Expiry::AtNs(at)) => w.put_time(tags::EXPIRE_TIME, at),
        TimeInForce::Gtd(Expiry::OnDate { days_since_epoch }) => {
            put_expire_date(w, days_since_epoch);
        }
        _ => {}
    }
}

/// ExpireDate (432) as a LocalMktDate.
fn put_expire_date(w: &mut Body<'_>, days_since_epoch: i32) {
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::TimeDelta::days(i64::from(days_since_epoch))));
    if let Some(date) = date {
        w.put_str(tags::EXPIRE_DATE, &date.format("%Y%m%d").to_string());
    }
}

/// The last fields of a report: its Text, or a fill's match id and LastLiquidityInd. The match id travels in
/// SecondaryExecID (527), standard FIX 4.4 and the same on both sides' fills; sessions with VenueExtensions=Y get
/// it in TrdMatchID (880) as well, which FIX 4.4 defines for trade capture reports only.
fn put_extra(w: &mut Body<'_>, extra: Option<Extra<'_>>) {
    match extra {
        Some(Extra::Reject(_, text)) | Some(Extra::Text(Some(text))) => {
            w.put_str(tags::TEXT, text);
        }
        Some(Extra::Fill {
            match_id, added, ..
        }) => {
            let match_id = format!("{}-{}", match_id.0, match_id.1);
            w.put_str(tags::SECONDARY_EXEC_ID, &match_id);
            if w.dialect.venue_extensions {
                w.put_str(tags::TRD_MATCH_ID, &match_id);
            }
            w.put_char(tags::LAST_LIQUIDITY_IND, if added { b'1' } else { b'2' });
        }
        _ => {}
    }
}

/// Why and how a new order was refused at the edge.
#[derive(Clone, Copy, Debug)]
pub(super) struct Refusal<'a> {
    pub(super) exec_id: &'a str,
    /// The order's account: the one it named, or the session's default.
    pub(super) account: Option<&'a str>,
    /// OrdRejReason (103).
    pub(super) code: u32,
    pub(super) text: &'a str,
    /// A drop copy: CopyMsgIndicator 797=Y (the routing given is the copy's).
    pub(super) copy: bool,
}

/// The ExecutionReport of a new order refused at the edge (it never reached the engine): its OrdRejReason and
/// Text, and the order's account.
pub(super) fn refused_new(
    buf: &mut BytesMut,
    dialect: Dialect,
    req: &NewRequest,
    refusal: Refusal<'_>,
    routing: &Routing,
    now_ns: i64,
) -> AppMessage {
    let Refusal {
        exec_id,
        account,
        code,
        text,
        ..
    } = refusal;
    let mut w = Body::new(buf, dialect);
    w.put_str(tags::ORDER_ID, NO_ORDER_ID);
    w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
    w.put_str(tags::EXEC_ID, exec_id);
    w.put_enum(tags::EXEC_TYPE, ExecType::Rejected);
    w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
    w.put_u64(tags::ORD_REJ_REASON, u64::from(code));
    if let Some(account) = account {
        w.put_str(tags::ACCOUNT, account);
    }
    w.put_str(tags::SYMBOL, &req.symbol);
    w.put_char(tags::SIDE, side_or_buy(req.side));
    if let Some(qty) = req.qty {
        w.put_decimal(tags::ORDER_QTY, qty);
    }
    if req.ord_type != 0 {
        w.put_char(tags::ORD_TYPE, req.ord_type);
    }
    if let Some(p) = req.price {
        w.put_decimal(tags::PRICE, p);
    }
    if let Some(p) = req.stop_px {
        w.put_decimal(tags::STOP_PX, p);
    }
    w.put_char(tags::TIME_IN_FORCE, req.tif);
    // The expiry as the order gave it, ExpireTime (126) or ExpireDate (432), as on every report of an order.
    if let Some(at) = req.expire_time_ns {
        w.put_time(tags::EXPIRE_TIME, at);
    }
    if let Some(days) = req.expire_date {
        put_expire_date(&mut w, days);
    }
    put_nothing_executed(&mut w, now_ns, text);
    if refusal.copy {
        w.put_bool(COPY_MSG_INDICATOR, true);
    }
    w.finish(msg_type::EXECUTION_REPORT, routing)
}

/// The status report of an order the session does not have (OrdRejReason 5: unknown order).
pub(super) fn unknown_order(
    buf: &mut BytesMut,
    dialect: Dialect,
    exec_id: &str,
    req: &StatusRequest,
    routing: &Routing,
    now_ns: i64,
) -> AppMessage {
    let mut w = Body::new(buf, dialect);
    w.put_str(
        tags::ORDER_ID,
        req.order_id.as_deref().unwrap_or(NO_ORDER_ID),
    );
    w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
    StatusIds::Order {
        req_id: req.ord_status_req_id.as_deref(),
        cl_ord_id: &req.cl_ord_id,
    }
    .put(&mut w);
    w.put_str(tags::EXEC_ID, exec_id);
    w.put_enum(tags::EXEC_TYPE, ExecType::OrderStatus);
    w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
    w.put_u64(tags::ORD_REJ_REASON, 5);
    w.put_str(tags::SYMBOL, &req.symbol);
    w.put_char(tags::SIDE, side_or_buy(req.side));
    put_nothing_executed(&mut w, now_ns, "unknown order");
    w.finish(msg_type::EXECUTION_REPORT, routing)
}

/// The one report answering a mass status request that matches no live order.
pub(super) fn no_live_orders(
    buf: &mut BytesMut,
    dialect: Dialect,
    exec_id: &str,
    req: &MassStatusRequest,
    routing: &Routing,
    now_ns: i64,
) -> AppMessage {
    let mut w = Body::new(buf, dialect);
    w.put_str(tags::ORDER_ID, NO_ORDER_ID);
    StatusIds::Mass {
        id: &req.mass_status_req_id,
        total: 0,
        last: true,
    }
    .put(&mut w);
    w.put_str(tags::EXEC_ID, exec_id);
    w.put_enum(tags::EXEC_TYPE, ExecType::OrderStatus);
    w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
    w.put_str(tags::SYMBOL, req.symbol.as_deref().unwrap_or("[N/A]"));
    w.put_char(tags::SIDE, b'1');
    put_nothing_executed(&mut w, now_ns, "no live orders match the request");
    w.finish(msg_type::EXECUTION_REPORT, routing)
}

/// The last fields of a report about no order the venue holds: nothing left, nothing executed, and why.
fn put_nothing_executed(w: &mut Body<'_>, now_ns: i64, text: &str) {
    w.put_u64(tags::LEAVES_QTY, 0);
    w.put_u64(tags::CUM_QTY, 0);
    w.put_u64(tags::AVG_PX, 0);
    w.put_time(tags::TRANSACT_TIME, now_ns);
    w.put_str(tags::TEXT, text);
}

/// An OrderCancelReject (9).
#[derive(Clone, Copy, Debug)]
pub(super) struct CancelReject<'a> {
    /// CxlRejResponseTo (434): 1 cancel, 2 cancel/replace.
    pub(super) response_to: u8,
    pub(super) cl_ord_id: &'a str,
    pub(super) orig_cl_ord_id: &'a str,
    /// The order's id and status, if it was found.
    pub(super) found: Option<(OrderId, OrdStatus)>,
    /// CxlRejReason (102).
    pub(super) code: u32,
    pub(super) text: &'a str,
}

impl CancelReject<'_> {
    pub(super) fn build(
        &self,
        buf: &mut BytesMut,
        dialect: Dialect,
        routing: &Routing,
        now_ns: i64,
    ) -> AppMessage {
        let mut w = Body::new(buf, dialect);
        match self.found {
            Some((id, _)) => w.put_str(tags::ORDER_ID, &id.0.to_string()),
            None => w.put_str(tags::ORDER_ID, NO_ORDER_ID),
        };
        w.put_str(tags::CL_ORD_ID, self.cl_ord_id);
        w.put_str(tags::ORIG_CL_ORD_ID, self.orig_cl_ord_id);
        let status = match self.found {
            Some((_, OrdStatus::PendingNew)) => OrdStatus::New,
            Some((_, status)) => status,
            None => OrdStatus::Rejected,
        };
        w.put_enum(tags::ORD_STATUS, status);
        w.put_time(tags::TRANSACT_TIME, now_ns);
        w.put_char(tags::CXL_REJ_RESPONSE_TO, self.response_to);
        w.put_u64(tags::CXL_REJ_REASON, u64::from(self.code));
        w.put_str(tags::TEXT, self.text);
        w.finish(msg_type::ORDER_CANCEL_REJECT, routing)
    }
}

/// The OrderMassCancelReport refusing a mass cancel request (MassCancelRejectReason `reason`).
pub(super) fn mass_cancel_refused(
    buf: &mut BytesMut,
    dialect: Dialect,
    req: &MassCancelRequest,
    reason: u8,
    text: &str,
    routing: &Routing,
    now_ns: i64,
) -> AppMessage {
    let mut w = Body::new(buf, dialect);
    w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
    w.put_str(tags::ORDER_ID, NO_ORDER_ID);
    w.put_bytes(tags::MASS_CANCEL_REQUEST_TYPE, &[req.req_type]);
    w.put_char(tags::MASS_CANCEL_RESPONSE, b'0');
    w.put_char(tags::MASS_CANCEL_REJECT_REASON, reason);
    if let Some(symbol) = &req.symbol {
        w.put_str(tags::SYMBOL, symbol);
    }
    w.put_time(tags::TRANSACT_TIME, now_ns);
    w.put_str(tags::TEXT, text);
    w.finish(msg_type::ORDER_MASS_CANCEL_REPORT, routing)
}

/// The OrderMassCancelReport of a journaled mass cancel (its OrderID is the command's sequence number).
pub(super) fn mass_cancel_done(
    buf: &mut BytesMut,
    dialect: Dialect,
    cl_ord_id: &str,
    seq: Seq,
    req_type: u8,
    affected: u64,
    ts_ns: i64,
) -> AppMessage {
    let mut w = Body::new(buf, dialect);
    w.put_str(tags::CL_ORD_ID, cl_ord_id);
    w.put_str(tags::ORDER_ID, &seq.to_string());
    w.put_bytes(tags::MASS_CANCEL_REQUEST_TYPE, &[req_type]);
    w.put_bytes(tags::MASS_CANCEL_RESPONSE, &[req_type]);
    w.put_u64(tags::TOTAL_AFFECTED_ORDERS, affected);
    w.put_time(tags::TRANSACT_TIME, ts_ns);
    w.finish(msg_type::ORDER_MASS_CANCEL_REPORT, &Routing::default())
}

/// An application message body under construction.
pub(super) struct Body<'b> {
    fields: FieldWriter<'b>,
    dialect: Dialect,
}

impl<'b> Body<'b> {
    pub(super) fn new(buf: &'b mut BytesMut, dialect: Dialect) -> Body<'b> {
        buf.clear();
        Body {
            fields: FieldWriter::new(buf),
            dialect,
        }
    }

    pub(super) fn put_time(&mut self, tag: u32, ts_ns: i64) {
        let time = chrono::DateTime::from_timestamp_nanos(ts_ns);
        let mut text = [0u8; UTC_TIMESTAMP_BYTES_MAX];
        let n = format_utc_timestamp(&time, self.dialect.time_precision, &mut text);
        self.fields.put_bytes(tag, &text[..n]);
    }

    pub(super) fn finish(self, msg_type: &[u8], routing: &Routing) -> AppMessage {
        AppMessage {
            msg_type: msg_type.to_vec(),
            routing: routing.clone(),
            body: self.fields.bytes().to_vec(),
        }
    }
}

impl<'b> std::ops::Deref for Body<'b> {
    type Target = FieldWriter<'b>;
    fn deref(&self) -> &FieldWriter<'b> {
        &self.fields
    }
}

impl<'b> std::ops::DerefMut for Body<'b> {
    fn deref_mut(&mut self) -> &mut FieldWriter<'b> {
        &mut self.fields
    }
}

// ----- the FIX spelling of an order's fields -----

fn avg_px(spec: &InstrumentSpec, order: &Order) -> Decimal {
    let cum_lots = order.cum_lots();
    if cum_lots == 0 {
        return Decimal::ZERO;
    }
    // Exact: the engine's sum of price (ticks) x quantity (lots), times the tick, over the lots.
    let notional = Decimal::try_from_i128_with_scale(order.notional(), 0).ok();
    let Some(notional) = notional.and_then(|n| n.checked_mul(spec.tick_size)) else {
        return Decimal::ZERO;
    };
    (notional / Decimal::from(cum_lots)).round_dp(8).normalize()
}

/// Side (54) as a request sent it, buy when it sent none.
fn side_or_buy(side: u8) -> u8 {
    if side == 0 { b'1' } else { side }
}

pub(super) fn side_code(side: Side) -> u8 {
    match side {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

pub(super) fn ord_type_code(kind: OrderKind) -> u8 {
    match kind {
        OrderKind::Market => b'1',
        OrderKind::Limit { .. } => b'2',
        OrderKind::Stop { .. } => b'3',
        OrderKind::StopLimit { .. } => b'4',
    }
}

pub(super) fn tif_code(tif: TimeInForce) -> u8 {
    match tif {
        TimeInForce::Day => b'0',
        TimeInForce::Gtc => b'1',
        TimeInForce::Ioc => b'3',
        TimeInForce::Fok => b'4',
        TimeInForce::Gtd(_) => b'6',
    }
}

/// The Text of a cancel or replace that came after its order finished.
pub(super) fn too_late_text(status: OrdStatus) -> String {
    let status = match status {
        OrdStatus::Filled => "filled",
        OrdStatus::Canceled => "canceled",
        OrdStatus::Rejected => "rejected",
        OrdStatus::Expired => "expired",
        _ => "live",
    };
    format!("too late to cancel: the order is {status}")
}

/// The Text of a cancel the client did not ask for itself.
pub(super) fn cancel_text(reason: CancelReason, origin: Origin<'_>) -> Option<&'static str> {
    Some(match reason {
        CancelReason::Requested => return None,
        CancelReason::MassCancel if matches!(origin, Origin::CancelOnDisconnect { .. }) => {
            "canceled on disconnect"
        }
        CancelReason::MassCancel => "mass cancel",
        CancelReason::Unfilled => "unfilled quantity canceled (IOC or market order)",
        CancelReason::FillOrKill => "fill or kill: the order could not be filled in full",
        CancelReason::SelfTradeIncoming => "self-trade prevention: incoming order canceled",
        CancelReason::SelfTradeResting => "self-trade prevention: resting order canceled",
        CancelReason::ReplacedBelowExecuted => "replaced at or below the executed quantity",
        CancelReason::TriggerRefused(r) => r.text(),
    })
}
