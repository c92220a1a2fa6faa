//! The `fixvenue` command line. Only this file knows the CLI.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fixvenue", version, about = "A FIX 4.4 trading venue")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a benchmark workload (the separate `fixvenue-bench` tool; `fixvenue bench --help` lists them).
    #[command(disable_help_flag = true)]
    Bench {
        /// Arguments for `fixvenue-bench`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run the conformance scenarios against a FIX 4.4 acceptor (the separate `fixvenue-conformance` tool).
    #[command(disable_help_flag = true)]
    Conformance {
        /// Arguments for `fixvenue-conformance`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
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
        /// The admin HTTP server's address (ADDRESS:PORT), or "off"; default: venue.toml's [admin] address.
        #[arg(long, value_parser = parse_admin_addr)]
        admin_addr: Option<fixvenue::runtime::AdminListen>,
        /// Log format on standard output (and in the log file).
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Also write the log to files in this directory, a new file each day (fixvenue.log.YYYY-MM-DD).
        #[arg(long)]
        log_dir: Option<PathBuf>,
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
    /// Print the trades, one per line, with both sides' ExecIDs, from a read-only replay of the journal (as the
    /// trade log records them): works while the venue runs (up to what is journaled at that moment) and on an
    /// archived data dir. The replay needs the configuration the venue ran with.
    Trades {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        #[command(flatten)]
        ran_with: RanWith,
        #[arg(long, value_enum, default_value = "json")]
        format: TradesFormatArg,
        /// Only trades whose match sequence number is at least this.
        #[arg(long, default_value_t = 0)]
        from_seq: u64,
        /// Only trades in this symbol.
        #[arg(long, value_parser = parse_value)]
        symbol: Option<String>,
        /// Write to this file, created mode 0600, instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the messages in and out from the session log, one per line: time (UTC), IN/OUT, session, MsgSeqNum
    /// and the message (SOH shown as |). Reads the log files read-only: works while the venue runs (up to what
    /// is written at that moment) and on an archived data dir. Every filter given must match.
    Log {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        /// Only messages stamped at or after this time: RFC 3339 (2026-11-30T06:38:28.5Z, any offset) or FIX
        /// UTCTimestamp (20261130-06:38:28.500, UTC).
        #[arg(long, value_parser = parse_time)]
        from: Option<i64>,
        /// Only messages stamped before this time (same forms as --from).
        #[arg(long, value_parser = parse_time)]
        to: Option<i64>,
        /// Only this session's messages: its id as the venue names it (FIX.4.4:FIXVENUE->CLIENT1) or the client's
        /// CompID (CLIENT1); a filter that matches no session is an error.
        #[arg(long, value_parser = parse_value)]
        session: Option<String>,
        /// Only messages of this MsgType (35), as FIX 4.4 names it: 8, D, F, G, 9, A, ...
        #[arg(long, value_parser = parse_msg_type)]
        msg_type: Option<String>,
        /// Only messages whose ClOrdID (11) or OrigClOrdID (41) is this.
        #[arg(long, value_parser = parse_value)]
        clordid: Option<String>,
        /// Only messages whose OrderID (37) is this.
        #[arg(long, value_parser = parse_value)]
        order_id: Option<String>,
        /// Only messages whose Account (1) is this.
        #[arg(long, value_parser = parse_value)]
        account: Option<String>,
        #[command(flatten)]
        out: MessagesOut,
    },
    /// Print one order's whole story in time order: every message in and out about it (its reports by OrderID,
    /// the client's requests by the ClOrdIDs of its chain) and the engine's side (the journaled commands about
    /// it and their events, from a read-only replay of the journal). Works while the venue runs.
    Order {
        /// The OrderID (37) the venue gave the order.
        #[arg(value_parser = parse_order_id)]
        order_id: u64,
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        #[command(flatten)]
        ran_with: RanWith,
        #[command(flatten)]
        out: MessagesOut,
    },
    /// Check the journal's and the session log's CRCs and hash chains, read-only (works while the venue runs) and
    /// print each finding with its position and a summary with each log's last hash. Exit status: 0 clean, 1
    /// something found (damage, an edit, a seal that no longer matches), 2 the check could not run.
    Verify {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        /// Also check that the logs still hold the hashes of this seal (made by `fixvenue seal`).
        #[arg(long)]
        seal: Option<PathBuf>,
        /// Check the logs only: skip the trade log and sled checks (which need a stopped venue and copy sled).
        #[arg(long)]
        logs_only: bool,
        #[command(flatten)]
        ran_with: RanWith,
    },
    /// Export a seal: each log's last record index and hash as of the end of a UTC day (or now), as JSON, after
    /// checking the logs as `verify` does (a damaged log is not sealed). Keep it where the venue cannot write.
    Seal {
        /// The venue's data dir.
        #[arg(long, default_value = fixvenue::runtime::DATA_DIR_DEFAULT)]
        data_dir: PathBuf,
        /// Seal the records stamped before the end of this UTC day (YYYY-MM-DD); default: every record so far.
        #[arg(long)]
        date: Option<String>,
        /// Write the seal to this file, created mode 0600, instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The configuration the venue ran with, for a read-only replay of its journal (`trades`, `order`, `verify`).
#[derive(clap::Args)]
struct RanWith {
    /// The session configuration the venue ran with (QuickFIX INI), repeatable; default: the bundled one.
    #[arg(long)]
    sessions: Vec<PathBuf>,
    /// The venue.toml the venue ran with; default: the bundled one.
    #[arg(long)]
    venue: Option<PathBuf>,
}

impl From<RanWith> for fixvenue::replay::ReplayConfig {
    fn from(ran_with: RanWith) -> Self {
        fixvenue::replay::ReplayConfig {
            sessions: ran_with.sessions,
            venue: ran_with.venue,
        }
    }
}

/// How FIX messages are written out (`log`, `order`).
#[derive(clap::Args)]
struct MessagesOut {
    #[arg(long, value_enum, default_value = "fix")]
    format: LogFormatArg,
    /// Keep SOH between fields instead of writing `|`.
    #[arg(long)]
    soh: bool,
    /// Write to this file, created mode 0600, instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// `fixvenue verify`'s exit status when something was found (2 when the check could not run).
const EXIT_FINDINGS: u8 = 1;
const EXIT_CANNOT_CHECK: u8 = 2;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// `--admin-addr`: ADDRESS:PORT or "off".
fn parse_admin_addr(text: &str) -> Result<fixvenue::runtime::AdminListen, String> {
    if text == "off" {
        return Ok(fixvenue::runtime::AdminListen::Off);
    }
    text.parse()
        .map(fixvenue::runtime::AdminListen::At)
        .map_err(|_| format!("{text:?} is not ADDRESS:PORT (such as 127.0.0.1:9880) or \"off\""))
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify {
            data_dir,
            seal,
            logs_only,
            ran_with,
        } => {
            let config = ran_with.into();
            return verify(&data_dir, seal.as_deref(), (!logs_only).then_some(&config));
        }
        Command::Serve {
            sessions,
            venue,
            data_dir,
            admin_addr,
            log_format,
            log_dir,
        } => serve(
            ServeArgs {
                sessions,
                venue,
                data_dir,
                admin_addr,
            },
            log_format,
            log_dir,
        ),
        Command::CheckConfig { sessions, venue } => check_config(sessions, venue),
        Command::HashPassword => hash_password(),
        Command::Bench { args } => tool("fixvenue-bench", &args),
        Command::Conformance { args } => tool("fixvenue-conformance", &args),
        Command::Certs {
            out,
            host,
            client_name,
        } => certs(&out, &host, &client_name),
        Command::Trades {
            data_dir,
            ran_with,
            format,
            from_seq,
            symbol,
            output,
        } => {
            let config = ran_with.into();
            let filter = store::export::TradeFilter { from_seq, symbol };
            trades(&data_dir, &config, &filter, format, output.as_deref())
        }
        Command::Log {
            data_dir,
            from,
            to,
            session,
            msg_type,
            clordid,
            order_id,
            account,
            out,
        } => {
            let filter = fixvenue::query::LogFilter {
                from_ns: from,
                to_ns: to,
                session,
                msg_type,
                cl_ord_id: clordid,
                order_id,
                account,
            };
            log(&data_dir, &filter, &out)
        }
        Command::Order {
            order_id,
            data_dir,
            ran_with,
            out,
        } => order(&data_dir, &ran_with.into(), order_id, &out),
        Command::Seal {
            data_dir,
            date,
            out,
        } => seal(&data_dir, date.as_deref(), out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fixvenue: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log: text (colour only for a person at a terminal) or JSON lines on standard output, and the same to a
/// daily-rotated file when `log_dir` is given. The returned guard flushes the file when dropped.
fn init_tracing(
    format: LogFormat,
    log_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or pipe gets plain text, and NO_COLOR (any value) turns it
    // off everywhere (https://no-color.org).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stdout = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_ansi(ansi).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    let (file, guard) = match log_dir {
        None => (None, None),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("fixvenue.log")
                .build(dir)
                .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            let layer = match format {
                LogFormat::Text => layer.boxed(),
                LogFormat::Json => layer.json().boxed(),
            };
            (Some(layer), Some(guard))
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(file)
        .init();
    Ok(guard)
}

struct ServeArgs {
    sessions: Vec<PathBuf>,
    venue: Option<PathBuf>,
    data_dir: PathBuf,
    admin_addr: Option<fixvenue::runtime::AdminListen>,
}

fn serve(args: ServeArgs, log_format: LogFormat, log_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let _guard = init_tracing(log_format, log_dir.as_deref())?;
    let options = fixvenue::runtime::ServeOptions {
        sessions: args.sessions,
        venue: args.venue,
        data_dir: args.data_dir,
    };
    let admin = args
        .admin_addr
        .unwrap_or(fixvenue::runtime::AdminListen::Configured);
    fixvenue::runtime::serve(&options, &admin)?;
    Ok(())
}

fn check_config(sessions: Vec<PathBuf>, venue: Option<PathBuf>) -> anyhow::Result<()> {
    let check = fixvenue::runtime::check_config(&sessions, venue.as_deref());
    for line in &check.lines {
        println!("{line}");
    }
    for error in &check.errors {
        eprintln!("error: {error}");
    }
    anyhow::ensure!(
        check.errors.is_empty(),
        "{} configuration error(s)",
        check.errors.len()
    );
    println!("configuration OK: {} sessions", check.lines.len());
    Ok(())
}

fn hash_password() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!password.is_empty(), "empty password on standard input");
    // The salt comes from the operating system's random source; the session crate draws no randomness.
    let salt =
        argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let hash =
        session::auth::hash_password(password.as_bytes(), &salt).context("hashing failed")?;
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

/// Runs a tool that ships beside the venue binary (the venue links no benchmark or conformance code): the
/// executable of that name in the same directory as this one.
fn tool(name: &str, args: &[OsString]) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .map(|dir| {
            dir.join(name)
                .with_extension(std::env::consts::EXE_EXTENSION)
        })
        .filter(|p| p.is_file());
    let Some(path) = path else {
        anyhow::bail!(
            "{name} is not installed beside {}: build it with `cargo build --release -p {name}` (or run \
             `cargo run --release -p {name} -- ...`)",
            exe.display()
        );
    };
    let status = std::process::Command::new(&path).args(args).status()?;
    anyhow::ensure!(status.success(), "{name} {status}");
    Ok(())
}

/// Where an export goes: standard output, or a file created private (mode 0600, as the venue's data files).
fn export_output(
    output: Option<&std::path::Path>,
) -> anyhow::Result<std::io::BufWriter<Box<dyn std::io::Write>>> {
    let sink: Box<dyn std::io::Write> = match output {
        None => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(
            fixvenue::private::create_private(path, venue_config::DATA_FILE_MODE_DEFAULT)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
    };
    Ok(std::io::BufWriter::new(sink))
}

fn trades(
    data_dir: &std::path::Path,
    config: &fixvenue::replay::ReplayConfig,
    filter: &store::export::TradeFilter,
    format: TradesFormatArg,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use store::export::TradeFormat;
    let format = match format {
        TradesFormatArg::Json => TradeFormat::Json,
        TradesFormatArg::Csv => TradeFormat::Csv,
    };
    let mut out = export_output(output)?;
    query_result(fixvenue::query::write_trades(
        data_dir, config, filter, format, &mut out,
    ))
}

/// `--from`/`--to`: see [`fixvenue::query::parse_time`].
fn parse_time(text: &str) -> Result<i64, String> {
    fixvenue::query::parse_time(text)
}

fn parse_msg_type(text: &str) -> Result<String, String> {
    fixvenue::query::parse_msg_type(text)
}

fn parse_value(text: &str) -> Result<String, String> {
    fixvenue::query::parse_value(text)
}

/// An OrderID as the venue gives them: a positive whole number (the journal sequence number of the order's entry).
fn parse_order_id(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "{text:?} is not an OrderID of this venue (a positive whole number, as in 37=42)"
        )),
    }
}

fn log_format(format: LogFormatArg) -> fixvenue::query::LogFormat {
    match format {
        LogFormatArg::Fix => fixvenue::query::LogFormat::Fix,
        LogFormatArg::Json => fixvenue::query::LogFormat::Json,
    }
}

/// A reader that went away (`fixvenue log | head`) ends the query without an error.
fn query_result(result: Result<u64, fixvenue::query::QueryError>) -> anyhow::Result<()> {
    match result {
        Err(e) if e.is_broken_pipe() => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

fn log(
    data_dir: &std::path::Path,
    filter: &fixvenue::query::LogFilter,
    how: &MessagesOut,
) -> anyhow::Result<()> {
    if let (Some(from), Some(to)) = (filter.from_ns, filter.to_ns) {
        anyhow::ensure!(from < to, "--from must be before --to");
    }
    let mut out = export_output(how.output.as_deref())?;
    query_result(fixvenue::query::write_log(
        data_dir,
        filter,
        log_format(how.format),
        how.soh,
        &mut out,
    ))
}

fn order(
    data_dir: &std::path::Path,
    config: &fixvenue::replay::ReplayConfig,
    order_id: u64,
    how: &MessagesOut,
) -> anyhow::Result<()> {
    let mut out = export_output(how.output.as_deref())?;
    query_result(fixvenue::query::order::write_order(
        data_dir,
        config,
        order_id,
        log_format(how.format),
        how.soh,
        &mut out,
    ))
}

/// `fixvenue verify`: the report on standard output, the exit status from what it found.
fn verify(
    data_dir: &std::path::Path,
    seal: Option<&std::path::Path>,
    store: Option<&fixvenue::replay::ReplayConfig>,
) -> ExitCode {
    use fixvenue::verify;
    let report = seal
        .map(verify::read_seal)
        .transpose()
        .and_then(|seal| verify::verify(data_dir, seal.as_ref(), store));
    match report {
        Ok(report) => {
            print!("{}", verify::render(&report));
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FINDINGS)
            }
        }
        Err(err) => {
            eprintln!("fixvenue verify: {err}");
            ExitCode::from(EXIT_CANNOT_CHECK)
        }
    }
}

/// `fixvenue seal`: refuses to seal logs with findings.
fn seal(
    data_dir: &std::path::Path,
    date: Option<&str>,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use fixvenue::verify;
    let (seal, report) = verify::seal(data_dir, date)?;
    if !report.is_clean() {
        eprint!("{}", verify::render(&report));
        anyhow::bail!("the logs have findings: not sealed (run `fixvenue verify` for the details)");
    }
    let mut text = serde_json::to_string_pretty(&seal)?;
    text.push('\n');
    let mut sink = export_output(out)?;
    std::io::Write::write_all(&mut sink, text.as_bytes())?;
    std::io::Write::flush(&mut sink)?;
    Ok(())
}
