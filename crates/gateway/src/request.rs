//! Order-entry messages read into owned requests, on the connection's task (so the parsing of many sessions
//! runs in parallel). The dictionary has already checked every field's presence, format and enumeration, so
//! this only takes values out; the rules that need the venue's state (instruments, accounts, live orders) are
//! the gateway core's.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use fix::Message;
use fix::tags::{self, msg_type};
use session::Routing;

pub use fix::limits::{ACCOUNT_BYTES_MAX, CL_ORD_ID_BYTES_MAX, SYMBOL_BYTES_MAX};

/// One application message of a trading session, with what its answers need.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// MsgSeqNum of the request (RefSeqNum of a BusinessMessageReject).
    pub ref_seq: u64,
    /// Its routing, reversed for the answers.
    pub routing: Routing,
    /// PossDupFlag (43) = Y: possibly sent before (a resend after a gap).
    pub poss_dup: bool,
    pub request: Request,
}

#[derive(Clone, Debug)]
pub enum Request {
    New(NewRequest),
    Cancel(CancelRequest),
    Replace(ReplaceRequest),
    Status(StatusRequest),
    MassStatus(MassStatusRequest),
    MassCancel(MassCancelRequest),
    TradeCapture(TradeCaptureRequest),
    /// A message a trading session may send that the gateway refuses whole (a field too long for the venue).
    Refused {
        msg_type: Vec<u8>,
        text: String,
    },
}

/// NewOrderSingle (D).
#[derive(Clone, Debug, Default)]
pub struct NewRequest {
    pub cl_ord_id: String,
    pub account: Option<String>,
    pub symbol: String,
    /// Side (54) as sent.
    pub side: u8,
    /// OrdType (40) as sent.
    pub ord_type: u8,
    pub qty: Option<Decimal>,
    pub price: Option<Decimal>,
    pub stop_px: Option<Decimal>,
    /// TimeInForce (59); Day (0) when absent.
    pub tif: u8,
    /// ExpireTime (126) in nanoseconds since the Unix epoch.
    pub expire_time_ns: Option<i64>,
    /// ExpireDate (432) in days since the Unix epoch.
    pub expire_date: Option<i32>,
    /// ExecInst (18) values, space-separated on the wire.
    pub exec_inst: Vec<u8>,
    pub max_floor: Option<Decimal>,
    /// MinQty (110) was sent: the venue does not support it and refuses the order.
    pub min_qty_sent: bool,
}

/// What a cancel (F) and a cancel/replace (G) both name first: their own ClOrdID and the order's ids.
#[derive(Clone, Debug, Default)]
pub struct AmendIds {
    pub cl_ord_id: String,
    pub orig_cl_ord_id: String,
    pub order_id: Option<String>,
}

/// OrderCancelRequest (F).
#[derive(Clone, Debug, Default)]
pub struct CancelRequest {
    pub ids: AmendIds,
    pub symbol: String,
    pub side: u8,
    /// OrderQty (38), optional on a cancel; a value that is not positive is refused.
    pub qty: Option<Decimal>,
}

/// OrderCancelReplaceRequest (G).
#[derive(Clone, Debug, Default)]
pub struct ReplaceRequest {
    pub ids: AmendIds,
    pub account: Option<String>,
    pub symbol: String,
    pub side: u8,
    pub ord_type: u8,
    pub qty: Option<Decimal>,
    pub price: Option<Decimal>,
    pub stop_px: Option<Decimal>,
    pub tif: u8,
    /// Fields a replace may not set, as sent: MinQty (110), MaxFloor (111), ExecInst (18).
    pub unchangeable: Vec<u32>,
}

/// OrderStatusRequest (H).
#[derive(Clone, Debug, Default)]
pub struct StatusRequest {
    pub cl_ord_id: String,
    pub order_id: Option<String>,
    pub symbol: String,
    pub side: u8,
    pub ord_status_req_id: Option<String>,
}

/// OrderMassStatusRequest (AF).
#[derive(Clone, Debug, Default)]
pub struct MassStatusRequest {
    pub mass_status_req_id: String,
    /// MassStatusReqType (585).
    pub req_type: u32,
    pub symbol: Option<String>,
}

/// OrderMassCancelRequest (q).
#[derive(Clone, Debug, Default)]
pub struct MassCancelRequest {
    pub cl_ord_id: String,
    /// MassCancelRequestType (530) as sent.
    pub req_type: u8,
    pub symbol: Option<String>,
}

/// TradeCaptureReportRequest (AD): the fields the venue acts on, and the first it does not (refused with the
/// request, never ignored).
#[derive(Clone, Debug, Default)]
pub struct TradeCaptureRequest {
    /// TradeRequestID (568).
    pub trade_request_id: String,
    /// TradeRequestType (569) as sent.
    pub trade_request_type: u64,
    /// SubscriptionRequestType (263) as sent; snapshot (0) when absent.
    pub subscription: u8,
    pub symbol: Option<String>,
    /// TrdCapDtGrp (580): each entry's TradeDate (75, days since the Unix epoch) and TransactTime (60, ns).
    pub dates: Vec<(Option<i32>, Option<i64>)>,
    /// The first body field the venue does not act on, if any.
    pub unsupported_tag: Option<u32>,
}

/// TradeCaptureReportRequest fields the venue acts on: TradeRequestID, TradeRequestType, SubscriptionRequestType,
/// Symbol, and the TrdCapDtGrp group (NoDates, TradeDate, TransactTime).
pub const TRADE_CAPTURE_FIELDS: [u32; 7] = [568, 569, 263, 55, 580, 75, 60];
/// Most TrdCapDtGrp entries read (FIX allows one or two).
const TRADE_CAPTURE_DATES_MAX: usize = 2;

/// Reads an application message of a trading session; `None` for a type the gateway does not handle.
pub fn parse(msg: &Message, routing: &Routing) -> Option<Inbound> {
    let request = match read(msg) {
        Some(Ok(request)) => request,
        Some(Err(text)) => Request::Refused {
            msg_type: msg.msg_type().to_vec(),
            text,
        },
        None => return None,
    };
    Some(Inbound {
        ref_seq: ref_seq(msg),
        routing: routing.clone(),
        poss_dup: msg
            .get(tags::POSS_DUP_FLAG)
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false),
        request,
    })
}

/// MsgSeqNum of a request, the RefSeqNum of its BusinessMessageReject (0 if absent).
pub fn ref_seq(msg: &Message) -> u64 {
    msg.get(tags::MSG_SEQ_NUM)
        .and_then(|v| v.as_uint().ok())
        .unwrap_or(0)
}

/// TradeCaptureReportRequest (AD).
pub const TRADE_CAPTURE_REPORT_REQUEST: &[u8] = b"AD";

fn read(msg: &Message) -> Option<Result<Request, String>> {
    let fields = Fields { msg };
    let request = match msg.msg_type() {
        msg_type::NEW_ORDER_SINGLE => fields.new_order().map(Request::New),
        msg_type::ORDER_CANCEL_REQUEST => fields.cancel().map(Request::Cancel),
        msg_type::ORDER_CANCEL_REPLACE_REQUEST => fields.replace().map(Request::Replace),
        msg_type::ORDER_STATUS_REQUEST => fields.status().map(Request::Status),
        msg_type::ORDER_MASS_STATUS_REQUEST => fields.mass_status().map(Request::MassStatus),
        msg_type::ORDER_MASS_CANCEL_REQUEST => fields.mass_cancel().map(Request::MassCancel),
        TRADE_CAPTURE_REPORT_REQUEST => fields.trade_capture().map(Request::TradeCapture),
        _ => return None,
    };
    Some(request)
}

struct Fields<'m, 'a> {
    msg: &'m Message<'a>,
}

impl Fields<'_, '_> {
    /// A string field the venue keeps, bounded.
    fn id(&self, tag: u32, max: usize) -> Result<Option<String>, String> {
        let Some(value) = self.msg.get(tag) else {
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

    fn required_id(&self, tag: u32, max: usize) -> Result<String, String> {
        self.id(tag, max)?
            .ok_or_else(|| format!("tag {tag} is required"))
    }

    fn char(&self, tag: u32) -> u8 {
        self.msg
            .get(tag)
            .and_then(|v| v.as_char().ok())
            .unwrap_or(0)
    }

    fn decimal(&self, tag: u32) -> Option<Decimal> {
        self.msg.get(tag).and_then(|v| v.as_decimal().ok())
    }

    /// TimeInForce (59); Day (0) when absent.
    fn tif(&self) -> u8 {
        match self.char(tags::TIME_IN_FORCE) {
            0 => b'0',
            tif => tif,
        }
    }

    fn amend_ids(&self) -> Result<AmendIds, String> {
        Ok(AmendIds {
            cl_ord_id: self.required_id(tags::CL_ORD_ID, CL_ORD_ID_BYTES_MAX)?,
            orig_cl_ord_id: self.required_id(tags::ORIG_CL_ORD_ID, CL_ORD_ID_BYTES_MAX)?,
            order_id: self.id(tags::ORDER_ID, CL_ORD_ID_BYTES_MAX)?,
        })
    }

    fn new_order(&self) -> Result<NewRequest, String> {
        Ok(NewRequest {
            cl_ord_id: self.required_id(tags::CL_ORD_ID, CL_ORD_ID_BYTES_MAX)?,
            account: self.id(tags::ACCOUNT, ACCOUNT_BYTES_MAX)?,
            symbol: self.required_id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
            side: self.char(tags::SIDE),
            ord_type: self.char(tags::ORD_TYPE),
            qty: self.decimal(tags::ORDER_QTY),
            price: self.decimal(tags::PRICE),
            stop_px: self.decimal(tags::STOP_PX),
            tif: self.tif(),
            expire_time_ns: self
                .msg
                .get(tags::EXPIRE_TIME)
                .and_then(|v| v.as_timestamp().ok())
                .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX)),
            expire_date: self
                .msg
                .get(tags::EXPIRE_DATE)
                .and_then(|v| v.as_date().ok())
                .map(days_since_epoch),
            exec_inst: self
                .msg
                .get(tags::EXEC_INST)
                .map(|v| v.bytes.iter().copied().filter(|b| *b != b' ').collect())
                .unwrap_or_default(),
            max_floor: self.decimal(tags::MAX_FLOOR),
            min_qty_sent: self.msg.get(tags::MIN_QTY).is_some(),
        })
    }

    fn cancel(&self) -> Result<CancelRequest, String> {
        Ok(CancelRequest {
            ids: self.amend_ids()?,
            symbol: self.required_id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
            side: self.char(tags::SIDE),
            qty: self.decimal(tags::ORDER_QTY),
        })
    }

    fn replace(&self) -> Result<ReplaceRequest, String> {
        Ok(ReplaceRequest {
            ids: self.amend_ids()?,
            account: self.id(tags::ACCOUNT, ACCOUNT_BYTES_MAX)?,
            symbol: self.required_id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
            side: self.char(tags::SIDE),
            ord_type: self.char(tags::ORD_TYPE),
            qty: self.decimal(tags::ORDER_QTY),
            price: self.decimal(tags::PRICE),
            stop_px: self.decimal(tags::STOP_PX),
            tif: self.tif(),
            unchangeable: [tags::MIN_QTY, tags::MAX_FLOOR, tags::EXEC_INST]
                .into_iter()
                .filter(|&tag| self.msg.get(tag).is_some())
                .collect(),
        })
    }

    fn status(&self) -> Result<StatusRequest, String> {
        Ok(StatusRequest {
            cl_ord_id: self.required_id(tags::CL_ORD_ID, CL_ORD_ID_BYTES_MAX)?,
            order_id: self.id(tags::ORDER_ID, CL_ORD_ID_BYTES_MAX)?,
            symbol: self.required_id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
            side: self.char(tags::SIDE),
            ord_status_req_id: self.id(tags::ORD_STATUS_REQ_ID, CL_ORD_ID_BYTES_MAX)?,
        })
    }

    fn mass_status(&self) -> Result<MassStatusRequest, String> {
        Ok(MassStatusRequest {
            mass_status_req_id: self.required_id(tags::MASS_STATUS_REQ_ID, CL_ORD_ID_BYTES_MAX)?,
            req_type: self
                .msg
                .get(tags::MASS_STATUS_REQ_TYPE)
                .and_then(|v| v.as_uint().ok())
                .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)),
            symbol: self.id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
        })
    }

    fn mass_cancel(&self) -> Result<MassCancelRequest, String> {
        Ok(MassCancelRequest {
            cl_ord_id: self.required_id(tags::CL_ORD_ID, CL_ORD_ID_BYTES_MAX)?,
            req_type: self.char(tags::MASS_CANCEL_REQUEST_TYPE),
            symbol: self.id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
        })
    }
}

impl Fields<'_, '_> {
    fn trade_capture(&self) -> Result<TradeCaptureRequest, String> {
        let mut req = TradeCaptureRequest {
            trade_request_id: self.required_id(568, CL_ORD_ID_BYTES_MAX)?,
            trade_request_type: self
                .msg
                .get(569)
                .and_then(|v| v.as_uint().ok())
                .unwrap_or(u64::MAX),
            subscription: match self.char(263) {
                0 => b'0',
                c => c,
            },
            symbol: self.id(tags::SYMBOL, SYMBOL_BYTES_MAX)?,
            dates: Vec::new(),
            unsupported_tag: None,
        };
        // The body in wire order: the group's entries start at TradeDate (75), its delimiter.
        for field in self.msg.body() {
            let value = || fix::decode::FieldValue {
                tag: field.tag,
                bytes: self.msg.value(field),
            };
            match field.tag {
                75 => {
                    if req.dates.len() == TRADE_CAPTURE_DATES_MAX {
                        return Err(format!(
                            "TrdCapDtGrp: at most {TRADE_CAPTURE_DATES_MAX} entries (a date or a range)"
                        ));
                    }
                    let date = value()
                        .as_date()
                        .map_err(|_| "TradeDate (75) is not a date")?;
                    req.dates.push((Some(days_since_epoch(date)), None));
                }
                60 => {
                    let at = value()
                        .as_timestamp()
                        .map_err(|_| "TransactTime (60) is not a timestamp")?;
                    let at = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
                    match req.dates.last_mut() {
                        Some(entry) if entry.1.is_none() => entry.1 = Some(at),
                        _ => req.dates.push((None, Some(at))),
                    }
                }
                tag if TRADE_CAPTURE_FIELDS.contains(&tag) => {}
                tag => {
                    req.unsupported_tag.get_or_insert(tag);
                }
            }
        }
        Ok(req)
    }
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
        - NaiveDate::from_ymd_opt(1970, 1, 1).map_or(0, |d| d.num_days_from_ce())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fix::{Decoder, Dictionary};

    fn parse_text(text: &str) -> Option<Inbound> {
        let dict = Dictionary::fix44().unwrap();
        let frame = fix::frame::from_text(text);
        let mut decoder = Decoder::new();
        let msg = decoder.decode(&dict, &frame).unwrap();
        parse(&msg, &Routing::default())
    }

    #[test]
    fn a_new_order_single_is_read_with_defaults_for_absent_fields() {
        let inbound = parse_text(
            "35=D|49=C|56=V|34=7|52=20261122-10:00:00|11=A1|55=ZVZZT|54=1|60=20261122-10:00:00|40=2|38=100|44=10.5|18=6 1|432=20261123|",
        )
        .unwrap();
        assert_eq!(inbound.ref_seq, 7);
        let Request::New(n) = inbound.request else {
            panic!("{:?}", inbound.request)
        };
        assert_eq!(n.cl_ord_id, "A1");
        assert_eq!(n.tif, b'0');
        assert_eq!(n.qty, Some(Decimal::from(100)));
        assert_eq!(n.price, Some(Decimal::new(105, 1)));
        assert_eq!(n.exec_inst, b"61");
        assert_eq!(n.expire_date, Some(20_780));
        assert_eq!(n.account, None);
    }

    #[test]
    fn an_overlong_client_id_is_refused_whole_and_other_types_are_not_the_gateways() {
        let long = "X".repeat(CL_ORD_ID_BYTES_MAX + 1);
        let inbound = parse_text(&format!(
            "35=F|49=C|56=V|34=2|52=20261122-10:00:00|41=A|11={long}|55=ZVZZT|54=1|60=20261122-10:00:00|"
        ))
        .unwrap();
        assert!(
            matches!(&inbound.request, Request::Refused { msg_type, text } if msg_type == b"F" && text.contains("tag 11")),
            "{:?}",
            inbound.request
        );
        assert!(parse_text("35=0|49=C|56=V|34=2|52=20261122-10:00:00|").is_none());
    }
}
