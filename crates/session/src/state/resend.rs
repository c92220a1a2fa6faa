//! ResendRequest, both ways: serving the client's (the runtime loads the stored messages, [`Session::replay`]
//! turns them into PossDup resends and SequenceReset-GapFills).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use fix::Message;
use fix::tags::{self, SessionRejectReason as Reason, msg_type};

use super::{
    Action, BEGIN_SEQ_NO, END_SEQ_NO, Head, Level, RESEND_BATCH_MAX, Routing, Session,
    outgoing_header,
};

impl Session {
    pub(super) fn on_resend_request(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) {
        let begin = msg
            .get(BEGIN_SEQ_NO)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        let end = msg
            .get(END_SEQ_NO)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        if begin == 0 || (end != 0 && end < begin) {
            self.reject(
                msg,
                head,
                Reason::ValueIsIncorrect,
                Some(END_SEQ_NO),
                Some("EndSeqNo is below BeginSeqNo"),
                now,
            );
            return;
        }
        let last_sent = self.seq.next_out - 1;
        let end = if end == 0 {
            last_sent
        } else {
            end.min(last_sent)
        };
        if begin > end {
            self.log(
                Level::Info,
                format!("ResendRequest from {begin}: nothing sent from there"),
            );
            return;
        }
        self.log(Level::Info, format!("ResendRequest {begin} to {end}"));
        self.actions.push(Action::Resend { begin, end });
    }

    /// Turns stored messages `(seq, frame)` in `begin..=end` (in order, at most [`RESEND_BATCH_MAX`]) into the
    /// resends of a ResendRequest: each stored application message again with PossDupFlag=Y, OrigSendingTime
    /// and a fresh SendingTime; one SequenceReset-GapFill for each run of numbers without one.
    pub fn replay(
        &mut self,
        begin: u64,
        end: u64,
        stored: &[(u64, Vec<u8>)],
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let mut gap_start: Option<u64> = None;
        let mut next = begin;
        for (seq, frame) in stored
            .iter()
            .filter(|(s, _)| (begin..=end).contains(s))
            .take(RESEND_BATCH_MAX)
        {
            if *seq < next {
                continue;
            }
            if *seq > next {
                gap_start.get_or_insert(next);
            }
            if let Some(start) = gap_start.take() {
                self.gap_fill(start, *seq, now);
            }
            self.resend_stored(*seq, frame, now);
            next = seq + 1;
        }
        if next <= end {
            self.gap_fill(next, end + 1, now);
        }
        std::mem::take(&mut self.actions)
    }

    fn gap_fill(&mut self, seq: u64, new_seq: u64, now: DateTime<Utc>) {
        let mut header = outgoing_header(&self.config, msg_type::SEQUENCE_RESET, seq, now);
        header.poss_dup = true;
        header.orig_sending_time = Some(now);
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        w.put_bool(tags::GAP_FILL_FLAG, true)
            .put_u64(tags::NEW_SEQ_NO, new_seq);
        if w.finish().is_ok() {
            self.push_send(seq, msg_type::SEQUENCE_RESET, false, true);
        }
    }

    fn resend_stored(&mut self, seq: u64, frame: &[u8], now: DateTime<Utc>) {
        let mut decoder = std::mem::take(&mut self.decoder);
        let dict = Arc::clone(&self.dict);
        let built = match decoder.decode(&dict, frame) {
            Ok(msg) => self.encode_resend(&msg, seq, now),
            Err(_) => false,
        };
        self.decoder = decoder;
        if !built {
            self.log(
                Level::Warn,
                format!("stored message {seq} is unreadable: gap filled instead"),
            );
            self.gap_fill(seq, seq + 1, now);
        }
    }

    fn encode_resend(&mut self, msg: &Message, seq: u64, now: DateTime<Utc>) -> bool {
        let orig = msg
            .get(tags::SENDING_TIME)
            .and_then(|v| v.as_timestamp().ok());
        let mut routing = Routing::of(msg);
        // A rebuilt report keeps its PossResend when it is resent.
        routing.poss_resend = msg
            .get(tags::POSS_RESEND)
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false);
        let msg_type = msg.msg_type().to_vec();
        let body = match (msg.body().first(), msg.trailer().first()) {
            (Some(first), Some(trailer)) => {
                let start = msg.value(first).as_ptr() as usize - msg.frame().as_ptr() as usize;
                let start = start - first.tag.to_string().len() - 1;
                let end = msg.value(trailer).as_ptr() as usize - msg.frame().as_ptr() as usize;
                let end = end - trailer.tag.to_string().len() - 1;
                &msg.frame()[start..end]
            }
            _ => &[][..],
        };
        let mut header = outgoing_header(&self.config, &msg_type, seq, now);
        header.poss_dup = true;
        header.orig_sending_time = Some(orig.unwrap_or(now));
        routing.apply(&mut header);
        self.buf.clear();
        let mut w = self.encoder.begin(&mut self.buf, &header);
        w.put_raw_fields(body);
        if w.finish().is_err() {
            return false;
        }
        self.push_send(seq, &msg_type, false, true);
        true
    }
}
