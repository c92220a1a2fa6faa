//! The read-only reader against the writer: every committed record comes back in order with its index, across
//! segments; a torn tail is the end, damage elsewhere an error naming the segment and offset; a reader racing a
//! writer never sees an error or a partial record.

use std::fs::OpenOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::super::{SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, Wal, WalOptions};
use super::*;

const NAME: &str = "testlog";
const BODY_MAX: usize = 4_096;

fn options() -> WalOptions {
    WalOptions {
        name: NAME,
        segment_bytes: SEGMENT_BYTES_MIN,
        body_bytes_max: BODY_MAX,
    }
}

/// The body of record `index`: its length and bytes follow from the index, so a reader can check any record.
fn body(index: u64) -> Vec<u8> {
    let len = (index as usize * 7) % BODY_MAX + 1;
    (0..len)
        .map(|i| (index as usize * 31 + i) as u8 | 1)
        .collect()
}

fn write(dir: &Path, records: std::ops::RangeInclusive<u64>) -> Wal {
    let (mut wal, _) = Wal::open(dir, options(), |_, _| Ok(())).expect("opens");
    for index in records {
        wal.append(|buf| buf.extend_from_slice(&body(index)))
            .expect("appends");
        if wal.pending_bytes() > COMMIT_BYTES_MAX / 2 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
    wal
}

/// Every record the reader gives, checked against [`body`]; the error if one comes.
fn read_all(dir: &Path) -> Result<u64, ReadError> {
    let mut reader = WalReader::open(dir, NAME, BODY_MAX)?;
    let mut count = 0;
    while let Some((index, bytes)) = reader.next_record()? {
        count += 1;
        assert_eq!(index, count, "records come in index order");
        assert_eq!(bytes, body(index), "record {index} comes back whole");
    }
    Ok(count)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir, NAME)
        .expect("lists")
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let file = OpenOptions::new().write(true).open(path).expect("opens");
    file.write_all_at(bytes, offset).expect("writes");
}

#[test]
fn committed_records_come_back_in_order_across_segments_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(write(dir.path(), 1..=3_000));
    assert!(
        segments(dir.path()).len() >= 2,
        "the test crosses a segment"
    );
    let before: Vec<_> = segments(dir.path())
        .iter()
        .map(|path| std::fs::read(path).expect("reads"))
        .collect();
    assert_eq!(read_all(dir.path()).expect("reads"), 3_000);
    let after: Vec<_> = segments(dir.path())
        .iter()
        .map(|path| std::fs::read(path).expect("reads"))
        .collect();
    assert!(before == after, "the reader wrote nothing");
}

#[test]
fn a_missing_dir_is_an_error_and_an_empty_log_has_no_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    assert!(matches!(
        WalReader::open(&missing, NAME, BODY_MAX),
        Err(ReadError::Missing { .. })
    ));
    assert!(!missing.exists(), "the reader creates nothing");
    assert_eq!(read_all(dir.path()).expect("reads"), 0);
    // The writer's empty first segment, all zeros.
    drop(Wal::open(dir.path(), options(), |_, _| Ok(())).expect("opens"));
    assert_eq!(read_all(dir.path()).expect("reads"), 0);
}

#[test]
fn a_half_written_frame_at_the_tail_is_not_yet_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(write(dir.path(), 1..=10));
    let end: u64 = SEGMENT_HEADER_BYTES as u64
        + (1..=10)
            .map(|i| (FRAME_HEADER_BYTES + body(i).len()) as u64)
            .sum::<u64>();
    let last = segments(dir.path()).pop().expect("a segment");
    // A header promising 100 bytes, and only 3 of them: a commit the writer is in the middle of.
    let mut torn = 100u32.to_le_bytes().to_vec();
    torn.extend_from_slice(&[0xAB; 4]);
    torn.extend_from_slice(&[1, 2, 3]);
    write_at(&last, end, &torn);
    assert_eq!(read_all(dir.path()).expect("a torn tail is the end"), 10);
}

#[test]
fn damage_before_the_tail_is_an_error_with_its_segment_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(write(dir.path(), 1..=3_000));
    let first = segments(dir.path())[0].clone();
    let offset: u64 = SEGMENT_HEADER_BYTES as u64
        + (1..=5)
            .map(|i| (FRAME_HEADER_BYTES + body(i).len()) as u64)
            .sum::<u64>();
    // One byte of record 6's body flipped, in a segment that has a later one.
    write_at(&first, offset + FRAME_HEADER_BYTES as u64, &[0]);
    match read_all(dir.path()) {
        Err(ReadError::Corrupt {
            path,
            offset: at,
            reason,
            ..
        }) => {
            assert_eq!((path, at), (first, offset));
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("expected damage, got {other:?}"),
    }
}

#[test]
fn damage_more_than_a_commit_before_the_end_of_the_last_segment_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(write(dir.path(), 1..=1_000));
    assert_eq!(segments(dir.path()).len(), 1);
    let only = segments(dir.path())[0].clone();
    write_at(&only, 0, &[0xFF]);
    match read_all(dir.path()) {
        Err(ReadError::Corrupt { path, offset, .. }) => assert_eq!((path, offset), (only, 0)),
        other => panic!("expected damage, got {other:?}"),
    }
}

#[test]
fn a_reader_racing_a_writer_sees_whole_records_in_order_and_no_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(), |_, _| Ok(())).expect("opens");
    let done = Arc::new(AtomicBool::new(false));
    let total = 4_000u64;
    let writer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for index in 1..=total {
                wal.append(|buf| buf.extend_from_slice(&body(index)))
                    .expect("appends");
                // Small, frequent commits: many chances for the reader to meet a commit half written.
                if index % 7 == 0 {
                    wal.commit().expect("commits");
                }
            }
            wal.commit().expect("commits");
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut reads = 0;
    let mut last_seen = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let seen = read_all(dir.path()).expect("a reader racing the writer never fails");
        assert!(seen >= last_seen, "a later read sees at least as much");
        last_seen = seen;
        reads += 1;
        if finished {
            break;
        }
    }
    writer.join().expect("the writer finishes");
    assert_eq!(
        last_seen, total,
        "after the writer is done, every record is seen"
    );
    assert!(reads > 1, "the reader read while the writer wrote");
}
