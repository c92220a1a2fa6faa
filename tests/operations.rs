//! Operations end to end: the real `fixvenue` binary with its admin server on a free loopback port, driven by FIX
//! clients over loopback and by HTTP: metrics move by exactly the orders sent (and `promtool check metrics`
//! accepts them), every admin action has its effect on the FIX sessions, and a wrong or missing token is refused.
//!
//! promtool (Debian's `prometheus`) is installed by `.ci/run`, which sets FIXVENUE_REQUIRE_OPS_TOOLS=1: then a
//! missing promtool fails the test. Elsewhere the promtool check is skipped with a message on standard error.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::Msg;
use testkit::blocking::Fix;
use testkit::http::{self, Response, sample};
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

const TOKEN: &str = "test-token-0123456789abcdef";
const CLIENT1: &str = "FIX.4.4:FIXVENUE->CLIENT1";
const CLIENT2: &str = "FIX.4.4:FIXVENUE->CLIENT2";

struct Venue {
    _dir: tempfile::TempDir,
    process: VenueProcess,
}

impl Venue {
    /// The venue with the bundled venue.toml, its admin token file set.
    fn start() -> Venue {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("sessions.cfg");
        std::fs::write(&cfg, SESSIONS_CFG).unwrap();
        let token = dir.path().join("admin.token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let bundled =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("venue.toml"))
                .unwrap();
        let venue_toml = bundled.replace(
            "# token_file = \"admin.token\"",
            &format!("token_file = {:?}", token.display().to_string()),
        );
        assert_ne!(
            venue_toml, bundled,
            "the bundled venue.toml has the token_file line"
        );
        let venue = dir.path().join("venue.toml");
        std::fs::write(&venue, venue_toml).unwrap();
        let process = VenueProcess::start_with(
            &cfg,
            &dir.path().join("data"),
            &[OsStr::new("--venue"), venue.as_os_str()],
        );
        Venue { _dir: dir, process }
    }

    fn client(&self, name: &str) -> Fix {
        let mut c = Fix::new(name);
        c.logon_reset(self.process.port);
        c
    }

    fn get(&self, path: &str) -> Response {
        http::get(self.process.admin_port, path).unwrap()
    }

    fn metrics(&self) -> String {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// An action with the right token; it must succeed.
    #[track_caller]
    fn act(&self, path: &str) -> serde_json::Value {
        let r = self.post(path, Some(TOKEN));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["ok"], true, "{path}: {}", r.body);
        v
    }

    fn post(&self, path: &str, token: Option<&str>) -> Response {
        let auth = token.map(|t| format!("Authorization: Bearer {t}"));
        let headers: Vec<&str> = auth.iter().map(String::as_str).collect();
        http::request(self.process.admin_port, "POST", path, &headers).unwrap()
    }

    fn instrument_status(&self, symbol: &str) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&self.get("/api/instruments").body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|i| i["symbol"] == symbol)
            .map(|i| i["status"].as_str().unwrap().to_string())
            .unwrap()
    }
}

#[track_caller]
fn report(c: &mut Fix, spec: &str) -> Msg {
    c.expect(&format!("35=8|{spec}"))
}

/// A counter's value; absent (never moved) is 0.
fn counter(metrics: &str, name: &str, labels: &str) -> f64 {
    sample(metrics, name, labels).unwrap_or(0.0)
}

fn session_label(session: &str) -> String {
    format!("session=\"{session}\"")
}

/// Waits until `cond` holds on a fresh scrape (the metrics of a report are counted as it is handed to the socket,
/// a moment after the client may have read it).
#[track_caller]
fn scrape_until(venue: &Venue, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = venue.metrics();
        if cond(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never held:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn promtool_check(metrics: &str) {
    use std::io::Write;
    let required = std::env::var_os("FIXVENUE_REQUIRE_OPS_TOOLS").is_some_and(|v| v == "1");
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if !required => {
            eprintln!(
                "\n*** SKIPPED: promtool check metrics (promtool not runnable: {e}); install Debian's `prometheus` \
                 or run under .ci/run, which requires it ***\n"
            );
            return;
        }
        Err(e) => panic!("promtool is required (FIXVENUE_REQUIRE_OPS_TOOLS=1) but cannot run: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_move_by_exactly_the_orders_sent_and_pass_promtool() {
    let venue = Venue::start();
    assert_eq!(venue.get("/health").status, 200);
    let ready = venue.get("/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let before = venue.metrics();
    let (s1, s2) = (session_label(CLIENT1), session_label(CLIENT2));
    assert_eq!(counter(&before, "fixvenue_orders_received_total", &s1), 0.0);
    assert_eq!(
        counter(&before, "fixvenue_trades_total", "symbol=\"ZVZZT\""),
        0.0
    );

    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let b1 = c1.limit('1', "10", "100.00");
    report(&mut c1, &format!("11={b1}|150=0"));
    let b2 = c1.limit('1', "10", "99.00");
    report(&mut c1, &format!("11={b2}|150=0"));
    let sell = c2.limit('2', "4", "100.00");
    report(&mut c2, &format!("11={sell}|150=0"));
    report(&mut c2, &format!("11={sell}|150=F|32=4|31=100"));
    report(&mut c1, &format!("11={b1}|150=F|32=4"));
    // Off the tick: refused by the gateway with OrdRejReason 99... or the code the report carries.
    let off = c1.limit('1', "1", "5.015");
    let refused = report(&mut c1, &format!("11={off}|150=8"));
    let code = refused.field(103).to_string();

    let after = scrape_until(&venue, "six reports counted", |m| {
        counter(
            m,
            "fixvenue_messages_sent_total",
            &format!("{s1},msg_type=\"8\""),
        ) + counter(
            m,
            "fixvenue_messages_sent_total",
            &format!("{s2},msg_type=\"8\""),
        ) == 6.0
    });
    assert_eq!(counter(&after, "fixvenue_orders_received_total", &s1), 3.0);
    assert_eq!(counter(&after, "fixvenue_orders_received_total", &s2), 1.0);
    assert_eq!(
        counter(
            &after,
            "fixvenue_messages_received_total",
            &format!("{s1},msg_type=\"D\"")
        ),
        3.0
    );
    assert_eq!(
        counter(&after, "fixvenue_trades_total", "symbol=\"ZVZZT\""),
        1.0
    );
    assert_eq!(
        counter(&after, "fixvenue_traded_quantity_total", "symbol=\"ZVZZT\""),
        4.0
    );
    assert_eq!(
        counter(
            &after,
            "fixvenue_rejects_total",
            &format!("tag=\"103\",code=\"{code}\"")
        ),
        1.0
    );
    // Four orders, each timed from its read to its first report.
    assert_eq!(
        counter(&after, "fixvenue_ack_latency_seconds_count", ""),
        4.0
    );
    assert_eq!(
        sample(&after, "fixvenue_best_bid_price", "symbol=\"ZVZZT\""),
        Some(100.0)
    );
    assert_eq!(
        sample(
            &after,
            "fixvenue_book_levels",
            "symbol=\"ZVZZT\",side=\"bid\""
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &after,
            "fixvenue_book_quantity",
            "symbol=\"ZVZZT\",side=\"bid\""
        ),
        Some(16.0)
    );
    assert_eq!(sample(&after, "fixvenue_sessions_logged_on", ""), Some(2.0));
    assert!(counter(&after, "fixvenue_journal_commit_seconds_count", "") >= 1.0);
    assert!(counter(&after, "fixvenue_session_log_commit_seconds_count", "") >= 1.0);
    assert!(counter(&after, "fixvenue_session_log_commit_records_count", "") >= 1.0);
    assert!(sample(&after, "process_resident_memory_bytes", "").unwrap() > 0.0);
    promtool_check(&after);

    // The JSON API agrees.
    let sessions: serde_json::Value =
        serde_json::from_str(&venue.get("/api/sessions").body).unwrap();
    let one = &sessions.as_array().unwrap()[0];
    assert_eq!(one["id"], CLIENT1);
    assert_eq!(one["state"], "logged_on");
    assert!(
        one["remote_address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{one}"
    );
    let orders: serde_json::Value =
        serde_json::from_str(&venue.get("/api/accounts/CLIENT1/orders").body).unwrap();
    let open: Vec<(String, String)> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["cl_ord_id"].as_str().unwrap().into(),
                o["leaves_qty"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(open, vec![(b1, "6".to_string()), (b2, "10".to_string())]);
    let instruments: serde_json::Value =
        serde_json::from_str(&venue.get("/api/instruments").body).unwrap();
    let zvzzt = &instruments[0];
    assert_eq!(zvzzt["best_bid"]["price"], "100.00", "{zvzzt}");
    assert_eq!(zvzzt["last_trade"]["qty"], "4", "{zvzzt}");
}

#[test]
fn halt_refuses_new_orders_until_resumed_and_cancel_only_keeps_cancels() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let resting = c1.limit('1', "5", "90.00");
    report(&mut c1, &format!("11={resting}|150=0"));

    let done = venue.act("/api/instruments/ZVZZT/halt");
    assert!(done["seq"].as_u64().is_some(), "{done}");
    assert_eq!(venue.instrument_status("ZVZZT"), "halted");
    let refused = c1.limit('1', "5", "91.00");
    report(
        &mut c1,
        &format!("11={refused}|150=8|39=8|103=2|58=instrument halted"),
    );
    // Other instruments trade on.
    let other = c1.new_order("55=ZXZZT|54=1|38=1|40=2|44=50.00|59=1|");
    report(&mut c1, &format!("11={other}|150=0"));

    venue.act("/api/instruments/ZVZZT/resume");
    let accepted = c1.limit('1', "5", "91.00");
    report(&mut c1, &format!("11={accepted}|150=0"));

    venue.act("/api/instruments/ZVZZT/cancel-only");
    let refused = c1.limit('1', "5", "92.00");
    report(
        &mut c1,
        &format!("11={refused}|150=8|103=2|58=instrument is cancel-only"),
    );
    let cancel = c1.cancel(&resting, '1');
    report(&mut c1, &format!("11={cancel}|150=4|41={resting}"));

    venue.act("/api/instruments/ZVZZT/mass-cancel");
    report(&mut c1, &format!("11={accepted}|150=4"));
    c1.expect_nothing(300);
    assert_eq!(venue.instrument_status("ZVZZT"), "cancel_only");
}

#[test]
fn kill_switch_cancels_and_refuses_until_released() {
    let venue = Venue::start();
    let mut c1 = venue.client("CLIENT1");
    let mut c2 = venue.client("CLIENT2");
    let a = c1.limit('1', "5", "80.00");
    report(&mut c1, &format!("11={a}|150=0"));
    let b = c2.limit('2', "5", "120.00");
    report(&mut c2, &format!("11={b}|150=0"));

    // Account CLIENT1 (the session's default account).
    let done = venue.act("/api/accounts/CLIENT1/kill");
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .contains("kill switch engaged"),
        "{done}"
    );
    report(&mut c1, &format!("11={a}|150=4|39=4"));
    let refused = c1.limit('1', "5", "81.00");
    let m = report(&mut c1, &format!("11={refused}|150=8|39=8"));
    assert!(m.field(58).contains("kill switch"), "{}", m.text());
    // Another account's orders are untouched.
    c2.expect_nothing(200);
    venue.act("/api/accounts/CLIENT1/release");
    let again = c1.limit('1', "5", "81.00");
    report(&mut c1, &format!("11={again}|150=0"));

    // Session CLIENT2, named by its client CompID.
    venue.act("/api/sessions/CLIENT2/kill");
    report(&mut c2, &format!("11={b}|150=4"));
    let refused = c2.limit('2', "5", "121.00");
    let m = report(&mut c2, &format!("11={refused}|150=8"));
    assert!(
        m.field(58).contains("kill switch engaged for this session"),
        "{}",
        m.text()
    );
    venue.act("/api/sessions/FIX.4.4:FIXVENUE-%3ECLIENT2/release");
    let again = c2.limit('2', "5", "121.00");
    report(&mut c2, &format!("11={again}|150=0"));

    // Unknown targets are refused with a reason, not ignored.
    let r = venue.post("/api/accounts/NOBODY/kill", Some(TOKEN));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("unknown account NOBODY"), "{}", r.body);
    let r = venue.post("/api/instruments/NOPE/halt", Some(TOKEN));
    assert!(
        r.status == 404 && r.body.contains("unknown symbol NOPE"),
        "{}",
        r.body
    );
    let r = venue.post("/api/instruments/ZVZZT/explode", Some(TOKEN));
    assert!(
        r.status == 404 && r.body.contains("unknown action"),
        "{}",
        r.body
    );
}

#[test]
fn logout_action_logs_the_session_out_and_bad_tokens_are_refused() {
    let venue = Venue::start();
    let mut c3 = venue.client("CLIENT3");
    for token in [None, Some("wrong-token-0123456789abcdef"), Some("")] {
        let r = venue.post("/api/sessions/CLIENT3/logout", token);
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        let r = venue.post("/api/instruments/ZVZZT/halt", token);
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
    }
    assert_eq!(venue.instrument_status("ZVZZT"), "open");
    c3.expect_nothing(200);

    venue.act("/api/sessions/CLIENT3/logout");
    let logout = c3.expect("35=5");
    assert_eq!(logout.field(58), "Logged out by the venue operator");
    // The Logout that answers the venue's: the venue closes the connection.
    c3.send("35=5|");
    let (closed, _) = c3.closed_within(Duration::from_secs(10));
    assert!(closed, "the venue closes after the Logout exchange");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: serde_json::Value = serde_json::from_str(&venue.get("/api/sessions").body).unwrap();
        if v[2]["state"] == "disconnected" {
            break;
        }
        assert!(Instant::now() < deadline, "CLIENT3 still {}", v[2]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = venue.post("/api/sessions/CLIENT3/logout", Some(TOKEN));
    assert!(
        r.status == 404 && r.body.contains("not connected"),
        "{}",
        r.body
    );
}

#[test]
fn json_logs_go_to_a_daily_file_with_the_start_up_banner() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let logs = dir.path().join("logs");
    let venue = VenueProcess::start_with(
        &cfg,
        &dir.path().join("data"),
        &[
            OsStr::new("--log-format"),
            OsStr::new("json"),
            OsStr::new("--log-dir"),
            logs.as_os_str(),
        ],
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = logs.join(format!("fixvenue.log.{today}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let messages = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let messages: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
                assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
                v["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        if messages.iter().any(|m| m.starts_with("admin server on")) {
            break messages;
        }
        assert!(
            Instant::now() < deadline,
            "no banner in {}: {text}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for expected in [
        "fixvenue 0.1.0 started",
        "listening on 127.0.0.1:",
        "sessions: FIX.4.4:FIXVENUE->CLIENT1, FIX.4.4:FIXVENUE->CLIENT2, FIX.4.4:FIXVENUE->CLIENT3",
        "data directory",
        &format!("admin server on http://127.0.0.1:{}/", venue.admin_port),
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "no {expected:?} in {messages:#?}"
        );
    }
}
