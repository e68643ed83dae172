//! The merge of each round: every shard's partial result, in shard order, joined into `PARTS/merged/`.
//!
//! Consumes: the shards' files of one round (found by [`super::find_shards`]). Produces: `conversations.parquet`,
//! `rejects.jsonl` (ingest); the corpus's document frequencies (frequencies); `features.parquet`,
//! `features_rejects.jsonl`, the sample's keys and the feature rows per shard (features); `codebooks/` (sample);
//! `assignments.parquet` and the divergence tables (assign). Beside each, the stage's section of the manifest
//! (`<stage>.json`), which the driver records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::parts::{Parts, Shard, ShardError, io_error};
use super::rounds::{
    CODEBOOK_FACETS, FEATURE_ROWS, FREQUENCIES, SAMPLE_PLAN, SOURCE_ROWS, batches_of, engine, read_json, stage,
    table_rows, tally_plan, write_json,
};
use crate::cluster::assign::AssignmentWriter;
use crate::cluster::columns::FeatureTable;
use crate::cluster::sample::{FitSample, SampleKeys, SamplePlan};
use crate::cluster::{ClusterError, ClusterReport, facets_to_fit, fit_codebooks, size_warnings, write_codebooks};
use crate::divergence::tally::Tally;
use crate::features::lexical::DocumentFrequencies;
use crate::features::writer::FeaturesWriter;
use crate::pipeline::config::PipelineConfig;

/// The manifest section of each stage, as the merge leaves it for the driver.
pub fn section_file(stage: &str) -> String {
    format!("{stage}.json")
}

/// One round's merge.
pub(super) struct MergeWork<'a> {
    pub config: &'a PipelineConfig,
    pub out_dir: &'a Path,
    pub parts: &'a Parts,
    /// Every shard with the folder that holds its files, in shard order.
    pub found: &'a [(Shard, Parts)],
}

impl MergeWork<'_> {
    fn merged(&self) -> PathBuf {
        self.parts.merged()
    }

    /// Each shard's file of `round` ending in `suffix`, in shard order.
    fn files(&self, round: usize, suffix: &str) -> Vec<PathBuf> {
        self.found.iter().map(|(shard, folder)| folder.shard_file(round, *shard, suffix)).collect()
    }

    /// Round 1: every cache part, in input order, into the conversations table and the rejects (the rules across
    /// records applied on the way), as `simgap run` merges its cache.
    pub fn ingest(&self) -> Result<(), ShardError> {
        let mut params = self.config.ingest_params(self.merged(), false, false);
        params.output_root = self.out_dir.to_owned();
        let snapshot = params.snapshot().map_err(stage)?;
        let report = params.run_cached(&snapshot, false).map_err(stage)?;
        let built = report.files.iter().filter(|f| !f.cached).count();
        if built > 0 {
            tracing::warn!(files = built, "input files no shard had read were read by the merge");
        }
        write_json(&self.merged().join(section_file("ingest")), &report)
    }

    /// Round 2: the shards' document frequencies, summed.
    pub fn frequencies(&self) -> Result<(), ShardError> {
        let mut total = DocumentFrequencies::default();
        for path in self.files(1, ".json") {
            let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
            total = total.merge(&DocumentFrequencies::from_json(&text).map_err(|e| io_error(&path, e))?);
        }
        let path = self.merged().join(FREQUENCIES);
        crate::atomic::write_atomic(&path, total.to_json().as_bytes()).map_err(|e| io_error(&path, e))
    }

    /// Round 3: the shards' feature rows joined into the table, their rejects after one another, their keys merged.
    pub fn features(&self) -> Result<(), ShardError> {
        let started = std::time::Instant::now();
        let merged = self.merged();
        let engine = engine(self.config, &merged, true)?;
        let features_path = merged.join(crate::features::FEATURES_FILE);
        let mut writer = FeaturesWriter::create(&features_path, engine.columns()).map_err(stage)?;
        let mut per_shard = Vec::with_capacity(self.found.len());
        let mut keys = SampleKeys::default();
        for (part, keys_file) in self.files(2, ".parquet").iter().zip(self.files(2, ".keys.json")) {
            let mut rows = 0u64;
            for batch in batches_of(part)? {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write_rows(&batch).map_err(stage)?;
            }
            per_shard.push(rows);
            keys.merge(read_json(&keys_file)?);
        }
        writer.finish().map_err(stage)?;
        let rejects_path = merged.join(crate::features::FEATURES_REJECTS_FILE);
        concatenate(&self.files(2, ".rejects.jsonl"), &rejects_path)?;
        write_json(&merged.join(FEATURE_ROWS), &per_shard)?;
        // The shards need the plan alone (two numbers per source), not the keys (8 bytes per row).
        write_json(&merged.join(SOURCE_ROWS), &keys.source_rows())?;
        let cluster = &self.config.cluster;
        write_json(&merged.join(SAMPLE_PLAN), &keys.plan(cluster.sample_size, cluster.balance))?;
        let read = table_rows(&merged.join(crate::ingest::CONVERSATIONS_FILE))?;
        let written: u64 = per_shard.iter().sum();
        let mut section = serde_json::json!({
            "columns": engine.columns(),
            "conversations_read": read,
            "rows_written": written,
            "skipped_no_user_turn": read - written,
            "embedding_issues": 0,
            "shards": self.found.len(),
            "seconds": started.elapsed().as_secs_f64(),
            "features_file": features_path,
            "rejects_file": rejects_path,
        });
        if let Some(lexicons) = &self.config.features.lexicons {
            section["lexicons_sha256"] =
                crate::hashing::sha256_file(lexicons).map_err(|e| io_error(lexicons, e))?.into();
        }
        write_json(&merged.join(section_file("features")), &section)
    }

    /// Round 4: the shards' sample rows merged, and every codebook fitted on them, as the cluster stage fits them.
    pub fn sample(&self) -> Result<(), ShardError> {
        let started = std::time::Instant::now();
        let merged = self.merged();
        let config = &self.config.cluster;
        let features_path = merged.join(crate::features::FEATURES_FILE);
        let table = FeatureTable::open(&features_path).map_err(stage)?;
        let facets = facets_to_fit(config, &table).map_err(stage)?;
        let source_rows: BTreeMap<String, u64> = read_json(&merged.join(SOURCE_ROWS))?;
        let rows: u64 = source_rows.values().sum();
        if rows == 0 {
            return Err(stage(ClusterError::NoRows { path: features_path }));
        }
        // As `SampleKeys::smallest_source`: the rows of the smallest source.
        let k = config.k.choose(source_rows.values().copied().min().unwrap_or(0));
        let plan: SamplePlan = read_json(&merged.join(SAMPLE_PLAN))?;
        let widths = facets.iter().map(|f| (f.clone(), table.by_facet[f].len())).collect();
        let mut sample = FitSample::default();
        for path in self.files(3, ".arrow") {
            let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
            sample.merge(FitSample::from_ipc(&bytes, &widths).map_err(|e| io_error(&path, e))?);
        }
        let (codebooks, mut warnings) = fit_codebooks(config, &k, &table, &facets, sample).map_err(stage)?;
        let reports = write_codebooks(&merged.join(crate::cluster::CODEBOOKS_DIR), &codebooks).map_err(stage)?;
        let fitted: Vec<&str> = codebooks.iter().map(|c| c.facet.as_str()).collect();
        write_json(&merged.join(CODEBOOK_FACETS), &fitted)?;
        warnings.extend(size_warnings(&source_rows, k.k));
        let report = ClusterReport {
            facets: reports,
            k,
            rows,
            sample_rows: plan.quotas.iter().map(|(s, q)| (s.clone(), *q as u64)).collect(),
            source_rows,
            warnings,
            seconds: started.elapsed().as_secs_f64(),
            assignments_file: merged.join(crate::cluster::ASSIGNMENTS_FILE),
        };
        let mut section = serde_json::to_value(&report).map_err(|e| io_error(&merged, e))?;
        section["settings"] = serde_json::to_value(config).map_err(|e| io_error(&merged, e))?;
        write_json(&merged.join(section_file("cluster")), &section)
    }

    /// Round 5: the shards' labels joined into the table, their tallies merged and the divergence tables written.
    pub fn assign(&self) -> Result<(), ShardError> {
        let merged = self.merged();
        let (plan, codebooks) = tally_plan(self.config, &merged)?;
        let facets: Vec<String> = codebooks.iter().map(|c| c.facet.clone()).collect();
        let assignments_path = merged.join(crate::cluster::ASSIGNMENTS_FILE);
        let mut writer = AssignmentWriter::create(&assignments_path, &facets).map_err(stage)?;
        for part in self.files(4, ".parquet") {
            for batch in batches_of(&part)? {
                writer.write_rows(&batch?).map_err(stage)?;
            }
        }
        writer.finish().map_err(stage)?;
        let mut tally = Tally::new(&plan);
        for path in self.files(4, ".tally.json") {
            let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
            let part = Tally::from_json(&text).map_err(|e| io_error(&path, e))?;
            tally.merge(&part).map_err(|e| io_error(&path, e))?;
        }
        if tally.rows() != plan.rows {
            return Err(io_error(
                &merged,
                format!("the shards' tallies hold {} rows, the features {}", tally.rows(), plan.rows),
            ));
        }
        let report =
            self.config.divergence_params(merged.clone(), false).write_from_tally(&plan, tally).map_err(stage)?;
        let mut section = serde_json::to_value(&report).map_err(|e| io_error(&merged, e))?;
        section["settings"] = serde_json::to_value(&self.config.divergence).map_err(|e| io_error(&merged, e))?;
        write_json(&merged.join(section_file("divergence")), &section)
    }
}

/// `parts` one after another into `target` (lines of JSON: the rejects of consecutive shards).
fn concatenate(parts: &[PathBuf], target: &Path) -> Result<(), ShardError> {
    let temp = crate::atomic::AtomicPath::new(target);
    let mut out = std::fs::File::create(temp.temp()).map_err(|e| io_error(target, e))?;
    for part in parts {
        let mut input = std::fs::File::open(part).map_err(|e| io_error(part, e))?;
        std::io::copy(&mut input, &mut out).map_err(|e| io_error(part, e))?;
    }
    out.sync_all().map_err(|e| io_error(target, e))?;
    drop(out);
    temp.commit().map_err(|e| io_error(target, e))
}
