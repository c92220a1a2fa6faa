//! The session state machine: `(state, event, now) -> actions`.
//!
//! [`Session::handle`] takes one [`Event`] (a complete frame, a garbled one, a timer tick, a message from the
//! application, shutdown, disconnection) and the current time, and returns [`Action`]s: bytes to send (already
//! numbered and, for application messages, to be stored before they are written), stored messages to replay,
//! a disconnect, log lines. Timers are data: [`Session::next_deadline`] says when the next [`Event::Tick`] is due.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeDelta, Utc};

use fix::encode::{Header, MessageWriter};
use fix::tags::{self, FixEnum, SessionRejectReason as Reason, msg_type};
use fix::{Decoder, Dictionary, Encoder, Garble, Invalid, Message, Validator};

use super::app::{AppMessage, Application};
use super::auth::{AuthOutcome, AuthState};
use super::config::SessionConfig;
use super::schedule;

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
    /// The schedule period these numbers belong to ([`schedule::Period::start_s`]).
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

/// Third-party routing of a message: OnBehalfOf (115/116/144) and DeliverTo (128/129/145), CompID, SubID and
/// LocationID in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    pub on_behalf_of: [Option<String>; 3],
    pub deliver_to: [Option<String>; 3],
}

const ON_BEHALF_OF_TAGS: [u32; 3] = [
    tags::ON_BEHALF_OF_COMP_ID,
    tags::ON_BEHALF_OF_SUB_ID,
    tags::ON_BEHALF_OF_LOCATION_ID,
];
const DELIVER_TO_TAGS: [u32; 3] = [
    tags::DELIVER_TO_COMP_ID,
    tags::DELIVER_TO_SUB_ID,
    tags::DELIVER_TO_LOCATION_ID,
];

impl Routing {
    /// The routing fields of a received message.
    pub fn of(msg: &Message) -> Routing {
        let get = |tag| {
            msg.get(tag)
                .and_then(|v| v.as_str().ok())
                .map(str::to_string)
        };
        Routing {
            on_behalf_of: ON_BEHALF_OF_TAGS.map(get),
            deliver_to: DELIVER_TO_TAGS.map(get),
        }
    }

    /// The routing of an answer: OnBehalfOf becomes DeliverTo and the other way round.
    pub fn reversed(&self) -> Routing {
        Routing {
            on_behalf_of: self.deliver_to.clone(),
            deliver_to: self.on_behalf_of.clone(),
        }
    }

    fn apply<'a>(&'a self, header: &mut Header<'a>) {
        header.on_behalf_of_comp_id = self.on_behalf_of[0].as_deref();
        header.on_behalf_of_sub_id = self.on_behalf_of[1].as_deref();
        header.on_behalf_of_location_id = self.on_behalf_of[2].as_deref();
        header.deliver_to_comp_id = self.deliver_to[0].as_deref();
        header.deliver_to_sub_id = self.deliver_to[1].as_deref();
        header.deliver_to_location_id = self.deliver_to[2].as_deref();
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
    /// The store refused a write: stop sending on this session (fail closed) with a Logout saying why.
    StoreFailed,
    /// The outbound queue filled up: the client does not keep up; Logout, then disconnect.
    SlowConsumer,
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
        Session {
            validator: Validator::new(config.validation),
            config,
            dict,
            app,
            app_logged_on: false,
            decoder: Decoder::new(),
            encoder: Encoder::default(),
            seq,
            status: Status::Disconnected,
            heartbeat: TimeDelta::seconds(30),
            connected_at: now,
            last_sent: now,
            last_received: now,
            test_request: None,
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
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn counters(&self) -> Counters {
        self.counters
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
                if self.status != Status::Disconnected {
                    self.logout_and_disconnect(
                        "Incorrect BeginString: this venue speaks FIX.4.4",
                        None,
                    );
                }
            }
            Event::Tick => self.on_tick(now),
            Event::Send(msg) => {
                self.send_app(msg, now);
            }
            Event::Shutdown => match self.status {
                Status::LoggedOn => self.start_logout("Venue shutting down", now),
                Status::AwaitingLogon => self.disconnect("venue shutting down"),
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
            Event::Disconnected => self.on_disconnected(),
        }
        std::mem::take(&mut self.actions)
    }

    /// When the next [`Event::Tick`] is due, if any timer runs.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::Disconnected => None,
            Status::AwaitingLogon => {
                Some(self.connected_at + TimeDelta::seconds(i64::from(self.config.logon_timeout_s)))
            }
            Status::LogoutSent(at) => {
                Some(at + TimeDelta::seconds(i64::from(self.config.logout_timeout_s)))
            }
            Status::LoggedOn => {
                let silence = match self.test_request {
                    Some(_) => self.last_received + self.heartbeat * 12 / 5,
                    None => (self.last_received + self.heartbeat * 6 / 5)
                        .min(self.last_sent + self.heartbeat),
                };
                Some(self.period_end.map_or(silence, |end| end.min(silence)))
            }
        }
    }

    fn on_connected(&mut self, now: DateTime<Utc>) {
        self.status = Status::AwaitingLogon;
        self.connected_at = now;
        self.last_received = now;
        self.last_sent = now;
        self.test_request = None;
        self.resend_requested = None;
        self.queue.clear();
        self.queued_bytes = 0;
    }

    fn on_disconnected(&mut self) {
        self.end_app_session();
        if self.status == Status::Disconnected {
            return;
        }
        self.status = Status::Disconnected;
        self.queue.clear();
        self.queued_bytes = 0;
        self.resend_requested = None;
        self.test_request = None;
        if self.config.reset_on_disconnect {
            self.reset_seqnums();
        }
    }

    fn on_tick(&mut self, now: DateTime<Utc>) {
        match self.status {
            Status::Disconnected => {}
            Status::AwaitingLogon => {
                let deadline =
                    self.connected_at + TimeDelta::seconds(i64::from(self.config.logon_timeout_s));
                if now >= deadline {
                    self.disconnect("no Logon within LogonTimeout");
                }
            }
            Status::LogoutSent(at) => {
                if now >= at + TimeDelta::seconds(i64::from(self.config.logout_timeout_s)) {
                    self.disconnect("no Logout answer within LogoutTimeout");
                }
            }
            Status::LoggedOn => self.on_tick_logged_on(now),
        }
    }

    fn on_tick_logged_on(&mut self, now: DateTime<Utc>) {
        if self.period_end.is_some_and(|end| now >= end) {
            self.start_logout("End of the session's hours", now);
            return;
        }
        let silent = now - self.last_received;
        if self.test_request.is_some() && silent >= self.heartbeat * 12 / 5 {
            self.disconnect("no answer to TestRequest: heartbeat timeout");
            return;
        }
        if self.test_request.is_none() && silent >= self.heartbeat * 6 / 5 {
            self.test_request_counter += 1;
            let id = format!("TEST-{}", self.test_request_counter);
            self.send_admin(msg_type::TEST_REQUEST, None, now, |w| {
                w.put_str(tags::TEST_REQ_ID, &id);
            });
            self.test_request = Some(now);
            return;
        }
        if self.test_request.is_none() && now - self.last_sent >= self.heartbeat {
            self.send_admin(msg_type::HEARTBEAT, None, now, |_| {});
        }
    }

    fn on_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        match self.status {
            Status::Disconnected => {}
            Status::AwaitingLogon => self.on_first_frame(frame, now),
            Status::LoggedOn | Status::LogoutSent(_) => {
                self.on_session_frame(frame, now);
                self.drain_queue(now);
            }
        }
    }

    /// Decodes `frame` and runs `f` on it; a frame the decoder refuses counts as garbled.
    fn with_message(&mut self, frame: &[u8], f: impl FnOnce(&mut Session, &Message)) {
        let mut decoder = std::mem::take(&mut self.decoder);
        let dict = Arc::clone(&self.dict);
        match decoder.decode(&dict, frame) {
            Ok(msg) => f(self, &msg),
            Err(e) => {
                self.counters.garbled += 1;
                self.log(Level::Warn, format!("garbled message ignored: {e}"));
            }
        }
        self.decoder = decoder;
    }

    fn on_first_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        self.with_message(frame, |s, msg| {
            if msg.msg_type() != msg_type::LOGON {
                s.disconnect("first message is not a Logon");
                return;
            }
            s.on_logon(msg, now);
        });
    }

    fn head<'m>(&mut self, msg: &Message<'m>) -> Option<Head<'m>> {
        let Some(seq) = msg
            .get(tags::MSG_SEQ_NUM)
            .and_then(|v| v.as_uint().ok())
            .filter(|&s| s > 0)
        else {
            self.logout_and_disconnect("MsgSeqNum (34) missing or not a positive number", None);
            return None;
        };
        let orig = msg.get(tags::ORIG_SENDING_TIME);
        Some(Head {
            seq,
            msg_type: msg.msg_type(),
            poss_dup: msg
                .get(tags::POSS_DUP_FLAG)
                .is_some_and(|v| v.bytes == b"Y"),
            sending_time: msg
                .get(tags::SENDING_TIME)
                .and_then(|v| v.as_timestamp().ok()),
            orig_sending_time: orig.and_then(|v| v.as_timestamp().ok()),
            has_orig_sending_time: orig.is_some(),
        })
    }

    fn on_logon(&mut self, msg: &Message, now: DateTime<Utc>) {
        let Some(head) = self.head(msg) else { return };
        let routing = Routing::of(msg).reversed();
        if let Err(Invalid::Reject(r)) = self.validator.validate(&self.dict, msg) {
            let text = format!(
                "Invalid Logon: {} (tag {})",
                r.reason.text(),
                r.ref_tag.unwrap_or(0)
            );
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        let Some(period) = schedule::period(&self.config.schedule, now) else {
            self.logout_and_disconnect(
                "Logon refused: outside the session's hours",
                Some(&routing),
            );
            return;
        };
        let username = msg.get(tags::USERNAME).map(|v| v.bytes);
        let password = msg.get(tags::PASSWORD).map(|v| v.bytes);
        match self.auth.check(&self.config, username, password, now) {
            AuthOutcome::Accepted => {}
            AuthOutcome::Refused => {
                self.log(Level::Warn, "Logon refused: authentication failed".into());
                self.logout_and_disconnect("Logon refused: authentication failed", Some(&routing));
                return;
            }
            AuthOutcome::LockedOut => {
                self.log(
                    Level::Warn,
                    "Logon refused: locked out after repeated failures".into(),
                );
                self.logout_and_disconnect(
                    "Logon refused: too many failed attempts, try later",
                    Some(&routing),
                );
                return;
            }
        }
        if !self.sending_time_ok(&head, now) {
            self.reject(
                msg,
                &head,
                Reason::SendingTimeAccuracyProblem,
                Some(tags::SENDING_TIME),
                None,
                now,
            );
            self.logout_and_disconnect("SendingTime accuracy problem", Some(&routing));
            return;
        }
        let heartbeat_s = msg
            .get(tags::HEART_BT_INT)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        let (min, max) = (self.config.heartbeat_min_s, self.config.heartbeat_max_s);
        if heartbeat_s < u64::from(min) || heartbeat_s > u64::from(max) {
            let text = format!(
                "HeartBtInt {heartbeat_s} is outside the allowed range {min} to {max} seconds"
            );
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        // Authentication has succeeded: only now may a reset be honoured.
        let reset_flag = msg
            .get(tags::RESET_SEQ_NUM_FLAG)
            .is_some_and(|v| v.bytes == b"Y");
        if period.start_s != self.seq.period_start_s {
            self.log(
                Level::Info,
                "new session period: sequence numbers reset".into(),
            );
            self.reset_seqnums();
            self.seq.period_start_s = period.start_s;
        }
        if reset_flag || self.config.reset_on_logon {
            if reset_flag && head.seq != 1 {
                self.logout_and_disconnect(
                    "ResetSeqNumFlag=Y requires MsgSeqNum 1",
                    Some(&routing),
                );
                return;
            }
            self.reset_seqnums();
        }
        if head.seq < self.seq.next_in {
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {}",
                self.seq.next_in, head.seq
            );
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        if let Err(text) = self.app.on_logon(msg, now) {
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        self.app_logged_on = true;
        self.heartbeat = TimeDelta::seconds(heartbeat_s as i64);
        self.period_end = period.end;
        self.status = Status::LoggedOn;
        self.last_received = now;
        let reply_reset = reset_flag || self.config.reset_on_logon;
        self.send_admin(msg_type::LOGON, Some(&routing), now, |w| {
            w.put_u64(tags::ENCRYPT_METHOD, 0)
                .put_u64(tags::HEART_BT_INT, heartbeat_s);
            if reply_reset {
                w.put_bool(tags::RESET_SEQ_NUM_FLAG, true);
            }
        });
        self.log(Level::Info, format!("logged on, HeartBtInt {heartbeat_s}"));
        if head.seq > self.seq.next_in {
            self.queue.insert(head.seq, Queued::Consumed);
            self.request_resend(head.seq, now);
        } else {
            self.seq.next_in += 1;
        }
    }

    fn sending_time_ok(&self, head: &Head, now: DateTime<Utc>) -> bool {
        match (self.config.max_latency_s, head.sending_time) {
            (Some(max), Some(t)) => (now - t).abs() <= TimeDelta::seconds(i64::from(max)),
            _ => true,
        }
    }

    fn on_session_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        self.with_message(frame, |s, msg| s.on_session_message(msg, now));
    }

    fn on_session_message(&mut self, msg: &Message, now: DateTime<Utc>) {
        let Some(head) = self.head(msg) else { return };
        self.last_received = now;
        self.test_request = None;
        let routing = Routing::of(msg).reversed();
        let reset_mode = head.msg_type == msg_type::SEQUENCE_RESET
            && msg.get(tags::GAP_FILL_FLAG).is_none_or(|v| v.bytes != b"Y");
        let comp_ids_ok = msg.get(tags::SENDER_COMP_ID).map(|v| v.bytes)
            == Some(self.config.target_comp_id.as_bytes())
            && msg.get(tags::TARGET_COMP_ID).map(|v| v.bytes)
                == Some(self.config.sender_comp_id.as_bytes());
        if !comp_ids_ok {
            let tag = if msg.get(tags::SENDER_COMP_ID).map(|v| v.bytes)
                == Some(self.config.target_comp_id.as_bytes())
            {
                tags::TARGET_COMP_ID
            } else {
                tags::SENDER_COMP_ID
            };
            self.reject(msg, &head, Reason::CompIdProblem, Some(tag), None, now);
            self.consume_if_expected(head.seq);
            self.logout_and_disconnect("CompID problem", Some(&routing));
            return;
        }
        if !self.sending_time_ok(&head, now) {
            self.reject(
                msg,
                &head,
                Reason::SendingTimeAccuracyProblem,
                Some(tags::SENDING_TIME),
                None,
                now,
            );
            self.consume_if_expected(head.seq);
            self.logout_and_disconnect("SendingTime accuracy problem", Some(&routing));
            return;
        }
        if reset_mode {
            self.on_sequence_reset(msg, &head, false, now);
            return;
        }
        if head.msg_type == msg_type::LOGON {
            self.on_logon_while_logged_on(msg, &head, &routing, now);
            return;
        }
        if head.seq > self.seq.next_in {
            self.on_too_high(msg, &head, now);
            return;
        }
        if head.seq < self.seq.next_in {
            self.on_too_low(msg, &head, &routing, now);
            return;
        }
        if head.poss_dup && !self.poss_dup_ok(msg, &head, &routing, now) {
            self.seq.next_in += 1;
            return;
        }
        self.on_in_sequence(msg, &head, &routing, now);
    }

    /// PossDupFlag=Y rules: OrigSendingTime present (else Reject 1/122) and not after SendingTime (else Reject 10
    /// and Logout). Returns whether the message may be processed.
    fn poss_dup_ok(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) -> bool {
        if head.msg_type == msg_type::SEQUENCE_RESET {
            return true;
        }
        if !head.has_orig_sending_time {
            self.reject(
                msg,
                head,
                Reason::RequiredTagMissing,
                Some(tags::ORIG_SENDING_TIME),
                None,
                now,
            );
            return false;
        }
        if let (Some(orig), Some(sent)) = (head.orig_sending_time, head.sending_time)
            && orig > sent
        {
            self.reject(
                msg,
                head,
                Reason::SendingTimeAccuracyProblem,
                Some(tags::ORIG_SENDING_TIME),
                None,
                now,
            );
            self.logout_and_disconnect("OrigSendingTime is later than SendingTime", Some(routing));
            return false;
        }
        true
    }

    fn on_too_high(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) {
        if self.queue.len() >= QUEUED_MESSAGES_MAX
            || self.queued_bytes + msg.frame().len() > QUEUED_BYTES_MAX
        {
            self.logout_and_disconnect("Too many messages queued behind a sequence gap", None);
            return;
        }
        if head.msg_type == msg_type::RESEND_REQUEST {
            // Served at once, so that both sides' gaps can be filled at the same time.
            self.on_resend_request(msg, head, now);
            self.queue.insert(head.seq, Queued::Consumed);
        } else {
            self.queued_bytes += msg.frame().len();
            self.queue
                .insert(head.seq, Queued::Frame(msg.frame().to_vec()));
        }
        if head.msg_type == msg_type::LOGOUT {
            self.log(
                Level::Info,
                "Logout received ahead of a sequence gap".into(),
            );
        }
        self.request_resend(head.seq, now);
    }

    fn on_too_low(&mut self, msg: &Message, head: &Head, routing: &Routing, now: DateTime<Utc>) {
        if !head.poss_dup {
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {}",
                self.seq.next_in, head.seq
            );
            self.logout_and_disconnect(&text, Some(routing));
            return;
        }
        // Already processed: check the PossDup rules, then ignore it.
        if self.poss_dup_ok(msg, head, routing, now) {
            self.log(
                Level::Info,
                format!("PossDup message {} already processed: ignored", head.seq),
            );
        }
    }

    /// Sends a ResendRequest for the gap up to `received - 1`, unless one covering it is outstanding.
    fn request_resend(&mut self, received: u64, now: DateTime<Utc>) {
        let begin = self.seq.next_in;
        if let Some((b, end)) = self.resend_requested
            && b <= begin
        {
            self.resend_requested = Some((b, end.max(received - 1)));
            return;
        }
        self.resend_requested = Some((begin, received - 1));
        self.send_admin(msg_type::RESEND_REQUEST, None, now, |w| {
            w.put_u64(BEGIN_SEQ_NO, begin).put_u64(END_SEQ_NO, 0);
        });
    }

    fn consume_if_expected(&mut self, seq: u64) {
        if seq == self.seq.next_in {
            self.seq.next_in += 1;
        }
    }

    fn on_in_sequence(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        match self.validator.validate(&self.dict, msg) {
            Ok(_) => {}
            Err(Invalid::Reject(r)) => {
                self.seq.next_in += 1;
                self.counters.rejected += 1;
                self.reject(msg, head, r.reason, r.ref_tag, None, now);
                return;
            }
            Err(Invalid::UnsupportedMsgType) => {
                self.seq.next_in += 1;
                self.business_reject(msg, head, routing, now);
                return;
            }
        }
        if head.msg_type == msg_type::SEQUENCE_RESET {
            // GapFill mode; Reset mode was handled before the sequence checks.
            self.on_sequence_reset(msg, head, true, now);
            return;
        }
        self.seq.next_in += 1;
        match head.msg_type {
            msg_type::HEARTBEAT => {}
            msg_type::TEST_REQUEST => {
                let id = msg
                    .get(tags::TEST_REQ_ID)
                    .map(|v| v.bytes.to_vec())
                    .unwrap_or_default();
                self.send_admin(msg_type::HEARTBEAT, Some(routing), now, |w| {
                    w.put_bytes(tags::TEST_REQ_ID, &id);
                });
            }
            msg_type::RESEND_REQUEST => self.on_resend_request(msg, head, now),
            msg_type::REJECT => {
                let text = msg
                    .get(tags::TEXT)
                    .and_then(|v| v.as_str().ok())
                    .unwrap_or("");
                self.log(
                    Level::Warn,
                    format!("Reject received for message {}: {text}", head.seq),
                );
            }
            msg_type::LOGOUT => self.on_logout(routing, now),
            _ => {
                let answers = self.app.on_message(msg, routing, now);
                for answer in &answers {
                    self.send_app(answer, now);
                }
                if let Some(text) = self.app.take_logout()
                    && self.status == Status::LoggedOn
                {
                    self.start_logout(&text, now);
                }
            }
        }
    }

    fn on_logon_while_logged_on(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        let reset_flag = msg
            .get(tags::RESET_SEQ_NUM_FLAG)
            .is_some_and(|v| v.bytes == b"Y");
        if reset_flag && head.seq == 1 {
            let heartbeat_s = self.heartbeat.num_seconds().unsigned_abs();
            // A sequence reset in the middle of a session: both sides start again at 1.
            self.reset_seqnums();
            self.send_admin(msg_type::LOGON, Some(routing), now, |w| {
                w.put_u64(tags::ENCRYPT_METHOD, 0)
                    .put_u64(tags::HEART_BT_INT, heartbeat_s)
                    .put_bool(tags::RESET_SEQ_NUM_FLAG, true);
            });
            self.seq.next_in = 2;
            self.log(
                Level::Info,
                "sequence numbers reset by a Logon with ResetSeqNumFlag=Y".into(),
            );
            return;
        }
        self.logout_and_disconnect("Logon received while already logged on", Some(routing));
    }

    fn on_sequence_reset(
        &mut self,
        msg: &Message,
        head: &Head,
        gap_fill: bool,
        now: DateTime<Utc>,
    ) {
        if !gap_fill && let Err(Invalid::Reject(r)) = self.validator.validate(&self.dict, msg) {
            self.reject(msg, head, r.reason, r.ref_tag, None, now);
            return;
        }
        let Some(new_seq) = msg.get(tags::NEW_SEQ_NO).and_then(|v| v.as_uint().ok()) else {
            self.reject(
                msg,
                head,
                Reason::RequiredTagMissing,
                Some(tags::NEW_SEQ_NO),
                None,
                now,
            );
            return;
        };
        let expected = if gap_fill {
            head.seq + 1
        } else {
            self.seq.next_in
        };
        if new_seq < expected || (gap_fill && new_seq == head.seq) {
            let text = format!(
                "Attempt to lower sequence number, invalid value NewSeqNo(36)={new_seq}, expecting at least {expected}"
            );
            self.reject(
                msg,
                head,
                Reason::ValueIsIncorrect,
                Some(tags::NEW_SEQ_NO),
                Some(&text),
                now,
            );
            if gap_fill {
                self.seq.next_in += 1;
            }
            return;
        }
        if !gap_fill && new_seq == self.seq.next_in {
            self.log(
                Level::Warn,
                format!("SequenceReset to {new_seq}, the number already expected"),
            );
        }
        self.seq.next_in = new_seq;
    }

    fn on_resend_request(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) {
        let begin = msg
            .get(BEGIN_SEQ_NO)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        let end = msg
            .get(END_SEQ_NO)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        if begin == 0 || (end != 0 && end < begin) {
            self.reject(
                msg,
                head,
                Reason::ValueIsIncorrect,
                Some(END_SEQ_NO),
                Some("EndSeqNo is below BeginSeqNo"),
                now,
            );
            return;
        }
        let last_sent = self.seq.next_out - 1;
        let end = if end == 0 {
            last_sent
        } else {
            end.min(last_sent)
        };
        if begin > end {
            self.log(
                Level::Info,
                format!("ResendRequest from {begin}: nothing sent from there"),
            );
            return;
        }
        self.log(Level::Info, format!("ResendRequest {begin} to {end}"));
        self.actions.push(Action::Resend { begin, end });
    }

    fn on_logout(&mut self, routing: &Routing, now: DateTime<Utc>) {
        if !matches!(self.status, Status::LogoutSent(_)) {
            self.send_admin(msg_type::LOGOUT, Some(routing), now, |_| {});
        }
        self.disconnect("Logout");
        if self.config.reset_on_logout {
            self.reset_seqnums();
        }
    }

    /// Processes queued frames whose turn has come.
    fn drain_queue(&mut self, now: DateTime<Utc>) {
        loop {
            if !matches!(self.status, Status::LoggedOn | Status::LogoutSent(_)) {
                return;
            }
            while let Some(entry) = self.queue.first_entry() {
                if *entry.key() >= self.seq.next_in {
                    break;
                }
                if let Queued::Frame(f) = entry.remove() {
                    self.queued_bytes -= f.len();
                }
            }
            match self.queue.remove(&self.seq.next_in) {
                Some(Queued::Frame(f)) => {
                    self.queued_bytes -= f.len();
                    self.on_session_frame(&f, now);
                }
                Some(Queued::Consumed) => self.seq.next_in += 1,
                None => break,
            }
        }
        if let Some((_, end)) = self.resend_requested
            && self.seq.next_in > end
        {
            self.resend_requested = None;
            self.log(Level::Info, "sequence gap filled".into());
        }
    }

    /// Turns stored messages `(seq, frame)` in `begin..=end` (in order, at most [`RESEND_BATCH_MAX`]) into the
    /// resends of a ResendRequest: each stored application message again with PossDupFlag=Y, OrigSendingTime
    /// and a fresh SendingTime; one SequenceReset-GapFill for each run of numbers without one.
    pub fn replay(
        &mut self,
        begin: u64,
        end: u64,
        stored: &[(u64, Vec<u8>)],
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let mut gap_start: Option<u64> = None;
        let mut next = begin;
        for (seq, frame) in stored
            .iter()
            .filter(|(s, _)| (begin..=end).contains(s))
            .take(RESEND_BATCH_MAX)
        {
            if *seq < next {
                continue;
            }
            if *seq > next {
                gap_start.get_or_insert(next);
            }
            if let Some(start) = gap_start.take() {
                self.gap_fill(start, *seq, now);
            }
            self.resend_stored(*seq, frame, now);
            next = seq + 1;
        }
        if next <= end {
            self.gap_fill(next, end + 1, now);
        }
        std::mem::take(&mut self.actions)
    }

    fn gap_fill(&mut self, seq: u64, new_seq: u64, now: DateTime<Utc>) {
        let mut header = Header::new(
            msg_type::SEQUENCE_RESET,
            &self.config.sender_comp_id,
            &self.config.target_comp_id,
            seq,
            now,
        );
        header.poss_dup = true;
        header.orig_sending_time = Some(now);
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        w.put_bool(tags::GAP_FILL_FLAG, true)
            .put_u64(tags::NEW_SEQ_NO, new_seq);
        if w.finish().is_ok() {
            self.push_send(seq, msg_type::SEQUENCE_RESET, false, true);
        }
    }

    fn resend_stored(&mut self, seq: u64, frame: &[u8], now: DateTime<Utc>) {
        let mut decoder = std::mem::take(&mut self.decoder);
        let dict = Arc::clone(&self.dict);
        let built = match decoder.decode(&dict, frame) {
            Ok(msg) => self.encode_resend(&msg, seq, now),
            Err(_) => false,
        };
        self.decoder = decoder;
        if !built {
            self.log(
                Level::Warn,
                format!("stored message {seq} is unreadable: gap filled instead"),
            );
            self.gap_fill(seq, seq + 1, now);
        }
    }

    fn encode_resend(&mut self, msg: &Message, seq: u64, now: DateTime<Utc>) -> bool {
        let orig = msg
            .get(tags::SENDING_TIME)
            .and_then(|v| v.as_timestamp().ok());
        let routing = Routing::of(msg);
        let msg_type = msg.msg_type().to_vec();
        let body = match (msg.body().first(), msg.trailer().first()) {
            (Some(first), Some(trailer)) => {
                let start = msg.value(first).as_ptr() as usize - msg.frame().as_ptr() as usize;
                let start = start - first.tag.to_string().len() - 1;
                let end = msg.value(trailer).as_ptr() as usize - msg.frame().as_ptr() as usize;
                let end = end - trailer.tag.to_string().len() - 1;
                &msg.frame()[start..end]
            }
            _ => &[][..],
        };
        let mut header = Header::new(
            &msg_type,
            &self.config.sender_comp_id,
            &self.config.target_comp_id,
            seq,
            now,
        );
        header.poss_dup = true;
        header.orig_sending_time = Some(orig.unwrap_or(now));
        routing.apply(&mut header);
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        w.put_raw_fields(body);
        if w.finish().is_err() {
            return false;
        }
        self.push_send(seq, &msg_type, false, true);
        true
    }

    fn send_app(&mut self, msg: &AppMessage, now: DateTime<Utc>) {
        let seq = self.seq.next_out;
        let mut header = Header::new(
            &msg.msg_type,
            &self.config.sender_comp_id,
            &self.config.target_comp_id,
            seq,
            now,
        );
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
        let store = self.config.persist_messages;
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
        let mut header = Header::new(
            msg_type,
            &self.config.sender_comp_id,
            &self.config.target_comp_id,
            seq,
            now,
        );
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
            if ref_type.iter().all(|b| b.is_ascii_alphanumeric()) && !ref_type.is_empty() {
                w.put_bytes(tags::REF_MSG_TYPE, &ref_type);
            }
            w.put_enum(tags::SESSION_REJECT_REASON, reason)
                .put_str(tags::TEXT, &text);
        });
    }

    fn business_reject(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        let mut body = Vec::with_capacity(96);
        super::app::push_field(
            &mut body,
            tags::REF_SEQ_NUM,
            head.seq.to_string().as_bytes(),
        );
        super::app::push_field(&mut body, tags::REF_MSG_TYPE, msg.msg_type());
        super::app::push_field(
            &mut body,
            tags::BUSINESS_REJECT_REASON,
            tags::BusinessRejectReason::UnsupportedMessageType.to_fix(),
        );
        super::app::push_field(&mut body, tags::TEXT, b"Unsupported message type");
        let answer = AppMessage {
            msg_type: msg_type::BUSINESS_MESSAGE_REJECT.to_vec(),
            routing: routing.clone(),
            body,
        };
        self.send_app(&answer, now);
    }

    /// A venue-initiated Logout that waits LogoutTimeout for the answer.
    fn start_logout(&mut self, text: &str, now: DateTime<Utc>) {
        self.send_admin(msg_type::LOGOUT, None, now, |w| {
            w.put_str(tags::TEXT, text);
        });
        self.status = Status::LogoutSent(now);
        self.log(Level::Info, format!("Logout sent: {text}"));
    }

    fn logout_and_disconnect(&mut self, text: &str, routing: Option<&Routing>) {
        let now = self.now;
        self.send_admin(msg_type::LOGOUT, routing, now, |w| {
            w.put_str(tags::TEXT, text);
        });
        self.disconnect(text);
    }

    fn disconnect(&mut self, reason: &str) {
        self.log(Level::Info, format!("disconnect: {reason}"));
        self.actions.push(Action::Disconnect(reason.to_string()));
        self.end_app_session();
        self.status = Status::Disconnected;
        self.queue.clear();
        self.queued_bytes = 0;
        self.resend_requested = None;
    }

    /// Tells the application, once, that the logged-on session ended.
    fn end_app_session(&mut self) {
        if std::mem::take(&mut self.app_logged_on) {
            self.app.on_disconnect();
        }
    }

    fn reset_seqnums(&mut self) {
        self.seq.next_in = 1;
        self.seq.next_out = 1;
        self.actions.push(Action::ResetStore);
    }

    fn log(&mut self, level: Level, text: String) {
        self.actions.push(Action::Log(level, text));
    }
}

/// Replaces the values of Password (554), NewPassword (925) and RawData (96) so that logs never hold them.
pub fn redact(frame: &[u8]) -> Vec<u8> {
    use fix::frame::SOH;
    const REDACTED: [u32; 2] = [tags::PASSWORD, 925];
    const RAW_DATA_LENGTH: u32 = 95;
    const RAW_DATA: u32 = 96;
    let mut out = Vec::with_capacity(frame.len());
    let mut rest = frame;
    let mut raw_len: Option<usize> = None;
    while !rest.is_empty() {
        let eq = rest.iter().position(|&b| b == b'=');
        let tag = eq.and_then(|eq| std::str::from_utf8(&rest[..eq]).ok()?.parse::<u32>().ok());
        let value_start = eq.map_or(0, |eq| eq + 1);
        let soh_end = |from: usize| {
            rest[from..]
                .iter()
                .position(|&b| b == SOH)
                .map_or(rest.len(), |p| from + p + 1)
        };
        let end = match (tag, raw_len) {
            (Some(RAW_DATA), Some(n)) if value_start + n < rest.len() => soh_end(value_start + n),
            _ => soh_end(value_start),
        };
        match tag {
            Some(t) if REDACTED.contains(&t) || t == RAW_DATA => {
                out.extend_from_slice(&rest[..value_start]);
                out.extend_from_slice(b"***");
                if rest[..end].last() == Some(&SOH) {
                    out.push(SOH);
                }
            }
            _ => out.extend_from_slice(&rest[..end]),
        }
        raw_len = match tag {
            Some(RAW_DATA_LENGTH) => {
                std::str::from_utf8(&rest[value_start..end.saturating_sub(1).max(value_start)])
                    .ok()
                    .and_then(|v| v.parse().ok())
            }
            _ => None,
        };
        rest = &rest[end..];
    }
    out
}
