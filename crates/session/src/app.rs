//! The one interface between the session layer and the application layer (order entry, market data, drop copy).
//!
//! The session hands every in-sequence, valid application message to [`Application::on_message`] and sends what
//! it returns. Messages the application produces later (an ExecutionReport after a fill) come back through
//! [`super::Event::Send`]. Until order entry lands, [`NotAvailable`] answers each application message with one
//! BusinessMessageReject (380=4).

use chrono::{DateTime, Utc};

use fix::Message;
use fix::tags::{self, BusinessRejectReason, FixEnum};

use super::Routing;

/// An application message for the session to send: MsgType, routing, and the body already encoded as
/// `tag=value<SOH>` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMessage {
    pub msg_type: Vec<u8>,
    pub routing: Routing,
    pub body: Vec<u8>,
}

/// The application layer behind a session. It lives as long as the session (across connections).
pub trait Application: Send {
    /// A Logon that passed every session check (authentication, SendingTime, HeartBtInt, sequence numbers).
    /// `Err(text)` refuses it: the session answers with a Logout carrying the text and disconnects.
    fn on_logon(&mut self, _logon: &Message, _now: DateTime<Utc>) -> Result<(), String> {
        Ok(())
    }

    /// One valid application message, in sequence. `routing` is already reversed for an answer. Returns the
    /// immediate answers.
    fn on_message(
        &mut self,
        msg: &Message,
        routing: &Routing,
        now: DateTime<Utc>,
    ) -> Vec<AppMessage>;

    /// Asked after each [`Application::on_message`] and [`Application::on_sent`]: a reason to log the session out
    /// now (a client abusing the throttle, for instance).
    fn take_logout(&mut self) -> Option<String> {
        None
    }

    /// An application message handed to the session later ([`Event::Send`](crate::Event::Send)) was sent: the
    /// answer a logout waits for, say, so that the Logout follows it.
    fn on_sent(&mut self, _msg: &AppMessage) {}

    /// The logged-on session ended: Logout, lost connection or a venue-initiated disconnect.
    fn on_disconnect(&mut self) {}

    /// The lowest incoming MsgSeqNum the application took and whose effect (a journaled command, an answer) is
    /// not yet known durable: the numbers the venue logs never pass it, so that after a crash the client is asked
    /// for that message again (see [`crate::Session::seqnums_durable`]). `None`: nothing unsettled.
    fn unsettled_in(&self) -> Option<u64> {
        None
    }

    /// What the venue's log now covers of the messages the application handed on.
    fn settle(&mut self, _settled: Settled) {}

    /// True while the application holds so many messages in flight that the connection should stop reading
    /// (TCP back-pressure: the venue is behind, not the client) until [`Application::settle`] frees room.
    fn backlogged(&self) -> bool {
        false
    }
}

/// News of the messages an application handed on (see [`Application::unsettled_in`]), in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The message `in_seq` was taken in: its effect is durable once the reports of journaled commands through
    /// `after` are logged; 0: nothing of it is journaled and its answers were handed over before this.
    Taken { in_seq: u64, after: u64 },
    /// Every report of journaled commands through this sequence number was handed over before this.
    ReportsThrough(u64),
}

/// The application layer before order entry exists: every application message gets a BusinessMessageReject
/// with BusinessRejectReason 4 (application not available).
#[derive(Debug, Clone, Copy, Default)]
pub struct NotAvailable;

impl Application for NotAvailable {
    fn on_message(
        &mut self,
        msg: &Message,
        routing: &Routing,
        _now: DateTime<Utc>,
    ) -> Vec<AppMessage> {
        let ref_seq = msg
            .get(tags::MSG_SEQ_NUM)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        vec![business_reject(
            ref_seq,
            msg.msg_type(),
            BusinessRejectReason::ApplicationNotAvailable,
            "Application not available: order entry is not enabled",
            routing,
        )]
    }
}

/// A BusinessMessageReject (j) answering one message: RefSeqNum (left out when `ref_seq` is 0: no message has
/// MsgSeqNum 0), RefMsgType, BusinessRejectReason and Text. Every BusinessMessageReject the venue sends, from the
/// session layer or an application, is built here.
pub fn business_reject(
    ref_seq: u64,
    ref_msg_type: &[u8],
    reason: BusinessRejectReason,
    text: &str,
    routing: &Routing,
) -> AppMessage {
    let mut body = Vec::with_capacity(64 + text.len());
    if ref_seq > 0 {
        push_field(&mut body, tags::REF_SEQ_NUM, ref_seq.to_string().as_bytes());
    }
    push_field(&mut body, tags::REF_MSG_TYPE, ref_msg_type);
    push_field(&mut body, tags::BUSINESS_REJECT_REASON, reason.to_fix());
    push_field(&mut body, tags::TEXT, text.as_bytes());
    AppMessage {
        msg_type: tags::msg_type::BUSINESS_MESSAGE_REJECT.to_vec(),
        routing: routing.clone(),
        body,
    }
}

/// Appends `tag=value<SOH>`.
pub fn push_field(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    out.extend_from_slice(tag.to_string().as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(fix::frame::SOH);
}
