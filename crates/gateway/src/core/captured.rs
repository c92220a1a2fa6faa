//! The trades kept for trade capture (see `capture`): the current UTC day's, bounded, and the live
//! subscriptions with what each selects. Data only; the answers are `capture`'s.

use std::collections::VecDeque;

use engine::{InstrumentId, OrderId, Seq, Side};
use session::Routing;

use crate::request::TradeCaptureRequest;

/// Trades of the current UTC day held for trade capture, at most.
pub const CAPTURE_TRADES_MAX: usize = 200_000;
/// TradeCaptureReports one snapshot answers, at most.
pub const CAPTURE_SNAPSHOT_MAX: usize = 2_000;
/// Trade-capture subscriptions held venue-wide, at most.
pub const CAPTURE_SUBSCRIPTIONS_MAX: usize = 256;

pub(super) const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// One side of a trade kept for capture.
#[derive(Clone, Debug)]
pub(super) struct CapturedSide {
    pub(super) side: Side,
    pub(super) order_id: OrderId,
    pub(super) cl_ord_id: Box<str>,
    pub(super) account: Box<str>,
    pub(super) session: Option<usize>,
    /// The ExecID of the side's fill report.
    pub(super) exec_id: Box<str>,
}

/// A trade kept for capture.
#[derive(Clone, Debug)]
pub(super) struct CapturedTrade {
    pub(super) match_id: (Seq, u32),
    pub(super) ts_ns: i64,
    pub(super) instrument: InstrumentId,
    pub(super) price_ticks: i64,
    pub(super) qty_lots: i64,
    pub(super) sides: [CapturedSide; 2],
}

/// The current UTC day's trades.
#[derive(Debug, Default)]
pub(super) struct Captured {
    /// Days since the Unix epoch of the trades held.
    day: i64,
    trades: VecDeque<CapturedTrade>,
    /// Trades of the day forgotten at the bound, and the time of the last of them.
    pub(super) forgotten: u64,
    pub(super) forgotten_through_ns: i64,
}

/// A live subscription.
#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) session: usize,
    pub(super) req: TradeCaptureRequest,
    pub(super) filter: Filter,
    pub(super) routing: Routing,
}

/// What a request selects.
#[derive(Clone, Copy, Debug)]
pub(super) struct Filter {
    pub(super) instrument: Option<InstrumentId>,
    pub(super) from_ns: i64,
    pub(super) to_ns: i64,
}

impl Filter {
    pub(super) fn takes(&self, trade: &CapturedTrade) -> bool {
        self.instrument.is_none_or(|i| i == trade.instrument)
            && (self.from_ns..=self.to_ns).contains(&trade.ts_ns)
    }
}

/// Why a request is refused: TradeRequestResult (749) and a Text.
pub(super) type Refusal = (u32, String);

impl Captured {
    fn day_of(ts_ns: i64) -> i64 {
        ts_ns.div_euclid(NS_PER_DAY)
    }

    /// Keeps a released trade: a new UTC day starts afresh; past the bound the oldest is forgotten.
    pub(super) fn push(&mut self, trade: CapturedTrade) {
        let day = Self::day_of(trade.ts_ns);
        if day != self.day {
            *self = Captured {
                day,
                ..Captured::default()
            };
        }
        if self.trades.len() == CAPTURE_TRADES_MAX
            && let Some(old) = self.trades.pop_front()
        {
            self.forgotten += 1;
            self.forgotten_through_ns = old.ts_ns;
        }
        self.trades.push_back(trade);
    }

    /// The trades of the UTC day of `now_ns` (none when the day held is another).
    pub(super) fn today(&self, now_ns: i64) -> impl Iterator<Item = &CapturedTrade> {
        let today = Self::day_of(now_ns) == self.day;
        self.trades.iter().filter(move |_| today)
    }
}

/// The request's TrdCapDtGrp as an inclusive range of nanoseconds (everything without one).
pub(super) fn date_range(dates: &[(Option<i32>, Option<i64>)]) -> Result<(i64, i64), Refusal> {
    let day_start = |d: i32| i64::from(d).saturating_mul(NS_PER_DAY);
    let from = |e: &(Option<i32>, Option<i64>)| match *e {
        (_, Some(at)) => at,
        (Some(d), None) => day_start(d),
        (None, None) => i64::MIN,
    };
    let to = |e: &(Option<i32>, Option<i64>)| match *e {
        (_, Some(at)) => at,
        (Some(d), None) => day_start(d).saturating_add(NS_PER_DAY - 1),
        (None, None) => i64::MAX,
    };
    let (from_ns, to_ns) = match dates {
        [] => (i64::MIN, i64::MAX),
        [one] => (from(one), if one.1.is_some() { i64::MAX } else { to(one) }),
        [first, second] => (from(first), to(second)),
        _ => {
            return Err((
                99,
                "TrdCapDtGrp: at most 2 entries (a date or a range)".into(),
            ));
        }
    };
    if from_ns > to_ns {
        return Err((99, "TrdCapDtGrp: the range ends before it starts".into()));
    }
    Ok((from_ns, to_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges_read_one_entry_as_a_day_or_a_start_and_two_as_from_and_to() {
        let day = 20_000;
        let start = i64::from(day) * NS_PER_DAY;
        assert_eq!(date_range(&[]), Ok((i64::MIN, i64::MAX)));
        assert_eq!(
            date_range(&[(Some(day), None)]),
            Ok((start, start + NS_PER_DAY - 1))
        );
        assert_eq!(
            date_range(&[(Some(day), Some(start + 5))]),
            Ok((start + 5, i64::MAX))
        );
        assert_eq!(
            date_range(&[(Some(day), Some(start + 5)), (Some(day), Some(start + 9))]),
            Ok((start + 5, start + 9))
        );
        assert_eq!(
            date_range(&[(Some(day), None), (Some(day + 1), None)]),
            Ok((start, start + 2 * NS_PER_DAY - 1))
        );
        assert!(date_range(&[(Some(day), Some(start + 9)), (Some(day), Some(start + 5))]).is_err());
    }
}
