//! `fixvenue bench logread`: the compliance queries' read path. A session log of N records (ExecutionReports of
//! about 250 bytes, spread over 16 sessions and 1,000 orders) is written with the session log's own writer into
//! a fresh directory, then timed: (1) the read-only reader alone (`SessionLogReader`: frames, CRCs, record
//! decoding), (2) `fixvenue log --order-id` (the reader plus the FIX decoder on every message and the filter).
//! Each is run `runs` times; the median is reported as records per second. Every run must see every record and
//! the filter its exact share, or the run fails.

use std::path::Path;
use std::time::Instant;

use anyhow::ensure;

use fixvenue::query::{self, LogFilter, LogFormat};
use journal::session_log::reader::SessionLogReader;
use journal::session_log::{Message, Record, SessionLog, SessionLogOptions};

/// Sessions the records are spread over.
const SESSIONS: u64 = 16;
/// Orders the ExecutionReports are about.
const ORDERS: u64 = 1_000;

/// A well-formed ExecutionReport with BodyLength and CheckSum.
fn report(order_id: u64, seq: u64) -> Vec<u8> {
    let body = format!(
        "35=8\u{1}49=FIXVENUE\u{1}56=CLIENT{s}\u{1}34={seq}\u{1}52=20261130-06:38:28.500\u{1}37={order_id}\u{1}\
         11=C-{order_id}\u{1}17={seq}.1\u{1}150=F\u{1}39=1\u{1}1=ACC{s}\u{1}55=ZVZZT\u{1}54=1\u{1}38=10\u{1}\
         44=50.25\u{1}32=4\u{1}31=50.25\u{1}14=4\u{1}151=6\u{1}6=50.25\u{1}60=20261130-06:38:28.500\u{1}",
        s = order_id % SESSIONS
    );
    let head = format!("8=FIX.4.4\u{1}9={}\u{1}{body}", body.len());
    let sum = head.bytes().map(u32::from).sum::<u32>() % 256;
    format!("{head}10={sum:03}\u{1}").into_bytes()
}

/// Writes `records` ExecutionReports into the session log under `data_dir`, committing every 1,000.
fn write(data_dir: &Path, records: u64) -> anyhow::Result<()> {
    let dir = fixvenue::indexer::session_log_dir(data_dir);
    let (mut log, _) = SessionLog::open(&dir, SessionLogOptions::default(), |_, _| {})?;
    for seq in 1..=records {
        let order_id = seq % ORDERS + 1;
        log.append(&Record::Outgoing(Message {
            session_id: format!("FIX.4.4:FIXVENUE->CLIENT{}", order_id % SESSIONS),
            msg_seq_num: seq,
            ts_ns: 1_764_484_708_500_000_000 + seq as i64,
            bytes: report(order_id, seq),
        }))?;
        if seq % 1_000 == 0 {
            log.commit()?;
        }
    }
    log.commit()?;
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn run(records: u64, runs: u32) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fixvenue-bench-logread-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir, records, runs);
    std::fs::remove_dir_all(&dir)?;
    result
}

fn measure(dir: &Path, records: u64, runs: u32) -> anyhow::Result<()> {
    write(dir, records)?;
    let log_dir = fixvenue::indexer::session_log_dir(dir);
    let mut reader_rates = Vec::new();
    let mut query_rates = Vec::new();
    let filter = LogFilter {
        order_id: Some("7".into()),
        ..LogFilter::default()
    };
    let expected = (1..=records).filter(|seq| seq % ORDERS + 1 == 7).count() as u64;
    for _ in 0..runs {
        let started = Instant::now();
        let mut seen = 0u64;
        for record in SessionLogReader::open(&log_dir)? {
            record?;
            seen += 1;
        }
        let reader_s = started.elapsed().as_secs_f64();
        ensure!(
            seen == records,
            "the reader saw {seen} of {records} records"
        );
        reader_rates.push(records as f64 / reader_s);

        let started = Instant::now();
        let matched = query::write_log(dir, &filter, LogFormat::Fix, false, &mut std::io::sink())?;
        let query_s = started.elapsed().as_secs_f64();
        ensure!(
            matched == expected,
            "--order-id 7 matched {matched}, expected {expected}"
        );
        query_rates.push(records as f64 / query_s);
    }
    println!(
        "RESULT logread records={records} runs={runs} reader_records_per_s_median={:.0} \
         log_order_id_filter_records_per_s_median={:.0}",
        median(reader_rates),
        median(query_rates)
    );
    Ok(())
}
