//! Logout and disconnection: a venue-initiated Logout that waits for its answer, a Logout that ends the
//! connection at once, the answer to the client's Logout, and the clean-up when the connection goes.

use chrono::{DateTime, Utc};

use fix::tags::{self, msg_type};

use super::{Action, Level, Routing, Session, Status};

impl Session {
    /// A venue-initiated Logout that waits LogoutTimeout for the answer.
    pub(super) fn start_logout(&mut self, text: &str, now: DateTime<Utc>) {
        self.send_admin(msg_type::LOGOUT, None, now, |w| {
            w.put_str(tags::TEXT, text);
        });
        self.status = Status::LogoutSent(now);
        self.log(Level::Info, format!("Logout sent: {text}"));
    }

    pub(super) fn logout_and_disconnect(&mut self, text: &str, routing: Option<&Routing>) {
        let now = self.now;
        self.send_admin(msg_type::LOGOUT, routing, now, |w| {
            w.put_str(tags::TEXT, text);
        });
        self.disconnect(text);
    }

    pub(super) fn on_logout(&mut self, routing: &Routing, now: DateTime<Utc>) {
        if !matches!(self.status, Status::LogoutSent(_)) {
            self.send_admin(msg_type::LOGOUT, Some(routing), now, |_| {});
        }
        self.disconnect("Logout");
        if self.config.reset_on_logout {
            self.reset_seqnums();
        }
    }

    pub(super) fn on_disconnected(&mut self) {
        self.end_app_session();
        if self.status == Status::Disconnected {
            return;
        }
        // A connection that never logged on changes nothing of the session (ResetOnDisconnect included).
        let logged_on = self.status != Status::AwaitingLogon;
        self.status = Status::Disconnected;
        self.clear_gap();
        self.test_request = None;
        if self.config.reset_on_disconnect && logged_on {
            self.reset_seqnums();
        }
    }

    pub(super) fn disconnect(&mut self, reason: &str) {
        self.log(Level::Info, format!("disconnect: {reason}"));
        self.actions.push(Action::Disconnect(reason.to_string()));
        self.end_app_session();
        self.status = Status::Disconnected;
        self.clear_gap();
    }

    /// Tells the application, once, that the logged-on session ended.
    fn end_app_session(&mut self) {
        if std::mem::take(&mut self.app_logged_on) {
            self.app.on_disconnect();
        }
    }
}
