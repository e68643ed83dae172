//! `simgap merge PIPELINE.toml --parts DIR...`: joins a round of a sharded run once every shard has done it; the
//! last merge writes OUT as `simgap run` does. Also `simgap run --shard I/N`, one shard's round.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use super::run::Stages;
use crate::ingest::SourceKind;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::shards::{self, Merged, Parts, ROUNDS, Shard, ShardError};

/// Join one round of a sharded run (`simgap run PIPELINE --shard I/N`) once every shard has done it.
///
/// A sharded run has five rounds: ingest (each shard reads its input files), frequencies (the lexical document
/// frequencies of its rows), features (its feature rows and sampling keys), sample (its rows of the codebooks' fit
/// sample), assign (its cluster labels and divergence tally). Each round is every shard, then one merge; the
/// merge prints which round comes next. docs/scale.md has the loop for Slurm job arrays.
///
/// Reads: the pipeline file; each shard's files of the round in the parts folders (searched in order: shards may
/// write to folders of their own), and the merged results of the rounds before (in the first folder); at the last
/// round, what `simgap run` reads of OUT (manifest.json, history).
///
/// Writes: the merged results of the round in DIR/merged/ (the first folder): conversations.parquet and
/// rejects.jsonl; the document frequencies; features.parquet, features_rejects.jsonl and the sample's keys; the
/// codebooks; assignments.parquet and the divergence tables. After the fifth round, OUT as `simgap run` writes it
/// (a new generation with every output, the manifest, the night in the history, the report), each table equal, byte
/// for byte, to what `simgap run` writes for the same pipeline and seed, whatever N was. A shard none of the folders
/// has is an error naming it (exit 1), and nothing is written.
///
/// Cost: sequential on this machine: joining the shards' tables (about the disk of conversations.parquet and
/// features.parquet), the codebook fits on `sample_size` rows, the statistics on the merged counts and the report.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML) the shards ran.
    pub pipeline: PathBuf,
    /// Output folder; overrides [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The parts folders the shards wrote to. Default OUT/.shards.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub parts: Vec<PathBuf>,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let config = PipelineConfig::load(&args.pipeline)?;
    let out_dir = config.out_dir(args.out.as_ref())?;
    let parts: Vec<Parts> = if args.parts.is_empty() {
        vec![Parts::new(Parts::default_for(&out_dir))]
    } else {
        args.parts.iter().cloned().map(Parts::new).collect()
    };
    match shards::merge(&config, &out_dir, &parts).map_err(into_anyhow)? {
        Merged::Round { round, next, shards } => {
            let line = format!(
                "merged round {round} of {shards} shards; next round: {next} (`simgap run {} --shard I/{shards}` for \
                 every I, then `simgap merge` again)\n",
                args.pipeline.display()
            );
            super::outcome::print_to_stdout(&line)?;
            Ok(Outcome::Clean)
        }
        Merged::Ready { merged_dir, .. } => {
            let run_args = super::run::Args {
                pipeline: args.pipeline,
                out: args.out,
                strict: false,
                force: false,
                shard: None,
                parts: None,
            };
            let (outcome, out_dir) = super::run::run_stages(run_args, global, Stages::Merged(&merged_dir))?;
            super::outcome::print_to_stdout(&super::run::where_the_results_are(&out_dir, outcome))?;
            Ok(outcome)
        }
    }
}

/// `simgap run PIPELINE --shard I/N`: the shard's next round.
pub fn run_shard(args: &super::run::Args, shard: Shard) -> anyhow::Result<Outcome> {
    if args.strict || args.force {
        anyhow::bail!(ShardError::Config("--strict and --force are not supported with --shard".into()));
    }
    let config = PipelineConfig::load(&args.pipeline)?;
    let out_dir = config.out_dir(args.out.as_ref())?;
    let parts = Parts::new(args.parts.clone().unwrap_or_else(|| Parts::default_for(&out_dir)));
    let report = shards::run_shard(&config, &out_dir, &parts, shard).map_err(into_anyhow)?;
    let round = ROUNDS.iter().position(|r| *r == report.round).unwrap_or(0) + 1;
    let line = format!(
        "shard {}: round {round} of {} ({}) done in {:.2} s; when every shard has, run `simgap merge {}{}`\n",
        report.shard,
        ROUNDS.len(),
        report.round,
        report.seconds,
        args.pipeline.display(),
        args.parts.as_ref().map(|p| format!(" --parts {}", p.display())).unwrap_or_default()
    );
    super::outcome::print_to_stdout(&line)?;
    Ok(Outcome::Clean)
}

/// A stage's own error keeps its type (and so its exit code); the others are the shards'.
fn into_anyhow(error: ShardError) -> anyhow::Error {
    match error {
        ShardError::Stage(inner) => inner,
        other => other.into(),
    }
}

/// What the driver needs of the merged ingest: the outcome, the conversations accepted and the sources.
#[derive(Debug, serde::Deserialize)]
pub struct IngestCounts {
    accepted: u64,
    rejected: u64,
    sources: BTreeMap<String, serde_json::Value>,
}

impl IngestCounts {
    pub fn outcome(&self) -> (Outcome, Option<u64>, Option<Vec<(String, SourceKind)>>) {
        let sources = self
            .sources
            .iter()
            .filter_map(|(name, count)| {
                let kind = count.get("kind").and_then(|k| k.as_str()).and_then(SourceKind::parse)?;
                Some((name.clone(), kind))
            })
            .collect();
        let outcome = if self.rejected > 0 { Outcome::WithRejects } else { Outcome::Clean };
        (outcome, Some(self.accepted), Some(sources))
    }
}

/// `files` of the merged folder put into the run's generation (linked, or copied across file systems), and the
/// stage's manifest section with its paths moved there too.
pub fn take_merged(
    merged: &Path,
    generation: &Path,
    files: &[&str],
    stage: &str,
) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let outputs =
        files.iter().map(|name| place(&merged.join(name), &generation.join(name))).collect::<Result<_, _>>()?;
    Ok((outputs, section(merged, generation, stage)?))
}

/// The cluster stage's outputs: the codebooks (those of facets not fitted this time removed) and the labels.
pub fn take_merged_cluster(merged: &Path, generation: &Path) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let dir = crate::cluster::CODEBOOKS_DIR;
    let mut outputs = vec![place(
        &merged.join(crate::cluster::ASSIGNMENTS_FILE),
        &generation.join(crate::cluster::ASSIGNMENTS_FILE),
    )?];
    let fitted: Vec<String> = serde_json::from_slice(&std::fs::read(merged.join("codebook_facets.json"))?)?;
    let target = generation.join(dir);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    for entry in std::fs::read_dir(&target)? {
        let path = entry?.path();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_some_and(|e| e == "json") && !fitted.contains(&stem) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for facet in &fitted {
        let name = format!("{facet}.json");
        outputs.push(place(&merged.join(dir).join(&name), &target.join(&name))?);
    }
    Ok((outputs, section(merged, generation, "cluster")?))
}

/// The divergence stage's tables, as its manifest section lists them.
pub fn take_merged_divergence(merged: &Path, generation: &Path) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let section = section(merged, generation, "divergence")?;
    let files = section["files"].as_array().context("the merged divergence section lists no files")?;
    let mut outputs = Vec::new();
    for file in files {
        let path = PathBuf::from(file.as_str().context("a file that is not a path")?);
        let name = path.file_name().context("a file without a name")?;
        outputs.push(place(&merged.join(name), &generation.join(name))?);
    }
    Ok((outputs, section))
}

/// The stage's manifest section the merge wrote, its paths into `merged` moved into `generation`.
fn section(merged: &Path, generation: &Path, stage: &str) -> anyhow::Result<serde_json::Value> {
    let path = merged.join(shards::section_file(stage));
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (from, to) = (merged.to_string_lossy().into_owned(), generation.to_string_lossy().into_owned());
    Ok(serde_json::from_str(&text.replace(&from, &to)).with_context(|| format!("reading {}", path.display()))?)
}

/// `from` at `to`: a hard link, or a copy where the two are on different file systems; whatever was at `to` goes.
fn place(from: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    if to.exists() {
        std::fs::remove_file(to).with_context(|| format!("removing {}", to.display()))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(to.to_owned())
}
