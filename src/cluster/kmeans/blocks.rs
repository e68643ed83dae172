//! The blocks every k-means pass shares: the fixed chunking of the rows (so results do not depend on the thread
//! count), row norms, column statistics, and one full assignment of every row against every centre by GEMM blocks.
//!
//! Consumes: a row-major matrix and centroids. Produces: chunk ranges, norms, means, variances, labels and inertia.

use linfa::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::nearest;

/// Rows per GEMM block (a block's distances, rows x k, stay in cache).
pub(super) const BLOCK_ROWS: usize = 256;
/// Chunks the rows are cut into; fixed so results do not depend on the thread count.
pub(super) const CHUNKS: usize = 64;
/// Rows per lane group of the seeding layout (eight f32 lanes: one AVX2 register).
pub(super) const LANES: usize = 8;

pub(super) fn squared_norms<F: Float>(data: &ArrayView2<F>) -> Array1<F> {
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
pub(super) fn mean_variance<F: Float>(data: &ArrayView2<F>) -> F {
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
pub(super) fn column_means<F: Float>(data: &ArrayView2<F>) -> Vec<f64> {
    let mut sums = vec![0.0f64; data.ncols()];
    for row in data.axis_iter(Axis(0)) {
        for (sum, x) in sums.iter_mut().zip(row.iter()) {
            *sum += x.to_f64().unwrap_or(0.0);
        }
    }
    sums.iter().map(|s| s / data.nrows() as f64).collect()
}

/// The row ranges of the fixed chunks.
pub(super) fn chunk_ranges(n: usize) -> Vec<(usize, usize)> {
    let chunks = CHUNKS.min(n.div_ceil(BLOCK_ROWS)).max(1);
    // A multiple of the seeding layout's lane group, so no group straddles two chunks.
    let size = n.div_ceil(chunks).next_multiple_of(LANES);
    (0..chunks).map(|c| (c * size, ((c + 1) * size).min(n))).filter(|(a, b)| a < b).collect()
}

/// Labels and inertia of one assignment pass.
pub(super) struct Assignment {
    pub labels: Vec<u32>,
    pub inertia: f64,
}

/// Assigns every row to its nearest centroid (every row against every centre).
pub(super) fn assignment_step<F: Float>(data: &ArrayView2<F>, norms: &Array1<F>, centroids: &Array2<F>) -> Assignment {
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
