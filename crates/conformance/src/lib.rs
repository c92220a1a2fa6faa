//! The conformance suite's runner: plays scenario files ([`script`]) against any FIX 4.4 acceptor over TCP or
//! TLS, as a scripted client.
//!
//! One runner, used two ways: `cargo test` (tests/conformance.rs) runs every scenario in `conformance/`
//! against a venue started in-process on an ephemeral port, and `fixvenue conformance --host H --port P ...`
//! runs them against any acceptor, printing one line per scenario and `N passed, N failed` last.

pub mod script;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use chrono::{TimeDelta, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use fix::frame::{self, SOH};
use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};
use fix::{FrameConfig, Framed};
pub use script::{Matcher, Scenario, ScriptError, SendMode, Step};

/// How long an `expect` waits.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an `expect-disconnect` waits: longer than QuickFIX's default LogonTimeout (10 s).
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Logons a `reset-session` tries while the acceptor refuses the session (still held by a closed connection).
pub const RESET_ATTEMPTS_MAX: u32 = 10;
/// The pause between those attempts.
pub const RESET_RETRY_WAIT: Duration = Duration::from_millis(300);
/// Deadline for connecting (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Scenario files read from one directory, at most.
pub const SCENARIOS_MAX: usize = 10_000;
/// Largest scenario file.
pub const SCENARIO_BYTES_MAX: u64 = 256 * 1024;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// TLS with these trust roots (PEM), and optionally a client certificate and key.
    pub tls: Option<ClientTls>,
    /// Our CompID (SenderCompID on what we send).
    pub client_comp_id: String,
    /// The acceptor's CompID.
    pub venue_comp_id: String,
    /// A second trading CompID (`{client2}`), for scenarios with two sessions.
    pub client2_comp_id: String,
    /// The instrument order-entry scenarios trade (`{symbol}`).
    pub symbol: String,
}

/// `--sender-comp-id2` by default.
pub const CLIENT2_COMP_ID_DEFAULT: &str = "CLIENT2";
/// `--symbol` by default: the industry's test symbol.
pub const SYMBOL_DEFAULT: &str = "ZVZZT";
/// Most `{id}` placeholders one scenario may use.
pub const IDS_MAX: usize = 10_000;
/// Most captured variables one scenario may hold.
pub const VARIABLES_MAX: usize = 1_000;
/// Longest captured value.
pub const VARIABLE_BYTES_MAX: usize = 1_024;

impl Target {
    /// A plain-TCP target with the default second CompID and test symbol.
    pub fn new(host: &str, port: u16, client_comp_id: &str, venue_comp_id: &str) -> Self {
        Self {
            host: host.to_string(),
            port,
            tls: None,
            client_comp_id: client_comp_id.to_string(),
            venue_comp_id: venue_comp_id.to_string(),
            client2_comp_id: CLIENT2_COMP_ID_DEFAULT.to_string(),
            symbol: SYMBOL_DEFAULT.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientTls {
    pub ca_file: PathBuf,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// Why a scenario failed, at which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Failure {
    pub line: usize,
    pub message: String,
}

/// One connection of a scenario: its socket (gone once closed), what was read and not yet consumed, the CompID
/// it sends as.
type Connection = (Option<Box<dyn Io>>, BytesMut, String);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Reads every `*.scn` in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScriptError> {
    let io_err = |e: std::io::Error| ScriptError {
        name: dir.display().to_string(),
        line: 0,
        message: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .take(SCENARIOS_MAX)
        .collect();
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// Reads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScriptError> {
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let io_err = |message: String| ScriptError {
        name: path.display().to_string(),
        line: 0,
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| io_err(e.to_string()))?
        .len();
    if len > SCENARIO_BYTES_MAX {
        return Err(io_err(format!("larger than {SCENARIO_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| io_err(e.to_string()))?;
    script::parse(&name, &text)
}

/// Runs one scenario.
pub async fn run(scenario: &Scenario, target: &Target) -> Result<(), Failure> {
    let mut client = Client {
        target,
        conn: None,
        buf: BytesMut::new(),
        others: Vec::new(),
        current: 0,
        identity: target.client_comp_id.clone(),
        seqs: BTreeMap::new(),
        ids: Vec::new(),
        vars: BTreeMap::new(),
        line: 0,
        skip_heartbeats: false,
    };
    for (line, step) in &scenario.steps {
        client.line = *line;
        client.step(step).await?;
    }
    Ok(())
}

struct Client<'t> {
    target: &'t Target,
    conn: Option<Box<dyn Io>>,
    buf: BytesMut,
    /// Every connection opened, by number (1 = index 0), with the CompID it sends as; the current one's
    /// socket and buffer are moved out into `conn`/`buf`.
    others: Vec<Connection>,
    current: usize,
    /// The CompID the current connection sends as.
    identity: String,
    /// Our next MsgSeqNum, per CompID (1 when absent).
    seqs: BTreeMap<String, u64>,
    /// The values of `{id}` so far, in order.
    ids: Vec<String>,
    /// Values captured by `tag=$name`.
    vars: BTreeMap<String, String>,
    line: usize,
    skip_heartbeats: bool,
}

impl Client<'_> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, Failure> {
        Err(Failure {
            line: self.line,
            message: message.into(),
        })
    }

    /// The current CompID's next MsgSeqNum.
    fn seq(&mut self) -> &mut u64 {
        self.seqs.entry(self.identity.clone()).or_insert(1)
    }

    /// The CompID named by a `connect`/`reset-session` argument.
    fn identity_of(&mut self, name: &Option<String>) -> Result<String, Failure> {
        match name {
            None => Ok(self.target.client_comp_id.clone()),
            Some(text) => self.substitute(text),
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Failure> {
        match step {
            Step::ResetSession(name) => {
                let identity = self.identity_of(name)?;
                self.reset_session(identity).await
            }
            Step::Connect(name) => {
                let identity = self.identity_of(name)?;
                self.connect(identity).await
            }
            Step::Use(n) => self.switch(*n),
            Step::SetSeq(n) => {
                *self.seq() = *n;
                Ok(())
            }
            Step::SendBeginString { begin_string, text } => {
                let text = self.substitute(text)?;
                let body = self.with_header(&text).replace('|', "\x01");
                let mut bytes =
                    format!("8={begin_string}\x019={}\x01{body}", body.len()).into_bytes();
                let sum = frame::checksum(&bytes);
                bytes.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
                self.write(&bytes).await
            }
            Step::Disconnect => {
                if let Some(mut c) = self.conn.take() {
                    let _ = c.shutdown().await;
                }
                Ok(())
            }
            Step::Send { mode, text } => self.send(*mode, text).await,
            Step::Expect(matchers) => {
                let deadline = tokio::time::Instant::now() + EXPECT_TIMEOUT;
                loop {
                    let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let msg = self.read(wait).await?;
                    if self.skip_heartbeats
                        && is_plain_heartbeat(&msg)
                        && !wants_heartbeat(matchers)
                    {
                        continue;
                    }
                    return self.check(&msg, matchers);
                }
            }
            Step::ExpectAny(sets) => self.expect_any(sets).await,
            Step::SkipHeartbeats(on) => {
                self.skip_heartbeats = *on;
                Ok(())
            }
            Step::ExpectNothing { ms } => match self
                .read_or_silence(Duration::from_millis(*ms))
                .await?
            {
                None => Ok(()),
                Some(msg) => self.fail(format!("expected nothing, received {}", readable(&msg))),
            },
            Step::ExpectDisconnect => self.expect_disconnect().await,
            Step::Wait { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
        }
    }

    /// Logon with ResetSeqNumFlag=Y, then Logout: both sides start again at 1 (3 after this exchange).
    async fn reset_session(&mut self, identity: String) -> Result<(), Failure> {
        let mut attempt = 1;
        let logon = loop {
            self.connect(identity.clone()).await?;
            *self.seq() = 1;
            self.send(SendMode::Auto, "35=A|98=0|108=30|141=Y|").await?;
            match self.read(EXPECT_TIMEOUT).await {
                Ok(logon) => break logon,
                // Closed without an answer: the acceptor may still hold the session for a connection the
                // previous scenario left (a failed one ends without a Logout). Try again shortly.
                Err(_) if self.conn.is_none() && attempt < RESET_ATTEMPTS_MAX => {
                    attempt += 1;
                    tokio::time::sleep(RESET_RETRY_WAIT).await;
                }
                Err(f) => return Err(f),
            }
        };
        self.check(
            &logon,
            &[
                Matcher::Equals(35, "A".into()),
                Matcher::Equals(141, "Y".into()),
            ],
        )?;
        self.send(SendMode::Auto, "35=5|").await?;
        let logout = self.read(EXPECT_TIMEOUT).await?;
        self.check(&logout, &[Matcher::Equals(35, "5".into())])?;
        self.expect_disconnect().await?;
        // The scenario's own connections are numbered from 1 after this.
        self.others.clear();
        self.current = 0;
        Ok(())
    }

    /// Makes connection `n` (1-based, in order of opening) the current one.
    fn switch(&mut self, n: usize) -> Result<(), Failure> {
        if n > self.others.len() {
            return self.fail(format!("no connection {n}"));
        }
        let conn = self.conn.take();
        let buf = std::mem::take(&mut self.buf);
        self.others[self.current] = (conn, buf, self.identity.clone());
        let (conn, buf, identity) = std::mem::take(&mut self.others[n - 1]);
        self.conn = conn;
        self.buf = buf;
        self.identity = identity;
        self.current = n - 1;
        Ok(())
    }

    async fn connect(&mut self, identity: String) -> Result<(), Failure> {
        if !self.others.is_empty() {
            let conn = self.conn.take();
            let buf = std::mem::take(&mut self.buf);
            self.others[self.current] = (conn, buf, self.identity.clone());
        }
        self.others.push((None, BytesMut::new(), identity.clone()));
        self.identity = identity;
        self.current = self.others.len() - 1;
        self.buf.clear();
        let addr = format!("{}:{}", self.target.host, self.target.port);
        let tcp = match timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return self.fail(format!("cannot connect to {addr}: {e}")),
            Err(_) => return self.fail(format!("connecting to {addr} timed out")),
        };
        let _ = tcp.set_nodelay(true);
        let conn: Box<dyn Io> = match &self.target.tls {
            None => Box::new(tcp),
            Some(tls) => match tls_connect(tcp, tls, &self.target.host).await {
                Ok(s) => s,
                Err(e) => return self.fail(format!("TLS: {e}")),
            },
        };
        self.conn = Some(conn);
        Ok(())
    }

    /// `text` with every `{...}` placeholder replaced; an unknown one is left as written.
    fn substitute(&mut self, text: &str) -> Result<String, Failure> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find('}') else {
                rest = &rest[start..];
                break;
            };
            let inner = &rest[start + 1..start + len];
            match self.placeholder(inner)? {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[start..=start + len]),
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of one placeholder (without its braces); `None` when it is not one.
    fn placeholder(&mut self, inner: &str) -> Result<Option<String>, Failure> {
        let value = match inner {
            "client" => self.target.client_comp_id.clone(),
            "client2" => self.target.client2_comp_id.clone(),
            "venue" => self.target.venue_comp_id.clone(),
            "symbol" => self.target.symbol.clone(),
            "id" => {
                if self.ids.len() >= IDS_MAX {
                    return self.fail(format!("more than {IDS_MAX} {{id}} in one scenario"));
                }
                let id = unique_id();
                self.ids.push(id.clone());
                id
            }
            _ => {
                if let Some(offset) = inner.strip_prefix("now") {
                    let offset: i64 = offset.trim_start_matches('+').parse().unwrap_or(0);
                    timestamp(Utc::now() + TimeDelta::seconds(offset))
                } else if let Some(ahead) = inner.strip_prefix("seq") {
                    let seq = self.seq();
                    if ahead.is_empty() {
                        *seq += 1;
                        (*seq - 1).to_string()
                    } else {
                        let ahead = ahead.trim_start_matches('+').parse::<u64>().unwrap_or(0);
                        (*seq + ahead).to_string()
                    }
                } else if let Some(n) = inner.strip_prefix("id:") {
                    let Some(id) = n
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| self.ids.get(n.checked_sub(1)?))
                    else {
                        return self.fail(format!(
                            "{{{inner}}}: the scenario has made {} ids so far",
                            self.ids.len()
                        ));
                    };
                    id.clone()
                } else if let Some(name) = inner.strip_prefix('$') {
                    let Some(value) = self.vars.get(name) else {
                        return self.fail(format!("{{{inner}}}: nothing captured as {name}"));
                    };
                    value.clone()
                } else {
                    return Ok(None);
                }
            }
        };
        Ok(Some(value))
    }

    async fn send(&mut self, mode: SendMode, text: &str) -> Result<(), Failure> {
        let text = self.substitute(text)?;
        let bytes = match mode {
            SendMode::Raw => text.replace('|', "\x01").into_bytes(),
            SendMode::Body => frame::from_text(&text),
            SendMode::Auto => frame::from_text(&self.with_header(&text)),
        };
        self.write(&bytes).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return self.fail("send without a connection");
        };
        match timeout(EXPECT_TIMEOUT, async {
            conn.write_all(bytes).await?;
            conn.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => self.fail(format!("write failed: {e}")),
            Err(_) => self.fail("write timed out"),
        }
    }

    /// `35=X|rest` with 49, 56, 34 and 52 filled in unless given.
    fn with_header(&mut self, text: &str) -> String {
        let fields: Vec<(&str, &str)> = text
            .split('|')
            .filter(|f| !f.is_empty())
            .map(|f| f.split_once('=').unwrap_or((f, "")))
            .collect();
        let get = |tag: &str| {
            fields
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, v)| v.to_string())
        };
        let seq = match get("34").and_then(|v| v.parse::<u64>().ok()) {
            Some(n) => {
                let seq = self.seq();
                *seq = (*seq).max(n + 1);
                n.to_string()
            }
            None => match get("34") {
                Some(v) => v,
                None => {
                    let seq = self.seq();
                    *seq += 1;
                    (*seq - 1).to_string()
                }
            },
        };
        let mut out = format!(
            "35={}|49={}|56={}|34={seq}|52={}|",
            get("35").unwrap_or_default(),
            get("49").unwrap_or_else(|| self.identity.clone()),
            get("56").unwrap_or_else(|| self.target.venue_comp_id.clone()),
            get("52").unwrap_or_else(|| timestamp(Utc::now())),
        );
        for (tag, value) in &fields {
            if !matches!(*tag, "35" | "49" | "56" | "34" | "52") {
                out.push_str(&format!("{tag}={value}|"));
            }
        }
        out
    }

    /// The next message, or `None` after `wait` of silence.
    async fn read_or_silence(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, Failure> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match frame::check(&self.buf, &FrameConfig::default()) {
                Framed::Complete { len } => return Ok(Some(self.buf.split_to(len).to_vec())),
                Framed::Garbled { reason, .. } => {
                    return self.fail(format!("the acceptor sent a garbled message: {reason}"));
                }
                Framed::Incomplete { .. } => {}
            }
            let Some(conn) = self.conn.as_mut() else {
                return self.fail("no connection");
            };
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, conn.read_buf(&mut self.buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.conn = None;
                    return self.fail("the acceptor closed the connection");
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn read(&mut self, wait: Duration) -> Result<Vec<u8>, Failure> {
        match self.read_or_silence(wait).await? {
            Some(msg) => Ok(msg),
            None => self.fail(format!("no message within {wait:?}")),
        }
    }

    async fn expect_disconnect(&mut self) -> Result<(), Failure> {
        if !self.buf.is_empty() {
            let pending = readable(&self.buf);
            return self.fail(format!("expected a disconnect, received {pending}"));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let mut scratch = [0u8; 4096];
        match timeout(DISCONNECT_TIMEOUT, conn.read(&mut scratch)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.conn = None;
                Ok(())
            }
            Ok(Ok(n)) => self.fail(format!(
                "expected a disconnect, received {}",
                readable(&scratch[..n])
            )),
            Err(_) => self.fail(format!("still connected after {DISCONNECT_TIMEOUT:?}")),
        }
    }

    fn check(&mut self, msg: &[u8], matchers: &[Matcher]) -> Result<(), Failure> {
        match self.matches(msg, matchers)? {
            Ok(captured) => self.keep(captured),
            Err(problem) => self.fail(format!("{problem} in {}", readable(msg))),
        }
    }

    /// The next `sets.len()` messages, each matching a different one of `sets`.
    async fn expect_any(&mut self, sets: &[Vec<Matcher>]) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + EXPECT_TIMEOUT;
        let mut open: Vec<&Vec<Matcher>> = sets.iter().collect();
        while !open.is_empty() {
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = self.read(wait).await?;
            if self.skip_heartbeats && is_plain_heartbeat(&msg) {
                continue;
            }
            let mut problems = Vec::new();
            let mut found = None;
            for (i, set) in open.iter().enumerate() {
                match self.matches(&msg, set)? {
                    Ok(captured) => {
                        found = Some((i, captured));
                        break;
                    }
                    Err(problem) => problems.push(problem),
                }
            }
            match found {
                Some((i, captured)) => {
                    open.remove(i);
                    self.keep(captured)?;
                }
                None => {
                    return self.fail(format!(
                        "{} matches none of the {} expected ({})",
                        readable(&msg),
                        open.len(),
                        problems.join("; ")
                    ));
                }
            }
        }
        Ok(())
    }

    fn keep(&mut self, captured: Vec<(String, String)>) -> Result<(), Failure> {
        for (name, value) in captured {
            if value.len() > VARIABLE_BYTES_MAX {
                return self.fail(format!("{name}: value longer than {VARIABLE_BYTES_MAX}"));
            }
            if self.vars.len() >= VARIABLES_MAX && !self.vars.contains_key(&name) {
                return self.fail(format!("more than {VARIABLES_MAX} variables"));
            }
            self.vars.insert(name, value);
        }
        Ok(())
    }

    /// Whether `msg` has the fields `matchers` ask for: the captures it yields, or the first problem. The
    /// outer error is a placeholder that cannot be filled in.
    #[allow(clippy::type_complexity)]
    fn matches(
        &mut self,
        msg: &[u8],
        matchers: &[Matcher],
    ) -> Result<Result<Vec<(String, String)>, String>, Failure> {
        let fields: Vec<(u32, &[u8])> = msg
            .split(|&b| b == SOH)
            .filter(|f| !f.is_empty())
            .filter_map(|f| {
                let eq = f.iter().position(|&b| b == b'=')?;
                Some((
                    std::str::from_utf8(&f[..eq]).ok()?.parse().ok()?,
                    &f[eq + 1..],
                ))
            })
            .collect();
        let get = |tag: u32| fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v);
        let mut captured = Vec::new();
        for m in matchers {
            let problem = match m {
                Matcher::Equals(tag, expected) => {
                    let expected = self.substitute(expected)?;
                    match get(*tag) {
                        Some(v) if same_value(v, &expected) => None,
                        Some(v) => Some(format!(
                            "{tag}={} where {tag}={expected} was expected",
                            String::from_utf8_lossy(v)
                        )),
                        None => Some(format!("{tag} missing ({tag}={expected} expected)")),
                    }
                }
                Matcher::Present(tag) => get(*tag).is_none().then(|| format!("{tag} missing")),
                Matcher::Absent(tag) => get(*tag).is_some().then(|| format!("{tag} present")),
                Matcher::Capture(tag, name) => match get(*tag) {
                    Some(v) => {
                        captured.push((name.clone(), String::from_utf8_lossy(v).into_owned()));
                        None
                    }
                    None => Some(format!("{tag} missing (captured as ${name})")),
                },
                Matcher::Glob(tag, pattern) => {
                    let pattern = self.substitute(pattern)?;
                    match get(*tag) {
                        Some(v) if glob(pattern.as_bytes(), v) => None,
                        Some(v) => Some(format!(
                            "{tag}={} does not match {tag}~{pattern}",
                            String::from_utf8_lossy(v)
                        )),
                        None => Some(format!("{tag} missing ({tag}~{pattern} expected)")),
                    }
                }
            };
            if let Some(problem) = problem {
                return Ok(Err(problem));
            }
        }
        Ok(Ok(captured))
    }
}

/// Equal as text, or as decimal numbers when one of them has a decimal point (100 and 100.00 are one price).
fn same_value(actual: &[u8], expected: &str) -> bool {
    if actual == expected.as_bytes() {
        return true;
    }
    let Ok(actual) = std::str::from_utf8(actual) else {
        return false;
    };
    if !actual.contains('.') && !expected.contains('.') {
        return false;
    }
    let number = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|&b| b == b'.').count() <= 1;
        plain
            .then(|| rust_decimal::Decimal::from_str_exact(s).ok())
            .flatten()
    };
    matches!((number(actual), number(expected)), (Some(a), Some(e)) if a == e)
}

/// Whether all of `value` matches `pattern`: `?` any one byte, `*` any run of bytes.
fn glob(pattern: &[u8], value: &[u8]) -> bool {
    // Iterative matching with one backtrack point: linear in practice, never recursive.
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, v));
            p += 1;
        } else if let Some((sp, sv)) = star {
            p = sp + 1;
            v = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// An identifier no other run or scenario makes: the process's start time and id, then a counter.
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let ms = Utc::now().timestamp_millis().unsigned_abs();
        format!("{}{}", base36(ms), base36(u64::from(std::process::id())))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}", base36(n))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A Heartbeat that answers no TestRequest.
fn is_plain_heartbeat(msg: &[u8]) -> bool {
    let soh = |tag: &[u8]| msg.windows(tag.len()).any(|w| w == tag);
    soh(b"\x0135=0\x01") && !soh(b"\x01112=")
}

fn wants_heartbeat(matchers: &[Matcher]) -> bool {
    matchers.contains(&Matcher::Equals(35, "0".into()))
        && !matchers
            .iter()
            .any(|m| matches!(m, Matcher::Equals(112, _) | Matcher::Present(112)))
}

fn readable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\x01', "|")
}

fn timestamp(t: chrono::DateTime<Utc>) -> String {
    let mut buf = [0u8; UTC_TIMESTAMP_BYTES_MAX];
    let n = format_utc_timestamp(&t, TimePrecision::Millis, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn tls_connect(tcp: TcpStream, tls: &ClientTls, host: &str) -> Result<Box<dyn Io>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in testkit::tls::load_certificates(&tls.ca_file).map_err(|e| e.to_string())? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = testkit::tls::load_certificates(cert).map_err(|e| e.to_string())?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("handshake timed out".into()),
    }
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub title: String,
    pub result: Result<(), Failure>,
}

/// Runs `scenarios` one after the other against `target`, printing a line for each when `print` is set.
pub async fn run_all(scenarios: &[Scenario], target: &Target, print: bool) -> Vec<Outcome> {
    let mut out = Vec::new();
    for s in scenarios {
        let result = run(s, target).await;
        if print {
            match &result {
                Ok(()) => println!("PASS {} - {}", s.name, s.title),
                Err(f) => println!("FAIL {} - {}: {f}", s.name, s.title),
            }
        }
        out.push(Outcome {
            name: s.name.clone(),
            title: s.title.clone(),
            result,
        });
    }
    let passed = out.iter().filter(|o| o.result.is_ok()).count();
    if print {
        println!("{passed} passed, {} failed", out.len() - passed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_the_whole_value() {
        assert!(glob(b"*throttle*", b"message throttled"));
        assert!(glob(
            b"????????-??:??:??.??????",
            b"20261122-10:00:00.123456"
        ));
        assert!(!glob(b"????????-??:??:??.??????", b"20261122-10:00:00.123"));
        assert!(glob(b"a*b*c", b"aXXbYYbc"));
        assert!(!glob(b"a*b", b"aXXbc"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"?", b""));
    }

    #[test]
    fn numbers_with_a_decimal_point_compare_as_numbers() {
        assert!(same_value(b"100.00", "100"));
        assert!(same_value(b"0", "0.00"));
        assert!(same_value(b"5.010", "5.01"));
        assert!(!same_value(b"5.02", "5.01"));
        assert!(!same_value(b"007", "7"), "integers compare as text");
        assert!(!same_value(b"1e2", "100.0"));
        assert!(same_value(b"ABC", "ABC"));
    }

    #[test]
    fn ids_are_unique_and_base36() {
        let a = unique_id();
        let b = unique_id();
        assert_ne!(a, b);
        assert!(a.len() < 40, "{a}");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36), "10");
    }
}
