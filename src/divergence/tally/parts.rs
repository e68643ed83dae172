//! What one source contributes to a tally (cluster counts, facet matrices, per-conversation USI inputs) and the
//! survey problems found, each with its merge; and the fold of every source's USI inputs into sides in table order.
//!
//! Consumes: rows already checked by [`super::Tally::add_batch`]. Produces: [`SourceTally`], [`MatrixRows`],
//! [`UsiRecord`], [`SurveyProblems`] and [`fold_usi`]. Per-row records carry their position, so merges may
//! concatenate them in any order and the fold sorts them back.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::super::survey::{self, Answers};
use super::super::usi::{Side, Tasks, USI_FEATURES, UsiRow};
use super::plan::TallyPlan;
use crate::hashing::mix64;
use crate::ingest::SourceKind;

/// Surveys that are not JSON objects, kept as examples for the warning.
const BAD_SURVEY_EXAMPLES: usize = 20;

/// Everything one source contributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SourceTally {
    /// The first position the source was seen at, whose kind it keeps.
    pub(super) first_row: u64,
    pub(super) kind: SourceKind,
    /// Per facet.
    pub(super) histograms: Vec<Vec<u64>>,
    /// Per facet, per-pair protocol only.
    pub(super) matrices: Vec<MatrixRows>,
    pub(super) usi: Vec<UsiRecord>,
    /// Names of the task ids of `usi`.
    pub(super) tasks: Vec<String>,
    #[serde(skip)]
    pub(super) task_index: HashMap<String, u32>,
}

/// Rows of a facet matrix and their positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct MatrixRows {
    pub(super) positions: Vec<u64>,
    /// Row-major values as bit patterns (NaN = missing).
    pub(super) values: Vec<u64>,
}

/// One conversation's USI inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct UsiRecord {
    pub(super) position: u64,
    /// The row's identity hash, which seeds the answers that replace skipped ones.
    pub(super) key: u64,
    pub(super) task: Option<u32>,
    pub(super) run: Option<i64>,
    /// Bit pattern.
    pub(super) outcome: Option<u64>,
    /// Bit patterns, NaN where the feature has no value.
    pub(super) features: [u64; USI_FEATURES],
    pub(super) survey: Option<Answers>,
}

/// Survey problems found so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct SurveyProblems {
    pub(super) unknown_questions: u64,
    pub(super) unreadable_answers: u64,
    pub(super) bad_count: u64,
    /// (position, conversation id, problem): the first few by position.
    pub(super) bad: Vec<(u64, String, String)>,
}

impl SourceTally {
    pub(super) fn new(first_row: u64, kind: SourceKind, plan: &TallyPlan) -> Self {
        SourceTally {
            first_row,
            kind,
            histograms: plan.codebooks.iter().map(|c| vec![0; c.centroids.len()]).collect(),
            matrices: if plan.per_pair { vec![MatrixRows::default(); plan.facets.len()] } else { Vec::new() },
            usi: Vec::new(),
            tasks: Vec::new(),
            task_index: HashMap::new(),
        }
    }

    pub(super) fn task(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.task_index.get(name) {
            return id;
        }
        let id = self.tasks.len() as u32;
        self.tasks.push(name.to_owned());
        self.task_index.insert(name.to_owned(), id);
        id
    }

    pub(super) fn merge(&mut self, other: &SourceTally) -> Result<(), String> {
        if other.histograms.len() != self.histograms.len() || other.matrices.len() != self.matrices.len() {
            return Err("tallies of different plans (facets or per-pair differ)".into());
        }
        if other.first_row < self.first_row {
            self.first_row = other.first_row;
            self.kind = other.kind;
        }
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            if mine.len() != theirs.len() {
                return Err(format!("histograms of {} and {} clusters", mine.len(), theirs.len()));
            }
            mine.iter_mut().zip(theirs).for_each(|(m, t)| *m += t);
        }
        for (mine, theirs) in self.matrices.iter_mut().zip(&other.matrices) {
            mine.positions.extend_from_slice(&theirs.positions);
            mine.values.extend_from_slice(&theirs.values);
        }
        if self.task_index.len() != self.tasks.len() {
            self.task_index = self.tasks.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        }
        let remap: Vec<u32> = other.tasks.iter().map(|t| self.task(t)).collect();
        self.usi.extend(other.usi.iter().map(|record| {
            let mut record = record.clone();
            record.task = record.task.map(|t| remap[t as usize]);
            record
        }));
        Ok(())
    }
}

impl MatrixRows {
    /// The rows sorted by position, row-major.
    pub(super) fn in_table_order(&self, d: usize) -> Vec<f64> {
        let mut order: Vec<usize> = (0..self.positions.len()).collect();
        order.sort_by_key(|&r| self.positions[r]);
        order.iter().flat_map(|&r| self.values[r * d..(r + 1) * d].iter().map(|&b| f64::from_bits(b))).collect()
    }
}

impl SurveyProblems {
    /// The survey's answers, counting what is wrong with it.
    pub(super) fn parse(&mut self, position: u64, id: &str, json: &str) -> Option<Answers> {
        match survey::parse(json) {
            Ok((answers, issues)) => {
                self.unknown_questions += u64::from(issues.unknown_questions);
                self.unreadable_answers += u64::from(issues.unreadable_answers);
                Some(answers)
            }
            Err(problem) => {
                self.bad_count += 1;
                if self.bad.len() < BAD_SURVEY_EXAMPLES {
                    self.bad.push((position, id.to_owned(), problem));
                }
                None
            }
        }
    }

    pub(super) fn merge(&mut self, other: &SurveyProblems) {
        self.unknown_questions += other.unknown_questions;
        self.unreadable_answers += other.unreadable_answers;
        self.bad_count += other.bad_count;
        self.bad.extend(other.bad.iter().cloned());
        self.bad.sort_by_key(|(position, _, _)| *position);
        self.bad.truncate(BAD_SURVEY_EXAMPLES);
    }
}

/// Every source's USI records folded into sides in table order, tasks interned as the rows first name them.
pub(super) fn fold_usi(
    names: &[String],
    kinds: &[SourceKind],
    sources: &BTreeMap<String, SourceTally>,
    seed: u64,
) -> (Vec<Side>, Tasks) {
    let mut sides: Vec<Side> =
        names.iter().zip(kinds).map(|(s, k)| Side::new(s, *k == SourceKind::Simulator)).collect();
    let mut records: Vec<(u64, usize, &SourceTally, &UsiRecord)> = sources
        .values()
        .enumerate()
        .flat_map(|(s, tally)| tally.usi.iter().map(move |r| (r.position, s, tally, r)))
        .collect();
    records.sort_by_key(|&(position, ..)| position);
    let mut tasks = Tasks::default();
    for (_, s, tally, record) in records {
        let row = UsiRow {
            task: record.task.map(|t| tally.tasks[t as usize].as_str()),
            run: record.run,
            outcome: record.outcome.map(f64::from_bits),
            features: record.features.map(f64::from_bits),
            survey: record.survey,
            fill_hash: mix64(record.key ^ seed),
        };
        sides[s].add(&row, &mut tasks);
    }
    (sides, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_rows_merged_out_of_order_come_back_in_table_order() {
        let part = |positions: &[u64]| MatrixRows {
            positions: positions.to_vec(),
            values: positions.iter().flat_map(|&p| [p as f64, -(p as f64)]).map(f64::to_bits).collect(),
        };
        let mut merged = part(&[5, 6]);
        let (later, earlier) = (part(&[9]), part(&[0, 1]));
        for other in [&later, &earlier] {
            merged.positions.extend_from_slice(&other.positions);
            merged.values.extend_from_slice(&other.values);
        }
        assert_eq!(merged.in_table_order(2), vec![0.0, -0.0, 1.0, -1.0, 5.0, -5.0, 6.0, -6.0, 9.0, -9.0]);
    }

    #[test]
    fn bad_survey_examples_are_the_first_by_position_whatever_the_merge_order() {
        let problems = |positions: std::ops::Range<u64>| {
            let mut problems = SurveyProblems::default();
            for position in positions {
                assert_eq!(problems.parse(position, &format!("c{position}"), "[1, 2]"), None);
            }
            problems
        };
        let (mut late_first, early) = (problems(100..130), problems(0..25));
        late_first.merge(&early);
        assert_eq!(late_first.bad_count, 55);
        let positions: Vec<u64> = late_first.bad.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(positions, (0..20).collect::<Vec<u64>>());
        let ok = {
            let mut p = SurveyProblems::default();
            p.parse(0, "c0", r#"{"nonsense": 1}"#)
        };
        assert!(ok.is_some(), "a JSON object is a survey, its unknown questions counted");
    }
}
