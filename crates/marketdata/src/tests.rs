//! The market-data state machine's rules, one test each: status pushes, slow subscribers, the end of a
//! connection, full refresh, long updates split, statistics, and reading requests.

use engine::{Event, InstrumentId, InstrumentSpec, OrderId, QueueChange, Side, TradingStatus};
use fix::{Decoder, Dictionary};
use rust_decimal::Decimal;
use session::Routing;
use session::app::AppMessage;

use crate::request::{
    MarketDataRequest, MdInbound, MdRequest, SecurityStatusRequest, TradingSessionStatusRequest,
};
use crate::{MD_FALLS_MAX, MD_X_ENTRIES_MAX, MarketData, Style};

fn spec(symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        symbol: symbol.into(),
        currency: 0,
        tick_size: Decimal::new(1, 2),
        lot_size: Decimal::ONE,
        min_qty_lots: 1,
        max_qty_lots: 1_000,
        max_notional_cash: i64::MAX,
        cash_per_tick_lot: 100,
        collar_bp: 1_000,
        reference_ticks: 100,
        close_ns: 0,
        status: TradingStatus::Open,
    }
}

fn md(sessions: usize, extensions: bool) -> MarketData {
    let style = Style {
        venue_extensions: extensions,
        ..Style::default()
    };
    MarketData::new(
        vec![spec("AAA"), spec("BBB")],
        vec!["USD".into()],
        &vec![style; sessions],
    )
}

fn subscribe(
    md: &mut MarketData,
    session: usize,
    id: &str,
    symbols: &[&str],
    update_type: u8,
) -> Vec<(usize, AppMessage)> {
    let mut out = Vec::new();
    md.request(
        session,
        MdInbound {
            ref_seq: 2,
            routing: Routing::default(),
            request: MdRequest::MarketData(MarketDataRequest {
                md_req_id: id.into(),
                subscription: b'1',
                market_depth: 0,
                update_type: Some(update_type),
                aggregated: Some(true),
                entry_types: b"012B".to_vec(),
                symbols: symbols.iter().map(|s| s.to_string()).collect(),
                refused: None,
            }),
        },
        &mut out,
    );
    out
}

fn join(order: u64, price_ticks: i64, lots: i64) -> Event {
    Event::Queue {
        instrument: InstrumentId(0),
        side: Side::Buy,
        price_ticks,
        order_id: OrderId(order),
        visible_lots: lots,
        change: QueueChange::Joined,
    }
}

fn text(msg: &AppMessage) -> String {
    format!(
        "35={}|{}",
        String::from_utf8_lossy(&msg.msg_type),
        String::from_utf8_lossy(&msg.body).replace('\x01', "|")
    )
}

fn types(out: &[(usize, AppMessage)]) -> Vec<(usize, String)> {
    out.iter()
        .map(|(s, m)| (*s, String::from_utf8_lossy(&m.msg_type).into_owned()))
        .collect()
}

#[test]
fn a_halt_reaches_status_subscribers_and_market_data_subscribers_of_the_instrument() {
    let mut md = md(3, false);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    subscribe(&mut md, 2, "M2", &["BBB"], b'1');
    let mut out = Vec::new();
    md.request(
        1,
        MdInbound {
            ref_seq: 2,
            routing: Routing::default(),
            request: MdRequest::SecurityStatus(SecurityStatusRequest {
                req_id: "S1".into(),
                symbol: "AAA".into(),
                subscription: b'1',
                refused: None,
            }),
        },
        &mut out,
    );
    md.request(
        1,
        MdInbound {
            ref_seq: 3,
            routing: Routing::default(),
            request: MdRequest::TradingSessionStatus(TradingSessionStatusRequest {
                req_id: "T1".into(),
                subscription: b'1',
                trading_session_id: None,
                refused: None,
            }),
        },
        &mut out,
    );
    assert!(text(&out[0].1).contains("326=17|"), "{}", text(&out[0].1));
    assert!(text(&out[1].1).contains("340=2|"), "{}", text(&out[1].1));
    out.clear();
    let halt = |instrument| Event::Status {
        instrument: InstrumentId(instrument),
        status: TradingStatus::Halted,
    };
    md.command(10, &[halt(0)], &mut out);
    assert_eq!(types(&out), vec![(0, "f".into()), (1, "f".into())]);
    assert!(
        text(&out[0].1).contains("55=AAA|325=Y|326=2|"),
        "{}",
        text(&out[0].1)
    );
    assert!(
        text(&out[1].1).contains("324=S1|55=AAA|325=N|326=2|"),
        "{}",
        text(&out[1].1)
    );
    out.clear();
    // The last open instrument halts: the venue's trading session is halted.
    md.command(11, &[halt(1)], &mut out);
    assert_eq!(types(&out), vec![(1, "h".into()), (2, "f".into())]);
    assert!(
        text(&out[0].1).contains("335=T1|336=CONTINUOUS|325=N|340=1|"),
        "{}",
        text(&out[0].1)
    );
}

#[test]
fn a_status_change_sends_the_increments_before_it_first() {
    let mut md = md(1, true);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    let mut out = Vec::new();
    md.command(10, &[join(1, 100, 5)], &mut out);
    assert!(out.is_empty(), "increments wait for the end of the batch");
    md.command(
        11,
        &[Event::Status {
            instrument: InstrumentId(0),
            status: TradingStatus::Halted,
        }],
        &mut out,
    );
    assert_eq!(types(&out), vec![(0, "X".into()), (0, "f".into())]);
    md.end_batch(&mut out);
    assert_eq!(out.len(), 2, "nothing left pending");
}

#[test]
fn a_subscriber_that_falls_behind_gets_a_snapshot_continuing_its_rpt_seq_then_is_logged_out() {
    let mut md = md(1, true);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    let mut out = Vec::new();
    md.command(10, &[join(1, 100, 5)], &mut out);
    md.end_batch(&mut out);
    assert!(text(&out[0].1).contains("83=1|"), "{}", text(&out[0].1));
    out.clear();
    // The X was refused: behind. Increments meanwhile are dropped.
    assert_eq!(md.fell_behind(0), None);
    md.command(11, &[join(2, 101, 5)], &mut out);
    md.end_batch(&mut out);
    assert_eq!(
        types(&out),
        vec![(0, "W".into())],
        "a fresh snapshot, no increment"
    );
    let w = text(&out[0].1);
    assert!(w.contains("262=M0|55=AAA|83=2|"), "{w}");
    assert!(
        w.contains("270=1.01|271=5|") && w.contains("270=1.00|271=5|"),
        "{w}"
    );
    out.clear();
    md.command(12, &[join(3, 99, 5)], &mut out);
    md.end_batch(&mut out);
    assert!(
        text(&out[0].1).contains("83=3|"),
        "the next increment continues: {}",
        text(&out[0].1)
    );
    // The snapshot it got at 11 went out: caught up. Falls count again, each after catching up.
    for _ in 1..MD_FALLS_MAX {
        assert_eq!(md.fell_behind(0), None);
        md.end_batch(&mut Vec::new());
        md.end_batch(&mut Vec::new());
    }
    let reason = md.fell_behind(0).expect("logged out");
    assert!(reason.contains("fell behind"), "{reason}");
    assert_eq!(md.subscriptions(0), 0, "its subscriptions are gone");
}

#[test]
fn a_subscriber_whose_snapshots_find_no_room_either_is_logged_out_after_the_limit() {
    let mut md = md(1, true);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    let mut out = Vec::new();
    md.command(1_000, &[join(1, 100, 5)], &mut out);
    assert_eq!(md.fell_behind(0), None);
    for i in 0..5 {
        md.end_batch(&mut out);
        assert_eq!(md.fell_behind(0), None, "the same fall, {i}");
    }
    md.command(
        1_000 + crate::MD_BEHIND_MAX_NS + 1,
        &[join(2, 100, 5)],
        &mut out,
    );
    md.end_batch(&mut out);
    let reason = md.fell_behind(0).expect("logged out");
    assert!(reason.contains("behind for more than"), "{reason}");
}

#[test]
fn a_disconnect_ends_the_sessions_subscriptions() {
    let mut md = md(1, false);
    subscribe(&mut md, 0, "M0", &["AAA", "BBB"], b'1');
    assert_eq!(md.subscriptions(0), 1);
    md.disconnected(0);
    let mut out = Vec::new();
    md.command(10, &[join(1, 100, 5)], &mut out);
    md.end_batch(&mut out);
    assert!(out.is_empty());
    // The MDReqID is free again.
    assert_eq!(
        types(&subscribe(&mut md, 0, "M0", &["AAA"], b'1')),
        vec![(0, "W".into())]
    );
}

#[test]
fn a_full_refresh_subscription_gets_one_w_per_changed_instrument_per_batch() {
    let mut md = md(1, true);
    subscribe(&mut md, 0, "M0", &["AAA", "BBB"], b'0');
    let mut out = Vec::new();
    md.command(10, &[join(1, 100, 5)], &mut out);
    md.command(11, &[join(2, 100, 5)], &mut out);
    md.end_batch(&mut out);
    assert_eq!(types(&out), vec![(0, "W".into())]);
    let w = text(&out[0].1);
    assert!(
        w.contains("55=AAA|83=1|268=1|269=0|270=1.00|271=10|346=2|"),
        "{w}"
    );
}

#[test]
fn a_long_update_continues_in_the_next_x_with_the_same_rpt_seq() {
    let mut md = md(1, true);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    let events: Vec<Event> = (0..MD_X_ENTRIES_MAX as u64 + 3)
        .map(|i| join(i + 1, 100 - i as i64, 1))
        .collect();
    let mut out = Vec::new();
    md.command(10, &events, &mut out);
    md.end_batch(&mut out);
    assert_eq!(types(&out), vec![(0, "X".into()), (0, "X".into())]);
    assert!(text(&out[0].1).contains(&format!("268={MD_X_ENTRIES_MAX}|")));
    assert!(
        text(&out[1].1).contains("268=3|279=0|269=0|55=AAA|83=1|"),
        "{}",
        text(&out[1].1)
    );
}

#[test]
fn trades_print_with_time_and_the_volume_follows() {
    let mut md = md(1, false);
    subscribe(&mut md, 0, "M0", &["AAA"], b'1');
    let mut notional = engine::Notional::ZERO;
    notional.add(101, 3);
    let fill = engine::Fill {
        order_id: OrderId(1),
        account: engine::AccountId(1),
        cum_lots: 3,
        leaves_lots: 0,
        notional,
    };
    let trade = Event::Trade {
        match_id: engine::MatchId { seq: 2, n: 1 },
        instrument: InstrumentId(0),
        price_ticks: 101,
        qty_lots: 3,
        aggressor: Side::Buy,
        buy: fill,
        sell: fill,
    };
    let mut out = Vec::new();
    // 2026-11-30 09:30:00.123 UTC
    md.command(1_796_031_000_123_000_000, &[trade], &mut out);
    md.end_batch(&mut out);
    let x = text(&out[0].1);
    assert!(
        x.contains("279=0|269=2|55=AAA|270=1.01|271=3|273=09:30:00.123|279=0|269=B|55=AAA|271=3|"),
        "{x}"
    );
    assert_eq!(md.stats(InstrumentId(0)).unwrap().volume_lots, 3);
}

/// The request as the connection's task reads it, from FIX text through the venue's dictionary.
fn parse(text: &str) -> MdRequest {
    let dict = Dictionary::fix44().unwrap();
    let frame = fix::frame::from_text(text);
    let mut decoder = Decoder::new();
    let msg = decoder.decode(&dict, &frame).unwrap();
    crate::request::parse(&msg, &Routing::default())
        .expect("a market-data request")
        .expect("readable")
        .request
}

#[test]
fn a_market_data_request_is_read_with_its_groups_and_fields_not_acted_on_are_noted() {
    let MdRequest::MarketData(req) = parse(
        "35=V|49=C|56=V|34=2|52=20261130-10:00:00|262=R1|263=1|264=0|265=1|266=N|267=2|269=0|269=2|146=2|55=AAA|55=BBB|",
    ) else {
        panic!()
    };
    assert_eq!(
        (
            req.md_req_id.as_str(),
            req.subscription,
            req.update_type,
            req.aggregated
        ),
        ("R1", b'1', Some(b'1'), Some(false))
    );
    assert_eq!(req.entry_types, b"02");
    assert_eq!(req.symbols, ["AAA", "BBB"]);
    assert!(req.refused.is_none());
    let MdRequest::MarketData(req) = parse(
        "35=V|49=C|56=V|34=2|52=20261130-10:00:00|262=R1|263=0|264=0|267=1|269=0|146=1|55=AAA|48=XS0001|22=4|",
    ) else {
        panic!()
    };
    let (reason, text) = req.refused.expect("SecurityID is refused");
    assert_eq!(reason.code(), b'0');
    assert!(text.contains("tag 48"), "{text}");
}
