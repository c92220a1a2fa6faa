//! The live page in a real headless browser (Debian's `chromium`): loaded while orders trade over FIX, its ladder
//! shows the resting orders' prices and its tape the trades, pushed over the WebSocket. A screenshot is kept as a
//! test artefact: `target/tmp/live-page.png`.
//!
//! `.ci/run` installs chromium and sets FIXVENUE_REQUIRE_OPS_TOOLS=1, which makes a missing browser a failure.
//! Elsewhere the test is skipped with a message on standard error when chromium is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use testkit::blocking::Fix;
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
";

/// The browser, or `None` (skip) when it is missing and not required.
fn browser() -> Option<PathBuf> {
    let required = std::env::var_os("FIXVENUE_REQUIRE_OPS_TOOLS").is_some_and(|v| v == "1");
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(PathBuf::from(name));
        }
    }
    assert!(
        !required,
        "chromium is required (FIXVENUE_REQUIRE_OPS_TOOLS=1) but not installed"
    );
    eprintln!(
        "\n*** SKIPPED: the live page test needs chromium (Debian's `chromium`); .ci/run installs it ***\n"
    );
    None
}

/// Runs headless chromium on `url` with these arguments, giving the page's scripts `budget_ms` to run.
fn chromium(browser: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=4000",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `<table id="...">` element of a dumped DOM.
fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id} in:\n{dom}"));
    let end = dom[start..].find("</table>").expect("the table ends") + start;
    &dom[start..end]
}

#[test]
fn the_page_shows_the_ladder_and_the_tape_while_orders_trade() {
    let Some(browser) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, SESSIONS_CFG).unwrap();
    let venue = VenueProcess::start(&cfg, &dir.path().join("data"));

    let mut c1 = Fix::new("CLIENT1");
    c1.logon_reset(venue.port);
    let mut c2 = Fix::new("CLIENT2");
    c2.logon_reset(venue.port);
    for (side, qty, price) in [
        ('1', "500", "100.00"),
        ('1', "7", "99.50"),
        ('2', "9", "101.25"),
    ] {
        let id = c1.limit(side, qty, price);
        c1.expect(&format!("35=8|11={id}|150=0"));
    }
    let first = c2.limit('2', "3", "100.00");
    c2.expect(&format!("35=8|11={first}|150=0"));
    c2.expect(&format!("35=8|11={first}|150=F|31=100"));

    // Orders keep trading while the page loads: CLIENT2 sells into the 100.00 bid.
    let trading = Arc::new(AtomicBool::new(true));
    let trader = {
        let trading = Arc::clone(&trading);
        std::thread::spawn(move || {
            let mut sent = 0;
            while trading.load(Ordering::Relaxed) && sent < 100 {
                let id = c2.limit('2', "1", "100.00");
                c2.expect(&format!("35=8|11={id}|150=0"));
                c2.expect(&format!("35=8|11={id}|150=F|31=100"));
                sent += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            sent
        })
    };
    let url = format!("http://127.0.0.1:{}/?symbol=ZVZZT", venue.admin_port);
    let dom = chromium(&browser, &url, &["--dump-dom"]);
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &browser,
        &url,
        &[
            "--window-size=1280,1000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    trading.store(false, Ordering::Relaxed);
    let sent = trader.join().expect("the trader");
    assert!(sent > 0);

    let ladder = table(&dom, "ladder");
    for price in ["100.00", "99.50", "101.25"] {
        assert!(
            ladder.contains(&format!(">{price}<")),
            "ladder lacks {price}:\n{ladder}"
        );
    }
    let tape = table(&dom, "tape");
    assert!(
        tape.contains(">100.00<") && tape.contains(">ZVZZT<"),
        "tape:\n{tape}"
    );
    assert!(
        dom.contains("id=\"conn\">live<"),
        "the WebSocket was not live:\n{dom}"
    );
    let sessions = table(&dom, "sessions");
    assert!(sessions.contains(">logged_on<"), "sessions:\n{sessions}");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "no screenshot at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}
