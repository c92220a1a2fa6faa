//! [`MarketData`]: the venue's books as market data sees them, the subscriptions of every session, and what each
//! released command changes for each subscriber.
//!
//! Per command, the engine's events are applied in order (the order-by-order book from `Queue` events, trades
//! into the statistics, trading status), recording what the command touched; then every subscription that covers
//! a touched instrument gets one update for it (RptSeq + 1), whose entries take its view from the state before the
//! command to the state after. Updates of one batch go out together, one X per subscription at the end of the
//! batch (a status change first sends what is pending, so the order of changes holds).

use std::collections::{BTreeMap, VecDeque};

use engine::{Event, InstrumentId, InstrumentSpec, QueueChange, Side, TradingStatus};
use session::Routing;
use session::app::AppMessage;

use crate::book::{Book, LevelView, OrderChange};
use crate::encode::{self, Entry, Style, Value};
use crate::stats::{Print, Stats};
use crate::tags::{action, entry_type};

/// Subscriptions (V with SubscriptionRequestType 1) one session may hold at once.
pub const MD_SUBSCRIPTIONS_PER_SESSION_MAX: usize = 64;
/// Symbols in one MarketDataRequest, at most.
pub const MD_SYMBOLS_PER_REQUEST_MAX: usize = 256;
/// The deepest MarketDepth a request may name (0 is the full book).
pub const MARKET_DEPTH_MAX: i64 = 1_000;
/// Entries in one MarketDataIncrementalRefresh; a longer update continues in the next X.
pub const MD_X_ENTRIES_MAX: usize = 256;
/// Falls behind (a market-data message refused because the session's outbound queue has no room) tolerated in
/// [`MD_FALL_WINDOW_NS`]; one more and the session is logged out.
pub const MD_FALLS_MAX: usize = 3;
/// The window [`MD_FALLS_MAX`] counts in.
pub const MD_FALL_WINDOW_NS: i64 = 60 * 1_000_000_000;
/// How long a subscriber may stay behind (its fresh snapshots finding no room either) before it is logged out.
pub const MD_BEHIND_MAX_NS: i64 = 10 * 1_000_000_000;
/// SecurityStatus and TradingSessionStatus subscriptions one session may hold.
pub const STATUS_SUBSCRIPTIONS_PER_SESSION_MAX: usize = 4_096;
/// The TradingSessionID (336) of the venue's one, continuous, trading session.
pub const TRADING_SESSION_ID: &str = "CONTINUOUS";

/// One live subscription (V with SubscriptionRequestType 1).
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub(crate) md_req_id: String,
    pub(crate) routing: Routing,
    pub(crate) instruments: Vec<InstrumentId>,
    /// RptSeq of the last update sent (or skipped while behind), per instrument, parallel to `instruments`.
    pub(crate) rpt_seq: Vec<u64>,
    /// 0: the full book.
    pub(crate) depth: usize,
    pub(crate) aggregated: bool,
    /// MDUpdateType 0: a W on every change instead of X.
    pub(crate) full_refresh: bool,
    /// MDEntryTypes subscribed, as bits of `entry_type::ALL`.
    pub(crate) types: u16,
    /// Entries of the batch not yet written.
    pub(crate) pending: Vec<Entry>,
    /// Full-refresh subscriptions: instruments (indexes into `instruments`) to send a W for.
    pub(crate) refresh: Vec<usize>,
}

impl Subscription {
    pub(crate) fn wants(&self, entry_type: u8) -> bool {
        entry_type::ALL
            .iter()
            .position(|t| *t == entry_type)
            .is_some_and(|i| self.types & (1 << i) != 0)
    }
}

/// What market data knows of one session.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subscriber {
    pub(crate) style: Style,
    pub(crate) subs: Vec<Subscription>,
    /// SecurityStatus subscriptions: (SecurityStatusReqID, instrument, routing).
    pub(crate) status_subs: Vec<(String, InstrumentId, Routing)>,
    /// TradingSessionStatus subscriptions: (TradSesReqID, routing).
    pub(crate) session_status_subs: Vec<(String, Routing)>,
    /// Its outbound queue had no room: its increments are dropped until a fresh snapshot goes out.
    pub(crate) behind: bool,
    /// Since when it has been catching up (from its fall until a batch after its fresh snapshots went out).
    pub(crate) recovering_since: Option<i64>,
    /// Fresh snapshots went out at the end of the last batch; no failure since means it caught up.
    pub(crate) resync_sent: bool,
    /// When it fell behind, within the window.
    pub(crate) falls: VecDeque<i64>,
}

/// What one command touched in one instrument.
#[derive(Clone, Debug, Default)]
struct Touched {
    /// Each touched level as it was before the command, per side (bids, asks), by level key.
    before: [BTreeMap<i64, Option<LevelView>>; 2],
    changes: Vec<OrderChange>,
    prints: Vec<Print>,
    stats_before: Option<Stats>,
    status: Option<TradingStatus>,
    /// The instrument's status before the command's first status change.
    status_before: Option<TradingStatus>,
}

/// The market-data state machine, pure: released events, requests and delivery failures in; messages out.
pub struct MarketData {
    pub(crate) specs: Vec<InstrumentSpec>,
    pub(crate) currencies: Vec<String>,
    pub(crate) books: Vec<Book>,
    pub(crate) stats: Vec<Stats>,
    pub(crate) status: Vec<TradingStatus>,
    pub(crate) sessions: Vec<Subscriber>,
    /// Order-by-order subscriptions per instrument: positions are counted only where one exists.
    pub(crate) l3_subscriptions: Vec<u32>,
    touched: BTreeMap<usize, Touched>,
    pub(crate) now_ns: i64,
    mismatches: u64,
    pub(crate) responses: u64,
}

pub(crate) fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl MarketData {
    /// Market data for `specs` (their currency names in `currencies`) and sessions written in `styles`.
    pub fn new(
        specs: Vec<InstrumentSpec>,
        currencies: Vec<String>,
        styles: &[Style],
    ) -> MarketData {
        let n = specs.len();
        MarketData {
            books: vec![Book::default(); n],
            stats: vec![Stats::default(); n],
            status: specs.iter().map(|s| s.status).collect(),
            l3_subscriptions: vec![0; n],
            specs,
            currencies,
            sessions: styles
                .iter()
                .map(|style| Subscriber {
                    style: *style,
                    ..Subscriber::default()
                })
                .collect(),
            touched: BTreeMap::new(),
            now_ns: 0,
            mismatches: 0,
            responses: 0,
        }
    }

    pub fn book(&self, instrument: InstrumentId) -> Option<&Book> {
        self.books.get(instrument.0 as usize)
    }

    pub fn stats(&self, instrument: InstrumentId) -> Option<&Stats> {
        self.stats.get(instrument.0 as usize)
    }

    /// Events that did not fit the book (an engine `Level` total that differs from the book rebuilt from its
    /// `Queue` events, an order not where the event says): 0 unless there is a bug.
    pub fn mismatches(&self) -> u64 {
        self.mismatches
    }

    /// Live subscriptions of `session` (V with SubscriptionRequestType 1).
    pub fn subscriptions(&self, session: usize) -> usize {
        self.sessions.get(session).map_or(0, |s| s.subs.len())
    }

    /// One journaled command's events at start-up: the state is rebuilt, nothing is sent (no session is
    /// subscribed yet).
    pub fn replay(&mut self, ts_ns: i64, events: &[Event]) {
        let mut out = Vec::new();
        self.command(ts_ns, events, &mut out);
        debug_assert!(out.is_empty());
    }

    /// One released command: its events applied, its updates queued (a status change is sent at once, after
    /// what is pending for the session).
    pub fn command(&mut self, ts_ns: i64, events: &[Event], out: &mut Vec<(usize, AppMessage)>) {
        self.now_ns = ts_ns;
        for event in events {
            self.event(ts_ns, event);
        }
        let touched = std::mem::take(&mut self.touched);
        for (i, t) in &touched {
            self.publish(*i, t, out);
        }
        self.touched = touched;
        self.touched.clear();
    }

    fn event(&mut self, ts_ns: i64, event: &Event) {
        match *event {
            Event::Queue {
                instrument,
                side,
                price_ticks,
                order_id,
                visible_lots,
                change,
            } => {
                let i = instrument.0 as usize;
                let Some(book) = self.books.get_mut(i) else {
                    self.mismatches += 1;
                    return;
                };
                let positions = self.l3_subscriptions[i] > 0;
                let sb = book.side_mut(side);
                let key = sb.key(price_ticks);
                let old = sb.view(price_ticks);
                let t = self.touched.entry(i).or_default();
                t.before[side_index(side)].entry(key).or_insert(old);
                match sb.apply(order_id, price_ticks, visible_lots, change, positions) {
                    Ok(c) if positions => t.changes.push(c),
                    Ok(_) => {}
                    Err(_) => self.mismatches += 1,
                }
            }
            Event::Level {
                instrument,
                side,
                price_ticks,
                qty_lots,
            } => {
                let shown = self
                    .books
                    .get(instrument.0 as usize)
                    .and_then(|b| b.side(side).view(price_ticks))
                    .map_or(0, |v| v.0);
                if shown != qty_lots {
                    self.mismatches += 1;
                }
            }
            Event::Trade {
                instrument,
                price_ticks,
                qty_lots,
                ..
            } => {
                let i = instrument.0 as usize;
                if i >= self.specs.len() {
                    self.mismatches += 1;
                    return;
                }
                let t = self.touched.entry(i).or_default();
                if t.stats_before.is_none() {
                    t.stats_before = Some(self.stats[i].clone());
                }
                let print = Print {
                    price_ticks,
                    qty_lots,
                    ts_ns,
                };
                t.prints.push(print);
                self.stats[i].trade(&self.specs[i], print);
            }
            Event::Status { instrument, status } => {
                let i = instrument.0 as usize;
                if i < self.status.len() {
                    let t = self.touched.entry(i).or_default();
                    t.status_before.get_or_insert(self.status[i]);
                    t.status = Some(status);
                    self.status[i] = status;
                }
            }
            _ => {}
        }
    }

    /// The venue's trading session: open unless every instrument is halted.
    pub(crate) fn venue_open(&self) -> bool {
        self.status.iter().any(|s| *s != TradingStatus::Halted)
    }

    fn publish(&mut self, i: usize, t: &Touched, out: &mut Vec<(usize, AppMessage)>) {
        let instrument = InstrumentId(i as u32);
        for s in 0..self.sessions.len() {
            if self.sessions[s].behind {
                continue;
            }
            for k in 0..self.sessions[s].subs.len() {
                let Some(at) = self.sessions[s].subs[k]
                    .instruments
                    .iter()
                    .position(|x| *x == instrument)
                else {
                    continue;
                };
                let entries = self.increment(i, t, &self.sessions[s].subs[k]);
                if entries.is_empty() {
                    continue;
                }
                let sub = &mut self.sessions[s].subs[k];
                if sub.full_refresh {
                    if !sub.refresh.contains(&at) {
                        sub.refresh.push(at);
                    }
                    continue;
                }
                sub.rpt_seq[at] += 1;
                let rpt_seq = sub.rpt_seq[at];
                sub.pending
                    .extend(entries.into_iter().map(|e| Entry { rpt_seq, ..e }));
            }
        }
        if let (Some(status), Some(before)) = (t.status, t.status_before) {
            self.push_status(instrument, status, before, out);
        }
    }

    /// A trading status change: every SecurityStatus subscriber of the instrument and every market-data
    /// subscriber covering it gets a SecurityStatus, after what is pending for it; the trading session's status
    /// goes to its subscribers when it changes.
    fn push_status(
        &mut self,
        instrument: InstrumentId,
        status: TradingStatus,
        before: TradingStatus,
        out: &mut Vec<(usize, AppMessage)>,
    ) {
        let symbol = self.specs[instrument.0 as usize].symbol.clone();
        let venue_open = self.venue_open();
        let was_open = before != TradingStatus::Halted
            || self
                .status
                .iter()
                .enumerate()
                .any(|(i, s)| i != instrument.0 as usize && *s != TradingStatus::Halted);
        for s in 0..self.sessions.len() {
            let style = self.sessions[s].style;
            let mut messages = Vec::new();
            for (req_id, x, routing) in &self.sessions[s].status_subs {
                if *x == instrument {
                    messages.push(encode::security_status(
                        Some(req_id),
                        &symbol,
                        status,
                        self.now_ns,
                        style,
                        routing,
                    ));
                }
            }
            if messages.is_empty()
                && let Some(sub) = self.sessions[s]
                    .subs
                    .iter()
                    .find(|sub| sub.instruments.contains(&instrument))
            {
                messages.push(encode::security_status(
                    None,
                    &symbol,
                    status,
                    self.now_ns,
                    style,
                    &sub.routing,
                ));
            }
            if venue_open != was_open {
                for (req_id, routing) in &self.sessions[s].session_status_subs {
                    messages.push(encode::trading_session_status(
                        Some(req_id),
                        TRADING_SESSION_ID,
                        if venue_open {
                            encode::SessionStatus::Open
                        } else {
                            encode::SessionStatus::Halted
                        },
                        None,
                        routing,
                    ));
                }
            }
            if !messages.is_empty() {
                self.flush_session(s, out);
                out.extend(messages.into_iter().map(|m| (s, m)));
            }
        }
    }

    /// The entries one command gives a subscription's view of instrument `i` (RptSeq not yet set).
    fn increment(&self, i: usize, t: &Touched, sub: &Subscription) -> Vec<Entry> {
        let mut entries = Vec::new();
        let instrument = i as u32;
        let book = &self.books[i];
        let ts_ns = Some(self.now_ns);
        let entry = |action, entry_type, value| Entry {
            action,
            entry_type,
            instrument,
            rpt_seq: 0,
            value,
            ts_ns: match value {
                Value::Level { .. } | Value::Order { .. } => ts_ns,
                _ => None,
            },
        };
        if sub.aggregated {
            for side in [Side::Buy, Side::Sell] {
                let entry_type = book_entry_type(side);
                let before = &t.before[side_index(side)];
                if !sub.wants(entry_type) || before.is_empty() {
                    continue;
                }
                let sb = book.side(side);
                let (old, new) = if sub.depth == 0 {
                    let old: Vec<_> = before
                        .iter()
                        .filter_map(|(k, v)| v.map(|v| (price_of_key(side, *k), v)))
                        .collect();
                    let new: Vec<_> = before
                        .keys()
                        .filter_map(|k| {
                            let price = price_of_key(side, *k);
                            sb.view(price).map(|v| (price, v))
                        })
                        .collect();
                    (old, new)
                } else {
                    (sb.top(sub.depth, Some(before)), sb.top(sub.depth, None))
                };
                diff_levels(&old, &new, |action, price_ticks, (lots, orders)| {
                    entries.push(entry(
                        action,
                        entry_type,
                        Value::Level {
                            price_ticks,
                            lots,
                            orders,
                        },
                    ));
                });
            }
        } else {
            for c in &t.changes {
                let entry_type = book_entry_type(c.side);
                if !sub.wants(entry_type) {
                    continue;
                }
                let action = match c.change {
                    QueueChange::Joined => action::NEW,
                    QueueChange::Resized => action::CHANGE,
                    QueueChange::Left => action::DELETE,
                };
                entries.push(entry(
                    action,
                    entry_type,
                    Value::Order {
                        price_ticks: c.price_ticks,
                        lots: c.visible_lots,
                        order_id: c.order_id,
                        position: c.position,
                    },
                ));
            }
        }
        if sub.wants(entry_type::TRADE) {
            for p in &t.prints {
                entries.push(entry(
                    action::NEW,
                    entry_type::TRADE,
                    Value::Trade {
                        price_ticks: p.price_ticks,
                        lots: p.qty_lots,
                        ts_ns: p.ts_ns,
                    },
                ));
            }
        }
        if let Some(before) = &t.stats_before {
            let spec = &self.specs[i];
            let after = &self.stats[i];
            let new_day = before.last.is_none() || after.open_ticks != before.open_ticks;
            let stat_action = |had: bool| {
                if had && !new_day {
                    action::CHANGE
                } else {
                    action::NEW
                }
            };
            let stats = [
                (
                    entry_type::OPENING,
                    before.open_ticks.map(Value::Price),
                    after.open_ticks.map(Value::Price),
                ),
                (
                    entry_type::HIGH,
                    before.high_ticks.map(Value::Price),
                    after.high_ticks.map(Value::Price),
                ),
                (
                    entry_type::LOW,
                    before.low_ticks.map(Value::Price),
                    after.low_ticks.map(Value::Price),
                ),
                (
                    entry_type::VWAP,
                    before.vwap(spec).map(Value::Vwap),
                    after.vwap(spec).map(Value::Vwap),
                ),
                (
                    entry_type::VOLUME,
                    (before.volume_lots > 0).then_some(Value::Volume(before.volume_lots)),
                    Some(Value::Volume(after.volume_lots)),
                ),
            ];
            for (entry_type, old, new) in stats {
                if sub.wants(entry_type)
                    && let Some(new) = new
                    && (old != Some(new) || new_day)
                {
                    entries.push(entry(stat_action(old.is_some()), entry_type, new));
                }
            }
        }
        entries
    }

    /// A subscription's full view of instrument `i`, as a snapshot lists it.
    pub(crate) fn snapshot_entries(&self, i: usize, sub: &Subscription) -> Vec<Entry> {
        let book = &self.books[i];
        let instrument = i as u32;
        let mut entries = Vec::new();
        let entry = |entry_type, value| Entry {
            action: action::NEW,
            entry_type,
            instrument,
            rpt_seq: 0,
            value,
            ts_ns: None,
        };
        for side in [Side::Buy, Side::Sell] {
            let entry_type = book_entry_type(side);
            if !sub.wants(entry_type) {
                continue;
            }
            if sub.aggregated {
                for (price_ticks, (lots, orders)) in book.side(side).top(sub.depth, None) {
                    entries.push(entry(
                        entry_type,
                        Value::Level {
                            price_ticks,
                            lots,
                            orders,
                        },
                    ));
                }
            } else {
                for (position, order_id, price_ticks, lots) in book.side(side).orders() {
                    entries.push(entry(
                        entry_type,
                        Value::Order {
                            price_ticks,
                            lots,
                            order_id,
                            position,
                        },
                    ));
                }
            }
        }
        let stats = &self.stats[i];
        let spec = &self.specs[i];
        let values = [
            (
                entry_type::TRADE,
                stats.last.map(|p| Value::Trade {
                    price_ticks: p.price_ticks,
                    lots: p.qty_lots,
                    ts_ns: p.ts_ns,
                }),
            ),
            (entry_type::OPENING, stats.open_ticks.map(Value::Price)),
            (entry_type::HIGH, stats.high_ticks.map(Value::Price)),
            (entry_type::LOW, stats.low_ticks.map(Value::Price)),
            (entry_type::VWAP, stats.vwap(spec).map(Value::Vwap)),
            (
                entry_type::VOLUME,
                stats.last.map(|_| Value::Volume(stats.volume_lots)),
            ),
        ];
        for (entry_type, value) in values {
            if sub.wants(entry_type)
                && let Some(value) = value
            {
                entries.push(entry(entry_type, value));
            }
        }
        entries
    }

    /// Writes what is pending for session `s`: its increments (X, at most [`MD_X_ENTRIES_MAX`] entries each) and
    /// its full refreshes (W).
    pub(crate) fn flush_session(&mut self, s: usize, out: &mut Vec<(usize, AppMessage)>) {
        let style = self.sessions[s].style;
        for k in 0..self.sessions[s].subs.len() {
            let pending = std::mem::take(&mut self.sessions[s].subs[k].pending);
            let refresh = std::mem::take(&mut self.sessions[s].subs[k].refresh);
            let sub = &self.sessions[s].subs[k];
            for chunk in pending.chunks(MD_X_ENTRIES_MAX) {
                out.push((
                    s,
                    encode::incremental(&sub.md_req_id, &self.specs, chunk, style, &sub.routing),
                ));
            }
            for at in refresh {
                let sub = &self.sessions[s].subs[k];
                let i = sub.instruments[at].0 as usize;
                let entries = self.snapshot_entries(i, sub);
                let sub = &mut self.sessions[s].subs[k];
                sub.rpt_seq[at] += 1;
                let sub = &self.sessions[s].subs[k];
                out.push((
                    s,
                    encode::snapshot(
                        &sub.md_req_id,
                        &self.specs[i],
                        sub.rpt_seq[at],
                        &entries,
                        style,
                        &sub.routing,
                    ),
                ));
            }
            // Keep the allocation for the next batch.
            let mut pending = pending;
            pending.clear();
            self.sessions[s].subs[k].pending = pending;
        }
    }

    /// The end of a released batch: the sessions that fell behind get fresh snapshots, then every session's
    /// pending increments go out.
    pub fn end_batch(&mut self, out: &mut Vec<(usize, AppMessage)>) {
        for s in 0..self.sessions.len() {
            let subscriber = &mut self.sessions[s];
            if subscriber.behind {
                self.resync(s, out);
                self.sessions[s].resync_sent = true;
            } else if subscriber.resync_sent {
                subscriber.resync_sent = false;
                subscriber.recovering_since = None;
            }
            self.flush_session(s, out);
        }
    }

    /// Fresh snapshots for every subscription of a session that fell behind, each with the RptSeq its next
    /// increment continues from.
    fn resync(&mut self, s: usize, out: &mut Vec<(usize, AppMessage)>) {
        self.sessions[s].behind = false;
        for k in 0..self.sessions[s].subs.len() {
            let sub = &mut self.sessions[s].subs[k];
            sub.pending.clear();
            sub.refresh = (0..sub.instruments.len()).collect();
        }
        self.flush_session(s, out);
    }

    /// A market-data message to `session` was refused: its outbound queue has no room. Its pending increments
    /// are dropped and it gets fresh snapshots at the end of the next batch. `Some(reason)` to log it out: it fell
    /// behind more than [`MD_FALLS_MAX`] times in [`MD_FALL_WINDOW_NS`] (a fall counts once it had caught up
    /// again), or stayed behind longer than [`MD_BEHIND_MAX_NS`]. Its subscriptions are then gone.
    pub fn fell_behind(&mut self, session: usize) -> Option<String> {
        let now_ns = self.now_ns;
        let subscriber = self.sessions.get_mut(session)?;
        if subscriber.behind {
            return None;
        }
        subscriber.behind = true;
        subscriber.resync_sent = false;
        for sub in &mut subscriber.subs {
            sub.pending.clear();
            sub.refresh.clear();
        }
        let reason = match subscriber.recovering_since {
            // Its fresh snapshots found no room either: still the same fall.
            Some(since) if now_ns.saturating_sub(since) > MD_BEHIND_MAX_NS => Some(format!(
                "market data: behind for more than {} s (outbound queue full)",
                MD_BEHIND_MAX_NS / 1_000_000_000
            )),
            Some(_) => None,
            None => {
                subscriber.recovering_since = Some(now_ns);
                subscriber.falls.push_back(now_ns);
                while subscriber
                    .falls
                    .front()
                    .is_some_and(|at| *at < now_ns.saturating_sub(MD_FALL_WINDOW_NS))
                {
                    subscriber.falls.pop_front();
                }
                (subscriber.falls.len() > MD_FALLS_MAX).then(|| {
                    format!(
                        "market data: fell behind more than {MD_FALLS_MAX} times in {} s (outbound queue full)",
                        MD_FALL_WINDOW_NS / 1_000_000_000
                    )
                })
            }
        };
        if reason.is_some() {
            self.disconnected(session);
        }
        reason
    }

    /// The session's connection ended: its subscriptions end with it.
    pub fn disconnected(&mut self, session: usize) {
        let Some(subscriber) = self.sessions.get_mut(session) else {
            return;
        };
        for sub in subscriber.subs.drain(..) {
            if !sub.aggregated {
                for x in &sub.instruments {
                    self.l3_subscriptions[x.0 as usize] -= 1;
                }
            }
        }
        subscriber.status_subs.clear();
        subscriber.session_status_subs.clear();
        subscriber.behind = false;
        subscriber.recovering_since = None;
        subscriber.resync_sent = false;
    }
}

fn book_entry_type(side: Side) -> u8 {
    match side {
        Side::Buy => entry_type::BID,
        Side::Sell => entry_type::OFFER,
    }
}

fn price_of_key(side: Side, key: i64) -> i64 {
    match side {
        Side::Buy => -key,
        Side::Sell => key,
    }
}

/// Deletes (levels gone from the view), then for the levels of the new view, best first, new or changed ones.
fn diff_levels(
    old: &[(i64, LevelView)],
    new: &[(i64, LevelView)],
    mut emit: impl FnMut(u8, i64, LevelView),
) {
    for (price, view) in old {
        if !new.iter().any(|(p, _)| p == price) {
            emit(action::DELETE, *price, *view);
        }
    }
    for (price, view) in new {
        match old.iter().find(|(p, _)| p == price) {
            None => emit(action::NEW, *price, *view),
            Some((_, was)) if was != view => emit(action::CHANGE, *price, *view),
            Some(_) => {}
        }
    }
}
