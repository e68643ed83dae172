//! What stops the cluster stage, with the file, the facet or the setting.
//!
//! Consumes: the errors of Parquet, Arrow, the file system and k-means. Produces: [`ClusterError`].

use std::path::PathBuf;

use super::kmeans::KMeansError;

/// A failure of the cluster stage. [`ClusterError::is_usage`] tells configuration mistakes (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A setting, or a facet the feature table lacks; the message names the key.
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{path}: {source}")]
    Arrow { path: PathBuf, source: arrow::error::ArrowError },
    /// The feature table is not what the features stage writes (no facet metadata, a column of another type).
    #[error("{path}: {problem}")]
    Table { path: PathBuf, problem: String },
    /// Bad data, not bad settings: every record was rejected, or no conversation has a user turn.
    #[error(
        "{} has no rows: no conversation was accepted with a user turn, so there is nothing to cluster (the reasons \
         are in rejects.jsonl and features_rejects.jsonl beside it)",
        path.display()
    )]
    NoRows { path: PathBuf },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {source}")]
    WriteParquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("facet {facet}")]
    KMeans {
        facet: String,
        #[source]
        source: KMeansError,
    },
}

impl ClusterError {
    /// Configuration mistakes (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, ClusterError::Config(_))
    }
}
