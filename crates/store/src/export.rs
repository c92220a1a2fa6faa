//! Compliance exports, read-only: the trade log as JSON lines or CSV (`fixvenue trades`) and the compliance
//! `fixlog` as FIX text or JSON lines (`fixvenue log`). Both stream record by record, so memory stays bounded
//! however large the store.
//!
//! They open the database like the venue does, so they run while the venue is stopped; a running venue holds
//! sled's lock and the export says so. They never create a data dir or a store that is not there, and never write
//! to the store.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat};

use crate::db::{DB_DIR, Db, OpenError};
use crate::sessions::{Direction, LogRecord, ReadError, SessionStore};
use crate::trades::{TradeLog, TradeReadError, TradeRecord};
use engine::Side;

/// The CSV header row of [`write_trades`].
pub const TRADES_CSV_HEADER: &str = "match_seq,match_n,time,symbol,price,qty,currency,aggressor,\
buy_order_id,buy_account,buy_session,buy_cl_ord_id,sell_order_id,sell_account,sell_session,sell_cl_ord_id";

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
    #[error("writing the export")]
    Io(#[from] std::io::Error),
}

impl ExportError {
    /// The reader went away (`fixvenue trades | head`): not a failure of the export.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ExportError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
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
    if format == TradeFormat::Csv {
        writeln!(out, "{TRADES_CSV_HEADER}")?;
    }
    let mut count = 0;
    let mut line = String::new();
    for trade in TradeLog::open(db)?.iter_from(filter.from_seq) {
        let trade = trade?;
        if filter.symbol.as_ref().is_some_and(|s| *s != trade.symbol) {
            continue;
        }
        line.clear();
        match format {
            TradeFormat::Json => trade_json(&trade, &mut line),
            TradeFormat::Csv => trade_csv(&trade, &mut line),
        }
        out.write_all(line.as_bytes())?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
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
        if session.is_some_and(|s| s != record.session) {
            continue;
        }
        line.clear();
        match format {
            LogFormat::Fix => log_fix(&record, soh, &mut line),
            LogFormat::Json => log_json(&record, soh, &mut line),
        }
        out.write_all(&line)?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
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

fn trade_json(t: &TradeRecord, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{{\"match_seq\":{},\"match_n\":{},\"time\":\"{}\",\"ts_ns\":{},\"symbol\":",
        t.match_seq,
        t.match_n,
        time_ns(t.ts_ns),
        t.ts_ns
    );
    json_string(&t.symbol, out);
    let _ = write!(
        out,
        ",\"price\":\"{}\",\"qty\":\"{}\",\"currency\":",
        t.price, t.qty
    );
    json_string(&t.currency, out);
    let _ = write!(out, ",\"aggressor\":\"{}\"", side_name(t.aggressor));
    for (name, side) in [("buy", &t.buy), ("sell", &t.sell)] {
        let _ = write!(
            out,
            ",\"{name}\":{{\"order_id\":{},\"account\":",
            side.order_id
        );
        json_string(&side.account, out);
        out.push_str(",\"session\":");
        json_string(&side.session, out);
        out.push_str(",\"cl_ord_id\":");
        json_string(&side.cl_ord_id, out);
        out.push('}');
    }
    out.push_str("}\n");
}

fn trade_csv(t: &TradeRecord, out: &mut String) {
    let fields = [
        t.match_seq.to_string(),
        t.match_n.to_string(),
        time_ns(t.ts_ns),
        t.symbol.clone(),
        t.price.to_string(),
        t.qty.to_string(),
        t.currency.clone(),
        side_name(t.aggressor).to_string(),
        t.buy.order_id.to_string(),
        t.buy.account.clone(),
        t.buy.session.clone(),
        t.buy.cl_ord_id.clone(),
        t.sell.order_id.to_string(),
        t.sell.account.clone(),
        t.sell.session.clone(),
        t.sell.cl_ord_id.clone(),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(field, out);
    }
    out.push('\n');
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

/// The frame becomes a JSON string: bytes that are not UTF-8 (possible only inside a DATA field) are replaced
/// by U+FFFD; use the `fix` format for the exact bytes.
fn log_json(r: &LogRecord, soh: bool, out: &mut Vec<u8>) {
    let mut s = format!(
        "{{\"direction\":\"{}\",\"time\":\"{}\",\"time_us\":{},\"session\":",
        direction_name(r.direction).to_ascii_lowercase(),
        time_us(r.time_us),
        r.time_us
    );
    json_string(&r.session, &mut s);
    s.push_str(",\"frame\":");
    let frame = String::from_utf8_lossy(&r.frame);
    if soh {
        json_string(&frame, &mut s);
    } else {
        json_string(&frame.replace('\u{1}', "|"), &mut s);
    }
    s.push_str("}\n");
    out.extend_from_slice(s.as_bytes());
}

/// A JSON string literal (RFC 8259 section 7): quote, backslash and control characters escaped.
fn json_string(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote or line break.
fn csv_field(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trades::TradeSide;

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
            },
            sell: TradeSide {
                order_id: seq,
                account: "B".into(),
                session: "S2".into(),
                cl_ord_id: "c\n2".into(),
            },
        }
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        let mut s = String::new();
        json_string("a\"b\\c\u{1}d\ne\u{1f}é", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\u0001d\\ne\\u001fé\"");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        csv_field("plain", &mut s);
        s.push(' ');
        csv_field("a,\"b\"", &mut s);
        assert_eq!(s, "plain \"a,\"\"b\"\"\"");
    }

    #[test]
    fn a_trade_as_json_and_csv() {
        let mut json = String::new();
        trade_json(&trade(7, "EURUSD"), &mut json);
        assert_eq!(
            json,
            "{\"match_seq\":7,\"match_n\":0,\"time\":\"2023-11-14T22:13:20.123456789Z\",\
             \"ts_ns\":1700000000123456789,\"symbol\":\"EURUSD\",\"price\":\"101.25\",\"qty\":\"10\",\
             \"currency\":\"USD\",\"aggressor\":\"sell\",\"buy\":{\"order_id\":3,\"account\":\"ACC,1\",\
             \"session\":\"FIX.4.4:FIXVENUE->CLIENT1\",\"cl_ord_id\":\"say \\\"hi\\\"\"},\
             \"sell\":{\"order_id\":7,\"account\":\"B\",\"session\":\"S2\",\"cl_ord_id\":\"c\\n2\"}}\n"
        );
        let mut csv = String::new();
        trade_csv(&trade(7, "EURUSD"), &mut csv);
        assert_eq!(
            csv,
            "7,0,2023-11-14T22:13:20.123456789Z,EURUSD,101.25,10,USD,sell,3,\"ACC,1\",\
             FIX.4.4:FIXVENUE->CLIENT1,\"say \"\"hi\"\"\",7,B,S2,\"c\n2\"\n"
        );
        assert_eq!(TRADES_CSV_HEADER.split(',').count(), 16);
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
        log_json(&r, false, &mut json);
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
        let record = |session: &str| LogRecord {
            direction: Direction::Out,
            time_us: 5,
            session: session.into(),
            frame: b"x".to_vec(),
        };
        let writes = crate::sessions::Writes {
            log: vec![record("S1"), record("S2"), record("S1")],
            ..Default::default()
        };
        SessionStore::open(&db)
            .unwrap()
            .commit("S1", &writes)
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
