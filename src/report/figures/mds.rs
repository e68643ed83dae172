//! Classical multidimensional scaling (Torgerson) with a Jacobi eigen-solver: points in the plane whose distances
//! are as close as two dimensions allow to the given ones.
//!
//! Consumes: a symmetric matrix of distances. Produces: an [`Embedding`] (coordinates and the share of the variance
//! the two axes hold).

/// A classical MDS embedding in two dimensions.
#[derive(Debug, Clone)]
pub(super) struct Embedding {
    pub(super) points: Vec<(f64, f64)>,
    /// The share of the positive eigenvalues' sum carried by each of the two dimensions.
    pub(super) explained: [f64; 2],
}

/// Torgerson's classical MDS: the double-centred matrix B = -1/2 J D^2 J, its two largest eigenpairs, coordinates
/// v sqrt(lambda) (0 where lambda is not positive). Signs are fixed so that each axis's largest-magnitude coordinate
/// is positive, so the same distances give the same picture.
pub(super) fn classical_mds(distances: &[Vec<f64>]) -> Embedding {
    let n = distances.len();
    if n == 0 {
        return Embedding { points: Vec::new(), explained: [0.0, 0.0] };
    }
    let squared: Vec<Vec<f64>> = distances.iter().map(|r| r.iter().map(|d| d * d).collect()).collect();
    let row_mean: Vec<f64> = squared.iter().map(|r| r.iter().sum::<f64>() / n as f64).collect();
    let grand = row_mean.iter().sum::<f64>() / n as f64;
    let b: Vec<Vec<f64>> =
        (0..n).map(|i| (0..n).map(|j| -0.5 * (squared[i][j] - row_mean[i] - row_mean[j] + grand)).collect()).collect();
    let (values, vectors) = symmetric_eigen(&b);
    let positive: f64 = values.iter().filter(|v| **v > 0.0).sum();
    let mut axes = [vec![0.0; n], vec![0.0; n]];
    let mut explained = [0.0, 0.0];
    for (axis, out) in axes.iter_mut().enumerate() {
        if axis < n && values[axis] > 1e-12 * positive.max(f64::MIN_POSITIVE) {
            let root = values[axis].sqrt();
            let mut column: Vec<f64> = (0..n).map(|i| vectors[i][axis]).collect();
            let pivot = column
                .iter()
                .enumerate()
                .fold(0, |best, (i, v)| if v.abs() > column[best].abs() + 1e-12 { i } else { best });
            if column[pivot] < 0.0 {
                column.iter_mut().for_each(|v| *v = -*v);
            }
            *out = column.iter().map(|v| v * root).collect();
            explained[axis] = values[axis] / positive;
        }
    }
    Embedding { points: (0..n).map(|i| (axes[0][i], axes[1][i])).collect(), explained }
}

/// Eigenvalues (largest first) and eigenvectors (as columns: `vectors[row][k]`) of a symmetric matrix by cyclic
/// Jacobi rotations. For the small n x n matrices here (n = sources) this is exact to rounding and deterministic.
pub(super) fn symmetric_eigen(matrix: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = matrix.len();
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    let scale: f64 = a.iter().flatten().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|i| ((i + 1)..n).map(move |j| (i, j))).map(|(i, j)| a[i][j] * a[i][j]).sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
                let (before, from_q) = a.split_at_mut(q);
                for (pk, qk) in before[p].iter_mut().zip(from_q[0].iter_mut()) {
                    let (x, y) = (*pk, *qk);
                    *pk = c * x - s * y;
                    *qk = s * x + c * y;
                }
                for row in v.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[i][i]).collect();
    let vectors = (0..n).map(|r| order.iter().map(|&k| v[r][k]).collect()).collect();
    (values, vectors)
}
