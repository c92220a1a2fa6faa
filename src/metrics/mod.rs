//! The venue's metrics: one [`Metrics`] value made at start-up and handed to the parts that count (the
//! connections, the released-batch tap) and to the admin server that exports them in the Prometheus text format
//! (prometheus-client).
//!
//! Cheap where it is hot: a connection adds to atomics of its own [`SessionStats`]; the acknowledgement latency
//! is one histogram observation per order; everything else (the book, queue depths, sessions, memory) is read
//! when scraped, by [`collector`].
//!
//! - [`counters`]: the venue-wide counters connections add to (rejects, throttle hits, acknowledgement latency).
//! - [`session`]: one session's counters and state, and the admin server's logout request.
//! - [`market`]: books, status, trades, tape and open orders, from the released batches.
//! - [`wire`]: MsgType and single fields read from a frame without decoding it.
//! - [`collector`]: the scrape-time metrics.
//! - [`text`]: the Prometheus text format, for scrapers that do not ask for OpenMetrics.

pub mod collector;
pub mod counters;
pub mod market;
pub mod session;
pub mod text;
pub mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use journal::sequencer::Released;

pub use self::counters::VenueCounters;
pub use self::market::Market;
pub use self::session::SessionStats;

/// The venue's metrics and the state the admin server shows.
#[derive(Debug)]
pub struct Metrics {
    pub counters: Arc<VenueCounters>,
    /// Sessions in configuration order.
    pub sessions: Vec<Arc<SessionStats>>,
    pub market: Mutex<Market>,
    journal_commit: Histogram,
    journal_batch: Histogram,
    session_log: crate::indexer::SessionLogMetrics,
    /// Commands released since start (replayed ones not counted).
    released_commands: AtomicU64,
    /// The journal was replayed and the listeners are up.
    pub started: AtomicBool,
    /// The sequencer is releasing batches (false once its release channel closed).
    pub core_alive: AtomicBool,
    /// Bumped on every change the live page shows.
    pub changes: tokio::sync::watch::Sender<u64>,
    /// The venue's versions and start time, for the page and the banner.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl Metrics {
    pub fn new(
        market: Market,
        sessions: Vec<Arc<SessionStats>>,
        counters: Arc<VenueCounters>,
        session_log: crate::indexer::SessionLogMetrics,
    ) -> Arc<Metrics> {
        Arc::new(Metrics {
            counters,
            sessions,
            market: Mutex::new(market),
            // 10 µs to about 2.6 s.
            journal_commit: Histogram::new(exponential_buckets(10e-6, 2.0, 19)),
            // 1 to 65,536 commands.
            journal_batch: Histogram::new(exponential_buckets(1.0, 2.0, 17)),
            session_log,
            released_commands: AtomicU64::new(0),
            started: AtomicBool::new(false),
            core_alive: AtomicBool::new(true),
            changes: tokio::sync::watch::channel(0).0,
            started_at: chrono::Utc::now(),
        })
    }

    /// A batch the sequencer released: the market view, the journal commit's latency and size.
    pub fn released(&self, batch: &Released) {
        {
            let mut market = self.market.lock().expect("market lock");
            for (i, command) in batch.commands.iter().enumerate() {
                market.apply(command, batch.origin_of(i), batch.events_of(i));
            }
        }
        self.journal_commit.observe(batch.commit_ns as f64 / 1e9);
        self.journal_batch.observe(batch.commands.len() as f64);
        self.released_commands
            .fetch_add(batch.commands.len() as u64, Ordering::Relaxed);
        self.changed();
    }

    /// Tells the live page something changed.
    pub fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn released_commands(&self) -> u64 {
        self.released_commands.load(Ordering::Relaxed)
    }

    /// The Prometheus registry of these metrics; `queues` reads the queue depths at scrape time.
    pub fn registry(self: &Arc<Metrics>, queues: collector::Queues) -> Registry {
        let mut registry = Registry::default();
        registry.register_with_unit(
            "fixvenue_ack_latency",
            "Order read from the socket (NewOrderSingle, cancel, replace) to its first report handed to the socket",
            Unit::Seconds,
            self.counters.ack_latency.clone(),
        );
        registry.register_with_unit(
            "fixvenue_journal_commit",
            "Journal commit (write and fdatasync) of one batch",
            Unit::Seconds,
            self.journal_commit.clone(),
        );
        registry.register(
            "fixvenue_journal_commit_commands",
            "Commands made durable by one journal commit",
            self.journal_batch.clone(),
        );
        registry.register_with_unit(
            "fixvenue_session_log_commit",
            "Session log commit (writes and fdatasync) of one turn, every session's messages of the turn together",
            Unit::Seconds,
            self.session_log.commit.clone(),
        );
        registry.register(
            "fixvenue_session_log_commit_records",
            "Session log records made durable by one turn's commit",
            self.session_log.records.clone(),
        );
        registry.register_collector(Box::new(collector::VenueCollector {
            metrics: Arc::clone(self),
            queues,
        }));
        registry
    }
}

/// Runs between the sequencer and the gateway thread: every released batch is shown to `metrics`, then handed
/// on, in order. Ends when the sequencer's release channel closes (and marks the core dead).
pub fn tap_released(
    metrics: Arc<Metrics>,
    released: std::sync::mpsc::Receiver<Released>,
) -> std::sync::mpsc::Receiver<Released> {
    // Unbounded as the gateway's own forwarder: the sequencer must never wait on this thread's reader.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("metrics-release".into())
        .spawn(move || {
            for batch in released {
                metrics.released(&batch);
                if tx.send(batch).is_err() {
                    break;
                }
            }
            metrics.core_alive.store(false, Ordering::Relaxed);
            metrics.changed();
        })
        .expect("spawning the metrics release tap");
    rx
}
