//! A small blocking FIX 4.4 client for the end-to-end tests: log on, send with the header filled in, expect the
//! next message to have given fields (with a timeout), read fields, recover a gap by ResendRequest.
//!
//! Field lists are written as in the conformance scripts: `35=8|150=0|` (`tag=*` any value, `!tag` absent; two
//! numbers one of which has a decimal point compare as numbers).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};

/// How long `expect` waits for a message: generous, so a loaded machine does not fail a test.
pub const EXPECT_WAIT: Duration = Duration::from_secs(10);
/// Logons tried while the venue refuses the session because a connection that has just gone still holds it.
pub const LOGON_ATTEMPTS_MAX: usize = 10;

/// One received message.
#[derive(Clone, Debug)]
pub struct Msg {
    /// The message with `|` for SOH.
    pub text: String,
    pub fields: Vec<(u32, String)>,
}

impl Msg {
    fn parse(raw: &[u8]) -> Msg {
        let text = String::from_utf8_lossy(raw).replace('\x01', "|");
        let fields = text
            .split('|')
            .filter_map(|f| {
                let (t, v) = f.split_once('=')?;
                Some((t.parse().ok()?, v.to_string()))
            })
            .collect();
        Msg { text, fields }
    }

    pub fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// The field, or a panic naming the message.
    pub fn field(&self, tag: u32) -> &str {
        self.get(tag)
            .unwrap_or_else(|| panic!("{tag} missing in {}", self.text))
    }

    pub fn decimal(&self, tag: u32) -> rust_decimal::Decimal {
        let v = self.field(tag);
        v.parse()
            .unwrap_or_else(|_| panic!("{tag}={v} is not a decimal in {}", self.text))
    }

    pub fn seq(&self) -> u64 {
        self.field(34).parse().expect("MsgSeqNum")
    }

    pub fn msg_type(&self) -> &str {
        self.field(35)
    }

    /// The first field of `spec` this message does not have, if any.
    pub fn mismatch(&self, spec: &str) -> Option<String> {
        for item in spec.split('|').filter(|s| !s.is_empty()) {
            if let Some(tag) = item.strip_prefix('!') {
                let tag: u32 = tag.parse().expect("tag");
                if self.get(tag).is_some() {
                    return Some(format!("{tag} present"));
                }
                continue;
            }
            let (tag, want) = item.split_once('=').expect("tag=value");
            let tag: u32 = tag.parse().expect("tag");
            match self.get(tag) {
                None => return Some(format!("{tag} missing ({item} expected)")),
                Some(_) if want == "*" => {}
                Some(got) if same_value(got, want) => {}
                Some(got) => return Some(format!("{tag}={got} where {item} was expected")),
            }
        }
        None
    }

    pub fn is(&self, spec: &str) -> bool {
        self.mismatch(spec).is_none()
    }
}

fn same_value(got: &str, want: &str) -> bool {
    if got == want {
        return true;
    }
    if !got.contains('.') && !want.contains('.') {
        return false;
    }
    match (
        got.parse::<rust_decimal::Decimal>(),
        want.parse::<rust_decimal::Decimal>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// UTCTimestamp with microseconds: `YYYYMMDD-HH:MM:SS.ffffff`.
pub fn is_utc_micros(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'-',
            11 | 14 => *c == b':',
            17 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

/// With FIX_TRACE set, every message in and out on stderr (`cargo test -- --nocapture`).
fn trace(session: &str, direction: &str, text: &str) {
    if std::env::var_os("FIX_TRACE").is_some() {
        eprintln!("{session} {direction} {text}");
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

/// A UTCTimestamp `s` seconds from now, in milliseconds.
pub fn in_seconds(s: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(s))
        .format("%Y%m%d-%H:%M:%S%.3f")
        .to_string()
}

/// A ClOrdID unique within the test process and across runs.
pub fn id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let ms = chrono::Utc::now().timestamp_millis();
    format!(
        "{prefix}-{ms}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One FIX session as the client sees it: its numbers outlive connections.
pub struct Fix {
    pub sender: String,
    pub target: String,
    /// Our next outgoing MsgSeqNum.
    pub next_out: u64,
    /// The venue's next MsgSeqNum we expect.
    pub next_in: u64,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// Messages read while looking for something else (`expect_with` keeps what it passed over).
    pending: std::collections::VecDeque<Msg>,
}

impl Fix {
    pub fn new(sender: &str) -> Fix {
        Fix {
            sender: sender.to_string(),
            target: "FIXVENUE".to_string(),
            next_out: 1,
            next_in: 1,
            stream: None,
            buf: Vec::new(),
            pending: Default::default(),
        }
    }

    /// Opens a connection (the numbers carry on).
    pub fn connect(&mut self, port: u16) {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the venue");
        s.set_nodelay(true).ok();
        self.stream = Some(s);
        self.buf.clear();
        self.pending.clear();
    }

    /// Connects and logs on with `extra` Logon fields; returns the venue's Logon.
    /// A connection closed without an answer (the venue still holds the session for a connection that has just
    /// gone) is tried again, up to `LOGON_ATTEMPTS_MAX` times; the Logon keeps its MsgSeqNum.
    pub fn logon_with(&mut self, port: u16, extra: &str) -> Msg {
        let seq = self.next_out;
        for _ in 0..LOGON_ATTEMPTS_MAX {
            self.connect(port);
            self.next_out = seq;
            self.send(&format!("35=A|98=0|108=30|{extra}"));
            if let Some(logon) = self.recv_raw(EXPECT_WAIT) {
                assert_eq!(logon.msg_type(), "A", "Logon refused: {}", logon.text);
                return logon;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("{}: no answer to {LOGON_ATTEMPTS_MAX} Logons", self.sender);
    }

    /// Logs on with the numbers the client has, expecting no gap.
    pub fn logon(&mut self, port: u16) -> Msg {
        let (logon, resent) = self.logon_recover(port);
        assert!(
            resent.is_empty(),
            "{}: unexpected gap: {resent:?}",
            self.sender
        );
        logon
    }

    /// Logs on with ResetSeqNumFlag=Y: both sides start at 1.
    pub fn logon_reset(&mut self, port: u16) -> Msg {
        self.next_out = 1;
        self.next_in = 1;
        let logon = self.logon_with(port, "141=Y|");
        assert_eq!(logon.seq(), 1, "{}", logon.text);
        self.next_in = 2;
        logon
    }

    /// Logs on with the numbers the client has; when the venue's Logon shows a gap, asks for it with a
    /// ResendRequest and returns the application messages resent (PossDupFlag=Y), in order.
    pub fn logon_recover(&mut self, port: u16) -> (Msg, Vec<Msg>) {
        let logon = self.logon_with(port, "");
        let logon_seq = logon.seq();
        assert!(
            logon_seq >= self.next_in,
            "the venue's Logon went back from {} to {logon_seq}",
            self.next_in
        );
        let mut resent = Vec::new();
        if logon_seq > self.next_in {
            let from = self.next_in;
            self.send(&format!("35=2|7={from}|16=0|"));
            let mut expected = from;
            while expected < logon_seq {
                let m = self.recv_raw(EXPECT_WAIT).unwrap_or_else(|| {
                    panic!("resend stopped before {expected} (up to {logon_seq})")
                });
                match m.msg_type() {
                    "4" => {
                        let new: u64 = m.field(36).parse().unwrap();
                        assert!(new > expected, "gap fill going back: {}", m.text);
                        expected = new;
                    }
                    _ => {
                        assert_eq!(m.seq(), expected, "resend out of order: {}", m.text);
                        assert_eq!(
                            m.get(43),
                            Some("Y"),
                            "resent without PossDupFlag: {}",
                            m.text
                        );
                        resent.push(m);
                        expected += 1;
                    }
                }
            }
        }
        self.next_in = logon_seq + 1;
        (logon, resent)
    }

    /// Sends `35=X|...` with 49, 56, 34 and 52 filled in.
    pub fn send(&mut self, body: &str) {
        let (t, rest) = body.split_once('|').expect("35=X|...");
        let text = format!(
            "{t}|49={}|56={}|34={}|52={}|{rest}",
            self.sender,
            self.target,
            self.next_out,
            now()
        );
        self.next_out += 1;
        trace(&self.sender, ">", &text);
        self.write(&from_text(&text));
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let s = self.stream.as_mut().expect("connected");
        s.write_all(bytes).expect("write to the venue");
    }

    /// The next message within `wait`, or `None` (silence or a closed connection). Numbers are not checked.
    pub fn recv_raw(&mut self, wait: Duration) -> Option<Msg> {
        if let Some(m) = self.pending.pop_front() {
            return Some(m);
        }
        let deadline = Instant::now() + wait;
        loop {
            match frame::check(&self.buf, &FrameConfig::default()) {
                Framed::Complete { len } => {
                    let raw: Vec<u8> = self.buf.drain(..len).collect();
                    let m = Msg::parse(&raw);
                    trace(&self.sender, "<", &m.text);
                    return Some(m);
                }
                Framed::Garbled { reason, .. } => panic!("the venue sent garbage: {reason}"),
                Framed::Incomplete { .. } => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let s = self.stream.as_mut()?;
            s.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 8192];
            match s.read(&mut chunk) {
                Ok(0) => {
                    self.stream = None;
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(_) => {
                    self.stream = None;
                    return None;
                }
            }
        }
    }

    /// The next message other than a plain Heartbeat, checked to carry the next MsgSeqNum.
    pub fn recv(&mut self, wait: Duration) -> Option<Msg> {
        loop {
            let m = self.recv_raw(wait)?;
            if m.get(43) == Some("Y") && m.seq() < self.next_in {
                // A possible duplicate already seen (a resend's gap fill over the Logon): ignored, as FIX says.
                continue;
            }
            if m.msg_type() != "0" || m.get(112).is_some() {
                assert_eq!(
                    m.seq(),
                    self.next_in,
                    "{}: MsgSeqNum {} where {} was expected: {}",
                    self.sender,
                    m.seq(),
                    self.next_in,
                    m.text
                );
            }
            self.next_in = m.seq() + 1;
            if m.msg_type() == "0" && m.get(112).is_none() {
                continue;
            }
            if m.msg_type() == "2" {
                // The venue asks for what it missed: nothing of ours needs resending, so one gap fill.
                let begin = m.field(7).to_string();
                let text = format!(
                    "35=4|49={}|56={}|34={begin}|43=Y|52={}|122={}|123=Y|36={}|",
                    self.sender,
                    self.target,
                    now(),
                    now(),
                    self.next_out
                );
                trace(&self.sender, ">", &text);
                self.write(&from_text(&text));
                continue;
            }
            return Some(m);
        }
    }

    /// The next message, which must match `spec`.
    #[track_caller]
    pub fn expect(&mut self, spec: &str) -> Msg {
        let m = self.recv(EXPECT_WAIT).unwrap_or_else(|| {
            panic!(
                "{}: nothing within {EXPECT_WAIT:?}, {spec} expected",
                self.sender
            )
        });
        if let Some(problem) = m.mismatch(spec) {
            panic!("{}: {problem} in {}", self.sender, m.text);
        }
        m
    }

    /// No message (but Heartbeats) for `ms`.
    #[track_caller]
    pub fn expect_nothing(&mut self, ms: u64) {
        if let Some(m) = self.recv(Duration::from_millis(ms)) {
            panic!("{}: expected nothing, received {}", self.sender, m.text);
        }
    }

    /// Logout and its answer; the connection closes.
    pub fn logout(&mut self) {
        self.send("35=5|");
        self.expect("35=5|");
        assert!(
            self.recv(Duration::from_secs(5)).is_none(),
            "still connected"
        );
        self.stream = None;
    }

    /// Closes the connection without a Logout.
    pub fn drop_connection(&mut self) {
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Whether the venue closed the connection within `wait` (after any messages, which are returned).
    pub fn closed_within(&mut self, wait: Duration) -> (bool, Vec<Msg>) {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_raw(left) {
                Some(m) => seen.push(m),
                None => return (self.stream.is_none(), seen),
            }
        }
    }

    // Order-entry shorthands.

    /// A GTC limit order; returns its ClOrdID.
    pub fn limit(&mut self, side: char, qty: &str, price: &str) -> String {
        let id = id(&self.sender);
        self.send(&format!(
            "35=D|11={id}|55=ZVZZT|54={side}|60={}|38={qty}|40=2|44={price}|59=1|",
            now()
        ));
        id
    }

    /// A NewOrderSingle with these fields after 11 and 60; returns its ClOrdID.
    pub fn new_order(&mut self, fields: &str) -> String {
        let id = id(&self.sender);
        self.send(&format!("35=D|11={id}|60={}|{fields}", now()));
        id
    }

    pub fn cancel(&mut self, orig: &str, side: char) -> String {
        let id = id(&self.sender);
        self.send(&format!(
            "35=F|11={id}|41={orig}|55=ZVZZT|54={side}|60={}|",
            now()
        ));
        id
    }

    pub fn replace(&mut self, orig: &str, side: char, qty: &str, price: &str) -> String {
        let id = id(&self.sender);
        self.send(&format!(
            "35=G|11={id}|41={orig}|55=ZVZZT|54={side}|60={}|38={qty}|40=2|44={price}|59=1|",
            now()
        ));
        id
    }

    pub fn status(&mut self, cl_ord_id: &str, side: char) -> String {
        let req = id("ST");
        self.send(&format!(
            "35=H|11={cl_ord_id}|790={req}|55=ZVZZT|54={side}|"
        ));
        req
    }

    pub fn mass_cancel_all(&mut self) -> String {
        let id = id(&self.sender);
        self.send(&format!("35=q|11={id}|530=7|60={}|", now()));
        id
    }
}

/// Checks what every ExecutionReport must carry.
#[track_caller]
pub fn check_report(m: &Msg) {
    for tag in [37, 11, 17, 150, 39, 55, 54, 14, 151, 6, 60, 59] {
        assert!(m.get(tag).is_some(), "{tag} missing in {}", m.text);
    }
    assert!(
        is_utc_micros(m.field(60)),
        "60 without microseconds in {}",
        m.text
    );
    let cum = m.decimal(14);
    let leaves = m.decimal(151);
    let status = m.field(39);
    if status != "4" && status != "8" && status != "C" && m.get(38).is_some() {
        assert_eq!(
            cum + leaves,
            m.decimal(38),
            "CumQty + LeavesQty != OrderQty in {}",
            m.text
        );
    }
    if m.field(150) == "F" {
        for tag in [32, 31, 880, 851] {
            assert!(m.get(tag).is_some(), "{tag} missing on a fill: {}", m.text);
        }
    }
}
