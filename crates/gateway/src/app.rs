//! The session layer's application for order entry: one per configured session, living as long as the session,
//! running on the connection's task. It checks what belongs to the session alone (its role, its throttle, its
//! cancel-on-disconnect setting), reads the request, and hands it to the gateway thread. Everything that needs
//! the venue's state is answered by the gateway, later, through the venue handle.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use crossbeam_channel::{Sender, TrySendError};

use fix::Message;
use fix::tags::{self, BusinessRejectReason, msg_type};
use session::Routing;
use session::app::{AppMessage, Application, Settled};
use session::config::{Role, SessionConfig, Throttle};

use super::core::{Input, business_reject};
use super::request;

/// The order-entry application of one session.
pub struct GatewayApp {
    session: usize,
    role: Role,
    cancel_on_disconnect: bool,
    input: Sender<Input>,
    throttle: Option<Bucket>,
    /// A session logged out by the throttle may not log on before this.
    cooldown_until: Option<DateTime<Utc>>,
    logout: Option<String>,
    /// The throttle reject that passed ThrottleMaxRejects, on its way through the gateway, and the Logout text
    /// that follows it as soon as it is sent (so that no reject of an earlier message comes after the Logout).
    logout_after: Option<(AppMessage, String)>,
    /// Messages handed to the gateway thread whose effect is not yet known durable, in MsgSeqNum order.
    unsettled: VecDeque<(u64, Unsettled)>,
    /// The highest reports mark seen (see [`Settled::ReportsThrough`]).
    reports_through: u64,
}

/// Messages of one session handed to the gateway thread and not yet settled, at most: past it the connection
/// stops reading its socket until answers come back (the venue slows its intake instead of refusing orders).
pub const UNSETTLED_MAX: usize = 4_096;

/// Where a message handed to the gateway thread stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsettled {
    /// Not yet taken in by the gateway thread.
    Handed,
    /// Taken in: durable once the reports through this command are logged.
    After(u64),
    Settled,
}

/// The MsgSeqNum (34) of a message that passed the session's checks.
fn in_seq_of(msg: &Message) -> u64 {
    msg.get(tags::MSG_SEQ_NUM)
        .and_then(|v| v.as_uint().ok())
        .unwrap_or(0)
}

impl GatewayApp {
    /// The application of session number `session` (its index in the gateway's session list).
    pub fn new(session: usize, config: &SessionConfig, input: Sender<Input>) -> GatewayApp {
        GatewayApp {
            session,
            role: config.role,
            cancel_on_disconnect: config.cancel_on_disconnect,
            input,
            throttle: config.throttle.map(Bucket::new),
            cooldown_until: None,
            logout: None,
            logout_after: None,
            unsettled: VecDeque::new(),
            reports_through: 0,
        }
    }

    /// A BusinessMessageReject, sent through the gateway so it keeps its place among the answers to the session's
    /// earlier requests; answered at once only if the gateway cannot take it.
    fn reject(
        &mut self,
        msg: &Message,
        reason: BusinessRejectReason,
        text: &str,
        routing: &Routing,
    ) -> Vec<AppMessage> {
        self.send_answer(in_seq_of(msg), reject_of(msg, reason, text, routing))
    }
}

impl GatewayApp {
    /// V, x, e and g: trading and market-data sessions may send them; a drop-copy session gets a
    /// MarketDataRequestReject (insufficient permissions) or a BusinessMessageReject (not authorized).
    fn market_data_request(&mut self, msg: &Message, routing: &Routing) -> Vec<AppMessage> {
        let inbound = match marketdata::request::parse(msg, routing) {
            Some(Ok(inbound)) => inbound,
            Some(Err(text)) => {
                return self.reject(msg, BusinessRejectReason::Other, &text, routing);
            }
            None => return Vec::new(),
        };
        if self.role == Role::DropCopy {
            if let marketdata::MdRequest::MarketData(req) = &inbound.request {
                return self.send_answer(
                    in_seq_of(msg),
                    marketdata::not_permitted(&req.md_req_id, routing),
                );
            }
            return self.reject(
                msg,
                BusinessRejectReason::NotAuthorized,
                "this session may not send market-data or reference-data requests (it is a drop-copy session)",
                routing,
            );
        }
        match self.input.try_send(Input::MarketData {
            session: self.session,
            inbound,
        }) {
            Ok(()) => Vec::new(),
            Err(TrySendError::Full(_)) => vec![reject_of(
                msg,
                BusinessRejectReason::Other,
                "venue overloaded: the request was not accepted; send it again",
                routing,
            )],
            Err(TrySendError::Disconnected(_)) => vec![reject_of(
                msg,
                BusinessRejectReason::ApplicationNotAvailable,
                "market data is stopping",
                routing,
            )],
        }
    }

    /// An answer to the message `in_seq` sent through the gateway, in its turn (at once if the gateway cannot
    /// take it).
    fn send_answer(&mut self, in_seq: u64, msg: AppMessage) -> Vec<AppMessage> {
        match self.input.try_send(Input::Answer {
            session: self.session,
            in_seq,
            msg,
        }) {
            Ok(()) => {
                self.unsettled.push_back((in_seq, Unsettled::Handed));
                Vec::new()
            }
            Err(TrySendError::Full(Input::Answer { msg, .. }))
            | Err(TrySendError::Disconnected(Input::Answer { msg, .. })) => vec![msg],
            Err(_) => Vec::new(),
        }
    }
}

/// The BusinessMessageReject of `msg` (the gateway's one builder of it).
fn reject_of(
    msg: &Message,
    reason: BusinessRejectReason,
    text: &str,
    routing: &Routing,
) -> AppMessage {
    business_reject(request::ref_seq(msg), msg.msg_type(), reason, text, routing)
}

/// Message types of order entry.
const ORDER_ENTRY: [&[u8]; 6] = [
    msg_type::NEW_ORDER_SINGLE,
    msg_type::ORDER_CANCEL_REQUEST,
    msg_type::ORDER_CANCEL_REPLACE_REQUEST,
    msg_type::ORDER_STATUS_REQUEST,
    msg_type::ORDER_MASS_STATUS_REQUEST,
    msg_type::ORDER_MASS_CANCEL_REQUEST,
];

impl Application for GatewayApp {
    fn on_logon(&mut self, logon: &Message, now: DateTime<Utc>) -> Result<(), String> {
        if let Some(until) = self.cooldown_until {
            if now < until {
                return Err(format!(
                    "Logon refused: throttle cool-down for {} more seconds",
                    (until - now).num_seconds() + 1
                ));
            }
            self.cooldown_until = None;
        }
        let cancel_on_disconnect = logon
            .get(tags::CANCEL_ON_DISCONNECT)
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(self.cancel_on_disconnect);
        if let Some(bucket) = &mut self.throttle {
            bucket.reset(now);
        }
        self.logout = None;
        self.logout_after = None;
        // Rare and must not be lost: wait for room.
        let _ = self.input.send(Input::Logon {
            session: self.session,
            cancel_on_disconnect,
        });
        Ok(())
    }

    fn on_message(
        &mut self,
        msg: &Message,
        routing: &Routing,
        now: DateTime<Utc>,
    ) -> Vec<AppMessage> {
        let order_entry = ORDER_ENTRY.contains(&msg.msg_type());
        if order_entry && self.role != Role::Trading {
            return self.reject(
                msg,
                BusinessRejectReason::NotAuthorized,
                "this session may not send orders (it is not a trading session)",
                routing,
            );
        }
        // Trade capture is for trading sessions (their own accounts) and drop copies (their scope).
        if msg.msg_type() == request::TRADE_CAPTURE_REPORT_REQUEST && self.role == Role::MarketData
        {
            return self.reject(
                msg,
                BusinessRejectReason::NotAuthorized,
                "this session may not send trade capture requests (it is a market-data session)",
                routing,
            );
        }
        if let Some(bucket) = &mut self.throttle
            && !bucket.take(now)
        {
            let limits = bucket.limits;
            let text = format!(
                "throttle: over {} messages per second (burst {}); message not processed",
                limits.rate_per_s, limits.burst
            );
            if bucket.rejects_this_second != limits.max_rejects.saturating_add(1) {
                return self.reject(msg, BusinessRejectReason::Other, &text, routing);
            }
            // The reject that passes ThrottleMaxRejects: the Logout comes right after it.
            tracing::info!(
                session = self.session,
                "throttle: more than {} rejects in one second: logging out",
                limits.max_rejects
            );
            let logout = format!(
                "throttle: more than {} messages over the limit in one second; logging out for {} s",
                limits.max_rejects, limits.cooldown_s
            );
            self.cooldown_until = Some(now + TimeDelta::seconds(i64::from(limits.cooldown_s)));
            let answers = self.reject(msg, BusinessRejectReason::Other, &text, routing);
            if answers.is_empty() {
                self.logout_after = Some((
                    reject_of(msg, BusinessRejectReason::Other, &text, routing),
                    logout,
                ));
            } else {
                self.logout = Some(logout);
            }
            return answers;
        }
        if marketdata::request::is_market_data_request(msg.msg_type()) {
            return self.market_data_request(msg, routing);
        }
        let Some(inbound) = request::parse(msg, routing) else {
            if msg.msg_type() == msg_type::BUSINESS_MESSAGE_REJECT {
                // Never reject a reject: that is how two parties loop.
                return Vec::new();
            }
            return self.reject(
                msg,
                BusinessRejectReason::UnsupportedMessageType,
                "Unsupported message type: the venue does not take it from a client",
                routing,
            );
        };
        let in_seq = inbound.ref_seq;
        match self.input.try_send(Input::Request {
            session: self.session,
            inbound,
        }) {
            Ok(()) => {
                self.unsettled.push_back((in_seq, Unsettled::Handed));
                Vec::new()
            }
            // Answered at once: the gateway's input is full or closed.
            Err(TrySendError::Full(_)) => vec![reject_of(
                msg,
                BusinessRejectReason::Other,
                "venue overloaded: the request was not accepted; send it again",
                routing,
            )],
            Err(TrySendError::Disconnected(_)) => vec![reject_of(
                msg,
                BusinessRejectReason::ApplicationNotAvailable,
                "order entry is stopping",
                routing,
            )],
        }
    }

    fn take_logout(&mut self) -> Option<String> {
        self.logout.take()
    }

    fn on_sent(&mut self, msg: &AppMessage) {
        if self
            .logout_after
            .as_ref()
            .is_some_and(|(reject, _)| reject == msg)
        {
            self.logout = self.logout_after.take().map(|(_, text)| text);
        }
    }

    fn backlogged(&self) -> bool {
        self.unsettled.len() >= UNSETTLED_MAX
    }

    fn unsettled_in(&self) -> Option<u64> {
        self.unsettled.front().map(|(in_seq, _)| *in_seq)
    }

    fn settle(&mut self, settled: Settled) {
        match settled {
            Settled::Taken { in_seq, after } => {
                if let Some(entry) = self.unsettled.iter_mut().find(|(seq, _)| *seq == in_seq) {
                    entry.1 = if after <= self.reports_through {
                        Unsettled::Settled
                    } else {
                        Unsettled::After(after)
                    };
                }
            }
            Settled::ReportsThrough(seq) => {
                self.reports_through = self.reports_through.max(seq);
                for entry in &mut self.unsettled {
                    if matches!(entry.1, Unsettled::After(after) if after <= seq) {
                        entry.1 = Unsettled::Settled;
                    }
                }
            }
        }
        while self
            .unsettled
            .front()
            .is_some_and(|(_, state)| *state == Unsettled::Settled)
        {
            self.unsettled.pop_front();
        }
    }

    fn on_disconnect(&mut self) {
        // Cancel-on-disconnect depends on it: wait for room.
        let _ = self.input.send(Input::Disconnected {
            session: self.session,
        });
    }
}

/// A token bucket in millionths of a message.
#[derive(Debug)]
struct Bucket {
    limits: Throttle,
    tokens: u64,
    at: DateTime<Utc>,
    second: i64,
    rejects_this_second: u32,
}

const UNIT: u64 = 1_000_000;

impl Bucket {
    fn new(limits: Throttle) -> Bucket {
        Bucket {
            limits,
            tokens: u64::from(limits.burst) * UNIT,
            at: DateTime::<Utc>::MIN_UTC,
            second: 0,
            rejects_this_second: 0,
        }
    }

    fn reset(&mut self, now: DateTime<Utc>) {
        self.tokens = u64::from(self.limits.burst) * UNIT;
        self.at = now;
        self.rejects_this_second = 0;
    }

    /// Takes one message's token; false (and one more reject counted) when the bucket is empty.
    fn take(&mut self, now: DateTime<Utc>) -> bool {
        let elapsed_us = (now - self.at)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as u64;
        self.at = self.at.max(now);
        let refill = elapsed_us.saturating_mul(u64::from(self.limits.rate_per_s));
        self.tokens = self
            .tokens
            .saturating_add(refill)
            .min(u64::from(self.limits.burst) * UNIT);
        if self.tokens >= UNIT {
            self.tokens -= UNIT;
            return true;
        }
        let second = now.timestamp();
        if second != self.second {
            self.second = second;
            self.rejects_this_second = 0;
        }
        self.rejects_this_second += 1;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut b = Bucket::new(Throttle {
            rate_per_s: 10,
            burst: 3,
            max_rejects: 5,
            cooldown_s: 1,
        });
        b.reset(at(0));
        assert!(b.take(at(0)) && b.take(at(0)) && b.take(at(0)));
        assert!(!b.take(at(0)));
        assert_eq!(b.rejects_this_second, 1);
        // 100 ms refill one message at 10/s.
        assert!(!b.take(at(50)));
        assert!(b.take(at(100)));
        assert!(!b.take(at(100)));
        // A long pause refills only up to the burst.
        assert!(b.take(at(10_000)) && b.take(at(10_000)) && b.take(at(10_000)));
        assert!(!b.take(at(10_000)));
        assert_eq!(b.rejects_this_second, 1, "a new second counts afresh");
    }
}
