//! A codebook: everything needed to turn a feature vector into a cluster id later, persisted as JSON.
//!
//! Consumes: a fit sample of one facet's columns and [`CodebookSettings`]. Produces: a [`Codebook`] (the scaler,
//! the optional PCA basis, the centroids in the scaled space and in the input's space, k, seed, inertia,
//! iterations, simgap version) and assigns any rows with it. [`fit_pair`] is the per-pair protocol of arXiv
//! 2605.07847: L2-normalise, PCA to 90% of the variance, K = 500, 500 iterations, 5 restarts, fitted on one human
//! and one simulator source together.

use std::path::Path;
use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::kmeans::{KMeans, KMeansError, KMeansParams};
use super::scaling::{Normalisation, Scaler};

/// Precision of the k-means arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    #[default]
    F64,
}

/// How to fit one codebook.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookSettings {
    pub kmeans: KMeansParams,
    pub normalisation: Normalisation,
    /// Keep the principal components explaining this share of the variance (None: no PCA).
    pub pca_variance: Option<f64>,
    pub precision: Precision,
}

/// The per-pair protocol of arXiv 2605.07847, in one place: K, iterations, restarts and the PCA's share of variance.
pub const PER_PAIR_K: usize = 500;
pub const PER_PAIR_MAX_ITER: usize = 500;
pub const PER_PAIR_RESTARTS: usize = 5;
pub const PER_PAIR_PCA_VARIANCE: f64 = 0.9;

impl CodebookSettings {
    /// The per-pair protocol of arXiv 2605.07847.
    pub fn per_pair_protocol(seed: u64) -> Self {
        Self {
            kmeans: KMeansParams::new(PER_PAIR_K).restarts(PER_PAIR_RESTARTS).max_iter(PER_PAIR_MAX_ITER).seed(seed),
            normalisation: Normalisation::L2,
            pca_variance: Some(PER_PAIR_PCA_VARIANCE),
            precision: Precision::F64,
        }
    }
}

/// A fitted codebook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codebook {
    pub facet: String,
    /// The feature columns used, in order.
    pub columns: Vec<String>,
    /// Columns of the facet left out because the fit sample had no value in them.
    pub dropped_columns: Vec<String>,
    pub scaler: Scaler,
    pub k: usize,
    pub seed: u64,
    pub restarts: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub precision: Precision,
    /// Rows the codebook was fitted on.
    pub fit_rows: usize,
    /// Sum of squared distances of the fit rows to their centroids, in the scaled space.
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub seconds: f64,
    /// Centroids in the scaled (and projected) space, where rows are assigned.
    pub centroids: Vec<Vec<f64>>,
    /// The same centroids in the input's feature space (projected onto the kept components when PCA is on).
    pub centroids_input_space: Vec<Vec<f64>>,
    pub simgap_version: String,
}

fn rows(matrix: &Array2<f64>) -> Vec<Vec<f64>> {
    matrix.axis_iter(Axis(0)).map(|r| r.to_vec()).collect()
}

impl Codebook {
    /// Fits a codebook on `sample` (rows x columns, NaN = missing).
    pub fn fit(
        facet: &str,
        columns: Vec<String>,
        dropped_columns: Vec<String>,
        sample: ArrayView2<f64>,
        settings: &CodebookSettings,
    ) -> Result<Self, KMeansError> {
        let started = Instant::now();
        let scaler = Scaler::fit(sample, settings.normalisation, settings.pca_variance);
        let scaled = scaler.transform(sample);
        let (centroids, model) = match settings.precision {
            Precision::F64 => {
                let model = settings.kmeans.fit_array(scaled.view())?;
                (model.centroids.clone(), (model.inertia, model.iterations, model.converged))
            }
            Precision::F32 => {
                let model = settings.kmeans.fit_array(scaled.mapv(|v| v as f32).view())?;
                (model.centroids.mapv(f64::from), (model.inertia, model.iterations, model.converged))
            }
        };
        Ok(Codebook {
            facet: facet.to_owned(),
            columns,
            dropped_columns,
            k: settings.kmeans.k,
            seed: settings.kmeans.seed,
            restarts: settings.kmeans.restarts,
            max_iter: settings.kmeans.max_iter,
            tol: settings.kmeans.tol,
            precision: settings.precision,
            fit_rows: sample.nrows(),
            inertia: model.0,
            iterations: model.1,
            converged: model.2,
            seconds: started.elapsed().as_secs_f64(),
            centroids_input_space: rows(&scaler.inverse(centroids.view())),
            centroids: rows(&centroids),
            scaler,
            simgap_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    fn centroid_matrix(&self) -> Array2<f64> {
        let d = self.centroids.first().map_or(0, Vec::len);
        Array2::from_shape_fn((self.centroids.len(), d), |(i, j)| self.centroids[i][j])
    }

    /// The cluster of each row (rows x `columns`, NaN = missing), and their inertia in the scaled space.
    pub fn assign(&self, rows: ArrayView2<f64>) -> Result<(Vec<u32>, f64), KMeansError> {
        let scaled = self.scaler.transform(rows);
        match self.precision {
            Precision::F64 => KMeans::from_centroids(self.centroid_matrix()).assign(scaled.view()),
            Precision::F32 => KMeans::from_centroids(self.centroid_matrix().mapv(|v| v as f32))
                .assign(scaled.mapv(|v| v as f32).view()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a codebook serialises")
    }

    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let codebook: Codebook =
            serde_json::from_str(&text).map_err(|e| format!("{}: not a simgap codebook: {e}", path.display()))?;
        codebook.check().map_err(|e| format!("{}: not a usable codebook: {e}", path.display()))?;
        Ok(codebook)
    }

    /// Every shape and value rule that assigning rows relies on: k centroids of one width, the scaler's vectors as
    /// long as the columns (the PCA components too, and as many as the centroids' width), finite numbers.
    pub fn check(&self) -> Result<(), String> {
        let width = self.columns.len();
        let s = &self.scaler;
        if self.k == 0 || self.centroids.len() != self.k {
            return Err(format!("k = {} but {} centroids", self.k, self.centroids.len()));
        }
        if s.fill.len() != width {
            return Err(format!("{width} columns but {} fill values", s.fill.len()));
        }
        if s.normalisation == Normalisation::Standardize && (s.means.len() != width || s.scales.len() != width) {
            return Err(format!("{width} columns but {} means and {} scales", s.means.len(), s.scales.len()));
        }
        let projected = if s.pca_components.is_empty() {
            width
        } else {
            if s.pca_mean.len() != width || s.pca_components.iter().any(|c| c.len() != width) {
                return Err(format!("PCA components or mean not {width} wide"));
            }
            s.pca_components.len()
        };
        if let Some(c) = self.centroids.iter().position(|c| c.len() != projected) {
            return Err(format!("centroid {c} has {} values, not {projected}", self.centroids[c].len()));
        }
        if self.centroids_input_space.len() != self.k || self.centroids_input_space.iter().any(|c| c.len() != width) {
            return Err(format!("centroids_input_space is not {} rows of {width}", self.k));
        }
        let numbers = self.centroids.iter().chain(&self.centroids_input_space).chain(&s.pca_components).flatten();
        let vectors = [&s.fill, &s.means, &s.scales, &s.pca_mean];
        if numbers.chain(vectors.into_iter().flatten()).any(|v| !v.is_finite()) || s.scales.contains(&0.0) {
            return Err("a value is not a finite number (or a scale is 0)".into());
        }
        Ok(())
    }
}

/// The per-pair protocol: one codebook on a human and a simulator sample together; returns it with the labels of
/// each side. K is capped at the rows available (the paper's 500 needs at least 500 conversations), with a warning
/// in the log; the divergence row's `k` says which K was used.
pub fn fit_pair<'a>(
    facet: &str,
    columns: Vec<String>,
    human: ArrayView2<'a, f64>,
    simulator: ArrayView2<'a, f64>,
    seed: u64,
) -> Result<(Codebook, Vec<u32>, Vec<u32>), KMeansError> {
    let mut settings = CodebookSettings::per_pair_protocol(seed);
    let both = concatenate(Axis(0), &[human, simulator])
        .map_err(|_| KMeansError::DimensionMismatch { expected: human.ncols(), got: simulator.ncols() })?;
    if both.nrows() < settings.kmeans.k {
        tracing::warn!(
            facet,
            rows = both.nrows(),
            "per-pair codebook: K = {} capped at the {} rows of the pair",
            settings.kmeans.k,
            both.nrows()
        );
        settings.kmeans.k = both.nrows();
    }
    let codebook = Codebook::fit(facet, columns, Vec::new(), both.view(), &settings)?;
    let (human_labels, _) = codebook.assign(human)?;
    let (simulator_labels, _) = codebook.assign(simulator)?;
    Ok((codebook, human_labels, simulator_labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n: usize, offset: f64) -> Array2<f64> {
        Array2::from_shape_fn((n, 3), |(i, j)| {
            offset + ((i * 31 + j * 17) % 11) as f64 * 0.01 + if i % 2 == 0 { 0.0 } else { 1.0 }
        })
    }

    #[test]
    fn round_trips_through_json_and_assigns_the_same() {
        let sample = blobs(60, 0.0);
        let settings = CodebookSettings {
            kmeans: KMeansParams::new(2).seed(3),
            normalisation: Normalisation::Standardize,
            pca_variance: None,
            precision: Precision::F64,
        };
        let codebook =
            Codebook::fit("usi", vec!["a".into(), "b".into(), "c".into()], vec![], sample.view(), &settings).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usi.json");
        std::fs::write(&path, codebook.to_json()).unwrap();
        let back = Codebook::read(&path).unwrap();
        assert_eq!(back, codebook);
        // Every float reads back to its bits (serde_json's `float_roundtrip`): without it, about one 17-digit
        // number in a few hundred came back an ulp off, and a reloaded codebook could assign a tied row elsewhere.
        let mut state = 7u64;
        let floats: Vec<f64> = (0..20_000)
            .map(|_| {
                state = crate::hashing::mix64(state);
                f64::from_bits(state >> 2) * 1e-300 + (state % 1000) as f64 / 7.0
            })
            .collect();
        let text = serde_json::to_string(&floats).unwrap();
        let read: Vec<f64> = serde_json::from_str(&text).unwrap();
        assert!(floats.iter().zip(&read).all(|(a, b)| a.to_bits() == b.to_bits()));
        // A codebook whose shapes disagree is refused when read, not a panic when used (ragged centroids made
        // assign index out of bounds).
        for broken in [
            Codebook { centroids: vec![vec![0.0; 3], vec![0.0; 2]], ..codebook.clone() },
            Codebook { k: 3, ..codebook.clone() },
            Codebook { columns: vec!["a".into()], ..codebook.clone() },
            Codebook { centroids: vec![vec![f64::NAN; 3], vec![0.0; 3]], ..codebook.clone() },
        ] {
            assert!(broken.check().is_err(), "{broken:?}");
        }
        let ragged = Codebook { centroids: vec![vec![0.0; 3], vec![0.0; 2]], ..codebook.clone() };
        std::fs::write(&path, ragged.to_json()).unwrap();
        let error = Codebook::read(&path).unwrap_err();
        assert!(error.contains("not a usable codebook") && error.contains("centroid 1"), "{error}");
        assert_eq!(back.assign(sample.view()).unwrap().0, codebook.assign(sample.view()).unwrap().0);
        assert_eq!(codebook.centroids_input_space.len(), 2);
    }

    #[test]
    fn per_pair_protocol_caps_k_and_labels_both_sides() {
        let human = blobs(40, 0.0);
        let simulator = blobs(30, 5.0);
        let (codebook, h, s) =
            fit_pair("embedding", vec!["x".into(), "y".into(), "z".into()], human.view(), simulator.view(), 1).unwrap();
        assert_eq!(codebook.k, 70);
        assert_eq!(codebook.scaler.normalisation, Normalisation::L2);
        assert!(!codebook.scaler.pca_components.is_empty());
        assert_eq!((h.len(), s.len()), (40, 30));
        assert_eq!((codebook.max_iter, codebook.restarts), (500, 5));
    }
}
