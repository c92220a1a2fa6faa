//! `fixvenue-bench verify`: how fast `fixvenue verify` checks a data dir (CRCs and hash chains of both logs). The
//! data dir is written once through the logs' own append API (journal: cancel commands with a 48-byte origin, like
//! the gateway's; session log: 220-byte outgoing messages), then checked `runs` times; the median records per
//! second is reported. Also reports the cost of one chain link (SHA-256 of the previous hash and a body) at both
//! logs' record sizes: what the hash chain adds to each append on the commit path.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};

use engine::{AccountId, Command, OrderId, Sequenced};
use journal::journal::{Journal, JournalOptions};
use journal::session_log::{Message, Record, SessionLog, SessionLogOptions};
use journal::wal;

/// Records appended between two commits while generating.
const COMMIT_RECORDS: u64 = 1_000;
/// Chain links timed for the per-link cost.
const LINKS_TIMED: u32 = 1_000_000;
/// Bytes of a generated session log message (a typical ExecutionReport).
const MESSAGE_BYTES: usize = 220;
const ORIGIN_BYTES: usize = 48;

/// Writes `records` records to each log under `data_dir` (which must not hold logs yet).
fn generate(data_dir: &Path, records: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut journal, recovery) = Journal::open(
        &data_dir.join("journal"),
        JournalOptions::default(),
        |_, _| {},
    )?;
    ensure!(
        recovery.records == 0,
        "{} already holds a journal",
        data_dir.display()
    );
    let origin = [7u8; ORIGIN_BYTES];
    for seq in 1..=records {
        let record = Sequenced {
            seq,
            ts_ns: 1_764_460_800_000_000_000 + seq as i64 * 1_000,
            command: Command::Cancel {
                order_id: OrderId(seq),
                account: AccountId(1),
            },
        };
        journal.append(&record, &origin)?;
        if seq % COMMIT_RECORDS == 0 {
            journal.commit()?;
        }
    }
    journal.commit()?;
    let (mut log, _) = SessionLog::open(
        &data_dir.join("sessionlog"),
        SessionLogOptions::default(),
        |_, _| {},
    )?;
    let mut message = Message {
        session_id: "FIX.4.4:FIXVENUE->BENCH1".into(),
        msg_seq_num: 1,
        ts_ns: 0,
        bytes: vec![b'x'; MESSAGE_BYTES],
    };
    for n in 1..=records {
        message.msg_seq_num = n;
        message.ts_ns = 1_764_460_800_000_000_000 + n as i64 * 1_000;
        log.append(&Record::Outgoing(message.clone()))?;
        if n % COMMIT_RECORDS == 0 {
            log.commit()?;
        }
    }
    log.commit()?;
    eprintln!(
        "generated {} records in {:.1} s",
        2 * records,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Nanoseconds one chain link takes for a body of `bytes` bytes (median of 5 runs of [`LINKS_TIMED`]).
fn link_ns(bytes: usize) -> f64 {
    let body = vec![0x5au8; bytes];
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let mut hash = wal::genesis("bench");
            let started = Instant::now();
            for _ in 0..LINKS_TIMED {
                hash = wal::chain_hash(std::hint::black_box(&hash), &body);
            }
            std::hint::black_box(hash);
            started.elapsed().as_nanos() as f64 / f64::from(LINKS_TIMED)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Generates the data dir if it holds no logs, then checks it `runs` times.
pub fn run(data_dir: &Path, records: u64, runs: u32) -> anyhow::Result<()> {
    if !data_dir.join("journal").exists() {
        generate(data_dir, records)?;
    }
    let mut rates = Vec::new();
    let mut checked = 0;
    for run in 1..=runs {
        let started = Instant::now();
        let report = fixvenue::verify::verify(data_dir, None, None)
            .with_context(|| format!("verifying {}", data_dir.display()))?;
        let seconds = started.elapsed().as_secs_f64();
        if !report.is_clean() {
            bail!("{}", fixvenue::verify::render(&report));
        }
        checked = report.logs.iter().map(|log| log.records).sum::<u64>();
        let rate = checked as f64 / seconds;
        eprintln!("run {run}: {checked} records in {seconds:.3} s: {rate:.0} records/s");
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let journal_body = 1 + 12 + ORIGIN_BYTES;
    let session_body = 3 + 24 + 8 + 8 + 4 + MESSAGE_BYTES;
    println!(
        "RESULT verify records={checked} runs={runs} records_per_s_median={:.0} records_per_s_min={:.0} \
         link_ns_journal_{journal_body}B={:.0} link_ns_sessionlog_{session_body}B={:.0}",
        rates[rates.len() / 2],
        rates[0],
        link_ns(journal_body),
        link_ns(session_body),
    );
    Ok(())
}
