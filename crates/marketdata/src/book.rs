//! The order-by-order book of one instrument, rebuilt from the engine's [`Event::Queue`](engine::Event::Queue)
//! events: per side, the price levels best first, each level's orders in time priority with their visible
//! quantity. Every change returns the order's position on its side (1 = the most competitive order), which is the
//! MDEntryPositionNo of an order-by-order increment, and the first change of a level in a command records the
//! level as it was before (so depth-limited views can be diffed).
//!
//! It never reads the engine: the same events, applied in order, always give the same book.

use std::collections::BTreeMap;

use engine::{OrderId, QueueChange, Side};

/// One price level: its orders in time priority (id, visible lots) and their total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub price_ticks: i64,
    pub total_lots: i64,
    pub orders: Vec<(OrderId, i64)>,
}

/// What a level shows in an aggregated view: visible lots and the number of orders.
pub type LevelView = (i64, u32);

/// One side. Levels are keyed so that ascending order is best first (bids by minus the price).
#[derive(Clone, Debug)]
pub struct SideBook {
    side: Side,
    levels: BTreeMap<i64, Level>,
}

/// One order-by-order change, as an increment states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderChange {
    pub side: Side,
    pub change: QueueChange,
    pub order_id: OrderId,
    pub price_ticks: i64,
    /// Visible lots after the change (0 for a deletion).
    pub visible_lots: i64,
    /// 1-based position on the side (before the deletion, for a deletion); 0 when positions are not counted.
    pub position: u32,
}

/// Why an event does not fit the book (a bug in the engine or a gap in the events: the caller reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl SideBook {
    pub fn new(side: Side) -> SideBook {
        SideBook {
            side,
            levels: BTreeMap::new(),
        }
    }

    pub fn key(&self, price_ticks: i64) -> i64 {
        match self.side {
            Side::Buy => -price_ticks,
            Side::Sell => price_ticks,
        }
    }

    /// The levels, best first.
    pub fn levels(&self) -> impl Iterator<Item = &Level> {
        self.levels.values()
    }

    pub fn level(&self, price_ticks: i64) -> Option<&Level> {
        self.levels.get(&self.key(price_ticks))
    }

    /// The aggregated view of a level, `None` if it is empty.
    pub fn view(&self, price_ticks: i64) -> Option<LevelView> {
        self.level(price_ticks)
            .map(|l| (l.total_lots, l.orders.len() as u32))
    }

    /// Orders in levels better than `key`.
    fn orders_before(&self, key: i64) -> u32 {
        self.levels
            .range(..key)
            .map(|(_, level)| level.orders.len() as u32)
            .sum()
    }

    /// Applies one queue change; `positions`: count the order's position on the side (costs a walk of the
    /// better levels, so only when an order-by-order view is subscribed).
    pub fn apply(
        &mut self,
        order_id: OrderId,
        price_ticks: i64,
        visible_lots: i64,
        change: QueueChange,
        positions: bool,
    ) -> Result<OrderChange, Mismatch> {
        let key = self.key(price_ticks);
        let before = if positions {
            self.orders_before(key)
        } else {
            0
        };
        let missing = || {
            Mismatch(format!(
                "order {} is not at {} {price_ticks}",
                order_id.0, self.side
            ))
        };
        let index_in_level = match change {
            QueueChange::Joined => {
                let level = self.levels.entry(key).or_insert_with(|| Level {
                    price_ticks,
                    ..Level::default()
                });
                level.orders.push((order_id, visible_lots));
                level.total_lots += visible_lots;
                level.orders.len() - 1
            }
            QueueChange::Resized => {
                let level = self.levels.get_mut(&key).ok_or_else(missing)?;
                let at = level
                    .orders
                    .iter()
                    .position(|(id, _)| *id == order_id)
                    .ok_or_else(missing)?;
                level.total_lots += visible_lots - level.orders[at].1;
                level.orders[at].1 = visible_lots;
                at
            }
            QueueChange::Left => {
                let level = self.levels.get_mut(&key).ok_or_else(missing)?;
                let at = level
                    .orders
                    .iter()
                    .position(|(id, _)| *id == order_id)
                    .ok_or_else(missing)?;
                let (_, lots) = level.orders.remove(at);
                level.total_lots -= lots;
                if level.orders.is_empty() {
                    self.levels.remove(&key);
                }
                at
            }
        };
        Ok(OrderChange {
            side: self.side,
            change,
            order_id,
            price_ticks,
            visible_lots: if change == QueueChange::Left {
                0
            } else {
                visible_lots
            },
            position: if positions {
                before + index_in_level as u32 + 1
            } else {
                0
            },
        })
    }

    /// The best `depth` levels (0: all) as `(price, view)`, with `overrides` (key -> the level as it was, `None`:
    /// absent) taking the place of the current levels they name: the view before a command's changes.
    pub fn top(
        &self,
        depth: usize,
        overrides: Option<&BTreeMap<i64, Option<LevelView>>>,
    ) -> Vec<(i64, LevelView)> {
        let limit = if depth == 0 { usize::MAX } else { depth };
        let current = self
            .levels
            .iter()
            .map(|(k, l)| (*k, l.price_ticks, (l.total_lots, l.orders.len() as u32)));
        let Some(overrides) = overrides.filter(|o| !o.is_empty()) else {
            return current.take(limit).map(|(_, p, v)| (p, v)).collect();
        };
        let mut out = Vec::new();
        let mut current = current.peekable();
        let mut old = overrides.iter().peekable();
        while out.len() < limit {
            let next_current = current.peek().map(|(k, _, _)| *k);
            let next_old = old.peek().map(|(k, _)| **k);
            let (key, taken) = match (next_current, next_old) {
                (None, None) => break,
                (Some(c), Some(o)) if o <= c => {
                    if o == c {
                        current.next();
                    }
                    let (_, view) = old.next().expect("peeked");
                    (o, *view)
                }
                (Some(_), _) => {
                    let (k, _, view) = current.next().expect("peeked");
                    (k, Some(view))
                }
                (None, Some(o)) => {
                    let (_, view) = old.next().expect("peeked");
                    (o, *view)
                }
            };
            if let Some(view) = taken {
                out.push((self.price_of_key(key), view));
            }
        }
        out
    }

    fn price_of_key(&self, key: i64) -> i64 {
        match self.side {
            Side::Buy => -key,
            Side::Sell => key,
        }
    }

    /// Every order, best first, with its position: `(position, order, price, visible)`.
    pub fn orders(&self) -> impl Iterator<Item = (u32, OrderId, i64, i64)> + '_ {
        self.levels
            .values()
            .flat_map(|level| {
                level
                    .orders
                    .iter()
                    .map(move |(id, lots)| (*id, level.price_ticks, *lots))
            })
            .enumerate()
            .map(|(i, (id, price, lots))| (i as u32 + 1, id, price, lots))
    }
}

/// Both sides of one instrument's book.
#[derive(Clone, Debug)]
pub struct Book {
    pub bids: SideBook,
    pub asks: SideBook,
}

impl Default for Book {
    fn default() -> Book {
        Book {
            bids: SideBook::new(Side::Buy),
            asks: SideBook::new(Side::Sell),
        }
    }
}

impl Book {
    pub fn side(&self, side: Side) -> &SideBook {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub fn side_mut(&mut self, side: Side) -> &mut SideBook {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_better_levels_then_time_priority() {
        let mut bids = SideBook::new(Side::Buy);
        let join = |b: &mut SideBook, id, px, lots| {
            b.apply(OrderId(id), px, lots, QueueChange::Joined, true)
                .unwrap()
                .position
        };
        assert_eq!(join(&mut bids, 1, 100, 5), 1);
        assert_eq!(join(&mut bids, 2, 101, 5), 1, "a better level comes first");
        assert_eq!(join(&mut bids, 3, 101, 4), 2, "at the back of 101");
        assert_eq!(join(&mut bids, 4, 99, 1), 4);
        let left = bids
            .apply(OrderId(2), 101, 0, QueueChange::Left, true)
            .unwrap();
        assert_eq!(left.position, 1);
        assert_eq!(bids.view(101), Some((4, 1)));
        let orders: Vec<_> = bids.orders().map(|(p, id, _, _)| (p, id.0)).collect();
        assert_eq!(orders, vec![(1, 3), (2, 1), (3, 4)]);
        assert!(
            bids.apply(OrderId(9), 101, 1, QueueChange::Resized, true)
                .is_err()
        );
    }

    #[test]
    fn the_top_before_a_change_puts_back_the_levels_as_they_were() {
        let mut asks = SideBook::new(Side::Sell);
        for (id, px) in [(1, 101), (2, 102), (3, 103)] {
            asks.apply(OrderId(id), px, 1, QueueChange::Joined, false)
                .unwrap();
        }
        // 101 left and 100 arrived during the command.
        asks.apply(OrderId(1), 101, 0, QueueChange::Left, false)
            .unwrap();
        asks.apply(OrderId(4), 100, 7, QueueChange::Joined, false)
            .unwrap();
        let overrides = BTreeMap::from([(101, Some((1, 1))), (100, None)]);
        assert_eq!(
            asks.top(2, Some(&overrides)),
            vec![(101, (1, 1)), (102, (1, 1))]
        );
        assert_eq!(asks.top(2, None), vec![(100, (7, 1)), (102, (1, 1))]);
    }
}
