//! Released batches: every command of a durable batch (or of the journal, replayed at start-up) is applied to
//! the release view event by event, and its reports built; the answers held behind it go out in their turn.
//! In replay the state is rebuilt exactly and nothing is sent.

use engine::{
    CancelReason, CancelRejectReason, Command, Event, Fill, OrderId, OrderState, RejectReason, Seq,
    Sequenced, Side,
};
use fix::tags::ExecType;
use journal::sequencer::Released;
use session::app::AppMessage;
use store::trades::TradeRecord;

use super::captured::{CapturedSide, CapturedTrade};
use super::handling::Amend;
use super::reports::{
    CancelReject, ExecReport, Extra, cancel_text, mass_cancel_done, too_late_text,
};
use super::state::{Gateway, Output};
use super::trades::Trade;
use crate::origin::Origin;

/// One released (or replayed) command as its reports see it: ExecIDs are `<seq>.<n>`, counted across its
/// events, so a replay gives every report the ExecID it had.
struct Reports<'a> {
    record: &'a Sequenced,
    origin: Origin<'a>,
    exec_n: u32,
    /// False in replay.
    send: bool,
    /// Orders a client's mass cancel canceled, and their reports: sent after its OrderMassCancelReport.
    mass_canceled: u64,
    mass_reports: Vec<(usize, AppMessage)>,
}

impl Gateway {
    /// One journaled command at start-up, with its origin and the events the engine produced for it: the state
    /// is rebuilt exactly as it was; trades are returned (for the trade log check), no message is.
    pub fn replay(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
    ) -> Vec<TradeRecord> {
        self.replay_as(record, origin, events, false).trades
    }

    /// [`Gateway::replay`], building the command's reports as its release did (same ExecIDs, same content but
    /// SendingTime): for the commands whose reports a session may not have logged before a crash. Returns the
    /// trades and appends the messages to `messages`.
    pub fn replay_reports(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
        messages: &mut Vec<(usize, AppMessage)>,
    ) -> Vec<TradeRecord> {
        let mut out = self.replay_as(record, origin, events, true);
        messages.append(&mut out.messages);
        out.trades
    }

    fn replay_as(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
        send: bool,
    ) -> Output {
        let mut out = Output::default();
        self.admit(record.seq, &record.command, origin);
        self.submitted_seq = record.seq;
        self.apply(record, origin, events, &mut out, send);
        self.md.replay(record.ts_ns, events);
        self.released_seq = record.seq;
        out
    }

    /// A durable batch: its reports, in order, with the held answers between them.
    pub fn released(&mut self, batch: &Released, out: &mut Output) {
        for (i, record) in batch.commands.iter().enumerate() {
            self.flush_held(record.seq - 1, record.ts_ns, out);
            self.apply(record, batch.origin_of(i), batch.events_of(i), out, true);
            self.md
                .command(record.ts_ns, batch.events_of(i), &mut out.market_data);
            self.released_seq = record.seq;
        }
        self.md.end_batch(&mut out.market_data);
        let now = batch.commands.last().map_or(0, |r| r.ts_ns);
        self.flush_held(self.released_seq, now, out);
    }

    /// Sends the answers held behind commands up to `upto`.
    fn flush_held(&mut self, upto: Seq, now_ns: i64, out: &mut Output) {
        while self.held.front().is_some_and(|h| h.after <= upto) {
            let Some(held) = self.held.pop_front() else {
                break;
            };
            self.held_answer(held.session, held.item, now_ns, out);
        }
    }

    /// One command's events, in order, then what the command as a whole answers.
    fn apply(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
        out: &mut Output,
        send: bool,
    ) {
        let mut reports = Reports {
            record,
            origin: Origin::decode(origin).unwrap_or(Origin::Venue),
            exec_n: 0,
            send,
            mass_canceled: 0,
            mass_reports: Vec::new(),
        };
        for event in events {
            self.event(event, &mut reports, out);
        }
        self.mass_canceled(&mut reports, out);
        if matches!(record.command, Command::Time { .. }) {
            self.forget_expiries(record.ts_ns);
        }
    }

    /// One event: the order it names changes in the release view, and its report is built.
    fn event(&mut self, event: &Event, r: &mut Reports<'_>, out: &mut Output) {
        match *event {
            Event::Accepted {
                order_id, state, ..
            } => self.accepted(order_id, state, r, out),
            Event::Rejected {
                order_id,
                reason,
                state,
            } => self.rejected(order_id, reason, state, r, out),
            Event::CancelRejected { order_id, reason } => {
                self.cancel_rejected(order_id, reason, r, out)
            }
            Event::Trade {
                match_id,
                instrument,
                price_ticks,
                qty_lots,
                aggressor,
                buy,
                sell,
            } => {
                let trade = Trade {
                    match_id,
                    instrument,
                    price_ticks,
                    qty_lots,
                    aggressor,
                    buy,
                    sell,
                };
                self.traded(&trade, r, out);
            }
            Event::Replaced {
                order_id,
                price_ticks,
                qty_lots,
                state,
                ..
            } => self.replaced(order_id, price_ticks, qty_lots, state, r, out),
            Event::Canceled {
                order_id,
                reason,
                state,
                ..
            } => self.canceled(order_id, reason, state, r, out),
            Event::Expired {
                order_id, state, ..
            } => self.expired(order_id, state, r, out),
            Event::Triggered { order_id, state } => self.triggered(order_id, state, r, out),
            Event::Replenished {
                order_id, state, ..
            } => self.update(order_id, state),
            Event::Level { .. }
            | Event::Queue { .. }
            | Event::Status { .. }
            | Event::Balance { .. } => {}
        }
    }

    /// The order's state is the event's.
    fn update(&mut self, order_id: OrderId, state: OrderState) {
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.update(state);
        }
    }

    fn accepted(
        &mut self,
        order_id: OrderId,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        self.update(order_id, state);
        self.report(order_id, ExecType::New, None, reports, out);
    }

    fn rejected(
        &mut self,
        order_id: OrderId,
        reason: RejectReason,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        self.update(order_id, state);
        let text = reason.text();
        if reports.send
            && let Some(o) = self.orders.get(&order_id)
        {
            tracing::info!(cl_ord_id = %o.cl_ord_id, "order rejected by the engine: {text}");
        }
        let extra = Extra::Reject(reason.ord_rej_reason(), text);
        self.report(order_id, ExecType::Rejected, Some(extra), reports, out);
        self.finish(order_id);
    }

    /// Both sides' reports (an order fully filled is finished), then the trade's record, and the trade kept for
    /// trade capture.
    fn traded(&mut self, trade: &Trade, reports: &mut Reports<'_>, out: &mut Output) {
        let mut sides = Vec::with_capacity(2);
        let mut exec_ids = [String::new(), String::new()];
        for ((fill, side), exec_id) in [(trade.buy, Side::Buy), (trade.sell, Side::Sell)]
            .into_iter()
            .zip(&mut exec_ids)
        {
            self.update(fill.order_id, fill.state());
            let extra = Extra::Fill {
                price_ticks: trade.price_ticks,
                qty_lots: trade.qty_lots,
                match_id: (trade.match_id.seq, trade.match_id.n),
                added: side != trade.aggressor,
            };
            self.report(fill.order_id, ExecType::Trade, Some(extra), reports, out);
            // The fill report's ExecID, as `build_report` numbered it (it uses up the number even when it
            // builds no report).
            *exec_id = format!("{}.{}", reports.record.seq, reports.exec_n);
            sides.push(self.captured_side(fill, side, exec_id));
            if fill.leaves_lots == 0 {
                self.finish(fill.order_id);
            }
        }
        out.trades
            .push(self.trade_record(reports.record, trade, exec_ids));
        if let Ok(sides) = <[CapturedSide; 2]>::try_from(sides) {
            let captured = CapturedTrade {
                match_id: (trade.match_id.seq, trade.match_id.n),
                ts_ns: reports.record.ts_ns,
                instrument: trade.instrument,
                price_ticks: trade.price_ticks,
                qty_lots: trade.qty_lots,
                sides,
            };
            self.captured_trade(captured, reports.send, out);
        }
    }

    /// A side of a trade as trade capture keeps it, after its fill report (whose ExecID it names).
    fn captured_side(&self, fill: Fill, side: Side, exec_id: &str) -> CapturedSide {
        let order = self.orders.get(&fill.order_id);
        CapturedSide {
            side,
            order_id: fill.order_id,
            cl_ord_id: order.map(|o| o.cl_ord_id.clone()).unwrap_or_default(),
            account: self
                .account_names
                .get(&fill.account)
                .map(|a| a.as_str().into())
                .unwrap_or_default(),
            session: order.and_then(|o| o.session),
            exec_id: exec_id.into(),
        }
    }

    /// The order is replaced: its limit price, quantity and what is left of it are now these.
    fn replaced(
        &mut self,
        order_id: OrderId,
        price_ticks: i64,
        qty_lots: i64,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.replace(price_ticks, qty_lots, state);
        }
        self.report(order_id, ExecType::Replaced, None, reports, out);
    }

    /// The order is canceled (or replaced down to what it executed). The reports of a client's mass cancel wait
    /// for its OrderMassCancelReport.
    fn canceled(
        &mut self,
        order_id: OrderId,
        reason: CancelReason,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        let exec_type = self.cancel_outcome(order_id, reason, &reports.record.command);
        self.update(order_id, state);
        let text = cancel_text(reason, reports.origin);
        let mut built = self.build_report(order_id, exec_type, Some(Extra::Text(text)), reports);
        if !built.is_empty() {
            if matches!(reason, CancelReason::MassCancel)
                && matches!(reports.origin, Origin::MassCancel { .. })
            {
                reports.mass_canceled += 1;
                reports.mass_reports.append(&mut built);
            } else if reports.send {
                out.messages.append(&mut built);
            }
        }
        self.finish(order_id);
    }

    /// The report's ExecType of a cancel for `reason` (its OrdStatus is the engine's). A cancel the client asked
    /// for (or a replace below the executed quantity, whose OrderQty the report states) takes its ClOrdID.
    fn cancel_outcome(
        &mut self,
        order_id: OrderId,
        reason: CancelReason,
        command: &Command,
    ) -> ExecType {
        match reason {
            CancelReason::ReplacedBelowExecuted => {
                if let (Command::Replace(r), Some(o)) = (command, self.orders.get_mut(&order_id)) {
                    o.qty_lots = r.qty_lots;
                    o.promote_pending();
                }
                ExecType::Replaced
            }
            CancelReason::Requested => {
                if let Some(o) = self.orders.get_mut(&order_id) {
                    o.promote_pending();
                }
                ExecType::Canceled
            }
            _ => ExecType::Canceled,
        }
    }

    fn expired(
        &mut self,
        order_id: OrderId,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        self.update(order_id, state);
        self.report(order_id, ExecType::Expired, None, reports, out);
        self.finish(order_id);
    }

    fn triggered(
        &mut self,
        order_id: OrderId,
        state: OrderState,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        self.update(order_id, state);
        // FIX 4.4 has no ExecType for a triggered stop (L came with FIX 5.0): only a session with VenueExtensions=Y
        // is told. The ExecID is used up either way, so the ids of later reports do not depend on the setting.
        let extensions = self
            .orders
            .get(&order_id)
            .and_then(|o| o.session)
            .is_some_and(|s| self.dialect(s).venue_extensions);
        if !extensions {
            reports.exec_n += 1;
            return;
        }
        // The reports keep the order's OrdType and StopPx as the client sent them.
        self.report(order_id, ExecType::TriggeredOrActivated, None, reports, out);
    }

    /// The engine refused a cancel or replace: the order is free to be amended again, and the client gets an
    /// OrderCancelReject.
    fn cancel_rejected(
        &mut self,
        order_id: OrderId,
        reason: CancelRejectReason,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        let Some((amend, cl_ord_id)) = Amend::of_origin(reports.origin) else {
            return;
        };
        let Some(order) = self.orders.get_mut(&order_id) else {
            return;
        };
        order.pending = None;
        let session = order.session;
        // The cancel's own ClOrdID is free again.
        if let Some(s) = session
            && order.cl_ord_id.as_ref() != cl_ord_id
        {
            self.sessions[s].by_cl_ord_id.remove(cl_ord_id);
        }
        let order = &self.orders[&order_id];
        // The engine no longer knows an order the gateway knew: a fill or expiry got there first.
        let (code, text) = match reason {
            CancelRejectReason::UnknownOrder if order.terminal() => {
                (0, too_late_text(order.status()))
            }
            CancelRejectReason::Risk(r) => (99, r.text().to_string()),
            other => (other.cxl_rej_reason(), other.to_string()),
        };
        let orig = order.cl_ord_id.to_string();
        let found = Some((order.id, order.status()));
        let routing = order.routing.as_deref().cloned().unwrap_or_default();
        let reject = CancelReject {
            response_to: amend.response_to(),
            cl_ord_id,
            orig_cl_ord_id: &orig,
            found,
            code,
            text: &text,
        };
        let dialect = session.map(|s| self.dialect(s)).unwrap_or_default();
        let msg = reject.build(&mut self.scratch, dialect, &routing, reports.record.ts_ns);
        if let Some(s) = session
            && reports.send
        {
            tracing::info!(cl_ord_id, "cancel/replace rejected by the engine: {text}");
            out.messages.push((s, msg));
        }
    }

    /// A client's mass cancel, once all its events are applied: its OrderMassCancelReport, then the reports of
    /// the orders it canceled.
    fn mass_canceled(&mut self, reports: &mut Reports<'_>, out: &mut Output) {
        let (
            Command::MassCancel(_),
            Origin::MassCancel {
                session,
                cl_ord_id,
                req_type,
            },
        ) = (&reports.record.command, reports.origin)
        else {
            return;
        };
        if let Some(&s) = self.session_by_id.get(session)
            && reports.send
        {
            let record = reports.record;
            let dialect = self.dialect(s);
            let msg = mass_cancel_done(
                &mut self.scratch,
                dialect,
                cl_ord_id,
                record.seq,
                req_type,
                reports.mass_canceled,
                record.ts_ns,
            );
            out.messages.push((s, msg));
        }
        if reports.send {
            out.messages.append(&mut reports.mass_reports);
        }
    }

    /// The GTD ExpireTimes the engine has been told have passed.
    fn forget_expiries(&mut self, now_ns: i64) {
        while self.expiries.first().is_some_and(|(at, _)| *at <= now_ns) {
            self.expiries.pop_first();
        }
    }

    fn report(
        &mut self,
        order_id: OrderId,
        exec_type: ExecType,
        extra: Option<Extra<'_>>,
        reports: &mut Reports<'_>,
        out: &mut Output,
    ) {
        let mut built = self.build_report(order_id, exec_type, extra, reports);
        if reports.send {
            out.messages.append(&mut built);
        }
    }

    /// An ExecutionReport of a journaled command (ExecID `<seq>.<n>`, deterministic on replay), then its drop
    /// copies; nothing when the order has no session or nothing is sent (replay).
    fn build_report(
        &self,
        order_id: OrderId,
        exec_type: ExecType,
        extra: Option<Extra<'_>>,
        reports: &mut Reports<'_>,
    ) -> Vec<(usize, AppMessage)> {
        reports.exec_n += 1;
        let Some(order) = self.orders.get(&order_id) else {
            return Vec::new();
        };
        let Some(session) = order.session else {
            return Vec::new();
        };
        if !reports.send {
            return Vec::new();
        }
        let exec_id = format!("{}.{}", reports.record.seq, reports.exec_n);
        let report = ExecReport {
            exec_type,
            exec_id: &exec_id,
            extra,
            ts_ns: reports.record.ts_ns,
            status_ids: None,
        };
        let mut built = vec![(session, self.execution_report(order, &report))];
        self.copy_report(order, session, &report, &mut built);
        built
    }
}
