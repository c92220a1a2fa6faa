//! Crash test: the venue process is killed with SIGKILL while it answers a burst of messages, then restarted on
//! the same data directory, several times. Every answer the client received before the kill must come back on a
//! ResendRequest with the same bytes apart from 43, 122 and 52 (and BodyLength/CheckSum), and sequence numbers
//! continue past everything received.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};

const ROUNDS: usize = 3;
const BURST: u64 = 300;

fn start(cfg: &std::path::Path, data: &std::path::Path) -> (std::process::Child, u16) {
    testkit::venue::start_venue(cfg, data)
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    seq: u64,
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

fn field(msg: &str, tag: u32) -> Option<&str> {
    msg.split('|')
        .find_map(|f| f.strip_prefix(&format!("{tag}=")))
}

fn seq_of(msg: &str) -> u64 {
    field(msg, 34).unwrap().parse().unwrap()
}

impl Client {
    fn frame(&mut self, body: &str) -> Vec<u8> {
        let (t, rest) = body.split_once('|').unwrap();
        let text = format!(
            "{t}|49=CLIENT1|56=FIXVENUE|34={}|52={}|{rest}",
            self.seq,
            now()
        );
        self.seq += 1;
        from_text(&text)
    }

    fn send(&mut self, body: &str) {
        let bytes = self.frame(body);
        self.stream.write_all(&bytes).unwrap();
    }

    /// The next message, `None` at EOF or after `wait` of silence.
    fn recv(&mut self, wait: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        loop {
            if let Framed::Complete { len } = frame::check(&self.buf, &FrameConfig::default()) {
                let msg: Vec<u8> = self.buf.drain(..len).collect();
                return Some(String::from_utf8_lossy(&msg).replace('\x01', "|"));
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// The fields that must survive a resend unchanged.
fn stable(msg: &str) -> Vec<&str> {
    msg.split('|')
        .filter(|f| {
            !["9=", "10=", "43=", "52=", "122="]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .collect()
}

#[test]
fn sigkill_mid_flow_loses_no_acknowledged_message_and_numbers_continue() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    println!("seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("crash.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         [SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut received: BTreeMap<u64, String> = BTreeMap::new();
    let mut client_seq = 1;
    for round in 0..ROUNDS {
        let (mut child, port) = start(&cfg, &data);
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = Client {
            stream,
            buf: Vec::new(),
            seq: client_seq,
        };
        c.send("35=A|98=0|108=30|");
        let logon = c.recv(Duration::from_secs(10)).expect("Logon answer");
        assert_eq!(field(&logon, 35), Some("A"), "{logon}");
        let logon_seq = seq_of(&logon);
        let highest = received.keys().next_back().copied().unwrap_or(0);
        assert!(
            logon_seq > highest,
            "round {round}: Logon {logon_seq} does not continue past {highest}"
        );
        // The venue may ask for what it lost in flight: gap-fill it.
        if let Some(msg) = c.recv(Duration::from_millis(300)) {
            assert_eq!(field(&msg, 35), Some("2"), "{msg}");
            let begin: u64 = field(&msg, 7).unwrap().parse().unwrap();
            // The Logon took number c.seq - 1; filling up to it lets the venue consume the Logon's number.
            let t = now();
            let fill = format!(
                "35=4|49=CLIENT1|56=FIXVENUE|34={begin}|43=Y|52={t}|122={t}|123=Y|36={}|",
                c.seq - 1
            );
            c.stream.write_all(&from_text(&fill)).unwrap();
        }
        // Everything received before the kill comes back unchanged.
        c.send("35=2|7=1|16=0|");
        let mut next = 1;
        while next <= logon_seq {
            let msg = c.recv(Duration::from_secs(10)).expect("resend");
            let seq = seq_of(&msg);
            assert_eq!(seq, next, "resends in order: {msg}");
            if field(&msg, 35) == Some("4") {
                let new_seq: u64 = field(&msg, 36).unwrap().parse().unwrap();
                for gap in seq..new_seq {
                    assert!(
                        !received.contains_key(&gap),
                        "round {round}: received message {gap} was gap-filled"
                    );
                }
                next = new_seq;
            } else {
                if let Some(original) = received.get(&seq) {
                    assert_eq!(
                        stable(&msg),
                        stable(original),
                        "round {round}: message {seq} changed"
                    );
                    assert_eq!(field(&msg, 122), field(original, 52));
                }
                next = seq + 1;
            }
        }
        // A burst of orders for an unknown symbol, each answered by a stored ExecutionReport (150=8); the venue dies
        // somewhere in it.
        let mut burst = Vec::new();
        for i in 0..BURST {
            let order = format!(
                "35=D|11=R{round}-{i}|21=1|55=XYZ|54=1|60={}|40=2|38=1|44=1|",
                now()
            );
            burst.extend_from_slice(&c.frame(&order));
        }
        c.stream.write_all(&burst).unwrap();
        let kill_after = Duration::from_millis(40 + u64::from((seed >> (round * 4)) % 80));
        let started = Instant::now();
        let mut killed = false;
        loop {
            if !killed && started.elapsed() >= kill_after {
                child.kill().unwrap(); // SIGKILL
                killed = true;
            }
            match c.recv(Duration::from_millis(5)) {
                Some(msg) if field(&msg, 35) == Some("8") => {
                    received.insert(seq_of(&msg), msg);
                }
                Some(_) => {}
                None if killed => break,
                None => {}
            }
        }
        child.wait().unwrap();
        client_seq = c.seq;
        println!(
            "round {round}: killed after {kill_after:?}, {} answers received in all",
            received.len()
        );
    }
    assert!(
        !received.is_empty(),
        "the venue answered nothing before being killed"
    );
}
