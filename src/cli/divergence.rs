//! `simgap divergence PIPELINE.toml`: cluster assignments -> divergence, pairwise, mixture, cluster and USI tables.

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::divergence::DivergenceReport;
use crate::pipeline::config::PipelineConfig;

/// Compare every source's behaviour distribution with the reference's, on every facet.
///
/// Reads: OUT/assignments.parquet and OUT/codebooks/ (run `simgap cluster` first), OUT/features.parquet,
/// OUT/conversations.parquet, and the [divergence] settings (reference, smoothing, bootstrap, permutations,
/// calibration_draws, ceiling_splits, usi_bootstrap, seed, codebook = shared | per-pair, log_base = "e" | "2",
/// label_ratio, explain_sample, usi_difficulty, usi_tasks = shared | all, facets).
/// Writes: OUT/divergence.parquet (per facet and source: KL both ways, JS, TV, MAUVE, MAUVE*, frontier integral,
/// each as the plug-in with its bootstrap percentiles and bias-corrected (jackknife) with a 95% interval whose
/// coverage was measured by simulation, docs/method.md; the human split-half ceiling, plug-in and corrected; the
/// corrected JS above it; a permutation p-value; sample-size warnings), OUT/pairwise.parquet (every pair of
/// sources, plug-in and corrected), OUT/mixtures.parquet (best single, pair and full mixture of
/// simulators), OUT/clusters.parquet (shares, captured / missed / hallucinated labels, extreme features, top words,
/// example turns), OUT/usi.parquet and OUT/usi_features.parquet (User-Sim Index with bootstrap bounds, an
/// interval for the true USI and the human ceiling between batches), OUT/usi_difficulty.json, and the `divergence`
/// section of OUT/manifest.json.
/// Cost: streaming passes over the earlier tables (the conversations' messages only for the explain_sample rows;
/// about 20 bytes + 4 per facet per conversation in memory), then per facet and source on every core
/// O((bootstrap + permutations + ceiling_splits) x 25 K) and the corrected intervals' O(3 x calibration_draws x 110 K)
/// (about 1.7 s of CPU at K = 500 with 20,000 and 2,000 conversations); USI's bootstrap is
/// O(usi_bootstrap x units x 19). codebook = "per-pair" adds a K = 500 k-means per facet and simulator.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// Output folder; overrides [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let config = PipelineConfig::load(&args.pipeline)?;
    divergence_stage(&config, args.out.as_ref(), global)?;
    Ok(Outcome::Clean)
}

/// Runs the divergence stage of a loaded pipeline and records it in the manifest; shared with `simgap run`.
pub fn divergence_stage(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    global: &GlobalArgs,
) -> anyhow::Result<DivergenceReport> {
    let out_dir = config.out_dir(out)?;
    let report = config.divergence_params(out_dir.clone(), !global.quiet).run()?;
    let mut section = serde_json::to_value(&report)?;
    section["settings"] = serde_json::to_value(&config.divergence)?;
    super::manifest::record_in_manifest(&out_dir, config, "divergence", section)?;
    tracing::info!(
        reference = report.reference.as_str(),
        sources = report.sources.len(),
        facets = report.facets.len(),
        seconds = format!("{:.2}", report.seconds),
        "divergence done: {}",
        out_dir.display()
    );
    Ok(report)
}
