//! A fitted k-means model: its centroids, inertia and convergence, and where the fit's time went; it labels rows by
//! their nearest centroid (also through linfa's `PredictInplace`).
//!
//! Consumes: centroids (fitted, or read back from a codebook) and rows to label. Produces: labels and inertia.

use linfa::Float;
use linfa::traits::PredictInplace;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};

use super::blocks::{assignment_step, squared_norms};
use super::error::KMeansError;

/// Where a fit's time went, over every restart (for benchmarks: flop rates of the Lloyd iterations).
#[derive(Debug, Clone, Copy, Default)]
pub struct FitStats {
    pub init_seconds: f64,
    pub lloyd_seconds: f64,
    /// Rows scanned against every centre by the Lloyd iterations of all restarts, final assignments included, in
    /// full passes over the data (0 for mini-batch); the distance bounds make it far less than the iterations.
    pub passes: f64,
}

/// A fitted k-means model. Equality compares the model, not the timings.
#[derive(Debug, Clone)]
pub struct KMeans<F> {
    pub centroids: Array2<F>,
    /// Sum of squared distances of the rows to their centroids.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub iterations: usize,
    /// Whether the winning run converged before max_iter.
    pub converged: bool,
    /// Which restart won (0-based).
    pub restart: usize,
    pub stats: FitStats,
}

impl<F: PartialEq> PartialEq for KMeans<F> {
    fn eq(&self, other: &Self) -> bool {
        self.centroids == other.centroids
            && self.inertia.to_bits() == other.inertia.to_bits()
            && self.iterations == other.iterations
            && self.converged == other.converged
            && self.restart == other.restart
    }
}

impl<F: Float> KMeans<F> {
    /// A model from given centroids (a codebook read back from disk).
    pub fn from_centroids(centroids: Array2<F>) -> Self {
        Self { centroids, inertia: f64::NAN, iterations: 0, converged: true, restart: 0, stats: FitStats::default() }
    }

    /// The nearest centroid of every row, and the sum of squared distances.
    pub fn assign(&self, data: ArrayView2<F>) -> Result<(Vec<u32>, f64), KMeansError> {
        if data.ncols() != self.centroids.ncols() {
            return Err(KMeansError::DimensionMismatch { expected: data.ncols(), got: self.centroids.ncols() });
        }
        let data = data.as_standard_layout();
        let data = data.view();
        let norms = squared_norms(&data);
        let step = assignment_step(&data, &norms, &self.centroids);
        Ok((step.labels, step.inertia))
    }
}

impl<F: Float, D: Data<Elem = F>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for KMeans<F> {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        // The dimensions are checked by `assign`; a mismatch here is a caller's bug, as in linfa's own models.
        let (labels, _) = self.assign(x.view()).expect("rows with the centroids' number of columns");
        for (target, label) in y.iter_mut().zip(labels) {
            *target = label as usize;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
