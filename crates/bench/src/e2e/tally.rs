//! What one session counted: the round-trip latencies of measured orders and every answer by kind.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::LATENCY_NS_MAX;
use super::window::Slot;

/// What one session counted.
pub(super) struct Tally {
    pub(super) latency_ns: Histogram<u64>,
    pub(super) orders: u64,
    pub(super) answered: u64,
    pub(super) accepted: u64,
    /// Order rejects (8 with 150=8), business rejects (j), session rejects (3).
    pub(super) refused: u64,
    pub(super) cancel_rejects: u64,
    /// Later ExecutionReports (fills of resting orders, expiries): not round trips.
    pub(super) unsolicited: u64,
    /// Answers naming no order of this run.
    pub(super) unmatched: u64,
    /// `"35=8 103=…"`, `"35=9 102=…"`, `"35=j 380=…"`, `"35=3 373=…"`: count.
    pub(super) kinds: BTreeMap<String, u64>,
    pub(super) first_origin_ns: u64,
    pub(super) last_answer_ns: u64,
    pub(super) lag_max_ns: u64,
}

impl Tally {
    pub(super) fn new(orders: u64) -> anyhow::Result<Tally> {
        Ok(Tally {
            latency_ns: Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)?,
            orders,
            answered: 0,
            accepted: 0,
            refused: 0,
            cancel_rejects: 0,
            unsolicited: 0,
            unmatched: 0,
            kinds: BTreeMap::new(),
            first_origin_ns: u64::MAX,
            last_answer_ns: 0,
            lag_max_ns: 0,
        })
    }

    pub(super) fn answer(&mut self, slot: Slot, now_ns: u64) {
        self.answered += 1;
        if slot.measured {
            self.latency_ns
                .saturating_record(now_ns.saturating_sub(slot.origin_ns).max(1));
            self.first_origin_ns = self.first_origin_ns.min(slot.origin_ns);
            self.last_answer_ns = self.last_answer_ns.max(now_ns);
        }
    }

    pub(super) fn kind(&mut self, msg_type: &str, tag: u32, value: Option<&[u8]>) {
        let value = value.map_or("-".into(), String::from_utf8_lossy);
        *self
            .kinds
            .entry(format!("35={msg_type} {tag}={value}"))
            .or_default() += 1;
    }

    pub(super) fn merge(&mut self, other: &Tally) -> anyhow::Result<()> {
        self.latency_ns.add(&other.latency_ns)?;
        self.orders += other.orders;
        self.answered += other.answered;
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.cancel_rejects += other.cancel_rejects;
        self.unsolicited += other.unsolicited;
        self.unmatched += other.unmatched;
        for (k, v) in &other.kinds {
            *self.kinds.entry(k.clone()).or_default() += v;
        }
        self.first_origin_ns = self.first_origin_ns.min(other.first_origin_ns);
        self.last_answer_ns = self.last_answer_ns.max(other.last_answer_ns);
        self.lag_max_ns = self.lag_max_ns.max(other.lag_max_ns);
        Ok(())
    }
}
