//! `fixvenue verify` and `fixvenue seal`, run as the real binary on the data dir of a real venue that traded: clean
//! while it runs and after it stopped; then, on copies of the data dir, a flipped byte, a removed record and two
//! swapped records (rewritten with valid CRCs, as a careful forger would) are each found with their position, in
//! the journal and in the session log; a forger who rewrites the whole chain passes the chain check and is caught
//! by a seal taken before. On the stopped venue the trade log and sled are checked against the logs too (skipped
//! while it runs: sled is locked), and an extra trade or a sled index past the session log is found.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fixvenue::runtime::start;
use journal::wal::{self, CHAIN_BREAK, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC};
use support::{TRADING_CLIENT1_CFG, connect, order, trading_client1};
use tokio::sync::watch;

/// Generous: the machine may be loaded; nothing here waits on a timer of the venue's.
const WAIT: Duration = Duration::from_secs(30);
const ORDERS: usize = 12;
/// Runs of verify while orders flow, and the least orders sent meanwhile.
const VERIFY_WHILE_WRITING: usize = 5;
const LIVE_ORDERS_MIN: usize = 50;

fn fixvenue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .args(args)
        .output()
        .expect("run fixvenue")
}

fn verify(data_dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let dir = data_dir.to_str().expect("UTF-8 path");
    let output = fixvenue(&[&["verify", "--data-dir", dir], extra].concat());
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

/// A copy of the data dir's two logs (sled is not needed to verify).
fn copy_logs(data_dir: &Path, to: &Path) -> PathBuf {
    let copy = to.join("copy");
    for log in ["journal", "sessionlog"] {
        std::fs::create_dir_all(copy.join(log)).unwrap();
        for entry in std::fs::read_dir(data_dir.join(log)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, copy.join(log).join(path.file_name().unwrap())).unwrap();
        }
    }
    copy
}

/// The one segment of `log` in `data_dir` (the test writes far less than a segment).
fn segment(data_dir: &Path, log: &str) -> PathBuf {
    let path = data_dir.join(log).join(format!("{log}-{:020}.seg", 1));
    assert!(path.is_file(), "{}", path.display());
    path
}

/// The frames of a segment: (offset, stored hash, body).
fn frames(bytes: &[u8]) -> Vec<(usize, wal::Hash, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while let Some(frame) = wal::read_frame(bytes, at, usize::MAX >> 1).expect("a clean segment") {
        out.push((at, *frame.hash, frame.body.to_vec()));
        at += frame.frame_bytes;
    }
    out
}

/// Rewrites the segment with the frames `edit` leaves, each with the hash it stores and a valid CRC.
fn forge(path: &Path, edit: impl FnOnce(&mut Vec<(usize, wal::Hash, Vec<u8>)>)) {
    let bytes = std::fs::read(path).unwrap();
    let mut records = frames(&bytes);
    edit(&mut records);
    let mut forged = SEGMENT_MAGIC.to_vec();
    for (_, hash, body) in &records {
        let crc = crc32c::crc32c_append(crc32c::crc32c(hash), body);
        forged.extend_from_slice(&(body.len() as u32).to_le_bytes());
        forged.extend_from_slice(&crc.to_le_bytes());
        forged.extend_from_slice(hash);
        forged.extend_from_slice(body);
    }
    forged.resize(bytes.len(), 0);
    std::fs::write(path, forged).unwrap();
}

/// The line verify prints for a finding.
fn finding(log: &str, offset: usize, record: usize, what: &str) -> String {
    format!(
        "FINDING {log} {log}-{:020}.seg byte offset {offset} record {record}: {what}",
        1
    )
}

/// The `last hash` verify printed for `log`.
fn last_hash(text: &str, log: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{log}: ")))
        .unwrap_or_else(|| panic!("no summary of {log}: {text}"));
    let hash = line.rsplit("last hash ").next().unwrap().to_string();
    assert_eq!(hash.len(), 64, "{line}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    hash
}

/// How many records verify checked in `log`.
fn records_checked(text: &str, log: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{log}: ")))
        .unwrap_or_else(|| panic!("no summary of {log}: {text}"));
    let count = line[log.len() + 2..].split(' ').next().unwrap();
    count.parse().unwrap_or_else(|_| panic!("{line}"))
}

/// The session configuration the test venue runs with (`trading_client1` writes it), for verify's replay.
fn sessions_cfg(data_dir: &Path) -> String {
    let cfg = data_dir.parent().unwrap().join("sessions.cfg");
    cfg.to_str().unwrap().to_string()
}

/// Trades through a real venue, checking `verify` while it runs; returns the stopped venue's data dir.
async fn trade(dir: &Path) -> PathBuf {
    let options = trading_client1(dir);
    // CLIENT2 too, to trade with CLIENT1 (a venue refuses a self-trade).
    let cfg = format!("{TRADING_CLIENT1_CFG}\n[SESSION]\nTargetCompID=CLIENT2\n");
    std::fs::write(&options.sessions[0], cfg).unwrap();
    let (shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let port = running.addrs[0].addr.port();
    let mut c = connect(port, 1).await;
    c.send("35=A|98=0|108=30|").await.unwrap();
    assert!(c.recv_or_eof(WAIT).await.unwrap().unwrap().is("35=A|34=1"));
    let mut c2 = testkit::Client::new("CLIENT2", "FIXVENUE");
    c2.connect(&testkit::Endpoint::local(port)).await.unwrap();
    c2.send("35=A|98=0|108=30|").await.unwrap();
    assert!(c2.recv_or_eof(WAIT).await.unwrap().unwrap().is("35=A|34=1"));
    for n in 0..ORDERS {
        c.send(&order(&format!("ORD{n}"))).await.unwrap();
        let ack = c.recv_or_eof(WAIT).await.unwrap().unwrap();
        assert!(ack.is("35=8|150=0"), "{ack}");
    }
    // verify, again and again, while both logs are being appended to: never a finding.
    let data_dir = options.data_dir.clone();
    let checking = tokio::task::spawn_blocking(move || {
        (0..VERIFY_WHILE_WRITING)
            .map(|_| verify(&data_dir, &["--logs-only"]))
            .collect::<Vec<_>>()
    });
    let mut n = 0;
    while !checking.is_finished() || n < LIVE_ORDERS_MIN {
        c.send(&order(&format!("LIVE{n}"))).await.unwrap();
        let ack = c.recv_or_eof(WAIT).await.unwrap().unwrap();
        assert!(ack.is("35=8|150=0"), "{ack}");
        n += 1;
    }
    for (code, text) in checking.await.unwrap() {
        assert_eq!(code, Some(0), "while writing: {text}");
    }
    // CLIENT2's sell meets three resting buys: trades for the trade log.
    let sell = order("SELL1")
        .replace("|54=1|", "|54=2|")
        .replace("|38=10|", "|38=30|");
    c2.send(&sell).await.unwrap();
    let ack = c2.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(ack.is("35=8|11=SELL1"), "{ack}");
    let fill = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(fill.is("35=8|150=F"), "{fill}");
    c2.send("35=5|").await.unwrap();
    while c2.recv_or_eof(WAIT).await.unwrap().is_some() {}
    // While the venue runs (sled locked, the logs open for appending): read-only, clean.
    let data_dir = options.data_dir.clone();
    let (code, text) = tokio::task::spawn_blocking(move || {
        let cfg = sessions_cfg(&data_dir);
        verify(&data_dir, &["--sessions", &cfg])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verify: clean"), "{text}");
    assert!(
        text.contains("store: skipped: sled is locked, most likely by the running venue"),
        "{text}"
    );
    c.send("35=5|").await.unwrap();
    while c.recv_or_eof(WAIT).await.unwrap().is_some() {}
    shutdown.send(true).unwrap();
    running.done.await.unwrap().unwrap();
    options.data_dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_a_real_venue_and_finds_each_edit_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = trade(dir.path()).await;
    let (code, text) = verify(&data_dir, &["--sessions", &sessions_cfg(&data_dir)]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verify: clean"), "{text}");
    let agree = text
        .lines()
        .find_map(|line| line.strip_prefix("store: trade log: "))
        .unwrap_or_else(|| panic!("{text}"));
    let trades: u64 = agree.split(' ').next().unwrap().parse().unwrap();
    assert!(trades > 0, "the sell traded: {text}");
    assert!(
        agree.contains(&format!(
            "agree with the journal's replay ({trades} replayed)"
        )),
        "{text}"
    );
    assert!(
        text.contains("sessions' numbers and stored messages compared"),
        "{text}"
    );
    let journal_hash = last_hash(&text, "journal");
    last_hash(&text, "sessionlog");
    // One journal record an order at least (the venue journals more commands of its own).
    let journaled = records_checked(&text, "journal");
    assert!(journaled >= ORDERS as u64, "{text}");
    assert!(
        text.contains(&format!(
            "journal: {journaled} records checked (1..={journaled})"
        )),
        "{text}"
    );

    for log in ["journal", "sessionlog"] {
        let original = std::fs::read(segment(&data_dir, log)).unwrap();
        let records = frames(&original);
        assert!(records.len() >= ORDERS, "{log}: {} records", records.len());

        // One flipped byte in the body of record 3: a CRC error there, and nothing else.
        let scratch = tempfile::tempdir().unwrap();
        let copy = copy_logs(&data_dir, scratch.path());
        let mut bytes = original.clone();
        let (offset, _, _) = records[2];
        bytes[offset + wal::FRAME_HEADER_BYTES + 5] ^= 0x20;
        std::fs::write(segment(&copy, log), &bytes).unwrap();
        let (code, text) = verify(&copy, &[]);
        assert_eq!(code, Some(1), "{text}");
        let expected = finding(log, offset, 3, "CRC mismatch");
        assert!(text.contains(&expected), "{log}: {text}");
        assert_eq!(text.matches("FINDING").count(), 1, "{text}");

        // Record 4 removed, every CRC valid: the chain breaks at the record now at 4.
        let scratch = tempfile::tempdir().unwrap();
        let copy = copy_logs(&data_dir, scratch.path());
        forge(&segment(&copy, log), |records| {
            records.remove(3);
        });
        let (code, text) = verify(&copy, &[]);
        assert_eq!(code, Some(1), "{text}");
        let expected = finding(log, records[3].0, 4, CHAIN_BREAK);
        assert!(text.contains(&expected), "{log}: {text}");

        // Records 5 and 6 swapped: breaks at 5, 6 and 7.
        let scratch = tempfile::tempdir().unwrap();
        let copy = copy_logs(&data_dir, scratch.path());
        forge(&segment(&copy, log), |records| records.swap(4, 5));
        let (code, text) = verify(&copy, &[]);
        assert_eq!(code, Some(1), "{text}");
        let first_at = records[4].0;
        let second_at = first_at + (records[6].0 - records[5].0);
        for (offset, record) in [(first_at, 5), (second_at, 6), (records[6].0, 7)] {
            let expected = finding(log, offset, record, CHAIN_BREAK);
            assert!(text.contains(&expected), "{log}: {expected}\n{text}");
        }
    }
    // The journal's summary still names the hash of the untouched dir.
    let (_, text) = verify(&data_dir, &[]);
    assert_eq!(last_hash(&text, "journal"), journal_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_rewritten_chain_passes_the_chain_check_and_fails_against_a_seal() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = trade(dir.path()).await;
    let seal_path = dir.path().join("seal.json");
    let data = data_dir.to_str().unwrap();
    let journaled = records_checked(&verify(&data_dir, &[]).1, "journal");
    let output = fixvenue(&[
        "seal",
        "--data-dir",
        data,
        "--out",
        seal_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let seal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seal_path).unwrap()).unwrap();
    assert_eq!(seal["logs"][0]["log"], "journal");
    assert_eq!(seal["logs"][0]["index"], journaled);
    let (code, text) = verify(&data_dir, &["--seal", seal_path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "seal: journal record {journaled} holds the sealed hash"
        )),
        "{text}"
    );
    // A seal of a day before the venue ran seals nothing: index 0, the genesis hash, which still holds.
    let output = fixvenue(&["seal", "--data-dir", data, "--date", "2000-01-01"]);
    let old: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(old["logs"][1]["index"], 0);
    assert_eq!(
        old["logs"][1]["hash"],
        hex::encode(wal::genesis("sessionlog"))
    );

    // The forger edits the journal's record 2 and recomputes every hash from the genesis: the chain is whole.
    let path = segment(&data_dir, "journal");
    let bytes = std::fs::read(&path).unwrap();
    let mut chain = wal::genesis("journal");
    let mut forged = SEGMENT_MAGIC.to_vec();
    for (n, (_, _, mut body)) in frames(&bytes).into_iter().enumerate() {
        if n == 1 {
            let last = body.len() - 1;
            body[last] ^= 1;
        }
        chain = wal::encode_frame(&chain, &body, &mut forged);
    }
    forged.resize(bytes.len(), 0);
    std::fs::write(&path, forged).unwrap();
    let (code, text) = verify(&data_dir, &["--logs-only"]);
    assert_eq!(code, Some(0), "the chains alone cannot tell: {text}");
    // Here the edit changed a traded order's ClOrdID: the trade log (in sled, outside the chain) disagrees.
    let (code, text) = verify(&data_dir, &["--sessions", &sessions_cfg(&data_dir)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FINDING store trade log: trade"), "{text}");
    let (code, text) = verify(&data_dir, &["--seal", seal_path.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "SEAL MISMATCH: journal: record {journaled} has hash"
        )),
        "{text}"
    );
}

#[test]
fn bad_input_gives_a_clear_message_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = verify(&dir.path().join("absent"), &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no such directory"), "{text}");
    let (code, text) = verify(dir.path(), &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("is not a venue data dir"), "{text}");
    std::fs::create_dir_all(dir.path().join("journal")).unwrap();
    std::fs::create_dir_all(dir.path().join("sessionlog")).unwrap();
    let seal = dir.path().join("seal.json");
    std::fs::write(&seal, "not json").unwrap();
    let (code, text) = verify(dir.path(), &["--seal", seal.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not a seal"), "{text}");
    let output = fixvenue(&[
        "seal",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--date",
        "30/11/2026",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a date (YYYY-MM-DD)"));
}

/// A copy of the whole data dir, sled included.
fn copy_all(data_dir: &Path, to: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let copy_dir = to.join("data");
    copy(data_dir, &copy_dir);
    copy_dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_the_journal_never_made_and_a_sled_index_past_the_log_are_found() {
    use journal::session_log::{Message, Record};
    use store::db::Db;
    use store::sessions::SessionStore;
    use store::trades::{TradeLog, TradeRecord, TradeSide};

    let dir = tempfile::tempdir().unwrap();
    let data_dir = trade(dir.path()).await;
    let cfg = sessions_cfg(&data_dir);

    let scratch = tempfile::tempdir().unwrap();
    let copy = copy_all(&data_dir, scratch.path());
    {
        let trades = TradeLog::open(&Db::open(&copy).unwrap()).unwrap();
        let side = |session: &str| TradeSide {
            order_id: 1,
            account: "ALPHA".into(),
            session: session.into(),
            cl_ord_id: "FORGED".into(),
            exec_id: "1000000000.1".into(),
        };
        trades
            .append(&[TradeRecord {
                match_seq: 1_000_000_000,
                match_n: 0,
                ts_ns: 1_700_000_000_000_000_000,
                symbol: "ZVZZT".into(),
                price: rust_decimal::Decimal::new(500, 2),
                qty: rust_decimal::Decimal::new(10, 0),
                currency: "USD".into(),
                aggressor: engine::Side::Buy,
                buy: side("FIX.4.4:FIXVENUE->CLIENT1"),
                sell: side("FIX.4.4:FIXVENUE->CLIENT1"),
            }])
            .unwrap();
        trades.flush().unwrap();
    }
    let (code, text) = verify(&copy, &["--sessions", &cfg]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "FINDING store trade log: trade log holds trades the journal does not, from trade 1000000000-0"
        ),
        "{text}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let copy = copy_all(&data_dir, scratch.path());
    {
        let store = SessionStore::open(&Db::open(&copy).unwrap()).unwrap();
        let next = store.indexed_through().unwrap() + 1;
        let forged = Record::Outgoing(Message {
            session_id: "FIX.4.4:FIXVENUE->CLIENT1".into(),
            msg_seq_num: 999,
            ts_ns: 1_700_000_000_000_000_000,
            bytes: b"8=FIX.4.4|forged".to_vec(),
        });
        store.index(next, &[forged]).unwrap();
        store.flush().unwrap();
    }
    let (code, text) = verify(&copy, &["--sessions", &cfg]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("but the session log ends at"), "{text}");
    assert!(
        text.contains("FINDING store sled: FIX.4.4:FIXVENUE->CLIENT1's stored messages differ"),
        "{text}"
    );
    // --logs-only leaves sled alone: the logs themselves are clean.
    let (code, text) = verify(&copy, &["--logs-only"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("store:"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_the_format_before_the_chain_is_refused_by_serve_and_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let options = trading_client1(dir.path());
    // A journal segment of format 1: no segment header, frames `len, crc, body` from offset 0.
    let journal = options.data_dir.join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let body = [2u8, 1, 2, 3];
    let mut old = (body.len() as u32).to_le_bytes().to_vec();
    old.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    old.extend_from_slice(&body);
    old.resize(1 << 22, 0);
    std::fs::write(journal.join(format!("journal-{:020}.seg", 1)), old).unwrap();
    let (_shutdown, rx) = watch::channel(false);
    let refused = match start(&options, rx).await {
        Ok(_) => panic!("a format 1 journal must be refused"),
        Err(error) => format!("{error:#} {error:?}"),
    };
    assert!(
        refused.contains("before the hash chain (format 1)"),
        "{refused}"
    );
    let (code, text) = verify(&options.data_dir, &["--logs-only"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FINDING journal journal-00000000000000000001.seg byte offset 0 record 1: no format 2 segment header"),
        "{text}"
    );
}
