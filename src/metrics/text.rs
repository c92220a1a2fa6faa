//! The Prometheus text format (version 0.0.4) from prometheus-client's OpenMetrics output, for scrapers and tools
//! that ask for it (`promtool check metrics`, a plain `curl`). The two differ in three ways only: a counter's
//! HELP and TYPE name it with its `_total` suffix, there are no `# UNIT` lines, and no `# EOF` ends it.

/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Rewrites OpenMetrics text into the Prometheus text format.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            counters.insert(name.to_string());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) && !name.ends_with("_total") {
                out.push_str(&format!("{prefix}{name}_total {tail}\n"));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_and_unit_and_eof_lines_go() {
        let om = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total 3\n# HELP c_seconds Time.\n\
                  # TYPE c_seconds gauge\n# UNIT c_seconds seconds\nc_seconds 1.5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 3\n# HELP c_seconds Time.\n\
             # TYPE c_seconds gauge\nc_seconds 1.5\n"
        );
    }
}
