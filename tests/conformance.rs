//! Runs every scenario in `conformance/` against a venue started in-process on an ephemeral port (one venue,
//! with its own data directory, per scenario; scenarios run concurrently).

use std::path::Path;

use fixvenue::conformance::{self, Target};
use fixvenue::session::config;
use tokio::sync::watch;

async fn run_one(scenario: conformance::Scenario) -> Result<(), String> {
    let settings = config::load(Path::new("conformance/venue.cfg")).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = fixvenue::runtime::bind(&settings, dir.path())
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.local_addrs()[0].addr;
    let (tx, rx) = watch::channel(false);
    let venue = tokio::spawn(server.run(rx));
    let target = Target::new("127.0.0.1", addr.port(), "CLIENT1", "FIXVENUE");
    let result = conformance::run(&scenario, &target).await;
    let _ = tx.send(true);
    venue
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    result.map_err(|f| format!("{} ({}): {f}", scenario.name, scenario.title))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_venue() {
    let scenarios = conformance::load_dir(Path::new("conformance")).expect("scenarios parse");
    assert!(scenarios.len() >= 60, "{} scenarios", scenarios.len());
    let mut tasks = tokio::task::JoinSet::new();
    for s in scenarios.clone() {
        tasks.spawn(run_one(s));
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
