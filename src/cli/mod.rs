//! The command line as a table of contents: the subcommand list, and one file per subcommand, each an `Args` struct whose doc comments are its `--help`, and a `run`.

pub mod assembled;
pub mod cluster;
pub mod divergence;
pub mod features;
pub mod global;
pub mod ingest;
pub mod init;
pub mod kmeans;
pub mod logging;
pub mod manifest;
pub mod merge;
pub mod outcome;
pub mod report;
pub mod run;
pub mod shard;
pub mod synth;

use clap::{Parser, Subcommand};

use global::GlobalArgs;
use outcome::Outcome;

/// Measures how far LLM user simulators are from real users.
///
/// Reads conversation transcripts of humans and simulators (JSONL, OpenAI messages, tau-bench, tau2-bench,
/// ShareGPT, CSV/TSV, MultiWOZ, RecLLMSim, chitchat, and Parquet / Arrow / CSV / NDJSON tables) into one Parquet
/// table, turns each conversation into behavioural features, quantizes them with k-means and compares every
/// simulator with the humans (KL, JS, TV, MAUVE, User-Sim Index, with bootstrap intervals and human baselines). A
/// pipeline file (TOML) names the inputs, settings and output folder.
#[derive(Debug, Parser)]
#[command(
    name = "simgap",
    version,
    after_help = "Exit codes: 0 success; 1 failure (also when every record was rejected: bad data); 2 bad configuration or usage; 3 success, but some records were rejected (see OUT/rejects.jsonl)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Args),
    Ingest(ingest::Args),
    Features(features::Args),
    Cluster(cluster::Args),
    Divergence(divergence::Args),
    Kmeans(kmeans::Args),
    Report(report::Args),
    Run(run::Args),
    Merge(merge::Args),
    Synth(synth::Args),
}

/// Runs one subcommand: what `main` does after parsing and setting up logs and threads.
pub fn execute(command: Command, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match command {
        Command::Ingest(command) => ingest::run(command, global),
        Command::Features(command) => features::run(command, global),
        Command::Cluster(command) => cluster::run(command, global),
        Command::Divergence(command) => divergence::run(command, global),
        Command::Kmeans(command) => kmeans::run(command, global),
        Command::Report(command) => report::run(command, global),
        Command::Run(command) => run::run(command, global),
        Command::Merge(command) => merge::run(command, global),
        Command::Synth(command) => synth::run(command, global),
        Command::Init(command) => init::run(command, global),
    }
}
