//! Facet `embedding`: vectors the user already has (one per conversation, from any model), joined by
//! conversation id (and source, where the file has a source column).
//!
//! Consumes: a Parquet file with an id column and either a list column of floats or one numeric column per
//! dimension. Produces: [`Embeddings`], looked up per conversation into `emb_000` .. `emb_NNN`, and the list of
//! problems, none dropped silently: rows with a null id, the wrong dimension, NaN or infinite values, or a repeated
//! id are rejected with their row index; rows that match no conversation, and conversations without a vector
//! (their columns are null), are reported. Memory: the whole file's vectors (8 bytes per value).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

/// `[features.embeddings]` in the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub path: PathBuf,
    /// The id column. Default `conversation_id`.
    #[serde(default = "default_id_column")]
    pub id_column: String,
    /// A source column, when ids repeat across sources.
    pub source_column: Option<String>,
    /// A list<float> column holding the vector.
    pub vector_column: Option<String>,
    /// Or: the numeric columns, one per dimension, in order.
    pub columns: Option<Vec<String>>,
}

fn default_id_column() -> String {
    "conversation_id".to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    #[error("embeddings {path}: {message}")]
    File { path: PathBuf, message: String },
}

/// A rejected or unmatched row of the embeddings file, or a conversation without a vector.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingIssue {
    pub row: Option<u64>,
    pub conversation_id: Option<String>,
    pub source: Option<String>,
    pub reason: String,
}

type Key = (Option<String>, String);

/// The time an embeddings file of `bytes` may take to read: 60 s plus 1 s per 10 MB, so a reader that decodes
/// 10 MB/s or more (Parquet readers decode hundreds) finishes in time, and only one that does not advance stops.
pub fn read_time_limit(bytes: u64) -> Duration {
    Duration::from_secs(60 + bytes / 10_000_000)
}

/// The accepted vectors, by (source, id) or id.
#[derive(Debug)]
pub struct Embeddings {
    pub dimensions: usize,
    by_source: bool,
    vectors: HashMap<Key, (u64, Vec<f64>)>,
    used: std::sync::Mutex<Vec<bool>>,
    rows: u64,
}

impl Embeddings {
    /// Reads and checks the embeddings file; returns the accepted vectors and the rejected rows. The parquet crate
    /// panics on some malformed files (fuzzing found a negative column offset), and spins without end on others (a
    /// page header claiming a list longer than the file: docs/reliability.md); such a file is an error that names
    /// it, not a crash or a run that never ends: the file is read on a thread of its own, given
    /// [`read_time_limit`] for its size.
    pub fn load(config: &EmbeddingConfig, path: &Path) -> Result<(Self, Vec<EmbeddingIssue>), EmbeddingError> {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        Self::load_within(config, path, read_time_limit(bytes))
    }

    /// [`load`](Self::load) with a given time limit. A reader past it is left running on its thread (Rust cannot
    /// stop a thread) until the process ends, which the error makes it do.
    fn load_within(
        config: &EmbeddingConfig,
        path: &Path,
        limit: Duration,
    ) -> Result<(Self, Vec<EmbeddingIssue>), EmbeddingError> {
        let fail = |message: String| EmbeddingError::File { path: path.to_owned(), message };
        let (sender, receiver) = std::sync::mpsc::channel();
        let (config, owned_path) = (config.clone(), path.to_owned());
        std::thread::Builder::new()
            .name("embeddings-reader".into())
            .spawn(move || {
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::read(&config, &owned_path)));
                let _ = sender.send(read);
            })
            .map_err(|e| fail(format!("could not start its reader: {e}")))?;
        match receiver.recv_timeout(limit) {
            Ok(Ok(read)) => read,
            Ok(Err(panic)) => {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(fail(format!("not a readable Parquet file (the reader failed: {reason})")))
            }
            Err(_) => Err(fail(format!(
                "not a readable Parquet file (the reader did not finish in {} s, far longer than a file of this size \
                 takes; a corrupt page header can make the parquet crate spin)",
                limit.as_secs()
            ))),
        }
    }

    fn read(config: &EmbeddingConfig, path: &Path) -> Result<(Self, Vec<EmbeddingIssue>), EmbeddingError> {
        let fail = |message: String| EmbeddingError::File { path: path.to_owned(), message };
        match (&config.vector_column, &config.columns) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(fail("name either vector_column (a list column) or columns (one per dimension)".into()));
            }
            _ => {}
        }
        let file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| fail(e.to_string()))?;
        let mut vectors: HashMap<Key, (u64, Vec<f64>)> = HashMap::new();
        let mut issues = Vec::new();
        let mut dimensions: Option<usize> = config.columns.as_ref().map(Vec::len);
        let mut row = 0u64;
        for batch in reader {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            let ids = text_column(&batch, &config.id_column).map_err(&fail)?;
            let sources = config.source_column.as_deref().map(|c| text_column(&batch, c)).transpose().map_err(&fail)?;
            let rows = batch_vectors(&batch, config).map_err(&fail)?;
            for (i, values) in rows.into_iter().enumerate() {
                let id = (!ids.is_null(i)).then(|| ids.value(i).to_owned());
                let source = sources.as_ref().and_then(|s| (!s.is_null(i)).then(|| s.value(i).to_owned()));
                let mut reject = |reason: String| {
                    issues.push(EmbeddingIssue {
                        row: Some(row),
                        conversation_id: id.clone(),
                        source: source.clone(),
                        reason,
                    })
                };
                match (&id, values) {
                    (None, _) => reject(format!("null {}", config.id_column)),
                    (_, None) => reject("null vector".into()),
                    (Some(id), Some(values)) => {
                        let expected = *dimensions.get_or_insert(values.len());
                        if values.len() != expected {
                            reject(format!("{} dimensions, expected {expected}", values.len()));
                        } else if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                            reject(format!("value {} at dimension {bad} is not finite", values[bad]));
                        } else if config.source_column.is_some() && source.is_none() {
                            reject(format!("null {}", config.source_column.as_deref().unwrap_or_default()));
                        } else {
                            let key = (source.clone(), id.clone());
                            if let Some((first, _)) = vectors.get(&key) {
                                reject(format!("repeated id (first at row {first}); the first is kept"));
                            } else {
                                vectors.insert(key, (row, values));
                            }
                        }
                    }
                }
                row += 1;
            }
        }
        let dimensions = dimensions.filter(|d| *d > 0).ok_or_else(|| fail("no vectors".into()))?;
        Ok((
            Self {
                dimensions,
                by_source: config.source_column.is_some(),
                vectors,
                used: std::sync::Mutex::new(vec![false; row as usize]),
                rows: row,
            },
            issues,
        ))
    }

    /// The vector of a conversation, marking its row as used.
    pub fn lookup(&self, source: &str, conversation_id: &str) -> Option<&[f64]> {
        let key = (self.by_source.then(|| source.to_owned()), conversation_id.to_owned());
        let (row, vector) = self.vectors.get(&key)?;
        if let Ok(mut used) = self.used.lock() {
            used[*row as usize] = true;
        }
        Some(vector)
    }

    /// Accepted rows no conversation asked for.
    pub fn unmatched(&self) -> Vec<EmbeddingIssue> {
        let used = self.used.lock().map(|u| u.clone()).unwrap_or_else(|_| vec![true; self.rows as usize]);
        let mut issues: Vec<EmbeddingIssue> = self
            .vectors
            .iter()
            .filter(|(_, (row, _))| !used[*row as usize])
            .map(|((source, id), (row, _))| EmbeddingIssue {
                row: Some(*row),
                conversation_id: Some(id.clone()),
                source: source.clone(),
                reason: "matches no conversation".into(),
            })
            .collect();
        issues.sort_by_key(|issue| issue.row);
        issues
    }
}

fn text_column(batch: &RecordBatch, name: &str) -> Result<arrow::array::StringArray, String> {
    let column = batch.column_by_name(name).ok_or_else(|| format!("no column {name:?}"))?;
    let cast = cast(column, &DataType::Utf8).map_err(|e| format!("column {name:?}: {e}"))?;
    Ok(cast.as_string::<i32>().clone())
}

fn float_values(array: &ArrayRef, name: &str) -> Result<arrow::array::Float64Array, String> {
    let cast = cast(array, &DataType::Float64).map_err(|e| format!("column {name:?} is not numeric: {e}"))?;
    Ok(cast.as_primitive::<Float64Type>().clone())
}

/// Each row's vector (None where it is null).
fn batch_vectors(batch: &RecordBatch, config: &EmbeddingConfig) -> Result<Vec<Option<Vec<f64>>>, String> {
    if let Some(columns) = &config.columns {
        let arrays: Vec<arrow::array::Float64Array> = columns
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).ok_or_else(|| format!("no column {name:?}"))?;
                float_values(column, name)
            })
            .collect::<Result<_, _>>()?;
        return Ok((0..batch.num_rows())
            .map(|i| {
                // A null in any dimension is a non-finite value: the row is rejected as such.
                Some(arrays.iter().map(|a| if a.is_null(i) { f64::NAN } else { a.value(i) }).collect())
            })
            .collect());
    }
    let name = config.vector_column.as_deref().unwrap_or_default();
    let column = batch.column_by_name(name).ok_or_else(|| format!("no column {name:?}"))?;
    let list = match column.data_type() {
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => cast(
            column,
            &DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new("item", DataType::Float64, true))),
        )
        .map_err(|e| format!("column {name:?}: {e}"))?,
        other => return Err(format!("column {name:?} is {other}, not a list of numbers")),
    };
    let list = list.as_list::<i32>();
    Ok((0..list.len())
        .map(|i| {
            if list.is_null(i) {
                return None;
            }
            let values = list.value(i);
            let values = values.as_primitive::<Float64Type>();
            Some((0..values.len()).map(|j| if values.is_null(j) { f64::NAN } else { values.value(j) }).collect())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Builder, ListBuilder, StringArray};
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    #[test]
    fn a_parquet_file_the_reader_panics_on_is_an_error_naming_it() {
        // The fuzzer's input (its first byte picks the target's settings): a list-column file whose metadata gives a
        // column a negative start, on which parquet 60.1 panics.
        let input = include_bytes!("../../fuzz/corpus/embeddings_parquet/regression-negative-column-start");
        let dir = tempfile::tempdir().unwrap();
        let (config, path) = fuzz_input(dir.path(), input);
        let error = Embeddings::load(&config, &path).unwrap_err().to_string();
        assert!(error.contains("embeddings.parquet") && error.contains("not a readable Parquet file"), "{error}");
    }

    #[test]
    fn a_parquet_file_the_reader_spins_on_is_an_error_in_its_time() {
        // The fuzzer's open finding: a page header claiming a list longer than the file, on which parquet 60.1's
        // reader never returns. With a 2 s limit the load fails in about 2 s, naming the file.
        let input = include_bytes!("../../fuzz/open-findings/embeddings_parquet-hang");
        let dir = tempfile::tempdir().unwrap();
        let (config, path) = fuzz_input(dir.path(), input);
        let started = std::time::Instant::now();
        let error = Embeddings::load_within(&config, &path, Duration::from_secs(2)).unwrap_err().to_string();
        assert!(error.contains("embeddings.parquet") && error.contains("did not finish in 2 s"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
        assert_eq!(read_time_limit(1_000), Duration::from_secs(60));
        assert_eq!(read_time_limit(3_000_000_000), Duration::from_secs(360));
    }

    /// A fuzz target's input: the first byte picks the settings (as `fuzz_targets/embeddings_parquet.rs` does), the
    /// rest is the file, written into `dir`.
    fn fuzz_input(dir: &Path, input: &[u8]) -> (EmbeddingConfig, PathBuf) {
        let path = dir.join("embeddings.parquet");
        std::fs::write(&path, &input[1..]).unwrap();
        let config = EmbeddingConfig {
            path: path.clone(),
            id_column: "conversation_id".into(),
            source_column: (input[0] % 4 >= 2).then(|| "source".into()),
            vector_column: (input[0] % 2 == 0).then(|| "embedding".into()),
            columns: (input[0] % 2 == 1).then(|| vec!["x".into(), "y".into()]),
        };
        (config, path)
    }

    fn write(path: &Path, ids: &[&str], vectors: &[Vec<f32>]) {
        let mut list = ListBuilder::new(Float32Builder::new());
        for v in vectors {
            list.values().append_slice(v);
            list.append(true);
        }
        let list = list.finish();
        let schema = Arc::new(Schema::new(vec![
            Field::new("conversation_id", DataType::Utf8, false),
            Field::new("embedding", list.data_type().clone(), true),
        ]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(ids.to_vec())), Arc::new(list)])
                .unwrap();
        let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn config(path: &Path) -> EmbeddingConfig {
        EmbeddingConfig {
            path: path.to_owned(),
            id_column: "conversation_id".into(),
            source_column: None,
            vector_column: Some("embedding".into()),
            columns: None,
        }
    }

    #[test]
    fn rejects_wrong_dimension_nan_and_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        write(
            &path,
            &["a", "b", "c", "a", "d"],
            &[vec![1.0, 2.0], vec![1.0], vec![f32::NAN, 0.0], vec![3.0, 3.0], vec![0.5, 0.5]],
        );
        let (embeddings, issues) = Embeddings::load(&config(&path), &path).unwrap();
        assert_eq!(embeddings.dimensions, 2);
        let reasons: Vec<(Option<u64>, &str)> = issues.iter().map(|i| (i.row, i.reason.as_str())).collect();
        assert_eq!(reasons.len(), 3);
        assert!(reasons[0].1.contains("1 dimensions, expected 2"));
        assert!(reasons[1].1.contains("not finite"));
        assert!(reasons[2].1.contains("repeated id (first at row 0)"));
        assert_eq!(embeddings.lookup("any", "a"), Some(&[1.0, 2.0][..]));
        let unmatched = embeddings.unmatched();
        assert_eq!(unmatched.len(), 1);
        assert_eq!(unmatched[0].conversation_id.as_deref(), Some("d"));
    }

    #[test]
    fn needs_exactly_one_way_to_find_the_vector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        write(&path, &["a"], &[vec![1.0]]);
        let mut both = config(&path);
        both.columns = Some(vec!["x".into()]);
        assert!(Embeddings::load(&both, &path).unwrap_err().to_string().contains("either"));
        let mut missing = config(&path);
        missing.vector_column = Some("vec".into());
        assert!(Embeddings::load(&missing, &path).unwrap_err().to_string().contains("\"vec\""));
    }
}
