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
pub mod comparison;
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
pub mod reading;
pub mod resample;
pub mod sample_size;
pub mod survey;
pub mod tables;
pub mod tally;
pub mod usi;
pub mod usi_interval;
pub mod usi_tables;

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

pub use comparison::{Estimate, Resampling, estimate, interval, reference_replicates};
pub use config::{CodebookMode, DivergenceConfig, DivergenceError, LogBase};
use histogram::Histogram;
use inputs::Assignments;
pub use sample_size::VALIDATED_PER_CLUSTER;
use sample_size::{Sizes, sample_size_summary};

/// What the divergence stage needs.
#[derive(Debug, Clone)]
pub struct DivergenceParams {
    pub out_dir: PathBuf,
    pub config: DivergenceConfig,
    /// `[features] lexicons`, whose stopwords the cluster words leave out.
    pub lexicons: Option<PathBuf>,
    pub progress: bool,
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

    /// Reads the earlier stages' tables in OUT (one tally of every row) and writes the divergence tables.
    pub fn run(&self) -> Result<DivergenceReport, DivergenceError> {
        self.check()?;
        let started = Instant::now();
        let cues = self.cues()?;
        let (assignments, extras, features) = reading::read(&self.out_dir, &self.reading(&cues.stopwords))?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), rows = assignments.rows(), "inputs read");
        self.write_tables(&assignments, &extras, &features, started)
    }

    /// The cue lists, whose stopwords the cluster words leave out.
    pub fn cues(&self) -> Result<crate::features::cues::Cues, DivergenceError> {
        match &self.lexicons {
            Some(path) => crate::features::cues::CueLists::with_overrides(path),
            None => Ok(crate::features::cues::CueLists::built_in()),
        }
        .and_then(|lists| lists.compile())
        .map_err(|e| DivergenceError::Config(e.to_string()))
    }

    /// What the stage's settings ask of the reading.
    pub fn reading<'a>(&'a self, stopwords: &'a rustc_hash::FxHashSet<String>) -> reading::ReadSettings<'a> {
        reading::ReadSettings {
            facets: self.config.facets.as_deref(),
            stopwords,
            explain_sample: self.config.explain_sample,
            per_pair: self.config.codebook == CodebookMode::PerPair,
            seed: self.config.seed,
        }
    }

    /// The tables of a merged tally: what [`Self::run`] writes, from any driver's partial results.
    pub fn write_from_tally(
        &self,
        plan: &tally::TallyPlan,
        tally: tally::Tally,
    ) -> Result<DivergenceReport, DivergenceError> {
        let started = Instant::now();
        let (assignments, extras, features) = tally.finish(plan);
        self.write_tables(&assignments, &extras, &features, started)
    }

    /// The statistics and every table, from what was read.
    fn write_tables(
        &self,
        assignments: &Assignments,
        extras: &inputs::ConversationExtras,
        features: &inputs::FeatureInputs,
        started: Instant,
    ) -> Result<DivergenceReport, DivergenceError> {
        let config = &self.config;
        let reference = self.reference(assignments)?;
        let mut warnings = survey_warnings(extras);

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
        let (items, estimates) = self.estimate_all(assignments, features, reference, &compared, &settings)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "divergences estimated");
        let sizes: Vec<Sizes> =
            estimates.iter().map(|e| Sizes { n_reference: e.n_reference, n_source: e.n_source, k: e.k }).collect();
        let (sources, facets) = (&assignments.sources, &assignments.facets);
        warnings.extend(sample_size_summary(&items, &sizes, sources, facets, &compared, reference));

        let context = tables::Context { out_dir: &self.out_dir, config, assignments, reference, compared: &compared };
        let mut files = vec![
            context.write_divergence(&items, &estimates)?,
            context.write_pairwise()?,
            context.write_mixtures()?,
            context.write_clusters(&features.profiles, &extras.words)?,
        ];
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "divergence tables written");
        let usi_available = features.usi.is_some();
        match &features.usi {
            Some(sides) => {
                let written =
                    context.write_usi(sides, &features.tasks, self.frozen_difficulty()?.as_ref(), &mut warnings)?;
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

    /// Every (compared source, facet) comparison's statistics, in parallel; as (items, estimates) with items
    /// (index into `compared`, facet).
    #[allow(clippy::type_complexity)]
    fn estimate_all(
        &self,
        assignments: &Assignments,
        features: &inputs::FeatureInputs,
        reference: usize,
        compared: &[usize],
        settings: &Resampling,
    ) -> Result<(Vec<(usize, usize)>, Vec<Estimate>), DivergenceError> {
        let per_pair = self.config.codebook == CodebookMode::PerPair;
        let histograms = if per_pair {
            tables::per_pair_histograms(assignments, features, reference, compared, self.config.seed)?
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
                    reference_replicates(&assignments.histograms[f][reference], settings, labels)
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
                    own = reference_replicates(p, settings, [labels[0], labels[2]]);
                    &own
                } else {
                    &shared_replicates[f]
                };
                let result = estimate(p, q, replicates, settings, labels);
                progress.inc(1);
                result
            })
            .collect();
        progress.finish_and_clear();
        Ok((items, estimates))
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
            None => only_human(sources, &assignments.kinds),
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

/// Warnings about surveys that could not be read.
fn survey_warnings(extras: &inputs::ConversationExtras) -> Vec<String> {
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
    warnings
}

/// The reference when none is configured: the only human source (its index); an error naming the sources when
/// there is none or there are several. `sources` and `kinds` are parallel.
pub fn only_human(sources: &[String], kinds: &[crate::ingest::SourceKind]) -> Result<usize, DivergenceError> {
    let humans: Vec<usize> = (0..sources.len()).filter(|&s| kinds[s] == crate::ingest::SourceKind::Human).collect();
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
