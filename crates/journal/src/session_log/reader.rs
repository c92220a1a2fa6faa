//! The session log read-only, for the compliance queries: every record in the order appended, while a running
//! venue appends (the end is what is written now) or from an archived data dir. A thin layer over
//! [`crate::wal::reader`] that decodes each record; a record that does not decode is damage with its position.

use std::path::Path;

use super::{RECORD_BYTES_MAX, Record, SESSION_LOG_NAME};
use crate::wal::reader::{ReadError, WalReader};

/// Reads the session log in `dir` from its first record; see [`crate::wal::reader`].
pub struct SessionLogReader {
    wal: WalReader,
}

impl SessionLogReader {
    /// Opens the session log in `dir` for reading; never creates or writes anything.
    pub fn open(dir: &Path) -> Result<SessionLogReader, ReadError> {
        Ok(SessionLogReader {
            wal: WalReader::open(dir, SESSION_LOG_NAME, RECORD_BYTES_MAX)?,
        })
    }

    /// The next record and its index; `None` at the end of what is written now.
    pub fn next_record(&mut self) -> Result<Option<(u64, Record)>, ReadError> {
        let Some((index, body)) = self.wal.next_record()? else {
            return Ok(None);
        };
        match Record::decode(body) {
            Ok(record) => Ok(Some((index, record))),
            Err(error) => {
                let (path, offset) = self.wal.last_position();
                Err(ReadError::Corrupt {
                    name: SESSION_LOG_NAME,
                    path,
                    offset,
                    reason: format!("record {index}: {error}"),
                })
            }
        }
    }
}

impl Iterator for SessionLogReader {
    type Item = Result<(u64, Record), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Message, SessionLog, SessionLogOptions};
    use super::*;

    fn message(seq: u64) -> Record {
        Record::Incoming(Message {
            session_id: "FIX.4.4:V->C".into(),
            msg_seq_num: seq,
            ts_ns: 1_000 + seq as i64,
            bytes: format!("8=FIX.4.4\u{1}34={seq}\u{1}").into_bytes(),
        })
    }

    #[test]
    fn records_come_back_decoded_while_the_log_is_open_for_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) =
            SessionLog::open(dir.path(), SessionLogOptions::default(), |_, _| {}).expect("opens");
        for seq in 1..=5 {
            log.append(&message(seq)).expect("appends");
        }
        log.commit().expect("commits");
        // Appended, not committed: not visible.
        log.append(&message(6)).expect("appends");
        let read: Vec<_> = SessionLogReader::open(dir.path())
            .expect("opens")
            .collect::<Result<_, _>>()
            .expect("reads");
        assert_eq!(
            read,
            (1..=5).map(|seq| (seq, message(seq))).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_record_that_does_not_decode_is_damage_with_its_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = crate::wal::WalOptions {
            name: SESSION_LOG_NAME,
            segment_bytes: crate::wal::SEGMENT_BYTES_DEFAULT,
            body_bytes_max: RECORD_BYTES_MAX,
        };
        let (mut wal, _) =
            crate::wal::Wal::open(dir.path(), options, |_, _| Ok(())).expect("opens");
        wal.append(|buf| message(1).encode(buf)).expect("appends");
        wal.append(|buf| buf.push(9)).expect("appends");
        wal.commit().expect("commits");
        let mut reader = SessionLogReader::open(dir.path()).expect("opens");
        assert!(reader.next_record().expect("the first reads").is_some());
        match reader.next_record() {
            Err(ReadError::Corrupt { offset, reason, .. }) => {
                assert_eq!(
                    offset,
                    (crate::wal::SEGMENT_HEADER_BYTES
                        + crate::wal::FRAME_HEADER_BYTES
                        + message(1).encoded_bytes()) as u64
                );
                assert!(reason.contains("record 2"), "{reason}");
            }
            other => panic!("expected damage, got {other:?}"),
        }
    }
}
