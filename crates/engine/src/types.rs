//! The engine's whole vocabulary: sequenced commands in, events out. Prices are integer ticks and quantities integer
//! lots; every id that leaves the engine derives from a command's sequence number.

use std::fmt;

/// A global sequence number stamped by the sequencer. The first command of a venue is 1.
pub type Seq = u64;

/// The id of an order: the sequence number of the command that created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u64);

/// The index of an instrument in the configured list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId(pub u32);

/// An account, as interned by the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

/// The FIX session an order arrived on (for cancel-on-disconnect and mass cancel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u32);

/// A trade's id: the sequence number of the command that caused it and its rank among that command's trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchId {
    pub seq: Seq,
    pub n: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// What an order does when it meets the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Limit {
        price_ticks: i64,
    },
    /// Trades at any price inside the collar; an unfilled rest is canceled.
    Market,
    /// Becomes a market order once the last trade price reaches `stop_ticks`.
    Stop {
        stop_ticks: i64,
    },
    /// Becomes a limit order at `price_ticks` once the last trade price reaches `stop_ticks`.
    StopLimit {
        stop_ticks: i64,
        price_ticks: i64,
    },
}

impl OrderKind {
    /// The limit price, if the order (once live) has one.
    pub fn limit_ticks(self) -> Option<i64> {
        match self {
            OrderKind::Limit { price_ticks } | OrderKind::StopLimit { price_ticks, .. } => {
                Some(price_ticks)
            }
            OrderKind::Market | OrderKind::Stop { .. } => None,
        }
    }

    pub fn stop_ticks(self) -> Option<i64> {
        match self {
            OrderKind::Stop { stop_ticks } | OrderKind::StopLimit { stop_ticks, .. } => {
                Some(stop_ticks)
            }
            OrderKind::Limit { .. } | OrderKind::Market => None,
        }
    }
}

/// When a GTD order expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// ExpireTime (126): nanoseconds since the Unix epoch.
    AtNs(i64),
    /// ExpireDate (432): at the instrument's close on this day (days since the Unix epoch).
    OnDate { days_since_epoch: i32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Expires at the instrument's configured close.
    Day,
    Gtc,
    Ioc,
    Fok,
    Gtd(Expiry),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub instrument: InstrumentId,
    pub account: AccountId,
    pub session: SessionId,
    pub side: Side,
    pub kind: OrderKind,
    pub qty_lots: i64,
    pub tif: TimeInForce,
    /// ExecInst 6: refused if it would take liquidity.
    pub post_only: bool,
    /// MaxFloor (111) in lots; 0 means fully visible.
    pub display_lots: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replace {
    pub order_id: OrderId,
    pub account: AccountId,
    /// A new limit price; `None` keeps the current one.
    pub price_ticks: Option<i64>,
    /// The new total order quantity (OrderQty of the replace request).
    pub qty_lots: i64,
}

/// Which live orders a mass cancel ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MassCancelScope {
    Instrument(InstrumentId),
    Account(AccountId),
    /// Every order that arrived on the session (a client's OrderMassCancelRequest 530=7).
    Session(SessionId),
    /// The session's orders on one instrument (a client's OrderMassCancelRequest 530=1).
    SessionInstrument(SessionId, InstrumentId),
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradingStatus {
    Open,
    /// No matching, no new orders; cancels allowed.
    Halted,
    /// Cancels only (no new orders, no replaces).
    CancelOnly,
    /// Only orders that rest without taking liquidity.
    PostOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    New(NewOrder),
    Cancel {
        order_id: OrderId,
        account: AccountId,
    },
    Replace(Replace),
    MassCancel(MassCancelScope),
    SetStatus {
        instrument: InstrumentId,
        status: TradingStatus,
    },
    /// "Time is now T": drives Day and GTD expiry.
    Time {
        now_ns: i64,
    },
}

/// A command as the sequencer hands it to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sequenced {
    pub seq: Seq,
    pub ts_ns: i64,
    pub command: Command,
}

/// Why a new order was refused. Each maps to OrdRejReason (103) and a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    UnknownInstrument,
    Halted,
    CancelOnly,
    PostOnlyStatus,
    QtyNotPositive,
    QtyBelowMin,
    QtyAboveMax,
    PriceNotPositive,
    PriceOffTick,
    QtyOffLot,
    PriceOutsideCollar,
    NotionalAboveMax,
    InsufficientFunds,
    CreditLimit,
    TooManyOpenOrders,
    PostOnlyWouldTake,
    PostOnlyNotLimit,
    DisplayInvalid,
    IcebergNotLimit,
    ExpiredOnArrival,
    StopNotAllowed,
    BookFull,
    UnknownAccount,
}

impl RejectReason {
    /// OrdRejReason (103) in FIX 4.4.
    pub fn ord_rej_reason(self) -> u32 {
        use RejectReason::*;
        match self {
            UnknownInstrument => 1,
            Halted | CancelOnly => 2,
            NotionalAboveMax | InsufficientFunds | CreditLimit | TooManyOpenOrders | BookFull => 3,
            ExpiredOnArrival => 4,
            UnknownAccount => 15,
            QtyNotPositive | QtyBelowMin | QtyAboveMax | QtyOffLot | DisplayInvalid => 13,
            PostOnlyNotLimit | IcebergNotLimit | StopNotAllowed => 11,
            PostOnlyStatus | PriceNotPositive | PriceOffTick | PriceOutsideCollar
            | PostOnlyWouldTake => 99,
        }
    }

    /// The Text (58) that goes with the reject.
    pub fn text(self) -> &'static str {
        use RejectReason::*;
        match self {
            UnknownInstrument => "unknown instrument",
            Halted => "instrument halted",
            CancelOnly => "instrument is cancel-only",
            PostOnlyStatus => "instrument accepts only post-only limit orders",
            QtyNotPositive => "quantity must be positive",
            QtyBelowMin => "quantity below the instrument minimum",
            QtyAboveMax => "quantity above the instrument maximum",
            PriceNotPositive => "price must be positive",
            PriceOffTick => "price is not a multiple of the tick size",
            QtyOffLot => "quantity is not a multiple of the lot size",
            PriceOutsideCollar => "price outside the collar",
            NotionalAboveMax => "notional above the instrument maximum",
            InsufficientFunds => "insufficient funds",
            CreditLimit => "credit limit exceeded",
            TooManyOpenOrders => "too many open orders for the account",
            PostOnlyWouldTake => "post-only order would take liquidity",
            PostOnlyNotLimit => "post-only requires a limit order",
            DisplayInvalid => "MaxFloor must be positive and at most the order quantity",
            IcebergNotLimit => "iceberg requires a resting limit order",
            ExpiredOnArrival => "expire time already passed",
            StopNotAllowed => "stop orders cannot be IOC, FOK or post-only",
            BookFull => "order book is full",
            UnknownAccount => "no room for another account",
        }
    }

    fn slug(self) -> &'static str {
        use RejectReason::*;
        match self {
            UnknownInstrument => "unknown-instrument",
            Halted => "halted",
            CancelOnly => "cancel-only",
            PostOnlyStatus => "post-only-status",
            QtyNotPositive => "qty-not-positive",
            QtyBelowMin => "qty-below-min",
            QtyAboveMax => "qty-above-max",
            PriceNotPositive => "price-not-positive",
            PriceOffTick => "price-off-tick",
            QtyOffLot => "qty-off-lot",
            PriceOutsideCollar => "price-outside-collar",
            NotionalAboveMax => "notional-above-max",
            InsufficientFunds => "insufficient-funds",
            CreditLimit => "credit-limit",
            TooManyOpenOrders => "too-many-open-orders",
            PostOnlyWouldTake => "post-only-would-take",
            PostOnlyNotLimit => "post-only-not-limit",
            DisplayInvalid => "display-invalid",
            IcebergNotLimit => "iceberg-not-limit",
            ExpiredOnArrival => "expired-on-arrival",
            StopNotAllowed => "stop-not-allowed",
            BookFull => "book-full",
            UnknownAccount => "unknown-account",
        }
    }
}

/// Why a cancel or replace request was refused; maps to CxlRejReason (102).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelRejectReason {
    UnknownOrder,
    NotOwner,
    Halted,
    CancelOnly,
    NotReplaceable,
    Risk(RejectReason),
}

impl CancelRejectReason {
    /// CxlRejReason (102): 1 unknown order, 2 broker/exchange option, 99 other.
    pub fn cxl_rej_reason(self) -> u32 {
        match self {
            CancelRejectReason::UnknownOrder | CancelRejectReason::NotOwner => 1,
            CancelRejectReason::Halted | CancelRejectReason::CancelOnly => 2,
            CancelRejectReason::NotReplaceable | CancelRejectReason::Risk(_) => 99,
        }
    }
}

/// Why an order (or its unfilled rest) left the book without a request of its owner, or with one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    Requested,
    MassCancel,
    /// The unfilled rest of an IOC or market order.
    Unfilled,
    /// A FOK order that could not be filled at once in full.
    FillOrKill,
    /// Self-trade prevention canceled the incoming order.
    SelfTradeIncoming,
    /// Self-trade prevention canceled the resting order.
    SelfTradeResting,
    /// A replace set the quantity at or below the executed quantity.
    ReplacedBelowExecuted,
    /// A triggered stop order met a status or risk rule.
    TriggerRefused(RejectReason),
}

/// An order's status after an event, as its ExecutionReport states it (OrdStatus 39). The engine is the one
/// writer of it: the gateway copies it into its reports and never works it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    /// The status of a live order that has executed `cum_lots`: new, or partly filled.
    pub fn live(cum_lots: i64) -> OrderStatus {
        if cum_lots > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        }
    }

    /// True once the order can no longer trade.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
}

/// A sum of price_ticks x qty_lots over an order's fills, exact: 96 bits, enough since prices and quantities are at
/// most `TICKS_LOTS_MAX` (10^12) each, so a sum stays below 10^24 < 2^80. Packed to 12 bytes (alignment 4) so that
/// the events carrying it stay small (a trade event with two of them fits in 120 bytes; an `i128` made it 144 and
/// every event 16-byte aligned, measurably slower: BENCHMARKS.md, "Order state on engine events").
#[repr(C, packed(4))]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Notional {
    lo: u64,
    hi: u32,
}

impl Notional {
    pub const ZERO: Notional = Notional { lo: 0, hi: 0 };

    /// The sum.
    pub fn get(self) -> i128 {
        let (lo, hi) = (self.lo, self.hi);
        (i128::from(hi) << 64) | i128::from(lo)
    }

    /// Adds one fill of `qty_lots` at `price_ticks` (both positive, at most `TICKS_LOTS_MAX`).
    pub fn add(&mut self, price_ticks: i64, qty_lots: i64) {
        let sum = self.get() + i128::from(price_ticks) * i128::from(qty_lots);
        let hi = u32::try_from(sum >> 64).expect("a notional stays within 96 bits");
        *self = Notional { lo: sum as u64, hi };
    }
}

impl fmt::Debug for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// What an order's ExecutionReport needs after an event: OrdStatus, CumQty and LeavesQty in lots, and AvgPx exactly,
/// as the sum over its fills of price (ticks) x quantity (lots): AvgPx = `notional` x tick size / `cum_lots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderState {
    pub status: OrderStatus,
    pub cum_lots: i64,
    pub leaves_lots: i64,
    /// The sum of price_ticks x qty_lots over the order's fills (0 while nothing executed).
    pub notional: Notional,
}

impl OrderState {
    /// An order that never executed and has `leaves_lots` live.
    pub fn unfilled(status: OrderStatus, leaves_lots: i64) -> OrderState {
        OrderState {
            status,
            cum_lots: 0,
            leaves_lots,
            notional: Notional::ZERO,
        }
    }
}

/// One side of a trade, after the trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub order_id: OrderId,
    pub account: AccountId,
    pub cum_lots: i64,
    pub leaves_lots: i64,
    /// The order's sum of price_ticks x qty_lots over its fills, this one included (see [`OrderState`]).
    pub notional: Notional,
}

impl Fill {
    /// The order's status after this fill: filled when nothing is left, else partly filled. (Worked out here
    /// rather than carried, which keeps a trade event within 120 bytes.)
    pub fn status(&self) -> OrderStatus {
        if self.leaves_lots == 0 {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        }
    }

    /// The order's state after this fill.
    pub fn state(&self) -> OrderState {
        OrderState {
            status: self.status(),
            cum_lots: self.cum_lots,
            leaves_lots: self.leaves_lots,
            notional: self.notional,
        }
    }
}

/// A balance of one asset (a currency in cash units, or an instrument in lots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Asset {
    /// A currency, by its index in the configured currency list; amounts in cash units.
    Cash(u32),
    /// The instrument's own asset; amounts in lots.
    Instrument(InstrumentId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Accepted {
        order_id: OrderId,
        instrument: InstrumentId,
        side: Side,
        kind: OrderKind,
        qty_lots: i64,
        /// New, nothing executed, all of it left.
        state: OrderState,
    },
    Rejected {
        order_id: OrderId,
        reason: RejectReason,
        /// Rejected, nothing executed, nothing left.
        state: OrderState,
    },
    CancelRejected {
        order_id: OrderId,
        reason: CancelRejectReason,
    },
    Trade {
        match_id: MatchId,
        instrument: InstrumentId,
        price_ticks: i64,
        qty_lots: i64,
        aggressor: Side,
        buy: Fill,
        sell: Fill,
    },
    Replaced {
        order_id: OrderId,
        price_ticks: i64,
        qty_lots: i64,
        leaves_lots: i64,
        priority_kept: bool,
        /// The order's state after the replace (new or partly filled).
        state: OrderState,
    },
    Canceled {
        order_id: OrderId,
        canceled_lots: i64,
        reason: CancelReason,
        /// Canceled, nothing left; a replace at or below the executed quantity leaves an order that executed
        /// anything filled.
        state: OrderState,
    },
    Expired {
        order_id: OrderId,
        expired_lots: i64,
        /// Expired, nothing left.
        state: OrderState,
    },
    Triggered {
        order_id: OrderId,
        /// New, nothing executed yet.
        state: OrderState,
    },
    /// An iceberg's visible slice was refilled from its hidden rest; it went to the back of its level.
    Replenished {
        order_id: OrderId,
        visible_lots: i64,
        hidden_lots: i64,
        /// The order's state (partly filled) with its new leaves.
        state: OrderState,
    },
    /// The visible quantity at a price level after the command (0: the level is gone).
    Level {
        instrument: InstrumentId,
        side: Side,
        price_ticks: i64,
        qty_lots: i64,
    },
    Status {
        instrument: InstrumentId,
        status: TradingStatus,
    },
    Balance {
        account: AccountId,
        asset: Asset,
        total: i64,
        reserved: i64,
    },
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        })
    }
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderKind::Limit { price_ticks } => write!(f, "limit {price_ticks}"),
            OrderKind::Market => f.write_str("market"),
            OrderKind::Stop { stop_ticks } => write!(f, "stop {stop_ticks}"),
            OrderKind::StopLimit {
                stop_ticks,
                price_ticks,
            } => write!(f, "stop-limit {stop_ticks} {price_ticks}"),
        }
    }
}

/// The scope as the scenario text writes it, with the instrument by index (`instr=N`).
impl fmt::Display for MassCancelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MassCancelScope::All => f.write_str("all"),
            MassCancelScope::Instrument(instrument) => write!(f, "instr={}", instrument.0),
            MassCancelScope::Account(account) => write!(f, "acct={}", account.0),
            MassCancelScope::Session(session) => write!(f, "session={}", session.0),
            MassCancelScope::SessionInstrument(session, instrument) => {
                write!(f, "session={} instr={}", session.0, instrument.0)
            }
        }
    }
}

impl fmt::Display for TradingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TradingStatus::Open => "open",
            TradingStatus::Halted => "halted",
            TradingStatus::CancelOnly => "cancel-only",
            TradingStatus::PostOnly => "post-only",
        })
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl fmt::Display for CancelRejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelRejectReason::UnknownOrder => f.write_str("unknown-order"),
            CancelRejectReason::NotOwner => f.write_str("not-owner"),
            CancelRejectReason::Halted => f.write_str("halted"),
            CancelRejectReason::CancelOnly => f.write_str("cancel-only"),
            CancelRejectReason::NotReplaceable => f.write_str("not-replaceable"),
            CancelRejectReason::Risk(reason) => write!(f, "{reason}"),
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::Requested => f.write_str("requested"),
            CancelReason::MassCancel => f.write_str("mass-cancel"),
            CancelReason::Unfilled => f.write_str("unfilled"),
            CancelReason::FillOrKill => f.write_str("fill-or-kill"),
            CancelReason::SelfTradeIncoming => f.write_str("stp-incoming"),
            CancelReason::SelfTradeResting => f.write_str("stp-resting"),
            CancelReason::ReplacedBelowExecuted => f.write_str("replaced-below-executed"),
            CancelReason::TriggerRefused(reason) => write!(f, "trigger-refused:{reason}"),
        }
    }
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}(acct={} cum={} leaves={})",
            self.order_id.0, self.account.0, self.cum_lots, self.leaves_lots
        )
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Cash(currency) => write!(f, "cash{currency}"),
            Asset::Instrument(instrument) => write!(f, "instr{}", instrument.0),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Accepted {
                order_id,
                instrument,
                side,
                kind,
                qty_lots,
                ..
            } => {
                write!(
                    f,
                    "accepted order={} instr={} {side} {qty_lots} {kind}",
                    order_id.0, instrument.0
                )
            }
            Event::Rejected {
                order_id, reason, ..
            } => {
                write!(f, "rejected order={} reason={reason}", order_id.0)
            }
            Event::CancelRejected { order_id, reason } => {
                write!(f, "cancel-rejected order={} reason={reason}", order_id.0)
            }
            Event::Trade {
                match_id,
                instrument,
                price_ticks,
                qty_lots,
                aggressor,
                buy,
                sell,
            } => write!(
                f,
                "trade match={}.{} instr={} px={price_ticks} qty={qty_lots} aggressor={aggressor} buy={buy} sell={sell}",
                match_id.seq, match_id.n, instrument.0
            ),
            Event::Replaced {
                order_id,
                price_ticks,
                qty_lots,
                leaves_lots,
                priority_kept,
                ..
            } => {
                let priority = if *priority_kept { "kept" } else { "lost" };
                write!(
                    f,
                    "replaced order={} px={price_ticks} qty={qty_lots} leaves={leaves_lots} priority={priority}",
                    order_id.0
                )
            }
            Event::Canceled {
                order_id,
                canceled_lots,
                reason,
                ..
            } => {
                write!(
                    f,
                    "canceled order={} lots={canceled_lots} reason={reason}",
                    order_id.0
                )
            }
            Event::Expired {
                order_id,
                expired_lots,
                ..
            } => write!(f, "expired order={} lots={expired_lots}", order_id.0),
            Event::Triggered { order_id, .. } => write!(f, "triggered order={}", order_id.0),
            Event::Replenished {
                order_id,
                visible_lots,
                hidden_lots,
                ..
            } => {
                write!(
                    f,
                    "replenished order={} visible={visible_lots} hidden={hidden_lots}",
                    order_id.0
                )
            }
            Event::Level {
                instrument,
                side,
                price_ticks,
                qty_lots,
            } => {
                write!(
                    f,
                    "level instr={} {side} {price_ticks} qty={qty_lots}",
                    instrument.0
                )
            }
            Event::Status { instrument, status } => {
                write!(f, "status instr={} {status}", instrument.0)
            }
            Event::Balance {
                account,
                asset,
                total,
                reserved,
            } => {
                write!(
                    f,
                    "balance acct={} {asset} total={total} reserved={reserved}",
                    account.0
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reasons_map_to_fix_codes_and_texts() {
        use RejectReason::*;
        let expected = [
            (UnknownInstrument, 1),
            (Halted, 2),
            (CancelOnly, 2),
            (NotionalAboveMax, 3),
            (InsufficientFunds, 3),
            (CreditLimit, 3),
            (TooManyOpenOrders, 3),
            (ExpiredOnArrival, 4),
            (QtyBelowMin, 13),
            (QtyOffLot, 13),
            (PostOnlyNotLimit, 11),
            (UnknownAccount, 15),
            (PriceOffTick, 99),
            (PriceOutsideCollar, 99),
            (PostOnlyWouldTake, 99),
        ];
        for (reason, code) in expected {
            assert_eq!(reason.ord_rej_reason(), code, "{reason}");
            assert!(!reason.text().is_empty());
        }
        assert_eq!(CancelRejectReason::UnknownOrder.cxl_rej_reason(), 1);
        assert_eq!(CancelRejectReason::Halted.cxl_rej_reason(), 2);
        assert_eq!(CancelRejectReason::Risk(CreditLimit).cxl_rej_reason(), 99);
    }

    #[test]
    fn a_notional_sums_exactly_past_64_bits_and_refuses_to_pass_96() {
        let max = crate::instrument::TICKS_LOTS_MAX;
        let mut sum = Notional::ZERO;
        for _ in 0..1_000 {
            sum.add(max, max);
        }
        assert_eq!(sum.get(), 1_000 * i128::from(max) * i128::from(max));
        assert!(sum.get() > i128::from(u64::MAX));
        sum.add(3, 7);
        assert_eq!(sum.get() % 1_000, 21);
        let mut near = Notional {
            lo: u64::MAX,
            hi: u32::MAX,
        };
        let overflow = std::panic::catch_unwind(move || near.add(1, 1));
        assert!(
            overflow.is_err(),
            "a sum past 96 bits is a broken invariant"
        );
    }
}
