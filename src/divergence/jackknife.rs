//! Bias-corrected divergences with intervals: the two-sample delete-one jackknife, computed on cluster counts.
//!
//! Consumes: the two histograms of a comparison and a statistic of them (every measure at once, or JS alone).
//! Produces: per value, a [`Corrected`]: the jackknife bias-corrected estimate, its jackknife standard error and the
//! 95% interval estimate +- [`INTERVAL_MULTIPLIER`] SE, both clipped to the measure's range.
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
//! Cost: one evaluation of the statistic per non-empty cluster of each side: O(K^2) for the additive measures,
//! O(25 K^2) with MAUVE.

use super::histogram::{Histogram, Smoothing, smoothed_cell};

/// How many jackknife standard errors the 95% interval reaches on each side: 2.576 (the normal 99% quantile), not
/// 1.96. The simulation study (docs/method.md) found +-1.96 SE under-covering where clusters are sparse (the
/// residual bias of the correction is then a sizeable part of the SE): 16 of its 180 cells with n / K >= 4 fell
/// below 93% for JS, against 2 with 2.576.
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

/// The jackknife of `statistic` (N values at once) between `p` and `q`; `ranges` bound each value
/// (e.g. JS to [0, ln 2]). `plug_in` is `statistic(p, q)`, passed in because the caller already has it.
pub fn jackknife<const N: usize>(
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

/// The jackknife of an additive statistic, sum over clusters of `term(a_i, b_i)` with a and b the two histograms
/// under `smoothing` (JS, TV: none; KL: the table's), in O(K): deleting a conversation of cluster j renormalises
/// every cell of its side to n - 1 and lowers cell j's count, so each leave-one-out value is one sum over the
/// renormalised cells with cell j's term replaced. Returns the plug-in value and the corrected one.
pub fn jackknife_additive(
    p: &Histogram,
    q: &Histogram,
    smoothing: Smoothing,
    range: (f64, f64),
    term: impl Fn(f64, f64) -> f64,
) -> (f64, Corrected) {
    let (n_p, n_q, k) = (p.total(), q.total(), p.k());
    let cell = |count: u64, n: u64| smoothed_cell(smoothing, count, n, k);
    let plug_in: f64 = (0..k).map(|i| term(cell(p.counts[i], n_p), cell(q.counts[i], n_q))).sum();
    if n_p < 2 || n_q < 2 {
        return (plug_in, Corrected::MISSING);
    }
    let (mut bias, mut variance) = (0.0, 0.0);
    for side in [Side::Reference, Side::Source] {
        let (own, other, n, n_other) = match side {
            Side::Reference => (p, q, n_p, n_q),
            Side::Source => (q, p, n_q, n_p),
        };
        let pair = |mine: f64, theirs: f64| match side {
            Side::Reference => term(mine, theirs),
            Side::Source => term(theirs, mine),
        };
        // Every cell renormalised to n - 1, then per non-empty cell j its term with count c_j - 1 instead.
        let renormalised: Vec<f64> =
            (0..k).map(|i| pair(cell(own.counts[i], n - 1), cell(other.counts[i], n_other))).collect();
        let total: f64 = renormalised.iter().sum();
        let leave_one_out: Vec<(f64, f64)> = (0..k)
            .filter(|&j| own.counts[j] > 0)
            .map(|j| {
                let reduced = pair(cell(own.counts[j] - 1, n - 1), cell(other.counts[j], n_other));
                (own.counts[j] as f64, total - renormalised[j] + reduced)
            })
            .collect();
        let n = n as f64;
        let mean = leave_one_out.iter().map(|(w, v)| w * v).sum::<f64>() / n;
        bias += (n - 1.0) * (mean - plug_in);
        variance += (n - 1.0) / n * leave_one_out.iter().map(|(w, v)| w * (v - mean).powi(2)).sum::<f64>();
    }
    (plug_in, finish(plug_in, bias, variance, range))
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
    fn the_additive_jackknife_equals_the_generic_one() {
        let (p, q) = (Histogram::from_counts(vec![12, 0, 5, 1, 30]), Histogram::from_counts(vec![3, 4, 0, 9, 2]));
        let [generic] = jackknife(&p, &q, js_of(&p, &q), JS_RANGE, js_of);
        let (plug, additive) =
            jackknife_additive(&p, &q, Smoothing::None, JS_RANGE[0], crate::divergence::measures::js_term);
        assert!((plug - js_of(&p, &q)[0]).abs() < 1e-15);
        for (a, b) in [(generic.value, additive.value), (generic.se, additive.se), (generic.lo, additive.lo)] {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // KL under counts smoothing: both sides' cells renormalised as Histogram::smoothed does.
        let smoothing = Smoothing::Counts(0.5);
        let kl_of = |a: &Histogram, b: &Histogram| {
            [crate::divergence::measures::kl(&a.smoothed(smoothing), &b.smoothed(smoothing))]
        };
        let [generic] = jackknife(&p, &q, kl_of(&p, &q), [(0.0, f64::INFINITY)], kl_of);
        let kl_term = |a: f64, b: f64| if a > 0.0 { a * (a / b).ln() } else { 0.0 };
        let (plug, additive) = jackknife_additive(&p, &q, smoothing, (0.0, f64::INFINITY), kl_term);
        assert!((plug - kl_of(&p, &q)[0]).abs() < 1e-14);
        assert!((generic.value - additive.value).abs() < 1e-12 && (generic.se - additive.se).abs() < 1e-12);
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
