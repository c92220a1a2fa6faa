//! Fault injection: the session log's fdatasync fails while a trading session is logged on. No acknowledgement of
//! an order taken after the failure reaches the client; the session is logged out saying why (or its connection
//! closed when even the Logout cannot be logged), and the venue stops with an error (a non-zero exit from `serve`).
//! Restarted on the same data dir, the venue rebuilds the order's acknowledgement from the journal (PossResend=Y,
//! by the ordinary gap and resend), and the order is in the book once, whatever the client resends.
//!
//! Its own test binary: the fault is switched on for every session log of the process.

mod support;

use std::time::Duration;

use fixvenue::runtime::start;
use support::{connect, order, resend_order, trading_client1};
use testkit::Endpoint;
use tokio::sync::watch;

/// Generous: the machine may be loaded; nothing here waits on a timer of the venue's.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_session_log_fdatasync_lets_no_acknowledgement_out_and_stops_the_venue() {
    let dir = tempfile::tempdir().unwrap();
    let options = trading_client1(dir.path());
    let (_shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let port = running.addrs[0].addr.port();

    let mut c = connect(port, 1).await;
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

    // The disk works again; the venue restarts on the same data dir.
    journal::wal::fault::clear();
    let (shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let port = running.addrs[0].addr.port();
    c.connect(&Endpoint::local(port)).await.unwrap();
    let logon_out = c.stamp.next_out;
    c.send("35=A|98=0|108=30|").await.unwrap();
    let mut acks_after = Vec::new();
    let mut asked = false;
    while acks_after.is_empty() {
        let m = c
            .recv_raw(WAIT)
            .await
            .unwrap()
            .expect("the venue answers within the wait");
        let seq: u64 = m.get(34).unwrap().parse().unwrap();
        match m.msg_type() {
            "A" => {
                // The venue's numbers went past what the client saw: ask for the gap (the rebuilt report).
                if seq > c.next_in && !asked {
                    asked = true;
                    let from = c.next_in;
                    c.send(&format!("35=2|7={from}|16=0|")).await.unwrap();
                }
                c.next_in = seq + 1;
            }
            "2" => {
                // The venue did not keep AFTER as taken: resend it (PossDup) as a FIX engine does; the rest of
                // the range is filled.
                let begin: u64 = m.get(7).unwrap().parse().unwrap();
                resend_order(&mut c, begin, logon_out, logon_out - 1, "AFTER").await;
            }
            "8" if m.is("11=AFTER") => acks_after.push(m),
            _ => {}
        }
    }
    let ack = &acks_after[0];
    assert!(ack.is("35=8|11=AFTER|39=0"), "{ack}");
    // Rebuilt from the journal (PossResend), or the answer to the resent order (a status report): never a second
    // entry, never a duplicate-ClOrdID reject.
    assert!(ack.is("97=Y") || ack.is("150=I"), "{ack}");
    c.send("35=H|11=AFTER|55=ZVZZT|54=1|").await.unwrap();
    loop {
        let m = c.recv_raw(WAIT).await.unwrap().expect("status answer");
        assert!(!m.is("35=8|11=AFTER|150=8"), "{m}");
        assert!(
            !m.is("35=8|11=AFTER|150=0|!97"),
            "a second acknowledgement: {m}"
        );
        if m.is("35=8|11=AFTER|150=I") && !m.is("43=Y") {
            assert!(
                m.is("39=0|151=10|14=0"),
                "the order is in the book once: {m}"
            );
            break;
        }
    }
    c.send("35=5|").await.unwrap();
    let _ = shutdown.send(true);
    running.done.await.unwrap().unwrap();
}
