//! Runs every scenario in `conformance/` against the whole venue (session layer, gateway, sequencer, engine)
//! started in-process on an ephemeral port (one venue, with its own data directory, per scenario; scenarios run
//! concurrently). Every message a venue sends in them is also validated against QuickFIX's unmodified FIX44.xml
//! (`fix-spec/reference/`), as a client's engine with stock dictionaries and strict validation would.

use std::collections::BTreeSet;
use std::path::Path;

use conformance::{self, Target};
use tokio::sync::watch;

/// Scenarios (venues) running at the same time.
const SCENARIOS_AT_ONCE: usize = 12;

/// QuickFIX 1.15.1's own FIX44.xml, unmodified.
const STOCK_FIX44: &str = "fix-spec/reference/quickfix-FIX44.xml";
/// The one session of `conformance/venue.cfg` with VenueExtensions=Y: its messages are not standard FIX 4.4.
const EXTENSIONS_TARGET: &[u8] = b"\x0156=EXTCLIENT\x01";

/// Problems a client validating `received` with a stock FIX 4.4 dictionary (QuickFIX's defaults) would find.
fn stock_dictionary_problems(
    dict: &fix::Dictionary,
    scenario: &str,
    received: &[Vec<u8>],
    types: &mut BTreeSet<String>,
) -> Vec<String> {
    let mut decoder = fix::Decoder::new();
    let mut validator = fix::Validator::new(fix::ValidationOptions::default());
    let mut problems = Vec::new();
    for frame in received {
        if frame
            .windows(EXTENSIONS_TARGET.len())
            .any(|w| w == EXTENSIONS_TARGET)
        {
            continue;
        }
        let text = String::from_utf8_lossy(frame).replace('\x01', "|");
        let msg = match decoder.decode(dict, frame) {
            Ok(msg) => msg,
            Err(e) => {
                problems.push(format!("{scenario}: undecodable ({e}): {text}"));
                continue;
            }
        };
        types.insert(String::from_utf8_lossy(msg.msg_type()).into_owned());
        match validator.validate(dict, &msg) {
            Ok(_) => {}
            Err(fix::Invalid::Reject(r)) => problems.push(format!(
                "{scenario}: 373={} 371={}: {text}",
                String::from_utf8_lossy(fix::tags::FixEnum::to_fix(r.reason)),
                r.ref_tag.unwrap_or(0)
            )),
            Err(fix::Invalid::UnsupportedMsgType) => problems.push(format!(
                "{scenario}: message type not in the dictionary: {text}"
            )),
        }
    }
    problems
}

async fn run_one(scenario: conformance::Scenario) -> Result<Vec<Vec<u8>>, String> {
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
    let (result, received) = conformance::run_keeping(&scenario, &target).await;
    let _ = tx.send(true);
    running
        .done
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    result.map_err(|f| format!("{} ({}): {f}", scenario.name, scenario.title))?;
    Ok(received)
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
            let name = s.name.clone();
            (name, run_one(s).await)
        });
    }
    let stock = std::fs::read_to_string(STOCK_FIX44).expect("the stock dictionary is checked in");
    let stock = fix::Dictionary::from_xml(&stock).expect("QuickFIX's FIX44.xml loads");
    let mut failures = Vec::new();
    let mut types = BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        match r.expect("scenario task") {
            (name, Ok(received)) => failures.extend(stock_dictionary_problems(
                &stock, &name, &received, &mut types,
            )),
            (_, Err(e)) => failures.push(e),
        }
    }
    // The stock check must have seen what the venue sends: session messages, reports, rejects.
    for t in ["0", "1", "2", "3", "4", "5", "8", "9", "A", "j", "r"] {
        assert!(
            types.contains(t),
            "no 35={t} received in any scenario: {types:?}"
        );
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
