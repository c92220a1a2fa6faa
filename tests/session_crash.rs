//! Crash test: the venue process is killed with SIGKILL while it answers a burst of messages, then restarted on
//! the same data directory, several times. Every answer the client received before the kill must come back on a
//! ResendRequest with the same bytes apart from 43, 122 and 52 (and BodyLength/CheckSum), and sequence numbers
//! continue past everything received.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use testkit::Msg;
use testkit::blocking::Fix;
use testkit::venue::VenueProcess;

const ROUNDS: usize = 3;
const BURST: u64 = 300;

/// The fields that must survive a resend unchanged.
fn stable(msg: &Msg) -> Vec<(u32, &[u8])> {
    msg.fields()
        .filter(|(tag, _)| ![9, 10, 43, 52, 122].contains(tag))
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
    let mut received: BTreeMap<u64, Msg> = BTreeMap::new();
    let mut c = Fix::new("CLIENT1");
    for round in 0..ROUNDS {
        let mut venue = VenueProcess::start(&cfg, &data);
        c.connect(venue.port);
        c.send("35=A|98=0|108=30|");
        let logon = c.recv_raw(Duration::from_secs(10)).expect("Logon answer");
        assert_eq!(logon.msg_type(), "A", "{logon}");
        let logon_seq = logon.seq();
        let highest = received.keys().next_back().copied().unwrap_or(0);
        assert!(
            logon_seq > highest,
            "round {round}: Logon {logon_seq} does not continue past {highest}"
        );
        // The venue may ask for what it lost in flight: gap-fill it.
        if let Some(msg) = c.recv_raw(Duration::from_millis(300)) {
            assert_eq!(msg.msg_type(), "2", "{msg}");
            let begin: u64 = msg.field(7).parse().unwrap();
            // The Logon took number next_out - 1; filling up to it lets the venue consume the Logon's number. The
            // fill is numbered `begin`, below our next number, which it leaves alone.
            let t = testkit::blocking::in_seconds(0);
            let new_seq = c.next_out() - 1;
            c.send(&format!("35=4|34={begin}|43=Y|122={t}|123=Y|36={new_seq}|"));
        }
        // Everything received before the kill comes back unchanged.
        c.send("35=2|7=1|16=0|");
        let mut next = 1;
        while next <= logon_seq {
            let msg = c.recv_raw(Duration::from_secs(10)).expect("resend");
            let seq = msg.seq();
            assert_eq!(seq, next, "resends in order: {msg}");
            if msg.msg_type() == "4" {
                let new_seq: u64 = msg.field(36).parse().unwrap();
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
                    assert_eq!(msg.get(122), original.get(52));
                }
                next = seq + 1;
            }
        }
        // A burst of orders for an unknown symbol, each answered by a stored ExecutionReport (150=8); the venue dies
        // somewhere in it.
        let mut burst = BytesMut::new();
        for i in 0..BURST {
            let now = chrono::Utc::now();
            let order = format!(
                "35=D|11=R{round}-{i}|21=1|55=XYZ|54=1|60={}|40=2|38=1|44=1|",
                testkit::blocking::in_seconds(0)
            );
            c.client().stamp.put_text(&mut burst, &order, now);
        }
        c.write(&burst);
        let kill_after = Duration::from_millis(40 + u64::from((seed >> (round * 4)) % 80));
        let started = Instant::now();
        let mut killed = false;
        loop {
            if !killed && started.elapsed() >= kill_after {
                venue.signal("KILL");
                killed = true;
            }
            match c.recv_raw(Duration::from_millis(5)) {
                Some(msg) if msg.msg_type() == "8" => {
                    received.insert(msg.seq(), msg);
                }
                Some(_) => {}
                None if killed => break,
                None => {}
            }
        }
        venue.wait();
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
