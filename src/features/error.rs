//! What can go wrong in the features stage, with the file and the reason.
//!
//! Consumes: the errors of the cue lists, the embeddings file, the readers and writers. Produces: [`FeaturesError`].

use std::path::PathBuf;

use super::{cues, embedding};

/// A failure of the features stage. [`FeaturesError::is_usage`] tells configuration mistakes (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Cues(#[from] cues::CueError),
    #[error(transparent)]
    Embeddings(#[from] embedding::EmbeddingError),
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    Rejects(#[from] crate::ingest::IngestError),
}

impl FeaturesError {
    /// Configuration mistakes (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, FeaturesError::Config(_) | FeaturesError::Cues(_))
    }
}
