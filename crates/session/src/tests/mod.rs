//! Given/when/then tests of the session state machine against a scripted counterparty, one file per protocol
//! area. The clock is testkit's `ManualClock`; messages are written as text with `|` for SOH.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use testkit::ManualClock;

use super::app::NotAvailable;
use super::config::{SessionConfig, parse};
use super::{Action, Event, SeqNums, Session, Status};
use fix::frame::from_text;
use fix::types::{TimePrecision, format_utc_timestamp};
use fix::{Dictionary, FrameConfig, Framed};

mod events;
mod heartbeat;
mod logon;
mod logout;
mod model;
mod reference;
mod resend;
mod routing;
mod seqnum;
mod sequence_reset;
mod validation;

pub fn dict() -> Arc<Dictionary> {
    static DICT: OnceLock<Arc<Dictionary>> = OnceLock::new();
    DICT.get_or_init(|| Arc::new(Dictionary::fix44().expect("the bundled dictionary loads")))
        .clone()
}

/// Where every test's clock starts: testkit's manual clock's start, 2027-01-15 08:00:00 UTC.
pub fn start() -> DateTime<Utc> {
    ManualClock::new().now()
}

pub fn config(extra: &str) -> SessionConfig {
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nNonStopSession=Y\n[SESSION]\nTargetCompID=CLIENT\n{extra}"
    );
    parse("test.cfg", &text)
        .expect("test config")
        .sessions
        .remove(0)
}

pub fn ts(t: DateTime<Utc>) -> String {
    let mut buf = [0u8; fix::types::UTC_TIMESTAMP_BYTES_MAX];
    let n = format_utc_timestamp(&t, TimePrecision::Millis, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A session and a scripted client.
pub struct Given {
    pub session: Session,
    /// The test's clock, moved only by `advance`.
    pub clock: ManualClock,
    /// The clock's time as `advance` last left it: what the next input to the session carries.
    pub now: DateTime<Utc>,
    /// The client's next MsgSeqNum.
    pub client_seq: u64,
}

impl Given {
    /// A connected session with `extra` config lines, not logged on.
    pub fn connected(extra: &str) -> Given {
        Given::connected_with(extra, SeqNums::default())
    }

    pub fn connected_with(extra: &str, seq: SeqNums) -> Given {
        let clock = ManualClock::new();
        let now = clock.now();
        let mut session = Session::new(
            Arc::new(config(extra)),
            dict(),
            Box::new(NotAvailable),
            seq,
            now,
        );
        let actions = session.handle(Event::Connected, now);
        assert!(sends(&actions).is_empty());
        Given {
            session,
            clock,
            now,
            client_seq: seq.next_in,
        }
    }

    /// Logged on with HeartBtInt 30; the Logon answer is checked and dropped.
    pub fn logged_on() -> Given {
        let mut g = Given::connected("");
        let out = g.send("35=A|98=0|108=30|");
        assert_eq!(g.session.status(), Status::LoggedOn, "{out:?}");
        assert_fields(&sends(&out)[0], "35=A|34=1|49=VENUE|56=CLIENT|98=0|108=30|");
        g
    }

    /// Moves the clock on by `seconds`.
    pub fn advance(&mut self, seconds: i64) {
        self.now = self.clock.advance_s(seconds);
    }

    /// Sends `body` with a standard header (the next client MsgSeqNum, SendingTime now).
    pub fn send(&mut self, body: &str) -> Vec<Action> {
        let seq = self.client_seq;
        self.client_seq += 1;
        self.send_seq(seq, body)
    }

    /// Sends `body` with MsgSeqNum `seq` (the client's counter is left alone).
    pub fn send_seq(&mut self, seq: u64, body: &str) -> Vec<Action> {
        let (msg_type, rest) = body.split_once('|').expect("body starts with 35=..|");
        let text = format!(
            "{msg_type}|49=CLIENT|56=VENUE|34={seq}|52={}|{rest}",
            ts(self.now)
        );
        self.send_raw(&text)
    }

    /// Sends a body written in full (from 35=), framed with 8, 9 and 10 computed.
    pub fn send_raw(&mut self, body: &str) -> Vec<Action> {
        let frame = from_text(body);
        assert_eq!(
            fix::frame::check(&frame, &FrameConfig::default()),
            Framed::Complete { len: frame.len() }
        );
        self.session.handle(Event::Frame(&frame), self.now)
    }

    pub fn tick(&mut self) -> Vec<Action> {
        self.session.handle(Event::Tick, self.now)
    }
}

/// The messages sent, as text with `|`.
pub fn sends(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some(String::from_utf8_lossy(&o.bytes).replace('\x01', "|")),
            _ => None,
        })
        .collect()
}

pub fn disconnected(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Disconnect(_)))
}

/// Every `tag=value` of `expected` is in `msg` (a value `*` only asks for the tag).
#[track_caller]
pub fn assert_fields(msg: &str, expected: &str) {
    for field in expected.split('|').filter(|f| !f.is_empty()) {
        let found = if let Some(tag) = field.strip_suffix("=*") {
            msg.starts_with(&format!("{tag}=")) || msg.contains(&format!("|{tag}="))
        } else {
            msg.starts_with(&format!("{field}|")) || msg.contains(&format!("|{field}|"))
        };
        assert!(found, "{field} not in {msg}");
    }
}

/// `tag` is not in `msg`.
#[track_caller]
pub fn assert_no_field(msg: &str, tag: u32) {
    assert!(!msg.contains(&format!("|{tag}=")), "{tag} in {msg}");
}
