//! A FIX initiator that recovers as a real engine does, for crash tests: it keeps every message it sends (by
//! MsgSeqNum, with its SendingTime) and every message it receives, and
//! - answers the acceptor's ResendRequest by resending its application messages (PossDupFlag=Y, OrigSendingTime,
//!   the same number) and gap-filling its session messages;
//! - asks for a gap it sees (ResendRequest from its next expected number, EndSeqNo=0) and follows the gap until
//!   it is filled;
//! - logs on again after a lost connection with its own next number (no reset) and syncs with a TestRequest.
//!
//! Every message in and out is kept in a trace, and what breaks the acceptor's side of the protocol is written down
//! as a violation with its evidence (the test decides what to do with them): a number received twice with
//! different content, a fresh (not PossDup) message at a number already received, a gap fill over an application
//! message already received, a resend not served within [`RESEND_WAIT`], a full resend that skips a number.
//!
//! Blocking: one session on a current-thread runtime of its own, like [`crate::blocking::Fix`], but a lost or
//! refused connection is a state, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::Utc;
use tokio::runtime::Runtime;

use crate::blocking::VENUE_COMP_ID;
use crate::client::Client;
use crate::msg::Msg;
use crate::stream::Endpoint;

/// How long a ResendRequest may go unserved before it is a violation.
pub const RESEND_WAIT: Duration = Duration::from_secs(15);

/// How long a TestRequest may go unanswered before it is sent again.
pub const TEST_REQUEST_AGAIN: Duration = Duration::from_secs(2);

/// Session-level message types: gap-filled on a resend, never resent.
pub const ADMIN_TYPES: [&str; 7] = ["0", "1", "2", "3", "4", "5", "A"];

/// Header and framing fields that may differ between a message and its resend.
const VOLATILE_TAGS: [u32; 6] = [9, 10, 43, 52, 97, 122];

/// One message the client sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub msg_type: String,
    /// The body after `35=X|`, as `tag=value|` text.
    pub body: String,
    /// SendingTime of the first send (OrigSendingTime of a resend).
    pub time: String,
}

impl Sent {
    pub fn is_admin(&self) -> bool {
        ADMIN_TYPES.contains(&self.msg_type.as_str())
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Disconnected,
    /// Logon sent, no answer yet.
    LoggingOn,
    /// Logged on, the sync TestRequest not answered yet.
    Syncing,
    /// Logged on and synced.
    Ready,
}

/// A message's fields but those a resend may change.
pub fn stable(m: &Msg) -> Vec<(u32, Vec<u8>)> {
    m.fields()
        .filter(|(t, _)| !VOLATILE_TAGS.contains(t))
        .map(|(t, v)| (t, v.to_vec()))
        .collect()
}

/// A FIX 4.4 UTCTimestamp in milliseconds, now.
fn now_text() -> String {
    Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

pub struct RecoveringSession {
    runtime: Runtime,
    client: Client,
    pub state: State,
    /// Everything sent, by number.
    pub sent: BTreeMap<u64, Sent>,
    /// The first copy of every message received at each number (gap fills are kept in `filled`).
    pub received: BTreeMap<u64, Msg>,
    /// Numbers the acceptor gap-filled.
    pub filled: BTreeSet<u64>,
    /// The lowest number neither received nor filled.
    pub next_in: u64,
    /// A ResendRequest of ours not yet served: the highest number it must reach, and when it was sent.
    resend_outstanding: Option<(u64, Instant)>,
    /// The TestRequest that syncs a new connection.
    sync_id: Option<String>,
    /// A TestRequest not answered yet, and when it was last sent: sent again after [`TEST_REQUEST_AGAIN`] (a gap
    /// fill of ours may have covered it, as FIX allows).
    test_pending: Option<(String, Instant)>,
    /// TestReqIDs answered.
    pub tests_answered: BTreeSet<String>,
    /// A full resend being checked: the next number it must bring.
    replay_next: Option<u64>,
    pub violations: Vec<String>,
    /// Every message in and out, `>`/`<`, with connection events.
    pub trace: Vec<String>,
    started: Instant,
    connections: u64,
    /// The first Logon asks for a reset (141=Y); off for a client that expects what the acceptor kept for it.
    reset_first: bool,
}

impl RecoveringSession {
    /// `sender` to FIXVENUE, both sides at MsgSeqNum 1 (the first Logon resets), not connected.
    pub fn new(sender: &str) -> RecoveringSession {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime");
        RecoveringSession {
            runtime,
            client: Client::new(sender, VENUE_COMP_ID),
            state: State::Disconnected,
            sent: BTreeMap::new(),
            received: BTreeMap::new(),
            filled: BTreeSet::new(),
            next_in: 1,
            resend_outstanding: None,
            sync_id: None,
            test_pending: None,
            tests_answered: BTreeSet::new(),
            replay_next: None,
            violations: Vec::new(),
            trace: Vec::new(),
            started: Instant::now(),
            connections: 0,
            reset_first: true,
        }
    }

    /// [`RecoveringSession::new`], but its first Logon does not reset: it starts at MsgSeqNum 1 and takes what the
    /// acceptor kept for it by the ordinary gap and resend (a drop copy that joins late).
    pub fn without_reset(sender: &str) -> RecoveringSession {
        RecoveringSession {
            reset_first: false,
            ..RecoveringSession::new(sender)
        }
    }

    pub fn sender(&self) -> &str {
        self.client.sender()
    }

    /// Our next MsgSeqNum.
    pub fn next_out(&self) -> u64 {
        self.client.stamp.next_out
    }

    /// Whether a ResendRequest of ours is still being served.
    pub fn test_pending(&self) -> bool {
        self.test_pending.is_some()
    }

    pub fn resend_pending(&self) -> bool {
        self.resend_outstanding.is_some()
    }

    fn note(&mut self, line: String) {
        let ms = self.started.elapsed().as_millis();
        self.trace.push(format!("{ms:>7} {line}"));
    }

    fn violation(&mut self, what: String) {
        let ms = self.started.elapsed().as_millis();
        self.note(format!("!! {what}"));
        self.violations
            .push(format!("{} at {ms} ms: {what}", self.client.sender()));
    }

    fn lost(&mut self, why: &str) {
        if self.state != State::Disconnected {
            self.note(format!("-- connection lost ({why})"));
        }
        self.state = State::Disconnected;
        self.resend_outstanding = None;
        self.sync_id = None;
        self.test_pending = None;
        self.client.put_connection(None);
    }

    /// Connects to 127.0.0.1:`port` and sends a Logon with our next number (a reset only on the very first); false
    /// when the connection is refused.
    pub fn connect_logon(&mut self, port: u16) -> bool {
        let endpoint = Endpoint::local(port);
        if let Err(e) = self.runtime.block_on(self.client.connect(&endpoint)) {
            self.note(format!("-- connect to {port} failed: {e}"));
            return false;
        }
        self.connections += 1;
        self.note(format!(
            "-- connected to {port} (connection {})",
            self.connections
        ));
        let reset = if self.reset_first && self.connections == 1 && self.sent.is_empty() {
            "141=Y|"
        } else {
            ""
        };
        self.state = State::LoggingOn;
        self.send_text("A", &format!("98=0|108=30|{reset}"));
        self.state != State::Disconnected
    }

    /// Sends `35=<msg_type>|<body>` with the next number and keeps it; returns its number. A failed write loses the
    /// connection; the message stays kept (the acceptor asks for it after the next Logon).
    pub fn send_text(&mut self, msg_type: &str, body: &str) -> u64 {
        let seq = self.client.stamp.next_out;
        let time = now_text();
        self.sent.insert(
            seq,
            Sent {
                msg_type: msg_type.to_string(),
                body: body.to_string(),
                time: time.clone(),
            },
        );
        self.write(&format!("35={msg_type}|34={seq}|52={time}|{body}"));
        seq
    }

    fn write(&mut self, text: &str) {
        let mut buf = BytesMut::new();
        self.client.stamp.put_text(&mut buf, text, Utc::now());
        self.note(format!("> {text}"));
        if self.state == State::Disconnected {
            return;
        }
        if let Err(e) = self.runtime.block_on(self.client.send_raw(&buf)) {
            self.lost(&e.to_string());
        }
    }

    /// Receives for up to `wait` (then until nothing more is buffered) and handles what came; returns the
    /// application messages seen for the first time, in order.
    pub fn pump(&mut self, wait: Duration) -> Vec<Msg> {
        let mut out = Vec::new();
        let mut wait = wait;
        while self.state != State::Disconnected {
            match self.runtime.block_on(self.client.recv_raw(wait)) {
                Ok(Some(m)) => {
                    if let Some(m) = self.on_message(m) {
                        out.push(m);
                    }
                    wait = Duration::ZERO;
                }
                Ok(None) => break,
                Err(e) if e.is_closed() => {
                    self.lost(&e.to_string());
                }
                Err(e) => {
                    self.violation(format!("unreadable input: {e}"));
                    self.lost("unreadable input");
                }
            }
        }
        if self.state != State::Disconnected
            && let Some((id, since)) = self.test_pending.clone()
            && since.elapsed() > TEST_REQUEST_AGAIN
        {
            self.test_request(&id);
        }
        if let Some((_, since)) = self.resend_outstanding
            && since.elapsed() > RESEND_WAIT
        {
            let from = self.next_in;
            self.violation(format!(
                "ResendRequest from {from} not served within {RESEND_WAIT:?}"
            ));
            self.resend_outstanding = None;
        }
        out
    }

    fn on_message(&mut self, m: Msg) -> Option<Msg> {
        self.note(format!("< {}", m.text()));
        let Some(seq) = m.seq_num() else {
            self.violation(format!("no MsgSeqNum in {m}"));
            return None;
        };
        let msg_type = m.msg_type().to_string();
        let gap_fill = msg_type == "4";
        let admin = ADMIN_TYPES.contains(&msg_type.as_str());
        if let Some(expected) = self.replay_next
            && m.is_poss_dup()
        {
            if seq != expected {
                self.violation(format!(
                    "the full resend brought {seq} where {expected} was next"
                ));
            }
            self.replay_next = Some(if gap_fill {
                m.get(36).and_then(|v| v.parse().ok()).unwrap_or(seq + 1)
            } else {
                seq + 1
            });
        }
        if let Some(old) = self.received.get(&seq) {
            let old_admin = ADMIN_TYPES.contains(&old.msg_type());
            if gap_fill {
                if !old_admin {
                    let old = old.text();
                    self.violation(format!(
                        "{seq} gap-filled although it was received as {old}"
                    ));
                }
            } else if stable(old) != stable(&m) {
                let old = old.text();
                self.violation(format!(
                    "MsgSeqNum {seq} reused for different content: first {old}, now {}",
                    m.text()
                ));
            } else if !m.is_poss_dup() {
                self.violation(format!(
                    "MsgSeqNum {seq} sent again without PossDupFlag: {}",
                    m.text()
                ));
            }
            // A gap fill starting at a number already held may still cover numbers above it.
            if !gap_fill {
                return None;
            }
        } else if self.filled.contains(&seq) && !gap_fill {
            self.violation(format!(
                "a message at {seq}, which was gap-filled before: {}",
                m.text()
            ));
            return None;
        } else if seq < self.next_in && !m.is_poss_dup() && !gap_fill {
            self.violation(format!(
                "MsgSeqNum {seq} below {}: {}",
                self.next_in,
                m.text()
            ));
        }
        if gap_fill {
            let new: u64 = m.get(36).and_then(|v| v.parse().ok()).unwrap_or(0);
            let is_fill = m.get(123) == Some("Y");
            let from = if is_fill { seq } else { self.next_in };
            if is_fill && new <= seq {
                self.violation(format!("a gap fill that does not move on: {}", m.text()));
            }
            for n in from..new {
                match self.received.get(&n) {
                    Some(old) if !ADMIN_TYPES.contains(&old.msg_type()) => {
                        let old = old.text();
                        self.violation(format!(
                            "{n} gap-filled (by {}) although it was received as {old}",
                            m.text()
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.filled.insert(n);
                    }
                }
            }
        } else {
            self.received.insert(seq, m.clone());
        }
        while self.received.contains_key(&self.next_in) || self.filled.contains(&self.next_in) {
            self.next_in += 1;
        }
        if let Some((until, _)) = self.resend_outstanding
            && self.next_in > until
        {
            self.resend_outstanding = None;
        }
        if seq > self.next_in && !m.is_poss_dup() && self.resend_outstanding.is_none() {
            let from = self.next_in;
            self.note(format!("-- gap: {from} expected, {seq} received"));
            self.resend_outstanding = Some((seq, Instant::now()));
            self.send_text("2", &format!("7={from}|16=0|"));
        }
        match msg_type.as_str() {
            "A" if self.state == State::LoggingOn => {
                self.state = State::Syncing;
                let id = format!("SYNC-{}", self.connections);
                self.test_request(&id);
                self.sync_id = Some(id);
            }
            "0" => {
                if let Some(id) = m.get(112) {
                    self.tests_answered.insert(id.to_string());
                    if self.test_pending.as_ref().is_some_and(|(p, _)| p == id) {
                        self.test_pending = None;
                    }
                }
                if self.sync_id.is_some() && m.get(112) == self.sync_id.as_deref() {
                    self.sync_id = None;
                    self.state = State::Ready;
                    self.note("-- synced".to_string());
                }
            }
            "1" => {
                let id = m.get(112).unwrap_or("").to_string();
                self.send_text("0", &format!("112={id}|"));
            }
            "2" => self.serve_resend(&m),
            "5" => {
                self.note(format!(
                    "-- Logout from the venue: {}",
                    m.get(58).unwrap_or("")
                ));
                self.lost("Logout");
            }
            _ => {}
        }
        if admin { None } else { Some(m) }
    }

    /// Sends a TestRequest `id`, again every [`TEST_REQUEST_AGAIN`] until it is answered (see `tests_answered`)
    /// while the connection lasts.
    pub fn test_request(&mut self, id: &str) {
        self.send_text("1", &format!("112={id}|"));
        self.test_pending = Some((id.to_string(), Instant::now()));
    }

    /// Answers a ResendRequest: application messages again (PossDupFlag=Y, OrigSendingTime, their numbers), runs
    /// of session messages (and numbers never kept) as one gap fill each.
    fn serve_resend(&mut self, m: &Msg) {
        let begin: u64 = m.get(7).and_then(|v| v.parse().ok()).unwrap_or(0);
        let end: u64 = m.get(16).and_then(|v| v.parse().ok()).unwrap_or(0);
        let last = self.client.stamp.next_out - 1;
        let end = if end == 0 || end > last { last } else { end };
        if begin == 0 || begin > end + 1 {
            self.violation(format!("a ResendRequest we cannot serve: {}", m.text()));
            return;
        }
        let mut fill_from: Option<u64> = None;
        for n in begin..=end {
            match self.sent.get(&n).filter(|s| !s.is_admin()).cloned() {
                Some(s) => {
                    if let Some(from) = fill_from.take() {
                        self.gap_fill(from, n);
                    }
                    let now = now_text();
                    self.write(&format!(
                        "35={}|34={n}|43=Y|52={now}|122={}|{}",
                        s.msg_type, s.time, s.body
                    ));
                }
                None => {
                    fill_from.get_or_insert(n);
                }
            }
        }
        if let Some(from) = fill_from {
            self.gap_fill(from, end + 1);
        }
    }

    fn gap_fill(&mut self, from: u64, to: u64) {
        let now = now_text();
        self.write(&format!(
            "35=4|34={from}|43=Y|52={now}|122={now}|123=Y|36={to}|"
        ));
    }

    /// Asks for everything from 1 and checks, as it comes, that the resend brings every number in order, each
    /// application message as first received. [`RecoveringSession::replay_done`] says when it has reached the
    /// number that was last when it was asked.
    pub fn start_full_resend(&mut self) -> u64 {
        let upto = self.next_in - 1;
        self.replay_next = Some(1);
        self.send_text("2", "7=1|16=0|");
        upto
    }

    /// The next number the full resend must bring, while it runs.
    pub fn replay_next(&self) -> Option<u64> {
        self.replay_next
    }

    /// Ends the check of a full resend.
    pub fn stop_full_resend(&mut self) {
        self.replay_next = None;
    }

    /// Closes the connection without a Logout.
    pub fn disconnect(&mut self) {
        self.runtime.block_on(self.client.disconnect());
        self.lost("closed by the client");
    }

    /// The trace lines that contain any of `needles`, plus, within two seconds of them, the connection events and
    /// the session messages that shape the numbers (Logon, ResendRequest, SequenceReset); at most `max` lines.
    pub fn evidence(&self, needles: &[String], max: usize) -> Vec<String> {
        let at = |l: &str| -> u128 {
            l.split_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0)
        };
        let hit = |l: &str| needles.iter().any(|n| l.contains(n.as_str()));
        let times: Vec<u128> = self
            .trace
            .iter()
            .filter(|l| hit(l))
            .map(|l| at(l))
            .collect();
        let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
            return Vec::new();
        };
        let control = |l: &str| {
            l.contains(" -- ")
                || l.contains(" !! ")
                || ["35=A|", "35=2|", "35=4|", "35=5|"]
                    .iter()
                    .any(|t| l.contains(&format!("|{t}")) || l.contains(&format!("> {t}")))
        };
        self.trace
            .iter()
            .filter(|l| hit(l) || (control(l) && at(l) + 2000 >= *first && at(l) <= last + 2000))
            .take(max)
            .cloned()
            .collect()
    }
}
