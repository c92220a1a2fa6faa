//! What the engine knows of an instrument, in integers. The conversions from decimal prices and quantities (the FIX
//! edge) live here too, so that every caller rounds the same way: it never rounds, it refuses.

use rust_decimal::Decimal;

use super::types::{RejectReason, TradingStatus};

/// Nanoseconds in a day: Day and GTD-by-date expiry count days from the Unix epoch in UTC.
pub const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// Basis points in 100 percent.
pub const BASIS_POINTS: i64 = 10_000;
/// The largest price or quantity the engine accepts, so that price x quantity x cash units never overflow i64.
pub const TICKS_LOTS_MAX: i64 = 1_000_000_000_000;

/// Decimal places of a cash unit: money inside the engine is an integer count of 0.0001 of the currency.
pub const CASH_DECIMALS: u32 = 4;

/// Cash units of one tick times one lot, if that is a whole number of cash units.
pub fn cash_per_tick_lot(tick_size: Decimal, lot_size: Decimal) -> Option<i64> {
    let unit = Decimal::new(1, CASH_DECIMALS);
    let value = tick_size.checked_mul(lot_size)?;
    exact_multiple(value, unit)
}

/// An instrument as the engine sees it. Amounts of money are in the currency's cash units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    pub symbol: String,
    /// Index of the instrument's currency in the configured currency list.
    pub currency: u32,
    pub tick_size: Decimal,
    pub lot_size: Decimal,
    pub min_qty_lots: i64,
    pub max_qty_lots: i64,
    /// Cash units of the largest order value (price x quantity); `i64::MAX` for no limit.
    pub max_notional_cash: i64,
    /// Cash units of one tick times one lot.
    pub cash_per_tick_lot: i64,
    /// Half-width of the price collar in basis points of the reference price.
    pub collar_bp: i64,
    /// The reference price before the first trade.
    pub reference_ticks: i64,
    /// Day orders expire at this time of day (nanoseconds after midnight UTC).
    pub close_ns: i64,
    pub status: TradingStatus,
}

impl InstrumentSpec {
    /// The collar around `reference_ticks`: the lowest and highest prices a trade or a limit order may have.
    pub fn collar_ticks(&self, reference_ticks: i64) -> (i64, i64) {
        let width_ticks = (i128::from(reference_ticks) * i128::from(self.collar_bp)
            / i128::from(BASIS_POINTS)) as i64;
        let low_ticks = (reference_ticks - width_ticks).max(1);
        let high_ticks = reference_ticks
            .saturating_add(width_ticks)
            .min(TICKS_LOTS_MAX);
        (low_ticks, high_ticks)
    }

    /// The value of `qty_lots` at `price_ticks` in cash units (saturating: a saturated value fails every limit).
    pub fn notional_cash(&self, price_ticks: i64, qty_lots: i64) -> i64 {
        price_ticks
            .checked_mul(qty_lots)
            .and_then(|ticks_lots| ticks_lots.checked_mul(self.cash_per_tick_lot))
            .unwrap_or(i64::MAX)
    }

    /// The next close strictly after `ts_ns`.
    /// Saturates at `i64::MAX` (never) far in the future.
    pub fn next_close_ns(&self, ts_ns: i64) -> i64 {
        let midnight_ns = ts_ns.div_euclid(DAY_NS) * DAY_NS;
        let close_ns = midnight_ns.saturating_add(self.close_ns);
        if close_ns > ts_ns {
            close_ns
        } else {
            close_ns.saturating_add(DAY_NS)
        }
    }

    /// The close on a given day (days since the Unix epoch), saturating far from the epoch.
    pub fn close_on_day_ns(&self, days_since_epoch: i32) -> i64 {
        i64::from(days_since_epoch)
            .saturating_mul(DAY_NS)
            .saturating_add(self.close_ns)
    }

    /// A decimal price in ticks: refused unless a positive exact multiple of the tick size.
    pub fn price_to_ticks(&self, price: Decimal) -> Result<i64, RejectReason> {
        if price <= Decimal::ZERO {
            return Err(RejectReason::PriceNotPositive);
        }
        exact_multiple(price, self.tick_size).ok_or(RejectReason::PriceOffTick)
    }

    /// A decimal quantity in lots: refused unless a positive exact multiple of the lot size.
    pub fn qty_to_lots(&self, qty: Decimal) -> Result<i64, RejectReason> {
        if qty <= Decimal::ZERO {
            return Err(RejectReason::QtyNotPositive);
        }
        exact_multiple(qty, self.lot_size).ok_or(RejectReason::QtyOffLot)
    }

    pub fn ticks_to_price(&self, price_ticks: i64) -> Decimal {
        Decimal::from(price_ticks) * self.tick_size
    }

    pub fn lots_to_qty(&self, qty_lots: i64) -> Decimal {
        Decimal::from(qty_lots) * self.lot_size
    }
}

/// `value / unit` when it is a whole number within the engine's range.
fn exact_multiple(value: Decimal, unit: Decimal) -> Option<i64> {
    let ratio = value.checked_div(unit)?;
    if !ratio.fract().is_zero() {
        return None;
    }
    let whole = i64::try_from(ratio).ok()?;
    (1..=TICKS_LOTS_MAX).contains(&whole).then_some(whole)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn spec() -> InstrumentSpec {
        InstrumentSpec {
            symbol: "ZVZZT".into(),
            currency: 0,
            tick_size: Decimal::from_str("0.01").unwrap(),
            lot_size: Decimal::ONE,
            min_qty_lots: 1,
            max_qty_lots: 1_000_000,
            max_notional_cash: i64::MAX,
            cash_per_tick_lot: 100,
            collar_bp: 990_000,
            reference_ticks: 10_000,
            close_ns: 16 * 3_600 * 1_000_000_000,
            status: TradingStatus::Open,
        }
    }

    #[test]
    fn prices_convert_only_on_tick() {
        let spec = spec();
        assert_eq!(
            spec.price_to_ticks(Decimal::from_str("100.01").unwrap()),
            Ok(10_001)
        );
        assert_eq!(
            spec.price_to_ticks(Decimal::from_str("100.015").unwrap()),
            Err(RejectReason::PriceOffTick)
        );
        assert_eq!(
            spec.price_to_ticks(Decimal::ZERO),
            Err(RejectReason::PriceNotPositive)
        );
        assert_eq!(
            spec.qty_to_lots(Decimal::from_str("2.5").unwrap()),
            Err(RejectReason::QtyOffLot)
        );
    }

    #[test]
    fn collar_covers_one_to_ten_thousand() {
        assert_eq!(spec().collar_ticks(10_000), (1, 1_000_000));
    }

    #[test]
    fn next_close_rolls_to_tomorrow_after_close() {
        let spec = spec();
        let morning_ns = 9 * 3_600 * 1_000_000_000;
        assert_eq!(spec.next_close_ns(morning_ns), spec.close_ns);
        assert_eq!(spec.next_close_ns(spec.close_ns), spec.close_ns + DAY_NS);
    }
}
