//! `simgap report PIPELINE.toml`: divergence tables -> paper tables, figures and one HTML page.

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::pipeline::config::PipelineConfig;
use crate::report::ReportSummary;

/// Turn the divergence tables into tables for a paper, figures and a self-contained HTML report.
///
/// Reads: OUT/divergence.parquet, pairwise.parquet, mixtures.parquet, clusters.parquet, usi.parquet,
/// usi_features.parquet and manifest.json (run `simgap divergence` first); history.parquet where `simgap run`
/// wrote one (drawn as figures/history_js and the page's "Night by night"; this command adds no night). Writes:
/// OUT/tables/{main,facets,pairwise,mixtures,usi}.{md,tex,csv} (Markdown, CSV, and LaTeX with booktabs laid out to fit
/// the paper of [report] paper: two-column by default; 95% intervals; best per column in bold where two or more
/// simulators compare; captions with facet, K, smoothing, n per source and seed), OUT/figures/*.svg and *.png (for the
/// page) and *.pdf (for a paper: 3.3 or 6.75 in wide, 8-9 pt text, no title), OUT/report.html (tables, figures, cluster
/// explanations with example turns, manifest, warnings; transcript text HTML-escaped), and the `report` section of
/// OUT/manifest.json. Beyond 20 sources, figures (but the MDS map), the pairwise matrix and the cluster explanations
/// show the reference and the 19 simulators closest to it; captions say where the others are. Cost: well under a second
/// for the tables and page; the figures take up to a few seconds (2 s for 200 sources).
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
    report_stage(&config, args.out.as_ref(), global)?;
    Ok(Outcome::Clean)
}

/// Runs the report stage of a loaded pipeline and records it in the manifest; shared with `simgap run`.
pub fn report_stage(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    _global: &GlobalArgs,
) -> anyhow::Result<ReportSummary> {
    let out_dir = config.out_dir(out)?;
    let summary = config.report_params(out_dir.clone()).run()?;
    super::manifest::record_in_manifest(&out_dir, config, "report", serde_json::to_value(&summary)?)?;
    for warning in &summary.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(seconds = format!("{:.2}", summary.seconds), "report done: {}", summary.report.display());
    Ok(summary)
}
