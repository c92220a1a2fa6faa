//! The client for tests that do not run on tokio: [`Fix`] drives the async [`Client`] on a runtime of its own (one
//! thread: the caller's) and turns its errors into panics that name the session, at the caller's line. Plus the
//! order-entry shorthands the end-to-end tests use (instrument ZVZZT) and the checks every ExecutionReport passes.

use std::time::Duration;

use tokio::runtime::Runtime;

use crate::client::{Client, ClientError, EXPECT_WAIT};
use crate::msg::Msg;
use crate::stream::Endpoint;

/// The venue's CompID in the bundled and test configurations.
pub const VENUE_COMP_ID: &str = "FIXVENUE";

/// One FIX session to a venue on 127.0.0.1, blocking.
pub struct Fix {
    runtime: Runtime,
    client: Client,
}

impl Fix {
    /// `sender` to FIXVENUE, both sides at MsgSeqNum 1, not connected.
    pub fn new(sender: &str) -> Fix {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime");
        Fix {
            runtime,
            client: Client::new(sender, VENUE_COMP_ID),
        }
    }

    /// The async client underneath.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    pub fn sender(&self) -> &str {
        self.client.sender()
    }

    /// Our next MsgSeqNum.
    pub fn next_out(&self) -> u64 {
        self.client.stamp.next_out
    }

    pub fn set_next_out(&mut self, seq: u64) {
        self.client.stamp.next_out = seq;
    }

    /// The venue's next MsgSeqNum we expect.
    pub fn next_in(&self) -> u64 {
        self.client.next_in
    }

    pub fn set_next_in(&mut self, seq: u64) {
        self.client.next_in = seq;
    }

    #[track_caller]
    fn ok<T>(&self, result: Result<T, ClientError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("{}: {e}", self.client.sender()),
        }
    }

    #[track_caller]
    fn block_on<T>(&mut self, f: impl AsyncFnOnce(&mut Client) -> Result<T, ClientError>) -> T {
        let result = self.runtime.block_on(f(&mut self.client));
        self.ok(result)
    }

    /// Opens a connection (the numbers carry on).
    #[track_caller]
    pub fn connect(&mut self, port: u16) {
        self.block_on(async |c| c.connect(&Endpoint::local(port)).await)
    }

    /// Connects and logs on with `extra` Logon fields; returns the venue's Logon (see [`Client::logon_with`]).
    #[track_caller]
    pub fn logon_with(&mut self, port: u16, extra: &str) -> Msg {
        self.block_on(async |c| c.logon_with(&Endpoint::local(port), extra).await)
    }

    /// Logs on with the numbers the client has, expecting no gap.
    #[track_caller]
    pub fn logon(&mut self, port: u16) -> Msg {
        self.block_on(async |c| c.logon(&Endpoint::local(port)).await)
    }

    /// Logs on with ResetSeqNumFlag=Y: both sides start at 1.
    #[track_caller]
    pub fn logon_reset(&mut self, port: u16) -> Msg {
        self.block_on(async |c| c.logon_reset(&Endpoint::local(port)).await)
    }

    /// Logs on with the numbers the client has and recovers a gap; returns the Logon and what was resent.
    #[track_caller]
    pub fn logon_recover(&mut self, port: u16) -> (Msg, Vec<Msg>) {
        self.block_on(async |c| c.logon_recover(&Endpoint::local(port)).await)
    }

    /// Sends `35=X|...` with 49, 56, 34 and 52 filled in (unless the text gives them).
    #[track_caller]
    pub fn send(&mut self, body: &str) {
        self.block_on(async |c| c.send(body).await)
    }

    /// Writes bytes as they are.
    #[track_caller]
    pub fn write(&mut self, bytes: &[u8]) {
        self.block_on(async |c| c.send_raw(bytes).await)
    }

    /// The next message within `wait`, or `None` (silence or a closed connection). Numbers are not checked.
    #[track_caller]
    pub fn recv_raw(&mut self, wait: Duration) -> Option<Msg> {
        let result = self.runtime.block_on(self.client.recv_raw(wait));
        self.ok(none_when_closed(result))
    }

    /// The next message other than a plain Heartbeat, checked to carry the next MsgSeqNum; `None` on silence or
    /// a closed connection.
    #[track_caller]
    pub fn recv(&mut self, wait: Duration) -> Option<Msg> {
        let result = self.runtime.block_on(self.client.recv(wait));
        self.ok(none_when_closed(result))
    }

    /// The next message, which must match `spec`.
    #[track_caller]
    pub fn expect(&mut self, spec: &str) -> Msg {
        self.block_on(async |c| c.expect_within(spec, EXPECT_WAIT).await)
    }

    /// No message (but Heartbeats) for `ms`.
    #[track_caller]
    pub fn expect_nothing(&mut self, ms: u64) {
        let result = self
            .runtime
            .block_on(self.client.expect_nothing(Duration::from_millis(ms)));
        self.ok(none_when_closed(result.map(Some)));
    }

    /// Logout and its answer; the connection closes.
    #[track_caller]
    pub fn logout(&mut self) {
        self.block_on(async |c| c.logout().await)
    }

    /// Closes the connection without a Logout.
    pub fn drop_connection(&mut self) {
        self.runtime.block_on(self.client.disconnect());
    }

    /// Whether the venue closed the connection within `wait` (after any messages, which are returned).
    #[track_caller]
    pub fn closed_within(&mut self, wait: Duration) -> (bool, Vec<Msg>) {
        self.block_on(async |c| c.closed_within(wait).await)
    }

    // Order-entry shorthands.

    /// A GTC limit order; returns its ClOrdID.
    #[track_caller]
    pub fn limit(&mut self, side: char, qty: &str, price: &str) -> String {
        let id = id(self.sender());
        self.send(&format!(
            "35=D|11={id}|55=ZVZZT|54={side}|60={}|38={qty}|40=2|44={price}|59=1|",
            in_seconds(0)
        ));
        id
    }

    /// A NewOrderSingle with these fields after 11 and 60; returns its ClOrdID.
    #[track_caller]
    pub fn new_order(&mut self, fields: &str) -> String {
        let id = id(self.sender());
        self.send(&format!("35=D|11={id}|60={}|{fields}", in_seconds(0)));
        id
    }

    #[track_caller]
    pub fn cancel(&mut self, orig: &str, side: char) -> String {
        let id = id(self.sender());
        self.send(&format!(
            "35=F|11={id}|41={orig}|55=ZVZZT|54={side}|60={}|",
            in_seconds(0)
        ));
        id
    }

    #[track_caller]
    pub fn replace(&mut self, orig: &str, side: char, qty: &str, price: &str) -> String {
        let id = id(self.sender());
        self.send(&format!(
            "35=G|11={id}|41={orig}|55=ZVZZT|54={side}|60={}|38={qty}|40=2|44={price}|59=1|",
            in_seconds(0)
        ));
        id
    }

    #[track_caller]
    pub fn status(&mut self, cl_ord_id: &str, side: char) -> String {
        let req = id("ST");
        self.send(&format!(
            "35=H|11={cl_ord_id}|790={req}|55=ZVZZT|54={side}|"
        ));
        req
    }

    #[track_caller]
    pub fn mass_cancel_all(&mut self) -> String {
        let id = id(self.sender());
        self.send(&format!("35=q|11={id}|530=7|60={}|", in_seconds(0)));
        id
    }
}

/// A closed connection as `None`; silence stays `None`.
fn none_when_closed<T>(result: Result<Option<T>, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Err(e) if e.is_closed() => Ok(None),
        other => other,
    }
}

/// UTCTimestamp with milliseconds (TimeStampPrecision 3, the default): `YYYYMMDD-HH:MM:SS.fff`.
pub fn is_utc_millis(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 21
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'-',
            11 | 14 => *c == b':',
            17 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

/// A UTCTimestamp `s` seconds from now, in milliseconds.
pub fn in_seconds(s: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(s))
        .format("%Y%m%d-%H:%M:%S%.3f")
        .to_string()
}

/// A ClOrdID unique within the test process and across runs.
pub fn id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let ms = chrono::Utc::now().timestamp_millis();
    format!(
        "{prefix}-{ms}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks what every ExecutionReport must carry.
#[track_caller]
pub fn check_report(m: &Msg) {
    for tag in [37, 11, 17, 150, 39, 55, 54, 14, 151, 6, 60, 59] {
        assert!(m.get(tag).is_some(), "{tag} missing in {m}");
    }
    assert!(is_utc_millis(m.field(60)), "60 not in milliseconds in {m}");
    let cum = m.decimal(14);
    let leaves = m.decimal(151);
    let status = m.field(39);
    if status != "4" && status != "8" && status != "C" && m.get(38).is_some() {
        assert_eq!(
            cum + leaves,
            m.decimal(38),
            "CumQty + LeavesQty != OrderQty in {m}"
        );
    }
    if m.field(150) == "F" {
        for tag in [32, 31, 527, 851] {
            assert!(m.get(tag).is_some(), "{tag} missing on a fill: {m}");
        }
    }
}
