//! A read-only reader of a write-ahead log, for the compliance queries: it reads the segments of a log that a
//! running venue may be appending to at the same moment (or an archived copy), record by record, in index order.
//!
//! It never writes, never cuts a torn tail, never creates a file or a directory: the files are opened read-only.
//! It holds at most one window of one segment in memory ([`READ_WINDOW_BYTES`], or two frames if more), never the
//! whole log.
//!
//! Where the records end:
//! - In the last segment, a zero length, or a frame that is not (yet) whole within one commit's reach of the
//!   written end ([`COMMIT_BYTES_MAX`], the same rule [`super::Wal::open`] uses for a torn tail), is the end of what
//!   is written so far: a frame half-written by a running venue is simply not yet visible, never an error or a
//!   partial record.
//! - Anywhere else (a segment that has a later one, or data more than one commit past the bad frame) it is damage,
//!   reported with the segment and the byte offset of the frame.
//!
//! Why this holds against a live writer: the writer ([`super::Wal`]) writes each commit with one positioned write
//! and finishes it before the next commit starts, and it creates the next segment only after its last write to the
//! current one. So when this reader finds a frame it cannot read, it looks again: if a later segment exists, or
//! written data lies more than one commit beyond, the commit that holds the frame has finished and a fresh read of
//! the frame is final.
//!
//! Frames are read with [`super::read_frame`] (the same reading as the writer's recovery, whatever the frame
//! layout) and segments are found with [`super::list_segments`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{
    COMMIT_BYTES_MAX, FOREIGN_SEGMENT, FRAME_HEADER_BYTES, OpenError, SEGMENT_HEADER_BYTES,
    SEGMENTS_MAX, SegmentStart, list_segments, read_frame, segment_start,
};

/// The bytes of a segment read into memory at once (the window grows to two whole frames if a frame is larger).
pub const READ_WINDOW_BYTES: usize = 4 << 20;
/// The bytes read at once when looking for written data past the end of the records.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no {name} at {dir} (is this a venue's data dir?)")]
    Missing { name: &'static str, dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{name} segment {path} is damaged at byte offset {offset}: {reason}")]
    Corrupt {
        name: &'static str,
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: not a {name} segment name ({name}-<20 digits>.seg)")]
    BadName { name: &'static str, path: PathBuf },
    #[error("{dir}: more than {SEGMENTS_MAX} {name} segments")]
    TooManySegments { name: &'static str, dir: PathBuf },
}

impl From<OpenError> for ReadError {
    fn from(error: OpenError) -> ReadError {
        match error {
            OpenError::Io { path, source } => ReadError::Io { path, source },
            OpenError::Corrupt {
                name,
                path,
                offset,
                reason,
            } => ReadError::Corrupt {
                name,
                path,
                offset,
                reason,
            },
            OpenError::OldFormat { name, path } => ReadError::Corrupt {
                name,
                path,
                offset: 0,
                reason: FOREIGN_SEGMENT.into(),
            },
            OpenError::BadName { name, path } => ReadError::BadName { name, path },
            OpenError::TooManySegments { name, dir } => ReadError::TooManySegments { name, dir },
            // Only `Wal::open` checks a segment size; listing segments never returns this.
            OpenError::SegmentTooSmall { segment_bytes } => ReadError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(format!(
                    "segment size {segment_bytes} below the minimum"
                )),
            },
        }
    }
}

/// The segment being read and a window of its bytes.
struct Segment {
    first_index: u64,
    path: PathBuf,
    file: File,
    /// The bytes of the file from `window_start`.
    window: Vec<u8>,
    window_start: u64,
}

/// What one look at the frame at the read position found.
enum Step {
    /// A whole frame: its start in the window and its length.
    Frame { start: usize, bytes: usize },
    /// Go on reading (the next segment was taken, or a fresh look is due).
    Again,
    /// The end of what is written.
    End,
}

/// Reads a log's records in order, read-only; see the module documentation.
pub struct WalReader {
    name: &'static str,
    dir: PathBuf,
    body_bytes_max: usize,
    segments: Vec<(u64, PathBuf)>,
    /// The position in `segments` of the segment being read (or to be opened next).
    next_segment: usize,
    current: Option<Segment>,
    /// The byte offset of the next frame in the current segment.
    at: u64,
    /// Where the last record returned starts: its segment and byte offset.
    last_at: u64,
    last_index: u64,
    ended: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl WalReader {
    /// Opens the log named `name` in `dir` for reading from its first record. `body_bytes_max` is the log's frame
    /// limit (as its writer's [`super::WalOptions`]). A missing directory is an error; an empty one has no records.
    pub fn open(
        dir: &Path,
        name: &'static str,
        body_bytes_max: usize,
    ) -> Result<WalReader, ReadError> {
        if !dir.is_dir() {
            return Err(ReadError::Missing {
                name,
                dir: dir.to_path_buf(),
            });
        }
        Ok(WalReader {
            name,
            dir: dir.to_path_buf(),
            body_bytes_max,
            segments: list_segments(dir, name)?,
            next_segment: 0,
            current: None,
            at: 0,
            last_at: 0,
            last_index: 0,
            ended: false,
        })
    }

    /// The index of the last record returned (0 before the first).
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// The segment and byte offset of the frame of the last record returned, to name it in an error.
    pub fn last_position(&self) -> (PathBuf, u64) {
        let path = self
            .current
            .as_ref()
            .map(|segment| segment.path.clone())
            .unwrap_or_default();
        (path, self.last_at)
    }

    /// The next record's index and body; `None` at the end of what is written now.
    pub fn next_record(&mut self) -> Result<Option<(u64, &[u8])>, ReadError> {
        loop {
            match self.step()? {
                Step::Again => continue,
                Step::End => {
                    self.ended = true;
                    return Ok(None);
                }
                Step::Frame { start, bytes } => {
                    self.last_at = self.at;
                    self.at += bytes as u64;
                    self.last_index += 1;
                    let segment = self.current.as_ref().expect("a frame was read from it");
                    let body = &segment.window[start + FRAME_HEADER_BYTES..start + bytes];
                    return Ok(Some((self.last_index, body)));
                }
            }
        }
    }

    fn corrupt(&self, path: &Path, offset: u64, reason: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            name: self.name,
            path: path.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }

    fn step(&mut self) -> Result<Step, ReadError> {
        if self.ended {
            return Ok(Step::End);
        }
        if self.current.is_none() && !self.open_next()? {
            return Ok(Step::End);
        }
        if let Ok(Some(bytes)) = self.look(false)? {
            return Ok(self.frame(bytes));
        }
        // Not a whole frame. Is the segment finished (a later one exists)? Then a fresh look is final.
        if self.has_later_segment()? {
            return match self.look(true)? {
                Ok(Some(bytes)) => Ok(self.frame(bytes)),
                Err(reason) => Err(self.corrupt(&self.path(), self.at, reason)),
                Ok(None) => self.finish_segment(),
            };
        }
        // The last segment: written data more than one commit beyond means the commit at `at` has finished.
        if !self.written_from(self.at + COMMIT_BYTES_MAX as u64)? {
            return Ok(Step::End);
        }
        match self.look(true)? {
            Ok(Some(bytes)) => Ok(self.frame(bytes)),
            Err(reason) => Err(self.corrupt(&self.path(), self.at, reason)),
            Ok(None) => {
                Err(self.corrupt(&self.path(), self.at, "data after the end of the records"))
            }
        }
    }

    fn frame(&self, bytes: usize) -> Step {
        let segment = self.current.as_ref().expect("a frame was read from it");
        Step::Frame {
            start: (self.at - segment.window_start) as usize,
            bytes,
        }
    }

    fn path(&self) -> PathBuf {
        self.current
            .as_ref()
            .map(|segment| segment.path.clone())
            .unwrap_or_default()
    }

    /// Opens the next listed segment; false when there is none.
    fn open_next(&mut self) -> Result<bool, ReadError> {
        let Some((first_index, path)) = self.segments.get(self.next_segment).cloned() else {
            return Ok(false);
        };
        if first_index != self.last_index + 1 {
            let reason = format!(
                "named for record {first_index} but the log is at {}",
                self.last_index
            );
            return Err(self.corrupt(&path, 0, reason));
        }
        // Read-only: this reader never writes to a log.
        let file = File::open(&path).map_err(io(&path))?;
        // A segment being created (zeros, its header not yet written) holds no record yet; one without the
        // format 2 header is from before the hash chain, or not a segment.
        let mut header = [0u8; SEGMENT_HEADER_BYTES];
        let read = file.read_at(&mut header, 0).map_err(io(&path))?;
        if segment_start(&header[..read]) == SegmentStart::Foreign {
            return Err(self.corrupt(&path, 0, FOREIGN_SEGMENT));
        }
        self.current = Some(Segment {
            first_index,
            path,
            file,
            window: Vec::new(),
            window_start: 0,
        });
        self.next_segment += 1;
        self.at = SEGMENT_HEADER_BYTES as u64;
        Ok(true)
    }

    /// The frame at `at`: `Ok(Some(frame bytes))`, `Ok(None)` at a zero length or the end of the file, or
    /// `Err(reason)` for a frame that does not read. `fresh` reads the bytes again from the file.
    fn look(&mut self, fresh: bool) -> Result<Result<Option<usize>, String>, ReadError> {
        let need = FRAME_HEADER_BYTES + self.body_bytes_max;
        let at = self.at;
        let segment = self.current.as_mut().expect("a segment is open");
        let covered = at >= segment.window_start
            && at + need as u64 <= segment.window_start + segment.window.len() as u64;
        if fresh || !covered {
            let len = segment.file.metadata().map_err(io(&segment.path))?.len();
            let want = READ_WINDOW_BYTES.max(2 * need) as u64;
            let bytes = want.min(len.saturating_sub(at)) as usize;
            segment.window.resize(bytes, 0);
            segment
                .file
                .read_exact_at(&mut segment.window, at)
                .map_err(io(&segment.path))?;
            segment.window_start = at;
        }
        let start = (at - segment.window_start) as usize;
        Ok(read_frame(&segment.window, start, self.body_bytes_max)
            .map(|frame| frame.map(|frame| frame.frame_bytes))
            .map_err(|error| error.to_string()))
    }

    /// Whether a later segment exists (listing the directory again when the known list is used up).
    fn has_later_segment(&mut self) -> Result<bool, ReadError> {
        if self.next_segment < self.segments.len() {
            return Ok(true);
        }
        let listed = list_segments(&self.dir, self.name)?;
        let current = self.current.as_ref().map(|segment| segment.first_index);
        let same = listed
            .get(self.next_segment.wrapping_sub(1))
            .map(|(first, _)| *first);
        if current.is_some() && same != current {
            return Err(self.corrupt(&self.path(), self.at, "the segments changed while reading"));
        }
        self.segments = listed;
        Ok(self.next_segment < self.segments.len())
    }

    /// The end of a segment that has a later one: nothing may be written after its last frame, and it must hold a
    /// record.
    fn finish_segment(&mut self) -> Result<Step, ReadError> {
        let path = self.path();
        if self.written_from(self.at)? {
            return Err(self.corrupt(&path, self.at, "data after the end of the records"));
        }
        let first_index = self
            .current
            .as_ref()
            .map_or(0, |segment| segment.first_index);
        if self.last_index < first_index {
            return Err(self.corrupt(&path, 0, "a segment with no record before a later one"));
        }
        self.current = None;
        Ok(Step::Again)
    }

    /// Whether any byte of the current segment from `from` on is not zero.
    fn written_from(&self, from: u64) -> Result<bool, ReadError> {
        let segment = self.current.as_ref().expect("a segment is open");
        let len = segment.file.metadata().map_err(io(&segment.path))?.len();
        let mut chunk = vec![0u8; SCAN_CHUNK_BYTES];
        let mut at = from;
        while at < len {
            let bytes = (len - at).min(SCAN_CHUNK_BYTES as u64) as usize;
            segment
                .file
                .read_exact_at(&mut chunk[..bytes], at)
                .map_err(io(&segment.path))?;
            if chunk[..bytes].iter().any(|&byte| byte != 0) {
                return Ok(true);
            }
            at += bytes as u64;
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
