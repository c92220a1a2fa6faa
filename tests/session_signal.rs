//! `fixvenue serve` on SIGTERM: every logged-on session gets a Logout, the store is flushed, the process exits 0;
//! the sequence numbers are there on the next start.

use std::time::Duration;

use testkit::blocking::Fix;
use testkit::venue::VenueProcess;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn sigterm_logs_sessions_out_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("signal.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=2\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);
    let mut c = Fix::new("CLIENT1");
    c.connect(venue.port);
    c.send("35=A|98=0|108=30|");
    assert_eq!(c.recv_raw(WAIT).unwrap().msg_type(), "A");
    venue.signal("TERM");
    let logout = c.recv_raw(WAIT).expect("a Logout on SIGTERM");
    assert!(logout.is("35=5|34=2"), "{logout}");
    c.send("35=5|");
    assert_eq!(c.recv_raw(WAIT), None);
    let exit = venue.wait();
    assert!(exit.success(), "{exit:?}");

    // The numbers were flushed: the next Logon continues at 3.
    let venue = VenueProcess::start(&cfg, &data);
    c.connect(venue.port);
    c.send("35=A|98=0|108=30|");
    let logon = c.recv_raw(WAIT).unwrap();
    assert!(logon.is("35=A|34=3"), "{logon}");
}
