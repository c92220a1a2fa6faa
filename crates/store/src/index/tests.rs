//! The index: each record kind lands where it is served from, the mark follows, and applying again from any
//! earlier index leaves the same state (what start-up does after a crash).

use journal::session_log::{Message, Record, SeqNums as Logged};

use super::*;
use crate::db::Db;

fn open(dir: &std::path::Path) -> SessionStore {
    SessionStore::open(&Db::open(dir).expect("db")).expect("store")
}

fn message(session: &str, seq: u64, body: &str) -> Message {
    Message {
        session_id: session.into(),
        msg_seq_num: seq,
        ts_ns: 1_800_000_000_000_000_000 + seq as i64 * 1_000,
        bytes: body.as_bytes().to_vec(),
    }
}

fn numbers(session: &str, next_in: u64, next_out: u64, period_start_s: i64) -> Logged {
    Logged {
        session_id: session.into(),
        ts_ns: 0,
        next_in,
        next_out,
        period_start_s,
        reports_through: 0,
    }
}

fn flow() -> Vec<Record> {
    vec![
        Record::Incoming(message("A", 1, "in-1")),
        Record::Sent(message("A", 1, "logon")),
        Record::Outgoing(message("A", 2, "report-2")),
        Record::SeqNums(numbers("A", 2, 3, 100)),
        Record::Outgoing(message("B", 1, "report-b1")),
        // B's numbers of an earlier submission arrive after later ones: the highest wins.
        Record::SeqNums(numbers("B", 5, 2, 100)),
        Record::SeqNums(numbers("B", 4, 1, 100)),
        Record::Outgoing(message("A", 3, "report-3")),
        Record::SeqNums(numbers("A", 2, 4, 100)),
    ]
}

fn state(store: &SessionStore, session: &str) -> (Option<SeqNums>, Vec<(u64, Vec<u8>)>) {
    (
        store.seqnums(session).expect("reads"),
        store.messages(session, 1, u64::MAX, 1_000).expect("reads"),
    )
}

#[test]
fn records_land_in_their_trees_and_the_mark_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).expect("db");
    let store = SessionStore::open(&db).expect("store");
    assert_eq!(store.indexed_through().expect("reads"), 0);
    store.index(1, &flow()).expect("indexes");
    assert_eq!(store.indexed_through().expect("reads"), 9);
    let (a_numbers, a_messages) = state(&store, "A");
    assert_eq!(
        a_numbers,
        Some(SeqNums {
            next_in: 2,
            next_out: 4,
            period_start_s: 100
        })
    );
    assert_eq!(
        a_messages,
        vec![(2, b"report-2".to_vec()), (3, b"report-3".to_vec())],
        "only messages kept for resend are stored"
    );
    let (b_numbers, _) = state(&store, "B");
    assert_eq!(
        b_numbers.map(|n| (n.next_in, n.next_out)),
        Some((5, 2)),
        "the highest of each"
    );
    // The compliance log is the session log itself: nothing but these trees is written.
    let mut trees: Vec<_> = db
        .tree_names()
        .into_iter()
        .filter(|name| name.as_ref() != b"__sled__default")
        .map(|name| String::from_utf8_lossy(&name).into_owned())
        .collect();
    trees.sort();
    assert_eq!(trees, ["auth", "meta", "msgs/A", "msgs/B", "seqnums"]);
}

#[test]
fn applying_again_from_any_earlier_index_leaves_the_same_state() {
    let records = flow();
    let whole = tempfile::tempdir().expect("tempdir");
    let reference = open(whole.path());
    reference.index(1, &records).expect("indexes");
    for restart in 0..records.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        store.index(1, &records).expect("indexes");
        store
            .index(restart as u64 + 1, &records[restart..])
            .expect("indexes again");
        for session in ["A", "B"] {
            assert_eq!(state(&store, session), state(&reference, session));
        }
        assert_eq!(store.indexed_through().expect("reads"), 9);
    }
}

#[test]
fn a_reset_drops_the_stored_messages_and_sets_the_numbers_and_a_new_period_replaces_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.index(1, &flow()).expect("indexes");
    store
        .index(
            10,
            &[
                Record::Outgoing(message("A", 4, "report-4")),
                Record::Reset(numbers("A", 1, 1, 100)),
                Record::Outgoing(message("A", 1, "after-reset-1")),
                Record::SeqNums(numbers("A", 1, 2, 100)),
                // A new schedule period: its numbers replace the old ones, however low.
                Record::SeqNums(numbers("B", 1, 1, 200)),
            ],
        )
        .expect("indexes");
    let (a_numbers, a_messages) = state(&store, "A");
    assert_eq!(a_numbers.map(|n| (n.next_in, n.next_out)), Some((1, 2)));
    assert_eq!(a_messages, vec![(1, b"after-reset-1".to_vec())]);
    let (b_numbers, _) = state(&store, "B");
    assert_eq!(
        b_numbers,
        Some(SeqNums {
            next_in: 1,
            next_out: 1,
            period_start_s: 200
        })
    );
    // Numbers of an older period arriving late change nothing.
    store
        .index(15, &[Record::SeqNums(numbers("B", 9, 9, 100))])
        .expect("indexes");
    assert_eq!(state(&store, "B").0, b_numbers);
    assert_eq!(store.indexed_through().expect("reads"), 15);
}
