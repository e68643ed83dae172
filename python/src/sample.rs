//! The cluster stage's partial results for callers that shard the work themselves: [`SampleKeys`] (each row's
//! sampling hash per source; merged, they fix the plan: quotas and thresholds) and [`FitSample`] (a shard's sampled
//! rows, keyed by table row, so any merge order gives the table order the fit sees). `Codebook.fit_sample` fits on
//! the merged sample exactly as `simgap cluster` fits on the whole table.
//!
//! Consumes: features tables (a shard, with its first row's place in the whole table), `[cluster]` settings as JSON.
//! Produces: [`SampleKeys`] (JSON) and [`FitSample`] (Arrow IPC bytes), both mergeable and picklable.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use simgap::cluster::columns::FeatureTable;
use simgap::cluster::sample::{self, SamplePlan};
use simgap::cluster::{ClusterConfig, ClusterError};

use crate::codebook::feature_table;
use crate::errors::{config_error, data_error, to_python};
use crate::features::settings;

/// The sampling keys of `batches` (rows of one table or shard).
pub fn keys_of(table: &FeatureTable, batches: &[RecordBatch], seed: u64) -> Result<sample::SampleKeys, ClusterError> {
    let mut keys = sample::SampleKeys::default();
    for batch in batches {
        keys.add_batch(table, batch, seed)?;
    }
    Ok(keys)
}

/// The sampled rows of `batches` under `plan`, the first of them row `first_row` of the whole table.
pub fn sample_of(
    table: &FeatureTable,
    batches: &[RecordBatch],
    first_row: u64,
    plan: &SamplePlan,
    seed: u64,
    facets: &[String],
) -> Result<sample::FitSample, ClusterError> {
    let mut sample = sample::FitSample::default();
    let mut row = first_row;
    for batch in batches {
        let keep = plan.select(table, batch, seed)?;
        sample.add_batch(table, batch, row, &keep, facets)?;
        row += batch.num_rows() as u64;
    }
    Ok(sample)
}

/// Every row's sampling hash (seeded by `[cluster] seed`), per source: the first pass of a sharded fit. Merge the
/// shards' keys (any order), then give the total to every shard's `FitSample.of`.
#[pyclass(module = "simgap._simgap")]
#[derive(Clone)]
pub struct SampleKeys {
    pub inner: sample::SampleKeys,
    pub seed: u64,
}

#[pymethods]
impl SampleKeys {
    /// The keys of a features table (or one shard of it).
    #[staticmethod]
    fn of(py: Python<'_>, features: &Bound<'_, PyAny>, seed: u64) -> PyResult<SampleKeys> {
        let (table, data) = feature_table(features)?;
        let keys = py.detach(|| keys_of(&table, &data.batches, seed));
        keys.map(|inner| SampleKeys { inner, seed }).map_err(|e| to_python(e.into()))
    }

    fn merge(&self, other: &SampleKeys) -> PyResult<SampleKeys> {
        if other.seed != self.seed {
            return Err(config_error(format!("sample keys of seeds {} and {} do not merge", self.seed, other.seed)));
        }
        let mut merged = self.inner.clone();
        merged.merge(other.inner.clone());
        Ok(SampleKeys { inner: merged, seed: self.seed })
    }

    /// Rows seen, per source.
    #[getter]
    fn rows(&self) -> BTreeMap<String, u64> {
        self.inner.source_rows()
    }

    fn to_json(&self) -> String {
        serde_json::json!({ "seed": self.seed, "keys": self.inner }).to_string()
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<SampleKeys> {
        #[derive(serde::Deserialize)]
        struct Sent {
            seed: u64,
            keys: sample::SampleKeys,
        }
        let sent: Sent = serde_json::from_str(text).map_err(|e| data_error(format!("not simgap sample keys: {e}")))?;
        Ok(SampleKeys { inner: sent.keys, seed: sent.seed })
    }

    fn __reduce__(slf: Bound<'_, Self>) -> PyResult<(Bound<'_, PyAny>, (String,))> {
        let rebuild = slf.get_type().getattr("from_json")?;
        let text = slf.borrow().to_json();
        Ok((rebuild, (text,)))
    }
}

/// A shard's sampled rows of every facet, keyed by their row in the whole table: the second pass of a sharded fit.
#[pyclass(module = "simgap._simgap")]
pub struct FitSample {
    pub inner: sample::FitSample,
    /// Each facet's feature columns, in order (what the fit names its columns by).
    pub columns: BTreeMap<String, Vec<String>>,
    pub settings_json: String,
}

/// What pickle stores of a fit sample: the rebuilding function and its arguments (IPC bytes, columns, settings).
type Reduced<'py> = (Bound<'py, PyAny>, (Bound<'py, PyBytes>, String, String));

#[pymethods]
impl FitSample {
    /// The rows of a shard (whose first row is row `first_row` of the whole table) that the sample takes, given the
    /// whole table's merged `keys` and the `[cluster]` settings (`sample_size`, `balance`; the keys' seed).
    #[staticmethod]
    fn of(
        py: Python<'_>,
        features: &Bound<'_, PyAny>,
        keys: &SampleKeys,
        first_row: u64,
        settings_json: &str,
    ) -> PyResult<FitSample> {
        let config: ClusterConfig = settings(settings_json, "cluster")?;
        let (table, data) = feature_table(features)?;
        let facets: Vec<String> = table.by_facet.keys().cloned().collect();
        let plan = keys.inner.clone().plan(config.sample_size, config.balance);
        let sampled = py.detach(|| sample_of(&table, &data.batches, first_row, &plan, keys.seed, &facets));
        let inner = sampled.map_err(|e| to_python(e.into()))?;
        Ok(FitSample { inner, columns: table.by_facet.clone(), settings_json: settings_json.to_owned() })
    }

    /// This shard's sample plus another's (of other rows of the same table).
    fn merge(&self, other: &FitSample) -> PyResult<FitSample> {
        if other.columns != self.columns {
            return Err(config_error("fit samples of tables with other feature columns do not merge"));
        }
        let mut merged = self.inner.clone();
        merged.merge(other.inner.clone());
        Ok(FitSample { inner: merged, columns: self.columns.clone(), settings_json: self.settings_json.clone() })
    }

    /// The sample as Arrow IPC bytes, and what `from_bytes` needs beside them.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, String, String)> {
        let bytes = self.inner.to_ipc().map_err(|e| data_error(e.to_string()))?;
        let columns = serde_json::to_string(&self.columns).expect("names serialise");
        Ok((PyBytes::new(py, &bytes), columns, self.settings_json.clone()))
    }

    #[staticmethod]
    fn from_bytes(bytes: &[u8], columns_json: &str, settings_json: &str) -> PyResult<FitSample> {
        let columns: BTreeMap<String, Vec<String>> =
            serde_json::from_str(columns_json).map_err(|e| data_error(format!("fit sample columns: {e}")))?;
        let widths = columns.iter().map(|(facet, names)| (facet.clone(), names.len())).collect();
        let inner = sample::FitSample::from_ipc(bytes, &widths).map_err(data_error)?;
        Ok(FitSample { inner, columns, settings_json: settings_json.to_owned() })
    }

    fn __reduce__<'py>(slf: Bound<'py, Self>) -> PyResult<Reduced<'py>> {
        let rebuild = slf.get_type().getattr("from_bytes")?;
        let parts = slf.borrow().to_bytes(slf.py())?;
        Ok((rebuild, parts))
    }
}
