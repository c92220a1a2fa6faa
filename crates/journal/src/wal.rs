//! A write-ahead log: opaque records, CRC-framed and hash-chained, appended to preallocated segment files, made
//! durable by a group commit that ends with one fdatasync. The journal of sequenced commands and the session log
//! are its two users (one mechanism, two logs).
//!
//! Format 2 (this one). A segment starts with [`SEGMENT_MAGIC`] (8 bytes: `FXVWAL`, 0, the format number 2), then
//! frames. Frame: `len: u32 LE` (bytes of the body), `crc32c: u32 LE` (of the chain hash and the body), `hash:
//! [u8; 32]`, then the body (the user's record, which starts with the user's own version byte). A zero length
//! marks the end of the written part of a segment: segments are filled with zeros when created, so that a later
//! fdatasync only flushes data, never block allocation.
//!
//! Hash chain: a record's `hash` is `SHA-256(hash of the previous record || body)`; the first record of the log
//! chains from the genesis value `SHA-256(log name)` (`SHA-256("journal")`, `SHA-256("sessionlog")`, see
//! [`genesis`]). The chain runs on across segments. An edited record breaks its own link (its CRC, if the editor
//! did not fix it, else its hash); a removed or reordered one breaks the link of the record after it. Someone who
//! rewrites every hash from the edit to the end is caught only against a hash exported earlier (a seal).
//!
//! Format 1 (before the chain: no segment header, 8-byte frame header) is refused on open with a message that
//! says so; it is never read as format 2, nor format 2 as format 1 (the magic read as a length is impossible).
//!
//! Records are numbered 1, 2, 3, ... in the order appended (their *index*); the log keeps no number in the frame,
//! the position is the number. Segments are named `<name>-<index of their first record, 20 digits>.seg`. A commit
//! that crosses into a new segment syncs the old one before it writes the new one, so only the last segment can
//! ever hold a torn write. A torn write is at most one commit long ([`COMMIT_BYTES_MAX`]): damage (a bad length,
//! CRC or chain link) closer than that to the end of the written data of the last segment is a torn tail and is
//! cut; damage further back is corruption, and opening refuses with the file and the byte offset.
//!
//! [`read_frame`] is the one frame parser: [`Wal::open`], the read-only checker [`verify`] and any other reader
//! of the segments go through it, and check the chain with [`chain_hash`].
//!
//! Invariant: nothing is durable before [`Wal::commit`] returns; after a failed commit the log refuses everything
//! (fail closed).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The first bytes of every segment of format 2: `FXVWAL`, 0, the format number. Read as a format 1 frame length
/// it is over a gigabyte, so neither format is ever taken for the other.
pub const SEGMENT_MAGIC: [u8; 8] = *b"FXVWAL\x00\x02";
/// Bytes before a segment's first frame.
pub const SEGMENT_HEADER_BYTES: usize = SEGMENT_MAGIC.len();
/// Bytes of a chain hash (SHA-256).
pub const HASH_BYTES: usize = 32;
/// A link of the hash chain.
pub type Hash = [u8; HASH_BYTES];
/// Bytes of a frame's header: length, CRC and chain hash.
pub const FRAME_HEADER_BYTES: usize = 8 + HASH_BYTES;
/// The most bytes one group commit writes; users commit before a batch grows past it.
pub const COMMIT_BYTES_MAX: usize = 1 << 20;
/// The default segment size.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;
/// The smallest segment size accepted (tests use small segments to cross segment boundaries).
pub const SEGMENT_BYTES_MIN: u64 = 4 * COMMIT_BYTES_MAX as u64;
/// The most segment files one log may have.
pub const SEGMENTS_MAX: usize = 1 << 16;
const ZERO_CHUNK_BYTES: usize = 1 << 20;

/// How a log is laid out on disk.
#[derive(Clone, Copy, Debug)]
pub struct WalOptions {
    /// The log's name: its segment files are `<name>-<20 digits>.seg`, and errors name it.
    pub name: &'static str,
    pub segment_bytes: u64,
    /// The largest body a frame may hold: a longer one is refused on append and is damage on open.
    pub body_bytes_max: usize,
}

/// Why a log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{name} segment {path} is corrupt at byte offset {offset}: {reason}; refusing to start"
    )]
    Corrupt {
        name: &'static str,
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{name} segment {path}: {FOREIGN_SEGMENT}; refusing to start")]
    OldFormat { name: &'static str, path: PathBuf },
    #[error("{path}: not a {name} segment name ({name}-<20 digits>.seg)")]
    BadName { name: &'static str, path: PathBuf },
    #[error("{dir}: more than {SEGMENTS_MAX} {name} segments")]
    TooManySegments { name: &'static str, dir: PathBuf },
    #[error("segment size {segment_bytes} is below the minimum {SEGMENT_BYTES_MIN}")]
    SegmentTooSmall { segment_bytes: u64 },
}

/// Why a record could not be appended.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    #[error("a record of {bytes} bytes; the most is {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("the log failed earlier and accepts nothing more: {0}")]
    Failed(String),
}

/// Why a commit failed. After one, the log refuses every append and commit (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the log failed earlier and accepts nothing more: {0}")]
    Failed(String),
}

/// What opening found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalRecovery {
    pub records: u64,
    pub last_index: u64,
    /// The chain hash of the last record ([`genesis`] for an empty log).
    pub last_hash: Hash,
    /// A torn write at the tail that was cut off: the segment, the offset of the cut and the bytes zeroed.
    pub torn_tail: Option<(PathBuf, u64, u64)>,
}

/// An open log, positioned after its last valid record.
pub struct Wal {
    options: WalOptions,
    dir: PathBuf,
    file: File,
    path: PathBuf,
    /// Where the next frame goes in the current segment.
    write_offset: u64,
    /// Frames appended but not yet written, and where each ends in `pending`.
    pending: Vec<u8>,
    pending_ends: Vec<usize>,
    last_index: u64,
    /// The chain hash of the record at `last_index`.
    last_hash: Hash,
    durable_index: u64,
    failed: Option<String>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, name: &str, first_index: u64) -> PathBuf {
    dir.join(format!("{name}-{first_index:020}.seg"))
}

/// The segment files of `dir` with the first index their names promise, in order.
fn list_segments(dir: &Path, name: &'static str) -> Result<Vec<(u64, PathBuf)>, OpenError> {
    let prefix = format!("{name}-");
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !file_name.ends_with(".seg") {
            continue;
        }
        let first_index = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".seg"))
            .filter(|digits| digits.len() == 20)
            .and_then(|digits| digits.parse::<u64>().ok());
        let Some(first_index) = first_index else {
            return Err(OpenError::BadName { name, path });
        };
        if segments.len() >= SEGMENTS_MAX {
            return Err(OpenError::TooManySegments {
                name,
                dir: dir.to_path_buf(),
            });
        }
        segments.push((first_index, path));
    }
    segments.sort();
    Ok(segments)
}

/// The hash the chain starts from in the log named `name`: `SHA-256(name)`.
pub fn genesis(name: &str) -> Hash {
    Sha256::digest(name.as_bytes()).into()
}

/// The chain hash of a record with this `body` after a record whose hash is `previous`:
/// `SHA-256(previous || body)`.
pub fn chain_hash(previous: &Hash, body: &[u8]) -> Hash {
    Sha256::new()
        .chain_update(previous)
        .chain_update(body)
        .finalize()
        .into()
}

/// What a segment's first bytes say about its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentStart {
    /// [`SEGMENT_MAGIC`]: frames start at [`SEGMENT_HEADER_BYTES`].
    Format2,
    /// Nothing but zeros (or a shorter file): a segment whose creation a crash interrupted, or one being created.
    Blank,
    /// Anything else: a segment of format 1 (before the hash chain) or a foreign file.
    Foreign,
}

/// Classifies a segment by its first bytes (all of it, for [`SegmentStart::Blank`]).
pub fn segment_start(bytes: &[u8]) -> SegmentStart {
    if bytes.starts_with(&SEGMENT_MAGIC) {
        SegmentStart::Format2
    } else if bytes.iter().all(|&byte| byte == 0) {
        SegmentStart::Blank
    } else {
        SegmentStart::Foreign
    }
}

/// The reason given for a segment that does not start with [`SEGMENT_MAGIC`].
pub const FOREIGN_SEGMENT: &str = "no format 2 segment header: written by a fixvenue from before the hash chain \
     (format 1) or not a log segment; this version reads only format 2 (keep the old data dir for the old \
     version's tools and start this one on a new data dir)";

/// One frame as read: its stored chain hash, its body and its length in bytes (header included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub hash: &'a Hash,
    pub body: &'a [u8],
    pub frame_bytes: usize,
}

/// Why [`read_frame`] found no frame at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length is zero-free but impossible (over the body limit or past the end of the bytes): nothing after it
    /// can be located.
    Length(usize),
    /// The length is possible but the CRC does not match: the frame's bytes are damaged; the next frame would start
    /// `frame_bytes` further on if the length itself is right.
    Crc { frame_bytes: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Length(len) => write!(f, "frame length {len} is impossible"),
            FrameError::Crc { .. } => f.write_str("CRC mismatch"),
        }
    }
}

/// The frame at `at` of a segment's `bytes` (frames start at [`SEGMENT_HEADER_BYTES`]); `None` at a zero length
/// or where no whole header fits. Checks the length and the CRC, not the chain (that needs the previous frame:
/// [`chain_hash`]). The one frame parser of the log.
pub fn read_frame(
    bytes: &[u8],
    at: usize,
    body_bytes_max: usize,
) -> Result<Option<Frame<'_>>, FrameError> {
    if at + FRAME_HEADER_BYTES > bytes.len() {
        return Ok(None);
    }
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    if len == 0 {
        return Ok(None);
    }
    if len > body_bytes_max || at + FRAME_HEADER_BYTES + len > bytes.len() {
        return Err(FrameError::Length(len));
    }
    let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
    let covered = &bytes[at + 8..at + FRAME_HEADER_BYTES + len];
    let frame_bytes = FRAME_HEADER_BYTES + len;
    if crc32c::crc32c(covered) != crc {
        return Err(FrameError::Crc { frame_bytes });
    }
    let (hash, body) = covered.split_at(HASH_BYTES);
    Ok(Some(Frame {
        hash: hash.try_into().expect("32 bytes"),
        body,
        frame_bytes,
    }))
}

/// Appends the frame of `body` after a record whose hash is `previous` to `out` and returns the frame's hash: what
/// [`Wal::append`] writes, for tools and tests that write segments themselves.
pub fn encode_frame(previous: &Hash, body: &[u8], out: &mut Vec<u8>) -> Hash {
    let hash = chain_hash(previous, body);
    let mut crc = crc32c::crc32c(&hash);
    crc = crc32c::crc32c_append(crc, body);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&hash);
    out.extend_from_slice(body);
    hash
}

/// The reason given for a frame whose stored hash is not the chain's next link.
pub const CHAIN_BREAK: &str =
    "hash chain broken: the record's hash is not SHA-256 of the previous hash and its body";

/// What [`Wal::open`] hands each record to: its index and body; `Err(reason)` refuses it as damage.
type Apply<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// Where and why the valid records of a segment end.
struct ScanEnd {
    offset: u64,
    /// None: a zero length (the clean end of written data); Some: the frame at `offset` is bad, and why.
    bad: Option<String>,
}

/// Hands every valid record of a segment to `apply` with its index, counting from `last_index` and checking the
/// chain from `last_hash` (both advanced past every record accepted).
fn scan_segment(
    bytes: &[u8],
    body_bytes_max: usize,
    (last_index, last_hash): (&mut u64, &mut Hash),
    apply: &mut Apply<'_>,
) -> ScanEnd {
    let mut at = SEGMENT_HEADER_BYTES;
    loop {
        let bad = match read_frame(bytes, at, body_bytes_max) {
            Ok(None) => None,
            Err(error) => Some(error.to_string()),
            Ok(Some(frame)) if *frame.hash != chain_hash(last_hash, frame.body) => {
                Some(CHAIN_BREAK.into())
            }
            Ok(Some(frame)) => match apply(*last_index + 1, frame.body) {
                Ok(()) => {
                    *last_index += 1;
                    *last_hash = *frame.hash;
                    at += frame.frame_bytes;
                    continue;
                }
                Err(reason) => Some(reason),
            },
        };
        return ScanEnd {
            offset: at as u64,
            bad,
        };
    }
}

/// Completes the last segment at open: its header (when a crash cut its creation short) and its zeros up to the
/// segment size (when the file is shorter), durably.
fn finish_segment(file: &File, options: &WalOptions) -> std::io::Result<()> {
    let mut on_disk = [0u8; SEGMENT_HEADER_BYTES];
    let read = file.read_at(&mut on_disk, 0)?;
    let len = file.metadata()?.len();
    if len < options.segment_bytes {
        write_zeros(file, len, options.segment_bytes)?;
    }
    if read < SEGMENT_HEADER_BYTES || on_disk != SEGMENT_MAGIC {
        file.write_all_at(&SEGMENT_MAGIC, 0)?;
    }
    if len < options.segment_bytes || on_disk != SEGMENT_MAGIC {
        file.sync_all()?;
    }
    Ok(())
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
    options: &WalOptions,
    first_index: u64,
) -> std::io::Result<(File, PathBuf)> {
    let path = segment_path(dir, options.name, first_index);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    write_zeros(&file, 0, options.segment_bytes)?;
    file.write_all_at(&SEGMENT_MAGIC, 0)?;
    // sync_all, not sync_data: the file's size is metadata and must survive a crash too.
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok((file, path))
}

impl Wal {
    /// Opens (or creates) the log in `dir`, handing every record's index and body to `apply` in order. `apply`
    /// may refuse a record (`Err(reason)`): it is then damage at that frame, cut as a torn tail or refused as
    /// corruption like a bad CRC. On an error, whatever `apply` built from the records seen so far must be
    /// discarded.
    pub fn open(
        dir: &Path,
        options: WalOptions,
        mut apply: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<(Wal, WalRecovery), OpenError> {
        if options.segment_bytes < SEGMENT_BYTES_MIN {
            return Err(OpenError::SegmentTooSmall {
                segment_bytes: options.segment_bytes,
            });
        }
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let segments = list_segments(dir, options.name)?;
        let mut recovery = WalRecovery {
            last_hash: genesis(options.name),
            ..WalRecovery::default()
        };
        if segments.is_empty() {
            let (file, path) = create_segment(dir, &options, 1).map_err(io_error(dir))?;
            let chain = (0, recovery.last_hash);
            return Ok((Wal::at(dir, options, file, path, 0, chain), recovery));
        }
        let (mut last_index, mut last_hash) = (0, recovery.last_hash);
        let count = segments.len();
        for (position, (first_index, path)) in segments.into_iter().enumerate() {
            let corrupt = |path: PathBuf, offset: u64, reason: String| OpenError::Corrupt {
                name: options.name,
                path,
                offset,
                reason,
            };
            if first_index != last_index + 1 {
                let reason =
                    format!("named for record {first_index} but the log is at {last_index}");
                return Err(corrupt(path, 0, reason));
            }
            let is_last = position + 1 == count;
            let mut bytes = fs::read(&path).map_err(io_error(&path))?;
            match segment_start(&bytes) {
                SegmentStart::Format2 => {}
                // The last segment's creation was cut short by a crash: it holds nothing yet; finish it below.
                SegmentStart::Blank if is_last => {
                    bytes.clear();
                    bytes.extend_from_slice(&SEGMENT_MAGIC);
                }
                SegmentStart::Blank | SegmentStart::Foreign => {
                    let name = options.name;
                    return Err(OpenError::OldFormat { name, path });
                }
            }
            let before = last_index;
            let chain = (&mut last_index, &mut last_hash);
            let end = scan_segment(&bytes, options.body_bytes_max, chain, &mut apply);
            recovery.records += last_index - before;
            let written_end = bytes
                .iter()
                .rposition(|&byte| byte != 0)
                .map_or(0, |at| at as u64 + 1);
            let damaged = end.bad.is_some() || written_end > end.offset;
            let beyond_a_torn_write = written_end > end.offset + COMMIT_BYTES_MAX as u64;
            if damaged && (!is_last || beyond_a_torn_write) || !is_last && last_index < first_index
            {
                let reason = end
                    .bad
                    .unwrap_or_else(|| "data after the end of the records".into());
                return Err(corrupt(path, end.offset, reason));
            }
            if !is_last {
                continue;
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
            finish_segment(&file, &options).map_err(io_error(&path))?;
            recovery.last_index = last_index;
            recovery.last_hash = last_hash;
            let chain = (last_index, last_hash);
            return Ok((
                Wal::at(dir, options, file, path, end.offset, chain),
                recovery,
            ));
        }
        unreachable!("the loop returns at the last segment")
    }

    fn at(
        dir: &Path,
        options: WalOptions,
        file: File,
        path: PathBuf,
        offset: u64,
        (last_index, last_hash): (u64, Hash),
    ) -> Wal {
        Wal {
            options,
            dir: dir.to_path_buf(),
            file,
            path,
            write_offset: offset.max(SEGMENT_HEADER_BYTES as u64),
            pending: Vec::with_capacity(
                COMMIT_BYTES_MAX + FRAME_HEADER_BYTES + options.body_bytes_max,
            ),
            pending_ends: Vec::new(),
            last_index,
            last_hash,
            durable_index: last_index,
            failed: None,
        }
    }

    /// The index of the last record appended (durable or not); 0 for an empty log.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// The chain hash of the last record appended ([`genesis`] for an empty log).
    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// The index of the last record made durable by a commit.
    pub fn durable_index(&self) -> u64 {
        self.durable_index
    }

    /// Bytes appended and not yet committed.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Frames the body that `write` appends to the buffer it is given into the commit buffer, and returns the
    /// body as framed, for the caller to check. A body over [`WalOptions::body_bytes_max`] (or an empty one) is
    /// refused and nothing is appended.
    pub fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<&[u8], AppendError> {
        if let Some(reason) = &self.failed {
            return Err(AppendError::Failed(reason.clone()));
        }
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        write(&mut self.pending);
        let body_bytes = self.pending.len() - start - FRAME_HEADER_BYTES;
        if body_bytes == 0 || body_bytes > self.options.body_bytes_max {
            self.pending.truncate(start);
            return Err(AppendError::TooLarge {
                bytes: body_bytes,
                max: self.options.body_bytes_max,
            });
        }
        let hash = chain_hash(&self.last_hash, &self.pending[start + FRAME_HEADER_BYTES..]);
        self.pending[start + 8..start + FRAME_HEADER_BYTES].copy_from_slice(&hash);
        let crc = crc32c::crc32c(&self.pending[start + 8..]);
        self.pending[start..start + 4].copy_from_slice(&(body_bytes as u32).to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.pending_ends.push(self.pending.len());
        self.last_index += 1;
        self.last_hash = hash;
        Ok(&self.pending[start + FRAME_HEADER_BYTES..])
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
        self.durable_index = self.last_index;
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), CommitError> {
        let first_pending = self.last_index + 1 - self.pending_ends.len() as u64;
        let (mut written, mut frames) = (0usize, 0usize);
        while frames < self.pending_ends.len() {
            let room = (self.options.segment_bytes - self.write_offset) as usize;
            let fit = self.pending_ends[frames..].partition_point(|&end| end - written <= room);
            if fit == 0 {
                self.roll(first_pending + frames as u64)?;
                continue;
            }
            let end = self.pending_ends[frames + fit - 1];
            let io = |source| CommitError::Io {
                path: self.path.clone(),
                source,
            };
            #[cfg(feature = "fault-injection")]
            fault::check(self.options.name).map_err(|source| CommitError::Io {
                path: self.path.clone(),
                source,
            })?;
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
    fn roll(&mut self, first_index: u64) -> Result<(), CommitError> {
        let (file, path) =
            create_segment(&self.dir, &self.options, first_index).map_err(|source| {
                CommitError::Io {
                    path: segment_path(&self.dir, self.options.name, first_index),
                    source,
                }
            })?;
        self.file = file;
        self.path = path;
        self.write_offset = SEGMENT_HEADER_BYTES as u64;
        Ok(())
    }
}

pub mod reader;
pub mod verify;

#[cfg(test)]
mod tests;

/// Test-only fault injection (feature `fault-injection`): makes every later commit of the logs of one name fail
/// with EIO before it writes (a disk that failed), so that tests can check that nothing is acknowledged after it.
#[cfg(feature = "fault-injection")]
pub mod fault {
    use std::sync::Mutex;

    static FAILING: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

    /// From now on every commit (write and fdatasync) of the logs named `name` (`journal`, `sessionlog`) fails.
    pub fn fail_syncs(name: &'static str) {
        FAILING.lock().unwrap_or_else(|e| e.into_inner()).push(name);
    }

    /// Every log's commits work again.
    pub fn clear() {
        FAILING.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(super) fn check(name: &str) -> std::io::Result<()> {
        if FAILING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&name)
        {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        Ok(())
    }
}
