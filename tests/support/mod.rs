//! What the integration tests that run the venue in-process share: a cheap password hash, CLIENT1's session with
//! a password, the venue bound on a free port, and the client's connect and receive.
//!
//! testkit cannot hold this: it must not depend on the venue crate (the venue's own crates use testkit).
// Each test file uses the part it needs.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString};
use session::config;
use testkit::{Client, Endpoint, Msg};
use tokio::sync::watch;

/// How long the client waits for an answer.
pub const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// An argon2id hash at the smallest cost, so that debug builds stay fast.
pub fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"integration-salt").unwrap();
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// CLIENT1 with Username alice and password s3cret, plain TCP on a free port.
pub fn client1_with_password_cfg() -> String {
    format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=1\n[SESSION]\nTargetCompID=CLIENT1\nUsername=alice\nPasswordHash={}\n",
        cheap_hash("s3cret")
    )
}

/// The venue's acceptor in this process, on the sessions of a configuration text.
pub struct Venue {
    pub port: u16,
    pub shutdown: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), fixvenue::net::ServeError>>,
}

impl Venue {
    pub async fn start(name: &str, cfg: &str, data: &Path) -> Venue {
        let settings = config::parse(name, cfg).unwrap();
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

    /// Shuts down and waits for the acceptor to finish.
    pub async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// CLIENT1 connected with its next MsgSeqNum at `next_out`.
pub async fn connect(port: u16, next_out: u64) -> Client {
    let mut c = Client::new("CLIENT1", "FIXVENUE");
    c.stamp.next_out = next_out;
    c.connect(&Endpoint::local(port)).await.unwrap();
    c
}

/// The next message, or `None` at EOF; silence fails the test.
pub async fn recv(c: &mut Client) -> Option<Msg> {
    c.recv_or_eof(ANSWER_WAIT).await.unwrap()
}

/// A trading session CLIENT1 on a free port, for the whole venue (`runtime::start`).
pub const TRADING_CLIENT1_CFG: &str = "\
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

/// The options of a whole venue on [`TRADING_CLIENT1_CFG`], its files under `dir`.
pub fn trading_client1(dir: &Path) -> fixvenue::runtime::ServeOptions {
    let cfg = dir.join("sessions.cfg");
    std::fs::write(&cfg, TRADING_CLIENT1_CFG).unwrap();
    fixvenue::runtime::ServeOptions {
        sessions: vec![cfg],
        venue: None,
        data_dir: dir.join("data"),
    }
}

/// A NewOrderSingle: buy 10 ZVZZT at 5.00, day.
pub fn order(id: &str) -> String {
    format!(
        "35=D|11={id}|55=ZVZZT|54=1|60={}|38=10|40=2|44=5.00|59=1|",
        chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f")
    )
}

/// Answers the venue's ResendRequest for `begin..until` (the client's numbers) as a FIX engine does: the order
/// `cl_ord_id` sent under `order_seq` again with PossDupFlag=Y, every other number gap-filled.
pub async fn resend_order(c: &mut Client, begin: u64, until: u64, order_seq: u64, cl_ord_id: &str) {
    let resume = c.stamp.next_out;
    for n in begin..until {
        c.stamp.next_out = n;
        if n == order_seq {
            let resent = order(cl_ord_id).replacen("35=D|", "35=D|43=Y|122=20261130-00:00:00|", 1);
            c.send(&resent).await.unwrap();
        } else {
            c.send(&format!("35=4|43=Y|123=Y|36={}|", n + 1))
                .await
                .unwrap();
        }
    }
    c.stamp.next_out = resume;
}
