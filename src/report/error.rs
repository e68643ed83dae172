//! What can go wrong in the report stage, each error naming its file (and column, for a table read back).
//!
//! Consumes: the failures of reading the divergence tables ([`ReadError`]), of drawing a figure and of writing a
//! file. Produces: [`ReportError`], whose [`ReportError::is_usage`] tells the CLI which exit code it gets.

use std::path::PathBuf;

/// A divergence table the report cannot read: which file, which column (where one is at fault), what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}{problem}", path.display(), column.as_ref().map(|c| format!("column {c:?}: ")).unwrap_or_default())]
pub struct ReadError {
    pub path: PathBuf,
    pub column: Option<String>,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The settings or the order of the stages are at fault (a missing divergence table).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the figure could not be drawn: {message}", path.display())]
    Figure { path: PathBuf, message: String },
}

impl ReportError {
    pub fn is_usage(&self) -> bool {
        matches!(self, ReportError::Config(_))
    }

    pub fn write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
        move |source| ReportError::Write { path: path.to_path_buf(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_error_names_the_file_and_the_column() {
        let error = ReadError {
            path: PathBuf::from("out/divergence.parquet"),
            column: Some("js_lo".into()),
            problem: "missing".into(),
        };
        assert_eq!(error.to_string(), "out/divergence.parquet: column \"js_lo\": missing");
        let whole_file = ReadError { column: None, ..error };
        assert_eq!(whole_file.to_string(), "out/divergence.parquet: missing");
        assert!(!ReportError::from(whole_file).is_usage());
    }
}
