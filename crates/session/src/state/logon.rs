//! Logon: the first message of a connection, its checks (authentication, validation, schedule, SendingTime,
//! HeartBtInt, ResetSeqNumFlag, MsgSeqNum) and the answer; a Logon while logged on (sequence reset).
//! A Logon that does not authenticate is refused by a plain disconnect ([`Session::refuse_unauthenticated`]).

use chrono::{DateTime, TimeDelta, Utc};

use fix::tags::{self, msg_type};
use fix::{Invalid, Message};

use super::{Head, Level, Queued, Routing, Session, Status};
use crate::auth::AuthOutcome;
use crate::schedule;

impl Session {
    pub(super) fn on_connected(&mut self, now: DateTime<Utc>) {
        self.status = Status::AwaitingLogon;
        self.connected_at = now;
        self.last_received = now;
        self.last_sent = now;
        self.test_request = None;
        self.clear_gap();
    }

    pub(super) fn on_first_frame(&mut self, frame: &[u8], now: DateTime<Utc>) {
        self.with_message(frame, |s, msg| {
            if msg.msg_type() != msg_type::LOGON {
                s.disconnect("first message is not a Logon");
                return;
            }
            s.on_logon(msg, now);
        });
    }

    fn on_logon(&mut self, msg: &Message, now: DateTime<Utc>) {
        // Authentication comes first: until it succeeds nothing may use, store or reveal the session's numbers.
        let username = msg.get(tags::USERNAME).map(|v| v.bytes);
        let password = msg.get(tags::PASSWORD).map(|v| v.bytes);
        match self.auth.check(&self.config, username, password, now) {
            AuthOutcome::Accepted => {}
            AuthOutcome::Refused => {
                self.refuse_unauthenticated("authentication failed");
                return;
            }
            AuthOutcome::LockedOut => {
                self.refuse_unauthenticated("locked out after repeated failures");
                return;
            }
        }
        let Some(head) = self.head(msg) else { return };
        let routing = Routing::of(msg).reversed();
        if let Err(Invalid::Reject(r)) = self.validator.validate(&self.dict, msg) {
            let text = format!(
                "Invalid Logon: {} (tag {})",
                r.reason.text(),
                r.ref_tag.unwrap_or(0)
            );
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        let Some(period) = schedule::period(&self.config.schedule, now) else {
            self.logout_and_disconnect(
                "Logon refused: outside the session's hours",
                Some(&routing),
            );
            return;
        };
        if self.refuse_late_sending_time(msg, &head, now) {
            return;
        }
        let heartbeat_s = msg
            .get(tags::HEART_BT_INT)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(0);
        let (min, max) = (self.config.heartbeat_min_s, self.config.heartbeat_max_s);
        if heartbeat_s < u64::from(min) || heartbeat_s > u64::from(max) {
            let text = format!(
                "HeartBtInt {heartbeat_s} is outside the allowed range {min} to {max} seconds"
            );
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        // Authentication has succeeded: only now may a reset be honoured.
        let reset_flag = msg
            .get(tags::RESET_SEQ_NUM_FLAG)
            .is_some_and(|v| v.bytes == b"Y");
        if period.start_s != self.seq.period_start_s {
            self.log(
                Level::Info,
                "new session period: sequence numbers reset".into(),
            );
            self.reset_seqnums();
            self.seq.period_start_s = period.start_s;
        }
        if reset_flag || self.config.reset_on_logon {
            if reset_flag && head.seq != 1 {
                self.logout_and_disconnect(
                    "ResetSeqNumFlag=Y requires MsgSeqNum 1",
                    Some(&routing),
                );
                return;
            }
            self.reset_seqnums();
        }
        if head.seq < self.seq.next_in {
            self.logout_seq_too_low(head.seq, &routing);
            return;
        }
        if let Err(text) = self.app.on_logon(msg, now) {
            self.logout_and_disconnect(&text, Some(&routing));
            return;
        }
        self.app_logged_on = true;
        self.heartbeat = TimeDelta::seconds(heartbeat_s as i64);
        self.period_end = period.end;
        self.status = Status::LoggedOn;
        self.last_received = now;
        // ResetSeqNumFlag is echoed only when the client's Logon carried it; a reset by ResetOnLogon or a new
        // period is silent, as in QuickFIX and QuickFIX/J.
        self.send_logon(&routing, heartbeat_s, reset_flag, now);
        self.log(Level::Info, format!("logged on, HeartBtInt {heartbeat_s}"));
        if head.seq > self.seq.next_in {
            self.queue.insert(head.seq, Queued::Consumed);
            self.request_resend(head.seq, now);
        } else {
            self.seq.next_in += 1;
        }
    }

    /// Refuses a connection that has not authenticated: a plain disconnect, no Logout. A Logout needs a MsgSeqNum:
    /// the session's next one would be used up and revealed to whoever knows the CompIDs, and any other number
    /// would put the real client out of step (QuickFIX, and QuickFIX/J before QFJ-750, count every Logout they
    /// receive as the next incoming number, whatever number it carries). A disconnect changes neither side's
    /// numbers, and looks like the answer to an unknown CompID pair. The reason goes to the log; the runtime
    /// keeps the refused Logon in the compliance log.
    pub(super) fn refuse_unauthenticated(&mut self, reason: &str) {
        self.log(Level::Warn, format!("Logon refused: {reason}"));
        self.disconnect(&format!("Logon refused: {reason}"));
    }

    /// The venue's Logon: EncryptMethod 0, the agreed HeartBtInt and, when the client's Logon asked for a reset,
    /// ResetSeqNumFlag=Y.
    fn send_logon(&mut self, routing: &Routing, heartbeat_s: u64, reset: bool, now: DateTime<Utc>) {
        self.send_admin(msg_type::LOGON, Some(routing), now, |w| {
            w.put_u64(tags::ENCRYPT_METHOD, 0)
                .put_u64(tags::HEART_BT_INT, heartbeat_s);
            if reset {
                w.put_bool(tags::RESET_SEQ_NUM_FLAG, true);
            }
        });
    }

    pub(super) fn on_logon_while_logged_on(
        &mut self,
        msg: &Message,
        head: &Head,
        routing: &Routing,
        now: DateTime<Utc>,
    ) {
        let reset_flag = msg
            .get(tags::RESET_SEQ_NUM_FLAG)
            .is_some_and(|v| v.bytes == b"Y");
        if reset_flag && head.seq == 1 {
            let heartbeat_s = self.heartbeat.num_seconds().unsigned_abs();
            // A sequence reset in the middle of a session: both sides start again at 1.
            self.reset_seqnums();
            self.send_logon(routing, heartbeat_s, true, now);
            self.seq.next_in = 2;
            self.log(
                Level::Info,
                "sequence numbers reset by a Logon with ResetSeqNumFlag=Y".into(),
            );
            return;
        }
        self.logout_and_disconnect("Logon received while already logged on", Some(routing));
    }
}
