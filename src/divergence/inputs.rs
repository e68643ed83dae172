//! What the divergence stage reads, in three streaming passes over the earlier stages' tables.
//!
//! Consumes: `assignments.parquet` + `codebooks/*.json` (pass 1: clusters per row, histograms per facet and
//! source), `conversations.parquet` (pass 2: identities and survey answers of every row, then the messages of a
//! seeded sample of conversations alone, through a row selection, for the cluster words), `features.parquet` (pass 3: USI inputs, per-cluster feature sums, and the
//! facet matrices the per-pair protocol refits on). Produces: [`Assignments`], [`ConversationExtras`],
//! [`FeatureInputs`]. Rows are matched by a hash of (source, conversation id): features and assignments have the
//! same rows in the same order (checked), conversations may have more (those the features stage skipped).
//! Memory: 16 bytes plus 4 per facet per row, 9 per row for surveys, and the sampled conversations' words.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, SchemaRef, UInt32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use super::config::DivergenceError;
use super::explain::{ClusterWords, FeatureProfile};
use super::histogram::Histogram;
use super::survey::{self, Answers};
use super::usi::{self, Side, Tasks, USI_FEATURES, UsiRow};
use crate::cluster::codebook::Codebook;
use crate::features::reader::ConversationBatches;
use crate::features::text::{Reading, prepare};
use crate::hashing::{mix64, row_hash};
use crate::ingest::SourceKind;

/// No cluster: the conversation has no value in the facet.
pub const NO_CLUSTER: u32 = u32::MAX;

/// The table's batches (of every column, or of `columns` alone) and its schema (with the file's key-value metadata,
/// which the reader's own schema lacks).
fn batches(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<(parquet::arrow::arrow_reader::ParquetRecordBatchReader, SchemaRef), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let schema = builder.schema().clone();
    if let Some(names) = columns {
        let mut roots = Vec::new();
        for name in names {
            roots.push(schema.index_of(name).map_err(|_| format!("no column {name:?}"))?);
        }
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    Ok((builder.with_batch_size(8192).build().map_err(|e| e.to_string())?, schema))
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::StringArray, String> {
    batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).ok_or(format!("no text column {name:?}"))
}

/// Pass 1: every row's source and clusters, and the histograms.
pub struct Assignments {
    /// Sorted by name.
    pub sources: Vec<String>,
    pub kinds: Vec<SourceKind>,
    pub facets: Vec<String>,
    pub codebooks: Vec<Codebook>,
    pub row_source: Vec<u32>,
    pub row_key: Vec<u64>,
    /// [facet][row], [`NO_CLUSTER`] where none.
    pub clusters: Vec<Vec<u32>>,
    /// [facet][source].
    pub histograms: Vec<Vec<Histogram>>,
}

impl Assignments {
    pub fn read(out_dir: &Path, wanted: Option<&[String]>) -> Result<Self, DivergenceError> {
        let path = out_dir.join(crate::cluster::ASSIGNMENTS_FILE);
        Self::read_checked(out_dir, &path, wanted).map_err(|(message, usage)| {
            if usage {
                DivergenceError::Config(format!("{}: {message}", path.display()))
            } else {
                DivergenceError::Read { path: path.clone(), message }
            }
        })
    }

    /// Errors as (message, whether the settings are at fault).
    fn read_checked(out_dir: &Path, path: &Path, wanted: Option<&[String]>) -> Result<Self, (String, bool)> {
        let error = |message: String| (message, false);
        let (reader, schema) = batches(path, None).map_err(error)?;
        let present: Vec<String> =
            schema.fields().iter().filter_map(|f| f.name().strip_prefix("cluster_").map(str::to_owned)).collect();
        let facets: Vec<String> = match wanted {
            Some(list) => {
                for facet in list {
                    if !present.contains(facet) {
                        let message = format!(
                            "[divergence] facets names {facet:?}, which has no cluster column (there are: {})",
                            present.join(", ")
                        );
                        return Err((message, true));
                    }
                }
                list.to_vec()
            }
            None => present,
        };
        let codebooks: Vec<Codebook> = facets
            .iter()
            .map(|f| Codebook::read(&out_dir.join(crate::cluster::CODEBOOKS_DIR).join(format!("{f}.json"))))
            .collect::<Result<_, _>>()
            .map_err(error)?;
        let mut first_seen: Vec<(String, SourceKind)> = Vec::new();
        let mut index_of: HashMap<String, u32> = HashMap::new();
        let (mut row_source, mut row_key) = (Vec::new(), Vec::new());
        let mut clusters: Vec<Vec<u32>> = vec![Vec::new(); facets.len()];
        for batch in reader {
            let batch = batch.map_err(|e| error(e.to_string()))?;
            let (ids, sources, kinds) = (
                text(&batch, "conversation_id").map_err(error)?,
                text(&batch, "source").map_err(error)?,
                text(&batch, "kind").map_err(error)?,
            );
            for i in 0..batch.num_rows() {
                let source = sources.value(i);
                let index = match index_of.get(source) {
                    Some(&index) => index,
                    None => {
                        let kind = SourceKind::parse(kinds.value(i))
                            .ok_or_else(|| error(format!("row {}: kind {:?}", row_key.len(), kinds.value(i))))?;
                        first_seen.push((source.to_owned(), kind));
                        index_of.insert(source.to_owned(), (first_seen.len() - 1) as u32);
                        (first_seen.len() - 1) as u32
                    }
                };
                row_source.push(index);
                row_key.push(row_hash(0, source, ids.value(i)));
            }
            for (f, facet) in facets.iter().enumerate() {
                let column = batch
                    .column_by_name(&format!("cluster_{facet}"))
                    .and_then(|c| c.as_primitive_opt::<UInt32Type>())
                    .ok_or_else(|| error(format!("cluster_{facet} is not uint32")))?;
                let k = codebooks[f].centroids.len() as u32;
                for i in 0..column.len() {
                    let cluster = if column.is_null(i) { NO_CLUSTER } else { column.value(i) };
                    if cluster != NO_CLUSTER && cluster >= k {
                        return Err(error(format!(
                            "row {}: cluster_{facet} = {cluster}, but its codebook has {k} clusters (codebooks and \
                             assignments from different runs? rerun `simgap cluster`)",
                            clusters[f].len()
                        )));
                    }
                    clusters[f].push(cluster);
                }
            }
        }
        // Sources in name order, so tables do not depend on file order.
        let mut order: Vec<usize> = (0..first_seen.len()).collect();
        order.sort_by(|&a, &b| first_seen[a].0.cmp(&first_seen[b].0));
        let mut rank = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            rank[old] = new as u32;
        }
        row_source.iter_mut().for_each(|s| *s = rank[*s as usize]);
        let sources: Vec<String> = order.iter().map(|&i| first_seen[i].0.clone()).collect();
        let kinds: Vec<SourceKind> = order.iter().map(|&i| first_seen[i].1).collect();
        let histograms = clusters
            .iter()
            .zip(&codebooks)
            .map(|(column, codebook)| {
                let mut per_source = vec![Histogram::zeros(codebook.centroids.len()); sources.len()];
                for (&cluster, &source) in column.iter().zip(&row_source) {
                    if cluster != NO_CLUSTER {
                        per_source[source as usize].add(cluster as usize);
                    }
                }
                per_source
            })
            .collect();
        Ok(Assignments { sources, kinds, facets, codebooks, row_source, row_key, clusters, histograms })
    }

    pub fn rows(&self) -> usize {
        self.row_key.len()
    }
}

/// The user-turn words of one sampled conversation and its first user turn.
struct SampledTurns {
    words: Vec<String>,
    example: Option<String>,
}

/// Pass 2: surveys and cluster words.
pub struct ConversationExtras {
    /// Per assignment row.
    pub surveys: Vec<Option<Answers>>,
    pub unknown_questions: u64,
    pub unreadable_answers: u64,
    /// Surveys that are not a JSON object: (conversation id, problem), the first few.
    pub bad_surveys: Vec<(String, String)>,
    pub bad_survey_count: u64,
    /// [facet]
    pub words: Vec<ClusterWords>,
    pub sampled: u64,
}

impl ConversationExtras {
    /// `sample` conversations (about) are read for words, chosen by a seeded hash.
    pub fn read(
        out_dir: &Path,
        assignments: &Assignments,
        stopwords: &rustc_hash::FxHashSet<String>,
        sample: usize,
        seed: u64,
    ) -> Result<Self, DivergenceError> {
        let path = out_dir.join(crate::ingest::CONVERSATIONS_FILE);
        let error = |message: String| DivergenceError::Read { path: path.clone(), message };
        let rows = assignments.rows();
        let threshold =
            if sample >= rows { u64::MAX } else { ((sample as f64 / rows as f64) * u64::MAX as f64) as u64 };
        let mut extras = ConversationExtras {
            surveys: vec![None; rows],
            unknown_questions: 0,
            unreadable_answers: 0,
            bad_surveys: Vec::new(),
            bad_survey_count: 0,
            words: assignments.codebooks.iter().map(|c| ClusterWords::new(c.centroids.len())).collect(),
            sampled: 0,
        };
        // Identities and surveys of every row: match them to the assignments in order, parse the surveys, and pick
        // the sample by a seeded hash of the row's key.
        let mut next = 0usize;
        let mut sampled_rows: Vec<u64> = Vec::new(); // rows of the conversations table
        let mut sampled_assignments: Vec<(usize, u64)> = Vec::new(); // (assignment row, sampling hash)
        let mut file_row = 0u64;
        let (identities, _) = batches(&path, Some(&["conversation_id", "source", "survey"])).map_err(error)?;
        for batch in identities {
            let batch = batch.map_err(|e| error(e.to_string()))?;
            let (ids, sources, surveys) = (
                text(&batch, "conversation_id").map_err(error)?,
                text(&batch, "source").map_err(error)?,
                text(&batch, "survey").map_err(error)?,
            );
            for i in 0..batch.num_rows() {
                let key = row_hash(0, sources.value(i), ids.value(i));
                let this_row = file_row + i as u64;
                if !(next < rows && assignments.row_key[next] == key) {
                    continue; // a conversation the features stage skipped (no user turn)
                }
                let row = next;
                next += 1;
                let hash = mix64(key ^ seed);
                if hash <= threshold {
                    sampled_rows.push(this_row);
                    sampled_assignments.push((row, hash));
                }
                if surveys.is_null(i) {
                    continue;
                }
                match survey::parse(surveys.value(i)) {
                    Ok((answers, issues)) => {
                        extras.surveys[row] = Some(answers);
                        extras.unknown_questions += u64::from(issues.unknown_questions);
                        extras.unreadable_answers += u64::from(issues.unreadable_answers);
                    }
                    Err(problem) => {
                        extras.bad_survey_count += 1;
                        if extras.bad_surveys.len() < 20 {
                            extras.bad_surveys.push((ids.value(i).to_owned(), problem));
                        }
                    }
                }
            }
            file_row += batch.num_rows() as u64;
        }
        // The sampled conversations' messages alone (the decoder skips the other rows), row groups in parallel (the
        // pages must be decompressed whole: that is most of the cost), tokenised as they are read.
        let reading = Reading { words: Some(stopwords), assistant_text: false };
        let groups: Vec<(usize, &[u64])> = ConversationBatches::row_groups(&path)
            .map_err(error)?
            .into_iter()
            .enumerate()
            .filter_map(|(group, (first, rows))| {
                let from = sampled_rows.partition_point(|&row| row < first);
                let to = sampled_rows.partition_point(|&row| row < first + rows);
                (from < to).then(|| (group, &sampled_rows[from..to]))
            })
            .collect();
        let read_group = |&(group, rows): &(usize, &[u64])| -> Result<Vec<Option<SampledTurns>>, String> {
            let mut turns = Vec::with_capacity(rows.len());
            for batch in ConversationBatches::open_group_rows(&path, &[], group, rows)? {
                let batch = batch?;
                turns.extend(batch.rows()?.iter().map(|conversation| {
                    let prepared = prepare(&conversation.messages, conversation.kind, reading)?;
                    let words = prepared.turns().flat_map(|t| t.content_words()).map(str::to_owned).collect();
                    let example = prepared.turns().find_map(|t| t.text.as_deref()).map(str::to_owned);
                    Some(SampledTurns { words, example })
                }));
            }
            Ok(turns)
        };
        // As many groups at a time as there are threads, so only their words are held at once.
        let mut pending = sampled_assignments.iter();
        for wave in groups.chunks(rayon::current_num_threads().max(1)) {
            let per_group: Vec<Vec<Option<SampledTurns>>> =
                wave.par_iter().map(read_group).collect::<Result<_, String>>().map_err(error)?;
            for turns in per_group.into_iter().flatten() {
                let &(row, hash) = pending.next().ok_or_else(|| error("more sampled rows than chosen".into()))?;
                let Some(turns) = turns else { continue };
                extras.sampled += 1;
                let words: Vec<&str> = turns.words.iter().map(String::as_str).collect();
                let example = turns.example.as_deref().map(|text| (hash, text));
                for (f, words_of_facet) in extras.words.iter_mut().enumerate() {
                    let cluster = assignments.clusters[f][row];
                    if cluster != NO_CLUSTER {
                        words_of_facet.add(cluster as usize, &words, example);
                    }
                }
            }
        }
        if pending.next().is_some() {
            return Err(error("fewer sampled rows read than chosen: the table changed while it was read".into()));
        }
        if next != rows {
            return Err(error(format!(
                "only {next} of the {rows} assigned conversations were found in order: the tables come from \
                 different runs; rerun the pipeline"
            )));
        }
        Ok(extras)
    }
}

/// Pass 3: USI sides, per-cluster feature profiles, and (per-pair protocol) each source's facet matrices.
pub struct FeatureInputs {
    /// Per source; None when the table has no USI columns.
    pub usi: Option<Vec<Side>>,
    pub tasks: Tasks,
    /// [facet]
    pub profiles: Vec<FeatureProfile>,
    /// [facet][source]: rows x columns (NaN = missing), row-major, when asked for.
    pub matrices: Option<Vec<Vec<Vec<f64>>>>,
    /// [facet]: the columns of those matrices.
    pub matrix_columns: Vec<Vec<String>>,
}

impl FeatureInputs {
    pub fn read(
        out_dir: &Path,
        assignments: &Assignments,
        extras: &ConversationExtras,
        keep_matrices: bool,
        seed: u64,
    ) -> Result<Self, DivergenceError> {
        let path = out_dir.join(crate::features::FEATURES_FILE);
        let error = |message: String| DivergenceError::Read { path: path.clone(), message };
        let (reader, schema) = batches(&path, None).map_err(error)?;
        let by_facet: BTreeMap<String, Vec<String>> = crate::cluster::facet_columns(&schema).map_err(error)?;
        let usi_columns: Vec<&str> = usi::feature_columns().into_iter().map(|(name, _)| name).collect();
        let has_usi = usi_columns.iter().all(|c| schema.field_with_name(c).is_ok());
        let mut sides: Vec<Side> = assignments
            .sources
            .iter()
            .zip(&assignments.kinds)
            .map(|(s, k)| Side::new(s, *k == SourceKind::Simulator))
            .collect();
        let mut tasks = Tasks::default();
        let mut profiles: Vec<FeatureProfile> =
            assignments.codebooks.iter().map(|c| FeatureProfile::new(c.columns.clone(), c.centroids.len())).collect();
        // The per-pair protocol clusters every column of the facet, as the shared codebook's fit did.
        let matrix_columns: Vec<Vec<String>> = assignments
            .facets
            .iter()
            .zip(&assignments.codebooks)
            .map(|(facet, codebook)| by_facet.get(facet).cloned().unwrap_or_else(|| codebook.columns.clone()))
            .collect();
        let mut matrices: Option<Vec<Vec<Vec<f64>>>> =
            keep_matrices.then(|| vec![vec![Vec::new(); assignments.sources.len()]; assignments.facets.len()]);
        let mut row = 0usize;
        for batch in reader {
            let batch = batch.map_err(|e| error(e.to_string()))?;
            let (ids, sources) =
                (text(&batch, "conversation_id").map_err(error)?, text(&batch, "source").map_err(error)?);
            let float = |name: &str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_primitive_opt::<Float64Type>())
                    .ok_or_else(|| error(format!("column {name:?} is not float64")))
            };
            let usi_arrays =
                if has_usi { Some(usi_columns.iter().map(|c| float(c)).collect::<Result<Vec<_>, _>>()?) } else { None };
            let profile_arrays: Vec<Vec<_>> = profiles
                .iter()
                .map(|p| p.columns.iter().map(|c| float(c)).collect::<Result<Vec<_>, _>>())
                .collect::<Result<_, _>>()?;
            let matrix_arrays: Vec<Vec<_>> = if keep_matrices {
                matrix_columns
                    .iter()
                    .map(|cols| cols.iter().map(|c| float(c)).collect::<Result<Vec<_>, _>>())
                    .collect::<Result<_, _>>()?
            } else {
                Vec::new()
            };
            let task_ids = batch.column_by_name("task_id").and_then(|c| c.as_string_opt::<i32>());
            let runs = batch.column_by_name("run").and_then(|c| c.as_primitive_opt::<Int64Type>());
            let outcomes = batch.column_by_name("outcome").and_then(|c| c.as_primitive_opt::<Float64Type>());
            let value = |array: &arrow::array::Float64Array, i: usize| {
                if array.is_null(i) { f64::NAN } else { array.value(i) }
            };
            for i in 0..batch.num_rows() {
                if row >= assignments.rows() || assignments.row_key[row] != row_hash(0, sources.value(i), ids.value(i))
                {
                    return Err(error(format!(
                        "row {row} ({:?}) is not the assignments' row {row}: the tables come from different runs; \
                         rerun `simgap cluster`",
                        ids.value(i)
                    )));
                }
                let source = assignments.row_source[row] as usize;
                if let Some(arrays) = &usi_arrays {
                    let features: [f64; USI_FEATURES] = std::array::from_fn(|j| value(arrays[j], i));
                    let usi_row = UsiRow {
                        task: task_ids.filter(|t| !t.is_null(i)).map(|t| t.value(i)),
                        run: runs.filter(|r| !r.is_null(i)).map(|r| r.value(i)),
                        outcome: outcomes.filter(|o| !o.is_null(i)).map(|o| o.value(i)),
                        features,
                        survey: extras.surveys[row],
                        fill_hash: mix64(assignments.row_key[row] ^ seed),
                    };
                    sides[source].add(&usi_row, &mut tasks);
                }
                for (f, profile) in profiles.iter_mut().enumerate() {
                    let cluster = assignments.clusters[f][row];
                    if cluster != NO_CLUSTER {
                        profile.add(cluster as usize, profile_arrays[f].iter().map(|a| value(a, i)));
                    }
                }
                if let Some(matrices) = matrices.as_mut() {
                    for (f, arrays) in matrix_arrays.iter().enumerate() {
                        matrices[f][source].extend(arrays.iter().map(|a| value(a, i)));
                    }
                }
                row += 1;
            }
        }
        if row != assignments.rows() {
            return Err(error(format!(
                "{row} rows, but the assignments have {}: rerun `simgap cluster`",
                assignments.rows()
            )));
        }
        Ok(FeatureInputs { usi: has_usi.then_some(sides), tasks, profiles, matrices, matrix_columns })
    }
}
