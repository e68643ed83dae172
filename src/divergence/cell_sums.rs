//! Every measure of [`Divergences`] written as sums over clusters followed by one closing step, so that changing one
//! cluster's count changes one term of each sum.
//!
//! Consumes: per cluster, its count on each side, the two sides' totals, K and the KL smoothing ([`CellTerms`]).
//! Produces: the cluster's terms ([`SUMS`] numbers); summed over the clusters and passed to [`CellTerms::finish`],
//! the seven measures, equal to [`Divergences::between`] to rounding (tested).
//! Why: the jackknife deletes one conversation at a time and the calibration repeats the jackknife on hundreds of
//! simulated samples. Deleting a conversation renormalises its side and lowers one count, so with the terms of the
//! renormalised side at hand, every leave-one-out value costs O(SUMS) instead of a full O(SUMS K) evaluation.
//! Layout of the sums: KL(P || Q) and KL(Q || P) on the smoothed cells, JS, TV and the frontier integral on the raw
//! ones, then MAUVE's (sum p ln p, sum q ln q, and per mixture weight sum p ln r, sum q ln r), on the raw cells and
//! on the +0.5-smoothed ones (MAUVE*). Without MAUVE (`with_mauve` false) the MAUVE blocks stay 0 and the two
//! MAUVE values are NaN: 4 logarithms per cell instead of 110.

use super::histogram::{Smoothing, smoothed_cell};
use super::logarithm::ln_slice;
use super::measures::{
    Divergences, FRONTIER_SCALING, MAUVE_POINTS, frontier_term, js_term, kl_term, mauve_from_sums, mixture_weight,
};

/// Numbers in one MAUVE block: two self sums and two cross sums per mixture weight.
const MAUVE_BLOCK: usize = 2 + 2 * MAUVE_POINTS;
/// Where the MAUVE blocks start: after KL both ways, JS, TV and the frontier integral.
const MAUVE_START: usize = 5;
/// Numbers per cluster.
pub const SUMS: usize = MAUVE_START + 2 * MAUVE_BLOCK;

/// The sums of one histogram pair, or of one cluster's terms.
pub type Sums = [f64; SUMS];

/// What the terms of a cluster depend on besides its counts.
#[derive(Debug, Clone, Copy)]
pub struct CellTerms {
    pub k: usize,
    pub smoothing: Smoothing,
    pub with_mauve: bool,
}

impl CellTerms {
    /// Adds to `sums` the terms of one cluster with `count_p` of `n_p` reference and `count_q` of `n_q` source
    /// conversations.
    pub fn add(&self, (count_p, n_p): (u64, u64), (count_q, n_q): (u64, u64), sums: &mut Sums) {
        let (a, b) = (
            smoothed_cell(Smoothing::None, count_p, n_p, self.k),
            smoothed_cell(Smoothing::None, count_q, n_q, self.k),
        );
        let (sa, sb) =
            (smoothed_cell(self.smoothing, count_p, n_p, self.k), smoothed_cell(self.smoothing, count_q, n_q, self.k));
        sums[0] += kl_term(sa, sb);
        sums[1] += kl_term(sb, sa);
        sums[2] += js_term(a, b);
        sums[3] += 0.5 * (a - b).abs();
        sums[4] += frontier_term(a, b, a.ln() - b.ln());
        if self.with_mauve {
            add_mauve_terms(a, b, &mut sums[MAUVE_START..MAUVE_START + MAUVE_BLOCK]);
            let star = Smoothing::Counts(0.5);
            let (ta, tb) = (smoothed_cell(star, count_p, n_p, self.k), smoothed_cell(star, count_q, n_q, self.k));
            add_mauve_terms(ta, tb, &mut sums[MAUVE_START + MAUVE_BLOCK..]);
        }
    }

    /// The sums of every cluster of two count vectors.
    pub fn total(&self, p: &[u64], q: &[u64]) -> Sums {
        let (n_p, n_q) = (p.iter().sum(), q.iter().sum());
        let mut sums = [0.0; SUMS];
        for (&count_p, &count_q) in p.iter().zip(q) {
            self.add((count_p, n_p), (count_q, n_q), &mut sums);
        }
        sums
    }

    /// The seven measures ([`Divergences::NAMES`] order) from the summed terms.
    pub fn finish(&self, sums: &Sums) -> [f64; 7] {
        let mauve_of = |block: &[f64]| -> f64 {
            let cross_p: [f64; MAUVE_POINTS] = std::array::from_fn(|i| block[2 + i]);
            let cross_q: [f64; MAUVE_POINTS] = std::array::from_fn(|i| block[2 + MAUVE_POINTS + i]);
            mauve_from_sums(block[0], block[1], &cross_p, &cross_q)
        };
        let (mauve, mauve_star) = if self.with_mauve {
            (mauve_of(&sums[MAUVE_START..MAUVE_START + MAUVE_BLOCK]), mauve_of(&sums[MAUVE_START + MAUVE_BLOCK..]))
        } else {
            (f64::NAN, f64::NAN)
        };
        let kl = |x: f64| if x.is_nan() { x } else { x.max(0.0) };
        [
            kl(sums[0]),
            kl(sums[1]),
            sums[2].clamp(0.0, Divergences::RANGES[2].1),
            sums[3],
            mauve,
            mauve_star,
            FRONTIER_SCALING * sums[4],
        ]
    }
}

/// One cell's terms of a MAUVE block: a ln a, b ln b, then a ln r and b ln r per mixture weight.
fn add_mauve_terms(a: f64, b: f64, block: &mut [f64]) {
    if a == 0.0 && b == 0.0 {
        return;
    }
    let x_ln_y = |x: f64, y: f64| if x > 0.0 { x * y.ln() } else { 0.0 };
    block[0] += x_ln_y(a, a);
    block[1] += x_ln_y(b, b);
    let mixture: [f64; MAUVE_POINTS] = std::array::from_fn(|step| {
        let w = mixture_weight(step);
        w * a + (1.0 - w) * b
    });
    let mut ln_mixture = [0.0; MAUVE_POINTS];
    ln_slice(&mixture, &mut ln_mixture);
    for (step, ln_r) in ln_mixture.into_iter().enumerate() {
        if a > 0.0 {
            block[2 + step] += a * ln_r;
        }
        if b > 0.0 {
            block[2 + MAUVE_POINTS + step] += b * ln_r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::divergence::histogram::Histogram;

    #[test]
    fn the_summed_terms_give_every_measure() {
        let (p, q) = (vec![12, 0, 5, 1, 30, 0], vec![3, 4, 0, 9, 2, 0]);
        for smoothing in [Smoothing::None, Smoothing::Counts(0.5), Smoothing::Prob] {
            let terms = CellTerms { k: p.len(), smoothing, with_mauve: true };
            let fast = terms.finish(&terms.total(&p, &q));
            let full =
                Divergences::between(&Histogram::from_counts(p.clone()), &Histogram::from_counts(q.clone()), smoothing)
                    .values();
            for m in 0..7 {
                let (a, b) = (fast[m], full[m]);
                assert!(a == b || (a - b).abs() < 1e-12, "{} under {smoothing}: {a} vs {b}", Divergences::NAMES[m]);
            }
        }
        let without = CellTerms { k: p.len(), smoothing: Smoothing::None, with_mauve: false };
        let values = without.finish(&without.total(&p, &q));
        assert!(values[4].is_nan() && values[5].is_nan() && values[2] > 0.0);
    }
}
