//! Determinism and crash safety of the sequenced engine.
//!
//! - Determinism: a mixed workload (every order type, TIF, STP, status change, time, mass cancel, pre-funded and
//!   credit accounts) runs through the sequencer into a journal; replaying the journal twice yields event bytes
//!   identical to what was released, each command with the origin it was submitted with and the events it
//!   produced, and the same book hash.
//! - Crash: a child process runs the sequencer and prints the last sequence number of every batch it releases; the
//!   parent kills it with SIGKILL at a moment it does not choose, and the recovered journal must hold every command
//!   up to the last one released, with its origin, exactly as generated.
//! - Submission: sequence numbers follow submission order from `last_seq_at_start`, `submit` returns the ones it
//!   gave, a refused submission (oversize origin) takes none, and two submitters on two threads are each told the
//!   numbers their own commands got.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use engine::{
    AccountId, AccountProfile, Asset, Command, Engine, EngineConfig, Event, Expiry, Funding,
    InstrumentId, InstrumentSpec, MassCancelScope, NewOrder, OrderId, OrderKind, Replace,
    Sequenced, SessionId, Side, StpMode, TimeInForce, TradingStatus,
};
use journal::journal::{Journal, JournalOptions, SEGMENT_BYTES_MIN};
use journal::sequencer::{
    Clock, ORIGIN_BYTES_MAX, Sequencer, SequencerConfig, Submission, SubmitError, recover,
};
use rust_decimal::Decimal;

const SMALL_SEGMENTS: JournalOptions = JournalOptions {
    segment_bytes: SEGMENT_BYTES_MIN,
};
const MINUTE_NS: i64 = 60_000_000_000;

fn spec(symbol: &str, reference_ticks: i64) -> InstrumentSpec {
    InstrumentSpec {
        symbol: symbol.into(),
        currency: 0,
        tick_size: Decimal::new(1, 2),
        lot_size: Decimal::ONE,
        min_qty_lots: 1,
        max_qty_lots: 10_000,
        max_notional_cash: i64::MAX,
        cash_per_tick_lot: 100,
        collar_bp: 2_000,
        reference_ticks,
        close_ns: 16 * 60 * MINUTE_NS,
        status: TradingStatus::Open,
    }
}

fn engine() -> Engine {
    let credit = |stp_mode| AccountProfile {
        funding: Funding::Credit {
            limit_cash: i64::MAX / 4,
        },
        max_open_orders: 100_000,
        stp_mode,
        stp_group: None,
    };
    let mut accounts = BTreeMap::new();
    accounts.insert(AccountId(2), credit(StpMode::CancelResting));
    accounts.insert(AccountId(3), credit(StpMode::CancelBoth));
    let balances = vec![
        (Asset::Cash(0), 1_000_000_000_000),
        (Asset::Instrument(InstrumentId(0)), 1_000_000),
    ];
    accounts.insert(
        AccountId(4),
        AccountProfile {
            funding: Funding::Prefunded { balances },
            max_open_orders: 100_000,
            stp_mode: StpMode::CancelIncoming,
            stp_group: None,
        },
    );
    let config = EngineConfig {
        instruments: vec![spec("ZVZZT", 10_000), spec("ZXZZT", 5_000)],
        accounts,
        default_account: credit(StpMode::CancelIncoming),
    };
    Engine::new(config).expect("valid config")
}

/// A small deterministic generator (xorshift), so that the workload is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn new_order(rng: &mut Rng, next_seq: u64) -> NewOrder {
    let instrument = InstrumentId(rng.below(2) as u32);
    let mid_ticks = if instrument.0 == 0 { 10_000 } else { 5_000 };
    let price_ticks = mid_ticks - 10 + rng.below(21) as i64;
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let kind = match rng.below(20) {
        0 => OrderKind::Market,
        1 => OrderKind::Stop {
            stop_ticks: price_ticks,
        },
        2 => OrderKind::StopLimit {
            stop_ticks: price_ticks,
            price_ticks,
        },
        _ => OrderKind::Limit { price_ticks },
    };
    let tif = match rng.below(10) {
        0 => TimeInForce::Ioc,
        1 => TimeInForce::Fok,
        2 => TimeInForce::Day,
        3 => TimeInForce::Gtd(Expiry::AtNs(
            next_seq as i64 * MINUTE_NS / 100 + 30 * MINUTE_NS,
        )),
        _ => TimeInForce::Gtc,
    };
    let qty_lots = 1 + rng.below(50) as i64;
    let limit_resting = matches!(kind, OrderKind::Limit { .. })
        && !matches!(tif, TimeInForce::Ioc | TimeInForce::Fok);
    NewOrder {
        instrument,
        account: AccountId(1 + rng.below(6) as u32),
        session: SessionId(1 + rng.below(3) as u32),
        side,
        kind,
        qty_lots,
        tif,
        post_only: limit_resting && rng.below(10) == 0,
        display_lots: if limit_resting && rng.below(8) == 0 {
            1 + rng.below(qty_lots as u64) as i64
        } else {
            0
        },
    }
}

/// The `n`-th command of the mixed workload (1-based, equal to its sequence number in a fresh journal).
fn mixed_command(rng: &mut Rng, n: u64) -> Command {
    let target = OrderId(1 + rng.below(n.max(1)));
    match rng.below(100) {
        0..=59 => Command::New(new_order(rng, n)),
        60..=74 => Command::Cancel {
            order_id: target,
            account: AccountId(1 + rng.below(6) as u32),
        },
        75..=89 => Command::Replace(Replace {
            order_id: target,
            account: AccountId(1 + rng.below(6) as u32),
            price_ticks: (rng.below(2) == 0).then(|| 10_000 - 5 + rng.below(11) as i64),
            qty_lots: 1 + rng.below(60) as i64,
        }),
        90..=95 => Command::Time { now_ns: 0 },
        96 => {
            let session = SessionId(1 + rng.below(3) as u32);
            Command::MassCancel(if rng.below(2) == 0 {
                MassCancelScope::Session(session)
            } else {
                MassCancelScope::SessionInstrument(session, InstrumentId(rng.below(2) as u32))
            })
        }
        97 => Command::SetStatus {
            instrument: InstrumentId(1),
            status: TradingStatus::Halted,
        },
        98 => Command::SetStatus {
            instrument: InstrumentId(1),
            status: TradingStatus::Open,
        },
        _ => Command::SetStatus {
            instrument: InstrumentId(0),
            status: TradingStatus::PostOnly,
        },
    }
}

/// A clock that advances one minute per reading, from day 20000 at 09:00: the workload crosses closes.
fn stepping_clock() -> Clock {
    let mut now_ns = 20_000 * 24 * 60 * MINUTE_NS + 9 * 60 * MINUTE_NS;
    Box::new(move || {
        now_ns += MINUTE_NS / 100;
        now_ns
    })
}

/// Every event in its text form, then every field of it (`Debug`: the order states the text leaves out).
fn event_bytes(events: &[Event], out: &mut Vec<u8>) {
    for event in events {
        writeln!(out, "{event} {event:?}").expect("writing to a vector");
    }
}

/// The origin the tests submit with the `n`-th command: different lengths (empty included) and contents.
fn origin(n: u64) -> Vec<u8> {
    format!("session={} clordid={n}", n % 7)
        .into_bytes()
        .into_iter()
        .cycle()
        .take((n % 61) as usize)
        .collect()
}

/// One command as the tests compare it: sequence number, origin, and its events as text.
type Trace = (u64, Vec<u8>, Vec<u8>);

/// Replays the journal into a fresh engine through `recover`; returns the event bytes, the book hash, the record
/// count and each record's trace.
fn replay(dir: &Path) -> (Vec<u8>, u64, u64, Vec<Trace>) {
    let mut engine = engine();
    engine.set_audit_interval(1_000);
    let (mut bytes, mut traces) = (Vec::new(), Vec::new());
    let (engine, _, recovery) = recover(dir, SMALL_SEGMENTS, engine, |record, origin, events| {
        event_bytes(events, &mut bytes);
        let mut own = Vec::new();
        event_bytes(events, &mut own);
        traces.push((record.seq, origin.to_vec(), own));
    })
    .expect("journal opens");
    (bytes, engine.state_hash(), recovery.records, traces)
}

#[test]
fn replaying_a_journal_gives_identical_events_and_books() {
    const COMMANDS: u64 = 60_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) = Journal::open(dir.path(), SMALL_SEGMENTS, |_, _| {}).expect("journal opens");
    let config = SequencerConfig {
        batch_commands_max: 512,
        ..SequencerConfig::default()
    };
    let (sequencer, released) =
        Sequencer::start(engine(), journal, config, stepping_clock()).expect("starts");
    let reader = std::thread::spawn(move || {
        let (mut bytes, mut traces) = (Vec::new(), Vec::new());
        for batch in released {
            event_bytes(&batch.events, &mut bytes);
            for (index, command) in batch.commands.iter().enumerate() {
                let mut own = Vec::new();
                event_bytes(batch.events_of(index), &mut own);
                traces.push((command.seq, batch.origin_of(index).to_vec(), own));
            }
        }
        (bytes, traces)
    });
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut submission = Vec::new();
    for n in 1..=COMMANDS {
        submission.push(Submission {
            command: mixed_command(&mut rng, n),
            origin: origin(n),
        });
        if submission.len() > n as usize % 97 {
            sequencer
                .submit(std::mem::take(&mut submission))
                .expect("submits");
        }
    }
    sequencer.submit(submission).expect("submits");
    let (live, _) = sequencer.finish().expect("sequencer stops cleanly");
    let (released_bytes, released_traces) = reader.join().expect("reader");
    let text = String::from_utf8_lossy(&released_bytes);
    for kind in [
        "trade ",
        "replenished",
        "triggered",
        "expired",
        "stp-",
        "mass-cancel",
        "balance",
        "rejected",
    ] {
        assert!(text.contains(kind), "the workload never produced {kind:?}");
    }
    let (first, first_hash, records, traces) = replay(dir.path());
    let (second, second_hash, _, _) = replay(dir.path());
    assert_eq!(records, COMMANDS);
    assert!(
        first == released_bytes,
        "replay events differ from the released events"
    );
    assert_eq!(traces.len(), released_traces.len());
    for (n, (replayed, released)) in (1..).zip(traces.iter().zip(&released_traces)) {
        assert_eq!(replayed.0, n, "records replay in order");
        assert_eq!(replayed.1, origin(n), "record {n}: origin");
        assert!(
            replayed == released,
            "record {n}: replay differs from release"
        );
    }
    assert!(first == second, "two replays differ");
    assert_eq!(
        (first_hash, second_hash),
        (live.state_hash(), live.state_hash())
    );
}

/// The crash child's workload: simple enough to regenerate from the sequence number alone.
fn crash_command(seq: u64) -> Command {
    let side = if seq % 2 == 0 { Side::Buy } else { Side::Sell };
    Command::New(NewOrder {
        instrument: InstrumentId(0),
        account: AccountId(1 + (seq % 5) as u32),
        session: SessionId(1),
        side,
        kind: OrderKind::Limit {
            price_ticks: 10_000 - 20 + (seq % 41) as i64,
        },
        qty_lots: 1 + (seq % 13) as i64,
        tif: TimeInForce::Gtc,
        post_only: false,
        display_lots: 0,
    })
}

const CRASH_DIR_ENV: &str = "FIXVENUE_CRASH_CHILD_DIR";
/// The child stops by itself after this long if nobody kills it.
const CRASH_CHILD_SECONDS_MAX: u64 = 60;

/// Runs only as the crash child (when the parent sets the environment variable); a no-op in a normal test run.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let (journal, _) =
        Journal::open(Path::new(&dir), SMALL_SEGMENTS, |_, _| {}).expect("journal opens");
    let config = SequencerConfig {
        batch_commands_max: 256,
        ..SequencerConfig::default()
    };
    let (sequencer, released) = Sequencer::start(
        engine(),
        journal,
        config,
        journal::sequencer::system_clock(),
    )
    .expect("starts");
    std::thread::spawn(move || {
        let mut stdout = std::io::stdout().lock();
        for batch in released {
            let last_seq = batch.commands.last().expect("batches are not empty").seq;
            writeln!(stdout, "released {last_seq}").expect("stdout");
            stdout.flush().expect("stdout");
        }
    });
    let started = Instant::now();
    let mut seq = 0;
    while started.elapsed() < Duration::from_secs(CRASH_CHILD_SECONDS_MAX) {
        let submission = (seq + 1..=seq + 100)
            .map(|n| Submission {
                command: crash_command(n),
                origin: origin(n),
            })
            .collect();
        seq += 100;
        sequencer.submit(submission).expect("submits");
    }
}

#[test]
fn a_killed_sequencer_loses_nothing_it_released() {
    for (round, releases_before_kill) in [1u64, 7, 40, 150].into_iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Process::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns the child");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut last_released = 0u64;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("reads the child");
            if let Some(seq) = line.strip_prefix("released ") {
                last_released = seq.parse().expect("a sequence number");
                seen += 1;
                if seen == releases_before_kill {
                    break;
                }
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaps the child");
        assert!(
            last_released > 0,
            "round {round}: the child released nothing"
        );
        let mut recovered = Vec::new();
        let (_, recovery) = Journal::open(dir.path(), SMALL_SEGMENTS, |record, origin| {
            recovered.push((record.command, origin.to_vec()))
        })
        .unwrap_or_else(|error| panic!("round {round}: recovery failed: {error}"));
        assert!(
            recovery.last_seq >= last_released,
            "round {round}: released up to {last_released} but recovered only {}",
            recovery.last_seq
        );
        for (n, recovered) in (1..).zip(&recovered) {
            assert_eq!(
                *recovered,
                (crash_command(n), origin(n)),
                "round {round}: record {n} differs",
            );
        }
    }
}

/// The records handed to replay are exactly what the sequencer stamped (sequence numbers and times).
#[test]
fn journal_holds_what_was_sequenced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) = Journal::open(dir.path(), SMALL_SEGMENTS, |_, _| {}).expect("journal opens");
    let (sequencer, released) = Sequencer::start(
        engine(),
        journal,
        SequencerConfig::default(),
        stepping_clock(),
    )
    .expect("starts");
    let mut rng = Rng(7);
    sequencer
        .submit(
            (1..=500)
                .map(|n| Submission::bare(mixed_command(&mut rng, n)))
                .collect(),
        )
        .expect("submits");
    sequencer.finish().expect("stops");
    let released: Vec<Sequenced> = released.iter().flat_map(|batch| batch.commands).collect();
    let mut journaled = Vec::new();
    Journal::open(dir.path(), SMALL_SEGMENTS, |record, _| {
        journaled.push(*record)
    })
    .expect("reopens");
    assert_eq!(released.len(), 500);
    assert_eq!(journaled, released);
    assert!(
        released
            .windows(2)
            .all(|pair| pair[0].ts_ns < pair[1].ts_ns)
    );
}

/// Starts a sequencer on the journal in `dir` (replayed into a fresh engine).
fn restart(
    dir: &Path,
) -> (
    Sequencer,
    std::sync::mpsc::Receiver<journal::sequencer::Released>,
) {
    let (engine, journal, _) =
        recover(dir, SMALL_SEGMENTS, engine(), |_, _, _| {}).expect("recovers");
    Sequencer::start(
        engine,
        journal,
        SequencerConfig::default(),
        stepping_clock(),
    )
    .expect("starts")
}

/// The n-th command submitted after the start gets `last_seq_at_start() + n`, across submissions and restarts, and
/// `submit` says so; a refused submission takes no number.
#[test]
fn sequence_numbers_follow_submission_order_and_refusals_take_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(11);
    for round in 0..3u64 {
        let (sequencer, released) = restart(dir.path());
        assert_eq!(sequencer.last_seq_at_start(), round * 30);
        let mut predicted = sequencer.last_seq_at_start();
        for size in [1usize, 10, 19] {
            let mut submission: Vec<Submission> = (0..size)
                .map(|offset| {
                    let n = predicted + 1 + offset as u64;
                    Submission {
                        command: mixed_command(&mut rng, n),
                        origin: n.to_le_bytes().to_vec(),
                    }
                })
                .collect();
            // The same submission with one origin too long is refused whole, by both doors.
            let mut oversize = submission.clone();
            oversize[size / 2].origin = vec![0; ORIGIN_BYTES_MAX + 1];
            assert!(matches!(
                sequencer.try_submit(oversize.clone()),
                Err(SubmitError::OriginTooLarge { bytes }) if bytes == ORIGIN_BYTES_MAX + 1
            ));
            assert!(matches!(
                sequencer.submit(oversize),
                Err(SubmitError::OriginTooLarge { .. })
            ));
            submission[0].origin.resize(ORIGIN_BYTES_MAX, 0xee);
            let numbers = sequencer.submit(submission).expect("submits");
            assert_eq!(numbers, predicted + 1..predicted + 1 + size as u64);
            predicted += size as u64;
        }
        sequencer.finish().expect("stops");
        let mut expected_seq = round * 30;
        for batch in released {
            assert_eq!(batch.origins.len(), batch.commands.len());
            for (index, command) in batch.commands.iter().enumerate() {
                expected_seq += 1;
                let origin = batch.origin_of(index);
                assert_eq!(command.seq, expected_seq);
                assert_eq!(
                    origin[..8],
                    expected_seq.to_le_bytes(),
                    "seq {expected_seq}"
                );
            }
        }
        assert_eq!(expected_seq, predicted);
    }
    let mut origins = Vec::new();
    recover(dir.path(), SMALL_SEGMENTS, engine(), |record, origin, _| {
        origins.push((record.seq, origin.len()))
    })
    .expect("recovers");
    assert_eq!(origins.len(), 90);
    // The first command of each submission carried the largest origin; the others eight bytes.
    let largest: Vec<u64> = origins
        .iter()
        .filter(|(_, len)| *len == ORIGIN_BYTES_MAX)
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(largest, [1, 2, 12, 31, 32, 42, 61, 62, 72]);
}

/// Two submitters on two threads, their submissions interleaving however the threads run: each is told the numbers
/// its own commands got, and the released commands carry exactly those numbers (what the gateway relies on to name
/// OrderIDs when an admin or a drop copy submits beside it).
#[test]
fn every_submitter_learns_the_numbers_of_its_own_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sequencer, released) = restart(dir.path());
    let submitters = [sequencer.submitter(), sequencer.submitter()];
    let threads: Vec<_> = submitters
        .into_iter()
        .enumerate()
        .map(|(who, submitter)| {
            std::thread::spawn(move || {
                let mut told = Vec::new();
                for round in 0..200u64 {
                    let size = 1 + (round as usize + who) % 3;
                    let submission = (0..size)
                        .map(|i| Submission {
                            command: Command::Time { now_ns: 0 },
                            origin: vec![who as u8, round as u8, i as u8],
                        })
                        .collect();
                    let numbers = submitter.submit(submission).expect("submits");
                    assert_eq!(numbers.end - numbers.start, size as u64);
                    told.extend(
                        numbers
                            .zip(0..)
                            .map(|(seq, i)| (seq, vec![who as u8, round as u8, i])),
                    );
                }
                told
            })
        })
        .collect();
    let mut told: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for thread in threads {
        for (seq, origin) in thread.join().expect("submitter thread") {
            assert!(told.insert(seq, origin).is_none(), "seq {seq} told twice");
        }
    }
    sequencer.finish().expect("stops");
    let mut seen = 0;
    for batch in released {
        for (index, command) in batch.commands.iter().enumerate() {
            assert_eq!(
                told.get(&command.seq).map(Vec::as_slice),
                Some(batch.origin_of(index)),
                "seq {}",
                command.seq
            );
            seen += 1;
        }
    }
    assert_eq!(seen, told.len());
    assert_eq!(
        told.keys().copied().collect::<Vec<_>>(),
        (1..=seen as u64).collect::<Vec<_>>()
    );
}
