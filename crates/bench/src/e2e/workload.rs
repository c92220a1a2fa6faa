//! The workload: the order-book corpus mapped to one list of orders per session, built before the clock starts.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, ensure};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{CORPUS_CENTER_TICKS, Options};
use crate::corpus::{self, Rows};
use venue_config::InstrumentConfig;

/// The instrument's grid: corpus ticks and lots mapped onto it, inside its collar.
#[derive(Debug, Clone)]
pub(crate) struct Pricing {
    pub(super) tick: Decimal,
    pub(super) lot: Decimal,
    pub(super) reference_ticks: i64,
    pub(super) low_ticks: i64,
    pub(super) high_ticks: i64,
    pub(super) min_lots: i64,
    pub(super) max_lots: i64,
}

impl Pricing {
    pub(super) fn new(i: &InstrumentConfig) -> anyhow::Result<Pricing> {
        let (tick, lot) = (i.tick_size.0, i.lot_size.0);
        ensure!(
            tick > Decimal::ZERO && lot > Decimal::ZERO,
            "{}: tick and lot must be positive",
            i.symbol
        );
        let ticks = |d: Decimal| (d / tick).to_i64().context("price out of range");
        let lots = |d: Decimal| (d / lot).to_i64().context("quantity out of range");
        let reference = i.reference_price.0;
        let band = reference * i.collar_pct.0 / Decimal::ONE_HUNDRED;
        // One tick inside each end, so that a collar read as exclusive still lets every price in.
        let low_ticks = ticks((reference - band).max(Decimal::ZERO).ceil_to(tick))?.max(0) + 1;
        let high_ticks = ticks((reference + band).floor_to(tick))? - 1;
        ensure!(
            low_ticks <= high_ticks,
            "{}: the collar is narrower than two ticks",
            i.symbol
        );
        Ok(Pricing {
            tick,
            lot,
            reference_ticks: ticks(reference.floor_to(tick))?,
            low_ticks,
            high_ticks,
            min_lots: lots(i.min_qty.0.ceil_to(lot))?.max(1),
            max_lots: lots(i.max_qty.0.floor_to(lot))?,
        })
    }

    pub(super) fn price_ticks(&self, corpus_ticks: i64) -> i64 {
        (self.reference_ticks + corpus_ticks - CORPUS_CENTER_TICKS)
            .clamp(self.low_ticks, self.high_ticks)
    }

    pub(super) fn lots(&self, corpus_lots: i64) -> i64 {
        corpus_lots.clamp(self.min_lots, self.max_lots.max(self.min_lots))
    }
}

pub(super) trait RoundTo {
    fn ceil_to(self, step: Decimal) -> Decimal;
    fn floor_to(self, step: Decimal) -> Decimal;
}

impl RoundTo for Decimal {
    fn ceil_to(self, step: Decimal) -> Decimal {
        (self / step).ceil() * step
    }
    fn floor_to(self, step: Decimal) -> Decimal {
        (self / step).floor() * step
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Limit {
        price_ticks: i64,
    },
    Market,
    /// Cancels the session's own order number `orig` (its index in the session's operations).
    Cancel {
        orig: u32,
    },
}

/// One order-entry message of one session; its index in the session's list is its ClOrdID's number.
#[derive(Debug, Clone, Copy)]
pub(super) struct Op {
    pub(super) kind: OpKind,
    pub(super) buy: bool,
    pub(super) lots: i64,
    /// Due time after the start, open loop only.
    pub(super) due_ns: u64,
    pub(super) measured: bool,
}

pub(crate) struct Workload {
    pub(super) sessions: Vec<Vec<Op>>,
    pub(super) tick: Decimal,
    pub(super) lot: Decimal,
}

impl Workload {
    /// The first `warmup + orders` corpus operations (the corpus again, ids shifted, if it is shorter).
    pub(super) fn load(
        path: &Path,
        options: &Options,
        pricing: &Pricing,
    ) -> anyhow::Result<Workload> {
        let total = options.orders + options.warmup;
        let n = options.sessions as usize;
        let mut sessions: Vec<Vec<Op>> = vec![Vec::new(); n];
        // Live adds: corpus id -> (session op index, lots). Gone once built.
        let mut live: HashMap<u64, (u32, i64)> = HashMap::new();
        let mut j = 0u64;
        let mut id_offset = 0u64;
        while j < total {
            let mut rows = Rows::open(path)?;
            let mut id_max = 0u64;
            while j < total {
                let Some(row) = rows.next_row() else {
                    break;
                };
                let (line, row) = row?;
                let at = || format!("{}:{line}", path.display());
                ensure!(row.order_id > 0, "{}: order_id 0", at());
                id_max = id_max.max(row.order_id);
                let id = row.order_id + id_offset;
                let s = ((id - 1) % n as u64) as usize;
                let kind = match row.op {
                    corpus::Op::Add => {
                        let index = u32::try_from(sessions[s].len())?;
                        live.insert(id, (index, pricing.lots(row.qty)));
                        OpKind::Limit {
                            price_ticks: pricing.price_ticks(row.price),
                        }
                    }
                    corpus::Op::Market => OpKind::Market,
                    corpus::Op::Cancel => {
                        let (orig, _) = *live
                            .get(&id)
                            .with_context(|| format!("{}: cancels an unknown order", at()))?;
                        OpKind::Cancel { orig }
                    }
                };
                let lots = match kind {
                    OpKind::Cancel { .. } => live.remove(&id).map_or(1, |(_, l)| l),
                    _ => pricing.lots(row.qty),
                };
                let due_ns = options
                    .rate
                    .map_or(0, |r| (j as f64 * 1e9 / r).round() as u64);
                sessions[s].push(Op {
                    kind,
                    buy: row.side == corpus::Side::Buy,
                    lots,
                    due_ns,
                    measured: j >= options.warmup,
                });
                j += 1;
            }
            ensure!(
                id_max > 0,
                "the corpus {} holds no operation",
                path.display()
            );
            id_offset += id_max;
        }
        Ok(Workload {
            sessions,
            tick: pricing.tick,
            lot: pricing.lot,
        })
    }
}
