//! Timers: when the next tick is due, the LogonTimeout and LogoutTimeout, Heartbeat and TestRequest on silence,
//! and the end of the session's hours.

use chrono::{DateTime, TimeDelta, Utc};

use fix::tags::{self, msg_type};

use super::{Session, Status};

impl Session {
    /// When the next [`Event::Tick`](super::Event::Tick) is due, if any timer runs.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::Disconnected => None,
            Status::AwaitingLogon => Some(self.logon_deadline()),
            Status::LogoutSent(at) => Some(self.logout_deadline(at)),
            Status::LoggedOn => {
                let silence = match self.test_request {
                    Some(_) => self.last_received + self.heartbeat * 12 / 5,
                    None => self
                        .test_request_deadline()
                        .min(self.last_sent + self.heartbeat),
                };
                Some(self.period_end.map_or(silence, |end| end.min(silence)))
            }
        }
    }

    /// The end of LogonTimeout for the connection.
    fn logon_deadline(&self) -> DateTime<Utc> {
        self.connected_at + TimeDelta::seconds(i64::from(self.config.logon_timeout_s))
    }

    /// The end of LogoutTimeout for a Logout sent at `sent_at`.
    fn logout_deadline(&self, sent_at: DateTime<Utc>) -> DateTime<Utc> {
        sent_at + TimeDelta::seconds(i64::from(self.config.logout_timeout_s))
    }

    pub(super) fn on_tick(&mut self, now: DateTime<Utc>) {
        match self.status {
            Status::Disconnected => {}
            Status::AwaitingLogon => {
                if now >= self.logon_deadline() {
                    self.disconnect("no Logon within LogonTimeout");
                }
            }
            Status::LogoutSent(at) => {
                if now >= self.logout_deadline(at) {
                    self.disconnect("no Logout answer within LogoutTimeout");
                }
            }
            Status::LoggedOn => self.on_tick_logged_on(now),
        }
    }

    /// When a silent peer gets a TestRequest: 1.2 x HeartBtInt after the last message received (HeartBtInt plus
    /// a fifth for transmission), and never sooner after a Heartbeat sent on a late tick than that fifth.
    fn test_request_deadline(&self) -> DateTime<Utc> {
        (self.last_received + self.heartbeat * 6 / 5).max(self.test_request_not_before)
    }

    /// A due Heartbeat goes first, alone: a tick that arrives late (a loaded machine) must not turn the Heartbeat
    /// the peer expects into a TestRequest. The TestRequest follows on a later tick if the peer stays silent.
    fn on_tick_logged_on(&mut self, now: DateTime<Utc>) {
        if self.period_end.is_some_and(|end| now >= end) {
            self.start_logout("End of the session's hours", now);
            return;
        }
        let silent = now - self.last_received;
        if self.test_request.is_some() && silent >= self.heartbeat * 12 / 5 {
            self.disconnect("no answer to TestRequest: heartbeat timeout");
            return;
        }
        if self.test_request.is_some() {
            return;
        }
        if now - self.last_sent >= self.heartbeat {
            self.send_admin(msg_type::HEARTBEAT, None, now, |_| {});
            self.test_request_not_before = now + self.heartbeat / 5;
            return;
        }
        if now >= self.test_request_deadline() {
            self.test_request_counter += 1;
            let id = format!("TEST-{}", self.test_request_counter);
            self.send_admin(msg_type::TEST_REQUEST, None, now, |w| {
                w.put_str(tags::TEST_REQ_ID, &id);
            });
            self.test_request = Some(now);
        }
    }
}
