//! The operations files under `ops/`: every metric the Grafana dashboard queries is one the venue exports (read
//! from a live venue's `/metrics`), its panels use the provisioned data source, and the Prometheus scrape
//! configuration passes `promtool check config` (promtool is required under `.ci/run`, which sets
//! FIXVENUE_REQUIRE_OPS_TOOLS=1; elsewhere that one check is skipped with a message when promtool is missing).

use std::collections::BTreeSet;
use std::path::Path;

use testkit::venue::VenueProcess;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The metric names in a PromQL expression: identifiers of our namespaces, not followed by `(` (functions)
/// and not inside `{...}` or `[...]`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        if depth == 0 && (c.is_ascii_alphabetic() || c == b'_') {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
            {
                i += 1;
            }
            let word = &expr[start..i];
            if word.starts_with("fixvenue_") || word.starts_with("process_") {
                names.push(word.to_string());
            }
            continue;
        }
        i += 1;
    }
    names
}

/// The series names a scrape exports: each family's name from its TYPE line, with a histogram's three series.
fn exported(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name.to_string());
        }
    }
    names
}

fn every_expr(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => every_expr(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| every_expr(v, out)),
        _ => {}
    }
}

#[test]
fn metric_names_are_read_from_expressions() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.5, sum by (le) (rate(fixvenue_a_bucket{x=\"fixvenue_no\"}[1m])))"
        ),
        vec!["fixvenue_a_bucket"]
    );
    assert_eq!(
        metric_names("rate(fixvenue_b_sum[1m]) / rate(process_c[1m])"),
        vec!["fixvenue_b_sum", "process_c"]
    );
}

#[test]
fn every_metric_the_dashboard_queries_is_exported() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(REPO).join("ops/grafana/dashboards/fixvenue.json"))
            .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    every_expr(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{} queries", exprs.len());

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nSocketAcceptAddress=127.0.0.1\n\
         SocketAcceptPort=0\nNonStopSession=Y\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let venue = VenueProcess::start(&cfg, &dir.path().join("data"));
    let scrape = testkit::http::get(venue.admin_port, "/metrics").unwrap();
    assert_eq!(scrape.status, 200);
    let exported = exported(&scrape.body);

    let mut missing = Vec::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "a query of no venue metric: {expr}");
        missing.extend(
            names
                .into_iter()
                .filter(|n| !exported.contains(n))
                .map(|n| format!("{n} (in {expr})")),
        );
    }
    assert!(
        missing.is_empty(),
        "queried but not exported:\n{}\nexported: {exported:?}",
        missing.join("\n")
    );

    // Every panel reads the provisioned data source.
    let provisioned = std::fs::read_to_string(
        Path::new(REPO).join("ops/grafana/provisioning/datasources/prometheus.yml"),
    )
    .unwrap();
    let uid = provisioned
        .lines()
        .find_map(|l| l.trim().strip_prefix("uid: "))
        .expect("the data source has a uid");
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], uid, "{}", panel["title"]);
        }
    }
}

#[test]
fn the_prometheus_scrape_configuration_passes_promtool() {
    let required = std::env::var_os("FIXVENUE_REQUIRE_OPS_TOOLS").is_some_and(|v| v == "1");
    let path = Path::new(REPO).join("ops/prometheus/prometheus.yml");
    let out = match std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) if !required => {
            eprintln!("\n*** SKIPPED: promtool check config (promtool not runnable: {e}) ***\n");
            return;
        }
        Err(e) => panic!("promtool is required (FIXVENUE_REQUIRE_OPS_TOOLS=1) but cannot run: {e}"),
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
