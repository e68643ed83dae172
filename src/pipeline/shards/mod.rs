//! A pipeline cut into N shards that run apart (Slurm array tasks, Ray or Spark tasks, plain processes) and merges
//! that join their partial results into what `simgap run` writes, byte for byte in every table.
//!
//! Consumes: the pipeline, a shard `I/N` and a parts folder every shard and the merge can read (a shared file
//! system). Produces, round by round, each shard's partial result in `PARTS/<round>/I-of-N.*` and each merge's
//! result in `PARTS/merged/`; the last merge leaves there every table of the run, which the driver (`simgap merge`)
//! turns into the output folder through `simgap run`'s own generations, manifest, history and report.
//!
//! The rounds are the barriers the data has: each needs something of every shard first.
//! 1. ingest: the shard's input files (a contiguous range of the sorted file list) into the ingest cache parts
//!    (`OUT/.cache/ingest`); the merge joins every part in input order into `conversations.parquet`, applying the
//!    rules across records (one kind per source, unique ids), as `simgap run` does with its cache.
//! 2. frequencies: the lexical document frequencies of the shard's rows (a contiguous range of the conversations
//!    table); the merge sums them (counts).
//! 3. features: the shard's feature rows and the sampling keys of (source, conversation id); the merge joins the
//!    rows into `features.parquet` and the keys into the fit sample's plan.
//! 4. sample: the shard's rows of the fit sample; the merge fits the codebooks on the whole sample.
//! 5. assign: the shard's cluster labels and the divergence stage's tally (counts, exact sums, sampled words, USI
//!    inputs); the merge joins the labels into `assignments.parquet`, merges the tallies and writes the tables.
//!
//! Invariants: a shard's work depends only on the merged results before its round and its own rows, and every
//! partial result merges exactly (counts add, sums are exact, samples are chosen by a seeded hash), so the tables
//! do not depend on N. A shard rerun (a retried task) rewrites its own files atomically; a merge names every
//! shard it lacks and writes nothing. Cost: each round reads the shard's rows once; the merges are sequential:
//! joining the tables (I/O), the codebook fit on `sample_size` rows, and the statistics on the merged counts.

mod merges;
mod parts;
mod rounds;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::PipelineConfig;
pub use merges::section_file;
pub use parts::{MERGED_DIR, Parts, ROUNDS, Shard, ShardError};
use parts::{MergeState, io_error};

/// The SHA-256 of the pipeline file, which ties parts to the pipeline that made them.
fn pipeline_hash(config: &PipelineConfig) -> Result<String, ShardError> {
    crate::hashing::sha256_file(&config.file).map_err(|e| io_error(&config.file, e))
}

/// The round a shard runs next (0-based), checked against what the merges recorded: the same pipeline, the same N.
fn next_round(config: &PipelineConfig, parts: &Parts, shards: usize) -> Result<usize, ShardError> {
    let hash = pipeline_hash(config)?;
    match parts.state()? {
        None => Ok(0),
        Some(state) if state.pipeline != hash => Err(ShardError::Config(format!(
            "{} holds the parts of another pipeline file (or of an earlier version of {}): remove it, or give \
             another --parts folder",
            parts.dir.display(),
            config.file.display()
        ))),
        Some(state) if state.shards != shards => Err(ShardError::Config(format!(
            "{} holds parts of a run in {} shards, not {shards}: keep N the same across rounds, or remove it",
            parts.dir.display(),
            state.shards
        ))),
        Some(state) => Ok(state.merged),
    }
}

/// Settings a sharded run does not support, refused before any work.
fn check_supported(config: &PipelineConfig) -> Result<(), ShardError> {
    if config.features.embeddings.is_some() {
        return Err(ShardError::Config(
            "[features.embeddings] is not supported in a sharded run yet: run `simgap run` without --shard".into(),
        ));
    }
    Ok(())
}

/// What one shard did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardReport {
    pub round: String,
    pub shard: String,
    /// Rows (conversations, or files in the ingest round) the shard had.
    pub items: u64,
    pub seconds: f64,
}

/// Runs the next round of `shard`: the round after the last one merged in `parts`. Safe to rerun (a retried
/// task): the shard's files are rewritten whole.
pub fn run_shard(
    config: &PipelineConfig,
    out_dir: &Path,
    parts: &Parts,
    shard: Shard,
    progress: bool,
) -> Result<ShardReport, ShardError> {
    check_supported(config)?;
    let round = next_round(config, parts, shard.count)?;
    if round == ROUNDS.len() {
        return Err(ShardError::Config(format!(
            "every round of {} is merged already: the results are in {} (remove {} to start again)",
            parts.dir.display(),
            out_dir.display(),
            parts.dir.display()
        )));
    }
    let started = std::time::Instant::now();
    let dir = parts.round_dir(round);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let work = rounds::ShardWork { config, out_dir, parts, shard, progress };
    let items = match round {
        0 => work.ingest()?,
        1 => work.frequencies()?,
        2 => work.features()?,
        3 => work.sample()?,
        _ => work.assign()?,
    };
    let report = ShardReport {
        round: ROUNDS[round].to_owned(),
        shard: shard.to_string(),
        items,
        seconds: started.elapsed().as_secs_f64(),
    };
    let done = parts.done_file(round, shard);
    let text = serde_json::to_string(&report).map_err(|e| io_error(&done, e))?;
    crate::atomic::write_atomic(&done, text.as_bytes()).map_err(|e| io_error(&done, e))?;
    Ok(report)
}

/// What a merge did: a round merged, with more to come, or the last one, whose tables are ready for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    Round { round: &'static str, next: &'static str, shards: usize },
    Ready { merged_dir: PathBuf, shards: usize },
}

/// Merges the round every shard has finished. `parts` are searched in order for each shard's files (shards may
/// have written to folders of their own); the merged results go to the first. A shard none of them has is an error
/// naming it, and nothing is written.
pub fn merge(config: &PipelineConfig, out_dir: &Path, parts: &[Parts]) -> Result<Merged, ShardError> {
    check_supported(config)?;
    let first = parts.first().ok_or_else(|| ShardError::Config("no parts folder given".into()))?;
    let count = shard_count(parts, first)?;
    let round = next_round(config, first, count)?;
    if round == ROUNDS.len() {
        return Ok(Merged::Ready { merged_dir: first.merged(), shards: count });
    }
    let found = find_shards(parts, round, count)?;
    let merged = first.merged();
    std::fs::create_dir_all(&merged).map_err(|e| io_error(&merged, e))?;
    let work = merges::MergeWork { config, out_dir, parts: first, found: &found };
    match round {
        0 => work.ingest()?,
        1 => work.frequencies()?,
        2 => work.features()?,
        3 => work.sample()?,
        _ => work.assign()?,
    }
    first.write_state(&MergeState { merged: round + 1, shards: count, pipeline: pipeline_hash(config)? })?;
    share_merged(first, &parts[1..])?;
    Ok(if round + 1 == ROUNDS.len() {
        Merged::Ready { merged_dir: merged, shards: count }
    } else {
        Merged::Round { round: ROUNDS[round], next: ROUNDS[round + 1], shards: count }
    })
}

/// Shards that write to folders of their own read the merged results from there: each other folder gets
/// `merged` as a link to the first folder's.
fn share_merged(first: &Parts, others: &[Parts]) -> Result<(), ShardError> {
    let target = std::path::absolute(first.merged()).map_err(|e| io_error(&first.merged(), e))?;
    for folder in others {
        let link = folder.merged();
        if std::fs::read_link(&link).is_ok_and(|at| at == target) || link == target {
            continue;
        }
        if link.exists() {
            return Err(ShardError::Config(format!(
                "{} exists and is not a link to {}: give the folder that holds the merged results first",
                link.display(),
                target.display()
            )));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).map_err(|e| io_error(&link, e))?;
        #[cfg(not(unix))]
        return Err(ShardError::Config("several parts folders need symbolic links (Unix)".into()));
    }
    Ok(())
}

/// N: from the merges so far, else from the shard files of the first round.
fn shard_count(parts: &[Parts], first: &Parts) -> Result<usize, ShardError> {
    if let Some(state) = first.state()? {
        return Ok(state.shards);
    }
    let mut counts = std::collections::BTreeSet::new();
    for folder in parts {
        let dir = folder.round_dir(0);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(count) = name.strip_suffix(".done.json").and_then(|s| s.split_once("-of-")).map(|(_, n)| n) {
                counts.insert(count.parse::<usize>().map_err(|e| io_error(&entry.path(), e))?);
            }
        }
    }
    match counts.len() {
        1 => Ok(*counts.first().expect("one")),
        0 => Err(ShardError::Missing(format!(
            "no shard has finished the ingest round in {}: run `simgap run PIPELINE --shard I/N` for every I first",
            parts.iter().map(|p| p.dir.display().to_string()).collect::<Vec<_>>().join(", ")
        ))),
        _ => Err(ShardError::Config(format!(
            "shards of runs in {} different numbers of shards ({counts:?}) are in the parts folders: remove the \
             stale ones",
            counts.len()
        ))),
    }
}

/// The parts folder of each shard's files of `round`, or an error naming every shard that is missing.
fn find_shards(parts: &[Parts], round: usize, count: usize) -> Result<Vec<(Shard, Parts)>, ShardError> {
    let mut found = Vec::with_capacity(count);
    let mut missing = Vec::new();
    for index in 0..count {
        let shard = Shard { index, count };
        match parts.iter().find(|p| p.done_file(round, shard).is_file()) {
            Some(folder) => found.push((shard, folder.clone())),
            None => missing.push(shard),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
    Err(ShardError::Missing(format!(
        "round {} ({}) cannot be merged: {} of {count} shards have not finished it: {} (no {} in {}); run \
         `simgap run PIPELINE --shard I/{count}` for them, then merge again",
        round + 1,
        ROUNDS[round],
        missing.len(),
        names.join(", "),
        parts[0].done_file(round, missing[0]).file_name().unwrap_or_default().to_string_lossy(),
        parts.iter().map(|p| p.round_dir(round).display().to_string()).collect::<Vec<_>>().join(", ")
    )))
}
