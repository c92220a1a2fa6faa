//! Intake: what the gateway is told (a request, a logon, a disconnect, a session's own answer, the time) is
//! routed to its handling. A request the gateway refuses whole is answered here with a BusinessMessageReject.

use engine::Command;
use fix::tags::{BusinessRejectReason, msg_type};
use session::Routing;

use super::handling::Amendment;
use super::reports::business_reject;
use super::state::{Gateway, HeldItem, Input, Output};
use crate::origin::Origin;
use crate::request::{Inbound, MassStatusRequest, Request, StatusRequest};

impl Gateway {
    /// A request or session event. `now_ns`: the time, for the reports of refused requests.
    pub fn input(&mut self, input: Input, now_ns: i64, out: &mut Output) {
        match input {
            Input::Request { session, inbound } => self.request(session, inbound, now_ns, out),
            Input::Logon {
                session,
                cancel_on_disconnect,
            } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.cancel_on_disconnect = cancel_on_disconnect;
                }
            }
            Input::Disconnected { session } => {
                self.md.disconnected(session);
                self.capture_disconnected(session);
                self.disconnected(session)
            }
            Input::MarketData { session, inbound } => {
                self.md.request(session, inbound, &mut out.market_data)
            }
            Input::Admin { command, reply } => {
                let done = self.admin(command);
                // The admin server may have stopped waiting (it timed out): nothing to tell then.
                let _ = reply.try_send(done);
            }
            Input::Answer { session, msg, .. } => {
                if session < self.sessions.len() {
                    self.answer(session, msg, out);
                }
            }
        }
    }

    /// True when the engine must be told the time: at start (orders may have expired while the venue was down),
    /// at each instrument's close (Day orders, GTD by date) and when a GTD ExpireTime is reached. Nothing is
    /// journaled while nothing is due.
    pub fn due(&self, now_ns: i64) -> bool {
        now_ns >= self.time_due_ns || self.expiries.first().is_some_and(|(at, _)| *at <= now_ns)
    }

    /// Submits "the time is now" (the sequencer stamps its own time).
    pub fn submit_time(&mut self, now_ns: i64) {
        self.submit(Command::Time { now_ns }, Origin::Venue, None);
        self.time_due_ns = self
            .market
            .instruments
            .iter()
            .map(|spec| spec.next_close_ns(now_ns))
            .min()
            .unwrap_or(i64::MAX);
    }

    fn request(&mut self, session: usize, inbound: Inbound, now_ns: i64, out: &mut Output) {
        if session >= self.sessions.len() {
            return;
        }
        let Inbound {
            ref_seq,
            routing,
            poss_dup,
            request,
        } = inbound;
        if self.names_unnumbered(session, &request) {
            // The request needs the OrderID of an order of this turn: the sequencer numbers what is pending.
            self.number_pending();
        }
        match request {
            // A resent order the venue already has (its first copy was journaled before the session store
            // recorded its MsgSeqNum): answered with the order's status, never entered twice.
            Request::New(req)
                if poss_dup && self.live_order_for(session, &req.cl_ord_id).is_some() =>
            {
                let status = StatusRequest {
                    cl_ord_id: req.cl_ord_id.clone(),
                    order_id: None,
                    symbol: req.symbol.clone(),
                    side: req.side,
                    ord_status_req_id: None,
                };
                self.status_or_hold(session, HeldItem::Status(status, routing), now_ns, out);
            }
            Request::New(req) => self.new_order(session, &req, routing, now_ns, out),
            Request::Cancel(req) => {
                self.amend(session, Amendment::Cancel(&req), &routing, now_ns, out)
            }
            Request::Replace(req) => {
                self.amend(session, Amendment::Replace(&req), &routing, now_ns, out)
            }
            Request::Status(req) => {
                self.status_request(session, ref_seq, req, routing, now_ns, out)
            }
            Request::MassStatus(req) => {
                self.mass_status_request(session, ref_seq, req, routing, now_ns, out)
            }
            Request::MassCancel(req) => self.mass_cancel(session, &req, &routing, now_ns, out),
            Request::TradeCapture(req) => {
                self.trade_capture_request(session, req, routing, now_ns, out)
            }
            Request::Refused { msg_type, text } => {
                let msg = business_reject(
                    ref_seq,
                    &msg_type,
                    BusinessRejectReason::Other,
                    &text,
                    &routing,
                );
                self.answer(session, msg, out);
            }
        }
    }

    /// True when the request names, by ClOrdID, a NewOrderSingle the sequencer has not numbered yet.
    fn names_unnumbered(&self, session: usize, request: &Request) -> bool {
        match request {
            Request::New(req) => self.is_unnumbered(session, &req.cl_ord_id),
            Request::Cancel(req) => {
                self.is_unnumbered(session, &req.ids.orig_cl_ord_id)
                    || self.is_unnumbered(session, &req.ids.cl_ord_id)
            }
            Request::Replace(req) => {
                self.is_unnumbered(session, &req.ids.orig_cl_ord_id)
                    || self.is_unnumbered(session, &req.ids.cl_ord_id)
            }
            Request::Status(req) => self.is_unnumbered(session, &req.cl_ord_id),
            Request::MassStatus(_)
            | Request::MassCancel(_)
            | Request::TradeCapture(_)
            | Request::Refused { .. } => false,
        }
    }

    fn status_request(
        &mut self,
        session: usize,
        ref_seq: u64,
        req: StatusRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        if self.symbols.contains_key(&req.symbol) {
            self.status_or_hold(session, HeldItem::Status(req, routing), now_ns, out);
            return;
        }
        let msg = business_reject(
            ref_seq,
            msg_type::ORDER_STATUS_REQUEST,
            BusinessRejectReason::UnknownSecurity,
            &format!("unknown symbol {}", req.symbol),
            &routing,
        );
        self.answer(session, msg, out);
    }

    fn mass_status_request(
        &mut self,
        session: usize,
        ref_seq: u64,
        req: MassStatusRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let Some((reason, text)) = self.mass_status_refusal(&req) else {
            self.status_or_hold(session, HeldItem::MassStatus(req, routing), now_ns, out);
            return;
        };
        let msg = business_reject(
            ref_seq,
            msg_type::ORDER_MASS_STATUS_REQUEST,
            reason,
            &text,
            &routing,
        );
        self.answer(session, msg, out);
    }
}
