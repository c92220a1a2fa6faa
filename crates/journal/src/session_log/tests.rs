//! The session log's records: each kind round-trips through the log, decoding is strict and never panics.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use proptest::prelude::*;

use super::*;

const SMALL: SessionLogOptions = SessionLogOptions {
    segment_bytes: SEGMENT_BYTES_MIN,
};

pub(super) fn outgoing(session_id: &str, msg_seq_num: u64, bytes: &[u8]) -> Record {
    Record::Outgoing(Message {
        session_id: session_id.into(),
        msg_seq_num,
        ts_ns: 1_700_000_000_000_000_000 + msg_seq_num as i64,
        bytes: bytes.to_vec(),
    })
}

fn one_of_each() -> Vec<Record> {
    vec![
        outgoing(
            "FIX.4.4:VENUE->C1",
            1,
            b"8=FIX.4.4\x019=5\x0135=A\x0110=000\x01",
        ),
        Record::Incoming(Message {
            session_id: "FIX.4.4:VENUE->C1".into(),
            msg_seq_num: 7,
            ts_ns: -5,
            bytes: b"8=FIX.4.4\x019=5\x0135=D\x0110=123\x01".to_vec(),
        }),
        Record::SeqNums(SeqNums {
            session_id: "FIX.4.4:VENUE->C2".into(),
            ts_ns: i64::MAX,
            next_in: 1,
            next_out: u64::MAX,
            period_start_s: 0,
            reports_through: 0,
        }),
        Record::Sent(Message {
            session_id: "FIX.4.4:VENUE->C1".into(),
            msg_seq_num: 2,
            ts_ns: 9,
            bytes: b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01".to_vec(),
        }),
        Record::Reset(SeqNums {
            session_id: "FIX.4.4:VENUE->C1".into(),
            ts_ns: 10,
            next_in: 1,
            next_out: 1,
            period_start_s: 0,
            reports_through: 0,
        }),
        // Every bound at its edge.
        Record::Incoming(Message {
            session_id: "s".repeat(SESSION_ID_BYTES_MAX),
            msg_seq_num: u64::MAX,
            ts_ns: i64::MIN,
            bytes: vec![0xff; MESSAGE_BYTES_MAX],
        }),
    ]
}

/// Records as the log hands them over: (index, record).
pub(super) type Seen = Vec<(u64, Record)>;

/// Opens the log and returns it with every record it handed over.
pub(super) fn open(dir: &Path) -> Result<(SessionLog, Seen, Recovery), OpenError> {
    let mut seen = Vec::new();
    let (log, recovery) = SessionLog::open(dir, SMALL, |index, record| {
        seen.push((index, record.clone()))
    })?;
    Ok((log, seen, recovery))
}

fn encode(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::new();
    record.encode(&mut bytes);
    assert_eq!(bytes.len(), record.encoded_bytes());
    bytes
}

#[test]
fn each_record_kind_round_trips_through_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, seen, _) = open(dir.path()).expect("opens");
    assert!(seen.is_empty());
    let records = one_of_each();
    for (position, record) in records.iter().enumerate() {
        assert_eq!(log.append(record), Ok(position as u64 + 1));
    }
    assert_eq!((log.last_index(), log.durable_index()), (6, 0));
    log.commit().expect("commits");
    assert_eq!(log.durable_index(), 6);
    drop(log);
    let (mut log, seen, recovery) = open(dir.path()).expect("reopens");
    let expected: Vec<_> = (1..).zip(records.iter().cloned()).collect();
    assert_eq!(seen, expected);
    assert_eq!((recovery.records, recovery.last_index), (6, 6));
    assert_eq!(log.append(&records[0]), Ok(7), "appends after them");
}

#[test]
fn a_record_that_breaks_a_bound_is_refused_and_nothing_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _, _) = open(dir.path()).expect("opens");
    let long_session = "s".repeat(SESSION_ID_BYTES_MAX + 1);
    let cases = [
        (outgoing("", 1, b"x"), RecordError::SessionId { bytes: 0 }),
        (
            outgoing(&long_session, 1, b"x"),
            RecordError::SessionId {
                bytes: SESSION_ID_BYTES_MAX + 1,
            },
        ),
        (
            outgoing("s", 1, b""),
            RecordError::MessageBytes { bytes: 0 },
        ),
        (
            outgoing("s", 1, &vec![1; MESSAGE_BYTES_MAX + 1]),
            RecordError::MessageBytes {
                bytes: MESSAGE_BYTES_MAX + 1,
            },
        ),
        (outgoing("s", 0, b"x"), RecordError::SeqNumZero),
        (
            Record::SeqNums(SeqNums {
                session_id: "s".into(),
                ts_ns: 0,
                next_in: 0,
                next_out: 1,
                period_start_s: 0,
                reports_through: 0,
            }),
            RecordError::SeqNumZero,
        ),
    ];
    for (record, error) in cases {
        assert_eq!(log.append(&record), Err(AppendError::Invalid(error)));
    }
    assert_eq!((log.last_index(), log.pending_bytes()), (0, 0));
}

#[test]
fn decoding_refuses_truncated_trailing_and_unknown() {
    for record in one_of_each() {
        let bytes = encode(&record);
        assert_eq!(Record::decode(&bytes), Ok(record.clone()));
        for len in 0..bytes.len() {
            assert!(Record::decode(&bytes[..len]).is_err(), "prefix of {len}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Record::decode(&trailing).map_err(|error| error.what),
            Err("trailing bytes after the record")
        );
        let mut version = bytes.clone();
        version[0] = RECORD_VERSION + 1;
        assert_eq!(
            Record::decode(&version).map_err(|error| error.what),
            Err("unknown record version")
        );
        for kind in [0, 6, 0xff] {
            let mut unknown = bytes.clone();
            unknown[1] = kind;
            assert_eq!(
                Record::decode(&unknown).map_err(|error| error.what),
                Err("unknown record kind")
            );
        }
    }
}

#[test]
fn decoding_refuses_values_out_of_bounds() {
    let bytes = encode(&outgoing("ab", 3, b"xyz"));
    let mut not_utf8 = bytes.clone();
    not_utf8[3] = 0xff;
    let mut zero_session = bytes.clone();
    zero_session[2] = 0;
    let mut zero_seq = bytes.clone();
    zero_seq[13..21].copy_from_slice(&0u64.to_le_bytes());
    let mut long_message = bytes.clone();
    long_message[21..25].copy_from_slice(&(MESSAGE_BYTES_MAX as u32 + 1).to_le_bytes());
    let mut empty_message = bytes.clone();
    empty_message[21..25].copy_from_slice(&0u32.to_le_bytes());
    for (bad, what) in [
        (not_utf8, "session id is not UTF-8"),
        (zero_session, "session id length out of bounds"),
        (zero_seq, "sequence number 0"),
        (long_message, "message length out of bounds"),
        (empty_message, "message length out of bounds"),
    ] {
        assert_eq!(Record::decode(&bad).map_err(|error| error.what), Err(what));
    }
}

#[test]
fn an_undecodable_record_at_the_tail_is_cut_and_in_the_middle_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _, _) = open(dir.path()).expect("opens");
    for seq in 1..=10 {
        log.append(&outgoing("s", seq, b"msg")).expect("appends");
    }
    log.commit().expect("commits");
    let last_hash = log.last_hash();
    drop(log);
    let path = dir.path().join(format!("{SESSION_LOG_NAME}-{:020}.seg", 1));
    let bytes = fs::read(&path).expect("reads");
    let end = bytes.iter().rposition(|&byte| byte != 0).expect("data") + 1;
    // A well-framed, well-chained body that is no record (an unknown version) after the last record: a torn tail.
    let body = [RECORD_VERSION + 1, 1, 2, 3];
    let mut frame = Vec::new();
    crate::wal::encode_frame(&last_hash, &body, &mut frame);
    let file = OpenOptions::new().write(true).open(&path).expect("opens");
    file.write_all_at(&frame, end as u64).expect("writes");
    let (_, seen, recovery) = open(dir.path()).expect("cuts the tail");
    assert_eq!(seen.len(), 10);
    assert_eq!(recovery.torn_tail.map(|(_, at, _)| at), Some(end as u64));
    // Now flip a byte of the first record: far from the tail of a large log it is corruption, named.
    let (mut log, _, _) = open(dir.path()).expect("opens");
    for seq in 11..=20_000 {
        log.append(&outgoing("s", seq, &[b'x'; 100]))
            .expect("appends");
        if seq % 1_000 == 0 {
            log.commit().expect("commits");
        }
    }
    log.commit().expect("commits");
    drop(log);
    let first_frame = crate::wal::SEGMENT_HEADER_BYTES as u64;
    let in_the_body = first_frame + crate::wal::FRAME_HEADER_BYTES as u64 + 2;
    file.write_all_at(&[0x55], in_the_body)
        .expect("flips a byte");
    let error = open(dir.path()).err().expect("refuses to open");
    assert!(
        matches!(&error, OpenError::Corrupt { path: bad, offset, .. } if *bad == path && *offset == first_frame),
        "{error}"
    );
}

fn any_record() -> impl Strategy<Value = Record> {
    let session = "[ -~]{1,128}";
    let bytes = proptest::collection::vec(any::<u8>(), 1..2_000);
    prop_oneof![
        (session, 1..=u64::MAX, any::<i64>(), bytes.clone()).prop_map(|(s, n, t, b)| {
            Record::Outgoing(Message {
                session_id: s,
                msg_seq_num: n,
                ts_ns: t,
                bytes: b,
            })
        }),
        (session, 1..=u64::MAX, any::<i64>(), bytes.clone()).prop_map(|(s, n, t, b)| {
            Record::Incoming(Message {
                session_id: s,
                msg_seq_num: n,
                ts_ns: t,
                bytes: b,
            })
        }),
        (session, 1..=u64::MAX, any::<i64>(), bytes).prop_map(|(s, n, t, b)| {
            Record::Sent(Message {
                session_id: s,
                msg_seq_num: n,
                ts_ns: t,
                bytes: b,
            })
        }),
        (session, any::<i64>(), 1..=u64::MAX, 1..=u64::MAX).prop_map(|(s, t, i, o)| {
            Record::SeqNums(SeqNums {
                session_id: s,
                ts_ns: t,
                next_in: i,
                next_out: o,
                period_start_s: 0,
                reports_through: 0,
            })
        }),
        (session, any::<i64>(), 1..=u64::MAX, 1..=u64::MAX).prop_map(|(s, t, i, o)| {
            Record::Reset(SeqNums {
                session_id: s,
                ts_ns: t,
                next_in: i,
                next_out: o,
                period_start_s: 0,
                reports_through: 0,
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..Default::default() })]

    /// Arbitrary bytes never panic the decoder; whatever decodes is a valid record that encodes back to them, and
    /// its time is what the time-only reader finds.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let ts_ns = record_ts_ns(&bytes);
        if let Ok(record) = Record::decode(&bytes) {
            prop_assert_eq!(record.check(), Ok(()));
            prop_assert_eq!(&encode(&record), &bytes);
            let expected = match &record {
                Record::Outgoing(m) | Record::Incoming(m) | Record::Sent(m) => m.ts_ns,
                Record::SeqNums(s) | Record::Reset(s) => s.ts_ns,
            };
            prop_assert_eq!(ts_ns, Ok(expected));
        }
    }

    /// Bytes that start like a record (version and kind right) never panic either.
    #[test]
    fn plausible_bytes_never_panic(kind in 0..7u8, rest in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = vec![RECORD_VERSION, kind];
        bytes.extend_from_slice(&rest);
        if let Ok(record) = Record::decode(&bytes) {
            prop_assert_eq!(encode(&record), bytes);
        }
    }

    #[test]
    fn every_valid_record_round_trips(record in any_record()) {
        prop_assert_eq!(record.check(), Ok(()));
        let ts_ns = match &record {
            Record::Outgoing(m) | Record::Incoming(m) | Record::Sent(m) => m.ts_ns,
            Record::SeqNums(s) | Record::Reset(s) => s.ts_ns,
        };
        prop_assert_eq!(record_ts_ns(&encode(&record)), Ok(ts_ns));
        prop_assert_eq!(Record::decode(&encode(&record)), Ok(record));
    }
}

/// Writes `commits` commits of records of varying kinds and sizes; returns them and the byte offset in the segment
/// where the last commit starts and ends.
fn write_commits(dir: &Path, commits: &[Vec<Record>]) -> (Vec<Record>, u64, u64) {
    let (mut log, _, _) = open(dir).expect("opens");
    let mut written = Vec::new();
    let mut last_commit = (0, 0);
    let path = dir.join(format!("{SESSION_LOG_NAME}-{:020}.seg", 1));
    for records in commits {
        let start = data_end(&path);
        for record in records {
            log.append(record).expect("appends");
            written.push(record.clone());
        }
        log.commit().expect("commits");
        last_commit = (start, data_end(&path));
    }
    (written, last_commit.0, last_commit.1)
}

/// Where the written data of a segment ends (records never end in a zero byte here).
fn data_end(path: &Path) -> u64 {
    let bytes = fs::read(path).expect("reads");
    bytes
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |at| at as u64 + 1)
}

fn commit_of(seed: u64, count: usize) -> Vec<Record> {
    (0..count as u64)
        .map(|n| {
            let seq = seed * 1_000 + n + 1;
            let bytes = vec![b'a' + (seq % 26) as u8; 1 + (seq as usize * 13) % 500];
            match seq % 3 {
                0 => outgoing("out", seq, &bytes),
                1 => Record::Incoming(Message {
                    session_id: "in".into(),
                    msg_seq_num: seq,
                    ts_ns: seq as i64,
                    bytes,
                }),
                _ => Record::SeqNums(SeqNums {
                    session_id: "seq".into(),
                    ts_ns: seq as i64,
                    next_in: seq,
                    // Its last byte is not zero, so that the data's end is where the record ends.
                    next_out: u64::MAX - seq,
                    period_start_s: -1,
                    reports_through: u64::MAX - 1,
                }),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..Default::default() })]

    /// A crash in the middle of the last commit (its bytes from some point on never reached the disk, and the
    /// byte at the cut may be garbage) recovers every record of the earlier commits and a prefix of the last.
    #[test]
    fn a_crash_in_the_last_commit_recovers_a_prefix(
        sizes in proptest::collection::vec(1..40usize, 1..6),
        cut in 0.0..1.0f64,
        garbage in any::<u8>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let commits: Vec<Vec<Record>> =
            sizes.iter().enumerate().map(|(seed, &count)| commit_of(seed as u64, count)).collect();
        let (written, start, end) = write_commits(dir.path(), &commits);
        let durable_before = written.len() - commits.last().map_or(0, Vec::len);
        let path = dir.path().join(format!("{SESSION_LOG_NAME}-{:020}.seg", 1));
        let at = start + ((end - start) as f64 * cut) as u64;
        let file = OpenOptions::new().write(true).open(&path).expect("opens");
        file.write_all_at(&vec![0; (end - at) as usize], at).expect("crashes");
        file.write_all_at(&[garbage], at).expect("tears");
        let (mut log, seen, _) = open(dir.path()).expect("recovers");
        prop_assert!(seen.len() >= durable_before && seen.len() <= written.len());
        let expected: Vec<_> = (1..).zip(written[..seen.len()].iter().cloned()).collect();
        prop_assert_eq!(&seen, &expected);
        // And the log goes on after what it recovered.
        prop_assert_eq!(log.append(&outgoing("after", 1, b"x")), Ok(seen.len() as u64 + 1));
        log.commit().expect("commits");
    }
}
