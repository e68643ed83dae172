//! Resampling on histograms: the bootstrap, the human split-half ceiling and the permutation test, each drawn on
//! counts in O(K) instead of over conversations in O(n).
//!
//! Consumes: [`Histogram`]s and a seeded RNG. Produces: resampled histograms whose totals are exactly conserved.
//! Why counts suffice: drawing n conversations with replacement from a source and counting their clusters is a
//! Multinomial(n, c / n) draw of the histogram ([`bootstrap`], sequential binomials); choosing m conversations
//! without replacement is a multivariate hypergeometric draw ([`subsample`], sequential hypergeometrics), which
//! gives the split halves of the ceiling and the relabelled groups of the permutation test. Every stream of random
//! numbers comes from [`stream`]: a ChaCha8 generator seeded by hashing (seed, purpose, labels), so results do not
//! depend on which thread ran what.

use std::sync::LazyLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

use super::histogram::Histogram;
use crate::hashing::mix64;

/// A generator for one named piece of work (e.g. ("bootstrap", facet, source)).
pub fn stream(seed: u64, labels: &[&str]) -> ChaCha8Rng {
    let mut hash = mix64(seed ^ 0x5167_6170_5f64_6976);
    for label in labels {
        for byte in label.bytes().chain([0xff]) {
            hash = mix64(hash ^ u64::from(byte));
        }
    }
    ChaCha8Rng::seed_from_u64(hash)
}

/// n draws with replacement from `histogram` (n = its total), as counts.
pub fn bootstrap(histogram: &Histogram, rng: &mut ChaCha8Rng) -> Histogram {
    let n = histogram.total();
    let mut counts = vec![0; histogram.k()];
    let (mut left, mut mass_left) = (n, n);
    for (i, &c) in histogram.counts.iter().enumerate() {
        if left == 0 || mass_left == 0 {
            break;
        }
        let draw = if c == mass_left {
            left
        } else if c == 0 {
            0
        } else {
            Binomial::new(left, c as f64 / mass_left as f64).map_or(0, |b| b.sample(rng))
        };
        counts[i] = draw;
        left -= draw;
        mass_left -= c;
    }
    Histogram::from_counts(counts)
}

/// n draws from the distribution `probabilities`, as counts (sequential binomials).
pub fn multinomial(probabilities: &[f64], n: u64, rng: &mut ChaCha8Rng) -> Histogram {
    let mut counts = vec![0; probabilities.len()];
    let (mut left, mut mass) = (n, 1.0);
    for (i, &p) in probabilities.iter().enumerate() {
        if left == 0 || mass <= 0.0 {
            break;
        }
        let share = (p / mass).clamp(0.0, 1.0);
        let draw =
            if i + 1 == probabilities.len() { left } else { Binomial::new(left, share).map_or(0, |b| b.sample(rng)) };
        counts[i] = draw;
        left -= draw;
        mass -= p;
    }
    Histogram::from_counts(counts)
}

/// m conversations drawn without replacement from `histogram`: (the drawn, the rest).
pub fn subsample(histogram: &Histogram, m: u64, rng: &mut ChaCha8Rng) -> (Histogram, Histogram) {
    let total = histogram.total();
    let m = m.min(total);
    let mut drawn = vec![0; histogram.k()];
    let (mut left, mut population) = (m, total);
    for (i, &c) in histogram.counts.iter().enumerate() {
        if left == 0 {
            break;
        }
        let draw = if c == population {
            left
        } else if c == 0 {
            0
        } else {
            hypergeometric(population, c, left, rng)
        };
        drawn[i] = draw;
        left -= draw;
        population -= c;
    }
    let rest = histogram.counts.iter().zip(&drawn).map(|(c, d)| c - d).collect();
    (Histogram::from_counts(drawn), Histogram::from_counts(rest))
}

/// ln k! for k below [`TABLE`], summed once (512 KiB: stays in the L2 cache).
const TABLE: usize = 1 << 16;
static LN_FACTORIALS: LazyLock<Vec<f64>> = LazyLock::new(|| {
    let mut table = vec![0.0; TABLE];
    for k in 2..table.len() {
        table[k] = table[k - 1] + (k as f64).ln();
    }
    table
});

/// ln k!: a table below 65,536, Stirling's series above (truncation error below 1e-24).
fn ln_factorial(k: u64) -> f64 {
    if k < TABLE as u64 {
        return LN_FACTORIALS[k as usize];
    }
    let x = k as f64;
    let inverse = 1.0 / x;
    let inverse2 = inverse * inverse;
    x * x.ln() - x
        + 0.5 * (std::f64::consts::TAU * x).ln()
        + inverse * (1.0 / 12.0 - inverse2 * (1.0 / 360.0 - inverse2 / 1260.0))
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// Successes among `draws` taken without replacement from `population` items of which `successes` are successes.
/// Exact inversion, searching outward from the mode (alternately below and above), so a draw costs O(1 + sd)
/// steps plus nine ln-factorials; rand_distr's sampler spends most of its time setting up per call.
pub fn hypergeometric(population: u64, successes: u64, draws: u64, rng: &mut impl Rng) -> u64 {
    let low = draws.saturating_sub(population - successes);
    let high = successes.min(draws);
    if low == high {
        return low;
    }
    let mode = (((draws + 1) as f64 * (successes + 1) as f64) / (population + 2) as f64).floor() as u64;
    let mode = mode.clamp(low, high);
    let at_mode = (ln_choose(successes, mode) + ln_choose(population - successes, draws - mode)
        - ln_choose(population, draws))
    .exp();
    // f(x + 1) / f(x) for the hypergeometric pmf f.
    let up = |x: u64| {
        ((successes - x) as f64 * (draws - x) as f64)
            / ((x + 1) as f64 * (population - successes - draws + x + 1) as f64)
    };
    let mut u: f64 = rng.r#gen::<f64>() - at_mode;
    if u <= 0.0 {
        return mode;
    }
    let (mut below, mut above) = (mode, mode);
    let (mut p_below, mut p_above) = (at_mode, at_mode);
    loop {
        let can_go_down = below > low;
        let can_go_up = above < high;
        if !can_go_down && !can_go_up {
            return mode; // the tail mass lost to rounding
        }
        if can_go_down {
            p_below /= up(below - 1);
            below -= 1;
            u -= p_below;
            if u <= 0.0 {
                return below;
            }
        }
        if can_go_up {
            p_above *= up(above);
            above += 1;
            u -= p_above;
            if u <= 0.0 {
                return above;
            }
        }
    }
}

/// The q-quantile (0..=1) of `values` by linear interpolation between order statistics (numpy's default).
/// Sorts `values`; +inf sorts last.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    let (a, b) = (values[below], values[above]);
    if below == above || a == b { a } else { a + (b - a) * (position - below as f64) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bootstrap_mean_matches_the_histogram() {
        let h = Histogram::from_counts(vec![500, 300, 0, 200]);
        let mut rng = stream(1, &["test"]);
        let mut sums = [0u64; 4];
        for _ in 0..2000 {
            let b = bootstrap(&h, &mut rng);
            assert_eq!(b.counts[2], 0, "an empty cell stays empty");
            for (s, c) in sums.iter_mut().zip(&b.counts) {
                *s += c;
            }
        }
        for (s, c) in sums.iter().zip(&h.counts) {
            assert!((*s as f64 / 2000.0 - *c as f64).abs() < 3.0, "{s} vs {c}");
        }
    }

    #[test]
    fn hypergeometric_matches_the_exact_distribution() {
        // Population 30 with 12 successes, 10 draws: compare frequencies with the exact pmf.
        let (population, successes, draws) = (30u64, 12u64, 10u64);
        let pmf = |x: u64| {
            (ln_choose(successes, x) + ln_choose(population - successes, draws - x) - ln_choose(population, draws))
                .exp()
        };
        let mut rng = stream(5, &["hypergeometric"]);
        let trials = 200_000;
        let mut counts = [0u64; 11];
        for _ in 0..trials {
            counts[hypergeometric(population, successes, draws, &mut rng) as usize] += 1;
        }
        for (x, &count) in counts.iter().enumerate() {
            let expected = pmf(x as u64) * trials as f64;
            let sd = expected.sqrt().max(1.0);
            assert!((count as f64 - expected).abs() < 5.0 * sd, "x = {x}: {count} vs {expected:.1}");
        }
        // Large parameters: mean and variance.
        let (population, successes, draws) = (2_000_000u64, 300_000u64, 700_000u64);
        let draws_taken: Vec<f64> =
            (0..20_000).map(|_| hypergeometric(population, successes, draws, &mut rng) as f64).collect();
        let mean = draws_taken.iter().sum::<f64>() / draws_taken.len() as f64;
        let variance = draws_taken.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws_taken.len() as f64;
        let (n, k, m) = (population as f64, successes as f64, draws as f64);
        let exact_mean = m * k / n;
        let exact_variance = exact_mean * (n - k) / n * (n - m) / (n - 1.0);
        assert!((mean - exact_mean).abs() < 4.0 * (exact_variance / 20_000.0).sqrt(), "{mean} vs {exact_mean}");
        assert!((variance / exact_variance - 1.0).abs() < 0.05, "{variance} vs {exact_variance}");
    }

    #[test]
    fn ln_factorial_is_continuous_at_the_table_edge() {
        let direct: f64 = (2..=70_000u64).map(|k| (k as f64).ln()).sum();
        assert!((ln_factorial(70_000) - direct).abs() / direct < 1e-13);
        assert!((ln_factorial(65_535) + (65_536f64).ln() - ln_factorial(65_536)).abs() < 1e-8);
        assert_eq!(hypergeometric(10, 10, 4, &mut stream(0, &[])), 4);
        assert_eq!(hypergeometric(10, 0, 4, &mut stream(0, &[])), 0);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        use rand::Rng;
        let a: u64 = stream(3, &["bootstrap", "usi", "sim"]).r#gen();
        assert_eq!(a, stream(3, &["bootstrap", "usi", "sim"]).r#gen::<u64>());
        assert_ne!(a, stream(3, &["bootstrap", "usi", "sim2"]).r#gen::<u64>());
        assert_ne!(a, stream(3, &["bootstrapusi", "sim"]).r#gen::<u64>());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), 2.5);
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 1.0), 4.0);
        let mut with_inf = vec![1.0, f64::INFINITY, f64::INFINITY];
        assert_eq!(quantile(&mut with_inf, 0.975), f64::INFINITY);
    }

    proptest! {
        #[test]
        fn resampling_conserves_counts(counts in prop::collection::vec(0u64..2000, 1..60), seed in 0u64..1000,
                                       share in 0.0f64..1.0) {
            let h = Histogram::from_counts(counts);
            let mut rng = stream(seed, &["prop"]);
            let b = bootstrap(&h, &mut rng);
            prop_assert_eq!(b.total(), h.total());
            for (x, c) in b.counts.iter().zip(&h.counts) {
                prop_assert!(*c > 0 || *x == 0);
            }
            let m = (h.total() as f64 * share) as u64;
            let (drawn, rest) = subsample(&h, m, &mut rng);
            prop_assert_eq!(drawn.total(), m);
            let mut back = drawn.clone();
            back.merge(&rest);
            prop_assert_eq!(back, h);
        }
    }
}
