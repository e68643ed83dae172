//! The calibration's second world: cluster shares drawn from their empirical-Bayes posterior, as sparse as the
//! counts say the truth may be.
//!
//! Consumes: a [`Histogram`] of one side of a comparison and a seeded RNG.
//! Produces: [`concentration`], the symmetric Dirichlet concentration alpha that best explains the counts
//! (maximum marginal likelihood of the Dirichlet-multinomial), and [`draw_shares`], one draw of the K shares from
//! the posterior Dirichlet(counts + alpha).
//! Why: [`super::calibration`]'s first world smooths every count by +0.5, so a cluster seen once or never becomes
//! one of 1.5 or 0.5 conversations. Where a side spreads most of its clusters over one or two conversations each
//! (K = 500 with 2,000 simulated conversations concentrated in a tenth of the clusters), the truth is sparser than
//! that world, and the correction's residual bias there is larger than the world shows. The posterior draws let
//! the data choose the sparsity: a side whose counts are overdispersed gets a small alpha and worlds with many
//! nearly empty clusters; an evenly spread side gets a large alpha and worlds close to its shares.
//! Cost: [`concentration`] evaluates the marginal likelihood (K log-gamma terms) about 160 times;
//! [`draw_shares`] draws K gammas.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::histogram::Histogram;

/// The smallest concentration used: below it a Gamma(alpha) draw underflows to 0 too often for the world's KL to
/// stay finite (P(G < 1e-300) is 1e-30 at 0.1).
pub const MIN_CONCENTRATION: f64 = 0.1;
/// The largest concentration searched: beyond it the prior holds the shares at 1 / K against any data simgap sees.
pub const MAX_CONCENTRATION: f64 = 1e4;

/// The alpha in [`MIN_CONCENTRATION`], [`MAX_CONCENTRATION`] that maximises the Dirichlet-multinomial marginal
/// likelihood of `histogram` under a symmetric Dirichlet(alpha) prior on its K shares: a grid of 121 points in
/// log alpha, refined by golden-section search around the best one.
pub fn concentration(histogram: &Histogram) -> f64 {
    let (low, high) = (MIN_CONCENTRATION.ln(), MAX_CONCENTRATION.ln());
    let steps = 120;
    let at = |i: usize| low + (high - low) * i as f64 / steps as f64;
    let likelihood = |log_alpha: f64| log_marginal_likelihood(histogram, log_alpha.exp());
    let best = (0..=steps).max_by(|&a, &b| likelihood(at(a)).total_cmp(&likelihood(at(b)))).unwrap_or(0);
    let (mut a, mut b) = (at(best.saturating_sub(1)), at((best + 1).min(steps)));
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
        if likelihood(c) >= likelihood(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (0.5 * (a + b)).exp().clamp(MIN_CONCENTRATION, MAX_CONCENTRATION)
}

/// log P(counts | alpha) up to the multinomial coefficient:
/// sum_k [lnG(c_k + alpha) - lnG(alpha)] + lnG(K alpha) - lnG(n + K alpha).
fn log_marginal_likelihood(histogram: &Histogram, alpha: f64) -> f64 {
    let k = histogram.k() as f64;
    let n = histogram.total() as f64;
    let clusters: f64 =
        histogram.counts.iter().filter(|&&c| c > 0).map(|&c| ln_gamma(c as f64 + alpha) - ln_gamma(alpha)).sum();
    clusters + ln_gamma(k * alpha) - ln_gamma(n + k * alpha)
}

/// One draw of the K shares from Dirichlet(counts + alpha), normalised gamma draws; a share that underflows is
/// kept at the smallest positive double so every divergence of the world stays defined.
pub fn draw_shares(histogram: &Histogram, alpha: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut shares: Vec<f64> = histogram
        .counts
        .iter()
        .map(|&c| Gamma::new(c as f64 + alpha, 1.0).map_or(0.0, |g| g.sample(rng)).max(f64::MIN_POSITIVE))
        .collect();
    let total: f64 = shares.iter().sum();
    shares.iter_mut().for_each(|s| *s /= total);
    shares
}

/// ln Gamma(x) for x > 0: the Lanczos approximation (g = 7, nine coefficients; relative error about 1e-15), with
/// the reflection-free shift ln Gamma(x) = ln Gamma(x + 1) - ln x below 0.5.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return ln_gamma(x + 1.0) - x.ln();
    }
    let x = x - 1.0;
    let series =
        COEFFICIENTS[1..].iter().enumerate().fold(COEFFICIENTS[0], |sum, (i, c)| sum + c / (x + i as f64 + 1.0));
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn ln_gamma_matches_factorials_and_the_half_integer_values() {
        let mut factorial = 1.0f64;
        for n in 1..30u32 {
            // Gamma(n + 1) = n!
            factorial *= f64::from(n);
            let value = ln_gamma(f64::from(n) + 1.0);
            assert!((value - factorial.ln()).abs() < 1e-12 * factorial.ln().max(1.0), "{n}: {value}");
        }
        // Gamma(1/2) = sqrt(pi); Gamma(0.1) = 9.513507698668732 (tables).
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(0.1) - 9.513_507_698_668_732f64.ln()).abs() < 1e-12);
        // Stirling at 1e6: (x - 1/2) ln x - x + ln(2 pi) / 2 + 1 / (12 x).
        let x = 1e6f64;
        let stirling = (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x);
        assert!((ln_gamma(x) - stirling).abs() < 1e-6, "{}", ln_gamma(x) - stirling);
    }

    /// Counts drawn from a Dirichlet(alpha)-multinomial give back an alpha near the one they were drawn with.
    #[test]
    fn the_concentration_recovers_the_alpha_the_counts_were_drawn_with() {
        for (alpha, k, n) in [(0.3, 500, 2_000), (1.0, 200, 4_000), (20.0, 100, 20_000)] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let uniform = Histogram::from_counts(vec![0; k]);
            let shares = draw_shares(&uniform, alpha, &mut rng);
            let counts = super::super::resample::multinomial(&shares, n, &mut rng);
            let estimate = concentration(&counts);
            assert!((estimate / alpha).ln().abs() < 0.35, "alpha {alpha}: estimated {estimate}");
        }
    }

    #[test]
    fn even_counts_give_a_large_concentration_and_draws_near_their_shares() {
        let even = Histogram::from_counts(vec![100; 20]);
        let alpha = concentration(&even);
        assert!(alpha > 100.0, "{alpha}");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let shares = draw_shares(&even, alpha, &mut rng);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(shares.iter().all(|s| (s - 0.05).abs() < 0.02), "{shares:?}");
    }
}
