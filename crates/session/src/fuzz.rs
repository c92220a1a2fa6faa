//! Arbitrary event sequences for the session state machine: the fuzz target `session_events` and a property
//! test feed bytes to [`drive`], which reads them as a script of client messages (of every session type and
//! some application ones, with MsgSeqNum near the expected one, PossDup flags, trailing fields), raw bytes,
//! time passing, disconnects and shutdowns, and checks the session's invariants after every event.
//!
//! Invariants: nothing panics; every message sent frames and decodes; new outgoing MsgSeqNums are consecutive
//! from one reset to the next; a resend never uses a number not yet sent; nothing is sent while disconnected
//! except what the application sends (it is stored for the next Logon).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::app::{AppMessage, NotAvailable};
use super::config::SessionConfig;
use super::{Action, Event, Routing, SeqNums, Session, Status};
use fix::frame::{self, wrap_body};
use fix::{Decoder, Dictionary, FrameConfig, Framed};

/// Events one input drives at most.
pub const EVENTS_MAX: usize = 2_000;

const MSG_TYPES: [&str; 11] = ["A", "0", "1", "2", "3", "4", "5", "D", "V", "c", "ZZ"];

/// Reads bytes one at a time; zero once they run out.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// What one run saw, for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DriveReport {
    pub events: usize,
    pub sent: usize,
    pub disconnects: usize,
}

/// Runs the script in `data` against a fresh session; panics on a broken invariant.
pub fn drive(config: Arc<SessionConfig>, dict: Arc<Dictionary>, data: &[u8]) -> DriveReport {
    let start: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).expect("valid time");
    let mut now = start;
    let mut session = Session::new(
        config,
        Arc::clone(&dict),
        Box::new(NotAvailable),
        SeqNums::default(),
        now,
    );
    let mut input = Input { data };
    let mut report = DriveReport::default();
    let mut last_out = 0u64;
    let mut decoder = Decoder::new();
    let mut check =
        |actions: &[Action], report: &mut DriveReport, status_before: Status, app: bool| {
            for action in actions {
                match action {
                    Action::Send(o) => {
                        report.sent += 1;
                        let framed = frame::check(&o.bytes, &FrameConfig::default());
                        assert_eq!(
                            framed,
                            Framed::Complete { len: o.bytes.len() },
                            "a sent message frames"
                        );
                        assert!(
                            decoder.decode(&dict, &o.bytes).is_ok(),
                            "a sent message decodes"
                        );
                        if o.resend {
                            assert!(
                                o.seq <= last_out,
                                "resend of {} beyond the last sent {last_out}",
                                o.seq
                            );
                        } else {
                            assert_eq!(o.seq, last_out + 1, "outgoing numbers are consecutive");
                            last_out = o.seq;
                        }
                        assert!(
                            app || status_before != Status::Disconnected,
                            "sent while disconnected"
                        );
                    }
                    Action::ResetStore => last_out = 0,
                    Action::Disconnect(_) => report.disconnects += 1,
                    Action::Resend { .. } | Action::Log(..) => {}
                }
            }
        };
    let connected = session.handle(Event::Connected, now);
    check(&connected, &mut report, Status::Disconnected, false);
    while !input.data.is_empty() && report.events < EVENTS_MAX {
        report.events += 1;
        let before = session.status();
        let op = input.byte() % 8;
        let actions = match op {
            0..=2 => {
                let bytes = message(&mut input, session.seqnums().next_in, now);
                session.handle(Event::Frame(&bytes), now)
            }
            3 => {
                now += TimeDelta::seconds(i64::from(input.byte()));
                session.handle(Event::Tick, now)
            }
            4 => {
                let n = usize::from(input.byte());
                let raw = input.bytes(n).to_vec();
                raw_events(&mut session, &raw, now)
            }
            5 => {
                let mut a = session.handle(Event::Disconnected, now);
                a.extend(session.handle(Event::Connected, now));
                a
            }
            6 if input.byte() % 2 == 0 => session.handle(Event::Shutdown, now),
            6 => session.handle(Event::Halted("a part of the venue failed"), now),
            _ => {
                let msg = AppMessage {
                    msg_type: b"8".to_vec(),
                    routing: Routing::default(),
                    body: b"37=O\x0117=E\x01".to_vec(),
                };
                let a = session.handle(Event::Send(&msg), now);
                check(&a, &mut report, before, true);
                continue;
            }
        };
        check(&actions, &mut report, before, false);
        if let Some((begin, end)) = actions.iter().find_map(|a| match a {
            Action::Resend { begin, end } => Some((*begin, *end)),
            _ => None,
        }) {
            let replayed = session.replay(begin, end, &[], now);
            check(&replayed, &mut report, before, false);
        }
    }
    report
}

/// A message built from the input: a MsgType, a MsgSeqNum near `expected`, maybe PossDup, maybe routing,
/// and some fields from a small pool.
fn message(input: &mut Input, expected: u64, now: DateTime<Utc>) -> Vec<u8> {
    let msg_type = MSG_TYPES[usize::from(input.byte()) % MSG_TYPES.len()];
    let delta = i64::from(input.byte() as i8) / 16;
    let seq = (expected as i64 + delta).max(1);
    let mut body = format!("35={msg_type}\x0149=CLIENT\x0156=VENUE\x0134={seq}\x01");
    let flags = input.byte();
    if flags & 1 != 0 {
        body.push_str("43=Y\x01");
    }
    let time = now + TimeDelta::seconds(i64::from(input.byte() as i8));
    body.push_str(&format!("52={}\x01", time.format("%Y%m%d-%H:%M:%S%.3f")));
    if flags & 2 != 0 {
        body.push_str(&format!(
            "122={}\x01",
            (time - TimeDelta::seconds(1)).format("%Y%m%d-%H:%M:%S")
        ));
    }
    if flags & 4 != 0 {
        body.push_str("115=FIRM\x01");
    }
    const POOL: [&str; 14] = [
        "98=0", "108=30", "141=Y", "112=T", "7=1", "16=0", "36=5", "123=Y", "58=x", "45=1", "11=C",
        "54=1", "553=u", "9999=1",
    ];
    for _ in 0..(input.byte() % 6) {
        body.push_str(POOL[usize::from(input.byte()) % POOL.len()]);
        body.push('\x01');
    }
    wrap_body(body.as_bytes())
}

/// Arbitrary bytes through framing, as a connection would feed them.
fn raw_events(session: &mut Session, raw: &[u8], now: DateTime<Utc>) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        match frame::check(&raw[at..], &FrameConfig::default()) {
            Framed::Complete { len } => {
                actions.extend(session.handle(Event::Frame(&raw[at..at + len]), now));
                at += len;
            }
            Framed::Garbled { skip, reason } => {
                actions.extend(session.handle(Event::Garbled(reason), now));
                at += skip;
            }
            Framed::Incomplete { .. } => break,
        }
    }
    actions
}
