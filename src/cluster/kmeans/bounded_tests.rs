//! Unit tests of the bounded Lloyd iteration: it follows plain Lloyd step by step, skips settled rows, and gives
//! empty clusters the farthest rows.

use super::super::blocks::{assignment_step, squared_norms};
use super::super::tests::blobs;
use super::*;

/// Plain Lloyd, every row against every centre in every iteration: the iterates the bounded loop must follow.
fn plain_lloyd(data: &ArrayView2<f64>, mut centroids: Array2<f64>, iterations: usize) -> Array2<f64> {
    let norms = squared_norms(data);
    for _ in 0..iterations {
        let labels = assignment_step(data, &norms, &centroids).labels;
        let mut sums = Sums::new(centroids.nrows(), data.ncols());
        for (row, &label) in data.axis_iter(Axis(0)).zip(&labels) {
            sums.add(label as usize, row.as_slice().unwrap());
        }
        centroids = sums.centroids(&centroids);
    }
    centroids
}

fn largest_gap(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

#[test]
fn follows_plain_lloyd_iterate_by_iterate() {
    // Overlapping blobs, so rows keep moving for many iterations.
    let (data, _) = blobs(12, 150, 4, 21);
    let data = data.mapv(|v| v / 40.0);
    let norms = squared_norms(&data.view());
    let start = data.select(Axis(0), &(0..20).map(|i| i * 37).collect::<Vec<_>>());
    for iterations in [1, 2, 5, 12, 40] {
        let bounded = lloyd(&data.view(), &norms, start.clone(), iterations, 0.0, 0);
        assert!(bounded.iterations <= iterations);
        let plain = plain_lloyd(&data.view(), start.clone(), bounded.iterations);
        let gap = largest_gap(&bounded.centroids, &plain);
        assert!(gap < 1e-9, "after {} iterations the centroids differ by {gap}", bounded.iterations);
    }
}

#[test]
fn skips_most_rows_once_settled() {
    let (data, _) = blobs(10, 500, 6, 5);
    let norms = squared_norms(&data.view());
    let start = data.select(Axis(0), &(0..10).map(|i| i * 499 + 3).collect::<Vec<_>>());
    let model = lloyd(&data.view(), &norms, start, 100, 0.0, 0);
    assert!(model.converged);
    // Plain Lloyd scans every row in every iteration and once more at the end; the bounds leave most alone.
    assert!(model.stats.passes < (model.iterations + 1) as f64 * 0.6, "{:?} {}", model.stats, model.iterations);
    let (_, inertia) = model.assign(data.view()).unwrap();
    assert!((inertia - model.inertia).abs() <= 1e-9 * inertia);
    let plain = plain_lloyd(&data.view(), model.centroids.clone(), 1);
    assert!(largest_gap(&plain, &model.centroids) < 1e-9, "a converged model is a fixed point of Lloyd");
}

#[test]
fn empty_clusters_take_the_farthest_rows() {
    // Three points, twenty copies each; five centres, two of them on points no row is nearest to.
    let data = Array2::from_shape_fn((60, 2), |(i, j)| ((i % 3) * 10 + j) as f64);
    let norms = squared_norms(&data.view());
    let start = ndarray::array![[0.0, 1.0], [0.0, 1.0], [10.0, 11.0], [20.0, 21.0], [20.0, 21.0]];
    let model = lloyd(&data.view(), &norms, start, 50, 0.0, 0);
    assert!(model.inertia.abs() < 1e-9, "{}", model.inertia);
    let (labels, _) = model.assign(data.view()).unwrap();
    let mut used = labels.clone();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used.len(), 3);
}
