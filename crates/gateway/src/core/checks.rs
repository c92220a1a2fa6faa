//! The edge checks: what the gateway refuses before anything reaches the sequencer (instrument, tick, lot,
//! account, duplicate ClOrdID, what a cancel or replace may name and change, the kinds of mass request it
//! serves). A check reads the state and returns the command to submit or the refusal; it sends nothing.

use rust_decimal::Decimal;

use engine::{
    Expiry, InstrumentSpec, MassCancelScope, NewOrder, OrderId, OrderKind, RejectReason, Replace,
    Side, TimeInForce,
};
use fix::tags::{self, BusinessRejectReason, OrdStatus};

use super::order::Order;
use super::reports::{ord_type_code, side_code, tif_code, too_late_text};
use super::state::Gateway;
use crate::request::{AmendIds, MassCancelRequest, MassStatusRequest, NewRequest, ReplaceRequest};

/// A request refused: its reason code (OrdRejReason, CxlRejReason) and Text.
pub(super) type Refusal = (u32, String);
/// A cancel or replace refused: CxlRejReason, Text, and the order's id and status when it was found.
pub(super) type AmendRefusal = (u32, String, Option<(OrderId, OrdStatus)>);

impl Gateway {
    /// The edge checks of a new order: the order to submit and its account's name, or the refusal
    /// (OrdRejReason and Text).
    pub(super) fn check_new(
        &mut self,
        session: usize,
        req: &NewRequest,
    ) -> Result<(NewOrder, String), Refusal> {
        if self
            .live_order_for(session, &req.cl_ord_id)
            .is_some_and(|o| !o.terminal())
        {
            return Err((6, format!("duplicate ClOrdID {}", req.cl_ord_id)));
        }
        if req.min_qty_sent {
            return Err((
                99,
                "MinQty (110) is not supported: send the order without it".into(),
            ));
        }
        let state = &self.sessions[session];
        let account_name = match &req.account {
            None => state.info.accounts[0].clone(),
            Some(a) if state.info.accounts.contains(a) => a.clone(),
            Some(a) => {
                return Err((15, format!("account {a} may not trade on this session")));
            }
        };
        if let Some(text) = self.kill_refusal(session, &account_name) {
            return Err((99, text));
        }
        let Some(&instrument) = self.symbols.get(&req.symbol) else {
            return Err((1, format!("unknown symbol {}", req.symbol)));
        };
        let spec = &self.market.instruments[instrument.0 as usize];
        let side = side_of(req.side)?;
        let Some(qty) = req.qty else {
            return Err((13, "OrderQty (38) is required".into()));
        };
        let qty_lots = lots(spec, qty)?;
        let kind = kind_of(spec, req)?;
        let tif = tif_of(req)?;
        let post_only = post_only_of(&req.exec_inst)?;
        let display_lots = match req.max_floor {
            None => 0,
            Some(floor) => max_floor_lots(spec, floor, qty_lots)?,
        };
        let account = self.account_id(&account_name);
        let engine_session = self.engine_session(session);
        Ok((
            NewOrder {
                instrument,
                account,
                session: engine_session,
                side,
                kind,
                qty_lots,
                tif,
                post_only,
                display_lots,
            },
            account_name,
        ))
    }

    /// The order a cancel or replace names, if it may be amended.
    pub(super) fn check_amend(
        &self,
        session: usize,
        ids: &AmendIds,
        symbol: &str,
        side: u8,
    ) -> Result<&Order, AmendRefusal> {
        let (cl_ord_id, orig_cl_ord_id) = (ids.cl_ord_id.as_str(), ids.orig_cl_ord_id.as_str());
        let Some(order) = self.live_order_for(session, orig_cl_ord_id) else {
            return Err((1, format!("unknown order {orig_cl_ord_id}"), None));
        };
        let found = Some((order.id, order.status()));
        if self
            .live_order_for(session, cl_ord_id)
            .is_some_and(|o| !o.terminal())
        {
            return Err((6, format!("duplicate ClOrdID {cl_ord_id}"), found));
        }
        if ids
            .order_id
            .as_deref()
            .is_some_and(|id| id != order.id.0.to_string())
        {
            return Err((
                1,
                format!("OrderID does not match OrigClOrdID {orig_cl_ord_id}"),
                found,
            ));
        }
        let spec = &self.market.instruments[order.instrument.0 as usize];
        if spec.symbol != symbol || side_code(order.side) != side {
            return Err((
                99,
                "Symbol or Side differ from the order's".to_string(),
                found,
            ));
        }
        if order.terminal() {
            return Err((0, too_late_text(order.status()), found));
        }
        if order.pending.is_some() {
            return Err((
                3,
                "a cancel or replace of the order is already in progress".to_string(),
                found,
            ));
        }
        Ok(order)
    }

    /// What a replace of `order` (which [`Gateway::check_amend`] passed) changes: quantity and limit price only.
    pub(super) fn check_replace(
        &self,
        order: &Order,
        req: &ReplaceRequest,
    ) -> Result<Replace, AmendRefusal> {
        let spec = &self.market.instruments[order.instrument.0 as usize];
        let found = Some((order.id, order.status()));
        let refuse = |code, text: String| (code, text, found);
        if let Some(&tag) = req.unchangeable.first() {
            let name = match tag {
                tags::MIN_QTY => "MinQty",
                tags::MAX_FLOOR => "MaxFloor",
                _ => "ExecInst",
            };
            return Err(refuse(
                99,
                format!("{name} ({tag}) cannot be set on a replace: cancel and enter a new order"),
            ));
        }
        if req.ord_type != ord_type_code(order.kind) {
            return Err(refuse(99, "OrdType cannot be changed".into()));
        }
        if req.tif != tif_code(order.tif) {
            return Err(refuse(99, "TimeInForce cannot be changed".into()));
        }
        if req
            .account
            .as_ref()
            .is_some_and(|a| self.account_names.get(&order.account) != Some(a))
        {
            return Err(refuse(99, "Account cannot be changed".into()));
        }
        let stop = req
            .stop_px
            .map(|p| spec.price_to_ticks(p))
            .transpose()
            .map_err(|r| refuse(99, r.text().into()))?;
        if stop != order.kind.stop_ticks() {
            return Err(refuse(99, "StopPx cannot be changed".into()));
        }
        let qty = req
            .qty
            .ok_or_else(|| refuse(99, "OrderQty (38) is required".into()))?;
        let qty_lots = lots(spec, qty).map_err(|(_, text)| refuse(99, text))?;
        let price_ticks = match (order.kind.limit_ticks(), req.price) {
            (Some(_), None) => {
                return Err(refuse(99, "Price (44) is required for this OrdType".into()));
            }
            (Some(current), Some(p)) => {
                let ticks = spec
                    .price_to_ticks(p)
                    .map_err(|r| refuse(99, r.text().into()))?;
                (ticks != current).then_some(ticks)
            }
            (None, Some(_)) => {
                return Err(refuse(99, "this OrdType has no Price".into()));
            }
            (None, None) => None,
        };
        Ok(Replace {
            order_id: order.id,
            account: order.account,
            price_ticks,
            qty_lots,
        })
    }

    /// The orders a mass cancel request covers, or its refusal (MassCancelRejectReason and Text).
    pub(super) fn mass_cancel_scope(
        &mut self,
        session: usize,
        req: &MassCancelRequest,
    ) -> Result<MassCancelScope, (u8, String)> {
        let engine_session = self.engine_session(session);
        match (req.req_type, &req.symbol) {
            (b'7', _) => Ok(MassCancelScope::Session(engine_session)),
            (b'1', Some(symbol)) => match self.symbols.get(symbol) {
                Some(&instrument) => Ok(MassCancelScope::SessionInstrument(
                    engine_session,
                    instrument,
                )),
                None => Err((b'1', format!("unknown symbol {symbol}"))),
            },
            (b'1', None) => Err((b'1', "MassCancelRequestType 1 needs Symbol (55)".into())),
            (other, _) => Err((
                b'0',
                format!(
                    "MassCancelRequestType {} is not supported (1 by security, 7 all orders)",
                    other as char
                ),
            )),
        }
    }

    /// Why a mass status request is refused whole, if it is.
    pub(super) fn mass_status_refusal(
        &self,
        req: &MassStatusRequest,
    ) -> Option<(BusinessRejectReason, String)> {
        let unknown = req
            .symbol
            .as_ref()
            .filter(|s| !self.symbols.contains_key(s.as_str()));
        if let Some(symbol) = unknown {
            Some((
                BusinessRejectReason::UnknownSecurity,
                format!("unknown symbol {symbol}"),
            ))
        } else if !matches!(req.req_type, 1 | 7) {
            Some((
                BusinessRejectReason::Other,
                format!(
                    "MassStatusReqType {} is not supported (1 by security, 7 all orders)",
                    req.req_type
                ),
            ))
        } else if req.req_type == 1 && req.symbol.is_none() {
            Some((
                BusinessRejectReason::ConditionallyRequiredFieldMissing,
                "MassStatusReqType 1 needs Symbol (55)".to_string(),
            ))
        } else {
            None
        }
    }
}

fn side_of(side: u8) -> Result<Side, Refusal> {
    match side {
        b'1' => Ok(Side::Buy),
        b'2' => Ok(Side::Sell),
        other => Err((
            11,
            format!("Side {} is not supported (1 buy, 2 sell)", other as char),
        )),
    }
}

fn kind_of(spec: &InstrumentSpec, req: &NewRequest) -> Result<OrderKind, Refusal> {
    let price = |p: Option<Decimal>, tag: &str| -> Result<i64, Refusal> {
        let p = p.ok_or_else(|| (99, format!("{tag} is required for this OrdType")))?;
        spec.price_to_ticks(p).map_err(reject)
    };
    Ok(match req.ord_type {
        b'1' => OrderKind::Market,
        b'2' => OrderKind::Limit {
            price_ticks: price(req.price, "Price (44)")?,
        },
        b'3' => OrderKind::Stop {
            stop_ticks: price(req.stop_px, "StopPx (99)")?,
        },
        b'4' => OrderKind::StopLimit {
            stop_ticks: price(req.stop_px, "StopPx (99)")?,
            price_ticks: price(req.price, "Price (44)")?,
        },
        other => {
            return Err((
                11,
                format!(
                    "OrdType {} is not supported (1 market, 2 limit, 3 stop, 4 stop limit)",
                    other as char
                ),
            ));
        }
    })
}

fn tif_of(req: &NewRequest) -> Result<TimeInForce, Refusal> {
    Ok(match req.tif {
        b'0' => TimeInForce::Day,
        b'1' => TimeInForce::Gtc,
        b'3' => TimeInForce::Ioc,
        b'4' => TimeInForce::Fok,
        b'6' => match (req.expire_time_ns, req.expire_date) {
            (Some(at), None) => TimeInForce::Gtd(Expiry::AtNs(at)),
            (None, Some(days)) => TimeInForce::Gtd(Expiry::OnDate {
                days_since_epoch: days,
            }),
            (Some(_), Some(_)) => {
                return Err((
                    99,
                    "give ExpireTime (126) or ExpireDate (432), not both".into(),
                ));
            }
            (None, None) => {
                return Err((
                    99,
                    "TimeInForce 6 (GTD) needs ExpireTime (126) or ExpireDate (432)".into(),
                ));
            }
        },
        other => {
            return Err((
                11,
                format!(
                    "TimeInForce {} is not supported (0 day, 1 GTC, 3 IOC, 4 FOK, 6 GTD)",
                    other as char
                ),
            ));
        }
    })
}

/// True for ExecInst 6 (post only); any other instruction is refused.
fn post_only_of(exec_inst: &[u8]) -> Result<bool, Refusal> {
    let mut post_only = false;
    for &inst in exec_inst {
        match inst {
            b'6' => post_only = true,
            other => {
                return Err((
                    11,
                    format!(
                        "ExecInst {} is not supported (6: participate, don't initiate)",
                        other as char
                    ),
                ));
            }
        }
    }
    Ok(post_only)
}

fn reject(reason: RejectReason) -> Refusal {
    (reason.ord_rej_reason(), reason.text().to_string())
}

fn lots(spec: &InstrumentSpec, qty: Decimal) -> Result<i64, Refusal> {
    spec.qty_to_lots(qty).map_err(reject)
}

/// MaxFloor (111) in lots: positive, a whole number of lots, and at most the order quantity (FIX: MaxFloor <=
/// OrderQty; equal shows the whole order).
fn max_floor_lots(spec: &InstrumentSpec, floor: Decimal, qty_lots: i64) -> Result<i64, Refusal> {
    let code = RejectReason::DisplayInvalid.ord_rej_reason();
    match spec.qty_to_lots(floor) {
        Ok(floor_lots) if floor_lots <= qty_lots => Ok(floor_lots),
        Err(RejectReason::QtyOffLot) => Err((
            code,
            format!("MaxFloor (111) {floor} is not a whole number of lots"),
        )),
        _ => Err((
            code,
            format!("MaxFloor (111) {floor} must be positive and at most the order quantity"),
        )),
    }
}
