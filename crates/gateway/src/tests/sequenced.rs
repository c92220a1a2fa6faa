//! The gateway core on the real sequencer (journal in a temporary directory, group commit, its own thread), with a
//! second submitter numbering commands between the gateway's, both at chosen points and from a thread of its own:
//! every report's OrderID is the number the sequencer gave its order's command, and every ExecID and match id the
//! number of the command that made it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::{Command, InstrumentId, TradingStatus};
use fix::Dictionary;
use journal::journal::JournalOptions;
use journal::sequencer::{Sequencer, SequencerConfig, Submission, recover, system_clock};

use super::{field, inbound, market_and_engine, sessions, texts};
use crate::core::{Gateway, Input, Output};
use crate::origin::Origin;

/// Orders each session sends; they cross, so there are fills on both sides.
const ORDERS_PER_SESSION: usize = 150;
/// Requests the gateway takes in one turn.
const TURN_REQUESTS: usize = 7;

fn admin_command() -> Submission {
    // A trading-status command that changes nothing (the instrument is open): a harmless admin submission.
    Submission::bare(Command::SetStatus {
        instrument: InstrumentId(0),
        status: TradingStatus::Open,
    })
}

#[test]
fn order_ids_and_exec_ids_follow_the_sequencers_numbers_beside_another_submitter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (market, engine) = market_and_engine();
    let (engine, journal, _) =
        recover(dir.path(), JournalOptions::default(), engine, |_, _, _| {}).expect("recovers");
    let (sequencer, released) =
        Sequencer::start(engine, journal, SequencerConfig::default(), system_clock())
            .expect("starts");
    let mut gateway = Gateway::new(market, sessions(), 44);
    gateway.resume_after(0);
    gateway.attach(Box::new(sequencer.submitter()));
    let admin = sequencer.submitter();
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (admin, stop) = (sequencer.submitter(), stop.clone());
        std::thread::spawn(move || {
            let mut submitted = 0u64;
            while !stop.load(Ordering::Relaxed) {
                admin.submit(vec![admin_command()]).expect("admin submits");
                submitted += 1;
                std::thread::yield_now();
            }
            submitted
        })
    };
    let dict = Dictionary::fix44().unwrap();
    let mut answers = Vec::new();
    let mut chosen_admin = 0;
    let requests: Vec<(usize, String)> = (0..ORDERS_PER_SESSION)
        .flat_map(|i| {
            let price = 100 + (i % 3);
            [
                (
                    0,
                    format!(
                        "D|11=B{i}|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=3|44={price}|59=1|"
                    ),
                ),
                (
                    1,
                    format!("D|11=S{i}|55=ZVZZT|54=2|60=20261122-10:00:00|40=2|38=2|44=100|59=1|"),
                ),
            ]
        })
        .collect();
    for turn in requests.chunks(TURN_REQUESTS) {
        let mut out = Output::default();
        for (session, fields) in turn {
            let inbound = inbound(&dict, fields);
            gateway.input(
                Input::Request {
                    session: *session,
                    inbound,
                },
                0,
                &mut out,
            );
        }
        gateway.submit_pending().expect("gateway submits");
        answers.extend(texts(out));
        // And one admin command at a point of the test's choosing, so the numbers interleave for certain.
        admin.submit(vec![admin_command()]).expect("admin submits");
        chosen_admin += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let raced_admin = racer.join().expect("admin thread");
    drop(admin);
    sequencer.finish().expect("sequencer stops cleanly");
    // The engine's numbers, from what it released: each order's command, and every command's origin.
    let mut order_seq: HashMap<String, u64> = HashMap::new();
    let mut admin_seen = 0;
    for batch in released {
        for (i, record) in batch.commands.iter().enumerate() {
            match Origin::decode(batch.origin_of(i)) {
                Ok(Origin::New { cl_ord_id, .. }) => {
                    order_seq.insert(cl_ord_id.to_string(), record.seq);
                }
                _ => admin_seen += 1,
            }
        }
        let mut out = Output::default();
        gateway.released(&batch, &mut out);
        gateway.submit_pending().expect("nothing to submit");
        answers.extend(texts(out));
    }
    assert_eq!(admin_seen, chosen_admin + raced_admin);
    assert_eq!(order_seq.len(), 2 * ORDERS_PER_SESSION);
    let mut fills = 0;
    for (_, msg) in &answers {
        assert_eq!(field(msg, 35), Some("8"), "{msg}");
        let cl_ord_id = field(msg, 11).expect("ClOrdID");
        let seq = order_seq[cl_ord_id];
        assert_eq!(field(msg, 37), Some(seq.to_string().as_str()), "{msg}");
        let exec_id = field(msg, 17).expect("ExecID");
        let (exec_seq, _) = exec_id.split_once('.').expect("ExecID <seq>.<n>");
        match field(msg, 150) {
            Some("0") => assert_eq!(exec_id, format!("{seq}.1"), "{msg}"),
            Some("F") => {
                fills += 1;
                let (match_seq, _) = field(msg, 527).unwrap().split_once('-').unwrap();
                assert_eq!(match_seq, exec_seq, "{msg}");
                assert!(exec_seq.parse::<u64>().unwrap() >= seq, "{msg}");
            }
            other => panic!("unexpected ExecType {other:?} in {msg}"),
        }
    }
    assert_eq!(
        answers.len() - fills,
        2 * ORDERS_PER_SESSION,
        "one acknowledgement per order"
    );
    assert!(
        fills >= 2 * ORDERS_PER_SESSION / 2,
        "the orders traded: {fills} fills"
    );
}
