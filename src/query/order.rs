//! `fixvenue order ORDERID`: one order's whole story, in time order: every message about it that the session log
//! holds and the engine's side from a read-only replay of the journal ([`crate::replay`]).
//!
//! Which messages are about the order:
//! - outbound: every message whose OrderID (37) is the order's (its ExecutionReports, OrderCancelRejects);
//! - inbound: in the sessions those reports went to, the messages whose ClOrdID (11) or OrigClOrdID (41) is one
//!   of the order's chain (every 11 and 41 of those reports: the order's first ClOrdID and each replace's or
//!   cancel's), from the last inbound message carrying the order's first ClOrdID before its first report (its
//!   NewOrderSingle) through the order's last report. The window keeps out another order that reused a ClOrdID
//!   before or after this one.
//!
//! The engine's side: the journaled command that entered the order (its sequence number is the OrderID), every
//! command naming it (cancel, replace) or changing it (a mass cancel, a match, an expiry), and each engine event
//! about it (accepted, traded, replaced, canceled, ...), stamped with the command's journal time.

use std::collections::HashSet;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use engine::{Command, Event, OrderId};
use fix::Dictionary;
use fix::decode::Decoder;

use super::{Direction, Fields, LogFormat, Logged, QueryError, messages, time_text, write_line};
use crate::replay::{self, ReplayConfig};

/// One line of an order's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Message(Logged),
    /// A journaled command about the order, at its journal time.
    Command {
        seq: u64,
        ts_ns: i64,
        command: Command,
    },
    /// An engine event about the order, produced by the command `seq`.
    Event {
        seq: u64,
        ts_ns: i64,
        event: Event,
    },
}

impl Entry {
    pub fn ts_ns(&self) -> i64 {
        match self {
            Entry::Message(logged) => logged.ts_ns,
            Entry::Command { ts_ns, .. } | Entry::Event { ts_ns, .. } => *ts_ns,
        }
    }
}

/// Whether an engine event is about `order`.
pub fn event_is_about(event: &Event, order: OrderId) -> bool {
    match *event {
        Event::Accepted { order_id, .. }
        | Event::Rejected { order_id, .. }
        | Event::CancelRejected { order_id, .. }
        | Event::Replaced { order_id, .. }
        | Event::Canceled { order_id, .. }
        | Event::Expired { order_id, .. }
        | Event::Triggered { order_id, .. }
        | Event::Replenished { order_id, .. } => order_id == order,
        Event::Trade { buy, sell, .. } => buy.order_id == order || sell.order_id == order,
        // Market data (a level, the queue) and balances: the events above already tell the order's part.
        Event::Level { .. }
        | Event::Queue { .. }
        | Event::Status { .. }
        | Event::Balance { .. } => false,
    }
}

/// Whether a command names `order` (it entered it, or cancels or replaces it).
pub fn command_names(command: &Command, seq: u64, order: OrderId) -> bool {
    match command {
        Command::New(_) => seq == order.0,
        Command::Cancel { order_id, .. } => *order_id == order,
        Command::Replace(replace) => replace.order_id == order,
        Command::MassCancel(_) | Command::SetStatus { .. } | Command::Time { .. } => false,
    }
}

/// The messages of the session log about `order` (see the module documentation), in the order logged.
pub fn order_messages(data_dir: &Path, order: OrderId) -> Result<Vec<Logged>, QueryError> {
    let dict = Dictionary::fix44().map_err(|e| QueryError::Dictionary(e.to_string()))?;
    let mut decoder = Decoder::new();
    let wanted = order.0.to_string();
    // Pass 1: the reports, their sessions and the chain of ClOrdIDs.
    let mut sessions: HashSet<String> = HashSet::new();
    let mut chain: HashSet<String> = HashSet::new();
    let mut first: Option<(i64, Option<String>)> = None;
    let mut last_ts_ns = i64::MIN;
    for logged in messages(data_dir)? {
        let logged = logged?;
        if logged.direction != Direction::Out {
            continue;
        }
        let fields = Fields::of(&mut decoder, &dict, &logged.bytes);
        if fields.order_id.as_deref() != Some(wanted.as_str()) {
            continue;
        }
        if first.is_none() {
            first = Some((logged.ts_ns, fields.cl_ord_id.clone()));
        }
        last_ts_ns = last_ts_ns.max(logged.ts_ns);
        sessions.insert(logged.session.clone());
        chain.extend(fields.cl_ord_id);
        chain.extend(fields.orig_cl_ord_id);
    }
    let Some((first_ts_ns, first_cl_ord_id)) = first else {
        return Ok(Vec::new());
    };
    // Pass 2: the reports again, and the inbound messages of the chain in their window.
    let mut found = Vec::new();
    let mut start_ts_ns = i64::MIN;
    for logged in messages(data_dir)? {
        let logged = logged?;
        if !sessions.contains(&logged.session) {
            continue;
        }
        let fields = Fields::of(&mut decoder, &dict, &logged.bytes);
        let about = match logged.direction {
            Direction::Out => fields.order_id.as_deref() == Some(wanted.as_str()),
            Direction::In => {
                if logged.ts_ns <= first_ts_ns
                    && fields.cl_ord_id.is_some()
                    && fields.cl_ord_id == first_cl_ord_id
                {
                    start_ts_ns = logged.ts_ns;
                }
                logged.ts_ns <= last_ts_ns
                    && [&fields.cl_ord_id, &fields.orig_cl_ord_id]
                        .iter()
                        .any(|id| id.as_ref().is_some_and(|id| chain.contains(id)))
            }
        };
        if about {
            found.push(logged);
        }
    }
    found.retain(|logged| logged.direction == Direction::Out || logged.ts_ns >= start_ts_ns);
    Ok(found)
}

/// The engine's side of `order`'s story, from a read-only replay of the journal.
pub fn engine_entries(
    journal_dir: &Path,
    config: &ReplayConfig,
    order: OrderId,
) -> Result<Vec<Entry>, QueryError> {
    let mut entries = Vec::new();
    replay::replay(journal_dir, config, |replayed| {
        let (seq, ts_ns) = (replayed.record.seq, replayed.record.ts_ns);
        let events: Vec<Entry> = replayed
            .events
            .iter()
            .filter(|event| event_is_about(event, order))
            .map(|event| Entry::Event {
                seq,
                ts_ns,
                event: *event,
            })
            .collect();
        if command_names(&replayed.record.command, seq, order) || !events.is_empty() {
            entries.push(Entry::Command {
                seq,
                ts_ns,
                command: replayed.record.command,
            });
        }
        entries.extend(events);
        ControlFlow::Continue(())
    })?;
    Ok(entries)
}

/// `fixvenue order`: prints `order`'s story in time order (a stable sort: at one time, messages before the
/// engine's lines, each in log order); returns how many lines. An order neither the session log nor the journal
/// knows is [`QueryError::UnknownOrder`].
pub fn write_order(
    data_dir: &Path,
    config: &ReplayConfig,
    order: u64,
    format: LogFormat,
    soh: bool,
    out: &mut dyn Write,
) -> Result<u64, QueryError> {
    if !data_dir.is_dir() {
        return Err(QueryError::NoDataDir(data_dir.to_path_buf()));
    }
    let order_id = OrderId(order);
    let mut entries: Vec<Entry> = order_messages(data_dir, order_id)?
        .into_iter()
        .map(Entry::Message)
        .collect();
    let engine = engine_entries(&crate::runtime::journal_dir(data_dir), config, order_id)?;
    if entries.is_empty() && engine.is_empty() {
        return Err(QueryError::UnknownOrder(order));
    }
    entries.extend(engine);
    entries.sort_by_key(Entry::ts_ns);
    let mut line = Vec::new();
    for entry in &entries {
        line.clear();
        write_entry(entry, format, soh, &mut line)?;
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(entries.len() as u64)
}

/// One line of an engine entry in `--format json`.
#[derive(serde::Serialize)]
struct JsonEngine {
    time: String,
    ts_ns: i64,
    direction: &'static str,
    journal_seq: u64,
    command: Option<String>,
    event: Option<String>,
}

fn write_entry(
    entry: &Entry,
    format: LogFormat,
    soh: bool,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let (seq, ts_ns, what, text) = match entry {
        Entry::Message(logged) => return write_line(logged, format, soh, out),
        Entry::Command {
            seq,
            ts_ns,
            command,
        } => (*seq, *ts_ns, "command", format!("{command:?}")),
        Entry::Event { seq, ts_ns, event } => (*seq, *ts_ns, "event", format!("{event:?}")),
    };
    match format {
        LogFormat::Fix => {
            let line = format!("{} ENGINE journal {seq} {what} {text}", time_text(ts_ns));
            out.extend_from_slice(line.as_bytes());
        }
        LogFormat::Json => {
            let json = JsonEngine {
                time: time_text(ts_ns),
                ts_ns,
                direction: "ENGINE",
                journal_seq: seq,
                command: (what == "command").then(|| text.clone()),
                event: (what == "event").then_some(text),
            };
            serde_json::to_writer(&mut *out, &json)?;
        }
    }
    out.push(b'\n');
    Ok(())
}
