//! The divergence stage's tables read back for the report: one plain struct per row.
//!
//! Consumes: `OUT/divergence.parquet`, `pairwise.parquet`, `mixtures.parquet`, `clusters.parquet`, `usi.parquet`,
//! `usi_features.parquet` and `manifest.json`, and `history.parquet` where a nightly run wrote one. Produces:
//! [`ReportData`], and which sources the figures, the pairwise matrix and the cluster explanations show when there
//! are more than [`SHOWN_SOURCES`] ([`ReportData::shown_sources`], [`left_out_note`]). Numbers without a value
//! (null) read as NaN. The tables are small (rows per facet x source), so they are read whole.

use std::collections::BTreeMap;
use std::path::Path;

use super::columns::Columns;
use super::error::ReadError;
use crate::divergence::tables::{
    CLUSTERS_FILE, DIVERGENCE_FILE, MIXTURES_FILE, PAIRWISE_FILE, USI_FEATURES_FILE, USI_FILE,
};

/// The most sources a figure, the pairwise matrix or the cluster explanations show: beyond it they stop being
/// readable (a 200-source heatmap is 40,000 cells) and the page grows by megabytes; the tables list every source and
/// the Parquet files hold everything.
pub const SHOWN_SOURCES: usize = 20;

/// The sentence a caption (figure, pairwise table, explanations) gets when [`ReportData::shown_sources`] left
/// `left_out` sources out: which are shown and where the others are.
pub fn left_out_note(left_out: usize, file: &str) -> String {
    if left_out == 0 {
        return String::new();
    }
    format!(
        " Of {} sources, the reference and the {} simulators closest to it on the headline facet are shown; the other \
         {left_out} are in {file}.",
        SHOWN_SOURCES + left_out,
        SHOWN_SOURCES - 1
    )
}

/// A value with its 95% interval (the plug-in's bootstrap percentiles, or a corrected estimate's interval).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounded {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One row of `divergence.parquet`.
#[derive(Debug, Clone)]
pub struct DivergenceRow {
    pub facet: String,
    pub reference: String,
    pub source: String,
    pub kind: String,
    pub n_reference: u64,
    pub n_source: u64,
    pub k: u64,
    pub smoothing: String,
    pub unit: String,
    pub kl_forward: Bounded,
    pub kl_backward: Bounded,
    pub js: Bounded,
    pub js_normalized: Bounded,
    pub tv: Bounded,
    pub mauve: Bounded,
    pub mauve_star: Bounded,
    pub frontier_integral: Bounded,
    pub human_ceiling_js: Bounded,
    /// The bias-corrected estimates and their 95% intervals (`*_corrected` columns).
    pub corrected: CorrectedRow,
    pub human_ceiling_js_corrected: Bounded,
    pub js_above_ceiling: Bounded,
    pub p_value: f64,
    pub warning: Option<String>,
}

/// The `*_corrected` columns of one row of `divergence.parquet`.
#[derive(Debug, Clone)]
pub struct CorrectedRow {
    pub kl_forward: Bounded,
    pub kl_backward: Bounded,
    pub js: Bounded,
    pub tv: Bounded,
    pub mauve: Bounded,
    pub mauve_star: Bounded,
    pub frontier_integral: Bounded,
}

/// One row of `pairwise.parquet`.
#[derive(Debug, Clone)]
pub struct PairRow {
    pub facet: String,
    pub source_a: String,
    pub source_b: String,
    pub js: f64,
    pub kl_a_b: f64,
    pub kl_b_a: f64,
}

/// One row of `mixtures.parquet`.
#[derive(Debug, Clone)]
pub struct MixtureRow {
    pub facet: String,
    pub mixture: String,
    pub sources: Vec<String>,
    pub weights: Vec<f64>,
    pub js: f64,
}

/// One row of `clusters.parquet`.
#[derive(Debug, Clone)]
pub struct ClusterRow {
    pub facet: String,
    pub k: u64,
    pub cluster: u64,
    pub source: String,
    pub kind: String,
    pub count: u64,
    pub share: f64,
    pub reference_share: f64,
    pub label: Option<String>,
    pub js_term: f64,
    pub extreme_features: Vec<String>,
    pub extreme_z: Vec<f64>,
    pub top_words: Vec<String>,
    pub example_turns: Vec<String>,
}

/// One row of `usi.parquet`.
#[derive(Debug, Clone)]
pub struct UsiRow {
    pub source: String,
    pub reference: String,
    pub n_reference: u64,
    pub n_source: u64,
    pub d: [f64; 4],
    pub eval: f64,
    pub ece: f64,
    pub usi: Bounded,
    pub usi_terms: u64,
    pub human_ceiling_usi: f64,
    pub note: String,
}

/// One row of `usi_features.parquet`.
#[derive(Debug, Clone)]
pub struct UsiFeatureRow {
    pub source: String,
    pub feature: String,
    pub dimension: String,
    pub reference_mean: f64,
    pub source_mean: f64,
    pub dice: f64,
}

/// Everything the report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub divergence: Vec<DivergenceRow>,
    pub pairwise: Vec<PairRow>,
    pub mixtures: Vec<MixtureRow>,
    pub clusters: Vec<ClusterRow>,
    pub usi: Vec<UsiRow>,
    pub usi_features: Vec<UsiFeatureRow>,
    /// `OUT/manifest.json` (Null when absent).
    pub manifest: serde_json::Value,
    /// `OUT/history.parquet`: the headline numbers of every night recorded (empty when absent).
    pub history: Vec<super::history::record::HistoryRow>,
}

impl ReportData {
    /// The reference source (the same in every row).
    pub fn reference(&self) -> Option<&str> {
        self.divergence.first().map(|r| r.reference.as_str()).or(self.usi.first().map(|r| r.reference.as_str()))
    }

    /// Facets in table order.
    pub fn facets(&self) -> Vec<String> {
        let mut facets: Vec<String> = Vec::new();
        for row in &self.divergence {
            if !facets.contains(&row.facet) {
                facets.push(row.facet.clone());
            }
        }
        facets
    }

    /// Every source in the one order every table and figure uses: the reference first, then the simulators closest
    /// to it on the headline facet (corrected JS; a simulator without a value last), ties in table order; sources
    /// only the USI table names follow.
    pub fn sources(&self) -> Vec<String> {
        let mut simulators: Vec<String> = Vec::new();
        let reference = self.reference().unwrap_or_default();
        let named = self.divergence.iter().map(|r| &r.source).chain(self.usi.iter().map(|r| &r.source));
        for source in named {
            if source != reference && !simulators.contains(source) {
                simulators.push(source.clone());
            }
        }
        let headline = self.headline_facet().unwrap_or_default();
        let js: BTreeMap<&str, f64> = self
            .divergence
            .iter()
            .filter(|r| r.facet == headline)
            .map(|r| (r.source.as_str(), r.corrected.js.value))
            .collect();
        let distance = |s: &String| js.get(s.as_str()).copied().filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
        simulators.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
        let mut sources: Vec<String> = self.reference().map(str::to_owned).into_iter().collect();
        sources.extend(simulators);
        sources
    }

    /// The position of `source` in [`ReportData::sources`] (after every source for a name it does not hold).
    pub fn source_rank(&self) -> impl Fn(&str) -> usize + use<> {
        let order: BTreeMap<String, usize> = self.sources().into_iter().enumerate().map(|(i, s)| (s, i)).collect();
        move |source| order.get(source).copied().unwrap_or(usize::MAX)
    }

    /// What a figure, the pairwise matrix or the cluster explanations show: the first [`SHOWN_SOURCES`] of
    /// [`ReportData::sources`] (the reference and the simulators closest to it), and how many were left out.
    pub fn shown_sources(&self) -> (Vec<String>, usize) {
        let mut sources = self.sources();
        let left_out = sources.len().saturating_sub(SHOWN_SOURCES);
        sources.truncate(SHOWN_SOURCES);
        (sources, left_out)
    }

    /// The headline facet: `all` when present, else the first.
    pub fn headline_facet(&self) -> Option<String> {
        let facets = self.facets();
        facets.iter().find(|f| *f == crate::cluster::ALL_FACET).or(facets.first()).cloned()
    }

    /// Reads every table in `out_dir`.
    pub fn read(out_dir: &Path) -> Result<Self, ReadError> {
        let (usi, usi_features) = if out_dir.join(USI_FILE).is_file() {
            (read_usi(&out_dir.join(USI_FILE))?, read_usi_features(&out_dir.join(USI_FEATURES_FILE))?)
        } else {
            (Vec::new(), Vec::new())
        };
        let manifest = std::fs::read(out_dir.join(crate::manifest::MANIFEST_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(serde_json::Value::Null);
        let data = ReportData {
            divergence: read_divergence(&out_dir.join(DIVERGENCE_FILE))?,
            pairwise: read_pairwise(&out_dir.join(PAIRWISE_FILE))?,
            mixtures: read_mixtures(&out_dir.join(MIXTURES_FILE))?,
            clusters: read_clusters(&out_dir.join(CLUSTERS_FILE))?,
            usi,
            usi_features,
            manifest,
            history: super::history::table::read(out_dir)?,
        };
        Ok(data.in_source_order())
    }

    /// The divergence rows (within each facet, facets in table order) and the USI rows in the order of
    /// [`ReportData::sources`], so that every table and figure that lists them lists them alike.
    pub fn in_source_order(mut self) -> Self {
        let rank = self.source_rank();
        let facets = self.facets();
        let facet_rank = |facet: &str| facets.iter().position(|f| f == facet).unwrap_or(usize::MAX);
        self.divergence.sort_by_key(|r| (facet_rank(&r.facet), rank(&r.source)));
        self.usi.sort_by_key(|r| rank(&r.source));
        self
    }
}

/// A value with its interval: `NAME`, `NAME_lo`, `NAME_hi`.
fn bounded(c: &Columns, name: &str, i: usize) -> Result<Bounded, ReadError> {
    Ok(Bounded {
        value: c.float(name, i)?,
        lo: c.float(&format!("{name}_lo"), i)?,
        hi: c.float(&format!("{name}_hi"), i)?,
    })
}

/// `NAME_corrected` with `NAME_corrected_lo` / `_hi`.
fn corrected(c: &Columns, name: &str, i: usize) -> Result<Bounded, ReadError> {
    bounded(c, &format!("{name}_corrected"), i)
}

/// `divergence.parquet`, one row per (facet, compared source).
fn read_divergence(path: &Path) -> Result<Vec<DivergenceRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(DivergenceRow {
                facet: c.text(FACET, i)?,
                reference: c.text("reference", i)?,
                source: c.text("source", i)?,
                kind: c.text("kind", i)?,
                n_reference: c.float("n_reference", i)? as u64,
                n_source: c.float("n_source", i)? as u64,
                k: c.float("k", i)? as u64,
                smoothing: c.text("smoothing", i)?,
                unit: c.text("unit", i)?,
                kl_forward: bounded(c, "kl_forward", i)?,
                kl_backward: bounded(c, "kl_backward", i)?,
                js: bounded(c, "js", i)?,
                js_normalized: bounded(c, "js_normalized", i)?,
                tv: bounded(c, "tv", i)?,
                mauve: bounded(c, "mauve", i)?,
                mauve_star: bounded(c, "mauve_star", i)?,
                frontier_integral: bounded(c, "frontier_integral", i)?,
                human_ceiling_js: bounded(c, "human_ceiling_js", i)?,
                corrected: CorrectedRow {
                    kl_forward: corrected(c, "kl_forward", i)?,
                    kl_backward: corrected(c, "kl_backward", i)?,
                    js: corrected(c, "js", i)?,
                    tv: corrected(c, "tv", i)?,
                    mauve: corrected(c, "mauve", i)?,
                    mauve_star: corrected(c, "mauve_star", i)?,
                    frontier_integral: corrected(c, "frontier_integral", i)?,
                },
                human_ceiling_js_corrected: corrected(c, "human_ceiling_js", i)?,
                js_above_ceiling: bounded(c, "js_above_ceiling", i)?,
                p_value: c.float("p_value", i)?,
                warning: c.optional_text("warning", i)?,
            })
        })
        .collect()
}

/// `pairwise.parquet`.
fn read_pairwise(path: &Path) -> Result<Vec<PairRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(PairRow {
                facet: c.text(FACET, i)?,
                source_a: c.text("source_a", i)?,
                source_b: c.text("source_b", i)?,
                js: c.float("js", i)?,
                kl_a_b: c.float("kl_a_b", i)?,
                kl_b_a: c.float("kl_b_a", i)?,
            })
        })
        .collect()
}

/// `mixtures.parquet`.
fn read_mixtures(path: &Path) -> Result<Vec<MixtureRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(MixtureRow {
                facet: c.text(FACET, i)?,
                mixture: c.text("mixture", i)?,
                sources: c.text_list("sources", i)?,
                weights: c.float_list("weights", i)?,
                js: c.float("js", i)?,
            })
        })
        .collect()
}

/// `clusters.parquet`, one row per (facet, cluster, source).
fn read_clusters(path: &Path) -> Result<Vec<ClusterRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(ClusterRow {
                facet: c.text(FACET, i)?,
                k: c.float("k", i)? as u64,
                cluster: c.float("cluster", i)? as u64,
                source: c.text("source", i)?,
                kind: c.text("kind", i)?,
                count: c.float("count", i)? as u64,
                share: c.float("share", i)?,
                reference_share: c.float("reference_share", i)?,
                label: c.optional_text("label", i)?,
                js_term: c.float("js_term", i)?,
                extreme_features: c.text_list("extreme_features", i)?,
                extreme_z: c.float_list("extreme_z", i)?,
                top_words: c.text_list("top_words", i)?,
                example_turns: c.text_list("example_turns", i)?,
            })
        })
        .collect()
}

/// `usi.parquet`, one row per compared source.
fn read_usi(path: &Path) -> Result<Vec<UsiRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(UsiRow {
                source: c.text("source", i)?,
                reference: c.text("reference", i)?,
                n_reference: c.float("n_reference", i)? as u64,
                n_source: c.float("n_source", i)? as u64,
                d: [c.float("d1", i)?, c.float("d2", i)?, c.float("d3", i)?, c.float("d4", i)?],
                eval: c.float("eval", i)?,
                ece: c.float("ece", i)?,
                usi: Bounded {
                    value: c.float("usi", i)?,
                    lo: c.float("usi_interval_lo", i)?,
                    hi: c.float("usi_interval_hi", i)?,
                },
                usi_terms: c.float("usi_terms", i)? as u64,
                human_ceiling_usi: c.float("human_ceiling_usi", i)?,
                note: c.text("note", i)?,
            })
        })
        .collect()
}

/// `usi_features.parquet`, one row per (source, feature).
fn read_usi_features(path: &Path) -> Result<Vec<UsiFeatureRow>, ReadError> {
    let table = Columns::read(path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            Ok(UsiFeatureRow {
                source: c.text("source", i)?,
                feature: c.text("feature", i)?,
                dimension: c.text("dimension", i)?,
                reference_mean: c.float("reference_mean", i)?,
                source_mean: c.float("source_mean", i)?,
                dice: c.float("dice", i)?,
            })
        })
        .collect()
}

const FACET: &str = "facet";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_that_is_not_there_or_lacks_a_column_is_named_with_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join(PAIRWISE_FILE);
        let error = read_pairwise(&missing).unwrap_err();
        assert_eq!(error.path, missing);
        assert!(error.column.is_none() && error.problem.contains("simgap divergence"), "{error}");
        crate::table::TableBuilder::new()
            .text("facet", ["all"])
            .text("source_a", ["human"])
            .write(&missing, &[])
            .unwrap();
        let error = read_pairwise(&missing).unwrap_err();
        assert_eq!(error.column.as_deref(), Some("source_b"), "{error}");
    }
}
