//! `simgap features PIPELINE.toml`: conversations -> `OUT/features.parquet`.

use std::path::PathBuf;

use anyhow::Context;

use super::global::GlobalArgs;
use super::outcome::{Outcome, print_to_stdout};
use crate::features::{self, FeaturesReport};
use crate::pipeline::config::PipelineConfig;

/// Turn every conversation into a behavioural feature vector.
///
/// Reads: OUT/conversations.parquet (run `simgap ingest` first), the [features] settings, the cue lists (built in,
/// or [features] lexicons), and [features.embeddings] when set.
/// Writes: OUT/features.parquet (conversation_id, source, kind, task_id, run, outcome, then one float64 column per
/// feature, tagged with its facet), OUT/features_rejects.jsonl (conversations without a user turn after cleaning,
/// embedding rows rejected or unmatched, conversations without a vector) and the `features` section of
/// OUT/manifest.json.
/// Cost: one pass over the conversations (two with the lexical facet), parallel on every core, decoding and
/// encoding on threads of their own; memory stays at three batches of 4,096 conversations.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML). Not needed with --list.
    #[arg(required_unless_present = "list")]
    pub pipeline: Option<PathBuf>,
    /// Output folder; overrides [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print every feature (name, facet, definition) and exit.
    #[arg(long)]
    pub list: bool,
    /// After computing, print each feature's mean per source.
    #[arg(long)]
    pub summary: bool,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    if args.list {
        print_to_stdout(&features::list(64))?;
        return Ok(Outcome::Clean);
    }
    let pipeline = args.pipeline.as_ref().context("a pipeline file is needed")?;
    let config = PipelineConfig::load(pipeline)?;
    let report = features_stage(&config, args.out.as_ref(), global)?;
    if args.summary {
        print_to_stdout(&features::summary(&report))?;
    }
    Ok(Outcome::Clean)
}

/// Runs the features stage of a loaded pipeline and records it in the manifest; shared with `simgap run`.
pub fn features_stage(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    global: &GlobalArgs,
) -> anyhow::Result<FeaturesReport> {
    let out_dir = config.out_dir(out)?;
    let report = config.features_params(out_dir.clone(), !global.quiet).run()?;
    let mut section = serde_json::to_value(&report)?;
    if let Some(lexicons) = &config.features.lexicons {
        let bytes = std::fs::read(lexicons).with_context(|| format!("reading {}", lexicons.display()))?;
        section["lexicons_sha256"] = crate::hashing::sha256_bytes(&bytes).into();
    }
    super::manifest::record_in_manifest(&out_dir, config, "features", section)?;
    tracing::info!(
        rows = report.rows_written,
        skipped = report.skipped_no_user_turn,
        columns = report.columns.len(),
        seconds = format!("{:.2}", report.seconds),
        "features done: {}",
        report.features_file.display()
    );
    if report.skipped_no_user_turn > 0 || report.embedding_issues > 0 {
        tracing::warn!(
            skipped = report.skipped_no_user_turn,
            embedding_issues = report.embedding_issues,
            "see {}",
            report.rejects_file.display()
        );
    }
    Ok(report)
}
