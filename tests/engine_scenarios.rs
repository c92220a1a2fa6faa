//! Golden scenarios: every `tests/scenarios/engine/*.scn` file is run through one check function. A file lists
//! commands (`> ...`) and the exact events each must yield (`< ...`). To accept a deliberate change of output, run
//! with `UPDATE_GOLDEN=1` and review the diff of the files before committing it.

use std::fs;
use std::path::{Path, PathBuf};

use engine::text::Scenario;

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/engine");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scn"))
        .collect();
    files.sort();
    files
}

/// Runs one scenario and compares its output with the file, line by line.
fn check(path: &Path) -> Result<(), String> {
    let expected =
        fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let scenario =
        Scenario::parse(&expected).map_err(|error| format!("{}: {error}", path.display()))?;
    let actual = scenario
        .run()
        .map_err(|error| format!("{}: {error}", path.display()))?;
    if actual == expected {
        return Ok(());
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, &actual).map_err(|error| format!("{}: {error}", path.display()))?;
        return Ok(());
    }
    let (expected_lines, actual_lines): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let at = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(e, a)| e != a)
        .unwrap_or(expected_lines.len().min(actual_lines.len()));
    Err(format!(
        "{}: first difference at line {}\n  expected: {}\n  actual:   {}",
        path.display(),
        at + 1,
        expected_lines.get(at).unwrap_or(&"<end of file>"),
        actual_lines.get(at).unwrap_or(&"<end of output>"),
    ))
}

#[test]
fn golden_scenarios() {
    let files = scenario_files();
    assert!(
        files.len() >= 13,
        "expected the scenario files, found {}",
        files.len()
    );
    let failures: Vec<String> = files.iter().filter_map(|path| check(path).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn a_wrong_expectation_fails() {
    let text = "instrument ZVZZT ref=100\n> new buy 10 limit 100\n< accepted order=1 instr=0 buy 11 limit 100\n";
    let scenario = Scenario::parse(text).expect("parses");
    assert_ne!(scenario.run().expect("runs"), text);
}
