//! The conformance suite's runner: plays scenario files ([`script`]) against any FIX 4.4 acceptor over TCP or
//! TLS, as a scripted client.
//!
//! One runner, used two ways: `cargo test` (tests/conformance.rs) runs every scenario in `conformance/`
//! against a venue started in-process on an ephemeral port, and `fixvenue conformance --host H --port P ...`
//! runs them against any acceptor, printing one line per scenario and `N passed, N failed` last.

pub mod script;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chrono::{TimeDelta, Utc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::fix::frame::{self, SOH};
use crate::fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};
use crate::fix::{FrameConfig, Framed};
pub use script::{Matcher, Scenario, ScriptError, SendMode, Step};

/// How long an `expect` waits.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an `expect-disconnect` waits: longer than QuickFIX's default LogonTimeout (10 s).
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(15);
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
        seq: 1,
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
    /// Every connection opened, by number (1 = index 0); the current one is moved out into `conn`/`buf`.
    others: Vec<(Option<Box<dyn Io>>, BytesMut)>,
    current: usize,
    /// Our next MsgSeqNum.
    seq: u64,
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

    async fn step(&mut self, step: &Step) -> Result<(), Failure> {
        match step {
            Step::ResetSession => self.reset_session().await,
            Step::Connect => self.connect().await,
            Step::Use(n) => self.switch(*n),
            Step::SetSeq(n) => {
                self.seq = *n;
                Ok(())
            }
            Step::SendBeginString { begin_string, text } => {
                let text = self.substitute(text);
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
    async fn reset_session(&mut self) -> Result<(), Failure> {
        self.connect().await?;
        self.seq = 1;
        self.send(SendMode::Auto, "35=A|98=0|108=30|141=Y|").await?;
        let logon = self.read(EXPECT_TIMEOUT).await?;
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
        self.others[self.current] = (conn, buf);
        let (conn, buf) = std::mem::take(&mut self.others[n - 1]);
        self.conn = conn;
        self.buf = buf;
        self.current = n - 1;
        Ok(())
    }

    async fn connect(&mut self) -> Result<(), Failure> {
        if !self.others.is_empty() {
            let conn = self.conn.take();
            let buf = std::mem::take(&mut self.buf);
            self.others[self.current] = (conn, buf);
        }
        self.others.push((None, BytesMut::new()));
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

    fn substitute(&mut self, text: &str) -> String {
        let mut out = text
            .replace("{client}", &self.target.client_comp_id)
            .replace("{venue}", &self.target.venue_comp_id);
        while let Some(start) = out.find("{now") {
            let Some(len) = out[start..].find('}') else {
                break;
            };
            let inner = &out[start + 4..start + len];
            let offset: i64 = inner.trim_start_matches('+').parse().unwrap_or(0);
            let value = timestamp(Utc::now() + TimeDelta::seconds(offset));
            out.replace_range(start..=start + len, &value);
        }
        while let Some(start) = out.find("{seq") {
            let Some(len) = out[start..].find('}') else {
                break;
            };
            let inner = &out[start + 4..start + len];
            let value = if inner.is_empty() {
                self.seq += 1;
                self.seq - 1
            } else {
                self.seq + inner.trim_start_matches('+').parse::<u64>().unwrap_or(0)
            };
            out.replace_range(start..=start + len, &value.to_string());
        }
        out
    }

    async fn send(&mut self, mode: SendMode, text: &str) -> Result<(), Failure> {
        let text = self.substitute(text);
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
                self.seq = self.seq.max(n + 1);
                n.to_string()
            }
            None => match get("34") {
                Some(v) => v,
                None => {
                    self.seq += 1;
                    (self.seq - 1).to_string()
                }
            },
        };
        let mut out = format!(
            "35={}|49={}|56={}|34={seq}|52={}|",
            get("35").unwrap_or_default(),
            get("49").unwrap_or_else(|| self.target.client_comp_id.clone()),
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
        for m in matchers {
            let problem = match m {
                Matcher::Equals(tag, expected) => {
                    let expected = self.substitute(expected);
                    match get(*tag) {
                        Some(v) if v == expected.as_bytes() => None,
                        Some(v) => Some(format!(
                            "{tag}={} where {tag}={expected} was expected",
                            String::from_utf8_lossy(v)
                        )),
                        None => Some(format!("{tag} missing ({tag}={expected} expected)")),
                    }
                }
                Matcher::Present(tag) => get(*tag).is_none().then(|| format!("{tag} missing")),
                Matcher::Absent(tag) => get(*tag).is_some().then(|| format!("{tag} present")),
            };
            if let Some(problem) = problem {
                return self.fail(format!("{problem} in {}", readable(msg)));
            }
        }
        Ok(())
    }
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
    for cert in crate::net::tls::load_certificates(&tls.ca_file).map_err(|e| e.to_string())? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs = crate::net::tls::load_certificates(cert).map_err(|e| e.to_string())?;
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
