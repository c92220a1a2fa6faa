//! A small text form of commands and a scenario runner, so that engine tests are data: a scenario file declares
//! instruments and accounts, lists commands (`> ...`) and, after each, the events it must yield (`< ...`).
//!
//! ```text
//! instrument ZVZZT ref=100 collar-bp=1000
//! account 2 prefunded cash0=1000000 max-open=5 stp=cancel-resting
//! > new buy 10 limit 100 acct=2
//! < accepted order=1 instr=0 buy 10 limit 100
//! < level instr=0 buy 100 qty=10
//! ```
//! Commands: `new SIDE QTY (limit P | market | stop S | stop-limit S P) [day|gtc|ioc|fok|gtd=T|gtd-date=DAYS]
//! [acct=N] [session=N] [sym=SYMBOL] [post-only] [display=N]`, `cancel ORDER [acct=N]`,
//! `replace ORDER qty=N [px=P] [acct=N]`, `mass-cancel (all|sym=S|acct=N|session=N [sym=S])`,
//! `status SYMBOL STATUS`, `time T`. A line `show queue` puts the order-by-order `queue` events in the output. A time T is nanoseconds since the epoch or `DAYS+HH:MM[:SS]`. Each command runs
//! at the time of the last `time` command (0 before the first).

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::instrument::{DAY_NS, cash_per_tick_lot};
use super::*;

/// The most lines a scenario file may have.
pub const SCENARIO_LINES_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct TextError {
    pub line: usize,
    pub message: String,
}

fn err<T>(message: impl Into<String>) -> Result<T, String> {
    Err(message.into())
}

fn number<T: FromStr>(what: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{what}: not a number: {value:?}"))
}

/// Parses `T`: nanoseconds, or `DAYS+HH:MM[:SS]`.
pub fn parse_time_ns(value: &str) -> Result<i64, String> {
    let Some((days, clock)) = value.split_once('+') else {
        return number("time", value);
    };
    let days: i64 = number("days", days)?;
    let parts: Vec<i64> = clock
        .split(':')
        .map(|part| number("clock", part))
        .collect::<Result<_, _>>()?;
    let seconds = match parts.as_slice() {
        [hours, minutes] => hours * 3_600 + minutes * 60,
        [hours, minutes, seconds] => hours * 3_600 + minutes * 60 + seconds,
        _ => return err(format!("clock {clock:?} is not HH:MM[:SS]")),
    };
    Ok(days * DAY_NS + seconds * 1_000_000_000)
}

fn parse_side(word: Option<&str>) -> Result<Side, String> {
    match word {
        Some("buy") => Ok(Side::Buy),
        Some("sell") => Ok(Side::Sell),
        other => err(format!("expected buy or sell, got {other:?}")),
    }
}

fn parse_status(word: Option<&str>) -> Result<TradingStatus, String> {
    match word {
        Some("open") => Ok(TradingStatus::Open),
        Some("halted") => Ok(TradingStatus::Halted),
        Some("cancel-only") => Ok(TradingStatus::CancelOnly),
        Some("post-only") => Ok(TradingStatus::PostOnly),
        other => err(format!("unknown status {other:?}")),
    }
}

/// Resolves symbols for the parser.
pub trait Symbols {
    fn instrument(&self, symbol: &str) -> Option<InstrumentId>;
}

impl Symbols for Engine {
    fn instrument(&self, symbol: &str) -> Option<InstrumentId> {
        self.instrument_id(symbol)
    }
}

/// Parses one command line (without the leading `> `).
pub fn parse_command(line: &str, symbols: &dyn Symbols) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("new") => parse_new(words, symbols).map(Command::New),
        Some("cancel") => {
            let order_id = OrderId(number("order", words.next().unwrap_or(""))?);
            let options = options(words)?;
            Ok(Command::Cancel {
                order_id,
                account: AccountId(option(&options, "acct", 1)?),
            })
        }
        Some("replace") => {
            let order_id = OrderId(number("order", words.next().unwrap_or(""))?);
            let options = options(words)?;
            let qty_lots = options.get("qty").ok_or("replace needs qty=")?;
            let price_ticks = options.get("px").map(|px| number("px", px)).transpose()?;
            let account = AccountId(option(&options, "acct", 1)?);
            Ok(Command::Replace(Replace {
                order_id,
                account,
                price_ticks,
                qty_lots: number("qty", qty_lots)?,
            }))
        }
        Some("mass-cancel") => parse_mass_cancel(words, symbols).map(Command::MassCancel),
        Some("status") => {
            let symbol = words.next().unwrap_or("");
            let instrument = symbols
                .instrument(symbol)
                .ok_or_else(|| format!("unknown symbol {symbol:?}"))?;
            Ok(Command::SetStatus {
                instrument,
                status: parse_status(words.next())?,
            })
        }
        Some("time") => Ok(Command::Time {
            now_ns: parse_time_ns(words.next().unwrap_or(""))?,
        }),
        other => err(format!("unknown command {other:?}")),
    }
}

/// `all`, `sym=S`, `acct=N`, `session=N` or `session=N sym=S` (that session's orders on that instrument).
fn parse_mass_cancel<'a>(
    words: impl Iterator<Item = &'a str>,
    symbols: &dyn Symbols,
) -> Result<MassCancelScope, String> {
    let words: Vec<&str> = words.collect();
    if words == ["all"] {
        return Ok(MassCancelScope::All);
    }
    let options = options(words.iter().copied())?;
    let instrument = |symbol: &str| {
        symbols
            .instrument(symbol)
            .ok_or_else(|| format!("unknown symbol {symbol:?}"))
    };
    let keys: Vec<&str> = options.keys().copied().collect();
    match keys.as_slice() {
        ["sym"] => instrument(options["sym"]).map(MassCancelScope::Instrument),
        ["acct"] => Ok(MassCancelScope::Account(AccountId(number(
            "acct",
            options["acct"],
        )?))),
        ["session"] => Ok(MassCancelScope::Session(SessionId(number(
            "session",
            options["session"],
        )?))),
        ["session", "sym"] => Ok(MassCancelScope::SessionInstrument(
            SessionId(number("session", options["session"])?),
            instrument(options["sym"])?,
        )),
        _ => err(format!(
            "mass-cancel scope {:?}: all, sym=, acct=, session= or session= sym=",
            words.join(" ")
        )),
    }
}

/// `key=value` words and bare flags (stored with an empty value).
fn options<'a>(words: impl Iterator<Item = &'a str>) -> Result<BTreeMap<&'a str, &'a str>, String> {
    let mut options = BTreeMap::new();
    for word in words {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        if options.insert(key, value).is_some() {
            return err(format!("{key} given twice"));
        }
    }
    Ok(options)
}

fn option<T: FromStr>(options: &BTreeMap<&str, &str>, key: &str, default: T) -> Result<T, String> {
    options
        .get(key)
        .map_or(Ok(default), |value| number(key, value))
}

fn parse_new<'a>(
    words: impl Iterator<Item = &'a str>,
    symbols: &dyn Symbols,
) -> Result<NewOrder, String> {
    let words: Vec<&str> = words.collect();
    let word = |at: usize| words.get(at).copied().unwrap_or("");
    let side = parse_side(words.first().copied())?;
    let qty_lots = number("qty", word(1))?;
    let (kind, used) = match word(2) {
        "limit" => (
            OrderKind::Limit {
                price_ticks: number("price", word(3))?,
            },
            4,
        ),
        "market" => (OrderKind::Market, 3),
        "stop" => (
            OrderKind::Stop {
                stop_ticks: number("stop", word(3))?,
            },
            4,
        ),
        "stop-limit" => (
            OrderKind::StopLimit {
                stop_ticks: number("stop", word(3))?,
                price_ticks: number("price", word(4))?,
            },
            5,
        ),
        other => {
            return err(format!(
                "order kind {other:?}: limit, market, stop or stop-limit"
            ));
        }
    };
    let options = options(words.iter().skip(used).copied())?;
    let instrument = match (options.get("sym"), options.get("instr")) {
        (Some(symbol), None) => symbols
            .instrument(symbol)
            .ok_or_else(|| format!("unknown symbol {symbol:?}"))?,
        (None, Some(index)) => InstrumentId(number("instr", index)?),
        (None, None) => InstrumentId(0),
        (Some(_), Some(_)) => return err("give sym= or instr=, not both"),
    };
    Ok(NewOrder {
        instrument,
        account: AccountId(option(&options, "acct", 1)?),
        session: SessionId(option(&options, "session", 1)?),
        side,
        kind,
        qty_lots,
        tif: parse_tif(&options)?,
        post_only: options.contains_key("post-only"),
        display_lots: option(&options, "display", 0)?,
    })
}

fn parse_tif(options: &BTreeMap<&str, &str>) -> Result<TimeInForce, String> {
    let mut tifs = Vec::new();
    for (&key, &value) in options {
        match key {
            "day" => tifs.push(TimeInForce::Day),
            "gtc" => tifs.push(TimeInForce::Gtc),
            "ioc" => tifs.push(TimeInForce::Ioc),
            "fok" => tifs.push(TimeInForce::Fok),
            "gtd" => tifs.push(TimeInForce::Gtd(Expiry::AtNs(parse_time_ns(value)?))),
            "gtd-date" => tifs.push(TimeInForce::Gtd(Expiry::OnDate {
                days_since_epoch: number("gtd-date", value)?,
            })),
            "acct" | "session" | "sym" | "instr" | "post-only" | "display" => {}
            other => return err(format!("unknown option {other:?}")),
        }
    }
    match tifs.as_slice() {
        [] => Ok(TimeInForce::Gtc),
        [tif] => Ok(*tif),
        _ => err("more than one time in force"),
    }
}

/// A parsed scenario: the engine it needs and its lines.
pub struct Scenario {
    config: EngineConfig,
    lines: Vec<String>,
    /// `show queue`: the order-by-order [`Event::Queue`] events are part of the expected output (left out
    /// otherwise, so the scenarios about matching read as they did before those events existed).
    show_queue: bool,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, TextError> {
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() > SCENARIO_LINES_MAX {
            return Err(TextError {
                line: SCENARIO_LINES_MAX,
                message: "scenario too long".into(),
            });
        }
        let mut config = EngineConfig {
            instruments: Vec::new(),
            accounts: BTreeMap::new(),
            default_account: default_profile(),
        };
        let mut show_queue = false;
        for (index, line) in lines.iter().enumerate() {
            let at = |message: String| TextError {
                line: index + 1,
                message,
            };
            let mut words = line.split_whitespace();
            match words.next() {
                Some("instrument") => config
                    .instruments
                    .push(parse_instrument(words).map_err(at)?),
                Some("account") => {
                    let id = AccountId(number("account", words.next().unwrap_or("")).map_err(at)?);
                    config
                        .accounts
                        .insert(id, parse_profile(words).map_err(at)?);
                }
                Some("default-account") => {
                    config.default_account = parse_profile(words).map_err(at)?
                }
                Some("show") => match words.next() {
                    Some("queue") => show_queue = true,
                    other => return Err(at(format!("show what? {other:?} (only `show queue`)"))),
                },
                Some(">" | "<") | None => {}
                Some(word) if word.starts_with('#') => {}
                Some(word) => return Err(at(format!("unknown directive {word:?}"))),
            }
        }
        Ok(Scenario {
            config,
            lines,
            show_queue,
        })
    }

    /// Runs the commands and returns the scenario text with each command followed by the events it yielded
    /// (the expected `<` lines of the input are replaced). Audits the engine after every command.
    pub fn run(&self) -> Result<String, TextError> {
        let mut engine = Engine::new(self.config.clone()).map_err(|error| TextError {
            line: 0,
            message: error.to_string(),
        })?;
        engine.set_audit_interval(1);
        let (mut output, mut events, mut seq, mut now_ns) = (String::new(), Vec::new(), 0, 0);
        for (index, line) in self.lines.iter().enumerate() {
            if line.starts_with('<') {
                continue;
            }
            output.push_str(line);
            output.push('\n');
            let Some(command_text) = line.strip_prefix('>') else {
                continue;
            };
            let command = parse_command(command_text, &engine).map_err(|message| TextError {
                line: index + 1,
                message,
            })?;
            if let Command::Time { now_ns: at_ns } = command {
                now_ns = at_ns;
            }
            seq += 1;
            events.clear();
            engine.apply(
                &Sequenced {
                    seq,
                    ts_ns: now_ns,
                    command,
                },
                &mut events,
            );
            for event in &events {
                if !self.show_queue && matches!(event, Event::Queue { .. }) {
                    continue;
                }
                output.push_str(&format!("< {event}\n"));
            }
        }
        Ok(output)
    }
}

/// The default account of a scenario: a large credit line, many open orders, STP cancels the incoming order.
fn default_profile() -> AccountProfile {
    AccountProfile {
        funding: Funding::Credit {
            limit_cash: i64::MAX / 4,
        },
        max_open_orders: 1_000,
        stp_mode: StpMode::CancelIncoming,
        stp_group: None,
    }
}

fn parse_instrument<'a>(
    mut words: impl Iterator<Item = &'a str>,
) -> Result<InstrumentSpec, String> {
    let symbol = words.next().ok_or("instrument needs a symbol")?.to_owned();
    let options = options(words)?;
    let known = [
        "tick",
        "lot",
        "currency",
        "min",
        "max",
        "max-notional",
        "collar-bp",
        "ref",
        "close",
        "status",
    ];
    if let Some(key) = options.keys().find(|key| !known.contains(key)) {
        return err(format!("unknown instrument option {key:?}"));
    }
    let decimal = |key: &str, default: &str| -> Result<Decimal, String> {
        let value = options.get(key).copied().unwrap_or(default);
        Decimal::from_str(value).map_err(|_| format!("{key}: not a decimal: {value:?}"))
    };
    let (tick_size, lot_size) = (decimal("tick", "0.01")?, decimal("lot", "1")?);
    let cash_per_tick_lot =
        cash_per_tick_lot(tick_size, lot_size).ok_or("tick x lot is not a whole cash unit")?;
    Ok(InstrumentSpec {
        symbol,
        currency: option(&options, "currency", 0)?,
        tick_size,
        lot_size,
        min_qty_lots: option(&options, "min", 1)?,
        max_qty_lots: option(&options, "max", 1_000_000)?,
        max_notional_cash: option(&options, "max-notional", i64::MAX)?,
        cash_per_tick_lot,
        collar_bp: option(&options, "collar-bp", 1_000)?,
        reference_ticks: option(&options, "ref", 100)?,
        close_ns: parse_time_ns(&format!(
            "0+{}",
            options.get("close").copied().unwrap_or("16:00")
        ))?,
        status: parse_status(Some(options.get("status").copied().unwrap_or("open")))?,
    })
}

fn parse_profile<'a>(words: impl Iterator<Item = &'a str>) -> Result<AccountProfile, String> {
    let options = options(words)?;
    let known = ["prefunded", "credit", "max-open", "stp", "group"];
    let balance = |key: &str| key.starts_with("cash") || key.starts_with("instr");
    if let Some(key) = options
        .keys()
        .find(|key| !known.contains(key) && !balance(key))
    {
        return err(format!("unknown account option {key:?}"));
    }
    let funding = if options.contains_key("prefunded") {
        let mut balances = Vec::new();
        for (key, value) in &options {
            if let Some(currency) = key.strip_prefix("cash") {
                balances.push((Asset::Cash(number("cash", currency)?), number(key, value)?));
            } else if let Some(instrument) = key.strip_prefix("instr") {
                balances.push((
                    Asset::Instrument(InstrumentId(number("instr", instrument)?)),
                    number(key, value)?,
                ));
            }
        }
        Funding::Prefunded { balances }
    } else {
        Funding::Credit {
            limit_cash: option(&options, "credit", i64::MAX / 4)?,
        }
    };
    let stp_mode = match options.get("stp").copied().unwrap_or("cancel-incoming") {
        "cancel-incoming" => StpMode::CancelIncoming,
        "cancel-resting" => StpMode::CancelResting,
        "cancel-both" => StpMode::CancelBoth,
        other => return err(format!("stp mode {other:?}")),
    };
    let stp_group = options
        .get("group")
        .map(|group| number("group", group))
        .transpose()?;
    Ok(AccountProfile {
        funding,
        max_open_orders: option(&options, "max-open", 1_000)?,
        stp_mode,
        stp_group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_error(text: &str) -> TextError {
        match Scenario::parse(text) {
            Err(error) => error,
            Ok(scenario) => scenario.run().expect_err("the scenario should fail"),
        }
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line_number() {
        for (text, line, message) in [
            ("instrument ZVZZT\nbogus 1\n", 2, "unknown directive"),
            (
                "instrument ZVZZT tick=0.001 lot=0.01\n",
                1,
                "whole cash unit",
            ),
            (
                "instrument ZVZZT\n> new buy 10 limit\n",
                2,
                "price: not a number",
            ),
            (
                "instrument ZVZZT\n> new buy 10 limit 100 gtc ioc\n",
                2,
                "more than one time in force",
            ),
            (
                "instrument ZVZZT\n> new buy 10 limit 100 colour=red\n",
                2,
                "unknown option",
            ),
            (
                "instrument ZVZZT\n> new buy 10 limit 100 sym=ZVZZT instr=0\n",
                2,
                "not both",
            ),
            ("instrument ZVZZT\n> new hold 10 market\n", 2, "buy or sell"),
            ("instrument ZVZZT\n> replace 1 px=5\n", 2, "qty="),
            (
                "instrument ZVZZT\n> mass-cancel everything\n",
                2,
                "mass-cancel scope",
            ),
            ("instrument ZVZZT\n> time 1+25\n", 2, "HH:MM"),
            ("account 2 stp=sometimes\n", 1, "stp mode"),
            (
                "account 2 credit=5 colour=red\n",
                1,
                "unknown account option",
            ),
            (
                "instrument ZVZZT colour=red\n",
                1,
                "unknown instrument option",
            ),
        ] {
            let error = scenario_error(text);
            assert_eq!(error.line, line, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn times_read_as_days_and_clock() {
        assert_eq!(
            parse_time_ns("2+01:00:30"),
            Ok(2 * DAY_NS + 3_630 * 1_000_000_000)
        );
        assert_eq!(parse_time_ns("42"), Ok(42));
    }
}
