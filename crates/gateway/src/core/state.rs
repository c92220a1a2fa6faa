//! What the gateway holds, and the bookkeeping every part of it shares: the types it is given and gives back,
//! the [`Gateway`] itself, its numbering of sessions and accounts for the engine, the sequence numbers of the
//! commands submitted and released, and the answers held behind commands in flight.

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::BytesMut;

use engine::{AccountId, InstrumentId, InstrumentSpec, OrderId, Seq, SessionId, TradingStatus};
use journal::sequencer::Submission;
use session::Routing;
use session::app::AppMessage;
use store::trades::TradeRecord;

use super::order::Order;
use super::reports::Dialect;
use crate::request::{Inbound, MassStatusRequest, StatusRequest};

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
        msg: AppMessage,
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

/// What the gateway asks for; the caller carries it out in this order: submissions, trades, messages.
#[derive(Debug, Default)]
pub struct Output {
    pub submissions: Vec<Submission>,
    pub messages: Vec<(usize, AppMessage)>,
    pub trades: Vec<TradeRecord>,
}

/// The venue's instruments and accounts, as configured.
#[derive(Clone, Debug)]
pub struct Market {
    pub instruments: Vec<InstrumentSpec>,
    pub currencies: Vec<String>,
    /// Configured account names and their engine ids.
    pub accounts: Vec<(String, AccountId)>,
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
    /// The sequence number the next submitted command will get.
    pub(super) next_seq: Seq,
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
    /// The operator's kill switches engaged.
    pub(super) killed: KillSwitches,
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
            next_seq: 1,
            released_seq: 0,
            held: VecDeque::new(),
            status_prefix: format!("{boot_us}"),
            status_count: 0,
            scratch: BytesMut::with_capacity(512),
            expiries: BTreeSet::new(),
            time_due_ns: i64::MIN,
            killed: KillSwitches::default(),
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

    /// The sequence number the next command will get.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// The last command whose batch was released (or replayed).
    pub fn released_seq(&self) -> Seq {
        self.released_seq
    }

    pub fn session_info(&self, session: usize) -> Option<&SessionInfo> {
        self.sessions.get(session).map(|s| &s.info)
    }

    /// Starts numbering after the journal's last command (a venue whose journal is empty starts at 1).
    pub fn resume_after(&mut self, last_seq: Seq) {
        self.next_seq = last_seq + 1;
        self.released_seq = last_seq;
    }

    /// True when the caller should stop reading requests until more is released.
    pub fn backlogged(&self) -> bool {
        self.held.len() >= OUTBOX_MAX
    }

    // ----- held answers -----

    pub(super) fn in_flight(&self) -> bool {
        self.next_seq - 1 > self.released_seq
    }

    /// Sends now, or holds behind the commands in flight.
    pub(super) fn answer(&mut self, session: usize, msg: AppMessage, out: &mut Output) {
        if self.in_flight() {
            self.hold(session, HeldItem::Ready(msg));
        } else {
            out.messages.push((session, msg));
        }
    }

    pub(super) fn hold(&mut self, session: usize, item: HeldItem) {
        self.held.push_back(Held {
            after: self.next_seq - 1,
            session,
            item,
        });
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
