//! Slow sessions (`--slow-sessions N`): extra sessions that log on, send orders and never read their socket, the
//! client issue 10 calls "one slow session stalls all". They are not measured; the run's figures are the other
//! sessions', so that a run with and one without them show what a client that does not read costs the others.
//!
//! A slow session is `<prefix>SLOW<i>`. After its Logon (the one message it reads) it sends, until the measured
//! sessions are done, immediate-or-cancel buy orders at the lowest price of the collar, so that they trade with
//! nothing and rest nowhere (each is answered, and the answers pile up unread): in open loop at the per-session
//! rate of `--rate`, in closed loop as fast as its socket takes them. Over plain TCP it connects with a receive
//! buffer of [`SLOW_RCVBUF`] set before the connection (so that the kernel's autotuning, up to tens of megabytes on
//! loopback, does not hide the client's not reading for the whole run): the venue's writes stop soon, as they
//! would to a stuck client across a network. With TLS it connects as the other sessions do. A write that fails or stays blocked is the
//! venue closing it or no longer reading it; the session then stops and says how long it lasted.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use chrono::Utc;
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};

use testkit::client::Client;
use testkit::stamp::Stamp;
use testkit::stream::Stream;

use super::BATCH_MAX;
use super::session::log_on_and_wait;

/// How long a slow session reads at the end, looking for the venue's Logout, and the silence that ends it.
const DRAIN_MAX: Duration = Duration::from_secs(5);
const DRAIN_SILENCE: Duration = Duration::from_millis(500);

/// The receive buffer of a slow session's socket (the kernel doubles it for its bookkeeping).
pub(super) const SLOW_RCVBUF: u32 = 16 * 1024;

/// A plain TCP connection whose receive buffer is [`SLOW_RCVBUF`], set before the handshake fixes the window.
pub(super) async fn connect_small_window(host: &str, port: u16) -> anyhow::Result<Stream> {
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .with_context(|| format!("{host}:{port} resolves to nothing"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_recv_buffer_size(SLOW_RCVBUF)?;
    let tcp = socket
        .connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    Ok(Stream::Plain(tcp))
}

/// What a slow session is given.
pub(super) struct SlowCtx {
    pub(super) sender: String,
    pub(super) target: String,
    pub(super) run: String,
    pub(super) symbol: String,
    /// The lowest price of the collar, and one lot.
    pub(super) price: Decimal,
    pub(super) qty: Decimal,
    /// Orders per second; `None`: as fast as the socket takes them.
    pub(super) rate: Option<f64>,
}

/// How a slow session ended.
#[derive(Debug)]
pub(super) struct SlowOutcome {
    pub(super) sender: String,
    pub(super) orders: u64,
    /// How long it sent before its socket stopped taking orders; `None`: it sent until the end of the run.
    pub(super) stalled_after: Option<Duration>,
    pub(super) why: String,
}

impl SlowCtx {
    /// Logs on, waits for the start, sends until `stop`.
    pub(super) async fn run(
        self,
        stream: Stream,
        ready: mpsc::Sender<()>,
        mut start: watch::Receiver<Option<Instant>>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<SlowOutcome> {
        let mut client = Client::with_stamp(Stamp::new(&self.sender, &self.target));
        client.attach(stream);
        let started = log_on_and_wait(&mut client, &ready, &mut start).await?;
        tokio::time::sleep_until(started.into()).await;
        let interval = self.rate.map(|r| Duration::from_secs_f64(1.0 / r));
        let mut out = BytesMut::with_capacity(BATCH_MAX * 256);
        let mut orders = 0u64;
        let mut next_due = started;
        loop {
            if *stop.borrow() {
                let said = Self::venue_said(&mut client).await;
                let why = format!("sent until the end of the run; read at the end: {said}");
                return Ok(self.outcome(orders, None, &why));
            }
            out.clear();
            let batch = match interval {
                Some(every) => {
                    let now = Instant::now();
                    if next_due > now {
                        tokio::select! {
                            _ = tokio::time::sleep_until(next_due.into()) => {}
                            _ = stop.changed() => {}
                        }
                        continue;
                    }
                    let due = ((now - next_due).as_secs_f64() / every.as_secs_f64()) as u64 + 1;
                    next_due += every * due.min(BATCH_MAX as u64) as u32;
                    due.min(BATCH_MAX as u64)
                }
                None => BATCH_MAX as u64,
            };
            for _ in 0..batch {
                orders += 1;
                let now = Utc::now();
                client.stamp.put_text(
                    &mut out,
                    &format!(
                        "35=D|11={}-S-{orders}|55={}|54=1|60={}|38={}|40=2|44={}|59=3|",
                        self.run,
                        self.symbol,
                        now.format("%Y%m%d-%H:%M:%S%.3f"),
                        self.qty,
                        self.price
                    ),
                    now,
                );
            }
            let write_started = Instant::now();
            tokio::select! {
                sent = client.send_raw(&out) => {
                    if let Err(e) = sent {
                        let said = Self::venue_said(&mut client).await;
                        let why = format!("{e}; read at the end: {said}");
                        return Ok(self.outcome(orders, Some(started.elapsed()), &why));
                    }
                }
                _ = stop.changed() => {
                    let blocked = write_started.elapsed();
                    let said = Self::venue_said(&mut client).await;
                    let why = format!(
                        "its last write was still blocked at the end of the run, for {:.3} s; read at the end: \
                         {said}",
                        blocked.as_secs_f64()
                    );
                    return Ok(self.outcome(orders, Some(write_started.duration_since(started)), &why));
                }
            }
        }
    }

    /// After the run: reads what the venue sent (a slow session reads only now) for a Logout, and says what it gave
    /// as its reason, or what ended the reading.
    async fn venue_said(client: &mut Client) -> String {
        let deadline = Instant::now() + DRAIN_MAX;
        let mut reports = 0u64;
        while Instant::now() < deadline {
            match client.recv_raw(DRAIN_SILENCE).await {
                Ok(Some(m)) if m.msg_type() == "5" => {
                    return format!(
                        "after {reports} reports the venue's Logout: {}",
                        m.get(58).unwrap_or("(no text)")
                    );
                }
                Ok(Some(_)) => reports += 1,
                Ok(None) => return format!("{reports} reports read, then silence, no Logout"),
                Err(e) => return format!("{reports} reports read, then {e}, no Logout"),
            }
        }
        format!("{reports} reports read in {DRAIN_MAX:?}, no Logout among them")
    }

    fn outcome(&self, orders: u64, stalled_after: Option<Duration>, why: &str) -> SlowOutcome {
        SlowOutcome {
            sender: self.sender.clone(),
            orders,
            stalled_after,
            why: why.to_string(),
        }
    }
}
