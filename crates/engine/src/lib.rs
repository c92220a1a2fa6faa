//! The matching engine: pure and deterministic. A sequenced [`Command`] goes in, an ordered list of [`Event`]s comes
//! out. It owns every book, the order manager's ledger (pre-trade risk) and the expiry and stop indexes.
//!
//! It must never do I/O, read a clock, draw a random number or let a hash map's iteration order reach its output:
//! replaying the same commands yields the same events, byte for byte. Time arrives as data (the command's timestamp
//! and the `Time` command). Prices and quantities are integer ticks and lots; the decimal conversions at the FIX edge
//! are in [`instrument`]. Ids derive from sequence numbers: an order's id is the sequence number of the command
//! that created it, a trade's id is (sequence number, rank within the command), and an ExecID is the sequence number
//! and the event's index in the command's output.
//!
//! Invariants are checked in release builds too: after every command the touched book is not crossed and the
//! incoming order's quantity is accounted for; every [`AUDIT_INTERVAL_COMMANDS`] commands (every command in
//! tests that ask for it) a full audit walks every book, order, reservation and index.

pub mod accounts;
mod audit;
pub mod book;
mod exec;
pub mod instrument;
mod orders;
pub mod text;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};

pub use accounts::{AccountProfile, Balance, Funding, StpMode};
pub use instrument::InstrumentSpec;
pub use types::*;

use accounts::Accounts;
use book::{Book, OrderPool};

/// How many commands pass between two full audits in release builds.
pub const AUDIT_INTERVAL_COMMANDS: u64 = 1 << 16;
/// The most instruments one engine holds.
pub const INSTRUMENTS_MAX: usize = 4_096;

/// Everything the engine is built from.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub instruments: Vec<InstrumentSpec>,
    pub accounts: BTreeMap<AccountId, AccountProfile>,
    /// The settings of any account not listed in `accounts`.
    pub default_account: AccountProfile,
}

/// What a stop order becomes when triggered, kept while it waits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingStop {
    pub kind: OrderKind,
    pub tif: TimeInForce,
    pub stp_mode: StpMode,
}

/// The engine's mutable state, apart from the instrument list.
pub(crate) struct Core {
    pub books: Vec<Book>,
    pub pool: OrderPool,
    pub accounts: Accounts,
    /// Day and GTD orders (resting or pending) by expiry time, then id.
    pub expiries: BTreeSet<(i64, OrderId)>,
    pub pending: BTreeMap<OrderId, PendingStop>,
    /// Quantity ledger: accepted = traded + canceled (and expired) + live leaves.
    pub lots_accepted: i64,
    pub lots_traded: i64,
    pub lots_canceled: i64,
}

/// A resting order as seen from outside (for tests, market data snapshots and the reference-book comparisons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub order_id: OrderId,
    pub account: AccountId,
    pub price_ticks: i64,
    pub visible_lots: i64,
    pub hidden_lots: i64,
    pub cum_lots: i64,
    pub qty_lots: i64,
}

pub struct Engine {
    instruments: Vec<InstrumentSpec>,
    symbols: BTreeMap<String, InstrumentId>,
    core: Core,
    last_seq: Seq,
    audit_interval_commands: u64,
    /// Commands left before the next full audit (a countdown: no division on the hot path).
    audit_countdown: u64,
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineConfigError {
    #[error("{count} instruments configured; the most is {INSTRUMENTS_MAX}")]
    TooManyInstruments { count: usize },
    #[error("instrument {symbol} is configured twice")]
    DuplicateSymbol { symbol: String },
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, EngineConfigError> {
        if config.instruments.len() > INSTRUMENTS_MAX {
            return Err(EngineConfigError::TooManyInstruments {
                count: config.instruments.len(),
            });
        }
        let mut symbols = BTreeMap::new();
        for (index, spec) in config.instruments.iter().enumerate() {
            if symbols
                .insert(spec.symbol.clone(), InstrumentId(index as u32))
                .is_some()
            {
                return Err(EngineConfigError::DuplicateSymbol {
                    symbol: spec.symbol.clone(),
                });
            }
        }
        let books = config
            .instruments
            .iter()
            .map(|spec| Book::new(spec.status))
            .collect();
        let core = Core {
            books,
            pool: OrderPool::default(),
            accounts: Accounts::new(config.accounts, config.default_account),
            expiries: BTreeSet::new(),
            pending: BTreeMap::new(),
            lots_accepted: 0,
            lots_traded: 0,
            lots_canceled: 0,
        };
        Ok(Engine {
            instruments: config.instruments,
            symbols,
            core,
            last_seq: 0,
            audit_interval_commands: AUDIT_INTERVAL_COMMANDS,
            audit_countdown: AUDIT_INTERVAL_COMMANDS,
        })
    }

    /// Runs the full audit every `commands` commands (1: after every command, as the tests do).
    pub fn set_audit_interval(&mut self, commands: u64) {
        self.audit_interval_commands = commands.max(1);
        self.audit_countdown = self.audit_interval_commands;
    }

    /// Applies one sequenced command, appending its events to `out`.
    ///
    /// Panics if the sequence number does not increase or an invariant breaks: either is a bug, and a venue with a
    /// broken book must stop rather than trade on.
    pub fn apply(&mut self, command: &Sequenced, out: &mut Vec<Event>) {
        assert!(
            command.seq > self.last_seq,
            "sequence {} after {}",
            command.seq,
            self.last_seq
        );
        self.last_seq = command.seq;
        let start = out.len();
        let mut new_live_lots = None;
        match command.command {
            Command::New(order) => {
                new_live_lots = self.on_new(command.seq, command.ts_ns, &order, out)
            }
            Command::Cancel { order_id, account } => self.on_cancel(order_id, account, out),
            Command::Replace(replace) => self.on_replace(command.seq, &replace, out),
            Command::MassCancel(scope) => self.on_mass_cancel(scope, out),
            Command::SetStatus { instrument, status } => self.on_status(instrument, status, out),
            Command::Time { now_ns } => self.on_time(now_ns, out),
        }
        self.check_after_command(&command.command, &out[start..], new_live_lots);
        self.audit_countdown -= 1;
        if self.audit_countdown == 0 {
            self.audit_countdown = self.audit_interval_commands;
            self.audit();
        }
    }

    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    pub fn instruments(&self) -> &[InstrumentSpec] {
        &self.instruments
    }

    pub fn instrument_id(&self, symbol: &str) -> Option<InstrumentId> {
        self.symbols.get(symbol).copied()
    }

    pub fn status(&self, instrument: InstrumentId) -> Option<TradingStatus> {
        self.core
            .books
            .get(instrument.0 as usize)
            .map(|book| book.status)
    }

    pub fn last_trade_ticks(&self, instrument: InstrumentId) -> Option<i64> {
        self.core
            .books
            .get(instrument.0 as usize)
            .and_then(|book| book.last_trade_ticks)
    }

    /// The best price and its visible quantity on one side.
    pub fn best(&self, instrument: InstrumentId, side: Side) -> Option<(i64, i64)> {
        let book = self.core.books.get(instrument.0 as usize)?;
        book.ladder(side)
            .best()
            .map(|level| (level.price_ticks, level.total_lots))
    }

    /// Orders resting in books (pending stops excluded).
    pub fn resting_orders(&self) -> usize {
        self.core.pool.len() - self.core.pending.len()
    }

    pub fn pending_stops(&self) -> usize {
        self.core.pending.len()
    }

    /// One side of a book, best level first, each level's orders in time priority.
    pub fn book_side(&self, instrument: InstrumentId, side: Side) -> Vec<RestingOrder> {
        let Some(book) = self.core.books.get(instrument.0 as usize) else {
            return Vec::new();
        };
        let mut orders = Vec::new();
        for level in book.ladder(side).levels.iter().rev() {
            let mut slot = level.head;
            while slot != book::NIL {
                let order = self.core.pool.get(slot);
                orders.push(RestingOrder {
                    order_id: order.id,
                    account: order.account,
                    price_ticks: order.price_ticks,
                    visible_lots: order.visible_lots,
                    hidden_lots: order.hidden_lots,
                    cum_lots: order.cum_lots,
                    qty_lots: order.qty_lots,
                });
                slot = order.next;
            }
        }
        orders
    }

    /// An account's balance of one asset (pre-funded accounts), if it has one.
    pub fn balance(&self, account: AccountId, asset: Asset) -> Option<Balance> {
        let state = self
            .core
            .accounts
            .states()
            .iter()
            .find(|state| state.id == account)?;
        state.balances.get(&asset).copied()
    }

    /// A hash of the whole book state (every book side in priority order, pending stops, expiries), for the
    /// determinism checks: equal states give equal hashes on every run and machine.
    pub fn state_hash(&self) -> u64 {
        let mut hash = Fnv1a::new();
        for (index, book) in self.core.books.iter().enumerate() {
            let instrument = InstrumentId(index as u32);
            hash.write_i64(book.last_trade_ticks.unwrap_or(-1));
            for side in [Side::Buy, Side::Sell] {
                for order in self.book_side(instrument, side) {
                    for value in [
                        order.order_id.0 as i64,
                        order.price_ticks,
                        order.visible_lots,
                        order.hidden_lots,
                    ] {
                        hash.write_i64(value);
                    }
                    hash.write_i64(order.cum_lots);
                }
            }
        }
        for &id in self.core.pending.keys() {
            hash.write_i64(id.0 as i64);
        }
        for &(expire_ns, id) in &self.core.expiries {
            hash.write_i64(expire_ns);
            hash.write_i64(id.0 as i64);
        }
        hash.finish()
    }
}

/// FNV-1a, 64 bits: small, fixed and the same everywhere.
pub struct Fnv1a(u64);

impl Fnv1a {
    pub fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn write_i64(&mut self, value: i64) {
        self.write(&value.to_le_bytes());
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a::new()
    }
}
