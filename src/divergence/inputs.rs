//! What the divergence statistics are computed from, whichever driver gathered it: sources, facets, codebooks and
//! cluster counts ([`Assignments`]), survey problems and cluster words ([`ConversationExtras`]), USI sides, cluster
//! feature profiles and the per-pair matrices ([`FeatureInputs`]).
//!
//! Consumes: nothing; [`super::tally::Tally::finish`] produces these. Produces: the types the statistics and table
//! writers read.

use super::explain::{ClusterWords, FeatureProfile};
use super::histogram::Histogram;
use super::usi::{Side, Tasks};
use crate::cluster::codebook::Codebook;
use crate::ingest::SourceKind;

/// No cluster: the conversation has no value in the facet.
pub const NO_CLUSTER: u32 = u32::MAX;

/// Sources, facets and the cluster counts.
pub struct Assignments {
    /// Sorted by name.
    pub sources: Vec<String>,
    pub kinds: Vec<SourceKind>,
    pub facets: Vec<String>,
    pub codebooks: Vec<Codebook>,
    /// Conversations assigned.
    pub rows: usize,
    /// [facet][source].
    pub histograms: Vec<Vec<Histogram>>,
}

impl Assignments {
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// Survey problems and cluster words.
pub struct ConversationExtras {
    pub unknown_questions: u64,
    pub unreadable_answers: u64,
    /// Surveys that are not a JSON object: (conversation id, problem), the first few.
    pub bad_surveys: Vec<(String, String)>,
    pub bad_survey_count: u64,
    /// [facet]
    pub words: Vec<ClusterWords>,
    pub sampled: u64,
}

/// USI sides, per-cluster feature profiles, and (per-pair protocol) each source's facet matrices.
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
