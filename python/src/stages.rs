//! The stage functions on Arrow tables in memory, through the engine's per-batch functions (the seam every driver
//! shares, docs/architecture.md): features (`FeatureEngine`, with the lexical document frequencies as a mergeable
//! partial result), codebooks (`SampleKeys` / `FitSample` / `fit_codebook` / `assign_batch`, and the per-pair
//! protocol's `fit_pair`), k-means on a matrix, and the divergences of two histograms (`comparison::estimate`).
//!
//! Consumes: tables in the shapes `simgap.ingest` and `simgap.features` return, NumPy buffers, settings as JSON (the
//! pipeline file's tables). Produces: [`ArrowStream`]s, [`Codebook`], [`KMeansResult`], and plain Python values.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ndarray::{Array2, ArrayView2};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use simgap::cluster::codebook::{self, Precision};
use simgap::cluster::columns::FeatureTable;
use simgap::cluster::sample::{FitSample, SampleKeys};
use simgap::cluster::{ClusterConfig, assign::assign_batch, facets_to_fit, fit_codebook};
use simgap::divergence::comparison::{Resampling, estimate, reference_replicates};
use simgap::divergence::histogram::{Histogram, Smoothing};
use simgap::divergence::measures::Divergences;
use simgap::features::engine::FeatureEngine;
use simgap::features::lexical::DocumentFrequencies;
use simgap::features::reader::{COLUMNS, ConversationBatch};
use simgap::features::{Facet, FeaturesConfig, FeaturesParams};

use crate::capsule::{ArrowStream, Table, import_table};
use crate::errors::{config_error, data_error, to_python};

/// Settings given as JSON (a pipeline file's table, as Python builds it), refused with the key at fault.
fn settings<T: serde::de::DeserializeOwned>(json: &str, table: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| config_error(format!("[{table}]: {e}")))
}

// ---- features -------------------------------------------------------------------------------------------------

/// The conversations table's columns the features stage reads, in its types: a table from `simgap.ingest` (or any
/// table with `conversation_id`, `source`, `kind` and `messages` as list<struct<role, content[, timestamp]>>; text
/// may be large or view strings, as polars writes them). `task_id`, `run` and `outcome` are null where missing.
fn conversation_batch(batch: &RecordBatch, first_row: u64) -> Result<ConversationBatch, String> {
    let ingest = simgap::ingest::writer::schema();
    let mut fields = Vec::with_capacity(COLUMNS.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len());
    for name in COLUMNS {
        let field = ingest.field_with_name(name).expect("a column of the ingest schema");
        let column = match (batch.column_by_name(name), field.is_nullable()) {
            (Some(column), _) if name == "messages" => messages(column)?,
            (Some(column), _) => cast(column, field.data_type()).map_err(|e| format!("column {name:?}: {e}"))?,
            (None, true) => new_null_array(field.data_type(), batch.num_rows()),
            (None, false) => {
                let has: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "the conversations table has no {name:?} column (its columns: {}); simgap.ingest gives this \
                     shape",
                    has.join(", ")
                ));
            }
        };
        if column.null_count() > 0 && !field.is_nullable() {
            return Err(format!("column {name:?} has null values"));
        }
        fields.push(Field::new(name, column.data_type().clone(), field.is_nullable()));
        columns.push(column);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())?;
    Ok(ConversationBatch { batch, first_row })
}

/// `messages` as list<struct<role, content, timestamp>> of plain text, from any list and text types.
fn messages(column: &ArrayRef) -> Result<ArrayRef, String> {
    let list = cast(column, &DataType::List(Arc::new(Field::new_list_field(column_item(column)?, true))))
        .map_err(|e| format!("column \"messages\": {e}"))?;
    let list = list.as_list::<i32>();
    let parts = list.values().as_struct_opt().ok_or("column \"messages\" holds no structs")?;
    let mut children: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for name in ["role", "content", "timestamp"] {
        let child = match parts.column_by_name(name) {
            Some(child) => cast(child, &DataType::Utf8).map_err(|e| format!("messages.{name}: {e}"))?,
            None if name == "timestamp" => new_null_array(&DataType::Utf8, parts.len()),
            None => return Err(format!("the messages have no {name:?} field")),
        };
        fields.push(Field::new(name, DataType::Utf8, true));
        children.push(child);
    }
    let structs = arrow::array::StructArray::try_new(fields.into(), children, parts.nulls().cloned())
        .map_err(|e| e.to_string())?;
    let item = Arc::new(Field::new_list_field(structs.data_type().clone(), true));
    let rebuilt =
        arrow::array::ListArray::try_new(item, list.offsets().clone(), Arc::new(structs), list.nulls().cloned())
            .map_err(|e| e.to_string())?;
    Ok(Arc::new(rebuilt))
}

/// The item type of a list column (any list type).
fn column_item(column: &ArrayRef) -> Result<DataType, String> {
    match column.data_type() {
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) | DataType::LargeListView(item) => {
            Ok(item.data_type().clone())
        }
        other => Err(format!("column \"messages\" is {other}, not a list of messages")),
    }
}

/// Every batch of `table` as conversation batches, numbered in table order.
fn conversation_batches(table: &Table) -> PyResult<Vec<ConversationBatch>> {
    let mut first_row = 0u64;
    let mut out = Vec::with_capacity(table.batches.len());
    for batch in &table.batches {
        out.push(conversation_batch(batch, first_row).map_err(config_error)?);
        first_row += batch.num_rows() as u64;
    }
    Ok(out)
}

/// The features stage's settings (`[features]`) and its engine before the document frequencies.
fn feature_engine(settings_json: &str) -> PyResult<FeatureEngine> {
    let config: FeaturesConfig = settings(settings_json, "features")?;
    let facets = config.facets.clone().unwrap_or_else(|| Facet::BUILT_IN.to_vec());
    let params = FeaturesParams {
        out_dir: ".".into(),
        facets,
        lexicons: config.lexicons,
        lexical_dimensions: config.lexical_dimensions,
        seed: config.seed,
        embeddings: config.embeddings,
        progress: false,
    };
    params.check_settings().map_err(|e| to_python(e.into()))?;
    let (engine, issues) = params.engine_before_frequencies().map_err(|e| to_python(e.into()))?;
    if let Some(issue) = issues.first() {
        return Err(data_error(format!("embeddings: {} ({} issues in all)", issue.reason, issues.len())));
    }
    Ok(engine)
}

/// The lexical facet's document frequencies: in how many conversations each term bucket occurs. A partial result:
/// compute one per shard of a corpus, `merge` them (in any order: they are counts), and pass the whole corpus's to
/// `features` so every shard's lexical values are those of the corpus.
#[pyclass(module = "simgap._simgap")]
#[derive(Clone)]
pub struct Frequencies {
    inner: DocumentFrequencies,
}

#[pymethods]
impl Frequencies {
    /// This table's frequencies plus `other`'s.
    fn merge(&self, other: &Frequencies) -> Frequencies {
        Frequencies { inner: self.inner.clone().merge(&other.inner) }
    }

    /// As JSON (to send between processes).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Frequencies> {
        DocumentFrequencies::from_json(text).map(|inner| Frequencies { inner }).map_err(data_error)
    }

    fn __reduce__(slf: Bound<'_, Self>) -> PyResult<(Bound<'_, PyAny>, (String,))> {
        let rebuild = slf.get_type().getattr("from_json")?;
        let text = slf.borrow().inner.to_json();
        Ok((rebuild, (text,)))
    }
}

/// The lexical document frequencies of a conversations table (see [`Frequencies`]).
#[pyfunction]
pub fn frequencies(py: Python<'_>, conversations: &Bound<'_, PyAny>, settings_json: &str) -> PyResult<Frequencies> {
    let table = import_table(conversations, "conversations")?;
    let engine = feature_engine(settings_json)?;
    let batches = conversation_batches(&table)?;
    let inner = py.detach(|| {
        let mut total = DocumentFrequencies::default();
        for batch in &batches {
            total = total.merge(&engine.frequencies_of(batch)?);
        }
        Ok::<_, String>(total)
    });
    inner.map(|inner| Frequencies { inner }).map_err(data_error)
}

/// The feature rows of a conversations table, and the rows that got none (row, conversation_id, source, reason).
#[pyfunction]
#[pyo3(signature = (conversations, settings_json, frequencies=None))]
pub fn features(
    py: Python<'_>,
    conversations: &Bound<'_, PyAny>,
    settings_json: &str,
    frequencies: Option<PyRef<'_, Frequencies>>,
) -> PyResult<(ArrowStream, Vec<(u64, String, String, String)>)> {
    let table = import_table(conversations, "conversations")?;
    let engine = feature_engine(settings_json)?;
    let batches = conversation_batches(&table)?;
    let frequencies = frequencies.map(|given| given.inner.clone());
    let computed = py.detach(|| {
        let engine = if engine.needs_frequencies() {
            let frequencies = match frequencies {
                Some(given) => given,
                None => {
                    let mut total = DocumentFrequencies::default();
                    for batch in &batches {
                        total = total.merge(&engine.frequencies_of(batch)?);
                    }
                    total
                }
            };
            engine.with_frequencies(frequencies)
        } else {
            engine
        };
        let schema = simgap::features::writer::schema(engine.columns());
        let mut out = Vec::with_capacity(batches.len());
        let mut notes = Vec::new();
        for batch in &batches {
            let features = engine.compute(batch)?;
            let (ids, sources) = identities(&batch.batch);
            for &(row, reason) in &features.notes {
                let at = row as usize;
                notes.push((
                    batch.first_row + row as u64,
                    ids.value(at).into(),
                    sources.value(at).into(),
                    reason.into(),
                ));
            }
            if !features.kept.is_empty() {
                let rows = simgap::features::writer::feature_rows(&schema, batch, &features.kept, &features.values)
                    .map_err(|e| e.to_string())?;
                out.push(rows);
            }
        }
        Ok::<_, String>((schema, out, notes))
    });
    let (schema, batches, notes) = computed.map_err(data_error)?;
    Ok((ArrowStream::new(schema, batches), notes))
}

fn identities(batch: &RecordBatch) -> (&StringArray, &StringArray) {
    let text = |name: &str| batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).expect("conformed");
    (text("conversation_id"), text("source"))
}

/// Every feature column: (name, facet, definition), as `simgap features --list` prints them.
#[pyfunction]
pub fn feature_list(lexical_dimensions: usize) -> Vec<(String, String)> {
    simgap::features::columns(&Facet::BUILT_IN, lexical_dimensions, 0)
        .into_iter()
        .map(|c| (c.name.clone(), c.facet.name().to_owned()))
        .collect()
}

// ---- codebooks ------------------------------------------------------------------------------------------------

/// A feature table from Python: its batches and the facets its schema's `simgap.facets` metadata names.
fn feature_table(object: &Bound<'_, PyAny>) -> PyResult<(FeatureTable, Table)> {
    let table = import_table(object, "features")?;
    for name in ["conversation_id", "source"] {
        if table.schema.field_with_name(name).is_err() {
            let has: Vec<&str> = table.schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(config_error(format!(
                "the features table has no {name:?} column (its columns: {}); simgap.features gives this shape",
                has.join(", ")
            )));
        }
    }
    let features = FeatureTable::from_schema(Path::new("features table"), table.schema.as_ref().clone())
        .map_err(|e| to_python(e.into()))?;
    Ok((features, table))
}

/// A fitted codebook: the scaling (and PCA) and the centroids of one facet, as `simgap cluster` writes to
/// `codebooks/<facet>.json`.
#[pyclass(module = "simgap._simgap")]
#[derive(Clone)]
pub struct Codebook {
    inner: codebook::Codebook,
}

#[pymethods]
impl Codebook {
    /// Fits facet `facet` on a features table with `[cluster]` settings, exactly as `simgap cluster` does: the same
    /// seeded sample (per-source quotas by the hash of source and conversation id), scaling and k-means.
    #[staticmethod]
    fn fit(py: Python<'_>, features: &Bound<'_, PyAny>, facet: &str, settings_json: &str) -> PyResult<Codebook> {
        let mut config: ClusterConfig = settings(settings_json, "cluster")?;
        config.facets = Some(vec![facet.to_owned()]);
        config.check().map_err(|e| to_python(e.into()))?;
        let (table, data) = feature_table(features)?;
        let facets = facets_to_fit(&config, &table).map_err(|e| to_python(e.into()))?;
        let rows = data.rows();
        if let Some(k) = config.k.fixed().filter(|&k| k > rows) {
            return Err(config_error(format!("k = {k} is more than the {rows} rows of the features table")));
        }
        let fitted = py.detach(|| {
            let mut keys = SampleKeys::default();
            for batch in &data.batches {
                keys.add_batch(&table, batch, config.seed)?;
            }
            let k = config.k.choose(keys.smallest_source());
            let plan = keys.plan(config.sample_size, config.balance);
            let mut sample = FitSample::default();
            let mut first_row = 0u64;
            for batch in &data.batches {
                let keep = plan.select(&table, batch, config.seed)?;
                sample.add_batch(&table, batch, first_row, &keep, &facets)?;
                first_row += batch.num_rows() as u64;
            }
            let rows = sample.facet(facet, table.by_facet[facet].len());
            fit_codebook(&config, &k, &table, facet, rows)
        });
        match fitted.map_err(|e| to_python(e.into()))? {
            Ok(inner) => Ok(Codebook { inner }),
            Err(warning) => Err(data_error(warning)),
        }
    }

    /// The per-pair protocol of arXiv 2605.07847 on two embedding matrices (rows x dimensions, float64): both pooled,
    /// rows L2-normalised, PCA to 90% of the variance, k-means with K = 500 (capped at the rows), 500 iterations, 5
    /// restarts. Returns the codebook and the labels of each side.
    #[staticmethod]
    fn fit_pair(
        py: Python<'_>,
        human: PyBuffer<f64>,
        human_shape: (usize, usize),
        simulator: PyBuffer<f64>,
        simulator_shape: (usize, usize),
        seed: u64,
    ) -> PyResult<(Codebook, Vec<u32>, Vec<u32>)> {
        let human = matrix(py, &human, human_shape)?;
        let simulator = matrix(py, &simulator, simulator_shape)?;
        if human.ncols() != simulator.ncols() {
            return Err(config_error(format!(
                "the human embeddings have {} dimensions, the simulator's {}",
                human.ncols(),
                simulator.ncols()
            )));
        }
        let columns: Vec<String> = (0..human.ncols()).map(|j| format!("embedding_{j:03}")).collect();
        let fitted = py.detach(|| codebook::fit_pair("embedding", columns, human.view(), simulator.view(), seed));
        let (inner, human_labels, simulator_labels) = fitted.map_err(|e| to_python(e.into()))?;
        Ok((Codebook { inner }, human_labels, simulator_labels))
    }

    /// The cluster of every row of a features table: (conversation_id, source, cluster; null where the row has no
    /// value in the codebook's columns), as `assignments.parquet` has them.
    fn assign(&self, py: Python<'_>, features: &Bound<'_, PyAny>) -> PyResult<ArrowStream> {
        let (table, data) = feature_table(features)?;
        let missing: Vec<&String> =
            self.inner.columns.iter().filter(|c| table.schema.field_with_name(c).is_err()).collect();
        if !missing.is_empty() {
            return Err(config_error(format!(
                "the features table lacks {} of the codebook's columns (first: {:?}): compute it with the facets the \
                 codebook was fitted on ({})",
                missing.len(),
                missing[0],
                self.inner.facet
            )));
        }
        let codebooks = std::slice::from_ref(&self.inner);
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("conversation_id", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("cluster", DataType::UInt32, true),
        ]));
        let assigned = py.detach(|| {
            let mut out = Vec::with_capacity(data.batches.len());
            for batch in &data.batches {
                let labels = assign_batch(&table, batch, codebooks)?.pop().unwrap_or_default();
                let column = |name: &str| {
                    let column = batch.column_by_name(name).expect("checked by the feature table");
                    cast(column, &DataType::Utf8).expect("text casts to text")
                };
                let clusters: ArrayRef = Arc::new(UInt32Array::from(labels));
                out.push(
                    RecordBatch::try_new(schema.clone(), vec![column("conversation_id"), column("source"), clusters])
                        .expect("columns match the schema"),
                );
            }
            Ok::<_, simgap::cluster::ClusterError>(out)
        });
        let batches = assigned.map_err(|e| to_python(e.into()))?;
        Ok(ArrowStream::new(schema, batches))
    }

    /// The cluster of every row of a matrix (rows x the codebook's columns, float64), e.g. embeddings.
    fn assign_matrix(&self, py: Python<'_>, data: PyBuffer<f64>, shape: (usize, usize)) -> PyResult<Vec<u32>> {
        let rows = matrix(py, &data, shape)?;
        if rows.ncols() != self.inner.columns.len() {
            return Err(config_error(format!(
                "the matrix has {} columns; the codebook was fitted on {}",
                rows.ncols(),
                self.inner.columns.len()
            )));
        }
        let assigned = py.detach(|| self.inner.assign(rows.view()));
        assigned.map(|(labels, _)| labels).map_err(|e| to_python(e.into()))
    }

    /// The codebook as `simgap cluster` writes it (`codebooks/<facet>.json`).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// A codebook from its JSON, checked as `simgap divergence` checks one it reads.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Codebook> {
        let inner: codebook::Codebook =
            serde_json::from_str(text).map_err(|e| data_error(format!("not a simgap codebook: {e}")))?;
        inner.check().map_err(|problem| data_error(format!("codebook: {problem}")))?;
        Ok(Codebook { inner })
    }

    #[getter]
    fn facet(&self) -> String {
        self.inner.facet.clone()
    }
    #[getter]
    fn k(&self) -> usize {
        self.inner.k
    }
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.columns.clone()
    }
    #[getter]
    fn inertia(&self) -> f64 {
        self.inner.inertia
    }
    #[getter]
    fn iterations(&self) -> usize {
        self.inner.iterations
    }
    #[getter]
    fn converged(&self) -> bool {
        self.inner.converged
    }
    #[getter]
    fn fit_rows(&self) -> usize {
        self.inner.fit_rows
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }
    /// The centroids in the input space (unscaled), row-major float64 bytes: k x columns.
    #[getter]
    fn centroids<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let flat: Vec<u8> = self.inner.centroids_input_space.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        PyBytes::new(py, &flat)
    }

    fn __reduce__(slf: Bound<'_, Self>) -> PyResult<(Bound<'_, PyAny>, (String,))> {
        let rebuild = slf.get_type().getattr("from_json")?;
        let text = slf.borrow().inner.to_json();
        Ok((rebuild, (text,)))
    }
}

// ---- k-means --------------------------------------------------------------------------------------------------

/// A C-contiguous float64 buffer as a rows x columns matrix (copied once, out of Python's memory).
fn matrix(py: Python<'_>, data: &PyBuffer<f64>, (rows, columns): (usize, usize)) -> PyResult<Array2<f64>> {
    if !data.is_c_contiguous() || data.item_count() != rows * columns {
        return Err(config_error(format!(
            "expected a C-contiguous float64 matrix of {rows} x {columns} values, got {} values",
            data.item_count()
        )));
    }
    let values = data.to_vec(py)?;
    Array2::from_shape_vec((rows, columns), values).map_err(|e| config_error(e.to_string()))
}

/// What `kmeans` found: labels, centroids (row-major float64 bytes), inertia, iterations.
#[pyclass(module = "simgap._simgap", get_all)]
pub struct KMeansResult {
    pub labels: Vec<u32>,
    pub centroids: Py<PyBytes>,
    pub k: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub restart: usize,
}

/// simgap's k-means (k-means++ seeding, Lloyd with bounds, restarts keeping the best run) on a matrix.
#[pyfunction]
#[pyo3(signature = (data, shape, k, restarts, max_iter, tol, seed, precision))]
#[allow(clippy::too_many_arguments)]
pub fn kmeans(
    py: Python<'_>,
    data: PyBuffer<f64>,
    shape: (usize, usize),
    k: usize,
    restarts: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    precision: &str,
) -> PyResult<KMeansResult> {
    let rows = matrix(py, &data, shape)?;
    let precision: Precision =
        settings(&format!("{precision:?}"), "kmeans precision").map_err(|_| config_error("precision: f64 or f32"))?;
    let params =
        simgap::cluster::kmeans::KMeansParams::new(k).restarts(restarts).max_iter(max_iter).tol(tol).seed(seed);
    let fitted = py.detach(|| fit_and_label(&params, rows.view(), precision));
    let (labels, centroids, inertia, iterations, converged, restart) = fitted.map_err(|e| to_python(e.into()))?;
    let centroids: Vec<u8> = centroids.iter().flat_map(|v| v.to_le_bytes()).collect();
    let centroids = PyBytes::new(py, &centroids).unbind();
    Ok(KMeansResult { labels, centroids, k, inertia, iterations, converged, restart })
}

/// Labels, centroids (f64, in the input space), inertia, iterations, converged, winning restart.
type Fitted = (Vec<u32>, Array2<f64>, f64, usize, bool, usize);

fn fit_and_label(
    params: &simgap::cluster::kmeans::KMeansParams,
    rows: ArrayView2<f64>,
    precision: Precision,
) -> Result<Fitted, simgap::cluster::kmeans::KMeansError> {
    match precision {
        Precision::F64 => {
            let model = params.fit_array(rows)?;
            let (labels, _) = model.assign(rows)?;
            Ok((labels, model.centroids, model.inertia, model.iterations, model.converged, model.restart))
        }
        Precision::F32 => {
            let rows = rows.mapv(|v| v as f32);
            let model = params.fit_array(rows.view())?;
            let (labels, _) = model.assign(rows.view())?;
            let centroids = model.centroids.mapv(f64::from);
            Ok((labels, centroids, model.inertia, model.iterations, model.converged, model.restart))
        }
    }
}

// ---- divergences ----------------------------------------------------------------------------------------------

/// Every measure between a reference histogram and a source histogram (cluster counts of equal length), as one
/// comparison of `simgap divergence`: the plug-in values with their bootstrap spread, the jackknife bias-corrected
/// estimate with its calibrated 95% interval, the reference's split-half ceiling and the permutation p-value.
#[pyfunction]
#[pyo3(signature = (reference, source, smoothing, bootstrap, permutations, calibration_draws, ceiling_splits, seed, labels))]
#[allow(clippy::too_many_arguments)]
pub fn divergence<'py>(
    py: Python<'py>,
    reference: Vec<u64>,
    source: Vec<u64>,
    smoothing: &str,
    bootstrap: usize,
    permutations: usize,
    calibration_draws: usize,
    ceiling_splits: usize,
    seed: u64,
    labels: (String, String, String),
) -> PyResult<Bound<'py, PyDict>> {
    if reference.len() != source.len() || reference.is_empty() {
        return Err(config_error(format!(
            "the two histograms need the same number of clusters (at least one), not {} and {}",
            reference.len(),
            source.len()
        )));
    }
    let smoothing: Smoothing = smoothing.parse().map_err(|e: String| config_error(format!("smoothing: {e}")))?;
    let settings = Resampling { smoothing, bootstrap, permutations, calibration_draws, ceiling_splits, seed };
    let (reference, source) = (Histogram::from_counts(reference), Histogram::from_counts(source));
    let (facet, reference_name, source_name) = labels;
    let estimated = py.detach(|| {
        let replicates = reference_replicates(&reference, &settings, [&facet, &reference_name]);
        estimate(&reference, &source, &replicates, &settings, [&facet, &reference_name, &source_name])
    });
    let out = PyDict::new(py);
    out.set_item("measure", Divergences::NAMES.to_vec())?;
    out.set_item("plugin", estimated.point.values().to_vec())?;
    out.set_item("plugin_lo", estimated.lo.values().to_vec())?;
    out.set_item("plugin_hi", estimated.hi.values().to_vec())?;
    out.set_item("corrected", estimated.corrected.iter().map(|c| c.value).collect::<Vec<_>>())?;
    out.set_item("lo", estimated.corrected.iter().map(|c| c.lo).collect::<Vec<_>>())?;
    out.set_item("hi", estimated.corrected.iter().map(|c| c.hi).collect::<Vec<_>>())?;
    out.set_item("ceiling_js", estimated.ceiling_js.to_vec())?;
    out.set_item("p_value", estimated.p_value)?;
    out.set_item("n_reference", estimated.n_reference)?;
    out.set_item("n_source", estimated.n_source)?;
    out.set_item("k", estimated.k)?;
    out.set_item("smoothing", smoothing.to_string())?;
    out.set_item("warning", estimated.warning)?;
    Ok(out)
}
