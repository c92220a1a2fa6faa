//! `fixvenue trades` and `fixvenue log` against a data dir written through the library, run as the real binary.

use std::path::Path;
use std::process::{Command, Output};

use engine::Side;
use journal::session_log::{Message, Record, SessionLog, SessionLogOptions};
use rust_decimal::Decimal;
use store::db::Db;
use store::sessions::{Direction, SessionStore};
use store::trades::{TradeLog, TradeRecord, TradeSide};

fn fixvenue(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run fixvenue")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn trade(match_seq: u64, match_n: u32, symbol: &str) -> TradeRecord {
    TradeRecord {
        match_seq,
        match_n,
        ts_ns: 1_700_000_000_000_000_000,
        symbol: symbol.into(),
        price: Decimal::new(10_125, 2),
        qty: Decimal::new(300, 0),
        currency: "USD".into(),
        aggressor: Side::Buy,
        buy: TradeSide {
            order_id: match_seq,
            account: "ALPHA".into(),
            session: "FIX.4.4:FIXVENUE->CLIENT1".into(),
            cl_ord_id: "B-1".into(),
        },
        sell: TradeSide {
            order_id: 2,
            account: "BETA, Ltd".into(),
            session: "FIX.4.4:FIXVENUE->CLIENT2".into(),
            cl_ord_id: "S-1".into(),
        },
    }
}

/// A message as the session log records it (the compliance log is indexed from there).
fn log_record(direction: Direction, session: &str, frame: &[u8]) -> Record {
    let message = Message {
        session_id: session.into(),
        msg_seq_num: 1,
        ts_ns: 1_700_000_000_000_042_000,
        bytes: frame.to_vec(),
    };
    match direction {
        Direction::In => Record::Incoming(message),
        Direction::Out => Record::Sent(message),
    }
}

/// Appends `records` to the session log of `data_dir` and commits them, as the venue's writer does.
fn write_session_log(data_dir: &Path, records: &[Record]) {
    let dir = fixvenue::query::session_log_dir(data_dir);
    let (mut log, _) = SessionLog::open(&dir, SessionLogOptions::default(), |_, _| {}).unwrap();
    for record in records {
        log.append(record).unwrap();
    }
    log.commit().unwrap();
}

/// A data dir holding three trades and three logged messages; the store is closed when this returns.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let store = SessionStore::open(&db).unwrap();
    let trades = TradeLog::open(&db).unwrap();
    trades
        .append(&[
            trade(5, 0, "ACME"),
            trade(5, 1, "ACME"),
            trade(9, 0, "INIT"),
        ])
        .unwrap();
    trades.flush().unwrap();
    write_session_log(
        dir.path(),
        &[
            log_record(Direction::In, "S1", b"8=FIX.4.4\x0135=A\x01"),
            log_record(Direction::Out, "S2", b"8=FIX.4.4\x0135=0\x01"),
            log_record(Direction::Out, "S1", b"8=FIX.4.4\x0135=A\x01"),
        ],
    );
    drop(store);
    dir
}

#[test]
fn trades_as_json_lines() {
    let dir = data_dir();
    let out = stdout(&fixvenue(&["trades", "--format", "json"], dir.path()));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        "{\"match_seq\":5,\"match_n\":0,\"time\":\"2023-11-14T22:13:20.000000000Z\",\"ts_ns\":1700000000000000000,\
         \"symbol\":\"ACME\",\"price\":\"101.25\",\"qty\":\"300\",\"currency\":\"USD\",\"aggressor\":\"buy\",\
         \"buy\":{\"order_id\":5,\"account\":\"ALPHA\",\"session\":\"FIX.4.4:FIXVENUE->CLIENT1\",\"cl_ord_id\":\"B-1\"},\
         \"sell\":{\"order_id\":2,\"account\":\"BETA, Ltd\",\"session\":\"FIX.4.4:FIXVENUE->CLIENT2\",\"cl_ord_id\":\"S-1\"}}"
    );
    assert!(lines[1].starts_with("{\"match_seq\":5,\"match_n\":1,"));
    assert!(lines[2].starts_with("{\"match_seq\":9,\"match_n\":0,"));
    let from = stdout(&fixvenue(&["trades", "--from-seq", "6"], dir.path()));
    assert_eq!(from.lines().count(), 1);
    assert!(from.contains("\"symbol\":\"INIT\""));
}

#[test]
fn trades_as_csv_with_a_header_and_a_symbol_filter() {
    let dir = data_dir();
    let out = stdout(&fixvenue(
        &["trades", "--format", "csv", "--symbol", "ACME"],
        dir.path(),
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], store::export::TRADES_CSV_HEADER);
    assert_eq!(
        lines[1],
        "5,0,2023-11-14T22:13:20.000000000Z,ACME,101.25,300,USD,buy,5,ALPHA,FIX.4.4:FIXVENUE->CLIENT1,B-1,\
         2,\"BETA, Ltd\",FIX.4.4:FIXVENUE->CLIENT2,S-1"
    );
    assert!(lines[2].starts_with("5,1,"));
    assert_eq!(lines.len(), 3, "{out}");
}

#[test]
fn log_as_fix_text_json_and_with_soh() {
    let dir = data_dir();
    let out = stdout(&fixvenue(&["log"], dir.path()));
    assert_eq!(
        out,
        "2023-11-14T22:13:20.000042000Z IN S1 1 8=FIX.4.4|35=A|\n\
         2023-11-14T22:13:20.000042000Z OUT S2 1 8=FIX.4.4|35=0|\n\
         2023-11-14T22:13:20.000042000Z OUT S1 1 8=FIX.4.4|35=A|\n"
    );
    let out = fixvenue(&["log", "--session", "S2", "--soh"], dir.path());
    assert_eq!(
        stdout(&out),
        "2023-11-14T22:13:20.000042000Z OUT S2 1 8=FIX.4.4\x0135=0\x01\n"
    );
    let out = stdout(&fixvenue(
        &["log", "--format", "json", "--session", "S1"],
        dir.path(),
    ));
    assert_eq!(out.lines().count(), 2);
    assert!(out.starts_with(
        "{\"time\":\"2023-11-14T22:13:20.000042000Z\",\"ts_ns\":1700000000000042000,\"direction\":\"IN\",\
         \"session\":\"S1\",\"msg_seq_num\":1,\"message\":\"8=FIX.4.4|35=A|\"}\n"
    ));
}

#[test]
fn log_session_filter_takes_the_client_comp_id_and_fails_when_nothing_matches() {
    let dir = tempfile::tempdir().unwrap();
    write_session_log(
        dir.path(),
        &[
            log_record(
                Direction::In,
                "FIX.4.4:FIXVENUE->QA1",
                b"8=FIX.4.4\x0135=A\x01",
            ),
            log_record(
                Direction::In,
                "FIX.4.4:FIXVENUE->QA10",
                b"8=FIX.4.4\x0135=0\x01",
            ),
        ],
    );
    let out = stdout(&fixvenue(&["log", "--session", "QA1"], dir.path()));
    assert_eq!(
        out,
        "2023-11-14T22:13:20.000042000Z IN FIX.4.4:FIXVENUE->QA1 1 8=FIX.4.4|35=A|\n"
    );
    let full = stdout(&fixvenue(
        &["log", "--session", "FIX.4.4:FIXVENUE->QA1"],
        dir.path(),
    ));
    assert_eq!(full, out);
    let none = fixvenue(&["log", "--session", "QA2"], dir.path());
    assert!(!none.status.success());
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.contains("no session in the log matches \"QA2\""),
        "{stderr}"
    );
}

#[test]
fn a_missing_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    for command in ["trades", "log"] {
        let out = fixvenue(&[command], &missing);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("no data dir at"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!missing.exists());
    }
    // A data dir without a session store is not given one.
    let out = fixvenue(&["trades"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session store at"));
    assert!(!dir.path().join("sessions").exists());
}

#[test]
fn the_log_reads_while_a_running_venue_holds_the_store_and_trades_say_it_is_locked() {
    let dir = data_dir();
    let _held = Db::open(dir.path()).unwrap();
    let out = stdout(&fixvenue(&["log"], dir.path()));
    assert_eq!(out.lines().count(), 3, "{out}");
    let out = fixvenue(&["trades"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is locked"), "{stderr}");
    assert!(stderr.contains("could not acquire lock"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_filter_values_are_clear_cli_errors() {
    let dir = data_dir();
    for (args, says) in [
        (&["log", "--from", "yesterday"][..], "is not a time"),
        (&["log", "--to", "2025-11-30"][..], "RFC 3339"),
        (&["log", "--msg-type", "ZZ"][..], "not a FIX 4.4 MsgType"),
        (&["log", "--clordid", ""][..], "empty value"),
        (
            &[
                "log",
                "--from",
                "2025-11-30T00:00:01Z",
                "--to",
                "20251130-00:00:00",
            ][..],
            "--from must be before --to",
        ),
        (&["order", "abc"][..], "not an OrderID"),
        (&["order", "0"][..], "not an OrderID"),
    ] {
        let out = fixvenue(args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
