//! The features, cluster and divergence stages through their per-batch functions, as a distributed driver runs
//! them: the table cut into shards of several sizes, each shard's partial results (lexical document frequencies;
//! sampling keys and fit sample; the divergence tally of counts, exact sums, sampled words and per-conversation USI
//! inputs) computed alone, sent through their serialised form and merged in an order other than the shards', the
//! codebooks fitted on the merged sample, every shard's feature rows and assignments computed alone.
//! `features.parquet`, the codebooks, `assignments.parquet` and every divergence table must equal, byte for byte,
//! what `simgap features`, `simgap cluster` and `simgap divergence` wrote (on the demo corpus, and on shi2019 where
//! `../shared` is present).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;

use simgap::cluster::assign::{AssignmentWriter, assign_batch};
use simgap::cluster::codebook::Codebook;
use simgap::cluster::columns::FeatureTable;
use simgap::cluster::sample::{FitSample, SampleKeys};
use simgap::cluster::{ClusterConfig, facets_to_fit, fit_codebook};
use simgap::divergence::reading::{self, RowContext};
use simgap::divergence::tally::Tally;
use simgap::features::cues::CueLists;
use simgap::features::engine::FeatureEngine;
use simgap::features::lexical::DocumentFrequencies;
use simgap::features::reader::{ConversationBatch, ConversationBatches};
use simgap::features::writer::FeaturesWriter;
use simgap::pipeline::config::PipelineConfig;

use common::{demo_with, shi2019_in, simgap, stderr};

/// The feature table as one batch.
fn whole_table(table: &FeatureTable) -> RecordBatch {
    let batches: Vec<RecordBatch> = table.batches().unwrap().map(Result::unwrap).collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// `rows` cut into consecutive shards of the given sizes (the last takes what is left).
fn shards(whole: &RecordBatch, sizes: &[usize]) -> Vec<(u64, RecordBatch)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for &size in sizes.iter().cycle() {
        if offset >= whole.num_rows() {
            break;
        }
        let len = size.min(whole.num_rows() - offset);
        out.push((offset as u64, whole.slice(offset, len)));
        offset += len;
    }
    out
}

/// The order partial results are merged in: odd shards first, then even ones, each backwards.
fn merge_order(shards: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..shards).filter(|i| i % 2 == 1).rev().collect();
    order.extend((0..shards).filter(|i| i % 2 == 0).rev());
    order
}

/// A codebook's JSON without its fit time.
fn without_timing(json: &str) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    value.as_object_mut().unwrap().remove("seconds");
    value
}

/// Drives the cluster stage over `out/features.parquet` in the shardings `sizes`, and compares with what
/// `simgap cluster` wrote in `out`.
fn cluster_by_shards(out: &Path, config: &ClusterConfig, shardings: &[&[usize]]) {
    let table = FeatureTable::open(&out.join("features.parquet")).unwrap();
    let whole = whole_table(&table);
    let facets = facets_to_fit(config, &table).unwrap();
    for sizes in shardings {
        let shards = shards(&whole, sizes);
        let order = merge_order(shards.len());
        // Pass 1: keys per shard, merged.
        let mut keys = SampleKeys::default();
        for &i in &order {
            let mut part = SampleKeys::default();
            part.add_batch(&table, &shards[i].1, config.seed).unwrap();
            let sent = serde_json::to_string(&part).unwrap();
            keys.merge(serde_json::from_str(&sent).unwrap());
        }
        assert_eq!(keys.rows(), whole.num_rows());
        let k = config.k.choose(keys.smallest_source());
        let plan = keys.plan(config.sample_size, config.balance);
        // Pass 2: the sample per shard, merged.
        let widths: BTreeMap<String, usize> = facets.iter().map(|f| (f.clone(), table.by_facet[f].len())).collect();
        let mut sample = FitSample::default();
        for &i in &order {
            let (first_row, batch) = &shards[i];
            let keep = plan.select(&table, batch, config.seed).unwrap();
            let mut part = FitSample::default();
            part.add_batch(&table, batch, *first_row, &keep, &facets).unwrap();
            sample.merge(FitSample::from_ipc(&part.to_ipc().unwrap(), &widths).unwrap());
        }
        // The fit, on the driver.
        let mut codebooks = Vec::new();
        for facet in &facets {
            let rows = sample.facet(facet, table.by_facet[facet].len());
            if let Ok(codebook) = fit_codebook(config, &k, &table, facet, rows).unwrap() {
                codebooks.push(codebook);
            }
        }
        for codebook in &codebooks {
            let written = std::fs::read_to_string(out.join(format!("codebooks/{}.json", codebook.facet))).unwrap();
            assert_eq!(
                without_timing(&codebook.to_json()),
                without_timing(&written),
                "codebook {} from shards {sizes:?}",
                codebook.facet
            );
        }
        // Pass 3: every shard assigned alone, written in table order.
        let facet_names: Vec<String> = codebooks.iter().map(|c: &Codebook| c.facet.clone()).collect();
        let path = out.join(format!("assignments-{}.parquet", sizes[0]));
        let mut writer = AssignmentWriter::create(&path, &facet_names).unwrap();
        for (_, batch) in &shards {
            writer.write(batch, assign_batch(&table, batch, &codebooks).unwrap()).unwrap();
        }
        writer.finish().unwrap();
        assert!(
            std::fs::read(&path).unwrap() == std::fs::read(out.join("assignments.parquet")).unwrap(),
            "assignments.parquet from shards {sizes:?} differs from simgap cluster's"
        );
    }
}

/// Drives the features stage over `out/conversations.parquet` in the shardings `sizes` (the pipeline's settings,
/// built-in cues, no embeddings), and compares with `out/features.parquet`.
fn features_by_shards(out: &Path, pipeline: &PipelineConfig, shardings: &[&[usize]]) {
    let params = pipeline.features_params(out.to_owned(), false);
    let batches: Vec<RecordBatch> =
        ConversationBatches::open(&out.join("conversations.parquet")).unwrap().map(|b| b.unwrap().batch).collect();
    let whole = concat_batches(&batches[0].schema(), &batches).unwrap();
    for sizes in shardings {
        let shards: Vec<ConversationBatch> = shards(&whole, sizes)
            .into_iter()
            .map(|(first_row, batch)| ConversationBatch { batch, first_row })
            .collect();
        let cues = CueLists::built_in().compile().unwrap();
        let engine = FeatureEngine::new(params.facets.clone(), params.lexical_dimensions, params.seed, cues, None);
        let mut frequencies = DocumentFrequencies::default();
        for i in merge_order(shards.len()) {
            // Each shard hands its partial result over in its serialised form.
            let part = DocumentFrequencies::from_json(&engine.frequencies_of(&shards[i]).unwrap().to_json()).unwrap();
            frequencies = frequencies.merge(&part);
        }
        let engine = engine.with_frequencies(frequencies);
        let path = out.join(format!("features-{}.parquet", sizes[0]));
        let mut writer = FeaturesWriter::create(&path, engine.columns()).unwrap();
        for shard in &shards {
            let features = engine.compute(shard).unwrap();
            writer.write(shard, &features.kept, &features.values).unwrap();
        }
        writer.finish().unwrap();
        assert!(
            std::fs::read(&path).unwrap() == std::fs::read(out.join("features.parquet")).unwrap(),
            "features.parquet from shards {sizes:?} differs from simgap features'"
        );
    }
}

/// Drives the divergence stage's tally over `out`'s tables in the shardings `sizes` and compares the tables it
/// writes with what `simgap divergence` wrote in `out`.
fn divergence_by_shards(out: &Path, pipeline: &PipelineConfig, shardings: &[&[usize]]) {
    let params = pipeline.divergence_params(out.to_owned(), false);
    let cues = params.cues().unwrap();
    let plan = reading::plan(out, &params.reading(&cues.stopwords)).unwrap();
    let context = RowContext::read(out, &plan, &cues.stopwords).unwrap();
    let rows = plan.rows;
    for sizes in shardings {
        let mut ranges = Vec::new();
        let mut start = 0u64;
        for &size in sizes.iter().cycle() {
            if start >= rows {
                break;
            }
            let end = (start + size as u64).min(rows);
            ranges.push(start..end);
            start = end;
        }
        let mut merged = Tally::new(&plan);
        for i in merge_order(ranges.len()) {
            let part = reading::tally_rows(out, &plan, &context, ranges[i].clone()).unwrap();
            merged.merge(&Tally::from_json(&part.to_json()).unwrap()).unwrap();
        }
        assert_eq!(merged.rows(), rows);
        let tables = out.join(format!("divergence-{}", sizes[0]));
        std::fs::create_dir_all(&tables).unwrap();
        let mut by_shards = params.clone();
        by_shards.out_dir = tables.clone();
        let report = by_shards.write_from_tally(&plan, merged).unwrap();
        assert!(report.files.len() >= 4, "{:?}", report.files);
        for file in &report.files {
            let name = file.file_name().unwrap();
            assert!(
                std::fs::read(file).unwrap() == std::fs::read(out.join(name)).unwrap(),
                "{name:?} from shards {sizes:?} differs from simgap divergence's"
            );
        }
    }
}

fn run_stages(pipeline: &Path) {
    for stage in ["ingest", "features", "cluster", "divergence"] {
        let output = simgap(&["-q", stage, pipeline.to_str().unwrap()]);
        assert!(matches!(output.status.code(), Some(0 | 3)), "simgap {stage}: {}", stderr(&output));
    }
}

#[test]
fn stages_by_shards_equal_the_cli_on_the_demo() {
    let (dir, pipeline) = demo_with("");
    run_stages(&pipeline);
    let config = PipelineConfig::load(&pipeline).unwrap();
    let shardings: &[&[usize]] = &[&[1400], &[97], &[1, 500, 333, 2]];
    features_by_shards(&dir.path().join("out"), &config, shardings);
    cluster_by_shards(&dir.path().join("out"), &config.cluster, shardings);
    divergence_by_shards(&dir.path().join("out"), &config, shardings);
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn stages_by_shards_equal_the_cli_on_shi2019() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pipeline) = shi2019_in(dir.path()) else { return };
    run_stages(&pipeline);
    let config = PipelineConfig::load(&pipeline).unwrap();
    let shardings: &[&[usize]] = &[&[100_000], &[250], &[7, 1000, 61]];
    features_by_shards(&dir.path().join("out"), &config, shardings);
    cluster_by_shards(&dir.path().join("out"), &config.cluster, shardings);
    divergence_by_shards(&dir.path().join("out"), &config, shardings);
}
