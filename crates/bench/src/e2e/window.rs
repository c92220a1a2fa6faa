//! What a session's sender and reader share: the window of outstanding orders (which slot, which MsgSeqNum), the
//! send-side figures, and the session messages the reader asks the sender to write.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// An order sent and not yet answered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) index: u64,
    /// When its round trip starts, in ns after the start.
    pub(super) origin_ns: u64,
    pub(super) measured: bool,
}

pub(super) const EMPTY: Slot = Slot {
    index: u64::MAX,
    origin_ns: 0,
    measured: false,
};

/// The outstanding orders of one session: slot `index % window`; and which order each outgoing MsgSeqNum
/// carried (for answers that name the message, not the order).
pub(super) struct Outstanding {
    pub(super) slots: Vec<Slot>,
    pub(super) by_seq: Vec<u64>,
}

pub(super) struct Shared {
    pub(super) outstanding: Mutex<Outstanding>,
    /// Signalled by the reader when it frees a slot.
    pub(super) freed: Notify,
    /// ns after the start of the last order's send, `u64::MAX` until then.
    pub(super) last_send_ns: AtomicU64,
    /// ns the sender was behind its schedule at most, open loop.
    pub(super) lag_max_ns: AtomicU64,
    /// Orders written so far.
    pub(super) sent: AtomicU64,
}

impl Shared {
    pub(super) fn new(window: usize) -> Shared {
        Shared {
            outstanding: Mutex::new(Outstanding {
                slots: vec![EMPTY; window],
                by_seq: vec![u64::MAX; window * 2],
            }),
            freed: Notify::new(),
            last_send_ns: AtomicU64::new(u64::MAX),
            lag_max_ns: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    pub(super) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    pub(super) fn is_free(&self, index: u64) -> bool {
        let o = self.outstanding.lock().expect("outstanding lock");
        o.slots[(index % o.slots.len() as u64) as usize].index == u64::MAX
    }

    /// The slot of order `index` if it is still waiting for its first answer.
    pub(super) fn take(&self, index: u64) -> Option<Slot> {
        let mut o = self.outstanding.lock().expect("outstanding lock");
        let at = (index % o.slots.len() as u64) as usize;
        if o.slots[at].index != index {
            return None;
        }
        let slot = std::mem::replace(&mut o.slots[at], EMPTY);
        drop(o);
        self.freed.notify_one();
        Some(slot)
    }

    pub(super) fn index_of_seq(&self, seq: u64) -> Option<u64> {
        let o = self.outstanding.lock().expect("outstanding lock");
        let v = o.by_seq[(seq % o.by_seq.len() as u64) as usize];
        (v != u64::MAX && v >> 32 == seq >> 32).then_some(v & 0xffff_ffff)
    }
}

/// A session message the reader asks the sender to write.
#[derive(Debug)]
pub(super) enum Admin {
    Heartbeat { test_req_id: Vec<u8> },
    GapFill { begin: u64 },
    Logout,
    Stop,
}
