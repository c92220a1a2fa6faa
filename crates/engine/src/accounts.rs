//! The order manager's ledger: per account, either pre-funded balances (a buy reserves price x quantity of the
//! currency, a sell reserves the asset; released on cancel and expiry, settled on fill for both parties) or a credit
//! limit on open plus traded notional, per currency. Also the open-order count and the self-trade settings.

use std::collections::BTreeMap;

use super::book::IdMap;
use super::instrument::InstrumentSpec;
use super::types::{AccountId, Asset, Event, InstrumentId, RejectReason, Side};

/// The most accounts the engine tracks; orders of further accounts are refused.
pub const ACCOUNTS_MAX: usize = 1 << 20;
/// The most currencies a credit account tracks.
pub const CURRENCIES_MAX: usize = 64;

/// What self-trade prevention does when an incoming order meets a resting order of the same account or STP group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StpMode {
    CancelIncoming,
    CancelResting,
    CancelBoth,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Funding {
    /// Open plus traded notional may not exceed `limit_cash` in any one currency.
    Credit { limit_cash: i64 },
    /// Balances held at the venue, in cash units for currencies and lots for instruments.
    Prefunded { balances: Vec<(Asset, i64)> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProfile {
    pub funding: Funding,
    pub max_open_orders: u32,
    pub stp_mode: StpMode,
    /// Accounts in one group are one party for self-trade prevention; `None` means the account alone.
    pub stp_group: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub total: i64,
    pub reserved: i64,
}

/// One account's live state.
#[derive(Clone, Debug)]
pub(crate) struct AccountState {
    pub id: AccountId,
    pub profile: AccountProfile,
    pub open_orders: u32,
    /// Credit accounts: reservations of open orders, per currency.
    pub credit_open_cash: Vec<i64>,
    /// Credit accounts: notional traded, per currency.
    pub credit_traded_cash: Vec<i64>,
    /// Pre-funded accounts.
    pub balances: BTreeMap<Asset, Balance>,
}

impl AccountState {
    fn new(id: AccountId, profile: AccountProfile) -> AccountState {
        let balances = match &profile.funding {
            Funding::Prefunded { balances } => balances
                .iter()
                .map(|&(asset, total)| (asset, Balance { total, reserved: 0 }))
                .collect(),
            Funding::Credit { .. } => BTreeMap::new(),
        };
        AccountState {
            id,
            profile,
            open_orders: 0,
            credit_open_cash: Vec::new(),
            credit_traded_cash: Vec::new(),
            balances,
        }
    }

    /// The STP party: the configured group, else the account itself (groups and accounts share one number space
    /// offset by 2^32 so that they never collide).
    pub fn stp_party(&self) -> u64 {
        match self.profile.stp_group {
            Some(group) => (1 << 32) | u64::from(group),
            None => u64::from(self.id.0),
        }
    }
}

/// What an order reserves for each lot of its leaves quantity, and where.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reservation {
    pub instrument: InstrumentId,
    pub currency: u32,
    pub side: Side,
    pub reserve_ticks: i64,
}

pub(crate) struct Accounts {
    states: Vec<AccountState>,
    index: IdMap<AccountId, u32>,
    configured: BTreeMap<AccountId, AccountProfile>,
    default_profile: AccountProfile,
    /// The account looked up last and its slot: consecutive orders often come from one account.
    last: Option<(AccountId, u32)>,
}

impl Accounts {
    pub fn new(
        configured: BTreeMap<AccountId, AccountProfile>,
        default_profile: AccountProfile,
    ) -> Accounts {
        Accounts {
            states: Vec::new(),
            index: IdMap::default(),
            configured,
            default_profile,
            last: None,
        }
    }

    /// The account's slot, created from its configured profile (or the default one) on first use.
    pub fn slot_for(&mut self, id: AccountId) -> Result<u32, RejectReason> {
        if let Some((last_id, slot)) = self.last {
            if last_id == id {
                return Ok(slot);
            }
        }
        if let Some(&slot) = self.index.get(&id) {
            self.last = Some((id, slot));
            return Ok(slot);
        }
        if self.states.len() >= ACCOUNTS_MAX {
            return Err(RejectReason::UnknownAccount);
        }
        let profile = self
            .configured
            .get(&id)
            .unwrap_or(&self.default_profile)
            .clone();
        self.states.push(AccountState::new(id, profile));
        let slot = (self.states.len() - 1) as u32;
        self.index.insert(id, slot);
        Ok(slot)
    }

    pub fn get(&self, slot: u32) -> &AccountState {
        &self.states[slot as usize]
    }

    pub fn states(&self) -> &[AccountState] {
        &self.states
    }

    /// Checks the open-order limit and reserves funds for `lots`; on refusal nothing changes.
    pub fn admit(
        &mut self,
        slot: u32,
        spec: &InstrumentSpec,
        reservation: Reservation,
        lots: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let state = &self.states[slot as usize];
        if state.open_orders >= state.profile.max_open_orders {
            return Err(RejectReason::TooManyOpenOrders);
        }
        self.reserve(slot, spec, reservation, lots, out)?;
        self.states[slot as usize].open_orders += 1;
        Ok(())
    }

    /// The order left the book: its open-order count is returned (its reservation is released separately).
    pub fn close_order(&mut self, slot: u32) {
        let state = &mut self.states[slot as usize];
        assert!(
            state.open_orders > 0,
            "account {} closes more orders than it opened",
            state.id.0
        );
        state.open_orders -= 1;
    }

    /// Reserves funds for `lots` more lots of leaves quantity (a replace that grows an order also comes here).
    pub fn reserve(
        &mut self,
        slot: u32,
        spec: &InstrumentSpec,
        reservation: Reservation,
        lots: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let state = &mut self.states[slot as usize];
        match state.profile.funding {
            Funding::Credit { limit_cash } => {
                let amount = spec.notional_cash(reservation.reserve_ticks, lots);
                let currency = reservation.currency as usize;
                if currency >= CURRENCIES_MAX {
                    return Err(RejectReason::CreditLimit);
                }
                grow_to(&mut state.credit_open_cash, currency);
                grow_to(&mut state.credit_traded_cash, currency);
                let used = state.credit_open_cash[currency]
                    .saturating_add(state.credit_traded_cash[currency]);
                if used.saturating_add(amount) > limit_cash {
                    return Err(RejectReason::CreditLimit);
                }
                state.credit_open_cash[currency] += amount;
            }
            Funding::Prefunded { .. } => {
                let amount = prefunded_amount(spec, reservation, lots);
                let asset = reserved_asset(reservation);
                let balance = state.balances.entry(asset).or_default();
                if balance.total - balance.reserved < amount {
                    return Err(RejectReason::InsufficientFunds);
                }
                balance.reserved += amount;
                out.push(Event::Balance {
                    account: state.id,
                    asset,
                    total: balance.total,
                    reserved: balance.reserved,
                });
            }
        }
        Ok(())
    }

    /// Releases the reservation of `lots` lots that will never trade (cancel, expiry, replace down).
    pub fn release(
        &mut self,
        slot: u32,
        spec: &InstrumentSpec,
        reservation: Reservation,
        lots: i64,
        out: &mut Vec<Event>,
    ) {
        if lots == 0 {
            return;
        }
        let state = &mut self.states[slot as usize];
        match state.profile.funding {
            Funding::Credit { .. } => {
                let amount = spec.notional_cash(reservation.reserve_ticks, lots);
                let open = &mut state.credit_open_cash[reservation.currency as usize];
                *open -= amount;
                assert!(
                    *open >= 0,
                    "account {} credit reservation went negative",
                    state.id.0
                );
            }
            Funding::Prefunded { .. } => {
                let amount = prefunded_amount(spec, reservation, lots);
                let asset = reserved_asset(reservation);
                let balance = state.balances.entry(asset).or_default();
                balance.reserved -= amount;
                assert!(
                    balance.reserved >= 0,
                    "account {} reservation went negative",
                    state.id.0
                );
                out.push(Event::Balance {
                    account: state.id,
                    asset,
                    total: balance.total,
                    reserved: balance.reserved,
                });
            }
        }
    }

    /// Settles one side of fills of `qty_lots` worth `value` cash units in all: the reservation of those lots is
    /// consumed and the balances move.
    pub fn settle(
        &mut self,
        slot: u32,
        spec: &InstrumentSpec,
        reservation: Reservation,
        value: i64,
        qty_lots: i64,
        out: &mut Vec<Event>,
    ) {
        let state = &mut self.states[slot as usize];
        match state.profile.funding {
            Funding::Credit { .. } => {
                let reserved = spec.notional_cash(reservation.reserve_ticks, qty_lots);
                let currency = reservation.currency as usize;
                state.credit_open_cash[currency] -= reserved;
                assert!(
                    state.credit_open_cash[currency] >= 0,
                    "account {} credit went negative",
                    state.id.0
                );
                state.credit_traded_cash[currency] =
                    state.credit_traded_cash[currency].saturating_add(value);
            }
            Funding::Prefunded { .. } => {
                let reserved = prefunded_amount(spec, reservation, qty_lots);
                settle_prefunded(state, reservation, reserved, value, qty_lots, out);
            }
        }
    }
}

fn settle_prefunded(
    state: &mut AccountState,
    reservation: Reservation,
    reserved: i64,
    value: i64,
    qty_lots: i64,
    out: &mut Vec<Event>,
) {
    let cash = Asset::Cash(reservation.currency);
    let asset = Asset::Instrument(reservation.instrument);
    let (cash_delta, asset_delta) = match reservation.side {
        Side::Buy => (-value, qty_lots),
        Side::Sell => (value, -qty_lots),
    };
    for (key, delta) in [(cash, cash_delta), (asset, asset_delta)] {
        let balance = state.balances.entry(key).or_default();
        balance.total += delta;
        if key == reserved_asset(reservation) {
            balance.reserved -= reserved;
        }
        assert!(
            balance.reserved >= 0 && balance.total >= balance.reserved,
            "account {} overdrawn",
            state.id.0
        );
        out.push(Event::Balance {
            account: state.id,
            asset: key,
            total: balance.total,
            reserved: balance.reserved,
        });
    }
}

/// A buy reserves cash; a sell reserves the asset.
fn reserved_asset(reservation: Reservation) -> Asset {
    match reservation.side {
        Side::Buy => Asset::Cash(reservation.currency),
        Side::Sell => Asset::Instrument(reservation.instrument),
    }
}

/// A pre-funded buy reserves the cash value at its reservation price; a pre-funded sell reserves the lots.
fn prefunded_amount(spec: &InstrumentSpec, reservation: Reservation, lots: i64) -> i64 {
    match reservation.side {
        Side::Buy => spec.notional_cash(reservation.reserve_ticks, lots),
        Side::Sell => lots,
    }
}

fn grow_to(values: &mut Vec<i64>, index: usize) {
    if values.len() <= index {
        values.resize(index + 1, 0);
    }
}

impl Accounts {
    /// What an order's reservation of `lots` holds: the asset and the amount (credit accounts count cash).
    pub fn held_by(
        &self,
        slot: u32,
        spec: &InstrumentSpec,
        reservation: Reservation,
        lots: i64,
    ) -> (Asset, i64) {
        match self.states[slot as usize].profile.funding {
            Funding::Prefunded { .. } => (
                reserved_asset(reservation),
                prefunded_amount(spec, reservation, lots),
            ),
            Funding::Credit { .. } => (
                Asset::Cash(reservation.currency),
                spec.notional_cash(reservation.reserve_ticks, lots),
            ),
        }
    }
}
