//! Runs every scenario in `conformance/` against the whole venue (session layer, gateway, sequencer, engine)
//! started in-process on an ephemeral port (one venue, with its own data directory, per scenario; scenarios run
//! concurrently).

use std::path::Path;

use conformance::{self, Target};
use tokio::sync::watch;

/// Scenarios (venues) running at the same time.
const SCENARIOS_AT_ONCE: usize = 12;

async fn run_one(scenario: conformance::Scenario) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let options = fixvenue::runtime::ServeOptions {
        sessions: vec!["conformance/venue.cfg".into()],
        venue: None,
        data_dir: dir.path().to_path_buf(),
    };
    let (tx, rx) = watch::channel(false);
    let running = fixvenue::runtime::start(&options, rx)
        .await
        .map_err(|e| e.to_string())?;
    let addr = running.addrs[0].addr;
    let target = Target::new("127.0.0.1", addr.port(), "CLIENT1", "FIXVENUE");
    let result = conformance::run(&scenario, &target).await;
    let _ = tx.send(true);
    running
        .done
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    result.map_err(|f| format!("{} ({}): {f}", scenario.name, scenario.title))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_venue() {
    let scenarios = conformance::load_dir(Path::new("conformance")).expect("scenarios parse");
    assert!(scenarios.len() >= 60, "{} scenarios", scenarios.len());
    // Each scenario runs a whole venue (threads, journal fdatasyncs); on two cores, too many at once delay the
    // venues' timers past what the timing scenarios allow.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(SCENARIOS_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for s in scenarios.clone() {
        let slots = std::sync::Arc::clone(&slots);
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore open");
            run_one(s).await
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.expect("scenario task") {
            failures.push(e);
        }
    }
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}

/// Against a target that has only the runner's own session (a TLS listener carrying TLSCLIENT1 alone, say), the
/// scenarios that log on as another CompID are skipped, with the reason, and the others pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_needing_sessions_the_target_lacks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("one.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nSocketAcceptAddress=127.0.0.1\n\
         SocketAcceptPort=0\nNonStopSession=Y\nLogonTimeout=2\nLogoutTimeout=1\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let options = fixvenue::runtime::ServeOptions {
        sessions: vec![cfg],
        venue: None,
        data_dir: dir.path().join("data"),
    };
    let (tx, rx) = watch::channel(false);
    let running = fixvenue::runtime::start(&options, rx).await.unwrap();
    let target = Target::new(
        "127.0.0.1",
        running.addrs[0].addr.port(),
        "CLIENT1",
        "FIXVENUE",
    );
    let scenarios: Vec<conformance::Scenario> = [
        "101_new_limit_rests",
        "103_cross_between_two_sessions",
        "135_bmr_marketdata_session",
    ]
    .iter()
    .map(|name| {
        conformance::load_file(&Path::new("conformance").join(format!("{name}.scn"))).unwrap()
    })
    .collect();
    let outcomes = conformance::run_all(&scenarios, &target, false).await;
    let _ = tx.send(true);
    running.done.await.unwrap().unwrap();
    let summary: Vec<(&str, bool, Option<&str>)> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.result.is_ok(), o.skipped.as_deref()))
        .collect();
    assert_eq!(
        summary[0],
        ("101_new_limit_rests", true, None),
        "{summary:?}"
    );
    assert!(
        summary[1].1 && summary[1].2.is_some_and(|why| why.contains("CLIENT2")),
        "{summary:?}"
    );
    assert!(
        summary[2].1 && summary[2].2.is_some_and(|why| why.contains("MDCLIENT1")),
        "{summary:?}"
    );
}

/// An order of CLIENT1 left resting by earlier use of the venue does not make the order-entry scenarios fail:
/// they cancel what their sessions left before they start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_do_not_assume_an_empty_book_for_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let options = fixvenue::runtime::ServeOptions {
        sessions: vec!["conformance/venue.cfg".into()],
        venue: None,
        data_dir: dir.path().to_path_buf(),
    };
    let (tx, rx) = watch::channel(false);
    let running = fixvenue::runtime::start(&options, rx).await.unwrap();
    let target = Target::new(
        "127.0.0.1",
        running.addrs[0].addr.port(),
        "CLIENT1",
        "FIXVENUE",
    );
    let leave_one = conformance::script::parse(
        "leave_one_resting",
        "# An order left resting\nreset-session\nconnect\nsend 35=A|98=0|108=30|\nexpect 35=A|\n\
         send 35=D|11={id}|55={symbol}|54=1|60={now}|38=1|40=2|44=1.23|59=1|\nexpect 35=8|150=0|\n\
         send 35=5|\nexpect 35=5|\nexpect-disconnect\n",
    )
    .unwrap();
    let mut scenarios = vec![leave_one];
    for name in [
        "101_new_limit_rests",
        "102_new_sell_rests_default_account",
        "134_mass_cancel_nothing_live",
    ] {
        scenarios.push(
            conformance::load_file(&Path::new("conformance").join(format!("{name}.scn"))).unwrap(),
        );
    }
    let outcomes = conformance::run_all(&scenarios, &target, false).await;
    let _ = tx.send(true);
    running.done.await.unwrap().unwrap();
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|f| format!("{}: {f}", o.name)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
