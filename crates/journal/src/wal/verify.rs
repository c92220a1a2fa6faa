//! The read-only check of one log's segments: every frame's length and CRC and every link of the hash chain,
//! reporting each finding with its position and going on after it where the bytes allow. It never writes and never
//! cuts a tail, so it may run while the venue appends (see [`check`] on the tail).
//!
//! Going on after a finding: a frame whose CRC fails but whose length is possible is skipped by its length, and
//! the chain goes on from the hash it stores (right when only its body was damaged); a frame whose length is
//! impossible ends the check of its segment, and the next segment's first record is checked against the last
//! hash read. Each link is checked against the previous frame's stored hash, so one removed record shows as one
//! break (at the record after it), two swapped records as breaks at the first, the second and the one after, an
//! edited body as its CRC error (or, if the CRC was fixed too, a break at that record).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{
    COMMIT_BYTES_MAX, FrameError, Hash, OpenError, SEGMENT_HEADER_BYTES, SegmentStart, chain_hash,
    genesis, list_segments, read_frame, segment_start,
};

/// The most findings one check keeps; more are counted, not kept.
pub const FINDINGS_MAX: usize = 1_000;

/// Where something was found: the segment file, the byte offset of the frame in it and the record index that
/// frame has (or would have) in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub path: PathBuf,
    pub offset: u64,
    pub index: u64,
}

/// One thing wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub at: Position,
    pub what: String,
}

/// The incomplete end of the last segment: a torn write the venue cuts at its next start, or a commit being
/// written while the check read the file. Not damage when it lies within the last commit window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    pub at: Position,
    /// Written bytes from `at.offset` to the end of the written data.
    pub bytes: u64,
    pub what: String,
}

/// What a check found in one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCheck {
    pub name: &'static str,
    pub dir: PathBuf,
    pub segments: usize,
    /// Frames whose bytes were read whole (CRC good or not).
    pub records: u64,
    /// The index of the first and the last frame read (0 and 0 for an empty log).
    pub first_index: u64,
    pub last_index: u64,
    /// The hash stored in the last frame read ([`genesis`] for an empty log).
    pub last_hash: Hash,
    pub findings: Vec<Finding>,
    /// Findings beyond [`FINDINGS_MAX`], counted only.
    pub findings_dropped: u64,
    pub tail: Option<Tail>,
}

impl LogCheck {
    fn find(&mut self, path: &Path, offset: u64, index: u64, what: impl Into<String>) {
        if self.findings.len() >= FINDINGS_MAX {
            self.findings_dropped += 1;
            return;
        }
        self.findings.push(Finding {
            at: Position {
                path: path.to_path_buf(),
                offset,
                index,
            },
            what: what.into(),
        });
    }

    /// No finding (an incomplete tail is not one).
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.findings_dropped == 0
    }
}

/// What [`check`] hands every frame with a good CRC to: its index, its stored hash and its body. `Err(reason)` is a
/// finding at that record (the user's own check of its records: decoding, numbering). Each index is visited at
/// most once, in increasing order (a segment read again only visits the records the first read did not reach).
pub type Visit<'a> = dyn FnMut(u64, &Hash, &[u8]) -> Result<(), String> + 'a;

/// Checks the log named `name` in `dir`, read-only. `Err` only when the directory or a segment cannot be read
/// (or a file in it has a foreign name): everything about the bytes is a finding. Damage within
/// [`COMMIT_BYTES_MAX`] of the end of the written data of the last segment with no valid frame after it is reported
/// as [`LogCheck::tail`], not as a finding, with the check ending there: the venue cuts it at its next start, or is
/// writing it now. Damage in that window with a valid frame after it makes the check read the segment again (up to
/// [`TAIL_READS_MAX`] times, while its written end moves: a commit read half-written settles) and is a finding if
/// it stays. A chain break or a record `visit` refuses is a finding wherever it is: a torn write cannot pass the
/// CRC.
pub fn check(
    dir: &Path,
    name: &'static str,
    body_bytes_max: usize,
    visit: &mut Visit<'_>,
) -> Result<LogCheck, OpenError> {
    let segments = list_segments(dir, name)?;
    let mut log = LogCheck {
        name,
        dir: dir.to_path_buf(),
        segments: segments.len(),
        records: 0,
        first_index: 0,
        last_index: 0,
        last_hash: genesis(name),
        findings: Vec::new(),
        findings_dropped: 0,
        tail: None,
    };
    let mut bytes = Vec::new();
    let count = segments.len();
    let mut visited = Visited {
        visit,
        through: 0,
        findings: Vec::new(),
    };
    for (position, (first_index, path)) in segments.into_iter().enumerate() {
        let is_last = position + 1 == count;
        let before = is_last.then(|| log.clone());
        let mut previous_end = None;
        for attempt in 1.. {
            read_segment(&path, &mut bytes)?;
            let segment = Segment {
                path: &path,
                bytes: &bytes,
                first_index,
                is_last,
            };
            let end = check_segment(&segment, body_bytes_max, &mut log, &mut visited);
            // Damage near the end of the last segment while its written end moves is most likely a commit read
            // half-written: read it again (a real finding stays where it is once the writer has moved on).
            let moving = previous_end.is_some_and(|previous| previous != end.written_end);
            let again = end.tail_window_findings && (attempt == 1 || moving);
            match (again && attempt < TAIL_READS_MAX, &before) {
                (true, Some(before)) => {
                    log = before.clone();
                    previous_end = Some(end.written_end);
                    std::thread::sleep(TAIL_REREAD_PAUSE);
                }
                _ => break,
            }
        }
    }
    // The records' own findings do not depend on how often a segment was read: merged in file order.
    for finding in visited.findings {
        log.find(
            &finding.at.path,
            finding.at.offset,
            finding.at.index,
            finding.what,
        );
    }
    log.findings
        .sort_by(|a, b| (&a.at.path, a.at.offset).cmp(&(&b.at.path, b.at.offset)));
    Ok(log)
}

/// The user's visitor, and how far it got: a record is handed over once.
struct Visited<'v, 'a> {
    visit: &'v mut Visit<'a>,
    through: u64,
    findings: Vec<Finding>,
}

/// How often the last segment is read when it shows damage near its end (see [`check`]).
pub const TAIL_READS_MAX: u32 = 4;
const TAIL_REREAD_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

fn read_segment(path: &Path, bytes: &mut Vec<u8>) -> Result<(), OpenError> {
    bytes.clear();
    File::open(path)
        .and_then(|mut file| file.read_to_end(bytes))
        .map(drop)
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// How the check of a segment ended.
struct SegmentEnd {
    written_end: usize,
    /// Findings within the last commit window of the last segment.
    tail_window_findings: bool,
}

struct Segment<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    first_index: u64,
    is_last: bool,
}

fn check_segment(
    segment: &Segment<'_>,
    body_bytes_max: usize,
    log: &mut LogCheck,
    visited: &mut Visited<'_, '_>,
) -> SegmentEnd {
    let (path, bytes) = (segment.path, segment.bytes);
    let written_end = bytes
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |at| at + 1);
    let mut end = SegmentEnd {
        written_end,
        tail_window_findings: false,
    };
    if segment.first_index != log.last_index + 1 {
        let what = format!(
            "segment named for record {} but the records before it end at {}",
            segment.first_index, log.last_index
        );
        log.find(path, 0, segment.first_index, what);
        log.last_index = segment.first_index - 1;
    }
    match segment_start(bytes) {
        SegmentStart::Format2 => {}
        SegmentStart::Blank if segment.is_last => return end, // being created, or cut short: empty
        SegmentStart::Blank | SegmentStart::Foreign => {
            log.find(path, 0, segment.first_index, super::FOREIGN_SEGMENT);
            return end;
        }
    }
    let in_tail = |at: usize| segment.is_last && written_end <= at + COMMIT_BYTES_MAX;
    let findings_before = log.findings.len();
    let mut at = SEGMENT_HEADER_BYTES;
    let mut ended_by_damage = false;
    loop {
        let index = log.last_index + 1;
        let damage = match read_frame(bytes, at, body_bytes_max) {
            Ok(None) => break,
            Ok(Some(frame)) => {
                log.count(index);
                if *frame.hash != chain_hash(&log.last_hash, frame.body) {
                    log.find(path, at as u64, index, super::CHAIN_BREAK);
                }
                if index > visited.through {
                    visited.through = index;
                    if let Err(reason) = (visited.visit)(index, frame.hash, frame.body) {
                        visited.findings.push(Finding {
                            at: Position {
                                path: path.to_path_buf(),
                                offset: at as u64,
                                index,
                            },
                            what: format!("record: {reason}"),
                        });
                    }
                }
                log.last_hash = *frame.hash;
                at += frame.frame_bytes;
                continue;
            }
            Err(error) => error,
        };
        // A torn write ends the records: damage with a good frame after it is a damaged record, not a tail.
        let frame_follows = match damage {
            FrameError::Crc { frame_bytes } => {
                matches!(
                    read_frame(bytes, at + frame_bytes, body_bytes_max),
                    Ok(Some(_))
                )
            }
            FrameError::Length(_) => false,
        };
        if in_tail(at) && !frame_follows {
            log.tail = Some(tail(path, at, index, written_end, damage.to_string()));
            ended_by_damage = true;
            break;
        }
        log.find(path, at as u64, index, damage.to_string());
        let FrameError::Crc { frame_bytes } = damage else {
            ended_by_damage = true; // an impossible length: nothing after it can be located in this segment
            break;
        };
        // Skip it by its length; its stored hash carries the chain on (intact if only the body was hit).
        log.count(index);
        let hash = &bytes[at + 8..at + 8 + super::HASH_BYTES];
        log.last_hash = hash.try_into().expect("32 bytes");
        at += frame_bytes;
    }
    if !ended_by_damage && written_end > at {
        let index = log.last_index + 1;
        let what = "data after the end of the records";
        if in_tail(at) {
            log.tail = Some(tail(path, at, index, written_end, what.into()));
        } else {
            log.find(path, at as u64, index, what);
        }
    }
    end.tail_window_findings = log.findings[findings_before.min(log.findings.len())..]
        .iter()
        .any(|finding| in_tail(finding.at.offset as usize));
    end
}

fn tail(path: &Path, at: usize, index: u64, written_end: usize, what: String) -> Tail {
    Tail {
        at: Position {
            path: path.to_path_buf(),
            offset: at as u64,
            index,
        },
        bytes: (written_end - at) as u64,
        what,
    }
}

impl LogCheck {
    fn count(&mut self, index: u64) {
        if self.first_index == 0 {
            self.first_index = index;
        }
        self.last_index = index;
        self.records += 1;
    }
}

#[cfg(test)]
mod tests;
