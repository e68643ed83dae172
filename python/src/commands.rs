//! The CLI's commands run in-process: `simgap run` and `simgap ingest` on a pipeline file, with the same checks,
//! outputs, manifest and exit codes (`simgap::cli`), and a pipeline file written from Python's settings.
//!
//! Consumes: a pipeline file's path (or its settings as JSON). Produces: the command's exit code (0, or 3 with
//! rejected records), a `SimgapError` otherwise; the output folder as the CLI writes it.

use std::path::PathBuf;
use std::sync::Once;

use pyo3::prelude::*;

use simgap::cli::global::{GlobalArgs, LogFormat};
use simgap::cli::outcome::Outcome;
use simgap::cli::{Command, execute};

use crate::errors::{config_error, to_python};

static LOGS: Once = Once::new();

/// The flags of a quiet CLI: warnings and errors on stderr, no progress bars.
fn quiet() -> GlobalArgs {
    let global = GlobalArgs { verbose: 0, quiet: true, threads: None, log_format: LogFormat::Text };
    LOGS.call_once(|| simgap::cli::logging::init(&global));
    global
}

fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Clean => 0,
        Outcome::WithRejects => 3,
    }
}

/// `simgap run PIPELINE [--out OUT] [--force] [--strict]` but its line on stdout (the result names the folder);
/// returns the exit code (0, or 3 with rejected records).
#[pyfunction]
#[pyo3(signature = (pipeline, out=None, force=false, strict=false))]
pub fn run_pipeline(
    py: Python<'_>,
    pipeline: PathBuf,
    out: Option<PathBuf>,
    force: bool,
    strict: bool,
) -> PyResult<u8> {
    let global = quiet();
    let args = simgap::cli::run::Args { pipeline, out, strict, force, shard: None, parts: None };
    let ran = py.detach(|| simgap::cli::run::run_without_summary(args, &global));
    ran.map(|(outcome, _)| exit_code(outcome)).map_err(to_python)
}

/// `simgap ingest PIPELINE [--out OUT] [--strict]`; returns the exit code.
#[pyfunction]
#[pyo3(signature = (pipeline, out=None, strict=false))]
pub fn ingest_pipeline(py: Python<'_>, pipeline: PathBuf, out: Option<PathBuf>, strict: bool) -> PyResult<u8> {
    let global = quiet();
    let command = Command::Ingest(simgap::cli::ingest::Args { pipeline, out, strict });
    py.detach(|| execute(command, &global)).map(exit_code).map_err(to_python)
}

/// A pipeline file's text (TOML) from its tables as JSON, checked by parsing it as `simgap run` will (relative paths
/// resolve against `base_dir`).
#[pyfunction]
pub fn pipeline_toml(settings_json: &str, base_dir: PathBuf) -> PyResult<String> {
    let value: serde_json::Value =
        serde_json::from_str(settings_json).map_err(|e| config_error(format!("pipeline settings: {e}")))?;
    let text = toml::to_string(&value).map_err(|e| config_error(format!("pipeline settings: {e}")))?;
    let path = base_dir.join("pipeline.toml");
    simgap::pipeline::config::PipelineConfig::parse(&text, &path, &base_dir)
        .map_err(|e| to_python(anyhow::Error::new(e)))?;
    Ok(text)
}

/// `simgap run PIPELINE --shard INDEX/COUNT [--parts PARTS] [--out OUT]` but its line on stdout: the shard's next
/// round. Returns (round, seconds).
#[pyfunction]
#[pyo3(signature = (pipeline, index, count, parts=None, out=None))]
pub fn shard_round(
    py: Python<'_>,
    pipeline: PathBuf,
    index: usize,
    count: usize,
    parts: Option<PathBuf>,
    out: Option<PathBuf>,
) -> PyResult<(String, f64)> {
    quiet();
    let shard = format!("{index}/{count}").parse::<simgap::pipeline::shards::Shard>().map_err(config_error)?;
    let args = simgap::cli::shard::ShardArgs { pipeline, out, parts, strict: false, force: false };
    let report = py.detach(|| simgap::cli::shard::shard_round(&args, shard, false)).map_err(to_python)?;
    Ok((report.round, report.seconds))
}

/// `simgap merge PIPELINE [--parts PARTS...] [--out OUT]` but its line on stdout. Returns (the round merged, the
/// next round) while rounds remain, else ("done", exit code as text: "0", or "3" with rejected records).
#[pyfunction]
#[pyo3(signature = (pipeline, parts=Vec::new(), out=None))]
pub fn merge_parts(
    py: Python<'_>,
    pipeline: PathBuf,
    parts: Vec<PathBuf>,
    out: Option<PathBuf>,
) -> PyResult<(String, String)> {
    let global = quiet();
    let args = simgap::cli::merge::Args { pipeline, out, parts };
    match py.detach(|| simgap::cli::merge::merge_without_summary(args, &global)).map_err(to_python)? {
        simgap::cli::merge::MergeOutcome::Round { round, next, .. } => Ok((round.to_owned(), next.to_owned())),
        simgap::cli::merge::MergeOutcome::Done { outcome, .. } => Ok(("done".into(), exit_code(outcome).to_string())),
    }
}
