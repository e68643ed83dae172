//! How the CLI reads the divergence stage's inputs: its driver over the engine seam ([`super::tally`]), in three
//! streaming passes over the earlier stages' tables, finished into [`super::inputs`].
//!
//! Consumes: `assignments.parquet` + `codebooks/*.json` (the plan: facets and codebooks; pass 1: each row's
//! identity), `conversations.parquet` (pass 2: the survey of every assigned row, then the messages of a seeded
//! sample of conversations alone, through a row selection, for the cluster words), and `assignments.parquet` beside
//! `features.parquet` (pass 3: both tables' batches of the same rows, tallied). Produces: [`Assignments`],
//! [`ConversationExtras`], [`FeatureInputs`]. Rows are matched by a hash of (source, conversation id): features and
//! assignments have the same rows in the same order (checked), conversations may have more (those the features
//! stage skipped). Memory: 8 bytes per row plus each survey's text, the sampled conversations' words, and the
//! tally's own (see [`super::tally`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;

use super::config::DivergenceError;
use super::inputs::{Assignments, ConversationExtras, FeatureInputs};
use super::tally::{RowBatch, SampledTurns, Tally, TallyPlan};
use crate::cluster::codebook::Codebook;
use crate::features::reader::{ConversationBatches, ConversationRow};
use crate::features::text::{Reading, prepare};
use crate::hashing::row_hash;

/// Rows per batch of every pass.
const BATCH_ROWS: usize = 8192;

/// The table's batches (of every column, or of `columns` alone), its schema (with the file's key-value metadata,
/// which the reader's own schema lacks) and its number of rows.
fn batches(path: &Path, columns: Option<&[&str]>) -> Result<(ParquetRecordBatchReader, SchemaRef, u64), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let schema = builder.schema().clone();
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    if let Some(names) = columns {
        let mut roots = Vec::new();
        for name in names {
            roots.push(schema.index_of(name).map_err(|_| format!("no column {name:?}"))?);
        }
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    Ok((builder.with_batch_size(BATCH_ROWS).build().map_err(|e| e.to_string())?, schema, rows))
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::StringArray, String> {
    batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).ok_or(format!("no text column {name:?}"))
}

/// What to read.
pub struct ReadSettings<'a> {
    /// `[divergence] facets`; None for every facet the assignments have.
    pub facets: Option<&'a [String]>,
    /// Words the cluster words leave out.
    pub stopwords: &'a rustc_hash::FxHashSet<String>,
    /// About this many conversations are read for the cluster words.
    pub explain_sample: usize,
    pub per_pair: bool,
    pub seed: u64,
}

/// Reads the earlier stages' tables in `out_dir` into one tally and finishes it.
pub fn read(
    out_dir: &Path,
    settings: &ReadSettings<'_>,
) -> Result<(Assignments, ConversationExtras, FeatureInputs), DivergenceError> {
    let started = std::time::Instant::now();
    let plan = plan(out_dir, settings)?;
    let context = RowContext::read(out_dir, &plan, settings.stopwords)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "surveys and sampled turns read");
    let tally = tally_rows(out_dir, &plan, &context, 0..context.surveys.len() as u64)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "rows tallied");
    Ok(tally.finish(&plan))
}

/// The plan every part of the run shares: facets and codebooks from `out_dir`, the features' schema and rows.
pub fn plan(out_dir: &Path, settings: &ReadSettings<'_>) -> Result<TallyPlan, DivergenceError> {
    let features_path = out_dir.join(crate::features::FEATURES_FILE);
    let read_error = |message: String| DivergenceError::Read { path: features_path.clone(), message };
    let (facets, codebooks) = plan_facets(out_dir, &out_dir.join(crate::cluster::ASSIGNMENTS_FILE), settings.facets)?;
    let (_, schema, rows) = batches(&features_path, Some(&[])).map_err(read_error)?;
    TallyPlan::new(facets, codebooks, &schema, rows, settings.explain_sample, settings.per_pair, settings.seed)
        .map_err(read_error)
}

/// What the tally needs of the conversations table, by assigned row: each row's survey, and the sampled rows'
/// user turns (passes 1 and 2).
pub struct RowContext {
    pub surveys: Vec<Option<Box<str>>>,
    /// (assigned row, turns), in row order.
    pub turns: Vec<(u64, SampledTurns)>,
}

impl RowContext {
    pub fn read(
        out_dir: &Path,
        plan: &TallyPlan,
        stopwords: &rustc_hash::FxHashSet<String>,
    ) -> Result<Self, DivergenceError> {
        let assignments_path = out_dir.join(crate::cluster::ASSIGNMENTS_FILE);
        let conversations_path = out_dir.join(crate::ingest::CONVERSATIONS_FILE);
        let keys = row_keys(&assignments_path, plan.rows)
            .map_err(|message| DivergenceError::Read { path: assignments_path.clone(), message })?;
        let (surveys, sampled_rows) = surveys_and_sample(&conversations_path, &keys, plan)?;
        let turns = sampled_turns(&conversations_path, &sampled_rows, stopwords)
            .map_err(|message| DivergenceError::Read { path: conversations_path.clone(), message })?;
        Ok(RowContext { surveys, turns })
    }
}

/// The facets to compare (the settings' or every cluster column of the assignments) and their codebooks.
fn plan_facets(
    out_dir: &Path,
    path: &Path,
    wanted: Option<&[String]>,
) -> Result<(Vec<String>, Vec<Codebook>), DivergenceError> {
    let read_error = |message: String| DivergenceError::Read { path: path.to_path_buf(), message };
    let (_, schema, _) = batches(path, Some(&[])).map_err(read_error)?;
    let present: Vec<String> =
        schema.fields().iter().filter_map(|f| f.name().strip_prefix("cluster_").map(str::to_owned)).collect();
    let facets: Vec<String> = match wanted {
        Some(list) => {
            if let Some(facet) = list.iter().find(|f| !present.contains(f)) {
                return Err(DivergenceError::Config(format!(
                    "{}: [divergence] facets names {facet:?}, which has no cluster column (there are: {})",
                    path.display(),
                    present.join(", ")
                )));
            }
            list.to_vec()
        }
        None => present,
    };
    let codebooks = facets
        .iter()
        .map(|f| Codebook::read(&out_dir.join(crate::cluster::CODEBOOKS_DIR).join(format!("{f}.json"))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    Ok((facets, codebooks))
}

/// Pass 1: each assigned row's identity hash; the table must have the features' `rows` rows.
fn row_keys(path: &Path, rows: u64) -> Result<Vec<u64>, String> {
    let (reader, _, assigned) = batches(path, Some(&["conversation_id", "source"]))?;
    if assigned != rows {
        return Err(format!("{assigned} rows, but the features have {rows}: rerun `simgap cluster`"));
    }
    let mut keys = Vec::with_capacity(rows as usize);
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let (ids, sources) = (text(&batch, "conversation_id")?, text(&batch, "source")?);
        keys.extend((0..batch.num_rows()).map(|i| row_hash(0, sources.value(i), ids.value(i))));
    }
    Ok(keys)
}

/// Pass 2a: the survey of every assigned row, and the rows of the conversations table the plan samples for words
/// (as (conversations row, assigned row), in order).
fn surveys_and_sample(
    path: &Path,
    keys: &[u64],
    plan: &TallyPlan,
) -> Result<(Vec<Option<Box<str>>>, Vec<(u64, u64)>), DivergenceError> {
    let error = |message: String| DivergenceError::Read { path: path.to_path_buf(), message };
    let rows = keys.len();
    let mut surveys: Vec<Option<Box<str>>> = vec![None; rows];
    let mut sampled = Vec::new();
    let mut next = 0usize;
    let mut file_row = 0u64;
    let (identities, _, _) = batches(path, Some(&["conversation_id", "source", "survey"])).map_err(error)?;
    for batch in identities {
        let batch = batch.map_err(|e| error(e.to_string()))?;
        let (ids, sources, survey_texts) = (
            text(&batch, "conversation_id").map_err(error)?,
            text(&batch, "source").map_err(error)?,
            text(&batch, "survey").map_err(error)?,
        );
        for i in 0..batch.num_rows() {
            let key = row_hash(0, sources.value(i), ids.value(i));
            if !(next < rows && keys[next] == key) {
                continue; // a conversation the features stage skipped (no user turn)
            }
            if plan.word_sample_of_key(key).is_some() {
                sampled.push((file_row + i as u64, next as u64));
            }
            if !survey_texts.is_null(i) {
                surveys[next] = Some(survey_texts.value(i).into());
            }
            next += 1;
        }
        file_row += batch.num_rows() as u64;
    }
    if next != rows {
        return Err(error(format!(
            "only {next} of the {rows} assigned conversations were found in order: the tables come from \
             different runs; rerun the pipeline"
        )));
    }
    Ok((surveys, sampled))
}

/// Pass 2b: the sampled conversations' messages alone (the decoder skips the other rows), row groups in parallel
/// (the pages must be decompressed whole: that is most of the cost), tokenised as they are read; as (assigned row,
/// turns) for the conversations with a user turn.
fn sampled_turns(
    path: &Path,
    sampled: &[(u64, u64)],
    stopwords: &rustc_hash::FxHashSet<String>,
) -> Result<Vec<(u64, SampledTurns)>, String> {
    let file_rows: Vec<u64> = sampled.iter().map(|&(file_row, _)| file_row).collect();
    let groups: Vec<(usize, &[u64])> = ConversationBatches::row_groups(path)?
        .into_iter()
        .enumerate()
        .filter_map(|(group, (first, rows))| {
            let from = file_rows.partition_point(|&row| row < first);
            let to = file_rows.partition_point(|&row| row < first + rows);
            (from < to).then(|| (group, &file_rows[from..to]))
        })
        .collect();
    let read_group = |&(group, rows): &(usize, &[u64])| -> Result<Vec<Option<SampledTurns>>, String> {
        let mut turns = Vec::with_capacity(rows.len());
        for batch in ConversationBatches::open_group_rows(path, &[], group, rows)? {
            let batch = batch?;
            turns.extend(batch.rows()?.iter().map(|conversation| sampled_turns_of(conversation, stopwords)));
        }
        Ok(turns)
    };
    // As many groups at a time as there are threads, so only their words are held at once.
    let mut pending = sampled.iter();
    let mut out = Vec::new();
    for wave in groups.chunks(rayon::current_num_threads().max(1)) {
        let per_group: Vec<Vec<Option<SampledTurns>>> = wave.par_iter().map(read_group).collect::<Result<_, _>>()?;
        for turns in per_group.into_iter().flatten() {
            let &(_, row) = pending.next().ok_or("more sampled rows than chosen")?;
            if let Some(turns) = turns {
                out.push((row, turns));
            }
        }
    }
    if pending.next().is_some() {
        return Err("fewer sampled rows read than chosen: the table changed while it was read".into());
    }
    Ok(out)
}

/// A sampled conversation's user-turn words (without `stopwords`) and its first user turn; None without a user
/// turn.
pub fn sampled_turns_of(
    conversation: &ConversationRow<'_>,
    stopwords: &rustc_hash::FxHashSet<String>,
) -> Option<SampledTurns> {
    let reading = Reading { words: Some(stopwords), assistant_text: false };
    let prepared = prepare(&conversation.messages, conversation.kind, reading)?;
    let words = prepared.turns().flat_map(|t| t.content_words()).map(str::to_owned).collect();
    let example = prepared.turns().find_map(|t| t.text.as_deref()).map(str::to_owned);
    Some(SampledTurns { words, example })
}

/// Pass 3: the assignments' and features' batches of the same rows, tallied: the rows in `range` alone. Batches are
/// tallied in parallel, as many at a time as there are threads, each into a tally of its own merged into the whole:
/// merges are exact, so the result does not depend on the number of threads.
pub fn tally_rows(
    out_dir: &Path,
    plan: &TallyPlan,
    context: &RowContext,
    range: std::ops::Range<u64>,
) -> Result<Tally, DivergenceError> {
    let features_path = &out_dir.join(crate::features::FEATURES_FILE);
    let features_error = |message: String| DivergenceError::Read { path: features_path.to_path_buf(), message };
    let mut parts = PairedBatches::open(out_dir)?;
    let mut tally = Tally::new(plan);
    let wave_size = 2 * rayon::current_num_threads().max(1);
    loop {
        let mut wave = Vec::with_capacity(wave_size);
        while wave.len() < wave_size {
            match parts.next()? {
                Some((first_row, _, _)) if first_row >= range.end => break,
                Some(pair) => wave.push(pair),
                None => break,
            }
        }
        if wave.is_empty() {
            return Ok(tally);
        }
        let tallies: Vec<Tally> = wave
            .par_iter()
            .filter_map(|(first_row, a, f)| {
                // The part of the batch inside the range.
                let (from, to) = (range.start.max(*first_row), range.end.min(first_row + a.num_rows() as u64));
                (from < to).then(|| {
                    let (offset, n) = ((from - first_row) as usize, (to - from) as usize);
                    let (a, f) = (a.slice(offset, n), f.slice(offset, n));
                    let surveys: Vec<Option<&str>> =
                        context.surveys[from as usize..to as usize].iter().map(|s| s.as_deref()).collect();
                    let first_turn = context.turns.partition_point(|(row, _)| *row < from);
                    let batch_turns: Vec<(usize, &SampledTurns)> = context.turns[first_turn..]
                        .iter()
                        .take_while(|(row, _)| *row < to)
                        .map(|(row, sampled)| ((row - from) as usize, sampled))
                        .collect();
                    let rows = RowBatch {
                        first_row: from,
                        assignments: &a,
                        features: &f,
                        surveys: &surveys,
                        turns: &batch_turns,
                    };
                    let mut part = Tally::new(plan);
                    part.add_batch(plan, &rows).map(|()| part)
                })
            })
            .collect::<Result<_, String>>()
            .map_err(features_error)?;
        for part in &tallies {
            tally.merge(part).map_err(features_error)?;
        }
    }
}

/// The assignments' and the features' batches of the same rows, in order, with the position of their first row.
struct PairedBatches {
    assigned: Aligned,
    featured: Aligned,
    first_row: u64,
    assignments_path: PathBuf,
    features_path: PathBuf,
}

impl PairedBatches {
    fn open(out_dir: &Path) -> Result<Self, DivergenceError> {
        let assignments_path = out_dir.join(crate::cluster::ASSIGNMENTS_FILE);
        let features_path = out_dir.join(crate::features::FEATURES_FILE);
        let (assigned, _, _) = batches(&assignments_path, None)
            .map_err(|message| DivergenceError::Read { path: assignments_path.clone(), message })?;
        let (featured, _, _) = batches(&features_path, None)
            .map_err(|message| DivergenceError::Read { path: features_path.clone(), message })?;
        Ok(PairedBatches {
            assigned: Aligned::new(assigned),
            featured: Aligned::new(featured),
            first_row: 0,
            assignments_path,
            features_path,
        })
    }

    /// The next pair, None at the end of both tables.
    fn next(&mut self) -> Result<Option<(u64, RecordBatch, RecordBatch)>, DivergenceError> {
        let assignments_error =
            |message: String| DivergenceError::Read { path: self.assignments_path.clone(), message };
        let features_error = |message: String| DivergenceError::Read { path: self.features_path.clone(), message };
        let a = self.assigned.next(BATCH_ROWS).map_err(assignments_error)?;
        let f = self.featured.next(a.as_ref().map_or(BATCH_ROWS, RecordBatch::num_rows)).map_err(features_error)?;
        let (a, f) = match (a, f) {
            (None, None) => return Ok(None),
            (Some(a), Some(f)) if f.num_rows() < a.num_rows() => {
                self.assigned.unread(a.slice(f.num_rows(), a.num_rows() - f.num_rows())).map_err(assignments_error)?;
                (a.slice(0, f.num_rows()), f)
            }
            (Some(a), Some(f)) if a.num_rows() == f.num_rows() => (a, f),
            _ => {
                return Err(features_error(format!(
                    "the features and the assignments have different numbers of rows (from row {}): rerun \
                     `simgap cluster`",
                    self.first_row
                )));
            }
        };
        let first_row = self.first_row;
        self.first_row += a.num_rows() as u64;
        Ok(Some((first_row, a, f)))
    }
}

/// A reader whose batches are cut to the sizes asked for, so two tables' readers give batches of the same rows.
struct Aligned {
    reader: ParquetRecordBatchReader,
    pending: Option<RecordBatch>,
}

impl Aligned {
    fn new(reader: ParquetRecordBatchReader) -> Self {
        Aligned { reader, pending: None }
    }

    /// The next at most `rows` rows; None at the end.
    fn next(&mut self, rows: usize) -> Result<Option<RecordBatch>, String> {
        let batch = match self.pending.take() {
            Some(batch) => batch,
            None => match self.reader.next() {
                Some(batch) => batch.map_err(|e| e.to_string())?,
                None => return Ok(None),
            },
        };
        if batch.num_rows() > rows {
            self.pending = Some(batch.slice(rows, batch.num_rows() - rows));
            return Ok(Some(batch.slice(0, rows)));
        }
        Ok(Some(batch))
    }

    /// Puts rows back in front of the next ones.
    fn unread(&mut self, rows: RecordBatch) -> Result<(), String> {
        self.pending = Some(match self.pending.take() {
            Some(later) => {
                arrow::compute::concat_batches(&rows.schema(), [&rows, &later]).map_err(|e| e.to_string())?
            }
            None => rows,
        });
        Ok(())
    }
}
