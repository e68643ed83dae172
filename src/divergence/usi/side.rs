//! One source's USI inputs, gathered: conversations into units (one per (task, run) when every conversation has a
//! task id, else one per conversation), each unit holding the sums its terms are computed from.
//!
//! Consumes: per conversation a [`UsiRow`] (19 feature values, task id, run, outcome, survey answers) and the
//! interned [`Tasks`]. Produces: a [`Side`] (its units, runs and what it has: surveys, outcomes, task ids), its
//! batches and single runs, and per task the totals ECE and Eval pair ([`Side::by_task`]).
//! Cost: O(19) per conversation added; O(units) per split.

use std::collections::HashMap;

use super::super::survey::{self, Answers};

/// The 19 USI features (the facet's columns minus `n_turns`).
pub const USI_FEATURES: usize = 19;
/// The survey's questions.
pub(super) const QUESTIONS: usize = survey::QUESTIONS.len();

/// Conversations of one (task, run), or one conversation.
#[derive(Debug, Clone)]
pub struct Unit {
    pub task: Option<u32>,
    /// Index into the side's runs.
    pub run: u32,
    pub conversations: u32,
    pub sums: [f64; USI_FEATURES],
    pub present: [u32; USI_FEATURES],
    pub successes: u32,
    pub outcomes: u32,
    /// Answers given, summed on the [0, 1] scale, and how many.
    pub answered_sum: [f64; QUESTIONS],
    pub answered: [u32; QUESTIONS],
    /// Answers with skipped ones replaced by a seeded random valid answer, summed over every conversation.
    pub filled_sum: [f64; QUESTIONS],
}

impl Unit {
    fn new(task: Option<u32>, run: u32) -> Self {
        Unit {
            task,
            run,
            conversations: 0,
            sums: [0.0; USI_FEATURES],
            present: [0; USI_FEATURES],
            successes: 0,
            outcomes: 0,
            answered_sum: [0.0; QUESTIONS],
            answered: [0; QUESTIONS],
            filled_sum: [0.0; QUESTIONS],
        }
    }
}

/// One conversation's USI inputs.
#[derive(Debug, Clone)]
pub struct UsiRow<'a> {
    pub task: Option<&'a str>,
    pub run: Option<i64>,
    pub outcome: Option<f64>,
    /// NaN where the feature has no value.
    pub features: [f64; USI_FEATURES],
    pub survey: Option<Answers>,
    /// Seeds the random answers that replace skipped ones (a hash of seed, source and conversation id).
    pub fill_hash: u64,
}

/// Task ids, interned across sources.
#[derive(Debug, Default)]
pub struct Tasks {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Tasks {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }
}

/// Everything USI needs of one source.
#[derive(Debug, Clone)]
pub struct Side {
    pub source: String,
    pub simulator: bool,
    pub runs: Vec<Option<i64>>,
    pub units: Vec<Unit>,
    pub conversations: u64,
    /// Every conversation had a task id.
    pub all_tasks: bool,
    pub has_surveys: bool,
    pub has_outcomes: bool,
    unit_of: HashMap<(u32, u32), usize>,
}

impl Side {
    pub fn new(source: &str, simulator: bool) -> Self {
        Side {
            source: source.to_owned(),
            simulator,
            runs: Vec::new(),
            units: Vec::new(),
            conversations: 0,
            all_tasks: true,
            has_surveys: false,
            has_outcomes: false,
            unit_of: HashMap::new(),
        }
    }

    pub fn add(&mut self, row: &UsiRow<'_>, tasks: &mut Tasks) {
        let run = match self.runs.iter().position(|r| *r == row.run) {
            Some(i) => i as u32,
            None => {
                self.runs.push(row.run);
                (self.runs.len() - 1) as u32
            }
        };
        let task = row.task.map(|t| tasks.intern(t));
        self.all_tasks &= task.is_some();
        let index = match task {
            Some(task) => *self.unit_of.entry((task, run)).or_insert_with(|| {
                self.units.push(Unit::new(Some(task), run));
                self.units.len() - 1
            }),
            None => {
                self.units.push(Unit::new(None, run));
                self.units.len() - 1
            }
        };
        let unit = &mut self.units[index];
        unit.conversations += 1;
        self.conversations += 1;
        for (j, &value) in row.features.iter().enumerate() {
            if !value.is_nan() {
                unit.sums[j] += value;
                unit.present[j] += 1;
            }
        }
        if let Some(outcome) = row.outcome.filter(|o| !o.is_nan()) {
            unit.outcomes += 1;
            unit.successes += u32::from(outcome > 0.0);
            self.has_outcomes = true;
        }
        let answers = row.survey.unwrap_or([0; QUESTIONS]);
        self.has_surveys |= row.survey.is_some_and(|a| a.iter().any(|v| *v > 0));
        for (q, &value) in answers.iter().enumerate() {
            let filled = if value > 0 {
                unit.answered_sum[q] += survey::scaled(q, value);
                unit.answered[q] += 1;
                value
            } else {
                survey::random_answer(q, crate::hashing::mix64(row.fill_hash ^ (q as u64 + 1)))
            };
            unit.filled_sum[q] += survey::scaled(q, filled);
        }
    }

    /// The side restricted to one run (a batch of the human ceiling).
    pub fn only_run(&self, run: usize) -> Side {
        let mut side = Side::new(&format!("{} run {}", self.source, run_label(self.runs[run])), self.simulator);
        side.runs = vec![self.runs[run]];
        side.all_tasks = self.all_tasks;
        side.has_outcomes = self.has_outcomes;
        side.has_surveys = self.has_surveys;
        for unit in self.units.iter().filter(|u| u.run as usize == run) {
            let mut unit = unit.clone();
            unit.run = 0;
            side.conversations += u64::from(unit.conversations);
            if let Some(task) = unit.task {
                side.unit_of.insert((task, 0), side.units.len());
            }
            side.units.push(unit);
        }
        side
    }

    /// One side per run when there are several (independent batches of annotators), else none.
    pub fn batches(&self) -> Vec<Side> {
        if self.runs.len() < 2 {
            return Vec::new();
        }
        (0..self.runs.len()).map(|r| self.only_run(r)).collect()
    }

    /// Per task: (successes, outcomes, answered sums, answered counts), pooled over runs.
    pub(super) fn by_task(&self, tasks: usize) -> Vec<TaskTotals> {
        let mut totals = vec![TaskTotals::default(); tasks];
        for unit in &self.units {
            if let Some(task) = unit.task {
                let t = &mut totals[task as usize];
                t.present = true;
                t.successes += u64::from(unit.successes);
                t.outcomes += u64::from(unit.outcomes);
                for q in 0..QUESTIONS {
                    t.answered_sum[q] += unit.answered_sum[q];
                    t.answered[q] += u64::from(unit.answered[q]);
                }
            }
        }
        totals
    }
}

pub fn run_label(run: Option<i64>) -> String {
    run.map_or_else(|| "none".to_owned(), |r| r.to_string())
}

#[derive(Debug, Clone, Default)]
pub(super) struct TaskTotals {
    pub(super) present: bool,
    pub(super) successes: u64,
    pub(super) outcomes: u64,
    pub(super) answered_sum: [f64; QUESTIONS],
    pub(super) answered: [u64; QUESTIONS],
}
