//! The figures: a summary on stderr, and one JSON line on stdout ([`E2eResult`], whose keys and value types
//! scripts and `tests/e2e.rs` read).

use anyhow::ensure;
use serde::Serialize;

use super::tally::Tally;
use super::{ANSWER_TIMEOUT, Options};

/// The JSON line: every figure of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct E2eResult {
    /// Measured orders (cancels count as orders).
    pub orders: u64,
    /// From the first measured order's start to its last answer, to the microsecond.
    pub duration_s: f64,
    pub orders_per_s: f64,
    /// Ack round trip quantiles and maximum, to 0.1 us.
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub sessions: u32,
    /// Sessions that sent orders and read nothing, beside the measured ones.
    pub slow_sessions: u32,
    /// A venue-wide drop-copy session was logged on and reading.
    pub drop_copy: bool,
    pub tls: bool,
    /// Order rejects, business and session rejects.
    pub rejects: u64,
    pub cancel_rejects: u64,
    pub unanswered: u64,
    pub warmup: u64,
    /// Orders per second asked for (open loop); `null`: closed loop.
    pub rate: Option<f64>,
}

/// `x` rounded to `digits` decimals.
fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

pub(crate) struct Report {
    pub(super) tally: Tally,
    pub(super) sessions: u32,
}

impl Report {
    pub(crate) fn duration_s(&self) -> f64 {
        let t = &self.tally;
        if t.last_answer_ns <= t.first_origin_ns || t.first_origin_ns == u64::MAX {
            return 0.0;
        }
        (t.last_answer_ns - t.first_origin_ns) as f64 / 1e9
    }

    pub(crate) fn us(&self, quantile: f64) -> f64 {
        let h = &self.tally.latency_ns;
        if h.is_empty() {
            return 0.0;
        }
        (h.value_at_quantile(quantile) as f64 / 100.0).round() / 10.0
    }

    pub(crate) fn unanswered(&self) -> u64 {
        self.tally.orders - self.tally.answered
    }

    pub(super) fn print(&self, options: &Options) {
        let t = &self.tally;
        let duration_s = self.duration_s();
        let per_s = if duration_s > 0.0 {
            options.orders as f64 / duration_s
        } else {
            0.0
        };
        let max_us = (t.latency_ns.max() as f64 / 100.0).round() / 10.0;
        let mode = match options.rate {
            Some(r) => format!("open loop at {r} orders/s"),
            None => format!("closed loop, {} outstanding per session", options.window),
        };
        eprintln!(
            "bench e2e: {} orders (+{} warm-up) over {} sessions{}{} ({mode}) in {duration_s:.3} s: {per_s:.0} \
             orders/s; ack round trip p50 {} us, p99 {} us, p99.9 {} us, max {max_us} us; {} accepted, {} refused, \
             {} cancel rejects, {} unanswered, {} unmatched, {} later reports; sender behind schedule by {:.1} ms \
             at most",
            options.orders,
            options.warmup,
            self.sessions,
            if options.slow_sessions > 0 {
                format!(" (+{} slow, not measured)", options.slow_sessions)
            } else if options.drop_copy {
                " (+1 venue-wide drop copy, not measured)".to_string()
            } else {
                String::new()
            },
            if options.tls_ca_file.is_some() {
                " (TLS)"
            } else {
                ""
            },
            self.us(0.5),
            self.us(0.99),
            self.us(0.999),
            t.accepted,
            t.refused,
            t.cancel_rejects,
            self.unanswered(),
            t.unmatched,
            t.unsolicited,
            t.lag_max_ns as f64 / 1e6,
        );
        for (kind, n) in &t.kinds {
            eprintln!("  answers {kind}: {n}");
        }
        let result = self.result(options, duration_s, per_s, max_us);
        match serde_json::to_string(&result) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("bench e2e: the JSON line could not be written: {e}"),
        }
    }

    /// The figures of the JSON line.
    fn result(&self, options: &Options, duration_s: f64, per_s: f64, max_us: f64) -> E2eResult {
        E2eResult {
            orders: options.orders,
            duration_s: round_to(duration_s, 6),
            orders_per_s: round_to(per_s, 1),
            p50_us: self.us(0.5),
            p99_us: self.us(0.99),
            p999_us: self.us(0.999),
            max_us,
            sessions: self.sessions,
            slow_sessions: options.slow_sessions,
            drop_copy: options.drop_copy,
            tls: options.tls_ca_file.is_some(),
            rejects: self.tally.refused,
            cancel_rejects: self.tally.cancel_rejects,
            unanswered: self.unanswered(),
            warmup: options.warmup,
            rate: options.rate,
        }
    }

    /// Fails the run when an order went unanswered or too many were refused.
    pub(crate) fn verdict(&self, options: &Options) -> anyhow::Result<()> {
        let t = &self.tally;
        ensure!(
            self.unanswered() == 0,
            "{} of {} orders got no answer within {} s of the last send",
            self.unanswered(),
            t.orders,
            ANSWER_TIMEOUT.as_secs()
        );
        let refused_pct = t.refused as f64 * 100.0 / t.orders.max(1) as f64;
        ensure!(
            refused_pct <= options.reject_pct_max,
            "{refused_pct:.2}% of the orders were refused (limit {}%): see the answers above",
            options.reject_pct_max
        );
        Ok(())
    }
}
