//! `fixvenue-bench e2e` through the real binary: a tiny run (2 sessions, 200 orders) must end with one JSON line
//! on stdout that parses and says every order was answered, against a venue in the same process and against a
//! `fixvenue serve` child process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const ORDERS: u64 = 200;

/// A flat JSON object of numbers, booleans and null, as the bench prints it.
fn parse_flat_json(line: &str) -> BTreeMap<String, String> {
    let inner = line
        .trim()
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON object: {line}"));
    inner
        .split(',')
        .map(|pair| {
            let (key, value) = pair
                .split_once(':')
                .unwrap_or_else(|| panic!("not key:value: {pair}"));
            let key = key
                .strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .unwrap_or_else(|| panic!("unquoted key: {key}"));
            let value = value.to_string();
            let ok = value == "true"
                || value == "false"
                || value == "null"
                || value.parse::<f64>().is_ok();
            assert!(ok, "{key}: not a number, boolean or null: {value}");
            (key.to_string(), value)
        })
        .collect()
}

/// Runs the bench with `args` from the project root and checks its JSON line.
fn bench(args: &[&str]) -> BTreeMap<String, String> {
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
    let json = parse_flat_json(last);
    for key in [
        "orders",
        "duration_s",
        "orders_per_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
        "sessions",
        "tls",
        "rejects",
    ] {
        assert!(json.contains_key(key), "{key} missing from {last}");
    }
    assert_eq!(json["orders"], ORDERS.to_string());
    assert_eq!(json["sessions"], "2");
    assert_eq!(json["unanswered"], "0", "{stderr}");
    assert_eq!(json["rejects"], "0", "{stderr}");
    let p50: f64 = json["p50_us"].parse().unwrap();
    let max: f64 = json["max_us"].parse().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{last}");
    json
}

#[test]
fn an_in_process_run_answers_every_order_and_ends_with_its_json_line() {
    bench(&["--in-process"]);
    let open_loop = bench(&["--in-process", "--rate", "2000", "--warmup", "20"]);
    assert_eq!(open_loop["rate"], "2000");
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
    let (mut venue, port) = testkit::venue::start_venue(&cfg, &dir.join("data"));
    let port = port.to_string();
    let result = std::panic::catch_unwind(|| bench(&["--port", &port]));
    let _ = venue.kill();
    let _ = venue.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let json = result.expect("the bench against fixvenue serve");
    assert_eq!(json["tls"], "false");
}
