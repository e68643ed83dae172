//! What happens to feature vectors before k-means: missing values filled, features standardised (or vectors
//! L2-normalised), and optionally projected onto the principal components that keep a share of the variance.
//!
//! Consumes: a fit sample (rows x features, NaN for missing). Produces: a [`Scaler`], stored in the codebook, that
//! applies the same transform to any later row. Constant features get a scale of 1 (they become 0, never a division
//! by zero); a missing value becomes the feature's mean on the fit sample (0 after standardising). PCA: the
//! covariance matrix's eigenvectors by cyclic Jacobi rotations (d x d, d up to a few hundred), components sorted by
//! variance, as many kept as reach the requested share.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// How rows are normalised before (optional) PCA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalisation {
    /// z-scores per feature.
    Standardize,
    /// Each row divided by its Euclidean length (embeddings).
    L2,
    /// Values as they are.
    None,
}

/// The fitted transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub normalisation: Normalisation,
    /// Fill value per feature for missing values (the fit sample's mean).
    pub fill: Vec<f64>,
    /// Standardisation: subtract `means`, divide by `scales` (1 for constant features). Empty otherwise.
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    /// PCA: the mean removed before projecting, and one row per kept component.
    pub pca_mean: Vec<f64>,
    pub pca_components: Vec<Vec<f64>>,
    /// Share of the variance the kept components explain (1 without PCA).
    pub explained_variance: f64,
}

impl Scaler {
    /// Fits on `sample` (rows x features; NaN = missing). `pca_variance` in (0, 1] keeps that share of variance.
    pub fn fit(sample: ArrayView2<f64>, normalisation: Normalisation, pca_variance: Option<f64>) -> Self {
        let d = sample.ncols();
        let fill: Vec<f64> = (0..d)
            .map(|j| {
                let (sum, count) =
                    sample.column(j).iter().filter(|v| !v.is_nan()).fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                if count == 0 { 0.0 } else { sum / count as f64 }
            })
            .collect();
        let mut scaler = Scaler {
            normalisation,
            fill,
            means: Vec::new(),
            scales: Vec::new(),
            pca_mean: Vec::new(),
            pca_components: Vec::new(),
            explained_variance: 1.0,
        };
        let filled = scaler.fill_missing(sample);
        if normalisation == Normalisation::Standardize {
            let n = filled.nrows().max(1) as f64;
            scaler.means = filled.mean_axis(Axis(0)).map(|m| m.to_vec()).unwrap_or_else(|| vec![0.0; d]);
            scaler.scales = (0..d)
                .map(|j| {
                    let m = scaler.means[j];
                    let variance = filled.column(j).iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
                    if variance > 1e-24 { variance.sqrt() } else { 1.0 }
                })
                .collect();
        }
        if let Some(share) = pca_variance {
            let normalised = scaler.normalise(filled);
            scaler.fit_pca(&normalised, share);
        }
        scaler
    }

    fn fill_missing(&self, rows: ArrayView2<f64>) -> Array2<f64> {
        let mut filled = rows.to_owned();
        for mut row in filled.axis_iter_mut(Axis(0)) {
            for (value, fill) in row.iter_mut().zip(&self.fill) {
                if value.is_nan() {
                    *value = *fill;
                }
            }
        }
        filled
    }

    fn normalise(&self, mut rows: Array2<f64>) -> Array2<f64> {
        match self.normalisation {
            Normalisation::Standardize => {
                for mut row in rows.axis_iter_mut(Axis(0)) {
                    for ((value, mean), scale) in row.iter_mut().zip(&self.means).zip(&self.scales) {
                        *value = (*value - mean) / scale;
                    }
                }
            }
            Normalisation::L2 => {
                for mut row in rows.axis_iter_mut(Axis(0)) {
                    let length = row.dot(&row).sqrt();
                    if length > 0.0 {
                        row /= length;
                    }
                }
            }
            Normalisation::None => {}
        }
        rows
    }

    fn fit_pca(&mut self, rows: &Array2<f64>, share: f64) {
        let n = rows.nrows().max(2) as f64;
        let mean = rows.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(rows.ncols()));
        let centred = rows - &mean;
        let covariance = centred.t().dot(&centred) / (n - 1.0);
        let (values, vectors) = symmetric_eigen(covariance);
        let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let mut kept = 0.0;
        for &i in &order {
            if total <= 0.0 || (kept / total >= share && !self.pca_components.is_empty()) {
                break;
            }
            kept += values[i].max(0.0);
            let mut component: Vec<f64> = vectors.column(i).to_vec();
            // A deterministic sign: the largest entry positive.
            let largest = component.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            if largest < 0.0 {
                component.iter_mut().for_each(|v| *v = -*v);
            }
            self.pca_components.push(component);
        }
        if self.pca_components.is_empty() {
            self.pca_components.push(vectors.column(order[0]).to_vec());
        }
        self.explained_variance = if total > 0.0 { kept / total } else { 1.0 };
        self.pca_mean = mean.to_vec();
    }

    /// Dimensions after the transform.
    pub fn output_dimensions(&self) -> usize {
        if self.pca_components.is_empty() { self.fill.len() } else { self.pca_components.len() }
    }

    /// Applies the transform to rows (NaN = missing).
    pub fn transform(&self, rows: ArrayView2<f64>) -> Array2<f64> {
        let normalised = self.normalise(self.fill_missing(rows));
        if self.pca_components.is_empty() {
            return normalised;
        }
        let mean = Array1::from(self.pca_mean.clone());
        let components =
            Array2::from_shape_fn((self.pca_components.len(), self.fill.len()), |(i, j)| self.pca_components[i][j]);
        (normalised - &mean).dot(&components.t())
    }

    /// Maps points of the transformed space back to the input's (centroids, for people and plots). Exact without
    /// PCA; with PCA, the projection onto the kept components, then un-normalised.
    pub fn inverse(&self, points: ArrayView2<f64>) -> Array2<f64> {
        let mut rows = if self.pca_components.is_empty() {
            points.to_owned()
        } else {
            let components =
                Array2::from_shape_fn((self.pca_components.len(), self.fill.len()), |(i, j)| self.pca_components[i][j]);
            points.dot(&components) + &Array1::from(self.pca_mean.clone())
        };
        if self.normalisation == Normalisation::Standardize {
            for mut row in rows.axis_iter_mut(Axis(0)) {
                for ((value, mean), scale) in row.iter_mut().zip(&self.means).zip(&self.scales) {
                    *value = *value * scale + mean;
                }
            }
        }
        rows
    }
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic Jacobi rotations.
pub fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(1e-300);
        if off <= 1e-22 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum().max(0.0).mul_add(2.0, -1.0) / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[[i, i]]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn standardises_fills_and_keeps_constants() {
        let sample = array![[1.0, 5.0, f64::NAN], [3.0, 5.0, 2.0], [f64::NAN, 5.0, 4.0]];
        let scaler = Scaler::fit(sample.view(), Normalisation::Standardize, None);
        assert_eq!(scaler.fill, [2.0, 5.0, 3.0]);
        assert_eq!(scaler.scales[1], 1.0, "a constant feature is not divided by zero");
        let out = scaler.transform(sample.view());
        assert!(out.iter().all(|v| v.is_finite()));
        assert_eq!(out.column(1).to_vec(), [0.0, 0.0, 0.0]);
        let means = out.mean_axis(Axis(0)).unwrap();
        assert!(means.iter().all(|m| m.abs() < 1e-12));
        let back = scaler.inverse(out.view());
        assert!((back[[0, 0]] - 1.0).abs() < 1e-12 && (back[[1, 2]] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn l2_rows_have_unit_length() {
        let sample = array![[3.0, 4.0], [0.0, 0.0]];
        let out = Scaler::fit(sample.view(), Normalisation::L2, None).transform(sample.view());
        assert_eq!(out, array![[0.6, 0.8], [0.0, 0.0]]);
    }

    #[test]
    fn eigen_of_a_known_matrix() {
        let (values, vectors) = symmetric_eigen(array![[2.0, 1.0], [1.0, 2.0]]);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        assert!((sorted[0] - 1.0).abs() < 1e-10 && (sorted[1] - 3.0).abs() < 1e-10, "{values:?}");
        let top = if values[0] > values[1] { 0 } else { 1 };
        assert!((vectors[[0, top]].abs() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-10);
    }

    #[test]
    fn pca_keeps_the_share_of_variance() {
        // Points on a line in 3-D plus a little noise on one axis: one component explains almost everything.
        let sample = Array2::from_shape_fn((200, 3), |(i, j)| {
            let t = i as f64 / 10.0;
            match j {
                0 => t,
                1 => 2.0 * t,
                _ => ((i * 7919) % 13) as f64 * 1e-3,
            }
        });
        let scaler = Scaler::fit(sample.view(), Normalisation::None, Some(0.9));
        assert_eq!(scaler.output_dimensions(), 1);
        assert!(scaler.explained_variance > 0.99);
        let projected = scaler.transform(sample.view());
        assert_eq!(projected.ncols(), 1);
        let back = scaler.inverse(projected.view());
        assert!((back[[100, 1]] - 20.0).abs() < 1e-2);
    }
}
