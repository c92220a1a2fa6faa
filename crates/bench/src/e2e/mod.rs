//! `fixvenue bench e2e`: order entry end to end. N client FIX 4.4 sessions log on to a venue (over TCP or TLS, or
//! to one started in this process) and replay the order-book corpus as orders; the ack round trip is measured.
//!
//! - The workload is `book_ops_1m.csv` mapped to FIX: `A` is a GTC limit NewOrderSingle, `C` an
//!   OrderCancelRequest naming the add's ClOrdID (41), `M` a market IOC order. An operation goes to session
//!   `(order_id - 1) % N`, so every cancel is sent by the session that owns its order. Corpus prices are moved
//!   onto the instrument (its reference price for the corpus's 100.00, its tick, its lot) and kept inside its
//!   collar, so that a correct venue accepts them.
//! - With `--rate R` the load is open loop: operation `j` (in corpus order) is due at `j / R` seconds, whatever
//!   the answers do. Latency is counted from the due time, not from when the sender managed to write (coordinated
//!   omission), except for up to `SEND_SLACK` of lateness, which is tokio's timer granularity and not the venue's
//!   doing. Without `--rate`: closed loop, as fast as the venue answers, with `--window` orders outstanding per
//!   session.
//! - The round trip is from the order's write to the FIRST ExecutionReport (35=8) or OrderCancelReject (35=9)
//!   naming its ClOrdID, or the BusinessMessageReject (35=j) or session Reject (35=3) naming its MsgSeqNum.
//!   Every answer that is not an acceptance is counted by kind and reason code, and the run fails when an order
//!   gets no answer within `ANSWER_TIMEOUT` of the last send or when more than `--max-reject-pct` were refused.
//! - The session side is the minimum a counterparty owes: Heartbeat to a TestRequest, SequenceReset-GapFill to a
//!   ResendRequest (the bench never resends orders), Logout at the end.
//!
//! Per order the sender encodes into one reused buffer and the reader frames and decodes in place; the workload
//! is built before the clock starts. The sessions speak FIX through testkit's client: its connector (TCP or TLS),
//! its header stamp and its frame reader.
//!
//! - With `--slow-sessions N`, N more sessions log on, send orders and never read their socket ([`slow`]); they
//!   are not measured, so the figures say what such a client costs the others.
//! - With `--drop-copy`, a venue-wide drop-copy session `<prefix>DC` logs on and reads every copy ([`dropcopy`]);
//!   not measured, so a run with and one without it show what drop copy costs the acknowledgement path.
//!
//! Code map: [`workload`] (corpus to orders), [`session`] (one session's life), [`sender`] and [`reader`] (its two
//! halves), [`window`] (what they share), [`tally`] and [`report`] (the figures), [`venue`] (remote or in-process),
//! [`slow`] (the sessions that never read).

mod dropcopy;
mod ids;
mod reader;
pub(crate) mod report;
mod sender;
mod session;
mod slow;
mod tally;
pub(crate) mod venue;
mod window;
pub(crate) mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::sync::{mpsc, watch};

use fix::Dictionary;
use rust_decimal::Decimal;
use testkit::stream::Connector;
use testkit::tls::ClientTls;
use venue_config::VenueConfig;

use ids::Ids;
pub use report::E2eResult;
use report::Report;
use session::SessionCtx;
use slow::SlowCtx;
use tally::Tally;
use venue::RunningVenue;
use workload::{Pricing, Workload};

/// Sessions at most: the venue's limit of connections from one address.
pub const SESSIONS_MAX: u32 = fixvenue::net::CONNECTIONS_PER_IP_MAX as u32;
/// Orders (warm-up included) at most: the workload is built in memory before the clock starts.
pub const ORDERS_MAX: u64 = 50_000_000;
/// The share of refused orders (order rejects, business and session rejects) above which the run fails.
pub const REJECT_PCT_MAX_DEFAULT: f64 = 1.0;
/// Orders outstanding per session without `--rate`, by default.
pub const WINDOW_CLOSED_DEFAULT: u32 = 256;
/// Orders outstanding per session at most (the sender's slots and the map of MsgSeqNums are this long); with
/// `--rate` the sender waits when its window is full, and its lateness is measured.
pub const WINDOW_MAX: u32 = 16_384;
/// Orders per socket write.
const BATCH_MAX: usize = 64;
/// How long a session waits for its last answers after its last send, and the longest silence it accepts.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const LOGON_TIMEOUT: Duration = Duration::from_secs(10);
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(2);
/// tokio's timers fire on millisecond boundaries: an open-loop send up to this late is the bench's own slack, not
/// the venue's, and is not counted.
const SEND_SLACK: Duration = Duration::from_millis(1);
/// Between the last Logon and the first due time, so that no session starts behind.
const START_DELAY: Duration = Duration::from_millis(20);
/// The corpus price that lands on the instrument's reference price (100.00 at the corpus's tick of 0.01).
const CORPUS_CENTER_TICKS: i64 = 10_000;
const HEART_BT_INT_S: u64 = 30;
/// Session messages (Heartbeat, GapFill) queued from the reader to the sender.
const ADMIN_QUEUE_MAX: usize = 64;
/// Latency histogram range: 1 ns to 10 minutes, three significant digits.
const LATENCY_NS_MAX: u64 = 600_000_000_000;

const BEGIN_SEQ_NO: u32 = 7;
const BUSINESS_REJECT_REF_ID: u32 = 379;
const CXL_REJ_REASON: u32 = 102;

/// Where the venue is.
#[derive(Debug, Clone)]
pub enum Venue {
    Remote {
        host: String,
        port: u16,
    },
    /// Started inside this process on 127.0.0.1 with a fresh data directory and a generated session config.
    InProcess,
}

/// Options of `fixvenue bench e2e`.
#[derive(Debug, Clone)]
pub struct Options {
    pub venue: Venue,
    pub sessions: u32,
    /// Measured orders (cancels count as orders).
    pub orders: u64,
    /// Orders per second over all sessions; `None`: closed loop, as fast as possible.
    pub rate: Option<f64>,
    /// Trust roots when connecting with TLS; `None`: plain TCP.
    pub tls_ca_file: Option<PathBuf>,
    pub symbol: String,
    pub sender_prefix: String,
    pub target_comp_id: String,
    /// Orders sent before the measured ones, same mix and rate, not in the figures.
    pub warmup: u64,
    pub corpus: PathBuf,
    /// venue.toml for the instrument's tick, lot and collar (and for an in-process venue); `None`: bundled.
    pub venue_toml: Option<PathBuf>,
    pub reject_pct_max: f64,
    /// Orders outstanding per session in closed loop (open loop: `WINDOW_MAX`).
    pub window: u32,
    /// Sessions `<sender_prefix>SLOW1..N` that send orders and never read their socket (not measured).
    pub slow_sessions: u32,
    /// Orders per second of each slow session; `None`: the measured sessions' per-session rate (`--rate` / N),
    /// or in closed loop as fast as its socket takes them.
    pub slow_rate: Option<f64>,
    /// A venue-wide drop-copy session `<sender_prefix>DC` logged on and reading (not measured).
    pub drop_copy: bool,
}

/// Runs the benchmark; prints a summary on stderr and the JSON line on stdout.
pub fn run(options: &Options) -> anyhow::Result<()> {
    ensure!(
        (1..=SESSIONS_MAX).contains(&options.sessions),
        "--sessions must be 1 to {SESSIONS_MAX}"
    );
    ensure!(
        options.sessions.saturating_add(options.slow_sessions) <= SESSIONS_MAX,
        "--sessions plus --slow-sessions must be at most {SESSIONS_MAX}"
    );
    let total = options.orders.saturating_add(options.warmup);
    ensure!(
        options.orders > 0 && total <= ORDERS_MAX,
        "--orders plus --warmup must be 1 to {ORDERS_MAX}"
    );
    ensure!(
        (1..=WINDOW_MAX).contains(&options.window),
        "--window must be 1 to {WINDOW_MAX}"
    );
    if let Some(rate) = options.rate {
        ensure!(rate.is_finite() && rate > 0.0, "--rate must be positive");
    }
    if let Some(rate) = options.slow_rate {
        ensure!(
            rate.is_finite() && rate > 0.0,
            "--slow-rate must be positive"
        );
    }
    let (workload, pricing) = load_workload_priced(options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(options, workload, &pricing))?;
    report.print(options);
    report.verdict(options)
}

/// The corpus as orders for `options.symbol`, priced on the instrument of venue.toml, and that pricing.
pub(crate) fn load_workload_priced(options: &Options) -> anyhow::Result<(Workload, Pricing)> {
    let venue_config = match &options.venue_toml {
        Some(p) => VenueConfig::load(p)?,
        None => VenueConfig::bundled(),
    };
    let instrument = venue_config
        .instruments
        .iter()
        .find(|i| i.symbol == options.symbol)
        .with_context(|| format!("no instrument {} in venue.toml", options.symbol))?;
    let pricing = Pricing::new(instrument)?;
    let workload = Workload::load(&options.corpus, options, &pricing)?;
    Ok((workload, pricing))
}

async fn drive(options: &Options, workload: Workload, pricing: &Pricing) -> anyhow::Result<Report> {
    let venue = match &options.venue {
        Venue::Remote { host, port } => RunningVenue::remote(host, *port),
        Venue::InProcess => RunningVenue::start(options).await?,
    };
    let result = sessions(options, workload, pricing, &venue).await;
    venue.stop().await?;
    result
}

pub(crate) async fn sessions(
    options: &Options,
    workload: Workload,
    pricing: &Pricing,
    venue: &RunningVenue,
) -> anyhow::Result<Report> {
    let dict = Arc::new(Dictionary::fix44().map_err(|e| anyhow::anyhow!("dictionary: {e}"))?);
    let tls = options.tls_ca_file.clone().map(ClientTls::new);
    let connector = Connector::new(tls.as_ref())?;
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            % 0xffff_ffff
    );
    let window = if options.rate.is_some() {
        WINDOW_MAX as usize
    } else {
        options.window as usize
    };
    // Every session logs on before the clock starts.
    let (tick, lot) = (workload.tick, workload.lot);
    let (start_tx, start_rx) = watch::channel(None::<Instant>);
    let mut tasks = tokio::task::JoinSet::new();
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(
        workload.sessions.len() + options.slow_sessions as usize + usize::from(options.drop_copy),
    );
    // The slow sessions: each sends at the measured sessions' per-session rate, and stops when they are done.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut slow_tasks = tokio::task::JoinSet::new();
    for i in 1..=options.slow_sessions {
        let ctx = SlowCtx {
            sender: format!("{}SLOW{i}", options.sender_prefix),
            target: options.target_comp_id.clone(),
            run: run.clone(),
            symbol: options.symbol.clone(),
            price: pricing.tick * Decimal::from(pricing.low_ticks),
            qty: pricing.lot * Decimal::from(pricing.min_lots),
            rate: options
                .slow_rate
                .or(options.rate.map(|r| r / f64::from(options.sessions))),
        };
        let (host, port, connector) = (venue.host.clone(), venue.port, connector.clone());
        let (ready, start, stop) = (ready_tx.clone(), start_rx.clone(), stop_rx.clone());
        let tls = options.tls_ca_file.is_some();
        slow_tasks.spawn(async move {
            let name = ctx.sender.clone();
            let result = async {
                let stream = if tls {
                    connector.connect(&host, port).await?
                } else {
                    slow::connect_small_window(&host, port).await?
                };
                ctx.run(stream, ready, start, stop).await
            }
            .await;
            result.with_context(|| format!("slow session {name}"))
        });
    }
    if options.drop_copy {
        let sender = format!("{}DC", options.sender_prefix);
        let target = options.target_comp_id.clone();
        let (host, port, connector) = (venue.host.clone(), venue.port, connector.clone());
        let (ready, start, stop) = (ready_tx.clone(), start_rx.clone(), stop_rx.clone());
        slow_tasks.spawn(async move {
            let name = sender.clone();
            let result = async {
                let stream = connector.connect(&host, port).await?;
                let outcome = dropcopy::run(stream, sender, target, ready, start, stop).await?;
                anyhow::Ok(slow::SlowOutcome {
                    sender: name.clone(),
                    orders: 0,
                    stalled_after: None,
                    why: format!(
                        "drop copy: read {} copies (797=Y) and {} other messages; {}",
                        outcome.copies,
                        outcome.other,
                        match &outcome.logout {
                            Some(text) => format!("logged out by the venue: {text}"),
                            None => "read to the end".to_string(),
                        }
                    ),
                })
            }
            .await;
            result.with_context(|| format!("drop-copy session {name}"))
        });
    }
    for (i, ops) in workload.sessions.into_iter().enumerate() {
        let ids = Arc::new(Ids {
            sender: format!("{}{}", options.sender_prefix, i + 1),
            target: options.target_comp_id.clone(),
            run: run.clone(),
            symbol: options.symbol.clone(),
            tick,
            lot,
        });
        let ctx = SessionCtx {
            ids,
            dict: Arc::clone(&dict),
            ops: Arc::from(ops),
            window,
            open_loop: options.rate.is_some(),
        };
        let (host, port, connector) = (venue.host.clone(), venue.port, connector.clone());
        let (ready, start) = (ready_tx.clone(), start_rx.clone());
        tasks.spawn(async move {
            let name = ctx.ids.sender.clone();
            let result = async {
                let stream = connector.connect(&host, port).await?;
                ctx.run(stream, ready, start).await
            }
            .await;
            result.with_context(|| format!("session {name}"))
        });
    }
    drop(ready_tx);
    let mut ready = 0;
    while ready < options.sessions + options.slow_sessions + u32::from(options.drop_copy) {
        tokio::select! {
            Some(()) = ready_rx.recv() => ready += 1,
            Some(joined) = tasks.join_next() => {
                joined??;
                bail!("a session ended before the start");
            }
            Some(joined) = slow_tasks.join_next() => {
                joined??;
                bail!("a slow session ended before the start");
            }
        }
    }
    let started = Instant::now() + START_DELAY;
    let _ = start_tx.send(Some(started));
    let mut total = Tally::new(0)?;
    let mut measured = Ok(());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(tally)) => total.merge(&tally)?,
            Ok(Err(e)) => measured = Err(e),
            Err(e) => measured = Err(e.into()),
        }
    }
    let _ = stop_tx.send(true);
    while let Some(joined) = slow_tasks.join_next().await {
        let outcome = joined??;
        if outcome.orders == 0 && outcome.stalled_after.is_none() {
            eprintln!("bench e2e: {}: {}", outcome.sender, outcome.why);
            continue;
        }
        match outcome.stalled_after {
            Some(after) => eprintln!(
                "bench e2e: slow session {} sent {} orders, then its socket stopped taking them after {:.3} s: {}",
                outcome.sender,
                outcome.orders,
                after.as_secs_f64(),
                outcome.why
            ),
            None => eprintln!(
                "bench e2e: slow session {} sent {} orders and read nothing: {}",
                outcome.sender, outcome.orders, outcome.why
            ),
        }
    }
    measured?;
    Ok(Report {
        tally: total,
        sessions: options.sessions,
    })
}
