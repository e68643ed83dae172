//! What a k-means fit or assignment refuses: settings out of range, data it cannot fit, centroids of another width.
//!
//! Consumes: nothing of the engine. Produces: [`KMeansError`].

/// Why a fit or an assignment was refused.
#[derive(Debug, thiserror::Error)]
pub enum KMeansError {
    #[error("k must be at least 1")]
    ZeroClusters,
    #[error("k = {k} is more than the {n} rows")]
    TooManyClusters { k: usize, n: usize },
    #[error("restarts must be at least 1")]
    ZeroRestarts,
    #[error("max_iter must be at least 1")]
    ZeroIterations,
    #[error("tol must be a non-negative finite number, not {0}")]
    BadTolerance(f64),
    #[error("the data has a non-finite value (NaN or infinite) at row {row}, column {column}")]
    NotFinite { row: usize, column: usize },
    #[error("the mini-batch size must be at least 1")]
    ZeroBatch,
    #[error("the data has no columns")]
    NoColumns,
    #[error("centroids have {got} columns, the data {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
