//! `fixvenue log` against a data dir whose session log is written through the library, and the CLI's errors for
//! a missing data dir and bad filter values, run as the real binary. `fixvenue trades` and `fixvenue order`
//! against a real venue's logs: tests/compliance_queries.rs.

use std::path::Path;
use std::process::{Command, Output};

use fixvenue::query::Direction;
use journal::session_log::{Message, Record, SessionLog, SessionLogOptions};
use store::db::Db;

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

/// A message as the session log (the compliance log) records it.
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
    let dir = fixvenue::indexer::session_log_dir(data_dir);
    let (mut log, _) = SessionLog::open(&dir, SessionLogOptions::default(), |_, _| {}).unwrap();
    for record in records {
        log.append(record).unwrap();
    }
    log.commit().unwrap();
}

/// A data dir holding three logged messages.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_session_log(
        dir.path(),
        &[
            log_record(Direction::In, "S1", b"8=FIX.4.4\x0135=A\x01"),
            log_record(Direction::Out, "S2", b"8=FIX.4.4\x0135=0\x01"),
            log_record(Direction::Out, "S1", b"8=FIX.4.4\x0135=A\x01"),
        ],
    );
    dir
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
    // A data dir without logs is not given any.
    for command in ["trades", "log"] {
        let out = fixvenue(&[command], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("no "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_log_reads_while_a_running_venue_holds_the_store() {
    let dir = data_dir();
    let _held = Db::open(dir.path()).unwrap();
    let out = stdout(&fixvenue(&["log"], dir.path()));
    assert_eq!(out.lines().count(), 3, "{out}");
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
