//! One connection: TLS handshake, the first message (which names the session), then the loop that feeds the
//! session state machine with frames, ticks and shutdown, and carries out its actions: store, then socket.
//!
//! The socket runs under `tokio_util`'s `Framed` with the [`FixCodec`]: messages come out of it already framed,
//! and go into it only after the store has made them durable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use super::codec::{FixCodec, Inbound};
use super::peer::CertificateNames;
use super::{
    FRAME_STARTED_TIMEOUT, OUTBOUND_QUEUE_MAX, READ_CHUNK_BYTES, Slot, TLS_HANDSHAKE_TIMEOUT,
    Venue, WRITE_TIMEOUT,
};
use fix::frame::SOH;
use session::app::AppMessage;
use session::{Action, Event, Level, Outbound, RESEND_BATCH_MAX, Session, redact};
use store::db::WriteError;
use store::sessions::{Direction, LogRecord, Writes};

/// Bytes of a first message searched for its CompIDs.
const IDENTIFY_BYTES_MAX: usize = 1024;

/// Handles one accepted TCP connection to the end.
pub async fn accept(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    listener: usize,
    venue: Arc<Venue>,
    shutdown: watch::Receiver<bool>,
) {
    match tls {
        None => serve(stream, peer, listener, venue, shutdown, None).await,
        Some(acceptor) => match timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => {
                // rustls verified the chain (NeedClientAuth=Y); the end-entity certificate comes first.
                let names = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(CertificateNames::of);
                serve(stream, peer, listener, venue, shutdown, names).await
            }
            Ok(Err(e)) => tracing::warn!(%peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
        },
    }
}

/// What the first message was.
enum First {
    Frame(BytesMut),
    WrongBeginString,
}

/// Finds SenderCompID (49) and TargetCompID (56) in the first bytes of a message, without validating it.
fn identify(bytes: &[u8]) -> Option<(String, String)> {
    let bytes = &bytes[..bytes.len().min(IDENTIFY_BYTES_MAX)];
    let (mut sender, mut target) = (None, None);
    for field in bytes.split(|&b| b == SOH) {
        if let Some(v) = field.strip_prefix(b"49=") {
            sender.get_or_insert(v);
        } else if let Some(v) = field.strip_prefix(b"56=") {
            target.get_or_insert(v);
        }
    }
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).ok();
    Some((text(sender?)?, text(target?)?))
}

/// Reads until the first complete message (or a message with another BeginString), within LogonTimeout.
async fn first_message<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, FixCodec>,
    venue: &Venue,
    peer: SocketAddr,
) -> Option<(First, (String, String))> {
    let deadline = Instant::now() + venue.logon_timeout;
    loop {
        let item = match timeout_at(deadline, framed.next()).await {
            Some(Some(Ok(item))) => item,
            Some(Some(Err(_)) | None) => return None,
            None => {
                tracing::warn!(%peer, "no Logon within LogonTimeout: disconnected");
                return None;
            }
        };
        match item {
            Inbound::Frame(frame) => {
                let Some(ids) = identify(&frame) else {
                    tracing::warn!(%peer, "first message has no SenderCompID/TargetCompID: disconnected");
                    return None;
                };
                return Some((First::Frame(frame), ids));
            }
            Inbound::WrongBeginString(bytes) => {
                let ids = identify(&bytes)?;
                return Some((First::WrongBeginString, ids));
            }
            Inbound::Garbled(reason) => {
                tracing::warn!(%peer, "garbled message before Logon ignored: {reason}");
            }
            Inbound::Drained => {}
        }
    }
}

async fn timeout_at<F: std::future::Future>(deadline: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, f).await.ok()
}

/// How long a Logon waits for the connection that holds its session to let go of it (a client reconnecting
/// right after a Logout can be faster than the old connection's last store commit).
pub const HANDOVER_WAIT: Duration = Duration::from_millis(500);

/// Takes the session from its slot and installs `tx` as its queue, waiting up to [`HANDOVER_WAIT`] for a
/// connection that still holds it; `None` if it is still held then (the session is logged on elsewhere).
async fn take_session(slot: &Slot, tx: mpsc::Sender<AppMessage>) -> Option<Session> {
    let deadline = Instant::now() + HANDOVER_WAIT;
    loop {
        {
            let mut outbound = slot.outbound.lock().expect("outbound lock");
            if outbound.is_none() {
                let mut held = slot.session.lock().expect("slot lock");
                if let Some(session) = held.take() {
                    *outbound = Some(tx);
                    return Some(session);
                }
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Holds a session taken from its slot; puts it back when dropped.
struct Claimed {
    slot: Arc<Slot>,
    session: Option<Session>,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            *self.slot.session.lock().expect("slot lock") = Some(session);
        }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    peer: SocketAddr,
    listener: usize,
    venue: Arc<Venue>,
    shutdown: watch::Receiver<bool>,
    client_certificate: Option<CertificateNames>,
) {
    let mut framed = Framed::with_capacity(stream, FixCodec::default(), READ_CHUNK_BYTES);
    let Some((first, (client, ours))) = first_message(&mut framed, &venue, peer).await else {
        return;
    };
    let Some(slot) = venue
        .slot(&client, &ours)
        .filter(|s| s.listener == listener)
        .cloned()
    else {
        tracing::warn!(%peer, client, ours, "unknown CompID pair: disconnected without a reply");
        return;
    };
    let allowed = &slot.config.allowed_remote_addresses;
    if !allowed.is_empty() && !allowed.contains(&peer.ip()) {
        tracing::warn!(%peer, session = slot.id, "address not in AllowedRemoteAddresses: disconnected");
        return;
    }
    if let Some(refusal) = certificate_refusal(&slot, client_certificate.as_ref()) {
        tracing::warn!(%peer, session = slot.id, "Logon refused: {refusal}: disconnected without a reply");
        if let First::Frame(frame) = &first {
            log_refused_logon(&venue, &slot, frame);
        }
        return;
    }
    if slot.failed.load(Ordering::SeqCst) {
        tracing::warn!(%peer, session = slot.id, "session stopped after a store failure: disconnected");
        return;
    }
    // The queue is in place before the session is taken, so that a send never finds neither.
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE_MAX);
    let Some(session) = take_session(&slot, tx).await else {
        tracing::warn!(%peer, session = slot.id, "session already logged on: new connection refused");
        return;
    };
    slot.slow_consumer.store(false, Ordering::SeqCst);
    slot.stats.connected(peer);
    tracing::info!(%peer, session = slot.id, "connection");
    let auth_stored = session.auth_state();
    let mut conn = Conn {
        framed,
        pending: Pending::default(),
        claimed: Claimed {
            slot: Arc::clone(&slot),
            session: Some(session),
        },
        venue,
        open: true,
        shutdown,
        shutdown_seen: false,
        outbound: rx,
        auth_stored,
    };
    conn.step(Event::Connected, None).await;
    match first {
        First::Frame(frame) => {
            slot.stats.inbound(&frame, Utc::now().timestamp_micros());
            conn.step(Event::Frame(&frame), Some(&frame)).await
        }
        First::WrongBeginString => conn.step(Event::WrongBeginString, None).await,
    }
    conn.run().await;
    conn.step(Event::Disconnected, None).await;
    // Messages still queued are numbered and stored: the client gets them by resend after its next Logon.
    *slot.outbound.lock().expect("outbound lock") = None;
    conn.outbound.close();
    while let Ok(msg) = conn.outbound.try_recv() {
        conn.step(Event::Send(&msg), None).await;
    }
    slot.stats.disconnected();
    tracing::info!(%peer, session = slot.id, "disconnected");
}

/// Why a connection's client certificate may not log on to `slot`'s session, if it may not: with NeedClientAuth=Y
/// one of its names must be in the session's ClientCertificateNames.
fn certificate_refusal(slot: &Slot, certificate: Option<&CertificateNames>) -> Option<String> {
    if !slot.config.tls.as_ref().is_some_and(|t| t.need_client_auth) {
        return None;
    }
    let allowed = &slot.config.client_certificate_names;
    match certificate {
        Some(names) if names.bound_to(allowed) => None,
        Some(names) => Some(format!(
            "client certificate ({names}) is not bound to this session (ClientCertificateNames={})",
            allowed.join(",")
        )),
        None => Some("no client certificate".into()),
    }
}

/// Keeps a Logon refused before it reached the session in the compliance log (the session is not touched).
fn log_refused_logon(venue: &Venue, slot: &Slot, frame: &[u8]) {
    let writes = Writes {
        log: vec![LogRecord {
            direction: Direction::In,
            time_us: Utc::now().timestamp_micros(),
            session: slot.id.clone(),
            frame: redact(frame),
        }],
        ..Writes::default()
    };
    if let Err(e) = venue.store.commit(&slot.id, &writes) {
        tracing::error!(
            session = slot.id,
            "compliance log of a refused Logon failed: {e}"
        );
    }
}

/// Incoming frames whose effects are committed together, at most.
pub const BATCH_MESSAGES_MAX: usize = 1024;

/// Effects of events not yet committed and sent.
#[derive(Default)]
struct Pending {
    out: Vec<Outbound>,
    reset: bool,
    log: Vec<LogRecord>,
    disconnect: Option<String>,
}

struct Conn<S> {
    framed: Framed<S, FixCodec>,
    pending: Pending,
    claimed: Claimed,
    venue: Arc<Venue>,
    open: bool,
    shutdown: watch::Receiver<bool>,
    shutdown_seen: bool,
    outbound: mpsc::Receiver<AppMessage>,
    /// The failed Logons and lock-out as last stored: written again only when they change.
    auth_stored: session::auth::AuthState,
}

fn to_instant(deadline: DateTime<Utc>) -> Instant {
    let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + wait
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn<S> {
    fn session(&mut self) -> &mut Session {
        self.claimed
            .session
            .as_mut()
            .expect("the session is held for the connection's life")
    }

    async fn run(&mut self) {
        let mut partial_since: Option<Instant> = None;
        let stats = Arc::clone(&self.claimed.slot.stats);
        while self.open {
            if self
                .claimed
                .slot
                .slow_consumer
                .swap(false, Ordering::SeqCst)
            {
                tracing::warn!(
                    session = self.claimed.slot.id,
                    "outbound queue full: logging the session out"
                );
                self.step(Event::SlowConsumer, None).await;
                continue;
            }
            let mut deadline = self.session().next_deadline().map(to_instant);
            if let Some(since) = partial_since {
                let slow = since + FRAME_STARTED_TIMEOUT;
                deadline = Some(deadline.map_or(slow, |d| d.min(slow)));
            }
            let far = Instant::now() + std::time::Duration::from_secs(3600);
            tokio::select! {
                changed = self.shutdown.changed(), if !self.shutdown_seen => {
                    self.shutdown_seen = true;
                    if changed.is_err() || *self.shutdown.borrow() {
                        self.step(Event::Shutdown, None).await;
                    }
                }
                read = self.framed.next() => match read {
                    Some(Ok(item)) => {
                        self.frames(item).await;
                        partial_since = match (self.framed.read_buffer().is_empty(), partial_since) {
                            (true, _) => None,
                            (false, None) => Some(Instant::now()),
                            (false, since) => since,
                        };
                    }
                    Some(Err(_)) | None => return,
                },
                Some(msg) = self.outbound.recv() => {
                    // Everything queued goes out under one store commit.
                    let now = Utc::now();
                    let actions = self.session().handle(Event::Send(&msg), now);
                    self.absorb(actions, None, now).await;
                    for _ in 1..BATCH_MESSAGES_MAX {
                        let Ok(msg) = self.outbound.try_recv() else { break };
                        let actions = self.session().handle(Event::Send(&msg), now);
                        self.absorb(actions, None, now).await;
                    }
                    self.commit_and_send(now).await;
                }
                text = stats.logout_requested() => {
                    tracing::info!(session = self.claimed.slot.id, "logged out by the operator: {text}");
                    self.step(Event::OperatorLogout(&text), None).await;
                }
                _ = sleep_until(deadline.unwrap_or(far)) => {
                    if partial_since.is_some_and(|s| Instant::now() >= s + FRAME_STARTED_TIMEOUT) {
                        tracing::warn!(session = self.claimed.slot.id, "message not completed within {FRAME_STARTED_TIMEOUT:?}: disconnected");
                        return;
                    }
                    self.step(Event::Tick, None).await;
                }
            }
        }
    }

    /// Feeds every message of one read, starting with `item`, to the session, committing their effects in
    /// batches of at most [`BATCH_MESSAGES_MAX`] (one store flush per batch), before anything is written.
    async fn frames(&mut self, mut item: Inbound) {
        let mut batched = 0;
        loop {
            match item {
                Inbound::Frame(frame) => {
                    let now = Utc::now();
                    self.claimed
                        .slot
                        .stats
                        .inbound(&frame, now.timestamp_micros());
                    let actions = self.session().handle(Event::Frame(&frame), now);
                    self.absorb(actions, Some(&frame), now).await;
                    batched += 1;
                    if batched == BATCH_MESSAGES_MAX {
                        self.commit_and_send(now).await;
                        batched = 0;
                    }
                }
                Inbound::Garbled(reason) => self.step(Event::Garbled(reason), None).await,
                Inbound::WrongBeginString(_) => self.step(Event::WrongBeginString, None).await,
                Inbound::Drained => break,
            }
            if !self.open || self.pending.disconnect.is_some() {
                break;
            }
            // The codec hands out the rest of the read, then `Drained`, before it reads the socket again: this
            // never waits for the peer.
            match self.framed.next().await {
                Some(Ok(next)) => item = next,
                Some(Err(_)) | None => break,
            }
        }
        self.commit_and_send(Utc::now()).await;
    }

    /// One event through the session, then its actions: store (durable), then socket.
    async fn step(&mut self, event: Event<'_>, inbound: Option<&[u8]>) {
        let now = Utc::now();
        let actions = self.session().handle(event, now);
        self.absorb(actions, inbound, now).await;
        self.commit_and_send(now).await;
    }

    /// Adds one event's actions to the pending batch. Before a resend (which reads the store) and before a
    /// reset (which clears it) the batch so far is committed and sent, so both see everything before them.
    async fn absorb(&mut self, actions: Vec<Action>, inbound: Option<&[u8]>, now: DateTime<Utc>) {
        let id = self.claimed.slot.id.clone();
        if let Some(frame) = inbound {
            self.pending.log.push(LogRecord {
                direction: Direction::In,
                time_us: now.timestamp_micros(),
                session: id.clone(),
                frame: redact(frame),
            });
        }
        for action in actions {
            match action {
                Action::Send(o) => self.pending.out.push(o),
                Action::Resend { begin, end } => {
                    self.commit_and_send(now).await;
                    match self.resend(begin, end, now).await {
                        Ok(()) => {}
                        Err(e) => {
                            tracing::error!(
                                session = id,
                                "store read failed while serving a resend: {e}"
                            );
                            self.pending.disconnect = Some("store read failure".into());
                        }
                    }
                }
                Action::ResetStore => {
                    self.commit_and_send(now).await;
                    self.pending.reset = true;
                }
                Action::Disconnect(reason) => self.pending.disconnect = Some(reason),
                Action::Log(Level::Info, text) => tracing::info!(session = id, "{text}"),
                Action::Log(Level::Warn, text) => tracing::warn!(session = id, "{text}"),
            }
        }
    }

    /// Makes the pending batch durable (one store commit), then writes its messages; closes if the session
    /// asked to.
    async fn commit_and_send(&mut self, now: DateTime<Utc>) {
        let id = self.claimed.slot.id.clone();
        let pending = std::mem::take(&mut self.pending);
        let time_us = now.timestamp_micros();
        let mut log = pending.log;
        for o in &pending.out {
            log.push(LogRecord {
                direction: Direction::Out,
                time_us,
                session: id.clone(),
                frame: redact(&o.bytes),
            });
        }
        let auth = self.session().auth_state();
        let auth_changed = auth != self.auth_stored;
        let writes = Writes {
            seqnums: Some(self.session().seqnums()),
            auth: auth_changed.then_some(auth),
            reset: pending.reset,
            messages: pending
                .out
                .iter()
                .filter(|o| o.store)
                .map(|o| (o.seq, &o.bytes[..]))
                .collect(),
            log,
        };
        // Nothing goes to the socket: no need to wait for the flush (the next one covers these writes first).
        let quiet = pending.out.is_empty() && !pending.reset && pending.disconnect.is_none();
        let stored = if quiet {
            self.venue.store.write(&id, &writes)
        } else {
            self.venue.store.commit(&id, &writes)
        };
        if let Err(e) = stored {
            self.fail_closed(&e, now).await;
            return;
        }
        self.auth_stored = auth;
        let seqnums = self.session().seqnums();
        let logged_on = matches!(self.session().status(), session::Status::LoggedOn);
        let stats = Arc::clone(&self.claimed.slot.stats);
        stats.state(logged_on, seqnums.next_in, seqnums.next_out);
        if self.open && !pending.out.is_empty() {
            for o in pending.out {
                stats.outbound(&o.bytes, time_us, &self.venue.counters);
                if !self.write(o.bytes).await {
                    break;
                }
            }
            self.flush().await;
        }
        if let Some(reason) = pending.disconnect {
            tracing::debug!(session = id, "closing: {reason}");
            self.close().await;
        }
    }

    /// Pages through the stored messages of a ResendRequest.
    /// Each page of at most `RESEND_BATCH_MAX` stored messages is sent before the next is read, so a long
    /// resend holds one page in memory.
    async fn resend(
        &mut self,
        begin: u64,
        end: u64,
        now: DateTime<Utc>,
    ) -> Result<(), store::sessions::ReadError> {
        let id = self.claimed.slot.id.clone();
        let mut from = begin;
        loop {
            let page = self
                .venue
                .store
                .messages(&id, from, end, RESEND_BATCH_MAX)?;
            let page_end = match page.last() {
                Some((last, _)) if page.len() == RESEND_BATCH_MAX => *last,
                _ => end,
            };
            for action in self.session().replay(from, page_end, &page, now) {
                if let Action::Send(o) = action {
                    self.pending.out.push(o);
                }
            }
            if page_end >= end || !self.open {
                return Ok(());
            }
            from = page_end + 1;
            self.commit_and_send(now).await;
        }
    }

    /// The store refused a write: nothing of this step is sent; a Logout says why and the session stays down.
    async fn fail_closed(&mut self, error: &WriteError, now: DateTime<Utc>) {
        tracing::error!(
            session = self.claimed.slot.id,
            "store write failed, the session stops sending: {error}"
        );
        self.claimed.slot.failed.store(true, Ordering::SeqCst);
        let actions = self.session().handle(Event::StoreFailed, now);
        for action in actions {
            if let Action::Send(o) = action
                && self.open
            {
                self.write(o.bytes).await;
            }
        }
        self.flush().await;
        self.close().await;
    }

    /// Hands one stored message to the codec; the write buffer goes out when it fills and at [`Self::flush`].
    async fn write(&mut self, bytes: Bytes) -> bool {
        match timeout(WRITE_TIMEOUT, self.framed.feed(bytes)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(session = self.claimed.slot.id, "write failed: {e}");
                self.open = false;
                false
            }
            Err(_) => {
                tracing::warn!(
                    session = self.claimed.slot.id,
                    "peer does not read: disconnected after {WRITE_TIMEOUT:?}"
                );
                self.open = false;
                false
            }
        }
    }

    async fn flush(&mut self) {
        if self.open
            && !matches!(
                timeout(WRITE_TIMEOUT, SinkExt::<Bytes>::flush(&mut self.framed)).await,
                Ok(Ok(()))
            )
        {
            tracing::warn!(session = self.claimed.slot.id, "flush failed: disconnected");
            self.open = false;
        }
    }

    async fn close(&mut self) {
        if self.open {
            self.open = false;
            let _ = timeout(WRITE_TIMEOUT, SinkExt::<Bytes>::close(&mut self.framed)).await;
        }
    }
}
