//! The reading half of a session: the venue's messages framed by testkit's [`FrameReader`] and decoded in place
//! by `fix::Decoder`, each answer matched with its order's slot and counted.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::ReadHalf;
use tokio::sync::mpsc;
use tokio::time::timeout_at;

use fix::{Decoder, Dictionary, Message, tags};
use testkit::frames::FrameReader;
use testkit::stream::Stream;

use super::ids::Ids;
use super::tally::Tally;
use super::window::{Admin, Shared};
use super::{ANSWER_TIMEOUT, BEGIN_SEQ_NO, BUSINESS_REJECT_REF_ID, CXL_REJ_REASON, LOGOUT_TIMEOUT};

/// Reads and judges the venue's messages for one session.
pub(super) struct Reader {
    ids: Arc<Ids>,
    dict: Arc<Dictionary>,
    decoder: Decoder,
    frames: FrameReader<ReadHalf<Stream>>,
}

impl Reader {
    pub(super) fn new(
        ids: Arc<Ids>,
        dict: Arc<Dictionary>,
        frames: FrameReader<ReadHalf<Stream>>,
    ) -> Reader {
        Reader {
            ids,
            dict,
            decoder: Decoder::new(),
            frames,
        }
    }

    /// Reads until every order is answered, or the answers stop: `ANSWER_TIMEOUT` after the last send, or that
    /// long without a byte while orders are outstanding. Returns the sender's worst lag.
    pub(super) async fn answers(
        &mut self,
        shared: &Shared,
        admin: &mpsc::Sender<Admin>,
        tally: &mut Tally,
        started: Instant,
    ) -> anyhow::Result<u64> {
        let lag = |s: &Shared| s.lag_max_ns.load(Ordering::Relaxed);
        let mut arrival_ns = 0;
        loop {
            while let Some(frame) = self.frames.buffered()? {
                let msg = self.decoder.decode(&self.dict, frame)?;
                if let Some(a) = judge(&self.ids, &msg, shared, tally, arrival_ns)? {
                    admin.send(a).await.context("the sender stopped")?;
                }
            }
            if tally.answered == tally.orders {
                return Ok(lag(shared));
            }
            let last_send_ns = shared.last_send_ns.load(Ordering::Acquire);
            let deadline = match last_send_ns {
                u64::MAX => Instant::now() + ANSWER_TIMEOUT,
                t => started + Duration::from_nanos(t) + ANSWER_TIMEOUT,
            };
            match timeout_at(deadline.into(), self.frames.fill()).await {
                Ok(read) => read?,
                Err(_) if last_send_ns == u64::MAX && shared.sent() == tally.answered => {}
                Err(_) if Instant::now() < deadline => {}
                Err(_) => return Ok(lag(shared)),
            }
            arrival_ns = started.elapsed().as_nanos() as u64;
        }
    }

    /// After the sender's Logout: reads until the venue's Logout or `LOGOUT_TIMEOUT`, still answering
    /// TestRequests.
    pub(super) async fn logout(&mut self, admin: &mpsc::Sender<Admin>) {
        let deadline = Instant::now() + LOGOUT_TIMEOUT;
        loop {
            while let Ok(Some(frame)) = self.frames.buffered() {
                let Ok(msg) = self.decoder.decode(&self.dict, frame) else {
                    return;
                };
                match msg.msg_type() {
                    b"5" => return,
                    b"1" => {
                        let test_req_id =
                            value(&msg, tags::TEST_REQ_ID).unwrap_or_default().to_vec();
                        let _ = admin.send(Admin::Heartbeat { test_req_id }).await;
                    }
                    _ => {}
                }
            }
            match timeout_at(deadline.into(), self.frames.fill()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}

/// Judges one message of the venue's; returns what the sender should answer.
fn judge(
    ids: &Ids,
    msg: &Message<'_>,
    shared: &Shared,
    tally: &mut Tally,
    now_ns: u64,
) -> anyhow::Result<Option<Admin>> {
    let by_id = |m: &Message| {
        m.get(tags::CL_ORD_ID)
            .and_then(|v| ids.index_of(v.bytes))
            .and_then(|i| shared.take(i))
    };
    let by_seq = |m: &Message| {
        m.get(tags::REF_SEQ_NUM)
            .and_then(|v| v.as_uint().ok())
            .and_then(|s| shared.index_of_seq(s))
            .or_else(|| {
                m.get(BUSINESS_REJECT_REF_ID)
                    .and_then(|v| ids.index_of(v.bytes))
            })
            .and_then(|i| shared.take(i))
    };
    let mut admin = None;
    match msg.msg_type() {
        b"8" => match by_id(msg) {
            Some(slot) => {
                tally.answer(slot, now_ns);
                let exec_type = msg.get(tags::EXEC_TYPE).map(|v| v.bytes);
                if exec_type == Some(b"8") {
                    tally.refused += 1;
                    tally.kind("8", tags::ORD_REJ_REASON, value(msg, tags::ORD_REJ_REASON));
                } else {
                    tally.accepted += 1;
                }
            }
            None => tally.unsolicited += 1,
        },
        b"9" => match by_id(msg) {
            Some(slot) => {
                tally.answer(slot, now_ns);
                tally.cancel_rejects += 1;
                tally.kind("9", CXL_REJ_REASON, value(msg, CXL_REJ_REASON));
            }
            None => tally.unmatched += 1,
        },
        t @ (b"j" | b"3") => match by_seq(msg) {
            Some(slot) => {
                tally.answer(slot, now_ns);
                tally.refused += 1;
                let (name, tag) = match t {
                    b"j" => ("j", tags::BUSINESS_REJECT_REASON),
                    _ => ("3", tags::SESSION_REJECT_REASON),
                };
                tally.kind(name, tag, value(msg, tag));
            }
            None => tally.unmatched += 1,
        },
        b"1" => {
            admin = Some(Admin::Heartbeat {
                test_req_id: value(msg, tags::TEST_REQ_ID).unwrap_or(b"").to_vec(),
            });
        }
        b"2" => {
            let begin = msg.field(BEGIN_SEQ_NO)?.as_uint()?;
            admin = Some(Admin::GapFill { begin });
        }
        b"0" | b"4" | b"A" => {}
        b"5" => bail!(
            "the venue logged the session out: {}",
            String::from_utf8_lossy(value(msg, tags::TEXT).unwrap_or(b""))
        ),
        other => {
            tally.unmatched += 1;
            let t = String::from_utf8_lossy(other).into_owned();
            tally.kind(&t, tags::MSG_TYPE, None);
        }
    }
    Ok(admin)
}

pub(super) fn value<'a>(msg: &Message<'a>, tag: u32) -> Option<&'a [u8]> {
    msg.get(tag).map(|v| v.bytes)
}
