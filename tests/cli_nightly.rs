//! End to end for nightly runs of `simgap run`: the real binary in temp folders. A rerun on unchanged inputs skips
//! every stage and leaves every table as it was; a new or changed input file is the only one read again, and the
//! tables equal a fresh full run's byte for byte; `--force` recomputes everything; a run killed with SIGKILL in the
//! middle of a stage leaves the previous outputs whole and readable, and the next run finishes the job.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Table, simgap, stderr};

const STAGES: [&str; 5] = ["ingest", "features", "cluster", "divergence", "report"];

/// The demo pipeline, reading the bundled demo data, writing into `out` of a temp folder.
fn demo() -> (tempfile::TempDir, PathBuf) {
    common::demo_with("")
}

/// Runs `simgap ARGS`, expecting one of `codes`; returns stderr.
fn run_expect(args: &[&str], codes: &[i32]) -> String {
    let output = simgap(args);
    let code = output.status.code().unwrap_or(-1);
    assert!(codes.contains(&code), "{args:?} exited {code}: {}", stderr(&output));
    stderr(&output)
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).expect("manifest.json parses")
}

/// What the last run did to each stage.
fn statuses(out: &Path) -> BTreeMap<String, String> {
    let manifest = manifest(out);
    assert_eq!(manifest["last_run"]["complete"], true);
    let stages = manifest["last_run"]["stages"].as_object().unwrap();
    stages.iter().map(|(stage, s)| (stage.clone(), s["status"].as_str().unwrap().to_owned())).collect()
}

fn all(status: &str) -> BTreeMap<String, String> {
    STAGES.iter().map(|s| (s.to_string(), status.to_owned())).collect()
}

/// Each input file the last ingest named, and whether its rows came from the cache.
fn cached_files(out: &Path) -> Vec<(String, bool)> {
    let manifest = manifest(out);
    let files = manifest["stages"]["ingest"]["files"].as_array().unwrap();
    files.iter().map(|f| (f["file"].as_str().unwrap().to_owned(), f["cached"].as_bool().unwrap())).collect()
}

/// Every deterministic output (tables, codebooks, rejects, paper tables) by path below OUT; not the manifest or the
/// HTML page, which carry timings, nor the codebooks' fit time.
fn outputs(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for folder in ["", "codebooks", "tables"] {
        let Ok(entries) = std::fs::read_dir(out.join(folder)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let kept = [".parquet", ".jsonl", ".json", ".md", ".tex", ".csv"].iter().any(|e| name.ends_with(e));
            if path.is_file() && kept && name != "manifest.json" {
                let mut bytes = std::fs::read(&path).unwrap();
                if folder == "codebooks" {
                    let mut codebook: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    codebook.as_object_mut().unwrap().remove("seconds").expect("a codebook records its fit time");
                    bytes = codebook.to_string().into_bytes();
                }
                files.insert(format!("{folder}/{name}"), bytes);
            }
        }
    }
    assert!(files.contains_key("/conversations.parquet") && files.contains_key("/divergence.parquet"));
    files
}

/// Names of the files whose bytes differ between two output folders' listings.
fn differing(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().filter(|n| a.get(*n) != b.get(*n)).cloned().collect()
}

fn temporary_files(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tmp") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn rerun_on_unchanged_inputs_skips_every_stage() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let out = dir.path().join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    assert_eq!(statuses(&out), all("ran"));
    let before = outputs(&out);
    let page = std::fs::read(out.join("report.html")).unwrap();

    let log = run_expect(&["run", pipeline], &[0]);
    for stage in STAGES {
        assert!(log.contains(&format!("{stage}: skipped (unchanged)")), "{stage} not skipped:\n{log}");
    }
    assert_eq!(statuses(&out), all("skipped (unchanged)"));
    assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new());
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), page, "a skipped report is not rewritten");

    // The manifest still describes every stage: fingerprints, what each read, hashes of what each wrote.
    let manifest = manifest(&out);
    for stage in STAGES {
        let section = &manifest["stages"][stage];
        assert_eq!(section["fingerprint"].as_str().unwrap().len(), 64, "{stage}");
        assert!(!section["outputs"].as_object().unwrap().is_empty(), "{stage}");
    }
    assert_eq!(manifest["stages"]["ingest"]["accepted"], 1400);
    assert!(manifest["stages"]["features"]["reads"]["conversations.parquet"].is_string());

    // A comment in the pipeline file changes no setting; a setting changes its stage and those after it.
    let text = std::fs::read_to_string(pipeline).unwrap();
    std::fs::write(pipeline, format!("# nightly\n{text}")).unwrap();
    run_expect(&["-q", "run", pipeline], &[0]);
    assert_eq!(statuses(&out), all("skipped (unchanged)"));
    std::fs::write(pipeline, format!("{text}\n[divergence]\nbootstrap = 200\n")).unwrap();
    run_expect(&["-q", "run", pipeline], &[0]);
    let mut expected = all("skipped (unchanged)");
    expected.insert("divergence".into(), "ran".into());
    expected.insert("report".into(), "ran".into());
    assert_eq!(statuses(&out), expected);
}

#[test]
fn new_or_changed_input_file_is_the_only_one_read_and_the_table_equals_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::project_root().join("data/demo");
    std::fs::create_dir_all(dir.path().join("data/humans")).unwrap();
    let humans = std::fs::read_to_string(data.join("humans.jsonl")).unwrap();
    let lines: Vec<&str> = humans.lines().collect();
    let write_lines =
        |name: &str, lines: &[&str]| std::fs::write(dir.path().join(name), lines.join("\n") + "\n").unwrap();
    write_lines("data/humans/1.jsonl", &lines[..200]);
    write_lines("data/humans/2.jsonl", &lines[200..400]);
    let simulators = ["sim-polite-verbose", "sim-terse-impatient", "sim-near-human"];
    let mut pipeline =
        String::from("[output]\ndir = \"out\"\n[[input]]\npath = \"data/humans/*.jsonl\"\nformat = \"jsonl\"\n");
    for simulator in simulators {
        std::fs::copy(data.join(format!("{simulator}.jsonl")), dir.path().join(format!("data/{simulator}.jsonl")))
            .unwrap();
        pipeline += &format!(
            "[[input]]\npath = \"data/{simulator}.jsonl\"\nformat = \"openai\"\nsource = \"{simulator}\"\nkind = \"simulator\"\n"
        );
    }
    let pipeline_path = dir.path().join("p.toml");
    std::fs::write(&pipeline_path, pipeline).unwrap();
    let pipeline = pipeline_path.to_str().unwrap();
    let out = dir.path().join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    assert!(cached_files(&out).iter().all(|(_, cached)| !cached));

    // A new file (the rest of the humans, plus one id repeated from 1.jsonl) and a changed one (fewer lines).
    let mut third: Vec<&str> = lines[400..].to_vec();
    third.push(lines[0]);
    write_lines("data/humans/3.jsonl", &third);
    let near = std::fs::read_to_string(dir.path().join("data/sim-near-human.jsonl")).unwrap();
    let near: Vec<&str> = near.lines().collect();
    write_lines("data/sim-near-human.jsonl", &near[..near.len() - 30]);
    // Exit 3: the repeated id is rejected, as in a full run.
    run_expect(&["-q", "run", pipeline], &[3]);
    let read_again: Vec<String> =
        cached_files(&out).into_iter().filter(|(_, cached)| !cached).map(|(f, _)| f).collect();
    assert_eq!(read_again, ["data/humans/3.jsonl", "data/sim-near-human.jsonl"]);
    assert_eq!(statuses(&out), all("ran"));
    let manifest = manifest(&out);
    assert_eq!(manifest["stages"]["ingest"]["rejected"], 1);
    assert_eq!(manifest["stages"]["ingest"]["accepted"], 1400 - 30);

    // A fresh full run on the same inputs in another folder, and the direct `simgap ingest`: the same bytes.
    let fresh = dir.path().join("fresh");
    run_expect(&["-q", "run", pipeline, "--out", fresh.to_str().unwrap()], &[3]);
    assert!(cached_files(&fresh).iter().all(|(_, cached)| !cached));
    assert_eq!(differing(&outputs(&out), &outputs(&fresh)), Vec::<String>::new());
    let direct = dir.path().join("direct");
    run_expect(&["-q", "ingest", pipeline, "--out", direct.to_str().unwrap()], &[3]);
    for file in ["conversations.parquet", "rejects.jsonl"] {
        assert_eq!(std::fs::read(out.join(file)).unwrap(), std::fs::read(direct.join(file)).unwrap(), "{file}");
    }

    // Unchanged again: every stage skipped, and the recorded rejects still make it exit 3.
    run_expect(&["-q", "run", pipeline], &[3]);
    assert_eq!(statuses(&out), all("skipped (unchanged)"));
    // The cache holds the current files' parts only (rows, rejects, summary per file).
    let parts = std::fs::read_dir(out.join(".cache/ingest")).unwrap().count();
    assert_eq!(parts, 6 * 3);
}

#[test]
fn force_recomputes_every_stage_and_every_file() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let out = dir.path().join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    let before = outputs(&out);
    let log = run_expect(&["run", pipeline, "--force"], &[0]);
    assert!(!log.contains("skipped (unchanged)"), "{log}");
    assert_eq!(statuses(&out), all("ran"));
    assert_eq!(manifest(&out)["last_run"]["forced"], true);
    assert!(cached_files(&out).iter().all(|(_, cached)| !cached));
    assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new(), "the same inputs give the same bytes");
}

#[test]
fn killed_run_leaves_previous_outputs_whole_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    run_expect(&["-q", "synth", "--out", corpus.to_str().unwrap(), "--conversations", "20000"], &[0]);
    let pipeline_path = corpus.join("pipeline.toml");
    let settings = "\n[cluster]\nrestarts = 1\nmax_iter = 100\n[divergence]\nbootstrap = 200\npermutations = 200\n";
    let text = std::fs::read_to_string(&pipeline_path).unwrap() + settings;
    std::fs::write(&pipeline_path, text).unwrap();
    let pipeline = pipeline_path.to_str().unwrap();
    let out = corpus.join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    let before = outputs(&out);

    // New inputs (the humans' last 1,000 conversations gone), then a run killed while it writes the features.
    let humans = std::fs::read_to_string(corpus.join("humans.jsonl")).unwrap();
    let lines: Vec<&str> = humans.lines().collect();
    std::fs::write(corpus.join("humans.jsonl"), lines[..lines.len() - 1000].join("\n") + "\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_simgap")).args(["-q", "run", pipeline]).spawn().unwrap();
    let temporary = out.join("features.parquet.tmp");
    let started = Instant::now();
    while !temporary.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before the features stage was caught");
        assert!(started.elapsed() < Duration::from_secs(60), "no features.parquet.tmp after 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Every table is whole: the features and later tables are the previous run's, byte for byte; the new
    // conversations table (ingest finished) and the manifest read.
    let after = outputs(&out);
    assert_eq!(differing(&before, &after), ["/conversations.parquet"]);
    for name in after.keys() {
        if name.ends_with(".parquet") {
            let table = Table::read(&out.join(name.trim_start_matches('/')));
            assert!(table.rows > 0, "{name}");
        }
    }
    assert_eq!(Table::read(&out.join("conversations.parquet")).rows, 19_000);
    assert_eq!(Table::read(&out.join("features.parquet")).rows, 20_000);
    let manifest = manifest(&out);
    assert_eq!(manifest["last_run"]["complete"], false);
    assert_eq!(manifest["stages"]["ingest"]["accepted"], 19_000);
    assert!(temporary.exists(), "the killed run's temporary file is still there");

    // The next run removes the debris, keeps the finished ingest, and redoes the rest.
    run_expect(&["-q", "run", pipeline], &[0]);
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    let mut expected = all("ran");
    expected.insert("ingest".into(), "skipped (unchanged)".into());
    assert_eq!(statuses(&out), expected);
    let clean = dir.path().join("clean");
    run_expect(&["-q", "run", pipeline, "--out", clean.to_str().unwrap()], &[0]);
    assert_eq!(differing(&outputs(&out), &outputs(&clean)), Vec::<String>::new());

    // While one run holds the folder (here: this test holds its lock), another is refused at once.
    let lock = std::fs::File::open(out.join(".lock")).unwrap();
    lock.lock().unwrap();
    let refused = run_expect(&["-q", "run", pipeline], &[1]);
    assert!(refused.contains("locked"), "{refused}");
    lock.unlock().unwrap();
}
