//! Order handling: a request that passed its edge checks becomes a command for the sequencer; a refused one
//! becomes its answer, held in turn. NewOrderSingle, cancel and cancel/replace (one path for both), mass
//! cancel, cancel on disconnect, and the status reports (answered from the release view, after every command
//! submitted before them).

use rust_decimal::Decimal;

use engine::{Command, MassCancelScope, OrderId};
use fix::tags::{ExecType, OrdStatus};
use session::Routing;

use super::reports::{self, CancelReject, ExecReport, StatusIds};
use super::state::{Gateway, HeldItem, Output};
use crate::origin::Origin;
use crate::request::{
    AmendIds, CancelRequest, MassCancelRequest, MassStatusRequest, NewRequest, ReplaceRequest,
    StatusRequest,
};

/// Which amendment of an order: a cancel (F) or a cancel/replace (G).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Amend {
    Cancel,
    Replace,
}

impl Amend {
    /// CxlRejResponseTo (434) of its OrderCancelReject: 1 cancel, 2 cancel/replace.
    pub(super) fn response_to(self) -> u8 {
        match self {
            Amend::Cancel => b'1',
            Amend::Replace => b'2',
        }
    }

    /// Its journal origin.
    fn origin<'a>(self, session: &'a str, cl_ord_id: &'a str) -> Origin<'a> {
        match self {
            Amend::Cancel => Origin::Cancel { session, cl_ord_id },
            Amend::Replace => Origin::Replace { session, cl_ord_id },
        }
    }

    /// The amendment a journaled command's origin records, with its ClOrdID; `None` for any other command.
    pub(super) fn of_origin(origin: Origin<'_>) -> Option<(Amend, &str)> {
        match origin {
            Origin::Cancel { cl_ord_id, .. } => Some((Amend::Cancel, cl_ord_id)),
            Origin::Replace { cl_ord_id, .. } => Some((Amend::Replace, cl_ord_id)),
            _ => None,
        }
    }
}

/// A cancel or a cancel/replace request.
#[derive(Clone, Copy, Debug)]
pub(super) enum Amendment<'r> {
    Cancel(&'r CancelRequest),
    Replace(&'r ReplaceRequest),
}

impl<'r> Amendment<'r> {
    fn kind(self) -> Amend {
        match self {
            Amendment::Cancel(_) => Amend::Cancel,
            Amendment::Replace(_) => Amend::Replace,
        }
    }

    /// What both name: their ids, and the order's Symbol and Side.
    fn names(self) -> (&'r AmendIds, &'r str, u8) {
        match self {
            Amendment::Cancel(r) => (&r.ids, &r.symbol, r.side),
            Amendment::Replace(r) => (&r.ids, &r.symbol, r.side),
        }
    }
}

impl Gateway {
    pub(super) fn new_order(
        &mut self,
        session: usize,
        req: &NewRequest,
        routing: Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        match self.check_new(session, req) {
            Ok((order, account_name)) => {
                let info = &self.sessions[session].info;
                let origin_session = info.id.clone();
                let routing = (!routing_is_empty(&routing)).then(|| Box::new(routing));
                self.submit(
                    Command::New(order),
                    Origin::New {
                        session: &origin_session,
                        account: &account_name,
                        cl_ord_id: &req.cl_ord_id,
                    },
                    routing,
                );
            }
            Err((reason, text)) => {
                tracing::info!(
                    session = %self.sessions[session].info.id,
                    cl_ord_id = %req.cl_ord_id,
                    "order rejected: {text}"
                );
                let exec_id = self.next_status_exec_id();
                let dialect = self.dialect(session);
                // The order's account: the one it named, else the session's default (as the engine's reports).
                let account = req
                    .account
                    .as_deref()
                    .or_else(|| {
                        self.sessions[session]
                            .info
                            .accounts
                            .first()
                            .map(String::as_str)
                    })
                    .map(str::to_string);
                let mut refusal = reports::Refusal {
                    exec_id: &exec_id,
                    account: account.as_deref(),
                    code: reason,
                    text: &text,
                    copy: false,
                };
                let msg = reports::refused_new(
                    &mut self.scratch,
                    dialect,
                    req,
                    refusal,
                    &routing,
                    now_ns,
                );
                self.answer(session, msg, out);
                // Its drop copies follow it, held in the same turn (not journaled: see `dropcopy`).
                refusal.copy = true;
                let copy_routing = self.copy_routing(session);
                for target in self.copy_targets(session, account.as_deref()) {
                    let dialect = self.dialect(target);
                    let copy = reports::refused_new(
                        &mut self.scratch,
                        dialect,
                        req,
                        refusal,
                        &copy_routing,
                        now_ns,
                    );
                    self.answer(target, copy, out);
                }
            }
        }
    }

    /// A cancel or a replace: submitted if its checks pass, else answered with its OrderCancelReject.
    pub(super) fn amend(
        &mut self,
        session: usize,
        amendment: Amendment<'_>,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let (ids, symbol, side) = amendment.names();
        let checked =
            self.check_amend(session, ids, symbol, side)
                .and_then(|order| match amendment {
                    Amendment::Cancel(req) if req.qty.is_some_and(|q| q <= Decimal::ZERO) => Err((
                        99,
                        "OrderQty (38) must be positive".to_string(),
                        Some((order.id, order.status())),
                    )),
                    Amendment::Cancel(_) => Ok(Command::Cancel {
                        order_id: order.id,
                        account: order.account,
                    }),
                    Amendment::Replace(req) => self.check_replace(order, req).map(Command::Replace),
                });
        let kind = amendment.kind();
        match checked {
            Ok(command) => {
                let origin_session = self.sessions[session].info.id.clone();
                self.submit(command, kind.origin(&origin_session, &ids.cl_ord_id), None);
            }
            Err((code, text, found)) => {
                tracing::info!(
                    session = %self.sessions[session].info.id,
                    cl_ord_id = %ids.cl_ord_id,
                    "cancel/replace rejected: {text}"
                );
                let reject = CancelReject {
                    response_to: kind.response_to(),
                    cl_ord_id: &ids.cl_ord_id,
                    orig_cl_ord_id: &ids.orig_cl_ord_id,
                    found,
                    code,
                    text: &text,
                };
                let dialect = self.dialect(session);
                let msg = reject.build(&mut self.scratch, dialect, routing, now_ns);
                self.answer(session, msg, out);
            }
        }
    }

    pub(super) fn mass_cancel(
        &mut self,
        session: usize,
        req: &MassCancelRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        match self.mass_cancel_scope(session, req) {
            Ok(scope) => {
                let origin_session = self.sessions[session].info.id.clone();
                self.submit(
                    Command::MassCancel(scope),
                    Origin::MassCancel {
                        session: &origin_session,
                        cl_ord_id: &req.cl_ord_id,
                        req_type: req.req_type,
                    },
                    None,
                );
            }
            Err((reason, text)) => {
                let dialect = self.dialect(session);
                let msg = reports::mass_cancel_refused(
                    &mut self.scratch,
                    dialect,
                    req,
                    reason,
                    &text,
                    routing,
                    now_ns,
                );
                self.answer(session, msg, out);
            }
        }
    }

    /// The session ended: its live orders are canceled if it asked for that at logon.
    pub(super) fn disconnected(&mut self, session: usize) {
        // Orders of this turn get their numbers first, so that they are seen (and canceled) too.
        self.number_pending();
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        if !state.cancel_on_disconnect {
            return;
        }
        let any_live = state
            .by_cl_ord_id
            .values()
            .any(|id| self.orders.get(id).is_some_and(|o| !o.terminal()));
        if !any_live {
            return;
        }
        let origin_session = state.info.id.clone();
        let engine_session = self.engine_session(session);
        self.submit(
            Command::MassCancel(MassCancelScope::Session(engine_session)),
            Origin::CancelOnDisconnect {
                session: &origin_session,
            },
            None,
        );
    }

    /// Answers a status request now, or holds it behind the commands in flight (so that it reflects them).
    pub(super) fn status_or_hold(
        &mut self,
        session: usize,
        item: HeldItem,
        now_ns: i64,
        out: &mut Output,
    ) {
        if self.in_flight() {
            self.hold(session, item);
        } else {
            self.held_answer(session, item, now_ns, out);
        }
    }

    /// A held answer whose turn has come.
    pub(super) fn held_answer(
        &mut self,
        session: usize,
        item: HeldItem,
        now_ns: i64,
        out: &mut Output,
    ) {
        match item {
            HeldItem::Ready(msg) => out.messages.push((session, msg)),
            HeldItem::Status(req, routing) => self.status(session, &req, &routing, now_ns, out),
            HeldItem::MassStatus(req, routing) => {
                self.mass_status(session, &req, &routing, now_ns, out)
            }
            HeldItem::TradeCapture(req, routing) => {
                self.trade_capture(session, req, routing, now_ns, out)
            }
        }
    }

    fn status(
        &mut self,
        session: usize,
        req: &StatusRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let exec_id = self.next_status_exec_id();
        let order = self
            .live_order_for(session, &req.cl_ord_id)
            .or_else(|| {
                let id = req.order_id.as_ref()?.parse().ok()?;
                self.orders
                    .get(&OrderId(id))
                    .filter(|o| o.session == Some(session))
            })
            .filter(|o| o.status() != OrdStatus::PendingNew);
        let msg = match order {
            Some(order) => self.execution_report(
                order,
                &ExecReport {
                    exec_type: ExecType::OrderStatus,
                    exec_id: &exec_id,
                    extra: None,
                    ts_ns: now_ns,
                    status_ids: Some(StatusIds::Order {
                        req_id: req.ord_status_req_id.as_deref(),
                        cl_ord_id: &req.cl_ord_id,
                    }),
                },
            ),
            None => {
                let dialect = self.dialect(session);
                reports::unknown_order(&mut self.scratch, dialect, &exec_id, req, routing, now_ns)
            }
        };
        out.messages.push((session, msg));
    }

    fn mass_status(
        &mut self,
        session: usize,
        req: &MassStatusRequest,
        routing: &Routing,
        now_ns: i64,
        out: &mut Output,
    ) {
        let instrument = req
            .symbol
            .as_ref()
            .and_then(|s| self.symbols.get(s).copied());
        let mut ids: Vec<OrderId> = self.sessions[session]
            .by_cl_ord_id
            .values()
            .copied()
            .filter(|id| {
                self.orders.get(id).is_some_and(|o| {
                    !o.terminal()
                        && o.status() != OrdStatus::PendingNew
                        && instrument.is_none_or(|i| o.instrument == i)
                })
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let total = ids.len();
        if total == 0 {
            let exec_id = self.next_status_exec_id();
            let dialect = self.dialect(session);
            let msg =
                reports::no_live_orders(&mut self.scratch, dialect, &exec_id, req, routing, now_ns);
            out.messages.push((session, msg));
            return;
        }
        for (i, id) in ids.iter().enumerate() {
            let exec_id = self.next_status_exec_id();
            let status_ids = StatusIds::Mass {
                id: &req.mass_status_req_id,
                total,
                last: i + 1 == total,
            };
            let msg = self.execution_report(
                &self.orders[id],
                &ExecReport {
                    exec_type: ExecType::OrderStatus,
                    exec_id: &exec_id,
                    extra: None,
                    ts_ns: now_ns,
                    status_ids: Some(status_ids),
                },
            );
            out.messages.push((session, msg));
        }
    }
}

fn routing_is_empty(routing: &Routing) -> bool {
    routing.on_behalf_of.iter().all(Option::is_none)
        && routing.deliver_to.iter().all(Option::is_none)
}
