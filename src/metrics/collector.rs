//! The metrics read when scraped: per-session message counts and state, rejects, throttle hits, the market
//! (trades, volume, book depth, best prices, status), queue depths and the process's resident memory.

use std::fmt::Error;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use super::Metrics;
use super::market::{Market, status_name};

/// Depth of a queue, read at scrape time.
pub type Depth = Box<dyn Fn() -> u64 + Send + Sync>;
/// Depth of each session's outbound queue, by session id, read at scrape time.
pub type SessionDepths = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// The queues whose depth is exported.
pub struct Queues {
    /// Requests waiting for the gateway thread.
    pub gateway_input: Depth,
    /// Messages waiting in each connected session's outbound queue.
    pub session_outbound: SessionDepths,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queues")
    }
}

#[derive(Debug)]
pub struct VenueCollector {
    pub metrics: Arc<Metrics>,
    pub queues: Queues,
}

fn counter<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[(L, u64)],
) -> Result<(), Error> {
    let mut m = e.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter_f<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(L, f64)],
) -> Result<(), Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[(L, f64)],
) -> Result<(), Error> {
    let mut m = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

type Labels = Vec<(&'static str, String)>;

fn one(v: f64) -> [(Labels, f64); 1] {
    [(Vec::new(), v)]
}

impl Collector for VenueCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), Error> {
        self.sessions(&mut e)?;
        let c = &self.metrics.counters;
        let rejects: Vec<(Labels, u64)> = c
            .rejects()
            .into_iter()
            .map(|(tag, code, n)| {
                (
                    vec![("tag", tag.to_string()), ("code", code.to_string())],
                    n,
                )
            })
            .collect();
        counter(
            &mut e,
            "fixvenue_rejects",
            "Rejects sent, by reason tag (373 session, 380 business, 103 order, 102 cancel) and code",
            None,
            &rejects,
        )?;
        counter(
            &mut e,
            "fixvenue_throttle_hits",
            "Messages refused by a session's throttle",
            None,
            &[(Labels::new(), c.throttle_hits())],
        )?;
        counter(
            &mut e,
            "fixvenue_released_commands",
            "Commands the sequencer released (made durable and applied) since start",
            None,
            &[(Labels::new(), self.metrics.released_commands())],
        )?;
        {
            let market = self.metrics.market.lock().expect("market lock");
            market_metrics(&mut e, &market)?;
        }
        self.queues(&mut e)?;
        self.process(&mut e)
    }
}

impl VenueCollector {
    fn sessions(&self, e: &mut DescriptorEncoder) -> Result<(), Error> {
        let sessions = &self.metrics.sessions;
        let mut received: Vec<(Labels, u64)> = Vec::new();
        let mut sent: Vec<(Labels, u64)> = Vec::new();
        let mut orders: Vec<(Labels, u64)> = Vec::new();
        let mut logged_on: Vec<(Labels, f64)> = Vec::new();
        for s in sessions {
            for (msg_type, r, w) in s.by_type() {
                let labels = vec![
                    ("session", s.id.clone()),
                    ("msg_type", msg_type.to_string()),
                ];
                if r > 0 {
                    received.push((labels.clone(), r));
                }
                if w > 0 {
                    sent.push((labels, w));
                }
            }
            orders.push((vec![("session", s.id.clone())], s.orders_received()));
            logged_on.push((
                vec![("session", s.id.clone())],
                f64::from(u8::from(s.is_logged_on())),
            ));
        }
        counter(
            e,
            "fixvenue_messages_received",
            "FIX messages read, by session and MsgType",
            None,
            &received,
        )?;
        counter(
            e,
            "fixvenue_messages_sent",
            "FIX messages written, by session and MsgType",
            None,
            &sent,
        )?;
        counter(
            e,
            "fixvenue_orders_received",
            "NewOrderSingle messages read, by session",
            None,
            &orders,
        )?;
        gauge(
            e,
            "fixvenue_session_logged_on",
            "1 while the session is logged on",
            None,
            &logged_on,
        )?;
        let connected = sessions.iter().filter(|s| s.is_connected()).count();
        let on = sessions.iter().filter(|s| s.is_logged_on()).count();
        gauge(
            e,
            "fixvenue_sessions_configured",
            "Sessions configured",
            None,
            &one(sessions.len() as f64),
        )?;
        gauge(
            e,
            "fixvenue_sessions_connected",
            "Sessions held by a connection",
            None,
            &one(connected as f64),
        )?;
        gauge(
            e,
            "fixvenue_sessions_logged_on",
            "Sessions logged on",
            None,
            &one(on as f64),
        )
    }

    fn queues(&self, e: &mut DescriptorEncoder) -> Result<(), Error> {
        gauge(
            e,
            "fixvenue_gateway_input_queue_depth",
            "Requests waiting for the gateway thread",
            None,
            &one((self.queues.gateway_input)() as f64),
        )?;
        let outbound: Vec<(Labels, f64)> = (self.queues.session_outbound)()
            .into_iter()
            .map(|(session, n)| (vec![("session", session)], n as f64))
            .collect();
        gauge(
            e,
            "fixvenue_session_outbound_queue_depth",
            "Application messages waiting in a connected session's outbound queue",
            None,
            &outbound,
        )
    }

    fn process(&self, e: &mut DescriptorEncoder) -> Result<(), Error> {
        let ready = self.metrics.started.load(Ordering::Relaxed)
            && self.metrics.core_alive.load(Ordering::Relaxed);
        gauge(
            e,
            "fixvenue_ready",
            "1 when the journal is replayed, the listeners are up and the core runs",
            None,
            &one(f64::from(u8::from(ready))),
        )?;
        gauge(
            e,
            "process_start_time",
            "Start time of the venue since the Unix epoch",
            Some(&Unit::Seconds),
            &one(self.metrics.started_at.timestamp_micros() as f64 / 1e6),
        )?;
        if let Some(rss) = resident_memory_bytes() {
            gauge(
                e,
                "process_resident_memory",
                "Resident memory size",
                Some(&Unit::Bytes),
                &one(rss as f64),
            )?;
        }
        Ok(())
    }
}

fn market_metrics(e: &mut DescriptorEncoder, market: &Market) -> Result<(), Error> {
    let sym = |s: &str| vec![("symbol", s.to_string())];
    let mut trades = Vec::new();
    let mut volume = Vec::new();
    let mut levels = Vec::new();
    let mut depth = Vec::new();
    let mut best_bid = Vec::new();
    let mut best_ask = Vec::new();
    let mut last = Vec::new();
    let mut status = Vec::new();
    for i in &market.instruments {
        let s = &i.spec.symbol;
        trades.push((sym(s), i.trades));
        volume.push((
            sym(s),
            f64::try_from(i.qty(i.volume_lots as i64)).unwrap_or(f64::NAN),
        ));
        for (side, ladder) in [("bid", &i.bids), ("ask", &i.asks)] {
            let labels = vec![("symbol", s.clone()), ("side", side.to_string())];
            levels.push((labels.clone(), ladder.len() as f64));
            let lots: i64 = ladder.values().sum();
            depth.push((labels, f64::try_from(i.qty(lots)).unwrap_or(f64::NAN)));
        }
        let price = |t: i64| f64::try_from(i.price(t)).unwrap_or(f64::NAN);
        if let Some((p, _)) = i.best_bid() {
            best_bid.push((sym(s), price(p)));
        }
        if let Some((p, _)) = i.best_ask() {
            best_ask.push((sym(s), price(p)));
        }
        if let Some(p) = i.last_price_ticks {
            last.push((sym(s), price(p)));
        }
        for st in ["open", "halted", "cancel_only", "post_only"] {
            let on = status_name(i.status) == st;
            status.push((
                vec![("symbol", s.clone()), ("status", st.to_string())],
                f64::from(u8::from(on)),
            ));
        }
    }
    counter(e, "fixvenue_trades", "Trades, by instrument", None, &trades)?;
    counter_f(
        e,
        "fixvenue_traded_quantity",
        "Quantity traded (instrument units), by instrument",
        &volume,
    )?;
    gauge(
        e,
        "fixvenue_book_levels",
        "Price levels in the book, by instrument and side",
        None,
        &levels,
    )?;
    gauge(
        e,
        "fixvenue_book_quantity",
        "Visible quantity in the book (instrument units), by instrument and side",
        None,
        &depth,
    )?;
    gauge(
        e,
        "fixvenue_best_bid_price",
        "Best bid, by instrument (absent while the side is empty)",
        None,
        &best_bid,
    )?;
    gauge(
        e,
        "fixvenue_best_ask_price",
        "Best offer, by instrument (absent while the side is empty)",
        None,
        &best_ask,
    )?;
    gauge(
        e,
        "fixvenue_last_trade_price",
        "Price of the last trade, by instrument",
        None,
        &last,
    )?;
    gauge(
        e,
        "fixvenue_instrument_status",
        "1 for the instrument's trading status",
        None,
        &status,
    )?;
    gauge(
        e,
        "fixvenue_open_orders",
        "Live orders on the venue",
        None,
        &one(market.open_order_count() as f64),
    )
}

/// The resident set size, from /proc/self/statm (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

#[cfg(unix)]
fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

#[cfg(not(unix))]
fn page_size() -> u64 {
    4096
}
