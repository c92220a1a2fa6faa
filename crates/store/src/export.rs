//! Compliance export formats: trades as JSON lines or CSV (`fixvenue trades`, which replays the journal
//! read-only and writes each trade through [`TradeWriter`]). Trades are written one at a time as they come, so
//! memory stays bounded. JSON is written by serde_json, CSV by the csv crate (RFC 4180 quoting, `\n` between
//! records).
//!
//! It never reads or writes a data dir: the caller hands it the trades.

use std::fmt::Display;
use std::io::Write;

use chrono::{DateTime, SecondsFormat};
use serde::{Serialize, Serializer};

use crate::trades::{TradeRecord, TradeSide};
use engine::Side;

/// The CSV header row of [`TradeFormat::Csv`].
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

/// Which trades `fixvenue trades` prints ([`TradeFilter::matches`]).
#[derive(Debug, Clone, Default)]
pub struct TradeFilter {
    /// Only trades whose match sequence number is at least this.
    pub from_seq: u64,
    /// Only trades in this symbol.
    pub symbol: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The csv crate writes to the output itself: its errors are mostly the output's.
    #[error("writing the export as CSV")]
    Csv(#[from] csv::Error),
    #[error("encoding a record as JSON")]
    Json(#[from] serde_json::Error),
    #[error("writing the export")]
    Io(#[from] std::io::Error),
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
        let mut writer = TradeWriter::new(TradeFormat::Csv, &mut out).unwrap();
        for t in trades {
            writer.write(t).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), trades.len() as u64);
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
    fn the_filter_passes_trades_from_a_sequence_number_in_a_symbol() {
        let filter = TradeFilter {
            from_seq: 2,
            symbol: Some("A".into()),
        };
        let passed: Vec<u64> = [trade(1, "A"), trade(2, "B"), trade(3, "A")]
            .iter()
            .filter(|t| filter.matches(t))
            .map(|t| t.match_seq)
            .collect();
        assert_eq!(passed, vec![3]);
        assert!(TradeFilter::default().matches(&trade(1, "B")));
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
        // More than the csv writer's buffer, so that it writes (and fails) before its final flush.
        let trades: Vec<_> = (1..=100).map(|seq| trade(seq, "A")).collect();
        let write_all = |format| -> Result<u64, ExportError> {
            let mut out = Gone;
            let mut writer = TradeWriter::new(format, &mut out)?;
            for t in &trades {
                writer.write(t)?;
            }
            writer.finish()
        };
        for format in [TradeFormat::Json, TradeFormat::Csv] {
            let err = write_all(format).unwrap_err();
            assert!(err.is_broken_pipe(), "{format:?}: {err:?}");
        }
        let err = write_all(TradeFormat::Csv);
        assert!(matches!(err, Err(ExportError::Csv(_))), "{err:?}");
    }
}
