//! The night `simgap run` records in the history (`report::history`): its date, the hash of the settings that
//! shape the numbers, and the manifest of the run before.
//!
//! Consumes: the pipeline, the `SOURCE_DATE_EPOCH` environment variable and the session's output folder. Produces:
//! the night's date ([`night_date`]), checked before any stage runs; the settings hash ([`settings_sha256`]); and,
//! after the divergence stage, the history with tonight's rows added ([`record_night`]) and its hash, which the
//! report stage reads (so a night added makes the report run, and a report skipped shows the history as it is).
//! The settings are every table of the pipeline file but `[output]` and `[report]` (the folder and the layout of
//! tables and figures do not change a number), as JSON with sorted keys, the contents of the files they name
//! (lexicons, embeddings, USI difficulty) and the simgap version: a new simgap marks a settings change.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::config::PipelineConfig;
use super::incremental::{Session, external_read, sorted};
use crate::hashing::{sha256_bytes, sha256_file};
use crate::report::ReportError;
use crate::report::history::{self, Appended, HISTORY_FILE, Tonight};

/// The environment variable that fixes the night's date (seconds since 1970-01-01 UTC), as reproducible builds do.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The pipeline file's tables that do not change the numbers.
const NOT_SETTINGS: [&str; 2] = ["output", "report"];

/// The night's date, `YYYY-MM-DD` in UTC: of `SOURCE_DATE_EPOCH` when set (and not empty), else of now.
pub fn night_date() -> Result<String, ReportError> {
    match std::env::var(SOURCE_DATE_EPOCH) {
        Ok(value) if !value.trim().is_empty() => value.trim().parse::<i64>().map(utc_date).map_err(|_| {
            ReportError::Config(format!(
                "{SOURCE_DATE_EPOCH}={value:?} is not a whole number of seconds since 1970-01-01 UTC (it dates the \
                 night in OUT/{HISTORY_FILE}; unset it for today's date)"
            ))
        }),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            Ok(utc_date(now.as_secs() as i64))
        }
        Err(std::env::VarError::NotUnicode(value)) => {
            Err(ReportError::Config(format!("{SOURCE_DATE_EPOCH}={value:?} is not a number")))
        }
    }
}

/// The UTC date of `seconds` since 1970-01-01, as `YYYY-MM-DD` (proleptic Gregorian calendar).
pub fn utc_date(seconds: i64) -> String {
    let (year, month, day) = crate::ingest::timestamp::civil_from_days(seconds.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// SHA-256 of the settings that shape the numbers (see the module's doc).
pub fn settings_sha256(config: &PipelineConfig) -> String {
    let mut files = BTreeMap::new();
    external_read(&mut files, "[features] lexicons", config.features.lexicons.as_deref());
    let embeddings = config.features.embeddings.as_ref().map(|e| e.path.as_path());
    external_read(&mut files, "[features.embeddings] path", embeddings);
    external_read(&mut files, "[divergence] usi_difficulty", config.divergence.usi_difficulty.as_deref());
    settings_text_sha256(&config.text, &files)
}

/// [`settings_sha256`] of a pipeline file's text and the hashes of the files it names.
fn settings_text_sha256(text: &str, files: &BTreeMap<String, String>) -> String {
    let mut tables: toml::Table = toml::from_str(text).unwrap_or_default();
    for name in NOT_SETTINGS {
        tables.remove(name);
    }
    let tables = serde_json::to_value(&tables).unwrap_or_default();
    let settings = json!({ "tables": tables, "files": files, "simgap_version": env!("CARGO_PKG_VERSION") });
    sha256_bytes(sorted(&settings).to_string().as_bytes())
}

/// Adds tonight's rows to the history in the session's generation (unless its inputs and settings equal the last
/// night's), says what it did in the log, and returns what the report stage reads of it: `history.parquet` and its
/// SHA-256 (nothing when there is no history). A read-only output folder records nothing: its runs change nothing.
pub fn record_night(
    config: &PipelineConfig,
    session: &Session,
    date: &str,
) -> Result<BTreeMap<String, String>, ReportError> {
    let generation = session.work_dir();
    if !session.read_only() {
        let tonight = Tonight {
            date: date.to_owned(),
            settings_sha256: settings_sha256(config),
            previous_manifest: serde_json::Value::Object(crate::manifest::read(session.out_dir())),
        };
        match history::append(generation, &tonight)? {
            Appended::Added { night, rows } => {
                tracing::info!(night, rows, date, "history: night {night} added to {HISTORY_FILE}");
            }
            Appended::Unchanged { nights } => {
                tracing::info!(nights, "history: inputs and settings as on the last night recorded, nothing added");
            }
        }
    }
    let path = generation.join(HISTORY_FILE);
    Ok(hash_if_present(&path)?.map(|hash| (HISTORY_FILE.to_owned(), hash)).into_iter().collect())
}

/// The SHA-256 of `path`, or None when there is no such file.
fn hash_if_present(path: &Path) -> Result<Option<String>, ReportError> {
    match sha256_file(path) {
        Ok(hash) => Ok(Some(hash)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ReportError::Write { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(86_399), "1970-01-01");
        assert_eq!(utc_date(86_400), "1970-01-02");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_709_164_800), "2024-02-29");
        assert_eq!(utc_date(1_764_547_200), "2025-12-01");
        assert_eq!(utc_date(4_107_542_399), "2100-02-28");
        assert_eq!(utc_date(4_107_542_400), "2100-03-01");
    }

    #[test]
    fn the_settings_hash_ignores_the_output_folder_the_report_layout_and_comments() {
        let files = BTreeMap::new();
        let base = "[output]\ndir = \"a\"\n[[input]]\npath = \"x.jsonl\"\nformat = \"jsonl\"\n[cluster]\nk = 5\n";
        let hash = settings_text_sha256(base, &files);
        let moved = base.replace("dir = \"a\"", "dir = \"b\"");
        assert_eq!(settings_text_sha256(&moved, &files), hash, "[output]");
        let laid_out = format!("# nightly\n{base}[report]\ncolumns = 2\n");
        assert_eq!(settings_text_sha256(&laid_out, &files), hash, "[report] and comments");
        let reordered = "[cluster]\nk = 5\n[[input]]\nformat = \"jsonl\"\npath = \"x.jsonl\"\n";
        assert_eq!(settings_text_sha256(reordered, &files), hash, "order of tables and keys");
        assert_ne!(settings_text_sha256(&base.replace("k = 5", "k = 6"), &files), hash, "[cluster]");
        assert_ne!(settings_text_sha256(&base.replace("x.jsonl", "y.jsonl"), &files), hash, "[[input]]");
        let lexicons = BTreeMap::from([("[features] lexicons".to_owned(), "ab".to_owned())]);
        assert_ne!(settings_text_sha256(base, &lexicons), hash, "a file the settings name");
    }
}
