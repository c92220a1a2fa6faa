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
//! is built before the clock starts.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{sleep_until, timeout, timeout_at};

use fix::encode::{Encoder, Header};
use fix::frame::{self, FrameConfig, Framed};
use fix::types::TimePrecision;
use fix::{Decoder, Dictionary, Message, tags};
use fixvenue::runtime::RuntimeError;
use venue_config::{InstrumentConfig, VenueConfig};

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
const READ_CHUNK_BYTES: usize = 64 * 1024;
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
}

/// Runs the benchmark; prints a summary on stderr and the JSON line on stdout.
pub fn run(options: &Options) -> anyhow::Result<()> {
    ensure!(
        (1..=SESSIONS_MAX).contains(&options.sessions),
        "--sessions must be 1 to {SESSIONS_MAX}"
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(options, workload))?;
    report.print(options);
    report.verdict(options)
}

// ---------------------------------------------------------------------------------------------------------------
// The workload.

/// The instrument's grid: corpus ticks and lots mapped onto it, inside its collar.
#[derive(Debug, Clone)]
struct Pricing {
    tick: Decimal,
    lot: Decimal,
    reference_ticks: i64,
    low_ticks: i64,
    high_ticks: i64,
    min_lots: i64,
    max_lots: i64,
}

impl Pricing {
    fn new(i: &InstrumentConfig) -> anyhow::Result<Pricing> {
        let (tick, lot) = (i.tick_size.0, i.lot_size.0);
        ensure!(
            tick > Decimal::ZERO && lot > Decimal::ZERO,
            "{}: tick and lot must be positive",
            i.symbol
        );
        let ticks = |d: Decimal| (d / tick).to_i64().context("price out of range");
        let lots = |d: Decimal| (d / lot).to_i64().context("quantity out of range");
        let reference = i.reference_price.0;
        let band = reference * i.collar_pct.0 / Decimal::ONE_HUNDRED;
        // One tick inside each end, so that a collar read as exclusive still lets every price in.
        let low_ticks = ticks((reference - band).max(Decimal::ZERO).ceil_to(tick))?.max(0) + 1;
        let high_ticks = ticks((reference + band).floor_to(tick))? - 1;
        ensure!(
            low_ticks <= high_ticks,
            "{}: the collar is narrower than two ticks",
            i.symbol
        );
        Ok(Pricing {
            tick,
            lot,
            reference_ticks: ticks(reference.floor_to(tick))?,
            low_ticks,
            high_ticks,
            min_lots: lots(i.min_qty.0.ceil_to(lot))?.max(1),
            max_lots: lots(i.max_qty.0.floor_to(lot))?,
        })
    }

    fn price_ticks(&self, corpus_ticks: i64) -> i64 {
        (self.reference_ticks + corpus_ticks - CORPUS_CENTER_TICKS)
            .clamp(self.low_ticks, self.high_ticks)
    }

    fn lots(&self, corpus_lots: i64) -> i64 {
        corpus_lots.clamp(self.min_lots, self.max_lots.max(self.min_lots))
    }
}

trait RoundTo {
    fn ceil_to(self, step: Decimal) -> Decimal;
    fn floor_to(self, step: Decimal) -> Decimal;
}

impl RoundTo for Decimal {
    fn ceil_to(self, step: Decimal) -> Decimal {
        (self / step).ceil() * step
    }
    fn floor_to(self, step: Decimal) -> Decimal {
        (self / step).floor() * step
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Limit {
        price_ticks: i64,
    },
    Market,
    /// Cancels the session's own order number `orig` (its index in the session's operations).
    Cancel {
        orig: u32,
    },
}

/// One order-entry message of one session; its index in the session's list is its ClOrdID's number.
#[derive(Debug, Clone, Copy)]
struct Op {
    kind: OpKind,
    buy: bool,
    lots: i64,
    /// Due time after the start, open loop only.
    due_ns: u64,
    measured: bool,
}

struct Workload {
    sessions: Vec<Vec<Op>>,
    tick: Decimal,
    lot: Decimal,
}

impl Workload {
    /// The first `warmup + orders` corpus operations (the corpus again, ids shifted, if it is shorter).
    fn load(path: &Path, options: &Options, pricing: &Pricing) -> anyhow::Result<Workload> {
        let total = options.orders + options.warmup;
        let n = options.sessions as usize;
        let mut sessions: Vec<Vec<Op>> = vec![Vec::new(); n];
        // Live adds: corpus id -> (session op index, lots). Gone once built.
        let mut live: HashMap<u64, (u32, i64)> = HashMap::new();
        let mut j = 0u64;
        let mut id_offset = 0u64;
        while j < total {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open the corpus {}", path.display()))?;
            let mut id_max = 0u64;
            for (line_no, line) in BufReader::new(file).lines().enumerate().skip(1) {
                if j == total {
                    break;
                }
                let line = line?;
                let at = || format!("{}:{}", path.display(), line_no + 1);
                let row = Row::parse(&line).with_context(at)?;
                id_max = id_max.max(row.id);
                let id = row.id + id_offset;
                let s = ((id - 1) % n as u64) as usize;
                let kind = match row.op {
                    b'A' => {
                        let index = u32::try_from(sessions[s].len())?;
                        live.insert(id, (index, pricing.lots(row.qty)));
                        OpKind::Limit {
                            price_ticks: pricing.price_ticks(row.price),
                        }
                    }
                    b'M' => OpKind::Market,
                    _ => {
                        let (orig, _) = *live
                            .get(&id)
                            .with_context(|| format!("{}: cancels an unknown order", at()))?;
                        OpKind::Cancel { orig }
                    }
                };
                let lots = match kind {
                    OpKind::Cancel { .. } => live.remove(&id).map_or(1, |(_, l)| l),
                    _ => pricing.lots(row.qty),
                };
                let due_ns = options
                    .rate
                    .map_or(0, |r| (j as f64 * 1e9 / r).round() as u64);
                sessions[s].push(Op {
                    kind,
                    buy: row.buy,
                    lots,
                    due_ns,
                    measured: j >= options.warmup,
                });
                j += 1;
            }
            ensure!(
                id_max > 0,
                "the corpus {} holds no operation",
                path.display()
            );
            id_offset += id_max;
        }
        Ok(Workload {
            sessions,
            tick: pricing.tick,
            lot: pricing.lot,
        })
    }
}

/// One corpus line: `op,order_id,side,price,qty`.
struct Row {
    op: u8,
    id: u64,
    buy: bool,
    price: i64,
    qty: i64,
}

impl Row {
    fn parse(line: &str) -> anyhow::Result<Row> {
        let mut f = line.trim_end().split(',');
        let mut next = || f.next().context("expected op,order_id,side,price,qty");
        let op = match next()? {
            "A" => b'A',
            "C" => b'C',
            "M" => b'M',
            other => bail!("unknown operation {other:?}"),
        };
        let id: u64 = next()?.parse().context("order_id")?;
        ensure!(id > 0, "order_id 0");
        let buy = match next()? {
            "B" => true,
            "S" => false,
            other => bail!("unknown side {other:?}"),
        };
        let price = next()?.parse().context("price")?;
        let qty = next()?.parse().context("qty")?;
        Ok(Row {
            op,
            id,
            buy,
            price,
            qty,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

/// What a session knows of its own identity, shared by its sender and reader.
struct Ids {
    sender: String,
    target: String,
    /// Prefix of every ClOrdID of this run (`<run>-<index>`), so that answers to an earlier run are not taken
    /// for answers to this one.
    run: String,
    symbol: String,
    tick: Decimal,
    lot: Decimal,
}

impl Ids {
    fn cl_ord_id(&self, index: u64, out: &mut [u8; 40]) -> usize {
        let mut w = &mut out[..];
        let _ = write!(w, "{}-{index}", self.run);
        40 - w.len()
    }

    fn index_of(&self, cl_ord_id: &[u8]) -> Option<u64> {
        let rest = cl_ord_id.strip_prefix(self.run.as_bytes())?;
        let digits = rest.strip_prefix(b"-")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
}

/// An order sent and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: u64,
    /// When its round trip starts, in ns after the start.
    origin_ns: u64,
    measured: bool,
}

const EMPTY: Slot = Slot {
    index: u64::MAX,
    origin_ns: 0,
    measured: false,
};

/// The outstanding orders of one session: slot `index % window`; and which order each outgoing MsgSeqNum
/// carried (for answers that name the message, not the order).
struct Outstanding {
    slots: Vec<Slot>,
    by_seq: Vec<u64>,
}

struct Shared {
    outstanding: Mutex<Outstanding>,
    /// Signalled by the reader when it frees a slot.
    freed: Notify,
    /// ns after the start of the last order's send, `u64::MAX` until then.
    last_send_ns: AtomicU64,
    /// ns the sender was behind its schedule at most, open loop.
    lag_max_ns: AtomicU64,
    /// Orders written so far.
    sent: AtomicU64,
}

impl Shared {
    fn new(window: usize) -> Shared {
        Shared {
            outstanding: Mutex::new(Outstanding {
                slots: vec![EMPTY; window],
                by_seq: vec![u64::MAX; window * 2],
            }),
            freed: Notify::new(),
            last_send_ns: AtomicU64::new(u64::MAX),
            lag_max_ns: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    fn is_free(&self, index: u64) -> bool {
        let o = self.outstanding.lock().expect("outstanding lock");
        o.slots[(index % o.slots.len() as u64) as usize].index == u64::MAX
    }

    /// The slot of order `index` if it is still waiting for its first answer.
    fn take(&self, index: u64) -> Option<Slot> {
        let mut o = self.outstanding.lock().expect("outstanding lock");
        let at = (index % o.slots.len() as u64) as usize;
        if o.slots[at].index != index {
            return None;
        }
        let slot = std::mem::replace(&mut o.slots[at], EMPTY);
        drop(o);
        self.freed.notify_one();
        Some(slot)
    }

    fn index_of_seq(&self, seq: u64) -> Option<u64> {
        let o = self.outstanding.lock().expect("outstanding lock");
        let v = o.by_seq[(seq % o.by_seq.len() as u64) as usize];
        (v != u64::MAX && v >> 32 == seq >> 32).then_some(v & 0xffff_ffff)
    }
}

/// A session message the reader asks the sender to write.
#[derive(Debug)]
enum Admin {
    Heartbeat { test_req_id: Vec<u8> },
    GapFill { begin: u64 },
    Logout,
    Stop,
}

/// What one session counted.
struct Tally {
    latency_ns: Histogram<u64>,
    orders: u64,
    answered: u64,
    accepted: u64,
    /// Order rejects (8 with 150=8), business rejects (j), session rejects (3).
    refused: u64,
    cancel_rejects: u64,
    /// Later ExecutionReports (fills of resting orders, expiries): not round trips.
    unsolicited: u64,
    /// Answers naming no order of this run.
    unmatched: u64,
    /// `"35=8 103=…"`, `"35=9 102=…"`, `"35=j 380=…"`, `"35=3 373=…"`: count.
    kinds: BTreeMap<String, u64>,
    first_origin_ns: u64,
    last_answer_ns: u64,
    lag_max_ns: u64,
}

impl Tally {
    fn new(orders: u64) -> anyhow::Result<Tally> {
        Ok(Tally {
            latency_ns: Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)?,
            orders,
            answered: 0,
            accepted: 0,
            refused: 0,
            cancel_rejects: 0,
            unsolicited: 0,
            unmatched: 0,
            kinds: BTreeMap::new(),
            first_origin_ns: u64::MAX,
            last_answer_ns: 0,
            lag_max_ns: 0,
        })
    }

    fn answer(&mut self, slot: Slot, now_ns: u64) {
        self.answered += 1;
        if slot.measured {
            self.latency_ns
                .saturating_record(now_ns.saturating_sub(slot.origin_ns).max(1));
            self.first_origin_ns = self.first_origin_ns.min(slot.origin_ns);
            self.last_answer_ns = self.last_answer_ns.max(now_ns);
        }
    }

    fn kind(&mut self, msg_type: &str, tag: u32, value: Option<&[u8]>) {
        let value = value.map_or("-".into(), String::from_utf8_lossy);
        *self
            .kinds
            .entry(format!("35={msg_type} {tag}={value}"))
            .or_default() += 1;
    }

    fn merge(&mut self, other: &Tally) -> anyhow::Result<()> {
        self.latency_ns.add(&other.latency_ns)?;
        self.orders += other.orders;
        self.answered += other.answered;
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.cancel_rejects += other.cancel_rejects;
        self.unsolicited += other.unsolicited;
        self.unmatched += other.unmatched;
        for (k, v) in &other.kinds {
            *self.kinds.entry(k.clone()).or_default() += v;
        }
        self.first_origin_ns = self.first_origin_ns.min(other.first_origin_ns);
        self.last_answer_ns = self.last_answer_ns.max(other.last_answer_ns);
        self.lag_max_ns = self.lag_max_ns.max(other.lag_max_ns);
        Ok(())
    }
}

async fn drive(options: &Options, workload: Workload) -> anyhow::Result<Report> {
    let venue = match &options.venue {
        Venue::Remote { host, port } => RunningVenue::remote(host, *port),
        Venue::InProcess => RunningVenue::start(options).await?,
    };
    let result = sessions(options, workload, &venue).await;
    venue.stop().await?;
    result
}

async fn sessions(
    options: &Options,
    workload: Workload,
    venue: &RunningVenue,
) -> anyhow::Result<Report> {
    let dict = Arc::new(Dictionary::fix44().map_err(|e| anyhow::anyhow!("dictionary: {e}"))?);
    let connector = match &options.tls_ca_file {
        Some(ca) => Some(tls_connector(ca)?),
        None => None,
    };
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
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(workload.sessions.len());
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
                let tcp = TcpStream::connect((host.as_str(), port))
                    .await
                    .with_context(|| format!("cannot connect to {host}:{port}"))?;
                tcp.set_nodelay(true)?;
                match connector {
                    None => ctx.run(tcp, ready, start).await,
                    Some(c) => {
                        let name = rustls_pki_types::ServerName::try_from(host.clone())?;
                        let tls = timeout(LOGON_TIMEOUT, c.connect(name, tcp))
                            .await
                            .context("TLS handshake timed out")?
                            .context("TLS handshake")?;
                        ctx.run(tls, ready, start).await
                    }
                }
            }
            .await;
            result.with_context(|| format!("session {name}"))
        });
    }
    drop(ready_tx);
    let mut ready = 0;
    while ready < options.sessions {
        tokio::select! {
            Some(()) = ready_rx.recv() => ready += 1,
            Some(joined) = tasks.join_next() => {
                joined??;
                bail!("a session ended before the start");
            }
        }
    }
    let started = Instant::now() + START_DELAY;
    let _ = start_tx.send(Some(started));
    let mut total = Tally::new(0)?;
    while let Some(joined) = tasks.join_next().await {
        total.merge(&joined??)?;
    }
    Ok(Report {
        tally: total,
        sessions: options.sessions,
    })
}

/// One session's fixed inputs.
struct SessionCtx {
    ids: Arc<Ids>,
    dict: Arc<Dictionary>,
    ops: Arc<[Op]>,
    window: usize,
    open_loop: bool,
}

impl SessionCtx {
    /// Logs on, waits for the start, sends its orders while reading the answers, logs out.
    async fn run<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
        self,
        mut stream: S,
        ready: mpsc::Sender<()>,
        mut start: watch::Receiver<Option<Instant>>,
    ) -> anyhow::Result<Tally> {
        let encoder = Encoder {
            header_time_precision: TimePrecision::Micros,
        };
        let mut out = BytesMut::with_capacity(BATCH_MAX * 256);
        let header = Header::new(b"A", &self.ids.sender, &self.ids.target, 1, Utc::now());
        let mut w = encoder.begin(&mut out, &header);
        w.put_u64(tags::ENCRYPT_METHOD, 0)
            .put_u64(tags::HEART_BT_INT, HEART_BT_INT_S)
            .put_bool(tags::RESET_SEQ_NUM_FLAG, true);
        w.finish()?;
        stream.write_all(&out).await?;
        let mut reader = Reader::new(Arc::clone(&self.ids), Arc::clone(&self.dict));
        let logon = timeout(LOGON_TIMEOUT, reader.next_frame(&mut stream))
            .await
            .context("no Logon answer")??;
        let answer = reader.msg_type_of(&logon)?;
        ensure!(
            answer == b"A",
            "Logon answered by {}",
            String::from_utf8_lossy(&logon).replace('\x01', "|")
        );
        let _ = ready.send(()).await;
        let started = loop {
            if let Some(t) = *start.borrow_and_update() {
                break t;
            }
            start.changed().await.context("the start was called off")?;
        };
        let shared = Arc::new(Shared::new(self.window));
        let (admin_tx, admin_rx) = mpsc::channel(ADMIN_QUEUE_MAX);
        let (read_half, write_half) = tokio::io::split(stream);
        let sender = Sender {
            ids: Arc::clone(&self.ids),
            ops: Arc::clone(&self.ops),
            shared: Arc::clone(&shared),
            encoder,
            out,
            seq: 2,
            started,
            open_loop: self.open_loop,
            window: self.window,
        };
        let sending = tokio::spawn(sender.run(write_half, admin_rx));
        let mut tally = Tally::new(self.ops.len() as u64)?;
        let reading = reader
            .answers(read_half, &shared, &admin_tx, &mut tally, started)
            .await;
        let all = tally.answered == tally.orders;
        let _ = admin_tx
            .send(if all { Admin::Logout } else { Admin::Stop })
            .await;
        let (read_half, lag) = match reading {
            Ok(r) => r,
            Err(e) => {
                sending.abort();
                return Err(e);
            }
        };
        tally.lag_max_ns = lag;
        if all {
            reader.logout(read_half, &admin_tx).await;
        }
        drop(admin_tx);
        sending.await.context("the sender failed")??;
        Ok(tally)
    }
}

struct Sender {
    ids: Arc<Ids>,
    ops: Arc<[Op]>,
    shared: Arc<Shared>,
    encoder: Encoder,
    out: BytesMut,
    seq: u64,
    started: Instant,
    open_loop: bool,
    window: usize,
}

/// Why the sender stopped writing orders for now.
enum Wait {
    /// It wrote a full batch: go on.
    Nothing,
    /// The next order is due then.
    Until(Instant),
    /// The next order's slot is still outstanding.
    Window,
    /// Every order is sent.
    Done,
}

impl Sender {
    async fn run<W: AsyncWrite + Unpin>(
        mut self,
        mut w: WriteHalf<W>,
        mut admin: mpsc::Receiver<Admin>,
    ) -> anyhow::Result<()> {
        sleep_until(self.started.into()).await;
        let mut next = 0usize;
        loop {
            while let Ok(a) = admin.try_recv() {
                if !self.admin(&mut w, a).await? {
                    return Ok(());
                }
            }
            let wait = self.send_due(&mut w, &mut next).await?;
            let a = match wait {
                Wait::Nothing => continue,
                Wait::Until(t) => tokio::select! {
                    a = admin.recv() => a,
                    _ = sleep_until(t.into()) => continue,
                },
                Wait::Window => tokio::select! {
                    a = admin.recv() => a,
                    _ = self.shared.freed.notified() => continue,
                },
                Wait::Done => admin.recv().await,
            };
            match a {
                Some(a) => {
                    if !self.admin(&mut w, a).await? {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
        }
    }

    /// Writes the session messages the reader asked for; false when the sender is to stop.
    async fn admin<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut WriteHalf<W>,
        a: Admin,
    ) -> anyhow::Result<bool> {
        let now = Utc::now();
        self.out.clear();
        let (sender, target) = (self.ids.sender.as_str(), self.ids.target.as_str());
        match &a {
            Admin::Heartbeat { test_req_id } => {
                let mut m = self.encoder.begin(
                    &mut self.out,
                    &Header::new(b"0", sender, target, self.seq, now),
                );
                m.put_bytes(tags::TEST_REQ_ID, test_req_id);
                m.finish()?;
                self.seq += 1;
            }
            Admin::GapFill { begin } => {
                // Numbered as the first message asked for; it says the next one is ours.
                let mut header = Header::new(b"4", sender, target, *begin, now);
                header.poss_dup = true;
                header.orig_sending_time = Some(now);
                let mut m = self.encoder.begin(&mut self.out, &header);
                m.put_bool(tags::GAP_FILL_FLAG, true)
                    .put_u64(tags::NEW_SEQ_NO, self.seq);
                m.finish()?;
            }
            Admin::Logout => {
                let m = self.encoder.begin(
                    &mut self.out,
                    &Header::new(b"5", sender, target, self.seq, now),
                );
                m.finish()?;
                self.seq += 1;
            }
            Admin::Stop => return Ok(false),
        }
        w.write_all(&self.out).await?;
        Ok(!matches!(a, Admin::Logout))
    }

    /// Writes, in one batch, the orders that are due and have a free slot.
    async fn send_due<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut WriteHalf<W>,
        next: &mut usize,
    ) -> anyhow::Result<Wait> {
        if *next == self.ops.len() {
            return Ok(Wait::Done);
        }
        let now = Instant::now();
        let now_ns = now.saturating_duration_since(self.started).as_nanos() as u64;
        let wall = Utc::now();
        self.out.clear();
        let mut batch = 0;
        let first = *next;
        let wait = loop {
            let Some(&op) = self.ops.get(*next) else {
                break Wait::Done;
            };
            // A batch never spans more than the window: the slots are checked before any of them is taken.
            if batch == BATCH_MAX.min(self.window) {
                break Wait::Nothing;
            }
            if self.open_loop && op.due_ns > now_ns {
                break Wait::Until(self.started + Duration::from_nanos(op.due_ns));
            }
            if !self.shared.is_free(*next as u64) {
                break Wait::Window;
            }
            self.encode(*next, &op, wall)?;
            *next += 1;
            batch += 1;
        };
        if batch == 0 {
            return Ok(wait);
        }
        self.register(first, *next, now_ns);
        w.write_all(&self.out).await?;
        if *next == self.ops.len() {
            let sent_ns = self.started.elapsed().as_nanos() as u64;
            self.shared.last_send_ns.store(sent_ns, Ordering::Release);
        }
        Ok(wait)
    }

    /// Records orders `first..end` as outstanding before their bytes leave, so an answer always finds them.
    fn register(&mut self, first: usize, end: usize, now_ns: u64) {
        let slack_ns = SEND_SLACK.as_nanos() as u64;
        let mut lag_max = 0;
        let mut o = self.shared.outstanding.lock().expect("outstanding lock");
        let (window, seqs) = (o.slots.len(), o.by_seq.len() as u64);
        let first_seq = self.seq - (end - first) as u64;
        for (i, index) in (first..end).enumerate() {
            let op = &self.ops[index];
            let origin_ns = if self.open_loop {
                lag_max = lag_max.max(now_ns.saturating_sub(op.due_ns));
                now_ns.min(op.due_ns + slack_ns)
            } else {
                now_ns
            };
            o.slots[index % window] = Slot {
                index: index as u64,
                origin_ns,
                measured: op.measured,
            };
            let seq = first_seq + i as u64;
            o.by_seq[(seq % seqs) as usize] = (seq >> 32) << 32 | index as u64;
        }
        drop(o);
        self.shared.lag_max_ns.fetch_max(lag_max, Ordering::Relaxed);
        self.shared
            .sent
            .fetch_add((end - first) as u64, Ordering::Release);
    }

    fn encode(&mut self, index: usize, op: &Op, wall: DateTime<Utc>) -> anyhow::Result<()> {
        let ids = &*self.ids;
        let msg_type: &[u8] = match op.kind {
            OpKind::Cancel { .. } => b"F",
            _ => b"D",
        };
        let header = Header::new(msg_type, &ids.sender, &ids.target, self.seq, wall);
        let mut id = [0u8; 40];
        let id_len = ids.cl_ord_id(index as u64, &mut id);
        let mut m = self.encoder.begin(&mut self.out, &header);
        if let OpKind::Cancel { orig } = op.kind {
            let mut orig_id = [0u8; 40];
            let n = ids.cl_ord_id(u64::from(orig), &mut orig_id);
            m.put_bytes(tags::ORIG_CL_ORD_ID, &orig_id[..n]);
        }
        m.put_bytes(tags::CL_ORD_ID, &id[..id_len])
            .put_str(tags::SYMBOL, &ids.symbol)
            .put_char(tags::SIDE, if op.buy { b'1' } else { b'2' })
            .put_timestamp(tags::TRANSACT_TIME, &wall, TimePrecision::Micros)
            .put_decimal(tags::ORDER_QTY, Decimal::from(op.lots) * ids.lot);
        match op.kind {
            OpKind::Limit { price_ticks } => {
                m.put_char(tags::ORD_TYPE, b'2')
                    .put_decimal(tags::PRICE, Decimal::from(price_ticks) * ids.tick)
                    .put_char(tags::TIME_IN_FORCE, b'1');
            }
            OpKind::Market => {
                m.put_char(tags::ORD_TYPE, b'1')
                    .put_char(tags::TIME_IN_FORCE, b'3');
            }
            OpKind::Cancel { .. } => {}
        }
        m.finish()?;
        self.seq += 1;
        Ok(())
    }
}

/// Reads and judges the venue's messages for one session.
struct Reader {
    ids: Arc<Ids>,
    dict: Arc<Dictionary>,
    decoder: Decoder,
    buf: BytesMut,
    frame_config: FrameConfig,
}

impl Reader {
    fn new(ids: Arc<Ids>, dict: Arc<Dictionary>) -> Reader {
        Reader {
            ids,
            dict,
            decoder: Decoder::new(),
            buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            frame_config: FrameConfig::default(),
        }
    }

    /// The length of the complete frame at the front of the buffer, if there is one.
    fn complete(&self) -> anyhow::Result<Option<usize>> {
        match frame::check(&self.buf, &self.frame_config) {
            Framed::Complete { len } => Ok(Some(len)),
            Framed::Incomplete { .. } => Ok(None),
            Framed::Garbled { reason, .. } => bail!("the venue sent a garbled message: {reason}"),
        }
    }

    async fn fill<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> anyhow::Result<()> {
        self.buf.reserve(READ_CHUNK_BYTES);
        let n = s.read_buf(&mut self.buf).await?;
        ensure!(n > 0, "the venue closed the connection");
        Ok(())
    }

    /// The next frame (copied: for the Logon only).
    async fn next_frame<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(len) = self.complete()? {
                return Ok(self.buf.split_to(len).to_vec());
            }
            self.fill(s).await?;
        }
    }

    fn msg_type_of(&mut self, frame: &[u8]) -> anyhow::Result<Vec<u8>> {
        Ok(self.decoder.decode(&self.dict, frame)?.msg_type().to_vec())
    }

    /// Reads until every order is answered, or the answers stop: `ANSWER_TIMEOUT` after the last send, or that
    /// long without a byte while orders are outstanding. Returns the read half and the sender's worst lag.
    async fn answers<S: AsyncRead + Unpin>(
        &mut self,
        mut r: ReadHalf<S>,
        shared: &Shared,
        admin: &mpsc::Sender<Admin>,
        tally: &mut Tally,
        started: Instant,
    ) -> anyhow::Result<(ReadHalf<S>, u64)> {
        let lag = |s: &Shared| s.lag_max_ns.load(Ordering::Relaxed);
        let mut arrival_ns = 0;
        loop {
            while let Some(len) = self.complete()? {
                if let Some(a) = self.handle(len, shared, tally, arrival_ns)? {
                    admin.send(a).await.context("the sender stopped")?;
                }
            }
            if tally.answered == tally.orders {
                return Ok((r, lag(shared)));
            }
            let last_send_ns = shared.last_send_ns.load(Ordering::Acquire);
            let deadline = match last_send_ns {
                u64::MAX => Instant::now() + ANSWER_TIMEOUT,
                t => started + Duration::from_nanos(t) + ANSWER_TIMEOUT,
            };
            match timeout_at(deadline.into(), self.fill(&mut r)).await {
                Ok(read) => read?,
                Err(_) if last_send_ns == u64::MAX && shared.sent() == tally.answered => {}
                Err(_) if Instant::now() < deadline => {}
                Err(_) => return Ok((r, lag(shared))),
            }
            arrival_ns = started.elapsed().as_nanos() as u64;
        }
    }

    /// Judges the frame at the front of the buffer and drops it; returns what the sender should answer.
    fn handle(
        &mut self,
        len: usize,
        shared: &Shared,
        tally: &mut Tally,
        now_ns: u64,
    ) -> anyhow::Result<Option<Admin>> {
        let msg = self.decoder.decode(&self.dict, &self.buf[..len])?;
        let ids = &*self.ids;
        let by_id = |m: &Message| {
            m.get(tags::CL_ORD_ID)
                .and_then(|v| ids.index_of(v.bytes))
                .and_then(|i| shared.take(i))
        };
        let by_seq = |m: &Message| {
            m.get(tags::REF_SEQ_NUM)
                .and_then(|v| v.as_uint().ok())
                .and_then(|s| shared.index_of_seq(s))
                .or_else(|| {
                    m.get(BUSINESS_REJECT_REF_ID)
                        .and_then(|v| ids.index_of(v.bytes))
                })
                .and_then(|i| shared.take(i))
        };
        let mut admin = None;
        match msg.msg_type() {
            b"8" => match by_id(&msg) {
                Some(slot) => {
                    tally.answer(slot, now_ns);
                    let exec_type = msg.get(tags::EXEC_TYPE).map(|v| v.bytes);
                    if exec_type == Some(b"8") {
                        tally.refused += 1;
                        tally.kind("8", tags::ORD_REJ_REASON, value(&msg, tags::ORD_REJ_REASON));
                    } else {
                        tally.accepted += 1;
                    }
                }
                None => tally.unsolicited += 1,
            },
            b"9" => match by_id(&msg) {
                Some(slot) => {
                    tally.answer(slot, now_ns);
                    tally.cancel_rejects += 1;
                    tally.kind("9", CXL_REJ_REASON, value(&msg, CXL_REJ_REASON));
                }
                None => tally.unmatched += 1,
            },
            t @ (b"j" | b"3") => match by_seq(&msg) {
                Some(slot) => {
                    tally.answer(slot, now_ns);
                    tally.refused += 1;
                    let (name, tag) = match t {
                        b"j" => ("j", tags::BUSINESS_REJECT_REASON),
                        _ => ("3", tags::SESSION_REJECT_REASON),
                    };
                    tally.kind(name, tag, value(&msg, tag));
                }
                None => tally.unmatched += 1,
            },
            b"1" => {
                admin = Some(Admin::Heartbeat {
                    test_req_id: value(&msg, tags::TEST_REQ_ID).unwrap_or(b"").to_vec(),
                });
            }
            b"2" => {
                let begin = msg.field(BEGIN_SEQ_NO)?.as_uint()?;
                admin = Some(Admin::GapFill { begin });
            }
            b"0" | b"4" | b"A" => {}
            b"5" => bail!(
                "the venue logged the session out: {}",
                String::from_utf8_lossy(value(&msg, tags::TEXT).unwrap_or(b""))
            ),
            other => {
                tally.unmatched += 1;
                let t = String::from_utf8_lossy(other).into_owned();
                tally.kind(&t, tags::MSG_TYPE, None);
            }
        }
        let _ = self.buf.split_to(len);
        Ok(admin)
    }

    /// After the sender's Logout: reads until the venue's Logout or `LOGOUT_TIMEOUT`, still answering
    /// TestRequests.
    async fn logout<S: AsyncRead + Unpin>(
        &mut self,
        mut r: ReadHalf<S>,
        admin: &mpsc::Sender<Admin>,
    ) {
        let deadline = Instant::now() + LOGOUT_TIMEOUT;
        loop {
            while let Ok(Some(len)) = self.complete() {
                let Ok(msg) = self.decoder.decode(&self.dict, &self.buf[..len]) else {
                    return;
                };
                let t = msg.msg_type().to_vec();
                let test_req_id = value(&msg, tags::TEST_REQ_ID).map(<[u8]>::to_vec);
                let _ = self.buf.split_to(len);
                match t.as_slice() {
                    b"5" => return,
                    b"1" => {
                        let test_req_id = test_req_id.unwrap_or_default();
                        let _ = admin.send(Admin::Heartbeat { test_req_id }).await;
                    }
                    _ => {}
                }
            }
            match timeout_at(deadline.into(), self.fill(&mut r)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}

fn value<'a>(msg: &Message<'a>, tag: u32) -> Option<&'a [u8]> {
    msg.get(tag).map(|v| v.bytes)
}

// ---------------------------------------------------------------------------------------------------------------
// The venue: remote, or in this process.

struct RunningVenue {
    host: String,
    port: u16,
    inner: Option<InProcess>,
}

struct InProcess {
    dir: PathBuf,
    shutdown: watch::Sender<bool>,
    done: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

impl RunningVenue {
    fn remote(host: &str, port: u16) -> RunningVenue {
        RunningVenue {
            host: host.to_string(),
            port,
            inner: None,
        }
    }

    /// A venue on 127.0.0.1, port 0, in a fresh directory under the system's temporary directory, with the
    /// sessions `<prefix>1..N` -> `<target>`.
    async fn start(options: &Options) -> anyhow::Result<RunningVenue> {
        let dir = std::env::temp_dir().join(format!(
            "fixvenue-bench-e2e-{}-{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let cfg = dir.join("sessions.cfg");
        std::fs::write(&cfg, session_config(options))?;
        let (shutdown, rx) = watch::channel(false);
        let serve = fixvenue::runtime::ServeOptions {
            sessions: vec![cfg],
            venue: options.venue_toml.clone(),
            data_dir: dir.join("data"),
        };
        let started = start_venue(&serve, rx).await;
        let (addr, done) = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        Ok(RunningVenue {
            host: addr.ip().to_string(),
            port: addr.port(),
            inner: Some(InProcess {
                dir,
                shutdown,
                done,
            }),
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let Some(v) = self.inner else {
            return Ok(());
        };
        let _ = v.shutdown.send(true);
        let result = v.done.await;
        let _ = std::fs::remove_dir_all(&v.dir);
        Ok(result.context("the in-process venue panicked")??)
    }
}

/// The whole venue (acceptor, gateway, sequencer, journal) through `runtime::start`; returns its address and
/// the task that runs it until `shutdown`.
async fn start_venue(
    options: &fixvenue::runtime::ServeOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), RuntimeError>>,
)> {
    let running = fixvenue::runtime::start(options, shutdown).await?;
    let addr = running
        .addrs
        .first()
        .context("the venue bound no listener")?
        .addr;
    Ok((addr, running.done))
}

/// The generated session configuration of an in-process venue.
fn session_config(options: &Options) -> String {
    let mut cfg = format!(
        "# Generated by fixvenue bench e2e.\n[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID={}\n\
         SocketAcceptAddress=127.0.0.1\nSocketAcceptPort=0\nNonStopSession=Y\nSessionRole=trading\n\
         HeartBtIntMin=1\nHeartBtIntMax=300\nLogoutTimeout=2\n",
        options.target_comp_id
    );
    if options.tls_ca_file.is_some() {
        cfg.push_str(
            "SocketUseSSL=Y\nSocketCertificateFile=certs/server.pem\nSocketPrivateKeyFile=certs/server.key\n\
             NeedClientAuth=N\n",
        );
    }
    for i in 1..=options.sessions {
        cfg.push_str(&format!(
            "[SESSION]\nTargetCompID={}{i}\n",
            options.sender_prefix
        ));
    }
    cfg
}

fn tls_connector(ca_file: &Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in testkit::tls::load_certificates(ca_file)? {
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

// ---------------------------------------------------------------------------------------------------------------
// The figures.

struct Report {
    tally: Tally,
    sessions: u32,
}

impl Report {
    fn duration_s(&self) -> f64 {
        let t = &self.tally;
        if t.last_answer_ns <= t.first_origin_ns || t.first_origin_ns == u64::MAX {
            return 0.0;
        }
        (t.last_answer_ns - t.first_origin_ns) as f64 / 1e9
    }

    fn us(&self, quantile: f64) -> f64 {
        let h = &self.tally.latency_ns;
        if h.is_empty() {
            return 0.0;
        }
        (h.value_at_quantile(quantile) as f64 / 100.0).round() / 10.0
    }

    fn unanswered(&self) -> u64 {
        self.tally.orders - self.tally.answered
    }

    fn print(&self, options: &Options) {
        let t = &self.tally;
        let duration_s = self.duration_s();
        let per_s = if duration_s > 0.0 {
            options.orders as f64 / duration_s
        } else {
            0.0
        };
        let max_us = (t.latency_ns.max() as f64 / 100.0).round() / 10.0;
        let mode = match options.rate {
            Some(r) => format!("open loop at {r} orders/s"),
            None => format!("closed loop, {} outstanding per session", options.window),
        };
        eprintln!(
            "bench e2e: {} orders (+{} warm-up) over {} sessions{} ({mode}) in {duration_s:.3} s: {per_s:.0} \
             orders/s; ack round trip p50 {} us, p99 {} us, p99.9 {} us, max {max_us} us; {} accepted, {} refused, \
             {} cancel rejects, {} unanswered, {} unmatched, {} later reports; sender behind schedule by {:.1} ms \
             at most",
            options.orders,
            options.warmup,
            self.sessions,
            if options.tls_ca_file.is_some() {
                " (TLS)"
            } else {
                ""
            },
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            t.accepted,
            t.refused,
            t.cancel_rejects,
            self.unanswered(),
            t.unmatched,
            t.unsolicited,
            t.lag_max_ns as f64 / 1e6,
        );
        for (kind, n) in &t.kinds {
            eprintln!("  answers {kind}: {n}");
        }
        println!(
            "{{\"orders\":{},\"duration_s\":{duration_s:.6},\"orders_per_s\":{per_s:.1},\"p50_us\":{},\
             \"p99_us\":{},\"p999_us\":{},\"max_us\":{max_us},\"sessions\":{},\"tls\":{},\"rejects\":{},\
             \"cancel_rejects\":{},\"unanswered\":{},\"warmup\":{},\"rate\":{}}}",
            options.orders,
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            self.sessions,
            options.tls_ca_file.is_some(),
            t.refused,
            t.cancel_rejects,
            self.unanswered(),
            options.warmup,
            options.rate.map_or("null".to_string(), |r| r.to_string()),
        );
    }

    /// Fails the run when an order went unanswered or too many were refused.
    fn verdict(&self, options: &Options) -> anyhow::Result<()> {
        let t = &self.tally;
        ensure!(
            self.unanswered() == 0,
            "{} of {} orders got no answer within {} s of the last send",
            self.unanswered(),
            t.orders,
            ANSWER_TIMEOUT.as_secs()
        );
        let refused_pct = t.refused as f64 * 100.0 / t.orders.max(1) as f64;
        ensure!(
            refused_pct <= options.reject_pct_max,
            "{refused_pct:.2}% of the orders were refused (limit {}%): see the answers above",
            options.reject_pct_max
        );
        Ok(())
    }
}
