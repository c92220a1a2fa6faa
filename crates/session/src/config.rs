//! Session configuration: `sessions/*.cfg` in QuickFIX's INI format.
//!
//! `[DEFAULT]` first, then one `[SESSION]` per CompID pair; `Key=Value` lines, `#` or `;` comments, `Y`/`N`
//! booleans. The keys are QuickFIX's (BeginString, SenderCompID, TargetCompID, HeartBtInt, StartTime, ...) plus
//! the venue's own: `SessionRole`, `HeartBtIntMin`, `HeartBtIntMax`, `Username`, `PasswordHash` (argon2, PHC
//! string; a plain password is never accepted), and for order entry `Accounts` (comma-separated; the first is
//! the default), `CancelOnDisconnect`, `ThrottleRate`/`ThrottleBurst` (application messages per second, and the
//! bucket size), `ThrottleMaxRejects`/`ThrottleCooldown` (throttled messages in one second that log the session
//! out, and the seconds before its next Logon is accepted), and for drop copy `DropCopyAccounts`/`DropCopySessions`
//! (see [`DropCopyScope`]; [`check_drop_copy`] checks them against the trading sessions). Every key of the venue has a default, so a file with standard
//! QuickFIX keys only is a valid configuration. A few QuickFIX keys that concern an initiator or QuickFIX's own
//! file store are accepted and have no effect here ([`IGNORED_KEYS`]).
//!
//! Errors name the file, the line and the key, with a "did you mean" for a misspelt key. Parsing is pure: the
//! caller reads the file (at most [`CONFIG_BYTES_MAX`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};

use fix::ValidationOptions;
use fix::types::TimePrecision;

mod dropcopy;

pub use dropcopy::{DROP_COPY_NAMES_MAX, DropCopyScope, check_drop_copy};

/// Largest configuration file read.
pub const CONFIG_BYTES_MAX: u64 = 1024 * 1024;
/// Most sessions one configuration may declare.
pub const SESSIONS_MAX: usize = 10_000;
/// Longest CompID, Username or other string value.
pub const VALUE_BYTES_MAX: usize = 256;
/// Default bounds on the HeartBtInt a client may ask for, in seconds.
pub const HEARTBEAT_MIN_S_DEFAULT: u32 = 1;
pub const HEARTBEAT_MAX_S_DEFAULT: u32 = 300;
/// Default LogonTimeout and LogoutTimeout (QuickFIX's), in seconds.
pub const LOGON_TIMEOUT_S_DEFAULT: u32 = 10;
pub const LOGOUT_TIMEOUT_S_DEFAULT: u32 = 2;
/// Default MaxLatency (QuickFIX's), in seconds.
pub const MAX_LATENCY_S_DEFAULT: u32 = 120;
/// Longest timeout or interval accepted in a configuration, in seconds.
pub const TIMEOUT_S_MAX: u32 = 3600;

/// SocketAcceptPort when none is configured (0 asks for any free port, which tests use): plain FIX, and FIX over TLS.
pub const PORT_PLAIN_DEFAULT: u16 = 9878;
pub const PORT_TLS_DEFAULT: u16 = 9879;

/// The session configuration bundled into the binary (`sessions/default.cfg`).
pub const BUNDLED_SESSIONS_CFG: &str = include_str!("../../../sessions/default.cfg");

/// Longest account name.
pub use fix::limits::ACCOUNT_BYTES_MAX;
/// Most accounts one session may trade.
pub const ACCOUNTS_PER_SESSION_MAX: usize = 64;
/// Throttled messages within one second that log a session out, by default.
pub const THROTTLE_MAX_REJECTS_DEFAULT: u32 = 100;
/// Seconds a session logged out by the throttle waits before its next Logon is accepted, by default.
pub const THROTTLE_COOLDOWN_S_DEFAULT: u32 = 30;

/// A token bucket over a session's application messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Messages per second, sustained.
    pub rate_per_s: u32,
    /// The bucket: messages that may arrive at once.
    pub burst: u32,
    /// Throttled messages within one second that log the session out.
    pub max_rejects: u32,
    /// Seconds before a session logged out by the throttle may log on again.
    pub cooldown_s: u32,
}

/// What a session may do (see DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Trading,
    MarketData,
    DropCopy,
}

/// When a session may be logged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// NonStopSession=Y: always open; sequence numbers never reset on a schedule.
    NonStop,
    /// StartTime/EndTime in TimeZone, every day or (with StartDay/EndDay) once a week.
    Window {
        start: NaiveTime,
        end: NaiveTime,
        zone: Zone,
        days: Option<(Weekday, Weekday)>,
    },
}

/// The zone StartTime and EndTime are read in: a fixed offset, or an IANA zone name with its daylight saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The local wall-clock time at `t`.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Fixed(offset) => t.with_timezone(offset).naive_local(),
            Zone::Named(tz) => t.with_timezone(tz).naive_local(),
        }
    }

    /// The instant of a local wall-clock time: the earlier one when clocks go back, the first valid one after
    /// it when clocks go forward over it.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Fixed(offset) => {
                (local - TimeDelta::seconds(i64::from(offset.local_minus_utc()))).and_utc()
            }
            Zone::Named(tz) => {
                // A daylight-saving gap is at most a few hours; step forward until the time exists.
                for hours in 0..=DST_GAP_HOURS_MAX {
                    let shifted = local + TimeDelta::hours(hours);
                    if let Some(t) = tz.from_local_datetime(&shifted).earliest() {
                        return t.with_timezone(&Utc);
                    }
                }
                local.and_utc()
            }
        }
    }
}

/// The longest daylight-saving gap looked over when a local time does not exist.
const DST_GAP_HOURS_MAX: i64 = 3;

/// The TLS settings of a session (SocketUseSSL=Y).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub certificate_file: PathBuf,
    pub private_key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub need_client_auth: bool,
    /// SocketMinimumTLSVersion: 1.2 (default) or 1.3.
    pub minimum_version_13: bool,
}

/// One `[SESSION]`, with `[DEFAULT]` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Where the `[SESSION]` line is, for messages.
    pub origin: String,
    /// The venue's CompID (SenderCompID on what the venue sends).
    pub sender_comp_id: String,
    /// The client's CompID.
    pub target_comp_id: String,
    pub role: Role,
    pub accept_address: IpAddr,
    pub accept_port: u16,
    pub schedule: Schedule,
    pub logon_timeout_s: u32,
    pub logout_timeout_s: u32,
    pub reset_on_logon: bool,
    pub reset_on_logout: bool,
    pub reset_on_disconnect: bool,
    /// CheckLatency and MaxLatency: `Some(max)` when SendingTime is checked.
    pub max_latency_s: Option<u32>,
    pub validation: ValidationOptions,
    pub data_dictionary: Option<PathBuf>,
    pub persist_messages: bool,
    pub tls: Option<TlsSettings>,
    /// AllowedRemoteAddresses; empty means any.
    pub allowed_remote_addresses: Vec<IpAddr>,
    /// ClientCertificateNames: with NeedClientAuth=Y, the names a client certificate must carry (as its subject
    /// CN or a DNS subjectAltName, compared exactly) to log on to this session. Without the key, the client's
    /// CompID (TargetCompID).
    pub client_certificate_names: Vec<String>,
    pub heartbeat_min_s: u32,
    pub heartbeat_max_s: u32,
    pub username: Option<String>,
    /// Accounts the session may trade; the first is the default for orders without Account (1). Never empty:
    /// without the key, one account named after the client's CompID.
    pub accounts: Vec<String>,
    /// Cancel the session's resting orders when it disconnects or logs out (a Logon may override it with tag
    /// 5001 CancelOnDisconnect).
    pub cancel_on_disconnect: bool,
    /// The application-message throttle; `None` when ThrottleRate is 0 or absent.
    pub throttle: Option<Throttle>,
    /// An argon2 PHC string.
    pub password_hash: Option<String>,
    /// TimeStampPrecision: the digits of a second in every timestamp the venue writes on the session (0, 3, 6
    /// or 9; 3 by default, as FIX 4.4's UTCTimestamp has at most milliseconds).
    pub time_precision: TimePrecision,
    /// VenueExtensions: send the venue's declared extensions to FIX 4.4 (TrdMatchID 880 on fills, ExecType L for
    /// a triggered stop); without it the session gets only what standard FIX 4.4 defines for each message.
    pub venue_extensions: bool,
    /// A drop-copy session's scope (DropCopyAccounts, DropCopySessions); `None` for every other role.
    pub drop_copy: Option<DropCopyScope>,
}

impl SessionConfig {
    /// `FIX.4.4:VENUE->CLIENT`, the name logs and the store use.
    pub fn id(&self) -> String {
        format!("FIX.4.4:{}->{}", self.sender_comp_id, self.target_comp_id)
    }
}

/// A parsed configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub sessions: Vec<SessionConfig>,
}

/// A configuration error, naming the file, line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The keys this parser understands, QuickFIX's then ours.
pub const KNOWN_KEYS: &[&str] = &[
    "BeginString",
    "SenderCompID",
    "TargetCompID",
    "SocketAcceptPort",
    "SocketAcceptAddress",
    "StartTime",
    "EndTime",
    "TimeZone",
    "StartDay",
    "EndDay",
    "NonStopSession",
    "HeartBtInt",
    "LogonTimeout",
    "LogoutTimeout",
    "ResetOnLogon",
    "ResetOnLogout",
    "ResetOnDisconnect",
    "CheckLatency",
    "MaxLatency",
    "ValidateFieldsOutOfOrder",
    "ValidateFieldsHaveValues",
    "ValidateUserDefinedFields",
    "AllowUnknownMsgFields",
    "DataDictionary",
    "PersistMessages",
    "SocketUseSSL",
    "SocketCertificateFile",
    "SocketPrivateKeyFile",
    "SocketCAFile",
    "NeedClientAuth",
    "SocketMinimumTLSVersion",
    "AllowedRemoteAddresses",
    "ClientCertificateNames",
    "SessionRole",
    "HeartBtIntMin",
    "HeartBtIntMax",
    "Username",
    "PasswordHash",
    "Accounts",
    "CancelOnDisconnect",
    "ThrottleRate",
    "ThrottleBurst",
    "ThrottleMaxRejects",
    "ThrottleCooldown",
    "TimeStampPrecision",
    "VenueExtensions",
    "DropCopyAccounts",
    "DropCopySessions",
];

/// QuickFIX keys accepted without effect: they concern QuickFIX's own stores and logs, initiators, or what the
/// venue always does.
pub const IGNORED_KEYS: &[&str] = &[
    "ConnectionType",
    "FileStorePath",
    "FileLogPath",
    "UseDataDictionary",
    "SocketNodelay",
    "SocketReuseAddress",
    "ScreenLogShowIncoming",
    "ScreenLogShowOutgoing",
    "ScreenLogShowEvents",
    "ReconnectInterval",
    "SendRedundantResendRequests",
    "RefreshOnLogon",
    "MillisecondsInTimeStamp",
];

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
struct Entry {
    value: String,
    line: usize,
}

type Section = BTreeMap<String, Entry>;

/// Parses a configuration; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<SessionSettings, ConfigError> {
    parse_all(file, text).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a configuration going on past a session in error, for `check-config`: the first error of each
/// session, in file order, each once (an error in `[DEFAULT]` is reported once, not for every session).
pub fn parse_all(file: &str, text: &str) -> Result<SessionSettings, Vec<ConfigError>> {
    let (default, sessions) = sections(file, text).map_err(|e| vec![e])?;
    if sessions.is_empty() {
        return Err(vec![err(file, 1, None, "no [SESSION] section")]);
    }
    let mut out: Vec<SessionConfig> = Vec::new();
    let mut errors: Vec<ConfigError> = Vec::new();
    for (line, session) in sessions {
        let mut merged = default.clone();
        merged.extend(session);
        let error = match session_config(file, line, &merged) {
            Err(e) => e,
            Ok(config) => match out.iter().find(|o| {
                o.sender_comp_id == config.sender_comp_id
                    && o.target_comp_id == config.target_comp_id
            }) {
                Some(other) => err(
                    file,
                    line,
                    None,
                    format!(
                        "session {} is already declared at {}",
                        config.id(),
                        other.origin
                    ),
                ),
                None => {
                    out.push(config);
                    continue;
                }
            },
        };
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
    if errors.is_empty() {
        Ok(SessionSettings { sessions: out })
    } else {
        Err(errors)
    }
}

fn err(file: &str, line: usize, key: Option<&str>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line,
        key: key.map(str::to_string),
        message: message.into(),
    }
}

/// Splits the text into `[DEFAULT]` and the `[SESSION]`s (with their line numbers).
fn sections(file: &str, text: &str) -> Result<(Section, Vec<(usize, Section)>), ConfigError> {
    let mut default = Section::new();
    let mut sessions: Vec<(usize, Section)> = Vec::new();
    let mut current: Option<bool> = None; // Some(true): DEFAULT, Some(false): SESSION
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            match trimmed {
                "[DEFAULT]" if current.is_none() && sessions.is_empty() => current = Some(true),
                "[DEFAULT]" => {
                    return Err(err(
                        file,
                        line,
                        None,
                        "[DEFAULT] must come first, and only once",
                    ));
                }
                "[SESSION]" => {
                    if sessions.len() == SESSIONS_MAX {
                        return Err(err(
                            file,
                            line,
                            None,
                            format!("more than {SESSIONS_MAX} sessions"),
                        ));
                    }
                    sessions.push((line, Section::new()));
                    current = Some(false);
                }
                other => {
                    return Err(err(
                        file,
                        line,
                        None,
                        format!("unknown section {other}: expected [DEFAULT] or [SESSION]"),
                    ));
                }
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(err(file, line, None, "expected Key=Value"));
        };
        let (key, value) = (key.trim(), value.trim());
        check_key(file, line, key)?;
        if value.len() > VALUE_BYTES_MAX && key != "PasswordHash" {
            return Err(err(
                file,
                line,
                Some(key),
                format!("value longer than {VALUE_BYTES_MAX} bytes"),
            ));
        }
        let section = match current {
            Some(true) => &mut default,
            Some(false) => &mut sessions.last_mut().expect("a [SESSION] was pushed").1,
            None => {
                return Err(err(
                    file,
                    line,
                    Some(key),
                    "setting outside a [DEFAULT] or [SESSION] section",
                ));
            }
        };
        let entry = Entry {
            value: value.to_string(),
            line,
        };
        if let Some(previous) = section.insert(key.to_string(), entry) {
            return Err(err(
                file,
                line,
                Some(key),
                format!(
                    "set twice in this section (first at line {})",
                    previous.line
                ),
            ));
        }
    }
    Ok((default, sessions))
}

fn check_key(file: &str, line: usize, key: &str) -> Result<(), ConfigError> {
    if KNOWN_KEYS.contains(&key) || IGNORED_KEYS.contains(&key) {
        return Ok(());
    }
    if key == "Password" {
        return Err(err(
            file,
            line,
            Some(key),
            "plain passwords are not accepted: set PasswordHash to an argon2 PHC string \
             (make one with `fixvenue hash-password`)",
        ));
    }
    let best = KNOWN_KEYS
        .iter()
        .chain(IGNORED_KEYS)
        .map(|k| {
            (
                strsim::levenshtein(&k.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                *k,
            )
        })
        .min();
    let hint = match best {
        Some((d, k)) if d <= 3 || k.eq_ignore_ascii_case(key) => format!(" (did you mean {k}?)"),
        _ => String::new(),
    };
    Err(err(file, line, Some(key), format!("unknown key{hint}")))
}

/// Typed access to one merged section.
struct Reader<'a> {
    file: &'a str,
    line: usize,
    section: &'a Section,
}

impl Reader<'_> {
    fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let line = self.section.get(key).map_or(self.line, |e| e.line);
        err(self.file, line, Some(key), message)
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.section.get(key).map(|e| e.value.as_str())
    }

    fn required(&self, key: &str) -> Result<&str, ConfigError> {
        match self.str(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(err(
                self.file,
                self.line,
                Some(key),
                "required in every [SESSION] (or in [DEFAULT])",
            )),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.str(key) {
            None => Ok(default),
            Some("Y") => Ok(true),
            Some("N") => Ok(false),
            Some(other) => Err(self.error(key, format!("expected Y or N, found {other:?}"))),
        }
    }

    fn uint(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32, ConfigError> {
        let Some(text) = self.str(key) else {
            return Ok(default);
        };
        match text.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(self.error(
                key,
                format!("expected a whole number from {min} to {max}, found {text:?}"),
            )),
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.str(key).filter(|v| !v.is_empty()).map(PathBuf::from)
    }
}

fn session_config(
    file: &str,
    line: usize,
    section: &Section,
) -> Result<SessionConfig, ConfigError> {
    let r = Reader {
        file,
        line,
        section,
    };
    let begin = r.required("BeginString")?;
    if begin != "FIX.4.4" {
        return Err(r.error(
            "BeginString",
            format!("only FIX.4.4 is supported, found {begin:?}"),
        ));
    }
    let sender_comp_id = comp_id(&r, "SenderCompID")?;
    let target_comp_id = comp_id(&r, "TargetCompID")?;
    let role = match r.str("SessionRole").unwrap_or("trading") {
        "trading" => Role::Trading,
        "marketdata" => Role::MarketData,
        "dropcopy" => Role::DropCopy,
        other => {
            return Err(r.error(
                "SessionRole",
                format!("expected trading, marketdata or dropcopy, found {other:?}"),
            ));
        }
    };
    let accept_address = match r.str("SocketAcceptAddress") {
        None => IpAddr::from([127, 0, 0, 1]),
        Some(text) => text.parse().map_err(|_| {
            r.error(
                "SocketAcceptAddress",
                format!("not an IP address: {text:?}"),
            )
        })?,
    };
    let heartbeat_min_s = r.uint("HeartBtIntMin", HEARTBEAT_MIN_S_DEFAULT, 1, TIMEOUT_S_MAX)?;
    let heartbeat_max_s = r.uint("HeartBtIntMax", HEARTBEAT_MAX_S_DEFAULT, 1, TIMEOUT_S_MAX)?;
    if heartbeat_min_s > heartbeat_max_s {
        return Err(r.error("HeartBtIntMin", "greater than HeartBtIntMax"));
    }
    // An acceptor takes HeartBtInt from the client's Logon; a configured one is only checked for range.
    r.uint("HeartBtInt", heartbeat_min_s, 1, TIMEOUT_S_MAX)?;
    let check_latency = r.bool("CheckLatency", true)?;
    let max_latency_s = r.uint("MaxLatency", MAX_LATENCY_S_DEFAULT, 1, TIMEOUT_S_MAX)?;
    let username = r
        .str("Username")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let password_hash = match r.str("PasswordHash").filter(|v| !v.is_empty()) {
        None => None,
        Some(hash) => {
            argon2::PasswordHash::new(hash).map_err(|e| {
                r.error(
                    "PasswordHash",
                    format!(
                        "not an argon2 PHC string ({e}); make one with `fixvenue hash-password`"
                    ),
                )
            })?;
            if !hash.starts_with("$argon2") {
                return Err(r.error("PasswordHash", "only argon2 hashes are accepted"));
            }
            Some(hash.to_string())
        }
    };
    if password_hash.is_some() && username.is_none() {
        return Err(r.error("PasswordHash", "set Username too"));
    }
    let accounts = accounts(&r, &target_comp_id)?;
    let drop_copy = dropcopy::scope(&r, role)?;
    let tls = tls(&r)?;
    let client_certificate_names = certificate_names(&r, &tls, &target_comp_id)?;
    let default_port = if tls.is_some() {
        PORT_TLS_DEFAULT
    } else {
        PORT_PLAIN_DEFAULT
    };
    let accept_port = r.uint(
        "SocketAcceptPort",
        u32::from(default_port),
        0,
        u32::from(u16::MAX),
    )? as u16;
    Ok(SessionConfig {
        origin: format!("{file}:{line}"),
        sender_comp_id,
        target_comp_id,
        role,
        accept_address,
        accept_port,
        schedule: schedule(&r)?,
        logon_timeout_s: r.uint("LogonTimeout", LOGON_TIMEOUT_S_DEFAULT, 1, TIMEOUT_S_MAX)?,
        logout_timeout_s: r.uint("LogoutTimeout", LOGOUT_TIMEOUT_S_DEFAULT, 1, TIMEOUT_S_MAX)?,
        reset_on_logon: r.bool("ResetOnLogon", false)?,
        reset_on_logout: r.bool("ResetOnLogout", false)?,
        reset_on_disconnect: r.bool("ResetOnDisconnect", false)?,
        max_latency_s: check_latency.then_some(max_latency_s),
        validation: ValidationOptions {
            fields_out_of_order: r.bool("ValidateFieldsOutOfOrder", true)?,
            fields_have_values: r.bool("ValidateFieldsHaveValues", true)?,
            user_defined_fields: r.bool("ValidateUserDefinedFields", true)?,
            allow_unknown_msg_fields: r.bool("AllowUnknownMsgFields", false)?,
        },
        data_dictionary: r.path("DataDictionary"),
        persist_messages: r.bool("PersistMessages", true)?,
        tls,
        allowed_remote_addresses: allowed_addresses(&r)?,
        client_certificate_names,
        heartbeat_min_s,
        heartbeat_max_s,
        username,
        password_hash,
        accounts,
        cancel_on_disconnect: r.bool("CancelOnDisconnect", false)?,
        throttle: throttle(&r)?,
        time_precision: time_precision(&r)?,
        venue_extensions: r.bool("VenueExtensions", false)?,
        drop_copy,
    })
}

fn time_precision(r: &Reader) -> Result<TimePrecision, ConfigError> {
    match r.str("TimeStampPrecision").map(str::trim) {
        None | Some("3") => Ok(TimePrecision::Millis),
        Some("0") => Ok(TimePrecision::Seconds),
        Some("6") => Ok(TimePrecision::Micros),
        Some("9") => Ok(TimePrecision::Nanos),
        Some(_) => Err(r.error(
            "TimeStampPrecision",
            "must be 0, 3, 6 or 9 (digits of a second)".to_string(),
        )),
    }
}

fn accounts(r: &Reader, target_comp_id: &str) -> Result<Vec<String>, ConfigError> {
    let Some(list) = r.str("Accounts").filter(|v| !v.trim().is_empty()) else {
        if target_comp_id.len() > ACCOUNT_BYTES_MAX {
            return Err(r.error(
                "TargetCompID",
                format!(
                    "names the session's default account, so at most {ACCOUNT_BYTES_MAX} bytes: shorten it or set Accounts"
                ),
            ));
        }
        return Ok(vec![target_comp_id.to_string()]);
    };
    let mut accounts: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let valid = !name.is_empty()
            && name.len() <= ACCOUNT_BYTES_MAX
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b'|');
        if !valid {
            return Err(r.error(
                "Accounts",
                format!(
                    "{name:?} is not an account name (1 to {ACCOUNT_BYTES_MAX} printable characters, no spaces)"
                ),
            ));
        }
        if accounts.iter().any(|a| a == name) {
            return Err(r.error("Accounts", format!("{name} is listed twice")));
        }
        accounts.push(name.to_string());
    }
    if accounts.len() > ACCOUNTS_PER_SESSION_MAX {
        return Err(r.error(
            "Accounts",
            format!("at most {ACCOUNTS_PER_SESSION_MAX} accounts per session"),
        ));
    }
    Ok(accounts)
}

fn throttle(r: &Reader) -> Result<Option<Throttle>, ConfigError> {
    let rate_per_s = r.uint("ThrottleRate", 0, 0, 10_000_000)?;
    let burst = r.uint("ThrottleBurst", rate_per_s.max(1), 1, 10_000_000)?;
    let max_rejects = r.uint(
        "ThrottleMaxRejects",
        THROTTLE_MAX_REJECTS_DEFAULT,
        1,
        10_000_000,
    )?;
    let cooldown_s = r.uint(
        "ThrottleCooldown",
        THROTTLE_COOLDOWN_S_DEFAULT,
        0,
        TIMEOUT_S_MAX,
    )?;
    Ok((rate_per_s > 0).then_some(Throttle {
        rate_per_s,
        burst,
        max_rejects,
        cooldown_s,
    }))
}

fn comp_id(r: &Reader, key: &str) -> Result<String, ConfigError> {
    let value = r.required(key)?;
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'|') {
        return Err(r.error(
            key,
            format!("must be printable ASCII without spaces, found {value:?}"),
        ));
    }
    Ok(value.to_string())
}

fn schedule(r: &Reader) -> Result<Schedule, ConfigError> {
    if r.bool("NonStopSession", false)? {
        return Ok(Schedule::NonStop);
    }
    let time = |key: &str| -> Result<NaiveTime, ConfigError> {
        let text = r.str(key).ok_or_else(|| {
            err(
                r.file,
                r.line,
                Some(key),
                "required unless NonStopSession=Y",
            )
        })?;
        NaiveTime::parse_from_str(text, "%H:%M:%S")
            .map_err(|_| r.error(key, format!("expected HH:MM:SS, found {text:?}")))
    };
    let start = time("StartTime")?;
    let end = time("EndTime")?;
    let zone = match r.str("TimeZone") {
        None => Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset")),
        Some(text) => time_zone(text).ok_or_else(|| {
            r.error(
                "TimeZone",
                format!("expected UTC, a fixed offset such as +02:00 or a zone name such as Europe/London, found {text:?}"),
            )
        })?,
    };
    let day = |key: &str| -> Result<Option<Weekday>, ConfigError> {
        match r.str(key) {
            None => Ok(None),
            Some(text) => weekday(text).map(Some).ok_or_else(|| {
                r.error(
                    key,
                    format!("expected a day such as Sunday or sun, found {text:?}"),
                )
            }),
        }
    };
    let days = match (day("StartDay")?, day("EndDay")?) {
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        (Some(_), None) => return Err(r.error("StartDay", "set EndDay too")),
        (None, Some(_)) => return Err(r.error("EndDay", "set StartDay too")),
    };
    Ok(Schedule::Window {
        start,
        end,
        zone,
        days,
    })
}

fn time_zone(text: &str) -> Option<Zone> {
    fixed_offset(text)
        .map(Zone::Fixed)
        .or_else(|| text.parse::<chrono_tz::Tz>().ok().map(Zone::Named))
}

fn fixed_offset(text: &str) -> Option<FixedOffset> {
    match text {
        "UTC" | "GMT" | "Z" | "Etc/UTC" => return FixedOffset::east_opt(0),
        _ => {}
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn weekday(text: &str) -> Option<Weekday> {
    const DAYS: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    let lower = text.to_ascii_lowercase();
    DAYS.iter()
        .find(|(name, _)| lower == *name || lower == name[..3])
        .map(|(_, day)| *day)
}

fn tls(r: &Reader) -> Result<Option<TlsSettings>, ConfigError> {
    let minimum_version_13 = match r.str("SocketMinimumTLSVersion") {
        None | Some("1.2") | Some("TLSv1.2") => false,
        Some("1.3") | Some("TLSv1.3") => true,
        Some(other) => {
            return Err(r.error(
                "SocketMinimumTLSVersion",
                format!("expected 1.2 or 1.3 (older versions are refused), found {other:?}"),
            ));
        }
    };
    if !r.bool("SocketUseSSL", false)? {
        return Ok(None);
    }
    let need = |key: &str| {
        r.path(key)
            .ok_or_else(|| err(r.file, r.line, Some(key), "required when SocketUseSSL=Y"))
    };
    let need_client_auth = r.bool("NeedClientAuth", false)?;
    let ca_file = r.path("SocketCAFile");
    if need_client_auth && ca_file.is_none() {
        return Err(err(
            r.file,
            r.line,
            Some("SocketCAFile"),
            "required when NeedClientAuth=Y",
        ));
    }
    Ok(Some(TlsSettings {
        certificate_file: need("SocketCertificateFile")?,
        private_key_file: need("SocketPrivateKeyFile")?,
        ca_file,
        need_client_auth,
        minimum_version_13,
    }))
}

/// ClientCertificateNames (comma-separated), only with NeedClientAuth=Y; the client's CompID without it.
fn certificate_names(
    r: &Reader,
    tls: &Option<TlsSettings>,
    target_comp_id: &str,
) -> Result<Vec<String>, ConfigError> {
    let key = "ClientCertificateNames";
    let Some(text) = r.str(key) else {
        return Ok(vec![target_comp_id.to_string()]);
    };
    if !tls.as_ref().is_some_and(|t| t.need_client_auth) {
        return Err(r.error(key, "only with SocketUseSSL=Y and NeedClientAuth=Y"));
    }
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(r.error(key, "names no certificate name"));
    }
    Ok(names)
}

fn allowed_addresses(r: &Reader) -> Result<Vec<IpAddr>, ConfigError> {
    let Some(text) = r.str("AllowedRemoteAddresses") else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                r.error(
                    "AllowedRemoteAddresses",
                    format!("not an IP address: {s:?}"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
