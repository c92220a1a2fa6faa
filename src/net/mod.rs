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
//! certificates.
//!
//! Invariant: nothing here decides protocol behaviour; the session state machine does, this module carries
//! out its actions (store first, then the socket).

pub mod certs;
pub mod codec;
pub mod connection;
pub mod peer;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use fix::Dictionary;
use fix::dictionary::DictionaryError;
use session::app::{AppMessage, Application};
use session::config::{SessionConfig, SessionSettings, TlsSettings};
use session::{Action, Event, SeqNums, Session, redact};
use store::db::WriteError;
use store::sessions::{Direction, LogRecord, ReadError, SessionStore, Writes};

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
/// Bytes read from a socket at a time.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    StoreRead(#[from] ReadError),
    #[error(transparent)]
    StoreWrite(#[from] WriteError),
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
    session: Mutex<Option<Session>>,
    /// Set when the store refused a write: the session stays down until the venue restarts.
    failed: AtomicBool,
    /// The bounded queue into the connection that holds the session, while one does.
    outbound: Mutex<Option<mpsc::Sender<AppMessage>>>,
    /// Set when that queue overflowed: the connection logs the session out.
    slow_consumer: AtomicBool,
    /// The session's figures for the metrics and the admin server (kept by its connection).
    pub stats: Arc<SessionStats>,
}

/// Everything connection tasks share.
pub struct Venue {
    pub store: SessionStore,
    /// Sessions by (venue CompID, client CompID).
    slots: HashMap<(String, String), Arc<Slot>>,
    connections: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    logon_timeout: Duration,
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
        dict: Arc<Dictionary>,
        apps: &mut (dyn FnMut(usize, &SessionConfig) -> Box<dyn Application> + Send),
    ) -> Result<Server, ServeError> {
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
            log_records = report.log_records,
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
                    session: Mutex::new(Some(session)),
                    failed: AtomicBool::new(false),
                    outbound: Mutex::new(None),
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
            slots,
            connections: Arc::new(Semaphore::new(CONNECTIONS_MAX)),
            per_ip: Mutex::new(HashMap::new()),
            logon_timeout: Duration::from_secs(u64::from(logon_timeout_s)),
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
    /// LogoutTimeout), and the store is flushed.
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
        self.venue.store.flush()?;
        tracing::info!("all sessions closed, store flushed");
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
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no session {0}")]
    UnknownSession(String),
    #[error(
        "session {0}: outbound queue full ({OUTBOUND_QUEUE_MAX} messages): the session is being logged out"
    )]
    QueueFull(String),
    #[error("session {0} stopped after a store failure")]
    Failed(String),
    #[error("session {session}: {source}")]
    Store { session: String, source: WriteError },
    #[error("session {0} is changing hands; send again")]
    Busy(String),
}

/// How the application layer sends on a session, connected or not.
#[derive(Clone)]
pub struct VenueHandle {
    venue: Arc<Venue>,
}

/// The gateway hands its reports to the sessions through this.
impl gateway::Delivery for VenueHandle {
    fn deliver(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), gateway::DeliveryError> {
        self.send(venue_comp_id, client_comp_id, msg)
            .map_err(|e| match e {
                SendError::QueueFull(_) | SendError::Busy(_) => {
                    gateway::DeliveryError::Busy(Box::new(e))
                }
                _ => gateway::DeliveryError::Failed(Box::new(e)),
            })
    }
}

/// Attempts to find a session between its connection letting go of it and the slot taking it back.
const HANDOVER_SPINS_MAX: usize = 1_000;

impl VenueHandle {
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
                let outbound = slot.outbound.lock().expect("outbound lock");
                let tx = outbound.as_ref()?;
                Some((slot.id.clone(), (tx.max_capacity() - tx.capacity()) as u64))
            })
            .collect()
    }

    /// Flushes the session store (at shutdown, after the last reports were stored).
    pub fn flush_store(&self) -> Result<(), WriteError> {
        self.venue.store.flush()
    }

    /// Sends an application message on the session between `venue_comp_id` and `client_comp_id`. While a
    /// connection holds the session, through its bounded queue (full: the session is logged out and the message
    /// refused); otherwise it is numbered and stored at once, and reaches the client by resend after its next
    /// Logon.
    pub fn send(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), SendError> {
        let Some(slot) = self.venue.slot(client_comp_id, venue_comp_id) else {
            return Err(SendError::UnknownSession(format!(
                "{venue_comp_id}->{client_comp_id}"
            )));
        };
        if slot.failed.load(Ordering::SeqCst) {
            return Err(SendError::Failed(slot.id.clone()));
        }
        for _ in 0..HANDOVER_SPINS_MAX {
            if let Some(tx) = slot.outbound.lock().expect("outbound lock").as_ref() {
                return match tx.try_send(msg) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Full(_))
                    | Err(mpsc::error::TrySendError::Closed(_)) => {
                        slot.slow_consumer.store(true, Ordering::SeqCst);
                        Err(SendError::QueueFull(slot.id.clone()))
                    }
                };
            }
            if let Some(session) = slot.session.lock().expect("slot lock").as_mut() {
                return self.store_while_disconnected(slot, session, &msg);
            }
            std::thread::yield_now();
        }
        Err(SendError::Busy(slot.id.clone()))
    }

    fn store_while_disconnected(
        &self,
        slot: &Slot,
        session: &mut Session,
        msg: &AppMessage,
    ) -> Result<(), SendError> {
        let now = chrono::Utc::now();
        let actions = session.handle(Event::Send(msg), now);
        let out: Vec<_> = actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Send(o) => Some(o),
                _ => None,
            })
            .collect();
        let writes = Writes {
            seqnums: Some(session.seqnums()),
            auth: None,
            reset: false,
            messages: out
                .iter()
                .filter(|o| o.store)
                .map(|o| (o.seq, &o.bytes[..]))
                .collect(),
            log: out
                .iter()
                .map(|o| LogRecord {
                    direction: Direction::Out,
                    time_us: now.timestamp_micros(),
                    session: slot.id.clone(),
                    frame: redact(&o.bytes),
                })
                .collect(),
        };
        self.venue
            .store
            .commit(&slot.id, &writes)
            .map_err(|source| {
                slot.failed.store(true, Ordering::SeqCst);
                SendError::Store {
                    session: slot.id.clone(),
                    source,
                }
            })
    }
}
