//! Codebooks on Arrow tables in memory: `Codebook.fit` through the cluster stage's own sample and fit
//! (`SampleKeys`, `FitSample`, `fit_codebook`), the per-pair protocol (`fit_pair`), assignment (`assign_batch`).
//!
//! Consumes: features tables (with `simgap.facets` metadata), `[cluster]` settings as JSON, embedding matrices.
//! Produces: [`Codebook`] and the assignments as an [`ArrowStream`].

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use simgap::cluster::codebook;
use simgap::cluster::columns::FeatureTable;
use simgap::cluster::{ClusterConfig, assign::assign_batch, facets_to_fit, fit_codebook};

use crate::capsule::{ArrowStream, Table, import_table};
use crate::errors::{config_error, data_error, to_python};
use crate::features::settings;
use crate::numeric::matrix;
use crate::sample::{FitSample, SampleKeys, keys_of, sample_of};

/// A feature table from Python: its batches and the facets its schema's `simgap.facets` metadata names.
pub fn feature_table(object: &Bound<'_, PyAny>) -> PyResult<(FeatureTable, Table)> {
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

/// A fitted codebook, or the warning of a facet with no value to fit (as an error), or the fit's error.
fn codebook_or_warning(
    fitted: Result<Result<codebook::Codebook, String>, simgap::cluster::ClusterError>,
) -> PyResult<Codebook> {
    match fitted.map_err(|e| to_python(e.into()))? {
        Ok(inner) => Ok(Codebook { inner }),
        Err(warning) => Err(data_error(warning)),
    }
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
            let keys = keys_of(&table, &data.batches, config.seed)?;
            let k = config.k.choose(keys.smallest_source());
            let plan = keys.plan(config.sample_size, config.balance);
            let sample = sample_of(&table, &data.batches, 0, &plan, config.seed, &facets)?;
            let rows = sample.facet(facet, table.by_facet[facet].len());
            fit_codebook(&config, &k, &table, facet, rows)
        });
        codebook_or_warning(fitted)
    }

    /// Fits facet `facet` on a fit sample merged from shards (`FitSample.of` per shard, then `merge`), with the
    /// merged `keys` of every shard: the same codebook `fit` gives on the whole table. The k-means seed is the keys'.
    #[staticmethod]
    fn fit_sample(
        py: Python<'_>,
        sample: PyRef<'_, FitSample>,
        keys: PyRef<'_, SampleKeys>,
        facet: &str,
        settings_json: &str,
    ) -> PyResult<Codebook> {
        let mut config: ClusterConfig = settings(settings_json, "cluster")?;
        config.facets = Some(vec![facet.to_owned()]);
        config.seed = keys.seed;
        config.check().map_err(|e| to_python(e.into()))?;
        let table =
            FeatureTable { path: "fit sample".into(), schema: Schema::empty(), by_facet: sample.columns.clone() };
        facets_to_fit(&config, &table).map_err(|e| to_python(e.into()))?;
        let k = config.k.choose(keys.inner.smallest_source());
        let rows = sample.inner.facet(facet, table.by_facet[facet].len());
        codebook_or_warning(py.detach(|| fit_codebook(&config, &k, &table, facet, rows)))
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
