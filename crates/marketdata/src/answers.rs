//! Requests answered: MarketDataRequest (subscribe, snapshot, unsubscribe, or MarketDataRequestReject with its
//! reason), SecurityListRequest, SecurityStatusRequest and TradingSessionStatusRequest. Answers go out at once:
//! they reflect every released command, and the increments that follow them continue from there.

use engine::InstrumentId;
use fix::tags::BusinessRejectReason;
use session::Routing;
use session::app::{AppMessage, business_reject};

use crate::encode::{self, ListResult, SessionStatus};
use crate::feed::{
    MARKET_DEPTH_MAX, MD_SUBSCRIPTIONS_PER_SESSION_MAX, MD_SYMBOLS_PER_REQUEST_MAX, MarketData,
    STATUS_SUBSCRIPTIONS_PER_SESSION_MAX, Subscription, TRADING_SESSION_ID,
};
use crate::request::{
    MarketDataRequest, MdInbound, MdRequest, SecurityListRequest, SecurityStatusRequest,
    TradingSessionStatusRequest,
};
use crate::tags::{RejectReason, entry_type, msg_type};

type Out = Vec<(usize, AppMessage)>;

/// A request refused before it reached market data: a MarketDataRequest from a session not allowed market data.
pub fn not_permitted(md_req_id: &str, routing: &Routing) -> AppMessage {
    encode::request_reject(
        md_req_id,
        Some(RejectReason::InsufficientPermissions),
        "this session may not receive market data (it is a drop-copy session)",
        routing,
    )
}

impl MarketData {
    /// One request of `session`; its answers are appended to `out`.
    pub fn request(&mut self, session: usize, inbound: MdInbound, out: &mut Out) {
        if session >= self.sessions.len() {
            return;
        }
        let MdInbound {
            ref_seq,
            routing,
            request,
        } = inbound;
        match request {
            MdRequest::MarketData(req) => self.market_data_request(session, req, routing, out),
            MdRequest::SecurityList(req) => self.security_list(session, req, &routing, out),
            MdRequest::SecurityStatus(req) => {
                self.security_status(session, ref_seq, req, routing, out)
            }
            MdRequest::TradingSessionStatus(req) => {
                self.trading_session_status(session, req, routing, out)
            }
        }
    }

    fn market_data_request(
        &mut self,
        session: usize,
        req: MarketDataRequest,
        routing: Routing,
        out: &mut Out,
    ) {
        let reject = |reason: Option<RejectReason>, text: &str| {
            encode::request_reject(&req.md_req_id, reason, text, &routing)
        };
        if req.subscription == b'2' {
            let subs = &mut self.sessions[session].subs;
            match subs.iter().position(|s| s.md_req_id == req.md_req_id) {
                Some(at) => {
                    let sub = subs.remove(at);
                    if !sub.aggregated {
                        for x in &sub.instruments {
                            self.l3_subscriptions[x.0 as usize] -= 1;
                        }
                    }
                }
                None => out.push((
                    session,
                    reject(
                        Some(RejectReason::UnsupportedSubscriptionRequestType),
                        "unsubscribe (263=2) names no live subscription of this session",
                    ),
                )),
            }
            return;
        }
        match self.check(session, &req) {
            Ok((instruments, types)) => {
                let sub = Subscription {
                    md_req_id: req.md_req_id.clone(),
                    routing: routing.clone(),
                    rpt_seq: vec![0; instruments.len()],
                    instruments,
                    depth: req.market_depth as usize,
                    aggregated: req.aggregated.unwrap_or(true),
                    full_refresh: req.update_type == Some(b'0'),
                    types,
                    pending: Vec::new(),
                    refresh: Vec::new(),
                };
                let style = self.sessions[session].style;
                for (at, x) in sub.instruments.iter().enumerate() {
                    let i = x.0 as usize;
                    let entries = self.snapshot_entries(i, &sub);
                    out.push((
                        session,
                        encode::snapshot(
                            &sub.md_req_id,
                            &self.specs[i],
                            sub.rpt_seq[at],
                            &entries,
                            style,
                            &routing,
                        ),
                    ));
                }
                self.responses += 1;
                if req.subscription == b'1' {
                    if !sub.aggregated {
                        for x in &sub.instruments {
                            self.l3_subscriptions[x.0 as usize] += 1;
                        }
                    }
                    self.sessions[session].subs.push(sub);
                }
            }
            Err((reason, text)) => out.push((session, reject(Some(reason), &text))),
        }
    }

    /// The checks of a MarketDataRequest, in order; the instruments and entry types it names.
    fn check(
        &self,
        session: usize,
        req: &MarketDataRequest,
    ) -> Result<(Vec<InstrumentId>, u16), (RejectReason, String)> {
        if let Some(refused) = &req.refused {
            return Err(refused.clone());
        }
        let subs = &self.sessions[session].subs;
        if subs.iter().any(|s| s.md_req_id == req.md_req_id) {
            return Err((
                RejectReason::DuplicateMdReqId,
                "MDReqID is already in use by a live subscription of this session".into(),
            ));
        }
        if req.symbols.is_empty() {
            return Err((RejectReason::UnknownSymbol, "no Symbol (55) named".into()));
        }
        if req.symbols.len() > MD_SYMBOLS_PER_REQUEST_MAX {
            return Err((
                RejectReason::InsufficientBandwidth,
                format!("at most {MD_SYMBOLS_PER_REQUEST_MAX} symbols per request"),
            ));
        }
        let mut instruments = Vec::with_capacity(req.symbols.len());
        for symbol in &req.symbols {
            match self.specs.iter().position(|s| &s.symbol == symbol) {
                Some(i) if !instruments.contains(&InstrumentId(i as u32)) => {
                    instruments.push(InstrumentId(i as u32))
                }
                Some(_) => {}
                None => {
                    return Err((
                        RejectReason::UnknownSymbol,
                        format!("unknown symbol {symbol}"),
                    ));
                }
            }
        }
        if !(0..=MARKET_DEPTH_MAX).contains(&req.market_depth) {
            return Err((
                RejectReason::UnsupportedMarketDepth,
                format!("MarketDepth must be 0 (full book) to {MARKET_DEPTH_MAX}"),
            ));
        }
        if req.update_type.is_some_and(|t| t != b'0' && t != b'1') {
            return Err((
                RejectReason::UnsupportedMdUpdateType,
                "MDUpdateType must be 0 (full refresh) or 1 (incremental)".into(),
            ));
        }
        let aggregated = req.aggregated.unwrap_or(true);
        if !aggregated && req.market_depth != 0 {
            return Err((
                RejectReason::UnsupportedAggregatedBook,
                "order by order (266=N) is offered for the full book only (264=0)".into(),
            ));
        }
        if req.subscription == b'1' {
            match req.update_type {
                None => {
                    return Err((
                        RejectReason::UnsupportedMdUpdateType,
                        "MDUpdateType (265) is required with SubscriptionRequestType 1".into(),
                    ));
                }
                Some(b'0') if !aggregated => {
                    return Err((
                        RejectReason::UnsupportedMdUpdateType,
                        "a full refresh on every change is offered for aggregated books only: use 265=1".into(),
                    ));
                }
                _ => {}
            }
            if subs.len() >= MD_SUBSCRIPTIONS_PER_SESSION_MAX {
                return Err((
                    RejectReason::InsufficientBandwidth,
                    format!(
                        "at most {MD_SUBSCRIPTIONS_PER_SESSION_MAX} live subscriptions per session"
                    ),
                ));
            }
        }
        let mut types = 0u16;
        for t in &req.entry_types {
            match entry_type::ALL.iter().position(|x| x == t) {
                Some(bit) => types |= 1 << bit,
                None => {
                    return Err((
                        RejectReason::UnsupportedMdEntryType,
                        format!(
                            "MDEntryType {} is not published; the venue publishes 0 1 2 4 7 8 9 B",
                            *t as char
                        ),
                    ));
                }
            }
        }
        if types == 0 {
            return Err((
                RejectReason::UnsupportedMdEntryType,
                "no MDEntryType (269) named".into(),
            ));
        }
        Ok((instruments, types))
    }

    fn security_list(
        &mut self,
        session: usize,
        req: SecurityListRequest,
        routing: &Routing,
        out: &mut Out,
    ) {
        self.responses += 1;
        let response_id = format!("SL{}", self.responses);
        let style = self.sessions[session].style;
        let currency = |c: u32| self.currencies.get(c as usize).map_or("", |s| s.as_str());
        let listed: Vec<_> = self
            .specs
            .iter()
            .filter(|spec| req.symbol.as_ref().is_none_or(|s| *s == spec.symbol))
            .map(|spec| (spec, currency(spec.currency)))
            .collect();
        let unsupported = req.refused.is_some()
            || !matches!(req.list_type, 0 | 4)
            || (req.list_type == 0 && req.symbol.is_none());
        let result = if unsupported {
            ListResult::Unsupported
        } else if listed.is_empty() {
            ListResult::NoInstruments
        } else {
            ListResult::Valid
        };
        let listed = if req.list_type == 4 || result != ListResult::Valid {
            if result == ListResult::Valid {
                self.specs
                    .iter()
                    .map(|spec| (spec, currency(spec.currency)))
                    .collect()
            } else {
                Vec::new()
            }
        } else {
            listed
        };
        out.push((
            session,
            encode::security_list(&req.req_id, &response_id, result, &listed, style, routing),
        ));
    }

    fn security_status(
        &mut self,
        session: usize,
        ref_seq: u64,
        req: SecurityStatusRequest,
        routing: Routing,
        out: &mut Out,
    ) {
        let bmr = |reason, text: &str| {
            business_reject(
                ref_seq,
                msg_type::SECURITY_STATUS_REQUEST,
                reason,
                text,
                &routing,
            )
        };
        if let Some(text) = &req.refused {
            out.push((session, bmr(BusinessRejectReason::Other, text)));
            return;
        }
        let Some(i) = self.specs.iter().position(|s| s.symbol == req.symbol) else {
            out.push((
                session,
                bmr(
                    BusinessRejectReason::UnknownSecurity,
                    &format!("unknown symbol {}", req.symbol),
                ),
            ));
            return;
        };
        let instrument = InstrumentId(i as u32);
        let subs = &mut self.sessions[session].status_subs;
        match req.subscription {
            b'2' => {
                subs.retain(|(id, x, _)| !(*id == req.req_id && *x == instrument));
                return;
            }
            b'1' if subs.len() >= STATUS_SUBSCRIPTIONS_PER_SESSION_MAX => {
                out.push((
                    session,
                    bmr(
                        BusinessRejectReason::Other,
                        &format!(
                            "at most {STATUS_SUBSCRIPTIONS_PER_SESSION_MAX} status subscriptions per session"
                        ),
                    ),
                ));
                return;
            }
            b'1' => subs.push((req.req_id.clone(), instrument, routing.clone())),
            _ => {}
        }
        out.push((
            session,
            encode::security_status(
                Some(&req.req_id),
                &req.symbol,
                self.status[i],
                self.now_ns,
                self.sessions[session].style,
                &routing,
            ),
        ));
    }

    fn trading_session_status(
        &mut self,
        session: usize,
        req: TradingSessionStatusRequest,
        routing: Routing,
        out: &mut Out,
    ) {
        let answer = |status, text: Option<&str>| {
            encode::trading_session_status(
                Some(&req.req_id),
                TRADING_SESSION_ID,
                status,
                text,
                &routing,
            )
        };
        if let Some(text) = &req.refused {
            let status = SessionStatus::Rejected {
                unknown_session: false,
            };
            out.push((session, answer(status, Some(text))));
            return;
        }
        if req
            .trading_session_id
            .as_ref()
            .is_some_and(|id| id != TRADING_SESSION_ID)
        {
            let status = SessionStatus::Rejected {
                unknown_session: true,
            };
            let text = format!("the venue's one trading session is {TRADING_SESSION_ID}");
            out.push((session, answer(status, Some(&text))));
            return;
        }
        let subs = &mut self.sessions[session].session_status_subs;
        match req.subscription {
            b'2' => {
                subs.retain(|(id, _)| *id != req.req_id);
                return;
            }
            b'1' if subs.len() < STATUS_SUBSCRIPTIONS_PER_SESSION_MAX => {
                subs.push((req.req_id.clone(), routing.clone()))
            }
            _ => {}
        }
        let status = if self.venue_open() {
            SessionStatus::Open
        } else {
            SessionStatus::Halted
        };
        out.push((session, answer(status, None)));
    }
}
