//! Stage 3, cluster: `features.parquet` -> one k-means codebook per facet (and one over all features) +
//! `assignments.parquet`.
//!
//! Consumes: `OUT/features.parquet` (facets from its `simgap.facets` metadata) and `[cluster]` settings. Produces:
//! `OUT/codebooks/<facet>.json` (see [`codebook::Codebook`]; facet `all` for every feature together) and
//! `OUT/assignments.parquet` (`conversation_id`, `source`, `kind`, then `cluster_<facet>` as nullable uint32 per
//! codebook).
//!
//! How: the codebooks are fitted on a bounded, stratified sample (`sample_size` rows; each source equally
//! represented by default, chosen by a seeded hash of (source, id), so the same seed picks the same rows), then every
//! row is assigned by streaming the feature table batch by batch. Rule-based facets are standardised, `lexical` and
//! `embedding` L2-normalised, `all` standardised. A row with no value in a facet (timing without timestamps, no
//! embedding) is left out of that facet's fit and gets a null cluster; `all` leaves out the columns some rows lack,
//! so missingness never becomes a behaviour; a remaining missing value is filled with the sample mean. Three passes
//! over the feature table (identities, sample, assignment); memory: 24 bytes of sampling hashes per row, the sample,
//! and one batch. The codebooks are written after the assignments, and codebooks of facets not fitted this time are
//! removed, so the folder always matches. Cost: the k-means fits (see [`kmeans`]) plus 2 n k d flops per facet to
//! assign.

pub mod codebook;
pub mod kmeans;
pub mod scaling;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::atomic::{AtomicPath, write_atomic};
use crate::hashing::row_hash;
use codebook::{Codebook, CodebookSettings, Precision};
use kmeans::{KMeansError, KMeansParams};
use scaling::Normalisation;

pub const ASSIGNMENTS_FILE: &str = "assignments.parquet";
pub const CODEBOOKS_DIR: &str = "codebooks";
/// The codebook over every feature column together.
pub const ALL_FACET: &str = "all";

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
    /// Every rule about the settings alone (checked before any stage of `simgap run` starts).
    pub fn check(&self) -> Result<(), ClusterError> {
        let c = self;
        if c.k == 0 {
            return Err(ClusterError::Config("[cluster] k must be at least 1".into()));
        }
        if c.restarts == 0 || c.max_iter == 0 {
            return Err(ClusterError::Config("[cluster] restarts and max_iter must be at least 1".into()));
        }
        if !(c.tol.is_finite() && c.tol >= 0.0) {
            return Err(ClusterError::Config(format!("[cluster] tol must be a non-negative number, not {}", c.tol)));
        }
        if c.minibatch == Some(0) {
            return Err(ClusterError::Config("[cluster] minibatch must be at least 1".into()));
        }
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

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    /// Bad data, not bad settings: every record was rejected, or no conversation has a user turn.
    #[error(
        "{} has no rows: no conversation was accepted with a user turn, so there is nothing to cluster (the reasons \
         are in rejects.jsonl and features_rejects.jsonl beside it)",
        path.display()
    )]
    NoRows { path: PathBuf },
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("facet {facet}")]
    KMeans {
        facet: String,
        #[source]
        source: KMeansError,
    },
}

impl ClusterError {
    pub fn is_usage(&self) -> bool {
        matches!(self, ClusterError::Config(_))
    }
}

/// What the cluster stage needs.
#[derive(Debug, Clone)]
pub struct ClusterParams {
    pub out_dir: PathBuf,
    pub config: ClusterConfig,
    pub progress: bool,
}

/// One fitted codebook, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct FacetReport {
    pub facet: String,
    pub columns: usize,
    pub dropped_columns: Vec<String>,
    pub dimensions: usize,
    pub k: usize,
    pub fit_rows: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub seconds: f64,
    pub codebook: PathBuf,
}

/// What the cluster stage did.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub facets: Vec<FacetReport>,
    pub rows: u64,
    pub sample_rows: BTreeMap<String, u64>,
    pub source_rows: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    pub seconds: f64,
    pub assignments_file: PathBuf,
}

/// The feature columns of each facet, from the table's metadata, in column order.
pub(crate) fn facet_columns(schema: &Schema) -> Result<BTreeMap<String, Vec<String>>, String> {
    let text = schema.metadata().get("simgap.facets").ok_or("no simgap.facets metadata: not a simgap feature table")?;
    let facets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("simgap.facets metadata: {e}"))?;
    let mut by_facet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for field in schema.fields() {
        if let Some(facet) = facets.get(field.name()).and_then(|f| f.as_str()) {
            by_facet.entry(facet.to_owned()).or_default().push(field.name().clone());
        }
    }
    Ok(by_facet)
}

fn normalisation_of(facet: &str) -> Normalisation {
    match facet {
        "embedding" | "lexical" => Normalisation::L2,
        _ => Normalisation::Standardize,
    }
}

fn open_batches(path: &Path) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(8192).build())
        .map_err(|e| e.to_string())
}

/// The rows of `columns` in `batch` selected by `keep`, as a matrix (NaN for nulls).
fn matrix(batch: &RecordBatch, columns: &[String], keep: &[usize]) -> Result<Array2<f64>, String> {
    let arrays: Vec<&arrow::array::Float64Array> = columns
        .iter()
        .map(|c| {
            batch
                .column_by_name(c)
                .and_then(|a| a.as_primitive_opt::<Float64Type>())
                .ok_or_else(|| format!("column {c:?} is not float64"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Array2::from_shape_fn((keep.len(), columns.len()), |(i, j)| {
        let (array, row) = (arrays[j], keep[i]);
        if array.is_null(row) { f64::NAN } else { array.value(row) }
    }))
}

impl ClusterParams {
    pub fn check(&self) -> Result<(), ClusterError> {
        let features = self.out_dir.join(crate::features::FEATURES_FILE);
        if !features.is_file() {
            return Err(ClusterError::Config(format!(
                "{} does not exist: run `simgap features` first",
                features.display()
            )));
        }
        self.config.check()
    }

    pub fn run(&self) -> Result<ClusterReport, ClusterError> {
        self.check()?;
        let started = Instant::now();
        let config = &self.config;
        let path = self.out_dir.join(crate::features::FEATURES_FILE);
        let read_error = |message: String| ClusterError::Read { path: path.clone(), message };
        let schema =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&path).map_err(|e| read_error(e.to_string()))?)
                .map_err(|e| read_error(e.to_string()))?
                .schema()
                .clone();
        let mut by_facet = facet_columns(&schema).map_err(read_error)?;
        let all_columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| by_facet.values().any(|cols| cols.contains(name)))
            .collect();
        by_facet.insert(ALL_FACET.to_owned(), all_columns);
        let facets: Vec<String> = match &config.facets {
            Some(list) => {
                for facet in list {
                    if !by_facet.contains_key(facet) {
                        let known: Vec<&str> = by_facet.keys().map(String::as_str).collect();
                        return Err(ClusterError::Config(format!(
                            "[cluster] facets names {facet:?}, which the feature table does not have (it has {})",
                            known.join(", ")
                        )));
                    }
                }
                list.clone()
            }
            None => {
                // In the feature table's column order, then `all`.
                let mut list: Vec<String> = Vec::new();
                for field in schema.fields() {
                    if let Some((facet, _)) =
                        by_facet.iter().find(|(f, cols)| *f != ALL_FACET && cols.contains(field.name()))
                    {
                        if !list.contains(facet) {
                            list.push(facet.clone());
                        }
                    }
                }
                list.push(ALL_FACET.to_owned());
                list
            }
        };
        let explicit_facets = config.facets.is_some();
        let mut warnings = Vec::new();

        // Pass 1: which rows the fit sample takes.
        let mut hashes: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut row_keys: Vec<(u32, u64)> = Vec::new(); // (source index, hash) per row
        let mut source_index: BTreeMap<String, u32> = BTreeMap::new();
        for batch in open_batches(&path).map_err(read_error)? {
            let batch = batch.map_err(|e| read_error(e.to_string()))?;
            let (sources, ids) = identity(&batch).map_err(read_error)?;
            for i in 0..batch.num_rows() {
                let hash = row_hash(config.seed, sources.value(i), ids.value(i));
                hashes.entry(sources.value(i).to_owned()).or_default().push(hash);
                let next = source_index.len() as u32;
                let index = *source_index.entry(sources.value(i).to_owned()).or_insert(next);
                row_keys.push((index, hash));
            }
        }
        let total_rows = row_keys.len();
        if total_rows == 0 {
            return Err(ClusterError::NoRows { path: path.clone() });
        }
        let quotas = sample_quotas(&hashes, config.sample_size, config.balance);
        let thresholds: BTreeMap<&String, u64> = hashes
            .iter_mut()
            .map(|(source, list)| {
                let quota = quotas[source];
                list.sort_unstable();
                (source, if quota == 0 { 0 } else { list[quota - 1] })
            })
            .collect();
        // The largest hash each source's sample takes (None: the source gives no row).
        let mut threshold_by_index: Vec<Option<u64>> = vec![None; source_index.len()];
        for (source, index) in &source_index {
            threshold_by_index[*index as usize] = (quotas[source] > 0).then(|| thresholds[source]);
        }
        let in_sample = |row: usize| {
            let (index, hash) = row_keys[row];
            threshold_by_index[index as usize].is_some_and(|threshold| hash <= threshold)
        };

        // Pass 2: the sample's feature rows, per facet.
        let mut samples: BTreeMap<&str, Vec<Array2<f64>>> = BTreeMap::new();
        let mut row = 0usize;
        for batch in open_batches(&path).map_err(read_error)? {
            let batch = batch.map_err(|e| read_error(e.to_string()))?;
            let keep: Vec<usize> = (0..batch.num_rows()).filter(|&i| in_sample(row + i)).collect();
            row += batch.num_rows();
            for facet in &facets {
                samples
                    .entry(facet.as_str())
                    .or_default()
                    .push(matrix(&batch, &by_facet[facet], &keep).map_err(read_error)?);
            }
        }

        // Fit one codebook per facet.
        let codebook_dir = self.out_dir.join(CODEBOOKS_DIR);
        std::fs::create_dir_all(&codebook_dir)
            .map_err(|e| ClusterError::Write { path: codebook_dir.clone(), message: e.to_string() })?;
        let mut codebooks: Vec<Codebook> = Vec::new();
        let mut reports = Vec::new();
        let mut fitted_facets: Vec<String> = Vec::new();
        for facet in &facets {
            let parts: Vec<_> = samples[facet.as_str()].iter().map(|m| m.view()).collect();
            let sample = ndarray::concatenate(ndarray::Axis(0), &parts).expect("same columns");
            // Rows without any value in the facet (no timestamps, no embedding) are not fitted and get no cluster.
            // For `all`, a column some rows lack is left out, so missingness never becomes a behaviour.
            let has_value: Vec<usize> =
                (0..sample.nrows()).filter(|&i| sample.row(i).iter().any(|v| !v.is_nan())).collect();
            let sample = sample.select(ndarray::Axis(0), &has_value);
            let complete = |j: usize| {
                if facet == ALL_FACET {
                    sample.column(j).iter().all(|v| !v.is_nan())
                } else {
                    sample.column(j).iter().any(|v| !v.is_nan())
                }
            };
            let (kept, dropped): (Vec<usize>, Vec<usize>) = (0..sample.ncols()).partition(|&j| complete(j));
            if kept.is_empty() {
                let message = format!("facet {facet}: no column has a value (timing without timestamps?)");
                if explicit_facets {
                    return Err(ClusterError::Config(message));
                }
                warnings.push(format!("{message}: no codebook"));
                continue;
            }
            let columns: Vec<String> = kept.iter().map(|&j| by_facet[facet][j].clone()).collect();
            let dropped_columns: Vec<String> = dropped.iter().map(|&j| by_facet[facet][j].clone()).collect();
            let sample = sample.select(ndarray::Axis(1), &kept);
            let settings = CodebookSettings {
                kmeans: KMeansParams::new(config.k)
                    .restarts(config.restarts)
                    .max_iter(config.max_iter)
                    .tol(config.tol)
                    .seed(config.seed)
                    .minibatch(config.minibatch),
                normalisation: normalisation_of(facet),
                pca_variance: config.pca_variance,
                precision: config.precision,
            };
            tracing::info!(
                facet = facet.as_str(),
                rows = sample.nrows(),
                columns = columns.len(),
                k = config.k,
                "fitting codebook"
            );
            let codebook = Codebook::fit(facet, columns, dropped_columns, sample.view(), &settings)
                .map_err(|source| ClusterError::KMeans { facet: facet.clone(), source })?;
            let codebook_path = codebook_dir.join(format!("{facet}.json"));
            reports.push(FacetReport {
                facet: facet.clone(),
                columns: codebook.columns.len(),
                dropped_columns: codebook.dropped_columns.clone(),
                dimensions: codebook.scaler.output_dimensions(),
                k: codebook.k,
                fit_rows: codebook.fit_rows,
                inertia: codebook.inertia,
                iterations: codebook.iterations,
                converged: codebook.converged,
                seconds: codebook.seconds,
                codebook: codebook_path,
            });
            codebooks.push(codebook);
            fitted_facets.push(facet.clone());
        }

        // Pass 3: assign every row, streaming.
        let assignments_path = self.out_dir.join(ASSIGNMENTS_FILE);
        let progress = crate::progress::count_bar(self.progress, total_rows as u64, "assign");
        let mut writer = AssignmentWriter::create(&assignments_path, &fitted_facets)?;
        for batch in open_batches(&path).map_err(read_error)? {
            let batch = batch.map_err(|e| read_error(e.to_string()))?;
            let all: Vec<usize> = (0..batch.num_rows()).collect();
            let mut clusters = Vec::with_capacity(codebooks.len());
            for codebook in &codebooks {
                let rows = matrix(&batch, &codebook.columns, &all).map_err(read_error)?;
                let (labels, _) = codebook
                    .assign(rows.view())
                    .map_err(|source| ClusterError::KMeans { facet: codebook.facet.clone(), source })?;
                // No value in the facet: no cluster (null), as in the fit.
                let labels: Vec<Option<u32>> = labels
                    .into_iter()
                    .zip(rows.axis_iter(ndarray::Axis(0)))
                    .map(|(label, row)| row.iter().any(|v| !v.is_nan()).then_some(label))
                    .collect();
                clusters.push(labels);
            }
            writer.write(&batch, clusters)?;
            progress.inc(batch.num_rows() as u64);
        }
        progress.finish_and_clear();
        writer.finish()?;
        // The codebooks go in after the assignments they produced; codebooks of facets not fitted this time go.
        for codebook in &codebooks {
            let path = codebook_dir.join(format!("{}.json", codebook.facet));
            write_atomic(&path, codebook.to_json().as_bytes())
                .map_err(|e| ClusterError::Write { path: path.clone(), message: e.to_string() })?;
        }
        remove_stale_codebooks(&codebook_dir, &fitted_facets)?;

        let source_rows: BTreeMap<String, u64> = hashes.iter().map(|(s, l)| (s.clone(), l.len() as u64)).collect();
        for (source, rows) in &source_rows {
            if (*rows as usize) < config.k {
                warnings.push(format!(
                    "source {source} has {rows} conversations, fewer than the k = {} clusters",
                    config.k
                ));
            } else if (*rows as usize) < 10 * config.k {
                warnings.push(format!(
                    "source {source} has {rows} conversations, fewer than 10 per cluster (k = {}): its histogram is noisy",
                    config.k
                ));
            }
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(ClusterReport {
            facets: reports,
            rows: total_rows as u64,
            sample_rows: quotas.iter().map(|(s, q)| (s.clone(), *q as u64)).collect(),
            source_rows,
            warnings,
            seconds: started.elapsed().as_secs_f64(),
            assignments_file: assignments_path,
        })
    }
}

/// Deletes `<facet>.json` files of facets this run did not fit, so the folder matches the assignments.
fn remove_stale_codebooks(dir: &Path, fitted: &[String]) -> Result<(), ClusterError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ClusterError::Write { path: dir.to_owned(), message: e.to_string() })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = path.extension().is_some_and(|e| e == "json")
            && path.file_stem().is_some_and(|stem| !fitted.iter().any(|f| stem == f.as_str()));
        if stale {
            std::fs::remove_file(&path)
                .map_err(|e| ClusterError::Write { path: path.clone(), message: e.to_string() })?;
        }
    }
    Ok(())
}

/// Rows each source contributes to the fit sample.
fn sample_quotas(
    hashes: &BTreeMap<String, Vec<u64>>,
    sample_size: usize,
    balance: SampleBalance,
) -> BTreeMap<String, usize> {
    let total: usize = hashes.values().map(Vec::len).sum();
    if total <= sample_size {
        return hashes.iter().map(|(s, l)| (s.clone(), l.len())).collect();
    }
    match balance {
        SampleBalance::Proportional => hashes
            .iter()
            .map(|(s, l)| (s.clone(), ((l.len() as f64 / total as f64) * sample_size as f64).floor() as usize))
            .collect(),
        SampleBalance::Equal => {
            // Water-filling: small sources give all they have, the rest share what is left equally.
            let mut quotas: BTreeMap<String, usize> = BTreeMap::new();
            let mut sizes: Vec<(&String, usize)> = hashes.iter().map(|(s, l)| (s, l.len())).collect();
            sizes.sort_by_key(|(s, n)| (*n, (*s).clone()));
            let mut left = sample_size;
            let mut remaining_sources = sizes.len();
            for (source, size) in sizes {
                let share = left / remaining_sources;
                let quota = size.min(share);
                quotas.insert(source.clone(), quota);
                left -= quota;
                remaining_sources -= 1;
            }
            quotas
        }
    }
}

fn identity(batch: &RecordBatch) -> Result<(&arrow::array::StringArray, &arrow::array::StringArray), String> {
    let text = |name: &str| {
        batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).ok_or(format!("no text column {name:?}"))
    };
    Ok((text("source")?, text("conversation_id")?))
}

/// `assignments.parquet`: identity columns and one uint32 cluster column per codebook.
struct AssignmentWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    target: AtomicPath,
}

impl AssignmentWriter {
    fn create(path: &Path, facets: &[String]) -> Result<Self, ClusterError> {
        let target = AtomicPath::new(path);
        let error = |e: &dyn std::fmt::Display| ClusterError::Write { path: path.to_owned(), message: e.to_string() };
        let mut fields = vec![
            Field::new("conversation_id", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
        ];
        fields.extend(facets.iter().map(|f| Field::new(format!("cluster_{f}"), DataType::UInt32, true)));
        let schema = Arc::new(Schema::new(fields));
        let properties = crate::table::writer_properties(Some(65_536));
        let file = File::create(target.temp()).map_err(|e| error(&e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| error(&e))?;
        Ok(Self { writer, schema, target })
    }

    fn write(&mut self, batch: &RecordBatch, clusters: Vec<Vec<Option<u32>>>) -> Result<(), ClusterError> {
        let error = |e: &dyn std::fmt::Display| ClusterError::Write {
            path: self.target.final_path().to_owned(),
            message: e.to_string(),
        };
        let mut columns: Vec<ArrayRef> = Vec::new();
        for name in ["conversation_id", "source", "kind"] {
            columns.push(batch.column_by_name(name).ok_or_else(|| error(&format!("no column {name}")))?.clone());
        }
        columns.extend(clusters.into_iter().map(|c| Arc::new(UInt32Array::from(c)) as ArrayRef));
        let out = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| error(&e))?;
        self.writer.write(&out).map_err(|e| error(&e))
    }

    fn finish(self) -> Result<(), ClusterError> {
        let Self { writer, target, .. } = self;
        let path = target.final_path().to_owned();
        writer.close().map_err(|e| ClusterError::Write { path: path.clone(), message: e.to_string() })?;
        target.commit().map_err(|e| ClusterError::Write { path, message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_quotas_water_fill() {
        let hashes: BTreeMap<String, Vec<u64>> =
            [("a", 10), ("b", 1000), ("c", 1000)].iter().map(|(s, n)| (s.to_string(), vec![0; *n])).collect();
        let quotas = sample_quotas(&hashes, 310, SampleBalance::Equal);
        assert_eq!((quotas["a"], quotas["b"], quotas["c"]), (10, 150, 150));
        let proportional = sample_quotas(&hashes, 100, SampleBalance::Proportional);
        assert_eq!((proportional["a"], proportional["b"]), (0, 49));
        assert_eq!(sample_quotas(&hashes, 5000, SampleBalance::Equal)["b"], 1000, "small corpora are used whole");
    }
}
