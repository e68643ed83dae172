//! Bias-corrected divergences with intervals: the two-sample delete-one jackknife, computed on cluster counts.
//!
//! Consumes: the two histograms of a comparison and the [`CellTerms`] that say which measures and which smoothing.
//! Produces: the plug-in values and, per measure, a [`Corrected`]: the jackknife bias-corrected estimate, its
//! jackknife standard error and the uncalibrated interval estimate +- [`INTERVAL_MULTIPLIER`] SE, clipped to the
//! measure's range ([`super::calibration`] replaces that interval with the one simgap reports).
//! Why: a plug-in divergence over K clusters is biased by O(K / n) (JS by about (K - 1)(1/n1 + 1/n2) / 8 nats), as
//! large as the divergence at the sizes people have, and a percentile bootstrap around it does not cover the truth.
//! The jackknife removes the 1/n term of the bias of any smooth statistic, and unlike the bootstrap it also sees the
//! bias of clusters seen once (deleting that conversation removes the cluster): the simulation study
//! (`benches/coverage_study.rs`, `docs/method.md`) measured its coverage and bias against the bootstrap's.
//! How: deleting one conversation of cluster j gives the same histogram for all c_j conversations of j, so the n
//! leave-one-out values of a side are K distinct values weighted by c_j. With theta the plug-in and theta_s the
//! weighted mean of side s's leave-one-out values:
//!     corrected = theta - sum_s (n_s - 1)(theta_s - theta)
//!     SE^2      = sum_s (n_s - 1) / n_s * sum_j c_j (theta_(s, -j) - theta_s)^2
//! Every measure is a sum over clusters followed by one closing step ([`super::cell_sums`]); deleting from cluster j
//! changes the renormalised side's sums in cluster j's terms alone.
//! Cost: O(SUMS x the distinct (count, count) pairs of the clusters), at most O(SUMS K): clusters with the same
//! pair of counts share their terms and leave-one-out values; 4 logarithms per pair without MAUVE, 110 with.

use std::collections::HashMap;

use super::cell_sums::{CellTerms, SUMS, Sums};
use super::histogram::Histogram;
use super::measures::Divergences;

/// How many jackknife standard errors the uncalibrated interval reaches on each side: 2.576 (the normal 99%
/// quantile). The simulation study (docs/method.md) found +-1.96 SE under-covering where clusters are sparse; it is
/// what a run with `calibration_draws` below 2 reports.
pub const INTERVAL_MULTIPLIER: f64 = 2.576;

/// A bias-corrected estimate with its standard error and 95% interval (NaN where it cannot be computed: a side
/// with fewer than two conversations, or an infinite plug-in value, as KL without smoothing can be).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corrected {
    pub value: f64,
    pub se: f64,
    pub lo: f64,
    pub hi: f64,
    /// The corrected estimate before clipping to the range (can be below 0: noise around a divergence of 0).
    pub unclipped: f64,
}

impl Corrected {
    pub const MISSING: Corrected =
        Corrected { value: f64::NAN, se: f64::NAN, lo: f64::NAN, hi: f64::NAN, unclipped: f64::NAN };

    /// The same estimate with the interval unclipped +- `z` SE, clipped to `range`.
    pub fn with_multiplier(&self, z: f64, (low, high): (f64, f64)) -> Corrected {
        let clip = |x: f64| x.clamp(low, high);
        Corrected { lo: clip(self.unclipped - z * self.se), hi: clip(self.unclipped + z * self.se), ..*self }
    }
}

/// The jackknife of every measure at once (the MAUVE pair only with `terms.with_mauve`), in O(SUMS K): deleting a
/// conversation of cluster j renormalises its side to n - 1 and lowers c_j, so each leave-one-out value is the
/// renormalised side's sums with cluster j's terms replaced ([`super::cell_sums`]). Returns the plug-in values and
/// the corrected ones, [`Divergences::NAMES`] order.
pub fn jackknife_all(p: &Histogram, q: &Histogram, terms: &CellTerms) -> ([f64; 7], [Corrected; 7]) {
    let (n_p, n_q) = (p.total(), q.total());
    let plug_in = terms.finish(&terms.total(&p.counts, &q.counts));
    if n_p < 2 || n_q < 2 {
        return (plug_in, [Corrected::MISSING; 7]);
    }
    let (mut bias, mut variance) = ([0.0; 7], [0.0; 7]);
    for side in [Side::Reference, Side::Source] {
        let (own, other, n, n_other) = match side {
            Side::Reference => (p, q, n_p, n_q),
            Side::Source => (q, p, n_q, n_p),
        };
        // The terms of cluster i with this side's count `count` of n - 1 conversations.
        let cell = |i: usize, count: u64| -> Sums {
            let mut sums = [0.0; SUMS];
            let (mine, theirs) = ((count, n - 1), (other.counts[i], n_other));
            match side {
                Side::Reference => terms.add(mine, theirs, &mut sums),
                Side::Source => terms.add(theirs, mine, &mut sums),
            }
            sums
        };
        // Clusters with the same pair of counts have the same terms and the same leave-one-out values: each pair is
        // computed once (at K = 500 with a few conversations per cluster, most pairs repeat).
        let (mut pair_index, mut pair_terms): (HashMap<(u64, u64), usize>, Vec<Sums>) = Default::default();
        let mut terms_at = |i: usize, count: u64| -> usize {
            *pair_index.entry((count, other.counts[i])).or_insert_with(|| {
                pair_terms.push(cell(i, count));
                pair_terms.len() - 1
            })
        };
        let renormalised: Vec<usize> = (0..own.k()).map(|i| terms_at(i, own.counts[i])).collect();
        let reduced: Vec<Option<usize>> =
            (0..own.k()).map(|j| (own.counts[j] > 0).then(|| terms_at(j, own.counts[j] - 1))).collect();
        let mut total = [0.0; SUMS];
        for &pair in &renormalised {
            total.iter_mut().zip(&pair_terms[pair]).for_each(|(t, s)| *t += s);
        }
        let mut value_of_pair: HashMap<(u64, u64), [f64; 7]> = HashMap::new();
        let leave_one_out: Vec<(f64, [f64; 7])> = (0..own.k())
            .filter_map(|j| Some((j, reduced[j]?)))
            .map(|(j, reduced)| {
                let value = *value_of_pair.entry((own.counts[j], other.counts[j])).or_insert_with(|| {
                    let (before, after) = (&pair_terms[renormalised[j]], &pair_terms[reduced]);
                    let sums: Sums = std::array::from_fn(|s| total[s] - before[s] + after[s]);
                    terms.finish(&sums)
                });
                (own.counts[j] as f64, value)
            })
            .collect();
        let n = n as f64;
        for m in 0..7 {
            let mean = leave_one_out.iter().map(|(w, v)| w * v[m]).sum::<f64>() / n;
            let spread = leave_one_out.iter().map(|(w, v)| w * (v[m] - mean).powi(2)).sum::<f64>();
            bias[m] += (n - 1.0) * (mean - plug_in[m]);
            variance[m] += (n - 1.0) / n * spread;
        }
    }
    let corrected = std::array::from_fn(|m| finish(plug_in[m], bias[m], variance[m], Divergences::RANGES[m]));
    (plug_in, corrected)
}

/// The corrected value and interval from the plug-in, the jackknife bias and variance, clipped to `range`.
fn finish(plug_in: f64, bias: f64, variance: f64, (low, high): (f64, f64)) -> Corrected {
    if !plug_in.is_finite() || !bias.is_finite() || !variance.is_finite() {
        return Corrected { value: plug_in, unclipped: plug_in, ..Corrected::MISSING };
    }
    let value = plug_in - bias;
    let se = variance.sqrt();
    let clip = |x: f64| x.clamp(low, high);
    let z = INTERVAL_MULTIPLIER;
    Corrected { value: clip(value), se, lo: clip(value - z * se), hi: clip(value + z * se), unclipped: value }
}

#[derive(Clone, Copy)]
enum Side {
    Reference,
    Source,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::divergence::histogram::Smoothing;
    use crate::divergence::measures::js;
    use crate::divergence::resample::stream;
    use rand::Rng;

    fn js_of(p: &Histogram, q: &Histogram) -> [f64; 1] {
        [js(&p.probabilities(), &q.probabilities())]
    }

    const JS_RANGE: [(f64, f64); 1] = [(0.0, std::f64::consts::LN_2)];

    /// n draws from the distribution `probabilities`, as counts.
    fn draw(probabilities: &[f64], n: usize, rng: &mut impl Rng) -> Histogram {
        let mut h = Histogram::zeros(probabilities.len());
        for _ in 0..n {
            let mut u: f64 = rng.r#gen();
            let cell = probabilities.iter().position(|&p| {
                u -= p;
                u < 0.0
            });
            h.add(cell.unwrap_or(probabilities.len() - 1));
        }
        h
    }

    /// The textbook two-sample jackknife, one full evaluation of `statistic` per leave-one-out histogram: the
    /// oracle the fast one is tested against.
    /// (N values at once) between `p` and `q`; `ranges` bound each value
    /// (e.g. JS to [0, ln 2]). `plug_in` is `statistic(p, q)`, passed in because the caller already has it.
    fn jackknife<const N: usize>(
        p: &Histogram,
        q: &Histogram,
        plug_in: [f64; N],
        ranges: [(f64, f64); N],
        statistic: impl Fn(&Histogram, &Histogram) -> [f64; N],
    ) -> [Corrected; N] {
        let (n_p, n_q) = (p.total(), q.total());
        if n_p < 2 || n_q < 2 {
            return [Corrected::MISSING; N];
        }
        let mut bias = [0.0; N];
        let mut variance = [0.0; N];
        for side in [Side::Reference, Side::Source] {
            let (counts, n) = match side {
                Side::Reference => (&p.counts, n_p),
                Side::Source => (&q.counts, n_q),
            };
            let mut reduced = Histogram::from_counts(counts.clone());
            // (weight c_j, leave-one-out values) per non-empty cluster.
            let mut leave_one_out: Vec<(f64, [f64; N])> = Vec::new();
            for (j, &c) in counts.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                reduced.counts[j] = c - 1;
                let values = match side {
                    Side::Reference => statistic(&reduced, q),
                    Side::Source => statistic(p, &reduced),
                };
                reduced.counts[j] = c;
                leave_one_out.push((c as f64, values));
            }
            let n = n as f64;
            for m in 0..N {
                let mean = leave_one_out.iter().map(|(w, v)| w * v[m]).sum::<f64>() / n;
                let spread = leave_one_out.iter().map(|(w, v)| w * (v[m] - mean).powi(2)).sum::<f64>();
                bias[m] += (n - 1.0) * (mean - plug_in[m]);
                variance[m] += (n - 1.0) / n * spread;
            }
        }
        std::array::from_fn(|m| finish(plug_in[m], bias[m], variance[m], ranges[m]))
    }

    #[test]
    fn the_mean_of_a_linear_statistic_is_left_as_it_is() {
        // The share of cluster 0 is linear in the counts: no bias to remove, SE = the binomial one.
        let (p, q) = (Histogram::from_counts(vec![30, 70]), Histogram::from_counts(vec![10, 10]));
        let share = |a: &Histogram, _: &Histogram| [a.probabilities()[0]];
        let [c] = jackknife(&p, &q, share(&p, &q), [(0.0, 1.0)], share);
        assert!((c.value - 0.3).abs() < 1e-12, "{c:?}");
        let binomial = (0.3f64 * 0.7 / 99.0).sqrt(); // the jackknife's (n - 1) / n * sum form gives s / sqrt(n)
        assert!((c.se - binomial).abs() < 1e-12, "{} vs {binomial}", c.se);
        assert!((c.lo - (0.3 - INTERVAL_MULTIPLIER * binomial)).abs() < 1e-12);
    }

    #[test]
    fn identical_samples_of_one_distribution_lose_most_of_the_plug_in_bias() {
        // A simulation with a known answer: p = q (JS 0), K = 20, n = 200 per side, 200 repetitions.
        let k = 20;
        let probabilities = vec![1.0 / k as f64; k];
        let mut rng = stream(3, &["jackknife-test"]);
        let (mut plug_sum, mut corrected_sum, mut covered) = (0.0, 0.0, 0);
        let repetitions = 200;
        for _ in 0..repetitions {
            let (p, q) = (draw(&probabilities, 200, &mut rng), draw(&probabilities, 200, &mut rng));
            let plug = js_of(&p, &q);
            let [c] = jackknife(&p, &q, plug, JS_RANGE, js_of);
            plug_sum += plug[0];
            corrected_sum += c.value;
            covered += usize::from(c.lo <= 0.0 && 0.0 <= c.hi);
        }
        let (plug_bias, corrected_bias) = (plug_sum / repetitions as f64, corrected_sum / repetitions as f64);
        // The plug-in bias is about (K - 1)(2 / n) / 8 = 0.0238.
        assert!((plug_bias - 0.0238).abs() < 0.003, "{plug_bias}");
        assert!(corrected_bias < plug_bias / 4.0, "{corrected_bias} vs {plug_bias}");
        assert!(covered as f64 / repetitions as f64 >= 0.93, "{covered} of {repetitions}");
    }

    #[test]
    fn the_fast_jackknife_equals_the_textbook_one_for_every_measure() {
        // Clusters 6-8 repeat the count pairs of clusters 0-2, whose terms the fast jackknife computes once.
        let (p, q) = (
            Histogram::from_counts(vec![12, 0, 5, 1, 30, 2, 12, 0, 5]),
            Histogram::from_counts(vec![3, 4, 0, 9, 2, 1, 3, 4, 0]),
        );
        for smoothing in [Smoothing::None, Smoothing::Counts(0.5), Smoothing::Prob] {
            let all = |a: &Histogram, b: &Histogram| Divergences::between(a, b, smoothing).values();
            let textbook = jackknife(&p, &q, all(&p, &q), Divergences::RANGES, all);
            let (plug_in, fast) = jackknife_all(&p, &q, &CellTerms { k: p.k(), smoothing, with_mauve: true });
            for m in 0..7 {
                let name = Divergences::NAMES[m];
                let close = |a: f64, b: f64| a == b || (a - b).abs() < 1e-10 || (a.is_nan() && b.is_nan());
                assert!(close(plug_in[m], all(&p, &q)[m]), "{name} under {smoothing}");
                let (t, f) = (textbook[m], fast[m]);
                for (a, b) in [(t.value, f.value), (t.se, f.se), (t.lo, f.lo), (t.hi, f.hi)] {
                    assert!(close(a, b), "{name} under {smoothing}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn results_stay_in_range_and_degenerate_sides_give_nothing() {
        let (p, q) = (Histogram::from_counts(vec![5, 0, 0]), Histogram::from_counts(vec![0, 0, 5]));
        let [c] = jackknife(&p, &q, js_of(&p, &q), JS_RANGE, js_of);
        assert!(c.value <= std::f64::consts::LN_2 && c.hi <= std::f64::consts::LN_2 && c.lo >= 0.0, "{c:?}");
        let one = Histogram::from_counts(vec![1, 0, 0]);
        assert!(jackknife(&one, &q, js_of(&one, &q), JS_RANGE, js_of)[0].value.is_nan());
        let infinite = |_: &Histogram, _: &Histogram| [f64::INFINITY];
        let [c] = jackknife(&p, &q, [f64::INFINITY], [(0.0, f64::INFINITY)], infinite);
        assert_eq!(c.value, f64::INFINITY);
        assert!(c.lo.is_nan() && c.hi.is_nan());
    }
}
