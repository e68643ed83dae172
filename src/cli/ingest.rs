//! `simgap ingest PIPELINE.toml`: transcripts -> `OUT/conversations.parquet`.

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::ingest::{self, IngestReport};
use crate::pipeline::config::PipelineConfig;

/// Read every transcript the pipeline names into one Parquet table.
///
/// Reads: the pipeline file's [[input]] paths (files, folders or globs) in their formats, tables (Parquet, Arrow,
/// CSV, NDJSON) through polars scans with the input's filter pushed down.
/// Writes: OUT/conversations.parquet (one row per conversation: conversation_id, source, kind, task_id, run,
/// outcome, survey, messages, input_file, input_record, metadata), OUT/rejects.jsonl (one line per rejected record:
/// file, line, row or record, reason, excerpt) and the `ingest` section of OUT/manifest.json (per-file hashes and
/// read = accepted + rejected + filtered). Outputs are replaced only when the stage succeeds.
/// Cost: one pass over the inputs; about as fast as the disk for JSONL and CSV, which stream in bounded memory;
/// tables stream in batches (an Arrow IPC stream is read whole); JSON documents are held one file at a time.
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
    let report = ingest_stage(&config, args.out.as_ref(), args.strict, global)?;
    Ok(outcome_of(&report))
}

/// Runs the ingest stage of a loaded pipeline and records it in the manifest; shared with `simgap run`.
pub fn ingest_stage(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    strict: bool,
    global: &GlobalArgs,
) -> anyhow::Result<IngestReport> {
    let out_dir = config.out_dir(out)?;
    let params = config.ingest_params(out_dir.clone(), strict, !global.quiet);
    let report = params.run()?;
    super::manifest::record_in_manifest(&out_dir, config, "ingest", serde_json::to_value(&report)?)?;
    log_report(&report, global);
    Ok(report)
}

/// Logs a finished ingest and, unless quiet, prints its summary; shared with `simgap run`.
pub fn log_report(report: &IngestReport, global: &GlobalArgs) {
    let files_read = report.files.iter().filter(|f| !f.cached).count();
    tracing::info!(
        read = report.read,
        accepted = report.accepted,
        rejected = report.rejected,
        files_read,
        files_cached = report.files.len() - files_read,
        seconds = format!("{:.2}", report.seconds),
        "ingest done: {}",
        report.conversations_file.display()
    );
    if !global.quiet {
        eprint!("{}", ingest::summary(report));
        if report.rejected > 0 {
            eprintln!("rejected records: {}", report.rejects_file.display());
        }
    }
}

pub fn outcome_of(report: &IngestReport) -> Outcome {
    if report.rejected > 0 { Outcome::WithRejects } else { Outcome::Clean }
}
