//! Drop copy end to end (issue 14): the real `fixvenue` binary, two trading sessions (CLIENT1 on account ACC1,
//! CLIENT2 on ACC2) trading with fills, partial fills, replaces, cancels, an edge refusal and a mass cancel, while
//! an account-scoped drop copy (DCACC: ACC1) and a venue-wide one (DCALL: `*`) watch. DCACC disconnects mid-flow
//! and gets what it missed by the ordinary gap and resend; the venue is killed with SIGKILL in the middle of a
//! burst and restarted on the same data directory. The clients are testkit's [`RecoveringSession`]s (they log on
//! again with their own numbers, resend what the venue asks for, ask for the gaps they see, and record every
//! protocol violation).
//!
//! At the end, compared by ExecID: DCACC received a copy of exactly the ExecutionReports the trading sessions
//! received for ACC1, DCALL of all of them; every copy says 797=Y and carries the originating session's CompIDs
//! (115=FIXVENUE, 128=the client); nothing is missing, and an ExecID that came twice is a rebuilt report
//! (PossResend=Y) with the same content. Status answers (150=I, the venue's answer to a PossDup resend of an order
//! it already had) are not copied by design and are left out of the comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use testkit::Msg;
use testkit::recovering::{RecoveringSession, State};
use testkit::venue::VenueProcess;

/// The two trading sessions every test here has (a macro, so that `concat!` can add sessions to it).
macro_rules! trading_cfg {
    () => {
        "\
[DEFAULT]
BeginString=FIX.4.4
SenderCompID=FIXVENUE
SocketAcceptAddress=127.0.0.1
SocketAcceptPort=0
NonStopSession=Y
LogonTimeout=10
LogoutTimeout=1
HeartBtIntMin=1
HeartBtIntMax=300

[SESSION]
TargetCompID=CLIENT1
Accounts=ACC1

[SESSION]
TargetCompID=CLIENT2
Accounts=ACC2
"
    };
}

const SESSIONS_CFG: &str = concat!(
    trading_cfg!(),
    "
[SESSION]
TargetCompID=DCACC
SessionRole=dropcopy
DropCopyAccounts=ACC1

[SESSION]
TargetCompID=DCALL
SessionRole=dropcopy
DropCopyAccounts=*
"
);

const CLIENT1: usize = 0;
const CLIENT2: usize = 1;
const DCACC: usize = 2;
const DCALL: usize = 3;
const NAMES: [&str; 4] = ["CLIENT1", "CLIENT2", "DCACC", "DCALL"];
/// How long one step may take (a loaded 2-core machine, a venue restart).
const STEP: Duration = Duration::from_secs(30);

struct Net {
    venue: VenueProcess,
    sessions: Vec<RecoveringSession>,
    /// Sessions kept disconnected on purpose.
    away: Vec<bool>,
    dir: tempfile::TempDir,
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

impl Net {
    fn start() -> Net {
        Net::start_with(SESSIONS_CFG, &NAMES)
    }

    /// A venue with the sessions of `cfg`, and a client for each of `names` (in that order).
    fn start_with(cfg: &str, names: &[&str]) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.cfg");
        std::fs::write(&path, cfg).unwrap();
        let venue = VenueProcess::start(&path, &dir.path().join("data"));
        Net {
            venue,
            sessions: names.iter().map(|n| RecoveringSession::new(n)).collect(),
            away: vec![false; names.len()],
            dir,
        }
    }

    /// Every session not away: (re)connected, then what came handled.
    fn pump(&mut self) {
        let port = self.venue.port;
        for (i, s) in self.sessions.iter_mut().enumerate() {
            if self.away[i] {
                continue;
            }
            if s.state == State::Disconnected {
                if !s.connect_logon(port) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                continue;
            }
            s.pump(Duration::from_millis(5));
        }
    }

    #[track_caller]
    fn until(&mut self, what: &str, done: impl Fn(&Net) -> bool) {
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            if done(self) {
                return;
            }
            self.pump();
        }
        if !done(self) {
            self.fail(&format!("not within {STEP:?}: {what}"));
        }
    }

    /// Fails the test; each session's trace is written where it outlives the test's directory.
    fn fail(&self, what: &str) -> ! {
        let dir = std::env::temp_dir().join(format!("drop_copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for s in &self.sessions {
            let path = dir.join(format!("{}.trace", s.sender()));
            std::fs::write(&path, s.trace.join("\n")).unwrap();
            eprintln!("{}: trace in {}", s.sender(), path.display());
        }
        panic!("{what} (traces under {})", dir.display());
    }

    fn received(&self, i: usize, cl_ord_id: &str) -> bool {
        self.sessions[i]
            .received
            .values()
            .any(|m| m.get(11) == Some(cl_ord_id))
    }

    /// Sends `35=msg_type|body` from session `i` and waits for an answer naming `cl_ord_id`.
    fn send(&mut self, i: usize, msg_type: &str, body: &str, cl_ord_id: &str) {
        self.sessions[i].send_text(msg_type, body);
        let name = self.sessions[i].sender().to_string();
        self.until(&format!("{name} gets an answer for {cl_ord_id}"), |n| {
            n.received(i, cl_ord_id)
        });
    }

    fn order(&mut self, i: usize, id: &str, side: u8, qty: u32, price: u32) {
        let body = format!(
            "11={id}|55=ZVZZT|54={side}|60={}|40=2|38={qty}|44={price}|59=1|",
            now()
        );
        self.send(i, "D", &body, id);
    }

    fn replace(&mut self, i: usize, orig: &str, id: &str, side: u8, qty: u32, price: u32) {
        let body = format!(
            "41={orig}|11={id}|55=ZVZZT|54={side}|60={}|40=2|38={qty}|44={price}|59=1|",
            now()
        );
        self.send(i, "G", &body, id);
    }

    fn cancel(&mut self, i: usize, orig: &str, id: &str, side: u8) {
        let body = format!("41={orig}|11={id}|55=ZVZZT|54={side}|60={}|", now());
        self.send(i, "F", &body, id);
    }

    /// Every session logged on, synced, no gap open, and a last TestRequest answered.
    fn settle(&mut self, label: &str) {
        self.until(&format!("{label}: every session synced"), |n| {
            n.sessions
                .iter()
                .all(|s| s.state == State::Ready && !s.resend_pending())
        });
        for s in &mut self.sessions {
            s.test_request(label);
        }
        self.until(&format!("{label}: every TestRequest answered"), |n| {
            n.sessions
                .iter()
                .all(|s| s.tests_answered.contains(label) && !s.resend_pending())
        });
    }
}

/// The ExecutionReports a session received, by ExecID (every copy of each, in the order received).
fn reports(s: &RecoveringSession) -> BTreeMap<String, Vec<Msg>> {
    let mut out: BTreeMap<String, Vec<Msg>> = BTreeMap::new();
    for m in s.received.values().filter(|m| m.msg_type() == "8") {
        out.entry(m.get(17).unwrap_or_default().to_string())
            .or_default()
            .push(m.clone());
    }
    out
}

/// A message's fields but those a resend or the header of another session may change.
fn content(m: &Msg) -> Vec<(u32, Vec<u8>)> {
    const OTHER: [u32; 11] = [8, 9, 10, 34, 43, 49, 52, 56, 97, 115, 122];
    m.fields()
        .filter(|(t, _)| !OTHER.contains(t) && *t != 128 && *t != 797)
        .map(|(t, v)| (t, v.to_vec()))
        .collect()
}

#[test]
fn drop_copies_get_exactly_their_scope_across_a_disconnect_and_a_sigkill() {
    let mut net = Net::start();
    net.settle("START");
    // Acks, a partial fill, a replace, the rest filled, a cancel, an edge refusal, a mass cancel.
    net.order(CLIENT1, "B1", 1, 10, 100);
    net.order(CLIENT2, "S1", 2, 4, 100);
    net.replace(CLIENT1, "B1", "B2", 1, 9, 100);
    net.order(CLIENT2, "S2", 2, 5, 100);
    net.order(CLIENT1, "B3", 1, 1, 90);
    net.cancel(CLIENT1, "B3", "B4", 1);
    // Refused at the edge (unknown symbol): never journaled, copied all the same.
    let body = format!("11=X1|55=NOPE|54=2|60={}|40=2|38=1|44=7|", now());
    net.send(CLIENT2, "D", &body, "X1");
    // The account-scoped drop copy goes away mid-flow.
    net.until("DCACC has its copies so far", |n| {
        reports(&n.sessions[DCACC]).len() >= 6
    });
    net.sessions[DCACC].disconnect();
    net.away[DCACC] = true;
    net.order(CLIENT2, "S3", 2, 3, 150);
    net.order(CLIENT1, "B5", 1, 2, 150);
    net.order(CLIENT1, "B6", 1, 5, 95);
    net.order(CLIENT1, "B7", 1, 5, 96);
    let body = format!("11=M1|530=7|60={}|", now());
    net.send(CLIENT1, "q", &body, "M1");
    net.away[DCACC] = false;
    net.settle("BACK");
    // A burst in flight, and SIGKILL in the middle of it.
    for k in 0..20 {
        let (i, side) = if k % 2 == 0 {
            (CLIENT1, 1)
        } else {
            (CLIENT2, 2)
        };
        let body = format!(
            "11=K{k}|55=ZVZZT|54={side}|60={}|40=2|38=1|44=100|59=1|",
            now()
        );
        net.sessions[i].send_text("D", &body);
    }
    // Killed while the burst is being taken: some of its commands journaled with their reports and copies not
    // yet logged (rebuilt at start-up, PossResend=Y), some not journaled (asked for again by ResendRequest).
    std::thread::sleep(Duration::from_millis(3));
    net.venue.stop("KILL");
    for s in &mut net.sessions {
        s.disconnect();
    }
    let cfg = net.dir.path().join("sessions.cfg");
    net.venue = VenueProcess::start(&cfg, &net.dir.path().join("data"));
    net.settle("RESTARTED");
    net.until("every burst order answered", |n| {
        (0..20).all(|k| n.received(if k % 2 == 0 { CLIENT1 } else { CLIENT2 }, &format!("K{k}")))
    });
    // Live again after the restart.
    net.order(CLIENT2, "S8", 2, 2, 101);
    net.order(CLIENT1, "B8", 1, 2, 101);
    net.settle("END");

    let mut violations: Vec<String> = net
        .sessions
        .iter()
        .flat_map(|s| s.violations.clone())
        .collect();
    // Originals: what the trading sessions received, but status answers (not copied by design).
    let mut originals: BTreeMap<String, Msg> = BTreeMap::new();
    for i in [CLIENT1, CLIENT2] {
        for (id, copies) in reports(&net.sessions[i]) {
            let first = &copies[0];
            if first.get(150) == Some("I") {
                continue;
            }
            assert!(first.get(797).is_none(), "{}", first.text());
            originals.insert(id, first.clone());
        }
    }
    let kinds: BTreeSet<&str> = originals.values().filter_map(|m| m.get(150)).collect();
    for kind in ["0", "F", "5", "4", "8"] {
        assert!(
            kinds.contains(kind),
            "ExecType {kind} among the originals: {kinds:?}"
        );
    }
    for (dc, scope) in [(DCACC, Some("ACC1")), (DCALL, None)] {
        let copies = reports(&net.sessions[dc]);
        let expected: BTreeSet<&String> = originals
            .iter()
            .filter(|(_, m)| scope.is_none_or(|a| m.get(1) == Some(a)))
            .map(|(id, _)| id)
            .collect();
        let got: BTreeSet<&String> = copies.keys().collect();
        for missing in expected.difference(&got) {
            violations.push(format!(
                "{}: no copy of {}",
                NAMES[dc],
                originals[*missing].text()
            ));
        }
        for extra in got.difference(&expected) {
            violations.push(format!(
                "{}: a copy of no original in scope: {}",
                NAMES[dc],
                copies[*extra][0].text()
            ));
        }
        for (id, list) in &copies {
            let Some(original) = originals.get(id) else {
                continue;
            };
            for (n, copy) in list.iter().enumerate() {
                let client = if original.get(1) == Some("ACC1") {
                    "CLIENT1"
                } else {
                    "CLIENT2"
                };
                let right = copy.get(797) == Some("Y")
                    && copy.get(115) == Some("FIXVENUE")
                    && copy.get(128) == Some(client)
                    && content(copy) == content(original)
                    && (n == 0 || copy.get(97) == Some("Y"));
                if !right {
                    violations.push(format!(
                        "{}: copy {n} of {id} is not the original + 797=Y + 115/128 (a second one must be PossResend=Y):\n  copy     {}\n  original {}",
                        NAMES[dc],
                        copy.text(),
                        original.text()
                    ));
                }
            }
        }
        let resent = copies
            .values()
            .filter(|l| l.iter().any(|c| c.get(97) == Some("Y")))
            .count();
        println!(
            "{}: copies of {} ExecIDs ({resent} rebuilt after the kill, PossResend=Y) for {} originals in scope",
            NAMES[dc],
            copies.len(),
            expected.len()
        );
    }
    if !violations.is_empty() {
        net.fail(&violations.join("\n"));
    }
}

/// A drop copy added to the configuration of a venue with history is not sent copies of the executions before its
/// session period: start-up rebuilds for a session the log has never numbered only the commands of its current
/// period (here a period that starts between the first trade and the restart), so it gets exactly the executions
/// after it.
#[test]
fn a_drop_copy_added_later_gets_no_copies_from_before_its_period() {
    const TRADING: &str = trading_cfg!();
    let mut net = Net::start_with(TRADING, &["CLIENT1", "CLIENT2"]);
    net.settle("START");
    net.order(0, "OLD-B", 1, 1, 100);
    net.order(1, "OLD-S", 2, 1, 100);
    net.settle("TRADED");
    net.venue.stop("TERM");
    for s in &mut net.sessions {
        s.disconnect();
    }
    // The drop copy's period starts at the next whole second but one, after the first trade.
    let start = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let end = start - chrono::TimeDelta::seconds(1);
    while chrono::Utc::now() < start + chrono::TimeDelta::milliseconds(1_100) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cfg = format!(
        "{TRADING}\n[SESSION]\nTargetCompID=DCNEW\nSessionRole=dropcopy\nDropCopyAccounts=*\nNonStopSession=N\n\
         StartTime={}\nEndTime={}\n",
        start.format("%H:%M:%S"),
        end.format("%H:%M:%S")
    );
    let path = net.dir.path().join("sessions.cfg");
    std::fs::write(&path, cfg).unwrap();
    net.venue = VenueProcess::start(&path, &net.dir.path().join("data"));
    // It logs on without a reset, so it gets whatever the venue kept for it by the ordinary gap and resend.
    net.sessions.push(RecoveringSession::without_reset("DCNEW"));
    net.away.push(false);
    net.settle("RESTARTED");
    net.order(0, "NEW-B", 1, 1, 100);
    net.order(1, "NEW-S", 2, 1, 100);
    net.settle("END");

    let mut violations: Vec<String> = net
        .sessions
        .iter()
        .flat_map(|s| s.violations.clone())
        .collect();
    let mut new_ids = BTreeSet::new();
    let mut old_ids = BTreeSet::new();
    for i in [0, 1] {
        for (id, copies) in reports(&net.sessions[i]) {
            match copies[0].get(11) {
                Some(c) if c.starts_with("NEW-") => new_ids.insert(id),
                Some(c) if c.starts_with("OLD-") => old_ids.insert(id),
                _ => false,
            };
        }
    }
    assert_eq!(
        (old_ids.len(), new_ids.len()),
        (4, 4),
        "an ack and a fill for each order: old {old_ids:?} new {new_ids:?}"
    );
    let got: BTreeSet<String> = reports(&net.sessions[2]).into_keys().collect();
    if got != new_ids {
        violations.push(format!(
            "DCNEW got copies of {got:?}; expected exactly the executions after its period began: {new_ids:?} (before it: {old_ids:?})"
        ));
    }
    if !violations.is_empty() {
        net.fail(&violations.join("\n"));
    }
}
