//! `simgap cluster PIPELINE.toml`: features -> k-means codebooks and cluster assignments.

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::cluster::ClusterReport;
use crate::pipeline::config::PipelineConfig;

/// Quantise the behaviour vectors: one k-means codebook per facet, and one over all features.
///
/// Reads: OUT/features.parquet (run `simgap features` first) and the [cluster] settings (k, restarts, max_iter,
/// tol, seed, sample_size, balance, facets, pca_variance, precision, minibatch).
/// Writes: OUT/codebooks/<facet>.json (scaler, optional PCA basis, centroids in both spaces, k, seed, inertia,
/// iterations), OUT/assignments.parquet (conversation_id, source, kind, cluster_<facet> as uint32, null where a
/// conversation has no value in the facet) and the
/// `cluster` section of OUT/manifest.json.
/// Cost: per facet, k-means on at most sample_size rows (2 n k d flops for the rows scanned in an iteration: all in
/// the first, then those Hamerly's distance bounds cannot settle; on every core), then one
/// streaming pass over all rows to assign them; memory: the sample, one batch, and 24 bytes per row for sampling.
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
    cluster_stage(&config, args.out.as_ref(), global)?;
    Ok(Outcome::Clean)
}

/// Runs the cluster stage of a loaded pipeline and records it in the manifest; shared with `simgap run`.
pub fn cluster_stage(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    global: &GlobalArgs,
) -> anyhow::Result<ClusterReport> {
    let out_dir = config.out_dir(out)?;
    let report = config.cluster_params(out_dir.clone(), !global.quiet).run()?;
    let mut section = serde_json::to_value(&report)?;
    section["settings"] = serde_json::to_value(&config.cluster)?;
    super::manifest::record_in_manifest(&out_dir, config, "cluster", section)?;
    for facet in &report.facets {
        tracing::info!(
            facet = facet.facet.as_str(),
            k = facet.k,
            dimensions = facet.dimensions,
            inertia = format!("{:.4}", facet.inertia),
            iterations = facet.iterations,
            seconds = format!("{:.2}", facet.seconds),
            "codebook"
        );
    }
    tracing::info!(
        rows = report.rows,
        seconds = format!("{:.2}", report.seconds),
        "cluster done: {}",
        report.assignments_file.display()
    );
    Ok(report)
}
