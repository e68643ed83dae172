//! Cluster histograms: per-source counts over one codebook's K clusters, mergeable, and the smoothing that turns
//! counts into the distributions KL is computed on.
//!
//! Consumes: cluster ids (one per conversation; none where the conversation has no value in the facet). Produces:
//! [`Histogram`] counts (merge = add, so a sequential pass, rayon workers and shards of a distributed run share one
//! code path) and probability vectors, raw or smoothed by a [`Smoothing`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Conversations per cluster of one source on one codebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn zeros(k: usize) -> Self {
        Self { counts: vec![0; k] }
    }

    pub fn from_counts(counts: Vec<u64>) -> Self {
        Self { counts }
    }

    pub fn k(&self) -> usize {
        self.counts.len()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn add(&mut self, cluster: usize) {
        self.counts[cluster] += 1;
    }

    /// Adds another histogram's counts (same K).
    pub fn merge(&mut self, other: &Histogram) {
        debug_assert_eq!(self.k(), other.k());
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// c_i / n (all zeros for an empty histogram).
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.total();
        if n == 0 {
            return vec![0.0; self.k()];
        }
        self.counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    /// The distribution KL is computed on under `smoothing`.
    pub fn smoothed(&self, smoothing: Smoothing) -> Vec<f64> {
        let k = self.k() as f64;
        match smoothing {
            Smoothing::None => self.probabilities(),
            Smoothing::Prob => {
                let a = 1.0 / k;
                self.probabilities().into_iter().map(|p| (p + a) / (1.0 + k * a)).collect()
            }
            Smoothing::Counts(alpha) => {
                let n = self.total() as f64;
                self.counts.iter().map(|&c| (c as f64 + alpha) / (n + k * alpha)).collect()
            }
        }
    }
}

/// One cell of [`Histogram::smoothed`]: the probability of a cluster with `count` of `n` conversations over `k`
/// clusters (what the jackknife needs after deleting a conversation, without rebuilding the histogram).
pub fn smoothed_cell(smoothing: Smoothing, count: u64, n: u64, k: usize) -> f64 {
    let (count, n, k) = (count as f64, n as f64, k as f64);
    let raw = if n == 0.0 { 0.0 } else { count / n };
    match smoothing {
        Smoothing::None => raw,
        Smoothing::Prob => (raw + 1.0 / k) / 2.0,
        Smoothing::Counts(alpha) => (count + alpha) / (n + k * alpha),
    }
}

/// How KL handles empty cells (shared/specs/metrics.md). JS, TV and MAUVE are always computed unsmoothed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// p' = (p + 1/K) / 2: the arXiv 2605.07847 protocol.
    Prob,
    /// p' = (c + alpha) / (n + K alpha); alpha = 0.5 is the Krichevsky-Trofimov estimator.
    Counts(f64),
    /// No smoothing: KL is +inf where the second histogram misses a cell the first has.
    None,
}

impl fmt::Display for Smoothing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Smoothing::Prob => write!(f, "prob"),
            Smoothing::Counts(alpha) => write!(f, "counts:{alpha}"),
            Smoothing::None => write!(f, "none"),
        }
    }
}

impl FromStr for Smoothing {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "prob" => Ok(Smoothing::Prob),
            "none" => Ok(Smoothing::None),
            _ => {
                let alpha = text.strip_prefix("counts:").ok_or_else(|| {
                    format!("smoothing {text:?}: expected \"prob\", \"counts:ALPHA\" (e.g. counts:0.5) or \"none\"")
                })?;
                match alpha.parse::<f64>() {
                    Ok(alpha) if alpha.is_finite() && alpha > 0.0 => Ok(Smoothing::Counts(alpha)),
                    _ => Err(format!("smoothing {text:?}: ALPHA must be a positive number")),
                }
            }
        }
    }
}

impl Serialize for Smoothing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Smoothing {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_follows_the_spec_formulas() {
        let h = Histogram::from_counts(vec![3, 1, 0, 0]);
        let prob = h.smoothed(Smoothing::Prob);
        // (p + 1/K) / 2 with K = 4.
        assert_eq!(prob, vec![(0.75 + 0.25) / 2.0, (0.25 + 0.25) / 2.0, 0.125, 0.125]);
        let kt = h.smoothed(Smoothing::Counts(0.5));
        assert_eq!(kt, vec![3.5 / 6.0, 1.5 / 6.0, 0.5 / 6.0, 0.5 / 6.0]);
        assert_eq!(h.smoothed(Smoothing::None), vec![0.75, 0.25, 0.0, 0.0]);
        for p in [prob, kt] {
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn smoothing_parses_and_prints_the_pipeline_spelling() {
        for text in ["prob", "none", "counts:0.5", "counts:1"] {
            assert_eq!(text.parse::<Smoothing>().unwrap().to_string(), text);
        }
        for bad in ["counts", "counts:-1", "counts:x", "laplace", "counts:inf"] {
            assert!(bad.parse::<Smoothing>().is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Histogram::from_counts(vec![1, 2, 3]);
        a.merge(&Histogram::from_counts(vec![4, 0, 1]));
        assert_eq!(a.counts, vec![5, 2, 4]);
        assert_eq!(a.total(), 11);
    }
}
