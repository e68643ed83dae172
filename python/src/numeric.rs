//! k-means on a matrix and the divergences of two histograms, as the CLI computes them (`KMeansParams::fit_array`,
//! `comparison::estimate`).
//!
//! Consumes: C-contiguous float64 buffers (NumPy), cluster counts. Produces: [`KMeansResult`], a dict of columns.

use ndarray::{Array2, ArrayView2};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use simgap::cluster::codebook::Precision;
use simgap::divergence::comparison::{Resampling, estimate, reference_replicates};
use simgap::divergence::histogram::{Histogram, Smoothing};
use simgap::divergence::measures::Divergences;

use crate::errors::{config_error, to_python};
use crate::features::settings;

/// A C-contiguous float64 buffer as a rows x columns matrix (copied once, out of Python's memory).
pub fn matrix(py: Python<'_>, data: &PyBuffer<f64>, (rows, columns): (usize, usize)) -> PyResult<Array2<f64>> {
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
