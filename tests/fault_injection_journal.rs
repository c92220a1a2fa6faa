//! Fault injection: the journal's fdatasync fails while a trading session sends an order. The order is not
//! acknowledged, the venue stops with an error, and the client's MsgSeqNum of that order is not taken: restarted
//! on the same data dir, the venue asks for the order again (ResendRequest) and enters it from the client's
//! PossDup resend, once.
//!
//! Its own test binary: the fault is switched on for every journal of the process.

mod support;

use std::time::Duration;

use fixvenue::runtime::start;
use support::{connect, order, resend_order, trading_client1};
use testkit::Endpoint;
use tokio::sync::watch;

/// Generous: the machine may be loaded; nothing here waits on a timer of the venue's.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_command_never_reached_the_journal_is_asked_for_again_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = trading_client1(dir.path());
    let (_shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let mut c = connect(running.addrs[0].addr.port(), 1).await;
    c.send("35=A|98=0|108=30|").await.unwrap();
    assert!(c.recv_or_eof(WAIT).await.unwrap().unwrap().is("35=A"));
    c.send(&order("FIRST")).await.unwrap();
    let ack = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(ack.is("35=8|11=FIRST|150=0"), "{ack}");

    journal::wal::fault::fail_syncs("journal");
    let lost_seq = c.stamp.next_out;
    c.send(&order("LOST")).await.unwrap();
    // A Heartbeat after it: a session-level message whose number must not carry LOST's past the venue's log.
    c.send("35=0|").await.unwrap();
    let mut seen = Vec::new();
    while let Some(m) = c.recv_or_eof(WAIT).await.unwrap() {
        seen.push(m);
    }
    assert!(
        !seen.iter().any(|m| m.is("35=8|11=LOST")),
        "LOST was answered although its command never became durable: {seen:?}"
    );
    let stopped = tokio::time::timeout(WAIT, running.done)
        .await
        .expect("the venue stops on its own")
        .unwrap();
    assert!(stopped.is_err(), "the venue reports the journal failure");

    journal::wal::fault::clear();
    let (shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    c.connect(&Endpoint::local(running.addrs[0].addr.port()))
        .await
        .unwrap();
    let logon_out = c.stamp.next_out;
    c.send("35=A|98=0|108=30|").await.unwrap();
    let mut asked_from = None;
    let mut answers = Vec::new();
    while answers.is_empty() {
        let m = c.recv_raw(WAIT).await.unwrap().expect("the venue answers");
        match m.msg_type() {
            "A" => c.next_in = m.get(34).unwrap().parse::<u64>().unwrap() + 1,
            "2" => {
                let begin: u64 = m.get(7).unwrap().parse().unwrap();
                asked_from = Some(begin);
                resend_order(&mut c, begin, logon_out, lost_seq, "LOST").await;
            }
            "8" if m.is("11=LOST") => answers.push(m),
            _ => {}
        }
    }
    assert!(
        asked_from.is_some_and(|begin| begin <= lost_seq),
        "the venue did not ask for LOST (MsgSeqNum {lost_seq}) again: asked from {asked_from:?}"
    );
    assert!(answers[0].is("35=8|11=LOST|150=0|39=0"), "{}", answers[0]);
    c.send("35=5|").await.unwrap();
    let _ = shutdown.send(true);
    running.done.await.unwrap().unwrap();
}
