//! The write-ahead log against a model: what was committed comes back, in order, with its index; a crash in the
//! middle of a commit leaves a prefix of that commit; anything else is refused with its file and offset.

use proptest::prelude::*;

use super::*;

pub(super) const NAME: &str = "testlog";
pub(super) const BODY_MAX: usize = 4_096;

pub(super) fn options() -> WalOptions {
    WalOptions {
        name: NAME,
        segment_bytes: SEGMENT_BYTES_MIN,
        body_bytes_max: BODY_MAX,
    }
}

pub(super) fn body(index: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (index as usize * 31 + i) as u8 | 1)
        .collect()
}

/// Records as the log hands them over: (index, body).
type Seen = Vec<(u64, Vec<u8>)>;

/// Opens the log and returns it with every record it handed over.
pub(super) fn open(dir: &Path) -> Result<(Wal, Seen, WalRecovery), OpenError> {
    let mut seen = Vec::new();
    let (wal, recovery) = Wal::open(dir, options(), |index, body| {
        seen.push((index, body.to_vec()));
        Ok(())
    })?;
    Ok((wal, seen, recovery))
}

pub(super) fn append(wal: &mut Wal, bytes: &[u8]) -> u64 {
    wal.append(|buf| buf.extend_from_slice(bytes))
        .expect("appends");
    wal.last_index()
}

pub(super) fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir, NAME)
        .expect("lists")
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

#[test]
fn committed_records_come_back_with_their_index_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, seen, _) = open(dir.path()).expect("opens");
    assert!(seen.is_empty());
    let mut model = Vec::new();
    // 3,000 records of up to 4 KiB cross the 4 MiB segments at least once.
    for index in 1..=3_000u64 {
        let record = body(index, (index as usize * 7) % BODY_MAX + 1);
        assert_eq!(append(&mut wal, &record), index);
        model.push((index, record));
        if index % 50 == 0 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
    assert_eq!(wal.durable_index(), 3_000);
    drop(wal);
    assert!(
        segments(dir.path()).len() >= 2,
        "the test must cross segments"
    );
    let (wal, seen, recovery) = open(dir.path()).expect("reopens");
    assert_eq!(seen, model);
    assert_eq!(
        (recovery.records, recovery.last_index, recovery.torn_tail),
        (3_000, 3_000, None)
    );
    assert_eq!(wal.last_index(), 3_000);
}

#[test]
fn uncommitted_records_are_not_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    append(&mut wal, b"one");
    wal.commit().expect("commits");
    append(&mut wal, b"two");
    assert_eq!((wal.last_index(), wal.durable_index()), (2, 1));
    drop(wal);
    let (_, seen, _) = open(dir.path()).expect("reopens");
    assert_eq!(seen, vec![(1, b"one".to_vec())]);
}

#[test]
fn empty_and_oversize_records_are_refused_and_nothing_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    assert_eq!(
        wal.append(|_| {}).map(<[u8]>::len),
        Err(AppendError::TooLarge {
            bytes: 0,
            max: BODY_MAX
        })
    );
    let big = vec![1u8; BODY_MAX + 1];
    assert_eq!(
        wal.append(|buf| buf.extend_from_slice(&big))
            .map(<[u8]>::len),
        Err(AppendError::TooLarge {
            bytes: BODY_MAX + 1,
            max: BODY_MAX
        })
    );
    assert_eq!((wal.last_index(), wal.pending_bytes()), (0, 0));
    assert_eq!(append(&mut wal, b"fits"), 1);
}

#[test]
fn a_record_its_user_refuses_at_the_tail_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    for record in [&b"good"[..], b"good", b"BAD"] {
        append(&mut wal, record);
    }
    wal.commit().expect("commits");
    drop(wal);
    let mut seen = Vec::new();
    let (wal, recovery) = Wal::open(dir.path(), options(), |index, body| {
        if body == b"BAD" {
            return Err("refused".into());
        }
        seen.push(index);
        Ok(())
    })
    .expect("opens, cutting the refused tail");
    assert_eq!(seen, vec![1, 2]);
    assert_eq!(wal.last_index(), 2);
    assert!(recovery.torn_tail.is_some());
}

#[test]
fn damage_before_the_tail_is_refused_with_the_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    for index in 1..=2_000u64 {
        append(&mut wal, &body(index, 1_000));
        if index % 100 == 0 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
    drop(wal);
    let path = segments(dir.path())[0].clone();
    let mut bytes = std::fs::read(&path).expect("reads");
    bytes[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 10] ^= 0xFF;
    std::fs::write(&path, &bytes).expect("writes");
    match open(dir.path()).map(|_| ()) {
        Err(OpenError::Corrupt {
            name,
            path: at,
            offset,
            reason,
        }) => {
            assert_eq!(
                (name, at, offset),
                (NAME, path, SEGMENT_HEADER_BYTES as u64)
            );
            assert_eq!(reason, "CRC mismatch");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_foreign_file_name_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("testlog-12.seg"), b"").expect("writes");
    assert!(matches!(
        open(dir.path()).map(|_| ()),
        Err(OpenError::BadName { .. })
    ));
}

#[test]
fn a_failed_log_refuses_everything_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    append(&mut wal, b"one");
    wal.failed = Some("disk on fire".into());
    assert_eq!(
        wal.append(|buf| buf.push(1)).map(<[u8]>::len),
        Err(AppendError::Failed("disk on fire".into()))
    );
    assert!(matches!(wal.commit(), Err(CommitError::Failed(_))));
}

/// One step of a run: append a record of this length, or commit.
#[derive(Clone, Debug)]
enum Op {
    Append(usize),
    Commit,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![4 => (1..600usize).prop_map(Op::Append), 1 => Just(Op::Commit)],
        1..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A crash while the last commit was being written leaves any prefix of its bytes on disk, followed by zeros
    /// or by garbage: recovery hands back every earlier commit and a prefix of the last one, never anything else,
    /// and appending resumes right after what it handed back.
    #[test]
    fn a_crash_during_a_commit_recovers_a_prefix(ops in ops(), cut in 0.0..1.0f64, garbage in any::<bool>()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _, _) = open(dir.path()).expect("opens");
        let mut durable: Vec<Vec<u8>> = Vec::new();
        let mut batch: Vec<Vec<u8>> = Vec::new();
        for op in &ops {
            match op {
                Op::Append(len) => {
                    let record = body(wal.last_index() + 1, *len);
                    append(&mut wal, &record);
                    batch.push(record);
                }
                Op::Commit => {
                    wal.commit().expect("commits");
                    durable.append(&mut batch);
                }
            }
        }
        // The last commit, torn: its frames are written, then everything from the cut on is lost.
        let start = wal.write_offset;
        let pending = wal.pending.clone();
        let ends = wal.pending_ends.clone();
        drop(wal);
        let path = segments(dir.path()).pop().expect("a segment");
        let cut_at = (pending.len() as f64 * cut) as usize;
        let mut tail = pending[..cut_at].to_vec();
        if garbage {
            tail.extend((0..(pending.len() - cut_at).min(64)).map(|i| (i as u8).wrapping_mul(37) | 0x80));
        }
        let file = OpenOptions::new().write(true).open(&path).expect("opens the segment");
        file.write_all_at(&tail, start).expect("writes the torn tail");
        drop(file);
        let whole_frames = ends.iter().take_while(|&&end| end <= cut_at).count();
        let (mut wal, seen, _) = open(dir.path()).expect("recovers");
        let mut expected: Vec<(u64, Vec<u8>)> = durable
            .iter()
            .chain(batch.iter().take(whole_frames))
            .cloned()
            .enumerate()
            .map(|(i, record)| (i as u64 + 1, record))
            .collect();
        prop_assert_eq!(&seen, &expected);
        // Appending resumes after the recovered records, and they stay.
        let next = body(expected.len() as u64 + 1, 5);
        append(&mut wal, &next);
        wal.commit().expect("commits after recovery");
        expected.push((expected.len() as u64 + 1, next));
        drop(wal);
        let (_, seen, recovery) = open(dir.path()).expect("reopens");
        prop_assert_eq!(seen, expected);
        prop_assert_eq!(recovery.torn_tail, None);
    }
}

/// The chain a model computes: genesis, then SHA-256 of the previous hash and each body.
fn model_chain(bodies: &[Vec<u8>]) -> Hash {
    bodies
        .iter()
        .fold(genesis(NAME), |previous, body| chain_hash(&previous, body))
}

#[test]
fn the_chain_continues_across_segments_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, recovery) = open(dir.path()).expect("opens");
    assert_eq!(recovery.last_hash, genesis(NAME));
    assert_eq!(wal.last_hash(), genesis(NAME));
    let mut bodies = Vec::new();
    for index in 1..=2_500u64 {
        let record = body(index, 2_000);
        append(&mut wal, &record);
        bodies.push(record);
        if index % 100 == 0 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
    assert_eq!(wal.last_hash(), model_chain(&bodies));
    drop(wal);
    assert!(segments(dir.path()).len() >= 2, "crosses segments");
    let (mut wal, _, recovery) = open(dir.path()).expect("reopens");
    assert_eq!(recovery.last_hash, model_chain(&bodies));
    // Appending after a reopen continues the same chain, and every stored hash is its link.
    append(&mut wal, b"after");
    wal.commit().expect("commits");
    bodies.push(b"after".to_vec());
    drop(wal);
    let mut previous = genesis(NAME);
    let mut links = 0;
    for path in segments(dir.path()) {
        let bytes = std::fs::read(&path).expect("reads");
        let mut at = SEGMENT_HEADER_BYTES;
        while let Some(frame) = read_frame(&bytes, at, BODY_MAX).expect("frames") {
            assert_eq!(*frame.hash, chain_hash(&previous, frame.body));
            previous = *frame.hash;
            at += frame.frame_bytes;
            links += 1;
        }
    }
    assert_eq!((links, previous), (bodies.len(), model_chain(&bodies)));
}

/// Rewrites the first segment of `dir` with the frames `edit` makes of its records (bodies, stored hashes), each
/// with a valid CRC: a forger who knows the format but not how to fix the chain.
pub(super) fn forge(dir: &Path, edit: impl FnOnce(&mut Vec<(Vec<u8>, Hash)>)) -> PathBuf {
    let path = segments(dir)[0].clone();
    let bytes = std::fs::read(&path).expect("reads");
    let mut records = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while let Some(frame) = read_frame(&bytes, at, BODY_MAX).expect("frames") {
        records.push((frame.body.to_vec(), *frame.hash));
        at += frame.frame_bytes;
    }
    edit(&mut records);
    let mut forged = SEGMENT_MAGIC.to_vec();
    for (body, hash) in &records {
        let mut covered = hash.to_vec();
        covered.extend_from_slice(body);
        forged.extend_from_slice(&(body.len() as u32).to_le_bytes());
        forged.extend_from_slice(&crc32c::crc32c(&covered).to_le_bytes());
        forged.extend_from_slice(&covered);
    }
    forged.resize(bytes.len(), 0);
    std::fs::write(&path, &forged).expect("writes");
    path
}

/// A log of 2,000 records of 1,000 bytes (one segment, far longer than a commit).
pub(super) fn long_log(dir: &Path) {
    let (mut wal, _, _) = open(dir).expect("opens");
    for index in 1..=2_000u64 {
        append(&mut wal, &body(index, 1_000));
        if index % 100 == 0 {
            wal.commit().expect("commits");
        }
    }
    wal.commit().expect("commits");
}

pub(super) fn frame_offset(index: u64) -> u64 {
    (SEGMENT_HEADER_BYTES + (index as usize - 1) * (FRAME_HEADER_BYTES + 1_000)) as u64
}

fn expect_chain_break(dir: &Path, path: &Path, offset: u64) {
    match open(dir).map(|_| ()) {
        Err(OpenError::Corrupt {
            path: at,
            offset: found,
            reason,
            ..
        }) => {
            assert_eq!((at.as_path(), found), (path, offset));
            assert_eq!(reason, CHAIN_BREAK);
        }
        other => panic!("expected a chain break, got {other:?}"),
    }
}

#[test]
fn a_removed_record_breaks_the_chain_at_the_next_and_open_refuses_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let path = forge(dir.path(), |records| {
        records.remove(99);
    });
    // Record 100 is gone: the record now at index 100 (once 101) does not chain from 99.
    expect_chain_break(dir.path(), &path, frame_offset(100));
}

#[test]
fn swapped_records_and_an_edited_body_with_a_fixed_crc_break_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let path = forge(dir.path(), |records| records.swap(9, 10));
    expect_chain_break(dir.path(), &path, frame_offset(10));
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    let path = forge(dir.path(), |records| records[4].0[7] ^= 1);
    expect_chain_break(dir.path(), &path, frame_offset(5));
}

#[test]
fn a_chain_break_in_the_last_commit_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    long_log(dir.path());
    forge(dir.path(), |records| records.swap(1_998, 1_999));
    let (wal, seen, recovery) = open(dir.path()).expect("cuts the tail");
    assert_eq!((seen.len(), wal.last_index()), (1_998, 1_998));
    assert_eq!(
        recovery.torn_tail.map(|(_, at, _)| at),
        Some(frame_offset(1_999))
    );
}

#[test]
fn a_format_1_segment_is_refused_with_a_message_that_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Format 1: no header, the frame `len, crc, body` at offset 0.
    let body = b"an old record";
    let mut old = (body.len() as u32).to_le_bytes().to_vec();
    old.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    old.extend_from_slice(body);
    old.resize(SEGMENT_BYTES_MIN as usize, 0);
    std::fs::write(dir.path().join(format!("{NAME}-{:020}.seg", 1)), &old).expect("writes");
    match open(dir.path()).map(|_| ()) {
        Err(error @ OpenError::OldFormat { .. }) => {
            assert!(error.to_string().contains("format 1"), "{error}");
        }
        other => panic!("expected format 1 refused, got {other:?}"),
    }
}

#[test]
fn a_segment_whose_creation_was_cut_short_is_finished_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _, _) = open(dir.path()).expect("opens");
    append(&mut wal, b"one");
    wal.commit().expect("commits");
    let hash = wal.last_hash();
    drop(wal);
    // The crash came after the next segment's file was created and before its header was written.
    let blank = dir.path().join(format!("{NAME}-{:020}.seg", 2));
    std::fs::write(&blank, vec![0u8; 4_096]).expect("writes");
    let (mut wal, seen, recovery) = open(dir.path()).expect("opens");
    assert_eq!((seen.len(), recovery.last_hash), (1, hash));
    let bytes = std::fs::read(&blank).expect("reads");
    assert!(bytes.starts_with(&SEGMENT_MAGIC));
    assert_eq!(bytes.len() as u64, SEGMENT_BYTES_MIN);
    append(&mut wal, b"two");
    wal.commit().expect("commits");
    drop(wal);
    let (_, seen, _) = open(dir.path()).expect("reopens");
    assert_eq!(seen, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
}
