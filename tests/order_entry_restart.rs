//! Order entry across a restart of the real `fixvenue` binary: a GTC order resting when the venue is stopped
//! (SIGTERM, and separately SIGKILL) is still there after a start on the same data directory, the sequence
//! numbers of both sides continue, and a fill that happened while its owner was logged out reaches it by resend
//! at its next Logon.

use testkit::blocking::{Fix, check_report};
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
";

fn restart_keeps_orders_numbers_and_delivers_missed_fills(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);

    let mut c1 = Fix::new("CLIENT1");
    c1.logon_reset(venue.port);
    let mut c2 = Fix::new("CLIENT2");
    c2.logon_reset(venue.port);
    let buy = c1.limit('1', "10", "55.00");
    let new = c1.expect(&format!("35=8|11={buy}|150=0|39=0|151=10"));
    check_report(&new);
    let order_id = new.field(37).to_string();
    let exec_id = new.field(17).to_string();

    // Stop the venue with CLIENT1 and CLIENT2 logged on.
    let status = venue.stop(signal);
    if signal == "TERM" {
        assert!(status.success(), "{status:?}");
        // SIGTERM: each session got a Logout first (numbered), then the connection closed.
        for c in [&mut c1, &mut c2] {
            let (closed, seen) = c.closed_within(std::time::Duration::from_secs(5));
            assert!(closed);
            for m in &seen {
                assert_eq!(m.seq(), c.next_in(), "{}", m.text());
                c.set_next_in(c.next_in() + 1);
            }
            assert!(seen.iter().any(|m| m.msg_type() == "5"), "{seen:?}");
        }
    } else {
        c1.drop_connection();
        c2.drop_connection();
    }
    drop(venue);

    // Start again on the same data directory.
    let venue = VenueProcess::start(&cfg, &data);
    // CLIENT1 logs on with its numbers (no reset): the venue's numbers continue, no gap.
    c1.logon(venue.port);
    let req = c1.status(&buy, '1');
    let st = c1.expect(&format!(
        "35=8|37={order_id}|11={buy}|150=I|39=0|14=0|151=10|38=10|44=55|790={req}"
    ));
    check_report(&st);
    assert_ne!(st.field(17), exec_id, "ExecID reused after the restart");
    c1.logout();

    // While CLIENT1 is away, CLIENT2 trades against its order.
    c2.logon(venue.port);
    let sell = c2.limit('2', "10", "55.00");
    c2.expect(&format!("35=8|11={sell}|150=0"));
    let agg = c2.expect(&format!("35=8|11={sell}|150=F|39=2|32=10|31=55"));
    check_report(&agg);
    assert_ne!(agg.field(17), exec_id);

    // CLIENT1's next Logon shows a gap; the ResendRequest brings the fill.
    let (_, resent) = c1.logon_recover(venue.port);
    let fills: Vec<_> = resent.iter().filter(|m| m.is("35=8|150=F")).collect();
    assert_eq!(fills.len(), 1, "resent: {resent:#?}");
    let fill = fills[0];
    assert!(
        fill.is(&format!(
            "37={order_id}|11={buy}|39=2|32=10|31=55|14=10|151=0|851=1"
        )),
        "{}",
        fill.text()
    );
    assert_eq!(
        fill.field(527),
        agg.field(527),
        "the match id (527) differs across the sides"
    );
    check_report(fill);
    let req = c1.status(&buy, '1');
    c1.expect(&format!(
        "35=8|37={order_id}|150=I|39=2|14=10|151=0|790={req}"
    ));
    c1.logout();
    c2.logout();
}

#[test]
fn sigterm_restart_keeps_orders_numbers_and_delivers_missed_fills() {
    restart_keeps_orders_numbers_and_delivers_missed_fills("TERM");
}

#[test]
fn sigkill_restart_keeps_orders_numbers_and_delivers_missed_fills() {
    restart_keeps_orders_numbers_and_delivers_missed_fills("KILL");
}
