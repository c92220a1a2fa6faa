//! The plain TCP acceptor over loopback: shutdown logs every session out, sequence numbers and stored
//! messages survive a restart, the compliance log holds both directions with passwords redacted, and the
//! per-address connection limit holds.

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString};
use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};
use fixvenue::net::CONNECTIONS_PER_IP_MAX;
use session::config;
use store::db::Db;
use store::sessions::{Direction, SessionStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"integration-salt").unwrap();
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

struct Venue {
    port: u16,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), fixvenue::net::ServeError>>,
}

async fn start(data: &Path) -> Venue {
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=1\n[SESSION]\nTargetCompID=CLIENT1\nUsername=alice\nPasswordHash={}\n",
        cheap_hash("s3cret")
    );
    let settings = config::parse("tcp.cfg", &text).unwrap();
    let server = fixvenue::runtime::bind(&settings, data).await.unwrap();
    let port = server.local_addrs()[0].addr.port();
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(server.run(rx));
    Venue {
        port,
        shutdown,
        task,
    }
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    seq: u64,
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

impl Client {
    async fn connect(port: u16, seq: u64) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        Client {
            stream,
            buf: Vec::new(),
            seq,
        }
    }

    async fn send(&mut self, body: &str) {
        let (t, rest) = body.split_once('|').unwrap();
        let text = format!(
            "{t}|49=CLIENT1|56=FIXVENUE|34={}|52={}|{rest}",
            self.seq,
            now()
        );
        self.seq += 1;
        self.stream.write_all(&from_text(&text)).await.unwrap();
    }

    /// The next message as text with `|`, or `None` at EOF.
    async fn recv(&mut self) -> Option<String> {
        loop {
            if let Framed::Complete { len } = frame::check(&self.buf, &FrameConfig::default()) {
                let msg: Vec<u8> = self.buf.drain(..len).collect();
                return Some(String::from_utf8_lossy(&msg).replace('\x01', "|"));
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("an answer within 5 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn logon(&mut self) -> String {
        self.send("35=A|98=0|108=30|553=alice|554=s3cret|").await;
        self.recv().await.expect("Logon answer")
    }
}

fn field(msg: &str, tag: u32) -> Option<&str> {
    msg.split('|')
        .find_map(|f| f.strip_prefix(&format!("{tag}=")))
}

const ORDER: &str = "35=D|11=A|21=1|55=XYZ|54=1|60=20270101-00:00:00|40=2|38=1|44=1|";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_logs_out_and_numbers_and_messages_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let venue = start(data.path()).await;
    let mut c = Client::connect(venue.port, 1).await;
    let logon = c.logon().await;
    assert_eq!(field(&logon, 35), Some("A"), "{logon}");
    c.send(ORDER).await;
    let bmr = c.recv().await.unwrap();
    assert_eq!(
        (field(&bmr, 35), field(&bmr, 34), field(&bmr, 380)),
        (Some("j"), Some("2"), Some("4"))
    );
    // Shutdown: the venue logs out, waits for the answer, closes, flushes.
    venue.shutdown.send(true).unwrap();
    let logout = c.recv().await.unwrap();
    assert_eq!(field(&logout, 58), Some("Venue shutting down"), "{logout}");
    c.send("35=5|").await;
    assert_eq!(c.recv().await, None);
    venue.task.await.unwrap().unwrap();

    // Restart on the same data: numbers continue, and the stored BusinessMessageReject is resent.
    let venue = start(data.path()).await;
    let mut c = Client::connect(venue.port, c.seq).await;
    let logon = c.logon().await;
    assert_eq!(field(&logon, 34), Some("4"), "{logon}");
    c.send("35=2|7=1|16=0|").await;
    let gap = c.recv().await.unwrap();
    assert_eq!(
        (field(&gap, 35), field(&gap, 34), field(&gap, 36)),
        (Some("4"), Some("1"), Some("2"))
    );
    let resent = c.recv().await.unwrap();
    assert_eq!(
        (field(&resent, 34), field(&resent, 43)),
        (Some("2"), Some("Y"))
    );
    let strip = |m: &str| -> Vec<String> {
        m.split('|')
            .filter(|f| {
                !["9=", "10=", "43=", "52=", "122="]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(strip(&resent), strip(&bmr));
    assert_eq!(field(&resent, 122), field(&bmr, 52));
    let gap2 = c.recv().await.unwrap();
    assert_eq!(
        (field(&gap2, 34), field(&gap2, 36)),
        (Some("3"), Some("5")),
        "{gap2}"
    );
    c.send("35=5|").await;
    c.recv().await.unwrap();
    venue.shutdown.send(true).unwrap();
    venue.task.await.unwrap().unwrap();

    // The compliance log holds both directions, in order, with the password redacted.
    let store = SessionStore::open(&Db::open(data.path()).unwrap()).unwrap();
    let log = store.log(1000).unwrap();
    assert!(
        log.iter().any(|r| r.direction == Direction::In)
            && log.iter().any(|r| r.direction == Direction::Out)
    );
    assert!(log.windows(2).all(|w| w[0].time_us <= w[1].time_us));
    let text: Vec<String> = log
        .iter()
        .map(|r| String::from_utf8_lossy(&r.frame).into_owned())
        .collect();
    assert!(text.iter().all(|t| !t.contains("s3cret")));
    assert!(text.iter().any(|t| t.contains("554=***")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_and_the_per_address_limit_holds() {
    let data = tempfile::tempdir().unwrap();
    let venue = start(data.path()).await;
    let mut c = Client::connect(venue.port, 1).await;
    c.send("35=A|98=0|108=30|553=alice|554=wrong|").await;
    let logout = c.recv().await.unwrap();
    assert_eq!(field(&logout, 35), Some("5"));
    assert_eq!(c.recv().await, None);

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
