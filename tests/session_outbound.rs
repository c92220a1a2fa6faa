//! The application layer's way out: `VenueHandle::send`. Connected, a message goes through the session's
//! bounded queue; disconnected, it is numbered and stored and reaches the client by resend after its Logon; a
//! client that stops reading fills the queue, the send is refused and the session is disconnected.

use std::time::Duration;

use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};
use fixvenue::net::{SendError, VenueHandle};
use session::Routing;
use session::app::AppMessage;
use session::config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

async fn logon(port: u16, seq: u64) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let now = chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f");
    let text = format!("35=A|49=CLIENT1|56=FIXVENUE|34={seq}|52={now}|98=0|108=30|");
    s.write_all(&from_text(&text)).await.unwrap();
    (s, Vec::new())
}

async fn recv(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Framed::Complete { len } = frame::check(buf, &FrameConfig::default()) {
            let msg: Vec<u8> = buf.drain(..len).collect();
            return Some(String::from_utf8_lossy(&msg).replace('\x01', "|"));
        }
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_messages_are_stored_and_connected_ones_delivered() {
    let v = start().await;
    v.handle
        .send("FIXVENUE", "CLIENT1", report("A", 0))
        .unwrap();
    v.handle
        .send("FIXVENUE", "CLIENT1", report("B", 0))
        .unwrap();
    assert!(matches!(
        v.handle.send("FIXVENUE", "NOBODY", report("C", 0)),
        Err(SendError::UnknownSession(_))
    ));
    let (mut s, mut buf) = logon(v.port, 1).await;
    let logon = recv(&mut s, &mut buf).await.unwrap();
    assert!(
        logon.contains("|35=A|") && logon.contains("|34=3|"),
        "{logon}"
    );
    // The client sees the gap 1..=2 and asks for it.
    let now = chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f");
    s.write_all(&from_text(&format!(
        "35=2|49=CLIENT1|56=FIXVENUE|34=2|52={now}|7=1|16=2|"
    )))
    .await
    .unwrap();
    let a = recv(&mut s, &mut buf).await.unwrap();
    let b = recv(&mut s, &mut buf).await.unwrap();
    assert!(
        a.contains("|34=1|") && a.contains("|43=Y|") && a.contains("|37=A|"),
        "{a}"
    );
    assert!(b.contains("|34=2|") && b.contains("|37=B|"), "{b}");
    // Connected: straight through the queue.
    v.handle
        .send("FIXVENUE", "CLIENT1", report("C", 0))
        .unwrap();
    let c = recv(&mut s, &mut buf).await.unwrap();
    assert!(
        c.contains("|34=4|") && c.contains("|37=C|") && !c.contains("|43="),
        "{c}"
    );
    v.shutdown.send(true).unwrap();
    let logout = recv(&mut s, &mut buf).await.unwrap();
    assert!(logout.contains("|35=5|"), "{logout}");
    drop(s);
    v.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_fills_the_queue_and_is_disconnected() {
    let v = start().await;
    let (mut s, mut buf) = logon(v.port, 1).await;
    recv(&mut s, &mut buf).await.unwrap();
    // The client reads nothing more. Large messages fill the socket buffers, then the bounded queue.
    let handle = v.handle.clone();
    let refused = tokio::task::spawn_blocking(move || {
        for i in 0..1_000_000 {
            match handle.send("FIXVENUE", "CLIENT1", report(&format!("R{i}"), 4000)) {
                Ok(()) => {}
                Err(SendError::QueueFull(_)) => return Some(i),
                Err(e) => panic!("{e}"),
            }
        }
        None
    })
    .await
    .unwrap();
    assert!(
        refused.unwrap() >= fixvenue::net::OUTBOUND_QUEUE_MAX,
        "{refused:?}"
    );
    // The connection is closed: reading what was sent ends at EOF.
    let mut sink = vec![0u8; 1 << 20];
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow consumer was not disconnected");
    v.shutdown.send(true).unwrap();
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
    let (mut s, mut buf) = logon(v.port, 1).await;
    let logon = recv(&mut s, &mut buf).await.unwrap();
    assert!(logon.contains(&format!("|34={}|", count + 1)), "{logon}");
    let now = chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f");
    s.write_all(&from_text(&format!(
        "35=2|49=CLIENT1|56=FIXVENUE|34=2|52={now}|7=1|16=0|"
    )))
    .await
    .unwrap();
    for i in 0..count {
        let m = recv(&mut s, &mut buf).await.unwrap();
        assert!(
            m.contains(&format!("|34={}|", i + 1)) && m.contains(&format!("|37=P{i}|")),
            "{i}: {m}"
        );
    }
    let fill = recv(&mut s, &mut buf).await.unwrap();
    assert!(
        fill.contains("|35=4|") && fill.contains(&format!("|36={}|", count + 2)),
        "{fill}"
    );
    v.shutdown.send(true).unwrap();
    drop(s);
    v.task.await.unwrap().unwrap();
}
