//! Incoming messages of a logged-on session: header checks (MsgSeqNum, CompIDs, SendingTime, PossDup), the
//! sequence rules (too high: queue and ResendRequest; too low: Logout), the queue behind a gap, SequenceReset in
//! both modes, and the dispatch of a message in sequence.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use fix::tags::{self, SessionRejectReason as Reason, msg_type};
use fix::{Invalid, Message};

use super::{
    Action, BEGIN_SEQ_NO, END_SEQ_NO, Head, Level, QUEUED_BYTES_MAX, QUEUED_MESSAGES_MAX, Queued,
    Routing, Session, Status,
};

impl Session {
    pub(super) fn on_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        match self.status {
            Status::Disconnected => {}
            Status::AwaitingLogon => self.on_first_frame(frame, now),
            Status::LoggedOn | Status::LogoutSent(_) => {
                self.on_session_frame(frame, now);
                self.drain_queue(now);
            }
        }
    }

    /// Decodes `frame` and runs `f` on it; a frame the decoder refuses counts as garbled.
    pub(super) fn with_message(&mut self, frame: &[u8], f: impl FnOnce(&mut Session, &Message)) {
        let mut decoder = std::mem::take(&mut self.decoder);
        let dict = Arc::clone(&self.dict);
        match decoder.decode(&dict, frame) {
            Ok(msg) => f(self, &msg),
            Err(e) => {
                self.counters.garbled += 1;
                self.log(Level::Warn, format!("garbled message ignored: {e}"));
            }
        }
        self.decoder = decoder;
    }

    pub(super) fn head<'m>(&mut self, msg: &Message<'m>) -> Option<Head<'m>> {
        let Some(seq) = msg_seq_num(msg) else {
            self.logout_and_disconnect("MsgSeqNum (34) missing or not a positive number", None);
            return None;
        };
        Some(head_of(msg, seq))
    }

    /// SendingTime (52) further from `now` than MaxLatency allows: Reject 10 with RefTagID 52, then Logout and
    /// disconnect. Returns whether the message was refused.
    pub(super) fn refuse_late_sending_time(
        &mut self,
        msg: &Message,
        head: &Head,
        now: DateTime<Utc>,
    ) -> bool {
        let late = match (self.config.max_latency_s, head.sending_time) {
            (Some(max), Some(t)) => (now - t).abs() > TimeDelta::seconds(i64::from(max)),
            _ => false,
        };
        if late {
            self.reject_and_logout(
                msg,
                head,
                Reason::SendingTimeAccuracyProblem,
                tags::SENDING_TIME,
                "SendingTime accuracy problem",
                now,
            );
        }
        late
    }

    /// A MsgSeqNum below the expected one without PossDupFlag=Y: Logout and disconnect.
    pub(super) fn logout_seq_too_low(&mut self, received: u64, routing: &Routing) {
        let text = format!(
            "MsgSeqNum too low, expecting {} but received {}",
            self.seq.next_in, received
        );
        self.logout_and_disconnect(&text, Some(routing));
    }

    fn on_session_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        self.with_message(frame, |s, msg| s.on_session_message(msg, now));
    }

    fn on_session_message(&mut self, msg: &Message, now: DateTime<Utc>) {
        let reset_mode = msg.msg_type() == msg_type::SEQUENCE_RESET
            && msg.get(tags::GAP_FILL_FLAG).is_none_or(|v| v.bytes != b"Y");
        // SequenceReset-Reset ignores MsgSeqNum (FIX 4.4 Volume 2), so a missing or zero one is no reason to end
        // the session; a Reject of it refers to 45=0.
        let head = if reset_mode {
            head_of(msg, msg_seq_num(msg).unwrap_or(0))
        } else {
            let Some(head) = self.head(msg) else { return };
            head
        };
        self.last_received = now;
        self.test_request = None;
        let routing = Routing::of(msg).reversed();
        if self.refuse_absent_comp_id(msg, &head, now) {
            self.consume_if_expected(head.seq);
            return;
        }
        let comp_ids_ok = msg.get(tags::SENDER_COMP_ID).map(|v| v.bytes)
            == Some(self.config.target_comp_id.as_bytes())
            && msg.get(tags::TARGET_COMP_ID).map(|v| v.bytes)
                == Some(self.config.sender_comp_id.as_bytes());
        if !comp_ids_ok {
            let tag = if msg.get(tags::SENDER_COMP_ID).map(|v| v.bytes)
                == Some(self.config.target_comp_id.as_bytes())
            {
                tags::TARGET_COMP_ID
            } else {
                tags::SENDER_COMP_ID
            };
            self.reject_and_logout(
                msg,
                &head,
                Reason::CompIdProblem,
                tag,
                "CompID problem",
                now,
            );
            self.consume_if_expected(head.seq);
            return;
        }
        if self.refuse_late_sending_time(msg, &head, now) {
            self.consume_if_expected(head.seq);
            return;
        }
        if reset_mode {
            self.on_sequence_reset(msg, &head, false, now);
            return;
        }
        if head.msg_type == msg_type::LOGON {
            self.on_logon_while_logged_on(msg, &head, &routing, now);
            return;
        }
        if head.seq > self.seq.next_in {
            self.on_too_high(msg, &head, now);
            return;
        }
        if head.seq < self.seq.next_in {
            self.on_too_low(msg, &head, &routing, now);
            return;
        }
        if head.poss_dup && !self.poss_dup_ok(msg, &head, now) {
            self.seq.next_in += 1;
            return;
        }
        self.on_in_sequence(msg, &head, &routing, now);
    }

    /// A SenderCompID or TargetCompID missing (Reject 1) or without a value (Reject 4): a malformed header, not a
    /// wrong CompID (9, which ends the session), as QuickFIX answers. Returns whether the message was refused.
    fn refuse_absent_comp_id(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) -> bool {
        for tag in [tags::SENDER_COMP_ID, tags::TARGET_COMP_ID] {
            let reason = match msg.get(tag) {
                None => Reason::RequiredTagMissing,
                Some(v) if v.bytes.is_empty() => Reason::TagSpecifiedWithoutValue,
                Some(_) => continue,
            };
            self.counters.rejected += 1;
            self.reject(msg, head, reason, Some(tag), None, now);
            return true;
        }
        false
    }

    /// PossDupFlag=Y rules: OrigSendingTime present (else Reject 1/122) and not after SendingTime (else Reject 10
    /// and Logout). Returns whether the message may be processed.
    fn poss_dup_ok(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) -> bool {
        if head.msg_type == msg_type::SEQUENCE_RESET {
            return true;
        }
        if !head.has_orig_sending_time {
            self.reject(
                msg,
                head,
                Reason::RequiredTagMissing,
                Some(tags::ORIG_SENDING_TIME),
                None,
                now,
            );
            return false;
        }
        if let (Some(orig), Some(sent)) = (head.orig_sending_time, head.sending_time)
            && orig > sent
        {
            self.reject_and_logout(
                msg,
                head,
                Reason::SendingTimeAccuracyProblem,
                tags::ORIG_SENDING_TIME,
                "OrigSendingTime is later than SendingTime",
                now,
            );
            return false;
        }
        true
    }

    fn on_too_high(&mut self, msg: &Message, head: &Head, now: DateTime<Utc>) {
        if self.queue.len() >= QUEUED_MESSAGES_MAX
            || self.queued_bytes + msg.frame().len() > QUEUED_BYTES_MAX
        {
            self.logout_and_disconnect("Too many messages queued behind a sequence gap", None);
            return;
        }
        if head.msg_type == msg_type::RESEND_REQUEST {
            // Served at once, so that both sides' gaps can be filled at the same time.
            self.on_resend_request(msg, head, now);
            self.queue.insert(head.seq, Queued::Consumed);
        } else {
            self.queued_bytes += msg.frame().len();
            self.queue
                .insert(head.seq, Queued::Frame(msg.frame().to_vec()));
        }
        if head.msg_type == msg_type::LOGOUT {
            self.log(
                Level::Info,
                "Logout received ahead of a sequence gap".into(),
            );
        }
        self.request_resend(head.seq, now);
    }

    fn on_too_low(&mut self, msg: &Message, head: &Head, routing: &Routing, now: DateTime<Utc>) {
        if !head.poss_dup {
            self.logout_seq_too_low(head.seq, routing);
            return;
        }
        // Already processed: check the PossDup rules, then ignore it.
        if self.poss_dup_ok(msg, head, now) {
            self.log(
                Level::Info,
                format!("PossDup message {} already processed: ignored", head.seq),
            );
        }
    }

    /// Sends a ResendRequest for the gap up to `received - 1`, unless one covering it is outstanding.
    pub(super) fn request_resend(&mut self, received: u64, now: DateTime<Utc>) {
        let begin = self.seq.next_in;
        if let Some((b, end)) = self.resend_requested
            && b <= begin
        {
            self.resend_requested = Some((b, end.max(received - 1)));
            return;
        }
        self.resend_requested = Some((begin, received - 1));
        self.send_admin(msg_type::RESEND_REQUEST, None, now, |w| {
            w.put_u64(BEGIN_SEQ_NO, begin).put_u64(END_SEQ_NO, 0);
        });
    }

    fn consume_if_expected(&mut self, seq: u64) {
        if seq == self.seq.next_in {
            self.seq.next_in += 1;
        }
    }

    fn on_in_sequence(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        match self.validator.validate(&self.dict, msg) {
            Ok(_) => {}
            Err(Invalid::Reject(r)) => {
                self.seq.next_in += 1;
                self.counters.rejected += 1;
                self.reject(msg, head, r.reason, r.ref_tag, None, now);
                return;
            }
            Err(Invalid::UnsupportedMsgType) => {
                self.seq.next_in += 1;
                self.business_reject(msg, head, routing, now);
                return;
            }
        }
        if head.msg_type == msg_type::SEQUENCE_RESET {
            // GapFill mode; Reset mode was handled before the sequence checks.
            self.on_sequence_reset(msg, head, true, now);
            return;
        }
        self.seq.next_in += 1;
        match head.msg_type {
            msg_type::HEARTBEAT => {}
            msg_type::TEST_REQUEST => {
                let id = msg
                    .get(tags::TEST_REQ_ID)
                    .map(|v| v.bytes.to_vec())
                    .unwrap_or_default();
                self.send_admin(msg_type::HEARTBEAT, Some(routing), now, |w| {
                    w.put_bytes(tags::TEST_REQ_ID, &id);
                });
            }
            msg_type::RESEND_REQUEST => self.on_resend_request(msg, head, now),
            msg_type::REJECT => {
                let text = msg
                    .get(tags::TEXT)
                    .and_then(|v| v.as_str().ok())
                    .unwrap_or("");
                self.log(
                    Level::Warn,
                    format!("Reject received for message {}: {text}", head.seq),
                );
            }
            msg_type::LOGOUT => self.on_logout(routing, now),
            _ => {
                let answers = self.app.on_message(msg, routing, now);
                for answer in &answers {
                    self.send_app(answer, now);
                }
                if let Some(text) = self.app.take_logout()
                    && self.status == Status::LoggedOn
                {
                    self.start_logout(&text, now);
                }
            }
        }
    }

    fn on_sequence_reset(
        &mut self,
        msg: &Message,
        head: &Head,
        gap_fill: bool,
        now: DateTime<Utc>,
    ) {
        if !gap_fill && let Err(Invalid::Reject(r)) = self.validator.validate(&self.dict, msg) {
            self.reject(msg, head, r.reason, r.ref_tag, None, now);
            return;
        }
        let Some(new_seq) = msg.get(tags::NEW_SEQ_NO).and_then(|v| v.as_uint().ok()) else {
            self.reject(
                msg,
                head,
                Reason::RequiredTagMissing,
                Some(tags::NEW_SEQ_NO),
                None,
                now,
            );
            return;
        };
        let expected = if gap_fill {
            head.seq + 1
        } else {
            self.seq.next_in
        };
        if new_seq < expected || (gap_fill && new_seq == head.seq) {
            let text = format!(
                "Attempt to lower sequence number, invalid value NewSeqNo(36)={new_seq}, expecting at least {expected}"
            );
            self.reject(
                msg,
                head,
                Reason::ValueIsIncorrect,
                Some(tags::NEW_SEQ_NO),
                Some(&text),
                now,
            );
            if gap_fill {
                self.seq.next_in += 1;
            }
            return;
        }
        if !gap_fill && new_seq == self.seq.next_in {
            self.log(
                Level::Warn,
                format!("SequenceReset to {new_seq}, the number already expected"),
            );
        }
        self.seq.next_in = new_seq;
    }

    /// Processes queued frames whose turn has come.
    fn drain_queue(&mut self, now: DateTime<Utc>) {
        loop {
            if !matches!(self.status, Status::LoggedOn | Status::LogoutSent(_)) {
                return;
            }
            while let Some(entry) = self.queue.first_entry() {
                if *entry.key() >= self.seq.next_in {
                    break;
                }
                if let Queued::Frame(f) = entry.remove() {
                    self.queued_bytes -= f.len();
                }
            }
            match self.queue.remove(&self.seq.next_in) {
                Some(Queued::Frame(f)) => {
                    self.queued_bytes -= f.len();
                    self.on_session_frame(&f, now);
                }
                Some(Queued::Consumed) => self.seq.next_in += 1,
                None => break,
            }
        }
        if let Some((_, end)) = self.resend_requested
            && self.seq.next_in > end
        {
            self.resend_requested = None;
            self.log(Level::Info, "sequence gap filled".into());
        }
    }

    pub(super) fn reset_seqnums(&mut self) {
        self.seq.next_in = 1;
        self.seq.next_out = 1;
        self.actions.push(Action::ResetStore);
    }
}

/// MsgSeqNum (34), when present and positive.
fn msg_seq_num(msg: &Message) -> Option<u64> {
    msg.get(tags::MSG_SEQ_NUM)
        .and_then(|v| v.as_uint().ok())
        .filter(|&s| s > 0)
}

fn head_of<'m>(msg: &Message<'m>, seq: u64) -> Head<'m> {
    let orig = msg.get(tags::ORIG_SENDING_TIME);
    Head {
        seq,
        msg_type: msg.msg_type(),
        poss_dup: msg
            .get(tags::POSS_DUP_FLAG)
            .is_some_and(|v| v.bytes == b"Y"),
        sending_time: msg
            .get(tags::SENDING_TIME)
            .and_then(|v| v.as_timestamp().ok()),
        orig_sending_time: orig.and_then(|v| v.as_timestamp().ok()),
        has_orig_sending_time: orig.is_some(),
    }
}
