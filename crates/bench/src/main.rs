//! `fixvenue-bench`: the benchmark workloads (`fixvenue bench ...` runs it). Only this file knows its command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fixvenue-bench",
    version,
    about = "fixvenue's benchmark workloads; each prints one RESULT line"
)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Order entry end to end: N FIX sessions replay the order-book corpus as orders against a venue and time
    /// each order's first answer; ends with one JSON line on stdout.
    E2e(E2eArgs),
    /// Market data under order flow: subscribers on an in-process venue while the e2e flow runs; update latency,
    /// messages per second, and the order-entry ack with and without them. Ends with one JSON line on stdout.
    Md(MdArgs),
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
    /// Time Prometheus scrapes of the admin server's /metrics on an in-process venue with many sessions
    /// configured; ends with one JSON line on stdout.
    Scrape {
        /// Sessions configured.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        sessions: u32,
        /// Sessions that log on and rest orders first (at most 32: the venue's connections per address).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=32))]
        active: u32,
        /// Orders each active session rests.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=10_000))]
        orders: u32,
        /// Scrapes timed.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        scrapes: u32,
    },
    /// The compliance queries' read path: write a session log of N ExecutionReports, then time the read-only
    /// reader alone and `fixvenue log --order-id` over it (records per second, median of the runs).
    Logread {
        /// Records in the session log.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        records: u64,
        /// How many timed runs; the median is reported.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: u32,
    },
    /// `fixvenue verify` on a data dir of a few million records (written through the logs' append API when DIR
    /// holds no logs yet): the median records checked per second, and the cost of one hash-chain link.
    Verify {
        /// The data dir to check; generated there first when it has no journal/.
        #[arg(long)]
        data_dir: PathBuf,
        /// Records written to each log when generating.
        #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        records: u64,
        /// How many timed checks; the median is reported.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        runs: u32,
    },
    /// Frame, checksum and read the corpus messages (and validate them against the dictionary).
    Codec {
        /// The message corpus: one FIX message per line. Default: the 500-message excerpt shipped in the
        /// repository; the figures in BENCHMARKS.md take the full 10,000 of ../shared/corpus/fix44_mix.txt.
        #[arg(long, default_value = bench::codec::CORPUS_EXCERPT)]
        corpus: PathBuf,
        /// How many timed runs; the median is reported (at least 5).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(5..=1000))]
        runs: u32,
        /// Passes over the corpus per timed run.
        #[arg(long, default_value_t = bench::codec::PASSES_PER_RUN_DEFAULT, value_parser = clap::value_parser!(u32).range(1..=10_000))]
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
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=i64::from(bench::e2e::SESSIONS_MAX)))]
    sessions: u32,
    /// Measured orders over all sessions (cancels count as orders).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=bench::e2e::ORDERS_MAX))]
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
    #[arg(long, default_value_t = bench::e2e::REJECT_PCT_MAX_DEFAULT)]
    max_reject_pct: f64,
    /// Orders outstanding per session without --rate.
    #[arg(long, default_value_t = bench::e2e::WINDOW_CLOSED_DEFAULT, value_parser = clap::value_parser!(u32).range(1..=i64::from(bench::e2e::WINDOW_MAX)))]
    window: u32,
    /// Extra sessions <prefix>SLOW1..N that log on, send orders (IOC, at the collar's lowest price) and never read
    /// their socket; the figures are the other sessions'. A remote venue must have these sessions configured.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i64::from(bench::e2e::SESSIONS_MAX)))]
    slow_sessions: u32,
    /// Orders per second of each slow session; default: the measured sessions' per-session rate (--rate / N), or
    /// without --rate as fast as its socket takes them.
    #[arg(long)]
    slow_rate: Option<f64>,
    /// A venue-wide drop-copy session <prefix>DC (SessionRole=dropcopy, DropCopyAccounts=*) logs on and reads every
    /// copy; not measured. A remote venue must have it configured.
    #[arg(long)]
    drop_copy: bool,
}

#[derive(clap::Args)]
struct MdArgs {
    /// Market-data sessions (each with --hot-per-session subscriptions to --symbol and one to every other
    /// instrument).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=i64::from(bench::md::MD_SESSIONS_MAX)))]
    md_sessions: u32,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=32))]
    hot_per_session: u32,
    /// Trading sessions of the order flow.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    sessions: u32,
    /// Measured orders (cancels count as orders).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=bench::e2e::ORDERS_MAX))]
    orders: u64,
    /// Orders per second over all trading sessions (open loop).
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// The traded instrument; its tick, lot and collar come from venue.toml.
    #[arg(long, default_value = "ZVZZT")]
    symbol: String,
    #[arg(long, default_value = "../shared/corpus/book_ops_1m.csv")]
    corpus: PathBuf,
    #[arg(long)]
    venue: Option<PathBuf>,
    #[arg(long, default_value_t = bench::e2e::REJECT_PCT_MAX_DEFAULT)]
    max_reject_pct: f64,
}

impl MdArgs {
    fn options(self) -> bench::md::Options {
        use bench::e2e::{Options, Venue, WINDOW_CLOSED_DEFAULT};
        bench::md::Options {
            flow: Options {
                venue: Venue::InProcess,
                sessions: self.sessions,
                orders: self.orders,
                rate: Some(self.rate),
                tls_ca_file: None,
                symbol: self.symbol,
                sender_prefix: "BENCH".into(),
                target_comp_id: "FIXVENUE".into(),
                warmup: self.warmup,
                corpus: self.corpus,
                venue_toml: self.venue,
                reject_pct_max: self.max_reject_pct,
                window: WINDOW_CLOSED_DEFAULT,
                slow_sessions: 0,
                slow_rate: None,
                drop_copy: false,
            },
            md_sessions: self.md_sessions,
            hot_per_session: self.hot_per_session,
        }
    }
}

impl E2eArgs {
    fn options(self) -> bench::e2e::Options {
        use bench::e2e::{Options, Venue};
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
            slow_sessions: self.slow_sessions,
            slow_rate: self.slow_rate,
            drop_copy: self.drop_copy,
        }
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        BenchCommand::E2e(args) => bench::e2e::run(&args.options()),
        BenchCommand::Md(args) => bench::md::run(&args.options()),
        BenchCommand::Session { messages, pings } => bench::session::run(messages, pings),
        BenchCommand::Logread { records, runs } => bench::logread::run(records, runs),
        BenchCommand::Scrape {
            sessions,
            active,
            orders,
            scrapes,
        } => bench::scrape::run(&bench::scrape::ScrapeOptions {
            sessions,
            active,
            orders,
            scrapes,
        }),
        BenchCommand::Verify {
            data_dir,
            records,
            runs,
        } => bench::verify::run(&data_dir, records, runs),
        BenchCommand::Codec {
            corpus,
            runs,
            passes,
        } => bench::codec::run(&corpus, runs, passes),
        BenchCommand::Engine {
            ops,
            expected,
            journal,
            runs,
        } => bench::engine::run(&ops, expected.as_deref(), journal.as_deref(), runs),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fixvenue-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}
