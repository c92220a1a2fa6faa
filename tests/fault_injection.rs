//! Fault injection: the session log's fdatasync fails while a trading session is logged on. No acknowledgement of
//! an order taken after the failure reaches the client; the session is logged out saying why (or its connection
//! closed when even the Logout cannot be logged), and the venue stops with an error (a non-zero exit from `serve`).
//!
//! Its own test binary: the fault is switched on for every session log of the process.

use std::time::Duration;

use fixvenue::runtime::{ServeOptions, start};
use testkit::{Client, Endpoint};
use tokio::sync::watch;

const SESSIONS_CFG: &str = "\
[DEFAULT]
BeginString=FIX.4.4
SenderCompID=FIXVENUE
SocketAcceptAddress=127.0.0.1
SocketAcceptPort=0
NonStopSession=Y
LogoutTimeout=1
SessionRole=trading

[SESSION]
TargetCompID=CLIENT1
";

/// Generous: the machine may be loaded; nothing here waits on a timer of the venue's.
const WAIT: Duration = Duration::from_secs(30);

fn order(id: &str) -> String {
    format!(
        "35=D|11={id}|55=ZVZZT|54=1|60={}|38=10|40=2|44=5.00|59=1|",
        chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_session_log_fdatasync_lets_no_acknowledgement_out_and_stops_the_venue() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let options = ServeOptions {
        sessions: vec![cfg],
        venue: None,
        data_dir: dir.path().join("data"),
    };
    let (_shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let port = running.addrs[0].addr.port();

    let mut c = Client::new("CLIENT1", "FIXVENUE");
    c.connect(&Endpoint::local(port)).await.unwrap();
    c.send("35=A|98=0|108=30|").await.unwrap();
    let logon = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(logon.is("35=A"), "{logon}");
    c.send(&order("BEFORE")).await.unwrap();
    let ack = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(ack.is("35=8|11=BEFORE|150=0"), "{ack}");

    journal::wal::fault::fail_syncs("sessionlog");
    c.send(&order("AFTER")).await.unwrap();
    // Whatever arrives until the connection closes: never an acknowledgement of AFTER; a Logout, if any, says
    // why.
    let mut seen = Vec::new();
    while let Some(m) = c.recv_or_eof(WAIT).await.unwrap() {
        seen.push(m);
    }
    assert!(
        !seen.iter().any(|m| m.is("35=8")),
        "an execution report left after the failure: {seen:?}"
    );
    for logout in seen.iter().filter(|m| m.is("35=5")) {
        let text = logout.get(58).unwrap_or_default();
        assert!(
            text.contains("failure") || text.contains("Store"),
            "{logout}"
        );
    }
    let stopped = tokio::time::timeout(WAIT, running.done)
        .await
        .expect("the venue stops on its own")
        .unwrap();
    let error = stopped.expect_err("the venue reports the failure");
    let chain = fixvenue::runtime::error_chain(&error);
    assert!(
        chain.contains("os error 5") || chain.contains("session log"),
        "{chain}"
    );
}
