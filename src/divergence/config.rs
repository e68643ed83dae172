//! The `[divergence]` settings of a pipeline: which source is the reference, the resampling counts, the codebook
//! protocol, the log base, and the rules they must keep; and the stage's error type.
//!
//! Consumes: the pipeline file's `[divergence]` table (serde). Produces: a checked [`DivergenceConfig`]; every
//! rule about the settings alone fails as [`DivergenceError::Config`] (exit 2) before any data is read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::histogram::Smoothing;
use super::usi;

/// Which codebook the divergences are computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CodebookMode {
    /// The cluster stage's codebook per facet, fitted on a balanced sample of every source.
    #[default]
    Shared,
    /// arXiv 2605.07847: a codebook per (reference, simulator) pair (L2, PCA 90%, K = 500, 5 restarts).
    PerPair,
}

/// The unit of KL and JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LogBase {
    /// Natural log: nats.
    #[default]
    #[serde(rename = "e", alias = "nats")]
    E,
    /// Base 2: bits.
    #[serde(rename = "2", alias = "bits")]
    Two,
}

impl LogBase {
    pub fn unit(self) -> &'static str {
        match self {
            LogBase::E => "nats",
            LogBase::Two => "bits",
        }
    }

    /// Converts a value in nats.
    pub fn convert(self, nats: f64) -> f64 {
        match self {
            LogBase::E => nats,
            LogBase::Two => nats / std::f64::consts::LN_2,
        }
    }
}

/// `[divergence]` in the pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DivergenceConfig {
    /// The source every other is compared with. Default: the only human source.
    pub reference: Option<String>,
    /// KL smoothing: "prob", "counts:ALPHA" or "none". Default: "prob" for per-pair, "counts:0.5" for shared.
    pub smoothing: Option<Smoothing>,
    /// Bootstrap replicates for the divergence intervals (0: none).
    pub bootstrap: usize,
    /// Label permutations for the p-value (0: none).
    pub permutations: usize,
    /// Simulated sample pairs per world that calibrate the bias-corrected intervals ([`calibration`]; below 2: the
    /// jackknife's +-2.576 SE interval, uncalibrated).
    pub calibration_draws: usize,
    /// Random halvings of the reference for the human ceiling (0: none).
    pub ceiling_splits: usize,
    /// Bootstrap replicates for the USI interval (0: none).
    pub usi_bootstrap: usize,
    pub seed: u64,
    pub codebook: CodebookMode,
    pub log_base: LogBase,
    /// A cluster is `missed` when the reference's share is at least this many times the simulator's.
    pub label_ratio: f64,
    /// Conversations (about) whose user turns are read for the cluster words.
    pub explain_sample: usize,
    /// A frozen task-difficulty file (JSON: task id -> success rate) for ECE. Default: pooled over the simulators.
    pub usi_difficulty: Option<PathBuf>,
    /// Which conversations USI's D1-D4 take where every conversation has a task id: "shared" (the tasks both sides
    /// ran, the spec's default) or "all" (every conversation, for sides whose task ids name different tasks).
    pub usi_tasks: usi::TaskScope,
    /// Facets to compare (default: every facet with a codebook).
    pub facets: Option<Vec<String>>,
}

impl Default for DivergenceConfig {
    fn default() -> Self {
        DivergenceConfig {
            reference: None,
            smoothing: None,
            bootstrap: 1000,
            permutations: 1000,
            calibration_draws: 200,
            ceiling_splits: 100,
            usi_bootstrap: 200,
            seed: 0,
            codebook: CodebookMode::Shared,
            log_base: LogBase::E,
            label_ratio: 2.0,
            explain_sample: 50_000,
            usi_difficulty: None,
            usi_tasks: usi::TaskScope::Shared,
            facets: None,
        }
    }
}

impl DivergenceConfig {
    /// Every rule about the settings alone (checked before any stage of `simgap run` starts).
    pub fn check(&self) -> Result<(), DivergenceError> {
        if self.reference.as_deref() == Some("") {
            return Err(DivergenceError::Config("[divergence] reference is empty".into()));
        }
        if !(self.label_ratio.is_finite() && self.label_ratio > 1.0) {
            return Err(DivergenceError::Config(format!(
                "[divergence] label_ratio must be a number above 1, not {}",
                self.label_ratio
            )));
        }
        if let Some(list) = &self.facets {
            if list.is_empty() {
                return Err(DivergenceError::Config("[divergence] facets is empty".into()));
            }
            if let Some(repeated) = crate::repeated::first_repeated(list) {
                return Err(DivergenceError::Config(format!("[divergence] facets names {repeated} twice")));
            }
        }
        Ok(())
    }

    /// The smoothing in force.
    pub fn smoothing(&self) -> Smoothing {
        self.smoothing.unwrap_or(match self.codebook {
            CodebookMode::PerPair => Smoothing::Prob,
            CodebookMode::Shared => Smoothing::Counts(0.5),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DivergenceError {
    #[error("{0}")]
    Config(String),
    /// An input table that is missing, damaged or not what the earlier stage writes.
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] crate::table::WriteError),
    #[error("facet {facet}, source {source_name}: per-pair codebook")]
    KMeans {
        facet: String,
        source_name: String,
        #[source]
        source: crate::cluster::kmeans::KMeansError,
    },
}

impl DivergenceError {
    pub fn is_usage(&self) -> bool {
        matches!(self, DivergenceError::Config(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::divergence::histogram::Smoothing;

    #[test]
    fn config_rules() {
        let bad_ratio = DivergenceConfig { label_ratio: 1.0, ..Default::default() };
        assert!(bad_ratio.check().is_err());
        let empty = DivergenceConfig { facets: Some(vec![]), ..Default::default() };
        assert!(empty.check().is_err());
        let twice = DivergenceConfig { facets: Some(vec!["usi".into(), "usi".into()]), ..Default::default() };
        assert!(twice.check().is_err());
        assert_eq!(DivergenceConfig::default().smoothing(), Smoothing::Counts(0.5));
        let paper = DivergenceConfig { codebook: CodebookMode::PerPair, ..Default::default() };
        assert_eq!(paper.smoothing(), Smoothing::Prob);
    }
}
