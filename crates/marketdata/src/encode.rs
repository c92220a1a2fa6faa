//! The messages written, pure: MarketDataSnapshotFullRefresh (W), MarketDataIncrementalRefresh (X),
//! MarketDataRequestReject (Y), SecurityList (y), SecurityStatus (f), TradingSessionStatus (h). Every entry is
//! written in the order of the dictionary's group, so the stock FIX 4.4 dictionary validates it; RptSeq (83),
//! MinPriceIncrement (969) and MaxTradeVol (1140) are written only for a session with VenueExtensions=Y.

use bytes::BytesMut;
use rust_decimal::Decimal;

use engine::{InstrumentSpec, OrderId, TradingStatus};
use fix::encode::FieldWriter;
use fix::types::{TimePrecision, UTC_TIMESTAMP_BYTES_MAX, format_utc_timestamp};
use session::Routing;
use session::app::AppMessage;

use crate::tags::{self, RejectReason, msg_type};

/// How a session wants its messages written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub time_precision: TimePrecision,
    /// RptSeq in W and X, MinPriceIncrement and MaxTradeVol in SecurityList.
    pub venue_extensions: bool,
}

/// What one entry's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A price level: price, visible quantity, number of orders.
    Level {
        price_ticks: i64,
        lots: i64,
        orders: u32,
    },
    /// One order: price, visible quantity, OrderID, position on its side.
    Order {
        price_ticks: i64,
        lots: i64,
        order_id: OrderId,
        position: u32,
    },
    /// A trade.
    Trade {
        price_ticks: i64,
        lots: i64,
        ts_ns: i64,
    },
    /// A statistic that is a price (opening, high, low).
    Price(i64),
    /// VWAP, already a decimal price.
    Vwap(Decimal),
    /// Traded volume.
    Volume(i64),
}

/// One entry of a W or X.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// MDUpdateAction (279); ignored in a snapshot.
    pub action: u8,
    pub entry_type: u8,
    pub instrument: u32,
    pub rpt_seq: u64,
    pub value: Value,
    /// MDEntryTime of a book entry in an increment: the time of the command that made the change.
    pub ts_ns: Option<i64>,
}

/// Writes the fields of an entry after its MDEntryType (and, in X, the instrument and RptSeq).
fn put_value(
    w: &mut FieldWriter<'_>,
    spec: &InstrumentSpec,
    entry: &Entry,
    delete: bool,
    style: Style,
) {
    let time = |w: &mut FieldWriter<'_>| {
        if let Some(ts_ns) = entry.ts_ns {
            put_time_only(w, tags::MD_ENTRY_TIME, ts_ns, style.time_precision);
        }
    };
    match entry.value {
        Value::Level {
            price_ticks,
            lots,
            orders,
        } => {
            w.put_decimal(tags::MD_ENTRY_PX, spec.ticks_to_price(price_ticks));
            if !delete {
                w.put_decimal(tags::MD_ENTRY_SIZE, spec.lots_to_qty(lots));
            }
            time(w);
            if !delete {
                w.put_u64(tags::NUMBER_OF_ORDERS, u64::from(orders));
            }
        }
        Value::Order {
            price_ticks,
            lots,
            order_id,
            position,
        } => {
            w.put_decimal(tags::MD_ENTRY_PX, spec.ticks_to_price(price_ticks));
            if !delete {
                w.put_decimal(tags::MD_ENTRY_SIZE, spec.lots_to_qty(lots));
            }
            time(w);
            w.put_u64(tags::ORDER_ID, order_id.0);
            w.put_u64(tags::MD_ENTRY_POSITION_NO, u64::from(position));
        }
        Value::Trade {
            price_ticks,
            lots,
            ts_ns,
        } => {
            w.put_decimal(tags::MD_ENTRY_PX, spec.ticks_to_price(price_ticks));
            w.put_decimal(tags::MD_ENTRY_SIZE, spec.lots_to_qty(lots));
            put_time_only(w, tags::MD_ENTRY_TIME, ts_ns, style.time_precision);
        }
        Value::Price(price_ticks) => {
            w.put_decimal(tags::MD_ENTRY_PX, spec.ticks_to_price(price_ticks));
        }
        Value::Vwap(price) => {
            w.put_decimal(tags::MD_ENTRY_PX, price);
        }
        Value::Volume(lots) => {
            w.put_decimal(tags::MD_ENTRY_SIZE, spec.lots_to_qty(lots));
        }
    }
}

/// MDEntryTime (273) is a UTCTimeOnly in FIX 4.4: `HH:MM:SS.sss` at the session's TimeStampPrecision.
fn put_time_only(w: &mut FieldWriter<'_>, tag: u32, ts_ns: i64, precision: TimePrecision) {
    let time = chrono::DateTime::from_timestamp_nanos(ts_ns);
    let mut text = [0u8; UTC_TIMESTAMP_BYTES_MAX];
    let n = format_utc_timestamp(&time, precision, &mut text);
    // "YYYYMMDD-HH:MM:SS.sss": the time is after the dash.
    w.put_bytes(tag, &text[9..n]);
}

fn finish(buf: &BytesMut, msg_type: &[u8], routing: &Routing) -> AppMessage {
    AppMessage {
        msg_type: msg_type.to_vec(),
        routing: routing.clone(),
        body: buf.to_vec(),
    }
}

/// A MarketDataSnapshotFullRefresh of one instrument.
pub fn snapshot(
    md_req_id: &str,
    spec: &InstrumentSpec,
    rpt_seq: u64,
    entries: &[Entry],
    style: Style,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(128 + entries.len() * 48);
    let mut w = FieldWriter::new(&mut buf);
    w.put_str(tags::MD_REQ_ID, md_req_id);
    w.put_str(tags::SYMBOL, &spec.symbol);
    if style.venue_extensions {
        w.put_u64(tags::RPT_SEQ, rpt_seq);
    }
    w.put_u64(tags::NO_MD_ENTRIES, entries.len() as u64);
    for entry in entries {
        w.put_char(tags::MD_ENTRY_TYPE, entry.entry_type);
        put_value(&mut w, spec, entry, false, style);
    }
    finish(&buf, msg_type::SNAPSHOT, routing)
}

/// A MarketDataIncrementalRefresh; `specs` is indexed by each entry's instrument.
pub fn incremental(
    md_req_id: &str,
    specs: &[InstrumentSpec],
    entries: &[Entry],
    style: Style,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(64 + entries.len() * 64);
    let mut w = FieldWriter::new(&mut buf);
    w.put_str(tags::MD_REQ_ID, md_req_id);
    w.put_u64(tags::NO_MD_ENTRIES, entries.len() as u64);
    for entry in entries {
        let spec = &specs[entry.instrument as usize];
        w.put_char(tags::MD_UPDATE_ACTION, entry.action);
        w.put_char(tags::MD_ENTRY_TYPE, entry.entry_type);
        w.put_str(tags::SYMBOL, &spec.symbol);
        if style.venue_extensions {
            w.put_u64(tags::RPT_SEQ, entry.rpt_seq);
        }
        put_value(
            &mut w,
            spec,
            entry,
            entry.action == tags::action::DELETE,
            style,
        );
    }
    finish(&buf, msg_type::INCREMENTAL, routing)
}

/// A MarketDataRequestReject.
pub fn request_reject(
    md_req_id: &str,
    reason: Option<RejectReason>,
    text: &str,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(64 + text.len());
    let mut w = FieldWriter::new(&mut buf);
    w.put_str(tags::MD_REQ_ID, md_req_id);
    if let Some(reason) = reason {
        w.put_char(tags::MD_REQ_REJ_REASON, reason.code());
    }
    w.put_str(tags::TEXT, text);
    finish(&buf, msg_type::REQUEST_REJECT, routing)
}

/// SecurityRequestResult (560).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListResult {
    Valid,
    Unsupported,
    NoInstruments,
}

/// A SecurityList: every instrument given with its tick, lot, currency and quantity limits. FIX 4.4's
/// SecurityList has no Text outside its entries, so a refused request is answered by SecurityRequestResult alone.
pub fn security_list(
    req_id: &str,
    response_id: &str,
    result: ListResult,
    instruments: &[(&InstrumentSpec, &str)],
    style: Style,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(128 + instruments.len() * 96);
    let mut w = FieldWriter::new(&mut buf);
    w.put_str(tags::SECURITY_REQ_ID, req_id);
    w.put_str(tags::SECURITY_RESPONSE_ID, response_id);
    w.put_char(
        tags::SECURITY_REQUEST_RESULT,
        match result {
            ListResult::Valid => b'0',
            ListResult::Unsupported => b'1',
            ListResult::NoInstruments => b'2',
        },
    );
    if result == ListResult::Valid {
        w.put_u64(tags::TOT_NO_RELATED_SYM, instruments.len() as u64);
        w.put_u64(tags::NO_RELATED_SYM, instruments.len() as u64);
        for (spec, currency) in instruments {
            w.put_str(tags::SYMBOL, &spec.symbol);
            w.put_str(tags::CURRENCY, currency);
            w.put_decimal(tags::ROUND_LOT, spec.lot_size);
            w.put_decimal(tags::MIN_TRADE_VOL, spec.lots_to_qty(spec.min_qty_lots));
            // FIX 4.4 has no field for the tick or the largest quantity: the Text says them, and
            // sessions with extensions get FIX 5.0's MinPriceIncrement and MaxTradeVol as well.
            w.put_str(
                tags::TEXT,
                &format!(
                    "tick={} lot={} min_qty={} max_qty={} collar_bp={}",
                    spec.tick_size.normalize(),
                    spec.lot_size.normalize(),
                    spec.lots_to_qty(spec.min_qty_lots).normalize(),
                    spec.lots_to_qty(spec.max_qty_lots).normalize(),
                    spec.collar_bp
                ),
            );
            if style.venue_extensions {
                w.put_decimal(tags::MIN_PRICE_INCREMENT, spec.tick_size);
                w.put_decimal(tags::MAX_TRADE_VOL, spec.lots_to_qty(spec.max_qty_lots));
            }
        }
    }
    finish(&buf, msg_type::SECURITY_LIST, routing)
}

/// SecurityTradingStatus (326) of a trading status, and a text naming it.
pub fn trading_status_code(status: TradingStatus) -> (&'static [u8], &'static str) {
    match status {
        TradingStatus::Open => (b"17", "open"),
        TradingStatus::Halted => (b"2", "halted"),
        TradingStatus::CancelOnly => (b"18", "cancel-only: no new orders"),
        TradingStatus::PostOnly => (b"21", "post-only: only orders that rest"),
    }
}

/// A SecurityStatus; `req_id` is the request it answers or the subscription it serves (`None`: pushed to a
/// market-data subscriber, unsolicited).
pub fn security_status(
    req_id: Option<&str>,
    symbol: &str,
    status: TradingStatus,
    ts_ns: i64,
    style: Style,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(128);
    let mut w = FieldWriter::new(&mut buf);
    if let Some(id) = req_id {
        w.put_str(tags::SECURITY_STATUS_REQ_ID, id);
    }
    w.put_str(tags::SYMBOL, symbol);
    w.put_bool(tags::UNSOLICITED_INDICATOR, req_id.is_none());
    let (code, text) = trading_status_code(status);
    w.put_bytes(tags::SECURITY_TRADING_STATUS, code);
    put_timestamp(&mut w, fix::tags::TRANSACT_TIME, ts_ns, style);
    w.put_str(tags::TEXT, text);
    finish(&buf, msg_type::SECURITY_STATUS, routing)
}

fn put_timestamp(w: &mut FieldWriter<'_>, tag: u32, ts_ns: i64, style: Style) {
    let time = chrono::DateTime::from_timestamp_nanos(ts_ns);
    w.put_timestamp(tag, &time, style.time_precision);
}

/// TradSesStatus (340) and its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Halted,
    Open,
    /// The request was refused (TradSesStatusRejReason 567 = 1: unknown TradingSessionID, or 99 other).
    Rejected {
        unknown_session: bool,
    },
}

/// A TradingSessionStatus.
pub fn trading_session_status(
    req_id: Option<&str>,
    trading_session_id: &str,
    status: SessionStatus,
    text: Option<&str>,
    routing: &Routing,
) -> AppMessage {
    let mut buf = BytesMut::with_capacity(128);
    let mut w = FieldWriter::new(&mut buf);
    if let Some(id) = req_id {
        w.put_str(tags::TRAD_SES_REQ_ID, id);
    }
    w.put_str(tags::TRADING_SESSION_ID, trading_session_id);
    w.put_bool(tags::UNSOLICITED_INDICATOR, req_id.is_none());
    match status {
        SessionStatus::Halted => {
            w.put_char(tags::TRAD_SES_STATUS, b'1');
        }
        SessionStatus::Open => {
            w.put_char(tags::TRAD_SES_STATUS, b'2');
        }
        SessionStatus::Rejected { unknown_session } => {
            w.put_char(tags::TRAD_SES_STATUS, b'6');
            w.put_bytes(
                tags::TRAD_SES_STATUS_REJ_REASON,
                if unknown_session { b"1" } else { b"99" },
            );
        }
    }
    if let Some(text) = text {
        w.put_str(tags::TEXT, text);
    }
    finish(&buf, msg_type::TRADING_SESSION_STATUS, routing)
}
