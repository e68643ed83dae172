//! The simulation study behind the divergence intervals: distributions P and Q with known divergences, multinomial
//! samples of them, and for each estimator the coverage of its nominal 95% interval, its bias and its RMSE, plus
//! the share of permutation p-values below 0.05 when P = Q.
//!
//! Consumes: [`Cell`]s (K, the two sample sizes, a distribution shape, a target JS) and [`StudySettings`].
//! Produces: per cell an [`Outcome`]: the true value of every measure and, per [`Estimator`] and measure, coverage,
//! bias and RMSE over the repetitions. Run in full by `benches/coverage_study.rs` (table in `docs/method.md`) and
//! in a small fixed-seed version by `tests/coverage_study.rs`.
//! How: P is drawn from the cell's shape; Q = (1 - t) P + t R with R uniform over a random tenth of the clusters
//! (a simulator that over-produces a few behaviours; one cluster where that is too close to P), t found by
//! bisection so that JS(P, Q) is the target.
//! Each repetition draws n_reference and n_source conversations as counts (sequential binomials) and computes
//! every estimator on the same draw. Everything is seeded per (cell, repetition): the same seed gives the same table
//! on any number of threads.
//! Cost: per repetition, one bootstrap (B evaluations of every measure) and one jackknife (one evaluation per
//! non-empty cluster of each side); MAUVE makes an evaluation 25 K logarithms.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Gamma};
use rayon::prelude::*;

use super::calibration::{Z_95, calibrate};
use super::cell_sums::CellTerms;
use super::histogram::{Histogram, Smoothing};
use super::jackknife::{INTERVAL_MULTIPLIER, jackknife_all};
use super::measures::{self, Divergences};
use super::resample::{bootstrap, multinomial, quantile, stream, subsample};

/// The smoothing KL is estimated with in the study (simgap's default for shared codebooks).
pub const STUDY_SMOOTHING: Smoothing = Smoothing::Counts(0.5);

/// How the cluster shares of P are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Dirichlet(20): clusters of similar size, as k-means on well-spread data gives.
    Even,
    /// Dirichlet(1): uniform on the simplex; cluster sizes spread over two orders of magnitude.
    Uneven,
    /// One cluster holds half of the mass, the rest Dirichlet(1).
    Heavy,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Even => "dirichlet(20)",
            Shape::Uneven => "dirichlet(1)",
            Shape::Heavy => "one heavy cluster",
        }
    }

    fn draw(self, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let dirichlet = |alpha: f64, rng: &mut ChaCha8Rng| {
            let gamma = Gamma::new(alpha, 1.0).expect("positive shape");
            let draws: Vec<f64> = (0..k).map(|_| gamma.sample(rng).max(1e-300)).collect();
            let total: f64 = draws.iter().sum();
            draws.into_iter().map(|g| g / total).collect::<Vec<f64>>()
        };
        match self {
            Shape::Even => dirichlet(20.0, rng),
            Shape::Uneven => dirichlet(1.0, rng),
            Shape::Heavy => {
                let mut p: Vec<f64> = dirichlet(1.0, rng).into_iter().map(|x| x / 2.0).collect();
                p[0] += 0.5;
                p
            }
        }
    }
}

/// One cell of the study's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub k: usize,
    pub n_reference: u64,
    pub n_source: u64,
    pub shape: Shape,
    /// The JS (nats) that P and Q are built to have.
    pub target_js: f64,
}

impl Cell {
    /// The smaller of the two sides' conversations per cluster.
    pub fn per_cluster(&self) -> f64 {
        self.n_reference.min(self.n_source) as f64 / self.k as f64
    }

    fn label(&self) -> String {
        format!("{}-{}-{}-{:?}-{}", self.k, self.n_reference, self.n_source, self.shape, self.target_js)
    }
}

/// The interval estimators compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// The plug-in value with the bootstrap percentile interval, extended to the estimate (simgap before the study).
    PlugInPercentile,
    /// Bootstrap bias correction (2 theta - mean of the replicates) with the basic bootstrap interval.
    BootstrapBasic,
    /// The two-sample delete-one jackknife with the normal 95% multiplier: corrected value +- 1.96 jackknife SE.
    JackknifeNormal,
    /// The jackknife-corrected value +- 2.576 jackknife SE (simgap's first corrected interval).
    JackknifeWide,
    /// simgap's: the jackknife-corrected value with the bias-aware interval calibrated on simulated samples
    /// ([`super::calibration`]; TV: the plug-in's bias bound).
    Calibrated,
}

impl Estimator {
    pub const ALL: [Estimator; 5] = [
        Estimator::PlugInPercentile,
        Estimator::BootstrapBasic,
        Estimator::JackknifeNormal,
        Estimator::JackknifeWide,
        Estimator::Calibrated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Estimator::PlugInPercentile => "plug-in + percentile bootstrap",
            Estimator::BootstrapBasic => "bootstrap-corrected + basic bootstrap",
            Estimator::JackknifeNormal => "jackknife-corrected + 1.96 jackknife SE",
            Estimator::JackknifeWide => "jackknife-corrected + 2.576 jackknife SE",
            Estimator::Calibrated => "jackknife-corrected + calibrated bias-aware interval (simgap)",
        }
    }

    /// Its index in [`Estimator::ALL`] and in an [`Outcome`]'s arrays.
    pub fn index(self) -> usize {
        Estimator::ALL.iter().position(|&e| e == self).unwrap_or(0)
    }
}

/// Estimators compared.
const ESTIMATORS: usize = Estimator::ALL.len();

#[derive(Debug, Clone, Copy)]
pub struct StudySettings {
    pub repetitions: usize,
    pub bootstrap: usize,
    /// Simulated samples the calibrated interval draws ([`super::calibration`]).
    pub calibration: usize,
    /// Relabellings of the permutation test, run in cells with P = Q (0: none).
    pub permutations: usize,
    pub seed: u64,
}

/// What one cell measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub cell: Cell,
    /// The true value of each measure (MAUVE* estimates MAUVE).
    pub truth: [f64; 7],
    /// Per estimator ([`Estimator::ALL`] order) and measure.
    pub coverage: [[f64; 7]; ESTIMATORS],
    pub bias: [[f64; 7]; ESTIMATORS],
    pub rmse: [[f64; 7]; ESTIMATORS],
    /// The mean width of the interval (hi - lo).
    pub width: [[f64; 7]; ESTIMATORS],
    /// Share of permutation p-values below 0.05 (cells with P = Q).
    pub rejection_rate: Option<f64>,
}

/// P and Q of a cell, with JS(P, Q) equal to the target (to 1e-12).
pub fn distributions(cell: &Cell, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = stream(seed, &["coverage-truth", &cell.label()]);
    let p = cell.shape.draw(cell.k, &mut rng);
    if cell.target_js == 0.0 {
        return (p.clone(), p);
    }
    // R: a simulator that concentrates on a tenth of the behaviours (uniform over a random tenth of the clusters),
    // or on one, where that is not far enough from P.
    let mut clusters: Vec<usize> = (0..cell.k).collect();
    clusters.shuffle(&mut rng);
    let support = cell.k.div_ceil(10);
    let mut r = vec![0.0; cell.k];
    clusters[..support].iter().for_each(|&c| r[c] = 1.0 / support as f64);
    if measures::js(&p, &r) < cell.target_js * 1.2 {
        r = vec![0.0; cell.k];
        r[clusters[0]] = 1.0;
    }
    let mix = |t: f64| -> Vec<f64> { p.iter().zip(&r).map(|(a, b)| (1.0 - t) * a + t * b).collect() };
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..100 {
        let t = 0.5 * (lo + hi);
        if measures::js(&p, &mix(t)) < cell.target_js {
            lo = t;
        } else {
            hi = t;
        }
    }
    let q = mix(0.5 * (lo + hi));
    (p, q)
}

/// Each estimator's (value, lo, hi) per measure on one draw, and the permutation p-value.
fn one_repetition(
    cell: &Cell,
    p: &[f64],
    q: &[f64],
    settings: &StudySettings,
    repetition: usize,
) -> ([[(f64, f64, f64); 7]; ESTIMATORS], Option<f64>) {
    let label = format!("{}/{repetition}", cell.label());
    let mut rng = stream(settings.seed, &["coverage-draw", &label]);
    let (sample_p, sample_q) = (multinomial(p, cell.n_reference, &mut rng), multinomial(q, cell.n_source, &mut rng));
    let statistic = |a: &Histogram, b: &Histogram| Divergences::between(a, b, STUDY_SMOOTHING).values();
    let plug_in = statistic(&sample_p, &sample_q);
    let replicates: Vec<[f64; 7]> = (0..settings.bootstrap)
        .map(|_| statistic(&bootstrap(&sample_p, &mut rng), &bootstrap(&sample_q, &mut rng)))
        .collect();
    let terms = CellTerms { k: cell.k, smoothing: STUDY_SMOOTHING, with_mauve: true };
    let (_, jack) = jackknife_all(&sample_p, &sample_q, &terms);
    let calibrated =
        calibrate((&sample_p, &sample_q), &terms, (plug_in, jack), settings.calibration, (settings.seed, &[&label]));
    let mut out = [[(f64::NAN, f64::NAN, f64::NAN); 7]; ESTIMATORS];
    for m in 0..7 {
        let (low, high) = Divergences::RANGES[m];
        let mut values: Vec<f64> = replicates.iter().map(|r| r[m]).filter(|v| v.is_finite()).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let (q_lo, q_hi) = (quantile(&mut values, 0.025), quantile(&mut values, 0.975));
        let theta = plug_in[m];
        let clip = |x: f64| x.clamp(low, high);
        out[0][m] = (theta, q_lo.min(theta), q_hi.max(theta));
        out[1][m] = (clip(2.0 * theta - mean), clip(2.0 * theta - q_hi), clip(2.0 * theta - q_lo));
        for (e, z) in [(2, Z_95), (3, INTERVAL_MULTIPLIER)] {
            let c = jack[m].with_multiplier(z, Divergences::RANGES[m]);
            out[e][m] = (c.value, c.lo, c.hi);
        }
        out[4][m] = (calibrated[m].value, calibrated[m].lo, calibrated[m].hi);
    }
    let p_value = (cell.target_js == 0.0 && settings.permutations > 0).then(|| {
        let observed = plug_in[2];
        let mut pooled = sample_p.clone();
        pooled.merge(&sample_q);
        let at_least = (0..settings.permutations)
            .filter(|_| {
                let (a, b) = subsample(&pooled, cell.n_reference, &mut rng);
                measures::js(&a.probabilities(), &b.probabilities()) >= observed - 1e-12
            })
            .count();
        (1 + at_least) as f64 / (1 + settings.permutations) as f64
    });
    (out, p_value)
}

/// Runs one cell: every repetition in parallel, each on its own random stream.
pub fn run_cell(cell: Cell, settings: &StudySettings) -> Outcome {
    let (p, q) = distributions(&cell, settings.seed);
    let truth = measures::true_values(&p, &q);
    let results: Vec<_> =
        (0..settings.repetitions).into_par_iter().map(|r| one_repetition(&cell, &p, &q, settings, r)).collect();
    let [mut coverage, mut bias, mut rmse, mut width] = [[[0.0; 7]; ESTIMATORS]; 4];
    for e in 0..ESTIMATORS {
        for m in 0..7 {
            let usable: Vec<(f64, f64, f64)> =
                results.iter().map(|(r, _)| r[e][m]).filter(|(v, _, _)| v.is_finite()).collect();
            let count = usable.len() as f64;
            let truth = truth[m];
            coverage[e][m] =
                usable.iter().filter(|(_, lo, hi)| *lo <= truth + 1e-12 && truth - 1e-12 <= *hi).count() as f64 / count;
            bias[e][m] = usable.iter().map(|(v, _, _)| v - truth).sum::<f64>() / count;
            rmse[e][m] = (usable.iter().map(|(v, _, _)| (v - truth).powi(2)).sum::<f64>() / count).sqrt();
            width[e][m] = usable.iter().map(|(_, lo, hi)| hi - lo).sum::<f64>() / count;
        }
    }
    let p_values: Vec<f64> = results.iter().filter_map(|(_, p)| *p).collect();
    let rejection_rate =
        (!p_values.is_empty()).then(|| p_values.iter().filter(|&&p| p < 0.05).count() as f64 / p_values.len() as f64);
    Outcome { cell, truth, coverage, bias, rmse, width, rejection_rate }
}

/// The full grid of `benches/coverage_study.rs`: K 20, 50, 500; sizes 200 to 20,000, equal and unequal; true JS
/// 0 to 0.3 nats; three shapes.
pub fn full_grid() -> Vec<Cell> {
    let sizes = [(200, 200), (1000, 1000), (5000, 5000), (20_000, 20_000), (1000, 200), (20_000, 2000)];
    let mut cells = Vec::new();
    for k in [20, 50, 500] {
        for (n_reference, n_source) in sizes {
            for shape in [Shape::Even, Shape::Uneven, Shape::Heavy] {
                for target_js in [0.0, 0.02, 0.1, 0.3] {
                    cells.push(Cell { k, n_reference, n_source, shape, target_js });
                }
            }
        }
    }
    cells
}

/// One cell of the USI interval study: conversations per side and how far the simulator's feature means are from
/// the reference's (0: the same; 0.5: each mean scaled by a factor drawn from [0.5, 1.5]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsiCell {
    pub n_reference: usize,
    pub n_source: usize,
    pub spread: f64,
}

/// What the USI interval study measured in one cell: the true USI (from the true feature means), the bias of the
/// point estimate and the coverage of simgap's bootstrap percentile interval (conversations resampled within
/// each side, the interval extended to the estimate).
#[derive(Debug, Clone, Copy)]
pub struct UsiOutcome {
    pub cell: UsiCell,
    pub truth: f64,
    pub bias: f64,
    /// Of the bootstrap percentile interval (`usi_lo`, `usi_hi`).
    pub coverage: f64,
    /// Of the interval for the true USI (`usi_interval_lo`, `usi_interval_hi`).
    pub coverage_for_truth: f64,
}

/// The USI interval study: 19 per-conversation feature values drawn from Beta distributions with known means
/// (each a rate, as most USI features are; Dice is scale-free, so counts behave alike), no task ids (D1-D4 only).
pub fn usi_interval_coverage(cell: UsiCell, repetitions: usize, bootstrap: usize, seed: u64) -> UsiOutcome {
    use super::usi::{Comparison, Side, TaskScope, Tasks, USI_FEATURES, UsiRow, dice, feature_columns};
    let label = format!("{}-{}-{}", cell.n_reference, cell.n_source, cell.spread);
    let mut rng = stream(seed, &["usi-truth", &label]);
    let reference_means: [f64; USI_FEATURES] = std::array::from_fn(|_| rng.gen_range(0.05..0.5));
    let source_means: [f64; USI_FEATURES] =
        std::array::from_fn(|j| reference_means[j] * (1.0 + cell.spread * rng.gen_range(-1.0..1.0)));
    let columns = feature_columns();
    let mut sums = [0.0; 4];
    let mut counts = [0.0; 4];
    for j in 0..USI_FEATURES {
        sums[columns[j].1] += dice(reference_means[j], source_means[j]);
        counts[columns[j].1] += 1.0;
    }
    let truth = (0..4).map(|k| 100.0 * sums[k] / counts[k]).sum::<f64>() / 4.0;
    // Per repetition: the estimate, the bootstrap spread and the interval for the truth.
    type Draw = (f64, (f64, f64), (f64, f64));
    let results: Vec<Draw> = (0..repetitions)
        .into_par_iter()
        .map(|r| {
            let mut rng = stream(seed, &["usi-draw", &label, &r.to_string()]);
            let side = |name: &str, n: usize, means: &[f64; USI_FEATURES], rng: &mut ChaCha8Rng| {
                let mut side = Side::new(name, name == "sim");
                let mut tasks = Tasks::default();
                for _ in 0..n {
                    let features: [f64; USI_FEATURES] = std::array::from_fn(|j| {
                        Beta::new(2.0 * means[j], 2.0 * (1.0 - means[j])).map_or(means[j], |b| b.sample(rng))
                    });
                    let row = UsiRow { task: None, run: None, outcome: None, features, survey: None, fill_hash: 0 };
                    side.add(&row, &mut tasks);
                }
                side
            };
            let reference = side("human", cell.n_reference, &reference_means, &mut rng);
            let source = side("sim", cell.n_source, &source_means, &mut rng);
            let comparison = Comparison::new(&reference, &source, &[], 0, TaskScope::Shared);
            let score = comparison.point(0);
            let point = score.usi;
            let replicates: Vec<_> = (0..bootstrap).map(|b| comparison.replicate(seed, b, 0)).collect();
            let mut values: Vec<f64> = replicates.iter().map(|r| r.usi).collect();
            let (lo, hi) = super::comparison::interval(&mut values, point);
            let for_truth =
                super::usi_interval::interval_for_truth(&score, &replicates).unwrap_or((f64::NAN, f64::NAN));
            (point, (lo, hi), for_truth)
        })
        .collect();
    let n = results.len() as f64;
    UsiOutcome {
        cell,
        truth,
        bias: results.iter().map(|(v, _, _)| v - truth).sum::<f64>() / n,
        coverage: results.iter().filter(|(_, (lo, hi), _)| *lo <= truth && truth <= *hi).count() as f64 / n,
        coverage_for_truth: results.iter().filter(|(_, _, (lo, hi))| *lo <= truth && truth <= *hi).count() as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_hit_the_target_js() {
        for shape in [Shape::Even, Shape::Uneven, Shape::Heavy] {
            for target_js in [0.0, 0.02, 0.3] {
                let cell = Cell { k: 50, n_reference: 10, n_source: 10, shape, target_js };
                let (p, q) = distributions(&cell, 1);
                assert!((measures::js(&p, &q) - target_js).abs() < 1e-9, "{shape:?} {target_js}");
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9 && (q.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn multinomial_draws_conserve_the_total() {
        let mut rng = stream(5, &["multinomial"]);
        let h = multinomial(&[0.5, 0.0, 0.25, 0.25], 1000, &mut rng);
        assert_eq!(h.total(), 1000);
        assert_eq!(h.counts[1], 0);
    }
}
