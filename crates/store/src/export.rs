//! Compliance exports, read-only: the trade log as JSON lines or CSV (`fixvenue trades`) and the compliance
//! `fixlog` as FIX text or JSON lines (`fixvenue log`). Both stream record by record, so memory stays bounded
//! however large the store. JSON is written by serde_json, CSV by the csv crate (RFC 4180 quoting, `\n` between
//! records).
//!
//! They open the database like the venue does, so they run while the venue is stopped; a running venue holds
//! sled's lock and the export says so. They never create a data dir or a store that is not there, and never write
//! to the store.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat};
use serde::{Serialize, Serializer};

use crate::db::{DB_DIR, Db, OpenError};
use crate::sessions::{Direction, LogRecord, ReadError, SessionStore};
use crate::trades::{TradeLog, TradeReadError, TradeRecord, TradeSide};
use engine::Side;

/// The CSV header row of [`write_trades`].
pub const TRADES_CSV_HEADER: &str = "match_seq,match_n,time,symbol,price,qty,currency,aggressor,\
buy_order_id,buy_account,buy_session,buy_cl_ord_id,buy_exec_id,sell_order_id,sell_account,sell_session,\
sell_cl_ord_id,sell_exec_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeFormat {
    /// One JSON object per line; prices and quantities are strings, so no reader rounds them.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `IN|OUT time session frame`, one message per line.
    Fix,
    /// One JSON object per line.
    Json,
}

/// Which trades [`write_trades`] prints.
#[derive(Debug, Clone, Default)]
pub struct TradeFilter {
    /// Only trades whose match sequence number is at least this.
    pub from_seq: u64,
    /// Only trades in this symbol.
    pub symbol: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no data dir at {0}")]
    NoDataDir(PathBuf),
    #[error("no session store at {0} (has a venue run with this data dir?)")]
    NoStore(PathBuf),
    #[error(
        "the session store at {path} is locked, most likely by a running venue; stop it or export from a copy"
    )]
    Locked { path: PathBuf, source: OpenError },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Log(#[from] ReadError),
    #[error(transparent)]
    Trades(#[from] TradeReadError),
    /// The csv crate writes to the output itself: its errors are mostly the output's.
    #[error("writing the export as CSV")]
    Csv(#[from] csv::Error),
    #[error("encoding a record as JSON")]
    Json(#[from] serde_json::Error),
    #[error("writing the export")]
    Io(#[from] std::io::Error),
    /// `--session` named neither a session id nor a client CompID found in the log.
    #[error(
        "no session in the log matches {0:?} (give a session id such as FIX.4.4:FIXVENUE->CLIENT1 or a client CompID such as CLIENT1)"
    )]
    NoSuchSession(String),
}

impl ExportError {
    /// The reader went away (`fixvenue trades | head`): not a failure of the export.
    pub fn is_broken_pipe(&self) -> bool {
        let broken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
        match self {
            ExportError::Io(e) => broken(e),
            ExportError::Csv(e) => matches!(e.kind(), csv::ErrorKind::Io(e) if broken(e)),
            _ => false,
        }
    }
}

/// Opens the database of an existing data dir for reading; never creates one.
pub fn open_store(data_dir: &Path) -> Result<Db, ExportError> {
    if !data_dir.is_dir() {
        return Err(ExportError::NoDataDir(data_dir.to_path_buf()));
    }
    let path = data_dir.join(DB_DIR);
    if !path.is_dir() {
        return Err(ExportError::NoStore(path));
    }
    Db::open(data_dir).map_err(|e| match e {
        OpenError::Locked { .. } => ExportError::Locked { path, source: e },
        e => ExportError::Open(e),
    })
}

/// Prints the trades that pass `filter`, in match id order, one per line; returns how many.
pub fn write_trades(
    db: &Db,
    filter: &TradeFilter,
    format: TradeFormat,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let trades = TradeLog::open(db)?
        .iter_from(filter.from_seq)
        .filter(|t| t.as_ref().map_or(true, |t| filter.matches(t)));
    let count = match format {
        TradeFormat::Json => trades_json(trades, out)?,
        TradeFormat::Csv => trades_csv(trades, out)?,
    };
    out.flush()?;
    Ok(count)
}

fn trades_json(
    trades: impl Iterator<Item = Result<TradeRecord, TradeReadError>>,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut writer = TradeWriter::new(TradeFormat::Json, out)?;
    for trade in trades {
        writer.write(&trade?)?;
    }
    writer.finish()
}

fn trades_csv(
    trades: impl Iterator<Item = Result<TradeRecord, TradeReadError>>,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut writer = TradeWriter::new(TradeFormat::Csv, out)?;
    for trade in trades {
        writer.write(&trade?)?;
    }
    writer.finish()
}

/// Writes trades one at a time as they come (from the trade log, or from a replay of the journal), so memory
/// stays bounded: JSON lines, or CSV with its header row first (written even when no trade follows).
pub struct TradeWriter<'a> {
    sink: TradeSink<'a>,
    count: u64,
}

enum TradeSink<'a> {
    Json {
        out: &'a mut dyn Write,
        line: Vec<u8>,
    },
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
}

impl<'a> TradeWriter<'a> {
    pub fn new(
        format: TradeFormat,
        out: &'a mut dyn Write,
    ) -> Result<TradeWriter<'a>, ExportError> {
        let sink = match format {
            TradeFormat::Json => TradeSink::Json {
                out,
                line: Vec::new(),
            },
            TradeFormat::Csv => {
                // The header is written by hand, so it is there even when no trade follows.
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                csv.write_record(TRADES_CSV_HEADER.split(','))?;
                TradeSink::Csv(Box::new(csv))
            }
        };
        Ok(TradeWriter { sink, count: 0 })
    }

    pub fn write(&mut self, trade: &TradeRecord) -> Result<(), ExportError> {
        match &mut self.sink {
            TradeSink::Json { out, line } => {
                line.clear();
                trade_json(trade, line)?;
                out.write_all(line)?;
            }
            TradeSink::Csv(csv) => csv.serialize(CsvTrade::new(trade))?,
        }
        self.count += 1;
        Ok(())
    }

    /// Flushes what is written; returns how many trades.
    pub fn finish(self) -> Result<u64, ExportError> {
        match self.sink {
            TradeSink::Json { out, .. } => out.flush()?,
            TradeSink::Csv(mut csv) => csv.flush()?,
        }
        Ok(self.count)
    }
}

impl TradeFilter {
    /// Whether `trade` passes.
    pub fn matches(&self, trade: &TradeRecord) -> bool {
        trade.match_seq >= self.from_seq && self.symbol.as_ref().is_none_or(|s| trade.symbol == *s)
    }
}

/// Prints the compliance log (of one session, or all), oldest first, one message per line; returns how many.
/// `soh` keeps the frame's SOH bytes; otherwise each is written as `|`.
pub fn write_log(
    db: &Db,
    session: Option<&str>,
    format: LogFormat,
    soh: bool,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut count = 0;
    let mut line = Vec::new();
    for record in SessionStore::open(db)?.log_iter() {
        let record = record?;
        if session.is_some_and(|s| !session_matches(s, &record.session)) {
            continue;
        }
        line.clear();
        match format {
            LogFormat::Fix => log_fix(&record, soh, &mut line),
            LogFormat::Json => log_json(&record, soh, &mut line)?,
        }
        out.write_all(&line)?;
        count += 1;
    }
    out.flush()?;
    match session {
        Some(filter) if count == 0 => Err(ExportError::NoSuchSession(filter.to_string())),
        _ => Ok(count),
    }
}

/// Whether a `--session` filter names this session: its full id (`FIX.4.4:FIXVENUE->CLIENT1`) or the client's
/// CompID (`CLIENT1`, the part after `->`).
fn session_matches(filter: &str, session: &str) -> bool {
    filter == session
        || session
            .rsplit_once("->")
            .is_some_and(|(_, client)| client == filter)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// RFC 3339 UTC with nanoseconds.
fn time_ns(ts_ns: i64) -> String {
    DateTime::from_timestamp_nanos(ts_ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// RFC 3339 UTC with microseconds; a time chrono cannot represent is printed as the raw count.
fn time_us(time_us: i64) -> String {
    DateTime::from_timestamp_micros(time_us).map_or_else(
        || format!("{time_us}us"),
        |t| t.to_rfc3339_opts(SecondsFormat::Micros, true),
    )
}

/// A value written as its `Display` text: a JSON string, a CSV field.
fn as_text<T: Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// One line of `fixvenue trades --format json`, fields in this order.
#[derive(Serialize)]
struct JsonTrade<'a> {
    match_seq: u64,
    match_n: u32,
    time: String,
    ts_ns: i64,
    symbol: &'a str,
    #[serde(serialize_with = "as_text")]
    price: rust_decimal::Decimal,
    #[serde(serialize_with = "as_text")]
    qty: rust_decimal::Decimal,
    currency: &'a str,
    aggressor: &'static str,
    buy: JsonSide<'a>,
    sell: JsonSide<'a>,
}

#[derive(Serialize)]
struct JsonSide<'a> {
    order_id: u64,
    account: &'a str,
    session: &'a str,
    cl_ord_id: &'a str,
    exec_id: &'a str,
}

impl<'a> JsonSide<'a> {
    fn new(side: &'a TradeSide) -> Self {
        JsonSide {
            order_id: side.order_id,
            account: &side.account,
            session: &side.session,
            cl_ord_id: &side.cl_ord_id,
            exec_id: &side.exec_id,
        }
    }
}

fn trade_json(t: &TradeRecord, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let json = JsonTrade {
        match_seq: t.match_seq,
        match_n: t.match_n,
        time: time_ns(t.ts_ns),
        ts_ns: t.ts_ns,
        symbol: &t.symbol,
        price: t.price,
        qty: t.qty,
        currency: &t.currency,
        aggressor: side_name(t.aggressor),
        buy: JsonSide::new(&t.buy),
        sell: JsonSide::new(&t.sell),
    };
    serde_json::to_writer(&mut *out, &json)?;
    out.push(b'\n');
    Ok(())
}

/// One row of `fixvenue trades --format csv`: the columns of [`TRADES_CSV_HEADER`], in its order.
#[derive(Serialize)]
struct CsvTrade<'a> {
    match_seq: u64,
    match_n: u32,
    time: String,
    symbol: &'a str,
    #[serde(serialize_with = "as_text")]
    price: rust_decimal::Decimal,
    #[serde(serialize_with = "as_text")]
    qty: rust_decimal::Decimal,
    currency: &'a str,
    aggressor: &'static str,
    buy_order_id: u64,
    buy_account: &'a str,
    buy_session: &'a str,
    buy_cl_ord_id: &'a str,
    buy_exec_id: &'a str,
    sell_order_id: u64,
    sell_account: &'a str,
    sell_session: &'a str,
    sell_cl_ord_id: &'a str,
    sell_exec_id: &'a str,
}

impl<'a> CsvTrade<'a> {
    fn new(t: &'a TradeRecord) -> Self {
        CsvTrade {
            match_seq: t.match_seq,
            match_n: t.match_n,
            time: time_ns(t.ts_ns),
            symbol: &t.symbol,
            price: t.price,
            qty: t.qty,
            currency: &t.currency,
            aggressor: side_name(t.aggressor),
            buy_order_id: t.buy.order_id,
            buy_account: &t.buy.account,
            buy_session: &t.buy.session,
            buy_cl_ord_id: &t.buy.cl_ord_id,
            buy_exec_id: &t.buy.exec_id,
            sell_order_id: t.sell.order_id,
            sell_account: &t.sell.account,
            sell_session: &t.sell.session,
            sell_cl_ord_id: &t.sell.cl_ord_id,
            sell_exec_id: &t.sell.exec_id,
        }
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::In => "IN",
        Direction::Out => "OUT",
    }
}

fn log_fix(r: &LogRecord, soh: bool, out: &mut Vec<u8>) {
    let head = format!(
        "{} {} {} ",
        direction_name(r.direction),
        time_us(r.time_us),
        r.session
    );
    out.extend_from_slice(head.as_bytes());
    out.extend(
        r.frame
            .iter()
            .map(|&b| if b == 1 && !soh { b'|' } else { b }),
    );
    out.push(b'\n');
}

/// One line of `fixvenue log --format json`, fields in this order.
#[derive(Serialize)]
struct JsonLog<'a> {
    direction: &'static str,
    time: String,
    time_us: i64,
    session: &'a str,
    frame: Cow<'a, str>,
}

/// The frame becomes a JSON string: bytes that are not UTF-8 (possible only inside a DATA field) are replaced
/// by U+FFFD; use the `fix` format for the exact bytes.
fn log_json(r: &LogRecord, soh: bool, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let frame = String::from_utf8_lossy(&r.frame);
    let json = JsonLog {
        direction: match r.direction {
            Direction::In => "in",
            Direction::Out => "out",
        },
        time: time_us(r.time_us),
        time_us: r.time_us,
        session: &r.session,
        frame: if soh {
            frame
        } else {
            Cow::Owned(frame.replace('\u{1}', "|"))
        },
    };
    serde_json::to_writer(&mut *out, &json)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(seq: u64, symbol: &str) -> TradeRecord {
        TradeRecord {
            match_seq: seq,
            match_n: 0,
            ts_ns: 1_700_000_000_123_456_789,
            symbol: symbol.into(),
            price: "101.25".parse().unwrap(),
            qty: "10".parse().unwrap(),
            currency: "USD".into(),
            aggressor: Side::Sell,
            buy: TradeSide {
                order_id: 3,
                account: "ACC,1".into(),
                session: "FIX.4.4:FIXVENUE->CLIENT1".into(),
                cl_ord_id: "say \"hi\"".into(),
                exec_id: "7.1".into(),
            },
            sell: TradeSide {
                order_id: seq,
                account: "B".into(),
                session: "S2".into(),
                cl_ord_id: "c\n2".into(),
                exec_id: "7.2".into(),
            },
        }
    }

    fn json(t: &TradeRecord) -> String {
        let mut out = Vec::new();
        trade_json(t, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn csv(trades: &[TradeRecord]) -> String {
        let mut out = Vec::new();
        let count = trades_csv(trades.iter().cloned().map(Ok), &mut out).unwrap();
        assert_eq!(count, trades.len() as u64);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_trade_as_json_and_csv() {
        assert_eq!(
            json(&trade(7, "EURUSD")),
            "{\"match_seq\":7,\"match_n\":0,\"time\":\"2023-11-14T22:13:20.123456789Z\",\
             \"ts_ns\":1700000000123456789,\"symbol\":\"EURUSD\",\"price\":\"101.25\",\"qty\":\"10\",\
             \"currency\":\"USD\",\"aggressor\":\"sell\",\"buy\":{\"order_id\":3,\"account\":\"ACC,1\",\
             \"session\":\"FIX.4.4:FIXVENUE->CLIENT1\",\"cl_ord_id\":\"say \\\"hi\\\"\",\"exec_id\":\"7.1\"},\
             \"sell\":{\"order_id\":7,\"account\":\"B\",\"session\":\"S2\",\"cl_ord_id\":\"c\\n2\",\"exec_id\":\"7.2\"}}\n"
        );
        assert_eq!(
            csv(&[trade(7, "EURUSD")]),
            format!(
                "{TRADES_CSV_HEADER}\n7,0,2023-11-14T22:13:20.123456789Z,EURUSD,101.25,10,USD,sell,3,\"ACC,1\",\
                 FIX.4.4:FIXVENUE->CLIENT1,\"say \"\"hi\"\"\",7.1,7,B,S2,\"c\n2\",7.2\n"
            )
        );
        assert_eq!(TRADES_CSV_HEADER.split(',').count(), 18);
        assert_eq!(csv(&[]), format!("{TRADES_CSV_HEADER}\n"));
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        let mut t = trade(1, "EURUSD");
        t.buy.cl_ord_id = "a\"b\\c\u{1}d\ne\u{8}\u{c}\r\t\u{1f}\u{7f}é/".into();
        // serde_json's short forms for backspace and form feed (\b, \f); the other control characters as \u00xx.
        let expected = "\"cl_ord_id\":\"a\\\"b\\\\c\\u0001d\\ne\\b\\f\\r\\t\\u001f\u{7f}é/\",";
        let json = json(&t);
        assert!(json.contains(expected), "{json}");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut t = trade(1, "EURUSD");
        t.buy.account = "plain".into();
        t.buy.session = "a,\"b\"".into();
        t.buy.cl_ord_id = "cr\rhere".into();
        t.sell.account = " spaced ".into();
        t.sell.cl_ord_id = String::new();
        let row = csv(&[t]).lines().nth(1).unwrap().to_string();
        assert!(
            row.ends_with(",3,plain,\"a,\"\"b\"\"\",\"cr\rhere\",7.1,1, spaced ,S2,,7.2"),
            "{row}"
        );
    }

    #[test]
    fn a_log_record_as_fix_text_and_json() {
        let r = LogRecord {
            direction: Direction::In,
            time_us: 1_700_000_000_000_001,
            session: "S".into(),
            frame: b"8=FIX.4.4\x0135=0\x01".to_vec(),
        };
        let mut fix = Vec::new();
        log_fix(&r, false, &mut fix);
        assert_eq!(fix, b"IN 2023-11-14T22:13:20.000001Z S 8=FIX.4.4|35=0|\n");
        fix.clear();
        log_fix(&r, true, &mut fix);
        assert_eq!(
            fix,
            b"IN 2023-11-14T22:13:20.000001Z S 8=FIX.4.4\x0135=0\x01\n"
        );
        let mut json = Vec::new();
        log_json(&r, false, &mut json).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"direction\":\"in\",\"time\":\"2023-11-14T22:13:20.000001Z\",\"time_us\":1700000000000001,\
             \"session\":\"S\",\"frame\":\"8=FIX.4.4|35=0|\"}\n"
        );
    }

    #[test]
    fn exports_filter_by_sequence_symbol_and_session() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let log = TradeLog::open(&db).unwrap();
        log.append(&[trade(1, "A"), trade(2, "B"), trade(3, "A")])
            .unwrap();
        let filter = TradeFilter {
            from_seq: 2,
            symbol: Some("A".into()),
        };
        let mut out = Vec::new();
        assert_eq!(
            write_trades(&db, &filter, TradeFormat::Csv, &mut out).unwrap(),
            1
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(TRADES_CSV_HEADER));
        assert!(text.contains("\n3,0,"));
        let record = |session: &str| {
            journal::session_log::Record::Sent(journal::session_log::Message {
                session_id: session.into(),
                msg_seq_num: 1,
                ts_ns: 5_000,
                bytes: b"x".to_vec(),
            })
        };
        SessionStore::open(&db)
            .unwrap()
            .index(1, &[record("S1"), record("S2"), record("S1")])
            .unwrap();
        let mut out = Vec::new();
        assert_eq!(
            write_log(&db, Some("S1"), LogFormat::Fix, false, &mut out).unwrap(),
            2
        );
        assert_eq!(
            write_log(&db, None, LogFormat::Json, false, &mut Vec::new()).unwrap(),
            3
        );
    }

    /// An output whose reader went away.
    struct Gone;

    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_reader_gone_away_is_a_broken_pipe_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        // More than the csv writer's buffer, so that it writes (and fails) before its final flush.
        let trades: Vec<_> = (1..=100).map(|seq| trade(seq, "A")).collect();
        TradeLog::open(&db).unwrap().append(&trades).unwrap();
        for format in [TradeFormat::Json, TradeFormat::Csv] {
            let err = write_trades(&db, &TradeFilter::default(), format, &mut Gone).unwrap_err();
            assert!(err.is_broken_pipe(), "{format:?}: {err:?}");
        }
        let err = write_trades(&db, &TradeFilter::default(), TradeFormat::Csv, &mut Gone);
        assert!(matches!(err, Err(ExportError::Csv(_))), "{err:?}");
    }

    #[test]
    fn a_missing_data_dir_or_store_is_named_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            open_store(&missing),
            Err(ExportError::NoDataDir(_))
        ));
        assert!(!missing.exists());
        assert!(matches!(
            open_store(dir.path()),
            Err(ExportError::NoStore(_))
        ));
        assert!(!dir.path().join("sessions").exists());
    }
}
