//! `simgap run PIPELINE.toml`: every stage that exists, in order.

use std::path::PathBuf;

use super::{GlobalArgs, Outcome};
use simgap::pipeline::config::PipelineConfig;

/// Run every stage of the pipeline, in order, into one output folder.
///
/// Reads: the pipeline file and everything its [[input]] tables name.
/// Writes: each stage's outputs into OUT (today: ingest -> conversations.parquet, rejects.jsonl; features ->
/// features.parquet, features_rejects.jsonl; cluster -> codebooks/<facet>.json, assignments.parquet; divergence ->
/// divergence, pairwise, mixtures, clusters, usi and usi_features .parquet; report -> tables/, figures/,
/// report.html; all recorded in manifest.json).
/// Cost: the sum of the stages; see each stage's --help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// Output folder; overrides [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fail on the first rejected record (exit 1), writing nothing.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let config = PipelineConfig::load(&args.pipeline)?;
    // Settings of the later stages are checked before the first one runs: a typo fails in a second, not an hour in.
    config.features_params(config.out_dir(args.out.as_ref()), false).check_settings()?;
    config.cluster.check()?;
    config.divergence.check()?;
    let report = super::ingest::ingest_stage(&config, args.out.as_ref(), args.strict, global)?;
    super::features::features_stage(&config, args.out.as_ref(), global)?;
    super::cluster::cluster_stage(&config, args.out.as_ref(), global)?;
    super::divergence::divergence_stage(&config, args.out.as_ref(), global)?;
    super::report::report_stage(&config, args.out.as_ref(), global)?;
    Ok(super::ingest::outcome_of(&report))
}
