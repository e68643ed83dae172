//! End to end for `simgap features`: the real binary on the real transcripts (directions of behaviour the data
//! shows, sensible Chinese word counts), the feature table's schema and facets, determinism across thread counts,
//! cue overrides, and embeddings with every kind of problem reported.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float32Builder, ListBuilder, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use common::{shared_data, simgap, stderr};

/// Means per source of every float column of features.parquet (nulls left out).
fn means(path: &Path) -> BTreeMap<String, HashMap<String, f64>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let mut sums: BTreeMap<String, HashMap<String, (f64, f64)>> = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let sources = batch.column_by_name("source").unwrap().as_string::<i32>().clone();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()).skip(6) {
            let values = column.as_primitive::<Float64Type>();
            for i in 0..batch.num_rows() {
                if values.is_null(i) {
                    continue;
                }
                let entry =
                    sums.entry(sources.value(i).to_owned()).or_default().entry(field.name().clone()).or_default();
                entry.0 += values.value(i);
                entry.1 += 1.0;
            }
        }
    }
    sums.into_iter().map(|(s, m)| (s, m.into_iter().map(|(k, (sum, n))| (k, sum / n)).collect())).collect()
}

/// Ingest + features for a bundled pipeline into a temp folder.
fn features(pipeline: &str, extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let pipeline = common::project_root().join(format!("pipelines/{pipeline}.toml"));
    let mut args = vec!["-q", "run", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = simgap(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    out
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn shi2019_humans_differ_from_every_simulator_as_the_data_shows() {
    let Some(_) = shared_data() else { return };
    let out = features("shi2019", &[]);
    let means = means(&out.path().join("features.parquet"));
    assert_eq!(means.len(), 7);
    let human = &means["human"];
    for (source, sim) in means.iter().filter(|(s, _)| *s != "human") {
        // People write short replies, hedge, capitalise and contract more; their words vary more; they vary their
        // wording between consecutive turns; and in MultiWOZ the operator, not the user, has the last word.
        for (feature, human_higher) in [
            ("short_msg_rate", true),
            ("uncertainty_rate", true),
            ("style_capitals_share", true),
            ("style_contractions_per_word", true),
            ("verbosity_cv", true),
            ("style_mattr", true),
            ("rep_consecutive_similarity", false),
            ("term_user_last", false),
        ] {
            let (h, s) = (human[feature], sim[feature]);
            assert!(if human_higher { h > s } else { h < s }, "{feature}: human {h} vs {source} {s}");
        }
    }
    // No timestamps in this data: the timing facet is null, not zero.
    assert!(!human.contains_key("timing_reply_seconds_mean"));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn recllmsim_chinese_turns_get_sensible_word_counts() {
    let Some(_) = shared_data() else { return };
    let out = features("recllmsim", &[]);
    let means = means(&out.path().join("features.parquet"));
    for source in ["human", "human-exp-v2"] {
        let m = &means[source];
        // Whitespace splitting (the published USI rule) sees about one "word" per Chinese turn; counting CJK
        // characters gives the length a reader would expect.
        assert!(m["user_words_per_turn"] < 2.0, "{source}: {}", m["user_words_per_turn"]);
        assert!(m["style_words_per_turn"] > 20.0, "{source}: {}", m["style_words_per_turn"]);
        assert!(m["style_words_per_turn"] <= m["style_chars_per_turn"]);
    }
}

#[test]
fn table_schema_facets_manifest_and_reconciliation() {
    let out = features("demo", &[]);
    let file = std::fs::File::open(out.path().join("features.parquet")).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names[..7], ["conversation_id", "source", "kind", "task_id", "run", "outcome", "politeness_rate"]);
    let facets: serde_json::Value = serde_json::from_str(&schema.metadata()["simgap.facets"]).unwrap();
    for field in schema.fields().iter().skip(6) {
        assert_eq!(
            facets[field.name()].as_str(),
            field.metadata().get("facet").map(String::as_str),
            "{}",
            field.name()
        );
    }
    assert_eq!(facets["pivot_rate"], "usi");
    assert_eq!(facets["lexical_63"], "lexical");
    assert_eq!(facets["timing_duration_seconds"], "timing");
    let rows: usize = builder.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let section = &manifest["stages"]["features"];
    assert_eq!(section["rows_written"].as_u64().unwrap() as usize, rows);
    assert_eq!(
        section["conversations_read"].as_u64().unwrap(),
        section["rows_written"].as_u64().unwrap() + section["skipped_no_user_turn"].as_u64().unwrap()
    );
    assert_eq!(section["conversations_read"], manifest["stages"]["ingest"]["accepted"]);
    assert_eq!(section["columns"].as_array().unwrap().len(), schema.fields().len() - 6);
}

#[test]
fn same_bytes_on_one_and_two_threads() {
    let one = features("demo", &["--threads", "1"]);
    let two = features("demo", &["--threads", "2"]);
    assert_eq!(
        std::fs::read(one.path().join("features.parquet")).unwrap(),
        std::fs::read(two.path().join("features.parquet")).unwrap()
    );
}

#[test]
fn list_names_every_feature_with_its_facet() {
    let output = simgap(&["features", "--list"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for (name, facet) in [
        ("politeness_rate", "usi"),
        ("pivot_rate", "usi"),
        ("n_turns", "usi"),
        ("style_mattr", "style"),
        ("info_first_identifier_position", "information"),
        ("coop_compliance_rate", "cooperation"),
        ("rep_contradictions_per_turn", "repetition"),
        ("ctx_topic_shift_mean", "context"),
        ("term_stop_token", "termination"),
        ("timing_reply_seconds_mean", "timing"),
    ] {
        assert!(text.lines().any(|l| l.starts_with(name) && l.contains(facet)), "{name} missing:\n{text}");
    }
}

/// `simgap features --list | head -1`: a reader that has gone ends the output quietly, with success. The pipe's read
/// end is closed before simgap starts (it is started 0.3 s later through `sh`), so every write meets a closed pipe.
#[test]
fn a_closed_stdout_pipe_ends_the_list_quietly_with_success() {
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.3; exec \"$0\" features --list", env!("CARGO_BIN_EXE_simgap")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("simgap ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}
/// A temp folder with two JSONL conversations, a pipeline with `features` settings, and the folder.
fn small_corpus(features_toml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"conversation_id": "a", "messages": [{"role": "user", "content": "Bitte hilf mir, danke"}]}"#,
        r#"{"conversation_id": "b", "messages": [{"role": "user", "content": "please help"}]}"#,
        r#"{"conversation_id": "c", "messages": [{"role": "user", "content": "hello there"}]}"#,
    ];
    std::fs::write(dir.path().join("c.jsonl"), lines.join("\n")).unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[output]\ndir = \"out\"\n[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"s\"\nkind = \"human\"\n{features_toml}"
        ),
    )
    .unwrap();
    (dir, pipeline)
}

/// `simgap ingest` then `simgap features` (a three-conversation corpus is too small for the cluster stage of `run`).
fn ingest_and_features(pipeline: &Path) -> std::process::Output {
    let ingest = simgap(&["-q", "ingest", pipeline.to_str().unwrap()]);
    assert_eq!(ingest.status.code(), Some(0), "{}", stderr(&ingest));
    simgap(&["-q", "features", pipeline.to_str().unwrap()])
}

fn column(path: &Path, name: &str) -> Vec<Option<f64>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let values = batch.column_by_name(name).unwrap().as_primitive::<Float64Type>().clone();
        out.extend((0..values.len()).map(|i| (!values.is_null(i)).then(|| values.value(i))));
    }
    out
}

#[test]
fn cue_lists_are_overridable() {
    let (dir, pipeline) = small_corpus("[features]\nfacets = [\"usi\"]\nlexicons = \"german.toml\"\n");
    std::fs::write(dir.path().join("german.toml"), "[usi]\npoliteness = [\"bitte\", \"danke\"]\n").unwrap();
    let output = ingest_and_features(&pipeline);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let politeness = column(&dir.path().join("out/features.parquet"), "politeness_rate");
    assert_eq!(politeness, [Some(1.0), Some(0.0), Some(0.0)]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["stages"]["features"]["lexicons_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn bad_feature_settings_are_usage_errors() {
    let (_dir, pipeline) = small_corpus("[features]\nfacets = [\"embedding\"]\n");
    let output = ingest_and_features(&pipeline);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("[features.embeddings]"), "{}", stderr(&output));
    let (_dir, pipeline) = small_corpus("[features]\nfacets = [\"usi\", \"vibes\"]\n");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("vibes"), "{}", stderr(&output));
    // A million lexical dimensions used to abort the process (memory); now a usage error before any data is read.
    let (dir, pipeline) = small_corpus("[features]\nfacets = [\"lexical\"]\nlexical_dimensions = 1000000\n");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("between 1 and 4096"), "{}", stderr(&output));
    assert!(!dir.path().join("out/conversations.parquet").exists(), "checked before ingest");
}

#[test]
fn embeddings_join_and_every_problem_is_reported() {
    let (dir, pipeline) = small_corpus(
        "[features]\nfacets = [\"usi\", \"embedding\"]\n[features.embeddings]\npath = \"emb.parquet\"\nvector_column = \"vector\"\n",
    );
    // a: fine; b: wrong dimension; zz: matches nothing; c: none given; a again: repeated; x: NaN.
    let ids = ["a", "b", "zz", "a", "x"];
    let vectors: [&[f32]; 5] = [&[0.5, 1.5], &[1.0], &[2.0, 2.0], &[9.0, 9.0], &[f32::NAN, 1.0]];
    let mut list = ListBuilder::new(Float32Builder::new());
    for v in vectors {
        list.values().append_slice(v);
        list.append(true);
    }
    let list = list.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("vector", list.data_type().clone(), true),
    ]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(ids.to_vec())), Arc::new(list)]).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(dir.path().join("emb.parquet")).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let output = ingest_and_features(&pipeline);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = dir.path().join("out");
    assert_eq!(column(&out.join("features.parquet"), "emb_000"), [Some(0.5), None, None]);
    assert_eq!(column(&out.join("features.parquet"), "emb_001"), [Some(1.5), None, None]);
    let rejects = read_rejects_named(&out);
    let reasons: Vec<String> = rejects.iter().map(|r| r["reason"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reasons.iter().filter(|r| r.contains("no embedding for this conversation")).count(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("1 dimensions, expected 2")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not finite")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("repeated id")), "{reasons:?}");
    assert!(rejects.iter().any(|r| r["conversation_id"] == "zz" && r["reason"] == "matches no conversation"));
}

fn read_rejects_named(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("features_rejects.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
