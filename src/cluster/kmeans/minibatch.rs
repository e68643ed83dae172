//! Mini-batch k-means, for fits where full Lloyd passes cost too much.
//!
//! Consumes: the rows, their norms, seeded centroids and a batch size. Produces: a [`KMeans`] model.

use linfa::Float;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::blocks::assignment_step;
use super::model::{FitStats, KMeans};

/// Mini-batch k-means: each iteration assigns a seeded random batch and moves each centre toward its batch rows
/// with learning rate 1/(rows the centre has seen); stops when the centres' squared shift over an iteration is at
/// most `tol`, or after `max_iter` batches; then one full assignment for the inertia.
#[allow(clippy::too_many_arguments)]
pub(super) fn minibatch<F: Float>(
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
