//! sled is an index behind the logs: with `DATA_DIR/sessions` deleted, the venue rebuilds it from the session log
//! at start-up, so the numbers continue and a ResendRequest is served with the messages sent before.

mod support;

use std::time::Duration;

use fixvenue::runtime::start;
use support::{connect, order, trading_client1};
use tokio::sync::watch;

/// Generous: the machine may be loaded; nothing here waits on a timer of the venue's.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sled_index_is_rebuilt_from_the_session_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = trading_client1(dir.path());
    let (shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let mut c = connect(running.addrs[0].addr.port(), 1).await;
    c.send("35=A|98=0|108=30|").await.unwrap();
    assert!(c.recv_or_eof(WAIT).await.unwrap().unwrap().is("35=A|34=1"));
    c.send(&order("KEPT")).await.unwrap();
    let ack = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    assert!(ack.is("35=8|34=2|11=KEPT|150=0"), "{ack}");
    c.send("35=5|").await.unwrap();
    while c.recv_or_eof(WAIT).await.unwrap().is_some() {}
    shutdown.send(true).unwrap();
    running.done.await.unwrap().unwrap();

    std::fs::remove_dir_all(options.data_dir.join("sessions")).unwrap();
    let (shutdown, rx) = watch::channel(false);
    let running = start(&options, rx).await.unwrap();
    let mut c = connect(running.addrs[0].addr.port(), 4).await;
    c.send("35=A|98=0|108=30|").await.unwrap();
    let logon = c.recv_or_eof(WAIT).await.unwrap().unwrap();
    // Logon 1, the ack 2, the Logout 3: the venue goes on at 4 and expects our 4.
    assert!(logon.is("35=A|34=4"), "{logon}");
    c.send("35=2|7=1|16=0|").await.unwrap();
    let mut resent = Vec::new();
    while resent.len() < 2 {
        let m = c.recv_or_eof(WAIT).await.unwrap().expect("the resend");
        resent.push(m);
    }
    assert!(resent[0].is("35=4|34=1|123=Y|36=2"), "{}", resent[0]);
    assert!(
        resent[1].is("35=8|34=2|43=Y|11=KEPT|150=0"),
        "{}",
        resent[1]
    );
    c.send("35=5|").await.unwrap();
    shutdown.send(true).unwrap();
    running.done.await.unwrap().unwrap();
}
