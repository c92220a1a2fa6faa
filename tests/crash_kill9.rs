//! kill -9 under load (issue 10): the real `fixvenue` binary with three trading sessions, each driven by a client
//! thread that sends a stream of limit orders (which cross sometimes) and cancels, while the venue is killed with
//! SIGKILL at random points and restarted on the same data directory, 22 times. The seed is printed; `CRASH_SEED`
//! replays the same kill intervals and order choices (not the machine's timing). The clients are
//! [`RecoveringSession`]s: they log on again with their own next MsgSeqNum, resend or gap-fill what the venue asks
//! for, ask for the gaps they see, and record everything; a failing run writes each session's trace to the
//! temporary directory and names the files.
//!
//! After the last restart every invariant of the issue is checked:
//! - every message the venue sent keeps its number: no MsgSeqNum received twice with different content, none sent
//!   again without PossDupFlag, no gap fill over a report received (checked as messages arrive, see testkit);
//! - resends are served: every ResendRequest within testkit's `RESEND_WAIT`, and a final full resend brings every
//!   number in order, each report as first received;
//! - every order the venue took is answered: once the clients are synced (the venue's next expected number has
//!   passed everything they sent: their final TestRequest is answered), every NewOrderSingle and
//!   OrderCancelRequest sent has its ExecutionReport, OrderCancelReject or Reject;
//! - no order entered twice (one OrderID per ClOrdID);
//! - every acknowledged order is known (OrderStatusRequest) with at least the CumQty acknowledged;
//! - no ExecID appears twice with different content;
//! - every trade reached both its sides (each match id, 527, on one buy and one sell fill).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use testkit::Msg;
use testkit::recovering::{RecoveringSession, State};
use testkit::venue::VenueProcess;

const SESSIONS: [&str; 3] = ["CLIENT1", "CLIENT2", "CLIENT3"];
/// SIGKILLs in the run.
const KILLS: usize = 22;
/// How long the venue runs between a start and its kill, in milliseconds (drawn from this range).
const UPTIME_MS: (u64, u64) = (150, 900);
/// Orders and cancels a client has in flight on one connection.
const WINDOW: usize = 12;
/// How long the final phase may take for each of its steps.
const SETTLE: Duration = Duration::from_secs(20);
/// How long the whole final phase may take.
const SETTLE_ALL: Duration = Duration::from_secs(60);

const SESSIONS_CFG: &str = "\
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
SessionRole=trading

[SESSION]
TargetCompID=CLIENT1

[SESSION]
TargetCompID=CLIENT2

[SESSION]
TargetCompID=CLIENT3
";

/// SplitMix64: a small seeded generator (the workspace has no `rand`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// What the main thread tells the clients.
struct Shared {
    /// The venue's port; 0 while it is down.
    port: AtomicU32,
    /// Set after the last restart: stop trading, settle and check.
    settle: AtomicBool,
    /// When the final phase must be over (set with `settle`).
    settle_deadline: std::sync::OnceLock<Instant>,
}

fn body_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    body.split('|')
        .find_map(|f| f.strip_prefix(tag).and_then(|v| v.strip_prefix('=')))
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

/// The ClOrdIDs and numbers of everything a session sent that wants an answer (orders, cancels), and whether each
/// has one among the messages received.
fn unanswered(s: &RecoveringSession) -> Vec<(u64, String)> {
    let mut answered_ids: HashSet<&str> = HashSet::new();
    let mut answered_seqs: HashSet<u64> = HashSet::new();
    for m in s.received.values() {
        match m.msg_type() {
            "8" | "9" => {
                if let Some(id) = m.get(11) {
                    answered_ids.insert(id);
                }
            }
            "3" | "j" => {
                if let Some(seq) = m.get(45).and_then(|v| v.parse().ok()) {
                    answered_seqs.insert(seq);
                }
            }
            _ => {}
        }
    }
    s.sent
        .iter()
        .filter(|(_, m)| m.msg_type == "D" || m.msg_type == "F")
        .filter_map(|(seq, m)| {
            let id = body_field(&m.body, "11").unwrap_or("");
            (!answered_ids.contains(id) && !answered_seqs.contains(seq))
                .then(|| (*seq, id.to_string()))
        })
        .collect()
}

/// One client: trades until told to settle, then settles and checks its own session.
fn run_client(name: &'static str, seed: u64, shared: Arc<Shared>) -> RecoveringSession {
    let mut rng = Rng(seed);
    let mut s = RecoveringSession::new(name);
    // ClOrdIDs in flight on this connection; orders acknowledged and maybe resting (ClOrdID, side).
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut open: Vec<(String, char)> = Vec::new();
    let mut n = 0u64;
    let book = |msgs: Vec<Msg>, in_flight: &mut HashSet<String>, open: &mut Vec<(String, char)>| {
        for m in msgs {
            if let Some(id) = m.get(11) {
                in_flight.remove(id);
            }
            if m.msg_type() == "8" && m.get(150) == Some("0") {
                let side = m.get(54).and_then(|v| v.chars().next()).unwrap_or('1');
                open.push((m.field(11).to_string(), side));
            }
        }
    };
    loop {
        let settle = shared.settle.load(Ordering::Acquire);
        match s.state {
            State::Disconnected => {
                in_flight.clear();
                let port = shared.port.load(Ordering::Acquire) as u16;
                if settle {
                    break;
                }
                if port == 0 || !s.connect_logon(port) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            State::LoggingOn | State::Syncing => {
                if settle {
                    break;
                }
                let msgs = s.pump(Duration::from_millis(20));
                book(msgs, &mut in_flight, &mut open);
            }
            State::Ready => {
                if settle {
                    break;
                }
                if in_flight.len() < WINDOW {
                    n += 1;
                    let id = format!("{name}-{seed:x}-{n}");
                    if !open.is_empty() && rng.below(4) == 0 {
                        let (orig, side) = open.swap_remove(rng.below(open.len() as u64) as usize);
                        s.send_text(
                            "F",
                            &format!("11={id}|41={orig}|55=ZVZZT|54={side}|60={}|", now_text()),
                        );
                    } else {
                        let buy = rng.below(2) == 0;
                        let ticks = rng.below(16);
                        let (side, price) = if buy {
                            ('1', Decimal::new(9990 + ticks as i64, 2))
                        } else {
                            ('2', Decimal::new(10010 - ticks as i64, 2))
                        };
                        let qty = 1 + rng.below(10);
                        s.send_text(
                            "D",
                            &format!(
                                "11={id}|55=ZVZZT|54={side}|60={}|38={qty}|40=2|44={price}|59=1|",
                                now_text()
                            ),
                        );
                    }
                    in_flight.insert(id);
                }
                let wait = if in_flight.len() < WINDOW { 0 } else { 5 };
                let msgs = s.pump(Duration::from_millis(wait));
                book(msgs, &mut in_flight, &mut open);
            }
        }
    }
    settle_and_check(&mut s);
    s
}

/// Pumps (logging on again if the connection goes) until `done` or `SETTLE` passes; false on the deadline.
fn pump_until(
    s: &mut RecoveringSession,
    shared: &Shared,
    mut done: impl FnMut(&mut RecoveringSession) -> bool,
) -> bool {
    let deadline = (Instant::now() + SETTLE).min(*shared.settle_deadline.get().expect("settling"));
    while Instant::now() < deadline {
        if done(s) {
            return true;
        }
        if s.state == State::Disconnected {
            let port = shared.port.load(Ordering::Acquire) as u16;
            if port == 0 || !s.connect_logon(port) {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        }
        s.pump(Duration::from_millis(20));
    }
    done(s)
}

fn settle_and_check(s: &mut RecoveringSession) {
    let shared = SHARED.get().expect("shared state").clone();
    let name = s.sender().to_string();
    // Synced, no gap of ours open, and the venue has taken every number we sent: the answer to a TestRequest
    // sent last comes after the venue processed (or asked again for) everything before it.
    if !pump_until(s, &shared, |s| {
        s.state == State::Ready && !s.resend_pending()
    }) {
        s.violations.push(format!(
            "{name}: not logged on and synced within {SETTLE:?} of the last restart"
        ));
        return;
    }
    s.test_request("FINAL");
    if !pump_until(s, &shared, |s| {
        if s.state == State::Ready && !s.tests_answered.contains("FINAL") && !s.test_pending() {
            s.test_request("FINAL");
        }
        s.tests_answered.contains("FINAL") && !s.resend_pending()
    }) {
        s.violations.push(format!(
            "{name}: the final TestRequest was not answered within {SETTLE:?}"
        ));
        return;
    }
    println!("{name}: synced, {} unanswered", unanswered(s).len());
    // Every order and cancel the venue took is answered (given time for answers still in flight).
    pump_until(s, &shared, |s| unanswered(s).is_empty());
    // Each one is asked about (OrderStatusRequest), so that the report says whether the venue entered it (its
    // reports lost: item 4) or took its number without it (item 3).
    let missing = unanswered(s);
    for (seq, id) in &missing {
        let sent = &s.sent[seq];
        if sent.msg_type == "D" {
            let side = body_field(&sent.body, "54").unwrap_or("1").to_string();
            s.send_text("H", &format!("11={id}|790=DIAG-{id}|55=ZVZZT|54={side}|"));
        }
    }
    pump_until(s, &shared, |s| {
        missing.iter().all(|(seq, id)| {
            s.sent[seq].msg_type != "D"
                || s.received
                    .values()
                    .rev()
                    .take(400)
                    .any(|m| m.get(790) == Some(&format!("DIAG-{id}")))
        })
    });
    for (seq, id) in missing {
        let status = s
            .received
            .values()
            .find(|m| m.get(790) == Some(&format!("DIAG-{id}")))
            .map_or("no answer".to_string(), |m| m.text());
        let evidence = s.evidence(&[format!("11={id}|"), format!("|45={seq}|")], 60);
        s.violations.push(format!(
            "{name}: order/cancel {id} (MsgSeqNum {seq}) taken by the venue and never answered; its status now: {status}\n    {}",
            evidence.join("\n    ")
        ));
    }
    // Resends are served: everything from 1, in order, each report as first received.
    let upto = s.start_full_resend();
    if !pump_until(s, &shared, |s| s.replay_next().is_some_and(|n| n > upto)) {
        s.violations.push(format!(
            "{name}: the full resend up to {upto} stopped before {:?}",
            s.replay_next()
        ));
    }
    s.stop_full_resend();
    println!("{name}: full resend checked up to {upto}");
    // Every acknowledged order is known, with at least the CumQty acknowledged.
    let mut acked: BTreeMap<String, (String, char, Decimal)> = BTreeMap::new(); // OrderID -> (ClOrdID, side, cum)
    // OrderID -> the order's own ClOrdID: from its New report, else from any report not of a cancel.
    let mut orig_of: HashMap<String, String> = HashMap::new();
    let mut new_seen: HashSet<String> = HashSet::new();
    for m in s.received.values().filter(|m| m.msg_type() == "8") {
        let (Some(order_id), Some(cum)) = (m.get(37), m.get(14)) else {
            continue;
        };
        if m.get(150) == Some("0") {
            new_seen.insert(order_id.to_string());
            orig_of.insert(order_id.to_string(), m.field(11).to_string());
        } else if m.get(41).is_none() {
            orig_of
                .entry(order_id.to_string())
                .or_insert_with(|| m.field(11).to_string());
        }
        if m.get(39) == Some("8") || m.get(150) == Some("I") {
            continue;
        }
        let cum: Decimal = cum.parse().unwrap_or_default();
        let side = m.get(54).and_then(|v| v.chars().next()).unwrap_or('1');
        let entry = acked
            .entry(order_id.to_string())
            .or_insert((String::new(), side, cum));
        entry.2 = entry.2.max(cum);
    }
    for (order_id, entry) in acked.iter_mut() {
        if let Some(orig) = orig_of.get(order_id) {
            entry.0 = orig.clone();
        }
        if !new_seen.contains(order_id) {
            let evidence = s.evidence(&[format!("|37={order_id}|")], 30);
            s.violations.push(format!(
                "{name}: the New report of order {order_id} ({}) never reached its session, its later reports did\n    {}",
                entry.0,
                evidence.join("\n    ")
            ));
        }
    }
    let mut asked: HashMap<String, (String, String, Decimal)> = HashMap::new(); // 790 -> (OrderID, ClOrdID, cum)
    let entries: Vec<_> = acked.into_iter().collect();
    for chunk in entries.chunks(100) {
        for (order_id, (cl_ord_id, side, cum)) in chunk {
            if cl_ord_id.is_empty() {
                s.violations.push(format!(
                    "{name}: order {order_id} reported only as a cancel's"
                ));
                continue;
            }
            let req = format!("ST-{order_id}");
            s.send_text(
                "H",
                &format!("11={cl_ord_id}|790={req}|55=ZVZZT|54={side}|"),
            );
            asked.insert(req, (order_id.clone(), cl_ord_id.clone(), *cum));
        }
        let want: Vec<String> = chunk.iter().map(|(o, _)| format!("ST-{o}")).collect();
        pump_until(s, &shared, |s| {
            let got: HashSet<&str> = s
                .received
                .values()
                .rev()
                .take(400)
                .filter_map(|m| m.get(790))
                .collect();
            want.iter()
                .all(|w| got.contains(w.as_str()) || !asked.contains_key(w))
        });
    }
    let answers: HashMap<String, Msg> = s
        .received
        .values()
        .filter_map(|m| m.get(790).map(|r| (r.to_string(), m.clone())))
        .collect();
    for (req, (order_id, cl_ord_id, cum)) in &asked {
        let problem = match answers.get(req) {
            None => Some("no answer to its OrderStatusRequest".to_string()),
            Some(m) if m.get(39) == Some("8") || m.get(37) != Some(order_id.as_str()) => {
                Some(format!("unknown to the venue: {}", m.text()))
            }
            Some(m)
                if m.get(14)
                    .and_then(|v| v.parse::<Decimal>().ok())
                    .is_none_or(|c| c < *cum) =>
            {
                Some(format!("CumQty below the {cum} acknowledged: {}", m.text()))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let evidence = s.evidence(
                &[format!("11={cl_ord_id}|"), format!("41={cl_ord_id}|")],
                60,
            );
            s.violations.push(format!(
                "{name}: acknowledged order {cl_ord_id} ({order_id}) {problem}\n    {}",
                evidence.join("\n    ")
            ));
        }
    }
    s.disconnect();
}

static SHARED: std::sync::OnceLock<Arc<Shared>> = std::sync::OnceLock::new();

/// The checks across sessions: no order entered twice, ExecIDs, trade sides.
fn check_across(sessions: &[RecoveringSession]) -> Vec<String> {
    let mut violations = Vec::new();
    let mut exec_ids: HashMap<String, (String, Msg)> = HashMap::new();
    let mut trades: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new(); // 527 -> (session, side, ExecID)
    for s in sessions {
        let name = s.sender();
        let mut entered: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for m in s.received.values().filter(|m| m.msg_type() == "8") {
            if m.get(150) == Some("0") {
                entered
                    .entry(m.field(11))
                    .or_default()
                    .insert(m.get(37).unwrap_or(""));
            }
            let Some(exec_id) = m.get(17) else { continue };
            let content = |m: &Msg| {
                m.fields()
                    .filter(|(t, _)| ![9, 10, 34, 43, 52, 97, 122].contains(t))
                    .map(|(t, v)| (t, v.to_vec()))
                    .collect::<Vec<_>>()
            };
            match exec_ids.get(exec_id) {
                Some((other, first)) if content(first) != content(m) => violations.push(format!(
                    "ExecID {exec_id} twice with different content: {other} got {}\n    {name} got {}",
                    first.text(),
                    m.text()
                )),
                Some(_) => {}
                None => {
                    exec_ids.insert(exec_id.to_string(), (name.to_string(), m.clone()));
                }
            }
            if m.get(150) == Some("F")
                && let Some(match_id) = m.get(527)
            {
                let sides = trades.entry(match_id.to_string()).or_default();
                let side = (
                    name.to_string(),
                    m.field(54).to_string(),
                    exec_id.to_string(),
                );
                if !sides.contains(&side) {
                    sides.push(side);
                }
            }
        }
        for (id, orders) in entered {
            if orders.len() > 1 {
                violations.push(format!("{name}: {id} entered twice, as {orders:?}"));
            }
        }
    }
    for (match_id, sides) in trades {
        let buys = sides.iter().filter(|(_, side, _)| side == "1").count();
        let sells = sides.iter().filter(|(_, side, _)| side == "2").count();
        if buys != 1 || sells != 1 {
            violations.push(format!(
                "trade {match_id} reached {buys} buy and {sells} sell sides (one each expected): {sides:?}"
            ));
        }
    }
    violations
}

#[test]
fn sigkill_under_load_loses_no_report_and_takes_no_number_without_its_order() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("seed {seed} (CRASH_SEED={seed} replays the kill points)");
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let data = dir.path().join("data");
    let shared = Arc::new(Shared {
        port: AtomicU32::new(0),
        settle: AtomicBool::new(false),
        settle_deadline: std::sync::OnceLock::new(),
    });
    SHARED.set(shared.clone()).ok().expect("one test sets it");

    let mut rng = Rng(seed);
    let mut venue = VenueProcess::start(&cfg, &data);
    shared.port.store(u32::from(venue.port), Ordering::Release);
    let clients: Vec<_> = SESSIONS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let shared = shared.clone();
            let seed = seed.wrapping_add(i as u64 + 1);
            std::thread::spawn(move || run_client(name, seed, shared))
        })
        .collect();
    for kill in 0..KILLS {
        let uptime = Duration::from_millis(rng.between(UPTIME_MS));
        std::thread::sleep(uptime);
        venue.stop("KILL");
        shared.port.store(0, Ordering::Release);
        drop(venue);
        venue = VenueProcess::start(&cfg, &data);
        shared.port.store(u32::from(venue.port), Ordering::Release);
        println!(
            "kill {} after {uptime:?} up; restarted at {:?}",
            kill + 1,
            started.elapsed()
        );
    }
    std::thread::sleep(Duration::from_millis(rng.between(UPTIME_MS)));
    shared
        .settle_deadline
        .set(Instant::now() + SETTLE_ALL)
        .expect("set once");
    shared.settle.store(true, Ordering::Release);
    println!("settling at {:?}", started.elapsed());
    let sessions: Vec<RecoveringSession> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    drop(venue);

    let mut violations: Vec<String> = sessions
        .iter()
        .flat_map(|s| s.violations.iter().cloned())
        .collect();
    violations.extend(check_across(&sessions));
    for s in &sessions {
        let orders = s.sent.values().filter(|m| m.msg_type == "D").count();
        let cancels = s.sent.values().filter(|m| m.msg_type == "F").count();
        let reports = s.received.values().filter(|m| m.msg_type() == "8").count();
        let fills = s
            .received
            .values()
            .filter(|m| m.get(150) == Some("F"))
            .count();
        println!(
            "{}: {orders} orders, {cancels} cancels, {reports} reports ({fills} fills), {} numbers out, {} in",
            s.sender(),
            s.next_out() - 1,
            s.next_in - 1
        );
    }
    println!("{KILLS} kills, {:?} in all", started.elapsed());
    assert!(
        sessions
            .iter()
            .all(|s| s.received.values().any(|m| m.get(150) == Some("F"))),
        "every session traded"
    );
    if !violations.is_empty() {
        for s in &sessions {
            let path =
                std::env::temp_dir().join(format!("crash_kill9-{seed}-{}.trace", s.sender()));
            std::fs::write(&path, s.trace.join("\n")).unwrap();
            eprintln!("{}'s trace: {}", s.sender(), path.display());
        }
        for v in violations.iter().take(12) {
            eprintln!("{v}\n");
        }
        panic!(
            "{} invariant violations (seed {seed}), the first above",
            violations.len()
        );
    }
}
