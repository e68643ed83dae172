//! simgap's k-means: greedy k-means++ and Lloyd iterations on matrix multiplies, in parallel, reproducibly.
//!
//! Consumes: a row-major matrix of `f32` or `f64` (n x d) and [`KMeansParams`]. Produces: a [`KMeans`] model
//! (centroids, inertia, iterations, which restart won) that labels rows by their nearest centroid. Implements
//! linfa's `Fit` and `PredictInplace`, so it plugs into linfa code; linfa-clustering is the reference it is tested
//! and benchmarked against.
//!
//! How: Lloyd's squared distances are ||x||^2 - 2 x.c + ||c||^2, the cross term one GEMM (matrixmultiply) per block of
//! rows; Hamerly's distance bounds ([`bounded`]) leave out the rows that cannot change cluster, so after the first few
//! iterations only a small share of the rows is scanned. The rows are cut into a fixed number of chunks, whatever the
//! thread count; rayon runs the chunks, and their results are merged in chunk order, so the same seed gives the same
//! bits on 1 thread or 16 (on the same kind of processor: the AVX2/FMA kernels, ours and matrixmultiply's, are chosen
//! at run time and round differently from the portable ones). Initialisation is greedy k-means++ (`kmeans/seeding.rs`:
//! 2 + ln k candidates per centre, the best kept) over a centred f32 copy of the data in groups of eight rows, scored
//! by an eight-lane multiply-add kernel: O(n k d log k) flops and one pass over the copy per centre. Convergence as in
//! scikit-learn: labels unchanged (then no extra pass), or the centres' total squared shift under `tol` times the mean
//! feature variance. Empty clusters take the points farthest from their centres (full Lloyd; in mini-batch mode a
//! centre that never wins a batch row stays where it was seeded). Restarts keep the best run whole. Cost per Lloyd
//! iteration: O(n d) plus 2 k d flops per scanned row (all n in the first).
//! Memory: the data (plus a standard-layout copy if it is not row-major), its f32 seeding copy (4 n d bytes), the
//! candidate scores (4 n (2 + ln k) bytes), a label and two bounds per row, and k x d sums.

use linfa::Float;
use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::hashing::mix64;

mod bounded;
mod nearest;
mod seeding;

use seeding::{SeedingData, kmeans_plus_plus};

/// Rows per GEMM block (a block's distances, rows x k, stay in cache).
const BLOCK_ROWS: usize = 256;
/// Chunks the rows are cut into; fixed so results do not depend on the thread count.
const CHUNKS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KMeansError {
    #[error("k must be at least 1")]
    ZeroClusters,
    #[error("k = {k} is more than the {n} rows")]
    TooManyClusters { k: usize, n: usize },
    #[error("restarts must be at least 1")]
    ZeroRestarts,
    #[error("max_iter must be at least 1")]
    ZeroIterations,
    #[error("tol must be a non-negative finite number, not {0}")]
    BadTolerance(f64),
    #[error("the data has a non-finite value (NaN or infinite) at row {row}, column {column}")]
    NotFinite { row: usize, column: usize },
    #[error("the mini-batch size must be at least 1")]
    ZeroBatch,
    #[error("the data has no columns")]
    NoColumns,
    #[error("centroids have {got} columns, the data {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}

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
        Self { k, restarts: 1, max_iter: 300, tol: 1e-4, seed: 0, minibatch: None }
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
        for restart in 0..self.restarts {
            let mut rng = ChaCha8Rng::seed_from_u64(split_seed(self.seed, restart as u64));
            let started = std::time::Instant::now();
            let centroids = kmeans_plus_plus(&data, &seeding, self.k, &mut rng);
            let initialised = std::time::Instant::now();
            let run = match self.minibatch {
                None => bounded::lloyd(&data, &norms, centroids, self.max_iter, tol, restart),
                Some(batch) => minibatch(&data, &norms, centroids, self.max_iter, tol, batch, restart, &mut rng),
            };
            stats.init_seconds += (initialised - started).as_secs_f64();
            stats.lloyd_seconds += initialised.elapsed().as_secs_f64();
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

/// A seed per restart.
fn split_seed(seed: u64, restart: u64) -> u64 {
    mix64(seed ^ restart.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn squared_norms<F: Float>(data: &ArrayView2<F>) -> Array1<F> {
    let mut norms = Array1::zeros(data.nrows());
    let slice = norms.as_slice_mut().expect("a fresh array is contiguous");
    slice.par_iter_mut().enumerate().for_each(|(i, norm)| {
        let row = data.row(i);
        *norm = row.dot(&row);
    });
    norms
}

/// Mean over columns of the column variances (scikit-learn's scale for `tol`).
/// Accumulated in f64 whatever `F`, so an f32 sum of millions of terms does not stall.
fn mean_variance<F: Float>(data: &ArrayView2<F>) -> F {
    let means = column_means(data);
    let mut total = 0.0f64;
    for row in data.axis_iter(Axis(0)) {
        for (x, m) in row.iter().zip(&means) {
            let deviation = x.to_f64().unwrap_or(0.0) - m;
            total += deviation * deviation;
        }
    }
    F::cast(total / (data.nrows() * data.ncols()) as f64)
}

/// Column means in f64.
fn column_means<F: Float>(data: &ArrayView2<F>) -> Vec<f64> {
    let mut sums = vec![0.0f64; data.ncols()];
    for row in data.axis_iter(Axis(0)) {
        for (sum, x) in sums.iter_mut().zip(row.iter()) {
            *sum += x.to_f64().unwrap_or(0.0);
        }
    }
    sums.iter().map(|s| s / data.nrows() as f64).collect()
}

/// The row ranges of the fixed chunks.
fn chunk_ranges(n: usize) -> Vec<(usize, usize)> {
    let chunks = CHUNKS.min(n.div_ceil(BLOCK_ROWS)).max(1);
    // A multiple of the seeding layout's lane group, so no group straddles two chunks.
    let size = n.div_ceil(chunks).next_multiple_of(LANES);
    (0..chunks).map(|c| (c * size, ((c + 1) * size).min(n))).filter(|(a, b)| a < b).collect()
}

/// Labels and inertia of one assignment pass.
struct Assignment {
    labels: Vec<u32>,
    inertia: f64,
}

/// Assigns every row to its nearest centroid (every row against every centre).
fn assignment_step<F: Float>(data: &ArrayView2<F>, norms: &Array1<F>, centroids: &Array2<F>) -> Assignment {
    let n = data.nrows();
    let k = centroids.nrows();
    let centroid_norms: Vec<F> = centroids.axis_iter(Axis(0)).map(|c| c.dot(&c)).collect();
    let centroids_t = centroids.t();
    let avx2 = nearest::has_avx2();
    let partials: Vec<(Vec<u32>, f64)> = chunk_ranges(n)
        .into_par_iter()
        .map(|(start, end)| {
            let mut labels = Vec::with_capacity(end - start);
            let mut inertia = 0.0f64;
            let mut dots = Array2::<F>::zeros((BLOCK_ROWS, k));
            let mut block_start = start;
            while block_start < end {
                let block_end = (block_start + BLOCK_ROWS).min(end);
                let rows = data.slice(s![block_start..block_end, ..]);
                let mut block = dots.slice_mut(s![..block_end - block_start, ..]);
                general_mat_mul(F::one(), &rows, &centroids_t, F::zero(), &mut block);
                for (i, dot_row) in block.axis_iter(Axis(0)).enumerate() {
                    let dots = dot_row.to_slice().expect("standard layout");
                    let (nearest, best, _) = if avx2 {
                        nearest::nearest_two::<F, true>(&centroid_norms, dots)
                    } else {
                        nearest::nearest_two::<F, false>(&centroid_norms, dots)
                    };
                    labels.push(nearest as u32);
                    let distance = (best + norms[block_start + i]).max(F::zero());
                    inertia += distance.to_f64().unwrap_or(f64::NAN);
                }
                block_start = block_end;
            }
            (labels, inertia)
        })
        .collect();
    let mut merged = Assignment { labels: Vec::with_capacity(n), inertia: 0.0 };
    for (labels, inertia) in partials {
        merged.labels.extend(labels);
        merged.inertia += inertia;
    }
    merged
}

/// Mini-batch k-means: each iteration assigns a seeded random batch and moves each centre toward its batch rows
/// with learning rate 1/(rows the centre has seen); stops when the centres' squared shift over an iteration is at
/// most `tol`, or after `max_iter` batches; then one full assignment for the inertia.
#[allow(clippy::too_many_arguments)]
fn minibatch<F: Float>(
    data: &ArrayView2<F>,
    norms: &Array1<F>,
    mut centroids: Array2<F>,
    max_iter: usize,
    tol: F,
    batch: usize,
    restart: usize,
    rng: &mut ChaCha8Rng,
) -> KMeans<F> {
    let n = data.nrows();
    let batch = batch.min(n);
    let mut seen = vec![0u64; centroids.nrows()];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        iterations += 1;
        let rows: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..n)).collect();
        let sample = data.select(Axis(0), &rows);
        let sample_norms = Array1::from_iter(rows.iter().map(|&i| norms[i]));
        let step = assignment_step(&sample.view(), &sample_norms, &centroids);
        let before = centroids.clone();
        for (row, &label) in sample.axis_iter(Axis(0)).zip(&step.labels) {
            let j = label as usize;
            seen[j] += 1;
            let rate = F::one() / F::cast(seen[j]);
            let mut centre = centroids.row_mut(j);
            centre.zip_mut_with(&row, |c, x| *c = *c + (*x - *c) * rate);
        }
        let shift: F = (&centroids - &before).iter().map(|v| *v * *v).sum();
        if shift <= tol {
            converged = true;
            break;
        }
    }
    let final_step = assignment_step(data, norms, &centroids);
    KMeans { centroids, inertia: final_step.inertia, iterations, converged, restart, stats: FitStats::default() }
}

/// Rows per lane group of the seeding layout (eight f32 lanes: one AVX2 register).
const LANES: usize = 8;

impl<F: Float, D: Data<Elem = F>, T> Fit<ArrayBase<D, Ix2>, T, KMeansError> for KMeansParams {
    type Object = KMeans<F>;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeans<F>, KMeansError> {
        self.fit_array(dataset.records().view())
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

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Predict;
    use ndarray::Array2;
    use rand::Rng;

    /// `centres` well-separated Gaussian-ish blobs of `per` points in `d` dimensions, with their true labels.
    pub(crate) fn blobs(centres: usize, per: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centre_points: Vec<Vec<f64>> =
            (0..centres).map(|_| (0..d).map(|_| rng.gen_range(-100.0..100.0)).collect()).collect();
        let mut data = Array2::zeros((centres * per, d));
        let mut labels = Vec::new();
        for i in 0..centres * per {
            let c = i % centres;
            for j in 0..d {
                // Sum of uniforms: roughly normal, spread 1.
                let noise: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum();
                data[[i, j]] = centre_points[c][j] + noise;
            }
            labels.push(c);
        }
        (data, labels)
    }

    /// The adjusted Rand index of two labellings.
    pub(crate) fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
        let n = a.len() as f64;
        let ka = a.iter().max().map_or(0, |m| m + 1);
        let kb = b.iter().max().map_or(0, |m| m + 1);
        let mut table = vec![vec![0f64; kb]; ka];
        for (&x, &y) in a.iter().zip(b) {
            table[x][y] += 1.0;
        }
        let pairs = |v: f64| v * (v - 1.0) / 2.0;
        let index: f64 = table.iter().flatten().map(|&v| pairs(v)).sum();
        let rows: f64 = table.iter().map(|r| pairs(r.iter().sum())).sum();
        let cols: f64 = (0..kb).map(|j| pairs(table.iter().map(|r| r[j]).sum())).sum();
        let expected = rows * cols / pairs(n);
        (index - expected) / ((rows + cols) / 2.0 - expected)
    }

    #[test]
    fn recovers_planted_clusters() {
        let (data, truth) = blobs(8, 250, 5, 1);
        let model = KMeansParams::new(8).restarts(3).seed(7).fit_array(data.view()).unwrap();
        let (labels, inertia) = model.assign(data.view()).unwrap();
        let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
        let ari = adjusted_rand_index(&truth, &labels);
        assert!(ari >= 0.99, "ARI {ari}");
        assert!((inertia - model.inertia).abs() <= 1e-9 * inertia.max(1.0));
        assert!(model.converged);
    }

    #[test]
    fn same_seed_same_model_on_any_thread_count() {
        let (data, _) = blobs(5, 400, 4, 2);
        let params = KMeansParams::new(12).restarts(2).seed(11);
        let fit = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| params.fit_array(data.view()).unwrap())
        };
        let one = fit(1);
        assert_eq!(one, fit(1));
        assert_eq!(one, fit(3), "chunks are fixed, so the thread count does not change the bits");
        let other = KMeansParams::new(12).restarts(2).seed(12).fit_array(data.view()).unwrap();
        assert_ne!(one.centroids, other.centroids);
    }

    #[test]
    fn f32_agrees_with_f64() {
        let (data, truth) = blobs(4, 200, 3, 3);
        let model = KMeansParams::new(4).seed(1).fit_array(data.mapv(|v| v as f32).view()).unwrap();
        let (labels, _) = model.assign(data.mapv(|v| v as f32).view()).unwrap();
        let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
        assert!(adjusted_rand_index(&truth, &labels) >= 0.99);
    }

    #[test]
    fn bad_parameters_are_clear_errors() {
        let data = Array2::<f64>::zeros((5, 2));
        assert!(matches!(KMeansParams::new(0).fit_array(data.view()), Err(KMeansError::ZeroClusters)));
        assert!(matches!(
            KMeansParams::new(6).fit_array(data.view()),
            Err(KMeansError::TooManyClusters { k: 6, n: 5 })
        ));
        assert!(matches!(KMeansParams::new(2).restarts(0).fit_array(data.view()), Err(KMeansError::ZeroRestarts)));
        assert!(matches!(KMeansParams::new(2).max_iter(0).fit_array(data.view()), Err(KMeansError::ZeroIterations)));
        assert!(matches!(KMeansParams::new(2).tol(f64::NAN).fit_array(data.view()), Err(KMeansError::BadTolerance(_))));
        let mut with_nan = data.clone();
        with_nan[[3, 1]] = f64::NAN;
        let err = KMeansParams::new(2).fit_array(with_nan.view()).unwrap_err();
        assert!(matches!(err, KMeansError::NotFinite { row: 3, column: 1 }), "{err}");
        assert!(err.to_string().contains("row 3, column 1"));
    }

    #[test]
    fn duplicate_points_and_as_many_clusters_as_points() {
        // Three distinct points, many copies: k = 3 finds them exactly; k = n leaves no cluster empty.
        let data = Array2::from_shape_fn((30, 2), |(i, j)| ((i % 3) * 10 + j) as f64);
        let model = KMeansParams::new(3).seed(5).fit_array(data.view()).unwrap();
        assert!(model.inertia.abs() < 1e-9, "{}", model.inertia);
        let small = Array2::from_shape_fn((6, 1), |(i, _)| i as f64);
        let model = KMeansParams::new(6).fit_array(small.view()).unwrap();
        assert!(model.inertia.abs() < 1e-9);
    }

    #[test]
    fn implements_linfa_fit_and_predict() {
        let (data, truth) = blobs(3, 100, 2, 4);
        let dataset = DatasetBase::from(data.clone());
        let model: KMeans<f64> = KMeansParams::new(3).seed(2).fit(&dataset).unwrap();
        let predicted: Array1<usize> = model.predict(&data);
        assert!(adjusted_rand_index(&truth, predicted.as_slice().unwrap()) >= 0.99);
    }

    #[test]
    fn minibatch_finds_planted_clusters() {
        let (data, truth) = blobs(6, 500, 4, 8);
        let model = KMeansParams::new(6).minibatch(Some(256)).max_iter(200).seed(4).fit_array(data.view()).unwrap();
        let (labels, _) = model.assign(data.view()).unwrap();
        let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
        assert!(adjusted_rand_index(&truth, &labels) >= 0.99);
        let full = KMeansParams::new(6).seed(4).fit_array(data.view()).unwrap();
        assert!(model.inertia <= full.inertia * 1.05, "{} vs {}", model.inertia, full.inertia);
        assert!(matches!(KMeansParams::new(2).minibatch(Some(0)).fit_array(data.view()), Err(KMeansError::ZeroBatch)));
    }

    #[test]
    fn relative_tolerance_stops_early() {
        let (data, _) = blobs(10, 100, 3, 6);
        let loose = KMeansParams::new(10).tol(1.0).seed(3).fit_array(data.view()).unwrap();
        let strict = KMeansParams::new(10).tol(0.0).seed(3).fit_array(data.view()).unwrap();
        assert!(loose.iterations <= strict.iterations);
        assert!(strict.inertia <= loose.inertia + 1e-9);
    }
}
