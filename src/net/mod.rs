//! The acceptor: tokio listeners (plain and TLS side by side), one task per connection, limits, shutdown.
//!
//! [`Server::bind`] checks the session store, loads every configured session with its stored sequence numbers
//! and binds one listener per SocketAcceptAddress/SocketAcceptPort (port 0 asks for a free one, for tests).
//! [`Server::run`] accepts until the shutdown signal, then lets every session log out and flushes the store.
//!
//! Limits: [`CONNECTIONS_MAX`] in total, [`CONNECTIONS_PER_IP_MAX`] per address, [`TLS_HANDSHAKE_TIMEOUT`],
//! LogonTimeout for the first message, [`FRAME_STARTED_TIMEOUT`] for a message once started, and
//! [`WRITE_TIMEOUT`] for a peer that does not read (it is disconnected, never buffered for).
//!
//! Modules: [`connection`] runs one connection (first message, then the loop that carries out the session's
//! actions) under [`codec`], the FIX framing as a `tokio_util` codec; [`tls`] builds the rustls acceptor,
//! [`peer`] reads a client certificate's names (which bind it to sessions) and [`certs`] makes the development
//! certificates; [`stamped`] notes when each read of a connection brought bytes (the stamp of a message received)
//! and [`records`] makes what a session writes to the session log.
//!
//! Invariant: nothing here decides protocol behaviour; the session state machine does, this module carries
//! out its actions (store first, then the socket).

pub mod certs;
pub mod codec;
pub mod connection;
pub mod peer;
pub mod records;
pub mod stamped;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use fix::Dictionary;
use fix::dictionary::DictionaryError;
use journal::session_log::SESSION_ID_BYTES_MAX;
use journal::session_log::writer::SessionLogHandle;
use session::app::{AppMessage, Application, Settled};
use session::config::{SessionConfig, SessionSettings, TlsSettings};
use session::{SeqNums, Session};
use store::sessions::{ReadError, SessionStore};

use crate::metrics::SessionStats;
use crate::metrics::VenueCounters;

/// Connections open at once, all listeners together.
pub const CONNECTIONS_MAX: usize = 1024;
/// Connections open at once from one IP address.
pub const CONNECTIONS_PER_IP_MAX: usize = 32;
/// Deadline for a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for the rest of a message once its first byte arrived (slow senders).
pub const FRAME_STARTED_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for writing one step's messages to a peer that does not read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Application messages queued for one connected session, at most; a full queue logs the session out.
pub const OUTBOUND_QUEUE_MAX: usize = 4096;
/// Room kept in a session's outbound queue for what is not market data (ExecutionReports, answers): once fewer
/// slots are free, market data is refused (the subscriber falls behind and gets fresh snapshots later) rather
/// than crowding out order entry or logging the session out.
pub const MD_QUEUE_RESERVE: usize = OUTBOUND_QUEUE_MAX / 4;
/// Bytes read from a socket at a time.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    StoreRead(#[from] ReadError),
    #[error(
        "session {session}: its id is longer than the session log takes ({SESSION_ID_BYTES_MAX} bytes)"
    )]
    SessionIdTooLong { session: String },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("session {session}")]
    Tls {
        session: String,
        source: tls::TlsError,
    },
    #[error("{a} and {b} share {addr} but not the same TLS settings")]
    MixedTls {
        addr: SocketAddr,
        a: String,
        b: String,
    },
    #[error("session {session}: DataDictionary {path}")]
    DictionaryRead {
        session: String,
        path: String,
        source: std::io::Error,
    },
    #[error("session {session}: DataDictionary {path}")]
    Dictionary {
        session: String,
        path: String,
        source: DictionaryError,
    },
}

/// One configured session and, while no connection holds it, its state machine.
pub struct Slot {
    pub config: Arc<SessionConfig>,
    pub id: String,
    listener: usize,
    /// The session while no connection holds it, and the queue into the connection that holds it: one lock, so
    /// that a report always finds one or the other.
    held: Mutex<Held>,
    /// Woken when a connection gives the session back (a Logon waiting for the handover).
    handover: Notify,
    /// The order of the session's records in the session log while no connection holds it: held by a connection
    /// giving the session back until the records it numbered are queued to the writer, and by the gateway while
    /// it logs for the session offline; a connection that takes the session waits for it before it logs
    /// anything. So each session's records reach the log in the order they were made (and stamped). Always taken
    /// before `held`, never while holding it.
    log_order: tokio::sync::Mutex<()>,
    /// Set when the session log refused a write: the session stays down until the venue restarts.
    failed: AtomicBool,
    /// Application messages in the connection's queue, not yet taken by it.
    queued: AtomicUsize,
    /// Set when that queue passed [`OUTBOUND_QUEUE_MAX`]: the connection logs the session out.
    slow_consumer: AtomicBool,
    /// The session's figures for the metrics and the admin server (kept by its connection).
    pub stats: Arc<SessionStats>,
}

impl Slot {
    /// The slot's lock for a delivery from the gateway (a plain thread: this may block). When no connection
    /// holds the session, the caller logs for it: the log order is taken first (see [`Slot::log_order`]) and
    /// returned with the lock.
    fn lock_for_delivery(
        &self,
    ) -> (
        Option<tokio::sync::MutexGuard<'_, ()>>,
        std::sync::MutexGuard<'_, Held>,
    ) {
        let held = self.held.lock().expect("slot lock");
        if held.outbound.is_some() {
            return (None, held);
        }
        drop(held);
        let order = self.log_order.blocking_lock();
        (Some(order), self.held.lock().expect("slot lock"))
    }
}

#[derive(Default)]
struct Held {
    session: Option<Session>,
    outbound: Option<mpsc::UnboundedSender<Queued>>,
    /// The journal sequence number through which the session's reports are logged (with the session while no
    /// connection holds it).
    reports_through: u64,
}

/// What the gateway hands a connection, in order.
#[derive(Debug)]
pub enum Queued {
    Msg(AppMessage),
    /// Every report of journaled commands up to this sequence number was queued before this.
    ReportsThrough(u64),
    /// The gateway took the session's message `in_seq` (see [`session::app::Settled::Taken`]).
    Taken {
        in_seq: u64,
        after: u64,
    },
}

/// Everything connection tasks share.
pub struct Venue {
    /// The sled index behind the session log: served for resends, written by the indexer.
    pub store: SessionStore,
    /// The session log's writer: every message in and out, durable before it is acted on or sent.
    log: SessionLogHandle,
    /// How far the indexer has brought `store` (closed if it stopped).
    indexed: watch::Receiver<u64>,
    /// Sessions by (venue CompID, client CompID).
    slots: HashMap<(String, String), Arc<Slot>>,
    connections: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    logon_timeout: Duration,
    /// Why the venue stops, when a part of it failed: the Logout of every session says it.
    halted: std::sync::OnceLock<String>,
    /// Every session's figures, in configuration order, and the counters they share.
    stats: Vec<Arc<SessionStats>>,
    pub(crate) counters: Arc<VenueCounters>,
}

impl Venue {
    /// The session for a first message's CompIDs (SenderCompID 49 is the client's, TargetCompID 56 ours).
    fn slot(&self, client: &str, venue: &str) -> Option<&Arc<Slot>> {
        self.slots.get(&(venue.to_string(), client.to_string()))
    }

    /// Takes a connection slot for `ip`, `None` when that address has too many.
    fn enter_ip(self: &Arc<Self>, ip: IpAddr) -> Option<IpGuard> {
        let mut map = self.per_ip.lock().expect("per-ip map lock");
        let n = map.entry(ip).or_insert(0);
        if *n >= CONNECTIONS_PER_IP_MAX {
            return None;
        }
        *n += 1;
        Some(IpGuard {
            venue: Arc::clone(self),
            ip,
        })
    }
}

/// Gives back a per-IP connection slot on drop.
struct IpGuard {
    venue: Arc<Venue>,
    ip: IpAddr,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut map = self.venue.per_ip.lock().expect("per-ip map lock");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A bound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub addr: SocketAddr,
    pub tls: bool,
}

struct Listener {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    index: usize,
}

/// The bound acceptor, ready to run.
pub struct Server {
    venue: Arc<Venue>,
    listeners: Vec<Listener>,
}

impl Server {
    /// Checks the store, loads the sessions and binds their listeners.
    /// `apps` makes each session's application layer, given the session's index in `settings` and its
    /// configuration.
    pub async fn bind(
        settings: &SessionSettings,
        store: SessionStore,
        log: SessionLogHandle,
        indexed: watch::Receiver<u64>,
        dict: Arc<Dictionary>,
        apps: &mut (dyn FnMut(usize, &SessionConfig) -> Box<dyn Application> + Send),
    ) -> Result<Server, ServeError> {
        // Older versions kept a copy of every message in sled (`fixlog`); the session log is the compliance log.
        if store.drop_retired_fixlog().map_err(ReadError::from)? {
            tracing::info!(
                "session store: dropped the retired fixlog tree (the compliance log is the session log)"
            );
        }
        let report = store.check()?;
        for session in &report.repaired {
            tracing::warn!(
                session,
                "store check: next outgoing MsgSeqNum raised past the stored messages"
            );
        }
        tracing::info!(
            sessions = report.sessions,
            messages = report.messages,
            "session store checked"
        );
        // Group sessions by listen address; sessions sharing an address must share TLS settings.
        let mut groups: Vec<(SocketAddr, Option<TlsSettings>, String)> = Vec::new();
        let mut slots = HashMap::new();
        let mut logon_timeout_s = 1;
        let counters = Arc::new(VenueCounters::new());
        let mut stats = Vec::new();
        for (session_index, config) in settings.sessions.iter().enumerate() {
            let addr = SocketAddr::new(config.accept_address, config.accept_port);
            let index = match groups
                .iter()
                .position(|(a, t, _)| *a == addr && (addr.port() != 0 || *t == config.tls))
            {
                Some(i) if groups[i].1 != config.tls => {
                    return Err(ServeError::MixedTls {
                        addr,
                        a: groups[i].2.clone(),
                        b: config.id(),
                    });
                }
                Some(i) => i,
                None => {
                    groups.push((addr, config.tls.clone(), config.id()));
                    groups.len() - 1
                }
            };
            logon_timeout_s = logon_timeout_s.max(config.logon_timeout_s);
            let session_dict = session_dictionary(config, &dict)?;
            let id = config.id();
            if id.len() > SESSION_ID_BYTES_MAX {
                return Err(ServeError::SessionIdTooLong { session: id });
            }
            let seq = store.seqnums(&id)?.unwrap_or(SeqNums::default());
            let app = apps(session_index, config);
            let config = Arc::new(config.clone());
            let mut session = Session::new(Arc::clone(&config), session_dict, app, seq, Utc::now());
            // A lock-out (and the failures counting towards one) survives a restart.
            if let Some(auth) = store.auth(&id)? {
                session.restore_auth(auth);
            }
            let key = (config.sender_comp_id.clone(), config.target_comp_id.clone());
            let session_stats = Arc::new(SessionStats::new(
                id.clone(),
                config.sender_comp_id.clone(),
                config.target_comp_id.clone(),
            ));
            stats.push(Arc::clone(&session_stats));
            slots.insert(
                key,
                Arc::new(Slot {
                    config,
                    id,
                    listener: index,
                    held: Mutex::new(Held {
                        session: Some(session),
                        outbound: None,
                        reports_through: 0,
                    }),
                    handover: Notify::new(),
                    log_order: tokio::sync::Mutex::new(()),
                    failed: AtomicBool::new(false),
                    queued: AtomicUsize::new(0),
                    slow_consumer: AtomicBool::new(false),
                    stats: session_stats,
                }),
            );
        }
        let mut listeners = Vec::new();
        for (index, (addr, tls_settings, session)) in groups.into_iter().enumerate() {
            let tls = match &tls_settings {
                None => None,
                Some(t) => {
                    Some(tls::acceptor(t).map_err(|source| ServeError::Tls { session, source })?)
                }
            };
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?;
            listeners.push(Listener {
                listener,
                tls,
                index,
            });
        }
        let venue = Arc::new(Venue {
            store,
            log,
            indexed,
            slots,
            connections: Arc::new(Semaphore::new(CONNECTIONS_MAX)),
            per_ip: Mutex::new(HashMap::new()),
            logon_timeout: Duration::from_secs(u64::from(logon_timeout_s)),
            halted: std::sync::OnceLock::new(),
            stats,
            counters,
        });
        Ok(Server { venue, listeners })
    }

    /// How the application layer sends on sessions.
    pub fn handle(&self) -> VenueHandle {
        VenueHandle {
            venue: Arc::clone(&self.venue),
        }
    }

    /// The bound addresses, in configuration order.
    pub fn local_addrs(&self) -> Vec<Bound> {
        self.listeners
            .iter()
            .filter_map(|l| {
                l.listener.local_addr().ok().map(|addr| Bound {
                    addr,
                    tls: l.tls.is_some(),
                })
            })
            .collect()
    }

    /// Accepts connections until `shutdown` turns true; then every session logs out (waiting at most its
    /// LogoutTimeout).
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), ServeError> {
        let mut tasks = JoinSet::new();
        for l in self.listeners {
            let venue = Arc::clone(&self.venue);
            let shutdown = shutdown.clone();
            tasks.spawn(accept_loop(l, venue, shutdown));
        }
        while let Some(result) = tasks.join_next().await {
            if let Err(e) = result {
                tracing::error!("listener task failed: {e}");
            }
        }
        tracing::info!("all sessions closed");
        Ok(())
    }
}

/// The dictionary a session validates with: its DataDictionary file, or the shared embedded one.
pub fn session_dictionary(
    config: &SessionConfig,
    shared: &Arc<Dictionary>,
) -> Result<Arc<Dictionary>, ServeError> {
    let Some(path) = &config.data_dictionary else {
        return Ok(Arc::clone(shared));
    };
    let (session, path_text) = (config.id(), path.display().to_string());
    let xml = std::fs::read_to_string(path).map_err(|source| ServeError::DictionaryRead {
        session: session.clone(),
        path: path_text.clone(),
        source,
    })?;
    Dictionary::from_xml(&xml)
        .map(Arc::new)
        .map_err(|source| ServeError::Dictionary {
            session,
            path: path_text,
            source,
        })
}

async fn accept_loop(l: Listener, venue: Arc<Venue>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = l.listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&venue.connections).try_acquire_owned() else {
                    tracing::warn!(%peer, "connection refused: {CONNECTIONS_MAX} connections open");
                    continue;
                };
                let Some(ip_guard) = venue.enter_ip(peer.ip()) else {
                    tracing::warn!(%peer, "connection refused: {CONNECTIONS_PER_IP_MAX} connections from this address");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let venue = Arc::clone(&venue);
                let tls = l.tls.clone();
                let index = l.index;
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    connection::accept(stream, peer, tls, index, venue, shutdown).await;
                    drop(ip_guard);
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Why [`VenueHandle::send`] did not take a message.
/// Why a message was not handed to a session.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no session {0}")]
    UnknownSession(String),
    #[error("session {0} stopped after a session log failure")]
    Failed(String),
    #[error("session {session}: the session log refused its messages: {reason}")]
    Log { session: String, reason: String },
}

/// How the application layer sends on a session, connected or not.
#[derive(Clone)]
pub struct VenueHandle {
    venue: Arc<Venue>,
}

/// The gateway hands its reports to the sessions through this. It never waits on a session: a connected one
/// takes the message into its queue (one that lets the queue pass [`OUTBOUND_QUEUE_MAX`] is logged out as a slow
/// consumer, and what it did not send is kept for resend), a disconnected one numbers it and logs it for resend.
impl gateway::Delivery for VenueHandle {
    fn deliver(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), gateway::DeliveryError> {
        self.send(venue_comp_id, client_comp_id, msg)
            .map_err(|e| gateway::DeliveryError::Failed(Box::new(e)))
    }

    fn reported_through(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        seq: u64,
    ) -> Result<(), gateway::DeliveryError> {
        VenueHandle::reported_through(self, venue_comp_id, client_comp_id, seq)
            .map_err(|e| gateway::DeliveryError::Failed(Box::new(e)))
    }

    fn taken(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        in_seq: u64,
        after: u64,
    ) -> Result<(), gateway::DeliveryError> {
        VenueHandle::taken(self, venue_comp_id, client_comp_id, in_seq, after)
            .map_err(|e| gateway::DeliveryError::Failed(Box::new(e)))
    }

    /// Market data only while a connection holds the session, only with [`MD_QUEUE_RESERVE`] slots to spare,
    /// never stored while it is away and never waited for.
    fn deliver_market_data(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), gateway::MarketDataDeliveryError> {
        use gateway::MarketDataDeliveryError as E;
        let slot = self
            .venue
            .slot(client_comp_id, venue_comp_id)
            .ok_or(E::NotConnected)?;
        let held = slot.held.lock().expect("slot lock");
        let tx = held.outbound.as_ref().ok_or(E::NotConnected)?;
        if slot.queued.load(Ordering::Acquire) + MD_QUEUE_RESERVE >= OUTBOUND_QUEUE_MAX {
            return Err(E::Behind);
        }
        slot.queued.fetch_add(1, Ordering::AcqRel);
        tx.send(Queued::Msg(msg)).map_err(|_| {
            slot.queued.fetch_sub(1, Ordering::AcqRel);
            E::NotConnected
        })
    }

    fn log_out(&self, venue_comp_id: &str, client_comp_id: &str, reason: &str) {
        if let Some(slot) = self.venue.slot(client_comp_id, venue_comp_id) {
            tracing::warn!(session = slot.id, "{reason}");
            slot.slow_consumer.store(true, Ordering::SeqCst);
        }
    }
}

impl VenueHandle {
    /// Records why the venue stops after a failure (the first reason wins); the shutdown that follows logs every
    /// session out with it.
    pub fn halt(&self, reason: String) {
        let _ = self.venue.halted.set(reason);
    }

    /// Every session's figures, in configuration order (metrics, admin server).
    pub fn session_stats(&self) -> Vec<Arc<SessionStats>> {
        self.venue.stats.clone()
    }

    /// The counters every connection adds to (rejects, throttle hits, acknowledgement latency).
    pub fn counters(&self) -> Arc<VenueCounters> {
        Arc::clone(&self.venue.counters)
    }

    /// Messages waiting in each connected session's outbound queue.
    pub fn outbound_depths(&self) -> Vec<(String, u64)> {
        self.venue
            .slots
            .values()
            .filter_map(|slot| {
                let held = slot.held.lock().expect("slot lock");
                held.outbound.as_ref()?;
                Some((slot.id.clone(), slot.queued.load(Ordering::Acquire) as u64))
            })
            .collect()
    }

    /// Hands `msg` to the session `venue_comp_id`->`client_comp_id` (see [`gateway::Delivery`]). Called from a
    /// plain thread (the gateway's), never from a tokio task: logging for a disconnected session may wait while
    /// the session log's queue is full.
    pub fn send(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), SendError> {
        let slot = self.known_slot(venue_comp_id, client_comp_id)?;
        if slot.failed.load(Ordering::SeqCst) {
            return Err(SendError::Failed(slot.id.clone()));
        }
        let (_order, mut held) = slot.lock_for_delivery();
        if let Some(tx) = &held.outbound {
            // Counted before it can be taken, so that the connection's count never goes below zero.
            if slot.queued.fetch_add(1, Ordering::AcqRel) >= OUTBOUND_QUEUE_MAX {
                slot.slow_consumer.store(true, Ordering::SeqCst);
            }
            if tx.send(Queued::Msg(msg)).is_ok() {
                return Ok(());
            }
            slot.queued.fetch_sub(1, Ordering::AcqRel);
            // The connection is gone without having given the session back: impossible while the lock is held
            // by both sides' rules; refuse rather than lose the message silently.
            return Err(SendError::Log {
                session: slot.id.clone(),
                reason: "the session's connection closed its queue while holding the session"
                    .into(),
            });
        }
        let through = held.reports_through;
        let Some(session) = held.session.as_mut() else {
            return Err(SendError::Log {
                session: slot.id.clone(),
                reason: "the session is neither held nor connected".into(),
            });
        };
        // Logged under the lock, so that a connection taking the session next logs (and resends) after it.
        let records = offline_records(&slot.id, session, through, &msg);
        self.log_offline(slot, records)
    }

    /// Every report of journaled commands through `seq` for the session was handed over: the connection logs
    /// the mark after them; a disconnected session's is logged now.
    pub fn reported_through(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        seq: u64,
    ) -> Result<(), SendError> {
        let slot = self.known_slot(venue_comp_id, client_comp_id)?;
        let (_order, mut held) = slot.lock_for_delivery();
        if let Some(tx) = &held.outbound
            && tx.send(Queued::ReportsThrough(seq)).is_ok()
        {
            return Ok(());
        }
        let through = held.reports_through.max(seq);
        held.reports_through = through;
        let Some(session) = held.session.as_mut() else {
            return Ok(());
        };
        session.settle(Settled::ReportsThrough(seq));
        let record = records::numbers(
            &slot.id,
            session.seqnums_durable(),
            through,
            false,
            Utc::now(),
        );
        self.log_offline(slot, vec![record])
    }

    /// The gateway took the session's message `in_seq` (see [`gateway::Delivery::taken`]): the connection
    /// settles it in order; a disconnected session's numbers are logged again if that moved them.
    pub fn taken(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        in_seq: u64,
        after: u64,
    ) -> Result<(), SendError> {
        let slot = self.known_slot(venue_comp_id, client_comp_id)?;
        let (_order, mut held) = slot.lock_for_delivery();
        if let Some(tx) = &held.outbound
            && tx.send(Queued::Taken { in_seq, after }).is_ok()
        {
            return Ok(());
        }
        let through = held.reports_through;
        let Some(session) = held.session.as_mut() else {
            return Ok(());
        };
        let before = session.seqnums_durable();
        session.settle(Settled::Taken { in_seq, after });
        let numbers = session.seqnums_durable();
        if numbers == before {
            return Ok(());
        }
        let record = records::numbers(&slot.id, numbers, through, false, Utc::now());
        self.log_offline(slot, vec![record])
    }

    /// The session `venue_comp_id`->`client_comp_id`, or the error that names it unknown.
    fn known_slot(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
    ) -> Result<&Arc<Slot>, SendError> {
        self.venue
            .slot(client_comp_id, venue_comp_id)
            .ok_or_else(|| SendError::UnknownSession(format!("{venue_comp_id}->{client_comp_id}")))
    }

    /// Submits a disconnected session's records, not waiting for them: nothing reaches a socket. A failed
    /// commit stops the venue.
    fn log_offline(
        &self,
        slot: &Slot,
        records: Vec<journal::session_log::Record>,
    ) -> Result<(), SendError> {
        for submission in records::submissions(records) {
            if let Err(e) = self.venue.log.submit_blocking(submission) {
                slot.failed.store(true, Ordering::SeqCst);
                return Err(SendError::Log {
                    session: slot.id.clone(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// A message for a disconnected session: numbered and kept for the resend after its next Logon (in the session
/// period it is handed over in: see [`Session::enter_period`]).
fn offline_records(
    id: &str,
    session: &mut Session,
    reports_through: u64,
    msg: &AppMessage,
) -> Vec<journal::session_log::Record> {
    let now = Utc::now();
    let mut out = Vec::new();
    // A session away since a new period of its schedule began: its numbers start that period now, so that what
    // is kept for it is not discarded by the period's reset at its next Logon.
    if session.enter_period(now) {
        tracing::info!(
            session = id,
            "new session period while away: sequence numbers reset"
        );
        out.push(records::numbers(
            id,
            session.seqnums_durable(),
            reports_through,
            true,
            now,
        ));
    }
    let before = session.seqnums_durable();
    records::numbered_for_resend(id, session, msg, now, &mut out);
    let after = session.seqnums_durable();
    if after != before {
        out.push(records::numbers(id, after, reports_through, false, now));
    }
    out
}
