//! One client session of the run: its identity and ClOrdIDs, and its life (log on, wait for the start, send its
//! orders while reading the answers, log out) over testkit's FIX client.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use bytes::BytesMut;
use tokio::sync::{mpsc, watch};

use fix::Dictionary;
use fix::types::TimePrecision;
use testkit::client::Client;
use testkit::stamp::Stamp;
use testkit::stream::Stream;

use super::ids::Ids;
use super::reader::Reader;
use super::sender::Sender;
use super::tally::Tally;
use super::window::{Admin, Shared};
use super::workload::Op;
use super::{ADMIN_QUEUE_MAX, BATCH_MAX, HEART_BT_INT_S, LOGON_TIMEOUT};

/// One session's fixed inputs.
pub(super) struct SessionCtx {
    pub(super) ids: Arc<Ids>,
    pub(super) dict: Arc<Dictionary>,
    pub(super) ops: Arc<[Op]>,
    pub(super) window: usize,
    pub(super) open_loop: bool,
}

impl SessionCtx {
    /// Logs on, waits for the start, sends its orders while reading the answers, logs out.
    pub(super) async fn run(
        self,
        stream: Stream,
        ready: mpsc::Sender<()>,
        mut start: watch::Receiver<Option<Instant>>,
    ) -> anyhow::Result<Tally> {
        let stamp =
            Stamp::new(&self.ids.sender, &self.ids.target).with_precision(TimePrecision::Micros);
        let mut client = Client::with_stamp(stamp);
        client.attach(stream);
        let started = log_on_and_wait(&mut client, &ready, &mut start).await?;
        let shared = Arc::new(Shared::new(self.window));
        let (admin_tx, admin_rx) = mpsc::channel(ADMIN_QUEUE_MAX);
        let (frames, write_half) = client
            .take_connection()
            .context("the venue closed the connection")?
            .split();
        let sender = Sender {
            ids: Arc::clone(&self.ids),
            ops: Arc::clone(&self.ops),
            shared: Arc::clone(&shared),
            stamp: client.stamp,
            out: BytesMut::with_capacity(BATCH_MAX * 256),
            started,
            open_loop: self.open_loop,
            window: self.window,
        };
        let sending = tokio::spawn(sender.run(write_half, admin_rx));
        let mut tally = Tally::new(self.ops.len() as u64)?;
        let mut reader = Reader::new(Arc::clone(&self.ids), Arc::clone(&self.dict), frames);
        let reading = reader
            .answers(&shared, &admin_tx, &mut tally, started)
            .await;
        let all = tally.answered == tally.orders;
        let _ = admin_tx
            .send(if all { Admin::Logout } else { Admin::Stop })
            .await;
        let lag = match reading {
            Ok(lag) => lag,
            Err(e) => {
                sending.abort();
                return Err(e);
            }
        };
        tally.lag_max_ns = lag;
        if all {
            reader.logout(&admin_tx).await;
        }
        drop(admin_tx);
        sending.await.context("the sender failed")??;
        Ok(tally)
    }
}

/// Logs `client` on (141=Y), says it is ready, and waits for the common start; returns that start.
pub(super) async fn log_on_and_wait(
    client: &mut Client,
    ready: &mpsc::Sender<()>,
    start: &mut watch::Receiver<Option<Instant>>,
) -> anyhow::Result<Instant> {
    client
        .send(&format!("35=A|98=0|108={HEART_BT_INT_S}|141=Y|"))
        .await?;
    let logon = client
        .recv_raw(LOGON_TIMEOUT)
        .await?
        .context("no Logon answer")?;
    ensure!(logon.msg_type() == "A", "Logon answered by {logon}");
    let _ = ready.send(()).await;
    loop {
        if let Some(t) = *start.borrow_and_update() {
            return Ok(t);
        }
        start.changed().await.context("the start was called off")?;
    }
}
