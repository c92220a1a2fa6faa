//! Market data end to end over loopback: the real `fixvenue` binary, two trading sessions trading while
//! market-data sessions follow. The follower's book (testkit's feed handler: W, then every X) must equal the
//! venue's own snapshot after every step, order by order and by price level; RptSeq must be contiguous; trades
//! must appear with price, size and time and add up to the fills the trading sessions were told of; and a
//! ResendRequest over market data is answered with a GapFill (market data is not stored for resend).

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;
use testkit::Msg;
use testkit::blocking::Fix;
use testkit::md::FeedBook;
use testkit::venue::VenueProcess;

const SESSIONS_CFG: &str = "\
[DEFAULT]
BeginString=FIX.4.4
SenderCompID=FIXVENUE
SocketAcceptAddress=127.0.0.1
SocketAcceptPort=0
NonStopSession=Y
LogonTimeout=5
LogoutTimeout=1
HeartBtIntMin=1
HeartBtIntMax=300
SessionRole=trading

[SESSION]
TargetCompID=CLIENT1

[SESSION]
TargetCompID=CLIENT2

[SESSION]
TargetCompID=MDX
SessionRole=marketdata
VenueExtensions=Y

[SESSION]
TargetCompID=MDSTD
SessionRole=marketdata

[SESSION]
TargetCompID=DC1
SessionRole=dropcopy
DropCopyAccounts=*
";

struct Venue {
    _dir: tempfile::TempDir,
    process: VenueProcess,
}

impl Venue {
    fn start() -> Venue {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("sessions.cfg");
        std::fs::write(&cfg, SESSIONS_CFG).unwrap();
        let process = VenueProcess::start(&cfg, &dir.path().join("data"));
        Venue { _dir: dir, process }
    }

    fn client(&self, name: &str) -> Fix {
        let mut c = Fix::new(name);
        c.logon_reset(self.process.port);
        c
    }
}

const WAIT: Duration = Duration::from_secs(10);
const ALL_TYPES: &str = "267=8|269=0|269=1|269=2|269=4|269=7|269=8|269=9|269=B|";

fn subscribe(c: &mut Fix, id: &str, aggregated: char) {
    c.send(&format!(
        "35=V|262={id}|263=1|264=0|265=1|266={aggregated}|{ALL_TYPES}146=1|55=ZVZZT|"
    ));
}

/// Reads `c` until the W answering `snapshot_id`, applying every X (and W) of the live subscriptions.
fn follow_until(c: &mut Fix, feeds: &mut BTreeMap<String, FeedBook>, snapshot_id: &str) -> Msg {
    loop {
        let m = c
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no W for {snapshot_id}"));
        let id = m.get(262).unwrap_or("").to_string();
        if std::env::var_os("MD_DEBUG").is_some() {
            eprintln!("{m}");
        }
        match m.msg_type() {
            "W" if id == snapshot_id => return m,
            "W" | "X" => feeds
                .get_mut(&id)
                .unwrap_or_else(|| panic!("market data for unknown MDReqID: {m}"))
                .apply(&m)
                .unwrap_or_else(|e| panic!("{e}: {m}")),
            "f" | "h" => {}
            other => panic!("unexpected 35={other}: {m}"),
        }
    }
}

fn snapshot_book(w: &Msg) -> testkit::md::SymbolBook {
    let mut feed = FeedBook::default();
    feed.apply(w).unwrap();
    let mut book = feed.symbols.remove("ZVZZT").unwrap();
    book.rpt_seq = None;
    book.trades.clear();
    book
}

fn count_fill(m: &Msg, filled: &mut Decimal) {
    if m.msg_type() == "8" && m.get(150) == Some("F") {
        *filled += m.decimal(32);
    }
}

/// Reads the trader's messages (counting fills) until the first answer to `cl_ord_id`: its command is released,
/// so the market data it caused was handed over before anything asked after this.
fn answered(trader: &mut Fix, cl_ord_id: &str, filled: &mut Decimal) {
    loop {
        let m = trader.recv(WAIT).expect("an answer");
        count_fill(&m, filled);
        if m.get(11) == Some(cl_ord_id) {
            return;
        }
    }
}

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_follower_keeps_the_venues_book_while_two_sessions_trade() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let mut md = venue.client("MDX");
    subscribe(&mut md, "AGG", 'Y');
    subscribe(&mut md, "L3", 'N');
    let mut feeds = BTreeMap::new();
    for id in ["AGG", "L3"] {
        let w = md.expect(&format!("35=W|262={id}|55=ZVZZT|83=0|"));
        let mut feed = FeedBook::default();
        feed.apply(&w).unwrap();
        feeds.insert(id.to_string(), feed);
    }
    let mut rng = Lcg(13);
    let mut filled = Decimal::ZERO;
    let mut sent: Vec<(usize, String, char)> = Vec::new();
    for step in 0..60 {
        let who = (step % 2) as usize;
        match rng.next(10) {
            0 if !sent.is_empty() => {
                let (owner, id, side) = sent[rng.next(sent.len() as u64) as usize].clone();
                let trader = if owner == 0 { &mut c1 } else { &mut c2 };
                let cancel = trader.cancel(&id, side);
                answered(trader, &cancel, &mut filled);
            }
            _ => {
                let trader = if who == 0 { &mut c1 } else { &mut c2 };
                let side = if rng.next(2) == 0 { '1' } else { '2' };
                let price = format!("100.{:02}", rng.next(8));
                let qty = (1 + rng.next(9)).to_string();
                let display = if rng.next(4) == 0 { "111=1|" } else { "" };
                let id = trader.new_order(&format!(
                    "55=ZVZZT|54={side}|38={qty}|40=2|44={price}|59=1|{display}"
                ));
                answered(trader, &id, &mut filled);
                sent.push((who, id, side));
            }
        }
        // The venue's own view, asked for after the step: every X before it is applied first.
        let snap = format!("SNAP{step}");
        md.send(&format!(
            "35=V|262={snap}|263=0|264=0|266=N|267=2|269=0|269=1|146=1|55=ZVZZT|"
        ));
        let l3 = follow_until(&mut md, &mut feeds, &snap);
        let snap_agg = format!("SNAPA{step}");
        md.send(&format!(
            "35=V|262={snap_agg}|263=0|264=0|266=Y|267=2|269=0|269=1|146=1|55=ZVZZT|"
        ));
        let agg = follow_until(&mut md, &mut feeds, &snap_agg);
        for (id, venue_view) in [("L3", &l3), ("AGG", &agg)] {
            let followed = &feeds[id].symbols["ZVZZT"];
            let want = snapshot_book(venue_view);
            assert_eq!(
                (&followed.bids, &followed.offers),
                (&want.bids, &want.offers),
                "step {step}: {id} differs from the venue's snapshot"
            );
        }
    }
    // Trades: each with price, size and time, adding up to what the trading sessions were told.
    for c in [&mut c1, &mut c2] {
        while let Some(m) = c.recv(Duration::from_millis(500)) {
            count_fill(&m, &mut filled);
        }
    }
    let trades = &feeds["AGG"].symbols["ZVZZT"].trades;
    assert!(!trades.is_empty(), "the flow made no trade");
    let printed: Decimal = trades.iter().map(|(_, size, _)| *size).sum();
    assert_eq!(
        printed * Decimal::TWO,
        filled,
        "each trade fills two orders"
    );
    for (px, size, time) in trades {
        assert!(*px > Decimal::ZERO && *size > Decimal::ZERO);
        assert_eq!(time.len(), 12, "MDEntryTime HH:MM:SS.sss: {time}");
    }
    assert_eq!(
        feeds["AGG"].symbols["ZVZZT"].stats.get(&b'B'),
        Some(&printed),
        "traded volume"
    );
}

#[test]
fn market_data_is_gap_filled_on_resend_and_requests_are_refused_with_reasons() {
    let venue = Venue::start();
    let mut md = venue.client("MDSTD");
    md.send(&format!(
        "35=V|262=S1|263=0|264=1|{ALL_TYPES}146=1|55=ZVZZT|"
    ));
    let w = md.expect("35=W|262=S1|55=ZVZZT|!83|");
    let after = w.seq() + 1;
    md.send("35=2|7=1|16=0|");
    // The Logon (1) and the W (2) are not stored: one GapFill over both, nothing resent.
    let gap_fill = md.recv_raw(WAIT).expect("an answer to the ResendRequest");
    assert_eq!(
        gap_fill.mismatch(&format!("35=4|34=1|123=Y|43=Y|36={after}|")),
        None,
        "{gap_fill}"
    );
    assert!(md.recv_raw(Duration::from_millis(300)).is_none());
    // Reject reasons.
    let cases = [
        ("262=R0|263=1|264=0|265=1|267=1|269=0|146=1|55=NOPE|", "0"),
        (
            "262=S1|263=1|264=0|265=1|267=1|269=0|146=1|55=ZVZZT|",
            "none",
        ),
        ("262=S1|263=1|264=0|265=1|267=1|269=0|146=1|55=ZVZZT|", "1"),
        ("262=R4|263=2|264=0|267=1|269=0|146=1|55=ZVZZT|", "4"),
        ("262=R5|263=0|264=-1|267=1|269=0|146=1|55=ZVZZT|", "5"),
        ("262=R6|263=1|264=0|267=1|269=0|146=1|55=ZVZZT|", "6"),
        ("262=R7|263=0|264=5|266=N|267=1|269=0|146=1|55=ZVZZT|", "7"),
        ("262=R8|263=0|264=0|267=1|269=6|146=1|55=ZVZZT|", "8"),
    ];
    for (body, reason) in cases {
        md.send(&format!("35=V|{body}"));
        if reason == "none" {
            md.expect("35=W|262=S1|");
        } else {
            md.expect(&format!("35=Y|281={reason}|58=*|"));
        }
    }
    let mut dc = venue.client("DC1");
    dc.send("35=V|262=D1|263=0|264=0|267=1|269=0|146=1|55=ZVZZT|");
    dc.expect("35=Y|262=D1|281=3|");
    dc.send("35=x|320=L1|559=4|");
    dc.expect("35=j|380=6|");
    // Reference data and status.
    md.send("35=x|320=L1|559=4|");
    md.expect("35=y|320=L1|560=0|146=*|55=ZVZZT|561=*|!969|");
    md.send("35=e|324=E1|55=ZVZZT|263=1|");
    md.expect("35=f|324=E1|55=ZVZZT|326=17|");
    md.send("35=e|324=E2|55=NOPE|263=0|");
    md.expect("35=j|380=2|");
    md.send("35=g|335=G1|263=0|");
    md.expect("35=h|335=G1|336=CONTINUOUS|340=2|");
    md.send("35=g|335=G2|263=0|336=OTHER|");
    md.expect("35=h|335=G2|340=6|567=1|");
}

#[test]
fn on_a_trading_session_a_resend_repeats_the_execution_reports_and_gap_fills_the_market_data() {
    let venue = Venue::start();
    let mut c = venue.client("CLIENT1");
    c.send("35=V|262=B1|263=1|264=0|265=1|267=1|269=0|146=1|55=ZVZZT|");
    let w = c.expect("35=W|262=B1|");
    let id = c.limit('1', "3", "1.11");
    let ack = c.expect(&format!("35=8|11={id}|150=0|"));
    let x = c.expect("35=X|262=B1|279=0|269=0|270=1.11|271=3|");
    assert_eq!((w.seq() + 1, ack.seq() + 1), (ack.seq(), x.seq()));
    c.send(&format!("35=2|7={}|16=0|", w.seq()));
    // W: gap-filled; the ExecutionReport: resent (PossDup); X: gap-filled.
    let first = c.recv_raw(WAIT).expect("gap fill over the W");
    assert_eq!(
        first.mismatch(&format!("35=4|34={}|123=Y|36={}|", w.seq(), ack.seq())),
        None,
        "{first}"
    );
    let resent = c.recv_raw(WAIT).expect("the ExecutionReport again");
    assert_eq!(
        resent.mismatch(&format!("35=8|34={}|43=Y|11={id}|150=0|", ack.seq())),
        None,
        "{resent}"
    );
    let last = c.recv_raw(WAIT).expect("gap fill over the X");
    assert_eq!(
        last.mismatch(&format!("35=4|34={}|123=Y|36={}|", x.seq(), x.seq() + 1)),
        None,
        "{last}"
    );
    c.mass_cancel_all();
}

#[test]
fn after_a_restart_the_snapshot_shows_the_book_and_statistics_rebuilt_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);
    let mut c1 = Fix::new("CLIENT1");
    c1.logon_reset(venue.port);
    let mut c2 = Fix::new("CLIENT2");
    c2.logon_reset(venue.port);
    let mut filled = Decimal::ZERO;
    // An iceberg partly filled (refilled to the back of its level), a plain order behind it, a trade.
    let ice = c1.new_order("55=ZVZZT|54=2|38=10|40=2|44=7.07|59=1|111=4|");
    answered(&mut c1, &ice, &mut filled);
    let plain = c1.new_order("55=ZVZZT|54=2|38=2|40=2|44=7.07|59=1|");
    answered(&mut c1, &plain, &mut filled);
    let buy = c2.new_order("55=ZVZZT|54=1|38=5|40=2|44=7.07|59=3|");
    answered(&mut c2, &buy, &mut filled);
    let snapshot = |venue_port: u16, name: &str| {
        let mut md = Fix::new(name);
        md.logon_reset(venue_port);
        md.send("35=V|262=L3|263=0|264=0|266=N|267=3|269=1|269=2|269=B|146=1|55=ZVZZT|");
        let w = md.expect("35=W|262=L3|55=ZVZZT|");
        md.logout();
        let mut feed = FeedBook::default();
        feed.apply(&w).unwrap();
        feed.symbols.remove("ZVZZT").unwrap()
    };
    let before = snapshot(venue.port, "MDX");
    assert_eq!(before.offers.len(), 2, "{before:?}");
    assert_eq!(before.stats.get(&b'B'), Some(&Decimal::from(5)));
    let status = venue.stop("TERM");
    assert!(status.success(), "{status:?}");
    let venue = VenueProcess::start(&cfg, &data);
    let after = snapshot(venue.port, "MDSTD");
    assert_eq!(
        (&after.offers, &after.trades, &after.stats),
        (&before.offers, &before.trades, &before.stats),
        "the rebuilt book and statistics"
    );
}

#[test]
fn a_subscriber_that_stops_reading_never_holds_up_order_entry_and_what_it_got_is_consistent() {
    let venue = Venue::start();
    let mut md = venue.client("MDX");
    let subscriptions = 32;
    for k in 0..subscriptions {
        subscribe(&mut md, &format!("S{k}"), 'N');
    }
    let mut feeds = BTreeMap::new();
    for k in 0..subscriptions {
        let w = md.expect(&format!("35=W|262=S{k}|"));
        let mut feed = FeedBook::default();
        feed.apply(&w).unwrap();
        feeds.insert(format!("S{k}"), feed);
    }
    // The subscriber stops reading; a trader sends orders one after the other (a batch, so an X per
    // subscription, each).
    let mut c1 = venue.client("CLIENT1");
    let mut filled = Decimal::ZERO;
    for i in 0..1_500 {
        let id = c1.new_order(&format!(
            "55=ZVZZT|54=1|38=1|40=2|44={}.{:02}|59=1|",
            1 + i % 5,
            i % 100
        ));
        answered(&mut c1, &id, &mut filled);
    }
    c1.mass_cancel_all();
    // Now it reads: increments, fresh snapshots where it fell behind (RptSeq continuing), maybe a Logout.
    let (mut increments, mut resnapshots, mut logged_out) = (0, 0, false);
    while let Some(m) = md.recv(Duration::from_secs(2)) {
        match m.msg_type() {
            "X" => increments += 1,
            "W" => resnapshots += 1,
            "5" => {
                logged_out = true;
                break;
            }
            _ => continue,
        }
        let id = m.field(262).to_string();
        feeds
            .get_mut(&id)
            .unwrap()
            .apply(&m)
            .unwrap_or_else(|e| panic!("{e}: {m}"));
    }
    // A client that has not read for WRITE_TIMEOUT is disconnected by the network layer.
    let connected = md.client().is_connected();
    eprintln!(
        "{increments} X, {resnapshots} resnapshots, logged out: {logged_out}, connected: {connected}"
    );
    assert!(increments > 0 || resnapshots > 0 || logged_out || !connected);
    if !logged_out && connected {
        // Caught up: every subscription's book equals a fresh snapshot.
        md.send("35=V|262=NOW|263=0|264=0|266=N|267=2|269=0|269=1|146=1|55=ZVZZT|");
        let now = follow_until(&mut md, &mut feeds, "NOW");
        let want = snapshot_book(&now);
        for (id, feed) in &feeds {
            let book = &feed.symbols["ZVZZT"];
            assert_eq!(
                (&book.bids, &book.offers),
                (&want.bids, &want.offers),
                "{id}"
            );
        }
    }
}
