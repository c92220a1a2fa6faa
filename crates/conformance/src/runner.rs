//! One scenario played: its steps over testkit's FIX client, its connections (numbered in order of opening, each
//! sending as a CompID whose MsgSeqNum it shares with the other connections of that CompID), the placeholders and
//! the values `expect` lines capture.
//!
//! The client is used raw: the runner sends what the scenario says and judges every message itself, so no session
//! behaviour of the client's (answering a ResendRequest, skipping Heartbeats) hides what the acceptor does.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::BytesMut;
use chrono::{TimeDelta, Utc};

use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};

use testkit::client::{Client, ClientError};
use testkit::frames::FrameReader;
use testkit::msg::{Msg, same_value};
use testkit::stamp::wrap_body_as;
use testkit::stream::{Connector, Stream};

use crate::{
    DISCONNECT_TIMEOUT, EXPECT_TIMEOUT, Failure, IDS_MAX, Matcher, RECEIVED_KEPT_MAX,
    RESET_ATTEMPTS_MAX, RESET_RETRY_WAIT, SendMode, Step, Target, VARIABLE_BYTES_MAX,
    VARIABLES_MAX, glob, unique_id,
};

/// A connection of the scenario (gone once closed) and the CompID it sends as.
type Connection = (Option<FrameReader<Stream>>, String);

pub(crate) struct Runner<'t> {
    target: &'t Target,
    /// Made at the first connect (reading the TLS files once), shared by every connection.
    connector: Option<Connector>,
    /// The current connection, sending as `client.stamp.sender` with that CompID's next MsgSeqNum.
    client: Client,
    /// Every connection opened, by number (1 = index 0); the current one's socket is in `client`.
    conns: Vec<Connection>,
    current: usize,
    /// The next MsgSeqNum of every CompID but the current one (1 when absent).
    seqs: BTreeMap<String, u64>,
    /// The values of `{id}` so far, in order.
    ids: Vec<String>,
    /// Values captured by `tag=$name`.
    vars: BTreeMap<String, String>,
    pub(crate) line: usize,
    skip_heartbeats: bool,
    /// Every message received, in order, while fewer than [`RECEIVED_KEPT_MAX`]; `None` when not asked for.
    pub(crate) received: Option<Vec<Vec<u8>>>,
}

impl<'t> Runner<'t> {
    pub(crate) fn new(target: &'t Target) -> Runner<'t> {
        Runner {
            target,
            connector: None,
            client: Client::new(&target.client_comp_id, &target.venue_comp_id),
            conns: Vec::new(),
            current: 0,
            seqs: BTreeMap::new(),
            ids: Vec::new(),
            vars: BTreeMap::new(),
            line: 0,
            skip_heartbeats: false,
            received: None,
        }
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, Failure> {
        Err(Failure {
            line: self.line,
            message: message.into(),
        })
    }

    /// The current CompID's next MsgSeqNum.
    fn seq(&mut self) -> &mut u64 {
        &mut self.client.stamp.next_out
    }

    /// Sends as `identity` from now on, with its own next MsgSeqNum.
    fn become_identity(&mut self, identity: String) {
        let stamp = &mut self.client.stamp;
        let next = self.seqs.remove(&identity).unwrap_or(1);
        let previous = std::mem::replace(&mut stamp.sender, identity);
        let previous_next = std::mem::replace(&mut stamp.next_out, next);
        if previous != stamp.sender {
            self.seqs.insert(previous, previous_next);
        } else {
            stamp.next_out = previous_next;
        }
    }

    /// The CompID named by a `connect`/`reset-session` argument.
    fn identity_of(&mut self, name: &Option<String>) -> Result<String, Failure> {
        match name {
            None => Ok(self.target.client_comp_id.clone()),
            Some(text) => self.substitute(text),
        }
    }

    pub(crate) async fn step(&mut self, step: &Step) -> Result<(), Failure> {
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
                let mut body = BytesMut::new();
                self.client
                    .stamp
                    .put_text_body(&mut body, &text, Utc::now());
                self.write(&wrap_body_as(begin_string, &body)).await
            }
            Step::Disconnect => {
                self.client.disconnect().await;
                Ok(())
            }
            Step::Send { mode, text } => self.send(*mode, text).await,
            Step::Expect(matchers) => self.expect(matchers).await,
            Step::ExpectAny(sets) => self.expect_any(sets).await,
            Step::SkipHeartbeats(on) => {
                self.skip_heartbeats = *on;
                Ok(())
            }
            Step::ExpectNothing { ms } => {
                match self.read_or_silence(Duration::from_millis(*ms)).await? {
                    None => Ok(()),
                    Some(msg) => self.fail(format!("expected nothing, received {msg}")),
                }
            }
            Step::ExpectDisconnect => self.expect_disconnect().await,
            Step::Wait { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Step::Drain { ms } => {
                for _ in 0..crate::DRAIN_MESSAGES_MAX {
                    if self
                        .read_or_silence(Duration::from_millis(*ms))
                        .await?
                        .is_none()
                    {
                        return Ok(());
                    }
                }
                self.fail(format!(
                    "still receiving after {} messages drained",
                    crate::DRAIN_MESSAGES_MAX
                ))
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
                Err(_) if !self.client.is_connected() && attempt < RESET_ATTEMPTS_MAX => {
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
        self.conns.clear();
        self.current = 0;
        Ok(())
    }

    /// Makes connection `n` (1-based, in order of opening) the current one.
    fn switch(&mut self, n: usize) -> Result<(), Failure> {
        if n > self.conns.len() {
            return self.fail(format!("no connection {n}"));
        }
        self.conns[self.current] = (
            self.client.take_connection(),
            self.client.stamp.sender.clone(),
        );
        let (conn, identity) = std::mem::take(&mut self.conns[n - 1]);
        self.client.put_connection(conn);
        self.become_identity(identity);
        self.current = n - 1;
        Ok(())
    }

    async fn connect(&mut self, identity: String) -> Result<(), Failure> {
        if !self.conns.is_empty() {
            self.conns[self.current] = (
                self.client.take_connection(),
                self.client.stamp.sender.clone(),
            );
        }
        self.client.put_connection(None);
        self.conns.push((None, identity.clone()));
        self.current = self.conns.len() - 1;
        self.become_identity(identity);
        if self.target.reset_on_logon {
            *self.seq() = 1;
        }
        if self.connector.is_none() {
            match Connector::new(self.target.tls.as_ref()) {
                Ok(c) => self.connector = Some(c),
                Err(e) => return self.fail(e.to_string()),
            }
        }
        let connector = self.connector.as_ref().expect("made above");
        match connector.connect(&self.target.host, self.target.port).await {
            Ok(stream) => {
                self.client.attach(stream);
                Ok(())
            }
            Err(e) => self.fail(e.to_string()),
        }
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
            _ => return self.computed_placeholder(inner),
        };
        Ok(Some(value))
    }

    /// `{now±N}`, `{seq}`, `{seq+N}`, `{id:N}`, `{$name}`; `None` for anything else.
    fn computed_placeholder(&mut self, inner: &str) -> Result<Option<String>, Failure> {
        let value = if let Some(offset) = inner.strip_prefix("now") {
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
        };
        Ok(Some(value))
    }

    async fn send(&mut self, mode: SendMode, text: &str) -> Result<(), Failure> {
        let text = self.substitute(text)?;
        let sent = match mode {
            SendMode::Raw => self.client.send_raw(&fix_bytes(&text)).await,
            SendMode::Body => self.client.send_raw(&fix::frame::from_text(&text)).await,
            SendMode::Auto => self.client.send(&text).await,
        };
        self.sent(sent)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let sent = self.client.send_raw(bytes).await;
        self.sent(sent)
    }

    fn sent(&self, result: Result<(), ClientError>) -> Result<(), Failure> {
        match result {
            Ok(()) => Ok(()),
            Err(ClientError::NotConnected) => self.fail("send without a connection"),
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// The next message, or `None` after `wait` of silence.
    async fn read_or_silence(&mut self, wait: Duration) -> Result<Option<Msg>, Failure> {
        match self.client.recv_raw(wait).await {
            Ok(msg) => {
                if let (Some(kept), Some(m)) = (&mut self.received, &msg)
                    && kept.len() < RECEIVED_KEPT_MAX
                {
                    kept.push(m.raw().to_vec());
                }
                Ok(msg)
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    async fn read(&mut self, wait: Duration) -> Result<Msg, Failure> {
        match self.read_or_silence(wait).await? {
            Some(msg) => Ok(msg),
            None => self.fail(format!("no message within {wait:?}")),
        }
    }

    async fn expect(&mut self, matchers: &[Matcher]) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + EXPECT_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = self.read(wait).await?;
            if self.skip_heartbeats && msg.is_plain_heartbeat() && !wants_heartbeat(matchers) {
                continue;
            }
            return self.check(&msg, matchers);
        }
    }

    async fn expect_disconnect(&mut self) -> Result<(), Failure> {
        match self.client.expect_disconnect(DISCONNECT_TIMEOUT).await {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn check(&mut self, msg: &Msg, matchers: &[Matcher]) -> Result<(), Failure> {
        match self.matches(msg, matchers)? {
            Ok(captured) => self.keep(captured),
            Err(problem) => self.fail(format!("{problem} in {msg}")),
        }
    }

    /// The next `sets.len()` messages, each matching a different one of `sets`.
    async fn expect_any(&mut self, sets: &[Vec<Matcher>]) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + EXPECT_TIMEOUT;
        let mut open: Vec<&Vec<Matcher>> = sets.iter().collect();
        while !open.is_empty() {
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = self.read(wait).await?;
            if self.skip_heartbeats && msg.is_plain_heartbeat() {
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
                        "{msg} matches none of the {} expected ({})",
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
        msg: &Msg,
        matchers: &[Matcher],
    ) -> Result<Result<Vec<(String, String)>, String>, Failure> {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let mut captured = Vec::new();
        for m in matchers {
            let problem = match m {
                Matcher::Equals(tag, expected) => {
                    let expected = self.substitute(expected)?;
                    match msg.get_bytes(*tag) {
                        Some(v) if same_value(v, &expected) => None,
                        Some(v) => Some(format!(
                            "{tag}={} where {tag}={expected} was expected",
                            text(v)
                        )),
                        None => Some(format!("{tag} missing ({tag}={expected} expected)")),
                    }
                }
                Matcher::Present(tag) => msg
                    .get_bytes(*tag)
                    .is_none()
                    .then(|| format!("{tag} missing")),
                Matcher::Absent(tag) => msg
                    .get_bytes(*tag)
                    .is_some()
                    .then(|| format!("{tag} present")),
                Matcher::Capture(tag, name) => match msg.get_bytes(*tag) {
                    Some(v) => {
                        captured.push((name.clone(), text(v)));
                        None
                    }
                    None => Some(format!("{tag} missing (captured as ${name})")),
                },
                Matcher::Glob(tag, pattern) => {
                    let pattern = self.substitute(pattern)?;
                    match msg.get_bytes(*tag) {
                        Some(v) if glob(pattern.as_bytes(), v) => None,
                        Some(v) => {
                            Some(format!("{tag}={} does not match {tag}~{pattern}", text(v)))
                        }
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

fn timestamp(t: chrono::DateTime<Utc>) -> String {
    let mut buf = [0u8; UTC_TIMESTAMP_BYTES_MAX];
    let n = format_utc_timestamp(&t, TimePrecision::Millis, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Text as written with `|` for SOH, as bytes.
fn fix_bytes(text: &str) -> Vec<u8> {
    text.replace('|', "\x01").into_bytes()
}

fn wants_heartbeat(matchers: &[Matcher]) -> bool {
    matchers.contains(&Matcher::Equals(35, "0".into()))
        && !matchers
            .iter()
            .any(|m| matches!(m, Matcher::Equals(112, _) | Matcher::Present(112)))
}
