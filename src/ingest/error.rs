//! What stops the ingest stage: a path that names nothing, a bad glob, an unreadable or unwritable file, a first
//! reject under `--strict`. Each variant names the path, and the file and line or record where there is one.
//!
//! Consumes: nothing of the stage. Produces: [`IngestError`].

use std::path::PathBuf;

use super::record::Location;

/// Errors that stop the ingest stage.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input path {pattern:?} matches no file (looked for {resolved})")]
    NoMatch { pattern: String, resolved: PathBuf },
    #[error("input path {pattern:?} is not a valid glob: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("--strict: {file} {location}: {reason}")]
    Strict { file: String, location: Location, reason: String },
}

impl IngestError {
    /// Whether the error is the user's configuration rather than the data or the machine (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, IngestError::NoMatch { .. } | IngestError::BadGlob { .. })
    }
}
