//! The order views' bookkeeping (the two views are described in [`super`]): the submission view, changed the
//! moment a command is queued for the sequencer, or numbered by it (and again in replay, before the command's
//! events); handing the turn's commands to the sequencer and learning their numbers; holding answers behind them;
//! the lookup of a session's orders by ClOrdID; forgetting finished orders; an order's ExecutionReport as the
//! release view has it. How each released event changes an order is [`Order`]'s.

use engine::{Command, Expiry, MassCancelScope, NewOrder, OrderId, Replace, Seq, TimeInForce};
use journal::sequencer::{SUBMISSION_COMMANDS_MAX, Submission, SubmitError};
use session::Routing;
use session::app::AppMessage;

use super::order::Order;
use super::reports::{self, ExecReport};
use super::state::{DONE_ORDERS_MAX, Gateway, Held, HeldItem, Output, UNNUMBERED, Unnumbered};
use crate::origin::Origin;

impl Gateway {
    /// Queues a command for the sequencer (handed over at the end of the turn, or sooner when a number is needed:
    /// see [`Gateway::submit_pending`]) and admits it into the submission view: a cancel or replace at once (its
    /// order has its number), a NewOrderSingle once the sequencer has numbered it (its ClOrdID is taken meanwhile,
    /// as [`UNNUMBERED`]). `routing`: a NewOrderSingle's, reversed for its reports.
    pub(super) fn submit(
        &mut self,
        command: Command,
        origin: Origin<'_>,
        routing: Option<Box<Routing>>,
    ) {
        let encoded = origin.encode();
        match (&command, origin) {
            (
                Command::New(order),
                Origin::New {
                    session, cl_ord_id, ..
                },
            ) => {
                let session = self.session_by_id.get(session).copied();
                if let Some(s) = session {
                    self.sessions[s]
                        .by_cl_ord_id
                        .insert(cl_ord_id.into(), UNNUMBERED);
                }
                self.unnumbered.push(Unnumbered {
                    at: self.pending.len(),
                    session,
                    order: *order,
                    cl_ord_id: cl_ord_id.into(),
                    routing,
                });
            }
            _ => self.admit_amendment(&command, &encoded),
        }
        self.pending.push(Submission {
            command,
            origin: encoded,
        });
    }

    /// Hands the commands of this turn to the sequencer (waiting while its input is full) and learns their
    /// numbers: each NewOrderSingle's OrderID is the number its command was given. An error (the sequencer
    /// stopped or refused) is final: the venue must stop.
    pub fn submit_pending(&mut self) -> Result<(), SubmitError> {
        self.number_pending();
        match self.failure.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Submits `pending` in chunks the sequencer takes, and admits each NewOrderSingle under its number. A failure
    /// is kept for [`Gateway::submit_pending`]; what was not submitted is dropped (the venue is stopping).
    pub(super) fn number_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        let mut unnumbered = std::mem::take(&mut self.unnumbered).into_iter().peekable();
        let mut done = 0;
        while !pending.is_empty() && self.failure.is_none() {
            let n = pending.len().min(SUBMISSION_COMMANDS_MAX);
            let chunk: Vec<Submission> = pending.drain(..n).collect();
            let submitted = match self.submitter.as_mut() {
                Some(submitter) => submitter.submit(chunk),
                None => Err(SubmitError::Stopped),
            };
            let numbers = match submitted {
                Ok(numbers) => numbers,
                Err(e) => {
                    self.failure = Some(e);
                    break;
                }
            };
            assert_eq!(
                numbers.end - numbers.start,
                n as Seq,
                "the sequencer numbers every command it takes"
            );
            while let Some(new) = unnumbered.next_if(|u| u.at < done + n) {
                let seq = numbers.start + (new.at - done) as Seq;
                self.admit_new(seq, &new.order, new.session, &new.cl_ord_id);
                if let Some(order) = self.orders.get_mut(&OrderId(seq)) {
                    order.routing = new.routing;
                }
            }
            self.submitted_seq = numbers.end - 1;
            done += n;
        }
        for new in unnumbered {
            // Never submitted: the session's ClOrdID is free again.
            if let Some(s) = new.session {
                let map = &mut self.sessions[s].by_cl_ord_id;
                if map.get(&new.cl_ord_id) == Some(&UNNUMBERED) {
                    map.remove(&new.cl_ord_id);
                }
            }
        }
        // What is left was never taken (the reason is in `failure`), and `pending` is empty again.
        pending.clear();
        self.pending = pending;
    }

    /// Sends now, or holds behind the commands in flight.
    pub(super) fn answer(&mut self, session: usize, msg: AppMessage, out: &mut Output) {
        if self.in_flight() {
            self.hold(session, HeldItem::Ready(msg));
        } else {
            out.messages.push((session, msg));
        }
    }

    /// Holds an answer behind every command submitted so far (numbering those this turn holds first).
    pub(super) fn hold(&mut self, session: usize, item: HeldItem) {
        self.number_pending();
        self.held.push_back(Held {
            after: self.submitted_seq,
            session,
            item,
        });
    }

    /// True when `cl_ord_id` of `session` names a NewOrderSingle the sequencer has not numbered yet.
    pub(super) fn is_unnumbered(&self, session: usize, cl_ord_id: &str) -> bool {
        !self.unnumbered.is_empty()
            && self.sessions[session].by_cl_ord_id.get(cl_ord_id) == Some(&UNNUMBERED)
    }

    /// What a journaled command changes in replay, before its events.
    pub(super) fn admit(&mut self, seq: Seq, command: &Command, origin: &[u8]) {
        if let Command::New(order) = command {
            let Ok(Origin::New {
                session: session_name,
                account,
                cl_ord_id,
            }) = Origin::decode(origin)
            else {
                tracing::error!(
                    seq,
                    "journal origin of an order undecodable: its reports are not sent"
                );
                return;
            };
            let session = self.session_by_id.get(session_name).copied();
            self.learn_session(session_name, order.session);
            if !self.account_by_name.contains_key(account) {
                self.learn_account(account, order.account);
            }
            self.admit_new(seq, order, session, cl_ord_id);
        } else {
            self.admit_amendment(command, origin);
        }
    }

    /// What a command other than a NewOrderSingle changes at submission (and in replay, before its events).
    fn admit_amendment(&mut self, command: &Command, origin: &[u8]) {
        let Ok(origin) = Origin::decode(origin) else {
            tracing::error!("journal origin undecodable: its reports are not sent");
            return;
        };
        let session = origin
            .session()
            .and_then(|name| self.session_by_id.get(name).copied());
        match (command, origin) {
            (Command::Cancel { order_id, .. }, Origin::Cancel { cl_ord_id, .. })
            | (Command::Replace(Replace { order_id, .. }), Origin::Replace { cl_ord_id, .. }) => {
                self.admit_amend(*order_id, session, cl_ord_id);
            }
            (Command::MassCancel(MassCancelScope::Session(id)), origin)
            | (Command::MassCancel(MassCancelScope::SessionInstrument(id, _)), origin) => {
                if let Some(name) = origin.session() {
                    self.learn_session(name, *id);
                }
            }
            _ => {}
        }
    }

    /// A NewOrderSingle: the order (its id is the command's sequence number) and its ClOrdID.
    pub(super) fn admit_new(
        &mut self,
        seq: Seq,
        order: &NewOrder,
        session: Option<usize>,
        cl_ord_id: &str,
    ) {
        let id = OrderId(seq);
        if let Some(s) = session {
            self.sessions[s].by_cl_ord_id.insert(cl_ord_id.into(), id);
        }
        if let TimeInForce::Gtd(Expiry::AtNs(at)) = order.tif {
            self.expiries.insert((at, seq));
        }
        self.orders
            .insert(id, Order::submitted(id, session, order, cl_ord_id));
    }

    /// A cancel or replace: in progress on its order, and its ClOrdID taken.
    fn admit_amend(&mut self, order_id: OrderId, session: Option<usize>, cl_ord_id: &str) {
        if let Some(order) = self.orders.get_mut(&order_id) {
            order.pending = Some(cl_ord_id.into());
            order.aliases.push(cl_ord_id.into());
            if let Some(s) = session {
                self.sessions[s]
                    .by_cl_ord_id
                    .insert(cl_ord_id.into(), order_id);
            }
        }
    }

    /// The order the session's ClOrdID names (live, remembered, or amended by that ClOrdID in flight).
    pub(super) fn live_order_for(&self, session: usize, cl_ord_id: &str) -> Option<&Order> {
        let id = self.sessions[session].by_cl_ord_id.get(cl_ord_id)?;
        self.orders.get(id)
    }

    /// Forgets a finished order once [`DONE_ORDERS_MAX`] newer ones have finished.
    pub(super) fn finish(&mut self, order_id: OrderId) {
        self.done.push_back(order_id);
        while self.done.len() > DONE_ORDERS_MAX {
            let Some(old) = self.done.pop_front() else {
                break;
            };
            if let Some(order) = self.orders.remove(&old)
                && let Some(s) = order.session
            {
                let map = &mut self.sessions[s].by_cl_ord_id;
                for alias in &order.aliases {
                    if map.get(alias) == Some(&old) {
                        map.remove(alias);
                    }
                }
            }
        }
    }

    /// An ExecutionReport of `order` as the release view has it.
    pub(super) fn execution_report(&self, order: &Order, report: &ExecReport<'_>) -> AppMessage {
        let spec = &self.market.instruments[order.instrument.0 as usize];
        let account = self.account_names.get(&order.account).map(String::as_str);
        let dialect = order.session.map(|s| self.dialect(s)).unwrap_or_default();
        reports::execution_report(spec, account, order, report, dialect, None)
    }
}
