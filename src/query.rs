//! Compliance queries over the append-only logs, read-only: `fixvenue log` (the session log's messages, filtered
//! on their parsed fields), `fixvenue order` ([`order`]: one order's whole story) and `fixvenue trades` (the
//! trades of a read-only replay of the journal, [`crate::replay`], as the trade log records them). They read the session log
//! and the journal files directly ([`journal::session_log::reader`], [`journal::journal::reader`]), never sled,
//! so they work while the venue runs (the end is what is written at that moment) and on an archived data dir.
//!
//! Filters match fields of the message as the `fix` crate's decoder parses it (MsgType 35, ClOrdID 11,
//! OrigClOrdID 41, OrderID 37, Account 1), never substrings of the raw bytes. A logged message that does not
//! decode (a garbled message the venue refused) passes only the filters that need no field (time, session).
//!
//! It must never: write to a data dir, create one, or hold more than one record (and one order's story) in
//! memory at a time.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat};
use fix::Dictionary;
use fix::decode::Decoder;
use fix::tags;
use journal::session_log::Record;
use journal::session_log::reader::SessionLogReader;
use journal::wal::reader::ReadError;

pub mod order;

/// The most bytes of a value given to a field filter (`--clordid`, ...): FIX values this venue accepts are far
/// shorter.
pub const FILTER_VALUE_BYTES_MAX: usize = 256;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no data dir at {0}")]
    NoDataDir(PathBuf),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("writing the output")]
    Io(#[from] std::io::Error),
    #[error("encoding a record as JSON")]
    Json(#[from] serde_json::Error),
    /// `--session` named neither a session id nor a client CompID found in the log.
    #[error(
        "no session in the log matches {0:?} (give a session id such as FIX.4.4:FIXVENUE->CLIENT1 or a client CompID such as CLIENT1)"
    )]
    NoSuchSession(String),
    #[error("no order {0} in the session log or the journal")]
    UnknownOrder(u64),
    #[error("data dictionary: {0}")]
    Dictionary(String),
    #[error(transparent)]
    Replay(#[from] crate::replay::ReplayError),
    #[error(transparent)]
    Export(#[from] store::export::ExportError),
}

impl QueryError {
    /// The reader went away (`fixvenue log | head`): not a failure of the query.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            QueryError::Io(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            QueryError::Export(e) => e.is_broken_pipe(),
            _ => false,
        }
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "IN",
            Direction::Out => "OUT",
        }
    }
}

/// One message of the session log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The record's index in the session log.
    pub index: u64,
    pub direction: Direction,
    pub session: String,
    pub msg_seq_num: u64,
    /// Nanoseconds since the Unix epoch, UTC: when its last byte was read (IN) or when it was framed and queued
    /// for the socket (OUT).
    pub ts_ns: i64,
    pub bytes: Vec<u8>,
}

impl Logged {
    /// The message of a record; `None` for a sequence-number record.
    pub fn of(index: u64, record: Record) -> Option<Logged> {
        let (direction, message) = match record {
            Record::Incoming(message) => (Direction::In, message),
            Record::Outgoing(message) | Record::Sent(message) => (Direction::Out, message),
            Record::SeqNums(_) | Record::Reset(_) => return None,
        };
        Some(Logged {
            index,
            direction,
            session: message.session_id,
            msg_seq_num: message.msg_seq_num,
            ts_ns: message.ts_ns,
            bytes: message.bytes,
        })
    }
}

/// Every message of the session log under `data_dir`, in the order logged.
pub fn messages(
    data_dir: &Path,
) -> Result<impl Iterator<Item = Result<Logged, ReadError>>, QueryError> {
    if !data_dir.is_dir() {
        return Err(QueryError::NoDataDir(data_dir.to_path_buf()));
    }
    let reader = SessionLogReader::open(&crate::indexer::session_log_dir(data_dir))?;
    Ok(reader.filter_map(|item| match item {
        Ok((index, record)) => Logged::of(index, record).map(Ok),
        Err(e) => Some(Err(e)),
    }))
}

/// The filters of `fixvenue log`; every one given must match (and).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only messages stamped at or after this (nanoseconds since the Unix epoch).
    pub from_ns: Option<i64>,
    /// Only messages stamped before this.
    pub to_ns: Option<i64>,
    /// A session id (`FIX.4.4:FIXVENUE->CLIENT1`) or a client CompID (`CLIENT1`).
    pub session: Option<String>,
    /// MsgType (35).
    pub msg_type: Option<String>,
    /// ClOrdID (11) or OrigClOrdID (41).
    pub cl_ord_id: Option<String>,
    /// OrderID (37).
    pub order_id: Option<String>,
    /// Account (1).
    pub account: Option<String>,
}

/// `--from`/`--to`: RFC 3339 (`2026-11-30T06:38:28.5Z`, any offset) or FIX UTCTimestamp (`20261130-06:38:28.500`,
/// UTC, with 0, 3, 6 or 9 fraction digits) to nanoseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let time = DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| fix::types::parse_utc_timestamp(text.as_bytes()));
    let Some(time) = time else {
        return Err(format!(
            "{text:?} is not a time: give RFC 3339 (2026-11-30T06:38:28.5Z) or a FIX UTCTimestamp \
             (20261130-06:38:28.500, UTC)"
        ));
    };
    time.timestamp_nanos_opt()
        .ok_or_else(|| format!("{text:?} is outside the years 1677 to 2262"))
}

/// `--msg-type`: a MsgType the FIX 4.4 dictionary knows (`8`, `D`, `AE`).
pub fn parse_msg_type(text: &str) -> Result<String, String> {
    let dict = Dictionary::fix44().map_err(|e| format!("data dictionary: {e}"))?;
    if dict.is_known_msg_type(text.as_bytes()) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a FIX 4.4 MsgType (35): give one such as 8 (ExecutionReport), D (NewOrderSingle), \
             F, G, 9, A"
        ))
    }
}

/// `--clordid`, `--order-id`, `--account`, `--session`: a FIX value: printable ASCII (no SOH), not empty, at most
/// [`FILTER_VALUE_BYTES_MAX`] bytes.
pub fn parse_value(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty value matches nothing: give the value to look for".into());
    }
    if text.len() > FILTER_VALUE_BYTES_MAX {
        return Err(format!(
            "a value of {} bytes; the most is {FILTER_VALUE_BYTES_MAX}",
            text.len()
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(format!(
            "{text:?} holds a byte no FIX value here holds (only printable ASCII)"
        ));
    }
    Ok(text.to_string())
}

/// Whether a `--session` filter names this session: its full id (`FIX.4.4:FIXVENUE->CLIENT1`) or the client's
/// CompID (`CLIENT1`, the part after `->`).
pub fn session_matches(filter: &str, session: &str) -> bool {
    filter == session
        || session
            .rsplit_once("->")
            .is_some_and(|(_, client)| client == filter)
}

/// The fields the filters look at, as the decoder parsed them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub msg_type: Option<String>,
    pub cl_ord_id: Option<String>,
    pub orig_cl_ord_id: Option<String>,
    pub order_id: Option<String>,
    pub account: Option<String>,
}

impl Fields {
    /// The fields of a frame; all `None` for a frame that does not decode.
    pub fn of(decoder: &mut Decoder, dict: &Dictionary, frame: &[u8]) -> Fields {
        let Ok(message) = decoder.decode(dict, frame) else {
            return Fields::default();
        };
        let text = |tag| {
            message
                .get(tag)
                .map(|v| String::from_utf8_lossy(v.bytes).into_owned())
        };
        Fields {
            msg_type: Some(String::from_utf8_lossy(message.msg_type()).into_owned()),
            cl_ord_id: text(tags::CL_ORD_ID),
            orig_cl_ord_id: text(tags::ORIG_CL_ORD_ID),
            order_id: text(tags::ORDER_ID),
            account: text(tags::ACCOUNT),
        }
    }
}

impl LogFilter {
    /// Whether any filter needs the message's fields.
    fn needs_fields(&self) -> bool {
        self.msg_type.is_some()
            || self.cl_ord_id.is_some()
            || self.order_id.is_some()
            || self.account.is_some()
    }

    /// Whether the message's session, time and (when any filter needs them) fields pass.
    pub fn matches(&self, logged: &Logged, fields: impl FnOnce() -> Fields) -> bool {
        if self
            .session
            .as_deref()
            .is_some_and(|s| !session_matches(s, &logged.session))
            || self.from_ns.is_some_and(|from| logged.ts_ns < from)
            || self.to_ns.is_some_and(|to| logged.ts_ns >= to)
        {
            return false;
        }
        if !self.needs_fields() {
            return true;
        }
        let fields = fields();
        let is = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        is(&self.msg_type, &fields.msg_type)
            && is(&self.order_id, &fields.order_id)
            && is(&self.account, &fields.account)
            && self.cl_ord_id.as_ref().is_none_or(|c| {
                fields.cl_ord_id.as_ref() == Some(c) || fields.orig_cl_ord_id.as_ref() == Some(c)
            })
    }
}

/// How a message is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `time IN|OUT session MsgSeqNum message`, one message per line, SOH as `|` (or kept).
    Fix,
    /// One JSON object per line.
    Json,
}

/// RFC 3339 UTC with nanoseconds.
pub fn time_text(ts_ns: i64) -> String {
    DateTime::from_timestamp_nanos(ts_ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// One line of `fixvenue log --format json`, fields in this order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    time: String,
    ts_ns: i64,
    direction: &'static str,
    session: &'a str,
    msg_seq_num: u64,
    message: String,
}

/// Appends one message's line to `out`; `soh` keeps the frame's SOH bytes, otherwise each is written as `|`.
pub fn write_line(
    logged: &Logged,
    format: LogFormat,
    soh: bool,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let frame = logged
        .bytes
        .iter()
        .map(|&b| if b == 1 && !soh { b'|' } else { b });
    match format {
        LogFormat::Fix => {
            let head = format!(
                "{} {} {} {} ",
                time_text(logged.ts_ns),
                logged.direction.name(),
                logged.session,
                logged.msg_seq_num
            );
            out.extend_from_slice(head.as_bytes());
            out.extend(frame);
        }
        LogFormat::Json => {
            // Bytes that are not UTF-8 (possible only inside a DATA field) become U+FFFD; the fix format keeps
            // the exact bytes.
            let line = JsonLine {
                time: time_text(logged.ts_ns),
                ts_ns: logged.ts_ns,
                direction: logged.direction.name(),
                session: &logged.session,
                msg_seq_num: logged.msg_seq_num,
                message: String::from_utf8_lossy(&frame.collect::<Vec<u8>>()).into_owned(),
            };
            serde_json::to_writer(&mut *out, &line)?;
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `fixvenue log`: every message of the session log under `data_dir` that passes `filter`, in the order logged
/// (each session's messages in time order), one per line; returns how many.
pub fn write_log(
    data_dir: &Path,
    filter: &LogFilter,
    format: LogFormat,
    soh: bool,
    out: &mut dyn Write,
) -> Result<u64, QueryError> {
    let dict = Dictionary::fix44().map_err(|e| QueryError::Dictionary(e.to_string()))?;
    let mut decoder = Decoder::new();
    let (mut count, mut session_seen) = (0, false);
    let mut line = Vec::new();
    for logged in messages(data_dir)? {
        let logged = logged?;
        if filter
            .session
            .as_deref()
            .is_some_and(|s| session_matches(s, &logged.session))
        {
            session_seen = true;
        }
        if !filter.matches(&logged, || Fields::of(&mut decoder, &dict, &logged.bytes)) {
            continue;
        }
        line.clear();
        write_line(&logged, format, soh, &mut line)?;
        out.write_all(&line)?;
        count += 1;
    }
    out.flush()?;
    match &filter.session {
        Some(session) if !session_seen => Err(QueryError::NoSuchSession(session.clone())),
        _ => Ok(count),
    }
}

/// `fixvenue trades`: the trades that pass `filter`, in match order, from a read-only replay of the journal under
/// `data_dir` with the configuration the venue ran with; returns how many. Works while the venue runs (up to what
/// the journal holds at that moment).
pub fn write_trades(
    data_dir: &Path,
    config: &crate::replay::ReplayConfig,
    filter: &store::export::TradeFilter,
    format: store::export::TradeFormat,
    out: &mut dyn Write,
) -> Result<u64, QueryError> {
    if !data_dir.is_dir() {
        return Err(QueryError::NoDataDir(data_dir.to_path_buf()));
    }
    let mut writer = store::export::TradeWriter::new(format, out)?;
    let mut failed = None;
    crate::replay::replay(&crate::runtime::journal_dir(data_dir), config, |replayed| {
        for trade in replayed.trades.iter().filter(|t| filter.matches(t)) {
            if let Err(e) = writer.write(trade) {
                failed = Some(e);
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(writer.finish()?)
}

#[cfg(test)]
mod tests;
