//! The User-Sim Index (shared/specs/usi.md sections 2-5): D1-D4 (Sorensen-Dice of aggregated feature means), ECE
//! (outcome calibration over task-difficulty bins) and Eval (agreement of survey answers), their mean, bootstrap
//! bounds, and the human ceiling between batches.
//!
//! Consumes: per conversation, its 19 USI feature values, task id, run, outcome and survey answers, gathered per
//! source into a [`Side`]. Produces: a [`Score`] per compared source (terms, USI, per-feature means and Dice).
//! How: a side keeps units, one per (task, run) when every conversation has a task id (then a comparison is
//! restricted to the tasks both sides ran, and the bootstrap resamples those tasks), else one per conversation (the
//! bootstrap resamples conversations within each side). With [`TaskScope::All`], D1-D4 take every conversation of
//! each side (the bootstrap resamples units within each side) while ECE and Eval still pair the shared tasks. Every
//! term is computed from weighted unit sums, so a bootstrap replicate only changes the weights. A side with several
//! runs gets a summary row per run, averaged. Gathering conversations into a [`Side`] is `usi/side.rs`'s.
//! Cost: O(units x 19) per score; the bootstrap multiplies that by its replicates.

use rand::Rng;
use serde::{Deserialize, Serialize};

mod side;

use side::QUESTIONS;
use side::TaskTotals;
pub use side::{Side, Tasks, USI_FEATURES, Unit, UsiRow, run_label};

use super::resample::stream;
use crate::features::usi::{Dimension, FEATURES};

/// Difficulty bin cut-offs.
const BIN_EDGES: [f64; 4] = [0.2, 0.4, 0.6, 0.8];
/// A task needs this many pooled runs to get a difficulty.
pub const MIN_DIFFICULTY_RUNS: u64 = 10;

/// The USI feature columns, in order, with their dimension (0..4).
pub fn feature_columns() -> Vec<(&'static str, usize)> {
    FEATURES
        .iter()
        .filter_map(|(def, dimension)| {
            let index = match dimension {
                Dimension::D1 => 0,
                Dimension::D2 => 1,
                Dimension::D3 => 2,
                Dimension::D4 => 3,
                Dimension::None => return None,
            };
            Some((def.name, index))
        })
        .collect()
}

/// Which conversations D1-D4 are computed over, where every conversation has a task id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TaskScope {
    /// The tasks both sides ran (shared/specs/usi.md section 2).
    #[default]
    Shared,
    /// Every conversation of each side, as the authors' scorer computes D1-D4 when handed two whole sets (their
    /// `restricted_to_shared_tasks = False`): for sides whose task ids do not name the same tasks (another
    /// benchmark, another language). ECE and Eval compare a task with itself and still use the shared tasks.
    All,
}

/// Task success rates pooled over the reference set of simulator runs; tasks with fewer than
/// [`MIN_DIFFICULTY_RUNS`] runs get none.
pub fn difficulty(sides: &[&Side], tasks: usize) -> Vec<Option<f64>> {
    let mut successes = vec![0u64; tasks];
    let mut outcomes = vec![0u64; tasks];
    for side in sides {
        for unit in side.units.iter() {
            if let Some(task) = unit.task {
                successes[task as usize] += u64::from(unit.successes);
                outcomes[task as usize] += u64::from(unit.outcomes);
            }
        }
    }
    successes.iter().zip(&outcomes).map(|(&s, &n)| (n >= MIN_DIFFICULTY_RUNS).then(|| s as f64 / n as f64)).collect()
}

/// Mean and (population) standard deviation of the values that are numbers.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let values: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, variance.sqrt())
}

/// The human ceiling (usi.md section 5): USI of batch i against batch j over every pair i < j, mean and std.
pub fn batch_ceiling(batches: &[Side], difficulty: &[Option<f64>], tasks: usize, scope: TaskScope) -> (f64, f64) {
    let scores: Vec<f64> = (0..batches.len())
        .flat_map(|i| (i + 1..batches.len()).map(move |j| (i, j)))
        .map(|(i, j)| Comparison::new(&batches[j], &batches[i], difficulty, tasks, scope).point(tasks).usi)
        .collect();
    mean_std(&scores)
}

fn bin_of(difficulty: f64) -> usize {
    BIN_EDGES.iter().filter(|&&edge| difficulty >= edge).count()
}

/// One feature's row of `usi_features.parquet`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureScore {
    pub reference_mean: f64,
    pub source_mean: f64,
    pub dice: f64,
}

/// A source's USI against the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub d: [f64; 4],
    pub eval: Option<f64>,
    pub ece: Option<f64>,
    pub usi: f64,
    pub terms: usize,
    pub features: Vec<FeatureScore>,
    /// Tasks both sides ran (task mode) or None.
    pub shared_tasks: Option<usize>,
}

/// Sorensen-Dice similarity of two means: 2 min(|a|, |b|) / (|a| + |b|), 1 when both are 0.
pub fn dice(a: f64, b: f64) -> f64 {
    let (a, b) = (a.abs(), b.abs());
    if a + b == 0.0 { 1.0 } else { 2.0 * a.min(b) / (a + b) }
}

/// The summary row: per run, each feature's weighted mean; then the mean of the run rows.
fn summary(side: &Side, weights: &[f64]) -> [f64; USI_FEATURES] {
    let runs = side.runs.len();
    let mut sums = vec![[0.0; USI_FEATURES]; runs];
    let mut counts = vec![[0.0; USI_FEATURES]; runs];
    for (unit, &w) in side.units.iter().zip(weights) {
        if w == 0.0 {
            continue;
        }
        for j in 0..USI_FEATURES {
            sums[unit.run as usize][j] += w * unit.sums[j];
            counts[unit.run as usize][j] += w * f64::from(unit.present[j]);
        }
    }
    let mut row = [f64::NAN; USI_FEATURES];
    for (j, value) in row.iter_mut().enumerate() {
        let means: Vec<f64> = (0..runs).filter(|&r| counts[r][j] > 0.0).map(|r| sums[r][j] / counts[r][j]).collect();
        if !means.is_empty() {
            *value = means.iter().sum::<f64>() / means.len() as f64;
        }
    }
    row
}

/// How units are weighted in one computation: by task (task mode), per unit on each side (D1-D4 only), or per
/// unit for D1-D4 and by task for ECE and Eval ([`TaskScope::All`]).
pub enum Weights<'a> {
    Tasks(&'a [f64]),
    Units { reference: &'a [f64], source: &'a [f64] },
    UnitsAndTasks { reference: &'a [f64], source: &'a [f64], tasks: &'a [f64] },
}

/// Everything one comparison needs beside the weights.
pub struct Comparison<'a> {
    pub reference: &'a Side,
    pub source: &'a Side,
    pub difficulty: &'a [Option<f64>],
    reference_tasks: Vec<TaskTotals>,
    /// Tasks both sides ran; None when either side lacks task ids on some conversation.
    pub shared_tasks: Option<Vec<u32>>,
    pub scope: TaskScope,
}

impl<'a> Comparison<'a> {
    pub fn new(
        reference: &'a Side,
        source: &'a Side,
        difficulty: &'a [Option<f64>],
        tasks: usize,
        scope: TaskScope,
    ) -> Self {
        let reference_tasks = reference.by_task(tasks);
        let shared_tasks = (reference.all_tasks && source.all_tasks).then(|| {
            let source_tasks = source.by_task(tasks);
            (0..tasks as u32)
                .filter(|&t| reference_tasks[t as usize].present && source_tasks[t as usize].present)
                .collect()
        });
        Comparison { reference, source, difficulty, reference_tasks, shared_tasks, scope }
    }

    /// Whether D1-D4 take every conversation although both sides have task ids.
    fn features_over_all(&self) -> bool {
        self.scope == TaskScope::All && self.shared_tasks.is_some()
    }

    /// Task weights of the point estimate (1 on shared tasks), or unit weights of 1.
    pub fn unit_task_weights(&self, tasks: usize) -> Option<Vec<f64>> {
        self.shared_tasks.as_ref().map(|shared| {
            let mut weights = vec![0.0; tasks];
            for &t in shared {
                weights[t as usize] = 1.0;
            }
            weights
        })
    }

    pub fn score(&self, weights: &Weights<'_>) -> Score {
        let by_task = |side: &Side, task_weights: &[f64]| -> Vec<f64> {
            side.units.iter().map(|u| u.task.map_or(0.0, |t| task_weights[t as usize])).collect()
        };
        let (reference_weights, source_weights, task_weights) = match *weights {
            Weights::Tasks(tasks) => (by_task(self.reference, tasks), by_task(self.source, tasks), Some(tasks)),
            Weights::Units { reference, source } => (reference.to_vec(), source.to_vec(), None),
            Weights::UnitsAndTasks { reference, source, tasks } => (reference.to_vec(), source.to_vec(), Some(tasks)),
        };
        let reference_row = summary(self.reference, &reference_weights);
        let source_row = summary(self.source, &source_weights);
        let columns = feature_columns();
        let mut dimension_sums = [0.0; 4];
        let mut dimension_counts = [0usize; 4];
        let features: Vec<FeatureScore> = (0..USI_FEATURES)
            .map(|j| {
                let score = FeatureScore {
                    reference_mean: reference_row[j],
                    source_mean: source_row[j],
                    dice: if reference_row[j].is_nan() || source_row[j].is_nan() {
                        f64::NAN
                    } else {
                        dice(source_row[j], reference_row[j])
                    },
                };
                if !score.dice.is_nan() {
                    dimension_sums[columns[j].1] += score.dice;
                    dimension_counts[columns[j].1] += 1;
                }
                score
            })
            .collect();
        let d = std::array::from_fn(|k| {
            if dimension_counts[k] == 0 { f64::NAN } else { 100.0 * dimension_sums[k] / dimension_counts[k] as f64 }
        });
        let (ece, eval) = match task_weights {
            Some(tasks) => (self.ece(tasks), self.eval(tasks)),
            None => (None, None),
        };
        let mut terms: Vec<f64> = d.iter().copied().filter(|v: &f64| !v.is_nan()).collect();
        terms.extend(eval);
        terms.extend(ece.map(|e| 100.0 * (1.0 - e)));
        let usi = if terms.is_empty() { f64::NAN } else { terms.iter().sum::<f64>() / terms.len() as f64 };
        Score {
            d,
            eval,
            ece,
            usi,
            terms: terms.len(),
            features,
            shared_tasks: self.shared_tasks.as_ref().map(Vec::len),
        }
    }

    /// ECE per run of the source over the shared tasks with a difficulty, then the mean over runs.
    fn ece(&self, task_weights: &[f64]) -> Option<f64> {
        if !(self.reference.has_outcomes && self.source.has_outcomes) {
            return None;
        }
        let runs = self.source.runs.len();
        // Per run and bin: tasks (weighted), source successes and outcomes, reference successes and outcomes.
        let mut bins = vec![[[0.0; 5]; 5]; runs];
        for unit in &self.source.units {
            let Some(task) = unit.task else { continue };
            let (w, reference) = (task_weights[task as usize], &self.reference_tasks[task as usize]);
            let Some(difficulty) = self.difficulty[task as usize] else { continue };
            if w == 0.0 || unit.outcomes == 0 || reference.outcomes == 0 {
                continue;
            }
            let b = bin_of(difficulty);
            let cell = &mut bins[unit.run as usize];
            cell[0][b] += w;
            cell[1][b] += w * f64::from(unit.successes);
            cell[2][b] += w * f64::from(unit.outcomes);
            cell[3][b] += w * reference.successes as f64;
            cell[4][b] += w * reference.outcomes as f64;
        }
        let per_run: Vec<f64> = bins
            .iter()
            .filter_map(|cell| {
                let n: f64 = cell[0].iter().sum();
                (n > 0.0).then(|| {
                    (0..5)
                        .filter(|&b| cell[0][b] > 0.0)
                        .map(|b| cell[0][b] / n * (cell[1][b] / cell[2][b] - cell[3][b] / cell[4][b]).abs())
                        .sum::<f64>()
                })
            })
            .collect();
        (!per_run.is_empty()).then(|| per_run.iter().sum::<f64>() / per_run.len() as f64)
    }

    /// Eval per run of the source over the shared tasks the reference rated, then the mean over runs.
    fn eval(&self, task_weights: &[f64]) -> Option<f64> {
        if !(self.reference.has_surveys && self.source.has_surveys) {
            return None;
        }
        let runs = self.source.runs.len();
        let mut sums = vec![(0.0, 0.0); runs];
        for unit in &self.source.units {
            let Some(task) = unit.task else { continue };
            let (w, reference) = (task_weights[task as usize], &self.reference_tasks[task as usize]);
            if w == 0.0 || unit.conversations == 0 {
                continue;
            }
            let gaps: Vec<f64> = (0..QUESTIONS)
                .filter(|&q| reference.answered[q] > 0)
                .map(|q| {
                    let human = reference.answered_sum[q] / reference.answered[q] as f64;
                    let simulator = unit.filled_sum[q] / f64::from(unit.conversations);
                    (human - simulator).abs()
                })
                .collect();
            if gaps.is_empty() {
                continue;
            }
            let eval_task = 100.0 * (1.0 - gaps.iter().sum::<f64>() / gaps.len() as f64);
            let run = &mut sums[unit.run as usize];
            run.0 += w * eval_task;
            run.1 += w;
        }
        let per_run: Vec<f64> = sums.iter().filter(|(_, w)| *w > 0.0).map(|(s, w)| s / w).collect();
        (!per_run.is_empty()).then(|| per_run.iter().sum::<f64>() / per_run.len() as f64)
    }

    /// The USI of one bootstrap replicate: shared tasks resampled with replacement (task mode), else each side's
    /// units; with [`TaskScope::All`], each side's units for D1-D4 and the shared tasks for ECE and Eval.
    pub fn replicate(&self, seed: u64, replicate: usize, tasks: usize) -> Score {
        let label = replicate.to_string();
        let mut rng = stream(seed, &["usi-bootstrap", &self.reference.source, &self.source.source, &label]);
        // n draws with replacement from `items`, as weights over `slots`.
        let mut draw = |items: &[u32], slots: usize| {
            let mut weights = vec![0.0; slots];
            for _ in 0..items.len() {
                weights[items[rng.gen_range(0..items.len())] as usize] += 1.0;
            }
            weights
        };
        let units_of = |side: &Side| (0..side.units.len() as u32).collect::<Vec<u32>>();
        match &self.shared_tasks {
            Some(shared) if self.features_over_all() => {
                let reference = draw(&units_of(self.reference), self.reference.units.len());
                let source = draw(&units_of(self.source), self.source.units.len());
                let task_weights = draw(shared, tasks);
                self.score(&Weights::UnitsAndTasks { reference: &reference, source: &source, tasks: &task_weights })
            }
            Some(shared) => self.score(&Weights::Tasks(&draw(shared, tasks))),
            None => {
                let reference = draw(&units_of(self.reference), self.reference.units.len());
                let source = draw(&units_of(self.source), self.source.units.len());
                self.score(&Weights::Units { reference: &reference, source: &source })
            }
        }
    }

    /// The point estimate.
    pub fn point(&self, tasks: usize) -> Score {
        let reference = vec![1.0; self.reference.units.len()];
        let source = vec![1.0; self.source.units.len()];
        match self.unit_task_weights(tasks) {
            Some(task_weights) if self.features_over_all() => {
                self.score(&Weights::UnitsAndTasks { reference: &reference, source: &source, tasks: &task_weights })
            }
            Some(task_weights) => self.score(&Weights::Tasks(&task_weights)),
            None => self.score(&Weights::Units { reference: &reference, source: &source }),
        }
    }
}

#[cfg(test)]
mod tests;
