//! Order entry end to end: the real `fixvenue` binary (bundled venue.toml, ZVZZT: tick 0.01, lot 1, collar
//! 0.01..10,000) with a temporary session file and data directory, driven by FIX clients over loopback.
//! Every test starts its own venue, so prices never meet another test's orders.

use std::time::Duration;

use testkit::Msg;
use testkit::blocking::{Fix, check_report, id, in_seconds};
use testkit::venue::VenueProcess;

pub const SESSIONS_CFG: &str = "\
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
TargetCompID=MDCLIENT1
SessionRole=marketdata

[SESSION]
TargetCompID=COD1
CancelOnDisconnect=Y

[SESSION]
TargetCompID=COD2

[SESSION]
TargetCompID=MULTI
Accounts=ACC1,ACC2

[SESSION]
TargetCompID=THROTTLED
ThrottleRate=5
ThrottleBurst=5
ThrottleMaxRejects=5
ThrottleCooldown=3
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

    fn port(&self) -> u16 {
        self.process.port
    }

    /// A session logged on with fresh numbers.
    fn client(&self, name: &str) -> Fix {
        let mut c = Fix::new(name);
        c.logon_reset(self.port());
        c
    }
}

#[track_caller]
fn report(c: &mut Fix, spec: &str) -> Msg {
    let m = c.expect(&format!("35=8|{spec}"));
    check_report(&m);
    m
}

/// Both sides of one trade agree: one match id (SecondaryExecID 527), price, quantity; resting side added liquidity.
#[track_caller]
fn same_trade(aggressor: &Msg, resting: &Msg) {
    for tag in [527, 31, 32, 55] {
        assert_eq!(
            aggressor.field(tag),
            resting.field(tag),
            "{tag} differs:\n{}\n{}",
            aggressor.text(),
            resting.text()
        );
    }
    assert_eq!(aggressor.field(851), "2", "{}", aggressor.text());
    assert_eq!(resting.field(851), "1", "{}", resting.text());
    assert_ne!(aggressor.field(54), resting.field(54));
}

#[test]
fn lifecycle_new_partial_fill_with_consistent_reports_on_both_sides() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let mut exec_ids = std::collections::BTreeSet::new();
    let mut keep = |m: &Msg| {
        assert!(
            exec_ids.insert(m.field(17).to_string()),
            "ExecID reused: {}",
            m.text()
        )
    };

    let buy = c1.new_order("1=CLIENT1|55=ZVZZT|54=1|38=10|40=2|44=50.25|59=1|");
    let new = report(
        &mut c1,
        &format!(
            "11={buy}|150=0|39=0|1=CLIENT1|55=ZVZZT|54=1|38=10|40=2|44=50.25|59=1|14=0|151=10|6=0|!41|!32|!31|!99"
        ),
    );
    keep(&new);
    let order_id = new.field(37).to_string();
    assert_ne!(order_id, "NONE");
    c1.expect_nothing(200);

    let sell = c2.limit('2', "4", "50.00");
    keep(&report(&mut c2, &format!("11={sell}|150=0|39=0|151=4")));
    let agg = report(
        &mut c2,
        &format!("11={sell}|150=F|39=2|32=4|31=50.25|14=4|151=0|6=50.25|851=2"),
    );
    keep(&agg);
    let rest = report(
        &mut c1,
        &format!("37={order_id}|11={buy}|150=F|39=1|32=4|31=50.25|14=4|151=6|6=50.25|851=1"),
    );
    keep(&rest);
    same_trade(&agg, &rest);
    assert_ne!(agg.field(37), rest.field(37));

    let sell2 = c2.limit('2', "6", "50.25");
    keep(&report(&mut c2, &format!("11={sell2}|150=0")));
    let agg2 = report(
        &mut c2,
        &format!("11={sell2}|150=F|39=2|32=6|31=50.25|14=6|151=0"),
    );
    keep(&agg2);
    let rest2 = report(
        &mut c1,
        &format!("37={order_id}|11={buy}|150=F|39=2|32=6|31=50.25|14=10|151=0|6=50.25|851=1"),
    );
    keep(&rest2);
    same_trade(&agg2, &rest2);
    assert_ne!(
        agg.field(527),
        agg2.field(527),
        "two trades, one match id (SecondaryExecID)"
    );

    // Done: status says filled; nothing more arrives on either side.
    let req = c1.status(&buy, '1');
    keep(&report(
        &mut c1,
        &format!("37={order_id}|11={buy}|150=I|39=2|14=10|151=0|6=50.25|790={req}"),
    ));
    c1.expect_nothing(300);
    c2.expect_nothing(300);
}

#[test]
fn an_aggressor_sweeping_two_levels_gets_one_fill_per_trade_at_the_resting_prices() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let s1 = c1.limit('2', "5", "60.00");
    report(&mut c1, &format!("11={s1}|150=0"));
    let s2 = c1.limit('2', "5", "60.10");
    report(&mut c1, &format!("11={s2}|150=0"));
    let b = c2.limit('1', "12", "60.10");
    report(&mut c2, &format!("11={b}|150=0"));
    let f1 = report(&mut c2, &format!("11={b}|150=F|39=1|32=5|31=60|14=5|151=7"));
    let f2 = report(
        &mut c2,
        &format!("11={b}|150=F|39=1|32=5|31=60.1|14=10|151=2|6=60.05"),
    );
    c2.expect_nothing(300);
    let r1 = report(&mut c1, &format!("11={s1}|150=F|39=2|32=5|31=60"));
    let r2 = report(&mut c1, &format!("11={s2}|150=F|39=2|32=5|31=60.1"));
    same_trade(&f1, &r1);
    same_trade(&f2, &r2);
    // The remainder rests at 60.10.
    let req = c2.status(&b, '1');
    report(
        &mut c2,
        &format!("11={b}|150=I|39=1|14=10|151=2|44=60.1|790={req}"),
    );
}

#[test]
fn cancel_replace_and_too_late_to_cancel() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");

    // Replace, then cancel by the new ClOrdID.
    let a = c1.limit('1', "10", "40.00");
    let oid = report(&mut c1, &format!("11={a}|150=0"))
        .field(37)
        .to_string();
    let a2 = c1.replace(&a, '1', "20", "40.10");
    let rep = report(
        &mut c1,
        &format!("37={oid}|11={a2}|41={a}|150=5|39=0|38=20|44=40.1|14=0|151=20"),
    );
    assert!(rep.get(17).is_some());
    let x = c1.cancel(&a2, '1');
    report(
        &mut c1,
        &format!("37={oid}|11={x}|41={a2}|150=4|39=4|14=0|151=0"),
    );
    // Cancel again: too late (102=0), 39 its final status.
    let x2 = c1.cancel(&a2, '1');
    c1.expect(&format!("35=9|37={oid}|11={x2}|41={a2}|434=1|102=0|39=4"));
    // Unknown order.
    let x3 = c1.cancel("NOSUCHORDER", '1');
    c1.expect(&format!("35=9|11={x3}|41=NOSUCHORDER|434=1|102=1|39=8"));
    let x4 = c1.replace("NOSUCHORDER", '1', "5", "40");
    c1.expect(&format!("35=9|11={x4}|41=NOSUCHORDER|434=2|102=1|39=8"));

    // Replace of a partially filled order keeps CumQty.
    let b = c1.limit('1', "10", "41.00");
    let boid = report(&mut c1, &format!("11={b}|150=0"))
        .field(37)
        .to_string();
    let s = c2.limit('2', "4", "41.00");
    report(&mut c2, &format!("11={s}|150=0"));
    report(&mut c2, &format!("11={s}|150=F|39=2"));
    report(&mut c1, &format!("11={b}|150=F|39=1|14=4|151=6"));
    let b2 = c1.replace(&b, '1', "12", "40.90");
    report(
        &mut c1,
        &format!("37={boid}|11={b2}|41={b}|150=5|39=1|38=12|44=40.9|14=4|151=8|6=41"),
    );

    // Fill it fully, then cancel and replace: too late (102=0, 39=2).
    let s2 = c2.limit('2', "8", "40.90");
    report(&mut c2, &format!("11={s2}|150=0"));
    report(&mut c2, &format!("11={s2}|150=F|39=2"));
    report(
        &mut c1,
        &format!("37={boid}|11={b2}|150=F|39=2|14=12|151=0"),
    );
    let x5 = c1.cancel(&b2, '1');
    c1.expect(&format!("35=9|37={boid}|11={x5}|41={b2}|434=1|102=0|39=2"));
    let x6 = c1.replace(&b2, '1', "20", "40.90");
    c1.expect(&format!("35=9|37={boid}|11={x6}|41={b2}|434=2|102=0|39=2"));

    // A cancel whose ClOrdID is a live order's: 102=6.
    let d1 = c1.limit('1', "1", "30.00");
    report(&mut c1, &format!("11={d1}|150=0"));
    let d2 = c1.limit('1', "1", "30.01");
    report(&mut c1, &format!("11={d2}|150=0"));
    c1.send(&format!(
        "35=F|11={d2}|41={d1}|55=ZVZZT|54=1|60={}|",
        in_seconds(0)
    ));
    c1.expect(&format!("35=9|11={d2}|41={d1}|434=1|102=6"));
    c1.expect_nothing(300);
    c2.expect_nothing(100);
}

#[test]
fn the_fill_wins_the_race_against_a_cancel_or_the_cancel_wins() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    for round in 0..5 {
        let price = format!("70.{round:02}");
        let b = c1.limit('1', "5", &price);
        report(&mut c1, &format!("11={b}|150=0"));
        let s = c2.limit('2', "5", &price);
        let x = c1.cancel(&b, '1');
        let first = c1.expect("35=*");
        if first.is("35=8|150=4") {
            // The cancel won: the sell rests; take it back.
            assert!(
                first.is(&format!("11={x}|41={b}|39=4|14=0")),
                "{}",
                first.text()
            );
            report(&mut c2, &format!("11={s}|150=0|39=0"));
            let y = c2.cancel(&s, '2');
            report(&mut c2, &format!("11={y}|150=4"));
        } else {
            // The fill won: the fill first, then a cancel reject with 102=0.
            assert!(
                first.is(&format!("35=8|11={b}|150=F|39=2")),
                "{}",
                first.text()
            );
            c1.expect(&format!("35=9|11={x}|41={b}|434=1|102=0|39=2"));
            report(&mut c2, &format!("11={s}|150=0"));
            report(&mut c2, &format!("11={s}|150=F|39=2"));
        }
        c1.expect_nothing(100);
        c2.expect_nothing(100);
    }
}

#[test]
fn ioc_fok_post_only_and_market_orders() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");

    let s = c1.limit('2', "4", "80.00");
    report(&mut c1, &format!("11={s}|150=0"));
    // IOC: partial, rest canceled.
    let ioc = c2.new_order("55=ZVZZT|54=1|38=10|40=2|44=80|59=3|");
    report(&mut c2, &format!("11={ioc}|150=0|59=3"));
    report(&mut c2, &format!("11={ioc}|150=F|39=1|32=4|14=4|151=6"));
    report(&mut c2, &format!("11={ioc}|150=4|39=4|14=4|151=0|6=80"));
    report(&mut c1, &format!("11={s}|150=F|39=2"));
    // IOC meeting nothing.
    let ioc2 = c2.new_order("55=ZVZZT|54=1|38=10|40=2|44=80|59=3|");
    report(&mut c2, &format!("11={ioc2}|150=0"));
    report(&mut c2, &format!("11={ioc2}|150=4|39=4|14=0|151=0"));
    c2.expect_nothing(200);

    // FOK: not fillable in full, killed; fillable, filled.
    let s2 = c1.limit('2', "4", "81.00");
    report(&mut c1, &format!("11={s2}|150=0"));
    let fok = c2.new_order("55=ZVZZT|54=1|38=5|40=2|44=81|59=4|");
    let first = c2.expect("35=8");
    if first.is("150=0") {
        report(&mut c2, &format!("11={fok}|150=4|39=4|14=0|151=0"));
    } else {
        assert!(
            first.is(&format!("11={fok}|150=4|39=4|14=0")),
            "{}",
            first.text()
        );
    }
    c1.expect_nothing(200);
    let fok2 = c2.new_order("55=ZVZZT|54=1|38=4|40=2|44=81|59=4|");
    report(&mut c2, &format!("11={fok2}|150=0"));
    report(&mut c2, &format!("11={fok2}|150=F|39=2|14=4|31=81"));
    report(&mut c1, &format!("11={s2}|150=F|39=2"));

    // Post-only: crossing refused (103=99), passive rests.
    let s3 = c1.limit('2', "5", "82.00");
    report(&mut c1, &format!("11={s3}|150=0"));
    let po = c2.new_order("55=ZVZZT|54=1|38=5|40=2|44=82|59=1|18=6|");
    let rej = report(
        &mut c2,
        &format!("37=*|11={po}|150=8|39=8|103=99|14=0|151=0|6=0|58=*"),
    );
    let _ = rej;
    let po2 = c2.new_order("55=ZVZZT|54=1|38=5|40=2|44=81.99|59=1|18=6|");
    report(&mut c2, &format!("11={po2}|150=0|39=0|151=5"));
    c1.expect_nothing(200);

    // Market order: takes 82.00 (the best offer), no Price on its reports.
    let mkt = c2.new_order("55=ZVZZT|54=1|38=5|40=1|");
    report(&mut c2, &format!("11={mkt}|150=0|40=1|!44"));
    let f = report(
        &mut c2,
        &format!("11={mkt}|150=F|39=2|40=1|!44|32=5|31=82|851=2"),
    );
    let r = report(&mut c1, &format!("11={s3}|150=F|39=2|31=82"));
    same_trade(&f, &r);
}

#[test]
fn a_stop_rests_untriggered_then_triggers_on_a_trade_at_its_price_and_fills() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let s1 = c1.limit('2', "1", "90.00");
    report(&mut c1, &format!("11={s1}|150=0"));
    let s2 = c1.limit('2', "5", "90.50");
    report(&mut c1, &format!("11={s2}|150=0"));
    let stop = c2.new_order("55=ZVZZT|54=1|38=5|40=3|99=90|59=1|");
    let stop_id = report(
        &mut c2,
        &format!("11={stop}|150=0|39=0|40=3|99=90|!44|151=5"),
    )
    .field(37)
    .to_string();
    c2.expect_nothing(300);
    c1.expect_nothing(100);
    let b = c2.limit('1', "1", "90.00");
    report(&mut c2, &format!("11={b}|150=0"));
    report(&mut c2, &format!("11={b}|150=F|39=2|31=90"));
    // No 150=L in standard FIX 4.4 (VenueExtensions=N): the stop goes straight to its fill.
    let f = report(
        &mut c2,
        &format!("37={stop_id}|11={stop}|150=F|39=2|32=5|31=90.5|14=5|151=0"),
    );
    report(&mut c1, &format!("11={s1}|150=F|39=2|31=90"));
    let r = report(&mut c1, &format!("11={s2}|150=F|39=2|31=90.5"));
    same_trade(&f, &r);
}

#[test]
fn a_gtd_order_expires_shortly_after_its_expire_time() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let gtd = c1.new_order(&format!(
        "55=ZVZZT|54=1|38=3|40=2|44=20|59=6|126={}|",
        in_seconds(2)
    ));
    let oid = report(&mut c1, &format!("11={gtd}|150=0|39=0|59=6"))
        .field(37)
        .to_string();
    c1.expect_nothing(1000);
    report(&mut c1, &format!("37={oid}|11={gtd}|150=C|39=C|14=0|151=0"));
    let req = c1.status(&gtd, '1');
    report(&mut c1, &format!("37={oid}|150=I|39=C|790={req}"));
}

#[test]
fn every_gateway_reject_code() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let cases: [(&str, &str); 8] = [
        ("55=NOSUCHSYM|54=1|38=10|40=2|44=5|59=1|", "1"),
        ("55=ZVZZT|54=1|40=2|44=5|59=1|", "13"),
        ("55=ZVZZT|54=1|38=0|40=2|44=5|59=1|", "13"),
        ("55=ZVZZT|54=1|38=10|40=2|44=5.015|59=1|", "99"),
        ("55=ZVZZT|54=1|38=1.5|40=2|44=5|59=1|", "13"),
        // The collar is the engine's check: the order may have an OrderID by then.
        ("55=ZVZZT|54=1|38=10|40=2|44=20000|59=1|", "99"),
        ("1=NOTMINE|55=ZVZZT|54=1|38=10|40=2|44=5|59=1|", "15"),
        ("1=ACC1|55=ZVZZT|54=1|38=10|40=2|44=5|59=1|", "15"),
    ];
    for (fields, code) in cases {
        let id = c1.new_order(fields);
        let m = report(
            &mut c1,
            &format!("37=*|11={id}|150=8|39=8|103={code}|14=0|151=0|6=0|58=*"),
        );
        assert!(!m.field(58).is_empty(), "{}", m.text());
    }
    // Duplicate ClOrdID of a live order.
    let live = c1.limit('1', "10", "5.00");
    let oid = report(&mut c1, &format!("11={live}|150=0"))
        .field(37)
        .to_string();
    c1.send(&format!(
        "35=D|11={live}|60={}|55=ZVZZT|54=1|38=20|40=2|44=5.01|59=1|",
        in_seconds(0)
    ));
    report(
        &mut c1,
        &format!("37=NONE|11={live}|150=8|39=8|103=6|14=0|151=0|6=0|58=*"),
    );
    let req = c1.status(&live, '1');
    report(
        &mut c1,
        &format!("37={oid}|150=I|39=0|38=10|44=5|790={req}"),
    );
    c1.expect_nothing(300);

    // A session with two accounts trades either, not a third; without Account, the first.
    let mut m = venue.client("MULTI");
    let a1 = m.new_order("1=ACC2|55=ZVZZT|54=1|38=1|40=2|44=5|59=1|");
    report(&mut m, &format!("11={a1}|150=0|1=ACC2"));
    let a2 = m.new_order("55=ZVZZT|54=1|38=1|40=2|44=5|59=1|");
    report(&mut m, &format!("11={a2}|150=0|1=ACC1"));
    let a3 = m.new_order("1=CLIENT1|55=ZVZZT|54=1|38=1|40=2|44=5|59=1|");
    report(&mut m, &format!("11={a3}|150=8|103=15"));
}

#[test]
fn status_and_mass_status() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    // None live: one report, 911=0, 912=Y.
    let req0 = id("MS");
    c1.send(&format!("35=AF|584={req0}|585=7|"));
    c1.expect(&format!("35=8|150=I|584={req0}|911=0|912=Y"));
    c1.expect_nothing(200);

    let a = c1.limit('1', "10", "10.00");
    let oa = report(&mut c1, &format!("11={a}|150=0"))
        .field(37)
        .to_string();
    let b = c1.limit('2', "3", "900.00");
    let ob = report(&mut c1, &format!("11={b}|150=0"))
        .field(37)
        .to_string();
    let req = c1.status(&a, '1');
    report(
        &mut c1,
        &format!("37={oa}|11={a}|150=I|39=0|14=0|151=10|6=0|38=10|44=10|790={req}"),
    );
    // Unknown order: 150=I 39=8.
    let req2 = c1.status("NOSUCHORDER", '1');
    c1.expect(&format!("35=8|150=I|39=8|11=NOSUCHORDER|790={req2}"));

    let ms = id("MS");
    c1.send(&format!("35=AF|584={ms}|585=7|"));
    let r1 = report(&mut c1, &format!("150=I|584={ms}|911=2"));
    let r2 = report(&mut c1, &format!("150=I|584={ms}|911=2|912=Y"));
    assert_ne!(
        r1.get(912),
        Some("Y"),
        "912=Y before the last: {}",
        r1.text()
    );
    let mut ids = [r1.field(37).to_string(), r2.field(37).to_string()];
    ids.sort();
    let mut want = [oa.clone(), ob.clone()];
    want.sort();
    assert_eq!(ids, want);
    c1.expect_nothing(300);

    // Another session's orders are not in this session's mass status.
    let mut c2 = venue.client("CLIENT2");
    let ms2 = id("MS");
    c2.send(&format!("35=AF|584={ms2}|585=7|"));
    c2.expect(&format!("35=8|150=I|584={ms2}|911=0|912=Y"));
}

#[test]
fn mass_cancel_cancels_only_the_sessions_own_orders() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let a = c1.limit('1', "10", "10.00");
    let oa = report(&mut c1, &format!("11={a}|150=0"))
        .field(37)
        .to_string();
    let b = c1.limit('2', "10", "900.00");
    let ob = report(&mut c1, &format!("11={b}|150=0"))
        .field(37)
        .to_string();
    let c = c2.limit('1', "10", "10.01");
    let oc = report(&mut c2, &format!("11={c}|150=0"))
        .field(37)
        .to_string();

    let q = c1.mass_cancel_all();
    c1.expect(&format!("35=r|11={q}|530=7|531=7|533=2"));
    let x1 = report(&mut c1, "150=4|39=4|14=0|151=0");
    let x2 = report(&mut c1, "150=4|39=4|14=0|151=0");
    let mut got = [x1.field(37).to_string(), x2.field(37).to_string()];
    got.sort();
    let mut want = [oa, ob];
    want.sort();
    assert_eq!(got, want);
    c1.expect_nothing(300);
    c2.expect_nothing(100);
    let req = c2.status(&c, '1');
    report(&mut c2, &format!("37={oc}|150=I|39=0|790={req}"));

    // By symbol (530=1).
    let q2 = id("Q");
    c2.send(&format!(
        "35=q|11={q2}|530=1|55=ZVZZT|60={}|",
        in_seconds(0)
    ));
    c2.expect(&format!("35=r|11={q2}|530=1|531=1|533=1"));
    report(&mut c2, &format!("37={oc}|150=4|39=4"));
    // Nothing live.
    let q3 = c2.mass_cancel_all();
    c2.expect(&format!("35=r|11={q3}|531=7|533=0"));
    c2.expect_nothing(300);
}

#[test]
fn business_message_rejects() {
    let venue = Venue::start();
    let mut md = venue.client("MDCLIENT1");
    md.new_order("55=ZVZZT|54=1|38=1|40=2|44=5|59=1|");
    let seq = md.next_out() - 1;
    md.expect(&format!("35=j|45={seq}|372=D|380=6"));
    md.expect_nothing(200);

    let mut c1 = venue.client("CLIENT1");
    c1.send("35=H|11=X|790=R1|55=NOSUCHSYM|54=1|");
    let seq = c1.next_out() - 1;
    c1.expect(&format!("35=j|45={seq}|372=H|380=2"));
    c1.send("35=AF|584=R2|585=1|55=NOSUCHSYM|");
    let seq = c1.next_out() - 1;
    c1.expect(&format!("35=j|45={seq}|372=AF|380=2"));
    c1.expect_nothing(200);
}

/// Cancel-on-disconnect: the orders are canceled when the connection drops; the reports wait in the store and
/// reach the client by resend after its next Logon.
fn cancel_on_disconnect(name: &str, logon_extra: &str) {
    let venue = Venue::start();
    let mut c = Fix::new(name);
    c.set_next_out(1);
    c.set_next_in(1);
    let logon = c.logon_with(venue.port(), &format!("141=Y|{logon_extra}"));
    assert_eq!(logon.seq(), 1);
    c.set_next_in(2);
    let a = c.limit('1', "10", "10.00");
    let oa = report(&mut c, &format!("11={a}|150=0"))
        .field(37)
        .to_string();
    let b = c.limit('2', "10", "900.00");
    let ob = report(&mut c, &format!("11={b}|150=0"))
        .field(37)
        .to_string();
    c.drop_connection();
    let (_, resent) = c.logon_recover(venue.port());
    let mut cancels: Vec<Msg> = resent.into_iter().filter(|m| m.is("35=8|150=4")).collect();
    // The venue handles the disconnect on its own time: reports it stored before this Logon came by resend,
    // any later ones come live. Either way each canceled order is reported once.
    while cancels.len() < 2 {
        let m = c.expect("35=8|150=4");
        cancels.push(m);
    }
    let mut got: Vec<&str> = cancels.iter().map(|m| m.field(37)).collect();
    got.sort();
    let mut want = [oa.as_str(), ob.as_str()];
    want.sort();
    assert_eq!(got, want);
    for m in &cancels {
        assert!(m.is("39=4|14=0|151=0"), "{}", m.text());
    }
    let req = c.status(&a, '1');
    report(&mut c, &format!("11={a}|150=I|39=4|790={req}"));
}

#[test]
fn cancel_on_disconnect_by_session_configuration() {
    cancel_on_disconnect("COD1", "");
}

#[test]
fn cancel_on_disconnect_by_logon_tag_5001() {
    cancel_on_disconnect("COD2", "5001=Y|");
}

#[test]
fn without_cancel_on_disconnect_orders_survive_a_disconnect() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let a = c1.limit('1', "10", "10.00");
    report(&mut c1, &format!("11={a}|150=0"));
    c1.drop_connection();
    std::thread::sleep(Duration::from_millis(300));
    c1.logon(venue.port());
    let req = c1.status(&a, '1');
    report(&mut c1, &format!("11={a}|150=I|39=0|151=10|790={req}"));
}

#[test]
fn throttle_rejects_then_logs_out_and_refuses_logon_during_the_cool_down() {
    let venue = Venue::start();
    let mut t = venue.client("THROTTLED");
    // Burst of 5 allowed; 20 at once: BusinessMessageRejects naming the throttle, then a Logout. Each request
    // carries its MsgSeqNum in OrdStatusReqID, so every answer can be matched with its request.
    let first = t.next_out();
    for _ in 0..20 {
        let n = t.next_out();
        t.send(&format!("35=H|11=NOSUCHORDER|790=R{n}|55=ZVZZT|54=1|"));
    }
    let last = t.next_out() - 1;
    let mut seen = Vec::new();
    let mut logout = false;
    while let Some(m) = t.recv(Duration::from_secs(5)) {
        logout |= m.msg_type() == "5";
        seen.push(m);
    }
    assert!(logout, "no Logout: {seen:#?}");
    let logouts = seen.iter().filter(|m| m.msg_type() == "5").count();
    assert_eq!(logouts, 1, "one Logout expected: {seen:#?}");
    let throttled: Vec<Msg> = seen
        .iter()
        .filter(|m| m.msg_type() == "j")
        .cloned()
        .collect();
    assert!(throttled.len() >= 5, "{seen:#?}");
    for m in &throttled {
        assert!(
            m.field(58).to_lowercase().contains("throttl") && m.is("372=H|45=*|380=*"),
            "a reject not naming the throttle: {}",
            m.text()
        );
    }
    // During the cool-down (3 s) a Logon is refused.
    t.connect(venue.port());
    let seq = t.next_out();
    t.send("35=A|98=0|108=30|");
    let (closed, refused) = t.closed_within(Duration::from_secs(5));
    assert!(closed, "still connected");
    assert!(
        refused.iter().all(|m| m.msg_type() != "A"),
        "Logon accepted during the cool-down: {refused:?}"
    );
    t.set_next_out(seq);
    for m in refused.iter() {
        t.set_next_in(t.next_in().max(m.seq() + 1));
    }
    // After it, the session logs on again with its numbers; whatever was answered while it went is resent.
    std::thread::sleep(Duration::from_secs(4));
    let (_, resent) = t.logon_recover(venue.port());
    seen.extend(resent);
    while let Some(m) = t.recv(Duration::from_millis(500)) {
        seen.push(m);
    }
    // Every request up to the last one throttled has exactly one first answer: a 150=I or a throttle reject.
    let last_throttled = throttled
        .iter()
        .map(|m| m.field(45).parse::<u64>().unwrap())
        .max()
        .unwrap();
    for n in first..=last {
        let answers = seen
            .iter()
            .filter(|m| m.is(&format!("35=8|150=I|790=R{n}")) || m.is(&format!("35=j|45={n}")))
            .count();
        if n <= last_throttled {
            assert_eq!(answers, 1, "request {n}: {answers} answers in {seen:#?}");
        } else {
            assert!(answers <= 1, "request {n}: {answers} answers in {seen:#?}");
        }
    }
    t.send("35=H|11=NOSUCHORDER|790=AFTER|55=ZVZZT|54=1|");
    t.expect("35=8|150=I|39=8|790=AFTER");
}

#[test]
fn the_throttle_logout_comes_right_after_the_reject_that_passes_the_limit() {
    let venue = Venue::start();
    let mut t = venue.client("THROTTLED");
    // ThrottleMaxRejects=5 counts rejects within one second of the venue's clock: start early in a second.
    let subsec_ms = u64::from(chrono::Utc::now().timestamp_subsec_millis());
    if subsec_ms > 100 {
        std::thread::sleep(Duration::from_millis(1_000 - subsec_ms));
    }
    for _ in 0..20 {
        let n = t.next_out();
        t.send(&format!("35=H|11=NOSUCHORDER|790=R{n}|55=ZVZZT|54=1|"));
    }
    let mut before_logout = Vec::new();
    while let Some(m) = t.recv(Duration::from_secs(5)) {
        if m.msg_type() == "5" {
            break;
        }
        before_logout.push(m);
    }
    let rejects = before_logout.iter().filter(|m| m.msg_type() == "j").count();
    assert_eq!(
        rejects, 6,
        "ThrottleMaxRejects=5: the sixth reject brings the Logout: {before_logout:#?}"
    );
    assert_eq!(
        before_logout.last().map(Msg::msg_type),
        Some("j"),
        "{before_logout:#?}"
    );
}
