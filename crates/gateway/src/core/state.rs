//! What the gateway holds, and the bookkeeping every part of it shares: the types it is given and gives back,
//! the [`Gateway`] itself, its numbering of sessions and accounts for the engine, the commands waiting to be
//! submitted and the sequence numbers the sequencer gave those it took, and the answers held behind commands in
//! flight.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Range;

use bytes::BytesMut;

use engine::{
    AccountId, InstrumentId, InstrumentSpec, NewOrder, OrderId, Seq, SessionId, TradingStatus,
};
use journal::sequencer::{Submission, SubmitError, Submitter};
use marketdata::{MarketData, MdInbound};
use session::Routing;
use session::app::AppMessage;
use store::trades::TradeRecord;

use super::captured::{Captured, Subscription};
use super::order::Order;
use super::reports::Dialect;
use crate::request::{Inbound, MassStatusRequest, StatusRequest, TradeCaptureRequest};

/// Finished orders remembered (for "too late to cancel" and status requests), venue-wide; the oldest are
/// forgotten first.
pub const DONE_ORDERS_MAX: usize = 1 << 18;
/// Answers held behind in-flight commands, at most; beyond it the gateway stops reading requests until the
/// sequencer catches up.
pub const OUTBOX_MAX: usize = 1 << 16;

/// A configured session as the gateway knows it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// `SessionConfig::id()`, the name the journal and the stores use.
    pub id: String,
    pub venue_comp_id: String,
    pub client_comp_id: String,
    /// Accounts the session may trade; the first is the default.
    pub accounts: Vec<String>,
    /// How its messages are written (TimeStampPrecision, VenueExtensions).
    pub dialect: Dialect,
    /// A drop-copy session's scope; `None` for every other session.
    pub drop_copy: Option<session::config::DropCopyScope>,
}

/// A drop-copy session and what it takes, resolved against the configured sessions.
#[derive(Debug)]
pub(super) struct CopyTarget {
    pub(super) session: usize,
    pub(super) all_accounts: bool,
    pub(super) accounts: HashSet<String>,
    /// The trading sessions whose client CompID `DropCopySessions` names.
    pub(super) origins: Vec<usize>,
}

impl CopyTarget {
    pub(super) fn takes(&self, origin: usize, account: Option<&str>) -> bool {
        self.all_accounts
            || account.is_some_and(|a| self.accounts.contains(a))
            || self.origins.contains(&origin)
    }
}

/// The drop-copy sessions among `sessions`, with their scopes resolved (CompIDs to session numbers).
fn copy_targets(sessions: &[SessionInfo]) -> Vec<CopyTarget> {
    sessions
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let scope = s.drop_copy.as_ref()?;
            let origins = sessions
                .iter()
                .enumerate()
                .filter(|(j, o)| {
                    *j != i && o.drop_copy.is_none() && scope.sessions.contains(&o.client_comp_id)
                })
                .map(|(j, _)| j)
                .collect();
            Some(CopyTarget {
                session: i,
                all_accounts: scope.all_accounts,
                accounts: scope.accounts.iter().cloned().collect(),
                origins,
            })
        })
        .collect()
}

/// What the gateway is told.
#[derive(Clone, Debug)]
pub enum Input {
    Request {
        session: usize,
        inbound: Inbound,
    },
    /// A Logon was accepted; `cancel_on_disconnect` is the setting for this logon.
    Logon {
        session: usize,
        cancel_on_disconnect: bool,
    },
    /// The logged-on session ended.
    Disconnected {
        session: usize,
    },
    /// An answer the session's application made itself (a throttle or role reject): sent in its turn, after the
    /// answers to the session's earlier requests.
    Answer {
        session: usize,
        /// The MsgSeqNum of the message answered.
        in_seq: u64,
        msg: AppMessage,
    },
    /// A market-data, reference-data or status request (V, x, e, g): answered by market data at once.
    MarketData {
        session: usize,
        inbound: MdInbound,
    },
    /// An operator's command from the admin server; the outcome goes back on `reply`.
    Admin {
        command: AdminCommand,
        reply: crossbeam_channel::Sender<Result<AdminDone, String>>,
    },
}

/// What the operator asks of the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCommand {
    /// Trading status of the instrument `symbol` (halt, resume, cancel-only, post-only).
    SetStatus {
        symbol: String,
        status: TradingStatus,
    },
    /// Cancels every live order in the instrument `symbol`.
    MassCancelInstrument { symbol: String },
    /// Engages (`engaged`) or releases the kill switch of a target.
    Kill { target: KillTarget, engaged: bool },
    /// Answers at once: the gateway thread takes its input (the admin server's readiness check).
    Ping,
}

/// Whose orders a kill switch stops.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KillTarget {
    /// An account, by name.
    Account(String),
    /// A session, by its id (`FIX.4.4:FIXVENUE->CLIENT1`).
    Session(String),
}

/// What the gateway did with an admin command: the sequence number of the command it submitted, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminDone {
    pub seq: Option<u64>,
    pub text: String,
}

/// The kill switches engaged.
#[derive(Debug, Default)]
pub(super) struct KillSwitches {
    pub(super) accounts: BTreeSet<String>,
    pub(super) sessions: BTreeSet<usize>,
}

/// What the gateway asks for; the caller carries it out in this order: trades, messages. (Commands go to the
/// sequencer through [`Gateway::submit_pending`].)
#[derive(Debug, Default)]
pub struct Output {
    pub messages: Vec<(usize, AppMessage)>,
    pub trades: Vec<TradeRecord>,
    /// Market data, reference data and status (W, X, Y, y, f, h): sent after `messages`, never stored for
    /// resend, and dropped rather than waited for when the session's queue has no room (slow subscribers).
    pub market_data: Vec<(usize, AppMessage)>,
}

/// The venue's instruments and accounts, as configured.
#[derive(Clone, Debug)]
pub struct Market {
    pub instruments: Vec<InstrumentSpec>,
    pub currencies: Vec<String>,
    /// Configured account names and their engine ids.
    pub accounts: Vec<(String, AccountId)>,
}

/// The sequencer as the gateway uses it: it takes a batch of commands and answers with the sequence numbers it
/// gave them, in order. The gateway learns its numbers only so: it never predicts them, so another submitter (an
/// admin halt, a drop copy) can never make it misname an order.
pub trait Submit: Send {
    fn submit(&mut self, batch: Vec<Submission>) -> Result<Range<Seq>, SubmitError>;
}

impl Submit for Submitter {
    fn submit(&mut self, batch: Vec<Submission>) -> Result<Range<Seq>, SubmitError> {
        Submitter::submit(self, batch)
    }
}

/// The ClOrdID map's entry for a NewOrderSingle handed over and not yet numbered by the sequencer (order ids
/// start at 1). A request that names it makes the gateway submit what it holds first, to learn the number.
pub(super) const UNNUMBERED: OrderId = OrderId(0);

/// A NewOrderSingle waiting in `Gateway::pending` for its number (its OrderID).
#[derive(Debug)]
pub(super) struct Unnumbered {
    /// Its place in `Gateway::pending`.
    pub(super) at: usize,
    pub(super) session: Option<usize>,
    pub(super) order: NewOrder,
    pub(super) cl_ord_id: Box<str>,
    pub(super) routing: Option<Box<Routing>>,
}

#[derive(Debug)]
pub(super) struct SessionState {
    pub(super) info: SessionInfo,
    pub(super) engine_id: Option<SessionId>,
    /// ClOrdIDs of the session's orders (live or remembered) and of cancels and replaces in flight.
    pub(super) by_cl_ord_id: HashMap<Box<str>, OrderId>,
    pub(super) cancel_on_disconnect: bool,
}

/// Held answers: sent once every command up to `after` is released.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) after: Seq,
    pub(super) session: usize,
    pub(super) item: HeldItem,
}

#[derive(Debug)]
pub(super) enum HeldItem {
    Ready(AppMessage),
    Status(StatusRequest, Routing),
    MassStatus(MassStatusRequest, Routing),
    TradeCapture(TradeCaptureRequest, Routing),
}

/// The gateway core.
pub struct Gateway {
    pub(super) market: Market,
    pub(super) symbols: HashMap<String, InstrumentId>,
    pub(super) sessions: Vec<SessionState>,
    pub(super) session_by_id: HashMap<String, usize>,
    pub(super) session_by_engine: HashMap<SessionId, usize>,
    pub(super) engine_session_next: u32,
    pub(super) account_by_name: HashMap<String, AccountId>,
    pub(super) account_names: HashMap<AccountId, String>,
    pub(super) account_next: u32,
    pub(super) orders: HashMap<OrderId, Order>,
    pub(super) done: VecDeque<OrderId>,
    /// Where commands go; `None` until [`Gateway::attach`] (replay submits nothing).
    pub(super) submitter: Option<Box<dyn Submit>>,
    /// Commands of this turn not yet handed to the sequencer, in order.
    pub(super) pending: Vec<Submission>,
    /// The NewOrderSingles among `pending`, in order.
    pub(super) unnumbered: Vec<Unnumbered>,
    /// Why a submission failed; the caller hears of it from [`Gateway::submit_pending`].
    pub(super) failure: Option<SubmitError>,
    /// The sequence number the sequencer gave the gateway's last submitted command.
    pub(super) submitted_seq: Seq,
    pub(super) released_seq: Seq,
    pub(super) held: VecDeque<Held>,
    /// Status reports are not journaled: their ExecIDs are `<boot>-<n>`.
    pub(super) status_prefix: String,
    pub(super) status_count: u64,
    pub(super) scratch: BytesMut,
    /// GTD ExpireTimes (with the order's id), to ask for the time only when something is due.
    pub(super) expiries: BTreeSet<(i64, u64)>,
    /// The next instrument close after the last time submitted.
    pub(super) time_due_ns: i64,
    /// Market data: the books rebuilt from released events, subscriptions, their messages.
    pub(super) md: MarketData,
    /// The operator's kill switches engaged.
    pub(super) killed: KillSwitches,
    /// The drop-copy sessions and their scopes.
    pub(super) copy_targets: Vec<CopyTarget>,
    /// The current UTC day's trades, for trade capture, and the live trade-capture subscriptions.
    pub(super) captured: Captured,
    pub(super) capture_subs: Vec<Subscription>,
}

impl Gateway {
    /// A gateway for `market` and the configured `sessions`, before replay; `boot_us` (the venue's start time)
    /// makes status ExecIDs unique across restarts.
    pub fn new(market: Market, sessions: Vec<SessionInfo>, boot_us: i64) -> Gateway {
        let symbols = market
            .instruments
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.symbol.clone(), InstrumentId(i as u32)))
            .collect();
        let mut account_by_name = HashMap::new();
        let mut account_names = HashMap::new();
        let mut account_next = 1;
        for (name, id) in &market.accounts {
            account_by_name.insert(name.clone(), *id);
            account_names.insert(*id, name.clone());
            account_next = account_next.max(id.0 + 1);
        }
        let md = MarketData::new(
            market.instruments.clone(),
            market.currencies.clone(),
            &sessions
                .iter()
                .map(|s| marketdata::Style {
                    time_precision: s.dialect.time_precision,
                    venue_extensions: s.dialect.venue_extensions,
                })
                .collect::<Vec<_>>(),
        );
        let copy_targets = copy_targets(&sessions);
        let session_by_id = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Gateway {
            market,
            symbols,
            sessions: sessions
                .into_iter()
                .map(|info| SessionState {
                    info,
                    engine_id: None,
                    by_cl_ord_id: HashMap::new(),
                    cancel_on_disconnect: false,
                })
                .collect(),
            session_by_id,
            session_by_engine: HashMap::new(),
            engine_session_next: 1,
            account_by_name,
            account_names,
            account_next,
            orders: HashMap::new(),
            done: VecDeque::new(),
            submitter: None,
            pending: Vec::new(),
            unnumbered: Vec::new(),
            failure: None,
            submitted_seq: 0,
            released_seq: 0,
            held: VecDeque::new(),
            status_prefix: format!("{boot_us}"),
            status_count: 0,
            scratch: BytesMut::with_capacity(512),
            expiries: BTreeSet::new(),
            time_due_ns: i64::MIN,
            md,
            killed: KillSwitches::default(),
            copy_targets,
            captured: Captured::default(),
            capture_subs: Vec::new(),
        }
    }

    pub fn sessions(&self) -> impl Iterator<Item = &SessionInfo> {
        self.sessions.iter().map(|s| &s.info)
    }

    /// Live orders (not finished) the gateway tracks.
    pub fn live_orders(&self) -> usize {
        self.orders.values().filter(|o| !o.terminal()).count()
    }

    /// Answers held behind in-flight commands.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The sequence number the sequencer gave the gateway's last submitted command.
    pub fn submitted_seq(&self) -> Seq {
        self.submitted_seq
    }

    /// The last command whose batch was released (or replayed).
    pub fn released_seq(&self) -> Seq {
        self.released_seq
    }

    pub fn session_info(&self, session: usize) -> Option<&SessionInfo> {
        self.sessions.get(session).map(|s| &s.info)
    }

    /// Takes up after the journal's last command: everything up to it is released.
    pub fn resume_after(&mut self, last_seq: Seq) {
        self.submitted_seq = last_seq;
        self.released_seq = last_seq;
    }

    /// Where the gateway's commands go from now on (the sequencer, through its [`Submitter`]).
    pub fn attach(&mut self, submitter: Box<dyn Submit>) {
        self.submitter = Some(submitter);
    }

    /// True while a command the gateway submitted (or holds to submit) is not released yet.
    pub fn in_flight(&self) -> bool {
        !self.pending.is_empty() || self.submitted_seq > self.released_seq
    }

    /// True when the caller should stop reading requests until more is released.
    pub fn backlogged(&self) -> bool {
        self.held.len() >= OUTBOX_MAX
    }

    /// How the messages of `session` are written.
    pub(super) fn dialect(&self, session: usize) -> Dialect {
        self.sessions[session].info.dialect
    }

    /// The ExecID of a report of no journaled command (a status report, a refusal at the edge).
    pub(super) fn next_status_exec_id(&mut self) -> String {
        self.status_count += 1;
        format!("{}-{}", self.status_prefix, self.status_count)
    }

    // ----- the engine's numbers for sessions and accounts -----

    pub(super) fn engine_session(&mut self, session: usize) -> SessionId {
        if let Some(id) = self.sessions[session].engine_id {
            return id;
        }
        let id = SessionId(self.engine_session_next);
        self.engine_session_next += 1;
        self.sessions[session].engine_id = Some(id);
        self.session_by_engine.insert(id, session);
        id
    }

    pub(super) fn account_id(&mut self, name: &str) -> AccountId {
        if let Some(id) = self.account_by_name.get(name) {
            return *id;
        }
        let id = AccountId(self.account_next);
        self.account_next += 1;
        self.learn_account(name, id);
        id
    }

    pub(super) fn learn_account(&mut self, name: &str, id: AccountId) {
        self.account_by_name.insert(name.to_string(), id);
        self.account_names.insert(id, name.to_string());
        self.account_next = self.account_next.max(id.0 + 1);
    }

    /// Learns, while replaying, the numbers an earlier run gave a session and an account.
    pub(super) fn learn_session(&mut self, name: &str, id: SessionId) {
        self.engine_session_next = self.engine_session_next.max(id.0 + 1);
        if let Some(&i) = self.session_by_id.get(name) {
            self.sessions[i].engine_id = Some(id);
            self.session_by_engine.insert(id, i);
        }
    }
}
