//! The divergence stage's output tables, one function each, and the per-pair protocol's histograms.
//!
//! Consumes: the stage's inputs and estimates. Produces, in OUT:
//! - `divergence.parquet`: per (facet, reference, source): sizes, k, smoothing, unit, every divergence's plug-in
//!   value with `_lo` and `_hi` (the bootstrap percentiles of the plug-in: its spread, biased like it) and its
//!   bias-corrected estimate `_corrected` with the 95% interval `_corrected_lo` / `_corrected_hi` (the jackknife,
//!   [`super::jackknife`]; `estimator` names both), `js_normalized` (JS / ln 2, both ways), `js_distance`, the human
//!   split-half ceiling (`human_ceiling_js`, plug-in, and `human_ceiling_js_corrected`, unclipped, so about 0 and
//!   possibly below, each with its 2.5 / 97.5 percentiles over the splits), `js_above_ceiling` (corrected JS minus
//!   the corrected ceiling, with the corrected JS's interval shifted by it), `p_value`, `warning`.
//! - `pairwise.parquet`: per facet and ordered pair of sources (diagonal included): JS, KL both ways, TV, each
//!   plug-in and jackknife-corrected with its 95% interval.
//! - `mixtures.parquet`: per facet, the best single simulator, the best pair and the best full mixture.
//! - `clusters.parquet`: per (facet, cluster, source): count, share, the reference's share, label, JS term, the
//!   cluster's extreme features (z-scores), top words and example user turns.
//! - `usi.parquet`, `usi_features.parquet`, `usi_difficulty.json` ([`super::usi_tables`]).
//!   KL and JS are in the unit of `log_base`; MAUVE, MAUVE* and the frontier integral as mauve-text reports them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::calibration::calibrate;
use super::cell_sums::CellTerms;
use super::comparison::Estimate;
use super::config::{DivergenceConfig, DivergenceError};
use super::explain::{ClusterWords, FeatureProfile, label};
use super::histogram::Histogram;
use super::inputs::{Assignments, FeatureInputs};
use super::jackknife::{Corrected, jackknife_all};
use super::measures::{Contributions, Divergences, js, kl};
use super::mixture;
use crate::ingest::SourceKind;
use crate::table::TableBuilder;

pub const DIVERGENCE_FILE: &str = "divergence.parquet";
pub const PAIRWISE_FILE: &str = "pairwise.parquet";
pub const MIXTURES_FILE: &str = "mixtures.parquet";
pub const CLUSTERS_FILE: &str = "clusters.parquet";
pub const USI_FILE: &str = "usi.parquet";
pub const USI_FEATURES_FILE: &str = "usi_features.parquet";
pub const USI_DIFFICULTY_FILE: &str = "usi_difficulty.json";
/// What the `estimator` column and the tables' `simgap.estimators` metadata say.
pub const ESTIMATORS: &str = "plug-in with bootstrap percentile bounds (_lo, _hi: the plug-in's spread); \
    _corrected: two-sample delete-one jackknife bias correction with a bias-aware 95% interval calibrated on \
    simulated samples (TV: the plug-in minus its simulated bias, interval from the plug-in's bias bound), clipped \
    to the measure's range (coverage measured by simulation: docs/method.md)";

/// Histograms (reference, source) per compared source and facet under the per-pair protocol: a codebook fitted on
/// the two sources' rows of the facet together; rows without any value in the facet are left out, as in the
/// shared fit.
pub fn per_pair_histograms(
    assignments: &Assignments,
    features: &FeatureInputs,
    reference: usize,
    compared: &[usize],
    seed: u64,
) -> Result<Vec<Vec<(Histogram, Histogram)>>, DivergenceError> {
    let matrices = features.matrices.as_ref().expect("per-pair reads the matrices");
    let with_values = |facet: usize, source: usize| -> ndarray::Array2<f64> {
        let d = features.matrix_columns[facet].len();
        let data = &matrices[facet][source];
        let rows: Vec<&[f64]> = data.chunks(d.max(1)).filter(|r| r.iter().any(|v| !v.is_nan())).collect();
        ndarray::Array2::from_shape_fn((rows.len(), d), |(i, j)| rows[i][j])
    };
    let mut out = Vec::new();
    for &source in compared {
        let mut per_facet = Vec::new();
        for facet in 0..assignments.facets.len() {
            let (p, q) = (with_values(facet, reference), with_values(facet, source));
            let (name, source_name) = (&assignments.facets[facet], &assignments.sources[source]);
            if p.nrows() == 0 || q.nrows() == 0 {
                per_facet.push((Histogram::zeros(1), Histogram::zeros(1)));
                continue;
            }
            tracing::info!(facet = name.as_str(), source = source_name.as_str(), "per-pair codebook");
            let (codebook, p_labels, q_labels) = crate::cluster::codebook::fit_pair(
                name,
                features.matrix_columns[facet].clone(),
                ArrayView2::from(&p),
                ArrayView2::from(&q),
                seed,
            )
            .map_err(|e| DivergenceError::KMeans {
                facet: name.clone(),
                source_name: source_name.clone(),
                source: e,
            })?;
            let histogram = |labels: &[u32]| {
                let mut h = Histogram::zeros(codebook.k);
                labels.iter().for_each(|&l| h.add(l as usize));
                h
            };
            per_facet.push((histogram(&p_labels), histogram(&q_labels)));
        }
        out.push(per_facet);
    }
    Ok(out)
}

/// What every table writer reads.
pub struct Context<'a> {
    pub out_dir: &'a Path,
    pub config: &'a DivergenceConfig,
    pub assignments: &'a Assignments,
    pub reference: usize,
    pub compared: &'a [usize],
}

pub(super) fn metadata(config: &DivergenceConfig) -> Vec<(&'static str, String)> {
    vec![
        ("simgap.smoothing", config.smoothing().to_string()),
        ("simgap.unit", config.log_base.unit().to_owned()),
        ("simgap.seed", config.seed.to_string()),
        ("simgap.estimators", ESTIMATORS.to_owned()),
    ]
}

impl Context<'_> {
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.out_dir.join(name)
    }

    pub(super) fn kind(&self, source: usize) -> &'static str {
        match self.assignments.kinds[source] {
            SourceKind::Human => "human",
            SourceKind::Simulator => "simulator",
        }
    }

    pub fn write_divergence(
        &self,
        items: &[(usize, usize)],
        estimates: &[Estimate],
    ) -> Result<PathBuf, DivergenceError> {
        let (config, a) = (self.config, self.assignments);
        let unit = config.log_base;
        let normalized = |d: &Divergences| d.js / std::f64::consts::LN_2;
        let mut table = TableBuilder::new()
            .text("facet", items.iter().map(|&(_, f)| a.facets[f].as_str()))
            .text("reference", items.iter().map(|_| a.sources[self.reference].as_str()))
            .text("source", items.iter().map(|&(c, _)| a.sources[self.compared[c]].as_str()))
            .text("kind", items.iter().map(|&(c, _)| self.kind(self.compared[c])))
            .unsigned("n_reference", estimates.iter().map(|e| e.n_reference))
            .unsigned("n_source", estimates.iter().map(|e| e.n_source))
            .unsigned("k", estimates.iter().map(|e| e.k as u64))
            .text("smoothing", estimates.iter().map(|_| config.smoothing().to_string()))
            .text("unit", estimates.iter().map(|_| unit.unit()));
        for (m, name) in Divergences::NAMES.into_iter().enumerate() {
            let in_unit = Divergences::IN_LOG_UNIT[m];
            let convert = |x: f64| if in_unit { unit.convert(x) } else { x };
            let value = |d: &Divergences| convert(d.values()[m]);
            table = table
                .float(name, estimates.iter().map(|e| value(&e.point)))
                .float(&format!("{name}_lo"), estimates.iter().map(|e| value(&e.lo)))
                .float(&format!("{name}_hi"), estimates.iter().map(|e| value(&e.hi)))
                .float(&format!("{name}_corrected"), estimates.iter().map(|e| convert(e.corrected[m].value)))
                .float(&format!("{name}_corrected_lo"), estimates.iter().map(|e| convert(e.corrected[m].lo)))
                .float(&format!("{name}_corrected_hi"), estimates.iter().map(|e| convert(e.corrected[m].hi)));
            if name == "js" {
                let corrected = |e: &Estimate| e.corrected[2];
                let ln2 = std::f64::consts::LN_2;
                table = table
                    .float("js_normalized", estimates.iter().map(|e| normalized(&e.point)))
                    .float("js_normalized_lo", estimates.iter().map(|e| normalized(&e.lo)))
                    .float("js_normalized_hi", estimates.iter().map(|e| normalized(&e.hi)))
                    .float("js_normalized_corrected", estimates.iter().map(|e| corrected(e).value / ln2))
                    .float("js_normalized_corrected_lo", estimates.iter().map(|e| corrected(e).lo / ln2))
                    .float("js_normalized_corrected_hi", estimates.iter().map(|e| corrected(e).hi / ln2))
                    .float("js_distance", estimates.iter().map(|e| normalized(&e.point).sqrt()));
            }
        }
        // What is left of the JS once the ceiling's sampling noise is taken off: the corrected JS minus the
        // corrected ceiling's mean, its interval the corrected JS's shifted by the same amount.
        let above = |e: &Estimate, x: f64| unit.convert(x - e.ceiling_js_corrected[0]);
        let table = table
            .text("estimator", estimates.iter().map(|_| ESTIMATORS))
            .float("human_ceiling_js", estimates.iter().map(|e| unit.convert(e.ceiling_js[0])))
            .float("human_ceiling_js_lo", estimates.iter().map(|e| unit.convert(e.ceiling_js[1])))
            .float("human_ceiling_js_hi", estimates.iter().map(|e| unit.convert(e.ceiling_js[2])))
            .float("human_ceiling_js_corrected", estimates.iter().map(|e| unit.convert(e.ceiling_js_corrected[0])))
            .float("human_ceiling_js_corrected_lo", estimates.iter().map(|e| unit.convert(e.ceiling_js_corrected[1])))
            .float("human_ceiling_js_corrected_hi", estimates.iter().map(|e| unit.convert(e.ceiling_js_corrected[2])))
            .float("js_above_ceiling", estimates.iter().map(|e| above(e, e.corrected[2].value)))
            .float("js_above_ceiling_lo", estimates.iter().map(|e| above(e, e.corrected[2].lo)))
            .float("js_above_ceiling_hi", estimates.iter().map(|e| above(e, e.corrected[2].hi)))
            .float("p_value", estimates.iter().map(|e| e.p_value.unwrap_or(f64::NAN)))
            .optional_text("warning", estimates.iter().map(|e| e.warning.clone()));
        let path = self.path(DIVERGENCE_FILE);
        table.write(&path, &metadata(config))?;
        Ok(path)
    }

    pub fn write_pairwise(&self) -> Result<PathBuf, DivergenceError> {
        let a = self.assignments;
        let (unit, smoothing) = (self.config.log_base, self.config.smoothing());
        let sources = a.sources.len();
        let mut rows: Vec<(usize, usize, usize)> = Vec::new();
        for f in 0..a.facets.len() {
            for x in 0..sources {
                for y in 0..sources {
                    rows.push((f, x, y));
                }
            }
        }
        // Per pair: (plug-in, corrected) of JS, KL(a || b), KL(b || a), TV. A source against itself is one sample,
        // not two: its corrected values are the plug-in's 0.
        let values: Vec<[(f64, Corrected); 4]> = rows
            .par_iter()
            .map(|&(f, x, y)| {
                let (p, q) = (&a.histograms[f][x], &a.histograms[f][y]);
                if p.total() == 0 || q.total() == 0 {
                    return [(f64::NAN, Corrected::MISSING); 4];
                }
                let (sp, sq) = (p.smoothed(smoothing), q.smoothed(smoothing));
                let (rp, rq) = (p.probabilities(), q.probabilities());
                let plug_in = [js(&rp, &rq), kl(&sp, &sq), kl(&sq, &sp), super::measures::tv(&rp, &rq)];
                if x == y {
                    return plug_in.map(|v| (v, Corrected { value: v, se: 0.0, lo: v, hi: v, unclipped: v }));
                }
                let terms = CellTerms { k: p.k(), smoothing, with_mauve: false };
                let jack = jackknife_all(p, q, &terms);
                let labels = [a.facets[f].as_str(), a.sources[x].as_str(), a.sources[y].as_str(), "pairwise"];
                let all = calibrate((p, q), &terms, jack, self.config.calibration_draws, (self.config.seed, &labels));
                // JS, KL(a || b), KL(b || a), TV.
                let corrected = [all[2], all[0], all[1], all[3]];
                std::array::from_fn(|m| (plug_in[m], corrected[m]))
            })
            .collect();
        let path = self.path(PAIRWISE_FILE);
        let mut table = TableBuilder::new()
            .text("facet", rows.iter().map(|r| a.facets[r.0].as_str()))
            .text("source_a", rows.iter().map(|r| a.sources[r.1].as_str()))
            .text("source_b", rows.iter().map(|r| a.sources[r.2].as_str()))
            .unsigned("n_a", rows.iter().map(|r| a.histograms[r.0][r.1].total()))
            .unsigned("n_b", rows.iter().map(|r| a.histograms[r.0][r.2].total()))
            .text("smoothing", rows.iter().map(|_| smoothing.to_string()))
            .text("unit", rows.iter().map(|_| unit.unit()))
            .float("js", values.iter().map(|v| unit.convert(v[0].0)))
            .float("js_normalized", values.iter().map(|v| v[0].0 / std::f64::consts::LN_2))
            .float("kl_a_b", values.iter().map(|v| unit.convert(v[1].0)))
            .float("kl_b_a", values.iter().map(|v| unit.convert(v[2].0)))
            .float("tv", values.iter().map(|v| v[3].0));
        for (m, name) in ["js", "kl_a_b", "kl_b_a", "tv"].into_iter().enumerate() {
            let convert = |x: f64| if name == "tv" { x } else { unit.convert(x) };
            table = table
                .float(&format!("{name}_corrected"), values.iter().map(|v| convert(v[m].1.value)))
                .float(&format!("{name}_corrected_lo"), values.iter().map(|v| convert(v[m].1.lo)))
                .float(&format!("{name}_corrected_hi"), values.iter().map(|v| convert(v[m].1.hi)));
        }
        table.write(&path, &metadata(self.config))?;
        Ok(path)
    }

    pub fn write_mixtures(&self) -> Result<PathBuf, DivergenceError> {
        let a = self.assignments;
        let unit = self.config.log_base;
        let mut rows: Vec<(usize, &'static str, mixture::Mixture, Vec<usize>)> = Vec::new();
        for f in 0..a.facets.len() {
            let reference = &a.histograms[f][self.reference];
            let candidates: Vec<usize> = self
                .compared
                .iter()
                .copied()
                .filter(|&s| a.kinds[s] == SourceKind::Simulator && a.histograms[f][s].total() > 0)
                .collect();
            if reference.total() == 0 || candidates.is_empty() {
                continue;
            }
            let p = reference.probabilities();
            let distributions: Vec<Vec<f64>> = candidates.iter().map(|&s| a.histograms[f][s].probabilities()).collect();
            let views: Vec<&[f64]> = distributions.iter().map(Vec::as_slice).collect();
            let found = [
                ("best single", mixture::best_single(&p, &views)),
                ("best pair", mixture::best_pair(&p, &views)),
                ("best mixture", mixture::best_full(&p, &views)),
            ];
            for (name, result) in found {
                if let Some(m) = result {
                    rows.push((f, name, m, candidates.clone()));
                }
            }
        }
        let path = self.path(MIXTURES_FILE);
        TableBuilder::new()
            .text("facet", rows.iter().map(|r| a.facets[r.0].as_str()))
            .text("reference", rows.iter().map(|_| a.sources[self.reference].as_str()))
            .text("mixture", rows.iter().map(|r| r.1))
            .text_list("sources", rows.iter().map(|r| r.2.members.iter().map(|&m| a.sources[r.3[m]].clone()).collect()))
            .float_list("weights", rows.iter().map(|r| r.2.weights.clone()))
            .text("unit", rows.iter().map(|_| unit.unit()))
            .float("js", rows.iter().map(|r| unit.convert(r.2.js)))
            .float("js_normalized", rows.iter().map(|r| r.2.js / std::f64::consts::LN_2))
            .float("duality_gap", rows.iter().map(|r| unit.convert(r.2.gap)))
            .write(&path, &metadata(self.config))?;
        Ok(path)
    }

    pub fn write_clusters(
        &self,
        profiles: &[FeatureProfile],
        words: &[ClusterWords],
    ) -> Result<PathBuf, DivergenceError> {
        let a = self.assignments;
        let unit = self.config.log_base;
        struct Row {
            facet: usize,
            cluster: usize,
            source: usize,
            count: u64,
            share: f64,
            reference_share: f64,
            label: Option<&'static str>,
            js_term: f64,
        }
        let mut rows: Vec<Row> = Vec::new();
        let mut extremes: BTreeMap<(usize, usize), Vec<(String, f64)>> = BTreeMap::new();
        let mut top_words: Vec<Vec<Vec<String>>> = Vec::new();
        for f in 0..a.facets.len() {
            let k = a.codebooks[f].centroids.len();
            top_words.push(words[f].top_words());
            let reference = &a.histograms[f][self.reference];
            let reference_p = reference.probabilities();
            for source in 0..a.sources.len() {
                let histogram = &a.histograms[f][source];
                let terms = Contributions::between(reference, histogram, self.config.smoothing());
                let shares = histogram.probabilities();
                for cluster in 0..k {
                    let is_reference = source == self.reference;
                    rows.push(Row {
                        facet: f,
                        cluster,
                        source,
                        count: histogram.counts[cluster],
                        share: shares[cluster],
                        reference_share: reference_p[cluster],
                        label: if is_reference || histogram.total() == 0 {
                            None
                        } else {
                            label(reference_p[cluster], shares[cluster], self.config.label_ratio)
                        },
                        js_term: if histogram.total() == 0 { f64::NAN } else { unit.convert(terms.js[cluster]) },
                    });
                }
            }
            for (cluster, of_cluster) in profiles[f].all_extremes().into_iter().enumerate() {
                extremes.insert((f, cluster), of_cluster);
            }
        }
        let path = self.path(CLUSTERS_FILE);
        TableBuilder::new()
            .text("facet", rows.iter().map(|r| a.facets[r.facet].as_str()))
            .unsigned("k", rows.iter().map(|r| a.codebooks[r.facet].centroids.len() as u64))
            .unsigned("cluster", rows.iter().map(|r| r.cluster as u64))
            .text("source", rows.iter().map(|r| a.sources[r.source].as_str()))
            .text("kind", rows.iter().map(|r| self.kind(r.source)))
            .unsigned("count", rows.iter().map(|r| r.count))
            .float("share", rows.iter().map(|r| r.share))
            .float("reference_share", rows.iter().map(|r| r.reference_share))
            .optional_text("label", rows.iter().map(|r| r.label.map(str::to_owned)))
            .float("js_term", rows.iter().map(|r| r.js_term))
            .text_list(
                "extreme_features",
                rows.iter().map(|r| extremes[&(r.facet, r.cluster)].iter().map(|(n, _)| n.clone()).collect()),
            )
            .float_list(
                "extreme_z",
                rows.iter().map(|r| extremes[&(r.facet, r.cluster)].iter().map(|(_, z)| *z).collect()),
            )
            .text_list("top_words", rows.iter().map(|r| top_words[r.facet][r.cluster].clone()))
            .text_list("example_turns", rows.iter().map(|r| words[r.facet].examples(r.cluster)))
            .write(&path, &metadata(self.config))?;
        Ok(path)
    }
}
