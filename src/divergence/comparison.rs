//! One comparison of a source's histogram (Q) with the reference's (P) on one codebook: the plug-in divergences,
//! their bootstrap spread, the bias-corrected estimates with their calibrated intervals, the human split-half
//! ceiling and the permutation p-value.
//!
//! Consumes: two [`Histogram`]s, the reference's bootstrap replicates and the [`Resampling`] settings. Produces an
//! [`Estimate`]. Every random draw comes from a stream keyed by (facet, reference, source, replicate), so the result
//! does not depend on the thread count or on which other comparisons run.

use rayon::prelude::*;

use super::calibration::calibrate;
use super::cell_sums::CellTerms;
use super::histogram::{Histogram, Smoothing};
use super::jackknife::{Corrected, jackknife_all};
use super::measures::{self, Divergences};
use super::resample::{bootstrap, quantile, stream, subsample};
use super::sample_size::sample_size_warning;

/// Point estimate, bootstrap bounds, bias-corrected estimates, ceiling and p-value of one (facet, source)
/// comparison, in nats.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// The plug-in values (the published protocol's numbers).
    pub point: Divergences,
    /// The bootstrap percentile bounds of the plug-in: its spread, not an interval for the divergence.
    pub lo: Divergences,
    pub hi: Divergences,
    /// Per measure ([`Divergences::NAMES`] order): the jackknife bias-corrected estimate and its 95% interval.
    pub corrected: [Corrected; 7],
    /// The plug-in JS between two random parts of the reference: mean, 2.5 and 97.5 percentiles over the splits.
    pub ceiling_js: [f64; 3],
    /// The same for the bias-corrected JS between the parts, unclipped (about 0 where the correction removes the
    /// noise, so a part can fall below 0).
    pub ceiling_js_corrected: [f64; 3],
    pub p_value: Option<f64>,
    pub n_reference: u64,
    pub n_source: u64,
    pub k: usize,
    pub warning: Option<String>,
}

/// The settings the statistics of one comparison use.
#[derive(Debug, Clone, Copy)]
pub struct Resampling {
    pub smoothing: Smoothing,
    pub bootstrap: usize,
    pub permutations: usize,
    pub calibration_draws: usize,
    pub ceiling_splits: usize,
    pub seed: u64,
}

/// A percentile interval (2.5 / 97.5) of replicates, extended to the estimate when every replicate falls on one
/// side of it (plug-in divergences are biased upward, so at small n the replicates can all exceed the estimate).
pub fn interval(replicates: &mut [f64], estimate: f64) -> (f64, f64) {
    if replicates.is_empty() || estimate.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    let lo = quantile(replicates, 0.025);
    let hi = quantile(replicates, 0.975);
    (lo.min(estimate), hi.max(estimate))
}

/// The reference's bootstrap replicates, shared by every comparison on the same codebook.
pub fn reference_replicates(reference: &Histogram, settings: &Resampling, labels: [&str; 2]) -> Vec<Histogram> {
    let [facet, reference_name] = labels;
    (0..settings.bootstrap)
        .into_par_iter()
        .map(|b| {
            let label = b.to_string();
            bootstrap(reference, &mut stream(settings.seed, &["bootstrap", facet, reference_name, &label]))
        })
        .collect()
}

/// Every statistic of one comparison of `source` (Q) with `reference` (P); `labels` key its random streams.
/// `replicates` are the reference's bootstrap histograms ([`reference_replicates`]).
pub fn estimate(
    reference: &Histogram,
    source: &Histogram,
    replicates: &[Histogram],
    settings: &Resampling,
    labels: [&str; 3],
) -> Estimate {
    let [_, reference_name, source_name] = labels;
    let (n_reference, n_source) = (reference.total(), source.total());
    let k = reference.k();
    // A side without conversations in the facet (timing without timestamps) has no distribution: no value.
    let empty = n_reference == 0 || n_source == 0;
    let point =
        if empty { Divergences::missing() } else { Divergences::between(reference, source, settings.smoothing) };
    let corrected = if empty {
        [Corrected::MISSING; 7]
    } else {
        let terms = CellTerms { k, smoothing: settings.smoothing, with_mauve: true };
        let jack = jackknife_all(reference, source, &terms);
        let key = (settings.seed, &labels[..]);
        calibrate((reference, source), &terms, jack, settings.calibration_draws, key)
    };
    let (lo, hi) = if empty {
        ([f64::NAN; 7], [f64::NAN; 7])
    } else {
        bootstrap_spread(source, replicates, &point, settings, labels)
    };
    let (ceiling_js, ceiling_js_corrected) =
        if empty { ([f64::NAN; 3], [f64::NAN; 3]) } else { human_ceiling(reference, n_source, settings, labels) };
    let p_value = (!empty && settings.permutations > 0)
        .then(|| permutation_p_value(reference, source, point.js, settings, labels));
    let warning = [sample_size_warning(reference_name, n_reference, k), sample_size_warning(source_name, n_source, k)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    Estimate {
        point,
        lo: Divergences::from_values(lo),
        hi: Divergences::from_values(hi),
        corrected,
        ceiling_js,
        ceiling_js_corrected,
        p_value,
        n_reference,
        n_source,
        k,
        warning: (!warning.is_empty()).then(|| warning.join("; ")),
    }
}

/// Each measure's bootstrap percentile interval: the reference's replicates against the source resampled.
fn bootstrap_spread(
    source: &Histogram,
    reference_replicates: &[Histogram],
    point: &Divergences,
    settings: &Resampling,
    [facet, reference_name, source_name]: [&str; 3],
) -> ([f64; 7], [f64; 7]) {
    let replicates: Vec<Divergences> = reference_replicates
        .par_iter()
        .enumerate()
        .map(|(b, p)| {
            let label = b.to_string();
            let mut rng = stream(settings.seed, &["bootstrap", facet, reference_name, source_name, &label]);
            let q = bootstrap(source, &mut rng);
            Divergences::between(p, &q, settings.smoothing)
        })
        .collect();
    let (mut lo, mut hi) = ([f64::NAN; 7], [f64::NAN; 7]);
    for (m, estimate) in point.values().into_iter().enumerate() {
        let mut values: Vec<f64> = replicates.iter().map(|d| d.values()[m]).collect();
        (lo[m], hi[m]) = interval(&mut values, estimate);
    }
    (lo, hi)
}

/// The human ceiling: the reference split in two, the smaller part the source's size (at most half); the JS between
/// the parts, plug-in and corrected, each as [mean, 2.5%, 97.5%] over the splits.
fn human_ceiling(
    reference: &Histogram,
    n_source: u64,
    settings: &Resampling,
    [facet, reference_name, source_name]: [&str; 3],
) -> ([f64; 3], [f64; 3]) {
    let half = n_source.min(reference.total() / 2);
    let splits: Vec<(f64, f64)> = if half == 0 {
        Vec::new()
    } else {
        (0..settings.ceiling_splits)
            .into_par_iter()
            .map(|i| {
                let label = i.to_string();
                let mut rng = stream(settings.seed, &["ceiling", facet, reference_name, source_name, &label]);
                let (part, rest) = subsample(reference, half, &mut rng);
                let terms = CellTerms { k: reference.k(), smoothing: Smoothing::None, with_mauve: false };
                let (plug_in, corrected) = jackknife_all(&rest, &part, &terms);
                (plug_in[2], corrected[2].unclipped)
            })
            .collect()
    };
    let summary = |mut values: Vec<f64>| -> [f64; 3] {
        values.retain(|v| !v.is_nan());
        if values.is_empty() {
            return [f64::NAN; 3];
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        [mean, quantile(&mut values, 0.025), quantile(&mut values, 0.975)]
    };
    (summary(splits.iter().map(|s| s.0).collect()), summary(splits.iter().map(|s| s.1).collect()))
}

/// Permutation test: pool both, relabel at random, recompute JS; the share at least as large as `js`.
fn permutation_p_value(
    reference: &Histogram,
    source: &Histogram,
    js: f64,
    settings: &Resampling,
    [facet, reference_name, source_name]: [&str; 3],
) -> f64 {
    let mut pooled = reference.clone();
    pooled.merge(source);
    let at_least: usize = (0..settings.permutations)
        .into_par_iter()
        .filter(|i| {
            let label = i.to_string();
            let mut rng = stream(settings.seed, &["permutation", facet, reference_name, source_name, &label]);
            let (a, b) = subsample(&pooled, reference.total(), &mut rng);
            measures::js(&a.probabilities(), &b.probabilities()) >= js - 1e-12
        })
        .count();
    (1 + at_least) as f64 / (1 + settings.permutations) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn estimate_alone(p: &Histogram, q: &Histogram, settings: &Resampling) -> Estimate {
        let replicates = reference_replicates(p, settings, ["f", "h"]);
        estimate(p, q, &replicates, settings, ["f", "h", "s"])
    }

    fn settings(bootstrap: usize) -> Resampling {
        Resampling {
            smoothing: Smoothing::Counts(0.5),
            bootstrap,
            permutations: 200,
            calibration_draws: 50,
            ceiling_splits: 20,
            seed: 3,
        }
    }

    #[test]
    fn different_sources_get_a_small_p_value_and_exceed_the_ceiling() {
        let p = Histogram::from_counts(vec![400, 300, 200, 100]);
        let q = Histogram::from_counts(vec![100, 200, 300, 400]);
        let e = estimate_alone(&p, &q, &settings(200));
        assert!(e.p_value.unwrap() <= 1.0 / 201.0 + 1e-12);
        assert!(e.point.js > e.ceiling_js[2], "{e:?}");
        assert!(e.lo.js <= e.point.js && e.point.js <= e.hi.js);
        assert!(e.warning.is_none());
    }

    #[test]
    fn same_distribution_is_not_significant_and_warns_on_small_samples() {
        let p = Histogram::from_counts(vec![30, 30, 30, 30]);
        let q = Histogram::from_counts(vec![8, 7, 8, 7]);
        let e = estimate_alone(&p, &q, &settings(100));
        assert!(e.p_value.unwrap() > 0.5, "{e:?}");
        assert!(e.warning.as_deref().unwrap().contains("fewer than 10 per cluster"));
    }

    #[test]
    fn estimates_are_reproducible_whatever_the_threads() {
        let p = Histogram::from_counts(vec![50, 20, 0, 5, 9]);
        let q = Histogram::from_counts(vec![10, 20, 30, 0, 1]);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let a = one.install(|| estimate_alone(&p, &q, &settings(300)));
        let b = three.install(|| estimate_alone(&p, &q, &settings(300)));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    fn histogram_pair() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
        (1usize..12).prop_flat_map(|k| (prop::collection::vec(0u64..60, k), prop::collection::vec(0u64..60, k)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn invariants((a, b) in histogram_pair(), smoothing in prop_oneof![
            Just(Smoothing::Prob), Just(Smoothing::Counts(0.5)), Just(Smoothing::None)]) {
            let (p, q) = (Histogram::from_counts(a), Histogram::from_counts(b));
            prop_assume!(p.total() > 0 && q.total() > 0);
            let forward = Divergences::between(&p, &q, smoothing);
            let backward = Divergences::between(&q, &p, smoothing);
            prop_assert!(forward.kl_forward >= 0.0 && forward.kl_backward >= 0.0);
            prop_assert_eq!(forward.kl_forward, backward.kl_backward);
            prop_assert!((forward.js - backward.js).abs() < 1e-15, "JS symmetric");
            prop_assert!(forward.js >= 0.0 && forward.js <= std::f64::consts::LN_2);
            prop_assert!((0.0..=1.0 + 1e-12).contains(&forward.mauve));
            let same = p.probabilities() == q.probabilities();
            if same {
                prop_assert_eq!(forward.js, 0.0);
            } else {
                prop_assert!(forward.js > 0.0, "JS is 0 only for equal histograms");
            }
            // KL is 0 exactly when the (smoothed) distributions are equal.
            let equal_smoothed = p.smoothed(smoothing) == q.smoothed(smoothing);
            prop_assert_eq!(forward.kl_forward == 0.0, equal_smoothed, "{:?}", forward);
            let settings = Resampling {
                bootstrap: 60, permutations: 20, calibration_draws: 20, ceiling_splits: 5, seed: 1, smoothing,
            };
            let e = estimate_alone(&p, &q, &settings);
            let (values, lo, hi) = (e.point.values(), e.lo.values(), e.hi.values());
            for m in 0..7 {
                let (name, value, lo, hi) = (Divergences::NAMES[m], values[m], lo[m], hi[m]);
                prop_assert!(lo <= value && value <= hi, "{} {} not in [{}, {}]", name, value, lo, hi);
            }
        }
    }
}
