//! Stage 2, features: `conversations.parquet` -> `features.parquet`, one behavioural feature vector per
//! conversation, grouped in facets.
//!
//! Consumes: `OUT/conversations.parquet` (streamed batch by batch), the `[features]` settings, the cue lists, and
//! optionally an embeddings file. Produces: `OUT/features.parquet` (identity columns `conversation_id`, `source`,
//! `kind`, `task_id`, `run`, `outcome`, then one float64 column per feature, null where a value does not exist; each
//! column's facet in its field metadata and in the file's `simgap.facets` key), `OUT/features_rejects.jsonl`
//! (conversations that yield no row, embedding rows rejected or unmatched, conversations without a vector) and a
//! [`FeaturesReport`] with per-source means.
//!
//! Facets: `usi` (the published 19 + n_turns), `style`, `information`, `cooperation`, `repetition`, `context`,
//! `termination`, `timing`, `lexical` (hashed TF-IDF, projected), `embedding` (joined from a file).
//! Invariants: conversations read = rows written + conversations skipped (no user turn after cleaning); rows keep the
//! input order, so equal inputs and settings give identical bytes, whatever the thread count. Cost: one pass (two
//! with `lexical`), parallel over the conversations of each batch with rayon, while a thread decodes the next batch
//! and another encodes the previous one; memory: three batches of conversations (plus the embeddings file, when
//! used, and a 4 MiB document-frequency table for `lexical`).

pub mod context;
pub mod cooperation;
pub mod cues;
pub mod embedding;
pub mod engine;
pub mod error;
pub mod facet;
pub mod information;
pub mod lexical;
pub mod reader;
pub mod repetition;
pub mod rule;
pub mod style;
pub mod termination;
pub mod text;
pub mod timing;
pub mod usi;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::ingest::Location;
use crate::ingest::rejects::{Reject, RejectsWriter};
use cues::CueLists;
use embedding::{EmbeddingConfig, EmbeddingIssue, Embeddings};
use engine::FeatureEngine;
use reader::ConversationBatches;

pub use error::FeaturesError;
pub use facet::{Column, Facet, columns, list};
pub use rule::FeatureDef;

pub const FEATURES_FILE: &str = "features.parquet";
pub const FEATURES_REJECTS_FILE: &str = "features_rejects.jsonl";

/// `[features]` in the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Facets to compute. Default: every built-in facet, plus `embedding` when `[features.embeddings]` is set.
    pub facets: Option<Vec<Facet>>,
    /// A TOML file replacing cue lists (tables `[usi]`, `[own]`; see `simgap features --list`).
    pub lexicons: Option<PathBuf>,
    /// Dimensions of the `lexical` facet. Default 64.
    #[serde(default = "default_lexical_dimensions")]
    pub lexical_dimensions: usize,
    /// Seed of the `lexical` random projection. Default 0.
    #[serde(default)]
    pub seed: u64,
    pub embeddings: Option<EmbeddingConfig>,
}

/// The most `lexical` columns a pipeline may ask for: beyond it the projection matrix and the features table
/// outgrow memory long before they add information (the default is 64).
pub const MAX_LEXICAL_DIMENSIONS: usize = 4096;

fn default_lexical_dimensions() -> usize {
    64
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            facets: None,
            lexicons: None,
            lexical_dimensions: default_lexical_dimensions(),
            seed: 0,
            embeddings: None,
        }
    }
}

/// What the features stage needs. Paths are already resolved.
#[derive(Debug, Clone)]
pub struct FeaturesParams {
    pub out_dir: PathBuf,
    pub facets: Vec<Facet>,
    pub lexicons: Option<PathBuf>,
    pub lexical_dimensions: usize,
    pub seed: u64,
    pub embeddings: Option<EmbeddingConfig>,
    pub progress: bool,
}

/// Per-source means of every feature (nulls left out).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceMeans {
    pub kind: String,
    pub conversations: u64,
    pub means: Vec<f64>,
    #[serde(skip)]
    sums: Vec<f64>,
    #[serde(skip)]
    counts: Vec<u64>,
}

impl SourceMeans {
    fn add(&mut self, values: &[f64]) {
        self.sums.resize(values.len(), 0.0);
        self.counts.resize(values.len(), 0);
        for (i, v) in values.iter().enumerate() {
            if !v.is_nan() {
                self.sums[i] += v;
                self.counts[i] += 1;
            }
        }
        self.conversations += 1;
    }

    fn finish(&mut self) {
        self.means =
            self.sums.iter().zip(&self.counts).map(|(s, &n)| if n == 0 { f64::NAN } else { s / n as f64 }).collect();
    }
}

/// What the features stage did.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturesReport {
    pub columns: Vec<Column>,
    pub conversations_read: u64,
    pub rows_written: u64,
    pub skipped_no_user_turn: u64,
    pub embedding_issues: u64,
    pub sources: BTreeMap<String, SourceMeans>,
    pub seconds: f64,
    pub features_file: PathBuf,
    pub rejects_file: PathBuf,
}

impl FeaturesParams {
    /// Every rule about the settings; one message per rule.
    pub fn check(&self) -> Result<(), FeaturesError> {
        let conversations = self.out_dir.join(crate::ingest::CONVERSATIONS_FILE);
        if !conversations.is_file() {
            return Err(FeaturesError::Config(format!(
                "{} does not exist: run `simgap ingest` first",
                conversations.display()
            )));
        }
        self.check_settings()
    }

    /// Every rule about the settings alone (checked before any stage of `simgap run` starts).
    pub fn check_settings(&self) -> Result<(), FeaturesError> {
        if self.facets.is_empty() {
            return Err(FeaturesError::Config("[features] facets is empty".into()));
        }
        if let Some(repeated) = crate::repeated::first_repeated(&self.facets) {
            return Err(FeaturesError::Config(format!("[features] facets names {} twice", repeated.name())));
        }
        if self.facets.contains(&Facet::Lexical) && !(1..=MAX_LEXICAL_DIMENSIONS).contains(&self.lexical_dimensions) {
            return Err(FeaturesError::Config(format!(
                "[features] lexical_dimensions must be between 1 and {MAX_LEXICAL_DIMENSIONS}, not {} (each is a \
                 float64 column of features.parquet and a dimension of the lexical codebook)",
                self.lexical_dimensions
            )));
        }
        if self.facets.contains(&Facet::Embedding) && self.embeddings.is_none() {
            return Err(FeaturesError::Config(
                "facet embedding needs a [features.embeddings] table (path, id_column, vector_column or columns)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn run(&self) -> Result<FeaturesReport, FeaturesError> {
        self.check()?;
        let started = Instant::now();
        let conversations_path = self.out_dir.join(crate::ingest::CONVERSATIONS_FILE);
        let (engine, embedding_issues) = self.engine(&conversations_path)?;
        let columns = engine.columns().to_vec();
        let features_path = self.out_dir.join(FEATURES_FILE);
        let rejects_path = self.out_dir.join(FEATURES_REJECTS_FILE);
        let mut rejects = RejectsWriter::create(&rejects_path)?;
        let batches = ConversationBatches::open(&conversations_path)
            .map_err(|message| FeaturesError::Read { path: conversations_path.clone(), message })?;
        let mut counts = self.compute_and_write(&engine, batches, &conversations_path, &features_path, &mut rejects)?;
        let issue_count = self.write_embedding_issues(&engine, &embedding_issues, &mut rejects)?;
        rejects.finish()?;
        for means in counts.sources.values_mut() {
            means.finish();
        }
        Ok(FeaturesReport {
            columns,
            conversations_read: counts.read,
            rows_written: counts.written,
            skipped_no_user_turn: counts.skipped,
            embedding_issues: issue_count,
            sources: counts.sources,
            seconds: started.elapsed().as_secs_f64(),
            features_file: features_path,
            rejects_file: rejects_path,
        })
    }

    /// The engine: the cue lists, the embeddings (and what loading them found wrong) and, where a facet needs them,
    /// the document frequencies of a first pass over the conversations.
    fn engine(&self, conversations_path: &Path) -> Result<(FeatureEngine, Vec<EmbeddingIssue>), FeaturesError> {
        let (engine, embedding_issues) = self.engine_before_frequencies()?;
        if !engine.needs_frequencies() {
            return Ok((engine, embedding_issues));
        }
        let frequencies = self
            .document_frequencies(conversations_path, &engine)
            .map_err(|message| FeaturesError::Read { path: conversations_path.to_owned(), message })?;
        Ok((engine.with_frequencies(frequencies), embedding_issues))
    }

    /// The engine without the corpus's document frequencies, for a driver that computes them itself
    /// ([`FeatureEngine::frequencies_of`] per batch, merged): the cue lists and the embeddings (with what loading
    /// them found wrong).
    pub fn engine_before_frequencies(&self) -> Result<(FeatureEngine, Vec<EmbeddingIssue>), FeaturesError> {
        let cue_lists = match &self.lexicons {
            Some(path) => CueLists::with_overrides(path)?,
            None => CueLists::built_in(),
        };
        let (embeddings, embedding_issues) = match (&self.embeddings, self.facets.contains(&Facet::Embedding)) {
            (Some(config), true) => {
                let (embeddings, issues) = Embeddings::load(config, &config.path)?;
                (Some(embeddings), issues)
            }
            _ => (None, Vec::new()),
        };
        let engine = FeatureEngine::new(
            self.facets.clone(),
            self.lexical_dimensions,
            self.seed,
            cue_lists.compile()?,
            embeddings,
        );
        Ok((engine, embedding_issues))
    }

    /// Every batch of conversations computed and written, skipped rows to the rejects. Three threads of work
    /// overlap: decoding the next batch (reader::for_each_batch), computing this one (all cores, rayon), encoding the
    /// previous one (the writer's thread, one batch behind).
    fn compute_and_write(
        &self,
        engine: &FeatureEngine,
        batches: ConversationBatches,
        conversations_path: &Path,
        features_path: &Path,
        rejects: &mut RejectsWriter,
    ) -> Result<RunCounts, FeaturesError> {
        let read_error = |message: String| FeaturesError::Read { path: conversations_path.to_owned(), message };
        let mut writer = writer::FeaturesWriter::create(features_path, engine.columns())?;
        let progress = crate::progress::count_bar(self.progress, batches.rows(), "features");
        let mut counts = RunCounts::default();
        let (to_writer, writer_inbox) =
            std::sync::mpsc::sync_channel::<(reader::ConversationBatch, engine::BatchFeatures)>(1);
        let (computed, writer) = std::thread::scope(|scope| {
            let writing = scope.spawn(move || -> Result<writer::FeaturesWriter, FeaturesError> {
                for (batch, features) in writer_inbox {
                    writer.write(&batch, &features.kept, &features.values)?;
                }
                Ok(writer)
            });
            let computed = reader::for_each_batch(batches, read_error, |batch| {
                let rows = batch.rows().map_err(read_error)?;
                let features = engine.compute_rows(&rows).map_err(read_error)?;
                counts.record(&rows, &features, rejects)?;
                progress.inc(rows.len() as u64);
                drop(rows);
                to_writer.send((batch, features)).map_err(|_| FeaturesError::Write {
                    path: features_path.to_owned(),
                    message: "the writer stopped".into(),
                })
            });
            drop(to_writer);
            let writer = writing.join().unwrap_or_else(|_| {
                Err(FeaturesError::Write {
                    path: features_path.to_owned(),
                    message: "the writer thread panicked".into(),
                })
            });
            (computed, writer)
        });
        // The writer's own error explains a "writer stopped" from the loop.
        let writer = writer?;
        computed?;
        progress.finish_and_clear();
        writer.finish()?;
        Ok(counts)
    }

    /// A shard's part of the stage: the conversations `rows` of `conversations_path` computed with `engine` (which
    /// holds the whole corpus's document frequencies), their feature rows written to `features_path` and the rows
    /// skipped to `rejects_path` (lines of `features_rejects.jsonl`, rows numbered in the whole table). The parts of
    /// consecutive ranges, concatenated in order, are the stage's own tables. Embeddings are not supported here.
    pub fn run_rows(
        &self,
        engine: &FeatureEngine,
        conversations_path: &Path,
        rows: std::ops::Range<u64>,
        features_path: &Path,
        rejects_path: &Path,
    ) -> Result<PartCounts, FeaturesError> {
        let batches = ConversationBatches::open_range(conversations_path, &[], rows)
            .map_err(|message| FeaturesError::Read { path: conversations_path.to_owned(), message })?;
        let mut rejects = RejectsWriter::create_part(rejects_path)?;
        let counts = self.compute_and_write(engine, batches, conversations_path, features_path, &mut rejects)?;
        rejects.finish()?;
        Ok(PartCounts { read: counts.read, written: counts.written, skipped: counts.skipped })
    }

    /// The embeddings' problems (rows that matched no conversation, unreadable vectors) written as rejects; how many.
    fn write_embedding_issues(
        &self,
        engine: &FeatureEngine,
        loading: &[EmbeddingIssue],
        rejects: &mut RejectsWriter,
    ) -> Result<u64, FeaturesError> {
        let (Some(config), Some(embeddings)) = (&self.embeddings, engine.embeddings()) else { return Ok(0) };
        let file = config.path.display().to_string();
        let mut count = 0u64;
        for issue in loading.iter().chain(&embeddings.unmatched()) {
            count += 1;
            rejects.write(&Reject {
                file: &file,
                location: issue.row.map_or(Location::File, Location::Record),
                conversation_id: issue.conversation_id.as_deref(),
                source: issue.source.as_deref(),
                reason: &issue.reason,
                raw: b"",
            })?;
        }
        Ok(count)
    }

    /// First pass of the `lexical` facet: every batch's document frequencies, summed.
    fn document_frequencies(
        &self,
        path: &std::path::Path,
        engine: &FeatureEngine,
    ) -> Result<lexical::DocumentFrequencies, String> {
        let mut total = lexical::DocumentFrequencies::default();
        reader::for_each_batch(
            ConversationBatches::open(path)?,
            |e| e,
            |batch| {
                engine.add_frequencies(&batch.rows()?, &mut total);
                Ok(())
            },
        )?;
        Ok(total)
    }
}

/// A table of per-source means: feature, facet, one column per source. Lexical and embedding dimensions are left
/// out (they have no meaning one by one).
pub fn summary(report: &FeaturesReport) -> String {
    use std::fmt::Write;
    let sources: Vec<&String> = report.sources.keys().collect();
    let width = sources.iter().map(|s| s.len()).max().unwrap_or(8).max(9);
    let mut out = String::new();
    let _ = write!(out, "{:<32} {:<12}", "feature", "facet");
    for source in &sources {
        let _ = write!(out, " {source:>width$}");
    }
    let _ = writeln!(out);
    for (i, column) in report.columns.iter().enumerate() {
        if matches!(column.facet, Facet::Lexical | Facet::Embedding) {
            continue;
        }
        let _ = write!(out, "{:<32} {:<12}", column.name, column.facet.name());
        for source in &sources {
            let mean = report.sources[*source].means.get(i).copied().unwrap_or(f64::NAN);
            if mean.is_nan() {
                let _ = write!(out, " {:>width$}", "-");
            } else {
                let _ = write!(out, " {mean:>width$.4}");
            }
        }
        let _ = writeln!(out);
    }
    let _ = write!(out, "{:<32} {:<12}", "conversations", "");
    for source in &sources {
        let _ = write!(out, " {:>width$}", report.sources[*source].conversations);
    }
    let _ = writeln!(out);
    out
}

/// What a shard's part of the stage read, wrote and skipped ([`FeaturesParams::run_rows`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PartCounts {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
}

/// What the run read, wrote and skipped, and each source's feature means.
#[derive(Default)]
struct RunCounts {
    sources: BTreeMap<String, SourceMeans>,
    read: u64,
    written: u64,
    skipped: u64,
}

impl RunCounts {
    /// One computed batch: its skipped rows to the rejects, its kept rows into their source's means.
    fn record(
        &mut self,
        rows: &[reader::ConversationRow<'_>],
        features: &engine::BatchFeatures,
        rejects: &mut RejectsWriter,
    ) -> Result<(), FeaturesError> {
        for &(index, reason) in &features.notes {
            let row = &rows[index as usize];
            self.skipped += u64::from(reason == engine::NO_USER_TURN);
            rejects.write(&Reject {
                file: crate::ingest::CONVERSATIONS_FILE,
                location: Location::Record(row.row_number),
                conversation_id: Some(row.conversation_id),
                source: Some(row.source),
                reason,
                raw: b"",
            })?;
        }
        for (&index, values) in features.kept.iter().zip(&features.values) {
            let row = &rows[index as usize];
            self.sources
                .entry(row.source.to_owned())
                .or_insert_with(|| SourceMeans { kind: row.kind.as_str().to_owned(), ..SourceMeans::default() })
                .add(values);
        }
        self.read += rows.len() as u64;
        self.written += features.kept.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Building conversations and reading a facet's values by name, for the facets' unit tests.
    use std::collections::HashMap;

    use super::cues::{CueLists, Cues};
    use super::rule::{Compute, FeatureDef};
    use super::text::{MessageView, Prepared, Reading, prepare};
    use crate::ingest::{Role, SourceKind};

    pub fn conversation(messages: &[(Role, &'static str)]) -> Vec<MessageView<'static>> {
        messages.iter().map(|(role, text)| MessageView { role: *role, content: Some(text), timestamp: None }).collect()
    }

    pub fn users(texts: &[&'static str]) -> Vec<MessageView<'static>> {
        texts.iter().map(|text| MessageView { role: Role::User, content: Some(text), timestamp: None }).collect()
    }

    pub fn timed(messages: &[(Role, &'static str, &'static str)]) -> Vec<MessageView<'static>> {
        messages
            .iter()
            .map(|(role, text, at)| MessageView { role: *role, content: Some(text), timestamp: Some(at) })
            .collect()
    }

    pub fn prepared(texts: &[&'static str]) -> Prepared<'static> {
        let views = users(texts);
        let cues = cues();
        prepare(&views, SourceKind::Human, Reading { words: Some(&cues.stopwords), assistant_text: true })
            .expect("a user turn")
    }

    pub fn cues() -> Cues {
        CueLists::built_in().compile().expect("built-in cues compile")
    }

    pub fn by_name(defs: &[FeatureDef], compute: Compute, messages: &[MessageView<'_>]) -> HashMap<&'static str, f64> {
        let cues = cues();
        let reading = Reading { words: Some(&cues.stopwords), assistant_text: true };
        let prepared = prepare(messages, SourceKind::Human, reading).expect("a user turn");
        let mut out = Vec::new();
        compute(&prepared, &cues, &mut out);
        assert_eq!(out.len(), defs.len());
        defs.iter().map(|d| d.name).zip(out).collect()
    }
}
