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
}

#[derive(Subcommand)]
enum BenchCommand {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fixvenue: {err:#}");
            ExitCode::FAILURE
        }
    }
}
