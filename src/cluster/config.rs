//! `[cluster]`: the settings of the cluster stage, their defaults, and every rule they must follow.
//!
//! Consumes: TOML, through serde. Produces: [`ClusterConfig`], [`ClusterCount`] and [`SampleBalance`];
//! [`ClusterConfig::check`] says what is wrong, naming the key; [`ClusterCount::choose`] turns `k = "auto"` into a
//! number once the sources' sizes are known.

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

/// `[cluster] k`: a number of clusters, or `"auto"` (the default), chosen from the smallest source's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterCount {
    /// A tenth of the smallest source's conversations, between [`AUTO_K_MIN`] and [`AUTO_K_MAX`].
    #[default]
    Auto,
    /// Exactly this many, as the pipeline says.
    Fixed(usize),
}

/// The conversations per cluster that `k = "auto"` leaves the smallest source: at ten per cluster, the plug-in
/// divergences' upward bias is small and the corrected intervals' coverage was measured (docs/method.md).
pub const AUTO_CONVERSATIONS_PER_CLUSTER: u64 = 10;
/// Bounds of `k = "auto"`.
pub const AUTO_K_MIN: usize = 2;
pub const AUTO_K_MAX: usize = 50;

/// The k a stage uses, with the rule that gave it (shown in the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenK {
    pub k: usize,
    pub rule: String,
    /// Chosen by `auto`: a facet with fewer rows than k (timestamps on a few conversations) gets one cluster per row.
    #[serde(skip)]
    pub auto: bool,
}

impl ChosenK {
    /// The k of a facet fitted on `rows` rows: `auto` never asks for more clusters than rows; a fixed k is kept
    /// (and k-means says it is too many).
    pub fn for_rows(&self, rows: usize) -> usize {
        if self.auto { self.k.min(rows.max(1)) } else { self.k }
    }
}

impl ClusterCount {
    /// The k for a corpus whose smallest source has `smallest_source` conversations.
    pub fn choose(self, smallest_source: u64) -> ChosenK {
        match self {
            ClusterCount::Fixed(k) => ChosenK { k, rule: "set by [cluster] k".into(), auto: false },
            ClusterCount::Auto => {
                let tenth = (smallest_source / AUTO_CONVERSATIONS_PER_CLUSTER) as usize;
                let k = tenth.clamp(AUTO_K_MIN, AUTO_K_MAX);
                let rule = format!(
                    "auto: the smallest source's {smallest_source} conversations / {AUTO_CONVERSATIONS_PER_CLUSTER}, \
                     within [{AUTO_K_MIN}, {AUTO_K_MAX}]"
                );
                ChosenK { k, rule, auto: true }
            }
        }
    }

    /// The number, when the pipeline fixes one.
    pub fn fixed(self) -> Option<usize> {
        match self {
            ClusterCount::Fixed(k) => Some(k),
            ClusterCount::Auto => None,
        }
    }
}

impl Serialize for ClusterCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClusterCount::Auto => serializer.serialize_str("auto"),
            ClusterCount::Fixed(k) => serializer.serialize_u64(*k as u64),
        }
    }
}

impl<'de> Deserialize<'de> for ClusterCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(u64),
            Text(String),
        }
        match Written::deserialize(deserializer) {
            Ok(Written::Number(k)) => Ok(ClusterCount::Fixed(k as usize)),
            Ok(Written::Text(text)) if text == "auto" => Ok(ClusterCount::Auto),
            _ => Err(serde::de::Error::custom("k must be a whole number of clusters or \"auto\"")),
        }
    }
}

/// `[cluster]` in the pipeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Clusters per codebook, or `"auto"`.
    pub k: ClusterCount,
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
            k: ClusterCount::Auto,
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
    /// The k-means settings every codebook of the stage is fitted with, at `k` clusters.
    pub fn kmeans_params(&self, k: usize) -> KMeansParams {
        KMeansParams::new(k)
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
        let k = c.k.fixed().unwrap_or(AUTO_K_MIN);
        self.kmeans_params(k).check_settings().map_err(|e| ClusterError::Config(format!("[cluster] {e}")))?;
        if c.sample_size < k {
            return Err(ClusterError::Config(format!("[cluster] sample_size {} is smaller than k {k}", c.sample_size)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn k_of(toml_text: &str) -> Result<ClusterCount, String> {
        toml::from_str::<ClusterConfig>(toml_text).map(|c| c.k).map_err(|e| e.to_string())
    }

    #[test]
    fn k_is_a_number_or_auto_and_auto_is_the_default() {
        assert_eq!(k_of("").unwrap(), ClusterCount::Auto);
        assert_eq!(k_of("k = \"auto\"").unwrap(), ClusterCount::Auto);
        assert_eq!(k_of("k = 20").unwrap(), ClusterCount::Fixed(20));
        let err = k_of("k = \"many\"").unwrap_err();
        assert!(err.contains("whole number of clusters or \"auto\""), "{err}");
        assert!(k_of("k = -3").is_err());
    }

    #[test]
    fn auto_takes_a_tenth_of_the_smallest_source_within_bounds() {
        assert_eq!(ClusterCount::Auto.choose(280).k, 28);
        assert_eq!(ClusterCount::Auto.choose(289).k, 28);
        assert_eq!(ClusterCount::Auto.choose(6).k, AUTO_K_MIN);
        assert_eq!(ClusterCount::Auto.choose(1_000_000).k, AUTO_K_MAX);
        assert!(ClusterCount::Auto.choose(280).rule.contains("280 conversations"));
        let fixed = ClusterCount::Fixed(7).choose(280);
        assert_eq!((fixed.k, fixed.rule.as_str(), fixed.for_rows(3)), (7, "set by [cluster] k", 7));
        assert_eq!(ClusterCount::Auto.choose(280).for_rows(3), 3, "auto: at most one cluster per row");
        assert_eq!(ClusterCount::Auto.choose(280).for_rows(1000), 28);
    }
}
