//! End to end: `simgap synth` makes a corpus whose own pipeline ingests cleanly, the bundled demo runs, and every
//! subcommand's `--help` says what it reads and writes.

mod common;

use common::{count_by_source, read_conversations, simgap, stderr};

#[test]
fn synth_corpus_ingests_cleanly_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let corpus_text = corpus.to_str().unwrap();
    let output = simgap(&["-q", "synth", "--out", corpus_text, "--conversations", "203", "--seed", "9"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = simgap(&["-q", "run", corpus.join("pipeline.toml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = read_conversations(&corpus.join("out/conversations.parquet"));
    let counts = count_by_source(&rows);
    assert_eq!(counts["human"], 81);
    assert_eq!(counts.values().sum::<usize>(), 203);
    assert_eq!(counts.len(), 4);
    assert!(rows.iter().filter(|r| r.source == "human").all(|r| r.kind == "human" && r.messages[0].2.is_some()));

    let again = dir.path().join("again");
    let output = simgap(&["-q", "synth", "--out", again.to_str().unwrap(), "--conversations", "203", "--seed", "9"]);
    assert_eq!(output.status.code(), Some(0));
    for name in ["humans.jsonl", "sim-terse-impatient.jsonl"] {
        assert_eq!(std::fs::read(corpus.join(name)).unwrap(), std::fs::read(again.join(name)).unwrap());
    }
}

#[test]
fn more_simulators_each_get_a_source_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let synth = |name: &str| {
        let folder = dir.path().join(name);
        let args = ["-q", "synth", "--out", folder.to_str().unwrap(), "--conversations", "500", "--simulators", "5"];
        let output = simgap(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        folder
    };
    let corpus = synth("corpus");
    let pipeline = std::fs::read_to_string(corpus.join("pipeline.toml")).unwrap();
    assert_eq!(pipeline.matches("[[input]]").count(), 6, "{pipeline}");
    let output = simgap(&["-q", "ingest", corpus.join("pipeline.toml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let counts = count_by_source(&read_conversations(&corpus.join("out/conversations.parquet")));
    let expected = [
        ("human", 200),
        ("sim-near-human", 60),
        ("sim-polite-verbose", 60),
        ("sim-polite-verbose-04", 60),
        ("sim-terse-impatient", 60),
        ("sim-terse-impatient-05", 60),
    ];
    assert_eq!(counts, expected.iter().map(|(s, n)| (s.to_string(), *n)).collect());
    let files: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.iter().filter(|f| f.to_string_lossy().ends_with(".jsonl")).count(), 6);

    let again = synth("again");
    for name in ["pipeline.toml", "humans.jsonl", "sim-polite-verbose-04.jsonl", "sim-terse-impatient-05.jsonl"] {
        assert_eq!(std::fs::read(corpus.join(name)).unwrap(), std::fs::read(again.join(name)).unwrap(), "{name}");
    }
    let output = simgap(&["-q", "synth", "--out", dir.path().join("none").to_str().unwrap(), "--simulators", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn bundled_demo_runs() {
    let out = tempfile::tempdir().unwrap();
    let pipeline = common::project_root().join("pipelines/demo.toml");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let counts = count_by_source(&read_conversations(&out.path().join("conversations.parquet")));
    let expected = [("human", 560), ("sim-near-human", 280), ("sim-polite-verbose", 280), ("sim-terse-impatient", 280)];
    assert_eq!(counts, expected.iter().map(|(s, n)| (s.to_string(), *n)).collect());
    // Even quiet, and again when a rerun skips every stage, the run ends with one line naming where the results are.
    let report = out.path().join("report.html");
    let expected_line = format!("results: {} (tables in {}", report.display(), out.path().join("tables").display());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with(&expected_line), "{:?}", output.stdout);
    let again = simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let line = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(line.starts_with(&expected_line) && line.lines().count() == 1, "{line:?}");
    assert!(report.is_file());
}

#[test]
fn out_stands_in_for_a_missing_output_section() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(common::project_root().join("pipelines/demo.toml")).unwrap();
    let data = common::project_root().join("data/demo");
    let without_output: String = demo
        .replace("../data/demo", data.to_str().unwrap())
        .lines()
        .filter(|line| !line.starts_with("[output]") && !line.starts_with("dir = "))
        .collect::<Vec<_>>()
        .join("\n");
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, without_output).unwrap();
    let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no output folder") && stderr(&output).contains("--out"), "{}", stderr(&output));
    let out = dir.path().join("out");
    let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(out.join("conversations.parquet").is_file());
}

#[test]
fn help_says_what_each_command_reads_and_writes() {
    for command in ["ingest", "run", "synth", "features", "cluster", "kmeans", "divergence", "report"] {
        let output = simgap(&[command, "--help"]);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Writes"), "{command}: {text}");
        assert!(text.contains("Cost"), "{command}: {text}");
    }
    let output = simgap(&["--help"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("Exit codes"));
}
