//! One configured session's figures, kept by its connection as messages pass (atomics: a relaxed add on the hot
//! path) and read by the scrape and the admin API: messages in and out by type, whether it is connected and
//! logged on, its MsgSeqNums, the time of its last message, the peer's address, and the acknowledgement timer.
//!
//! The connection reads nothing from here; the admin server asks for a logout through [`SessionStats::request_logout`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Notify;

use super::counters::VenueCounters;
use super::wire::{self, MSG_TYPES};

/// Orders (D, F, G) waiting for their first report, per session, at most; beyond it the oldest is dropped (its
/// latency is not measured).
pub const ACK_PENDING_MAX: usize = 1_024;

/// What a connection knows of its session, for the metrics and the admin API.
#[derive(Debug)]
pub struct SessionStats {
    /// `SessionConfig::id()`.
    pub id: String,
    pub venue_comp_id: String,
    pub client_comp_id: String,
    received: [AtomicU64; MSG_TYPES.len()],
    sent: [AtomicU64; MSG_TYPES.len()],
    connected: AtomicBool,
    logged_on: AtomicBool,
    next_in: AtomicU64,
    next_out: AtomicU64,
    /// Microseconds since the epoch of the last message in or out; 0: none yet.
    last_message_us: AtomicI64,
    remote: Mutex<Option<SocketAddr>>,
    acks: Mutex<VecDeque<(Box<[u8]>, Instant)>>,
    logout: Notify,
    logout_text: Mutex<Option<String>>,
}

/// A snapshot of [`SessionStats`] for the admin API and the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    pub id: String,
    pub venue_comp_id: String,
    pub client_comp_id: String,
    pub state: &'static str,
    pub next_in_seq: u64,
    pub next_out_seq: u64,
    /// RFC 3339, UTC; `None` before the first message.
    pub last_message_time: Option<String>,
    pub remote_address: Option<String>,
    pub messages_received: u64,
    pub messages_sent: u64,
}

impl SessionStats {
    pub fn new(id: String, venue_comp_id: String, client_comp_id: String) -> SessionStats {
        SessionStats {
            id,
            venue_comp_id,
            client_comp_id,
            received: Default::default(),
            sent: Default::default(),
            connected: AtomicBool::new(false),
            logged_on: AtomicBool::new(false),
            next_in: AtomicU64::new(0),
            next_out: AtomicU64::new(0),
            last_message_us: AtomicI64::new(0),
            remote: Mutex::new(None),
            acks: Mutex::new(VecDeque::new()),
            logout: Notify::new(),
            logout_text: Mutex::new(None),
        }
    }

    /// A connection took the session.
    pub fn connected(&self, peer: SocketAddr) {
        *self.remote.lock().expect("remote lock") = Some(peer);
        self.connected.store(true, Ordering::Relaxed);
    }

    /// The connection let go of the session.
    pub fn disconnected(&self) {
        self.connected.store(false, Ordering::Relaxed);
        self.logged_on.store(false, Ordering::Relaxed);
        self.acks.lock().expect("acks lock").clear();
    }

    /// The session's state and sequence numbers after a step.
    pub fn state(&self, logged_on: bool, next_in: u64, next_out: u64) {
        self.logged_on.store(logged_on, Ordering::Relaxed);
        self.next_in.store(next_in, Ordering::Relaxed);
        self.next_out.store(next_out, Ordering::Relaxed);
    }

    /// A frame read from the socket (before the session judged it).
    pub fn inbound(&self, frame: &[u8], now_us: i64) {
        self.last_message_us.store(now_us, Ordering::Relaxed);
        let msg_type = wire::msg_type(frame);
        self.received[wire::type_slot(msg_type)].fetch_add(1, Ordering::Relaxed);
        if matches!(msg_type, b"D" | b"F" | b"G")
            && let Some(cl_ord_id) = wire::field(frame, b"11")
        {
            let mut acks = self.acks.lock().expect("acks lock");
            if acks.len() == ACK_PENDING_MAX {
                acks.pop_front();
            }
            acks.push_back((cl_ord_id.into(), Instant::now()));
        }
    }

    /// A message handed to the socket: counted by type; a report answering a timed order gives its
    /// acknowledgement latency; rejects are counted by reason.
    pub fn outbound(&self, bytes: &[u8], now_us: i64, venue: &VenueCounters) {
        self.last_message_us.store(now_us, Ordering::Relaxed);
        let msg_type = wire::msg_type(bytes);
        self.sent[wire::type_slot(msg_type)].fetch_add(1, Ordering::Relaxed);
        if matches!(msg_type, b"8" | b"9")
            && let Some(cl_ord_id) = wire::field(bytes, b"11")
        {
            let started = {
                let mut acks = self.acks.lock().expect("acks lock");
                acks.iter()
                    .position(|(id, _)| &id[..] == cl_ord_id)
                    .and_then(|i| acks.remove(i))
                    .map(|(_, at)| at)
            };
            if let Some(at) = started {
                venue.ack_latency.observe(at.elapsed().as_secs_f64());
            }
        }
        venue.outbound(msg_type, bytes);
    }

    /// Asks the connection holding the session to log it out with `text`; false if none holds it.
    pub fn request_logout(&self, text: String) -> bool {
        if !self.connected.load(Ordering::Relaxed) {
            return false;
        }
        *self.logout_text.lock().expect("logout lock") = Some(text);
        self.logout.notify_one();
        true
    }

    /// Resolves when the admin server asked for a logout; gives its text.
    pub async fn logout_requested(&self) -> String {
        loop {
            self.logout.notified().await;
            if let Some(text) = self.logout_text.lock().expect("logout lock").take() {
                return text;
            }
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn is_logged_on(&self) -> bool {
        self.logged_on.load(Ordering::Relaxed)
    }

    /// Messages received and sent by type, for the types seen (`(type, received, sent)`).
    pub fn by_type(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        MSG_TYPES.iter().enumerate().filter_map(|(i, name)| {
            let (r, s) = (
                self.received[i].load(Ordering::Relaxed),
                self.sent[i].load(Ordering::Relaxed),
            );
            (r + s > 0).then_some((*name, r, s))
        })
    }

    /// NewOrderSingles received.
    pub fn orders_received(&self) -> u64 {
        self.received[wire::type_slot(b"D")].load(Ordering::Relaxed)
    }

    pub fn seqnums(&self) -> (u64, u64) {
        (
            self.next_in.load(Ordering::Relaxed),
            self.next_out.load(Ordering::Relaxed),
        )
    }

    pub fn view(&self) -> SessionView {
        let state = match (self.is_connected(), self.is_logged_on()) {
            (_, true) => "logged_on",
            (true, false) => "connected",
            (false, false) => "disconnected",
        };
        let last = self.last_message_us.load(Ordering::Relaxed);
        let (received, sent) = self
            .by_type()
            .fold((0, 0), |(r, s), (_, r1, s1)| (r + r1, s + s1));
        let (next_in, next_out) = self.seqnums();
        SessionView {
            id: self.id.clone(),
            venue_comp_id: self.venue_comp_id.clone(),
            client_comp_id: self.client_comp_id.clone(),
            state,
            next_in_seq: next_in,
            next_out_seq: next_out,
            last_message_time: (last != 0)
                .then(|| chrono::DateTime::from_timestamp_micros(last))
                .flatten()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            remote_address: self
                .remote
                .lock()
                .expect("remote lock")
                .map(|a| a.to_string()),
            messages_received: received,
            messages_sent: sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Vec<u8> {
        text.replace('|', "\x01").into_bytes()
    }

    #[test]
    fn counts_by_type_times_acknowledgements_and_counts_rejects() {
        let venue = VenueCounters::new();
        let s = SessionStats::new("S".into(), "V".into(), "C".into());
        s.inbound(&frame("8=FIX.4.4|9=5|35=D|11=A|10=000|"), 1);
        s.inbound(&frame("8=FIX.4.4|9=5|35=D|11=B|10=000|"), 2);
        s.outbound(&frame("8=FIX.4.4|9=5|35=8|11=A|150=0|10=000|"), 3, &venue);
        s.outbound(&frame("8=FIX.4.4|9=5|35=8|11=A|150=F|10=000|"), 3, &venue);
        s.outbound(
            &frame("8=FIX.4.4|9=5|35=8|11=B|150=8|103=3|10=000|"),
            4,
            &venue,
        );
        s.outbound(
            &frame("8=FIX.4.4|9=5|35=j|380=0|58=throttle: over|10=000|"),
            4,
            &venue,
        );
        s.outbound(&frame("8=FIX.4.4|9=5|35=3|373=5|10=000|"), 4, &venue);
        assert_eq!(s.orders_received(), 2);
        let by_type: Vec<_> = s.by_type().collect();
        assert_eq!(
            by_type,
            vec![("3", 0, 1), ("D", 2, 0), ("8", 0, 3), ("j", 0, 1)]
        );
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("ack", "", venue.ack_latency.clone());
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("ack_count 2"),
            "one per order, the first report only: {text}"
        );
        assert_eq!(
            venue.rejects(),
            vec![("373", 5, 1), ("380", 0, 1), ("103", 3, 1)]
        );
        assert_eq!(venue.throttle_hits(), 1);
        assert_eq!(
            s.view().last_message_time.as_deref(),
            Some("1970-01-01T00:00:00.000004Z")
        );
    }
}
