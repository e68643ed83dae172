//! `simgap merge PIPELINE.toml --parts DIR...`: joins a round of a sharded run once every shard has done it; the
//! last merge writes OUT as `simgap run` does.

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use super::run::Stages;
use super::shard::into_anyhow;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::shards::{self, Merged, Parts};

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
/// rejects.jsonl; the document frequencies; features.parquet, features_rejects.jsonl and the fit sample's plan; the
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
    let pipeline = args.pipeline.clone();
    let (line, outcome) = match merge_without_summary(args, global)? {
        MergeOutcome::Round { round, next, shards } => (
            format!(
                "merged round {round} of {shards} shards; next round: {next} (`simgap run {} --shard I/{shards}` for \
                 every I, then `simgap merge` again)\n",
                pipeline.display()
            ),
            Outcome::Clean,
        ),
        MergeOutcome::Done { outcome, out_dir } => (super::run::where_the_results_are(&out_dir, outcome), outcome),
    };
    super::outcome::print_to_stdout(&line)?;
    Ok(outcome)
}

/// What a merge did.
#[derive(Debug)]
pub enum MergeOutcome {
    /// A round merged; `next` comes.
    Round { round: &'static str, next: &'static str, shards: usize },
    /// The last round merged and OUT written.
    Done { outcome: Outcome, out_dir: PathBuf },
}

/// Everything `simgap merge` does but its line on stdout (for a library caller: the Python package's drivers).
pub fn merge_without_summary(args: Args, global: &GlobalArgs) -> anyhow::Result<MergeOutcome> {
    let config = PipelineConfig::load(&args.pipeline)?;
    let out_dir = config.out_dir(args.out.as_ref())?;
    let parts: Vec<Parts> = if args.parts.is_empty() {
        vec![Parts::new(Parts::default_for(&out_dir))]
    } else {
        args.parts.iter().cloned().map(Parts::new).collect()
    };
    match shards::merge(&config, &out_dir, &parts).map_err(into_anyhow)? {
        Merged::Round { round, next, shards } => Ok(MergeOutcome::Round { round, next, shards }),
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
            Ok(MergeOutcome::Done { outcome, out_dir })
        }
    }
}
