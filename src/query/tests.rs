//! The filters of `fixvenue log` on parsed fields, the time forms, and the log read back from session log files
//! written by the session log's own writer.

use journal::session_log::{Message, SessionLog, SessionLogOptions};

use super::*;

const S1: &str = "FIX.4.4:FIXVENUE->CLIENT1";
const S2: &str = "FIX.4.4:FIXVENUE->CLIENT2";

/// A frame with a correct BodyLength and CheckSum around `body` (fields after 35, SOH-terminated).
fn frame(msg_type: &str, body: &str) -> Vec<u8> {
    let inner = format!("35={msg_type}\u{1}{body}");
    let head = format!("8=FIX.4.4\u{1}9={}\u{1}{inner}", inner.len());
    let sum = head.bytes().map(u32::from).sum::<u32>() % 256;
    format!("{head}10={sum:03}\u{1}").into_bytes()
}

fn logged(direction: Direction, session: &str, ts_ns: i64, bytes: Vec<u8>) -> Logged {
    Logged {
        index: 1,
        direction,
        session: session.into(),
        msg_seq_num: 2,
        ts_ns,
        bytes,
    }
}

fn passes(filter: &LogFilter, logged: &Logged) -> bool {
    let dict = Dictionary::fix44().expect("dictionary");
    let mut decoder = Decoder::new();
    filter.matches(logged, || Fields::of(&mut decoder, &dict, &logged.bytes))
}

#[test]
fn times_read_as_rfc_3339_or_fix_utc_timestamp_and_nothing_else() {
    let ns = 1_764_484_708_500_000_000;
    assert_eq!(parse_time("2025-11-30T06:38:28.5Z"), Ok(ns));
    assert_eq!(parse_time("2025-11-30T07:38:28.5+01:00"), Ok(ns));
    assert_eq!(parse_time("20251130-06:38:28.500"), Ok(ns));
    assert_eq!(parse_time("20251130-06:38:28.500000000"), Ok(ns));
    assert_eq!(parse_time("20251130-06:38:28"), Ok(ns - 500_000_000));
    for bad in [
        "",
        "yesterday",
        "2025-11-30",
        "20251130-06:38",
        "20251130-06:38:28.5",
        "2025-13-01T00:00:00Z",
    ] {
        let error = parse_time(bad).expect_err(bad);
        assert!(
            error.contains("RFC 3339") && error.contains("UTCTimestamp"),
            "{error}"
        );
    }
}

#[test]
fn msg_types_and_values_are_checked() {
    assert_eq!(parse_msg_type("8").as_deref(), Ok("8"));
    assert_eq!(parse_msg_type("AE").as_deref(), Ok("AE"));
    assert!(
        parse_msg_type("ZZ")
            .unwrap_err()
            .contains("not a FIX 4.4 MsgType")
    );
    assert!(parse_msg_type("").is_err());
    assert_eq!(parse_value("C-1").as_deref(), Ok("C-1"));
    assert!(parse_value("").is_err());
    assert!(parse_value("a\u{1}b").is_err());
    assert!(parse_value(&"x".repeat(FILTER_VALUE_BYTES_MAX + 1)).is_err());
}

#[test]
fn field_filters_match_parsed_fields_not_substrings() {
    let report = logged(
        Direction::Out,
        S1,
        1_000,
        frame(
            "8",
            "37=12\u{1}11=C-2\u{1}41=C-1\u{1}1=ACC\u{1}58=11=C-9 37=99 1=OTHER 35=D\u{1}",
        ),
    );
    let with = |f: fn(&mut LogFilter)| {
        let mut filter = LogFilter::default();
        f(&mut filter);
        passes(&filter, &report)
    };
    assert!(with(|f| f.msg_type = Some("8".into())));
    assert!(
        !with(|f| f.msg_type = Some("D".into())),
        "35=D inside Text is not the MsgType"
    );
    assert!(with(|f| f.order_id = Some("12".into())));
    assert!(
        !with(|f| f.order_id = Some("1".into())),
        "37=12 is not 37=1"
    );
    assert!(
        !with(|f| f.order_id = Some("99".into())),
        "37=99 inside Text is no OrderID"
    );
    assert!(with(|f| f.cl_ord_id = Some("C-2".into())));
    assert!(
        with(|f| f.cl_ord_id = Some("C-1".into())),
        "OrigClOrdID counts"
    );
    assert!(!with(|f| f.cl_ord_id = Some("C-9".into())));
    assert!(!with(|f| f.cl_ord_id = Some("C".into())), "no prefix match");
    assert!(with(|f| f.account = Some("ACC".into())));
    assert!(!with(|f| f.account = Some("OTHER".into())));
    assert!(with(|f| {
        f.account = Some("ACC".into());
        f.order_id = Some("12".into());
        f.msg_type = Some("8".into());
    }));
    assert!(
        !with(|f| {
            f.account = Some("ACC".into());
            f.order_id = Some("13".into());
        }),
        "every filter must match"
    );
}

#[test]
fn session_and_time_filters_and_a_message_that_does_not_decode() {
    let garbled = logged(Direction::In, S2, 2_000, b"garbage".to_vec());
    let filter = |f: LogFilter| passes(&f, &garbled);
    assert!(filter(LogFilter::default()));
    assert!(filter(LogFilter {
        session: Some("CLIENT2".into()),
        ..LogFilter::default()
    }));
    assert!(filter(LogFilter {
        session: Some(S2.into()),
        ..LogFilter::default()
    }));
    assert!(!filter(LogFilter {
        session: Some("CLIENT".into()),
        ..LogFilter::default()
    }));
    assert!(filter(LogFilter {
        from_ns: Some(2_000),
        to_ns: Some(2_001),
        ..LogFilter::default()
    }));
    assert!(!filter(LogFilter {
        from_ns: Some(2_001),
        ..LogFilter::default()
    }));
    assert!(
        !filter(LogFilter {
            to_ns: Some(2_000),
            ..LogFilter::default()
        }),
        "--to is exclusive"
    );
    assert!(!filter(LogFilter {
        msg_type: Some("8".into()),
        ..LogFilter::default()
    }));
}

#[test]
fn lines_carry_time_direction_session_seq_and_the_message() {
    let message = logged(Direction::In, S1, 1_764_484_708_500_000_001, frame("0", ""));
    let mut out = Vec::new();
    write_line(&message, LogFormat::Fix, false, &mut out).expect("writes");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.starts_with(
            "2025-11-30T06:38:28.500000001Z IN FIX.4.4:FIXVENUE->CLIENT1 2 8=FIX.4.4|9="
        ),
        "{text}"
    );
    assert!(text.ends_with("|\n") && !text.contains('\u{1}'), "{text}");
    let mut out = Vec::new();
    write_line(&message, LogFormat::Json, false, &mut out).expect("writes");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.starts_with(
            "{\"time\":\"2025-11-30T06:38:28.500000001Z\",\"ts_ns\":1764484708500000001,\"direction\":\"IN\",\
             \"session\":\"FIX.4.4:FIXVENUE->CLIENT1\",\"msg_seq_num\":2,\"message\":\"8=FIX.4.4|9="
        ),
        "{text}"
    );
}

#[test]
fn the_log_is_read_from_the_session_log_files_with_its_filters() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = crate::indexer::session_log_dir(data.path());
    let (mut log, _) =
        SessionLog::open(&dir, SessionLogOptions::default(), |_, _| {}).expect("opens");
    let message = |session: &str, seq: u64, ts_ns: i64, bytes: Vec<u8>| Message {
        session_id: session.into(),
        msg_seq_num: seq,
        ts_ns,
        bytes,
    };
    log.append(&Record::Incoming(message(
        S1,
        1,
        10,
        frame("D", "11=A\u{1}1=ACC\u{1}"),
    )))
    .expect("appends");
    log.append(&Record::Outgoing(message(
        S1,
        1,
        20,
        frame("8", "37=5\u{1}11=A\u{1}1=ACC\u{1}"),
    )))
    .expect("appends");
    log.append(&Record::Sent(message(S2, 1, 30, frame("0", ""))))
        .expect("appends");
    log.commit().expect("commits");
    let run = |filter: LogFilter| {
        let mut out = Vec::new();
        let count = write_log(data.path(), &filter, LogFormat::Fix, false, &mut out);
        count.map(|count| (count, String::from_utf8(out).expect("utf-8")))
    };
    assert_eq!(run(LogFilter::default()).expect("reads").0, 3);
    let (count, text) = run(LogFilter {
        msg_type: Some("8".into()),
        ..LogFilter::default()
    })
    .expect("reads");
    assert_eq!(count, 1);
    assert!(
        text.contains(" OUT FIX.4.4:FIXVENUE->CLIENT1 1 8=FIX.4.4|"),
        "{text}"
    );
    assert_eq!(
        run(LogFilter {
            cl_ord_id: Some("A".into()),
            ..LogFilter::default()
        })
        .expect("reads")
        .0,
        2
    );
    assert_eq!(
        run(LogFilter {
            session: Some("CLIENT2".into()),
            ..LogFilter::default()
        })
        .expect("reads")
        .0,
        1
    );
    assert_eq!(
        run(LogFilter {
            from_ns: Some(15),
            to_ns: Some(30),
            ..LogFilter::default()
        })
        .expect("reads")
        .0,
        1
    );
    assert!(matches!(
        run(LogFilter {
            session: Some("CLIENT3".into()),
            ..LogFilter::default()
        }),
        Err(QueryError::NoSuchSession(_))
    ));
    assert!(matches!(
        write_log(
            &data.path().join("nope"),
            &LogFilter::default(),
            LogFormat::Fix,
            false,
            &mut Vec::new()
        ),
        Err(QueryError::NoDataDir(_))
    ));
}
