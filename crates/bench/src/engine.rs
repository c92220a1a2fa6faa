//! `fixvenue bench engine`: replays ../shared/corpus/book_ops_1m.csv through the matching engine (A = GTC limit,
//! C = cancel, M = market with the rest canceled), checks the result against the `.expected` file and prints one
//! `RESULT` line. With a journal directory the same commands go through the sequencer with real fdatasync group
//! commits, and the journal is then replayed into a fresh engine to time start-up recovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use hdrhistogram::Histogram;

use engine::{
    AccountId, Command, Engine, Event, InstrumentId, NewOrder, OrderId, OrderKind, Sequenced,
    SessionId, Side, TimeInForce,
};
use journal::journal::{Journal, JournalOptions};
use journal::sequencer::{Sequencer, SequencerConfig, Submission, recover, system_clock};
use venue_config::VenueConfig;

use crate::corpus::{self, Op, Row, Rows};

/// The most operations in one file.
pub const OPS_MAX: usize = 20_000_000;
/// The instrument the corpus trades (from the bundled venue.toml).
pub const BENCH_SYMBOL: &str = "ZVZZT";
/// Resting orders (A) come from this account, market orders (M) from the other, so that no trade is a self-trade.
pub const MAKER_ACCOUNT: AccountId = AccountId(1_000_001);
pub const TAKER_ACCOUNT: AccountId = AccountId(1_000_002);

/// What the corpus must produce, from `book_ops_1m.expected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub fills: u64,
    pub filled_qty: i64,
    pub final_resting_orders: usize,
    pub final_best_bid: i64,
    pub final_best_ask: i64,
}

/// What a replay produced, in the same terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub fills: u64,
    pub filled_qty: i64,
    pub final_resting_orders: usize,
    pub final_best_bid: i64,
    pub final_best_ask: i64,
    pub rejects: u64,
}

impl Outcome {
    /// Counts what one command's events add.
    pub fn count(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Trade { qty_lots, .. } => {
                    self.fills += 1;
                    self.filled_qty += qty_lots;
                }
                Event::Rejected { .. } | Event::CancelRejected { .. } => self.rejects += 1,
                _ => {}
            }
        }
    }

    /// Takes the final book figures from the engine.
    pub fn finish(&mut self, engine: &Engine, instrument: InstrumentId) {
        self.final_resting_orders = engine.resting_orders();
        self.final_best_bid = engine
            .best(instrument, Side::Buy)
            .map_or(0, |(price_ticks, _)| price_ticks);
        self.final_best_ask = engine
            .best(instrument, Side::Sell)
            .map_or(0, |(price_ticks, _)| price_ticks);
    }

    /// Fails loudly, naming every figure that differs.
    pub fn check(&self, expected: &Expected) -> anyhow::Result<()> {
        let pairs = [
            ("fills", self.fills as i64, expected.fills as i64),
            ("filled_qty", self.filled_qty, expected.filled_qty),
            (
                "final_resting_orders",
                self.final_resting_orders as i64,
                expected.final_resting_orders as i64,
            ),
            (
                "final_best_bid",
                self.final_best_bid,
                expected.final_best_bid,
            ),
            (
                "final_best_ask",
                self.final_best_ask,
                expected.final_best_ask,
            ),
            ("rejects", self.rejects as i64, 0),
        ];
        let wrong: Vec<String> = pairs
            .iter()
            .filter(|(_, actual, wanted)| actual != wanted)
            .map(|(name, actual, wanted)| format!("{name}: got {actual}, expected {wanted}"))
            .collect();
        if !wrong.is_empty() {
            bail!("MISMATCH against the expected values: {}", wrong.join("; "));
        }
        Ok(())
    }
}

/// Reads the expected values (`key=value` lines, `#` comments).
pub fn read_expected(path: &Path) -> anyhow::Result<Expected> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut values = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| anyhow!("{}:{}: expected key=value", path.display(), index + 1))?;
        values.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let get = |key: &str| -> anyhow::Result<i64> {
        let value = values
            .get(key)
            .ok_or_else(|| anyhow!("{}: no {key}=", path.display()))?;
        value
            .parse()
            .with_context(|| format!("{}: {key}={value} is not an integer", path.display()))
    };
    Ok(Expected {
        fills: u64::try_from(get("fills")?).context("fills is negative")?,
        filled_qty: get("filled_qty")?,
        final_resting_orders: usize::try_from(get("final_resting_orders")?)
            .context("negative order count")?,
        final_best_bid: get("final_best_bid")?,
        final_best_ask: get("final_best_ask")?,
    })
}

/// Reads the operations file into sequenced commands (sequence numbers 1, 2, ... in file order; a cancel names
/// the order id the engine gave the add it cancels).
pub fn read_ops(path: &Path, instrument: InstrumentId) -> anyhow::Result<Vec<Sequenced>> {
    let mut rows = Rows::open(path)?;
    let mut ops = Vec::new();
    let mut engine_ids: BTreeMap<u64, OrderId> = BTreeMap::new();
    while let Some(row) = rows.next_row() {
        let (line, row) = row?;
        if ops.len() >= OPS_MAX {
            bail!("{}: more than {OPS_MAX} operations", path.display());
        }
        let seq = ops.len() as u64 + 1;
        let command = command(&row, seq, instrument, &mut engine_ids)
            .with_context(|| format!("{}:{line}: {row:?}", path.display()))?;
        ops.push(Sequenced {
            seq,
            ts_ns: 0,
            command,
        });
    }
    Ok(ops)
}

fn command(
    row: &Row,
    seq: u64,
    instrument: InstrumentId,
    engine_ids: &mut BTreeMap<u64, OrderId>,
) -> anyhow::Result<Command> {
    let order_id = row.order_id;
    let new = |account, kind, tif| NewOrder {
        instrument,
        account,
        session: SessionId(1),
        side: match row.side {
            corpus::Side::Buy => Side::Buy,
            corpus::Side::Sell => Side::Sell,
        },
        kind,
        qty_lots: row.qty,
        tif,
        post_only: false,
        display_lots: 0,
    };
    match row.op {
        Op::Add | Op::Market => {
            if engine_ids.insert(order_id, OrderId(seq)).is_some() {
                bail!("order_id {order_id} used twice");
            }
            Ok(Command::New(if row.op == Op::Add {
                new(
                    MAKER_ACCOUNT,
                    OrderKind::Limit {
                        price_ticks: row.price,
                    },
                    TimeInForce::Gtc,
                )
            } else {
                new(TAKER_ACCOUNT, OrderKind::Market, TimeInForce::Ioc)
            }))
        }
        Op::Cancel => {
            let target = engine_ids
                .get(&order_id)
                .ok_or_else(|| anyhow!("cancel of unknown order_id {order_id}"))?;
            Ok(Command::Cancel {
                order_id: *target,
                account: MAKER_ACCOUNT,
            })
        }
    }
}

/// A fresh engine on the bundled configuration.
pub fn bench_engine() -> anyhow::Result<(Engine, InstrumentId)> {
    let resolved = VenueConfig::bundled().resolve()?;
    let engine = Engine::new(resolved.engine)?;
    let instrument = engine
        .instrument_id(BENCH_SYMBOL)
        .ok_or_else(|| anyhow!("{BENCH_SYMBOL} not configured"))?;
    Ok((engine, instrument))
}

/// One timed pass over every command; returns the elapsed time and what it produced.
fn timed_pass(ops: &[Sequenced]) -> anyhow::Result<(Duration, Option<u64>, Outcome)> {
    let (mut engine, instrument) = bench_engine()?;
    let mut events = Vec::with_capacity(1_024);
    let mut outcome = Outcome::default();
    let cpu_start_ns = thread_cpu_ns();
    let start = Instant::now();
    for op in ops {
        events.clear();
        engine.apply(op, &mut events);
        outcome.count(&events);
    }
    let elapsed = start.elapsed();
    let cpu_ns = cpu_start_ns
        .zip(thread_cpu_ns())
        .map(|(start_ns, end_ns)| end_ns.saturating_sub(start_ns));
    engine.audit();
    outcome.finish(&engine, instrument);
    Ok((elapsed, cpu_ns, outcome))
}

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`), if the system says. On a
/// shared machine it tells the engine's own cost apart from time spent waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// One pass that times every command on its own, into a histogram of nanoseconds.
fn latency_pass(ops: &[Sequenced]) -> anyhow::Result<Histogram<u64>> {
    let (mut engine, _) = bench_engine()?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut events = Vec::with_capacity(1_024);
    for op in ops {
        events.clear();
        let start = Instant::now();
        engine.apply(op, &mut events);
        let elapsed_ns = start.elapsed().as_nanos() as u64;
        histogram.record(elapsed_ns.max(1))?;
    }
    Ok(histogram)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// `fixvenue bench engine`.
pub fn run(
    ops_path: &Path,
    expected_path: Option<&Path>,
    journal: Option<&Path>,
    runs: u32,
) -> anyhow::Result<()> {
    let expected_path: PathBuf =
        expected_path.map_or_else(|| ops_path.with_extension("expected"), Path::to_path_buf);
    if let Some(dir) = journal {
        check_journal_dir(dir)?;
    }
    let (_, instrument) = bench_engine()?;
    let ops = read_ops(ops_path, instrument)?;
    let expected = read_expected(&expected_path)?;
    let mut times = Vec::new();
    for run in 0..runs {
        let (elapsed, cpu_ns, outcome) = timed_pass(&ops)?;
        outcome
            .check(&expected)
            .with_context(|| format!("pure engine run {}", run + 1))?;
        let per_op = |ns: f64| ns / ops.len() as f64;
        let on_cpu = cpu_ns.map_or(String::new(), |ns| {
            format!(", {:.1} ns/op on CPU", per_op(ns as f64))
        });
        eprintln!(
            "run {}: {:.1} ns/op{on_cpu}",
            run + 1,
            per_op(elapsed.as_nanos() as f64)
        );
        times.push(elapsed);
    }
    let histogram = latency_pass(&ops)?;
    let ns_per_op = median(times).as_nanos() as f64 / ops.len() as f64;
    let mut line = format!(
        "RESULT suite=book peer=fixvenue ns_per_op={:.1} ops_per_s={:.0} p50_ns={} p99_ns={} p999_ns={}",
        ns_per_op,
        1e9 / ns_per_op,
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
    );
    if let Some(dir) = journal {
        let durable = durable_run(dir, &ops, &expected)?;
        line.push_str(&format!(
            " durable_cmds_per_s={:.0} replay_ms={:.0}",
            durable.cmds_per_s, durable.replay_ms
        ));
    }
    println!("{line}");
    Ok(())
}

/// The durable run writes a fresh journal: it never appends to, or deletes, an existing one.
fn check_journal_dir(dir: &Path) -> anyhow::Result<()> {
    let is_empty = |dir: &Path| std::fs::read_dir(dir).map(|mut entries| entries.next().is_none());
    if dir.exists() && !is_empty(dir).with_context(|| format!("reading {}", dir.display()))? {
        bail!(
            "--journal {}: the directory must be empty or absent",
            dir.display()
        );
    }
    Ok(())
}

/// The figures of the durable run.
#[derive(Clone, Copy, Debug)]
pub struct Durable {
    pub cmds_per_s: f64,
    pub replay_ms: f64,
}

/// Commands per submission in the durable run (a gateway hands over what one socket read decoded).
const DURABLE_SUBMISSION_COMMANDS: usize = 1_024;

/// Runs every command through the sequencer into a fresh journal in `dir`, counting only what it releases (after
/// fdatasync), then replays the journal into a fresh engine and checks that it rebuilds the same book.
pub fn durable_run(dir: &Path, ops: &[Sequenced], expected: &Expected) -> anyhow::Result<Durable> {
    check_journal_dir(dir)?;
    let (engine, instrument) = bench_engine()?;
    let (journal, _) = Journal::open(dir, JournalOptions::default(), |_, _| {})?;
    let (sequencer, released) =
        Sequencer::start(engine, journal, SequencerConfig::default(), system_clock())?;
    let start = Instant::now();
    let reader = std::thread::spawn(move || {
        let mut outcome = Outcome::default();
        let mut released_commands = 0usize;
        for batch in released {
            outcome.count(&batch.events);
            released_commands += batch.commands.len();
        }
        (outcome, released_commands, start.elapsed())
    });
    for chunk in ops.chunks(DURABLE_SUBMISSION_COMMANDS) {
        // Empty origins: the gateway's context per command is not measured here.
        sequencer.submit(
            chunk
                .iter()
                .map(|op| Submission::bare(op.command))
                .collect(),
        )?;
    }
    let (live, _) = sequencer.finish()?;
    let (mut outcome, released_commands, elapsed) = reader
        .join()
        .map_err(|_| anyhow!("the release reader panicked"))?;
    if released_commands != ops.len() {
        bail!("released {released_commands} commands of {}", ops.len());
    }
    outcome.finish(&live, instrument);
    outcome.check(expected).context("durable run")?;
    let replay_ms = replay(dir, &live, instrument, expected)?;
    Ok(Durable {
        cmds_per_s: ops.len() as f64 / elapsed.as_secs_f64(),
        replay_ms,
    })
}

/// Times a start-up replay of the journal and checks that it rebuilds exactly the live engine's books.
fn replay(
    dir: &Path,
    live: &Engine,
    instrument: InstrumentId,
    expected: &Expected,
) -> anyhow::Result<f64> {
    let (engine, _) = bench_engine()?;
    let start = Instant::now();
    let (replayed, _, recovery) = recover(dir, JournalOptions::default(), engine, |_, _, _| {})?;
    let replay_ms = start.elapsed().as_secs_f64() * 1e3;
    eprintln!("replayed {} records in {replay_ms:.0} ms", recovery.records);
    if replayed.state_hash() != live.state_hash() {
        bail!("MISMATCH: the replayed book differs from the live book");
    }
    let mut outcome = Outcome {
        fills: expected.fills,
        filled_qty: expected.filled_qty,
        ..Outcome::default()
    };
    outcome.finish(&replayed, instrument);
    outcome.check(expected).context("replayed book")?;
    Ok(replay_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops_from(text: &str) -> anyhow::Result<Vec<Sequenced>> {
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), text)?;
        read_ops(file.path(), InstrumentId(0))
    }

    #[test]
    fn cancels_name_the_engine_id_of_the_add() {
        let ops = ops_from("op,order_id,side,price,qty\nA,7,B,100,5\nM,8,S,0,2\nC,7,B,0,0\n")
            .expect("valid");
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[2].command,
            Command::Cancel {
                order_id: OrderId(1),
                account: MAKER_ACCOUNT
            }
        );
    }

    #[test]
    fn bad_input_is_refused_with_its_line() {
        for (text, message) in [
            ("op,id\n", "header must be"),
            (
                "op,order_id,side,price,qty\nX,1,B,100,5\n",
                ":2: \"X,1,B,100,5\"",
            ),
            ("op,order_id,side,price,qty\nA,1,Q,100,5\n", "side"),
            ("op,order_id,side,price,qty\nA,1,B,1x0,5\n", "price"),
            (
                "op,order_id,side,price,qty\nC,4,B,0,0\n",
                "unknown order_id 4",
            ),
            (
                "op,order_id,side,price,qty\nA,1,B,100,5\nA,1,B,100,5\n",
                "used twice",
            ),
            ("op,order_id,side,price,qty\nA,1,B,100\n", "5 fields"),
        ] {
            let error = format!("{:#}", ops_from(text).expect_err(text));
            assert!(error.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_wrong_result_is_a_loud_mismatch() {
        let expected = Expected {
            fills: 1,
            filled_qty: 2,
            final_resting_orders: 3,
            final_best_bid: 4,
            final_best_ask: 5,
        };
        let outcome = Outcome {
            fills: 1,
            filled_qty: 2,
            final_resting_orders: 3,
            final_best_bid: 4,
            final_best_ask: 6,
            rejects: 0,
        };
        let error = outcome.check(&expected).expect_err("differs").to_string();
        assert!(
            error.contains("MISMATCH") && error.contains("final_best_ask: got 6, expected 5"),
            "{error}"
        );
        assert!(
            Outcome {
                final_best_ask: 5,
                ..outcome
            }
            .check(&expected)
            .is_ok()
        );
    }
}
