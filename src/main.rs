//! The `fixvenue` command line. Only this file knows the CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fixvenue", version, about = "A FIX 4.4 trading venue")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a benchmark workload and print one `RESULT ...` line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the venue: the FIX acceptor on the configured sessions (bundled defaults when no file is given).
    Serve {
        /// Session configuration (QuickFIX INI), repeatable; default: the bundled sessions/default.cfg.
        #[arg(long)]
        sessions: Vec<PathBuf>,
        /// Venue configuration (venue.toml); default: the bundled one.
        #[arg(long)]
        venue: Option<PathBuf>,
        /// Where the session store and logs live.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
    },
    /// Validate the session configuration and venue.toml; exits non-zero on any error.
    CheckConfig {
        /// Session configuration (QuickFIX INI), repeatable; default: the bundled sessions/default.cfg.
        #[arg(long)]
        sessions: Vec<PathBuf>,
        /// Venue configuration (venue.toml); default: the bundled one.
        #[arg(long)]
        venue: Option<PathBuf>,
    },
    /// Read a password on standard input and print its argon2id PHC hash for PasswordHash=.
    HashPassword,
    /// Run the conformance scenarios against a FIX 4.4 acceptor; one line per scenario, then `N passed, N failed`.
    Conformance {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 9878)]
        port: u16,
        /// Connect with TLS.
        #[arg(long)]
        tls: bool,
        /// Trust roots for --tls (PEM).
        #[arg(long, default_value = "certs/ca.pem")]
        ca_file: PathBuf,
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
        #[arg(long, default_value = fixvenue::conformance::CLIENT2_COMP_ID_DEFAULT)]
        sender_comp_id2: String,
        /// The instrument the order-entry scenarios trade (`{symbol}`).
        #[arg(long, default_value = fixvenue::conformance::SYMBOL_DEFAULT)]
        symbol: String,
        /// Scenario files; default: every conformance/*.scn.
        scenarios: Vec<PathBuf>,
    },
    /// Make development TLS certificates (CA, server, client) with rcgen. Never use them in production.
    Certs {
        /// Output directory.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Names and addresses the server certificate is valid for.
        #[arg(long, default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        host: Vec<String>,
        /// Common name of the client certificate.
        #[arg(long, default_value = "TLSCLIENT1")]
        client_name: String,
    },
    /// Print the trade log, one trade per line (works while the venue is stopped).
    Trades {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        #[arg(long, value_enum, default_value = "json")]
        format: TradesFormatArg,
        /// Only trades whose match sequence number is at least this.
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
        /// Only trades in this symbol.
        #[arg(long)]
        symbol: Option<String>,
    },
    /// Print the compliance log of every message in and out, oldest first (works while the venue is stopped).
    Log {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        /// Only this session's messages (its id as the venue names it).
        #[arg(long)]
        session: Option<String>,
        #[arg(long, value_enum, default_value = "fix")]
        format: LogFormatArg,
        /// Keep SOH between fields instead of writing `|`.
        #[arg(long)]
        soh: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TradesFormatArg {
    Json,
    Csv,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Fix,
    Json,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Order entry end to end: N FIX sessions replay the order-book corpus as orders against a venue and time
    /// each order's first answer; ends with one JSON line on stdout.
    E2e(E2eArgs),
    /// The session layer over loopback: pipelined TestRequest/Heartbeat and order/BusinessMessageReject
    /// throughput through decode, session, store and encode, and the TestRequest/Heartbeat round trip.
    Session {
        /// Messages per pipelined run.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        messages: u64,
        /// Sequential TestRequest/Heartbeat round trips timed.
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        pings: u64,
    },
    /// Frame, checksum and read the corpus messages (and validate them against the dictionary).
    Codec {
        /// The message corpus: one FIX message per line.
        #[arg(long, default_value = "../shared/corpus/fix44_mix.txt")]
        corpus: PathBuf,
        /// How many timed runs; the median is reported (at least 5).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(5..=1000))]
        runs: u32,
        /// Passes over the corpus per timed run.
        #[arg(long, default_value_t = fixvenue::bench::codec::PASSES_PER_RUN_DEFAULT, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        passes: u32,
    },
    /// Replay the order-book corpus through the matching engine and check it against the expected values.
    Engine {
        /// The operations corpus (op,order_id,side,price,qty).
        #[arg(long, default_value = "../shared/corpus/book_ops_1m.csv")]
        ops: PathBuf,
        /// The expected values; by default the corpus path with the extension `.expected`.
        #[arg(long)]
        expected: Option<PathBuf>,
        /// Also run the commands through the sequencer with a durable journal in this directory (must be empty or
        /// absent), then time a replay of that journal.
        #[arg(long)]
        journal: Option<PathBuf>,
        /// How many timed runs; the median is reported.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: u32,
    },
}

#[derive(clap::Args)]
struct E2eArgs {
    /// The venue's address (ignored with --in-process).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 9878)]
    port: u16,
    /// Start the venue inside this process on 127.0.0.1 (port 0, a fresh data directory, generated sessions).
    #[arg(long, conflicts_with_all = ["host", "port"])]
    in_process: bool,
    /// Client sessions, each its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=i64::from(fixvenue::bench::e2e::SESSIONS_MAX)))]
    sessions: u32,
    /// Measured orders over all sessions (cancels count as orders).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=fixvenue::bench::e2e::ORDERS_MAX))]
    orders: u64,
    /// Orders per second over all sessions (open loop); default: as fast as the venue answers (closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Connect with TLS (in-process: the venue uses certs/server.pem and certs/server.key).
    #[arg(long)]
    tls: bool,
    /// Trust roots for --tls (PEM).
    #[arg(long, default_value = "certs/ca.pem")]
    ca_file: PathBuf,
    /// The instrument; its tick, lot and collar come from venue.toml.
    #[arg(long, default_value = "ZVZZT")]
    symbol: String,
    /// Sessions are <prefix>1 .. <prefix>N (their SenderCompIDs; orders carry no Account, so each session's
    /// default account trades).
    #[arg(long, default_value = "BENCH")]
    sender_prefix: String,
    /// The venue's CompID.
    #[arg(long, default_value = "FIXVENUE")]
    target_comp_id: String,
    /// Orders sent first, same mix and rate, left out of the figures.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// The operations corpus (op,order_id,side,price,qty).
    #[arg(long, default_value = "../shared/corpus/book_ops_1m.csv")]
    corpus: PathBuf,
    /// Venue configuration for the instrument (and for --in-process); default: the bundled one.
    #[arg(long)]
    venue: Option<PathBuf>,
    /// Fail when more than this percentage of orders is refused (order, business or session reject).
    #[arg(long, default_value_t = fixvenue::bench::e2e::REJECT_PCT_MAX_DEFAULT)]
    max_reject_pct: f64,
    /// Orders outstanding per session without --rate.
    #[arg(long, default_value_t = fixvenue::bench::e2e::WINDOW_CLOSED_DEFAULT, value_parser = clap::value_parser!(u32).range(1..=i64::from(fixvenue::bench::e2e::WINDOW_MAX)))]
    window: u32,
}

impl E2eArgs {
    fn options(self) -> fixvenue::bench::e2e::Options {
        use fixvenue::bench::e2e::{Options, Venue};
        Options {
            venue: if self.in_process {
                Venue::InProcess
            } else {
                Venue::Remote {
                    host: self.host,
                    port: self.port,
                }
            },
            sessions: self.sessions,
            orders: self.orders,
            rate: self.rate,
            tls_ca_file: self.tls.then_some(self.ca_file),
            symbol: self.symbol,
            sender_prefix: self.sender_prefix,
            target_comp_id: self.target_comp_id,
            warmup: self.warmup,
            corpus: self.corpus,
            venue_toml: self.venue,
            reject_pct_max: self.max_reject_pct,
            window: self.window,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            sessions,
            venue,
            data_dir,
        } => serve(sessions, venue, data_dir),
        Command::CheckConfig { sessions, venue } => check_config(sessions, venue),
        Command::HashPassword => hash_password(),
        Command::Conformance {
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
            scenarios,
        } => {
            let target = fixvenue::conformance::Target {
                host,
                port,
                tls: tls.then_some(fixvenue::conformance::ClientTls {
                    ca_file,
                    cert_file,
                    key_file,
                }),
                client_comp_id: sender_comp_id,
                venue_comp_id: target_comp_id,
                client2_comp_id: sender_comp_id2,
                symbol,
            };
            conformance(target, &scenarios)
        }
        Command::Certs {
            out,
            host,
            client_name,
        } => certs(&out, &host, &client_name),
        Command::Bench(BenchCommand::E2e(args)) => fixvenue::bench::e2e::run(&args.options()),
        Command::Bench(BenchCommand::Session { messages, pings }) => {
            fixvenue::bench::session::run(messages, pings)
        }
        Command::Bench(BenchCommand::Codec {
            corpus,
            runs,
            passes,
        }) => fixvenue::bench::codec::run(&corpus, runs, passes),
        Command::Bench(BenchCommand::Engine {
            ops,
            expected,
            journal,
            runs,
        }) => fixvenue::bench::engine::run(&ops, expected.as_deref(), journal.as_deref(), runs),
        Command::Trades {
            data_dir,
            format,
            from_seq,
            symbol,
        } => trades(&data_dir, format, from_seq, symbol),
        Command::Log {
            data_dir,
            session,
            format,
            soh,
        } => log(&data_dir, session.as_deref(), format, soh),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fixvenue: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

fn serve(sessions: Vec<PathBuf>, venue: Option<PathBuf>, data_dir: PathBuf) -> anyhow::Result<()> {
    init_tracing();
    let options = fixvenue::runtime::ServeOptions {
        sessions,
        venue,
        data_dir,
    };
    fixvenue::runtime::serve(&options)?;
    Ok(())
}

fn check_config(sessions: Vec<PathBuf>, venue: Option<PathBuf>) -> anyhow::Result<()> {
    let lines = fixvenue::runtime::check_config(&sessions, venue.as_deref())?;
    for line in &lines {
        println!("{line}");
    }
    println!("configuration OK: {} sessions", lines.len());
    Ok(())
}

fn hash_password() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!password.is_empty(), "empty password on standard input");
    let hash = fixvenue::session::auth::hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    println!("{hash}");
    Ok(())
}

fn certs(out: &std::path::Path, hosts: &[String], client_name: &str) -> anyhow::Result<()> {
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let certs = fixvenue::net::certs::generate(&hosts, client_name)?;
    for path in fixvenue::net::certs::write(out, &certs)? {
        println!("wrote {}", path.display());
    }
    println!("development certificates only: never use them in production");
    Ok(())
}

fn conformance(target: fixvenue::conformance::Target, files: &[PathBuf]) -> anyhow::Result<()> {
    let scenarios = if files.is_empty() {
        fixvenue::conformance::load_dir(std::path::Path::new("conformance"))?
    } else {
        files
            .iter()
            .map(|f| fixvenue::conformance::load_file(f))
            .collect::<Result<Vec<_>, _>>()?
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = runtime.block_on(fixvenue::conformance::run_all(&scenarios, &target, true));
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} scenarios failed");
    Ok(())
}

/// A reader that went away (`fixvenue trades | head`) ends the export without an error.
fn export_result(result: Result<u64, fixvenue::store::export::ExportError>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.is_broken_pipe() => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

fn trades(
    data_dir: &std::path::Path,
    format: TradesFormatArg,
    from_seq: u64,
    symbol: Option<String>,
) -> anyhow::Result<()> {
    use fixvenue::store::export::{self, TradeFilter, TradeFormat};
    let store = export::open_store(data_dir)?;
    let format = match format {
        TradesFormatArg::Json => TradeFormat::Json,
        TradesFormatArg::Csv => TradeFormat::Csv,
    };
    let filter = TradeFilter { from_seq, symbol };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    export_result(export::write_trades(&store, &filter, format, &mut out))
}

fn log(
    data_dir: &std::path::Path,
    session: Option<&str>,
    format: LogFormatArg,
    soh: bool,
) -> anyhow::Result<()> {
    use fixvenue::store::export::{self, LogFormat};
    let store = export::open_store(data_dir)?;
    let format = match format {
        LogFormatArg::Fix => LogFormat::Fix,
        LogFormatArg::Json => LogFormat::Json,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    export_result(export::write_log(&store, session, format, soh, &mut out))
}
