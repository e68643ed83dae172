//! `simgap run --shard I/N` and `simgap merge`, the real binary: the five rounds of N shards, each shard a process
//! of its own, then the merges, give an output folder whose every table (Parquet, CSV, Markdown, TeX), figure,
//! rejects file and codebook (less its fit time) equals, byte for byte, what `simgap run` writes, for N = 1, 3 and
//! 7, on the demo and on shi2019. A shard missing at merge time is an error naming it, and the merge writes
//! nothing; parts of another N are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{demo_with, shi2019_in, stderr};

/// The night's date every run records, so that the history tables of two runs compare.
const EPOCH: &str = "1764547200";

fn simgap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simgap"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .expect("the simgap binary runs")
}

fn ok(output: Output, what: &str) -> String {
    assert!(matches!(output.status.code(), Some(0 | 3)), "{what}: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One shard's round.
fn shard(pipeline: &Path, out: &Path, index: usize, count: usize) -> String {
    let shard = format!("{index}/{count}");
    let args = ["-q", "run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--shard", &shard];
    ok(simgap(&args), &format!("shard {shard}"))
}

fn merge(pipeline: &Path, out: &Path) -> Output {
    simgap(&["-q", "merge", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

/// The whole sharded run: five rounds of `count` shards, each followed by a merge. The shards of a round run in
/// reverse order, so nothing depends on the order they finish in.
fn sharded_run(pipeline: &Path, out: &Path, count: usize) {
    for round in 1..=5 {
        for index in (0..count).rev() {
            let said = shard(pipeline, out, index, count);
            assert!(said.contains(&format!("round {round} of 5")), "{said}");
        }
        let said = ok(merge(pipeline, out), &format!("merge of round {round}"));
        if round < 5 {
            assert!(said.starts_with("merged round"), "{said}");
        } else {
            assert!(said.starts_with("results: "), "{said}");
        }
    }
}

/// Every file `simgap run` leaves in `out` (through `current`), but the manifest and the report page, which record
/// paths and times.
fn outputs(out: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, base: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, files);
            } else {
                files.push(path.strip_prefix(base).unwrap().to_owned());
            }
        }
    }
    let current = out.join("current");
    let mut files = Vec::new();
    walk(&current.canonicalize().unwrap(), &current.canonicalize().unwrap(), &mut files);
    files.retain(|f| !["manifest.json", "report.html"].contains(&f.to_str().unwrap()));
    files.sort();
    files
}

fn without_timing(bytes: &[u8]) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    value.as_object_mut().unwrap().remove("seconds");
    value
}

fn assert_same_outputs(reference: &Path, sharded: &Path, what: &str) {
    let files = outputs(reference);
    assert_eq!(files, outputs(sharded), "{what}: the same files");
    assert!(files.iter().any(|f| f.ends_with("divergence.parquet")) && files.len() > 30, "{files:?}");
    for file in &files {
        let (a, b) = (std::fs::read(reference.join(file)).unwrap(), std::fs::read(sharded.join(file)).unwrap());
        if file.starts_with("codebooks") {
            assert_eq!(without_timing(&a), without_timing(&b), "{what}: {}", file.display());
        } else {
            assert!(a == b, "{what}: {} differs from simgap run's", file.display());
        }
    }
}

#[test]
fn sharded_runs_equal_simgap_run_on_the_demo_for_1_3_and_7_shards() {
    let (dir, pipeline) = demo_with("");
    let reference = dir.path().join("reference");
    ok(simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", reference.to_str().unwrap()]), "simgap run");
    for count in [1, 3, 7] {
        let out = dir.path().join(format!("shards-{count}"));
        sharded_run(&pipeline, &out, count);
        assert_same_outputs(&reference, &out, &format!("{count} shards"));
    }
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn sharded_run_equals_simgap_run_on_shi2019() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pipeline) = shi2019_in(dir.path()) else { return };
    let reference = dir.path().join("reference");
    ok(simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", reference.to_str().unwrap()]), "simgap run");
    let out = dir.path().join("shards");
    sharded_run(&pipeline, &out, 3);
    assert_same_outputs(&reference, &out, "shi2019, 3 shards");
}

#[test]
fn a_missing_shard_is_named_and_the_merge_writes_nothing() {
    let (dir, pipeline) = demo_with("");
    let out = dir.path().join("out");
    for index in [0, 2, 4] {
        shard(&pipeline, &out, index, 5);
    }
    let output = merge(&pipeline, &out);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("2 of 5 shards have not finished it: 1/5, 3/5"), "{message}");
    assert!(!out.join(".shards/merged").exists(), "the failed merge wrote something");
    assert!(!out.join("current").exists());

    // The missing ones done, the round merges; a shard of another N is refused from then on.
    for index in [1, 3] {
        shard(&pipeline, &out, index, 5);
    }
    ok(merge(&pipeline, &out), "merge");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--shard", "0/4"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("parts of a run in 5 shards, not 4"), "{}", stderr(&output));

    // A shard lost after round 1: the next merge names it too.
    for index in [0, 1, 2, 3] {
        shard(&pipeline, &out, index, 5);
    }
    let output = merge(&pipeline, &out);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("round 2 (frequencies) cannot be merged: 1 of 5 shards"), "{}", stderr(&output));
}

#[test]
fn bad_shards_are_usage_errors() {
    let (_dir, pipeline) = demo_with("");
    for bad in ["3/3", "x/2", "2"] {
        let output = simgap(&["run", pipeline.to_str().unwrap(), "--shard", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", stderr(&output));
    }
    let output = simgap(&["run", pipeline.to_str().unwrap(), "--shard", "0/2", "--strict"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn shards_may_write_to_folders_of_their_own() {
    let (dir, pipeline) = demo_with("");
    let reference = dir.path().join("reference");
    ok(simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", reference.to_str().unwrap()]), "simgap run");
    let out = dir.path().join("out");
    let folders = [dir.path().join("node-a"), dir.path().join("node-b")];
    let (p, o) = (pipeline.to_str().unwrap(), out.to_str().unwrap());
    for _round in 1..=5 {
        for index in 0..3 {
            let folder = folders[usize::from(index == 2)].to_str().unwrap();
            let shard = format!("{index}/3");
            ok(simgap(&["-q", "run", p, "--out", o, "--shard", &shard, "--parts", folder]), "shard");
        }
        let (a, b) = (folders[0].to_str().unwrap(), folders[1].to_str().unwrap());
        ok(simgap(&["-q", "merge", p, "--out", o, "--parts", a, b]), "merge");
    }
    assert_same_outputs(&reference, &out, "3 shards in two folders");
}

/// Past the demo's size, the joined tables cross the writers' batch and row-group boundaries at other rows than a
/// single pass does: 30,000 generated conversations in 3 shards (the `usi` facet, for speed) still give the bytes.
#[test]
fn sharded_run_equals_simgap_run_past_the_writers_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let (c, r) = (corpus.to_str().unwrap(), dir.path().join("reference"));
    ok(simgap(&["-q", "synth", "--out", c, "--conversations", "30000", "--simulators", "2", "--seed", "3"]), "synth");
    let pipeline = corpus.join("pipeline.toml");
    let mut text = std::fs::read_to_string(&pipeline).unwrap();
    text.push_str("\n[features]\nfacets = [\"usi\"]\n\n[cluster]\nfacets = [\"usi\"]\n");
    std::fs::write(&pipeline, text).unwrap();
    ok(simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", r.to_str().unwrap()]), "simgap run");
    let out = dir.path().join("shards");
    sharded_run(&pipeline, &out, 3);
    assert_same_outputs(&r, &out, "30,000 conversations, 3 shards");
}
