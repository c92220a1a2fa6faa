//! A manual clock: time is an input. State machines take `now`; a test reads it here and moves it on by hand, so
//! a heartbeat interval or a throttle window passes in a line instead of a sleep.
//!
//! Clones share one time, so a closure handed to the code under test (`source`) sees every `advance` the test
//! makes. It never reads the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// Where every manual clock starts unless told otherwise: 2027-01-15 08:00:00 UTC, a Friday in the future of
/// any test data, and the instant the session and gateway tests have always started from.
pub const START_S: i64 = 1_800_000_000;

/// A clock that moves only when told, with nanosecond resolution.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now_ns: Arc<AtomicI64>,
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock at [`START_S`].
    pub fn new() -> ManualClock {
        ManualClock::at(DateTime::from_timestamp(START_S, 0).expect("START_S is a valid instant"))
    }

    /// A clock at `t`.
    pub fn at(t: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now_ns: Arc::new(AtomicI64::new(nanos(t))),
        }
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.now_ns())
    }

    /// The time now in nanoseconds since the Unix epoch (the sequencer's and the gateway's unit).
    pub fn now_ns(&self) -> i64 {
        self.now_ns.load(Ordering::SeqCst)
    }

    /// Moves the clock by `by` (backwards when negative: a test of a clock that steps back) and returns the new
    /// time.
    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let by_ns = by
            .num_nanoseconds()
            .expect("an advance of less than 292 years");
        let before = self.now_ns.fetch_add(by_ns, Ordering::SeqCst);
        DateTime::from_timestamp_nanos(before + by_ns)
    }

    /// Moves the clock by whole seconds.
    pub fn advance_s(&self, seconds: i64) -> DateTime<Utc> {
        self.advance(TimeDelta::seconds(seconds))
    }

    /// Moves the clock by milliseconds.
    pub fn advance_ms(&self, ms: i64) -> DateTime<Utc> {
        self.advance(TimeDelta::milliseconds(ms))
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        self.now_ns.store(nanos(t), Ordering::SeqCst);
    }

    /// A reading function for code that takes its clock as a closure of nanoseconds (the sequencer's `Clock`):
    /// it reads this clock, so the test's advances show.
    pub fn source(&self) -> impl FnMut() -> i64 + Send + 'static {
        let now_ns = Arc::clone(&self.now_ns);
        move || now_ns.load(Ordering::SeqCst)
    }
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt()
        .expect("a manual clock holds times from 1677 to 2262")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_are_shared_by_clones_and_sources() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(start.timestamp(), START_S);
        let mut source = clock.source();
        let other = clock.clone();
        other.advance_s(30);
        assert_eq!(clock.now(), start + TimeDelta::seconds(30));
        assert_eq!(source(), clock.now_ns());
        assert_eq!(
            clock.advance_ms(-500),
            start + TimeDelta::milliseconds(29_500)
        );
        clock.set(start);
        assert_eq!(other.now(), start);
    }
}
