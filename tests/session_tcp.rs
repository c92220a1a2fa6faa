//! The plain TCP acceptor over loopback: shutdown logs every session out, sequence numbers and stored
//! messages survive a restart, the compliance log holds both directions with passwords redacted, and the
//! per-address connection limit holds.

use std::path::Path;
use std::time::Duration;

use fixvenue::net::CONNECTIONS_PER_IP_MAX;
use fixvenue::query::Direction;
use testkit::{Client, Msg};

mod support;
use support::{Venue, connect, recv};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

async fn start(data: &Path) -> Venue {
    Venue::start("tcp.cfg", &support::client1_with_password_cfg(), data).await
}

async fn send(c: &mut Client, body: &str) {
    c.send(body).await.unwrap();
}

async fn log_on(c: &mut Client) -> Msg {
    send(c, "35=A|98=0|108=30|553=alice|554=s3cret|").await;
    recv(c).await.expect("Logon answer")
}

const ORDER: &str = "35=D|11=A|21=1|55=XYZ|54=1|60=20270101-00:00:00|40=2|38=1|44=1|";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_logs_out_and_numbers_and_messages_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let venue = start(data.path()).await;
    let mut c = connect(venue.port, 1).await;
    let logon = log_on(&mut c).await;
    assert_eq!(logon.get(35), Some("A"), "{logon}");
    send(&mut c, ORDER).await;
    let bmr = recv(&mut c).await.unwrap();
    assert_eq!(
        (bmr.get(35), bmr.get(34), bmr.get(380)),
        (Some("j"), Some("2"), Some("4"))
    );
    // Shutdown: the venue logs out, waits for the answer, closes, flushes.
    venue.shutdown.send(true).unwrap();
    let logout = recv(&mut c).await.unwrap();
    assert_eq!(logout.get(58), Some("Venue shutting down"), "{logout}");
    send(&mut c, "35=5|").await;
    assert_eq!(recv(&mut c).await, None);
    venue.task.await.unwrap().unwrap();

    // Restart on the same data: numbers continue, and the stored BusinessMessageReject is resent.
    let venue = start(data.path()).await;
    let mut c = connect(venue.port, c.stamp.next_out).await;
    let logon = log_on(&mut c).await;
    assert_eq!(logon.get(34), Some("4"), "{logon}");
    send(&mut c, "35=2|7=1|16=0|").await;
    let gap = recv(&mut c).await.unwrap();
    assert_eq!(
        (gap.get(35), gap.get(34), gap.get(36)),
        (Some("4"), Some("1"), Some("2"))
    );
    let resent = recv(&mut c).await.unwrap();
    assert_eq!((resent.get(34), resent.get(43)), (Some("2"), Some("Y")));
    let strip = |m: &Msg| -> Vec<(u32, Vec<u8>)> {
        m.fields()
            .filter(|(tag, _)| ![9, 10, 43, 52, 122].contains(tag))
            .map(|(tag, value)| (tag, value.to_vec()))
            .collect()
    };
    assert_eq!(strip(&resent), strip(&bmr));
    assert_eq!(resent.get(122), bmr.get(52));
    let gap2 = recv(&mut c).await.unwrap();
    assert_eq!(
        (gap2.get(34), gap2.get(36)),
        (Some("3"), Some("5")),
        "{gap2}"
    );
    send(&mut c, "35=5|").await;
    recv(&mut c).await.unwrap();
    venue.shutdown.send(true).unwrap();
    venue.task.await.unwrap().unwrap();

    // The compliance log holds both directions, in order, with the password redacted.
    let log: Vec<_> = fixvenue::query::messages(data.path())
        .expect("the session log opens")
        .collect::<Result<_, _>>()
        .expect("the session log reads");
    assert!(
        log.iter().any(|r| r.direction == Direction::In)
            && log.iter().any(|r| r.direction == Direction::Out)
    );
    assert!(log.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    let text: Vec<String> = log
        .iter()
        .map(|r| String::from_utf8_lossy(&r.bytes).into_owned())
        .collect();
    assert!(text.iter().all(|t| !t.contains("s3cret")));
    assert!(text.iter().any(|t| t.contains("554=***")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_and_the_per_address_limit_holds() {
    let data = tempfile::tempdir().unwrap();
    let venue = start(data.path()).await;
    let mut c = connect(venue.port, 1).await;
    send(&mut c, "35=A|98=0|108=30|553=alice|554=wrong|").await;
    // Refused by a plain disconnect: a Logout would use up or reveal the session's MsgSeqNum.
    assert_eq!(recv(&mut c).await, None);

    let mut open = Vec::new();
    for _ in 0..CONNECTIONS_PER_IP_MAX {
        open.push(TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(("127.0.0.1", venue.port)).await.unwrap();
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut byte))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the connection over the limit is closed");
    drop(open);
    venue.shutdown.send(true).unwrap();
    venue.task.await.unwrap().unwrap();
}
