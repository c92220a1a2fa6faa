//! `venue.toml`: instruments, accounts and the `[default_account]`, loaded with serde (unknown keys are errors) and
//! validated into the engine's integer terms. The bundled default (the project's `venue.toml`) is compiled in, so
//! a bare `fixvenue` needs no file. Later sections (listen addresses, data dir, metrics) are added as new optional
//! fields of [`VenueConfig`].
//!
//! This module reads text it is given; it opens no file except in [`VenueConfig::load`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use engine::instrument::{BASIS_POINTS, TICKS_LOTS_MAX, cash_per_tick_lot};
use engine::{
    AccountId, AccountProfile, Asset, EngineConfig, Funding, InstrumentId, InstrumentSpec, StpMode,
    TradingStatus,
};

/// The bundled configuration, `venue.toml` at the project root.
pub const BUNDLED_VENUE_TOML: &str = include_str!("../../../venue.toml");
/// The largest venue.toml accepted.
pub const VENUE_TOML_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// The most configured accounts.
pub const ACCOUNTS_CONFIGURED_MAX: usize = 100_000;

/// A decimal written in TOML as a string ("0.01") or an integer; floats are refused because they round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Dec, D::Error> {
        struct DecVisitor;
        impl Visitor<'_> for DecVisitor {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal as a string, such as \"0.01\", or an integer")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Dec, E> {
                Decimal::from_str(value)
                    .map(Dec)
                    .map_err(|_| E::custom(format!("not a decimal: {value:?}")))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(value)))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(value)))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Dec, E> {
                Err(E::custom(format!(
                    "write {value} as a string (\"{value}\"): floats round"
                )))
            }
        }
        deserializer.deserialize_any(DecVisitor)
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StatusConfig {
    Open,
    Halted,
    CancelOnly,
    PostOnly,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StpConfig {
    CancelIncoming,
    CancelResting,
    CancelBoth,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    pub symbol: String,
    pub currency: String,
    pub tick_size: Dec,
    pub lot_size: Dec,
    pub min_qty: Dec,
    pub max_qty: Dec,
    /// Largest price x quantity of one order, in the currency; none means no limit.
    pub max_notional: Option<Dec>,
    /// Half-width of the price collar, in percent of the reference price.
    pub collar_pct: Dec,
    /// The reference price before the first trade.
    pub reference_price: Dec,
    /// Day orders expire at this time, "HH:MM" UTC.
    pub close_utc: String,
    #[serde(default = "open")]
    pub status: StatusConfig,
}

fn open() -> StatusConfig {
    StatusConfig::Open
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FundingConfig {
    Credit,
    Prefunded,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    pub funding: FundingConfig,
    /// Credit accounts: the limit on open plus traded notional, per currency.
    pub credit_limit: Option<Dec>,
    /// Pre-funded accounts: currency or symbol -> amount (quantity for a symbol).
    #[serde(default)]
    pub balances: BTreeMap<String, Dec>,
    pub max_open_orders: u32,
    #[serde(default = "cancel_incoming")]
    pub stp: StpConfig,
    pub stp_group: Option<u32>,
}

fn cancel_incoming() -> StpConfig {
    StpConfig::CancelIncoming
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The FIX Account (1) value.
    pub name: String,
    pub funding: FundingConfig,
    pub credit_limit: Option<Dec>,
    #[serde(default)]
    pub balances: BTreeMap<String, Dec>,
    pub max_open_orders: u32,
    #[serde(default = "cancel_incoming")]
    pub stp: StpConfig,
    pub stp_group: Option<u32>,
}

impl AccountConfig {
    pub fn settings(&self) -> AccountSettings {
        AccountSettings {
            funding: self.funding,
            credit_limit: self.credit_limit,
            balances: self.balances.clone(),
            max_open_orders: self.max_open_orders,
            stp: self.stp,
            stp_group: self.stp_group,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// The mode of the data files the venue creates (journal, session store, exports), in octal:
    /// "0600" (the default) or "0640"; directories get the matching execute bits.
    #[serde(default)]
    pub data_file_mode: Option<String>,
    pub instruments: Vec<InstrumentConfig>,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    pub default_account: AccountSettings,
    /// The admin HTTP server (`[admin]`).
    #[serde(default)]
    pub admin: AdminConfig,
}

/// `[admin]`: where the admin HTTP server listens and the file holding the bearer token its actions require.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// `ADDRESS:PORT`, or "off"; default [`ADMIN_ADDRESS_DEFAULT`].
    #[serde(default)]
    pub address: Option<String>,
    /// The file whose content (surrounding whitespace trimmed) is the bearer token; no file: every action is
    /// refused.
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
}

/// Where the admin server listens when venue.toml says nothing: loopback only.
pub const ADMIN_ADDRESS_DEFAULT: &str = "127.0.0.1:9880";

/// The admin server's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSettings {
    /// `None`: the admin server is off.
    pub address: Option<std::net::SocketAddr>,
    pub token_file: Option<std::path::PathBuf>,
}

impl AdminConfig {
    /// The checked settings: the address parses (or is "off").
    pub fn settings(&self) -> Result<AdminSettings, ConfigError> {
        let text = self.address.as_deref().unwrap_or(ADMIN_ADDRESS_DEFAULT);
        let address = if text == "off" {
            None
        } else {
            Some(text.parse().map_err(|_| {
                invalid(
                    "admin.address",
                    format!("{text:?} is not ADDRESS:PORT (such as \"127.0.0.1:9880\") or \"off\""),
                )
            })?)
        };
        if self
            .token_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(invalid("admin.token_file", "empty path"));
        }
        Ok(AdminSettings {
            address,
            token_file: self.token_file.clone(),
        })
    }
}

// The messages carry the I/O and TOML errors they hold, so neither is a `source`: a chain would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: larger than {VENUE_TOML_BYTES_MAX} bytes")]
    TooLarge { path: String },
    #[error("{0}")]
    Parse(toml::de::Error),
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    /// A parse or validation error of the named file (the path given, or `venue.toml` for text).
    #[error("{path}: {error}")]
    InFile {
        path: String,
        error: Box<ConfigError>,
    },
}

impl ConfigError {
    fn in_file(self, path: &str) -> ConfigError {
        ConfigError::InFile {
            path: path.to_string(),
            error: Box::new(self),
        }
    }
}

impl From<toml::de::Error> for ConfigError {
    fn from(e: toml::de::Error) -> Self {
        ConfigError::Parse(e)
    }
}

fn invalid(what: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        what: what.into(),
        message: message.into(),
    }
}

/// The engine's view of a venue configuration, with the names it was given.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub engine: EngineConfig,
    /// Currencies by engine index.
    pub currencies: Vec<String>,
    /// Configured account names and the ids the engine knows them by (1, 2, ... in file order).
    pub accounts: BTreeMap<String, AccountId>,
    /// [`VenueConfig::data_file_mode`], checked.
    pub data_file_mode: u32,
    /// [`VenueConfig::admin`], checked.
    pub admin: AdminSettings,
}

/// The mode of data files when venue.toml names none: the venue's user alone reads and writes them.
pub const DATA_FILE_MODE_DEFAULT: u32 = 0o600;
/// Bits `data_file_mode` may hold: read and write, never execute, set-id or sticky bits.
const DATA_FILE_MODE_ALLOWED: u32 = 0o666;
/// Bits `data_file_mode` must hold: the venue's own read and write.
const DATA_FILE_MODE_REQUIRED: u32 = 0o600;

impl VenueConfig {
    pub fn bundled() -> VenueConfig {
        VenueConfig::parse(BUNDLED_VENUE_TOML)
            .expect("the bundled venue.toml is valid (a test checks it)")
    }

    pub fn parse(text: &str) -> Result<VenueConfig, ConfigError> {
        VenueConfig::parse_text(text).map_err(|e| e.in_file("venue.toml"))
    }

    fn parse_text(text: &str) -> Result<VenueConfig, ConfigError> {
        let config: VenueConfig = toml::from_str(text)?;
        config.resolve()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<VenueConfig, ConfigError> {
        let display = path.display().to_string();
        let read = |error| ConfigError::Read {
            path: display.clone(),
            error,
        };
        if std::fs::metadata(path).map_err(read)?.len() > VENUE_TOML_BYTES_MAX {
            return Err(ConfigError::TooLarge { path: display });
        }
        VenueConfig::parse_text(&std::fs::read_to_string(path).map_err(read)?)
            .map_err(|e| e.in_file(&display))
    }

    /// Validates everything and converts to the engine's integer terms.
    /// The checked `data_file_mode`: octal, the owner's read and write at least, no execute bit.
    pub fn data_file_mode(&self) -> Result<u32, ConfigError> {
        let Some(text) = &self.data_file_mode else {
            return Ok(DATA_FILE_MODE_DEFAULT);
        };
        let what = "data_file_mode";
        let mode = u32::from_str_radix(text, 8).map_err(|_| {
            invalid(
                what,
                format!("{text:?} is not an octal mode such as \"0600\""),
            )
        })?;
        if mode & !DATA_FILE_MODE_ALLOWED != 0
            || mode & DATA_FILE_MODE_REQUIRED != DATA_FILE_MODE_REQUIRED
        {
            return Err(invalid(
                what,
                format!(
                    "{text} must give the owner read and write and nobody execute (0600, 0640, 0660)"
                ),
            ));
        }
        Ok(mode)
    }

    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let data_file_mode = self.data_file_mode()?;
        let admin = self.admin.settings()?;
        let currencies: Vec<String> = self
            .instruments
            .iter()
            .map(|i| i.currency.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut instruments = Vec::new();
        for instrument in &self.instruments {
            instruments.push(resolve_instrument(instrument, &currencies)?);
        }
        if self.accounts.len() > ACCOUNTS_CONFIGURED_MAX {
            return Err(invalid(
                "accounts",
                format!("more than {ACCOUNTS_CONFIGURED_MAX}"),
            ));
        }
        let mut accounts = BTreeMap::new();
        let mut profiles = BTreeMap::new();
        for (index, account) in self.accounts.iter().enumerate() {
            let id = AccountId(index as u32 + 1);
            if accounts.insert(account.name.clone(), id).is_some() {
                return Err(invalid(
                    format!("account {}", account.name),
                    "configured twice",
                ));
            }
            let what = format!("account {}", account.name);
            profiles.insert(
                id,
                resolve_account(&what, &account.settings(), &instruments, &currencies)?,
            );
        }
        let default_account = resolve_account(
            "default_account",
            &self.default_account,
            &instruments,
            &currencies,
        )?;
        let engine = EngineConfig {
            instruments,
            accounts: profiles,
            default_account,
        };
        engine::Engine::new(engine.clone())
            .map_err(|error| invalid("instruments", error.to_string()))?;
        Ok(Resolved {
            engine,
            currencies,
            accounts,
            data_file_mode,
            admin,
        })
    }
}

/// A price or quantity in ticks or lots: within the engine's range.
fn whole(what: &str, value: Dec, unit: Decimal) -> Result<i64, ConfigError> {
    let whole = whole_units(what, value, unit)?;
    if whole > TICKS_LOTS_MAX {
        return Err(invalid(
            what,
            format!("{} is above the engine's range", value.0),
        ));
    }
    Ok(whole)
}

/// An amount of money in cash units.
fn whole_cash(what: &str, value: Dec) -> Result<i64, ConfigError> {
    whole_units(
        what,
        value,
        Decimal::new(1, engine::instrument::CASH_DECIMALS),
    )
}

fn whole_units(what: &str, value: Dec, unit: Decimal) -> Result<i64, ConfigError> {
    let ratio = value
        .0
        .checked_div(unit)
        .ok_or_else(|| invalid(what, "out of range"))?;
    if !ratio.fract().is_zero() || ratio < Decimal::ZERO {
        return Err(invalid(
            what,
            format!("{} is not a non-negative multiple of {unit}", value.0),
        ));
    }
    i64::try_from(ratio).map_err(|_| invalid(what, "out of range"))
}

fn parse_close_ns(what: &str, text: &str) -> Result<i64, ConfigError> {
    let parsed = text.split_once(':').and_then(|(hours, minutes)| {
        let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
        ((0..24).contains(&hours) && (0..60).contains(&minutes) && text.len() == 5)
            .then_some(hours * 60 + minutes)
    });
    let minutes =
        parsed.ok_or_else(|| invalid(what, format!("close_utc {text:?} is not HH:MM")))?;
    Ok(minutes * 60 * 1_000_000_000)
}

fn resolve_instrument(
    config: &InstrumentConfig,
    currencies: &[String],
) -> Result<InstrumentSpec, ConfigError> {
    let what = format!("instrument {}", config.symbol);
    let valid_symbol = !config.symbol.is_empty()
        && config.symbol.len() <= fix::limits::SYMBOL_BYTES_MAX
        && config
            .symbol
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'=');
    if !valid_symbol {
        return Err(invalid(
            &what,
            format!(
                "symbol must be 1 to {} printable characters without '='",
                fix::limits::SYMBOL_BYTES_MAX
            ),
        ));
    }
    let (tick_size, lot_size) = (config.tick_size.0, config.lot_size.0);
    if tick_size <= Decimal::ZERO || lot_size <= Decimal::ZERO {
        return Err(invalid(&what, "tick_size and lot_size must be positive"));
    }
    let cash_per_tick_lot = cash_per_tick_lot(tick_size, lot_size)
        .ok_or_else(|| invalid(&what, "tick_size x lot_size must be a multiple of 0.0001"))?;
    let min_qty_lots = whole(&format!("{what} min_qty"), config.min_qty, lot_size)?;
    let max_qty_lots = whole(&format!("{what} max_qty"), config.max_qty, lot_size)?;
    if min_qty_lots < 1 || min_qty_lots > max_qty_lots {
        return Err(invalid(&what, "need 0 < min_qty <= max_qty"));
    }
    let max_notional_cash = match config.max_notional {
        Some(value) => whole_cash(&format!("{what} max_notional"), value)?,
        None => i64::MAX,
    };
    let collar_bp = whole(
        &format!("{what} collar_pct"),
        config.collar_pct,
        Decimal::new(1, 2),
    )?;
    if collar_bp <= 0 || collar_bp > 1_000 * BASIS_POINTS {
        return Err(invalid(
            &what,
            "collar_pct must be above 0 and at most 100000",
        ));
    }
    let reference_ticks = whole(
        &format!("{what} reference_price"),
        config.reference_price,
        tick_size,
    )?;
    if reference_ticks < 1 {
        return Err(invalid(&what, "reference_price must be positive"));
    }
    let currency = currencies
        .iter()
        .position(|c| c == &config.currency)
        .expect("currency list built from these") as u32;
    Ok(InstrumentSpec {
        symbol: config.symbol.clone(),
        currency,
        tick_size,
        lot_size,
        min_qty_lots,
        max_qty_lots,
        max_notional_cash,
        cash_per_tick_lot,
        collar_bp,
        reference_ticks,
        close_ns: parse_close_ns(&what, &config.close_utc)?,
        status: match config.status {
            StatusConfig::Open => TradingStatus::Open,
            StatusConfig::Halted => TradingStatus::Halted,
            StatusConfig::CancelOnly => TradingStatus::CancelOnly,
            StatusConfig::PostOnly => TradingStatus::PostOnly,
        },
    })
}

fn resolve_account(
    what: &str,
    settings: &AccountSettings,
    instruments: &[InstrumentSpec],
    currencies: &[String],
) -> Result<AccountProfile, ConfigError> {
    let funding = match (
        settings.funding,
        settings.credit_limit,
        settings.balances.is_empty(),
    ) {
        (FundingConfig::Credit, Some(limit), true) => Funding::Credit {
            limit_cash: whole_cash(&format!("{what} credit_limit"), limit)?,
        },
        (FundingConfig::Credit, _, _) => {
            return Err(invalid(
                what,
                "a credit account needs credit_limit and no balances",
            ));
        }
        (FundingConfig::Prefunded, None, _) => {
            let mut balances = Vec::new();
            for (name, &amount) in &settings.balances {
                balances.push(resolve_balance(
                    what,
                    name,
                    amount,
                    instruments,
                    currencies,
                )?);
            }
            Funding::Prefunded { balances }
        }
        (FundingConfig::Prefunded, Some(_), _) => {
            return Err(invalid(
                what,
                "a pre-funded account has balances, not a credit_limit",
            ));
        }
    };
    let stp_mode = match settings.stp {
        StpConfig::CancelIncoming => StpMode::CancelIncoming,
        StpConfig::CancelResting => StpMode::CancelResting,
        StpConfig::CancelBoth => StpMode::CancelBoth,
    };
    Ok(AccountProfile {
        funding,
        max_open_orders: settings.max_open_orders,
        stp_mode,
        stp_group: settings.stp_group,
    })
}

fn resolve_balance(
    what: &str,
    name: &str,
    amount: Dec,
    instruments: &[InstrumentSpec],
    currencies: &[String],
) -> Result<(Asset, i64), ConfigError> {
    let what = format!("{what} balance {name}");
    if let Some(index) = currencies.iter().position(|currency| currency == name) {
        return Ok((Asset::Cash(index as u32), whole_cash(&what, amount)?));
    }
    match instruments.iter().position(|spec| spec.symbol == name) {
        Some(index) => Ok((
            Asset::Instrument(InstrumentId(index as u32)),
            whole(&what, amount, instruments[index].lot_size)?,
        )),
        None => Err(invalid(what, "neither a configured currency nor a symbol")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_config_is_valid_and_has_zvzzt() {
        let resolved = VenueConfig::bundled()
            .resolve()
            .expect("bundled config resolves");
        let zvzzt = resolved
            .engine
            .instruments
            .iter()
            .find(|spec| spec.symbol == "ZVZZT")
            .expect("ZVZZT listed");
        assert_eq!(zvzzt.tick_size, Decimal::new(1, 2));
        assert_eq!(zvzzt.lot_size, Decimal::ONE);
        let (low_ticks, high_ticks) = zvzzt.collar_ticks(zvzzt.reference_ticks);
        assert!(
            low_ticks <= 100 && high_ticks >= 1_000_000,
            "collar {low_ticks}..{high_ticks} covers 1..10000"
        );
        assert!(resolved.engine.instruments.len() >= 3);
    }

    #[test]
    fn data_file_mode_defaults_to_0600_and_refuses_execute_and_unreadable_modes() {
        assert_eq!(
            VenueConfig::bundled().resolve().unwrap().data_file_mode,
            0o600
        );
        let mode = |text: &str| {
            let toml = format!("data_file_mode = \"{text}\"\n{BUNDLED_VENUE_TOML}");
            VenueConfig::parse(&toml).and_then(|c| c.data_file_mode())
        };
        assert_eq!(mode("0640").unwrap(), 0o640);
        assert_eq!(mode("600").unwrap(), 0o600);
        for bad in ["0700", "0400", "0644x", "1600", ""] {
            let e = mode(bad).unwrap_err().to_string();
            assert!(e.contains("data_file_mode"), "{bad}: {e}");
        }
    }

    fn with(replace: &str, by: &str) -> Result<VenueConfig, ConfigError> {
        assert!(
            BUNDLED_VENUE_TOML.contains(replace),
            "test edits a line that exists: {replace}"
        );
        VenueConfig::parse(&BUNDLED_VENUE_TOML.replacen(replace, by, 1))
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = with("tick_size = \"0.01\"", "tick_size = \"0.01\"\ntick = 1").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `tick`"),
            "{error}"
        );
    }

    #[test]
    fn float_decimals_are_refused() {
        let error = with("tick_size = \"0.01\"", "tick_size = 0.01").unwrap_err();
        assert!(error.to_string().contains("floats round"), "{error}");
    }

    #[test]
    fn invalid_values_name_what_is_wrong() {
        let error = with("min_qty = \"1\"", "min_qty = \"0.5\"").unwrap_err();
        assert!(error.to_string().contains("ZVZZT min_qty"), "{error}");
        let error = with("close_utc = \"21:00\"", "close_utc = \"25:00\"").unwrap_err();
        assert!(error.to_string().contains("HH:MM"), "{error}");
    }
}
