//! The divergence stage's tables read back for the report: one plain struct per row.
//!
//! Consumes: `OUT/divergence.parquet`, `pairwise.parquet`, `mixtures.parquet`, `clusters.parquet`, `usi.parquet`,
//! `usi_features.parquet` and `manifest.json`. Produces: [`ReportData`], and which sources the figures, the pairwise
//! matrix and the cluster explanations show when there are more than [`SHOWN_SOURCES`] ([`ReportData::shown_sources`],
//! [`left_out_note`]). Numbers without a value (null) read as NaN. The tables are small (rows per facet x source), so
//! they are read whole.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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

    /// Every source (the reference first), in table order.
    pub fn sources(&self) -> Vec<String> {
        let mut sources: Vec<String> = self.reference().map(str::to_owned).into_iter().collect();
        for row in &self.divergence {
            if !sources.contains(&row.source) {
                sources.push(row.source.clone());
            }
        }
        sources
    }

    /// What a figure, the pairwise matrix or the cluster explanations show when more than [`SHOWN_SOURCES`] sources
    /// were compared: the reference, then the simulators closest to it on the headline facet (corrected JS, then
    /// name), [`SHOWN_SOURCES`] in all; and how many sources were left out. Every source otherwise, in table order.
    pub fn shown_sources(&self) -> (Vec<String>, usize) {
        let sources = self.sources();
        if sources.len() <= SHOWN_SOURCES {
            return (sources, 0);
        }
        let headline = self.headline_facet().unwrap_or_default();
        let js: BTreeMap<&str, f64> = self
            .divergence
            .iter()
            .filter(|r| r.facet == headline)
            .map(|r| (r.source.as_str(), r.corrected.js.value))
            .collect();
        let reference = self.reference().unwrap_or_default();
        let distance = |s: &String| js.get(s.as_str()).copied().filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
        let mut simulators: Vec<String> = sources.iter().filter(|s| s.as_str() != reference).cloned().collect();
        simulators.sort_by(|a, b| distance(a).total_cmp(&distance(b)).then_with(|| a.cmp(b)));
        let mut shown = vec![reference.to_owned()];
        shown.extend(simulators.into_iter().take(SHOWN_SOURCES - 1));
        (shown, sources.len() - SHOWN_SOURCES)
    }

    /// The headline facet: `all` when present, else the first.
    pub fn headline_facet(&self) -> Option<String> {
        let facets = self.facets();
        facets.iter().find(|f| *f == crate::cluster::ALL_FACET).or(facets.first()).cloned()
    }

    /// Reads every table in `out_dir`.
    pub fn read(out_dir: &Path) -> Result<Self, String> {
        let divergence = Columns::read(&out_dir.join(DIVERGENCE_FILE))?;
        let bounded = |c: &Columns, name: &str, i: usize| -> Result<Bounded, String> {
            Ok(Bounded {
                value: c.float(name, i)?,
                lo: c.float(&format!("{name}_lo"), i)?,
                hi: c.float(&format!("{name}_hi"), i)?,
            })
        };
        // `NAME_corrected` with `NAME_corrected_lo` / `_hi`.
        let corrected = |c: &Columns, name: &str, i: usize| bounded(c, &format!("{name}_corrected"), i);
        let divergence = (0..divergence.rows)
            .map(|i| {
                let c = &divergence;
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
            .collect::<Result<_, String>>()?;
        let pairwise = Columns::read(&out_dir.join(PAIRWISE_FILE))?;
        let pairwise = (0..pairwise.rows)
            .map(|i| {
                let c = &pairwise;
                Ok(PairRow {
                    facet: c.text(FACET, i)?,
                    source_a: c.text("source_a", i)?,
                    source_b: c.text("source_b", i)?,
                    js: c.float("js", i)?,
                    kl_a_b: c.float("kl_a_b", i)?,
                    kl_b_a: c.float("kl_b_a", i)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let mixtures = Columns::read(&out_dir.join(MIXTURES_FILE))?;
        let mixtures = (0..mixtures.rows)
            .map(|i| {
                let c = &mixtures;
                Ok(MixtureRow {
                    facet: c.text(FACET, i)?,
                    mixture: c.text("mixture", i)?,
                    sources: c.text_list("sources", i)?,
                    weights: c.float_list("weights", i)?,
                    js: c.float("js", i)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let clusters = Columns::read(&out_dir.join(CLUSTERS_FILE))?;
        let clusters = (0..clusters.rows)
            .map(|i| {
                let c = &clusters;
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
            .collect::<Result<_, String>>()?;
        let (usi, usi_features) = if out_dir.join(USI_FILE).is_file() {
            let usi = Columns::read(&out_dir.join(USI_FILE))?;
            let usi_rows = (0..usi.rows)
                .map(|i| {
                    let c = &usi;
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
                .collect::<Result<Vec<_>, String>>()?;
            let features = Columns::read(&out_dir.join(USI_FEATURES_FILE))?;
            let feature_rows = (0..features.rows)
                .map(|i| {
                    let c = &features;
                    Ok(UsiFeatureRow {
                        source: c.text("source", i)?,
                        feature: c.text("feature", i)?,
                        dimension: c.text("dimension", i)?,
                        reference_mean: c.float("reference_mean", i)?,
                        source_mean: c.float("source_mean", i)?,
                        dice: c.float("dice", i)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            (usi_rows, feature_rows)
        } else {
            (Vec::new(), Vec::new())
        };
        let manifest = std::fs::read(out_dir.join(crate::manifest::MANIFEST_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(serde_json::Value::Null);
        Ok(ReportData { divergence, pairwise, mixtures, clusters, usi, usi_features, manifest })
    }
}

const FACET: &str = "facet";

/// A table's columns by name, with typed access per row; numeric columns converted to f64 once.
struct Columns {
    path: String,
    rows: usize,
    batches: Vec<RecordBatch>,
    numbers: BTreeMap<String, Vec<f64>>,
}

impl Columns {
    fn read(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| format!("{name}: {e} (run `simgap divergence` first)"))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| format!("{name}: {e}"))?;
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(|e| format!("{name}: {e}"))?;
        let batch = match batches.as_slice() {
            [] => RecordBatch::new_empty(std::sync::Arc::new(arrow::datatypes::Schema::empty())),
            [one] => one.clone(),
            many => arrow::compute::concat_batches(&many[0].schema(), many).map_err(|e| format!("{name}: {e}"))?,
        };
        let mut numbers = BTreeMap::new();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            if field.data_type().is_numeric() {
                let cast = arrow::compute::cast(column, &DataType::Float64).map_err(|e| format!("{name}: {e}"))?;
                let floats = cast.as_primitive::<Float64Type>();
                let values = (0..floats.len()).map(|i| if floats.is_null(i) { f64::NAN } else { floats.value(i) });
                numbers.insert(field.name().clone(), values.collect());
            }
        }
        Ok(Columns { path: name, rows: batch.num_rows(), batches: vec![batch], numbers })
    }

    fn column(&self, name: &str) -> Result<&dyn Array, String> {
        self.batches[0].column_by_name(name).map(|c| c.as_ref()).ok_or_else(|| {
            format!("{}: no column {name:?} (written by an older simgap? rerun `simgap divergence`)", self.path)
        })
    }

    fn text(&self, name: &str, row: usize) -> Result<String, String> {
        Ok(self.optional_text(name, row)?.unwrap_or_default())
    }

    fn optional_text(&self, name: &str, row: usize) -> Result<Option<String>, String> {
        let column = self.column(name)?;
        let strings = column.as_string_opt::<i32>().ok_or_else(|| format!("{}: {name} is not text", self.path))?;
        Ok((!strings.is_null(row)).then(|| strings.value(row).to_owned()))
    }

    fn float(&self, name: &str, row: usize) -> Result<f64, String> {
        let values = self.numbers.get(name).ok_or_else(|| format!("{}: no numeric column {name:?}", self.path))?;
        Ok(values[row])
    }

    fn list(&self, name: &str, row: usize) -> Result<arrow::array::ArrayRef, String> {
        let column = self.column(name)?;
        let list = column.as_list_opt::<i32>().ok_or_else(|| format!("{}: {name} is not a list", self.path))?;
        Ok(list.value(row))
    }

    fn text_list(&self, name: &str, row: usize) -> Result<Vec<String>, String> {
        let values = self.list(name, row)?;
        let strings = values.as_string_opt::<i32>().ok_or_else(|| format!("{}: {name} is not text", self.path))?;
        Ok((0..strings.len()).map(|i| strings.value(i).to_owned()).collect())
    }

    fn float_list(&self, name: &str, row: usize) -> Result<Vec<f64>, String> {
        let values = self.list(name, row)?;
        let floats =
            values.as_primitive_opt::<Float64Type>().ok_or_else(|| format!("{}: {name} is not float64", self.path))?;
        Ok((0..floats.len()).map(|i| floats.value(i)).collect())
    }
}
