//! `fixvenue bench md`: market data under order flow. An in-process venue takes the e2e order flow (the
//! order-book corpus as orders on one instrument, open loop at `--rate`) twice: once with no subscriber, once with
//! `--md-sessions` market-data sessions (VenueExtensions=Y, TimeStampPrecision=6), each holding
//! `--hot-per-session` subscriptions to the traded instrument and one to each other instrument of venue.toml.
//!
//! Measured:
//! - the latency of each released update from the command's sequencer timestamp (MDEntryTime, to the
//!   microsecond) to the moment the LAST subscription of the traded instrument received its X (updates are matched
//!   across subscriptions by RptSeq: every subscription of that instrument subscribed before the flow and sees the
//!   same updates). It includes the journal's group commit, the release, the gateway, the session layer, the socket
//!   and the client's read: an upper bound of "release to written";
//! - market-data messages received per second, over all subscribers;
//! - the order-entry acknowledgement p50/p99 with and without the subscribers;
//! - RptSeq gaps (must be 0) and resnapshots of subscribers that fell behind (reported, not hidden).
//!
//! The venue's connection limit per address (32) caps sessions, so 100 subscribers of one instrument are 10
//! sessions with 10 subscriptions each: the venue writes one X per subscription per batch either way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::{NaiveTime, Timelike, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use testkit::{Client, Endpoint, Msg};
use venue_config::VenueConfig;

use crate::e2e::venue::RunningVenue;
use crate::e2e::{self, report::Report};

/// Market-data sessions at most (the trading sessions share the venue's 32 connections per address).
pub const MD_SESSIONS_MAX: u32 = 24;
/// How long subscribers keep reading after the flow's last answer.
const DRAIN: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(10);

/// Options of `fixvenue bench md`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The order flow (in-process venue).
    pub flow: e2e::Options,
    pub md_sessions: u32,
    pub hot_per_session: u32,
}

/// The JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct MdResult {
    pub rate: Option<f64>,
    pub orders: u64,
    pub md_sessions: u32,
    pub subscriptions_traded_instrument: u32,
    pub subscriptions_per_other_instrument: u32,
    pub md_messages: u64,
    pub md_messages_per_s: f64,
    pub updates_measured: u64,
    pub md_latency_p50_us: f64,
    pub md_latency_p99_us: f64,
    pub md_latency_max_us: f64,
    pub rpt_seq_gaps: u64,
    pub resnapshots: u64,
    pub ack_p50_us_without: f64,
    pub ack_p99_us_without: f64,
    pub ack_p50_us_with: f64,
    pub ack_p99_us_with: f64,
    pub ack_p99_cost_pct: f64,
}

/// Per update of the traded instrument (by RptSeq): the latest MDEntryTime, the latest receipt, how many
/// subscriptions got it.
type Updates = HashMap<u64, (i64, i64, u32)>;

#[derive(Debug, Default)]
struct SubscriberStats {
    messages: u64,
    gaps: u64,
    resnapshots: u64,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    ensure!(
        matches!(options.flow.venue, e2e::Venue::InProcess),
        "bench md runs its own venue"
    );
    ensure!(
        (1..=MD_SESSIONS_MAX).contains(&options.md_sessions),
        "--md-sessions must be 1 to {MD_SESSIONS_MAX}"
    );
    ensure!(
        (1..=marketdata::MD_SUBSCRIPTIONS_PER_SESSION_MAX as u32 / 2)
            .contains(&options.hot_per_session),
        "--hot-per-session must be 1 to {}",
        marketdata::MD_SUBSCRIPTIONS_PER_SESSION_MAX / 2
    );
    let venue_config = match &options.flow.venue_toml {
        Some(p) => VenueConfig::load(p)?,
        None => VenueConfig::bundled(),
    };
    let symbols: Vec<String> = venue_config
        .instruments
        .iter()
        .map(|i| i.symbol.clone())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    eprintln!("bench md: order flow without subscribers ...");
    let (workload, pricing) = e2e::load_workload_priced(&options.flow)?;
    let without = runtime.block_on(async {
        let venue = RunningVenue::start(&options.flow).await?;
        let report = e2e::sessions(&options.flow, workload, &pricing, &venue).await;
        venue.stop().await?;
        report
    })?;
    without.verdict(&options.flow)?;
    eprintln!("bench md: order flow with subscribers ...");
    let (workload, pricing) = e2e::load_workload_priced(&options.flow)?;
    let (with, stats, updates) = runtime.block_on(async {
        let venue = RunningVenue::start_with(&options.flow, &md_sessions_cfg(options)).await?;
        let subscribers = Subscribers::start(&venue, options, &symbols).await;
        let subscribers = match subscribers {
            Ok(s) => s,
            Err(e) => {
                venue.stop().await?;
                return Err(e);
            }
        };
        let report = e2e::sessions(&options.flow, workload, &pricing, &venue).await;
        let finished = subscribers.finish().await;
        venue.stop().await?;
        let (stats, updates) = finished?;
        Ok::<_, anyhow::Error>((report?, stats, updates))
    })?;
    with.verdict(&options.flow)?;
    let result = summarize(options, &without, &with, &stats, &updates)?;
    eprintln!(
        "bench md: {} subscriptions on {}, {} on each other instrument; {} md messages ({:.0}/s); update \
         latency sequenced -> last subscriber received p50 {} us p99 {} us max {} us over {} updates; \
         RptSeq gaps {}, resnapshots {}; ack p99 {} us without, {} us with ({:+.1} %)",
        result.subscriptions_traded_instrument,
        options.flow.symbol,
        result.subscriptions_per_other_instrument,
        result.md_messages,
        result.md_messages_per_s,
        result.md_latency_p50_us,
        result.md_latency_p99_us,
        result.md_latency_max_us,
        result.updates_measured,
        result.rpt_seq_gaps,
        result.resnapshots,
        result.ack_p99_us_without,
        result.ack_p99_us_with,
        result.ack_p99_cost_pct,
    );
    println!("{}", serde_json::to_string(&result)?);
    if result.rpt_seq_gaps > 0 {
        bail!("{} RptSeq gaps", result.rpt_seq_gaps);
    }
    Ok(())
}

fn summarize(
    options: &Options,
    without: &Report,
    with: &Report,
    stats: &SubscriberStats,
    updates: &Updates,
) -> anyhow::Result<MdResult> {
    let hot = options.md_sessions * options.hot_per_session;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)?;
    for (entry_ns, received_ns, count) in updates.values() {
        if *count == hot {
            latency.record((received_ns - entry_ns).max(1) as u64)?;
        }
    }
    let us = |q: f64| (latency.value_at_quantile(q) as f64 / 100.0).round() / 10.0;
    let duration_s = with.duration_s().max(1e-9);
    Ok(MdResult {
        rate: options.flow.rate,
        orders: options.flow.orders,
        md_sessions: options.md_sessions,
        subscriptions_traded_instrument: hot,
        subscriptions_per_other_instrument: options.md_sessions,
        md_messages: stats.messages,
        md_messages_per_s: (stats.messages as f64 / duration_s).round(),
        updates_measured: latency.len(),
        md_latency_p50_us: us(0.5),
        md_latency_p99_us: us(0.99),
        md_latency_max_us: (latency.max() as f64 / 100.0).round() / 10.0,
        rpt_seq_gaps: stats.gaps,
        resnapshots: stats.resnapshots,
        ack_p50_us_without: without.us(0.5),
        ack_p99_us_without: without.us(0.99),
        ack_p50_us_with: with.us(0.5),
        ack_p99_us_with: with.us(0.99),
        ack_p99_cost_pct: ((with.us(0.99) / without.us(0.99).max(0.1) - 1.0) * 1000.0).round()
            / 10.0,
    })
}

fn md_sessions_cfg(options: &Options) -> String {
    (1..=options.md_sessions)
        .map(|i| {
            format!(
                "[SESSION]\nTargetCompID=MDBENCH{i}\nSessionRole=marketdata\nVenueExtensions=Y\nTimeStampPrecision=6\n"
            )
        })
        .collect()
}

struct Subscribers {
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<anyhow::Result<SubscriberStats>>,
    updates: Arc<Mutex<Updates>>,
}

impl Subscribers {
    /// Every market-data session logged on and subscribed (its snapshots received).
    async fn start(
        venue: &RunningVenue,
        options: &Options,
        symbols: &[String],
    ) -> anyhow::Result<Subscribers> {
        let (stop, stop_rx) = watch::channel(false);
        let updates = Arc::new(Mutex::new(Updates::new()));
        let (ready_tx, mut ready_rx) = mpsc::channel::<()>(options.md_sessions as usize);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 1..=options.md_sessions {
            let sub = Subscriber {
                name: format!("MDBENCH{i}"),
                target: options.flow.target_comp_id.clone(),
                endpoint: Endpoint::plain(&venue.host, venue.port),
                hot: options.flow.symbol.clone(),
                others: symbols
                    .iter()
                    .filter(|s| **s != options.flow.symbol)
                    .cloned()
                    .collect(),
                hot_per_session: options.hot_per_session,
                updates: Arc::clone(&updates),
            };
            let (ready, stop) = (ready_tx.clone(), stop_rx.clone());
            tasks.spawn(async move { sub.run(ready, stop).await });
        }
        drop(ready_tx);
        for _ in 0..options.md_sessions {
            tokio::select! {
                Some(()) = ready_rx.recv() => {}
                Some(joined) = tasks.join_next() => {
                    joined??;
                    bail!("a subscriber ended before the start");
                }
            }
        }
        Ok(Subscribers {
            stop,
            tasks,
            updates,
        })
    }

    async fn finish(mut self) -> anyhow::Result<(SubscriberStats, Updates)> {
        tokio::time::sleep(DRAIN).await;
        let _ = self.stop.send(true);
        let mut total = SubscriberStats::default();
        while let Some(joined) = self.tasks.join_next().await {
            let s = joined??;
            total.messages += s.messages;
            total.gaps += s.gaps;
            total.resnapshots += s.resnapshots;
        }
        let updates = std::mem::take(&mut *self.updates.lock().expect("updates lock"));
        Ok((total, updates))
    }
}

struct Subscriber {
    name: String,
    target: String,
    endpoint: Endpoint,
    hot: String,
    others: Vec<String>,
    hot_per_session: u32,
    updates: Arc<Mutex<Updates>>,
}

impl Subscriber {
    async fn run(
        self,
        ready: mpsc::Sender<()>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<SubscriberStats> {
        let mut c = Client::new(&self.name, &self.target);
        c.logon_reset(&self.endpoint)
            .await
            .with_context(|| format!("{} logon", self.name))?;
        let mut wanted: Vec<(String, &str)> = (0..self.hot_per_session)
            .map(|k| (format!("H{k}"), self.hot.as_str()))
            .collect();
        wanted.extend(self.others.iter().map(|s| (format!("O{s}"), s.as_str())));
        for (id, symbol) in &wanted {
            c.send(&format!(
                "35=V|262={id}|263=1|264=0|265=1|266=Y|267=2|269=0|269=1|146=1|55={symbol}|"
            ))
            .await?;
        }
        // RptSeq per MDReqID.
        let mut last: HashMap<String, u64> = HashMap::new();
        while last.len() < wanted.len() {
            let m = c
                .recv(WAIT)
                .await?
                .with_context(|| format!("{}: snapshots", self.name))?;
            match m.msg_type() {
                "W" => {
                    last.insert(m.field(262).to_string(), m.field(83).parse()?);
                }
                other => bail!("{}: 35={other} before the snapshots: {m}", self.name),
            }
        }
        let _ = ready.send(()).await;
        let mut stats = SubscriberStats::default();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                m = c.recv(Duration::from_millis(200)) => {
                    let Some(m) = m? else { continue };
                    let received_ns = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
                    stats.messages += 1;
                    self.seen(&m, received_ns, &mut last, &mut stats);
                }
            }
        }
        let _ = c.logout().await;
        Ok(stats)
    }

    /// One message: RptSeq continuity per subscription, and for the traded instrument the update's latency.
    fn seen(
        &self,
        m: &Msg,
        received_ns: i64,
        last: &mut HashMap<String, u64>,
        stats: &mut SubscriberStats,
    ) {
        let id = m.get(262).unwrap_or("").to_string();
        match m.msg_type() {
            "W" => {
                stats.resnapshots += 1;
                if let Some(rpt) = m.get(83).and_then(|v| v.parse().ok()) {
                    last.insert(id, rpt);
                }
            }
            "X" => {
                let mut first_rpt = None;
                let mut entry_ns = i64::MIN;
                let mut hot = false;
                for (tag, value) in m.fields() {
                    match tag {
                        55 => hot = value == self.hot.as_bytes(),
                        83 => {
                            let rpt: u64 = std::str::from_utf8(value)
                                .ok()
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            let prev = last.get(&id).copied().unwrap_or(0);
                            if rpt != prev && rpt != prev + 1 {
                                stats.gaps += 1;
                            }
                            last.insert(id.clone(), rpt);
                            first_rpt.get_or_insert(rpt);
                        }
                        273 => {
                            if let Some(t) = time_of_day_ns(value, received_ns) {
                                entry_ns = entry_ns.max(t);
                            }
                        }
                        _ => {}
                    }
                }
                if hot
                    && id.starts_with('H')
                    && let Some(rpt) = first_rpt
                    && entry_ns != i64::MIN
                {
                    let mut updates = self.updates.lock().expect("updates lock");
                    let e = updates.entry(rpt).or_insert((entry_ns, received_ns, 0));
                    e.0 = e.0.max(entry_ns);
                    e.1 = e.1.max(received_ns);
                    e.2 += 1;
                }
            }
            _ => {}
        }
    }
}

/// A UTCTimeOnly on the day of `near_ns` (the day before if that puts it in the future by more than an hour).
fn time_of_day_ns(value: &[u8], near_ns: i64) -> Option<i64> {
    let t = NaiveTime::parse_from_str(std::str::from_utf8(value).ok()?, "%H:%M:%S%.f").ok()?;
    let day_ns = 86_400_000_000_000i64;
    let midnight = near_ns.div_euclid(day_ns) * day_ns;
    let at = midnight
        + i64::from(t.num_seconds_from_midnight()) * 1_000_000_000
        + i64::from(t.nanosecond());
    Some(if at > near_ns + 3_600_000_000_000 {
        at - day_ns
    } else {
        at
    })
}
