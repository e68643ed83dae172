//! Stage 3, cluster: `features.parquet` -> one k-means codebook per facet (and one over all features) +
//! `assignments.parquet`.
//!
//! Consumes: `OUT/features.parquet` (facets from its `simgap.facets` metadata) and `[cluster]` settings. Produces:
//! `OUT/codebooks/<facet>.json` (see [`codebook::Codebook`]; facet `all` for every feature together) and
//! `OUT/assignments.parquet` (`conversation_id`, `source`, `kind`, then `cluster_<facet>` as nullable uint32 per
//! codebook).
//!
//! Each pass is a function of one batch ([`sample::SampleKeys::add_batch`], [`sample::SamplePlan::select`],
//! [`assign::assign_batch`]); this module drives them over the file.
//!
//! How: the codebooks are fitted on a bounded, stratified sample (`sample_size` rows; each source equally
//! represented by default, chosen by a seeded hash of (source, id), so the same seed picks the same rows), then every
//! row is assigned by streaming the feature table batch by batch. Rule-based facets are standardised, `lexical` and
//! `embedding` L2-normalised, `all` standardised. A row with no value in a facet (timing without timestamps, no
//! embedding) is left out of that facet's fit and gets a null cluster; `all` leaves out the columns some rows lack,
//! so missingness never becomes a behaviour; a remaining missing value is filled with the sample mean. Three passes
//! over the feature table (identities, two columns; sample and assignment, each decoding the next batch while it
//! works on this one); memory: 8 bytes of sampling hash per row, the sample (each facet's part freed once that facet
//! is fitted, and one facet's working copies), and two batches. The codebooks are written after the assignments,
//! and codebooks of facets not fitted this time are removed, so the folder always matches. Cost: the k-means fits
//! (see [`kmeans`]) plus 2 n k d flops per facet to assign.

pub mod assign;
pub mod codebook;
pub mod columns;
pub mod config;
pub mod error;
pub mod kmeans;
pub mod sample;
pub mod scaling;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array2, ShapeBuilder};
use rayon::prelude::*;
use serde::Serialize;

use crate::atomic::write_atomic;
use assign::{AssignmentWriter, assign_batch};
use codebook::{Codebook, CodebookSettings};
pub use columns::{ALL_FACET, facet_columns};
use columns::{FeatureTable, normalisation_of};
use config::ChosenK;
pub use config::{ClusterConfig, SampleBalance};
pub use error::ClusterError;
use sample::{FitSample, SampleKeys};

pub const ASSIGNMENTS_FILE: &str = "assignments.parquet";
pub const CODEBOOKS_DIR: &str = "codebooks";
/// Facets with at most this many feature columns are fitted side by side ([`fit_codebooks`]).
const SIDE_BY_SIDE_COLUMNS: usize = 32;

/// What the cluster stage needs.
#[derive(Debug, Clone)]
pub struct ClusterParams {
    pub out_dir: PathBuf,
    pub config: ClusterConfig,
    pub progress: bool,
}

/// One fitted codebook, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct FacetReport {
    pub facet: String,
    pub columns: usize,
    pub dropped_columns: Vec<String>,
    pub dimensions: usize,
    pub k: usize,
    pub fit_rows: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub seconds: f64,
    pub codebook: PathBuf,
}

/// What the cluster stage did.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub facets: Vec<FacetReport>,
    /// The k every codebook has, and the rule that chose it (`[cluster] k`, or `auto` from the sources' sizes).
    pub k: ChosenK,
    pub rows: u64,
    pub sample_rows: BTreeMap<String, u64>,
    pub source_rows: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    pub seconds: f64,
    pub assignments_file: PathBuf,
}

impl ClusterParams {
    pub fn check(&self) -> Result<(), ClusterError> {
        let features = self.out_dir.join(crate::features::FEATURES_FILE);
        if !features.is_file() {
            return Err(ClusterError::Config(format!(
                "{} does not exist: run `simgap features` first",
                features.display()
            )));
        }
        self.config.check()
    }

    /// Fits the codebooks on the sample and assigns every row: three passes over the feature table.
    pub fn run(&self) -> Result<ClusterReport, ClusterError> {
        self.check()?;
        let started = Instant::now();
        let config = &self.config;
        let table = FeatureTable::open(&self.out_dir.join(crate::features::FEATURES_FILE))?;
        let facets = facets_to_fit(config, &table)?;

        // Pass 1: the sampling hash of every row, then which rows the sample takes.
        let mut keys = SampleKeys::default();
        for batch in table.identity_batches()? {
            keys.add_batch(&table, &batch?, config.seed)?;
        }
        let total_rows = keys.rows();
        if total_rows == 0 {
            return Err(ClusterError::NoRows { path: table.path.clone() });
        }
        let source_rows = keys.source_rows();
        let k = config.k.choose(keys.smallest_source());
        tracing::info!(k = k.k, rule = %k.rule, "clusters per codebook");
        let plan = keys.plan(config.sample_size, config.balance);
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "pass 1: sample planned");

        // Pass 2: the sample's feature rows, per facet.
        let mut sample = FitSample::default();
        let mut first_row = 0u64;
        crate::prefetch::for_each_prefetched(table.batches()?, |batch| {
            let keep = plan.select(&table, &batch, config.seed)?;
            sample.add_batch(&table, &batch, first_row, &keep, &facets)?;
            first_row += batch.num_rows() as u64;
            Ok(())
        })?;

        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "pass 2: sample read");
        let (codebooks, mut warnings) = fit_codebooks(config, &k, &table, &facets, sample)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "codebooks fitted");

        // Pass 3: assign every row, streaming; the codebooks go in after the assignments they produced.
        let assignments_path = self.out_dir.join(ASSIGNMENTS_FILE);
        self.assign_all(&table, &codebooks, total_rows as u64, &assignments_path)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "pass 3: every row assigned");
        let codebook_dir = self.out_dir.join(CODEBOOKS_DIR);
        let reports = write_codebooks(&codebook_dir, &codebooks)?;

        warnings.extend(size_warnings(&source_rows, k.k));
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(ClusterReport {
            facets: reports,
            k,
            rows: total_rows as u64,
            sample_rows: plan.quotas.iter().map(|(s, q)| (s.clone(), *q as u64)).collect(),
            source_rows,
            warnings,
            seconds: started.elapsed().as_secs_f64(),
            assignments_file: assignments_path,
        })
    }

    /// Pass 3: every row of the table labelled by every codebook, written to `path`.
    fn assign_all(
        &self,
        table: &FeatureTable,
        codebooks: &[Codebook],
        rows: u64,
        path: &Path,
    ) -> Result<(), ClusterError> {
        let facets: Vec<String> = codebooks.iter().map(|c| c.facet.clone()).collect();
        let progress = crate::progress::count_bar(self.progress, rows, "assign");
        let mut writer = AssignmentWriter::create(path, &facets)?;
        // The next batch is decoded while this one is assigned.
        crate::prefetch::for_each_prefetched(table.batches()?, |batch| {
            writer.write(&batch, assign_batch(table, &batch, codebooks)?)?;
            progress.inc(batch.num_rows() as u64);
            Ok(())
        })?;
        progress.finish_and_clear();
        writer.finish()
    }
}

/// The facets to fit: `[cluster] facets`, each of which the table must have, or every facet of the table in
/// column order, then `all`.
pub fn facets_to_fit(config: &ClusterConfig, table: &FeatureTable) -> Result<Vec<String>, ClusterError> {
    let Some(list) = &config.facets else {
        return Ok(table.facets_in_order());
    };
    if let Some(facet) = list.iter().find(|f| !table.by_facet.contains_key(*f)) {
        let known: Vec<&str> = table.by_facet.keys().map(String::as_str).collect();
        return Err(ClusterError::Config(format!(
            "[cluster] facets names {facet:?}, which the feature table does not have (it has {})",
            known.join(", ")
        )));
    }
    Ok(list.clone())
}

/// Every facet's codebook from the merged fit sample (taken out facet by facet), in the order of `facets`, with the
/// warnings of the facets left without one.
pub fn fit_codebooks(
    config: &ClusterConfig,
    k: &ChosenK,
    table: &FeatureTable,
    facets: &[String],
    mut sample: FitSample,
) -> Result<(Vec<Codebook>, Vec<String>), ClusterError> {
    let columns = |facet: &String| table.by_facet[facet].len();
    // Narrow facets' fits leave a core idle between their short passes, so they run side by side; wide ones run one
    // at a time (each keeps both cores busy, and two at once would hold two large samples). A fit's result does not
    // depend on the threads it gets, so the codebooks are the same either way.
    let narrow: Vec<(usize, Array2<f64>)> = (facets.iter().enumerate())
        .filter(|(_, facet)| columns(facet) <= SIDE_BY_SIDE_COLUMNS)
        .map(|(at, facet)| (at, sample.take_facet(facet, columns(facet))))
        .collect();
    let mut fits: Vec<Option<Result<Result<Codebook, String>, ClusterError>>> = facets.iter().map(|_| None).collect();
    let narrow_fits: Vec<_> =
        narrow.into_par_iter().map(|(at, rows)| (at, fit_codebook(config, k, table, &facets[at], rows))).collect();
    for (at, fit) in narrow_fits {
        fits[at] = Some(fit);
    }
    for (at, facet) in facets.iter().enumerate() {
        if fits[at].is_none() {
            fits[at] = Some(fit_codebook(config, k, table, facet, sample.take_facet(facet, columns(facet))));
        }
    }
    let mut warnings = Vec::new();
    let mut codebooks: Vec<Codebook> = Vec::new();
    for fit in fits.into_iter().flatten() {
        match fit? {
            Ok(codebook) => codebooks.push(codebook),
            Err(warning) => warnings.push(warning),
        }
    }
    Ok((codebooks, warnings))
}

/// One facet's codebook from its sample rows, with `k` clusters (`auto`: at most one per row), or (inner `Err`) the
/// warning of a facet with no value to fit.
/// Rows without any value in the facet (no timestamps, no embedding) are not fitted and get no cluster; for
/// `all`, a column some rows lack is left out, so missingness never becomes a behaviour.
pub fn fit_codebook(
    config: &ClusterConfig,
    k: &ChosenK,
    table: &FeatureTable,
    facet: &str,
    sample: Array2<f64>,
) -> Result<Result<Codebook, String>, ClusterError> {
    let has_value: Vec<usize> = (0..sample.nrows()).filter(|&i| sample.row(i).iter().any(|v| !v.is_nan())).collect();
    let sample = keep_rows(sample, &has_value);
    let complete = |j: usize| {
        if facet == ALL_FACET {
            sample.column(j).iter().all(|v| !v.is_nan())
        } else {
            sample.column(j).iter().any(|v| !v.is_nan())
        }
    };
    let (kept, dropped): (Vec<usize>, Vec<usize>) = (0..sample.ncols()).partition(|&j| complete(j));
    if kept.is_empty() {
        let message = format!("facet {facet}: no column has a value (timing without timestamps?)");
        if config.facets.is_some() {
            return Err(ClusterError::Config(message));
        }
        return Ok(Err(format!("{message}: no codebook")));
    }
    let names = &table.by_facet[facet];
    let columns: Vec<String> = kept.iter().map(|&j| names[j].clone()).collect();
    let dropped_columns: Vec<String> = dropped.iter().map(|&j| names[j].clone()).collect();
    let sample = keep_columns(sample, &kept);
    let k = k.for_rows(sample.nrows());
    let settings = CodebookSettings {
        kmeans: config.kmeans_params(k),
        normalisation: normalisation_of(facet),
        pca_variance: config.pca_variance,
        precision: config.precision,
    };
    tracing::info!(facet, rows = sample.nrows(), columns = columns.len(), k, "fitting codebook");
    Codebook::fit(facet, columns, dropped_columns, sample.view(), &settings)
        .map(Ok)
        .map_err(|source| ClusterError::KMeans { facet: facet.to_owned(), source })
}

/// The rows `keep` (ascending) of `matrix`; the matrix itself, not a copy, when it keeps them all.
fn keep_rows(matrix: Array2<f64>, keep: &[usize]) -> Array2<f64> {
    if keep.len() == matrix.nrows() { matrix } else { matrix.select(ndarray::Axis(0), keep) }
}

/// The columns `keep` of `matrix` in column-major order, the layout the fit has always seen (that of ndarray's
/// `select` along the columns, whose sums the scaler's statistics round by), made in one copy; `matrix` is freed.
fn keep_columns(matrix: Array2<f64>, keep: &[usize]) -> Array2<f64> {
    let mut values = Vec::with_capacity(matrix.nrows() * keep.len());
    for &j in keep {
        values.extend(matrix.column(j).iter());
    }
    Array2::from_shape_vec((matrix.nrows(), keep.len()).f(), values).expect("rows x kept columns")
}

/// Writes each codebook to `dir/<facet>.json` and removes the codebooks of facets not fitted this time, so the
/// folder matches the assignments.
pub fn write_codebooks(dir: &Path, codebooks: &[Codebook]) -> Result<Vec<FacetReport>, ClusterError> {
    std::fs::create_dir_all(dir).map_err(|source| ClusterError::Write { path: dir.to_owned(), source })?;
    let mut reports = Vec::with_capacity(codebooks.len());
    for codebook in codebooks {
        let path = dir.join(format!("{}.json", codebook.facet));
        write_atomic(&path, codebook.to_json().as_bytes())
            .map_err(|source| ClusterError::Write { path: path.clone(), source })?;
        reports.push(FacetReport {
            facet: codebook.facet.clone(),
            columns: codebook.columns.len(),
            dropped_columns: codebook.dropped_columns.clone(),
            dimensions: codebook.scaler.output_dimensions(),
            k: codebook.k,
            fit_rows: codebook.fit_rows,
            inertia: codebook.inertia,
            iterations: codebook.iterations,
            converged: codebook.converged,
            seconds: codebook.seconds,
            codebook: path,
        });
    }
    let fitted: Vec<String> = codebooks.iter().map(|c| c.facet.clone()).collect();
    remove_stale_codebooks(dir, &fitted)?;
    Ok(reports)
}

/// The sources with fewer conversations than clusters, and those with fewer than ten per cluster: each fact one
/// warning naming every source it concerns, with their sizes.
pub fn size_warnings(source_rows: &BTreeMap<String, u64>, k: usize) -> Vec<String> {
    let sized = |keep: &dyn Fn(usize) -> bool| -> String {
        let sides: Vec<String> =
            source_rows.iter().filter(|(_, rows)| keep(**rows as usize)).map(|(s, r)| format!("{s} ({r})")).collect();
        sides.join(", ")
    };
    let fewer_than_k = sized(&|rows| rows < k);
    let under_ten = sized(&|rows| rows >= k && rows < 10 * k);
    let mut warnings = Vec::new();
    if !fewer_than_k.is_empty() {
        warnings.push(format!("fewer conversations than the k = {k} clusters: sources {fewer_than_k}"));
    }
    if !under_ten.is_empty() {
        warnings.push(format!(
            "fewer than 10 conversations per cluster (k = {k}), so their histograms are noisy: sources {under_ten}"
        ));
    }
    warnings
}

/// Deletes `<facet>.json` files of facets this run did not fit, so the folder matches the assignments.
fn remove_stale_codebooks(dir: &Path, fitted: &[String]) -> Result<(), ClusterError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ClusterError::Write { path: dir.to_owned(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = path.extension().is_some_and(|e| e == "json")
            && path.file_stem().is_some_and(|stem| !fitted.iter().any(|f| stem == f.as_str()));
        if stale {
            std::fs::remove_file(&path).map_err(|source| ClusterError::Write { path: path.clone(), source })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_columns_have_the_values_and_layout_of_ndarrays_select() {
        let matrix = Array2::from_shape_fn((5, 4), |(i, j)| (i * 10 + j) as f64);
        for keep in [vec![0, 1, 2, 3], vec![1, 3], vec![2]] {
            let selected = matrix.select(ndarray::Axis(1), &keep);
            let kept = keep_columns(matrix.clone(), &keep);
            assert_eq!(kept, selected);
            assert_eq!(kept.strides(), selected.strides(), "columns {keep:?}");
        }
        assert_eq!(keep_rows(matrix.clone(), &[1, 4]), matrix.select(ndarray::Axis(0), &[1, 4]));
    }

    #[test]
    fn a_size_shortfall_shared_by_several_sources_is_one_warning_naming_them_all() {
        let rows: BTreeMap<String, u64> =
            [("human", 560), ("sim-a", 280), ("sim-b", 280), ("sim-c", 30)].map(|(s, n)| (s.to_owned(), n)).into();
        assert_eq!(
            size_warnings(&rows, 50),
            [
                "fewer conversations than the k = 50 clusters: sources sim-c (30)",
                "fewer than 10 conversations per cluster (k = 50), so their histograms are noisy: sources sim-a (280), \
                 sim-b (280)",
            ]
        );
        assert!(size_warnings(&rows, 3).is_empty());
    }
}
