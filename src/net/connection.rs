//! One connection: TLS handshake, the first message (which names the session), then the loop that feeds the
//! session state machine with frames, ticks and shutdown, and carries out its actions: session log, then socket.
//!
//! The socket runs under `tokio_util`'s `Framed` with the [`FixCodec`]: messages come out of it already framed,
//! and go into it only after the session log has made them durable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use journal::session_log::Record;

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
use super::stamped::ReadStamped;
use super::{
    FRAME_STARTED_TIMEOUT, READ_CHUNK_BYTES, Slot, TLS_HANDSHAKE_TIMEOUT, Venue, WRITE_TIMEOUT,
};
use super::{Queued, records};
use fix::frame::SOH;
use session::app::Settled;
use session::{Action, Event, Level, Outbound, RESEND_BATCH_MAX, SeqNums, Session};

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
    /// A message and when its last byte was read.
    Frame(BytesMut, DateTime<Utc>),
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
    framed: &mut Framed<ReadStamped<S>, FixCodec>,
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
                let read_at = framed.get_ref().last_read();
                return Some((First::Frame(frame, read_at), ids));
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
/// right after a Logout can be faster than the old connection's last commit).
pub const HANDOVER_WAIT: Duration = Duration::from_millis(500);

/// Takes the session from its slot and installs `tx` as its queue, waiting up to [`HANDOVER_WAIT`] (woken by
/// the connection that gives it back) for a connection that still holds it; `None` if it is still held then
/// (the session is logged on elsewhere).
async fn take_session(slot: &Slot, tx: mpsc::UnboundedSender<Queued>) -> Option<(Session, u64)> {
    let deadline = Instant::now() + HANDOVER_WAIT;
    loop {
        let handed_over = slot.handover.notified();
        tokio::pin!(handed_over);
        // Registered before the look, so that a give-back between the look and the wait is not missed.
        handed_over.as_mut().enable();
        let taken = {
            let mut held = slot.held.lock().expect("slot lock");
            if held.outbound.is_none()
                && let Some(session) = held.session.take()
            {
                held.outbound = Some(tx.clone());
                slot.queued.store(0, Ordering::SeqCst);
                Some((session, held.reports_through))
            } else {
                None
            }
        };
        if taken.is_some() {
            // Whoever gave the session back may still be queueing its records: ours come after them.
            drop(slot.log_order.lock().await);
            return taken;
        }
        if tokio::time::timeout_at(deadline, handed_over)
            .await
            .is_err()
        {
            return None;
        }
    }
}

/// Holds a session taken from its slot; gives it back when dropped, with the messages still queued for it
/// numbered and logged for resend (returned by [`Claimed::give_back`] to be submitted).
struct Claimed {
    slot: Arc<Slot>,
    session: Option<Session>,
}

impl Claimed {
    /// Closes the queue, numbers what is still in it (kept for resend after the next Logon) and puts the session
    /// back, all under the slot's lock, so that a report always finds the session or the queue. Returns the
    /// records to log.
    fn give_back(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Queued>,
        mut reports_through: u64,
    ) -> Vec<Record> {
        let Some(mut session) = self.session.take() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        {
            let mut held = self.slot.held.lock().expect("slot lock");
            held.outbound = None;
            rx.close();
            let now = Utc::now();
            let before = (session.seqnums_durable(), reports_through);
            while let Ok(queued) = rx.try_recv() {
                let msg = match queued {
                    Queued::Msg(msg) => msg,
                    Queued::ReportsThrough(seq) => {
                        reports_through = reports_through.max(seq);
                        session.settle(Settled::ReportsThrough(seq));
                        continue;
                    }
                    Queued::Taken { in_seq, after } => {
                        session.settle(Settled::Taken { in_seq, after });
                        continue;
                    }
                };
                records::numbered_for_resend(&self.slot.id, &mut session, &msg, now, &mut out);
            }
            let after = (session.seqnums_durable(), reports_through);
            if after != before {
                out.push(records::numbers(
                    &self.slot.id,
                    after.0,
                    reports_through,
                    false,
                    now,
                ));
            }
            held.reports_through = held.reports_through.max(reports_through);
            held.session = Some(session);
        }
        self.slot.handover.notify_waiters();
        out
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let mut held = self.slot.held.lock().expect("slot lock");
            held.outbound = None;
            held.session = Some(session);
            drop(held);
            self.slot.handover.notify_waiters();
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
    let mut framed = Framed::with_capacity(
        ReadStamped::new(stream),
        FixCodec::default(),
        READ_CHUNK_BYTES,
    );
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
        if let First::Frame(frame, read_at) = &first {
            log_refused_logon(&venue, &slot, frame, *read_at).await;
        }
        return;
    }
    if slot.failed.load(Ordering::SeqCst) {
        tracing::warn!(%peer, session = slot.id, "session stopped after a session log failure: disconnected");
        return;
    }
    // The queue is in place before the session is taken, so that a send never finds neither.
    let (tx, rx) = mpsc::unbounded_channel();
    let Some((session, reports_through)) = take_session(&slot, tx).await else {
        tracing::warn!(%peer, session = slot.id, "session already logged on: new connection refused");
        return;
    };
    slot.slow_consumer.store(false, Ordering::SeqCst);
    slot.stats.connected(peer);
    tracing::info!(%peer, session = slot.id, "connection");
    let auth_stored = session.auth_state();
    let numbers_logged = session.seqnums_durable();
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
        numbers_logged,
        reports_through,
        reports_through_logged: reports_through,
    };
    conn.step(Event::Connected).await;
    match first {
        // Through `frames`, which logs it (and whatever else its read completed) as received.
        First::Frame(frame, _) => conn.frames(Inbound::Frame(frame)).await,
        First::WrongBeginString => conn.step(Event::WrongBeginString).await,
    }
    conn.run().await;
    conn.step(Event::Disconnected).await;
    // Messages still queued are numbered and logged: the client gets them by resend after its next Logon. The log
    // order is held until they are queued to the writer, so that nothing logged for the session after it is back
    // (a report delivered offline, the next connection's Logon) can reach the log before them.
    let order = slot.log_order.lock().await;
    let rest = conn
        .claimed
        .give_back(&mut conn.outbound, conn.reports_through);
    for submission in records::submissions(rest) {
        if let Err(e) = conn.venue.log.submit(submission).await {
            tracing::error!(
                session = slot.id,
                "session log refused the messages queued at disconnect: {e}"
            );
            slot.failed.store(true, Ordering::SeqCst);
        }
    }
    drop(order);
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
async fn log_refused_logon(venue: &Venue, slot: &Slot, frame: &[u8], read_at: DateTime<Utc>) {
    let record = records::incoming(&slot.id, frame, read_at);
    if let Err(e) = venue.log.submit(vec![record]).await {
        tracing::error!(
            session = slot.id,
            "compliance log of a refused Logon failed: {e}"
        );
    }
}

/// Whether a frame is a Logon (35=A), found without validating it.
fn is_logon(frame: &[u8]) -> bool {
    frame.windows(6).any(|w| w == b"\x0135=A\x01")
}

/// Incoming frames whose effects are committed together, at most.
pub const BATCH_MESSAGES_MAX: usize = 1024;

/// Effects of events not yet committed and sent.
#[derive(Default)]
struct Pending {
    /// Messages to send, each with the time it was framed (its SendingTime): its stamp in the session log.
    out: Vec<(Outbound, DateTime<Utc>)>,
    /// When the session's numbers were reset, if they were.
    reset: Option<DateTime<Utc>>,
    /// Messages received, for the compliance log.
    log: Vec<Record>,
    disconnect: Option<String>,
}

struct Conn<S> {
    /// The socket, noting when each read brought bytes (the stamp of the messages it completed).
    framed: Framed<ReadStamped<S>, FixCodec>,
    pending: Pending,
    claimed: Claimed,
    venue: Arc<Venue>,
    open: bool,
    shutdown: watch::Receiver<bool>,
    shutdown_seen: bool,
    outbound: mpsc::UnboundedReceiver<Queued>,
    /// The failed Logons and lock-out as last stored: written again only when they change.
    auth_stored: session::auth::AuthState,
    /// The sequence numbers as last logged: logged again only when they change.
    numbers_logged: SeqNums,
    /// The journal sequence number through which the gateway handed this session's reports over (taken from
    /// the queue in order), and the one last logged.
    reports_through: u64,
    reports_through_logged: u64,
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
                self.step(Event::SlowConsumer).await;
                continue;
            }
            let mut deadline = self.session().next_deadline().map(to_instant);
            if let Some(since) = partial_since {
                let slow = since + FRAME_STARTED_TIMEOUT;
                deadline = Some(deadline.map_or(slow, |d| d.min(slow)));
            }
            let far = Instant::now() + std::time::Duration::from_secs(3600);
            // Biased, in this order: a message already in the socket is taken before a deadline is judged (a client
            // whose Heartbeat arrived while this task awaited the log is not timed out), and the timer comes last.
            tokio::select! {
                biased;
                changed = self.shutdown.changed(), if !self.shutdown_seen => {
                    self.shutdown_seen = true;
                    if changed.is_err() || *self.shutdown.borrow() {
                        let venue = Arc::clone(&self.venue);
                        match venue.halted.get() {
                            Some(reason) => self.step(Event::Halted(reason)).await,
                            None => self.step(Event::Shutdown).await,
                        }
                    }
                }
                // Not while the gateway holds too many of this session's messages: the venue is behind, and the
                // client waits on TCP rather than being refused (see `GatewayApp::backlogged`).
                read = self.framed.next(), if !self.session().backlogged() => match read {
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
                Some(queued) = self.outbound.recv() => {
                    // Everything queued goes out under one session log commit.
                    let now = Utc::now();
                    let mut taken = 0;
                    let mut next = Some(queued);
                    while let Some(queued) = next.take() {
                        match queued {
                            Queued::Msg(msg) => {
                                taken += 1;
                                let actions = self.session().handle(Event::Send(&msg), now);
                                self.absorb(actions, now).await;
                            }
                            Queued::ReportsThrough(seq) => {
                                self.reports_through = self.reports_through.max(seq);
                                self.session().settle(Settled::ReportsThrough(seq));
                            }
                            Queued::Taken { in_seq, after } => {
                                self.session().settle(Settled::Taken { in_seq, after });
                            }
                        }
                        if taken < BATCH_MESSAGES_MAX {
                            next = self.outbound.try_recv().ok();
                        }
                    }
                    self.claimed.slot.queued.fetch_sub(taken, Ordering::AcqRel);
                    self.commit_and_send(now).await;
                }
                text = stats.logout_requested() => {
                    tracing::info!(session = self.claimed.slot.id, "logged out by the operator: {text}");
                    self.step(Event::OperatorLogout(&text)).await;
                }
                _ = sleep_until(deadline.unwrap_or(far)) => {
                    if partial_since.is_some_and(|s| Instant::now() >= s + FRAME_STARTED_TIMEOUT) {
                        tracing::warn!(session = self.claimed.slot.id, "message not completed within {FRAME_STARTED_TIMEOUT:?}: disconnected");
                        return;
                    }
                    self.step(Event::Tick).await;
                }
            }
        }
    }

    /// Feeds every message of one read, starting with `item`, to the session, committing their effects in
    /// batches of at most [`BATCH_MESSAGES_MAX`] (one session log submission per batch), before anything is written.
    ///
    /// Every message the read completed is logged as received first, stamped with the time of that read, before
    /// any of them is answered: a resend, a reset or a Logon in the middle of the read commits and sends its
    /// answers before the later messages are handled, and those answers are stamped later than the read, so the
    /// session's records stay in time order. Messages after one that closes the session are logged, not handled.
    async fn frames(&mut self, item: Inbound) {
        let read_at = self.framed.get_ref().last_read();
        let items = self.rest_of_read(item).await;
        let id = self.claimed.slot.id.clone();
        for item in &items {
            if let Inbound::Frame(frame) = item {
                self.pending
                    .log
                    .push(records::incoming(&id, frame, read_at));
            }
        }
        let mut batched = 0;
        for item in items {
            match item {
                Inbound::Frame(frame) if is_logon(&frame) => {
                    let now = Utc::now();
                    self.claimed
                        .slot
                        .stats
                        .inbound(&frame, now.timestamp_micros());
                    self.commit_and_send(now).await;
                    batched = 0;
                    self.logon_step(frame).await;
                }
                Inbound::Frame(frame) => {
                    let now = Utc::now();
                    self.claimed
                        .slot
                        .stats
                        .inbound(&frame, now.timestamp_micros());
                    let actions = self.session().handle(Event::Frame(&frame), now);
                    self.absorb(actions, now).await;
                    batched += 1;
                    if batched == BATCH_MESSAGES_MAX {
                        self.commit_and_send(now).await;
                        batched = 0;
                    }
                }
                Inbound::Garbled(reason) => self.step(Event::Garbled(reason)).await,
                Inbound::WrongBeginString(_) => self.step(Event::WrongBeginString).await,
                Inbound::Drained => break,
            }
            if !self.open || self.pending.disconnect.is_some() {
                break;
            }
        }
        self.commit_and_send(Utc::now()).await;
    }

    /// `first` and what the codec hands out after it through `Drained`: the rest of the same read. The codec hands
    /// out all of a read, then `Drained`, before it reads the socket again, so this never waits for the peer; the
    /// items are bounded by the read buffer.
    async fn rest_of_read(&mut self, first: Inbound) -> Vec<Inbound> {
        let mut items = vec![first];
        while !matches!(items.last(), Some(Inbound::Drained)) {
            match self.framed.next().await {
                Some(Ok(next)) => items.push(next),
                Some(Err(_)) | None => break,
            }
        }
        items
    }

    /// A received Logon through the session, then its actions, on tokio's blocking pool: its password check
    /// (argon2) takes milliseconds of CPU that must not stall the other connections' tasks. The message was logged
    /// as received by [`Conn::frames`].
    async fn logon_step(&mut self, frame: BytesMut) {
        let Some(mut session) = self.claimed.session.take() else {
            return;
        };
        let handled = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let actions = session.handle(Event::Frame(&frame), now);
            (session, actions, now)
        })
        .await;
        match handled {
            Ok((session, actions, now)) => {
                self.claimed.session = Some(session);
                self.absorb(actions, now).await;
                self.commit_and_send(now).await;
            }
            Err(e) => {
                // The session went with the task: the venue cannot go on with it (panics abort in release).
                tracing::error!(session = self.claimed.slot.id, "Logon handling failed: {e}");
                self.claimed.slot.failed.store(true, Ordering::SeqCst);
                self.open = false;
            }
        }
    }

    /// One event through the session, then its actions: session log (durable), then socket.
    async fn step(&mut self, event: Event<'_>) {
        let now = Utc::now();
        let actions = self.session().handle(event, now);
        self.absorb(actions, now).await;
        self.commit_and_send(now).await;
    }

    /// Adds one event's actions to the pending batch. Before a resend (which reads the sled index) and before a
    /// reset (which clears it) the batch so far is committed and sent, so both see everything before them.
    ///
    /// A message to send is stamped with `now`, the time the session framed it (its SendingTime), which is when it
    /// enters the socket's path: the durability rule puts the session log's commit between that moment and the
    /// write to the socket. (A message received is stamped with its read time by [`Conn::frames`].)
    async fn absorb(&mut self, actions: Vec<Action>, now: DateTime<Utc>) {
        let id = self.claimed.slot.id.clone();
        for action in actions {
            match action {
                Action::Send(o) => self.pending.out.push((o, now)),
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
                    self.pending.reset = Some(now);
                }
                Action::Disconnect(reason) => self.pending.disconnect = Some(reason),
                Action::Log(Level::Info, text) => tracing::info!(session = id, "{text}"),
                Action::Log(Level::Warn, text) => tracing::warn!(session = id, "{text}"),
            }
        }
    }

    /// Makes the pending batch durable (one session log commit, shared with every other session's of the turn),
    /// then writes its messages; closes if the session asked to. A batch that sends nothing is not waited for:
    /// the log keeps each connection's submissions in order, so the next commit waited for covers it.
    async fn commit_and_send(&mut self, now: DateTime<Utc>) {
        let id = self.claimed.slot.id.clone();
        let pending = std::mem::take(&mut self.pending);
        let numbers = self.session().seqnums_durable();
        let mut log = Vec::with_capacity(pending.log.len() + pending.out.len() + 2);
        let through = self.reports_through;
        if let Some(at) = pending.reset {
            log.push(records::numbers(&id, numbers, through, true, at));
        }
        log.extend(pending.log);
        log.extend(
            pending
                .out
                .iter()
                .map(|(o, framed_at)| records::outgoing(&id, o, *framed_at)),
        );
        let changed = numbers != self.numbers_logged || through != self.reports_through_logged;
        if changed && pending.reset.is_none() {
            log.push(records::numbers(&id, numbers, through, false, now));
        }
        self.numbers_logged = numbers;
        self.reports_through_logged = through;
        let auth = self.session().auth_state();
        if auth != self.auth_stored {
            self.store_auth(auth).await;
        }
        let wait =
            !pending.out.is_empty() || pending.reset.is_some() || pending.disconnect.is_some();
        if let Err(reason) = self.log(log, wait).await {
            self.fail_closed(&reason, now).await;
            return;
        }
        let time_us = now.timestamp_micros();
        let seqnums = self.session().seqnums();
        let logged_on = matches!(self.session().status(), session::Status::LoggedOn);
        let stats = Arc::clone(&self.claimed.slot.stats);
        stats.state(logged_on, seqnums.next_in, seqnums.next_out);
        if self.open && !pending.out.is_empty() {
            for (o, _) in pending.out {
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

    /// Submits `log` to the session log; with `wait`, returns once it is durable.
    async fn log(&mut self, log: Vec<Record>, wait: bool) -> Result<(), String> {
        let mut last = None;
        for submission in records::submissions(log) {
            last = Some(
                self.venue
                    .log
                    .submit(submission)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        match last {
            Some(completion) if wait => match completion.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the session log writer stopped".into()),
            },
            _ => Ok(()),
        }
    }

    /// Keeps failed Logons and a lock-out across restarts (sled, flushed: it is rare and small).
    async fn store_auth(&mut self, auth: session::auth::AuthState) {
        let store = self.venue.store.clone();
        let id = self.claimed.slot.id.clone();
        let stored = tokio::task::spawn_blocking(move || {
            store.put_auth(&id, &auth)?;
            store.flush()
        })
        .await;
        match stored {
            Ok(Ok(())) => self.auth_stored = auth,
            Ok(Err(e)) => tracing::error!(
                session = self.claimed.slot.id,
                "storing failed Logons failed: {e}"
            ),
            Err(e) => tracing::error!(
                session = self.claimed.slot.id,
                "storing failed Logons failed: {e}"
            ),
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
        // Served from sled: first let the indexer catch up with everything durable so far (this session's
        // messages among it).
        let durable = self.venue.log.stats().durable_index;
        let mut indexed = self.venue.indexed.clone();
        if indexed.wait_for(|&i| i >= durable).await.is_err() {
            return Err(store::sessions::ReadError::Corrupt(
                "the session log indexer has stopped".into(),
            ));
        }
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
                    self.pending.out.push((o, now));
                }
            }
            if page_end >= end || !self.open {
                return Ok(());
            }
            from = page_end + 1;
            self.commit_and_send(now).await;
        }
    }

    /// The session log refused a write: nothing of this step is sent; a Logout says why and the session stays
    /// down.
    async fn fail_closed(&mut self, error: &str, now: DateTime<Utc>) {
        tracing::error!(
            session = self.claimed.slot.id,
            "session log write failed, the session stops sending: {error}"
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
