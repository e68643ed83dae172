//! `simgap run PIPELINE --shard I/N`: one shard's next round of a sharded run (see `simgap merge --help` and
//! docs/scale.md).

use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::shards::{self, Parts, ROUNDS, Shard, ShardError};

/// What `--shard` takes of `simgap run`'s arguments.
pub struct ShardArgs {
    pub pipeline: PathBuf,
    pub out: Option<PathBuf>,
    pub parts: Option<PathBuf>,
    pub strict: bool,
    pub force: bool,
}

/// `simgap run PIPELINE --shard I/N`: the shard's next round.
pub fn run(args: &ShardArgs, shard: Shard, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let report = shard_round(args, shard, !global.quiet)?;
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

/// The shard's next round, without the line on stdout.
pub fn shard_round(args: &ShardArgs, shard: Shard, progress: bool) -> anyhow::Result<shards::ShardReport> {
    if args.strict || args.force {
        anyhow::bail!(ShardError::Config("--strict and --force are not supported with --shard".into()));
    }
    let config = PipelineConfig::load(&args.pipeline)?;
    let out_dir = config.out_dir(args.out.as_ref())?;
    let parts = Parts::new(args.parts.clone().unwrap_or_else(|| Parts::default_for(&out_dir)));
    shards::run_shard(&config, &out_dir, &parts, shard, progress).map_err(into_anyhow)
}

/// A stage's own error keeps its type (and so its exit code); the others are the shards'.
pub fn into_anyhow(error: ShardError) -> anyhow::Error {
    match error {
        ShardError::Stage(inner) => inner,
        other => other.into(),
    }
}
