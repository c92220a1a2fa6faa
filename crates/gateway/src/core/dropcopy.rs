//! Drop copy: every ExecutionReport the venue sends a trading session as the effect of a command or an edge
//! check (acks, fills, cancels, replaces, rejects, expiries, mass-cancel cancels, triggered stops) is copied to
//! each drop-copy session whose scope takes it: the order's account is in its `DropCopyAccounts` (or that is
//! `*`), or the order's session is one its `DropCopySessions` names. Answers to OrderStatusRequest and
//! OrderMassStatusRequest are not copied: they restate what a copy already said, and a drop copy asks for its
//! own restatement with a TradeCaptureReportRequest.
//!
//! A copy is the original written again in the drop-copy session's dialect (TimeStampPrecision,
//! VenueExtensions): every field the same (ExecID, OrderID, ClOrdID, OrigClOrdID, Account, TransactTime, ...),
//! then CopyMsgIndicator (797=Y); its header carries the originating session's CompIDs: OnBehalfOfCompID (115)
//! the venue's CompID of that session, DeliverToCompID (128) its client's CompID. Copies of journaled commands'
//! reports are built where the reports are, in the same order, so a replay rebuilds them exactly.

use fix::tags::ExecType;
use session::Routing;
use session::app::AppMessage;

use super::order::Order;
use super::reports::{self, ExecReport};
use super::state::Gateway;

impl Gateway {
    /// The drop-copy sessions that take a report of session `origin` about an order of `account`.
    pub(super) fn copy_targets(&self, origin: usize, account: Option<&str>) -> Vec<usize> {
        self.copy_targets
            .iter()
            .filter(|t| t.session != origin && t.takes(origin, account))
            .map(|t| t.session)
            .collect()
    }

    /// The header routing of a copy of session `origin`'s report: OnBehalfOfCompID the venue's CompID of that
    /// session, DeliverToCompID its client's CompID.
    pub(super) fn copy_routing(&self, origin: usize) -> Routing {
        let info = &self.sessions[origin].info;
        Routing {
            on_behalf_of: [Some(info.venue_comp_id.clone()), None, None],
            deliver_to: [Some(info.client_comp_id.clone()), None, None],
            poss_resend: false,
        }
    }

    /// Appends to `out` the copies of `order`'s report to its session `origin`. A triggered stop's report
    /// (ExecType L, a venue extension) is copied only to drop-copy sessions with VenueExtensions=Y.
    pub(super) fn copy_report(
        &self,
        order: &Order,
        origin: usize,
        report: &ExecReport<'_>,
        out: &mut Vec<(usize, AppMessage)>,
    ) {
        if self.copy_targets.is_empty() {
            return;
        }
        let account = self.account_names.get(&order.account).map(String::as_str);
        let targets = self.copy_targets(origin, account);
        if targets.is_empty() {
            return;
        }
        let spec = &self.market.instruments[order.instrument.0 as usize];
        let routing = self.copy_routing(origin);
        for target in targets {
            let dialect = self.dialect(target);
            if report.exec_type == ExecType::TriggeredOrActivated && !dialect.venue_extensions {
                continue;
            }
            let msg =
                reports::execution_report(spec, account, order, report, dialect, Some(&routing));
            out.push((target, msg));
        }
    }
}
