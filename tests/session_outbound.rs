//! The application layer's way out: `VenueHandle::send` (called from a plain thread, as the gateway's). Connected,
//! a message goes through the session's queue; disconnected, it is numbered and logged and reaches the client by
//! resend after its Logon; a client that stops reading lets its queue pass its bound and is disconnected, while
//! the sender never waits and nothing sent is lost.

use std::time::Duration;

use fixvenue::net::{SendError, VenueHandle};
use session::Routing;
use session::app::AppMessage;
use session::config;
use testkit::{Client, Endpoint, Msg};
use tokio::sync::watch;

struct Venue {
    port: u16,
    handle: VenueHandle,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), fixvenue::net::ServeError>>,
    _data: tempfile::TempDir,
}

async fn start() -> Venue {
    let settings = config::parse(
        "out.cfg",
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=1\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = fixvenue::runtime::bind(&settings, data.path())
        .await
        .unwrap();
    let port = server.local_addrs()[0].addr.port();
    let handle = server.handle();
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(rx));
    Venue {
        port,
        handle,
        shutdown,
        task,
        _data: data,
    }
}

fn report(id: &str, filler: usize) -> AppMessage {
    AppMessage {
        msg_type: b"8".to_vec(),
        routing: Routing::default(),
        body: format!("37={id}\x0117={id}\x0158={}\x01", "x".repeat(filler)).into_bytes(),
    }
}

/// How long the client waits for each message.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// CLIENT1 connected, its Logon (numbered 1) sent.
async fn logon(port: u16) -> Client {
    let mut c = Client::new("CLIENT1", "FIXVENUE");
    c.connect(&Endpoint::local(port)).await.unwrap();
    c.send("35=A|98=0|108=30|").await.unwrap();
    c
}

/// The next message, or `None` at EOF.
async fn recv(c: &mut Client) -> Option<Msg> {
    c.recv_or_eof(ANSWER_WAIT).await.unwrap()
}

/// `VenueHandle::send` from a plain thread, as the gateway calls it.
async fn send(handle: &VenueHandle, client: &str, msg: AppMessage) -> Result<(), SendError> {
    let (handle, client) = (handle.clone(), client.to_owned());
    tokio::task::spawn_blocking(move || handle.send("FIXVENUE", &client, msg))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_messages_are_stored_and_connected_ones_delivered() {
    let v = start().await;
    send(&v.handle, "CLIENT1", report("A", 0)).await.unwrap();
    send(&v.handle, "CLIENT1", report("B", 0)).await.unwrap();
    assert!(matches!(
        send(&v.handle, "NOBODY", report("C", 0)).await,
        Err(SendError::UnknownSession(_))
    ));
    let mut c = logon(v.port).await;
    let logon = recv(&mut c).await.unwrap();
    assert!(logon.is("35=A|34=3"), "{logon}");
    // The client sees the gap 1..=2 and asks for it.
    c.send("35=2|7=1|16=2|").await.unwrap();
    let a = recv(&mut c).await.unwrap();
    let b = recv(&mut c).await.unwrap();
    assert!(a.is("34=1|43=Y|37=A"), "{a}");
    assert!(b.is("34=2|37=B"), "{b}");
    // Connected: straight through the queue.
    send(&v.handle, "CLIENT1", report("C", 0)).await.unwrap();
    let m = recv(&mut c).await.unwrap();
    assert!(m.is("34=4|37=C|!43"), "{m}");
    v.shutdown.send(true).unwrap();
    let logout = recv(&mut c).await.unwrap();
    assert!(logout.is("35=5"), "{logout}");
    drop(c);
    v.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_without_stalling_the_sender_or_losing_a_message()
 {
    let v = start().await;
    let mut c = logon(v.port).await;
    recv(&mut c).await.unwrap();
    // The client reads nothing more. Large messages fill the socket buffers, then pass the queue's bound.
    let count = 3 * fixvenue::net::OUTBOUND_QUEUE_MAX;
    let handle = v.handle.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..count {
            // Never refused, never waited for: the sender (the gateway) must not stall on one session.
            handle
                .send("FIXVENUE", "CLIENT1", report(&format!("R{i}"), 4000))
                .unwrap();
        }
    })
    .await
    .unwrap();
    // The connection is closed: reading what was sent ends at EOF.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        // Messages (and silence) until the end: only the end of the connection stops the loop.
        while c.recv_raw(ANSWER_WAIT).await.is_ok() {}
    })
    .await;
    assert!(closed.is_ok(), "the slow consumer was not disconnected");
    // Every message was numbered (sent, or kept for resend): the venue's next number is past all of them (its
    // answer to a new connection, whatever it says about the client's own numbers).
    let mut c = logon(v.port).await;
    let answer = recv(&mut c).await.unwrap();
    let seq: usize = answer.get(34).unwrap().parse().unwrap();
    assert!(seq > count + 1, "{answer}");
    v.shutdown.send(true).unwrap();
    drop(c);
    v.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_longer_than_one_page_is_served_in_order() {
    let v = start().await;
    let count = session::RESEND_BATCH_MAX + 200;
    let handle = v.handle.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..count {
            handle
                .send("FIXVENUE", "CLIENT1", report(&format!("P{i}"), 0))
                .unwrap();
        }
    })
    .await
    .unwrap();
    let mut c = logon(v.port).await;
    let logon = recv(&mut c).await.unwrap();
    assert!(logon.is(&format!("34={}", count + 1)), "{logon}");
    c.send("35=2|7=1|16=0|").await.unwrap();
    for i in 0..count {
        let m = recv(&mut c).await.unwrap();
        assert!(m.is(&format!("34={}|37=P{i}", i + 1)), "{i}: {m}");
    }
    let fill = recv(&mut c).await.unwrap();
    assert!(fill.is(&format!("35=4|36={}", count + 2)), "{fill}");
    v.shutdown.send(true).unwrap();
    drop(c);
    v.task.await.unwrap().unwrap();
}
