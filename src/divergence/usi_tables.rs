//! The User-Sim Index tables: per compared source its USI with the published scorer's bootstrap spread and an
//! interval for the truth, per feature the two means and their Dice, and the task difficulties ECE used.
//!
//! Consumes: every source's USI [`Side`], the interned [`Tasks`], a frozen difficulty map where one was given, and
//! the stage's settings ([`Context`]). Produces, in OUT: `usi.parquet` (source, sizes, D1-D4, Eval, ECE, USI with
//! `usi_lo` / `usi_hi`, `usi_interval_lo` / `_hi`, its terms, the per-batch mean and spread, the human ceiling and a
//! note naming the terms left out), `usi_features.parquet` (per source and feature: reference and source means and
//! Dice) and `usi_difficulty.json` (task id -> success rate). Cost: `usi_bootstrap` scores per compared source, in
//! parallel.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;

use super::comparison::interval;
use super::config::{DivergenceConfig, DivergenceError};
use super::tables::{Context, USI_DIFFICULTY_FILE, USI_FEATURES_FILE, USI_FILE, metadata};
use super::usi::{
    self, Comparison, Score, Side, TaskScope, Tasks, batch_ceiling, difficulty, feature_columns, mean_std,
};
use crate::table::{TableBuilder, WriteError};

/// One compared source's USI and its intervals.
struct UsiResult {
    source: usize,
    score: Score,
    /// The published scorer's bootstrap percentile spread.
    lo: f64,
    hi: f64,
    /// The interval for the true USI ([`super::usi_interval::interval_for_truth`]).
    truth: (f64, f64),
    /// Mean and standard deviation of the USI against each batch (run) of the reference.
    batch: (f64, f64),
}

/// The human ceiling: mean and spread of the USI between the reference's batches.
struct Ceiling {
    mean: f64,
    std: f64,
}

impl Context<'_> {
    /// `usi.parquet`, `usi_features.parquet` and `usi_difficulty.json`.
    pub fn write_usi(
        &self,
        sides: &[Side],
        tasks: &Tasks,
        frozen: Option<&BTreeMap<String, f64>>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<PathBuf>, DivergenceError> {
        let task_difficulty = self.task_difficulty(sides, tasks, frozen);
        let reference = &sides[self.reference];
        if !tasks.names.is_empty() && task_difficulty.iter().all(Option::is_none) && reference.has_outcomes {
            warnings.push(format!(
                "no task has {} pooled simulator runs: no ECE (give a frozen difficulty file with usi_difficulty)",
                usi::MIN_DIFFICULTY_RUNS
            ));
        }
        let n_tasks = tasks.names.len();
        let batches = reference.batches();
        let (mean, std) = batch_ceiling(&batches, &task_difficulty, n_tasks, self.config.usi_tasks);
        let results = self.usi_results(sides, &batches, &task_difficulty, n_tasks);
        for result in results.iter().filter(|r| r.score.shared_tasks == Some(0)) {
            if self.config.usi_tasks == TaskScope::Shared {
                warnings.push(format!(
                    "usi: {} ran none of the tasks of {}: no D1-D4 (where the two name tasks differently, set \
                     [divergence] usi_tasks = \"all\" to compare every conversation)",
                    self.assignments.sources[result.source], self.assignments.sources[self.reference]
                ));
            }
        }
        Ok(vec![
            self.write_usi_table(sides, &results, &Ceiling { mean, std })?,
            self.write_usi_features(&results)?,
            self.write_difficulty(tasks, &task_difficulty)?,
        ])
    }

    /// Per task its success rate: the frozen map's, else pooled over the compared simulators.
    fn task_difficulty(
        &self,
        sides: &[Side],
        tasks: &Tasks,
        frozen: Option<&BTreeMap<String, f64>>,
    ) -> Vec<Option<f64>> {
        match frozen {
            Some(map) => tasks.names.iter().map(|t| map.get(t).copied()).collect(),
            None => {
                let pool: Vec<&Side> = self.compared.iter().map(|&s| &sides[s]).filter(|s| s.simulator).collect();
                difficulty(&pool, tasks.names.len())
            }
        }
    }

    /// Every compared source's score, bootstrap spread, interval for the truth and per-batch spread.
    /// `batches`: the reference's runs, each a side of its own.
    fn usi_results(
        &self,
        sides: &[Side],
        batches: &[Side],
        task_difficulty: &[Option<f64>],
        n_tasks: usize,
    ) -> Vec<UsiResult> {
        let config = self.config;
        let reference = &sides[self.reference];
        self.compared
            .iter()
            .map(|&s| {
                let comparison = Comparison::new(reference, &sides[s], task_difficulty, n_tasks, config.usi_tasks);
                let score = comparison.point(n_tasks);
                let replicates: Vec<Score> = (0..config.usi_bootstrap)
                    .into_par_iter()
                    .map(|b| comparison.replicate(config.seed, b, n_tasks))
                    .collect();
                let mut values: Vec<f64> = replicates.iter().map(|r| r.usi).filter(|v| !v.is_nan()).collect();
                let (lo, hi) = interval(&mut values, score.usi);
                let truth =
                    super::usi_interval::interval_for_truth(&score, &replicates).unwrap_or((f64::NAN, f64::NAN));
                let per_batch: Vec<f64> = batches
                    .iter()
                    .map(|batch| {
                        Comparison::new(batch, &sides[s], task_difficulty, n_tasks, config.usi_tasks).point(n_tasks).usi
                    })
                    .collect();
                UsiResult { source: s, score, lo, hi, truth, batch: mean_std(&per_batch) }
            })
            .collect()
    }

    /// `usi.parquet`.
    fn write_usi_table(
        &self,
        sides: &[Side],
        rows: &[UsiResult],
        ceiling: &Ceiling,
    ) -> Result<PathBuf, DivergenceError> {
        let a = self.assignments;
        let path = self.path(USI_FILE);
        TableBuilder::new()
            .text("source", rows.iter().map(|r| a.sources[r.source].as_str()))
            .text("reference", rows.iter().map(|_| a.sources[self.reference].as_str()))
            .text("kind", rows.iter().map(|r| self.kind(r.source)))
            .unsigned("n_reference", rows.iter().map(|_| sides[self.reference].conversations))
            .unsigned("n_source", rows.iter().map(|r| sides[r.source].conversations))
            .float("shared_tasks", rows.iter().map(|r| r.score.shared_tasks.map_or(f64::NAN, |t| t as f64)))
            .float("d1", rows.iter().map(|r| r.score.d[0]))
            .float("d2", rows.iter().map(|r| r.score.d[1]))
            .float("d3", rows.iter().map(|r| r.score.d[2]))
            .float("d4", rows.iter().map(|r| r.score.d[3]))
            .float("eval", rows.iter().map(|r| r.score.eval.unwrap_or(f64::NAN)))
            .float("ece", rows.iter().map(|r| r.score.ece.unwrap_or(f64::NAN)))
            .float("usi", rows.iter().map(|r| r.score.usi))
            .float("usi_lo", rows.iter().map(|r| r.lo))
            .float("usi_hi", rows.iter().map(|r| r.hi))
            .float("usi_interval_lo", rows.iter().map(|r| r.truth.0))
            .float("usi_interval_hi", rows.iter().map(|r| r.truth.1))
            .unsigned("usi_terms", rows.iter().map(|r| r.score.terms as u64))
            .float("usi_batch_mean", rows.iter().map(|r| r.batch.0))
            .float("usi_batch_std", rows.iter().map(|r| r.batch.1))
            .float("human_ceiling_usi", rows.iter().map(|_| ceiling.mean))
            .float("human_ceiling_usi_std", rows.iter().map(|_| ceiling.std))
            .text("note", rows.iter().map(|r| note(r, self.config)))
            .write(&path, &metadata(self.config))?;
        Ok(path)
    }

    /// `usi_features.parquet`.
    fn write_usi_features(&self, rows: &[UsiResult]) -> Result<PathBuf, DivergenceError> {
        let a = self.assignments;
        let columns = feature_columns();
        let feature_rows: Vec<(&UsiResult, usize)> =
            rows.iter().flat_map(|r| (0..columns.len()).map(move |j| (r, j))).collect();
        let path = self.path(USI_FEATURES_FILE);
        TableBuilder::new()
            .text("source", feature_rows.iter().map(|(r, _)| a.sources[r.source].as_str()))
            .text("reference", feature_rows.iter().map(|_| a.sources[self.reference].as_str()))
            .text("feature", feature_rows.iter().map(|(_, j)| columns[*j].0))
            .text("dimension", feature_rows.iter().map(|(_, j)| format!("D{}", columns[*j].1 + 1)))
            .float("reference_mean", feature_rows.iter().map(|(r, j)| r.score.features[*j].reference_mean))
            .float("source_mean", feature_rows.iter().map(|(r, j)| r.score.features[*j].source_mean))
            .float("dice", feature_rows.iter().map(|(r, j)| r.score.features[*j].dice))
            .write(&path, &metadata(self.config))?;
        Ok(path)
    }

    /// `usi_difficulty.json`: the tasks with a difficulty, by id.
    fn write_difficulty(&self, tasks: &Tasks, task_difficulty: &[Option<f64>]) -> Result<PathBuf, DivergenceError> {
        let path = self.path(USI_DIFFICULTY_FILE);
        let known: BTreeMap<&str, f64> =
            tasks.names.iter().zip(task_difficulty).filter_map(|(t, d)| d.map(|d| (t.as_str(), d))).collect();
        let write_error = |e: &dyn std::fmt::Display| {
            DivergenceError::Write(WriteError { path: path.clone(), message: e.to_string() })
        };
        let mut bytes = serde_json::to_vec_pretty(&known).map_err(|e| write_error(&e))?;
        bytes.push(b'\n');
        crate::atomic::write_atomic(&path, &bytes).map_err(|e| write_error(&e))?;
        Ok(path)
    }
}

/// The row's note: how many terms the USI averages, which are missing and why, and the task scope.
fn note(result: &UsiResult, config: &DivergenceConfig) -> String {
    let score = &result.score;
    let mut missing = Vec::new();
    if score.eval.is_none() {
        missing.push("no Eval (surveys and task ids on both sides needed)");
    }
    if score.ece.is_none() {
        missing.push("no ECE (outcomes, task ids and task difficulties needed)");
    }
    let scope = match (config.usi_tasks, score.shared_tasks) {
        (TaskScope::All, Some(_)) => "; D1-D4 over every conversation (usi_tasks = all)",
        _ => "",
    };
    format!(
        "mean of {} terms{}{}{}",
        score.terms,
        if missing.is_empty() { "" } else { ": " },
        missing.join("; "),
        scope
    )
}
