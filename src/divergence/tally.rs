//! The divergence stage's engine seam: one batch of rows -> a [`Tally`] of everything the statistics are computed
//! from, which merges with other tallies in any order and grouping and serialises to JSON.
//!
//! Consumes: a [`TallyPlan`] every shard shares (the codebooks, which feature columns each facet explains, whether
//! USI and the per-pair matrices are wanted, the seed and the word-sampling threshold) and [`RowBatch`]es: the
//! assignments' and the features' batches of the same rows, each row's survey and, for the rows the plan samples,
//! their user turns. Produces: per source the cluster counts of every facet and (per-pair protocol) the facet
//! matrices; per facet the exact feature sums per cluster and the sampled words; the survey problems; and per
//! conversation its USI inputs, tagged with the row's position so that [`Tally::finish`] folds them in table order
//! whatever the grouping was. [`Tally::finish`] gives the stage's [`Assignments`], [`ConversationExtras`] and
//! [`FeatureInputs`].
//! Invariants: `merge` is associative and commutative down to the bits (counts add, sums are exact, samples keep
//! the smallest hashes, per-row records are ordered by position), so a tally of the whole table and any merge of
//! tallies of its parts finish to the same values. Memory: K x columns sums per facet, 200 bytes per conversation
//! for USI (a source without task ids has one USI unit per conversation anyway) and, per-pair only, the matrices.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type, Schema, UInt32Type};
use serde::{Deserialize, Serialize};

use super::explain::{ClusterWords, FeatureProfile};
use super::histogram::Histogram;
use super::inputs::{Assignments, ConversationExtras, FeatureInputs, NO_CLUSTER};
use super::survey::{self, Answers};
use super::usi::{self, Side, Tasks, USI_FEATURES, UsiRow};
use crate::cluster::codebook::Codebook;
use crate::hashing::{mix64, row_hash};
use crate::ingest::SourceKind;

/// Surveys that are not JSON objects, kept as examples for the warning.
const BAD_SURVEY_EXAMPLES: usize = 20;

/// What every part of a run agrees on before it tallies rows.
#[derive(Debug, Clone)]
pub struct TallyPlan {
    pub facets: Vec<String>,
    /// Per facet, in order.
    pub codebooks: Vec<Codebook>,
    /// Per facet: every column of the facet, which the per-pair protocol refits on.
    pub matrix_columns: Vec<Vec<String>>,
    /// Conversations in the whole run.
    pub rows: u64,
    /// The features carry the USI columns.
    pub usi: bool,
    /// Keep each source's facet matrices (the per-pair protocol).
    pub per_pair: bool,
    pub seed: u64,
    /// A conversation's user turns are read for the cluster words when its sampling hash is at most this.
    pub word_threshold: u64,
}

impl TallyPlan {
    /// The plan for `rows` conversations whose features have `schema`, about `explain_sample` of them sampled for
    /// the cluster words.
    pub fn new(
        facets: Vec<String>,
        codebooks: Vec<Codebook>,
        features: &Schema,
        rows: u64,
        explain_sample: usize,
        per_pair: bool,
        seed: u64,
    ) -> Result<Self, String> {
        let by_facet = crate::cluster::facet_columns(features)?;
        let matrix_columns = facets
            .iter()
            .zip(&codebooks)
            .map(|(facet, codebook)| by_facet.get(facet).cloned().unwrap_or_else(|| codebook.columns.clone()))
            .collect();
        let usi = usi::feature_columns().iter().all(|(name, _)| features.field_with_name(name).is_ok());
        let word_threshold = if explain_sample as u64 >= rows {
            u64::MAX
        } else {
            ((explain_sample as f64 / rows as f64) * u64::MAX as f64) as u64
        };
        Ok(TallyPlan { facets, codebooks, matrix_columns, rows, usi, per_pair, seed, word_threshold })
    }

    /// The sampling hash of a conversation whose user turns are read for the cluster words; None for the others.
    pub fn word_sample(&self, source: &str, id: &str) -> Option<u64> {
        let hash = mix64(row_hash(0, source, id) ^ self.seed);
        (hash <= self.word_threshold).then_some(hash)
    }
}

/// The user-turn words of one sampled conversation and its first user turn.
#[derive(Debug, Clone)]
pub struct SampledTurns {
    pub words: Vec<String>,
    pub example: Option<String>,
}

/// One batch of rows, as the earlier stages' tables give them.
pub struct RowBatch<'a> {
    /// Position of the batch's first row in the assignments table (the features table has the same rows).
    pub first_row: u64,
    /// `conversation_id`, `source`, `kind` and a `cluster_<facet>` column per facet of the plan.
    pub assignments: &'a RecordBatch,
    /// The same rows of the features table.
    pub features: &'a RecordBatch,
    /// Per row, the conversation's survey as JSON text, where it has one.
    pub surveys: &'a [Option<&'a str>],
    /// (row in this batch, its turns) for the rows the plan samples whose conversation has a user turn.
    pub turns: &'a [(usize, &'a SampledTurns)],
}

/// Everything one source contributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SourceTally {
    /// The first position the source was seen at, whose kind it keeps.
    first_row: u64,
    kind: SourceKind,
    /// Per facet.
    histograms: Vec<Vec<u64>>,
    /// Per facet, per-pair protocol only.
    matrices: Vec<MatrixRows>,
    usi: Vec<UsiRecord>,
    /// Names of the task ids of `usi`.
    tasks: Vec<String>,
    #[serde(skip)]
    task_index: HashMap<String, u32>,
}

/// Rows of a facet matrix and their positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct MatrixRows {
    positions: Vec<u64>,
    /// Row-major values as bit patterns (NaN = missing).
    values: Vec<u64>,
}

/// One conversation's USI inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UsiRecord {
    position: u64,
    /// The row's identity hash, which seeds the answers that replace skipped ones.
    key: u64,
    task: Option<u32>,
    run: Option<i64>,
    /// Bit pattern.
    outcome: Option<u64>,
    /// Bit patterns, NaN where the feature has no value.
    features: [u64; USI_FEATURES],
    survey: Option<Answers>,
}

/// Survey problems found so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SurveyProblems {
    unknown_questions: u64,
    unreadable_answers: u64,
    bad_count: u64,
    /// (position, conversation id, problem): the first few by position.
    bad: Vec<(u64, String, String)>,
}

/// The mergeable partial result of the divergence stage's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    rows: u64,
    sources: BTreeMap<String, SourceTally>,
    /// Per facet.
    profiles: Vec<FeatureProfile>,
    words: Vec<ClusterWords>,
    sampled: u64,
    surveys: SurveyProblems,
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, String> {
    batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).ok_or(format!("no text column {name:?}"))
}

fn floats<'a>(batch: &'a RecordBatch, names: &[String]) -> Result<Vec<&'a arrow::array::Float64Array>, String> {
    names
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Float64Type>())
                .ok_or_else(|| format!("column {name:?} is not float64"))
        })
        .collect()
}

fn value(array: &arrow::array::Float64Array, i: usize) -> f64 {
    if array.is_null(i) { f64::NAN } else { array.value(i) }
}

impl SourceTally {
    fn new(first_row: u64, kind: SourceKind, plan: &TallyPlan) -> Self {
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

    fn task(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.task_index.get(name) {
            return id;
        }
        let id = self.tasks.len() as u32;
        self.tasks.push(name.to_owned());
        self.task_index.insert(name.to_owned(), id);
        id
    }

    fn merge(&mut self, other: &SourceTally) -> Result<(), String> {
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

impl Tally {
    /// An empty tally for `plan`.
    pub fn new(plan: &TallyPlan) -> Self {
        Tally {
            rows: 0,
            sources: BTreeMap::new(),
            profiles: plan
                .codebooks
                .iter()
                .map(|c| FeatureProfile::new(c.columns.clone(), c.centroids.len()))
                .collect(),
            words: plan.codebooks.iter().map(|c| ClusterWords::new(c.centroids.len())).collect(),
            sampled: 0,
            surveys: SurveyProblems::default(),
        }
    }

    /// Rows tallied so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one batch of rows. Errors name the row by its position in the table.
    pub fn add_batch(&mut self, plan: &TallyPlan, batch: &RowBatch<'_>) -> Result<(), String> {
        let (assignments, features) = (batch.assignments, batch.features);
        let n = assignments.num_rows();
        if features.num_rows() != n || batch.surveys.len() != n {
            return Err(format!(
                "rows from {}: {n} assignments, {} features and {} surveys: the tables come from different runs",
                batch.first_row,
                features.num_rows(),
                batch.surveys.len()
            ));
        }
        let (ids, sources, kinds) =
            (text(assignments, "conversation_id")?, text(assignments, "source")?, text(assignments, "kind")?);
        let (feature_ids, feature_sources) = (text(features, "conversation_id")?, text(features, "source")?);
        let clusters: Vec<&arrow::array::UInt32Array> = plan
            .facets
            .iter()
            .map(|facet| {
                assignments
                    .column_by_name(&format!("cluster_{facet}"))
                    .and_then(|c| c.as_primitive_opt::<UInt32Type>())
                    .ok_or_else(|| format!("cluster_{facet} is not uint32"))
            })
            .collect::<Result<_, _>>()?;
        let profile_arrays: Vec<Vec<_>> =
            self.profiles.iter().map(|p| floats(features, &p.columns)).collect::<Result<_, _>>()?;
        let matrix_arrays: Vec<Vec<_>> = if plan.per_pair {
            plan.matrix_columns.iter().map(|columns| floats(features, columns)).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let usi_names: Vec<String> = usi::feature_columns().iter().map(|(name, _)| (*name).to_owned()).collect();
        let usi_arrays = if plan.usi { Some(floats(features, &usi_names)?) } else { None };
        let task_ids = features.column_by_name("task_id").and_then(|c| c.as_string_opt::<i32>());
        let runs = features.column_by_name("run").and_then(|c| c.as_primitive_opt::<Int64Type>());
        let outcomes = features.column_by_name("outcome").and_then(|c| c.as_primitive_opt::<Float64Type>());
        let mut turns = batch.turns.iter().peekable();
        let mut cluster_of_row = vec![0u32; plan.facets.len()];
        for i in 0..n {
            let position = batch.first_row + i as u64;
            let (source, id) = (sources.value(i), ids.value(i));
            if feature_ids.value(i) != id || feature_sources.value(i) != source {
                return Err(format!(
                    "row {position} ({id:?}) is not the features' row {position} ({:?}): the tables come from \
                     different runs; rerun `simgap cluster`",
                    feature_ids.value(i)
                ));
            }
            for (f, column) in clusters.iter().enumerate() {
                let cluster = if column.is_null(i) { NO_CLUSTER } else { column.value(i) };
                let k = plan.codebooks[f].centroids.len() as u32;
                if cluster != NO_CLUSTER && cluster >= k {
                    return Err(format!(
                        "row {position}: cluster_{} = {cluster}, but its codebook has {k} clusters (codebooks and \
                         assignments from different runs? rerun `simgap cluster`)",
                        plan.facets[f]
                    ));
                }
                cluster_of_row[f] = cluster;
            }
            let entry = match self.sources.get_mut(source) {
                Some(entry) => entry,
                None => {
                    let kind = SourceKind::parse(kinds.value(i))
                        .ok_or_else(|| format!("row {position}: kind {:?}", kinds.value(i)))?;
                    self.sources.entry(source.to_owned()).or_insert_with(|| SourceTally::new(position, kind, plan))
                }
            };
            for (f, &cluster) in cluster_of_row.iter().enumerate() {
                if cluster != NO_CLUSTER {
                    entry.histograms[f][cluster as usize] += 1;
                    self.profiles[f].add(cluster as usize, profile_arrays[f].iter().map(|a| value(a, i)));
                }
            }
            for (f, arrays) in matrix_arrays.iter().enumerate() {
                entry.matrices[f].positions.push(position);
                entry.matrices[f].values.extend(arrays.iter().map(|a| value(a, i).to_bits()));
            }
            if let Some(&&(row, sampled)) = turns.peek().filter(|(row, _)| *row == i) {
                turns.next();
                debug_assert_eq!(row, i);
                if let Some(hash) = plan.word_sample(source, id) {
                    self.sampled += 1;
                    add_words(&mut self.words, &cluster_of_row, hash, sampled);
                }
            }
            let answers = match batch.surveys[i] {
                Some(json) => self.surveys.parse(position, id, json),
                None => None,
            };
            if let Some(arrays) = &usi_arrays {
                let task = task_ids.filter(|t| !t.is_null(i)).map(|t| entry.task(t.value(i)));
                entry.usi.push(UsiRecord {
                    position,
                    key: row_hash(0, source, id),
                    task,
                    run: runs.filter(|r| !r.is_null(i)).map(|r| r.value(i)),
                    outcome: outcomes.filter(|o| !o.is_null(i)).map(|o| o.value(i).to_bits()),
                    features: std::array::from_fn(|j| value(arrays[j], i).to_bits()),
                    survey: answers,
                });
            }
        }
        if let Some((row, _)) = turns.next() {
            return Err(format!("turns given for row {row} of a batch of {n} rows, out of order or out of range"));
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Adds everything `other` tallied (a tally of the same plan over other rows).
    pub fn merge(&mut self, other: &Tally) -> Result<(), String> {
        if other.profiles.len() != self.profiles.len() {
            return Err(format!("tallies of {} and {} facets", self.profiles.len(), other.profiles.len()));
        }
        self.rows += other.rows;
        for (name, theirs) in &other.sources {
            match self.sources.get_mut(name) {
                Some(mine) => mine.merge(theirs)?,
                None => {
                    let mut copy = theirs.clone();
                    copy.task_index = copy.tasks.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
                    self.sources.insert(name.clone(), copy);
                }
            }
        }
        for (mine, theirs) in self.profiles.iter_mut().zip(&other.profiles) {
            mine.merge(theirs)?;
        }
        for (mine, theirs) in self.words.iter_mut().zip(&other.words) {
            mine.merge(theirs)?;
        }
        self.sampled += other.sampled;
        self.surveys.merge(&other.surveys);
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a tally serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut tally: Tally = serde_json::from_str(text).map_err(|e| format!("not a divergence tally: {e}"))?;
        for source in tally.sources.values_mut() {
            source.task_index = source.tasks.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        }
        Ok(tally)
    }

    /// What the statistics are computed from: every per-row record folded in table order.
    pub fn finish(self, plan: &TallyPlan) -> (Assignments, ConversationExtras, FeatureInputs) {
        let Tally { rows, sources, profiles, words, sampled, surveys } = self;
        let names: Vec<String> = sources.keys().cloned().collect();
        let kinds: Vec<SourceKind> = sources.values().map(|s| s.kind).collect();
        let histograms: Vec<Vec<Histogram>> = (0..plan.facets.len())
            .map(|f| sources.values().map(|s| Histogram::from_counts(s.histograms[f].clone())).collect())
            .collect();
        let matrices = plan.per_pair.then(|| {
            (0..plan.facets.len())
                .map(|f| {
                    let d = plan.matrix_columns[f].len();
                    sources.values().map(|s| s.matrices[f].in_table_order(d)).collect()
                })
                .collect()
        });
        let (usi, tasks) = if plan.usi {
            let (sides, tasks) = fold_usi(&names, &kinds, &sources, plan.seed);
            (Some(sides), tasks)
        } else {
            (None, Tasks::default())
        };
        let assignments = Assignments {
            sources: names,
            kinds,
            facets: plan.facets.clone(),
            codebooks: plan.codebooks.clone(),
            rows: rows as usize,
            histograms,
        };
        let extras = ConversationExtras {
            unknown_questions: surveys.unknown_questions,
            unreadable_answers: surveys.unreadable_answers,
            bad_surveys: surveys.bad.into_iter().map(|(_, id, problem)| (id, problem)).collect(),
            bad_survey_count: surveys.bad_count,
            words,
            sampled,
        };
        let features = FeatureInputs { usi, tasks, profiles, matrices, matrix_columns: plan.matrix_columns.clone() };
        (assignments, extras, features)
    }
}

/// One sampled conversation's words and example turn, in the clusters it was assigned to.
fn add_words(words: &mut [ClusterWords], clusters: &[u32], hash: u64, turns: &SampledTurns) {
    let sampled: Vec<&str> = turns.words.iter().map(String::as_str).collect();
    let example = turns.example.as_deref().map(|text| (hash, text));
    for (words_of_facet, &cluster) in words.iter_mut().zip(clusters) {
        if cluster != NO_CLUSTER {
            words_of_facet.add(cluster as usize, &sampled, example);
        }
    }
}

impl MatrixRows {
    /// The rows sorted by position, row-major.
    fn in_table_order(&self, d: usize) -> Vec<f64> {
        let mut order: Vec<usize> = (0..self.positions.len()).collect();
        order.sort_by_key(|&r| self.positions[r]);
        order.iter().flat_map(|&r| self.values[r * d..(r + 1) * d].iter().map(|&b| f64::from_bits(b))).collect()
    }
}

impl SurveyProblems {
    /// The survey's answers, counting what is wrong with it.
    fn parse(&mut self, position: u64, id: &str, json: &str) -> Option<Answers> {
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

    fn merge(&mut self, other: &SurveyProblems) {
        self.unknown_questions += other.unknown_questions;
        self.unreadable_answers += other.unreadable_answers;
        self.bad_count += other.bad_count;
        self.bad.extend(other.bad.iter().cloned());
        self.bad.sort_by_key(|(position, _, _)| *position);
        self.bad.truncate(BAD_SURVEY_EXAMPLES);
    }
}

/// Every source's USI records folded into sides in table order, tasks interned as the rows first name them.
fn fold_usi(
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
