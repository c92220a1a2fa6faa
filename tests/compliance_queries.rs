//! The compliance queries against a real venue (the `fixvenue` binary with the bundled venue.toml): an order goes
//! through new, partial fill, replace and cancel; while the venue still runs, `fixvenue log` with each filter and
//! `fixvenue order ID` give exactly the expected messages, and the same after it is stopped. The stamps of the log
//! are the read and send times: the inbound and outbound Logon differ, inbound first, and each session's records
//! are in time order.

use std::path::Path;
use std::process::{Command, Output};

use testkit::Msg;
use testkit::blocking::{Fix, check_report};
use testkit::venue::VenueProcess;

const SESSIONS_CFG: &str = "\
[DEFAULT]
BeginString=FIX.4.4
SenderCompID=FIXVENUE
SocketAcceptAddress=127.0.0.1
SocketAcceptPort=0
NonStopSession=Y
LogonTimeout=5
LogoutTimeout=1
SessionRole=trading

[SESSION]
TargetCompID=CLIENT1

[SESSION]
TargetCompID=CLIENT2

[SESSION]
TargetCompID=CLIENT3
";

const CLIENT1: &str = "FIX.4.4:FIXVENUE->CLIENT1";
const CLIENT2: &str = "FIX.4.4:FIXVENUE->CLIENT2";
const CLIENT3: &str = "FIX.4.4:FIXVENUE->CLIENT3";

fn fixvenue(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run fixvenue")
}

#[track_caller]
fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// One line of `fixvenue log` (or a message line of `fixvenue order`): time, direction, session, MsgSeqNum and
/// the message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    time: String,
    direction: String,
    session: String,
    seq: u64,
    msg: String,
}

impl Line {
    fn parse(line: &str) -> Line {
        let mut parts = line.splitn(5, ' ');
        let mut next = || {
            parts
                .next()
                .unwrap_or_else(|| panic!("a short line: {line}"))
        };
        let (time, direction, session, seq, msg) = (next(), next(), next(), next(), next());
        assert!(time.ends_with('Z') && time.len() == 30, "{line}");
        Line {
            time: time.into(),
            direction: direction.into(),
            session: session.into(),
            seq: seq
                .parse()
                .unwrap_or_else(|_| panic!("MsgSeqNum in {line}")),
            msg: msg.into(),
        }
    }

    fn field(&self, tag: u32) -> Option<&str> {
        let key = format!("{tag}=");
        self.msg
            .split('|')
            .find_map(|field| field.strip_prefix(key.as_str()))
    }

    /// What identifies the message in these tests: direction, MsgType, ClOrdID, ExecType.
    fn key(&self) -> (String, String, String, String) {
        let get = |tag| self.field(tag).unwrap_or("").to_string();
        (self.direction.clone(), get(35), get(11), get(150))
    }
}

fn lines(text: &str) -> Vec<Line> {
    text.lines().map(Line::parse).collect()
}

fn key(
    direction: &str,
    msg_type: &str,
    cl_ord_id: &str,
    exec_type: &str,
) -> (String, String, String, String) {
    (
        direction.into(),
        msg_type.into(),
        cl_ord_id.into(),
        exec_type.into(),
    )
}

#[track_caller]
fn report(c: &mut Fix, spec: &str) -> Msg {
    let m = c.expect(&format!("35=8|{spec}"));
    check_report(&m);
    m
}

/// What the order's flow was: its OrderID and ClOrdIDs.
struct Flow {
    order_id: String,
    buy: String,
    sell: String,
    replace: String,
    cancel: String,
    /// The ExecIDs of the fill's reports: CLIENT1's (buy), CLIENT2's (sell).
    buy_exec_id: String,
    sell_exec_id: String,
}

/// CLIENT1 buys 10 at 50.25; CLIENT2 sells 4 into it (a partial fill); CLIENT1 replaces it to 8 at 50.20, then
/// cancels it.
fn trade(port: u16) -> Flow {
    let mut c1 = Fix::new("CLIENT1");
    c1.logon_reset(port);
    let mut c2 = Fix::new("CLIENT2");
    c2.logon_reset(port);
    let buy = c1.limit('1', "10", "50.25");
    let new = report(&mut c1, &format!("11={buy}|150=0|39=0"));
    let order_id = new.field(37).to_string();
    let sell = c2.limit('2', "4", "50.25");
    report(&mut c2, &format!("11={sell}|150=0"));
    let sell_fill = report(&mut c2, &format!("11={sell}|150=F|39=2"));
    let buy_fill = report(&mut c1, &format!("37={order_id}|11={buy}|150=F|39=1|32=4"));
    let replace = c1.replace(&buy, '1', "8", "50.20");
    report(
        &mut c1,
        &format!("37={order_id}|11={replace}|41={buy}|150=5"),
    );
    let cancel = c1.cancel(&replace, '1');
    report(
        &mut c1,
        &format!("37={order_id}|11={cancel}|41={replace}|150=4|39=4"),
    );
    c1.logout();
    c2.logout();
    pipelined_after_logon(port);
    Flow {
        order_id,
        buy,
        sell,
        replace,
        cancel,
        buy_exec_id: buy_fill.field(17).to_string(),
        sell_exec_id: sell_fill.field(17).to_string(),
    }
}

/// CLIENT3 sends its Logon and a TestRequest in one write: the venue answers the Logon (committed and sent)
/// before it handles the TestRequest, which must still be logged, with its read time, before that answer.
fn pipelined_after_logon(port: u16) {
    let mut c3 = Fix::new("CLIENT3");
    c3.connect(port);
    let mut both = bytes::BytesMut::new();
    let now = chrono::Utc::now();
    c3.client()
        .stamp
        .put_text(&mut both, "35=A|98=0|108=30|141=Y|", now);
    c3.client()
        .stamp
        .put_text(&mut both, "35=1|112=PIPELINED|", now);
    c3.write(&both);
    let heartbeat = loop {
        let m = c3
            .recv_raw(std::time::Duration::from_secs(10))
            .expect("the answers to the Logon and the TestRequest");
        if m.msg_type() == "0" && m.get(112) == Some("PIPELINED") {
            break m;
        }
    };
    c3.set_next_in(heartbeat.seq() + 1);
    c3.logout();
}

/// The queries of the test and what each printed.
fn queries(
    data: &Path,
    cfg: &Path,
    flow: &Flow,
    window: Option<(&str, &str)>,
) -> Vec<(String, String)> {
    let cfg = cfg.to_str().expect("a UTF-8 path");
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["log", "--clordid", &flow.buy],
        vec!["log", "--order-id", &flow.order_id],
        vec!["log", "--msg-type", "8", "--session", "CLIENT2"],
        vec!["order", &flow.order_id, "--sessions", cfg],
        vec!["trades", "--sessions", cfg],
        vec![
            "trades",
            "--sessions",
            cfg,
            "--format",
            "csv",
            "--symbol",
            "ZVZZT",
        ],
        vec!["trades", "--sessions", cfg, "--symbol", "ZXZZT"],
        vec!["trades", "--sessions", cfg, "--from-seq", "999999"],
    ];
    if let Some((from, to)) = window {
        runs.push(vec!["log", "--from", from, "--to", to]);
    }
    runs.into_iter()
        .map(|args| (args.join(" "), stdout(&fixvenue(&args, data))))
        .collect()
}

/// Checks each query's output against the flow; returns the outputs to compare with a later run.
fn check_queries(data: &Path, cfg: &Path, flow: &Flow) -> Vec<(String, String)> {
    let all = lines(&stdout(&fixvenue(&["log"], data)));
    // The window: from the partial fill's report to CLIENT1 (inclusive) to the replace's report (exclusive), the
    // --to given as a FIX UTCTimestamp.
    let fill = all
        .iter()
        .find(|l| l.session == CLIENT1 && l.field(150) == Some("F"))
        .expect("the fill's report");
    let replaced = all
        .iter()
        .find(|l| l.field(150) == Some("5"))
        .expect("the replace's report");
    let to_fix = format!(
        "{}{}{}-{}",
        &replaced.time[0..4],
        &replaced.time[5..7],
        &replaced.time[8..10],
        &replaced.time[11..29]
    );
    let outputs = queries(data, cfg, flow, Some((&fill.time, &to_fix)));
    let keys = |text: &str| lines(text).iter().map(Line::key).collect::<Vec<_>>();

    let (buy, replace, cancel) = (&flow.buy, &flow.replace, &flow.cancel);
    assert_eq!(
        keys(&outputs[0].1),
        vec![
            key("IN", "D", buy, ""),
            key("OUT", "8", buy, "0"),
            key("OUT", "8", buy, "F"),
            key("IN", "G", replace, ""),
            key("OUT", "8", replace, "5"),
        ],
        "{}:\n{}",
        outputs[0].0,
        outputs[0].1
    );
    assert_eq!(
        keys(&outputs[1].1),
        vec![
            key("OUT", "8", buy, "0"),
            key("OUT", "8", buy, "F"),
            key("OUT", "8", replace, "5"),
            key("OUT", "8", cancel, "4"),
        ],
        "{}:\n{}",
        outputs[1].0,
        outputs[1].1
    );
    assert!(
        lines(&outputs[1].1)
            .iter()
            .all(|l| l.field(37) == Some(flow.order_id.as_str()))
    );
    assert_eq!(
        keys(&outputs[2].1),
        vec![
            key("OUT", "8", &flow.sell, "0"),
            key("OUT", "8", &flow.sell, "F")
        ],
        "{}:\n{}",
        outputs[2].0,
        outputs[2].1
    );
    assert!(lines(&outputs[2].1).iter().all(|l| l.session == CLIENT2));

    // The order's story: its messages exactly, in time order, and the engine's side.
    let story = &outputs[3].1;
    let (engine, messages): (Vec<&str>, Vec<&str>) =
        story.lines().partition(|l| l.contains(" ENGINE "));
    let messages: Vec<Line> = messages.into_iter().map(Line::parse).collect();
    assert_eq!(
        messages.iter().map(Line::key).collect::<Vec<_>>(),
        vec![
            key("IN", "D", buy, ""),
            key("OUT", "8", buy, "0"),
            key("OUT", "8", buy, "F"),
            key("IN", "G", replace, ""),
            key("OUT", "8", replace, "5"),
            key("IN", "F", cancel, ""),
            key("OUT", "8", cancel, "4"),
        ],
        "{story}"
    );
    for (what, count) in [
        ("command New(", 2),
        ("event Accepted", 1),
        ("event Trade", 1),
        ("command Replace(", 1),
        ("event Replaced", 1),
        ("command Cancel", 1),
        ("event Canceled", 1),
    ] {
        assert_eq!(
            engine.iter().filter(|l| l.contains(what)).count(),
            count,
            "{what} in\n{story}"
        );
    }
    let times: Vec<&str> = story.lines().map(|l| &l[..30]).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "time order:\n{story}"
    );

    check_trades(flow, &outputs[4..8]);

    // --from/--to: exactly the messages of the full log stamped in the window.
    let window: Vec<&Line> = all
        .iter()
        .filter(|l| l.time >= fill.time && l.time < replaced.time)
        .collect();
    let got = lines(&outputs[8].1);
    assert_eq!(got.iter().collect::<Vec<_>>(), window, "{}", outputs[8].0);
    assert!(got.iter().any(|l| l.field(150) == Some("F")));
    assert!(!got.iter().any(|l| l.field(150) == Some("5")));
    outputs
}

/// `fixvenue trades`: the one trade, both sides with their ClOrdIDs and the ExecIDs of their fill reports; the
/// filters.
fn check_trades(flow: &Flow, outputs: &[(String, String)]) {
    let json = &outputs[0].1;
    assert_eq!(json.lines().count(), 1, "{json}");
    let trade: serde_json::Value = serde_json::from_str(json.trim_end()).expect("JSON");
    let order_id: u64 = flow.order_id.parse().expect("a numeric OrderID");
    assert_eq!(trade["symbol"], "ZVZZT");
    assert_eq!(trade["price"], "50.25");
    assert_eq!(trade["qty"], "4");
    assert_eq!(trade["aggressor"], "sell");
    assert_eq!(trade["buy"]["order_id"], order_id);
    assert_eq!(trade["buy"]["cl_ord_id"], flow.buy.as_str());
    assert_eq!(trade["buy"]["session"], CLIENT1);
    assert_eq!(trade["buy"]["exec_id"], flow.buy_exec_id.as_str());
    assert_eq!(trade["sell"]["cl_ord_id"], flow.sell.as_str());
    assert_eq!(trade["sell"]["session"], CLIENT2);
    assert_eq!(trade["sell"]["exec_id"], flow.sell_exec_id.as_str());
    assert_ne!(flow.buy_exec_id, flow.sell_exec_id);
    let csv: Vec<&str> = outputs[1].1.lines().collect();
    assert_eq!(csv.len(), 2, "{}", outputs[1].1);
    assert!(csv[0].contains("buy_exec_id") && csv[0].contains("sell_exec_id"));
    assert!(
        csv[1].contains(&format!(",{},{},", flow.buy, flow.buy_exec_id))
            && csv[1].ends_with(&format!(",{},{}", flow.sell, flow.sell_exec_id)),
        "{}",
        csv[1]
    );
    assert_eq!(outputs[2].1, "", "{}", outputs[2].0);
    assert_eq!(outputs[3].1, "", "{}", outputs[3].0);
}

/// Each session's records are in time order; the inbound and outbound Logon carry different stamps, the inbound
/// first (it was read before the answer was framed).
fn check_stamps(data: &Path) {
    let all = lines(&stdout(&fixvenue(&["log"], data)));
    for session in [CLIENT1, CLIENT2, CLIENT3] {
        let of: Vec<&Line> = all.iter().filter(|l| l.session == session).collect();
        assert!(
            of.windows(2).all(|w| w[0].time <= w[1].time),
            "{session}'s records out of time order: {of:#?}"
        );
        let logon = |direction: &str| {
            of.iter()
                .find(|l| l.direction == direction && l.field(35) == Some("A"))
                .unwrap_or_else(|| panic!("{session}'s {direction} Logon"))
                .time
                .clone()
        };
        let (inbound, outbound) = (logon("IN"), logon("OUT"));
        assert!(
            inbound < outbound,
            "{session}: Logon IN {inbound}, OUT {outbound}"
        );
    }
}

#[test]
fn queries_answer_while_the_venue_runs_and_the_same_after_it_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).expect("writes");
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);
    let flow = trade(venue.port);

    let running = check_queries(&data, &cfg, &flow);
    check_stamps(&data);
    let unknown = fixvenue(
        &["order", "999999", "--sessions", cfg.to_str().unwrap()],
        &data,
    );
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no order 999999"), "{stderr}");

    assert!(venue.stop("TERM").success());
    let stopped = check_queries(&data, &cfg, &flow);
    assert_eq!(running, stopped, "the same answers once the venue stopped");
    check_stamps(&data);
}
