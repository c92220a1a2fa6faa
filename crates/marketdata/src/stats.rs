//! The trade statistics of one instrument for its trading day: last trade, opening price, session high and low,
//! VWAP and traded volume. A day ends at the instrument's close; the first trade after it opens the next.

use engine::InstrumentSpec;
use rust_decimal::Decimal;

/// One trade as market data shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Print {
    pub price_ticks: i64,
    pub qty_lots: i64,
    pub ts_ns: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub last: Option<Print>,
    pub open_ticks: Option<i64>,
    pub high_ticks: Option<i64>,
    pub low_ticks: Option<i64>,
    pub volume_lots: i64,
    /// Sum of price x quantity, in ticks x lots.
    pub notional: i128,
    /// The close that ends this trading day.
    pub day_end_ns: i64,
}

impl Stats {
    /// Records a trade; true if it opened a new trading day (the earlier figures are gone).
    pub fn trade(&mut self, spec: &InstrumentSpec, print: Print) -> bool {
        let new_day = self.last.is_none() || print.ts_ns >= self.day_end_ns;
        if new_day {
            *self = Stats {
                open_ticks: Some(print.price_ticks),
                day_end_ns: spec.next_close_ns(print.ts_ns),
                ..Stats::default()
            };
        }
        self.last = Some(print);
        self.high_ticks = Some(
            self.high_ticks
                .map_or(print.price_ticks, |h| h.max(print.price_ticks)),
        );
        self.low_ticks = Some(
            self.low_ticks
                .map_or(print.price_ticks, |l| l.min(print.price_ticks)),
        );
        self.volume_lots += print.qty_lots;
        self.notional += i128::from(print.price_ticks) * i128::from(print.qty_lots);
        new_day
    }

    /// The volume-weighted average price, to eight decimal places.
    pub fn vwap(&self, spec: &InstrumentSpec) -> Option<Decimal> {
        if self.volume_lots == 0 {
            return None;
        }
        let notional = Decimal::try_from_i128_with_scale(self.notional, 0)
            .ok()?
            .checked_mul(spec.tick_size)?;
        Some(
            (notional / Decimal::from(self.volume_lots))
                .round_dp(8)
                .normalize(),
        )
    }
}
