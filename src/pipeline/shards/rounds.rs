//! One shard's work in each round: what it reads (its input files, or its range of the merged conversations and
//! its own earlier parts) and the partial result it writes in `PARTS/<round>/I-of-N.*`.
//!
//! Consumes: the pipeline, the shard, the merged results of the rounds before. Produces: cache parts (ingest),
//! document frequencies (JSON), feature rows (Parquet) + their rejects (JSON lines) + sampling keys (JSON), the fit
//! sample's rows (Arrow IPC), cluster labels (Parquet) + the divergence tally (JSON).

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};

use super::parts::{Parts, Shard, ShardError, io_error};
use crate::cluster::assign::{AssignmentWriter, assign_batch};
use crate::cluster::codebook::Codebook;
use crate::cluster::columns::FeatureTable;
use crate::cluster::facets_to_fit;
use crate::cluster::sample::{FitSample, SampleKeys, SamplePlan};
use crate::divergence::reading::sampled_turns_of;
use crate::divergence::tally::{RowBatch, SampledTurns, Tally, TallyPlan};
use crate::features::engine::FeatureEngine;
use crate::features::lexical::DocumentFrequencies;
use crate::features::reader::ConversationBatches;
use crate::hashing::row_hash;
use crate::pipeline::config::PipelineConfig;

/// Files of the merged results the rounds read.
pub(super) const FREQUENCIES: &str = "frequencies.json";
/// The fit sample's plan (per source, its quota and hash threshold), and the rows per source.
pub(super) const SAMPLE_PLAN: &str = "sample_plan.json";
pub(super) const SOURCE_ROWS: &str = "source_rows.json";
/// Feature rows per shard, in shard order (to place a shard's rows in the whole table).
pub(super) const FEATURE_ROWS: &str = "feature_rows.json";
/// The facets of the codebooks, in the order the cluster stage fitted them.
pub(super) const CODEBOOK_FACETS: &str = "codebook_facets.json";

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ShardError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| io_error(path, e))
}

pub(super) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ShardError> {
    let text = serde_json::to_string(value).map_err(|e| io_error(path, e))?;
    crate::atomic::write_atomic(path, text.as_bytes()).map_err(|e| io_error(path, e))
}

pub(super) fn stage(error: impl Into<anyhow::Error>) -> ShardError {
    ShardError::Stage(error.into())
}

/// Rows of a Parquet table, from its footer.
pub(super) fn table_rows(path: &Path) -> Result<u64, ShardError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| io_error(path, e))?;
    Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
}

/// The features engine with the merged document frequencies (where a facet needs them).
pub(super) fn engine(
    config: &PipelineConfig,
    merged: &Path,
    with_frequencies: bool,
) -> Result<FeatureEngine, ShardError> {
    let (engine, _) = config.features_params(merged.to_owned(), false).engine_before_frequencies().map_err(stage)?;
    if !(with_frequencies && engine.needs_frequencies()) {
        return Ok(engine);
    }
    let path = merged.join(FREQUENCIES);
    let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
    Ok(engine.with_frequencies(DocumentFrequencies::from_json(&text).map_err(|e| io_error(&path, e))?))
}

/// The divergence stage's plan (every shard's and the merge's) and every codebook, in the cluster stage's order.
pub(super) fn tally_plan(config: &PipelineConfig, merged: &Path) -> Result<(TallyPlan, Vec<Codebook>), ShardError> {
    let facets: Vec<String> = read_json(&merged.join(CODEBOOK_FACETS))?;
    let codebooks_dir = merged.join(crate::cluster::CODEBOOKS_DIR);
    let codebooks = facets
        .iter()
        .map(|facet| {
            let path = codebooks_dir.join(format!("{facet}.json"));
            Codebook::read(&path).map_err(|e| io_error(&path, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let wanted = match &config.divergence.facets {
        Some(list) => {
            if let Some(facet) = list.iter().find(|f| !facets.contains(f)) {
                return Err(ShardError::Config(format!(
                    "[divergence] facets names {facet:?}, which has no codebook (there are: {})",
                    facets.join(", ")
                )));
            }
            list.clone()
        }
        None => facets.clone(),
    };
    let chosen: Vec<Codebook> =
        wanted.iter().map(|f| codebooks[facets.iter().position(|g| g == f).expect("checked")].clone()).collect();
    let features_path = merged.join(crate::features::FEATURES_FILE);
    let table = FeatureTable::open(&features_path).map_err(stage)?;
    let rows = table_rows(&features_path)?;
    let divergence = &config.divergence;
    let per_pair = divergence.codebook == crate::divergence::config::CodebookMode::PerPair;
    let plan =
        TallyPlan::new(wanted, chosen, &table.schema, rows, divergence.explain_sample, per_pair, divergence.seed)
            .map_err(|e| io_error(&features_path, e))?;
    Ok((plan, codebooks))
}

/// One shard's round.
pub(super) struct ShardWork<'a> {
    pub config: &'a PipelineConfig,
    pub out_dir: &'a Path,
    pub parts: &'a Parts,
    pub shard: Shard,
    /// Progress bars on a terminal (ingest and features, the long rounds).
    pub progress: bool,
}

impl ShardWork<'_> {
    fn merged(&self) -> PathBuf {
        self.parts.merged()
    }

    fn file(&self, round: usize, suffix: &str) -> PathBuf {
        self.parts.shard_file(round, self.shard, suffix)
    }

    /// The shard's rows of the merged conversations table.
    fn conversation_rows(&self) -> Result<std::ops::Range<u64>, ShardError> {
        Ok(self.shard.range(table_rows(&self.merged().join(crate::ingest::CONVERSATIONS_FILE))?))
    }

    /// Round 1: the cache parts of the shard's input files (a contiguous range of every input's files in order).
    pub fn ingest(&self) -> Result<u64, ShardError> {
        let params = self.config.ingest_params(self.out_dir.to_owned(), false, self.progress);
        let files = params.input_files().map_err(stage)?.len() as u64;
        let mine = self.shard.range(files);
        let snapshot = params.snapshot_of(|at| mine.contains(&(at as u64))).map_err(stage)?;
        params.build_parts(&snapshot).map_err(stage)?;
        Ok(mine.end - mine.start)
    }

    /// Round 2: the lexical document frequencies of the shard's conversations (empty when no facet needs them).
    pub fn frequencies(&self) -> Result<u64, ShardError> {
        let engine = engine(self.config, &self.merged(), false)?;
        let rows = self.conversation_rows()?;
        let mut frequencies = DocumentFrequencies::default();
        if engine.needs_frequencies() {
            let path = self.merged().join(crate::ingest::CONVERSATIONS_FILE);
            for batch in ConversationBatches::open_range(&path, &[], rows.clone()).map_err(|e| io_error(&path, e))? {
                let batch = batch.map_err(|e| io_error(&path, e))?;
                frequencies = frequencies.merge(&engine.frequencies_of(&batch).map_err(|e| io_error(&path, e))?);
            }
        }
        let path = self.file(1, ".json");
        crate::atomic::write_atomic(&path, frequencies.to_json().as_bytes()).map_err(|e| io_error(&path, e))?;
        Ok(rows.end - rows.start)
    }

    /// Round 3: the shard's feature rows (and the rows skipped, as rejects), and their sampling keys.
    pub fn features(&self) -> Result<u64, ShardError> {
        let merged = self.merged();
        let engine = engine(self.config, &merged, true)?;
        let rows = self.conversation_rows()?;
        let params = self.config.features_params(merged.clone(), self.progress);
        let conversations = merged.join(crate::ingest::CONVERSATIONS_FILE);
        let (features, rejects) = (self.file(2, ".parquet"), self.file(2, ".rejects.jsonl"));
        params.run_rows(&engine, &conversations, rows.clone(), &features, &rejects).map_err(stage)?;
        let table = FeatureTable::open(&features).map_err(stage)?;
        let mut keys = SampleKeys::default();
        for batch in table.identity_batches().map_err(stage)? {
            keys.add_batch(&table, &batch.map_err(stage)?, self.config.cluster.seed).map_err(stage)?;
        }
        write_json(&self.file(2, ".keys.json"), &keys)?;
        Ok(rows.end - rows.start)
    }

    /// Where the shard's feature rows start in the whole table.
    fn first_feature_row(&self) -> Result<u64, ShardError> {
        let per_shard: Vec<u64> = read_json(&self.merged().join(FEATURE_ROWS))?;
        Ok(per_shard.iter().take(self.shard.index).sum())
    }

    /// Round 4: the shard's rows of the fit sample, chosen by the plan of every shard's keys.
    pub fn sample(&self) -> Result<u64, ShardError> {
        let cluster = &self.config.cluster;
        let plan: SamplePlan = read_json(&self.merged().join(SAMPLE_PLAN))?;
        let table = FeatureTable::open(&self.file(2, ".parquet")).map_err(stage)?;
        let facets = facets_to_fit(cluster, &table).map_err(stage)?;
        let mut first_row = self.first_feature_row()?;
        let mut sample = FitSample::default();
        let mut rows = 0;
        for batch in table.batches().map_err(stage)? {
            let batch = batch.map_err(stage)?;
            let keep = plan.select(&table, &batch, cluster.seed).map_err(stage)?;
            sample.add_batch(&table, &batch, first_row, &keep, &facets).map_err(stage)?;
            first_row += batch.num_rows() as u64;
            rows += batch.num_rows() as u64;
        }
        let path = self.file(3, ".arrow");
        let bytes = sample.to_ipc().map_err(|e| io_error(&path, e))?;
        crate::atomic::write_atomic(&path, &bytes).map_err(|e| io_error(&path, e))?;
        Ok(rows)
    }

    /// Round 5: the shard's cluster labels and its tally of the divergence stage's inputs.
    pub fn assign(&self) -> Result<u64, ShardError> {
        let merged = self.merged();
        let (plan, codebooks) = tally_plan(self.config, &merged)?;
        let facets: Vec<String> = codebooks.iter().map(|c| c.facet.clone()).collect();
        let table = FeatureTable::open(&self.file(2, ".parquet")).map_err(stage)?;
        let context = self.row_context(&table, &plan)?;
        let labels_path = self.file(4, ".parquet");
        let mut writer = AssignmentWriter::create(&labels_path, &facets).map_err(stage)?;
        let mut tally = Tally::new(&plan);
        let first_row = self.first_feature_row()?;
        let mut local = 0usize;
        for batch in table.batches().map_err(stage)? {
            let batch = batch.map_err(stage)?;
            let labels =
                writer.rows(&batch, assign_batch(&table, &batch, &codebooks).map_err(stage)?).map_err(stage)?;
            writer.write_rows(&labels).map_err(stage)?;
            let n = batch.num_rows();
            let surveys: Vec<Option<&str>> = context.surveys[local..local + n].iter().map(|s| s.as_deref()).collect();
            let turns: Vec<(usize, &SampledTurns)> = context
                .turns
                .iter()
                .filter(|(row, _)| (local..local + n).contains(row))
                .map(|(row, turns)| (row - local, turns))
                .collect();
            let rows = RowBatch {
                first_row: first_row + local as u64,
                assignments: &labels,
                features: &batch,
                surveys: &surveys,
                turns: &turns,
            };
            tally.add_batch(&plan, &rows).map_err(|e| io_error(&labels_path, e))?;
            local += n;
        }
        writer.finish().map_err(stage)?;
        let path = self.file(4, ".tally.json");
        crate::atomic::write_atomic(&path, tally.to_json().as_bytes()).map_err(|e| io_error(&path, e))?;
        Ok(local as u64)
    }

    /// Each of the shard's feature rows' survey, and the user turns of those the plan samples for the cluster
    /// words, from the shard's conversations (the feature rows are those conversations, less the skipped ones, in
    /// order).
    fn row_context(&self, table: &FeatureTable, plan: &TallyPlan) -> Result<RowContext, ShardError> {
        let mut keys = Vec::new();
        for batch in table.batches().map_err(stage)? {
            let batch = batch.map_err(stage)?;
            let (sources, ids) = table.identity(&batch).map_err(stage)?;
            keys.extend((0..batch.num_rows()).map(|i| row_hash(0, sources.value(i), ids.value(i))));
        }
        let cues = self.config.divergence_params(self.merged(), false).cues().map_err(stage)?;
        let path = self.merged().join(crate::ingest::CONVERSATIONS_FILE);
        let read_error = |e: String| io_error(&path, e);
        let mut context = RowContext { surveys: vec![None; keys.len()], turns: Vec::new() };
        let mut next = 0usize;
        for batch in
            ConversationBatches::open_range(&path, &["survey"], self.conversation_rows()?).map_err(read_error)?
        {
            let batch = batch.map_err(read_error)?;
            let surveys = batch.batch.column_by_name("survey").and_then(|c| c.as_string_opt::<i32>());
            for (i, row) in batch.rows().map_err(read_error)?.iter().enumerate() {
                let key = row_hash(0, row.source, row.conversation_id);
                if !(next < keys.len() && keys[next] == key) {
                    continue; // a conversation the features stage skipped (no user turn)
                }
                if let Some(surveys) = surveys.filter(|s| !s.is_null(i)) {
                    context.surveys[next] = Some(surveys.value(i).into());
                }
                if plan.word_sample_of_key(key).is_some()
                    && let Some(turns) = sampled_turns_of(row, &cues.stopwords)
                {
                    context.turns.push((next, turns));
                }
                next += 1;
            }
        }
        if next != keys.len() {
            return Err(io_error(
                &path,
                format!("only {next} of the shard's {} feature rows were found among its conversations", keys.len()),
            ));
        }
        Ok(context)
    }
}

/// What the tally needs of a shard's conversations, by feature row of the shard.
struct RowContext {
    surveys: Vec<Option<Box<str>>>,
    /// (feature row of the shard, turns), in order.
    turns: Vec<(usize, SampledTurns)>,
}

/// The rows of a Parquet file, batch by batch.
pub(super) fn batches_of(path: &Path) -> Result<impl Iterator<Item = Result<RecordBatch, ShardError>>, ShardError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| io_error(path, e))?;
    let path = path.to_owned();
    Ok(reader.map(move |b| b.map_err(|e| io_error(&path, e))))
}
