//! The session log's index in sled: what [`crate::sessions`] serves (stored messages for resend, sequence
//! numbers), written behind the session log by one indexer, in large batches, off the acknowledgement path. The
//! session log is the truth; this index is rebuilt from it. The compliance log is the session log itself (the
//! compliance queries read its files); nothing of `Incoming` or `Sent` records is copied here.
//!
//! Each call to [`SessionStore::index`] takes consecutive records of the log and applies them: `Outgoing` to
//! `msgs/<session>` (MsgSeqNum -> frame); `SeqNums` raise the stored numbers (the highest of each wins, so the
//! order in which sessions' records reach the log does not matter); `Reset` clears the session's stored messages
//! and sets the numbers; `Incoming` and `Sent` are passed over. Last, the `meta` tree's `sessionlog` key is set
//! to the last index applied: sled keeps the order of writes, so after a crash the mark never runs ahead of the
//! data, and start-up re-applies from the mark (every write above is idempotent).
//!
//! It never: decides what is durable (the session log did), or reads the session log's files.

use std::collections::HashMap;

use journal::session_log::{Message, Record, SeqNums as LoggedSeqNums};
use session::SeqNums;

use crate::db::WriteError;
use crate::sessions::{ReadError, SessionStore};

/// The `meta` key holding the index of the last session log record applied (big-endian u64).
pub const SESSION_LOG_MARK: &[u8] = b"sessionlog";

impl SessionStore {
    /// The index of the last session log record applied; 0 when none was.
    pub fn indexed_through(&self) -> Result<u64, ReadError> {
        match self.meta().get(SESSION_LOG_MARK)? {
            None => Ok(0),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| ReadError::Corrupt("meta record sessionlog".into())),
        }
    }

    /// Applies `records`, whose first has index `first_index` in the session log, then moves the mark past them.
    pub fn index(&self, first_index: u64, records: &[Record]) -> Result<(), ReadError> {
        let mut messages: HashMap<&str, sled::Batch> = HashMap::new();
        let mut numbers: HashMap<&str, SeqNums> = HashMap::new();
        for record in records {
            match record {
                Record::Outgoing(message) => {
                    messages
                        .entry(message.session_id.as_str())
                        .or_default()
                        .insert(&message.msg_seq_num.to_be_bytes(), message_value(message));
                }
                // The compliance log: read from the session log itself.
                Record::Sent(_) | Record::Incoming(_) => {}
                Record::SeqNums(logged) => {
                    let current = match numbers.get(logged.session_id.as_str()) {
                        Some(current) => Some(*current),
                        None => self.seqnums(&logged.session_id)?,
                    };
                    numbers.insert(&logged.session_id, raised(current, logged));
                }
                Record::Reset(logged) => {
                    // What this call gathered for the session so far came before the reset: apply it first.
                    if let Some(batch) = messages.remove(logged.session_id.as_str()) {
                        self.messages_tree(&logged.session_id)?
                            .apply_batch(batch)
                            .map_err(WriteError::from)?;
                    }
                    self.messages_tree(&logged.session_id)?
                        .clear()
                        .map_err(WriteError::from)?;
                    numbers.insert(&logged.session_id, seq_nums(logged));
                }
            }
        }
        for (session, batch) in messages {
            self.messages_tree(session)?
                .apply_batch(batch)
                .map_err(WriteError::from)?;
        }
        for (session, numbers) in numbers {
            self.put_seqnums(session, &numbers)?;
        }
        if let Some(last) = (first_index + records.len() as u64).checked_sub(1)
            && !records.is_empty()
        {
            self.meta()
                .insert(SESSION_LOG_MARK, &last.to_be_bytes())
                .map_err(WriteError::from)?;
        }
        Ok(())
    }
}

fn seq_nums(logged: &LoggedSeqNums) -> SeqNums {
    SeqNums {
        next_in: logged.next_in,
        next_out: logged.next_out,
        period_start_s: logged.period_start_s,
    }
}

/// The numbers after `logged`: the highest of each since the last reset; a new period replaces the numbers.
fn raised(current: Option<SeqNums>, logged: &LoggedSeqNums) -> SeqNums {
    let logged = seq_nums(logged);
    match current {
        Some(current) if current.period_start_s == logged.period_start_s => SeqNums {
            next_in: current.next_in.max(logged.next_in),
            next_out: current.next_out.max(logged.next_out),
            period_start_s: current.period_start_s,
        },
        Some(current) if current.period_start_s > logged.period_start_s => current,
        _ => logged,
    }
}

fn message_value(message: &Message) -> Vec<u8> {
    crate::sessions::message_record(&message.bytes)
}

#[cfg(test)]
mod tests;
