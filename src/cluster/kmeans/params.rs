//! The settings of a fit and the fit itself: k-means++ seeding, then bounded Lloyd (or mini-batch) per restart,
//! keeping the best restart whole. Also linfa's `Fit`, so linfa code can use it.
//!
//! Consumes: a matrix (n x d) and [`KMeansParams`]. Produces: the [`KMeans`] model of the best restart.

use linfa::Float;
use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{ArrayBase, ArrayView2, Data, Ix2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::blocks::{mean_variance, squared_norms};
use super::bounded;
use super::error::KMeansError;
use super::minibatch::minibatch;
use super::model::{FitStats, KMeans};
use super::seeding::{SeedingData, kmeans_plus_plus};
use crate::hashing::mix64;

/// The engine's defaults, scikit-learn's: 1 restart, 300 iterations, tol 1e-4 (`simgap kmeans` shows them; the
/// cluster stage's `[cluster]` sets its own restarts).
pub const DEFAULT_RESTARTS: usize = 1;
pub const DEFAULT_MAX_ITER: usize = 300;
pub const DEFAULT_TOL: f64 = 1e-4;

/// Restarts whose k-means++ seedings share one pass over the data (each keeps 4 n (2 + ln k) bytes of scores, so
/// the memory grows with this, not with the number of restarts). Their centres do not depend on it.
const SEEDED_TOGETHER: usize = 4;

/// Settings of a k-means fit. Defaults follow scikit-learn's: 300 iterations, tol 1e-4, 1 restart.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    /// Independent runs from different seeds; the lowest inertia wins.
    pub restarts: usize,
    pub max_iter: usize,
    /// Relative tolerance: converged when the centres' total squared shift is at most `tol` x mean feature variance.
    pub tol: f64,
    pub seed: u64,
    /// Mini-batch k-means (Sculley 2010) with batches of this many rows instead of full Lloyd passes: each
    /// iteration moves the centres toward a seeded random batch, with per-centre learning rates 1/count.
    pub minibatch: Option<usize>,
}

impl KMeansParams {
    pub fn new(k: usize) -> Self {
        Self { k, restarts: DEFAULT_RESTARTS, max_iter: DEFAULT_MAX_ITER, tol: DEFAULT_TOL, seed: 0, minibatch: None }
    }

    pub fn minibatch(mut self, batch: Option<usize>) -> Self {
        self.minibatch = batch;
        self
    }

    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Every rule about the settings alone; one error per rule.
    pub fn check_settings(&self) -> Result<(), KMeansError> {
        if self.k == 0 {
            return Err(KMeansError::ZeroClusters);
        }
        if self.restarts == 0 {
            return Err(KMeansError::ZeroRestarts);
        }
        if self.max_iter == 0 {
            return Err(KMeansError::ZeroIterations);
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(KMeansError::BadTolerance(self.tol));
        }
        if self.minibatch == Some(0) {
            return Err(KMeansError::ZeroBatch);
        }
        Ok(())
    }

    /// Every rule about the settings and the data; one error per rule.
    pub fn check<F: Float>(&self, data: &ArrayView2<F>) -> Result<(), KMeansError> {
        self.check_settings()?;
        if data.ncols() == 0 {
            return Err(KMeansError::NoColumns);
        }
        if self.k > data.nrows() {
            return Err(KMeansError::TooManyClusters { k: self.k, n: data.nrows() });
        }
        if let Some((index, _)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(KMeansError::NotFinite { row: index / data.ncols(), column: index % data.ncols() });
        }
        Ok(())
    }

    /// Fits on `data` (rows are points).
    pub fn fit_array<F: Float>(&self, data: ArrayView2<F>) -> Result<KMeans<F>, KMeansError> {
        self.check(&data)?;
        let data = data.as_standard_layout();
        let data = data.view();
        let norms = squared_norms(&data);
        let tol = F::cast(self.tol) * mean_variance(&data);
        let mut best: Option<KMeans<F>> = None;
        let mut stats = FitStats::default();
        let seeding = SeedingData::new(&data);
        let started = std::time::Instant::now();
        let rngs: Vec<ChaCha8Rng> =
            (0..self.restarts).map(|r| ChaCha8Rng::seed_from_u64(split_seed(self.seed, r as u64))).collect();
        let seeded: Vec<_> = rngs
            .chunks(SEEDED_TOGETHER)
            .flat_map(|rngs| kmeans_plus_plus(&data, &seeding, self.k, rngs.to_vec()))
            .collect();
        stats.init_seconds = started.elapsed().as_secs_f64();
        for (restart, (centroids, mut rng)) in seeded.into_iter().enumerate() {
            let started = std::time::Instant::now();
            let run = match self.minibatch {
                None => bounded::lloyd(&data, &norms, centroids, self.max_iter, tol, restart),
                Some(batch) => minibatch(&data, &norms, centroids, self.max_iter, tol, batch, restart, &mut rng),
            };
            stats.lloyd_seconds += started.elapsed().as_secs_f64();
            stats.passes += run.stats.passes;
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        let mut best = best.expect("at least one restart");
        best.stats = stats;
        Ok(best)
    }
}

/// A seed per restart.
pub(super) fn split_seed(seed: u64, restart: u64) -> u64 {
    mix64(seed ^ restart.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl<F: Float, D: Data<Elem = F>, T> Fit<ArrayBase<D, Ix2>, T, KMeansError> for KMeansParams {
    type Object = KMeans<F>;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeans<F>, KMeansError> {
        self.fit_array(dataset.records().view())
    }
}
