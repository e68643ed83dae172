//! What every part of a divergence run agrees on before it tallies rows ([`TallyPlan`]), and what one batch of
//! rows brings ([`RowBatch`], with the sampled conversations' [`SampledTurns`]).
//!
//! Consumes: the codebooks, the features table's schema, its number of rows, the word sample's size and the seed.
//! Produces: the plan, which decides which conversations' user turns are read for the cluster words (a seeded hash
//! under a threshold, so every shard decides alone and alike).

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use super::super::usi;
use crate::cluster::codebook::Codebook;
use crate::hashing::{mix64, row_hash};

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
        self.word_sample_of_key(row_hash(0, source, id))
    }

    /// [`Self::word_sample`] of a row whose identity hash (`row_hash(0, source, id)`) is already known.
    pub fn word_sample_of_key(&self, key: u64) -> Option<u64> {
        let hash = mix64(key ^ self.seed);
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
