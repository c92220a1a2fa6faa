//! The gateway's state machine, pure: client requests, released batches and the time go in; engine commands (with
//! their journal origins), FIX answers per session and trade records come out.
//!
//! Two views of every order:
//! - at submission: the moment a command is handed to the sequencer the gateway knows its sequence number (it is
//!   the only submitter and numbers are contiguous), so the order id, the ClOrdID maps and "a cancel or replace is
//!   in flight" are updated at once. A cancel sent right after its order therefore finds it.
//! - at release: quantities, prices and OrdStatus change only when the engine's events for a durable batch come
//!   back. Every report is built from this view.
//!
//! Ordering: an answer that needs no command (a reject at the edge, a status report) is held until every
//! command submitted before it has been released, so each session sees its answers in the order of its
//! requests, and a status report reflects every request before it.

use std::collections::{HashMap, VecDeque};

use bytes::BytesMut;
use rust_decimal::Decimal;

use engine::{
    AccountId, CancelReason, CancelRejectReason, Command, Event, Expiry, InstrumentId,
    InstrumentSpec, MassCancelScope, NewOrder, OrderId, OrderKind, RejectReason, Replace, Seq,
    Sequenced, SessionId, Side, TimeInForce,
};
use fix::encode::FieldWriter;
use fix::tags::{self, BusinessRejectReason, ExecType, OrdStatus, msg_type};
use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};
use journal::sequencer::{Released, Submission};
use session::Routing;
use session::app::AppMessage;
use store::trades::{TradeRecord, TradeSide};

use super::origin::Origin;
use super::request::{
    CancelRequest, Inbound, MassCancelRequest, MassStatusRequest, NewRequest, ReplaceRequest,
    Request, StatusRequest,
};

/// Finished orders remembered (for "too late to cancel" and status requests), venue-wide; the oldest are
/// forgotten first.
pub const DONE_ORDERS_MAX: usize = 1 << 18;
/// Answers held behind in-flight commands, at most; beyond it the gateway stops reading requests until the
/// sequencer catches up.
pub const OUTBOX_MAX: usize = 1 << 16;
/// OrderID of an order the venue refused before it got one.
pub const NO_ORDER_ID: &str = "NONE";

/// A configured session as the gateway knows it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// `SessionConfig::id()`, the name the journal and the stores use.
    pub id: String,
    pub venue_comp_id: String,
    pub client_comp_id: String,
    /// Accounts the session may trade; the first is the default.
    pub accounts: Vec<String>,
}

/// What the gateway is told.
#[derive(Clone, Debug)]
pub enum Input {
    Request {
        session: usize,
        inbound: Inbound,
    },
    /// A Logon was accepted; `cancel_on_disconnect` is the setting for this logon.
    Logon {
        session: usize,
        cancel_on_disconnect: bool,
    },
    /// The logged-on session ended.
    Disconnected {
        session: usize,
    },
    /// An answer the session's application made itself (a throttle or role reject): sent in its turn, after the
    /// answers to the session's earlier requests.
    Answer {
        session: usize,
        msg: AppMessage,
    },
}

/// What the gateway asks for; the caller carries it out in this order: submissions, trades, messages.
#[derive(Debug, Default)]
pub struct Output {
    pub submissions: Vec<Submission>,
    pub messages: Vec<(usize, AppMessage)>,
    pub trades: Vec<TradeRecord>,
}

/// The venue's instruments and accounts, as configured.
#[derive(Clone, Debug)]
pub struct Market {
    pub instruments: Vec<InstrumentSpec>,
    pub currencies: Vec<String>,
    /// Configured account names and their engine ids.
    pub accounts: Vec<(String, AccountId)>,
}

#[derive(Clone, Debug)]
struct Order {
    id: OrderId,
    /// Index of the owning session; `None` if the journal names a session no longer configured.
    session: Option<usize>,
    account: AccountId,
    instrument: InstrumentId,
    side: Side,
    kind: OrderKind,
    tif: TimeInForce,
    qty_lots: i64,
    cum_lots: i64,
    leaves_lots: i64,
    /// Sum of price (ticks) x quantity (lots) over the fills, for AvgPx.
    notional: i128,
    /// At release. `PendingNew` until the engine's answer is released.
    status: OrdStatus,
    cl_ord_id: Box<str>,
    orig_cl_ord_id: Option<Box<str>>,
    /// The ClOrdID of a cancel or replace submitted and not yet released.
    pending: Option<Box<str>>,
    /// Every ClOrdID the session's map holds for this order (its own, and those of its cancels and replaces).
    aliases: Vec<Box<str>>,
    /// Its first trade happened in the command that created it (the report says 2: removed liquidity).
    routing: Option<Box<Routing>>,
}

impl Order {
    fn terminal(&self) -> bool {
        matches!(
            self.status,
            OrdStatus::Filled | OrdStatus::Canceled | OrdStatus::Rejected | OrdStatus::Expired
        )
    }
}

#[derive(Debug)]
struct SessionState {
    info: SessionInfo,
    engine_id: Option<SessionId>,
    /// ClOrdIDs of the session's orders (live or remembered) and of cancels and replaces in flight.
    by_cl_ord_id: HashMap<Box<str>, OrderId>,
    cancel_on_disconnect: bool,
}

/// Held answers: sent once every command up to `after` is released.
#[derive(Debug)]
struct Held {
    after: Seq,
    session: usize,
    item: HeldItem,
}

#[derive(Debug)]
enum HeldItem {
    Ready(AppMessage),
    Status(StatusRequest, Routing),
    MassStatus(MassStatusRequest, Routing),
}

/// The gateway core.
pub struct Gateway {
    market: Market,
    symbols: HashMap<String, InstrumentId>,
    sessions: Vec<SessionState>,
    session_by_id: HashMap<String, usize>,
    session_by_engine: HashMap<SessionId, usize>,
    engine_session_next: u32,
    account_by_name: HashMap<String, AccountId>,
    account_names: HashMap<AccountId, String>,
    account_next: u32,
    orders: HashMap<OrderId, Order>,
    done: VecDeque<OrderId>,
    /// The sequence number the next submitted command will get.
    next_seq: Seq,
    released_seq: Seq,
    held: VecDeque<Held>,
    /// Status reports are not journaled: their ExecIDs are `<boot>-<n>`.
    status_prefix: String,
    status_count: u64,
    scratch: BytesMut,
    /// GTD ExpireTimes (with the order's id), to ask for the time only when something is due.
    expiries: std::collections::BTreeSet<(i64, u64)>,
    /// The next instrument close after the last time submitted.
    time_due_ns: i64,
}

impl Gateway {
    /// A gateway for `market` and the configured `sessions`, before replay; `boot_us` (the venue's start time)
    /// makes status ExecIDs unique across restarts.
    pub fn new(market: Market, sessions: Vec<SessionInfo>, boot_us: i64) -> Gateway {
        let symbols = market
            .instruments
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.symbol.clone(), InstrumentId(i as u32)))
            .collect();
        let mut account_by_name = HashMap::new();
        let mut account_names = HashMap::new();
        let mut account_next = 1;
        for (name, id) in &market.accounts {
            account_by_name.insert(name.clone(), *id);
            account_names.insert(*id, name.clone());
            account_next = account_next.max(id.0 + 1);
        }
        let session_by_id = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Gateway {
            market,
            symbols,
            sessions: sessions
                .into_iter()
                .map(|info| SessionState {
                    info,
                    engine_id: None,
                    by_cl_ord_id: HashMap::new(),
                    cancel_on_disconnect: false,
                })
                .collect(),
            session_by_id,
            session_by_engine: HashMap::new(),
            engine_session_next: 1,
            account_by_name,
            account_names,
            account_next,
            orders: HashMap::new(),
            done: VecDeque::new(),
            next_seq: 1,
            released_seq: 0,
            held: VecDeque::new(),
            status_prefix: format!("{boot_us}"),
            status_count: 0,
            scratch: BytesMut::with_capacity(512),
            expiries: std::collections::BTreeSet::new(),
            time_due_ns: i64::MIN,
        }
    }

    pub fn sessions(&self) -> impl Iterator<Item = &SessionInfo> {
        self.sessions.iter().map(|s| &s.info)
    }

    /// Live orders (not finished) the gateway tracks.
    pub fn live_orders(&self) -> usize {
        self.orders.values().filter(|o| !o.terminal()).count()
    }

    /// Answers held behind in-flight commands.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The sequence number the next command will get.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// The last command whose batch was released (or replayed).
    pub fn released_seq(&self) -> Seq {
        self.released_seq
    }

    pub fn session_info(&self, session: usize) -> Option<&SessionInfo> {
        self.sessions.get(session).map(|s| &s.info)
    }

    /// Starts numbering after the journal's last command (a venue whose journal is empty starts at 1).
    pub fn resume_after(&mut self, last_seq: Seq) {
        self.next_seq = last_seq + 1;
        self.released_seq = last_seq;
    }

    /// One journaled command at start-up, with its origin and the events the engine produced for it: the state
    /// is rebuilt exactly as it was; trades are returned (for the trade log check), no message is.
    pub fn replay(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
    ) -> Vec<TradeRecord> {
        let mut out = Output::default();
        self.admit(record.seq, &record.command, origin);
        self.next_seq = record.seq + 1;
        self.apply(record, origin, events, &mut out, false);
        self.released_seq = record.seq;
        out.trades
    }

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
            Input::Disconnected { session } => self.disconnected(session, out),
            Input::Answer { session, msg } => {
                if session < self.sessions.len() {
                    self.answer(session, msg, out);
                }
            }
        }
    }

    /// A durable batch: its reports, in order, with the held answers between them.
    pub fn released(&mut self, batch: &Released, out: &mut Output) {
        for (i, record) in batch.commands.iter().enumerate() {
            self.flush_held(record.seq - 1, record.ts_ns, out);
            self.apply(record, batch.origin_of(i), batch.events_of(i), out, true);
            self.released_seq = record.seq;
        }
        let now = batch.commands.last().map_or(0, |r| r.ts_ns);
        self.flush_held(self.released_seq, now, out);
    }

    /// True when the engine must be told the time: at start (orders may have expired while the venue was down),
    /// at each instrument's close (Day orders, GTD by date) and when a GTD ExpireTime is reached. Nothing is
    /// journaled while nothing is due.
    pub fn due(&self, now_ns: i64) -> bool {
        now_ns >= self.time_due_ns || self.expiries.first().is_some_and(|(at, _)| *at <= now_ns)
    }

    /// Submits "the time is now" (the sequencer stamps its own time).
    pub fn submit_time(&mut self, now_ns: i64, out: &mut Output) {
        self.submit(Command::Time { now_ns }, Origin::Venue, out);
        self.time_due_ns = self
            .market
            .instruments
            .iter()
            .map(|spec| spec.next_close_ns(now_ns))
            .min()
            .unwrap_or(i64::MAX);
    }

    fn submit(&mut self, command: Command, origin: Origin<'_>, out: &mut Output) {
        let origin = origin.encode();
        self.admit(self.next_seq, &command, &origin);
        self.next_seq += 1;
        out.submissions.push(Submission { command, origin });
    }

    fn in_flight(&self) -> bool {
        self.next_seq - 1 > self.released_seq
    }

    /// Sends now, or holds behind the commands in flight.
    fn answer(&mut self, session: usize, msg: AppMessage, out: &mut Output) {
        if self.in_flight() {
            self.hold(session, HeldItem::Ready(msg));
        } else {
            out.messages.push((session, msg));
        }
    }

    fn hold(&mut self, session: usize, item: HeldItem) {
        self.held.push_back(Held {
            after: self.next_seq - 1,
            session,
            item,
        });
    }

    /// True when the caller should stop reading requests until more is released.
    pub fn backlogged(&self) -> bool {
        self.held.len() >= OUTBOX_MAX
    }

    fn flush_held(&mut self, upto: Seq, now_ns: i64, out: &mut Output) {
        while self.held.front().is_some_and(|h| h.after <= upto) {
            let Some(held) = self.held.pop_front() else {
                break;
            };
            match held.item {
                HeldItem::Ready(msg) => out.messages.push((held.session, msg)),
                HeldItem::Status(req, routing) => {
                    self.status(held.session, &req, &routing, now_ns, out)
                }
                HeldItem::MassStatus(req, routing) => {
                    self.mass_status(held.session, &req, &routing, now_ns, out)
                }
            }
        }
    }

    // ----- requests -----

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
                if self.in_flight() {
                    self.hold(session, HeldItem::Status(status, routing));
                } else {
                    self.status(session, &status, &routing, now_ns, out);
                }
            }
            Request::New(req) => self.new_order(session, &req, routing, now_ns, out),
            Request::Cancel(req) => self.cancel(session, &req, &routing, now_ns, out),
            Request::Replace(req) => self.replace(session, &req, &routing, now_ns, out),
            Request::Status(req) => {
                if !self.symbols.contains_key(&req.symbol) {
                    let msg = business_reject(
                        ref_seq,
                        msg_type::ORDER_STATUS_REQUEST,
                        BusinessRejectReason::UnknownSecurity,
                        &format!("unknown symbol {}", req.symbol),
                        &routing,
                    );
                    self.answer(session, msg, out);
                } else if self.in_flight() {
                    self.hold(session, HeldItem::Status(req, routing));
                } else {
                    self.status(session, &req, &routing, now_ns, out);
                }
            }
            Request::MassStatus(req) => {
                let unknown = req
                    .symbol
                    .as_ref()
                    .filter(|s| !self.symbols.contains_key(s.as_str()));
                let refusal = if let Some(symbol) = unknown {
                    Some((
                        BusinessRejectReason::UnknownSecurity,
                        format!("unknown symbol {symbol}"),
                    ))
                } else if !matches!(req.req_type, 1 | 7) {
                    Some((
                        BusinessRejectReason::Other,
                        format!(
                            "MassStatusReqType {} is not supported (1 by security, 7 all orders)",
                            req.req_type
                        ),
                    ))
                } else if req.req_type == 1 && req.symbol.is_none() {
                    Some((
                        BusinessRejectReason::ConditionallyRequiredFieldMissing,
                        "MassStatusReqType 1 needs Symbol (55)".to_string(),
                    ))
                } else {
                    None
                };
                if let Some((reason, text)) = refusal {
                    let msg = business_reject(
                        ref_seq,
                        msg_type::ORDER_MASS_STATUS_REQUEST,
                        reason,
                        &text,
                        &routing,
                    );
                    self.answer(session, msg, out);
                } else if self.in_flight() {
                    self.hold(session, HeldItem::MassStatus(req, routing));
                } else {
                    self.mass_status(session, &req, &routing, now_ns, out);
                }
            }
            Request::MassCancel(req) => self.mass_cancel(session, &req, &routing, now_ns, out),
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

    fn live_order_for(&self, session: usize, cl_ord_id: &str) -> Option<&Order> {
        let id = self.sessions[session].by_cl_ord_id.get(cl_ord_id)?;
        self.orders.get(id)
    }

    fn new_order(
        &mut self,
        session: usize,
        req: &NewRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        match self.check_new(session, req) {
            Ok((order, account_name)) => {
                let info = &self.sessions[session].info;
                let origin_session = info.id.clone();
                let routing = (!routing_is_empty(&routing)).then(|| Box::new(routing));
                let seq = self.next_seq;
                self.submit(
                    Command::New(order),
                    Origin::New {
                        session: &origin_session,
                        account: &account_name,
                        cl_ord_id: &req.cl_ord_id,
                    },
                    out,
                );
                if let Some(o) = self.orders.get_mut(&OrderId(seq)) {
                    o.routing = routing;
                }
            }
            Err((reason, text)) => {
                let msg = self.refused_new(req, reason, &text, &routing, now_ns);
                self.answer(session, msg, out);
            }
        }
    }

    /// The edge checks of a new order; `Err((OrdRejReason, Text))`.
    fn check_new(
        &mut self,
        session: usize,
        req: &NewRequest,
    ) -> Result<(NewOrder, String), (u32, String)> {
        if self
            .live_order_for(session, &req.cl_ord_id)
            .is_some_and(|o| !o.terminal())
        {
            return Err((6, format!("duplicate ClOrdID {}", req.cl_ord_id)));
        }
        let state = &self.sessions[session];
        let account_name = match &req.account {
            None => state.info.accounts[0].clone(),
            Some(a) if state.info.accounts.contains(a) => a.clone(),
            Some(a) => {
                return Err((15, format!("account {a} may not trade on this session")));
            }
        };
        let Some(&instrument) = self.symbols.get(&req.symbol) else {
            return Err((1, format!("unknown symbol {}", req.symbol)));
        };
        let spec = &self.market.instruments[instrument.0 as usize];
        let side = match req.side {
            b'1' => Side::Buy,
            b'2' => Side::Sell,
            other => {
                return Err((
                    11,
                    format!("Side {} is not supported (1 buy, 2 sell)", other as char),
                ));
            }
        };
        let Some(qty) = req.qty else {
            return Err((13, "OrderQty (38) is required".into()));
        };
        let qty_lots = lots(spec, qty)?;
        let price = |p: Option<Decimal>, tag: &str| -> Result<i64, (u32, String)> {
            let p = p.ok_or_else(|| (99, format!("{tag} is required for this OrdType")))?;
            spec.price_to_ticks(p).map_err(reject)
        };
        let kind = match req.ord_type {
            b'1' => OrderKind::Market,
            b'2' => OrderKind::Limit {
                price_ticks: price(req.price, "Price (44)")?,
            },
            b'3' => OrderKind::Stop {
                stop_ticks: price(req.stop_px, "StopPx (99)")?,
            },
            b'4' => OrderKind::StopLimit {
                stop_ticks: price(req.stop_px, "StopPx (99)")?,
                price_ticks: price(req.price, "Price (44)")?,
            },
            other => {
                return Err((
                    11,
                    format!(
                        "OrdType {} is not supported (1 market, 2 limit, 3 stop, 4 stop limit)",
                        other as char
                    ),
                ));
            }
        };
        let tif = match req.tif {
            b'0' => TimeInForce::Day,
            b'1' => TimeInForce::Gtc,
            b'3' => TimeInForce::Ioc,
            b'4' => TimeInForce::Fok,
            b'6' => match (req.expire_time_ns, req.expire_date) {
                (Some(at), None) => TimeInForce::Gtd(Expiry::AtNs(at)),
                (None, Some(days)) => TimeInForce::Gtd(Expiry::OnDate {
                    days_since_epoch: days,
                }),
                (Some(_), Some(_)) => {
                    return Err((
                        99,
                        "give ExpireTime (126) or ExpireDate (432), not both".into(),
                    ));
                }
                (None, None) => {
                    return Err((
                        99,
                        "TimeInForce 6 (GTD) needs ExpireTime (126) or ExpireDate (432)".into(),
                    ));
                }
            },
            other => {
                return Err((
                    11,
                    format!(
                        "TimeInForce {} is not supported (0 day, 1 GTC, 3 IOC, 4 FOK, 6 GTD)",
                        other as char
                    ),
                ));
            }
        };
        let mut post_only = false;
        for &inst in &req.exec_inst {
            match inst {
                b'6' => post_only = true,
                other => {
                    return Err((
                        11,
                        format!(
                            "ExecInst {} is not supported (6: participate, don't initiate)",
                            other as char
                        ),
                    ));
                }
            }
        }
        let display_lots = match req.max_floor {
            None => 0,
            Some(floor) => lots(spec, floor)?,
        };
        let account = self.account_id(&account_name);
        let engine_session = self.engine_session(session);
        Ok((
            NewOrder {
                instrument,
                account,
                session: engine_session,
                side,
                kind,
                qty_lots,
                tif,
                post_only,
                display_lots,
            },
            account_name,
        ))
    }

    fn cancel(
        &mut self,
        session: usize,
        req: &CancelRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let checked = self
            .check_amend(
                session,
                &req.cl_ord_id,
                &req.orig_cl_ord_id,
                req.order_id.as_deref(),
                &req.symbol,
                req.side,
            )
            .map(|order| Command::Cancel {
                order_id: order.id,
                account: order.account,
            });
        let ids = (req.cl_ord_id.as_str(), req.orig_cl_ord_id.as_str());
        self.submit_amend(session, checked, false, ids, routing, now_ns, out);
    }

    /// Submits a checked cancel or replace, or answers its OrderCancelReject.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn submit_amend(
        &mut self,
        session: usize,
        checked: Result<Command, (u32, String, Option<(OrderId, OrdStatus)>)>,
        replace: bool,
        (cl_ord_id, orig_cl_ord_id): (&str, &str),
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        match checked {
            Ok(command) => {
                let origin_session = self.sessions[session].info.id.clone();
                let origin = if replace {
                    Origin::Replace {
                        session: &origin_session,
                        cl_ord_id,
                    }
                } else {
                    Origin::Cancel {
                        session: &origin_session,
                        cl_ord_id,
                    }
                };
                self.submit(command, origin, out);
            }
            Err((reason, text, status)) => {
                // CxlRejResponseTo: 1 cancel, 2 cancel/replace.
                let response_to = if replace { b'2' } else { b'1' };
                let msg = self.cancel_reject(
                    response_to,
                    cl_ord_id,
                    orig_cl_ord_id,
                    status,
                    reason,
                    &text,
                    routing,
                    now_ns,
                );
                self.answer(session, msg, out);
            }
        }
    }

    /// The order a cancel or replace names, if it may be amended; `Err((CxlRejReason, Text, (OrderID,
    /// OrdStatus)))`.
    #[allow(clippy::type_complexity)]
    fn check_amend(
        &self,
        session: usize,
        cl_ord_id: &str,
        orig_cl_ord_id: &str,
        order_id: Option<&str>,
        symbol: &str,
        side: u8,
    ) -> Result<&Order, (u32, String, Option<(OrderId, OrdStatus)>)> {
        let Some(order) = self.live_order_for(session, orig_cl_ord_id) else {
            return Err((1, format!("unknown order {orig_cl_ord_id}"), None));
        };
        let found = Some((order.id, order.status));
        if self
            .live_order_for(session, cl_ord_id)
            .is_some_and(|o| !o.terminal())
        {
            return Err((6, format!("duplicate ClOrdID {cl_ord_id}"), found));
        }
        if order_id.is_some_and(|id| id != order.id.0.to_string()) {
            return Err((
                1,
                format!("OrderID does not match OrigClOrdID {orig_cl_ord_id}"),
                found,
            ));
        }
        let spec = &self.market.instruments[order.instrument.0 as usize];
        if spec.symbol != symbol || side_code(order.side) != side {
            return Err((
                99,
                "Symbol or Side differ from the order's".to_string(),
                found,
            ));
        }
        if order.terminal() {
            return Err((
                0,
                format!(
                    "too late to cancel: the order is {}",
                    status_text(order.status)
                ),
                found,
            ));
        }
        if order.pending.is_some() {
            return Err((
                3,
                "a cancel or replace of the order is already in progress".to_string(),
                found,
            ));
        }
        Ok(order)
    }

    fn replace(
        &mut self,
        session: usize,
        req: &ReplaceRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let checked = self
            .check_amend(
                session,
                &req.cl_ord_id,
                &req.orig_cl_ord_id,
                req.order_id.as_deref(),
                &req.symbol,
                req.side,
            )
            .and_then(|order| {
                let spec = &self.market.instruments[order.instrument.0 as usize];
                let found = Some((order.id, order.status));
                let refuse = |code, text: String| (code, text, found);
                if req.ord_type != ord_type_code(order.kind) {
                    return Err(refuse(99, "OrdType cannot be changed".into()));
                }
                if req.tif != tif_code(order.tif) {
                    return Err(refuse(99, "TimeInForce cannot be changed".into()));
                }
                if req
                    .account
                    .as_ref()
                    .is_some_and(|a| self.account_names.get(&order.account) != Some(a))
                {
                    return Err(refuse(99, "Account cannot be changed".into()));
                }
                let stop = req
                    .stop_px
                    .map(|p| spec.price_to_ticks(p))
                    .transpose()
                    .map_err(|r| refuse(99, r.text().into()))?;
                if stop != order.kind.stop_ticks() {
                    return Err(refuse(99, "StopPx cannot be changed".into()));
                }
                let qty = req
                    .qty
                    .ok_or_else(|| refuse(99, "OrderQty (38) is required".into()))?;
                let qty_lots = lots(spec, qty).map_err(|(_, text)| refuse(99, text))?;
                let price_ticks = match (order.kind.limit_ticks(), req.price) {
                    (Some(_), None) => {
                        return Err(refuse(99, "Price (44) is required for this OrdType".into()));
                    }
                    (Some(current), Some(p)) => {
                        let ticks = spec
                            .price_to_ticks(p)
                            .map_err(|r| refuse(99, r.text().into()))?;
                        (ticks != current).then_some(ticks)
                    }
                    (None, Some(_)) => {
                        return Err(refuse(99, "this OrdType has no Price".into()));
                    }
                    (None, None) => None,
                };
                Ok(Replace {
                    order_id: order.id,
                    account: order.account,
                    price_ticks,
                    qty_lots,
                })
            });
        let checked = checked.map(Command::Replace);
        let ids = (req.cl_ord_id.as_str(), req.orig_cl_ord_id.as_str());
        self.submit_amend(session, checked, true, ids, routing, now_ns, out);
    }

    fn mass_cancel(
        &mut self,
        session: usize,
        req: &MassCancelRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let engine_session = self.engine_session(session);
        let scope = match (req.req_type, &req.symbol) {
            (b'7', _) => Ok(MassCancelScope::Session(engine_session)),
            (b'1', Some(symbol)) => match self.symbols.get(symbol) {
                Some(&instrument) => Ok(MassCancelScope::SessionInstrument(
                    engine_session,
                    instrument,
                )),
                None => Err((b'1', format!("unknown symbol {symbol}"))),
            },
            (b'1', None) => Err((b'1', "MassCancelRequestType 1 needs Symbol (55)".into())),
            (other, _) => Err((
                b'0',
                format!(
                    "MassCancelRequestType {} is not supported (1 by security, 7 all orders)",
                    other as char
                ),
            )),
        };
        match scope {
            Ok(scope) => {
                let origin_session = self.sessions[session].info.id.clone();
                self.submit(
                    Command::MassCancel(scope),
                    Origin::MassCancel {
                        session: &origin_session,
                        cl_ord_id: &req.cl_ord_id,
                        req_type: req.req_type,
                    },
                    out,
                );
            }
            Err((reason, text)) => {
                let mut w = Body::new(&mut self.scratch);
                w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
                w.put_str(tags::ORDER_ID, NO_ORDER_ID);
                w.put_bytes(tags::MASS_CANCEL_REQUEST_TYPE, &[req.req_type]);
                w.put_char(tags::MASS_CANCEL_RESPONSE, b'0');
                w.put_char(tags::MASS_CANCEL_REJECT_REASON, reason);
                if let Some(symbol) = &req.symbol {
                    w.put_str(tags::SYMBOL, symbol);
                }
                w.put_time(tags::TRANSACT_TIME, now_ns);
                w.put_str(tags::TEXT, &text);
                let msg = w.finish(msg_type::ORDER_MASS_CANCEL_REPORT, routing);
                self.answer(session, msg, out);
            }
        }
    }

    fn disconnected(&mut self, session: usize, out: &mut Output) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        if !state.cancel_on_disconnect {
            return;
        }
        let any_live = state
            .by_cl_ord_id
            .values()
            .any(|id| self.orders.get(id).is_some_and(|o| !o.terminal()));
        if !any_live {
            return;
        }
        let origin_session = state.info.id.clone();
        let engine_session = self.engine_session(session);
        self.submit(
            Command::MassCancel(MassCancelScope::Session(engine_session)),
            Origin::CancelOnDisconnect {
                session: &origin_session,
            },
            out,
        );
    }

    // ----- ids -----

    fn engine_session(&mut self, session: usize) -> SessionId {
        if let Some(id) = self.sessions[session].engine_id {
            return id;
        }
        let id = SessionId(self.engine_session_next);
        self.engine_session_next += 1;
        self.sessions[session].engine_id = Some(id);
        self.session_by_engine.insert(id, session);
        id
    }

    fn account_id(&mut self, name: &str) -> AccountId {
        if let Some(id) = self.account_by_name.get(name) {
            return *id;
        }
        let id = AccountId(self.account_next);
        self.account_next += 1;
        self.learn_account(name, id);
        id
    }

    fn learn_account(&mut self, name: &str, id: AccountId) {
        self.account_by_name.insert(name.to_string(), id);
        self.account_names.insert(id, name.to_string());
        self.account_next = self.account_next.max(id.0 + 1);
    }

    /// Learns, while replaying, the numbers an earlier run gave a session and an account.
    fn learn_session(&mut self, name: &str, id: SessionId) {
        self.engine_session_next = self.engine_session_next.max(id.0 + 1);
        if let Some(&i) = self.session_by_id.get(name) {
            self.sessions[i].engine_id = Some(id);
            self.session_by_engine.insert(id, i);
        }
    }

    // ----- submission view -----

    /// What a command changes at submission (and in replay, before its events).
    fn admit(&mut self, seq: Seq, command: &Command, origin: &[u8]) {
        let Ok(origin) = Origin::decode(origin) else {
            tracing::error!(seq, "journal origin undecodable: its reports are not sent");
            return;
        };
        let session = origin
            .session()
            .and_then(|name| self.session_by_id.get(name).copied());
        match (command, origin) {
            (
                Command::New(order),
                Origin::New {
                    session: session_name,
                    account,
                    cl_ord_id,
                },
            ) => {
                self.learn_session(session_name, order.session);
                if !self.account_by_name.contains_key(account) {
                    self.learn_account(account, order.account);
                }
                let id = OrderId(seq);
                if let Some(s) = session {
                    self.sessions[s].by_cl_ord_id.insert(cl_ord_id.into(), id);
                }
                if let TimeInForce::Gtd(Expiry::AtNs(at)) = order.tif {
                    self.expiries.insert((at, seq));
                }
                self.orders.insert(
                    id,
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
                    },
                );
            }
            (Command::Cancel { order_id, .. }, Origin::Cancel { cl_ord_id, .. })
            | (Command::Replace(Replace { order_id, .. }), Origin::Replace { cl_ord_id, .. }) => {
                if let Some(order) = self.orders.get_mut(order_id) {
                    order.pending = Some(cl_ord_id.into());
                    order.aliases.push(cl_ord_id.into());
                    if let Some(s) = session {
                        self.sessions[s]
                            .by_cl_ord_id
                            .insert(cl_ord_id.into(), *order_id);
                    }
                }
            }
            (Command::MassCancel(MassCancelScope::Session(id)), origin)
            | (Command::MassCancel(MassCancelScope::SessionInstrument(id, _)), origin) => {
                if let Some(name) = origin.session() {
                    self.learn_session(name, *id);
                }
            }
            _ => {}
        }
    }

    // ----- release view and reports -----

    fn apply(
        &mut self,
        record: &Sequenced,
        origin: &[u8],
        events: &[Event],
        out: &mut Output,
        send: bool,
    ) {
        let origin = Origin::decode(origin).unwrap_or(Origin::Venue);
        let mut reports = Reports {
            seq: record.seq,
            ts_ns: record.ts_ns,
            exec_n: 0,
            send,
        };
        let mut canceled = 0u64;
        let mut mass_reports: Vec<(usize, AppMessage)> = Vec::new();
        for event in events {
            match *event {
                Event::Accepted { order_id, .. } => {
                    if let Some(o) = self.orders.get_mut(&order_id) {
                        o.status = OrdStatus::New;
                    }
                    self.report(order_id, ExecType::New, None, &mut reports, out);
                }
                Event::Rejected { order_id, reason } => {
                    if let Some(o) = self.orders.get_mut(&order_id) {
                        o.status = OrdStatus::Rejected;
                        o.leaves_lots = 0;
                    }
                    let text = reason.text();
                    let extra = Extra::Reject(reason.ord_rej_reason(), text);
                    self.report(order_id, ExecType::Rejected, Some(extra), &mut reports, out);
                    self.finish(order_id);
                }
                Event::CancelRejected { order_id, reason } => {
                    self.cancel_rejected(order_id, reason, origin, &mut reports, out);
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
                    for (fill, side) in [(buy, Side::Buy), (sell, Side::Sell)] {
                        if let Some(o) = self.orders.get_mut(&fill.order_id) {
                            o.cum_lots = fill.cum_lots;
                            o.leaves_lots = fill.leaves_lots;
                            o.notional += i128::from(price_ticks) * i128::from(qty_lots);
                            o.status = if fill.leaves_lots == 0 {
                                OrdStatus::Filled
                            } else {
                                OrdStatus::PartiallyFilled
                            };
                        }
                        let extra = Extra::Fill {
                            price_ticks,
                            qty_lots,
                            match_id: (match_id.seq, match_id.n),
                            added: side != aggressor,
                        };
                        self.report(
                            fill.order_id,
                            ExecType::Trade,
                            Some(extra),
                            &mut reports,
                            out,
                        );
                        if fill.leaves_lots == 0 {
                            self.finish(fill.order_id);
                        }
                    }
                    out.trades.push(self.trade_record(
                        record,
                        match_id.n,
                        instrument,
                        price_ticks,
                        qty_lots,
                        aggressor,
                        buy,
                        sell,
                    ));
                }
                Event::Replaced {
                    order_id,
                    price_ticks,
                    qty_lots,
                    leaves_lots,
                    ..
                } => {
                    if let Some(o) = self.orders.get_mut(&order_id) {
                        o.kind = with_limit(o.kind, price_ticks);
                        o.qty_lots = qty_lots;
                        o.leaves_lots = leaves_lots;
                        o.status = if o.cum_lots > 0 {
                            OrdStatus::PartiallyFilled
                        } else {
                            OrdStatus::New
                        };
                        promote_pending(o);
                    }
                    self.report(order_id, ExecType::Replaced, None, &mut reports, out);
                }
                Event::Canceled {
                    order_id,
                    canceled_lots: _,
                    reason,
                } => {
                    let (status, exec_type) = match reason {
                        CancelReason::ReplacedBelowExecuted => {
                            if let (Command::Replace(r), Some(o)) =
                                (&record.command, self.orders.get_mut(&order_id))
                            {
                                o.qty_lots = r.qty_lots;
                                promote_pending(o);
                            }
                            let filled = self.orders.get(&order_id).is_some_and(|o| o.cum_lots > 0);
                            let status = if filled {
                                OrdStatus::Filled
                            } else {
                                OrdStatus::Canceled
                            };
                            (status, ExecType::Replaced)
                        }
                        CancelReason::Requested => {
                            if let Some(o) = self.orders.get_mut(&order_id) {
                                promote_pending(o);
                            }
                            (OrdStatus::Canceled, ExecType::Canceled)
                        }
                        _ => (OrdStatus::Canceled, ExecType::Canceled),
                    };
                    if let Some(o) = self.orders.get_mut(&order_id) {
                        o.status = status;
                        o.leaves_lots = 0;
                    }
                    let text = cancel_text(reason, origin);
                    let report = self.build_report(
                        order_id,
                        exec_type,
                        Some(Extra::Text(text)),
                        &mut reports,
                    );
                    if let Some(report) = report {
                        if matches!(reason, CancelReason::MassCancel)
                            && matches!(origin, Origin::MassCancel { .. })
                        {
                            canceled += 1;
                            mass_reports.push(report);
                        } else if send {
                            out.messages.push(report);
                        }
                    }
                    self.finish(order_id);
                }
                Event::Expired { order_id, .. } => {
                    if let Some(o) = self.orders.get_mut(&order_id) {
                        o.status = OrdStatus::Expired;
                        o.leaves_lots = 0;
                    }
                    self.report(order_id, ExecType::Expired, None, &mut reports, out);
                    self.finish(order_id);
                }
                Event::Triggered { order_id } => {
                    // The reports keep the order's OrdType and StopPx as the client sent them.
                    self.report(
                        order_id,
                        ExecType::TriggeredOrActivated,
                        None,
                        &mut reports,
                        out,
                    );
                }
                Event::Replenished { .. }
                | Event::Level { .. }
                | Event::Status { .. }
                | Event::Balance { .. } => {}
            }
        }
        if let (
            Command::MassCancel(_),
            Origin::MassCancel {
                session,
                cl_ord_id,
                req_type,
            },
        ) = (&record.command, origin)
        {
            if let Some(&s) = self.session_by_id.get(session)
                && send
            {
                let mut w = Body::new(&mut self.scratch);
                w.put_str(tags::CL_ORD_ID, cl_ord_id);
                w.put_str(tags::ORDER_ID, &record.seq.to_string());
                w.put_bytes(tags::MASS_CANCEL_REQUEST_TYPE, &[req_type]);
                w.put_bytes(tags::MASS_CANCEL_RESPONSE, &[req_type]);
                w.put_u64(tags::TOTAL_AFFECTED_ORDERS, canceled);
                w.put_time(tags::TRANSACT_TIME, record.ts_ns);
                let msg = w.finish(msg_type::ORDER_MASS_CANCEL_REPORT, &Routing::default());
                out.messages.push((s, msg));
            }
            if send {
                out.messages.append(&mut mass_reports);
            }
        }
        if matches!(record.command, Command::Time { .. }) {
            let now = record.ts_ns;
            while self.expiries.first().is_some_and(|(at, _)| *at <= now) {
                self.expiries.pop_first();
            }
        }
    }

    fn cancel_rejected(
        &mut self,
        order_id: OrderId,
        reason: CancelRejectReason,
        origin: Origin<'_>,
        reports: &mut Reports,
        out: &mut Output,
    ) {
        let (response_to, cl_ord_id) = match origin {
            Origin::Cancel { cl_ord_id, .. } => (b'1', cl_ord_id),
            Origin::Replace { cl_ord_id, .. } => (b'2', cl_ord_id),
            _ => return,
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
            CancelRejectReason::UnknownOrder if order.terminal() => (
                0,
                format!(
                    "too late to cancel: the order is {}",
                    status_text(order.status)
                ),
            ),
            CancelRejectReason::Risk(r) => (99, r.text().to_string()),
            other => (other.cxl_rej_reason(), other.to_string()),
        };
        let orig = order.cl_ord_id.to_string();
        let found = Some((order.id, order.status));
        let routing = order.routing.as_deref().cloned().unwrap_or_default();
        let msg = self.cancel_reject(
            response_to,
            cl_ord_id,
            &orig,
            found,
            code,
            &text,
            &routing,
            reports.ts_ns,
        );
        if let Some(s) = session
            && reports.send
        {
            out.messages.push((s, msg));
        }
    }

    /// Forgets a finished order once [`DONE_ORDERS_MAX`] newer ones have finished.
    fn finish(&mut self, order_id: OrderId) {
        self.done.push_back(order_id);
        while self.done.len() > DONE_ORDERS_MAX {
            let Some(old) = self.done.pop_front() else {
                break;
            };
            if let Some(order) = self.orders.remove(&old)
                && let Some(s) = order.session
            {
                let map = &mut self.sessions[s].by_cl_ord_id;
                for alias in &order.aliases {
                    if map.get(alias) == Some(&old) {
                        map.remove(alias);
                    }
                }
            }
        }
    }

    fn report(
        &mut self,
        order_id: OrderId,
        exec_type: ExecType,
        extra: Option<Extra<'_>>,
        reports: &mut Reports,
        out: &mut Output,
    ) {
        if let Some(report) = self.build_report(order_id, exec_type, extra, reports)
            && reports.send
        {
            out.messages.push(report);
        }
    }

    /// An ExecutionReport of a journaled command: ExecID `<seq>.<n>`, deterministic on replay.
    fn build_report(
        &mut self,
        order_id: OrderId,
        exec_type: ExecType,
        extra: Option<Extra<'_>>,
        reports: &mut Reports,
    ) -> Option<(usize, AppMessage)> {
        reports.exec_n += 1;
        let order = self.orders.get(&order_id)?;
        let session = order.session?;
        if !reports.send {
            return None;
        }
        let exec_id = format!("{}.{}", reports.seq, reports.exec_n);
        let msg = self.execution_report(
            order,
            exec_type,
            order.status,
            &exec_id,
            extra,
            reports.ts_ns,
            None,
        );
        Some((session, msg))
    }

    #[allow(clippy::too_many_arguments)]
    fn execution_report(
        &self,
        order: &Order,
        exec_type: ExecType,
        status: OrdStatus,
        exec_id: &str,
        extra: Option<Extra<'_>>,
        ts_ns: i64,
        status_ids: Option<StatusIds<'_>>,
    ) -> AppMessage {
        let spec = &self.market.instruments[order.instrument.0 as usize];
        // Safe: the scratch buffer is only borrowed while building one message.
        let mut scratch = BytesMut::with_capacity(384);
        let mut w = Body::new(&mut scratch);
        w.put_str(tags::ORDER_ID, &order.id.0.to_string());
        w.put_str(tags::CL_ORD_ID, &order.cl_ord_id);
        if matches!(exec_type, ExecType::Canceled | ExecType::Replaced)
            && let Some(orig) = &order.orig_cl_ord_id
        {
            w.put_str(tags::ORIG_CL_ORD_ID, orig);
        }
        if let Some(ids) = &status_ids {
            ids.put(&mut w);
        }
        w.put_str(tags::EXEC_ID, exec_id);
        w.put_enum(tags::EXEC_TYPE, exec_type);
        w.put_enum(tags::ORD_STATUS, status);
        if let Some(Extra::Reject(code, _)) = extra {
            w.put_u64(tags::ORD_REJ_REASON, u64::from(code));
        }
        if let Some(name) = self.account_names.get(&order.account) {
            w.put_str(tags::ACCOUNT, name);
        }
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
                let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).and_then(|d| {
                    d.checked_add_signed(chrono::TimeDelta::days(i64::from(days_since_epoch)))
                });
                if let Some(date) = date {
                    w.put_str(tags::EXPIRE_DATE, &date.format("%Y%m%d").to_string());
                }
            }
            _ => {}
        }
        if let Some(Extra::Fill {
            price_ticks,
            qty_lots,
            ..
        }) = extra
        {
            w.put_decimal(tags::LAST_QTY, spec.lots_to_qty(qty_lots));
            w.put_decimal(tags::LAST_PX, spec.ticks_to_price(price_ticks));
        }
        w.put_decimal(tags::LEAVES_QTY, spec.lots_to_qty(order.leaves_lots));
        w.put_decimal(tags::CUM_QTY, spec.lots_to_qty(order.cum_lots));
        w.put_decimal(tags::AVG_PX, avg_px(spec, order));
        w.put_time(tags::TRANSACT_TIME, ts_ns);
        match extra {
            Some(Extra::Reject(_, text)) | Some(Extra::Text(Some(text))) => {
                w.put_str(tags::TEXT, text);
            }
            Some(Extra::Fill {
                match_id, added, ..
            }) => {
                w.put_str(
                    tags::TRD_MATCH_ID,
                    &format!("{}-{}", match_id.0, match_id.1),
                );
                w.put_char(tags::LAST_LIQUIDITY_IND, if added { b'1' } else { b'2' });
            }
            _ => {}
        }
        let routing = order.routing.as_deref().cloned().unwrap_or_default();
        w.finish(msg_type::EXECUTION_REPORT, &routing)
    }

    /// The ExecutionReport of a new order refused at the edge (it never reached the engine).
    fn refused_new(
        &mut self,
        req: &NewRequest,
        code: u32,
        text: &str,
        routing: &Routing,
        now_ns: i64,
    ) -> AppMessage {
        let exec_id = self.next_status_exec_id();
        let mut w = Body::new(&mut self.scratch);
        w.put_str(tags::ORDER_ID, NO_ORDER_ID);
        w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
        w.put_str(tags::EXEC_ID, &exec_id);
        w.put_enum(tags::EXEC_TYPE, ExecType::Rejected);
        w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
        w.put_u64(tags::ORD_REJ_REASON, u64::from(code));
        if let Some(account) = &req.account {
            w.put_str(tags::ACCOUNT, account);
        }
        w.put_str(tags::SYMBOL, &req.symbol);
        w.put_char(tags::SIDE, if req.side == 0 { b'1' } else { req.side });
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
        w.put_u64(tags::LEAVES_QTY, 0);
        w.put_u64(tags::CUM_QTY, 0);
        w.put_u64(tags::AVG_PX, 0);
        w.put_time(tags::TRANSACT_TIME, now_ns);
        w.put_str(tags::TEXT, text);
        w.finish(msg_type::EXECUTION_REPORT, routing)
    }

    #[allow(clippy::too_many_arguments)]
    fn cancel_reject(
        &mut self,
        response_to: u8,
        cl_ord_id: &str,
        orig_cl_ord_id: &str,
        found: Option<(OrderId, OrdStatus)>,
        code: u32,
        text: &str,
        routing: &Routing,
        now_ns: i64,
    ) -> AppMessage {
        let mut w = Body::new(&mut self.scratch);
        match found {
            Some((id, _)) => w.put_str(tags::ORDER_ID, &id.0.to_string()),
            None => w.put_str(tags::ORDER_ID, NO_ORDER_ID),
        };
        w.put_str(tags::CL_ORD_ID, cl_ord_id);
        w.put_str(tags::ORIG_CL_ORD_ID, orig_cl_ord_id);
        let status = match found {
            Some((_, OrdStatus::PendingNew)) => OrdStatus::New,
            Some((_, status)) => status,
            None => OrdStatus::Rejected,
        };
        w.put_enum(tags::ORD_STATUS, status);
        w.put_time(tags::TRANSACT_TIME, now_ns);
        w.put_char(tags::CXL_REJ_RESPONSE_TO, response_to);
        w.put_u64(tags::CXL_REJ_REASON, u64::from(code));
        w.put_str(tags::TEXT, text);
        w.finish(msg_type::ORDER_CANCEL_REJECT, routing)
    }

    fn next_status_exec_id(&mut self) -> String {
        self.status_count += 1;
        format!("{}-{}", self.status_prefix, self.status_count)
    }

    fn status(
        &mut self,
        session: usize,
        req: &StatusRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let exec_id = self.next_status_exec_id();
        let ids = StatusIds::Order(req.ord_status_req_id.as_deref());
        let order = self
            .live_order_for(session, &req.cl_ord_id)
            .or_else(|| {
                let id = req.order_id.as_ref()?.parse().ok()?;
                self.orders
                    .get(&OrderId(id))
                    .filter(|o| o.session == Some(session))
            })
            .filter(|o| o.status != OrdStatus::PendingNew);
        let msg = match order {
            Some(order) => self.execution_report(
                order,
                ExecType::OrderStatus,
                order.status,
                &exec_id,
                None,
                now_ns,
                Some(ids),
            ),
            None => {
                let mut w = Body::new(&mut self.scratch);
                w.put_str(
                    tags::ORDER_ID,
                    req.order_id.as_deref().unwrap_or(NO_ORDER_ID),
                );
                w.put_str(tags::CL_ORD_ID, &req.cl_ord_id);
                ids.put(&mut w);
                w.put_str(tags::EXEC_ID, &exec_id);
                w.put_enum(tags::EXEC_TYPE, ExecType::OrderStatus);
                w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
                w.put_u64(tags::ORD_REJ_REASON, 5);
                w.put_str(tags::SYMBOL, &req.symbol);
                w.put_char(tags::SIDE, if req.side == 0 { b'1' } else { req.side });
                w.put_u64(tags::LEAVES_QTY, 0);
                w.put_u64(tags::CUM_QTY, 0);
                w.put_u64(tags::AVG_PX, 0);
                w.put_time(tags::TRANSACT_TIME, now_ns);
                w.put_str(tags::TEXT, "unknown order");
                w.finish(msg_type::EXECUTION_REPORT, routing)
            }
        };
        out.messages.push((session, msg));
    }

    fn mass_status(
        &mut self,
        session: usize,
        req: &MassStatusRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let instrument = req
            .symbol
            .as_ref()
            .and_then(|s| self.symbols.get(s).copied());
        let mut ids: Vec<OrderId> = self.sessions[session]
            .by_cl_ord_id
            .values()
            .copied()
            .filter(|id| {
                self.orders.get(id).is_some_and(|o| {
                    !o.terminal()
                        && o.status != OrdStatus::PendingNew
                        && instrument.is_none_or(|i| o.instrument == i)
                })
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let total = ids.len();
        if total == 0 {
            let exec_id = self.next_status_exec_id();
            let mut w = Body::new(&mut self.scratch);
            w.put_str(tags::ORDER_ID, NO_ORDER_ID);
            StatusIds::Mass {
                id: &req.mass_status_req_id,
                total: 0,
                last: true,
            }
            .put(&mut w);
            w.put_str(tags::EXEC_ID, &exec_id);
            w.put_enum(tags::EXEC_TYPE, ExecType::OrderStatus);
            w.put_enum(tags::ORD_STATUS, OrdStatus::Rejected);
            w.put_str(tags::SYMBOL, req.symbol.as_deref().unwrap_or("[N/A]"));
            w.put_char(tags::SIDE, b'1');
            w.put_u64(tags::LEAVES_QTY, 0);
            w.put_u64(tags::CUM_QTY, 0);
            w.put_u64(tags::AVG_PX, 0);
            w.put_time(tags::TRANSACT_TIME, now_ns);
            w.put_str(tags::TEXT, "no live orders match the request");
            let msg = w.finish(msg_type::EXECUTION_REPORT, routing);
            out.messages.push((session, msg));
            return;
        }
        for (i, id) in ids.iter().enumerate() {
            let exec_id = self.next_status_exec_id();
            let order = &self.orders[id];
            let msg = self.execution_report(
                order,
                ExecType::OrderStatus,
                order.status,
                &exec_id,
                None,
                now_ns,
                Some(StatusIds::Mass {
                    id: &req.mass_status_req_id,
                    total,
                    last: i + 1 == total,
                }),
            );
            out.messages.push((session, msg));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn trade_record(
        &self,
        record: &Sequenced,
        match_n: u32,
        instrument: InstrumentId,
        price_ticks: i64,
        qty_lots: i64,
        aggressor: Side,
        buy: engine::Fill,
        sell: engine::Fill,
    ) -> TradeRecord {
        let spec = &self.market.instruments[instrument.0 as usize];
        let side = |fill: engine::Fill| {
            let order = self.orders.get(&fill.order_id);
            TradeSide {
                order_id: fill.order_id.0,
                account: self
                    .account_names
                    .get(&fill.account)
                    .cloned()
                    .unwrap_or_default(),
                session: order
                    .and_then(|o| o.session)
                    .map(|s| self.sessions[s].info.id.clone())
                    .unwrap_or_default(),
                cl_ord_id: order.map(|o| o.cl_ord_id.to_string()).unwrap_or_default(),
            }
        };
        TradeRecord {
            match_seq: record.seq,
            match_n,
            ts_ns: record.ts_ns,
            symbol: spec.symbol.clone(),
            price: spec.ticks_to_price(price_ticks),
            qty: spec.lots_to_qty(qty_lots),
            currency: self
                .market
                .currencies
                .get(spec.currency as usize)
                .cloned()
                .unwrap_or_default(),
            aggressor,
            buy: side(buy),
            sell: side(sell),
        }
    }
}

/// The per-command counter of ExecIDs and what is being replayed.
struct Reports {
    seq: Seq,
    ts_ns: i64,
    exec_n: u32,
    send: bool,
}

#[derive(Clone, Copy, Debug)]
enum Extra<'a> {
    Reject(u32, &'a str),
    Fill {
        price_ticks: i64,
        qty_lots: i64,
        match_id: (Seq, u32),
        added: bool,
    },
    Text(Option<&'a str>),
}

#[derive(Clone, Copy, Debug)]
enum StatusIds<'a> {
    Order(Option<&'a str>),
    Mass {
        id: &'a str,
        total: usize,
        last: bool,
    },
}

impl StatusIds<'_> {
    fn put(&self, w: &mut Body<'_>) {
        match *self {
            StatusIds::Order(Some(id)) => {
                w.put_str(tags::ORD_STATUS_REQ_ID, id);
            }
            StatusIds::Order(None) => {}
            StatusIds::Mass { id, total, last } => {
                w.put_str(tags::MASS_STATUS_REQ_ID, id);
                w.put_u64(tags::TOT_NUM_REPORTS, total as u64);
                w.put_bool(tags::LAST_RPT_REQUESTED, last);
            }
        }
    }
}

/// An application message body under construction.
struct Body<'b> {
    fields: FieldWriter<'b>,
}

impl<'b> Body<'b> {
    fn new(buf: &'b mut BytesMut) -> Body<'b> {
        buf.clear();
        Body {
            fields: FieldWriter::new(buf),
        }
    }

    fn put_time(&mut self, tag: u32, ts_ns: i64) {
        let time = chrono::DateTime::from_timestamp_nanos(ts_ns);
        let mut text = [0u8; UTC_TIMESTAMP_BYTES_MAX];
        let n = format_utc_timestamp(&time, TimePrecision::Micros, &mut text);
        self.fields.put_bytes(tag, &text[..n]);
    }

    fn finish(self, msg_type: &[u8], routing: &Routing) -> AppMessage {
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

/// A BusinessMessageReject (the gateway's, and the session application's own: role, throttle, overload).
pub fn business_reject(
    ref_seq: u64,
    ref_msg_type: &[u8],
    reason: BusinessRejectReason,
    text: &str,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(128);
    let mut w = Body::new(&mut buf);
    if ref_seq > 0 {
        w.put_u64(tags::REF_SEQ_NUM, ref_seq);
    }
    w.put_bytes(tags::REF_MSG_TYPE, ref_msg_type);
    w.put_enum(tags::BUSINESS_REJECT_REASON, reason);
    w.put_str(tags::TEXT, text);
    w.finish(msg_type::BUSINESS_MESSAGE_REJECT, routing)
}

fn reject(reason: RejectReason) -> (u32, String) {
    (reason.ord_rej_reason(), reason.text().to_string())
}

fn lots(spec: &InstrumentSpec, qty: Decimal) -> Result<i64, (u32, String)> {
    spec.qty_to_lots(qty).map_err(reject)
}

fn routing_is_empty(routing: &Routing) -> bool {
    routing.on_behalf_of.iter().all(Option::is_none)
        && routing.deliver_to.iter().all(Option::is_none)
}

/// A cancel or replace took effect: its ClOrdID becomes the order's, the previous one its OrigClOrdID.
fn promote_pending(order: &mut Order) {
    if let Some(cl_ord_id) = order.pending.take() {
        let old = std::mem::replace(&mut order.cl_ord_id, cl_ord_id);
        order.orig_cl_ord_id = Some(old);
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

fn avg_px(spec: &InstrumentSpec, order: &Order) -> Decimal {
    if order.cum_lots == 0 {
        return Decimal::ZERO;
    }
    let Some(notional) =
        Decimal::from_i128_with_scale(order.notional, 0).checked_mul(spec.tick_size)
    else {
        return Decimal::ZERO;
    };
    (notional / Decimal::from(order.cum_lots))
        .round_dp(8)
        .normalize()
}

fn side_code(side: Side) -> u8 {
    match side {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

fn ord_type_code(kind: OrderKind) -> u8 {
    match kind {
        OrderKind::Market => b'1',
        OrderKind::Limit { .. } => b'2',
        OrderKind::Stop { .. } => b'3',
        OrderKind::StopLimit { .. } => b'4',
    }
}

fn tif_code(tif: TimeInForce) -> u8 {
    match tif {
        TimeInForce::Day => b'0',
        TimeInForce::Gtc => b'1',
        TimeInForce::Ioc => b'3',
        TimeInForce::Fok => b'4',
        TimeInForce::Gtd(_) => b'6',
    }
}

fn status_text(status: OrdStatus) -> &'static str {
    match status {
        OrdStatus::Filled => "filled",
        OrdStatus::Canceled => "canceled",
        OrdStatus::Rejected => "rejected",
        OrdStatus::Expired => "expired",
        _ => "live",
    }
}

fn cancel_text(reason: CancelReason, origin: Origin<'_>) -> Option<&'static str> {
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
