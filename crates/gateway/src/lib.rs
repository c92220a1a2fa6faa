//! Order entry: FIX application messages of trading sessions become engine commands, and the engine's released
//! events become ExecutionReports, cancel rejects and mass-cancel reports.
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
//! - this module: the gateway thread, the only submitter to the sequencer. It submits commands, reads released
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
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use journal::sequencer::{Released, Sequencer, Submission, SubmitError};
use session::app::AppMessage;
use store::trades::{TradeAppendError, TradeLog};

pub use self::core::{
    AdminCommand, AdminDone, Dialect, Gateway, Input, KillTarget, Market, Output, SessionInfo,
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
/// How long a report is retried while its session changes hands or its full queue logs it out.
pub const DELIVERY_RETRY_MAX: Duration = Duration::from_secs(30);

/// Where reports go: the network layer implements it over the venue's sessions. The gateway knows nothing of
/// sockets; it hands each message to its session and retries a while when the session is busy.
pub trait Delivery: Send + 'static {
    /// Hands `msg` to the session `venue_comp_id`->`client_comp_id` (stored, then sent or kept for resend).
    fn deliver(
        &self,
        venue_comp_id: &str,
        client_comp_id: &str,
        msg: AppMessage,
    ) -> Result<(), DeliveryError>;
}

/// Why a report was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The session is changing hands or its outbound queue is full: worth trying again shortly. Transparent: the
    /// network layer's error says which, and is printed once.
    #[error(transparent)]
    Busy(Box<dyn std::error::Error + Send + Sync>),
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
                let mut worker = Worker {
                    core,
                    sequencer,
                    venue,
                    trades,
                    pending: Vec::new(),
                    out: Output::default(),
                };
                worker.run(&input, &release_rx, &stop_rx)?;
                Ok(worker.sequencer)
            })
            .expect("spawning the gateway thread");
        GatewayThread {
            stop: stop_tx,
            thread,
        }
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
    /// Commands produced and not yet handed to the sequencer.
    pending: Vec<Submission>,
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
            if stopping && self.pending.is_empty() && self.core.next_seq() == self.released_next() {
                return Ok(());
            }
            let take_input = !stopping && self.pending.is_empty() && !self.core.backlogged();
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
                        self.core.input(first, now, &mut out);
                        for next in input.try_iter().take(TURN_REQUESTS_MAX - 1) {
                            self.core.input(next, now, &mut out);
                        }
                        self.carry_out(&mut out)?;
                        self.out = out;
                    }
                },
                recv(stop) -> _ => {
                    // The listeners are closed: what the sessions sent last (a disconnect that cancels their
                    // orders, among others) is still taken.
                    let now = now_ns();
                    let mut out = std::mem::take(&mut self.out);
                    for next in input.try_iter() {
                        self.core.input(next, now, &mut out);
                    }
                    self.carry_out(&mut out)?;
                    self.out = out;
                    stopping = true;
                }
                default(IDLE_WAIT) => {}
            }
            if !stopping && self.core.due(now_ns()) {
                let mut out = std::mem::take(&mut self.out);
                self.core.submit_time(now_ns(), &mut out);
                self.carry_out(&mut out)?;
                self.out = out;
            }
        }
    }

    /// The sequence number after the last released command.
    fn released_next(&self) -> u64 {
        self.core.released_seq() + 1
    }

    fn on_released(&mut self, batch: &Released) -> Result<(), GatewayError> {
        let mut out = std::mem::take(&mut self.out);
        self.core.released(batch, &mut out);
        self.carry_out(&mut out)?;
        self.out = out;
        Ok(())
    }

    /// Submissions, then trades, then messages.
    fn carry_out(&mut self, out: &mut Output) -> Result<(), GatewayError> {
        self.pending.append(&mut out.submissions);
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
        Ok(())
    }

    /// Hands the commands to the sequencer, waiting while its input is full (requests wait meanwhile; released
    /// batches keep flowing into the unbounded release channel).
    fn submit_pending(&mut self) -> Result<(), GatewayError> {
        while !self.pending.is_empty() {
            let n = self
                .pending
                .len()
                .min(journal::sequencer::SUBMISSION_COMMANDS_MAX);
            let batch: Vec<Submission> = self.pending.drain(..n).collect();
            self.sequencer
                .submit(batch)
                .map_err(GatewayError::Sequencer)?;
        }
        Ok(())
    }

    fn deliver(&mut self, session: usize, msg: AppMessage) {
        let Some(info) = self.core.session_info(session) else {
            return;
        };
        let (venue_id, client_id) = (info.venue_comp_id.clone(), info.client_comp_id.clone());
        let deadline = Instant::now() + DELIVERY_RETRY_MAX;
        let mut wait = Duration::from_micros(100);
        loop {
            match self.venue.deliver(&venue_id, &client_id, msg.clone()) {
                Ok(()) => return,
                Err(DeliveryError::Busy(_)) if Instant::now() < deadline => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_millis(50));
                }
                Err(e) => {
                    tracing::error!(
                        session = info.id,
                        "report not delivered: {e}; the client can recover it with an OrderStatusRequest"
                    );
                    return;
                }
            }
        }
    }
}
