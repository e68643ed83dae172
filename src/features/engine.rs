//! The features stage as functions of one batch of `conversations.parquet`, so that any driver (the CLI's file
//! reader here, a shard of a distributed run elsewhere) computes the same rows: [`FeatureEngine::frequencies_of`]
//! gives a batch's lexical document frequencies (summed over every batch, in any order, with
//! [`DocumentFrequencies::merge`]: they are counts), and [`FeatureEngine::compute`] a batch's feature rows once the
//! engine holds the corpus's frequencies.
//!
//! Consumes: a [`ConversationBatch`] (its `first_row` places it in the table), the compiled cues, the embeddings
//! and, for `lexical`, the document frequencies of the whole corpus. Produces: per batch, the rows that get a feature
//! vector with their values, and a note for each row that gets none or lacks its embedding. Rows are independent of
//! one another: a batch's result does not depend on the other batches (but for the frequencies).

use rayon::prelude::*;

use super::cues::Cues;
use super::embedding::Embeddings;
use super::facet::{Column, Facet, columns};
use super::lexical::{self, DocumentFrequencies};
use super::reader::{ConversationBatch, ConversationRow};
use super::text::{Reading, prepare};

/// Why a row of a batch is in the features rejects.
pub const NO_USER_TURN: &str = "no user turn left after cleaning (meta messages and markup removed): no feature row";
pub const NO_EMBEDDING: &str = "no embedding for this conversation: its embedding columns are null";

/// What one batch gave.
#[derive(Debug, Default)]
pub struct BatchFeatures {
    /// The rows of the batch that get a feature row, in batch order.
    pub kept: Vec<u32>,
    /// Their values, one vector per kept row, in column order (NaN where a value does not exist).
    pub values: Vec<Vec<f64>>,
    /// Rows for the rejects file, in batch order: the row, and the reason ([`NO_USER_TURN`]: no feature row;
    /// [`NO_EMBEDDING`]: kept, with null embedding columns).
    pub notes: Vec<(u32, &'static str)>,
}

/// Computes feature rows; holds what every row reads besides itself.
pub struct FeatureEngine {
    facets: Vec<Facet>,
    lexical_dimensions: usize,
    seed: u64,
    cues: Cues,
    embeddings: Option<Embeddings>,
    frequencies: Option<DocumentFrequencies>,
    columns: Vec<Column>,
}

impl FeatureEngine {
    /// An engine for `facets`; with `lexical` among them it computes rows only after [`Self::with_frequencies`].
    pub fn new(
        facets: Vec<Facet>,
        lexical_dimensions: usize,
        seed: u64,
        cues: Cues,
        embeddings: Option<Embeddings>,
    ) -> Self {
        let columns = columns(&facets, lexical_dimensions, embeddings.as_ref().map_or(0, |e| e.dimensions));
        Self { facets, lexical_dimensions, seed, cues, embeddings, frequencies: None, columns }
    }

    /// The output columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn embeddings(&self) -> Option<&Embeddings> {
        self.embeddings.as_ref()
    }

    /// Whether rows need the corpus's document frequencies first (the `lexical` facet).
    pub fn needs_frequencies(&self) -> bool {
        self.facets.contains(&Facet::Lexical)
    }

    /// The document frequencies of one batch: in how many of its conversations each term bucket occurs.
    pub fn frequencies_of(&self, batch: &ConversationBatch) -> Result<DocumentFrequencies, String> {
        let mut frequencies = DocumentFrequencies::default();
        self.add_frequencies(&batch.rows()?, &mut frequencies);
        Ok(frequencies)
    }

    /// Adds the document frequencies of `rows` to `frequencies` (one table for a whole pass, where a driver reads
    /// every batch itself).
    pub fn add_frequencies(&self, rows: &[ConversationRow<'_>], frequencies: &mut DocumentFrequencies) {
        // Terms in parallel; the 4 MiB table is updated by this thread alone (copies per worker cost more).
        let terms: Vec<Vec<(u32, u32)>> = rows
            .par_iter()
            .filter_map(|row| {
                let reading = Reading { words: Some(&self.cues.stopwords), assistant_text: false };
                prepare(&row.messages, row.kind, reading).map(|p| lexical::term_counts(&p))
            })
            .collect();
        for conversation in &terms {
            frequencies.add(conversation);
        }
    }

    /// Sets the corpus's document frequencies (every batch's, merged).
    pub fn with_frequencies(mut self, frequencies: DocumentFrequencies) -> Self {
        self.frequencies = Some(frequencies);
        self
    }

    /// The feature rows of one batch, its rows computed in parallel.
    pub fn compute(&self, batch: &ConversationBatch) -> Result<BatchFeatures, String> {
        self.compute_rows(&batch.rows()?)
    }

    /// The feature rows of a batch's decoded rows ([`ConversationBatch::rows`]), for a driver that reads them too.
    pub fn compute_rows(&self, rows: &[ConversationRow<'_>]) -> Result<BatchFeatures, String> {
        if self.needs_frequencies() && self.frequencies.is_none() {
            return Err("the lexical facet needs the corpus's document frequencies first (with_frequencies)".into());
        }
        let reading = Reading {
            words: self.facets.iter().any(|f| f.reads_words()).then_some(&self.cues.stopwords),
            assistant_text: self.facets.iter().any(|f| f.reads_assistant_text()),
        };
        let computed: Vec<Option<Vec<f64>>> = rows.par_iter().map(|row| self.values_of(row, reading)).collect();
        let mut out = BatchFeatures::default();
        for (index, features) in computed.into_iter().enumerate() {
            let index = index as u32;
            let Some(features) = features else {
                out.notes.push((index, NO_USER_TURN));
                continue;
            };
            if self.embeddings.is_some() && self.embedding_missing(&features) {
                out.notes.push((index, NO_EMBEDDING));
            }
            out.kept.push(index);
            out.values.push(features);
        }
        Ok(out)
    }

    fn embedding_missing(&self, features: &[f64]) -> bool {
        self.columns.iter().zip(features).any(|(c, v)| c.facet == Facet::Embedding && v.is_nan())
    }

    /// The feature values of one conversation, facet by facet, in column order (None: no user turn is left after
    /// cleaning).
    fn values_of(&self, row: &ConversationRow<'_>, reading: Reading<'_>) -> Option<Vec<f64>> {
        let prepared = prepare(&row.messages, row.kind, reading)?;
        let mut values = Vec::with_capacity(self.columns.len());
        for &facet in &self.facets {
            match facet.rules() {
                Some((_, compute)) => compute(&prepared, &self.cues, &mut values),
                None if facet == Facet::Lexical => {
                    let terms = lexical::term_counts(&prepared);
                    let frequencies = self.frequencies.as_ref().expect("checked by compute");
                    lexical::project(&terms, frequencies, self.lexical_dimensions, self.seed, &mut values);
                }
                None => {
                    let embeddings = self.embeddings.as_ref().expect("loaded when embedding is on");
                    match embeddings.lookup(row.source, row.conversation_id) {
                        Some(vector) => values.extend_from_slice(vector),
                        None => values.extend(std::iter::repeat_n(f64::NAN, embeddings.dimensions)),
                    }
                }
            }
        }
        Some(values)
    }
}
