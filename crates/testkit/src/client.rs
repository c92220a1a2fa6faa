//! The FIX client, async: one session from the client's side over one connection at a time. Its numbers outlive
//! connections, as a FIX session's do.
//!
//! Two levels, so that a scripted scenario and a plain test use the same code:
//! - raw: [`Client::send`] (header filled in), [`Client::send_raw`] (bytes as given, for malformed input),
//!   [`Client::recv_raw`] (the next message, whatever it is);
//! - session: [`Client::recv`] checks the acceptor's MsgSeqNum, passes over plain Heartbeats and duplicates
//!   already seen, answers a ResendRequest with a gap fill; [`Client::expect`] wants the next message to match a
//!   spec; the logon and logout helpers.
//!
//! With `FIX_TRACE` set, every message in and out is printed on stderr (`cargo test -- --nocapture`).

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use chrono::Utc;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout};

use crate::frames::{FrameReader, ReadError};
use crate::msg::{Msg, readable};
use crate::stamp::Stamp;
use crate::stream::{ConnectError, Endpoint, Stream, connect};

/// How long `expect` waits for a message: generous, so that a loaded machine does not fail a test.
pub const EXPECT_WAIT: Duration = Duration::from_secs(10);
/// How long a write may take before the acceptor is taken for stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Logons tried while the acceptor refuses the session because a connection that has just gone still holds it.
pub const LOGON_ATTEMPTS_MAX: usize = 10;
/// The pause between those attempts.
pub const LOGON_RETRY_WAIT: Duration = Duration::from_millis(300);
/// How long, after the acceptor's Logout, the client waits for it to close the connection.
pub const LOGOUT_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// BeginSeqNo of a ResendRequest (`fix::tags` names only the tags the venue reads).
const BEGIN_SEQ_NO: u32 = 7;

/// What went wrong, from the client's side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("no connection")]
    NotConnected,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("write failed: {0}")]
    Write(#[source] io::Error),
    #[error("write timed out")]
    WriteTimeout,
    #[error("nothing within {wait:?}, {expected} expected")]
    Silence { wait: Duration, expected: String },
    #[error("{problem} in {msg}")]
    Unexpected { problem: String, msg: Msg },
    /// The acceptor broke the session protocol as the client sees it (numbers, Logon answer).
    #[error("{0}")]
    Session(String),
}

impl ClientError {
    /// Whether the connection is gone (closed by the acceptor, failed, or never opened).
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            ClientError::NotConnected | ClientError::Read(ReadError::Closed | ReadError::Io(_))
        )
    }
}

/// One FIX session as the client sees it.
pub struct Client {
    /// CompIDs, our next MsgSeqNum, SendingTime's precision.
    pub stamp: Stamp,
    /// The acceptor's next MsgSeqNum, as [`Client::recv`] expects it.
    pub next_in: u64,
    conn: Option<FrameReader<Stream>>,
    /// Outgoing bytes, reused.
    out: BytesMut,
}

impl Client {
    /// A session from `sender` to `target`, both sides at MsgSeqNum 1, not connected.
    pub fn new(sender: &str, target: &str) -> Client {
        Client::with_stamp(Stamp::new(sender, target))
    }

    pub fn with_stamp(stamp: Stamp) -> Client {
        Client {
            stamp,
            next_in: 1,
            conn: None,
            out: BytesMut::with_capacity(4096),
        }
    }

    pub fn sender(&self) -> &str {
        &self.stamp.sender
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Opens a connection (replacing any); the numbers carry on.
    pub async fn connect(&mut self, endpoint: &Endpoint) -> Result<(), ClientError> {
        self.conn = None;
        self.attach(connect(endpoint).await?);
        Ok(())
    }

    /// Uses a connection opened elsewhere (by a [`Connector`](crate::stream::Connector) many sessions share).
    pub fn attach(&mut self, stream: Stream) {
        self.conn = Some(FrameReader::new(stream));
    }

    /// Takes the connection out (with what it has buffered), to split it or to keep it aside.
    pub fn take_connection(&mut self) -> Option<FrameReader<Stream>> {
        self.conn.take()
    }

    /// Puts back a connection taken out (or none).
    pub fn put_connection(&mut self, conn: Option<FrameReader<Stream>>) {
        self.conn = conn;
    }

    /// Closes the connection without a Logout.
    pub async fn disconnect(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // The connection is dropped either way; a failed shutdown only means the peer went first.
            let _ = conn.get_mut().shutdown().await;
        }
    }

    /// Sends `35=X|...|` with the header filled in (see [`Stamp::put_text`]).
    pub async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.stamp.put_text(&mut out, text, Utc::now());
        let result = self.send_raw(&out).await;
        self.out = out;
        result
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        trace(&self.stamp.sender, ">", bytes);
        let conn = self.conn.as_mut().ok_or(ClientError::NotConnected)?;
        let io = conn.get_mut();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClientError::Write(e)),
            Err(_) => Err(ClientError::WriteTimeout),
        }
    }

    /// The next message within `wait`, whatever it is; `None` after `wait` of silence. When the connection ends
    /// (or fails) it is dropped and the error says so ([`ClientError::is_closed`]).
    pub async fn recv_raw(&mut self, wait: Duration) -> Result<Option<Msg>, ClientError> {
        let conn = self.conn.as_mut().ok_or(ClientError::NotConnected)?;
        match conn.next_before(Instant::now() + wait).await {
            Ok(Some(frame)) => {
                trace(&self.stamp.sender, "<", frame);
                Ok(Some(Msg::parse(frame)))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                if !matches!(e, ReadError::Garbled(_)) {
                    self.conn = None;
                }
                Err(e.into())
            }
        }
    }

    /// The next message, or `None` when the acceptor closes the connection; silence for `wait` is an error.
    pub async fn recv_or_eof(&mut self, wait: Duration) -> Result<Option<Msg>, ClientError> {
        match self.recv_raw(wait).await {
            Ok(Some(m)) => Ok(Some(m)),
            Ok(None) => Err(ClientError::Silence {
                wait,
                expected: "a message or the end of the connection".into(),
            }),
            Err(e) if e.is_closed() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The next message other than a plain Heartbeat, checked to carry the acceptor's next MsgSeqNum; `None` after
    /// `wait` of silence. A duplicate already seen is passed over; a ResendRequest is answered with a gap fill
    /// (nothing of ours needs resending).
    pub async fn recv(&mut self, wait: Duration) -> Result<Option<Msg>, ClientError> {
        loop {
            let Some(m) = self.recv_raw(wait).await? else {
                return Ok(None);
            };
            let seq = m
                .seq_num()
                .ok_or_else(|| ClientError::Session(format!("no MsgSeqNum in {m}")))?;
            if m.is_poss_dup() && seq < self.next_in {
                continue;
            }
            if !m.is_plain_heartbeat() && seq != self.next_in {
                return Err(ClientError::Session(format!(
                    "MsgSeqNum {seq} where {} was expected: {m}",
                    self.next_in
                )));
            }
            self.next_in = seq + 1;
            if m.is_plain_heartbeat() {
                continue;
            }
            if m.msg_type() == "2" {
                let begin = m
                    .get(BEGIN_SEQ_NO)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| ClientError::Session(format!("no BeginSeqNo in {m}")))?;
                let mut out = std::mem::take(&mut self.out);
                out.clear();
                self.stamp.put_gap_fill(&mut out, begin, Utc::now());
                let sent = self.send_raw(&out).await;
                self.out = out;
                sent?;
                continue;
            }
            return Ok(Some(m));
        }
    }

    /// The next message (as [`Client::recv`] has it), which must match `spec`, within [`EXPECT_WAIT`].
    pub async fn expect(&mut self, spec: &str) -> Result<Msg, ClientError> {
        self.expect_within(spec, EXPECT_WAIT).await
    }

    pub async fn expect_within(&mut self, spec: &str, wait: Duration) -> Result<Msg, ClientError> {
        let m = self.recv(wait).await?.ok_or_else(|| ClientError::Silence {
            wait,
            expected: spec.to_string(),
        })?;
        match m.mismatch(spec) {
            None => Ok(m),
            Some(problem) => Err(ClientError::Unexpected { problem, msg: m }),
        }
    }

    /// No message but Heartbeats for `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) -> Result<(), ClientError> {
        match self.recv(wait).await? {
            None => Ok(()),
            Some(m) => Err(ClientError::Session(format!(
                "expected nothing, received {m}"
            ))),
        }
    }

    /// The acceptor closes the connection within `wait`, sending nothing more (not a byte) before it does.
    pub async fn expect_disconnect(&mut self, wait: Duration) -> Result<(), ClientError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let unread = conn.unread();
        if !unread.is_empty() {
            return Err(ClientError::Session(format!(
                "expected a disconnect, received {}",
                readable(unread)
            )));
        }
        match timeout(wait, conn.fill()).await {
            Ok(Err(ReadError::Closed | ReadError::Io(_))) => {
                self.conn = None;
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(())) => Err(ClientError::Session(format!(
                "expected a disconnect, received {}",
                readable(conn.unread())
            ))),
            Err(_) => Err(ClientError::Session(format!(
                "still connected after {wait:?}"
            ))),
        }
    }

    /// Whether the acceptor closed the connection within `wait`, and the messages it sent before.
    pub async fn closed_within(&mut self, wait: Duration) -> Result<(bool, Vec<Msg>), ClientError> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            match self
                .recv_raw(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Ok(Some(m)) => seen.push(m),
                Ok(None) => return Ok((false, seen)),
                Err(e) if e.is_closed() => return Ok((true, seen)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Connects and logs on with `extra` Logon fields (after 98=0 and 108=30); returns the acceptor's Logon. A
    /// connection closed or silent without an answer (the acceptor still holds the session for a connection that
    /// has just gone) is tried again, up to [`LOGON_ATTEMPTS_MAX`] times; the Logon keeps its MsgSeqNum.
    pub async fn logon_with(
        &mut self,
        endpoint: &Endpoint,
        extra: &str,
    ) -> Result<Msg, ClientError> {
        let seq = self.stamp.next_out;
        for _ in 0..LOGON_ATTEMPTS_MAX {
            self.connect(endpoint).await?;
            self.stamp.next_out = seq;
            self.send(&format!("35=A|98=0|108=30|{extra}")).await?;
            match self.recv_raw(EXPECT_WAIT).await {
                Ok(Some(logon)) if logon.msg_type() == "A" => return Ok(logon),
                Ok(Some(other)) => {
                    return Err(ClientError::Session(format!("Logon refused: {other}")));
                }
                Ok(None) => {}
                Err(e) if e.is_closed() => {}
                Err(e) => return Err(e),
            }
            tokio::time::sleep(LOGON_RETRY_WAIT).await;
        }
        Err(ClientError::Session(format!(
            "no answer to {LOGON_ATTEMPTS_MAX} Logons"
        )))
    }

    /// Logs on with ResetSeqNumFlag=Y: both sides start at 1.
    pub async fn logon_reset(&mut self, endpoint: &Endpoint) -> Result<Msg, ClientError> {
        self.stamp.next_out = 1;
        self.next_in = 1;
        let logon = self.logon_with(endpoint, "141=Y|").await?;
        if logon.seq_num() != Some(1) {
            return Err(ClientError::Session(format!(
                "a reset Logon answered with another number than 1: {logon}"
            )));
        }
        self.next_in = 2;
        Ok(logon)
    }

    /// Logs on with the numbers the client has, expecting no gap.
    pub async fn logon(&mut self, endpoint: &Endpoint) -> Result<Msg, ClientError> {
        let (logon, resent) = self.logon_recover(endpoint).await?;
        if !resent.is_empty() {
            return Err(ClientError::Session(format!("unexpected gap: {resent:?}")));
        }
        Ok(logon)
    }

    /// Logs on with the numbers the client has; when the acceptor's Logon shows a gap, asks for it with a
    /// ResendRequest and returns the application messages resent (PossDupFlag=Y), in order.
    pub async fn logon_recover(
        &mut self,
        endpoint: &Endpoint,
    ) -> Result<(Msg, Vec<Msg>), ClientError> {
        let logon = self.logon_with(endpoint, "").await?;
        let logon_seq = logon
            .seq_num()
            .ok_or_else(|| ClientError::Session(format!("no MsgSeqNum in {logon}")))?;
        if logon_seq < self.next_in {
            return Err(ClientError::Session(format!(
                "the acceptor's Logon went back from {} to {logon_seq}",
                self.next_in
            )));
        }
        let mut resent = Vec::new();
        if logon_seq > self.next_in {
            let from = self.next_in;
            self.send(&format!("35=2|7={from}|16=0|")).await?;
            resent = self.resent(from, logon_seq).await?;
        }
        self.next_in = logon_seq + 1;
        Ok((logon, resent))
    }

    /// The resend of `from..until`: gap fills skip, other messages must come in order with PossDupFlag=Y.
    async fn resent(&mut self, from: u64, until: u64) -> Result<Vec<Msg>, ClientError> {
        let mut resent = Vec::new();
        let mut expected = from;
        while expected < until {
            let m = self.recv_raw(EXPECT_WAIT).await?.ok_or_else(|| {
                ClientError::Session(format!("resend stopped before {expected} (up to {until})"))
            })?;
            if m.msg_type() == "4" {
                let new: u64 = m
                    .get(fix::tags::NEW_SEQ_NO)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if new <= expected {
                    return Err(ClientError::Session(format!("gap fill going back: {m}")));
                }
                expected = new;
                continue;
            }
            if m.seq_num() != Some(expected) {
                return Err(ClientError::Session(format!("resend out of order: {m}")));
            }
            if !m.is_poss_dup() {
                return Err(ClientError::Session(format!(
                    "resent without PossDupFlag: {m}"
                )));
            }
            resent.push(m);
            expected += 1;
        }
        Ok(resent)
    }

    /// Logout, its answer, and the end of the connection.
    pub async fn logout(&mut self) -> Result<(), ClientError> {
        self.send("35=5|").await?;
        self.expect("35=5|").await?;
        match self.recv(LOGOUT_CLOSE_WAIT).await {
            Ok(None) => {}
            Err(e) if e.is_closed() => {}
            Ok(Some(m)) => {
                return Err(ClientError::Session(format!(
                    "still connected after the Logout, received {m}"
                )));
            }
            Err(e) => return Err(e),
        }
        self.conn = None;
        Ok(())
    }
}

/// With `FIX_TRACE` set, one message in or out on stderr.
fn trace(session: &str, direction: &str, bytes: &[u8]) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("FIX_TRACE").is_some()) {
        eprintln!("{session} {direction} {}", readable(bytes));
    }
}
