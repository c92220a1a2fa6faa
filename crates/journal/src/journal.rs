//! The journal: the source of truth. Sequenced commands, each with its origin, are the records of a write-ahead log
//! ([`crate::wal`]: CRC-framed, hash-chained records in preallocated segments, one fdatasync per group commit, torn
//! tail cut, corruption and chain breaks refused with the file and offset; the chain starts from
//! `SHA-256("journal")`). Start-up hands each record to the caller, which replays it into the engine; [`check`] is
//! the read-only check of `fixvenue verify`.
//!
//! Record: `version: u8` and the payload ([`crate::record`]): version 2 is the command and its origin (the
//! submitter's opaque context), version 1 the command alone (still read, with an empty origin; never written).
//! A record's index in the log is its sequence number: the journal refuses a record whose number is not the next
//! one, and on open a record whose number is not its place is damage.
//!
//! Segments are named `journal-<first seq, 20 digits>.seg`.

use std::path::{Path, PathBuf};

use super::record::{self, ORIGIN_BYTES_MAX, RECORD_PAYLOAD_BYTES_MAX};
use super::wal::{self, Wal, WalOptions};
use engine::{Seq, Sequenced};

pub use super::wal::{
    COMMIT_BYTES_MAX, CommitError, FRAME_HEADER_BYTES, OpenError, SEGMENT_BYTES_DEFAULT,
    SEGMENT_BYTES_MIN, SEGMENTS_MAX,
};

/// The log's name: segment files are `journal-<20 digits>.seg`.
pub const JOURNAL_NAME: &str = "journal";
/// The version appended: the command and its origin.
pub const RECORD_VERSION: u8 = 2;
/// The first version, the command alone: still read (with an empty origin), never written.
pub const RECORD_VERSION_COMMAND_ONLY: u8 = 1;
/// The largest frame: header, version byte, payload.
pub const FRAME_BYTES_MAX: usize = FRAME_HEADER_BYTES + 1 + RECORD_PAYLOAD_BYTES_MAX;

#[derive(Clone, Copy, Debug)]
pub struct JournalOptions {
    pub segment_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> JournalOptions {
        JournalOptions {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
        }
    }
}

impl JournalOptions {
    fn wal(self) -> WalOptions {
        WalOptions {
            name: JOURNAL_NAME,
            segment_bytes: self.segment_bytes,
            body_bytes_max: 1 + RECORD_PAYLOAD_BYTES_MAX,
        }
    }
}

/// Why a record could not be appended.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    #[error("record {found} appended after {last}: sequence numbers must be contiguous")]
    OutOfSequence { last: Seq, found: Seq },
    #[error("origin of {bytes} bytes; the most is {ORIGIN_BYTES_MAX}")]
    OriginTooLarge { bytes: usize },
    #[error("the journal failed earlier and accepts nothing more: {0}")]
    Failed(String),
}

/// What start-up found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub records: u64,
    pub last_seq: Seq,
    /// A torn write at the tail that was cut off: the segment, the offset of the cut and the bytes zeroed.
    pub torn_tail: Option<(PathBuf, u64, u64)>,
}

pub struct Journal {
    wal: Wal,
    last_ts_ns: i64,
}

/// One record's body read back: the command and its origin.
pub fn decode_body(body: &[u8]) -> Result<(Sequenced, &[u8]), String> {
    match body[0] {
        RECORD_VERSION => record::decode(&body[1..]),
        RECORD_VERSION_COMMAND_ONLY => {
            record::decode_v1(&body[1..]).map(|record| (record, &[][..]))
        }
        version => return Err(format!("unknown record version {version}")),
    }
    .map_err(|error| error.to_string())
}

/// Checks the journal in `dir` read-only ([`wal::verify::check`]): CRCs, the hash chain, and that every record
/// decodes and carries the number after the one before it (a removed or moved record shows there too). Hands
/// every record that decodes to `visit` with its index, stored hash and origin. Never writes: safe while the venue
/// runs.
pub fn check(
    dir: &Path,
    mut visit: impl FnMut(u64, &wal::Hash, &Sequenced, &[u8]),
) -> Result<wal::verify::LogCheck, OpenError> {
    // The index and number of the last record seen: a record's number must be the one before it plus the distance
    // (a damaged frame skipped between them keeps its index; records come once each, in order).
    let mut previous: Option<(u64, Seq)> = None;
    wal::verify::check(
        dir,
        JOURNAL_NAME,
        JournalOptions::default().wal().body_bytes_max,
        &mut |index, hash, body| {
            let (record, origin) = decode_body(body)?;
            visit(index, hash, &record, origin);
            let expected = previous.map_or(index, |(at, seq)| seq + (index - at));
            previous = Some((index, record.seq));
            if record.seq != expected {
                return Err(format!("numbered {} where {expected} was due", record.seq));
            }
            Ok(())
        },
    )
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, handing every record and its origin (empty for a version 1
    /// record) to `apply` in order. On an error, whatever `apply` built from the records seen so far must be
    /// discarded.
    pub fn open(
        dir: &Path,
        options: JournalOptions,
        mut apply: impl FnMut(&Sequenced, &[u8]),
    ) -> Result<(Journal, Recovery), OpenError> {
        let mut last_ts_ns = i64::MIN;
        let (wal, recovery) = Wal::open(dir, options.wal(), |index, body| {
            let (record, origin) = decode_body(body)?;
            if record.seq != index {
                return Err(format!("record {} follows {}", record.seq, index - 1));
            }
            last_ts_ns = record.ts_ns;
            apply(&record, origin);
            Ok(())
        })?;
        let recovery = Recovery {
            records: recovery.records,
            last_seq: recovery.last_index,
            torn_tail: recovery.torn_tail,
        };
        Ok((Journal { wal, last_ts_ns }, recovery))
    }

    /// The timestamp of the last record appended or recovered (`i64::MIN` for an empty journal), so that a
    /// restarted sequencer never stamps a time earlier than one already journaled.
    pub fn last_ts_ns(&self) -> i64 {
        self.last_ts_ns
    }

    /// The last sequence number appended (durable or not).
    pub fn last_seq(&self) -> Seq {
        self.wal.last_index()
    }

    /// The chain hash of the last record appended or recovered ([`wal::genesis`] of the journal when empty).
    pub fn last_hash(&self) -> wal::Hash {
        self.wal.last_hash()
    }

    /// The last sequence number made durable by a commit.
    pub fn durable_seq(&self) -> Seq {
        self.wal.durable_index()
    }

    /// Bytes appended and not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.wal.pending_bytes()
    }

    /// Frames `record` and its `origin` (at most [`ORIGIN_BYTES_MAX`] bytes, opaque to the journal) into the commit
    /// buffer. The encoding is decoded again and compared, origin included, before it is accepted.
    pub fn append(&mut self, record: &Sequenced, origin: &[u8]) -> Result<(), AppendError> {
        if record.seq != self.wal.last_index() + 1 {
            return Err(AppendError::OutOfSequence {
                last: self.wal.last_index(),
                found: record.seq,
            });
        }
        if origin.len() > ORIGIN_BYTES_MAX {
            return Err(AppendError::OriginTooLarge {
                bytes: origin.len(),
            });
        }
        let body = self
            .wal
            .append(|buf| {
                buf.push(RECORD_VERSION);
                record::encode(record, origin, buf);
            })
            .map_err(|error| match error {
                wal::AppendError::Failed(reason) => AppendError::Failed(reason),
                // Impossible: a record with an origin within bounds fits the body limit.
                too_large @ wal::AppendError::TooLarge { .. } => {
                    panic!("record {} does not fit a frame: {too_large}", record.seq)
                }
            })?;
        assert_eq!(
            record::decode(&body[1..]),
            Ok((*record, origin)),
            "record {} does not round-trip",
            record.seq
        );
        self.last_ts_ns = record.ts_ns;
        Ok(())
    }

    /// Writes every pending record and makes it durable (one fdatasync per segment touched).
    pub fn commit(&mut self) -> Result<(), CommitError> {
        self.wal.commit()
    }
}

pub mod reader;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::os::unix::fs::FileExt;

    use engine::{Command, Sequenced};

    const SMALL: JournalOptions = JournalOptions {
        segment_bytes: SEGMENT_BYTES_MIN,
    };

    fn record(seq: Seq) -> Sequenced {
        Sequenced {
            seq,
            ts_ns: seq as i64 * 1_000,
            command: Command::Time { now_ns: seq as i64 },
        }
    }

    fn open(dir: &Path) -> Result<(Journal, Vec<Sequenced>, Recovery), OpenError> {
        let mut seen = Vec::new();
        let (journal, recovery) = Journal::open(dir, SMALL, |record, _| seen.push(*record))?;
        Ok((journal, seen, recovery))
    }

    fn write(dir: &Path, count: u64, per_commit: u64) {
        let (mut journal, _, _) = open(dir).expect("opens");
        for seq in journal.last_seq() + 1..=journal.last_seq() + count {
            journal.append(&record(seq), &[]).expect("appends");
            if seq % per_commit == 0 {
                journal.commit().expect("commits");
            }
        }
        journal.commit().expect("commits");
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("lists")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "seg"))
            .collect();
        out.sort();
        out
    }

    fn only_segment(dir: &Path) -> PathBuf {
        let segments = segments(dir);
        assert_eq!(segments.len(), 1);
        segments[0].clone()
    }

    #[test]
    fn reopens_with_every_record_and_appends_after_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), 1_000, 64);
        write(dir.path(), 10, 3);
        let (journal, seen, recovery) = open(dir.path()).expect("reopens");
        assert_eq!(seen, (1..=1_010).map(record).collect::<Vec<_>>());
        assert_eq!((recovery.last_seq, recovery.torn_tail), (1_010, None));
        assert_eq!(journal.durable_seq(), 1_010);
        assert_eq!(journal.last_ts_ns(), 1_010 * 1_000);
    }

    #[test]
    fn crosses_segments_and_reads_them_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        // About 50 bytes a frame: 300k records fill more than one 4 MiB segment.
        write(dir.path(), 300_000, 10_000);
        assert!(segments(dir.path()).len() >= 2);
        let (_, seen, _) = open(dir.path()).expect("reopens");
        assert_eq!(seen.len(), 300_000);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(index, record)| record.seq == index as u64 + 1)
        );
    }

    #[test]
    fn a_torn_tail_is_cut_and_appending_resumes_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), 100, 10);
        let path = only_segment(dir.path());
        let bytes = fs::read(&path).expect("reads");
        let end = bytes.iter().rposition(|&byte| byte != 0).expect("data") + 1;
        // Tear the last record: its last bytes never reached the disk.
        let file = OpenOptions::new().write(true).open(&path).expect("opens");
        file.write_all_at(&[0, 0, 0], (end - 3) as u64)
            .expect("tears");
        let (mut journal, seen, recovery) = open(dir.path()).expect("recovers");
        assert_eq!(seen.len(), 99);
        let (torn_path, _, torn_bytes) = recovery.torn_tail.expect("reports the torn tail");
        assert_eq!(torn_path, path);
        assert!(torn_bytes > 0);
        journal
            .append(&record(100), &[])
            .expect("appends where the tear was");
        journal.commit().expect("commits");
        drop(journal);
        assert_eq!(open(dir.path()).expect("reopens").1.len(), 100);
    }

    #[test]
    fn corruption_before_the_tail_is_refused_with_its_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        // About 50 bytes a frame: 60k records stay in one 4 MiB segment and end more than a commit after byte
        // 1,000.
        write(dir.path(), 60_000, 10_000);
        let path = only_segment(dir.path());
        let offset = 1_000u64;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("opens");
        let mut byte = [0u8; 1];
        file.read_exact_at(&mut byte, offset).expect("reads");
        file.write_all_at(&[byte[0] ^ 0x40], offset)
            .expect("flips a bit");
        let error = open(dir.path()).err().expect("refuses to open");
        let OpenError::Corrupt {
            path: bad_path,
            offset: bad_offset,
            ..
        } = &error
        else {
            panic!("expected corruption, got {error}");
        };
        assert_eq!(bad_path, &path);
        assert!(
            *bad_offset <= offset && offset - *bad_offset < FRAME_BYTES_MAX as u64,
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!("byte offset {bad_offset}")),
            "{error}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Whatever bytes a segment holds, opening never panics: it yields a prefix of the records written or an
        /// error naming the damage.
        #[test]
        fn damaged_segments_never_panic(damage in proptest::collection::vec((0..6_000usize, 0..=255u8), 1..8)) {
            let dir = tempfile::tempdir().expect("tempdir");
            write(dir.path(), 300, 50);
            let path = only_segment(dir.path());
            let file = OpenOptions::new().write(true).open(&path).expect("opens");
            for (offset, byte) in damage {
                file.write_all_at(&[byte], offset as u64).expect("damages");
            }
            if let Ok((_, seen, _)) = open(dir.path()) {
                proptest::prop_assert!(seen.iter().enumerate().all(|(i, r)| *r == record(i as u64 + 1)));
            }
        }
    }

    #[test]
    fn appends_must_be_contiguous() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _, _) = open(dir.path()).expect("opens");
        assert_eq!(
            journal.append(&record(2), &[]),
            Err(AppendError::OutOfSequence { last: 0, found: 2 })
        );
    }

    fn origin(seq: Seq) -> Vec<u8> {
        (0..seq % 300).map(|byte| (byte ^ seq) as u8).collect()
    }

    fn open_with_origins(dir: &Path) -> (Journal, Vec<(Sequenced, Vec<u8>)>) {
        let mut seen = Vec::new();
        let (journal, _) = Journal::open(dir, SMALL, |record, origin| {
            seen.push((*record, origin.to_vec()))
        })
        .expect("opens");
        (journal, seen)
    }

    #[test]
    fn origins_come_back_with_their_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) = open_with_origins(dir.path());
        for seq in 1..=1_000 {
            journal.append(&record(seq), &origin(seq)).expect("appends");
        }
        journal
            .append(&record(1_001), &[0xa5; ORIGIN_BYTES_MAX])
            .expect("appends the largest origin");
        journal.commit().expect("commits");
        drop(journal);
        let (_, seen) = open_with_origins(dir.path());
        let mut expected: Vec<_> = (1..=1_000).map(|seq| (record(seq), origin(seq))).collect();
        expected.push((record(1_001), vec![0xa5; ORIGIN_BYTES_MAX]));
        assert_eq!(seen, expected);
    }

    #[test]
    fn an_origin_over_the_limit_is_refused_and_nothing_is_appended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) = open_with_origins(dir.path());
        assert_eq!(
            journal.append(&record(1), &[0; ORIGIN_BYTES_MAX + 1]),
            Err(AppendError::OriginTooLarge {
                bytes: ORIGIN_BYTES_MAX + 1
            })
        );
        assert_eq!((journal.last_seq(), journal.pending_bytes()), (0, 0));
        journal.append(&record(1), b"next").expect("appends");
    }

    /// A record of version 1 (the command alone), framed after a record whose hash is `previous`.
    fn frame_v1(record: &Sequenced, previous: &mut wal::Hash) -> Vec<u8> {
        let mut body = vec![RECORD_VERSION_COMMAND_ONLY];
        record::encode(record, &[], &mut body);
        assert_eq!(body.pop(), Some(0), "an empty origin is one zero byte");
        let mut frame = Vec::new();
        *previous = wal::encode_frame(previous, &body, &mut frame);
        frame
    }

    #[test]
    fn version_1_frames_still_read_with_an_empty_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(open_with_origins(dir.path()));
        let mut chain = wal::genesis(JOURNAL_NAME);
        let frames: Vec<u8> = (1..=50)
            .flat_map(|seq| frame_v1(&record(seq), &mut chain))
            .collect();
        let file = OpenOptions::new()
            .write(true)
            .open(only_segment(dir.path()))
            .expect("opens");
        file.write_all_at(&frames, wal::SEGMENT_HEADER_BYTES as u64)
            .expect("writes version 1 frames");
        let (mut journal, seen) = open_with_origins(dir.path());
        assert_eq!(
            seen,
            (1..=50)
                .map(|seq| (record(seq), Vec::new()))
                .collect::<Vec<_>>()
        );
        journal.append(&record(51), b"after").expect("appends");
        journal.commit().expect("commits");
        drop(journal);
        let (_, seen) = open_with_origins(dir.path());
        assert_eq!(seen.len(), 51);
        assert_eq!(seen[50], (record(51), b"after".to_vec()));
    }

    #[test]
    fn an_unknown_version_is_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) = open_with_origins(dir.path());
        for seq in 1..=10 {
            // A non-empty origin, so that the last written byte is not zero and marks the end.
            journal.append(&record(seq), b"o").expect("appends");
        }
        journal.commit().expect("commits");
        let mut body = vec![3];
        record::encode(&record(11), b"o", &mut body);
        let mut frame = Vec::new();
        wal::encode_frame(&journal.last_hash(), &body, &mut frame);
        drop(journal);
        let path = only_segment(dir.path());
        let end = fs::read(&path)
            .expect("reads")
            .iter()
            .rposition(|&byte| byte != 0)
            .expect("data")
            + 1;
        let file = OpenOptions::new().write(true).open(&path).expect("opens");
        file.write_all_at(&frame, end as u64).expect("writes");
        let (_, seen, recovery) = open(dir.path()).expect("cuts it as a torn tail");
        assert_eq!(seen.len(), 10);
        assert_eq!(recovery.torn_tail.map(|(_, at, _)| at), Some(end as u64));
    }

    #[test]
    fn check_finds_a_removed_record_by_its_chain_and_its_numbering_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), 100, 10);
        let path = only_segment(dir.path());
        let bytes = fs::read(&path).expect("reads");
        // Rewrite the segment without record 40, every frame with its own hash and a valid CRC.
        let mut at = wal::SEGMENT_HEADER_BYTES;
        let mut forged = wal::SEGMENT_MAGIC.to_vec();
        let mut removed_at = 0;
        while let Some(frame) = wal::read_frame(&bytes, at, usize::MAX >> 1).expect("frames") {
            let record = decode_body(frame.body).expect("decodes").0;
            if record.seq == 40 {
                removed_at = forged.len();
            } else {
                let mut covered = frame.hash.to_vec();
                covered.extend_from_slice(frame.body);
                forged.extend_from_slice(&(frame.body.len() as u32).to_le_bytes());
                forged.extend_from_slice(&crc32c::crc32c(&covered).to_le_bytes());
                forged.extend_from_slice(&covered);
            }
            at += frame.frame_bytes;
        }
        forged.resize(bytes.len(), 0);
        fs::write(&path, forged).expect("writes");
        let mut seen = Vec::new();
        let log = check(dir.path(), |index, _, record, _| {
            seen.push((index, record.seq))
        })
        .expect("checks");
        let found: Vec<(u64, u64, &str)> = log
            .findings
            .iter()
            .map(|f| (f.at.offset, f.at.index, f.what.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (removed_at as u64, 40, wal::CHAIN_BREAK),
                (
                    removed_at as u64,
                    40,
                    "record: numbered 41 where 40 was due"
                ),
            ]
        );
        assert_eq!(seen.len(), 99);
        assert_eq!(seen[39], (40, 41));
        assert_eq!(log.last_index, 99);
    }
}
