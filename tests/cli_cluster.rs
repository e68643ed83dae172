//! End to end for `simgap cluster` and `simgap kmeans`: the real binary on the demo corpus in a temp folder:
//! codebooks per facet, assignments for every feature row, the same bytes on 1 and 2 threads, clear errors.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt32Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use common::{demo_with, simgap, stderr};

fn run(pipeline: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-q"];
    args.extend_from_slice(extra);
    args.extend(["run", pipeline.to_str().unwrap()]);
    simgap(&args)
}

#[test]
fn codebooks_and_assignments_for_every_facet() {
    let (dir, pipeline) = demo_with("[cluster]\nk = 12\nrestarts = 2\nsample_size = 600\n");
    let output = run(&pipeline, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = dir.path().join("out");
    for facet in ["usi", "style", "timing", "lexical", "all"] {
        let codebook: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("codebooks/{facet}.json"))).unwrap()).unwrap();
        assert_eq!(codebook["k"], 12, "{facet}");
        assert_eq!(codebook["centroids"].as_array().unwrap().len(), 12);
        // The sample is bounded; timing is fitted on the rows that have timestamps (the 150 sampled humans).
        let expected_rows = if facet == "timing" { 150 } else { 600 };
        assert_eq!(codebook["fit_rows"], expected_rows, "{facet}");
        assert!(codebook["inertia"].as_f64().unwrap() >= 0.0);
        for key in ["scaler", "seed", "iterations", "simgap_version", "centroids_input_space", "columns"] {
            assert!(codebook.get(key).is_some(), "{facet}: {key}");
        }
    }
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(out.join("assignments.parquet")).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let mut rows = 0;
    let mut clusters = BTreeSet::new();
    for batch in reader {
        let batch = batch.unwrap();
        let usi = batch.column_by_name("cluster_usi").unwrap().as_primitive::<UInt32Type>();
        clusters.extend(usi.values().iter().copied());
        assert!(batch.column_by_name("cluster_all").is_some());
        // Simulators have no timestamps: no timing cluster (null), rather than a cluster of missing values.
        let kinds = batch.column_by_name("kind").unwrap().as_string::<i32>();
        let timing = batch.column_by_name("cluster_timing").unwrap().as_primitive::<UInt32Type>();
        for i in 0..batch.num_rows() {
            assert_eq!(timing.is_null(i), kinds.value(i) == "simulator", "row {i}");
        }
        rows += batch.num_rows();
    }
    assert_eq!(rows, 1400);
    assert!(clusters.iter().all(|c| *c < 12));
    assert!(clusters.len() > 6, "{clusters:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let sample = &manifest["stages"]["cluster"]["sample_rows"];
    assert_eq!(sample["human"], 150, "each source equally represented: {sample}");
    assert_eq!(sample["sim-terse-impatient"], 150);
}

#[test]
fn same_bytes_on_one_and_two_threads() {
    let outputs: Vec<Vec<u8>> = ["1", "2"]
        .iter()
        .map(|threads| {
            let (dir, pipeline) = demo_with("[cluster]\nk = 8\nfacets = [\"usi\", \"all\"]\n");
            let output = run(&pipeline, &["--threads", threads]);
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
            let bytes = std::fs::read(dir.path().join("out/assignments.parquet")).unwrap();
            let codebook = std::fs::read_to_string(dir.path().join("out/codebooks/all.json")).unwrap();
            let centroids: serde_json::Value =
                serde_json::from_str::<serde_json::Value>(&codebook).unwrap()["centroids"].clone();
            [bytes, centroids.to_string().into_bytes()].concat()
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn bad_cluster_settings_are_usage_errors() {
    for (table, needle) in [
        ("[cluster]\nk = 0\n", "k must be at least 1"),
        ("[cluster]\nfacets = [\"vibes\"]\n", "vibes"),
        ("[cluster]\npca_variance = 1.5\n", "pca_variance"),
        ("[cluster]\nk = 5\nsample_size = 3\n", "sample_size"),
        ("[cluster]\nfacets = [\"usi\", \"usi\"]\n", "twice"),
        ("[divergence]\nfacets = [\"usi\", \"vibes\"]\n", "vibes"),
        ("[features]\nfacets = [\"usi\"]\n[cluster]\nfacets = [\"style\"]\n", "style"),
    ] {
        let (dir, pipeline) = demo_with(table);
        let output = run(&pipeline, &[]);
        assert_eq!(output.status.code(), Some(2), "{table}: {}", stderr(&output));
        assert!(stderr(&output).contains(needle), "{table}: {}", stderr(&output));
        // Settings, alone and across stages, are checked before any stage runs.
        assert!(!dir.path().join("out/conversations.parquet").exists(), "{table}");
    }
}

#[test]
fn a_reference_no_input_declares_is_a_usage_error_before_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"conversation_id": "a", "messages": [{"role": "user", "content": "hi"}]}"#;
    std::fs::write(dir.path().join("c.jsonl"), line).unwrap();
    let pipeline = dir.path().join("p.toml");
    let input = "[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"human\"\nkind = \"human\"\n";
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{input}[divergence]\nreference = \"humans\"\n"))
        .unwrap();
    let output = run(&pipeline, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("reference \"humans\" is none of the sources the inputs declare (human)"));
    assert!(!dir.path().join("out/conversations.parquet").exists());
}

#[test]
fn a_reference_the_records_do_not_name_fails_right_after_ingest() {
    // The sources come from the records (no `source` in [[input]]), so only ingest can tell.
    let dir = tempfile::tempdir().unwrap();
    let line = |id: &str| {
        let messages = r#"[{"role": "user", "content": "hi"}]"#;
        format!(r#"{{"conversation_id": "{id}", "source": "human", "kind": "human", "messages": {messages}}}"#)
    };
    std::fs::write(dir.path().join("c.jsonl"), format!("{}\n{}\n", line("a"), line("b"))).unwrap();
    let pipeline = dir.path().join("p.toml");
    let text = "[output]\ndir = \"out\"\n[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\n[cluster]\nk = 2\n\
                [divergence]\nreference = \"humans\"\n";
    std::fs::write(&pipeline, text).unwrap();
    for attempt in ["first run", "rerun, ingest from its cache"] {
        let output = run(&pipeline, &[]);
        assert_eq!(output.status.code(), Some(2), "{attempt}: {}", stderr(&output));
        assert!(stderr(&output).contains("reference \"humans\" is none of the sources ingested (human)"), "{attempt}");
        // Ingest ran (its cache part is there); the failed run switched nothing into view.
        assert!(std::fs::read_dir(dir.path().join("out/.cache/ingest")).unwrap().count() > 0, "{attempt}");
        assert!(!dir.path().join("out/conversations.parquet").exists(), "{attempt}");
        assert!(!dir.path().join("out/features.parquet").exists(), "{attempt}: the features stage must not run");
    }
}

#[test]
fn kmeans_command_on_any_numeric_table() {
    let dir = tempfile::tempdir().unwrap();
    let (dir_path, pipeline) = demo_with("[cluster]\nk = 4\nfacets = [\"usi\"]\n");
    assert_eq!(run(&pipeline, &[]).status.code(), Some(0));
    let features = dir_path.path().join("out/features.parquet");
    let out = dir.path().join("codebook.json");
    let args = [
        "-q",
        "kmeans",
        "--input",
        features.to_str().unwrap(),
        "--columns",
        "politeness_rate,short_msg_rate,user_words_per_turn",
        "--k",
        "5",
        "--restarts",
        "2",
        "--seed",
        "3",
        "--standardize",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = simgap(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let codebook: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let centroids = codebook["centroids"].as_array().unwrap();
    assert_eq!(centroids.len(), 5);
    assert_eq!(centroids[0].as_array().unwrap().len(), 3);
    // Centroids are reported in the input's space: politeness rates between 0 and 1, words per turn positive.
    assert!(centroids.iter().all(|c| (0.0..=1.0).contains(&c[0].as_f64().unwrap()) && c[2].as_f64().unwrap() > 0.0));
    for key in ["inertia", "iterations", "seconds"] {
        assert!(codebook[key].as_f64().is_some(), "{key}");
    }
    let bad =
        simgap(&["-q", "kmeans", "--input", features.to_str().unwrap(), "--k", "0", "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("k must be at least 1"), "{}", stderr(&bad));
    let missing = simgap(&[
        "-q",
        "kmeans",
        "--input",
        features.to_str().unwrap(),
        "--columns",
        "nope",
        "--k",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nope"));
}

#[test]
fn k_above_the_accepted_conversations_fails_before_the_features_stage() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"conversation_id": "c{i}", "messages": [{{"role": "user", "content": "hi {i}"}}]}}"#))
        .collect();
    std::fs::write(dir.path().join("c.jsonl"), lines.join("\n")).unwrap();
    let pipeline = dir.path().join("p.toml");
    let input = "[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"human\"\nkind = \"human\"\n\
                 [[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"sim\"\nkind = \"simulator\"\n";
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{input}[cluster]\nk = 50\n")).unwrap();
    let output = run(&pipeline, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("k = 50 is more than the 6 conversations accepted"), "{}", stderr(&output));
    assert!(std::fs::read_dir(dir.path().join("out/.cache/ingest")).unwrap().count() > 0, "ingest ran");
    assert!(!dir.path().join("out/conversations.parquet").exists(), "a failed run switches nothing into view");
}

#[test]
fn k_auto_is_a_tenth_of_the_smallest_source_and_the_manifest_says_so() {
    // 40 humans and 60 simulated conversations: k = 4, so each side has ten or more per cluster.
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let synth =
        simgap(&["-q", "synth", "--out", corpus.to_str().unwrap(), "--conversations", "100", "--simulators", "1"]);
    assert!(synth.status.success(), "{}", stderr(&synth));
    let output = run(&corpus.join("pipeline.toml"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("per cluster"), "no sample-size warning: {}", stderr(&output));
    let out = corpus.join("out");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let chosen = &manifest["stages"]["cluster"]["k"];
    assert_eq!(chosen["k"], 4, "{chosen}");
    assert!(chosen["rule"].as_str().unwrap().contains("40 conversations"), "{chosen}");
    assert_eq!(manifest["stages"]["cluster"]["settings"]["k"], "auto");
    for facet in ["usi", "style", "lexical", "all"] {
        let codebook: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("codebooks/{facet}.json"))).unwrap()).unwrap();
        assert_eq!(codebook["k"], 4, "{facet}");
        assert!(codebook["inertia"].as_f64().unwrap() > 0.0, "{facet}: 100 rows in 4 clusters are not all centres");
    }
}

#[test]
fn one_source_or_no_reference_fails_before_any_stage_runs() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"conversation_id": "a", "messages": [{"role": "user", "content": "hi"}]}"#;
    std::fs::write(dir.path().join("c.jsonl"), line).unwrap();
    let input = |source: &str, kind: &str| {
        format!("[[input]]\npath = \"c.jsonl\"\nformat = \"jsonl\"\nsource = \"{source}\"\nkind = \"{kind}\"\n")
    };
    let cases = [
        (input("human", "human"), "one source only (human)"),
        (input("sim-a", "simulator") + &input("sim-b", "simulator"), "no human source to compare with"),
        (input("h1", "human") + &input("h2", "human"), "several human sources (h1, h2)"),
    ];
    for (inputs, message) in cases {
        let pipeline = dir.path().join("p.toml");
        std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n{inputs}")).unwrap();
        let output = run(&pipeline, &[]);
        assert_eq!(output.status.code(), Some(2), "{message}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{message}: {}", stderr(&output));
        assert!(!dir.path().join("out").exists(), "{message}: no stage may run");
    }
}
