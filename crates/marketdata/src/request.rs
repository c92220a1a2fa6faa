//! MarketDataRequest (V), SecurityListRequest (x), SecurityStatusRequest (e) and TradingSessionStatusRequest (g)
//! read into owned requests, on the connection's task. The dictionary has already checked every field's format,
//! enumeration and place; this takes the values out and notes every field the venue does not act on, so that the
//! answer refuses it with a reason rather than ignoring it.

use fix::Message;
use fix::limits::SYMBOL_BYTES_MAX;
use session::Routing;

use crate::tags::{self, RejectReason, msg_type};

/// The longest MDReqID, SecurityReqID, SecurityStatusReqID or TradSesReqID the venue keeps.
pub const REQ_ID_BYTES_MAX: usize = 64;

/// One request of a market-data or trading session, with what its answer needs.
#[derive(Clone, Debug)]
pub struct MdInbound {
    /// MsgSeqNum of the request (RefSeqNum of a BusinessMessageReject).
    pub ref_seq: u64,
    /// Its routing, reversed for the answers.
    pub routing: Routing,
    pub request: MdRequest,
}

#[derive(Clone, Debug)]
pub enum MdRequest {
    MarketData(MarketDataRequest),
    SecurityList(SecurityListRequest),
    SecurityStatus(SecurityStatusRequest),
    TradingSessionStatus(TradingSessionStatusRequest),
}

/// MarketDataRequest (V).
#[derive(Clone, Debug, Default)]
pub struct MarketDataRequest {
    pub md_req_id: String,
    /// SubscriptionRequestType (263): b'0' snapshot, b'1' snapshot + updates, b'2' unsubscribe.
    pub subscription: u8,
    pub market_depth: i64,
    /// MDUpdateType (265): b'0' full refresh, b'1' incremental; `None` if absent.
    pub update_type: Option<u8>,
    /// AggregatedBook (266); `None` if absent (the venue's default is aggregated).
    pub aggregated: Option<bool>,
    pub entry_types: Vec<u8>,
    pub symbols: Vec<String>,
    /// The first field the venue does not act on, with the reject reason it earns.
    pub refused: Option<(RejectReason, String)>,
}

/// SecurityListRequest (x).
#[derive(Clone, Debug, Default)]
pub struct SecurityListRequest {
    pub req_id: String,
    /// SecurityListRequestType (559).
    pub list_type: u64,
    pub symbol: Option<String>,
    /// A field the venue does not act on.
    pub refused: Option<String>,
}

/// SecurityStatusRequest (e).
#[derive(Clone, Debug, Default)]
pub struct SecurityStatusRequest {
    pub req_id: String,
    pub symbol: String,
    pub subscription: u8,
    pub refused: Option<String>,
}

/// TradingSessionStatusRequest (g).
#[derive(Clone, Debug, Default)]
pub struct TradingSessionStatusRequest {
    pub req_id: String,
    pub subscription: u8,
    pub trading_session_id: Option<String>,
    pub refused: Option<String>,
}

/// True for the request types this module reads.
pub fn is_market_data_request(msg_type: &[u8]) -> bool {
    [
        msg_type::MARKET_DATA_REQUEST,
        msg_type::SECURITY_LIST_REQUEST,
        msg_type::SECURITY_STATUS_REQUEST,
        msg_type::TRADING_SESSION_STATUS_REQUEST,
    ]
    .contains(&msg_type)
}

/// Reads a request; `None` for another type, `Err(text)` for one whose identifier is missing or too long (a
/// BusinessMessageReject).
pub fn parse(msg: &Message, routing: &Routing) -> Option<Result<MdInbound, String>> {
    let request = match msg.msg_type() {
        msg_type::MARKET_DATA_REQUEST => market_data(msg).map(MdRequest::MarketData),
        msg_type::SECURITY_LIST_REQUEST => security_list(msg).map(MdRequest::SecurityList),
        msg_type::SECURITY_STATUS_REQUEST => security_status(msg).map(MdRequest::SecurityStatus),
        msg_type::TRADING_SESSION_STATUS_REQUEST => {
            trading_session_status(msg).map(MdRequest::TradingSessionStatus)
        }
        _ => return None,
    };
    Some(request.map(|request| {
        MdInbound {
            ref_seq: msg
                .get(fix::tags::MSG_SEQ_NUM)
                .and_then(|v| v.as_uint().ok())
                .unwrap_or(0),
            routing: routing.clone(),
            request,
        }
    }))
}

fn text(msg: &Message, tag: u32, max: usize) -> Result<Option<String>, String> {
    let Some(value) = msg.get(tag) else {
        return Ok(None);
    };
    let text = value
        .as_str()
        .map_err(|_| format!("tag {tag} is not text"))?;
    if text.len() > max {
        return Err(format!("tag {tag} is longer than {max} characters"));
    }
    Ok(Some(text.to_string()))
}

fn required(msg: &Message, tag: u32, max: usize) -> Result<String, String> {
    text(msg, tag, max)?.ok_or_else(|| format!("tag {tag} is required"))
}

fn char_of(msg: &Message, tag: u32) -> Option<u8> {
    msg.get(tag).and_then(|v| v.as_char().ok())
}

fn market_data(msg: &Message) -> Result<MarketDataRequest, String> {
    let mut req = MarketDataRequest {
        md_req_id: required(msg, tags::MD_REQ_ID, REQ_ID_BYTES_MAX)?,
        subscription: char_of(msg, tags::SUBSCRIPTION_REQUEST_TYPE).unwrap_or(0),
        market_depth: msg
            .get(tags::MARKET_DEPTH)
            .and_then(|v| v.as_int().ok())
            .unwrap_or(-1),
        update_type: char_of(msg, tags::MD_UPDATE_TYPE),
        aggregated: msg
            .get(tags::AGGREGATED_BOOK)
            .and_then(|v| v.as_bool().ok()),
        ..MarketDataRequest::default()
    };
    let mut refuse = |reason: RejectReason, text: String| {
        req_refused(&mut req.refused, reason, text);
    };
    for field in msg.body() {
        let value = msg.value(field);
        match field.tag {
            tags::MD_REQ_ID
            | tags::SUBSCRIPTION_REQUEST_TYPE
            | tags::MARKET_DEPTH
            | tags::MD_UPDATE_TYPE
            | tags::AGGREGATED_BOOK
            | tags::NO_MD_ENTRY_TYPES
            | tags::NO_RELATED_SYM => {}
            tags::MD_ENTRY_TYPE => req.entry_types.push(value.first().copied().unwrap_or(0)),
            tags::SYMBOL => {
                let symbol = String::from_utf8_lossy(value);
                if symbol.len() > SYMBOL_BYTES_MAX {
                    return Err(format!(
                        "tag 55 is longer than {SYMBOL_BYTES_MAX} characters"
                    ));
                }
                req.symbols.push(symbol.into_owned());
            }
            tags::OPEN_CLOSE_SETTL_FLAG => refuse(
                RejectReason::UnsupportedOpenCloseSettlFlag,
                "OpenCloseSettlFlag (286) is not supported".into(),
            ),
            tags::SCOPE => refuse(
                RejectReason::UnsupportedScope,
                "Scope (546) is not supported".into(),
            ),
            tags::MD_IMPLICIT_DELETE => refuse(
                RejectReason::UnsupportedMdImplicitDelete,
                "MDImplicitDelete (547) is not supported".into(),
            ),
            tags::NO_TRADING_SESSIONS | tags::TRADING_SESSION_ID | tags::TRADING_SESSION_SUB_ID => {
                refuse(
                    RejectReason::UnsupportedTradingSessionId,
                    "the venue has one trading session: send no TradingSessionID".into(),
                )
            }
            tags::APPL_QUEUE_ACTION | tags::APPL_QUEUE_MAX => refuse(
                RejectReason::InsufficientBandwidth,
                format!(
                    "tag {} is not supported: the venue's own slow-subscriber rule applies",
                    field.tag
                ),
            ),
            // Anything else sits in an instrument entry: the venue names instruments by Symbol alone.
            other => refuse(
                RejectReason::UnknownSymbol,
                format!("tag {other} is not supported: instruments are named by Symbol (55) alone"),
            ),
        }
    }
    Ok(req)
}

fn req_refused(slot: &mut Option<(RejectReason, String)>, reason: RejectReason, text: String) {
    if slot.is_none() {
        *slot = Some((reason, text));
    }
}

/// The first body field outside `known`, as a refusal text.
fn unknown_field(msg: &Message, known: &[u32]) -> Option<String> {
    msg.body()
        .iter()
        .find(|f| !known.contains(&f.tag))
        .map(|f| format!("tag {} is not supported by the venue", f.tag))
}

fn security_list(msg: &Message) -> Result<SecurityListRequest, String> {
    Ok(SecurityListRequest {
        req_id: required(msg, tags::SECURITY_REQ_ID, REQ_ID_BYTES_MAX)?,
        list_type: msg
            .get(tags::SECURITY_LIST_REQUEST_TYPE)
            .and_then(|v| v.as_uint().ok())
            .unwrap_or(u64::MAX),
        symbol: text(msg, tags::SYMBOL, SYMBOL_BYTES_MAX)?,
        refused: unknown_field(
            msg,
            &[
                tags::SECURITY_REQ_ID,
                tags::SECURITY_LIST_REQUEST_TYPE,
                tags::SYMBOL,
            ],
        ),
    })
}

fn security_status(msg: &Message) -> Result<SecurityStatusRequest, String> {
    Ok(SecurityStatusRequest {
        req_id: required(msg, tags::SECURITY_STATUS_REQ_ID, REQ_ID_BYTES_MAX)?,
        symbol: required(msg, tags::SYMBOL, SYMBOL_BYTES_MAX)?,
        subscription: char_of(msg, tags::SUBSCRIPTION_REQUEST_TYPE).unwrap_or(0),
        refused: unknown_field(
            msg,
            &[
                tags::SECURITY_STATUS_REQ_ID,
                tags::SYMBOL,
                tags::SUBSCRIPTION_REQUEST_TYPE,
            ],
        ),
    })
}

fn trading_session_status(msg: &Message) -> Result<TradingSessionStatusRequest, String> {
    Ok(TradingSessionStatusRequest {
        req_id: required(msg, tags::TRAD_SES_REQ_ID, REQ_ID_BYTES_MAX)?,
        subscription: char_of(msg, tags::SUBSCRIPTION_REQUEST_TYPE).unwrap_or(0),
        trading_session_id: text(msg, tags::TRADING_SESSION_ID, REQ_ID_BYTES_MAX)?,
        refused: unknown_field(
            msg,
            &[
                tags::TRAD_SES_REQ_ID,
                tags::SUBSCRIPTION_REQUEST_TYPE,
                tags::TRADING_SESSION_ID,
            ],
        ),
    })
}
