//! Bias-aware 95% intervals for the jackknife-corrected divergences, calibrated on samples from a world that looks
//! like the data.
//!
//! Consumes: the two histograms of a comparison, their plug-in values and jackknife corrections
//! ([`super::jackknife::jackknife_all`]), a number of simulated draws and a random-stream key.
//! Produces: per measure a [`Corrected`] whose interval allows for the bias the correction leaves.
//! Why: the jackknife removes the 1/n term of a smooth statistic's bias, not all of it. Where many clusters hold a
//! few conversations (K = 500 with 2,000 per side; K = 50 with 200) what is left is comparable to the standard
//! error, and a symmetric +-z SE interval misses the truth on one side (docs/method.md measured 10% coverage for
//! KL there). TV is not smooth at all: |p_k - q_k| has a kink at 0, where the jackknife corrects nothing.
//! How, for KL, JS, MAUVE, MAUVE* and the frontier integral: the world is both sides' counts smoothed by +0.5 (no
//! empty cluster, so every truth is finite); `draws` pairs of samples of the observed sizes are drawn from it and
//! corrected like the data. Their mean minus the world's true value estimates the residual bias b, their spread the
//! standard error (the larger of it and the jackknife's is used). The interval is the union of the corrected value
//! +- c(|b| / se) se, with c(t) the 95% quantile of |N(t, 1)| (Armstrong and Kolesar's bias-aware critical value:
//! 1.96 when b = 0, about |b| / se + 1.645 when it dominates), the basic interval of the simulated errors (skewed
//! errors), the studentised interval (each error over its own draw's jackknife SE: where the error grows with the
//! SE), and the jackknife's +-2.576 SE (where the world understates the bias). A second set of `draws` comes from
//! worlds drawn from the counts' empirical-Bayes posterior ([`super::posterior_world`]), as sparse as the data say
//! the truth may be; their three intervals join the union (the +0.5 world understates the residual bias where a
//! side spreads most clusters over one or two conversations). A third set of `draws` comes from the world at the
//! estimate ([`world_at_estimate`]): the +0.5 world's two sides moved toward their average until its JS equals the
//! corrected JS. The +0.5 world carries the data's sampling noise, so where the truth is close (JS 0.02 with 2,000
//! conversations over 500 clusters) it sits much farther apart than the truth, and MAUVE's residual bias, which
//! changes fast near MAUVE = 1, differs there from the truth's; the world at the estimate sits where the data say
//! the truth is. The simulation study (docs/method.md) chose this union over each part alone.
//! For TV the plug-in's bias lies between 0 (Jensen) and B = 1/2 sum_k sd(p^_k - q^_k) (triangle and
//! Cauchy-Schwarz inequalities; sd from the world's shares), so the interval is
//! [TV^ - B - 1.96 se, TV^ + 1.96 se], and the estimate is TV^ minus the bootstrap bias of the plug-in (drawn from
//! the observed shares).
//! Cost: 3 x `draws` simulated samples, each jackknifed (2 x where the corrected JS is not below the +0.5 world's),
//! in parallel: about 3 ms of CPU per sample at K = 500 with MAUVE, sampling and the worlds' truths included
//! (60,000 samples of the study's K 500, 20,000 / 2,000 cell took 173 s of CPU).

use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::cell_sums::CellTerms;
use super::histogram::{Histogram, Smoothing};
use super::jackknife::{Corrected, INTERVAL_MULTIPLIER, jackknife_all};
use super::measures::{Divergences, js, true_values, tv};
use super::posterior_world::{concentration, draw_shares};
use super::resample::{bootstrap, multinomial, quantile, stream};

/// The normal quantile that leaves 2.5% in each tail.
pub const Z_95: f64 = 1.959_963_984_540_054;
/// Index of JS and TV in [`Divergences::NAMES`].
const JS: usize = 2;
const TV: usize = 3;

/// Intervals for the jackknife-corrected values `corrected` of `p` and `q` (whose plug-in values are `plug_in`),
/// calibrated on `draws` simulated pairs; each draw has its own random stream keyed by `seed`, `labels` and its
/// index, so the result is the same on any number of threads.
pub fn calibrate(
    (p, q): (&Histogram, &Histogram),
    terms: &CellTerms,
    (plug_in, corrected): ([f64; 7], [Corrected; 7]),
    draws: usize,
    (seed, labels): (u64, &[&str]),
) -> [Corrected; 7] {
    let (n_p, n_q) = (p.total(), q.total());
    if n_p < 2 || n_q < 2 || draws < 2 {
        return corrected;
    }
    let world = Smoothing::Counts(0.5);
    let (world_p, world_q) = (p.smoothed(world), q.smoothed(world));
    let truth = true_values(&world_p, &world_q);
    let sampler = Sampler { sizes: (n_p, n_q), terms, seed, labels };
    // Per draw: the plug-in and corrected values in the world, and the plug-in TV of a bootstrap draw of the data.
    let simulated: Vec<([f64; 7], [(f64, f64); 7], f64)> = (0..draws)
        .into_par_iter()
        .map(|d| {
            let mut rng = sampler.stream("calibration", d);
            let (plug, jack) = sampler.corrected((&world_p, &world_q), &mut rng);
            let (a, b) = (bootstrap(p, &mut rng), bootstrap(q, &mut rng));
            (plug, jack, tv(&a.probabilities(), &b.probabilities()))
        })
        .collect();
    let posterior = posterior_draws((p, q), &sampler, draws);
    let matched = matched_draws((&world_p, &world_q), corrected[JS].unclipped, &sampler, draws);
    let tv_bound = 0.5
        * world_p
            .iter()
            .zip(&world_q)
            .map(|(a, b)| (a * (1.0 - a) / n_p as f64 + b * (1.0 - b) / n_q as f64).sqrt())
            .sum::<f64>();
    std::array::from_fn(|m| {
        let own = corrected[m];
        if m == TV {
            return tv_corrected(own, plug_in[m], simulated.iter().map(|s| s.2), tv_bound);
        }
        if !own.unclipped.is_finite() || !own.se.is_finite() {
            return own;
        }
        let smoothed_errors = simulated.iter().map(|s| (s.1[m].0 - truth[m], s.1[m].1)).collect();
        let posterior_errors = posterior.iter().map(|s| (s.0[m].0 - s.1[m], s.0[m].1)).collect();
        let matched_errors =
            matched.iter().flat_map(|(draws, truth)| draws.iter().map(|d| (d[m].0 - truth[m], d[m].1))).collect();
        union_of_worlds(own, [smoothed_errors, posterior_errors, matched_errors], Divergences::RANGES[m])
    })
}

/// Per draw from the posterior worlds (shares drawn around each side's counts): the corrected values and the
/// world's truth.
fn posterior_draws(
    (p, q): (&Histogram, &Histogram),
    sampler: &Sampler<'_>,
    draws: usize,
) -> Vec<([(f64, f64); 7], [f64; 7])> {
    let alphas = (concentration(p), concentration(q));
    (0..draws)
        .into_par_iter()
        .map(|d| {
            let mut rng = sampler.stream("calibration-posterior", d);
            let (shares_p, shares_q) = (draw_shares(p, alphas.0, &mut rng), draw_shares(q, alphas.1, &mut rng));
            (sampler.corrected((&shares_p, &shares_q), &mut rng).1, true_values(&shares_p, &shares_q))
        })
        .collect()
}

/// Per draw from the world at the estimate: its corrected values, and its truth (one for every draw); None where
/// there is no such world.
#[allow(clippy::type_complexity)]
fn matched_draws(
    world: (&[f64], &[f64]),
    corrected_js: f64,
    sampler: &Sampler<'_>,
    draws: usize,
) -> Option<(Vec<[(f64, f64); 7]>, [f64; 7])> {
    world_at_estimate(world, corrected_js).map(|(shares_p, shares_q)| {
        let draws: Vec<[(f64, f64); 7]> = (0..draws)
            .into_par_iter()
            .map(|d| sampler.corrected((&shares_p, &shares_q), &mut sampler.stream("calibration-matched", d)).1)
            .collect();
        (draws, true_values(&shares_p, &shares_q))
    })
}

/// TV: the plug-in minus its bias at the observed shares (what the plug-in adds where they differ clearly, part of
/// it where they agree: a smoothed world would add a kink at every cluster and overcorrect large TV), with the
/// interval from the plug-in's bias bound.
fn tv_corrected(own: Corrected, plug_in: f64, simulated: impl Iterator<Item = f64>, tv_bound: f64) -> Corrected {
    let Some((bias, spread)) = bias_and_spread(simulated, plug_in) else {
        return own;
    };
    let se = own.se.max(spread);
    bounded(plug_in - bias, (plug_in - tv_bound - Z_95 * se, plug_in + Z_95 * se), se, Divergences::RANGES[TV])
}

/// The union of the jackknife's own +-2.576 SE interval and, in each world, the bias-aware and the basic interval
/// of the simulated errors (skewed errors); `own` where no world has enough draws.
fn union_of_worlds(own: Corrected, worlds: [Vec<(f64, f64)>; 3], range: (f64, f64)) -> Corrected {
    let wide = INTERVAL_MULTIPLIER * own.se;
    let (mut lo, mut hi) = (own.unclipped - wide, own.unclipped + wide);
    let (mut se, mut any) = (own.se, false);
    for errors in worlds {
        let Some((low, high, world_se)) = error_interval(errors, own.se) else {
            continue;
        };
        (lo, hi, se, any) = (lo.min(own.unclipped - high), hi.max(own.unclipped - low), se.max(world_se), true);
    }
    if !any {
        return own;
    }
    bounded(own.unclipped, (lo, hi), se, range)
}

/// What every simulated sample of one comparison shares: the observed sizes, the cell terms and the random streams'
/// seed and labels.
struct Sampler<'a> {
    sizes: (u64, u64),
    terms: &'a CellTerms,
    seed: u64,
    labels: &'a [&'a str],
}

impl Sampler<'_> {
    /// The random stream of draw `index` from the world named `world`.
    fn stream(&self, world: &str, index: usize) -> ChaCha8Rng {
        let index = index.to_string();
        let key: Vec<&str> = [world].into_iter().chain(self.labels.iter().copied()).chain([index.as_str()]).collect();
        stream(self.seed, &key)
    }

    /// One sample pair of the observed sizes from the shares `p` and `q`, jackknifed: the plug-in values and, per
    /// measure, the corrected value before clipping with its jackknife SE.
    fn corrected(&self, (p, q): (&[f64], &[f64]), rng: &mut ChaCha8Rng) -> ([f64; 7], [(f64, f64); 7]) {
        let (a, b) = (multinomial(p, self.sizes.0, rng), multinomial(q, self.sizes.1, rng));
        let (plug_in, jack) = jackknife_all(&a, &b, self.terms);
        (plug_in, jack.map(|c| (c.unclipped, c.se)))
    }
}

/// The third world: both sides of the +0.5 world moved along straight lines toward their average until the world's
/// JS equals `estimate` (the corrected JS of the data), by bisection to 1e-12 of the way; None where the estimate is
/// not below the world's own JS (the +0.5 world is then already as close as the data say) or is not finite.
/// JS grows along the way (it is convex in the step, 0 at the average), so the bisection finds the one such world.
fn world_at_estimate((p, q): (&[f64], &[f64]), estimate: f64) -> Option<(Vec<f64>, Vec<f64>)> {
    let average: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a + b)).collect();
    let at = |step: f64| -> (Vec<f64>, Vec<f64>) {
        let toward = |side: &[f64]| side.iter().zip(&average).map(|(s, m)| m + step * (s - m)).collect();
        (toward(p), toward(q))
    };
    if !estimate.is_finite() || estimate >= js(p, q) {
        return None;
    }
    let target = estimate.max(0.0);
    let (mut low, mut high) = (0.0, 1.0);
    while high - low > 1e-12 {
        let middle = 0.5 * (low + high);
        let (a, b) = at(middle);
        if js(&a, &b) < target {
            low = middle;
        } else {
            high = middle;
        }
    }
    Some(at(0.5 * (low + high)))
}

/// From one world's simulated errors (corrected minus true) with each draw's jackknife SE: the range (low, high)
/// the error lies in, the union of the bias-aware interval b +- c(|b| / se) se, the errors' 2.5% and 97.5% quantiles
/// and the studentised errors' quantiles times `jackknife_se` (bootstrap-t: where the data's SE is large, so is its
/// error), with se the larger of the errors' spread and `jackknife_se`; None when under half the errors are finite.
fn error_interval(draws: Vec<(f64, f64)>, jackknife_se: f64) -> Option<(f64, f64, f64)> {
    let (bias, spread) = bias_and_spread(draws.iter().map(|d| d.0), 0.0)?;
    let mut errors: Vec<f64> = draws.iter().map(|d| d.0).filter(|e| e.is_finite()).collect();
    let se = jackknife_se.max(spread);
    let half = if se > 0.0 { critical_value(bias.abs() / se) * se } else { bias.abs() };
    let (mut low, mut high) = (quantile(&mut errors, 0.025).min(-half), quantile(&mut errors, 0.975).max(half));
    let mut studentised: Vec<f64> =
        draws.iter().filter(|(e, s)| e.is_finite() && *s > 0.0 && s.is_finite()).map(|(e, s)| e / s).collect();
    if 2 * studentised.len() >= draws.len() && jackknife_se.is_finite() {
        low = low.min(quantile(&mut studentised, 0.025) * jackknife_se);
        high = high.max(quantile(&mut studentised, 0.975) * jackknife_se);
    }
    Some((low, high, se))
}

/// The mean of the finite values minus `truth`, and their standard deviation; None when under half are finite
/// (KL without smoothing, infinite in most draws).
fn bias_and_spread(values: impl Iterator<Item = f64>, truth: f64) -> Option<(f64, f64)> {
    let (mut all, mut finite) = (0usize, Vec::new());
    for v in values {
        all += 1;
        if v.is_finite() {
            finite.push(v);
        }
    }
    if finite.len() < 2 || 2 * finite.len() < all || !truth.is_finite() {
        return None;
    }
    let n = finite.len() as f64;
    let mean = finite.iter().sum::<f64>() / n;
    let spread = (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    Some((mean - truth, spread))
}

/// A [`Corrected`] with `value` and the interval clipped to `range`, the value kept inside its interval.
fn bounded(value: f64, (lo, hi): (f64, f64), se: f64, (low, high): (f64, f64)) -> Corrected {
    let clip = |x: f64| x.clamp(low, high);
    let (lo, hi) = (clip(lo), clip(hi));
    Corrected { value: clip(value).clamp(lo, hi), se, lo, hi, unclipped: value }
}

/// c(t): the 0.95 quantile of |N(t, 1)|, i.e. Phi(c - t) - Phi(-c - t) = 0.95 (bisection to 1e-10).
pub fn critical_value(t: f64) -> f64 {
    let coverage = |c: f64| normal_cdf(c - t) - normal_cdf(-c - t);
    let (mut lo, mut hi) = (Z_95 - 1e-9, t + 5.0);
    while hi - lo > 1e-10 {
        let mid = 0.5 * (lo + hi);
        if coverage(mid) < 0.95 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The standard normal distribution function, from erfc's Chebyshev fit (Numerical Recipes' erfcc, relative error
/// under 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - 0.5 * erfc } else { 0.5 * erfc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_critical_value_is_the_normal_one_without_bias_and_grows_with_it() {
        assert!((critical_value(0.0) - Z_95).abs() < 1e-6, "{}", critical_value(0.0));
        // Armstrong and Kolesar's table: cv_0.95(1) = 2.65, cv_0.95(2) = 3.65 (to two decimals).
        assert!((critical_value(1.0) - 2.65).abs() < 0.01, "{}", critical_value(1.0));
        assert!((critical_value(2.0) - 3.65).abs() < 0.01, "{}", critical_value(2.0));
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-1.0) - 0.158_655_253_931_457).abs() < 1e-7);
    }

    #[test]
    fn errors_that_grow_with_their_se_widen_the_interval_by_the_studentised_quantiles() {
        // Every draw's error is +-2.5 of its own SE, the SEs spread from 0.001 to 0.2: no bias, raw errors within
        // +-0.5, a spread of about 0.29. With the data's SE 0.3 the studentised bound, 2.5 x 0.3 = 0.75, is wider
        // than the raw quantiles and the bias-aware 1.96 x 0.3.
        let draws: Vec<(f64, f64)> =
            (1..=200).map(|i| (if i % 2 == 0 { 2.5 } else { -2.5 } * 0.001 * i as f64, 0.001 * i as f64)).collect();
        let (low, high, _) = error_interval(draws.clone(), 0.3).expect("finite errors");
        assert!((high - 0.75).abs() < 1e-9 && (low + 0.75).abs() < 1e-9, "{low} {high}");
        // With the data's SE as small as the draws', the bias-aware half width of the spread decides.
        let (_, high, _) = error_interval(draws, 0.001).expect("finite errors");
        assert!(high > 0.49 && high < 0.75, "{high}");
    }

    #[test]
    fn the_world_at_the_estimate_has_the_estimated_js_and_stays_a_pair_of_distributions() {
        let (p, q) = ([0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]);
        let world_js = js(&p, &q);
        for estimate in [0.5 * world_js, 0.01, 1e-6, -0.02] {
            let (a, b) = world_at_estimate((&p, &q), estimate).expect("below the world's JS");
            assert!((js(&a, &b) - estimate.max(0.0)).abs() < 1e-9, "{estimate}: {}", js(&a, &b));
            for side in [&a, &b] {
                assert!((side.iter().sum::<f64>() - 1.0).abs() < 1e-12 && side.iter().all(|&x| x > 0.0), "{side:?}");
            }
            // On the line between the sides: the average is kept.
            assert!(a.iter().zip(&b).zip(p.iter().zip(&q)).all(|((x, y), (u, v))| (x + y - u - v).abs() < 1e-12));
        }
        assert_eq!(world_at_estimate((&p, &q), world_js), None);
        assert_eq!(world_at_estimate((&p, &q), f64::NAN), None);
    }

    #[test]
    fn intervals_hold_their_values_and_stay_in_range() {
        let (p, q) = (Histogram::from_counts(vec![40, 3, 0, 12, 9]), Histogram::from_counts(vec![5, 30, 2, 0, 1]));
        let terms = CellTerms { k: 5, smoothing: Smoothing::Counts(0.5), with_mauve: true };
        let jack = jackknife_all(&p, &q, &terms);
        let out = calibrate((&p, &q), &terms, jack, 100, (1, &["test"]));
        for (m, c) in out.iter().enumerate() {
            let (low, high) = Divergences::RANGES[m];
            assert!(low <= c.lo && c.lo <= c.value && c.value <= c.hi && c.hi <= high, "{m}: {c:?}");
        }
        // The same key gives the same intervals.
        assert_eq!(out, calibrate((&p, &q), &terms, jack, 100, (1, &["test"])));
    }
}
