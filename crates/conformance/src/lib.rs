//! The conformance suite's runner: plays scenario files ([`script`]) against any FIX 4.4 acceptor over TCP or
//! TLS, as a scripted client.
//!
//! One runner, used two ways: `cargo test` (tests/conformance.rs) runs every scenario in `conformance/`
//! against a venue started in-process on an ephemeral port, and `fixvenue conformance --host H --port P ...`
//! runs them against any acceptor, printing one line per scenario and `N passed, N failed` last.

mod runner;
pub mod script;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;

use runner::Runner;
pub use script::{Matcher, Scenario, ScriptError, SendMode, Step};
pub use testkit::stream::CONNECT_TIMEOUT;
pub use testkit::tls::ClientTls;

/// How long an `expect` waits.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an `expect-disconnect` waits: longer than QuickFIX's default LogonTimeout (10 s).
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Logons a `reset-session` tries while the acceptor refuses the session (still held by a closed connection).
pub const RESET_ATTEMPTS_MAX: u32 = 10;
/// The pause between those attempts.
pub const RESET_RETRY_WAIT: Duration = Duration::from_millis(300);
/// Messages [`run_keeping`] keeps of one scenario, at most.
pub const RECEIVED_KEPT_MAX: usize = 10_000;
/// Messages one `drain` step discards, at most.
pub const DRAIN_MESSAGES_MAX: usize = 10_000;

/// Scenario files read from one directory, at most.
pub const SCENARIOS_MAX: usize = 10_000;
/// Largest scenario file.
pub const SCENARIO_BYTES_MAX: u64 = 256 * 1024;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// TLS with these trust roots (PEM), and optionally a client certificate and key.
    pub tls: Option<ClientTls>,
    /// Our CompID (SenderCompID on what we send).
    pub client_comp_id: String,
    /// The acceptor's CompID.
    pub venue_comp_id: String,
    /// A second trading CompID (`{client2}`), for scenarios with two sessions.
    pub client2_comp_id: String,
    /// The instrument order-entry scenarios trade (`{symbol}`).
    pub symbol: String,
    /// The acceptor has ResetOnLogon=Y: every `connect` starts the CompID's numbers from 1 again, as a client
    /// with ResetOnLogon=Y does.
    pub reset_on_logon: bool,
}

/// `--sender-comp-id2` by default.
pub const CLIENT2_COMP_ID_DEFAULT: &str = "CLIENT2";
/// `--symbol` by default: the industry's test symbol.
pub const SYMBOL_DEFAULT: &str = "ZVZZT";
/// Most `{id}` placeholders one scenario may use.
pub const IDS_MAX: usize = 10_000;
/// Most captured variables one scenario may hold.
pub const VARIABLES_MAX: usize = 1_000;
/// Longest captured value.
pub const VARIABLE_BYTES_MAX: usize = 1_024;

impl Target {
    /// Where to connect.
    pub fn endpoint(&self) -> testkit::Endpoint {
        testkit::Endpoint {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls.clone(),
        }
    }

    /// A plain-TCP target with the default second CompID and test symbol.
    pub fn new(host: &str, port: u16, client_comp_id: &str, venue_comp_id: &str) -> Self {
        Self {
            host: host.to_string(),
            port,
            tls: None,
            client_comp_id: client_comp_id.to_string(),
            venue_comp_id: venue_comp_id.to_string(),
            client2_comp_id: CLIENT2_COMP_ID_DEFAULT.to_string(),
            symbol: SYMBOL_DEFAULT.to_string(),
            reset_on_logon: false,
        }
    }
}

/// Why a scenario failed, at which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Failure {
    pub line: usize,
    pub message: String,
}

/// Reads every `*.scn` in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScriptError> {
    let io_err = |e: std::io::Error| ScriptError {
        name: dir.display().to_string(),
        line: 0,
        message: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .take(SCENARIOS_MAX)
        .collect();
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// Reads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScriptError> {
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let io_err = |message: String| ScriptError {
        name: path.display().to_string(),
        line: 0,
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| io_err(e.to_string()))?
        .len();
    if len > SCENARIO_BYTES_MAX {
        return Err(io_err(format!("larger than {SCENARIO_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| io_err(e.to_string()))?;
    script::parse(&name, &text)
}

/// Runs one scenario.
pub async fn run(scenario: &Scenario, target: &Target) -> Result<(), Failure> {
    let mut runner = Runner::new(target);
    play(&mut runner, scenario).await
}

/// Runs one scenario and also returns every message the acceptor sent in it, in order (the first
/// [`RECEIVED_KEPT_MAX`]), for checks across scenarios such as validating them against a stock dictionary.
pub async fn run_keeping(
    scenario: &Scenario,
    target: &Target,
) -> (Result<(), Failure>, Vec<Vec<u8>>) {
    let mut runner = Runner::new(target);
    runner.received = Some(Vec::new());
    let result = play(&mut runner, scenario).await;
    (result, runner.received.take().unwrap_or_default())
}

async fn play(runner: &mut Runner<'_>, scenario: &Scenario) -> Result<(), Failure> {
    for (line, step) in &scenario.steps {
        runner.line = *line;
        runner.step(step).await?;
    }
    Ok(())
}

/// Whether all of `value` matches `pattern`: `?` any one byte, `*` any run of bytes.
fn glob(pattern: &[u8], value: &[u8]) -> bool {
    // Iterative matching with one backtrack point: linear in practice, never recursive.
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, v));
            p += 1;
        } else if let Some((sp, sv)) = star {
            p = sp + 1;
            v = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// An identifier no other run or scenario makes: the process's start time and id, then a counter.
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let ms = Utc::now().timestamp_millis().unsigned_abs();
        format!("{}{}", base36(ms), base36(u64::from(std::process::id())))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}", base36(n))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub title: String,
    /// `Ok` for a scenario passed or skipped.
    pub result: Result<(), Failure>,
    /// Why the scenario was not run: the target has no session for a CompID it logs on as.
    pub skipped: Option<String>,
}

/// Runs `scenarios` one after the other against `target`, printing a line for each when `print` is set. A
/// scenario that logs on as another CompID than the target's own (`{client2}`, `MDCLIENT1`) is skipped, with a
/// line saying so, when the target refuses a Logon as that CompID (a TLS listener that carries only TLSCLIENT1,
/// say); each such CompID is tried once.
pub async fn run_all(scenarios: &[Scenario], target: &Target, print: bool) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut sessions: Vec<(String, bool)> = Vec::new();
    for s in scenarios {
        let mut skipped = None;
        for identity in other_identities(s) {
            let known = match sessions.iter().find(|(i, _)| *i == identity) {
                Some(&(_, known)) => known,
                None => {
                    let known = has_session(&identity, target).await;
                    sessions.push((identity.clone(), known));
                    known
                }
            };
            if !known {
                let comp_id = match identity.as_str() {
                    "{client2}" => &target.client2_comp_id,
                    other => other,
                };
                skipped = Some(format!(
                    "the target has no session for {comp_id} (a Logon as it is refused)"
                ));
                break;
            }
        }
        let result = match skipped {
            Some(_) => Ok(()),
            None => run(s, target).await,
        };
        if print {
            match (&result, &skipped) {
                (_, Some(why)) => println!("SKIP {} - {}: {why}", s.name, s.title),
                (Ok(()), None) => println!("PASS {} - {}", s.name, s.title),
                (Err(f), None) => println!("FAIL {} - {}: {f}", s.name, s.title),
            }
        }
        out.push(Outcome {
            name: s.name.clone(),
            title: s.title.clone(),
            result,
            skipped,
        });
    }
    let skipped = out.iter().filter(|o| o.skipped.is_some()).count();
    let failed = out.iter().filter(|o| o.result.is_err()).count();
    if print {
        println!(
            "{} passed, {failed} failed, {skipped} skipped",
            out.len() - failed - skipped
        );
    }
    out
}

/// The `connect`/`reset-session` arguments of a scenario that name another CompID than the target's own, once
/// each.
fn other_identities(s: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, step) in &s.steps {
        if let Step::ResetSession(Some(identity)) | Step::Connect(Some(identity)) = step
            && identity != "{client}"
            && !out.contains(identity)
        {
            out.push(identity.clone());
        }
    }
    out
}

/// Whether the target has a session for `identity`: a `reset-session` as it (Logon with 141=Y, then Logout).
async fn has_session(identity: &str, target: &Target) -> bool {
    let probe = Scenario {
        name: "probe".into(),
        title: format!("a session for {identity}"),
        steps: vec![(0, Step::ResetSession(Some(identity.to_string())))],
    };
    run(&probe, target).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_the_whole_value() {
        assert!(glob(b"*throttle*", b"message throttled"));
        assert!(glob(
            b"????????-??:??:??.??????",
            b"20261122-10:00:00.123456"
        ));
        assert!(!glob(b"????????-??:??:??.??????", b"20261122-10:00:00.123"));
        assert!(glob(b"a*b*c", b"aXXbYYbc"));
        assert!(!glob(b"a*b", b"aXXbc"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"?", b""));
    }

    #[test]
    fn ids_are_unique_and_base36() {
        let a = unique_id();
        let b = unique_id();
        assert_ne!(a, b);
        assert!(a.len() < 40, "{a}");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36), "10");
    }
}
