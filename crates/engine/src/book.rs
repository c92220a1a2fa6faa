//! One order book per instrument: price levels kept sorted in a small vector (best level last, so the busy end never
//! moves memory), orders in one pool shared by every book, each level a doubly linked FIFO of pool slots.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::instrument::InstrumentSpec;
use super::types::{
    AccountId, InstrumentId, Notional, OrderId, OrderState, OrderStatus, SessionId, Side,
    TradingStatus,
};

/// "No slot": the end of a level's FIFO.
pub(crate) const NIL: u32 = u32::MAX;
/// The most orders (resting and pending stops) the engine holds at once, over all books.
pub const ORDERS_MAX: usize = 1 << 22;
/// The most price levels on one side of one book.
pub const LEVELS_PER_SIDE_MAX: usize = 1 << 16;

/// A multiplicative hasher for order ids. The map is only looked up, never iterated into output, so its order
/// cannot leak into events.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, value: u64) {
        let product = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = product ^ (product >> 29);
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The smallest order index table.
const INDEX_CAPACITY_MIN: usize = 1 << 10;

/// Order id -> pool slot. Open addressing over a power-of-two table kept at most half full, Fibonacci hashing of the
/// id (ids are sequence numbers, so the multiply spreads them), linear probing and backward-shift deletion (no
/// tombstones, so probe runs stay short however long the venue runs). It is never iterated into output.
pub(crate) struct OrderIndex {
    /// 0 marks an empty entry: order ids start at 1.
    keys: Vec<u64>,
    slots: Vec<u32>,
    len: usize,
    /// 64 minus log2 of the capacity: the hash is the top bits of the product.
    shift: u32,
}

impl Default for OrderIndex {
    fn default() -> OrderIndex {
        OrderIndex::with_capacity(INDEX_CAPACITY_MIN)
    }
}

impl OrderIndex {
    fn with_capacity(capacity: usize) -> OrderIndex {
        debug_assert!(capacity.is_power_of_two());
        OrderIndex {
            keys: vec![0; capacity],
            slots: vec![NIL; capacity],
            len: 0,
            shift: 64 - capacity.trailing_zeros(),
        }
    }

    fn home(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.keys.len() - 1
    }

    /// Where `id` is, or the empty entry where it would go.
    fn probe(&self, id: u64) -> usize {
        let mask = self.mask();
        let mut at = self.home(id);
        while self.keys[at] != id && self.keys[at] != 0 {
            at = (at + 1) & mask;
        }
        at
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, id: u64) -> Option<u32> {
        if id == 0 {
            return None;
        }
        let at = self.probe(id);
        (self.keys[at] == id).then(|| self.slots[at])
    }

    /// Returns false (and changes nothing) if `id` is already present.
    pub fn insert(&mut self, id: u64, slot: u32) -> bool {
        assert_ne!(id, 0, "order id 0 is reserved");
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        let at = self.probe(id);
        if self.keys[at] == id {
            return false;
        }
        self.keys[at] = id;
        self.slots[at] = slot;
        self.len += 1;
        true
    }

    pub fn remove(&mut self, id: u64) -> Option<u32> {
        if id == 0 {
            return None;
        }
        let mask = self.mask();
        let mut hole = self.probe(id);
        if self.keys[hole] != id {
            return None;
        }
        let slot = self.slots[hole];
        let mut next = (hole + 1) & mask;
        while self.keys[next] != 0 {
            let home = self.home(self.keys[next]);
            // The entry at `next` may fill the hole if the hole lies on its probe path, from `home` to `next`.
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                self.keys[hole] = self.keys[next];
                self.slots[hole] = self.slots[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.keys[hole] = 0;
        self.slots[hole] = NIL;
        self.len -= 1;
        Some(slot)
    }

    fn grow(&mut self) {
        let mut bigger = OrderIndex::with_capacity(self.keys.len() * 2);
        for (&id, &slot) in self.keys.iter().zip(&self.slots) {
            if id != 0 {
                bigger.insert(id, slot);
            }
        }
        *self = bigger;
    }

    /// Every (id, slot), in table order (use only where order does not matter).
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.keys
            .iter()
            .zip(&self.slots)
            .filter(|(id, _)| **id != 0)
            .map(|(&id, &slot)| (id, slot))
    }
}

/// A live order: resting in a book, or a stop waiting for its trigger.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub id: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price_ticks: i64,
    /// The part of the leaves quantity that is shown and matchable at the order's place in its level.
    pub visible_lots: i64,
    /// An iceberg's reserve, shown slice by slice.
    pub hidden_lots: i64,
    /// MaxFloor; 0 for a fully visible order.
    pub display_lots: i64,
    pub qty_lots: i64,
    pub cum_lots: i64,
    /// The sum of price_ticks x qty_lots over its fills, for AvgPx (see `OrderState`).
    pub notional: Notional,
    /// Day or GTD expiry; `i64::MAX` for none.
    pub expire_ns: i64,
    /// The price at which risk reserved funds for each lot of leaves quantity.
    pub reserve_ticks: i64,
    pub account: AccountId,
    pub account_slot: u32,
    pub session: SessionId,
    /// The self-trade prevention party (see `AccountState::stp_party`).
    pub stp_party: u64,
    pub prev: u32,
    pub next: u32,
}

impl Order {
    pub fn leaves_lots(&self) -> i64 {
        self.visible_lots + self.hidden_lots
    }

    /// Its state while live (new or partly filled), for the events that name it.
    pub fn state(&self) -> OrderState {
        OrderState {
            status: OrderStatus::live(self.cum_lots),
            cum_lots: self.cum_lots,
            leaves_lots: self.leaves_lots(),
            notional: self.notional,
        }
    }

    /// Its state once it has left the book with `status` and nothing left.
    pub fn closed(&self, status: OrderStatus) -> OrderState {
        OrderState {
            status,
            leaves_lots: 0,
            ..self.state()
        }
    }
}

/// Every live order, by slot, with its id index.
#[derive(Default)]
pub(crate) struct OrderPool {
    slots: Vec<Order>,
    free: Vec<u32>,
    index: OrderIndex,
}

impl OrderPool {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_full(&self) -> bool {
        self.index.len() >= ORDERS_MAX
    }

    pub fn insert(&mut self, order: Order) -> u32 {
        let id = order.id;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = order;
                slot
            }
            None => {
                self.slots.push(order);
                (self.slots.len() - 1) as u32
            }
        };
        let inserted = self.index.insert(id.0, slot);
        assert!(inserted, "order id {} inserted twice", id.0);
        slot
    }

    pub fn remove(&mut self, slot: u32) -> Order {
        let order = self.slots[slot as usize].clone();
        let removed = self.index.remove(order.id.0);
        assert_eq!(
            removed,
            Some(slot),
            "order {} not indexed at its slot",
            order.id.0
        );
        self.free.push(slot);
        order
    }

    pub fn slot_of(&self, id: OrderId) -> Option<u32> {
        self.index.get(id.0)
    }

    pub fn get(&self, slot: u32) -> &Order {
        &self.slots[slot as usize]
    }

    pub fn get_mut(&mut self, slot: u32) -> &mut Order {
        &mut self.slots[slot as usize]
    }

    /// Live orders by slot (slot order: use only where the order of the result does not matter or is re-sorted).
    pub fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.entries().map(|(_, slot)| slot)
    }
}

/// One price level: its visible total and its FIFO of slots.
#[derive(Clone, Debug)]
pub(crate) struct Level {
    pub price_ticks: i64,
    pub total_lots: i64,
    pub orders: u32,
    pub head: u32,
    pub tail: u32,
}

/// One side of a book. Levels are sorted by `key` ascending, so the best level is the last.
pub(crate) struct Ladder {
    side: Side,
    pub levels: Vec<Level>,
}

impl Ladder {
    pub fn new(side: Side) -> Ladder {
        Ladder {
            side,
            levels: Vec::new(),
        }
    }

    /// Finds the level at `price_ticks` (or where it would go). Keys are prices times +1 for bids and -1 for asks,
    /// so both sides sort ascending with the best level last.
    fn find(&self, price_ticks: i64) -> Result<usize, usize> {
        let sign = match self.side {
            Side::Buy => 1,
            Side::Sell => -1,
        };
        let key = price_ticks * sign;
        self.levels
            .binary_search_by(|level| (level.price_ticks * sign).cmp(&key))
    }

    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    pub fn best_price_ticks(&self) -> Option<i64> {
        self.levels.last().map(|level| level.price_ticks)
    }

    /// Appends the order in `slot` to the back of its price level; returns the level's new visible total.
    pub fn push_back(&mut self, pool: &mut OrderPool, slot: u32) -> i64 {
        let (price_ticks, visible_lots) = {
            let order = pool.get(slot);
            (order.price_ticks, order.visible_lots)
        };
        let at = match self.find(price_ticks) {
            Ok(at) => at,
            Err(at) => {
                self.levels.insert(
                    at,
                    Level {
                        price_ticks,
                        total_lots: 0,
                        orders: 0,
                        head: NIL,
                        tail: NIL,
                    },
                );
                at
            }
        };
        let level = &mut self.levels[at];
        let old_tail = level.tail;
        {
            let order = pool.get_mut(slot);
            order.prev = old_tail;
            order.next = NIL;
        }
        if old_tail == NIL {
            level.head = slot;
        } else {
            pool.get_mut(old_tail).next = slot;
        }
        level.tail = slot;
        level.orders += 1;
        level.total_lots += visible_lots;
        level.total_lots
    }

    /// Takes the order in `slot` out of its level (the order stays in the pool); returns the level's new visible
    /// total, 0 if the level is gone.
    pub fn unlink(&mut self, pool: &mut OrderPool, slot: u32) -> i64 {
        let (price_ticks, visible_lots, prev, next) = {
            let order = pool.get(slot);
            (
                order.price_ticks,
                order.visible_lots,
                order.prev,
                order.next,
            )
        };
        let Ok(at) = self.find(price_ticks) else {
            panic!("order in slot {slot} has no level at {price_ticks}");
        };
        let level = &mut self.levels[at];
        unlink_in_level(level, pool, prev, next);
        level.orders -= 1;
        level.total_lots -= visible_lots;
        assert!(
            level.total_lots >= 0,
            "level {price_ticks} total went negative"
        );
        let total_lots = level.total_lots;
        if level.orders == 0 {
            assert_eq!(
                total_lots, 0,
                "empty level {price_ticks} still holds quantity"
            );
            self.levels.remove(at);
        }
        total_lots
    }
}

/// Unlinks a node whose neighbours are `prev` and `next` from the level's list.
pub(crate) fn unlink_in_level(level: &mut Level, pool: &mut OrderPool, prev: u32, next: u32) {
    if prev == NIL {
        level.head = next;
    } else {
        pool.get_mut(prev).next = next;
    }
    if next == NIL {
        level.tail = prev;
    } else {
        pool.get_mut(next).prev = prev;
    }
}

/// A book: two ladders, the trading status, the last trade price and the stops waiting on it.
pub(crate) struct Book {
    pub bids: Ladder,
    pub asks: Ladder,
    pub status: TradingStatus,
    pub last_trade_ticks: Option<i64>,
    /// Buy stops trigger when the last trade price rises to their stop price or above.
    pub buy_stops: BTreeSet<(i64, OrderId)>,
    /// Sell stops trigger when the last trade price falls to their stop price or below.
    pub sell_stops: BTreeSet<(i64, OrderId)>,
    /// The collar last computed: (reference, low, high) in ticks; a reference of 0 means none yet.
    collar_cache: Cell<(i64, i64, i64)>,
}

impl Book {
    pub fn new(status: TradingStatus) -> Book {
        Book {
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            status,
            last_trade_ticks: None,
            buy_stops: BTreeSet::new(),
            sell_stops: BTreeSet::new(),
            collar_cache: Cell::new((0, 0, 0)),
        }
    }

    /// The reference price: the last trade, else the configured one.
    pub fn reference_ticks(&self, spec: &InstrumentSpec) -> i64 {
        self.last_trade_ticks.unwrap_or(spec.reference_ticks)
    }

    /// The collar (lowest, highest price) around the current reference price, cached until the reference moves.
    pub fn collar_ticks(&self, spec: &InstrumentSpec) -> (i64, i64) {
        let reference_ticks = self.reference_ticks(spec);
        let (cached_ticks, low_ticks, high_ticks) = self.collar_cache.get();
        if cached_ticks == reference_ticks {
            return (low_ticks, high_ticks);
        }
        let (low_ticks, high_ticks) = spec.collar_ticks(reference_ticks);
        self.collar_cache
            .set((reference_ticks, low_ticks, high_ticks));
        (low_ticks, high_ticks)
    }

    pub fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    pub fn stops_mut(&mut self, side: Side) -> &mut BTreeSet<(i64, OrderId)> {
        match side {
            Side::Buy => &mut self.buy_stops,
            Side::Sell => &mut self.sell_stops,
        }
    }

    pub fn is_crossed(&self) -> bool {
        match (self.bids.best_price_ticks(), self.asks.best_price_ticks()) {
            (Some(bid), Some(ask)) => bid >= ask,
            _ => false,
        }
    }
}

/// Whether an order on `side` with limit `bound_ticks` may trade at `price_ticks`.
pub(crate) fn crosses(side: Side, bound_ticks: i64, price_ticks: i64) -> bool {
    match side {
        Side::Buy => price_ticks <= bound_ticks,
        Side::Sell => price_ticks >= bound_ticks,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::OrderIndex;

    #[test]
    fn id_zero_is_never_found() {
        let mut index = OrderIndex::default();
        assert_eq!((index.get(0), index.remove(0)), (None, None));
        assert!(index.insert(1, 7));
        assert_eq!(
            (index.get(0), index.remove(0), index.get(1)),
            (None, None, Some(7))
        );
    }

    proptest! {
        /// The index agrees with a BTreeMap through inserts, removes and growth, with ids dense enough to collide.
        #[test]
        fn order_index_matches_a_btree_map(ops in proptest::collection::vec((0..3u8, 1..3_000u64), 1..4_000)) {
            let mut index = OrderIndex::default();
            let mut model = BTreeMap::new();
            for (op, id) in ops {
                match op {
                    0 => prop_assert_eq!(index.insert(id, id as u32), model.insert(id, id as u32).is_none()),
                    1 => prop_assert_eq!(index.remove(id), model.remove(&id)),
                    _ => prop_assert_eq!(index.get(id), model.get(&id).copied()),
                }
                prop_assert_eq!(index.len(), model.len());
            }
            let mut entries: Vec<(u64, u32)> = index.entries().collect();
            entries.sort();
            prop_assert_eq!(entries, model.into_iter().collect::<Vec<_>>());
        }
    }
}
