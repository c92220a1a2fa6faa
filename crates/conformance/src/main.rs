//! `fixvenue-conformance`: the conformance scenarios played against any FIX 4.4 acceptor (`fixvenue conformance
//! ...` runs it). Only this file knows its command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Run the conformance scenarios against a FIX 4.4 acceptor; one line per scenario, then `N passed, N failed, N
/// skipped`.
#[derive(Parser)]
#[command(name = "fixvenue-conformance", version)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 9878)]
    port: u16,
    /// Connect with TLS.
    #[arg(long)]
    tls: bool,
    /// Trust roots for --tls (PEM); default: the repository's development CA, certs/ca.pem.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Client certificate and key for --tls when the acceptor asks for one (PEM).
    #[arg(long, requires = "key_file")]
    cert_file: Option<PathBuf>,
    #[arg(long, requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Our CompID (SenderCompID on what the runner sends).
    #[arg(long, default_value = "CLIENT1")]
    sender_comp_id: String,
    /// The acceptor's CompID.
    #[arg(long, default_value = "FIXVENUE")]
    target_comp_id: String,
    /// A second trading CompID, for the scenarios with two sessions (`{client2}`).
    #[arg(long, default_value = conformance::CLIENT2_COMP_ID_DEFAULT)]
    sender_comp_id2: String,
    /// The instrument the order-entry scenarios trade (`{symbol}`).
    #[arg(long, default_value = conformance::SYMBOL_DEFAULT)]
    symbol: String,
    /// The acceptor has ResetOnLogon=Y: start every connection from MsgSeqNum 1, as a client with
    /// ResetOnLogon=Y does.
    #[arg(long)]
    reset_on_logon: bool,
    /// Scenario files; default: every conformance/*.scn of the repository this runner was built from.
    scenarios: Vec<PathBuf>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fixvenue-conformance: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let Cli {
        host,
        port,
        tls,
        ca_file,
        cert_file,
        key_file,
        sender_comp_id,
        target_comp_id,
        sender_comp_id2,
        symbol,
        reset_on_logon,
        scenarios,
    } = Cli::parse();
    let target = conformance::Target {
        host,
        port,
        tls: tls.then(|| conformance::ClientTls {
            ca_file: ca_file.unwrap_or_else(|| bundled("certs/ca.pem")),
            cert_file,
            key_file,
        }),
        client_comp_id: sender_comp_id,
        venue_comp_id: target_comp_id,
        client2_comp_id: sender_comp_id2,
        symbol,
        reset_on_logon,
    };
    conformance(target, &scenarios)
}

/// A file of the repository this runner was built from, so that its defaults work from any directory; where the
/// repository is gone, the name relative to the working directory.
fn bundled(name: &str) -> PathBuf {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = repo.join(name);
    if path.exists() {
        path
    } else {
        PathBuf::from(name)
    }
}

fn conformance(target: conformance::Target, files: &[PathBuf]) -> anyhow::Result<()> {
    let scenarios = if files.is_empty() {
        conformance::load_dir(&bundled("conformance"))?
    } else {
        files
            .iter()
            .map(|f| conformance::load_file(f))
            .collect::<Result<Vec<_>, _>>()?
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime.block_on(conformance::run_all(&scenarios, &target, true));
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} scenarios failed");
    Ok(())
}
