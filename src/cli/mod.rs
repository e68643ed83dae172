//! The command line: global flags, the subcommand list, and how outcomes and errors become exit codes.
//! One file per subcommand, each an `Args` struct whose doc comments are its `--help`, and a `run`.

pub mod cluster;
pub mod divergence;
pub mod features;
pub mod ingest;
pub mod kmeans;
pub mod logging;
pub mod report;
pub mod run;
pub mod synth;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use simgap::cluster::ClusterError;
use simgap::cluster::kmeans::KMeansError;
use simgap::divergence::DivergenceError;
use simgap::features::FeaturesError;
use simgap::ingest::IngestError;
use simgap::pipeline::config::ConfigError;
use simgap::report::ReportError;

/// Measures how far LLM user simulators are from real users.
///
/// Reads conversation transcripts of humans and simulators (JSONL, OpenAI messages, tau-bench, tau2-bench,
/// ShareGPT, CSV/TSV, MultiWOZ, RecLLMSim, chitchat) into one Parquet table, turns each conversation into
/// behavioural features, quantizes them with k-means and compares every simulator with the humans (KL, JS, TV,
/// MAUVE, User-Sim Index, with bootstrap intervals and human baselines). A pipeline file (TOML) names the inputs, settings and output folder.
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

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output (-v debug, -vv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors; no progress bars and no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Worker threads for parallel stages (default: every core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Log format: `text` for people, `json` (one object per line) for schedulers.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Ingest(ingest::Args),
    Features(features::Args),
    Cluster(cluster::Args),
    Divergence(divergence::Args),
    Kmeans(kmeans::Args),
    Report(report::Args),
    Run(run::Args),
    Synth(synth::Args),
}

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    WithRejects,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::WithRejects => ExitCode::from(3),
        }
    }
}

/// Records a stage's section in OUT/manifest.json; shared by every stage's command and `simgap run`.
pub fn record_in_manifest(
    out_dir: &std::path::Path,
    config: &simgap::pipeline::config::PipelineConfig,
    stage: &str,
    section: serde_json::Value,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let manifest = simgap::pipeline::manifest::MANIFEST_FILE;
    simgap::pipeline::manifest::record_stage(out_dir, config, stage, section)
        .with_context(|| format!("writing {}", out_dir.join(manifest).display()))
}

/// The error and its causes, joined by ": ", leaving out a cause whose text the message already holds (errors that
/// name their path and print their source, such as `{path}: {source}`, would otherwise say it twice).
pub fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

/// 2 for configuration and usage errors, 1 for everything else.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    let usage = error.chain().any(|cause| {
        cause.downcast_ref::<ConfigError>().is_some()
            || cause.downcast_ref::<IngestError>().is_some_and(IngestError::is_usage)
            || cause.downcast_ref::<FeaturesError>().is_some_and(FeaturesError::is_usage)
            || cause.downcast_ref::<ClusterError>().is_some_and(ClusterError::is_usage)
            || cause.downcast_ref::<DivergenceError>().is_some_and(DivergenceError::is_usage)
            || cause.downcast_ref::<ReportError>().is_some_and(ReportError::is_usage)
            || cause.downcast_ref::<KMeansError>().is_some_and(|e| !matches!(e, KMeansError::Linfa(_)))
    });
    ExitCode::from(if usage { 2 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_says_each_cause_once() {
        let io = std::io::Error::other("No space left on device");
        let error = anyhow::Error::new(io).context("out/manifest.json: No space left on device").context("writing out");
        assert_eq!(describe(&error), "writing out: out/manifest.json: No space left on device");
    }
}
