//! The sending half of a session: the orders, in batches, when due (open loop) or when the window has room
//! (closed loop), and the session messages the reader asks for. Each order is encoded by `fix::Encoder` into one
//! reused buffer, its header stamped by testkit's [`Stamp`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::sleep_until;

use fix::tags;
use fix::types::TimePrecision;
use testkit::stamp::Stamp;
use testkit::stream::Stream;

use super::ids::Ids;
use super::window::{Admin, Shared, Slot};
use super::workload::{Op, OpKind};
use super::{BATCH_MAX, SEND_SLACK};

pub(super) struct Sender {
    pub(super) ids: Arc<Ids>,
    pub(super) ops: Arc<[Op]>,
    pub(super) shared: Arc<Shared>,
    /// CompIDs and the next MsgSeqNum (the Logon took 1).
    pub(super) stamp: Stamp,
    pub(super) out: BytesMut,
    pub(super) started: Instant,
    pub(super) open_loop: bool,
    pub(super) window: usize,
}

/// Why the sender stopped writing orders for now.
pub(super) enum Wait {
    /// It wrote a full batch: go on.
    Nothing,
    /// The next order is due then.
    Until(Instant),
    /// The next order's slot is still outstanding.
    Window,
    /// Every order is sent.
    Done,
}

impl Sender {
    pub(super) async fn run(
        mut self,
        mut w: WriteHalf<Stream>,
        mut admin: mpsc::Receiver<Admin>,
    ) -> anyhow::Result<()> {
        sleep_until(self.started.into()).await;
        let mut next = 0usize;
        loop {
            while let Ok(a) = admin.try_recv() {
                if !self.admin(&mut w, a).await? {
                    return Ok(());
                }
            }
            let wait = self.send_due(&mut w, &mut next).await?;
            let a = match wait {
                Wait::Nothing => continue,
                Wait::Until(t) => tokio::select! {
                    a = admin.recv() => a,
                    _ = sleep_until(t.into()) => continue,
                },
                Wait::Window => tokio::select! {
                    a = admin.recv() => a,
                    _ = self.shared.freed.notified() => continue,
                },
                Wait::Done => admin.recv().await,
            };
            match a {
                Some(a) => {
                    if !self.admin(&mut w, a).await? {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            }
        }
    }

    /// Writes the session messages the reader asked for; false when the sender is to stop.
    pub(super) async fn admin(
        &mut self,
        w: &mut WriteHalf<Stream>,
        a: Admin,
    ) -> anyhow::Result<bool> {
        let now = Utc::now();
        self.out.clear();
        match &a {
            Admin::Heartbeat { test_req_id } => {
                self.stamp
                    .put_heartbeat(&mut self.out, Some(test_req_id), now);
            }
            // Numbered as the first message asked for; it says the next one is ours.
            Admin::GapFill { begin } => self.stamp.put_gap_fill(&mut self.out, *begin, now),
            Admin::Logout => {
                self.stamp.begin(&mut self.out, b"5", now).finish()?;
            }
            Admin::Stop => return Ok(false),
        }
        w.write_all(&self.out).await?;
        Ok(!matches!(a, Admin::Logout))
    }

    /// Writes, in one batch, the orders that are due and have a free slot.
    pub(super) async fn send_due(
        &mut self,
        w: &mut WriteHalf<Stream>,
        next: &mut usize,
    ) -> anyhow::Result<Wait> {
        if *next == self.ops.len() {
            return Ok(Wait::Done);
        }
        let now = Instant::now();
        let now_ns = now.saturating_duration_since(self.started).as_nanos() as u64;
        let wall = Utc::now();
        self.out.clear();
        let mut batch = 0;
        let first = *next;
        let wait = loop {
            let Some(&op) = self.ops.get(*next) else {
                break Wait::Done;
            };
            // A batch never spans more than the window: the slots are checked before any of them is taken.
            if batch == BATCH_MAX.min(self.window) {
                break Wait::Nothing;
            }
            if self.open_loop && op.due_ns > now_ns {
                break Wait::Until(self.started + Duration::from_nanos(op.due_ns));
            }
            if !self.shared.is_free(*next as u64) {
                break Wait::Window;
            }
            self.encode(*next, &op, wall)?;
            *next += 1;
            batch += 1;
        };
        if batch == 0 {
            return Ok(wait);
        }
        self.register(first, *next, now_ns);
        w.write_all(&self.out).await?;
        if *next == self.ops.len() {
            let sent_ns = self.started.elapsed().as_nanos() as u64;
            self.shared.last_send_ns.store(sent_ns, Ordering::Release);
        }
        Ok(wait)
    }

    /// Records orders `first..end` as outstanding before their bytes leave, so an answer always finds them.
    pub(super) fn register(&mut self, first: usize, end: usize, now_ns: u64) {
        let slack_ns = SEND_SLACK.as_nanos() as u64;
        let mut lag_max = 0;
        let mut o = self.shared.outstanding.lock().expect("outstanding lock");
        let (window, seqs) = (o.slots.len(), o.by_seq.len() as u64);
        let first_seq = self.stamp.next_out - (end - first) as u64;
        for (i, index) in (first..end).enumerate() {
            let op = &self.ops[index];
            let origin_ns = if self.open_loop {
                lag_max = lag_max.max(now_ns.saturating_sub(op.due_ns));
                now_ns.min(op.due_ns + slack_ns)
            } else {
                now_ns
            };
            o.slots[index % window] = Slot {
                index: index as u64,
                origin_ns,
                measured: op.measured,
            };
            let seq = first_seq + i as u64;
            o.by_seq[(seq % seqs) as usize] = (seq >> 32) << 32 | index as u64;
        }
        drop(o);
        self.shared.lag_max_ns.fetch_max(lag_max, Ordering::Relaxed);
        self.shared
            .sent
            .fetch_add((end - first) as u64, Ordering::Release);
    }

    pub(super) fn encode(
        &mut self,
        index: usize,
        op: &Op,
        wall: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let ids = &*self.ids;
        let msg_type: &[u8] = match op.kind {
            OpKind::Cancel { .. } => b"F",
            _ => b"D",
        };
        let mut id = [0u8; 40];
        let id_len = ids.cl_ord_id(index as u64, &mut id);
        let mut m = self.stamp.begin(&mut self.out, msg_type, wall);
        if let OpKind::Cancel { orig } = op.kind {
            let mut orig_id = [0u8; 40];
            let n = ids.cl_ord_id(u64::from(orig), &mut orig_id);
            m.put_bytes(tags::ORIG_CL_ORD_ID, &orig_id[..n]);
        }
        m.put_bytes(tags::CL_ORD_ID, &id[..id_len])
            .put_str(tags::SYMBOL, &ids.symbol)
            .put_char(tags::SIDE, if op.buy { b'1' } else { b'2' })
            .put_timestamp(tags::TRANSACT_TIME, &wall, TimePrecision::Micros)
            .put_decimal(tags::ORDER_QTY, Decimal::from(op.lots) * ids.lot);
        match op.kind {
            OpKind::Limit { price_ticks } => {
                m.put_char(tags::ORD_TYPE, b'2')
                    .put_decimal(tags::PRICE, Decimal::from(price_ticks) * ids.tick)
                    .put_char(tags::TIME_IN_FORCE, b'1');
            }
            OpKind::Market => {
                m.put_char(tags::ORD_TYPE, b'1')
                    .put_char(tags::TIME_IN_FORCE, b'3');
            }
            OpKind::Cancel { .. } => {}
        }
        m.finish()?;
        Ok(())
    }
}
