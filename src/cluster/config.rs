//! `[cluster]`: the settings of the cluster stage, their defaults, and every rule they must follow.
//!
//! Consumes: TOML, through serde. Produces: [`ClusterConfig`] and [`SampleBalance`]; [`ClusterConfig::check`] says
//! what is wrong, naming the key.

use serde::{Deserialize, Serialize};

use super::codebook::Precision;
use super::error::ClusterError;
use super::kmeans::KMeansParams;

/// How the fit sample shares its rows among sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SampleBalance {
    /// Each source the same number of rows (or all it has).
    #[default]
    Equal,
    /// Each source in proportion to its size.
    Proportional,
}

/// `[cluster]` in the pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Clusters per codebook.
    pub k: usize,
    pub restarts: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
    /// Rows the codebooks are fitted on, at most.
    pub sample_size: usize,
    pub balance: SampleBalance,
    /// Facets to fit a codebook for (`all` = every feature together). Default: every facet in the table, and `all`.
    pub facets: Option<Vec<String>>,
    /// Keep the principal components explaining this share of the variance (e.g. 0.9). Default: no PCA.
    pub pca_variance: Option<f64>,
    pub precision: Precision,
    /// Mini-batch k-means with batches of this many rows (default: full Lloyd iterations).
    pub minibatch: Option<usize>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            k: 50,
            restarts: 3,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            sample_size: 200_000,
            balance: SampleBalance::Equal,
            facets: None,
            pca_variance: None,
            precision: Precision::F64,
            minibatch: None,
        }
    }
}

impl ClusterConfig {
    /// The k-means settings every codebook of the stage is fitted with.
    pub fn kmeans_params(&self) -> KMeansParams {
        KMeansParams::new(self.k)
            .restarts(self.restarts)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .seed(self.seed)
            .minibatch(self.minibatch)
    }

    /// Every rule about the settings alone (checked before any stage of `simgap run` starts).
    pub fn check(&self) -> Result<(), ClusterError> {
        let c = self;
        // k, restarts, max_iter, tol and minibatch follow the k-means engine's own rules.
        self.kmeans_params().check_settings().map_err(|e| ClusterError::Config(format!("[cluster] {e}")))?;
        if c.sample_size < c.k {
            return Err(ClusterError::Config(format!(
                "[cluster] sample_size {} is smaller than k {}",
                c.sample_size, c.k
            )));
        }
        if let Some(share) = c.pca_variance.filter(|s| !(*s > 0.0 && *s <= 1.0)) {
            return Err(ClusterError::Config(format!("[cluster] pca_variance must be in (0, 1], not {share}")));
        }
        if let Some(list) = &c.facets {
            if list.is_empty() {
                return Err(ClusterError::Config("[cluster] facets is empty".into()));
            }
            if let Some(repeated) = crate::repeated::first_repeated(list) {
                return Err(ClusterError::Config(format!("[cluster] facets names {repeated} twice")));
            }
        }
        Ok(())
    }
}
