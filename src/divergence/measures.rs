//! The divergences between two cluster histograms, as shared/specs/metrics.md defines them: KL both ways (smoothed
//! as asked), Jensen-Shannon, total variation, MAUVE, MAUVE* and the frontier integral.
//!
//! Consumes: two [`Histogram`]s on the same codebook and a [`Smoothing`]. Produces: [`Divergences`] (every measure,
//! in nats) and, for explanations, [`Contributions`] (per cluster p, q and each cluster's share of KL and JS).
//! Cost: O(K) per measure, except MAUVE and MAUVE*, which take 25 K logarithms each (the divergence curve).
//! MAUVE, MAUVE* and the frontier integral follow the `mauve-text` package exactly (tests/fixtures/divergence).

use super::histogram::{Histogram, Smoothing};
use super::logarithm::ln_slice;

/// Mixture weights of the MAUVE divergence curve: linspace(1e-6, 1 - 1e-6, 25), as mauve-text.
pub(super) const MAUVE_POINTS: usize = 25;
/// mauve-text's `mauve_scaling_factor`.
const MAUVE_SCALING: f64 = 5.0;
/// mauve-text's frontier-integral `scaling_factor`.
pub(super) const FRONTIER_SCALING: f64 = 2.0;

/// Every measure between a reference P and a source Q, in nats.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Divergences {
    /// KL(P || Q) on smoothed histograms: what humans do that the simulator misses.
    pub kl_forward: f64,
    /// KL(Q || P) on smoothed histograms: what the simulator does that humans do not.
    pub kl_backward: f64,
    /// Jensen-Shannon divergence on unsmoothed histograms, in [0, ln 2].
    pub js: f64,
    pub tv: f64,
    pub mauve: f64,
    pub mauve_star: f64,
    pub frontier_integral: f64,
}

impl Divergences {
    /// The measures' column names, in [`Divergences::values`] order.
    pub const NAMES: [&'static str; 7] =
        ["kl_forward", "kl_backward", "js", "tv", "mauve", "mauve_star", "frontier_integral"];
    /// Whether each measure is a log quantity (nats, or bits with `log_base = "2"`); the others are as mauve-text
    /// or the definition gives them.
    pub const IN_LOG_UNIT: [bool; 7] = [true, true, true, false, false, false, false];
    /// Each measure's range, which bias-corrected estimates and their intervals are clipped to.
    pub const RANGES: [(f64, f64); 7] = [
        (0.0, f64::INFINITY),
        (0.0, f64::INFINITY),
        (0.0, std::f64::consts::LN_2),
        (0.0, 1.0),
        (0.0, 1.0),
        (0.0, 1.0),
        (0.0, 1.0),
    ];

    /// Every measure NaN (no value): a side without conversations.
    pub fn missing() -> Self {
        Self::from_values([f64::NAN; 7])
    }

    pub fn between(p: &Histogram, q: &Histogram, smoothing: Smoothing) -> Self {
        let (raw_p, raw_q) = (p.probabilities(), q.probabilities());
        let mixture: Vec<f64> = raw_p.iter().zip(&raw_q).map(|(a, b)| 0.5 * (a + b)).collect();
        let logs = |x: &[f64]| {
            let mut out = vec![0.0; x.len()];
            ln_slice(x, &mut out);
            out
        };
        let (log_p, log_q, log_m) = (logs(&raw_p), logs(&raw_q), logs(&mixture));
        let (kl_forward, kl_backward) = if smoothing == Smoothing::None {
            (kl_from_logs(&raw_p, &log_p, &raw_q, &log_q), kl_from_logs(&raw_q, &log_q, &raw_p, &log_p))
        } else {
            let (smooth_p, smooth_q) = (p.smoothed(smoothing), q.smoothed(smoothing));
            let (log_sp, log_sq) = (logs(&smooth_p), logs(&smooth_q));
            (kl_from_logs(&smooth_p, &log_sp, &smooth_q, &log_sq), kl_from_logs(&smooth_q, &log_sq, &smooth_p, &log_sp))
        };
        let mut js_total = 0.0;
        let mut frontier = 0.0;
        for i in 0..raw_p.len() {
            let (a, b) = (raw_p[i], raw_q[i]);
            if a > 0.0 {
                js_total += 0.5 * a * (log_p[i] - log_m[i]);
            }
            if b > 0.0 {
                js_total += 0.5 * b * (log_q[i] - log_m[i]);
            }
            frontier += frontier_term(a, b, log_p[i] - log_q[i]);
        }
        let (star_p, star_q) = (p.smoothed(Smoothing::Counts(0.5)), q.smoothed(Smoothing::Counts(0.5)));
        Divergences {
            kl_forward,
            kl_backward,
            js: js_total.clamp(0.0, std::f64::consts::LN_2),
            tv: tv(&raw_p, &raw_q),
            mauve: mauve(&raw_p, &raw_q),
            mauve_star: mauve(&star_p, &star_q),
            frontier_integral: frontier * FRONTIER_SCALING,
        }
    }

    /// Every measure, in [`Divergences::NAMES`] order.
    pub fn values(&self) -> [f64; 7] {
        [self.kl_forward, self.kl_backward, self.js, self.tv, self.mauve, self.mauve_star, self.frontier_integral]
    }

    /// The inverse of [`Divergences::values`].
    pub fn from_values(v: [f64; 7]) -> Self {
        let [kl_forward, kl_backward, js, tv, mauve, mauve_star, frontier_integral] = v;
        Divergences { kl_forward, kl_backward, js, tv, mauve, mauve_star, frontier_integral }
    }
}

/// Every measure between two known distributions, unsmoothed, in [`Divergences::NAMES`] order: what the estimates
/// estimate (MAUVE* estimates MAUVE).
pub fn true_values(p: &[f64], q: &[f64]) -> [f64; 7] {
    let mauve = mauve(p, q);
    [kl(p, q), kl(q, p), js(p, q), tv(p, q), mauve, mauve, frontier_integral(p, q)]
}

/// Per cluster: the two distributions and each cluster's term of KL (smoothed) and JS.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    pub p: Vec<f64>,
    pub q: Vec<f64>,
    pub kl_forward: Vec<f64>,
    pub kl_backward: Vec<f64>,
    pub js: Vec<f64>,
}

impl Contributions {
    pub fn between(p: &Histogram, q: &Histogram, smoothing: Smoothing) -> Self {
        let (raw_p, raw_q) = (p.probabilities(), q.probabilities());
        let (smooth_p, smooth_q) = (p.smoothed(smoothing), q.smoothed(smoothing));
        Contributions {
            kl_forward: smooth_p.iter().zip(&smooth_q).map(|(&a, &b)| kl_term(a, b)).collect(),
            kl_backward: smooth_q.iter().zip(&smooth_p).map(|(&a, &b)| kl_term(a, b)).collect(),
            js: raw_p.iter().zip(&raw_q).map(|(&a, &b)| js_term(a, b)).collect(),
            p: raw_p,
            q: raw_q,
        }
    }
}

/// KL(a || b) from precomputed logarithms; +inf where b = 0 < a.
fn kl_from_logs(a: &[f64], log_a: &[f64], b: &[f64], log_b: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..a.len() {
        if a[i] > 0.0 {
            if b[i] == 0.0 {
                return f64::INFINITY;
            }
            total += a[i] * (log_a[i] - log_b[i]);
        }
    }
    total.max(0.0)
}

/// KL(p || q) = sum p ln(p / q) over p > 0; +inf where q = 0 < p.
pub fn kl(p: &[f64], q: &[f64]) -> f64 {
    let mut total = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        if a > 0.0 {
            if b == 0.0 {
                return f64::INFINITY;
            }
            total += a * (a / b).ln();
        }
    }
    total.max(0.0)
}

/// One cluster's term of KL: a ln(a / b), 0 where a = 0, +inf where b = 0 < a.
pub fn kl_term(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else if b == 0.0 {
        f64::INFINITY
    } else {
        a * (a / b).ln()
    }
}

/// One cluster's term of JS: 1/2 p ln(2p / (p + q)) + 1/2 q ln(2q / (p + q)).
pub fn js_term(a: f64, b: f64) -> f64 {
    let m = 0.5 * (a + b);
    let half = |x: f64| if x > 0.0 { 0.5 * x * (x / m).ln() } else { 0.0 };
    half(a) + half(b)
}

/// Jensen-Shannon divergence, natural log, clamped to [0, ln 2] against rounding.
pub fn js(p: &[f64], q: &[f64]) -> f64 {
    let total: f64 = p.iter().zip(q).map(|(&a, &b)| js_term(a, b)).sum();
    total.clamp(0.0, std::f64::consts::LN_2)
}

/// Total variation: half the L1 distance.
pub fn tv(p: &[f64], q: &[f64]) -> f64 {
    0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>()
}

/// MAUVE (Pillutla et al. 2021) as mauve-text computes it from two histograms: the divergence curve
/// (KL(Q || R), KL(P || R)) for R = w P + (1 - w) Q over 25 weights, plus the end points (0, inf) and (inf, 0), each
/// coordinate mapped to exp(-5 x); the mean of the areas under the curve integrated along x and along y.
pub fn mauve(p: &[f64], q: &[f64]) -> f64 {
    // Cells empty on both sides contribute nothing; without them every mixture cell is positive (0 < w < 1), so
    // the sums below need no branches.
    let (p, q): (Vec<f64>, Vec<f64>) = p.iter().zip(q).filter(|(a, b)| **a + **b > 0.0).map(|(a, b)| (*a, *b)).unzip();
    let k = p.len();
    let (mut p_logs, mut q_logs) = (vec![0.0; k], vec![0.0; k]);
    ln_slice(&p, &mut p_logs);
    ln_slice(&q, &mut q_logs);
    // sum x ln x over the cells where x > 0.
    let self_term =
        |x: &[f64], logs: &[f64]| -> f64 { x.iter().zip(logs).filter(|(v, _)| **v > 0.0).map(|(v, l)| v * l).sum() };
    let (p_self, q_self) = (self_term(&p, &p_logs), self_term(&q, &q_logs));
    let (mut cross_p, mut cross_q) = ([0.0; MAUVE_POINTS], [0.0; MAUVE_POINTS]);
    let (mut mixture, mut mixture_logs) = (vec![0.0; k], vec![0.0; k]);
    for step in 0..MAUVE_POINTS {
        let w = mixture_weight(step);
        for i in 0..k {
            mixture[i] = w * p[i] + (1.0 - w) * q[i];
        }
        ln_slice(&mixture, &mut mixture_logs);
        for i in 0..k {
            cross_p[step] += p[i] * mixture_logs[i];
            cross_q[step] += q[i] * mixture_logs[i];
        }
    }
    mauve_from_sums(p_self, q_self, &cross_p, &cross_q)
}

/// MAUVE from the sums over cells it is made of: sum p ln p, sum q ln q and, per mixture weight w, sum p ln r and
/// sum q ln r with r = w p + (1 - w) q. KL(x || r) = sum x ln x - sum x ln r; each point of the curve is
/// (exp(-5 KL(Q || R)), exp(-5 KL(P || R))), with the end points (1, 0) and (0, 1).
pub(super) fn mauve_from_sums(
    p_self: f64,
    q_self: f64,
    cross_p: &[f64; MAUVE_POINTS],
    cross_q: &[f64; MAUVE_POINTS],
) -> f64 {
    let (mut xs, mut ys) = ([0.0; MAUVE_POINTS + 2], [0.0; MAUVE_POINTS + 2]);
    xs[0] = 0.0_f64.exp();
    ys[0] = (-MAUVE_SCALING * f64::INFINITY).exp();
    for step in 0..MAUVE_POINTS {
        let kl_q = (q_self - cross_q[step]).max(0.0);
        let kl_p = (p_self - cross_p[step]).max(0.0);
        xs[step + 1] = (-MAUVE_SCALING * kl_q).exp();
        ys[step + 1] = (-MAUVE_SCALING * kl_p).exp();
    }
    xs[MAUVE_POINTS + 1] = (-MAUVE_SCALING * f64::INFINITY).exp();
    ys[MAUVE_POINTS + 1] = 0.0_f64.exp();
    0.5 * (area_sorted_by(&xs, &ys) + area_sorted_by(&ys, &xs))
}

/// The `step`-th of 25 evenly spaced weights from 1e-6 to 1 - 1e-6, computed as numpy's linspace does.
pub(super) fn mixture_weight(step: usize) -> f64 {
    let (start, stop) = (1e-6, 1.0 - 1e-6);
    let delta = stop - start;
    let div = (MAUVE_POINTS - 1) as f64;
    if step == MAUVE_POINTS - 1 { stop } else { start + step as f64 * (delta / div) }
}

/// Trapezoid area under y(x) after sorting the points by x, ties by y descending, so the points follow the
/// monotone frontier. Ties only occur for identical histograms (every inner point is (1, 1)): mauve-text orders
/// them by numpy's unstable sort and returns 0.5, 0.75 or 1 depending on the CPU; this order gives 1.
/// The curve's points come in order along one axis and in reverse along the other, so the sort is skipped when
/// either order already holds (points equal in both coordinates add no area, whatever their order).
fn area_sorted_by(xs: &[f64; MAUVE_POINTS + 2], ys: &[f64; MAUVE_POINTS + 2]) -> f64 {
    let before = |a: usize, b: usize| xs[a].total_cmp(&xs[b]).then_with(|| ys[b].total_cmp(&ys[a]));
    let mut order: [usize; MAUVE_POINTS + 2] = std::array::from_fn(|i| i);
    if !order.is_sorted_by(|&a, &b| before(a, b).is_le()) {
        order.reverse();
        if !order.is_sorted_by(|&a, &b| before(a, b).is_le()) {
            order.sort_by(|&a, &b| before(a, b));
        }
    }
    order.windows(2).map(|pair| (xs[pair[1]] - xs[pair[0]]) * (ys[pair[1]] + ys[pair[0]]) / 2.0).sum()
}

/// The frontier integral between two distributions, as mauve-text computes it.
pub fn frontier_integral(p: &[f64], q: &[f64]) -> f64 {
    FRONTIER_SCALING * p.iter().zip(q).map(|(&a, &b)| frontier_term(a, b, a.ln() - b.ln())).sum::<f64>()
}

/// One cell's term of the frontier integral (before the factor 2), given ln p - ln q.
pub(super) fn frontier_term(a: f64, b: f64, log_ratio: f64) -> f64 {
    if a == 0.0 && b == 0.0 {
        0.0
    } else if a == 0.0 {
        b / 4.0
    } else if b == 0.0 {
        a / 4.0
    } else if (a - b).abs() > 1e-8 {
        0.25 * (a + b) - 0.5 * a * b * log_ratio / (a - b)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(counts: &[u64]) -> Histogram {
        Histogram::from_counts(counts.to_vec())
    }

    #[test]
    fn identical_histograms_have_no_divergence_and_full_mauve() {
        let d = Divergences::between(&h(&[5, 3, 0, 2]), &h(&[10, 6, 0, 4]), Smoothing::None);
        assert_eq!((d.kl_forward, d.kl_backward, d.js, d.tv, d.frontier_integral), (0.0, 0.0, 0.0, 0.0, 0.0));
        assert!((d.mauve - 1.0).abs() < 1e-12, "{}", d.mauve);
    }

    #[test]
    fn disjoint_histograms_reach_the_bounds() {
        let d = Divergences::between(&h(&[4, 0]), &h(&[0, 7]), Smoothing::None);
        assert_eq!(d.kl_forward, f64::INFINITY, "none keeps inf");
        assert!((d.js - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(d.tv, 1.0);
        assert!((d.frontier_integral - 1.0).abs() < 1e-15);
        let smoothed = Divergences::between(&h(&[4, 0]), &h(&[0, 7]), Smoothing::Prob);
        // p' = (0.75, 0.25), q' = (0.25, 0.75): KL = 0.5 ln 3.
        assert!((smoothed.kl_forward - 0.5 * 3f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn hand_computed_two_cell_values() {
        let (p, q) = ([0.5, 0.5], [0.25, 0.75]);
        let expected_kl = 0.5 * (0.5f64 / 0.25).ln() + 0.5 * (0.5f64 / 0.75).ln();
        assert!((kl(&p, &q) - expected_kl).abs() < 1e-15);
        let m = [0.375, 0.625];
        let expected_js = 0.5 * kl(&p, &m) + 0.5 * kl(&q, &m);
        assert!((js(&p, &q) - expected_js).abs() < 1e-15);
        assert_eq!(tv(&p, &q), 0.25);
    }

    #[test]
    fn contributions_add_up_to_the_totals() {
        let (p, q) = (h(&[10, 4, 0, 1]), h(&[2, 4, 6, 3]));
        let smoothing = Smoothing::Counts(0.5);
        let c = Contributions::between(&p, &q, smoothing);
        let d = Divergences::between(&p, &q, smoothing);
        assert!((c.js.iter().sum::<f64>() - d.js).abs() < 1e-14);
        assert!((c.kl_forward.iter().sum::<f64>() - d.kl_forward).abs() < 1e-14);
        assert!((c.kl_backward.iter().sum::<f64>() - d.kl_backward).abs() < 1e-14);
    }

    #[test]
    fn linspace_matches_numpy_end_points() {
        assert_eq!(mixture_weight(0), 1e-6);
        assert_eq!(mixture_weight(24), 1.0 - 1e-6);
        assert!((mixture_weight(12) - 0.5).abs() < 1e-15);
    }
}
