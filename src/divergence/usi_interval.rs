//! A 95% interval for the true User-Sim Index, beside the published scorer's estimate and its bootstrap spread.
//!
//! Consumes: a comparison's point [`Score`] and its bootstrap replicates ([`super::usi::Comparison::replicate`]).
//! Produces: (lower, upper) on the 0-100 scale, or None where fewer than two replicates have a value.
//! Why: Dice has a kink where the two means agree, so the estimate sits below the truth there and a bootstrap
//! interval around it never reaches it (docs/method.md measured 0% coverage when the means are equal).

use super::calibration::Z_95;
use super::usi::{Score, feature_columns};

/// A 95% interval for the true USI from the point score and its bootstrap replicates: [USI - 1.96 sd,
/// USI + B + 1.96 sd], clipped to [0, 100], with sd the replicates' standard deviation and B the most that Dice's
/// kink can pull the estimate down. Dice(a, b) = 1 - ||a| - |b|| / (|a| + |b|), and E|x^| - |x| <= sd(x^) for an
/// unbiased x^ (triangle and Cauchy-Schwarz inequalities), so each feature's Dice is biased down by at most the
/// standard deviation of its normalised difference; B is that, averaged as the USI averages its terms (ECE and Eval
/// have kinks of their own that B leaves out). None where fewer than two replicates have a value.
pub fn interval_for_truth(point: &Score, replicates: &[Score]) -> Option<(f64, f64)> {
    let usable: Vec<&Score> = replicates.iter().filter(|r| r.usi.is_finite()).collect();
    if usable.len() < 2 || !point.usi.is_finite() {
        return None;
    }
    let standard_deviation = |values: &[f64]| -> f64 {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let spread = standard_deviation(&usable.iter().map(|r| r.usi).collect::<Vec<f64>>());
    let columns = feature_columns();
    let (mut bound_sums, mut bound_counts) = ([0.0; 4], [0usize; 4]);
    for (j, &(_, dimension)) in columns.iter().enumerate() {
        if point.features[j].dice.is_nan() {
            continue;
        }
        let differences: Vec<f64> = usable
            .iter()
            .map(|r| {
                let (a, b) = (r.features[j].reference_mean.abs(), r.features[j].source_mean.abs());
                if a + b == 0.0 { 0.0 } else { (a - b) / (a + b) }
            })
            .filter(|d| d.is_finite())
            .collect();
        if differences.len() >= 2 {
            bound_sums[dimension] += standard_deviation(&differences);
            bound_counts[dimension] += 1;
        }
    }
    let bound: f64 = (0..4)
        .filter(|&k| !point.d[k].is_nan() && bound_counts[k] > 0)
        .map(|k| 100.0 * bound_sums[k] / bound_counts[k] as f64)
        .sum::<f64>()
        / point.terms.max(1) as f64;
    let z = Z_95;
    Some(((point.usi - z * spread).clamp(0.0, 100.0), (point.usi + bound + z * spread).clamp(0.0, 100.0)))
}
