//! Drop copy and trade capture in the gateway core: which drop-copy sessions take a report, what a copy
//! carries (the original's fields, 797=Y, the originating CompIDs in the header), that a replay of the journal
//! rebuilds the same copies, and TradeCaptureReportRequest snapshots, subscriptions and refusals. Every message
//! is checked against QuickFIX's stock FIX44.xml.

use std::collections::BTreeMap;

use fix::types::TimePrecision;
use fix::{Decoder, Dictionary, ValidationOptions, Validator};
use session::app::AppMessage;
use session::config::DropCopyScope;

use super::{Harness, field, has, market_and_engine, sessions};
use crate::core::{Dialect, Gateway, SessionInfo};

const CLIENT1: usize = 0;
const CLIENT2: usize = 1;
/// Account-scoped: ACC-CLIENT1; standard FIX 4.4, milliseconds (CLIENT1's dialect).
const DC_ACCOUNT: usize = 2;
/// Venue-wide (`*`), microseconds and the venue's extensions (CLIENT2's dialect).
const DC_ALL: usize = 3;
/// Session-scoped: CLIENT2's orders.
const DC_SESSION: usize = 4;

fn drop_copy(client: &str, scope: DropCopyScope, dialect: Dialect) -> SessionInfo {
    SessionInfo {
        id: format!("FIX.4.4:FIXVENUE->{client}"),
        venue_comp_id: "FIXVENUE".into(),
        client_comp_id: client.into(),
        accounts: vec![client.into()],
        dialect,
        drop_copy: Some(scope),
    }
}

fn with_drop_copies() -> Vec<SessionInfo> {
    let mut all = sessions();
    all.push(drop_copy(
        "DCACC",
        DropCopyScope {
            accounts: vec!["ACC-CLIENT1".into()],
            ..DropCopyScope::default()
        },
        Dialect::default(),
    ));
    all.push(drop_copy(
        "DCALL",
        DropCopyScope {
            all_accounts: true,
            ..DropCopyScope::default()
        },
        Dialect {
            time_precision: TimePrecision::Micros,
            venue_extensions: true,
        },
    ));
    all.push(drop_copy(
        "DCSESS",
        DropCopyScope {
            sessions: vec!["CLIENT2".into()],
            ..DropCopyScope::default()
        },
        Dialect::default(),
    ));
    all
}

fn stock_dictionary() -> Dictionary {
    let xml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fix-spec/reference/quickfix-FIX44.xml"
    ))
    .unwrap();
    Dictionary::from_xml(&xml).unwrap()
}

/// The message as a session would send it (header with its routing), validated against the stock dictionary
/// unless it is for a session with the venue's extensions.
#[track_caller]
fn check_stock(dict: &Dictionary, session: usize, msg: &AppMessage) {
    if session == CLIENT2 || session == DC_ALL {
        return;
    }
    let mut head = format!(
        "35={}|49=FIXVENUE|56=C|34=5|52=20261122-10:00:00.000|",
        String::from_utf8_lossy(&msg.msg_type)
    );
    if let Some(v) = &msg.routing.on_behalf_of[0] {
        head += &format!("115={v}|");
    }
    if let Some(v) = &msg.routing.deliver_to[0] {
        head += &format!("128={v}|");
    }
    let text = head + &String::from_utf8_lossy(&msg.body).replace('\x01', "|");
    let frame = fix::frame::from_text(&text);
    let mut decoder = Decoder::new();
    let decoded = decoder.decode(dict, &frame).unwrap();
    if let Err(e) = Validator::new(ValidationOptions::default()).validate(dict, &decoded) {
        panic!("{text}: {e:?}");
    }
}

fn body(msg: &AppMessage) -> String {
    String::from_utf8(msg.body.clone())
        .unwrap()
        .replace('\x01', "|")
}

/// A day of trading between CLIENT1 (account ACC-CLIENT1) and CLIENT2 (ACC-CLIENT2): acks, a partial and a full
/// fill, a replace, a cancel, an edge refusal and a mass cancel.
fn trade(h: &mut Harness) {
    h.send(
        CLIENT1,
        "D|11=B1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=10|44=100|59=1|",
    );
    h.send(
        CLIENT2,
        "D|11=S1|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=4|44=99|",
    );
    h.send(
        CLIENT1,
        "G|41=B1|11=B2|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=9|44=100|59=1|",
    );
    h.send(
        CLIENT2,
        "D|11=S2|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=5|44=100|",
    );
    h.send(
        CLIENT1,
        "D|11=B3|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=90|",
    );
    h.send(CLIENT1, "F|41=B3|11=B4|55=ZVZZT|54=1|60=20261122-10:00:00|");
    h.send(
        CLIENT2,
        "D|11=X1|55=NOPE|54=1|60=20261122-10:00:00|40=2|38=10|44=1|",
    );
    h.send(
        CLIENT2,
        "D|11=S3|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=3|44=150|",
    );
    h.send(
        CLIENT2,
        "D|11=S4|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=3|44=151|",
    );
    h.send(CLIENT2, "q|11=M1|530=7|60=20261122-10:00:00|");
}

#[test]
fn every_report_is_copied_to_the_drop_copies_in_scope_with_its_fields_797_and_the_originating_compids()
 {
    let mut h = Harness::with_sessions(with_drop_copies());
    trade(&mut h);
    let dict = stock_dictionary();
    let originals: Vec<&(usize, AppMessage)> = h
        .raw
        .iter()
        .filter(|(s, m)| *s <= CLIENT2 && m.msg_type == b"8")
        .collect();
    assert!(originals.len() >= 14, "{}", originals.len());
    // ExecID -> the drop-copy sessions that got a copy.
    let mut copies: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (s, m) in &h.raw {
        check_stock(&dict, *s, m);
        if *s > CLIENT2 {
            let text = body(m);
            assert_eq!(
                m.msg_type, b"8",
                "a drop copy gets nothing but copies: {text}"
            );
            assert!(text.ends_with("|797=Y|"), "{text}");
            copies
                .entry(field(&text, 17).unwrap().to_string())
                .or_default()
                .push(*s);
        }
    }
    for (origin, original) in &originals {
        let text = body(original);
        let exec_id = field(&text, 17).unwrap();
        let expected = if *origin == CLIENT1 {
            vec![DC_ACCOUNT, DC_ALL]
        } else {
            vec![DC_ALL, DC_SESSION]
        };
        assert_eq!(
            copies.remove(exec_id).unwrap_or_default(),
            expected,
            "{text}"
        );
        for (s, copy) in h
            .raw
            .iter()
            .filter(|(s, m)| *s > CLIENT2 && field(&body(m), 17) == Some(exec_id))
        {
            // The originating session's CompIDs in the header.
            assert_eq!(copy.routing.on_behalf_of[0].as_deref(), Some("FIXVENUE"));
            let client = if *origin == CLIENT1 {
                "CLIENT1"
            } else {
                "CLIENT2"
            };
            assert_eq!(copy.routing.deliver_to[0].as_deref(), Some(client));
            let copied = body(copy);
            let same_dialect = h.gateway.session_info(*s).unwrap().dialect
                == h.gateway.session_info(*origin).unwrap().dialect;
            if same_dialect {
                assert_eq!(
                    copied,
                    format!("{text}797=Y|"),
                    "the original's fields, then 797=Y"
                );
            } else {
                for tag in [
                    37, 11, 41, 17, 150, 39, 1, 55, 54, 38, 44, 32, 31, 14, 151, 6, 58, 527,
                ] {
                    assert_eq!(
                        field(&copied, tag),
                        field(&text, tag),
                        "tag {tag}: {copied} / {text}"
                    );
                }
                // The same TransactTime, in the drop copy's precision.
                let (t0, t1) = (field(&text, 60).unwrap(), field(&copied, 60).unwrap());
                assert!(
                    t1.starts_with(t0) || t0.starts_with(&t1[..17]),
                    "{t0} / {t1}"
                );
            }
        }
    }
    assert!(copies.is_empty(), "copies of no original: {copies:?}");
    // The edge refusal and the mass cancel's cancels are among them.
    assert!(
        originals
            .iter()
            .any(|(_, m)| body(m).contains("|11=X1|") && body(m).contains("|39=8|"))
    );
    assert!(
        originals
            .iter()
            .any(|(_, m)| body(m).contains("|58=mass cancel|"))
    );
}

#[test]
fn status_answers_are_not_copied() {
    let mut h = Harness::with_sessions(with_drop_copies());
    h.send(
        CLIENT1,
        "D|11=B1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=10|44=100|59=1|",
    );
    let before = h.raw.len();
    let answers = h.send(CLIENT1, "H|11=B1|55=ZVZZT|54=1|");
    has(&answers[0], CLIENT1, "150=I");
    h.send(CLIENT1, "AF|584=M1|585=7|");
    assert!(
        h.raw[before..].iter().all(|(s, _)| *s == CLIENT1),
        "{:?}",
        &h.raw[before..]
    );
}

#[test]
fn replaying_the_journal_rebuilds_exactly_the_copies_released() {
    let mut h = Harness::with_sessions(with_drop_copies());
    trade(&mut h);
    // What release gave, journaled commands only (edge refusals are not journaled: ExecIDs `<boot>-<n>`).
    let journaled =
        |m: &AppMessage| m.msg_type == b"8" && !field(&body(m), 17).unwrap().contains('-');
    let released: Vec<(usize, AppMessage)> = h
        .raw
        .iter()
        .filter(|(_, m)| journaled(m))
        .cloned()
        .collect();
    let (market, mut engine) = market_and_engine();
    let mut gateway = Gateway::new(market, with_drop_copies(), 43);
    let mut rebuilt = Vec::new();
    for (record, origin, events) in &h.journal {
        let mut replayed = Vec::new();
        engine.apply(record, &mut replayed);
        gateway.replay_reports(record, origin, events, &mut rebuilt);
    }
    let rebuilt: Vec<(usize, AppMessage)> =
        rebuilt.into_iter().filter(|(_, m)| journaled(m)).collect();
    assert_eq!(rebuilt.len(), released.len());
    assert_eq!(
        rebuilt, released,
        "same sessions, same order, same bytes, same routing"
    );
}

#[test]
fn trade_capture_answers_a_snapshot_in_scope_then_live_updates_until_unsubscribed() {
    let mut h = Harness::with_sessions(with_drop_copies());
    let dict = stock_dictionary();
    trade(&mut h);
    let start = h.raw.len();
    // Two trades: B1 x S1 (4) and B2 x S2 (5): DCACC sees the buy sides, DCALL both, CLIENT2 its sells.
    let answers = h.send(DC_ACCOUNT, "AD|568=T1|569=0|263=1|");
    has(
        &answers[0],
        DC_ACCOUNT,
        "35=AQ|568=T1|569=0|263=1|748=2|749=0|750=0",
    );
    assert_eq!(answers.len(), 3, "{answers:?}");
    has(
        &answers[1],
        DC_ACCOUNT,
        "35=AE|748=2|912=N|54=1|11=B1|1=ACC-CLIENT1|32=4|31=100.00|552=1|570=N",
    );
    has(
        &answers[2],
        DC_ACCOUNT,
        "35=AE|912=Y|54=1|1=ACC-CLIENT1|32=5",
    );
    // The ExecID of each AE is the buy side's fill report's.
    let fill_ids: Vec<String> = h.raw[..start]
        .iter()
        .filter(|(s, m)| *s == CLIENT1 && body(m).contains("|150=F|"))
        .map(|(_, m)| field(&body(m), 17).unwrap().to_string())
        .collect();
    assert_eq!(
        [
            field(&answers[1].1, 17).unwrap(),
            field(&answers[2].1, 17).unwrap()
        ],
        [fill_ids[0].as_str(), fill_ids[1].as_str()]
    );
    let answers = h.send(DC_ALL, "AD|568=T2|569=0|55=ZVZZT|");
    has(&answers[0], DC_ALL, "35=AQ|748=4|749=0|750=0");
    let answers = h.send(CLIENT2, "AD|568=T3|569=0|");
    has(&answers[0], CLIENT2, "35=AQ|748=2");
    assert!(
        answers[1..].iter().all(|a| field(&a.1, 54) == Some("2")),
        "{answers:?}"
    );
    // A live trade: DCACC's subscription gets the buy side, unsolicited.
    h.send(
        CLIENT2,
        "D|11=S9|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=2|44=90|",
    );
    let answers = h.send(
        CLIENT1,
        "D|11=B9|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=2|44=90|",
    );
    let updates: Vec<_> = answers
        .iter()
        .filter(|a| a.1.starts_with("35=AE"))
        .collect();
    assert_eq!(updates.len(), 1, "{answers:?}");
    has(updates[0], DC_ACCOUNT, "568=T1|325=Y|11=B9|54=1|748=!");
    // Unsubscribed: no more updates.
    let answers = h.send(DC_ACCOUNT, "AD|568=T1|569=0|263=2|");
    has(&answers[0], DC_ACCOUNT, "35=AQ|749=0|750=1");
    h.send(
        CLIENT2,
        "D|11=S10|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=1|44=90|",
    );
    let answers = h.send(
        CLIENT1,
        "D|11=B10|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=1|44=90|",
    );
    assert!(
        answers.iter().all(|a| !a.1.starts_with("35=AE")),
        "{answers:?}"
    );
    for (s, m) in &h.raw[start..] {
        check_stock(&dict, *s, m);
    }
}

#[test]
fn trade_capture_refuses_what_it_does_not_apply_with_a_reason() {
    let mut h = Harness::with_sessions(with_drop_copies());
    let dict = stock_dictionary();
    trade(&mut h);
    let start = h.raw.len();
    for (request, result, text) in [
        ("AD|568=R1|569=1|", "8", "only 0"),
        ("AD|568=R2|569=0|55=NOPE|", "1", "unknown symbol"),
        ("AD|568=R3|569=0|54=1|", "99", "tag 54"),
        ("AD|568=R4|569=0|17=X|", "99", "tag 17"),
        ("AD|568=R5|569=0|263=2|", "99", "no subscription"),
        (
            "AD|568=R6|569=0|580=2|75=20261123|60=20261123-10:00:00|75=20261122|60=20261122-10:00:00|",
            "99",
            "ends before it starts",
        ),
    ] {
        let answers = h.send(DC_ALL, request);
        assert_eq!(answers.len(), 1, "{request}: {answers:?}");
        has(&answers[0], DC_ALL, &format!("35=AQ|749={result}|750=2"));
        assert!(
            field(&answers[0].1, 58).unwrap().contains(text),
            "{request}: {answers:?}"
        );
    }
    h.send(DC_ALL, "AD|568=S1|569=0|263=1|");
    let answers = h.send(DC_ALL, "AD|568=S1|569=0|263=1|");
    has(&answers[0], DC_ALL, "35=AQ|750=2");
    // A range that holds no trade: accepted, nothing to report.
    let answers = h.send(DC_ACCOUNT, "AD|568=D1|569=0|580=1|75=20200101|");
    assert_eq!(answers.len(), 1, "{answers:?}");
    has(&answers[0], DC_ACCOUNT, "35=AQ|748=0|749=0|750=0");
    for (s, m) in &h.raw[start..] {
        check_stock(&dict, *s, m);
    }
}
