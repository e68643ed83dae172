//! Stage 4, divergence: cluster assignments -> how far each source's behaviour distribution is from the
//! reference's (KL both ways, Jensen-Shannon, TV, MAUVE, MAUVE*, frontier integral) on every facet, with bootstrap
//! intervals, the human split-half ceiling and a permutation p-value; the pairwise matrix; the best simulator
//! mixtures; cluster explanations; and the User-Sim Index.
//!
//! Consumes: `OUT/assignments.parquet` and `OUT/codebooks/` (the cluster stage), `OUT/features.parquet`,
//! `OUT/conversations.parquet`, and `[divergence]` settings ([`DivergenceConfig`]). Produces: `divergence.parquet`,
//! `pairwise.parquet`, `mixtures.parquet`, `clusters.parquet`, `usi.parquet`, `usi_features.parquet` and
//! `usi_difficulty.json` in OUT (see [`tables`] for their columns), each written through a temporary file.
//! Invariants: every divergence is computed on histograms of one codebook; JS, TV and MAUVE unsmoothed, KL with
//! the smoothing named in every row; every measure is reported as the plug-in and bias-corrected ([`jackknife`],
//! with the bias-aware interval of [`calibration`], whose coverage the simulation study of [`coverage`] measured);
//! the same inputs, settings and seed give byte-identical tables on any number of threads (every random stream is
//! keyed by what it computes, see [`resample::stream`]).
//! Cost: three streaming passes over the earlier tables, messages decoded for the `explain_sample` rows alone
//! (memory ~ 20 bytes + 4 per facet per row), then per
//! (facet, source) O((bootstrap + permutations + ceiling_splits) x K x 25) for the statistics and
//! O(3 x calibration_draws x 110 K) for the corrected intervals, in parallel over facets, sources and replicates; the
//! `per-pair` codebook adds a K = 500 k-means per (facet, simulator).

pub mod calibration;
pub mod cell_sums;
pub mod config;
pub mod coverage;
pub mod explain;
pub mod histogram;
pub mod inputs;
pub mod jackknife;
pub mod logarithm;
pub mod measures;
pub mod mixture;
pub mod posterior_world;
pub mod resample;
pub mod sample_size;
pub mod survey;
pub mod tables;
pub mod usi;
pub mod usi_interval;

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use calibration::calibrate;
use cell_sums::CellTerms;
pub use config::{CodebookMode, DivergenceConfig, DivergenceError, LogBase};
use histogram::{Histogram, Smoothing};
use inputs::{Assignments, ConversationExtras, FeatureInputs};
use jackknife::{Corrected, jackknife_all};
use measures::Divergences;
use resample::{bootstrap, quantile, stream, subsample};
pub use sample_size::VALIDATED_PER_CLUSTER;
use sample_size::{sample_size_summary, sample_size_warning};

/// What the divergence stage needs.
#[derive(Debug, Clone)]
pub struct DivergenceParams {
    pub out_dir: PathBuf,
    pub config: DivergenceConfig,
    /// `[features] lexicons`, whose stopwords the cluster words leave out.
    pub lexicons: Option<PathBuf>,
    pub progress: bool,
}

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
    let [facet, reference_name, source_name] = labels;
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
    let reference_replicates = replicates;
    let replicates: Vec<Divergences> = if empty {
        Vec::new()
    } else {
        reference_replicates
            .par_iter()
            .enumerate()
            .map(|(b, p)| {
                let label = b.to_string();
                let mut rng = stream(settings.seed, &["bootstrap", facet, reference_name, source_name, &label]);
                let q = bootstrap(source, &mut rng);
                Divergences::between(p, &q, settings.smoothing)
            })
            .collect()
    };
    // Each measure's interval over the replicates.
    let (mut lo, mut hi) = ([f64::NAN; 7], [f64::NAN; 7]);
    for (m, estimate) in point.values().into_iter().enumerate() {
        let mut values: Vec<f64> = replicates.iter().map(|d| d.values()[m]).collect();
        (lo[m], hi[m]) = interval(&mut values, estimate);
    }

    // The ceiling: the reference split in two, the smaller part the source's size (at most half).
    let half = n_source.min(n_reference / 2);
    let splits: Vec<(f64, f64)> = if half == 0 || empty {
        Vec::new()
    } else {
        (0..settings.ceiling_splits)
            .into_par_iter()
            .map(|i| {
                let label = i.to_string();
                let mut rng = stream(settings.seed, &["ceiling", facet, reference_name, source_name, &label]);
                let (part, rest) = subsample(reference, half, &mut rng);
                let terms = CellTerms { k, smoothing: Smoothing::None, with_mauve: false };
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
    let ceiling_js = summary(splits.iter().map(|s| s.0).collect());
    let ceiling_js_corrected = summary(splits.iter().map(|s| s.1).collect());

    // Permutation test: pool both, relabel at random, recompute JS.
    let p_value = (!empty && settings.permutations > 0).then(|| {
        let mut pooled = reference.clone();
        pooled.merge(source);
        let at_least: usize = (0..settings.permutations)
            .into_par_iter()
            .filter(|i| {
                let label = i.to_string();
                let mut rng = stream(settings.seed, &["permutation", facet, reference_name, source_name, &label]);
                let (a, b) = subsample(&pooled, n_reference, &mut rng);
                measures::js(&a.probabilities(), &b.probabilities()) >= point.js - 1e-12
            })
            .count();
        (1 + at_least) as f64 / (1 + settings.permutations) as f64
    });
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

/// What the divergence stage did, for the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct DivergenceReport {
    pub reference: String,
    pub sources: Vec<String>,
    pub facets: Vec<String>,
    pub codebook: CodebookMode,
    pub smoothing: String,
    pub unit: String,
    pub bootstrap: usize,
    pub permutations: usize,
    pub calibration_draws: usize,
    pub ceiling_splits: usize,
    pub usi_bootstrap: usize,
    pub seed: u64,
    pub rows: usize,
    pub sampled_for_words: u64,
    pub usi: bool,
    /// What the plug-in and corrected columns are ([`tables::ESTIMATORS`]).
    pub estimators: &'static str,
    pub warnings: Vec<String>,
    pub seconds: f64,
    pub files: Vec<PathBuf>,
}

impl DivergenceParams {
    pub fn check(&self) -> Result<(), DivergenceError> {
        for file in
            [crate::cluster::ASSIGNMENTS_FILE, crate::features::FEATURES_FILE, crate::ingest::CONVERSATIONS_FILE]
        {
            let path = self.out_dir.join(file);
            if !path.is_file() {
                return Err(DivergenceError::Config(format!(
                    "{} does not exist: run the earlier stages first (`simgap run` runs them all)",
                    path.display()
                )));
            }
        }
        self.config.check()
    }

    pub fn run(&self) -> Result<DivergenceReport, DivergenceError> {
        self.check()?;
        let started = Instant::now();
        let config = &self.config;
        let read = DivergenceError::Read;
        let assignments = Assignments::read(&self.out_dir, config.facets.as_deref())?;
        let reference = self.reference(&assignments)?;
        let cues = match &self.lexicons {
            Some(path) => crate::features::cues::CueLists::with_overrides(path),
            None => Ok(crate::features::cues::CueLists::built_in()),
        }
        .and_then(|lists| lists.compile())
        .map_err(|e| DivergenceError::Config(e.to_string()))?;
        tracing::info!(rows = assignments.rows(), facets = assignments.facets.len(), "reading conversations");
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "assignments read");
        let extras =
            ConversationExtras::read(&self.out_dir, &assignments, &cues.stopwords, config.explain_sample, config.seed)
                .map_err(read)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "conversations read");
        let per_pair = config.codebook == CodebookMode::PerPair;
        let features =
            FeatureInputs::read(&self.out_dir, &assignments, &extras, per_pair, config.seed).map_err(read)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "inputs read");
        let mut warnings = Vec::new();
        if extras.bad_survey_count > 0 {
            warnings.push(format!(
                "{} surveys are not JSON objects and were left out (first: {:?})",
                extras.bad_survey_count,
                extras.bad_surveys.first()
            ));
        }
        if extras.unreadable_answers > 0 {
            warnings.push(format!(
                "{} survey answers match no label of their question and count as skipped",
                extras.unreadable_answers
            ));
        }

        let settings = Resampling {
            smoothing: config.smoothing(),
            bootstrap: config.bootstrap,
            permutations: config.permutations,
            calibration_draws: config.calibration_draws,
            ceiling_splits: config.ceiling_splits,
            seed: config.seed,
        };
        let compared: Vec<usize> = (0..assignments.sources.len()).filter(|&s| s != reference).collect();
        if compared.is_empty() {
            warnings.push(format!(
                "{} is the only source: nothing to compare it with, so the tables have no comparison rows",
                assignments.sources[reference]
            ));
        }
        let histograms = if per_pair {
            tables::per_pair_histograms(&assignments, &features, reference, &compared, config.seed)?
        } else {
            compared
                .iter()
                .map(|&s| {
                    (0..assignments.facets.len())
                        .map(|f| (assignments.histograms[f][reference].clone(), assignments.histograms[f][s].clone()))
                        .collect()
                })
                .collect()
        };
        let progress =
            crate::progress::count_bar(self.progress, (compared.len() * assignments.facets.len()) as u64, "divergence");
        let items: Vec<(usize, usize)> =
            (0..compared.len()).flat_map(|c| (0..assignments.facets.len()).map(move |f| (c, f))).collect();
        let reference_name = assignments.sources[reference].as_str();
        // On shared codebooks every comparison of a facet resamples the same reference histogram: once per facet.
        let shared_replicates: Vec<Vec<Histogram>> = if per_pair {
            Vec::new()
        } else {
            (0..assignments.facets.len())
                .map(|f| {
                    let labels = [assignments.facets[f].as_str(), reference_name];
                    reference_replicates(&assignments.histograms[f][reference], &settings, labels)
                })
                .collect()
        };
        let estimates: Vec<Estimate> = items
            .par_iter()
            .map(|&(c, f)| {
                let (p, q) = &histograms[c][f];
                let labels =
                    [assignments.facets[f].as_str(), reference_name, assignments.sources[compared[c]].as_str()];
                let own;
                let replicates = if per_pair {
                    own = reference_replicates(p, &settings, [labels[0], labels[2]]);
                    &own
                } else {
                    &shared_replicates[f]
                };
                let result = estimate(p, q, replicates, &settings, labels);
                progress.inc(1);
                result
            })
            .collect();
        progress.finish_and_clear();
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "divergences estimated");
        warnings.extend(sample_size_summary(&items, &estimates, &assignments, &compared, reference));

        let context = tables::Context {
            out_dir: &self.out_dir,
            config,
            assignments: &assignments,
            reference,
            compared: &compared,
        };
        let write = DivergenceError::Write;
        let mut files = vec![
            context.write_divergence(&items, &estimates).map_err(write)?,
            context.write_pairwise().map_err(write)?,
            context.write_mixtures().map_err(write)?,
            context.write_clusters(&features.profiles, &extras.words).map_err(write)?,
        ];
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "divergence tables written");
        let usi_available = features.usi.is_some();
        match &features.usi {
            Some(sides) => {
                let written = context
                    .write_usi(sides, &features.tasks, self.frozen_difficulty()?.as_ref(), &mut warnings)
                    .map_err(write)?;
                files.extend(written);
            }
            None => warnings.push("features.parquet has no USI columns (facet usi): no USI tables".into()),
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(DivergenceReport {
            reference: assignments.sources[reference].clone(),
            sources: assignments.sources.clone(),
            facets: assignments.facets.clone(),
            codebook: config.codebook,
            smoothing: settings.smoothing.to_string(),
            unit: config.log_base.unit().to_owned(),
            bootstrap: config.bootstrap,
            permutations: config.permutations,
            calibration_draws: config.calibration_draws,
            ceiling_splits: config.ceiling_splits,
            usi_bootstrap: config.usi_bootstrap,
            seed: config.seed,
            rows: assignments.rows(),
            sampled_for_words: extras.sampled,
            usi: usi_available,
            estimators: tables::ESTIMATORS,
            warnings,
            seconds: started.elapsed().as_secs_f64(),
            files,
        })
    }

    /// The reference source: as configured, else the only human source.
    fn reference(&self, assignments: &Assignments) -> Result<usize, DivergenceError> {
        let sources = &assignments.sources;
        match &self.config.reference {
            Some(name) => sources.iter().position(|s| s == name).ok_or_else(|| {
                DivergenceError::Config(format!(
                    "[divergence] reference {name:?} is not a source of the assignments (they have: {})",
                    sources.join(", ")
                ))
            }),
            None => {
                let humans: Vec<usize> =
                    (0..sources.len()).filter(|&s| assignments.kinds[s] == crate::ingest::SourceKind::Human).collect();
                match humans.as_slice() {
                    [one] => Ok(*one),
                    [] => Err(DivergenceError::Config(format!(
                        "no human source to compare with (sources: {}): name one in [divergence] reference",
                        sources.join(", ")
                    ))),
                    many => Err(DivergenceError::Config(format!(
                        "several human sources ({}): name the reference in [divergence] reference",
                        many.iter().map(|&s| sources[s].as_str()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        }
    }

    fn frozen_difficulty(&self) -> Result<Option<std::collections::BTreeMap<String, f64>>, DivergenceError> {
        let Some(path) = &self.config.usi_difficulty else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| DivergenceError::Config(format!("[divergence] usi_difficulty {}: {e}", path.display())))?;
        let map: std::collections::BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|e| {
            DivergenceError::Config(format!(
                "[divergence] usi_difficulty {}: expected a JSON object of task id -> success rate: {e}",
                path.display()
            ))
        })?;
        if let Some((task, rate)) = map.iter().find(|(_, r)| !(0.0..=1.0).contains(*r)) {
            return Err(DivergenceError::Config(format!(
                "[divergence] usi_difficulty {}: task {task:?} has rate {rate}, outside [0, 1]",
                path.display()
            )));
        }
        Ok(Some(map))
    }
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

    #[test]
    fn config_rules() {
        let bad_ratio = DivergenceConfig { label_ratio: 1.0, ..Default::default() };
        assert!(bad_ratio.check().is_err());
        let empty = DivergenceConfig { facets: Some(vec![]), ..Default::default() };
        assert!(empty.check().is_err());
        let twice = DivergenceConfig { facets: Some(vec!["usi".into(), "usi".into()]), ..Default::default() };
        assert!(twice.check().is_err());
        assert_eq!(DivergenceConfig::default().smoothing(), Smoothing::Counts(0.5));
        let paper = DivergenceConfig { codebook: CodebookMode::PerPair, ..Default::default() };
        assert_eq!(paper.smoothing(), Smoothing::Prob);
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
