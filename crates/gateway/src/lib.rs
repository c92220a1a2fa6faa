//! Order entry: FIX application messages of trading sessions become engine commands, and the engine's released
//! events become ExecutionReports, cancel rejects and mass-cancel reports. Market data (the `marketdata` crate)
//! rides along: its requests come in here, it sees every released event, and its messages leave through
//! [`Delivery::deliver_market_data`], never waited for.
//!
//! - [`request`]: D, F, G, H, AF and q read into owned requests (on the connection's task).
//! - [`app`]: [`app::GatewayApp`], the session layer's application: role, throttle, cancel-on-disconnect
//!   setting, then the request goes to the gateway thread.
//! - [`core`]: [`core::Gateway`], pure: inputs and the time in, commands, messages and trade records out. One
//!   module a concern, each using only those before it: `order` (the order record), `reports` (every message
//!   built, [`core::business_reject`] among them), `state` (the gateway's fields, numbering, held answers),
//!   `views` (the submission view, ClOrdID maps), `checks` (the edge checks: instrument, tick, lot, account,
//!   duplicate ClOrdID), `handling` (new, cancel/replace, mass cancel, status), `trades`, `intake`
//!   ([`core::Gateway::input`]) and `release` ([`core::Gateway::released`]: one function an engine event).
//! - [`origin`]: the FIX context journaled beside each command, so a restart rebuilds the gateway exactly.
//! - this module: the gateway thread. Its core submits commands through the sequencer's
//!   [`Submitter`](journal::sequencer::Submitter) and learns
//!   their numbers from the answer (another submitter may share the sequencer); the thread reads released
//!   batches, appends their trades to the trade log, and hands reports to the sessions (stored and sent, or
//!   stored for resend while a session is away). Nothing reaches a client before its command's batch is durable:
//!   reports are only built from released batches.

pub mod app;
pub mod core;
pub mod origin;
pub mod request;

#[cfg(test)]
mod tests;

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};

use journal::sequencer::{Released, Sequencer, SubmitError};
use session::app::AppMessage;
use store::trades::{TradeAppendError, TradeLog};

pub use self::core::{
    AdminCommand, AdminDone, Dialect, Gateway, Input, KillTarget, Market, Output, SessionInfo,
    Submit,
};

/// Requests waiting for the gateway thread, all sessions together; when full, a request is answered with a
/// BusinessMessageReject (overload).
pub const INPUT_CAPACITY: usize = 65_536;
/// The channel the sessions' [`app::GatewayApp`]s send requests on, [`INPUT_CAPACITY`] deep.
pub fn input_channel() -> (Sender<Input>, Receiver<Input>) {
    crossbeam_channel::bounded(INPUT_CAPACITY)
}

/// Requests the gateway takes in one turn before submitting their commands together.
pub const TURN_REQUESTS_MAX: usize = 1_024;
/// How long the thread waits for anything before it looks at the clock again (GTD expiry precision).
pub const IDLE_WAIT: Duration = Duration::from_millis(20);

/// Where reports go: the network layer implements it over the venue's sessions. The gateway knows nothing of
/// sockets; it hands each message to its session, and an implementation never makes it wait on a session (a slow
/// or absent one must not stall the gateway thread).
pub trait Delivery: Send + 'static {
    /// Hands `msg` to the session `venue_comp_id`->`client_comp_id` (stored, then sent or kept for resend).
    fn deliver(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), DeliveryError>;

    /// Every report of journaled commands through `seq` for the session was handed over (a released batch's,
    /// after them): the session logs the mark after those reports, and start-up rebuilds from the journal the
    /// reports of later commands.
    fn reported_through(
        &self,
        _venue_comp_id: &str,
        _client_comp_id: &str,
        _seq: u64,
    ) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// The session's message `in_seq` was taken in: its effect is durable once the reports through `after` are
    /// logged (0: it has no journaled command and its answers were handed over before this). Handed over after
    /// the answers of the turn that took it.
    fn taken(
        &self,
        _venue_comp_id: &str,
        _client_comp_id: &str,
        _in_seq: u64,
        _after: u64,
    ) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Hands a market-data message (W, X, Y, y, f, h) to the session without waiting: it is numbered and sent
    /// if the session is connected and its outbound queue has room to spare, never stored for resend.
    fn deliver_market_data(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), MarketDataDeliveryError>;

    /// Logs the session out (a subscriber that keeps falling behind); `reason` is for the venue's log.
    fn log_out(&self, venue_comp_id: &str, client_comp_id: &str, reason: &str);
}

/// Why a market-data message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum MarketDataDeliveryError {
    /// The session's outbound queue has no room to spare for market data: the subscriber is behind.
    #[error("outbound queue has no room for market data")]
    Behind,
    /// No connection holds the session: market data is not kept for it.
    #[error("session not connected")]
    NotConnected,
}

/// Why a report was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The session cannot take it (unknown, failed, its store refused it).
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// Why the gateway thread stopped before it was asked to. Each keeps its cause as its source.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The sequencer refused a submission (it has stopped, or the submission broke one of its limits).
    #[error("the sequencer stopped: {0}")]
    Sequencer(#[source] SubmitError),
    /// The sequencer's released batches stopped coming.
    #[error("the sequencer stopped: released batches stopped")]
    ReleasedStopped,
    /// The gateway thread panicked.
    #[error("the sequencer stopped: the gateway thread panicked")]
    Panicked,
    /// Appending released trades to the trade log failed.
    #[error("trade log: {0}")]
    TradeLog(#[source] TradeAppendError),
}

/// The running gateway thread.
pub struct GatewayThread {
    stop: Sender<()>,
    thread: JoinHandle<Result<Sequencer, GatewayError>>,
    exited: Receiver<()>,
}

impl GatewayThread {
    /// Starts the thread. `input` is the receiving end of the channel the sessions' [`app::GatewayApp`]s send on.
    pub fn start(
        core: Gateway,
        sequencer: Sequencer,
        released: std::sync::mpsc::Receiver<Released>,
        input: Receiver<Input>,
        venue: Box<dyn Delivery>,
        trades: TradeLog,
    ) -> GatewayThread {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        // Never sent on: dropped when the thread ends, however it ends, which wakes whoever waits on `exited`.
        let (exit_tx, exit_rx) = crossbeam_channel::bounded::<()>(0);
        // Unbounded, yet bounded in fact: the sequencer releases only what it was submitted, and its input holds
        // at most `SequencerConfig::input_capacity` submissions. Unbounded is what lets the gateway block on a
        // full sequencer input without deadlock (the sequencer never waits for the gateway to read).
        let (release_tx, release_rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("gateway-release".into())
            .spawn(move || {
                for batch in released {
                    if release_tx.send(batch).is_err() {
                        break;
                    }
                }
            })
            .expect("spawning the release forwarder");
        let thread = std::thread::Builder::new()
            .name("gateway".into())
            .spawn(move || {
                let _exit = exit_tx;
                let mut core = core;
                core.attach(Box::new(sequencer.submitter()));
                let mut worker = Worker {
                    core,
                    sequencer,
                    venue,
                    trades,
                    out: Output::default(),
                };
                worker.run(&input, &release_rx, &stop_rx)?;
                Ok(worker.sequencer)
            })
            .expect("spawning the gateway thread");
        GatewayThread {
            stop: stop_tx,
            thread,
            exited: exit_rx,
        }
    }

    /// A channel that is never sent on and disconnects when the thread ends (after [`GatewayThread::stop`], or
    /// on its own when the sequencer or the trade log failed): `recv` returns then.
    pub fn exited(&self) -> Receiver<()> {
        self.exited.clone()
    }

    /// Stops taking requests, waits until every submitted command is released and reported, and hands back the
    /// sequencer (to finish it).
    pub fn stop(self) -> Result<Sequencer, GatewayError> {
        let _ = self.stop.send(());
        self.thread.join().map_err(|_| GatewayError::Panicked)?
    }
}

struct Worker {
    core: Gateway,
    sequencer: Sequencer,
    venue: Box<dyn Delivery>,
    trades: TradeLog,
    out: Output,
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

impl Worker {
    fn run(
        &mut self,
        input: &Receiver<Input>,
        released: &Receiver<Released>,
        stop: &Receiver<()>,
    ) -> Result<(), GatewayError> {
        let never = crossbeam_channel::never();
        let mut stopping = false;
        loop {
            self.submit_pending()?;
            if stopping && !self.core.in_flight() {
                return Ok(());
            }
            let take_input = !stopping && !self.core.backlogged();
            let requests = if take_input { input } else { &never };
            select! {
                recv(released) -> batch => match batch {
                    Ok(batch) => self.on_released(&batch)?,
                    Err(_) => return Err(GatewayError::ReleasedStopped),
                },
                recv(requests) -> first => {
                    if let Ok(first) = first {
                        let now = now_ns();
                        let mut out = std::mem::take(&mut self.out);
                        let mut taken = Vec::new();
                        self.take(first, now, &mut out, &mut taken)?;
                        for next in input.try_iter().take(TURN_REQUESTS_MAX - 1) {
                            self.take(next, now, &mut out, &mut taken)?;
                        }
                        self.carry_out(&mut out)?;
                        self.out = out;
                        self.hand_taken(taken);
                    }
                },
                recv(stop) -> _ => {
                    // The listeners are closed: what the sessions sent last (a disconnect that cancels their
                    // orders, among others) is still taken.
                    let now = now_ns();
                    let mut out = std::mem::take(&mut self.out);
                    let mut taken = Vec::new();
                    for next in input.try_iter() {
                        self.take(next, now, &mut out, &mut taken)?;
                    }
                    self.carry_out(&mut out)?;
                    self.out = out;
                    self.hand_taken(taken);
                    stopping = true;
                }
                default(IDLE_WAIT) => {}
            }
            if !stopping && self.core.due(now_ns()) {
                self.core.submit_time(now_ns());
                self.submit_pending()?;
            }
        }
    }

    /// One input through the core, its commands handed to the sequencer at once; a session's message is noted
    /// with the command its effect waits for (its own last command, or the one its held answer waits behind; 0
    /// when it was answered at once).
    fn take(
        &mut self,
        item: Input,
        now: i64,
        out: &mut Output,
        taken: &mut Vec<(usize, u64, u64)>,
    ) -> Result<(), GatewayError> {
        let message = match &item {
            Input::Request { session, inbound } => Some((*session, inbound.ref_seq)),
            Input::Answer {
                session, in_seq, ..
            } => Some((*session, *in_seq)),
            // Market data is not recovered after a crash (the client asks for a snapshot again).
            Input::Logon { .. }
            | Input::Disconnected { .. }
            | Input::MarketData { .. }
            | Input::Admin { .. } => None,
        };
        self.core.input(item, now, out);
        if let Some((session, in_seq)) = message {
            self.submit_pending()?;
            let last = self.core.submitted_seq();
            let after = if last > self.core.released_seq() {
                last
            } else {
                0
            };
            taken.push((session, in_seq, after));
        }
        Ok(())
    }

    /// Tells each session which of its messages the turn took (after the turn's answers were handed over).
    fn hand_taken(&mut self, taken: Vec<(usize, u64, u64)>) {
        for (session, in_seq, after) in taken {
            let Some(info) = self.core.session_info(session) else {
                continue;
            };
            if let Err(e) =
                self.venue
                    .taken(&info.venue_comp_id, &info.client_comp_id, in_seq, after)
            {
                tracing::error!(session = info.id, "taken mark not handed over: {e}");
            }
        }
    }

    fn on_released(&mut self, batch: &Released) -> Result<(), GatewayError> {
        let mut out = std::mem::take(&mut self.out);
        let mismatches = self.core.market_data().mismatches();
        self.core.released(batch, &mut out);
        let mut reported: Vec<usize> = out.messages.iter().map(|(session, _)| *session).collect();
        reported.sort_unstable();
        reported.dedup();
        if self.core.market_data().mismatches() != mismatches {
            // A bug: market data's book no longer follows the engine's. Subscribers should re-request snapshots.
            tracing::error!(
                mismatches = self.core.market_data().mismatches(),
                "market data: a released event does not fit the rebuilt book"
            );
        }
        self.carry_out(&mut out)?;
        self.out = out;
        if let Some(last) = batch.commands.last() {
            for session in reported {
                let Some(info) = self.core.session_info(session) else {
                    continue;
                };
                if let Err(e) =
                    self.venue
                        .reported_through(&info.venue_comp_id, &info.client_comp_id, last.seq)
                {
                    tracing::error!(session = info.id, "report mark not handed over: {e}");
                }
            }
        }
        Ok(())
    }

    /// Submissions, then trades, then messages.
    fn carry_out(&mut self, out: &mut Output) -> Result<(), GatewayError> {
        self.submit_pending()?;
        if !out.trades.is_empty() {
            // Not flushed here: the trade log may lag the journal, and start-up appends the missing tail.
            self.trades
                .append(&out.trades)
                .map_err(GatewayError::TradeLog)?;
            out.trades.clear();
        }
        for (session, msg) in out.messages.drain(..) {
            self.deliver(session, msg);
        }
        self.deliver_market_data(out);
        Ok(())
    }

    /// Market data goes out without waiting: a session whose queue has no room falls behind (its messages of
    /// this turn are dropped, it gets fresh snapshots after the next batch), and is logged out if it keeps
    /// falling behind.
    fn deliver_market_data(&mut self, out: &mut Output) {
        let mut behind: Vec<usize> = Vec::new();
        for (session, msg) in out.market_data.drain(..) {
            if behind.contains(&session) {
                continue;
            }
            let Some(info) = self.core.session_info(session) else {
                continue;
            };
            let (venue_id, client_id) = (info.venue_comp_id.clone(), info.client_comp_id.clone());
            match self.venue.deliver_market_data(&venue_id, &client_id, msg) {
                Ok(()) | Err(MarketDataDeliveryError::NotConnected) => {}
                Err(MarketDataDeliveryError::Behind) => {
                    behind.push(session);
                    if let Some(reason) = self.core.market_data_fell_behind(session) {
                        tracing::warn!(
                            session = venue_id + "->" + &client_id,
                            "{reason}: logging out"
                        );
                        let info = self.core.session_info(session).expect("known session");
                        self.venue
                            .log_out(&info.venue_comp_id, &info.client_comp_id, &reason);
                    }
                }
            }
        }
    }

    /// Hands the turn's commands to the sequencer, waiting while its input is full (requests wait meanwhile;
    /// released batches keep flowing into the unbounded release channel); the core learns their numbers.
    fn submit_pending(&mut self) -> Result<(), GatewayError> {
        self.core.submit_pending().map_err(GatewayError::Sequencer)
    }

    fn deliver(&mut self, session: usize, msg: AppMessage) {
        let Some(info) = self.core.session_info(session) else {
            return;
        };
        // Never waits on a session (see `Delivery`): an error is a session that cannot take anything any more.
        if let Err(e) = self
            .venue
            .deliver(&info.venue_comp_id, &info.client_comp_id, msg)
        {
            tracing::error!(
                session = info.id,
                "report not delivered: {e}; the client can recover it with an OrderStatusRequest"
            );
        }
    }
}
