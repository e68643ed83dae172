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

mod parts;
mod plan;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{Float64Type, Int64Type, UInt32Type};
use serde::{Deserialize, Serialize};

use super::explain::{ClusterWords, FeatureProfile};
use super::histogram::Histogram;
use super::inputs::{Assignments, ConversationExtras, FeatureInputs, NO_CLUSTER};
use super::usi::{self, Tasks};
use crate::hashing::row_hash;
use crate::ingest::SourceKind;
use parts::{SourceTally, SurveyProblems, UsiRecord, fold_usi};
pub use plan::{RowBatch, SampledTurns, TallyPlan};

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

fn floats<'a>(batch: &'a RecordBatch, names: &[String]) -> Result<Vec<&'a Float64Array>, String> {
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

fn value(array: &Float64Array, i: usize) -> f64 {
    if array.is_null(i) { f64::NAN } else { array.value(i) }
}

/// The columns of one batch a tally reads, looked up once.
struct BatchColumns<'a> {
    ids: &'a StringArray,
    sources: &'a StringArray,
    kinds: &'a StringArray,
    feature_ids: &'a StringArray,
    feature_sources: &'a StringArray,
    /// Per facet.
    clusters: Vec<&'a UInt32Array>,
    /// Per facet, the profiled columns.
    profiles: Vec<Vec<&'a Float64Array>>,
    /// Per facet, per-pair only.
    matrices: Vec<Vec<&'a Float64Array>>,
    usi: Option<Vec<&'a Float64Array>>,
    task_ids: Option<&'a StringArray>,
    runs: Option<&'a Int64Array>,
    outcomes: Option<&'a Float64Array>,
}

impl<'a> BatchColumns<'a> {
    fn new(
        plan: &TallyPlan,
        profiles: &[FeatureProfile],
        assignments: &'a RecordBatch,
        features: &'a RecordBatch,
    ) -> Result<Self, String> {
        let clusters = plan
            .facets
            .iter()
            .map(|facet| {
                assignments
                    .column_by_name(&format!("cluster_{facet}"))
                    .and_then(|c| c.as_primitive_opt::<UInt32Type>())
                    .ok_or_else(|| format!("cluster_{facet} is not uint32"))
            })
            .collect::<Result<_, _>>()?;
        let matrices = if plan.per_pair {
            plan.matrix_columns.iter().map(|columns| floats(features, columns)).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let usi_names: Vec<String> = usi::feature_columns().iter().map(|(name, _)| (*name).to_owned()).collect();
        Ok(BatchColumns {
            ids: text(assignments, "conversation_id")?,
            sources: text(assignments, "source")?,
            kinds: text(assignments, "kind")?,
            feature_ids: text(features, "conversation_id")?,
            feature_sources: text(features, "source")?,
            clusters,
            profiles: profiles.iter().map(|p| floats(features, &p.columns)).collect::<Result<_, _>>()?,
            matrices,
            usi: if plan.usi { Some(floats(features, &usi_names)?) } else { None },
            task_ids: features.column_by_name("task_id").and_then(|c| c.as_string_opt::<i32>()),
            runs: features.column_by_name("run").and_then(|c| c.as_primitive_opt::<Int64Type>()),
            outcomes: features.column_by_name("outcome").and_then(|c| c.as_primitive_opt::<Float64Type>()),
        })
    }

    /// Checks that row `i` is the same conversation in both tables and that its clusters exist; fills `clusters`.
    fn check_row(&self, plan: &TallyPlan, i: usize, position: u64, clusters: &mut [u32]) -> Result<(), String> {
        let id = self.ids.value(i);
        if self.feature_ids.value(i) != id || self.feature_sources.value(i) != self.sources.value(i) {
            return Err(format!(
                "row {position} ({id:?}) is not the features' row {position} ({:?}): the tables come from \
                 different runs; rerun `simgap cluster`",
                self.feature_ids.value(i)
            ));
        }
        for (f, column) in self.clusters.iter().enumerate() {
            let cluster = if column.is_null(i) { NO_CLUSTER } else { column.value(i) };
            let k = plan.codebooks[f].centroids.len() as u32;
            if cluster != NO_CLUSTER && cluster >= k {
                return Err(format!(
                    "row {position}: cluster_{} = {cluster}, but its codebook has {k} clusters (codebooks and \
                     assignments from different runs? rerun `simgap cluster`)",
                    plan.facets[f]
                ));
            }
            clusters[f] = cluster;
        }
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
        let n = batch.assignments.num_rows();
        if batch.features.num_rows() != n || batch.surveys.len() != n {
            return Err(format!(
                "rows from {}: {n} assignments, {} features and {} surveys: the tables come from different runs",
                batch.first_row,
                batch.features.num_rows(),
                batch.surveys.len()
            ));
        }
        let columns = BatchColumns::new(plan, &self.profiles, batch.assignments, batch.features)?;
        let mut turns = batch.turns.iter().peekable();
        let mut clusters = vec![NO_CLUSTER; plan.facets.len()];
        // [facet][cluster]: the rows of the batch in it, for the profiles.
        let mut members: Vec<Vec<Vec<usize>>> =
            plan.codebooks.iter().map(|c| vec![Vec::new(); c.centroids.len()]).collect();
        for i in 0..n {
            let position = batch.first_row + i as u64;
            columns.check_row(plan, i, position, &mut clusters)?;
            for (f, &cluster) in clusters.iter().enumerate() {
                if cluster != NO_CLUSTER {
                    members[f][cluster as usize].push(i);
                }
            }
            let sampled = turns.next_if(|(row, _)| *row == i).map(|&(_, sampled)| sampled);
            self.add_row(plan, &columns, i, position, &clusters, batch.surveys[i], sampled)?;
        }
        for (f, per_cluster) in members.iter().enumerate() {
            let arrays = &columns.profiles[f];
            self.profiles[f].add_members(per_cluster, |j, i| value(arrays[j], i));
        }
        if let Some((row, _)) = turns.next() {
            return Err(format!("turns given for row {row} of a batch of {n} rows, out of order or out of range"));
        }
        self.rows += n as u64;
        Ok(())
    }

    /// One checked row: its clusters counted, its matrix rows, words, survey and USI inputs kept.
    #[allow(clippy::too_many_arguments)]
    fn add_row(
        &mut self,
        plan: &TallyPlan,
        columns: &BatchColumns<'_>,
        i: usize,
        position: u64,
        clusters: &[u32],
        survey: Option<&str>,
        sampled: Option<&SampledTurns>,
    ) -> Result<(), String> {
        let (source, id) = (columns.sources.value(i), columns.ids.value(i));
        let entry = match self.sources.get_mut(source) {
            Some(entry) => entry,
            None => {
                let kind = SourceKind::parse(columns.kinds.value(i))
                    .ok_or_else(|| format!("row {position}: kind {:?}", columns.kinds.value(i)))?;
                self.sources.entry(source.to_owned()).or_insert_with(|| SourceTally::new(position, kind, plan))
            }
        };
        for (f, &cluster) in clusters.iter().enumerate() {
            if cluster != NO_CLUSTER {
                entry.histograms[f][cluster as usize] += 1;
            }
        }
        for (f, arrays) in columns.matrices.iter().enumerate() {
            entry.matrices[f].positions.push(position);
            entry.matrices[f].values.extend(arrays.iter().map(|a| value(a, i).to_bits()));
        }
        let key = row_hash(0, source, id);
        if let Some(turns) = sampled
            && let Some(hash) = plan.word_sample_of_key(key)
        {
            self.sampled += 1;
            add_words(&mut self.words, clusters, hash, turns);
        }
        let answers = survey.and_then(|json| self.surveys.parse(position, id, json));
        if let Some(arrays) = &columns.usi {
            let task = columns.task_ids.filter(|t| !t.is_null(i)).map(|t| entry.task(t.value(i)));
            entry.usi.push(UsiRecord {
                position,
                key,
                task,
                run: columns.runs.filter(|r| !r.is_null(i)).map(|r| r.value(i)),
                outcome: columns.outcomes.filter(|o| !o.is_null(i)).map(|o| o.value(i).to_bits()),
                features: std::array::from_fn(|j| value(arrays[j], i).to_bits()),
                survey: answers,
            });
        }
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
