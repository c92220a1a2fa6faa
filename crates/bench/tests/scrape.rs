//! `fixvenue-bench scrape` on a small venue: it runs, scrapes what the active sessions did, and reports one JSON
//! line. (The figures themselves belong in BENCHMARKS.md, not in a timed test.)

use std::process::Command;

#[test]
fn scrape_reports_its_figures() {
    let out = Command::new(env!("CARGO_BIN_EXE_fixvenue-bench"))
        .args([
            "scrape",
            "--sessions",
            "50",
            "--active",
            "2",
            "--orders",
            "3",
            "--scrapes",
            "3",
        ])
        .output()
        .expect("run fixvenue-bench scrape");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["sessions"], 50);
    assert_eq!(json["scrapes"], 3);
    for key in ["p50_us", "p99_us", "max_us", "bytes", "samples"] {
        assert!(json[key].as_u64().is_some_and(|v| v > 0), "{key}: {json}");
    }
    assert!(
        stderr.contains("scrape: 50 sessions configured"),
        "{stderr}"
    );
}
