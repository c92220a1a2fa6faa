//! The journal: the source of truth. Sequenced commands are appended as CRC-framed records to preallocated segment
//! files, and each group commit ends with one fdatasync. Start-up reads every segment, hands each record to the
//! caller (which replays it into the engine), cuts a torn tail, and refuses to start on corruption anywhere else,
//! naming the file and the byte offset.
//!
//! Frame: `len: u32 LE` (bytes after the header), `crc32c: u32 LE` (of those bytes), then `version: u8` and the
//! record payload ([`super::record`]): version 2 is the command and its origin (the submitter's opaque context),
//! version 1 the command alone (still read, with an empty origin; never written). A zero length marks the end of the written part of a segment: segments are
//! filled with zeros when created, so that a later fdatasync only flushes data, never block allocation.
//!
//! Segments are named `journal-<first seq, 20 digits>.seg`. A commit that crosses into a new segment syncs the old
//! one before it writes the new one, so only the last segment can ever hold a torn write. A torn write is at most
//! one commit long ([`COMMIT_BYTES_MAX`]): damage closer than that to the end of the written data of the last
//! segment is a torn tail and is cut; damage further back is corruption.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, ORIGIN_BYTES_MAX, RECORD_PAYLOAD_BYTES_MAX};
use engine::{Seq, Sequenced};

pub const FRAME_HEADER_BYTES: usize = 8;
/// The version appended: the command and its origin.
pub const RECORD_VERSION: u8 = 2;
/// The first version, the command alone: still read (with an empty origin), never written.
pub const RECORD_VERSION_COMMAND_ONLY: u8 = 1;
/// The largest frame: header, version byte, payload.
pub const FRAME_BYTES_MAX: usize = FRAME_HEADER_BYTES + 1 + RECORD_PAYLOAD_BYTES_MAX;
/// The most bytes one group commit writes; the sequencer commits before a batch grows past it.
pub const COMMIT_BYTES_MAX: usize = 1 << 20;
/// The default segment size.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;
/// The smallest segment size accepted (tests use small segments to cross segment boundaries).
pub const SEGMENT_BYTES_MIN: u64 = 4 * COMMIT_BYTES_MAX as u64;
/// The most segment files one journal may have.
pub const SEGMENTS_MAX: usize = 1 << 16;
const ZERO_CHUNK_BYTES: usize = 1 << 20;

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

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "journal segment {path} is corrupt at byte offset {offset}: {reason}; refusing to start"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: not a journal segment name (journal-<20 digits>.seg)")]
    BadName { path: PathBuf },
    #[error("{dir}: more than {SEGMENTS_MAX} journal segments")]
    TooManySegments { dir: PathBuf },
    #[error("segment size {segment_bytes} is below the minimum {SEGMENT_BYTES_MIN}")]
    SegmentTooSmall { segment_bytes: u64 },
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

/// Why a commit failed. After one, the journal refuses every append and commit (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
    dir: PathBuf,
    segment_bytes: u64,
    file: File,
    path: PathBuf,
    /// Where the next frame goes in the current segment.
    write_offset: u64,
    /// Frames appended but not yet written, and where each ends in `pending`.
    pending: Vec<u8>,
    pending_ends: Vec<usize>,
    last_seq: Seq,
    last_ts_ns: i64,
    durable_seq: Seq,
    failed: Option<String>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, first_seq: Seq) -> PathBuf {
    dir.join(format!("journal-{first_seq:020}.seg"))
}

/// The segment files of `dir` with the first sequence number their names promise, in order.
fn list_segments(dir: &Path) -> Result<Vec<(Seq, PathBuf)>, OpenError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if !name.ends_with(".seg") {
            continue;
        }
        let digits = name
            .strip_prefix("journal-")
            .and_then(|rest| rest.strip_suffix(".seg"));
        let first_seq = digits
            .filter(|d| d.len() == 20)
            .and_then(|d| d.parse::<Seq>().ok());
        let Some(first_seq) = first_seq else {
            return Err(OpenError::BadName { path });
        };
        if segments.len() >= SEGMENTS_MAX {
            return Err(OpenError::TooManySegments {
                dir: dir.to_path_buf(),
            });
        }
        segments.push((first_seq, path));
    }
    segments.sort();
    Ok(segments)
}

/// Where and why the valid records of a segment end.
struct ScanEnd {
    offset: u64,
    /// None: a zero length (the clean end of written data); Some: the frame at `offset` is bad, and why.
    bad: Option<String>,
}

/// A frame read back: the record, its origin and the frame's length.
type Frame<'a> = (Sequenced, &'a [u8], usize);

/// Checks one frame at `at`.
fn read_frame(bytes: &[u8], at: usize) -> Result<Option<Frame<'_>>, String> {
    if at + FRAME_HEADER_BYTES > bytes.len() {
        return Ok(None);
    }
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    if len == 0 {
        return Ok(None);
    }
    if len > 1 + RECORD_PAYLOAD_BYTES_MAX || at + FRAME_HEADER_BYTES + len > bytes.len() {
        return Err(format!("frame length {len} is impossible"));
    }
    let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
    let body = &bytes[at + FRAME_HEADER_BYTES..at + FRAME_HEADER_BYTES + len];
    if crc32c::crc32c(body) != crc {
        return Err("CRC mismatch".into());
    }
    let (record, origin) = match body[0] {
        RECORD_VERSION => record::decode(&body[1..]),
        RECORD_VERSION_COMMAND_ONLY => {
            record::decode_v1(&body[1..]).map(|record| (record, &[][..]))
        }
        version => return Err(format!("unknown record version {version}")),
    }
    .map_err(|error| error.to_string())?;
    Ok(Some((record, origin, FRAME_HEADER_BYTES + len)))
}

/// Hands every valid record of a segment to `apply`, checking that sequence numbers follow `last_seq`.
fn scan_segment(
    bytes: &[u8],
    last_seq: &mut Seq,
    records: &mut u64,
    apply: &mut dyn FnMut(&Sequenced, &[u8]),
) -> ScanEnd {
    let mut at = 0;
    loop {
        match read_frame(bytes, at) {
            Ok(None) => {
                return ScanEnd {
                    offset: at as u64,
                    bad: None,
                };
            }
            Err(reason) => {
                return ScanEnd {
                    offset: at as u64,
                    bad: Some(reason),
                };
            }
            Ok(Some((record, origin, frame_bytes))) => {
                if record.seq != *last_seq + 1 {
                    let reason = format!("record {} follows {}", record.seq, last_seq);
                    return ScanEnd {
                        offset: at as u64,
                        bad: Some(reason),
                    };
                }
                apply(&record, origin);
                *last_seq = record.seq;
                *records += 1;
                at += frame_bytes;
            }
        }
    }
}

/// Writes zeros over `[from, to)` of `file`.
fn write_zeros(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < to {
        let chunk = (to - at).min(ZERO_CHUNK_BYTES as u64) as usize;
        file.write_all_at(&zeros[..chunk], at)?;
        at += chunk as u64;
    }
    Ok(())
}

/// Creates a segment filled with zeros, durably (file data and directory entry).
fn create_segment(
    dir: &Path,
    first_seq: Seq,
    segment_bytes: u64,
) -> std::io::Result<(File, PathBuf)> {
    let path = segment_path(dir, first_seq);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    write_zeros(&file, 0, segment_bytes)?;
    // sync_all, not sync_data: the file's size is metadata and must survive a crash too.
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok((file, path))
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
        if options.segment_bytes < SEGMENT_BYTES_MIN {
            return Err(OpenError::SegmentTooSmall {
                segment_bytes: options.segment_bytes,
            });
        }
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let segments = list_segments(dir)?;
        let mut recovery = Recovery::default();
        if segments.is_empty() {
            let (file, path) =
                create_segment(dir, 1, options.segment_bytes).map_err(io_error(dir))?;
            return Ok((Journal::at(dir, options, file, path, 0, 0), recovery));
        }
        let mut last_seq = 0;
        let mut last_ts_ns = i64::MIN;
        let mut apply = |record: &Sequenced, origin: &[u8]| {
            last_ts_ns = record.ts_ns;
            apply(record, origin);
        };
        let count = segments.len();
        for (index, (first_seq, path)) in segments.into_iter().enumerate() {
            let is_last = index + 1 == count;
            if first_seq != last_seq + 1 {
                let reason =
                    format!("named for record {first_seq} but the journal is at {last_seq}");
                return Err(OpenError::Corrupt {
                    path,
                    offset: 0,
                    reason,
                });
            }
            let bytes = fs::read(&path).map_err(io_error(&path))?;
            let end = scan_segment(&bytes, &mut last_seq, &mut recovery.records, &mut apply);
            let written_end = bytes
                .iter()
                .rposition(|&byte| byte != 0)
                .map_or(0, |at| at as u64 + 1);
            let damaged = end.bad.is_some() || written_end > end.offset;
            if !is_last {
                if damaged || last_seq < first_seq {
                    let reason = end
                        .bad
                        .unwrap_or_else(|| "data after the end of the records".into());
                    return Err(OpenError::Corrupt {
                        path,
                        offset: end.offset,
                        reason,
                    });
                }
                continue;
            }
            if damaged && written_end > end.offset + COMMIT_BYTES_MAX as u64 {
                let reason = end
                    .bad
                    .unwrap_or_else(|| "data after the end of the records".into());
                return Err(OpenError::Corrupt {
                    path,
                    offset: end.offset,
                    reason,
                });
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_error(&path))?;
            if damaged {
                write_zeros(&file, end.offset, written_end).map_err(io_error(&path))?;
                file.sync_data().map_err(io_error(&path))?;
                recovery.torn_tail = Some((path.clone(), end.offset, written_end - end.offset));
            }
            if (bytes.len() as u64) < options.segment_bytes {
                write_zeros(&file, bytes.len() as u64, options.segment_bytes)
                    .map_err(io_error(&path))?;
                file.sync_all().map_err(io_error(&path))?;
            }
            recovery.last_seq = last_seq;
            let mut journal = Journal::at(dir, options, file, path, end.offset, last_seq);
            journal.last_ts_ns = last_ts_ns;
            return Ok((journal, recovery));
        }
        unreachable!("the loop returns at the last segment")
    }

    fn at(
        dir: &Path,
        options: JournalOptions,
        file: File,
        path: PathBuf,
        offset: u64,
        last_seq: Seq,
    ) -> Journal {
        Journal {
            dir: dir.to_path_buf(),
            segment_bytes: options.segment_bytes,
            file,
            path,
            write_offset: offset,
            pending: Vec::with_capacity(COMMIT_BYTES_MAX + FRAME_BYTES_MAX),
            pending_ends: Vec::new(),
            last_seq,
            last_ts_ns: i64::MIN,
            durable_seq: last_seq,
            failed: None,
        }
    }

    /// The timestamp of the last record appended or recovered (`i64::MIN` for an empty journal), so that a
    /// restarted sequencer never stamps a time earlier than one already journaled.
    pub fn last_ts_ns(&self) -> i64 {
        self.last_ts_ns
    }

    /// The last sequence number appended (durable or not).
    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// The last sequence number made durable by a commit.
    pub fn durable_seq(&self) -> Seq {
        self.durable_seq
    }

    /// Bytes appended and not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Frames `record` and its `origin` (at most [`ORIGIN_BYTES_MAX`] bytes, opaque to the journal) into the commit
    /// buffer. The encoding is decoded again and compared, origin included, before it is accepted.
    pub fn append(&mut self, record: &Sequenced, origin: &[u8]) -> Result<(), AppendError> {
        if let Some(reason) = &self.failed {
            return Err(AppendError::Failed(reason.clone()));
        }
        if record.seq != self.last_seq + 1 {
            return Err(AppendError::OutOfSequence {
                last: self.last_seq,
                found: record.seq,
            });
        }
        if origin.len() > ORIGIN_BYTES_MAX {
            return Err(AppendError::OriginTooLarge {
                bytes: origin.len(),
            });
        }
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        self.pending.push(RECORD_VERSION);
        record::encode(record, origin, &mut self.pending);
        let body = &self.pending[start + FRAME_HEADER_BYTES..];
        assert_eq!(
            record::decode(&body[1..]),
            Ok((*record, origin)),
            "record {} does not round-trip",
            record.seq
        );
        let (len, crc) = (body.len() as u32, crc32c::crc32c(body));
        self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.pending_ends.push(self.pending.len());
        self.last_seq = record.seq;
        self.last_ts_ns = record.ts_ns;
        Ok(())
    }

    /// Writes every pending frame and makes it durable (one fdatasync per segment touched).
    pub fn commit(&mut self) -> Result<(), CommitError> {
        if let Some(reason) = &self.failed {
            return Err(CommitError::Failed(reason.clone()));
        }
        if let Err(error) = self.write_pending() {
            self.failed = Some(error.to_string());
            return Err(error);
        }
        self.pending.clear();
        self.pending_ends.clear();
        self.durable_seq = self.last_seq;
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), CommitError> {
        let first_pending_seq = self.last_seq + 1 - self.pending_ends.len() as u64;
        let (mut written, mut frames) = (0usize, 0usize);
        while frames < self.pending_ends.len() {
            let room = (self.segment_bytes - self.write_offset) as usize;
            let fit = self.pending_ends[frames..].partition_point(|&end| end - written <= room);
            if fit == 0 {
                self.roll(first_pending_seq + frames as u64)?;
                continue;
            }
            let end = self.pending_ends[frames + fit - 1];
            let io = |source| CommitError::Io {
                path: self.path.clone(),
                source,
            };
            self.file
                .write_all_at(&self.pending[written..end], self.write_offset)
                .map_err(io)?;
            self.file.sync_data().map_err(|source| CommitError::Io {
                path: self.path.clone(),
                source,
            })?;
            self.write_offset += (end - written) as u64;
            written = end;
            frames += fit;
        }
        Ok(())
    }

    /// Starts the next segment; the current one was synced by the commit that filled it.
    fn roll(&mut self, first_seq: Seq) -> Result<(), CommitError> {
        let (file, path) =
            create_segment(&self.dir, first_seq, self.segment_bytes).map_err(|source| {
                CommitError::Io {
                    path: segment_path(&self.dir, first_seq),
                    source,
                }
            })?;
        self.file = file;
        self.path = path;
        self.write_offset = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn only_segment(dir: &Path) -> PathBuf {
        let segments = list_segments(dir).expect("lists");
        assert_eq!(segments.len(), 1);
        segments[0].1.clone()
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
        // About 20 bytes a frame: 300k records fill more than one 4 MiB segment.
        write(dir.path(), 300_000, 10_000);
        assert!(list_segments(dir.path()).expect("lists").len() >= 2);
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
        write(dir.path(), 150_000, 10_000);
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

    /// A version 1 frame: the command alone.
    fn frame_v1(record: &Sequenced) -> Vec<u8> {
        let mut body = vec![RECORD_VERSION_COMMAND_ONLY];
        record::encode(record, &[], &mut body);
        assert_eq!(body.pop(), Some(0), "an empty origin is one zero byte");
        let mut frame = (body.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        frame.extend_from_slice(&body);
        frame
    }

    #[test]
    fn version_1_frames_still_read_with_an_empty_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(open_with_origins(dir.path()));
        let frames: Vec<u8> = (1..=50).flat_map(|seq| frame_v1(&record(seq))).collect();
        let file = OpenOptions::new()
            .write(true)
            .open(only_segment(dir.path()))
            .expect("opens");
        file.write_all_at(&frames, 0)
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
        drop(journal);
        let mut frame = frame_v1(&record(11));
        frame[FRAME_HEADER_BYTES] = 3;
        let crc = crc32c::crc32c(&frame[FRAME_HEADER_BYTES..]);
        frame[4..8].copy_from_slice(&crc.to_le_bytes());
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
}
