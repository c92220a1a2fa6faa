//! The session state machine: `(state, event, now) -> actions`.
//!
//! [`Session::handle`] takes one [`Event`] (a complete frame, a garbled one, a timer tick, a message from the
//! application, shutdown, disconnection) and the current time, and returns [`Action`]s: bytes to send (already
//! numbered and, for application messages, to be stored before they are written), stored messages to replay,
//! a disconnect, log lines. Timers are data: [`Session::next_deadline`] says when the next [`Event::Tick`] is due.
//!
//! This file holds the state, the dispatch of events and the messages the session sends (numbered
//! administrative and application messages, Reject and BusinessMessageReject); each protocol area is a module:
//! - `logon`: the first message of a connection, the Logon checks and answer, a Logon while logged on;
//! - `sequence`: header checks, MsgSeqNum rules, the queue behind a gap, SequenceReset, dispatch in sequence;
//! - `resend`: serving a ResendRequest ([`Session::replay`]);
//! - `heartbeat`: timers, Heartbeat and TestRequest, LogonTimeout and LogoutTimeout, the session's hours;
//! - `logout`: Logout both ways and disconnection;
//! - `routing`: OnBehalfOf and DeliverTo ([`Routing`]); `redact`: credentials out of logs ([`redact()`]).

mod heartbeat;
mod logon;
mod logout;
mod redact;
mod resend;
mod routing;
mod sequence;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeDelta, Utc};

use fix::encode::{Header, MessageWriter};
use fix::tags::{self, SessionRejectReason as Reason, msg_type};
use fix::{Decoder, Dictionary, Encoder, Garble, Message, Validator};

use super::app::{self, AppMessage, Application, Settled};
use super::auth::AuthState;
use super::config::SessionConfig;
pub use routing::Routing;

/// Frames held back behind a sequence gap, at most.
pub const QUEUED_MESSAGES_MAX: usize = 10_000;
/// Bytes held back behind a sequence gap, at most.
pub const QUEUED_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Stored messages one [`Session::replay`] call turns into resends, at most; the runtime pages through longer
/// ranges.
pub const RESEND_BATCH_MAX: usize = 1_000;

const BEGIN_SEQ_NO: u32 = 7;
const END_SEQ_NO: u32 = 16;

/// The durable part of a session: what the store keeps across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqNums {
    /// MsgSeqNum expected on the next incoming message.
    pub next_in: u64,
    /// MsgSeqNum of the next outgoing message.
    pub next_out: u64,
    /// The schedule period these numbers belong to ([`schedule::Period::start_s`](crate::schedule::Period::start_s)).
    pub period_start_s: i64,
}

impl Default for SeqNums {
    fn default() -> Self {
        SeqNums {
            next_in: 1,
            next_out: 1,
            period_start_s: 0,
        }
    }
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No connection.
    Disconnected,
    /// Connected, no Logon yet.
    AwaitingLogon,
    LoggedOn,
    /// The venue sent a Logout at this time and waits for the answer.
    LogoutSent(DateTime<Utc>),
}

/// What happens to a session.
#[derive(Debug)]
pub enum Event<'a> {
    /// A connection was accepted for this session; the Logon is expected next.
    Connected,
    /// One complete frame, as [`fix::frame::check`] delimited it.
    Frame(&'a [u8]),
    /// Bytes framing refused.
    Garbled(Garble),
    /// A message with a BeginString other than FIX.4.4: Logout, then disconnect.
    WrongBeginString,
    /// A deadline from [`Session::next_deadline`] passed (or any time: ticks are idempotent).
    Tick,
    /// The application layer sends a message.
    Send(&'a AppMessage),
    /// The venue shuts down: log out.
    Shutdown,
    /// The venue stops because a part of it failed (its logs, its sequencer): log out, saying why.
    Halted(&'a str),
    /// The store refused a write: stop sending on this session (fail closed) with a Logout saying why.
    StoreFailed,
    /// The outbound queue filled up: the client does not keep up; Logout, then disconnect.
    SlowConsumer,
    /// The venue's operator logs the session out (admin server): Logout with this text, as at shutdown.
    OperatorLogout(&'a str),
    /// The connection is gone.
    Disconnected,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub seq: u64,
    pub msg_type: Vec<u8>,
    pub bytes: Bytes,
    /// Store under `seq` before writing (an application message, PersistMessages=Y).
    pub store: bool,
    /// A resend (PossDup or GapFill) of a number already used: nothing to store, no number consumed.
    pub resend: bool,
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

/// What the runtime must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Outbound),
    /// Serve a ResendRequest: load the stored messages in `begin..=end` and pass them to [`Session::replay`].
    Resend {
        begin: u64,
        end: u64,
    },
    /// Sequence numbers were reset: drop the stored outgoing messages.
    ResetStore,
    /// Close the connection.
    Disconnect(String),
    Log(Level, String),
}

/// A frame held behind a gap, or a number already dealt with out of order.
#[derive(Debug)]
enum Queued {
    Frame(Vec<u8>),
    /// Handled when it arrived (a Logon, a ResendRequest): only its number is consumed.
    Consumed,
}

/// Counters for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub garbled: u64,
    pub rejected: u64,
}

/// One FIX session: configuration, sequence numbers, timers and protocol state.
pub struct Session {
    config: Arc<SessionConfig>,
    dict: Arc<Dictionary>,
    app: Box<dyn Application>,
    /// The application was told of a Logon and not yet of its end.
    app_logged_on: bool,
    decoder: Decoder,
    validator: Validator,
    encoder: Encoder,
    seq: SeqNums,
    status: Status,
    heartbeat: TimeDelta,
    connected_at: DateTime<Utc>,
    last_sent: DateTime<Utc>,
    last_received: DateTime<Utc>,
    test_request: Option<DateTime<Utc>>,
    /// No TestRequest before this: a Heartbeat sent on a late tick gives the peer the same transmission allowance
    /// (a fifth of HeartBtInt) that it would have had, had the tick been on time.
    test_request_not_before: DateTime<Utc>,
    test_request_counter: u64,
    /// The gap asked for: `(begin, end)`, inclusive.
    resend_requested: Option<(u64, u64)>,
    queue: BTreeMap<u64, Queued>,
    queued_bytes: usize,
    period_end: Option<DateTime<Utc>>,
    auth: AuthState,
    counters: Counters,
    buf: BytesMut,
    actions: Vec<Action>,
    /// The time of the event being handled.
    now: DateTime<Utc>,
}

/// The header fields the session rules look at.
struct Head<'m> {
    seq: u64,
    msg_type: &'m [u8],
    poss_dup: bool,
    sending_time: Option<DateTime<Utc>>,
    orig_sending_time: Option<DateTime<Utc>>,
    has_orig_sending_time: bool,
}

impl Session {
    pub fn new(
        config: Arc<SessionConfig>,
        dict: Arc<Dictionary>,
        app: Box<dyn Application>,
        seq: SeqNums,
        now: DateTime<Utc>,
    ) -> Session {
        // SendingTime and OrigSendingTime at the session's TimeStampPrecision.
        let encoder = Encoder {
            header_time_precision: config.time_precision,
        };
        Session {
            validator: Validator::new(config.validation),
            config,
            dict,
            app,
            app_logged_on: false,
            decoder: Decoder::new(),
            encoder,
            seq,
            status: Status::Disconnected,
            heartbeat: TimeDelta::seconds(30),
            connected_at: now,
            last_sent: now,
            last_received: now,
            test_request: None,
            test_request_not_before: now,
            test_request_counter: 0,
            resend_requested: None,
            queue: BTreeMap::new(),
            queued_bytes: 0,
            period_end: None,
            auth: AuthState::default(),
            counters: Counters::default(),
            buf: BytesMut::with_capacity(512),
            actions: Vec::new(),
            now,
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }
    pub fn seqnums(&self) -> SeqNums {
        self.seq
    }

    /// A message is about to be numbered for a session no connection holds: if `now` falls in a schedule period
    /// newer than the numbers', the numbers reset to that period first (as its first Logon would reset them), so
    /// that what is kept for the session during the period it was away is numbered in that period and survives
    /// the Logon (a drop copy that joins late gets it by the ordinary resend). True when they were reset: the
    /// caller logs the reset (the messages kept before are gone). Nothing changes outside the session's hours or
    /// while a connection holds the session.
    pub fn enter_period(&mut self, now: DateTime<Utc>) -> bool {
        if self.status != Status::Disconnected {
            return false;
        }
        let Some(period) = crate::schedule::period(&self.config.schedule, now) else {
            return false;
        };
        if period.start_s == self.seq.period_start_s {
            return false;
        }
        self.seq.next_in = 1;
        self.seq.next_out = 1;
        self.seq.period_start_s = period.start_s;
        true
    }

    /// The numbers to make durable: [`Session::seqnums`], but the incoming number never passes a message the
    /// application took whose effect is not yet durable ([`Application::unsettled_in`]): after a crash the
    /// client is asked for it again rather than it being lost.
    pub fn seqnums_durable(&self) -> SeqNums {
        let mut seq = self.seq;
        if let Some(unsettled) = self.app.unsettled_in() {
            seq.next_in = seq.next_in.min(unsettled);
        }
        seq
    }

    /// True while the connection should stop reading: the application is behind ([`Application::backlogged`]).
    pub fn backlogged(&self) -> bool {
        self.app.backlogged()
    }

    /// Tells the application what the venue's log now covers (see [`Settled`]).
    pub fn settle(&mut self, settled: Settled) {
        self.app.settle(settled);
    }
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// Failed Logons and lock-out: durable, like the sequence numbers (the runtime stores it when it changes).
    pub fn auth_state(&self) -> AuthState {
        self.auth
    }
    /// Puts back the failed Logons and lock-out the store kept, before the first connection.
    pub fn restore_auth(&mut self, auth: AuthState) {
        self.auth = auth;
    }
    /// The HeartBtInt agreed at Logon.
    pub fn heartbeat_interval_s(&self) -> i64 {
        self.heartbeat.num_seconds()
    }

    /// Handles one event at `now`.
    pub fn handle(&mut self, event: Event, now: DateTime<Utc>) -> Vec<Action> {
        self.now = now;
        match event {
            Event::Connected => self.on_connected(now),
            Event::Frame(frame) => self.on_frame(frame, now),
            Event::Garbled(reason) => {
                self.counters.garbled += 1;
                self.log(Level::Warn, format!("garbled message ignored: {reason}"));
            }
            Event::WrongBeginString => {
                if self.status == Status::AwaitingLogon && self.config.password_hash.is_some() {
                    self.refuse_unauthenticated("Incorrect BeginString");
                } else if self.status != Status::Disconnected {
                    self.logout_and_disconnect(
                        "Incorrect BeginString: this venue speaks FIX.4.4",
                        None,
                    );
                }
            }
            Event::Tick => self.on_tick(now),
            Event::Send(msg) => {
                self.send_app(msg, now);
                self.app.on_sent(msg);
                if let Some(text) = self.app.take_logout()
                    && self.status == Status::LoggedOn
                {
                    self.start_logout(&text, now);
                }
            }
            Event::Shutdown => match self.status {
                Status::LoggedOn => self.start_logout("Venue shutting down", now),
                Status::AwaitingLogon => self.disconnect("venue shutting down"),
                _ => {}
            },
            Event::Halted(reason) => match self.status {
                Status::LoggedOn => {
                    self.start_logout(&format!("Venue stopping after a failure: {reason}"), now)
                }
                Status::AwaitingLogon => self.disconnect("venue stopping after a failure"),
                _ => {}
            },
            Event::StoreFailed => {
                if self.status != Status::Disconnected {
                    self.logout_and_disconnect(
                        "Store failure: the venue stops sending on this session",
                        None,
                    );
                }
            }
            Event::SlowConsumer => {
                if self.status != Status::Disconnected {
                    self.logout_and_disconnect(
                        "Outbound queue full: the session does not keep up",
                        None,
                    );
                }
            }
            Event::OperatorLogout(text) => match self.status {
                Status::LoggedOn => self.start_logout(text, now),
                Status::AwaitingLogon => self.disconnect(text),
                _ => {}
            },
            Event::Disconnected => self.on_disconnected(),
        }
        std::mem::take(&mut self.actions)
    }

    fn send_app(&mut self, msg: &AppMessage, now: DateTime<Utc>) {
        let seq = self.seq.next_out;
        let mut header = outgoing_header(&self.config, &msg.msg_type, seq, now);
        msg.routing.apply(&mut header);
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        w.put_raw_fields(&msg.body);
        if let Err(e) = w.finish() {
            self.log(Level::Warn, format!("application message not sent: {e}"));
            return;
        }
        self.seq.next_out += 1;
        self.last_sent = now;
        // Market data is not stored for resend (README, "Market data"): a resend gap-fills over it.
        let store = self.config.persist_messages && !app::is_market_data(&msg.msg_type);
        self.push_send(seq, &msg.msg_type, store, false);
    }

    /// Sends an administrative message with the next number.
    fn send_admin(
        &mut self,
        msg_type: &[u8],
        routing: Option<&Routing>,
        now: DateTime<Utc>,
        body: impl FnOnce(&mut MessageWriter),
    ) {
        let seq = self.seq.next_out;
        let mut header = outgoing_header(&self.config, msg_type, seq, now);
        if let Some(r) = routing {
            r.apply(&mut header);
        }
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        body(&mut w);
        if w.finish().is_err() {
            return;
        }
        self.seq.next_out += 1;
        self.last_sent = now;
        self.push_send(seq, msg_type, false, false);
    }

    fn push_send(&mut self, seq: u64, msg_type: &[u8], store: bool, resend: bool) {
        let bytes = self.buf.split().freeze();
        self.actions.push(Action::Send(Outbound {
            seq,
            msg_type: msg_type.to_vec(),
            bytes,
            store,
            resend,
        }));
    }

    fn reject(
        &mut self,
        msg: &Message,
        head: &Head,
        reason: Reason,
        ref_tag: Option<u32>,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) {
        let routing = Routing::of(msg).reversed();
        let ref_type = head.msg_type.to_vec();
        let text = text.unwrap_or(reason.text()).to_string();
        self.log(
            Level::Warn,
            format!(
                "Reject message {}: {text} (tag {})",
                head.seq,
                ref_tag.unwrap_or(0)
            ),
        );
        self.send_admin(msg_type::REJECT, Some(&routing), now, |w| {
            w.put_u64(tags::REF_SEQ_NUM, head.seq);
            if let Some(tag) = ref_tag {
                w.put_u64(tags::REF_TAG_ID, u64::from(tag));
            }
            // As received, even a value no FIX version defines (373=11): the client needs it to match the Reject.
            if !ref_type.is_empty() {
                w.put_bytes(tags::REF_MSG_TYPE, &ref_type);
            }
            w.put_enum(tags::SESSION_REJECT_REASON, reason)
                .put_str(tags::TEXT, &text);
        });
    }

    /// A Reject of `msg`, then a Logout saying `text` and disconnection: for the header rules whose breach ends
    /// the session.
    fn reject_and_logout(
        &mut self,
        msg: &Message,
        head: &Head,
        reason: Reason,
        ref_tag: u32,
        text: &str,
        now: DateTime<Utc>,
    ) {
        self.reject(msg, head, reason, Some(ref_tag), None, now);
        self.logout_and_disconnect(text, Some(&Routing::of(msg).reversed()));
    }

    /// Forgets the gap being filled: the queue behind it and the ResendRequest outstanding.
    fn clear_gap(&mut self) {
        self.queue.clear();
        self.queued_bytes = 0;
        self.resend_requested = None;
    }

    /// BusinessMessageReject 380=3: a valid message of a type the venue does not handle.
    fn business_reject(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        let answer = super::app::business_reject(
            head.seq,
            msg.msg_type(),
            tags::BusinessRejectReason::UnsupportedMessageType,
            "Unsupported message type",
            routing,
        );
        self.send_app(&answer, now);
    }

    fn log(&mut self, level: Level, text: String) {
        self.actions.push(Action::Log(level, text));
    }
}

pub use redact::redact;

/// The header of a message the venue sends on a session: the venue's CompID as sender, the client's as target.
fn outgoing_header<'a>(
    config: &'a SessionConfig,
    msg_type: &'a [u8],
    seq: u64,
    now: DateTime<Utc>,
) -> Header<'a> {
    Header::new(
        msg_type,
        &config.sender_comp_id,
        &config.target_comp_id,
        seq,
        now,
    )
}
