//! The counters every connection adds to, venue-wide: rejects by reason, throttle hits, and the acknowledgement
//! latency histogram.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::wire;

/// Reject codes counted per tag (a code at or over it is counted as the last).
pub const REJECT_CODES: usize = 100;

/// The reject tags counted: SessionRejectReason, BusinessRejectReason, OrdRejReason, CxlRejReason.
pub const REJECT_TAGS: [&str; 4] = ["373", "380", "103", "102"];

/// Venue-wide counters the connections add to.
#[derive(Debug)]
pub struct VenueCounters {
    pub ack_latency: Histogram,
    rejects: [[AtomicU64; REJECT_CODES]; 4],
    throttle_hits: AtomicU64,
}

impl Default for VenueCounters {
    fn default() -> VenueCounters {
        VenueCounters::new()
    }
}

impl VenueCounters {
    pub fn new() -> VenueCounters {
        VenueCounters {
            // 10 µs to about 5 s.
            ack_latency: Histogram::new(exponential_buckets(10e-6, 2.0, 20)),
            rejects: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            throttle_hits: AtomicU64::new(0),
        }
    }

    /// Rejects and throttle hits among the messages sent.
    pub fn outbound(&self, msg_type: &[u8], bytes: &[u8]) {
        let (tag, which) = match msg_type {
            b"3" => (&b"373"[..], 0),
            b"j" => {
                if wire::field(bytes, b"58").is_some_and(|t| t.starts_with(b"throttle:")) {
                    self.throttle_hits.fetch_add(1, Ordering::Relaxed);
                }
                (&b"380"[..], 1)
            }
            b"8" => {
                if wire::field(bytes, b"150") != Some(b"8") {
                    return;
                }
                (&b"103"[..], 2)
            }
            b"9" => (&b"102"[..], 3),
            _ => return,
        };
        if let Some(code) = wire::code(bytes, tag) {
            let slot = (code as usize).min(REJECT_CODES - 1);
            self.rejects[which][slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rejects by tag and code, for the codes seen.
    pub fn rejects(&self) -> Vec<(&'static str, usize, u64)> {
        let mut out = Vec::new();
        for (t, codes) in self.rejects.iter().enumerate() {
            for (code, n) in codes.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    out.push((REJECT_TAGS[t], code, n));
                }
            }
        }
        out
    }

    pub fn throttle_hits(&self) -> u64 {
        self.throttle_hits.load(Ordering::Relaxed)
    }
}
