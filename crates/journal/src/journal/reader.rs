//! The journal read-only, for the compliance queries and read-only replays: every sequenced command with its
//! origin in order, while a running venue appends (the end is what is written now) or from an archived data dir.
//! A thin layer over [`crate::wal::reader`]; a record that does not decode, or whose sequence number is not its
//! place, is damage with its position.

use std::path::Path;

use super::{JOURNAL_NAME, JournalOptions, decode_body};
use crate::wal::reader::{ReadError, WalReader};
use engine::Sequenced;

/// Reads the journal in `dir` from its first command; see [`crate::wal::reader`].
pub struct JournalReader {
    wal: WalReader,
}

impl JournalReader {
    /// Opens the journal in `dir` for reading; never creates or writes anything.
    pub fn open(dir: &Path) -> Result<JournalReader, ReadError> {
        let options = JournalOptions::default().wal();
        Ok(JournalReader {
            wal: WalReader::open(dir, JOURNAL_NAME, options.body_bytes_max)?,
        })
    }

    /// The next command and its origin (empty for a version 1 record); `None` at the end of what is written now.
    pub fn next_record(&mut self) -> Result<Option<(Sequenced, Vec<u8>)>, ReadError> {
        let Some((index, body)) = self.wal.next_record()? else {
            return Ok(None);
        };
        let decoded = decode_body(body).and_then(|(record, origin)| {
            if record.seq == index {
                Ok((record, origin.to_vec()))
            } else {
                Err(format!("record {} follows {}", record.seq, index - 1))
            }
        });
        decoded.map(Some).map_err(|reason| {
            let (path, offset) = self.wal.last_position();
            ReadError::Corrupt {
                name: JOURNAL_NAME,
                path,
                offset,
                reason: format!("record {index}: {reason}"),
            }
        })
    }
}

impl Iterator for JournalReader {
    type Item = Result<(Sequenced, Vec<u8>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Journal;
    use super::*;
    use engine::Command;

    fn record(seq: u64) -> Sequenced {
        Sequenced {
            seq,
            ts_ns: seq as i64 * 1_000,
            command: Command::Time { now_ns: seq as i64 },
        }
    }

    #[test]
    fn commands_and_origins_come_back_while_the_journal_is_open_for_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut journal, _) =
            Journal::open(dir.path(), JournalOptions::default(), |_, _| {}).expect("opens");
        for seq in 1..=4 {
            journal.append(&record(seq), &[seq as u8]).expect("appends");
        }
        journal.commit().expect("commits");
        journal.append(&record(5), b"").expect("appends");
        let read: Vec<_> = JournalReader::open(dir.path())
            .expect("opens")
            .collect::<Result<_, _>>()
            .expect("reads");
        assert_eq!(
            read,
            (1..=4)
                .map(|seq| (record(seq), vec![seq as u8]))
                .collect::<Vec<_>>()
        );
    }
}
