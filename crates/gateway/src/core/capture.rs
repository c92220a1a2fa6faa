//! Trade capture: TradeCaptureReportRequest (AD) answered with a TradeCaptureReportRequestAck (AQ) and one
//! TradeCaptureReport (AE) per trade side in the session's scope: a drop-copy session's scope is its
//! `DropCopyAccounts`/`DropCopySessions`, a trading session's its own `Accounts`.
//!
//! The current UTC day's trades are kept here (filled by released batches and by the replay at start-up), at
//! most [`CAPTURE_TRADES_MAX`]: past it the oldest are forgotten and an acknowledgement whose range reaches them
//! says so in its Text (the trade log, `fixvenue trades`, has them all). A snapshot answers at most
//! [`CAPTURE_SNAPSHOT_MAX`] reports (a larger one is refused: narrow the range), after every command submitted
//! before the request is released, like a status request. SubscriptionRequestType 1 adds live updates: every
//! trade released after the snapshot, nothing missed or doubled between the two (the snapshot is built at one
//! point of the release order); 2 ends the subscription named by its TradeRequestID. Subscriptions end when the
//! session disconnects, and at most [`CAPTURE_SUBSCRIPTIONS_MAX`] are held venue-wide.
//!
//! Taken: TradeRequestType 0 (all trades), Symbol, and TrdCapDtGrp (one entry: that TradeDate, or from its
//! TransactTime on; two entries: the range from the first to the second, each bound its TransactTime or else its
//! TradeDate's start or end). Every other field or value is refused with an AQ (TradeRequestStatus 2 rejected,
//! TradeRequestResult and a Text saying why). TradeDate on a report is the trade's UTC date.

use engine::Side;
use session::Routing;
use session::app::AppMessage;

use super::captured::{
    CAPTURE_SNAPSHOT_MAX, CAPTURE_SUBSCRIPTIONS_MAX, CAPTURE_TRADES_MAX, CapturedSide,
    CapturedTrade, Filter, Refusal, Subscription, date_range,
};
use super::reports::{Body, side_code};
use super::state::{Gateway, HeldItem, Output};
use crate::request::TradeCaptureRequest;

/// AD, AQ and AE, and their fields.
mod tag {
    pub const TRADE_CAPTURE_REPORT: &[u8] = b"AE";
    pub const TRADE_CAPTURE_REPORT_REQUEST_ACK: &[u8] = b"AQ";
    pub const TRADE_DATE: u32 = 75;
    pub const SUBSCRIPTION_REQUEST_TYPE: u32 = 263;
    pub const UNSOLICITED_INDICATOR: u32 = 325;
    pub const NO_SIDES: u32 = 552;
    pub const TRADE_REQUEST_ID: u32 = 568;
    pub const TRADE_REQUEST_TYPE: u32 = 569;
    pub const PREVIOUSLY_REPORTED: u32 = 570;
    pub const TRADE_REPORT_ID: u32 = 571;
    pub const TOT_NUM_TRADE_REPORTS: u32 = 748;
    pub const TRADE_REQUEST_RESULT: u32 = 749;
    pub const TRADE_REQUEST_STATUS: u32 = 750;
    pub const TRD_MATCH_ID: u32 = 880;
}

impl Gateway {
    /// A TradeCaptureReportRequest: refused at once with its AQ, or answered in its turn (see the module).
    pub(super) fn trade_capture_request(
        &mut self,
        session: usize,
        req: TradeCaptureRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        match self.capture_filter(session, &req) {
            Ok(_) => {
                let item = HeldItem::TradeCapture(req, routing);
                self.status_or_hold(session, item, now_ns, out);
            }
            Err((result, text)) => {
                let msg = self.capture_ack(session, &req, Ack::Rejected(result, &text), &routing);
                self.answer(session, msg, out);
            }
        }
    }

    /// The request's filter, or why it is refused.
    fn capture_filter(&self, session: usize, req: &TradeCaptureRequest) -> Result<Filter, Refusal> {
        if let Some(tag) = req.unsupported_tag {
            return Err((
                99,
                format!(
                    "tag {tag} is not a filter the venue applies: send TradeRequestType, SubscriptionRequestType, Symbol and TrdCapDtGrp only"
                ),
            ));
        }
        if req.trade_request_type != 0 {
            return Err((
                8,
                "TradeRequestType (569): only 0 (all trades) is supported".into(),
            ));
        }
        let subscribing = match req.subscription {
            b'0' => false,
            b'1' => true,
            b'2' => {
                let known = self.capture_subs.iter().any(|s| {
                    s.session == session && s.req.trade_request_id == req.trade_request_id
                });
                if !known {
                    return Err((
                        99,
                        format!("no subscription {} to end", req.trade_request_id),
                    ));
                }
                false
            }
            other => {
                return Err((
                    99,
                    format!(
                        "SubscriptionRequestType (263) {} is not 0, 1 or 2",
                        other as char
                    ),
                ));
            }
        };
        if subscribing {
            if self
                .capture_subs
                .iter()
                .any(|s| s.session == session && s.req.trade_request_id == req.trade_request_id)
            {
                return Err((
                    99,
                    format!(
                        "TradeRequestID {} already names a subscription",
                        req.trade_request_id
                    ),
                ));
            }
            if self.capture_subs.len() >= CAPTURE_SUBSCRIPTIONS_MAX {
                return Err((
                    99,
                    format!(
                        "the venue holds {CAPTURE_SUBSCRIPTIONS_MAX} trade-capture subscriptions, its most"
                    ),
                ));
            }
        }
        let instrument = match &req.symbol {
            None => None,
            Some(symbol) => match self.symbols.get(symbol) {
                Some(&i) => Some(i),
                None => return Err((1, format!("unknown symbol {symbol}"))),
            },
        };
        let (from_ns, to_ns) = date_range(&req.dates)?;
        Ok(Filter {
            instrument,
            from_ns,
            to_ns,
        })
    }

    /// The answer to an accepted request, in its turn: the AQ, the snapshot's AEs, and the subscription started
    /// or ended.
    pub(super) fn trade_capture(
        &mut self,
        session: usize,
        req: TradeCaptureRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        // Checked again: a subscription may have changed while the request was held.
        let filter = match self.capture_filter(session, &req) {
            Ok(filter) => filter,
            Err((result, text)) => {
                let msg = self.capture_ack(session, &req, Ack::Rejected(result, &text), &routing);
                out.messages.push((session, msg));
                return;
            }
        };
        if req.subscription == b'2' {
            self.capture_subs.retain(|s| {
                !(s.session == session && s.req.trade_request_id == req.trade_request_id)
            });
            let msg = self.capture_ack(session, &req, Ack::Ended, &routing);
            out.messages.push((session, msg));
            return;
        }
        let this = &*self;
        let mut sides: Vec<(usize, usize)> = Vec::new();
        for (i, t) in this.captured.today(now_ns).enumerate() {
            if filter.takes(t) {
                for k in 0..2 {
                    if this.side_in_scope(session, &t.sides[k]) {
                        sides.push((i, k));
                    }
                }
            }
        }
        if sides.len() > CAPTURE_SNAPSHOT_MAX {
            let text = format!(
                "{} trade reports match, more than the {CAPTURE_SNAPSHOT_MAX} one request answers: narrow the range (TrdCapDtGrp TransactTime) or the Symbol",
                sides.len()
            );
            let msg = self.capture_ack(session, &req, Ack::Rejected(99, &text), &routing);
            out.messages.push((session, msg));
            return;
        }
        let forgotten = (self.captured.forgotten > 0 && filter.from_ns <= self.captured.forgotten_through_ns)
            .then(|| {
                format!(
                    "{} earlier trades of the day are past the venue's bound of {CAPTURE_TRADES_MAX} held for trade capture and not in this answer: fixvenue trades has them",
                    self.captured.forgotten
                )
            });
        let ack = Ack::Accepted {
            total: sides.len(),
            text: forgotten.as_deref(),
        };
        let msg = self.capture_ack(session, &req, ack, &routing);
        out.messages.push((session, msg));
        let trades: Vec<&CapturedTrade> = self.captured.today(now_ns).collect();
        for (n, &(i, k)) in sides.iter().enumerate() {
            let place = Place::Snapshot {
                total: sides.len(),
                last: n + 1 == sides.len(),
            };
            let msg = self.capture_report(
                session,
                &req.trade_request_id,
                trades[i],
                k,
                place,
                &routing,
            );
            out.messages.push((session, msg));
        }
        if req.subscription == b'1' {
            self.capture_subs.push(Subscription {
                session,
                req,
                filter,
                routing,
            });
        }
    }

    /// A trade just released: kept, and reported to every subscription that takes a side of it.
    pub(super) fn captured_trade(&mut self, trade: CapturedTrade, send: bool, out: &mut Output) {
        if send {
            for sub in &self.capture_subs {
                if !sub.filter.takes(&trade) {
                    continue;
                }
                for k in 0..2 {
                    if self.side_in_scope(sub.session, &trade.sides[k]) {
                        let msg = self.capture_report(
                            sub.session,
                            &sub.req.trade_request_id,
                            &trade,
                            k,
                            Place::Update,
                            &sub.routing,
                        );
                        out.messages.push((sub.session, msg));
                    }
                }
            }
        }
        self.captured.push(trade);
    }

    /// The session ended: its subscriptions end.
    pub(super) fn capture_disconnected(&mut self, session: usize) {
        self.capture_subs.retain(|s| s.session != session);
    }

    /// True when the trade side is in the session's scope: a drop copy's, or a trading session's accounts.
    fn side_in_scope(&self, session: usize, side: &CapturedSide) -> bool {
        match self.copy_targets.iter().find(|t| t.session == session) {
            Some(target) => match side.session {
                Some(origin) => target.takes(origin, Some(&side.account)),
                None => target.all_accounts || target.accounts.contains(&*side.account),
            },
            None => self.sessions[session]
                .info
                .accounts
                .iter()
                .any(|a| **a == *side.account),
        }
    }

    fn capture_ack(
        &self,
        session: usize,
        req: &TradeCaptureRequest,
        ack: Ack<'_>,
        routing: &Routing,
    ) -> AppMessage {
        let mut buf = bytes::BytesMut::with_capacity(256);
        let mut w = Body::new(&mut buf, self.dialect(session));
        w.put_str(tag::TRADE_REQUEST_ID, &req.trade_request_id);
        w.put_u64(tag::TRADE_REQUEST_TYPE, req.trade_request_type.min(999));
        if matches!(req.subscription, b'0' | b'1' | b'2') {
            w.put_char(tag::SUBSCRIPTION_REQUEST_TYPE, req.subscription);
        }
        let (result, status, text) = match ack {
            Ack::Accepted { total, text } => {
                w.put_u64(tag::TOT_NUM_TRADE_REPORTS, total as u64);
                (0, 0, text)
            }
            Ack::Ended => (0, 1, Some("subscription ended")),
            Ack::Rejected(result, text) => (result, 2, Some(text)),
        };
        w.put_u64(tag::TRADE_REQUEST_RESULT, u64::from(result));
        w.put_u64(tag::TRADE_REQUEST_STATUS, status);
        if let Some(symbol) = &req.symbol {
            w.put_str(fix::tags::SYMBOL, symbol);
        }
        if let Some(text) = text {
            w.put_str(fix::tags::TEXT, text);
        }
        w.finish(tag::TRADE_CAPTURE_REPORT_REQUEST_ACK, routing)
    }

    /// The TradeCaptureReport of side `k` of `trade`.
    fn capture_report(
        &self,
        session: usize,
        req_id: &str,
        trade: &CapturedTrade,
        k: usize,
        place: Place,
        routing: &Routing,
    ) -> AppMessage {
        let spec = &self.market.instruments[trade.instrument.0 as usize];
        let side = &trade.sides[k];
        let match_id = format!("{}-{}", trade.match_id.0, trade.match_id.1);
        let mut buf = bytes::BytesMut::with_capacity(384);
        let mut w = Body::new(&mut buf, self.dialect(session));
        w.put_str(
            tag::TRADE_REPORT_ID,
            &format!(
                "{match_id}-{}",
                if side.side == Side::Buy { 'B' } else { 'S' }
            ),
        );
        w.put_str(tag::TRADE_REQUEST_ID, req_id);
        match place {
            Place::Snapshot { total, last } => {
                w.put_u64(tag::TOT_NUM_TRADE_REPORTS, total as u64);
                w.put_bool(fix::tags::LAST_RPT_REQUESTED, last);
            }
            Place::Update => {
                w.put_bool(tag::UNSOLICITED_INDICATOR, true);
            }
        }
        w.put_str(tag::TRD_MATCH_ID, &match_id);
        w.put_str(fix::tags::EXEC_ID, &side.exec_id);
        w.put_bool(tag::PREVIOUSLY_REPORTED, false);
        w.put_str(fix::tags::SYMBOL, &spec.symbol);
        w.put_decimal(fix::tags::LAST_QTY, spec.lots_to_qty(trade.qty_lots));
        w.put_decimal(fix::tags::LAST_PX, spec.ticks_to_price(trade.price_ticks));
        let date = chrono::DateTime::from_timestamp_nanos(trade.ts_ns)
            .format("%Y%m%d")
            .to_string();
        w.put_str(tag::TRADE_DATE, &date);
        w.put_time(fix::tags::TRANSACT_TIME, trade.ts_ns);
        w.put_u64(tag::NO_SIDES, 1);
        w.put_char(fix::tags::SIDE, side_code(side.side));
        w.put_str(fix::tags::ORDER_ID, &side.order_id.0.to_string());
        w.put_str(fix::tags::CL_ORD_ID, &side.cl_ord_id);
        w.put_str(fix::tags::ACCOUNT, &side.account);
        w.finish(tag::TRADE_CAPTURE_REPORT, routing)
    }
}

/// What an AQ says.
#[derive(Clone, Copy, Debug)]
enum Ack<'a> {
    Accepted { total: usize, text: Option<&'a str> },
    Ended,
    Rejected(u32, &'a str),
}

/// Where an AE stands: in a snapshot, or a live update.
#[derive(Clone, Copy, Debug)]
enum Place {
    Snapshot { total: usize, last: bool },
    Update,
}
