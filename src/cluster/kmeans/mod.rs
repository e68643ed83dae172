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

mod blocks;
mod bounded;
mod error;
mod minibatch;
mod model;
mod nearest;
mod params;
mod seeding;

pub use error::KMeansError;
pub use model::{FitStats, KMeans};
pub use params::{DEFAULT_MAX_ITER, DEFAULT_RESTARTS, DEFAULT_TOL, KMeansParams};

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::DatasetBase;
    use linfa::traits::Fit;
    use linfa::traits::Predict;
    use ndarray::Array1;
    use ndarray::Array2;
    use rand::Rng;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
