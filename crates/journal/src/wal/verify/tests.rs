//! The read-only check against logs with known damage: each finding at its record, nothing else reported.

use super::super::tests::{BODY_MAX, NAME, append, body, forge, frame_offset, long_log, open};
use super::*;
use crate::wal::{CHAIN_BREAK, FRAME_HEADER_BYTES, SEGMENT_BYTES_MIN};

fn run(dir: &Path) -> LogCheck {
    check(dir, NAME, BODY_MAX, &mut |_, _, _| Ok(())).expect("checks")
}

/// The findings as (offset, index, what).
fn findings(log: &LogCheck) -> Vec<(u64, u64, String)> {
    log.findings
        .iter()
        .map(|finding| (finding.at.offset, finding.at.index, finding.what.clone()))
        .collect()
}

fn chain_break(index: u64) -> (u64, u64, String) {
    (frame_offset(index), index, CHAIN_BREAK.to_string())
}

#[test]
fn a_clean_log_across_segments_has_no_finding_and_its_last_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    for index in 1..=2_500u64 {
        append(&mut wal, &body(index, 2_000));
        if index % 100 == 0 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
    let mut visited = 0;
    let log = check(dir.path(), NAME, BODY_MAX, &mut |index, _, body| {
        visited += 1;
        assert_eq!(body, super::super::tests::body(index, 2_000));
        Ok(())
    })
    .expect("checks");
    assert!(log.is_clean(), "{:?}", log.findings);
    assert!(log.segments >= 2);
    assert_eq!(
        (log.records, log.first_index, log.last_index, visited),
        (2_500, 1, 2_500, 2_500)
    );
    assert_eq!((log.last_hash, log.tail.clone()), (wal.last_hash(), None));
}

#[test]
fn an_empty_log_is_clean_with_the_genesis_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(dir.path()).expect("opens"));
    let log = run(dir.path());
    assert!(log.is_clean());
    assert_eq!((log.records, log.last_index), (0, 0));
    assert_eq!(log.last_hash, genesis(NAME));
}

#[test]
fn a_flipped_byte_is_one_crc_error_at_its_record_and_the_check_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let path = dir.path().join(format!("{NAME}-{:020}.seg", 1));
    let mut bytes = std::fs::read(&path).expect("reads");
    bytes[frame_offset(500) as usize + FRAME_HEADER_BYTES + 3] ^= 0x10;
    std::fs::write(&path, &bytes).expect("writes");
    let log = run(dir.path());
    assert_eq!(
        findings(&log),
        vec![(frame_offset(500), 500, "CRC mismatch".to_string())]
    );
    assert_eq!((log.records, log.last_index), (2_000, 2_000));
}

#[test]
fn a_removed_record_is_one_break_and_a_swap_three() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    forge(dir.path(), |records| {
        records.remove(99);
    });
    let log = run(dir.path());
    assert_eq!(findings(&log), vec![chain_break(100)]);
    assert_eq!(log.last_index, 1_999);

    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    forge(dir.path(), |records| records.swap(9, 10));
    let log = run(dir.path());
    assert_eq!(
        findings(&log),
        vec![chain_break(10), chain_break(11), chain_break(12)]
    );
}

#[test]
fn damage_in_the_last_records_of_a_small_log_is_found_not_taken_for_a_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    for index in 1..=10u64 {
        append(&mut wal, &body(index, 100));
    }
    wal.commit().expect("commits");
    drop(wal);
    let path = dir.path().join(format!("{NAME}-{:020}.seg", 1));
    let mut bytes = std::fs::read(&path).expect("reads");
    let third = SEGMENT_HEADER_BYTES + 2 * (FRAME_HEADER_BYTES + 100);
    bytes[third + FRAME_HEADER_BYTES + 50] ^= 1;
    std::fs::write(&path, &bytes).expect("writes");
    let log = run(dir.path());
    assert_eq!(
        findings(&log),
        vec![(third as u64, 3, "CRC mismatch".to_string())]
    );
    assert_eq!(log.tail, None);
}

#[test]
fn a_torn_last_commit_is_a_tail_not_a_finding_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let path = dir.path().join(format!("{NAME}-{:020}.seg", 1));
    let mut bytes = std::fs::read(&path).expect("reads");
    let last = frame_offset(2_000) as usize;
    // The last frame lost its end: zeros where its last bytes were.
    bytes[last + FRAME_HEADER_BYTES + 990..last + FRAME_HEADER_BYTES + 1_000].fill(0);
    bytes[last + FRAME_HEADER_BYTES + 500] = 7;
    std::fs::write(&path, &bytes).expect("writes");
    let log = run(dir.path());
    assert!(log.is_clean(), "{:?}", log.findings);
    let tail = log.tail.expect("a tail");
    assert_eq!((tail.at.offset, tail.at.index), (last as u64, 2_000));
    assert_eq!(log.last_index, 1_999);
    assert_eq!(
        std::fs::read(&path).expect("reads"),
        bytes,
        "the check never writes"
    );
}

#[test]
fn a_format_1_segment_and_a_misnamed_segment_are_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut old = 5u32.to_le_bytes().to_vec();
    old.extend_from_slice(&crc32c::crc32c(b"hello").to_le_bytes());
    old.extend_from_slice(b"hello");
    old.resize(SEGMENT_BYTES_MIN as usize, 0);
    std::fs::write(dir.path().join(format!("{NAME}-{:020}.seg", 1)), &old).expect("writes");
    let log = run(dir.path());
    assert_eq!(log.findings.len(), 1);
    assert!(log.findings[0].what.contains("format 1"));

    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let mut blank = crate::wal::SEGMENT_MAGIC.to_vec();
    blank.resize(SEGMENT_BYTES_MIN as usize, 0);
    std::fs::write(dir.path().join(format!("{NAME}-{:020}.seg", 2_005)), &blank).expect("writes");
    let log = run(dir.path());
    assert_eq!(log.findings.len(), 1);
    assert_eq!(log.findings[0].at.index, 2_005);
    assert!(
        log.findings[0]
            .what
            .contains("records before it end at 2000")
    );
}
