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
mod tests {
    use super::*;
    use crate::divergence::survey;

    fn row<'a>(task: &'a str, run: i64, outcome: f64, features: [f64; USI_FEATURES]) -> UsiRow<'a> {
        UsiRow { task: Some(task), run: Some(run), outcome: Some(outcome), features, survey: None, fill_hash: 0 }
    }

    fn constant(value: f64) -> [f64; USI_FEATURES] {
        [value; USI_FEATURES]
    }

    #[test]
    fn dice_by_hand() {
        assert_eq!(dice(0.0, 0.0), 1.0);
        assert_eq!(dice(0.2, 0.6), 2.0 * 0.2 / 0.8);
        assert_eq!(dice(-0.5, 0.5), 1.0, "magnitudes");
        assert_eq!(dice(0.0, 3.0), 0.0);
    }

    #[test]
    fn dimensions_are_dice_of_means_not_means_of_dice() {
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        human.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
        human.add(&row("b", 1, 1.0, constant(0.6)), &mut tasks);
        sim.add(&row("a", 1, 1.0, constant(0.4)), &mut tasks);
        sim.add(&row("b", 1, 1.0, constant(0.4)), &mut tasks);
        sim.add(&row("c", 1, 1.0, constant(9.0)), &mut tasks); // not a shared task: left out
        let difficulty = vec![None; tasks.names.len()];
        let n = tasks.names.len();
        let score = Comparison::new(&human, &sim, &difficulty, n, TaskScope::Shared).point(n);
        // Means 0.4 and 0.4: Dice 1, although per-task Dice would be below 1.
        assert_eq!(score.d, [100.0; 4]);
        assert_eq!(score.shared_tasks, Some(2));
        assert_eq!((score.eval, score.ece, score.terms), (None, None, 4));
    }

    #[test]
    fn several_runs_average_their_rows() {
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        human.add(&row("a", 1, 1.0, constant(0.5)), &mut tasks);
        // Run 1 has two conversations at 0.2, run 2 one at 0.8: rows 0.2 and 0.8, mean 0.5 (not 0.4).
        sim.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
        sim.add(&UsiRow { task: Some("a"), ..row("a", 1, 1.0, constant(0.2)) }, &mut tasks);
        sim.add(&row("a", 2, 1.0, constant(0.8)), &mut tasks);
        let difficulty = vec![None; 1];
        let score = Comparison::new(&human, &sim, &difficulty, 1, TaskScope::Shared).point(1);
        assert!((score.features[0].source_mean - 0.5).abs() < 1e-15);
        assert_eq!(score.d[0], 100.0);
    }

    #[test]
    fn ece_by_hand() {
        // Two tasks, difficulty 0.1 (bin 0) and 0.7 (bin 3). Human succeeds on both, the simulator on the second.
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        for (task, h, s) in [("easy", 1.0, 0.0), ("hard", 1.0, 1.0)] {
            human.add(&row(task, 1, h, constant(0.1)), &mut tasks);
            sim.add(&row(task, 1, s, constant(0.1)), &mut tasks);
        }
        let difficulty = vec![Some(0.1), Some(0.7)];
        let score = Comparison::new(&human, &sim, &difficulty, 2, TaskScope::Shared).point(2);
        // Bin 0: |0 - 1| with weight 1/2; bin 3: |1 - 1|. ECE = 0.5.
        assert_eq!(score.ece, Some(0.5));
        assert_eq!(score.terms, 5);
        assert!((score.usi - (400.0 + 50.0) / 5.0).abs() < 1e-12);
        assert_eq!(bin_of(0.2), 1, "a cut-off opens the bin above it");
        assert_eq!(bin_of(0.8), 4);
        assert_eq!(bin_of(1.0), 4);
    }

    #[test]
    fn difficulty_needs_ten_pooled_runs() {
        let mut tasks = Tasks::default();
        let mut sim = Side::new("sim", true);
        for i in 0..10 {
            sim.add(&row("a", i, if i < 3 { 1.0 } else { 0.0 }, constant(0.0)), &mut tasks);
        }
        for i in 0..9 {
            sim.add(&row("b", i, 1.0, constant(0.0)), &mut tasks);
        }
        assert_eq!(difficulty(&[&sim], 2), vec![Some(0.3), None]);
    }

    #[test]
    fn eval_scales_answers_and_fills_skipped_ones() {
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        let mut answers = [0u8; 8];
        answers[6] = 5; // overall_score 5 -> 1.0
        answers[0] = 4; // task_success completed -> 0.75
        human.add(&UsiRow { survey: Some(answers), ..row("a", 1, 1.0, constant(0.1)) }, &mut tasks);
        let mut sim_answers = [0u8; 8];
        sim_answers[6] = 3; // overall 3 -> 0.5; task_success skipped -> a random valid answer
        sim.add(&UsiRow { survey: Some(sim_answers), fill_hash: 11, ..row("a", 1, 1.0, constant(0.1)) }, &mut tasks);
        let difficulty = vec![None];
        let score = Comparison::new(&human, &sim, &difficulty, 1, TaskScope::Shared).point(1);
        let filled = survey::scaled(0, survey::random_answer(0, crate::hashing::mix64(11 ^ 1)));
        let expected = 100.0 * (1.0 - ((1.0f64 - 0.5).abs() + (0.75f64 - filled).abs()) / 2.0);
        assert!((score.eval.unwrap() - expected).abs() < 1e-12, "{:?} vs {expected}", score.eval);
        assert_eq!(score.terms, 5);
    }

    #[test]
    fn the_ceiling_is_usi_between_batches() {
        // Three annotator batches (runs) on two tasks; batch 3 differs on one feature.
        let mut tasks = Tasks::default();
        let mut humans = Side::new("human", false);
        for run in 1..=3 {
            for task in ["a", "b"] {
                let mut features = constant(0.5);
                if run == 3 {
                    features[0] = 1.5; // politeness_rate: Dice(0.5, 1.5) = 0.5 against batches 1 and 2
                }
                humans.add(&row(task, run, 1.0, features), &mut tasks);
            }
        }
        let batches = humans.batches();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].conversations, 2);
        let (mean, std) = batch_ceiling(&batches, &[None, None], 2, TaskScope::Shared);
        // Pair (1, 2): 100 on every term. (1, 3) and (2, 3): D1 = 100 x (6 x 1 + 0.5) / 7, the rest 100.
        let d1 = 100.0 * 6.5 / 7.0;
        let partial = (d1 + 300.0) / 4.0;
        let expected = (100.0 + 2.0 * partial) / 3.0;
        assert!((mean - expected).abs() < 1e-12, "{mean} vs {expected}");
        let expected_std = (((100.0 - expected).powi(2) + 2.0 * (partial - expected).powi(2)) / 3.0).sqrt();
        assert!((std - expected_std).abs() < 1e-12);
        assert!(Side::new("one", false).batches().is_empty());
    }

    #[test]
    fn scope_all_takes_every_conversation_for_the_dimensions_and_shared_tasks_for_ece() {
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        human.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
        human.add(&row("b", 1, 0.0, constant(0.6)), &mut tasks);
        sim.add(&row("a", 1, 0.0, constant(0.4)), &mut tasks);
        sim.add(&row("c", 1, 1.0, constant(0.8)), &mut tasks); // not a shared task: in D1-D4, not in ECE
        let difficulty = vec![Some(0.5), Some(0.5), Some(0.5)];
        let n = tasks.names.len();
        let shared = Comparison::new(&human, &sim, &difficulty, n, TaskScope::Shared).point(n);
        assert!((shared.features[0].reference_mean - 0.2).abs() < 1e-15, "task a alone");
        let all = Comparison::new(&human, &sim, &difficulty, n, TaskScope::All);
        let score = all.point(n);
        assert!((score.features[0].reference_mean - 0.4).abs() < 1e-15);
        assert!((score.features[0].source_mean - 0.6).abs() < 1e-15);
        let expected_d = 100.0 * dice(0.4, 0.6);
        assert!(score.d.iter().all(|d| (d - expected_d).abs() < 1e-12), "{:?}", score.d);
        // ECE over task a only: the human succeeded, the simulator did not.
        assert_eq!(score.ece, Some(1.0));
        assert_eq!(score.ece, shared.ece);
        assert_eq!(score.shared_tasks, Some(1));
        let replicates: Vec<f64> = (0..50).map(|r| all.replicate(7, r, n).usi).collect();
        assert!(replicates.iter().all(|u| (0.0..=100.0).contains(u)));
        assert!(replicates.iter().any(|&u| u != replicates[0]), "units are resampled");
        assert_eq!(replicates[5], all.replicate(7, 5, n).usi, "seeded");
    }

    #[test]
    fn without_task_ids_every_conversation_is_compared() {
        let mut tasks = Tasks::default();
        let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
        let untasked =
            |v: f64| UsiRow { task: None, run: None, outcome: None, features: constant(v), survey: None, fill_hash: 0 };
        human.add(&untasked(0.3), &mut tasks);
        human.add(&untasked(0.5), &mut tasks);
        sim.add(&untasked(0.4), &mut tasks);
        let comparison = Comparison::new(&human, &sim, &[], 0, TaskScope::Shared);
        assert!(comparison.shared_tasks.is_none());
        let score = comparison.point(0);
        assert_eq!(score.d, [100.0; 4]);
        let replicates: Vec<f64> = (0..50).map(|r| comparison.replicate(1, r, 0).usi).collect();
        assert!(replicates.iter().all(|u| (0.0..=100.0).contains(u)));
        assert_eq!(replicates[3], comparison.replicate(1, 3, 0).usi, "seeded");
    }
}
