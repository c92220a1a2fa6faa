//! What a session's step writes to the session log: its incoming messages (redacted), its outgoing messages
//! (kept for resend or not, as the session says) and its sequence numbers when they changed, cut into
//! submissions that fit the writer's bounds.

use chrono::{DateTime, Utc};
use journal::session_log::writer::{SUBMISSION_BYTES_MAX, SUBMISSION_RECORDS_MAX};
use journal::session_log::{Message, Record, SeqNums as Logged};
use journal::wal::FRAME_HEADER_BYTES;
use session::app::AppMessage;
use session::{Action, Event, Outbound, SeqNums, Session, redact};

/// Nanoseconds since the Unix epoch (saturating far outside the years any venue runs).
pub fn ts_ns(now: DateTime<Utc>) -> i64 {
    now.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The MsgSeqNum (34) of a received frame, read without validating it; 0 when it has none that reads.
pub fn msg_seq_num(frame: &[u8]) -> u64 {
    let Some(at) = frame.windows(4).position(|w| w == b"\x0134=") else {
        return 0;
    };
    frame[at + 4..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .try_fold(0u64, |n, b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .unwrap_or(0)
}

/// A message received, with a Logon's password redacted.
pub fn incoming(session: &str, frame: &[u8], now: DateTime<Utc>) -> Record {
    Record::Incoming(Message {
        session_id: session.to_owned(),
        // A message whose MsgSeqNum does not read (it was refused for it) is logged under 1.
        msg_seq_num: msg_seq_num(frame).max(1),
        ts_ns: ts_ns(now),
        bytes: redact(frame),
    })
}

/// A message sent: kept for resend when the session stores it (an application message with a new number).
pub fn outgoing(session: &str, out: &Outbound, now: DateTime<Utc>) -> Record {
    let message = Message {
        session_id: session.to_owned(),
        msg_seq_num: out.seq.max(1),
        ts_ns: ts_ns(now),
        bytes: out.bytes.to_vec(),
    };
    if out.store && !out.resend {
        Record::Outgoing(message)
    } else {
        Record::Sent(message)
    }
}

/// A session's numbers, and the journal sequence number through which its reports are logged; `reset` when the
/// numbers were reset (the stored messages before are gone).
pub fn numbers(
    session: &str,
    seq: SeqNums,
    reports_through: u64,
    reset: bool,
    now: DateTime<Utc>,
) -> Record {
    let logged = Logged {
        session_id: session.to_owned(),
        ts_ns: ts_ns(now),
        next_in: seq.next_in.max(1),
        next_out: seq.next_out.max(1),
        period_start_s: seq.period_start_s,
        reports_through,
    };
    if reset {
        Record::Reset(logged)
    } else {
        Record::SeqNums(logged)
    }
}

/// A message handed to a session no connection sends for: the session numbers it (kept for resend) and its
/// records are appended to `out`.
pub fn numbered_for_resend(
    session_id: &str,
    session: &mut Session,
    msg: &AppMessage,
    now: DateTime<Utc>,
    out: &mut Vec<Record>,
) {
    for action in session.handle(Event::Send(msg), now) {
        if let Action::Send(o) = action {
            out.push(outgoing(session_id, &o, now));
        }
    }
}

/// Cuts `records` into submissions within the writer's bounds, keeping their order.
pub fn submissions(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut out: Vec<Vec<Record>> = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = FRAME_HEADER_BYTES + record.encoded_bytes();
        match out.last_mut() {
            Some(last)
                if last.len() < SUBMISSION_RECORDS_MAX && bytes + size <= SUBMISSION_BYTES_MAX =>
            {
                bytes += size;
                last.push(record);
            }
            _ => {
                bytes = size;
                out.push(vec![record]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use journal::session_log::MESSAGE_BYTES_MAX;

    fn big(seq: u64) -> Record {
        Record::Incoming(Message {
            session_id: "S".into(),
            msg_seq_num: seq,
            ts_ns: 0,
            bytes: vec![b'x'; MESSAGE_BYTES_MAX],
        })
    }

    #[test]
    fn submissions_keep_the_order_and_every_bound() {
        let small = (1..=2_500).map(|_| incoming("S", b"8=FIX.4.4\x0134=7\x01", Utc::now()));
        let records: Vec<Record> = small.chain((1..=20).map(big)).collect();
        let expected = records.clone();
        let cut = submissions(records);
        assert!(
            cut.iter()
                .all(|s| !s.is_empty() && s.len() <= SUBMISSION_RECORDS_MAX)
        );
        assert!(cut.iter().all(|s| {
            s.iter()
                .map(|r| FRAME_HEADER_BYTES + r.encoded_bytes())
                .sum::<usize>()
                <= SUBMISSION_BYTES_MAX
        }));
        assert_eq!(cut.concat(), expected);
        assert!(submissions(Vec::new()).is_empty());
    }

    #[test]
    fn msg_seq_num_reads_34_or_says_0() {
        assert_eq!(
            msg_seq_num(b"8=FIX.4.4\x019=5\x0135=D\x0134=42\x0149=C\x01"),
            42
        );
        assert_eq!(msg_seq_num(b"8=FIX.4.4\x0135=D\x0134=x\x01"), 0);
        assert_eq!(msg_seq_num(b"8=FIX.4.4\x0135=D\x01"), 0);
        assert_eq!(msg_seq_num(b"\x0134=99999999999999999999999\x01"), 0);
    }
}
