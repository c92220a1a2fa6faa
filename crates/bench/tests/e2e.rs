//! `fixvenue-bench e2e` through the real binary: a tiny run (2 sessions, 200 orders) must end with one JSON line
//! on stdout that parses and says every order was answered, against a venue in the same process and against a
//! `fixvenue serve` child process.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

const ORDERS: u64 = 200;

/// The keys of the JSON line and the type of each value.
const KEYS: [(&str, Kind); 16] = [
    ("orders", Kind::Integer),
    ("duration_s", Kind::Number),
    ("orders_per_s", Kind::Number),
    ("p50_us", Kind::Number),
    ("p99_us", Kind::Number),
    ("p999_us", Kind::Number),
    ("max_us", Kind::Number),
    ("sessions", Kind::Integer),
    ("slow_sessions", Kind::Integer),
    ("drop_copy", Kind::Bool),
    ("tls", Kind::Bool),
    ("rejects", Kind::Integer),
    ("cancel_rejects", Kind::Integer),
    ("unanswered", Kind::Integer),
    ("warmup", Kind::Integer),
    ("rate", Kind::NumberOrNull),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Integer,
    Number,
    Bool,
    NumberOrNull,
}

impl Kind {
    fn holds(self, v: &Value) -> bool {
        match self {
            Kind::Integer => v.is_u64(),
            Kind::Number => v.is_number(),
            Kind::Bool => v.is_boolean(),
            Kind::NumberOrNull => v.is_number() || v.is_null(),
        }
    }
}

/// Runs the bench with `args` from the project root and checks its JSON line.
fn bench(args: &[&str]) -> Map<String, Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_fixvenue-bench"))
        .current_dir(root)
        .args(["e2e", "--sessions", "2", "--orders"])
        .arg(ORDERS.to_string())
        // The first 3,000 operations of ../shared/corpus/book_ops_1m.csv, so the test needs nothing outside the
        // repository.
        .args(["--corpus", "tests/data/book_ops_3k.csv"])
        .args(args)
        .output()
        .expect("run fixvenue-bench e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench failed: {stderr}\nstdout: {stdout}"
    );
    let last = stdout.lines().last().expect("a JSON line on stdout");
    assert!(stdout.ends_with("}\n"), "nothing may follow the JSON line");
    assert!(
        stderr.contains("bench e2e:"),
        "no summary on stderr: {stderr}"
    );
    let json: Map<String, Value> =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not a JSON object ({e}): {last}"));
    assert_eq!(json.len(), KEYS.len(), "{last}");
    for (key, kind) in KEYS {
        let value = json
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from {last}"));
        assert!(kind.holds(value), "{key}: {value} is not {kind:?}");
    }
    assert_eq!(json["orders"], ORDERS);
    assert_eq!(json["sessions"], 2);
    assert_eq!(json["unanswered"], 0, "{stderr}");
    assert_eq!(json["rejects"], 0, "{stderr}");
    let p50 = json["p50_us"].as_f64().unwrap();
    let max = json["max_us"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{last}");
    json
}

#[test]
fn an_in_process_run_answers_every_order_and_ends_with_its_json_line() {
    bench(&["--in-process"]);
    let open_loop = bench(&["--in-process", "--rate", "2000", "--warmup", "20"]);
    assert_eq!(open_loop["rate"].as_f64(), Some(2000.0));
    // A session that sends and never reads does not keep the others from their answers (the run fails on any
    // order unanswered).
    let with_slow = bench(&["--in-process", "--rate", "2000", "--slow-sessions", "1"]);
    assert_eq!(with_slow["slow_sessions"], 1);
    // A venue-wide drop copy logged on and reading.
    let with_drop_copy = bench(&["--in-process", "--rate", "2000", "--drop-copy"]);
    assert_eq!(with_drop_copy["drop_copy"], true);
}

#[test]
fn a_run_against_fixvenue_serve_answers_every_order() {
    let dir = std::env::temp_dir().join(format!("fixvenue-bench-e2e-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bench.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nSocketAcceptAddress=127.0.0.1\n\
         SocketAcceptPort=0\nNonStopSession=Y\n[SESSION]\nTargetCompID=BENCH1\n[SESSION]\nTargetCompID=BENCH2\n",
    )
    .unwrap();
    let venue = testkit::venue::VenueProcess::start(&cfg, &dir.join("data"));
    let port = venue.port.to_string();
    let result = std::panic::catch_unwind(|| bench(&["--port", &port]));
    drop(venue);
    let _ = std::fs::remove_dir_all(&dir);
    let json = result.expect("the bench against fixvenue serve");
    assert_eq!(json["tls"], false);
}
