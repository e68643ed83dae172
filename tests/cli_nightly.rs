//! End to end for nightly runs of `simgap run`: the real binary in temp folders. A rerun on unchanged inputs skips
//! every stage and leaves every table as it was; a new or changed input file is the only one read again, and the
//! tables equal a fresh full run's byte for byte; `--force` recomputes everything; outputs switch as one generation:
//! a run killed with SIGKILL at any point, or failing at any output it writes, leaves the previous set, manifest
//! included, byte for byte, a reader never sees a mix, and the next run finishes the job.

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
/// HTML page, which carry timings, nor the codebooks' fit time, nor the history, which records the runs (one night
/// per run whose inputs or settings changed, dated) rather than the inputs (`tests/cli_history.rs`).
fn outputs(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for folder in ["", "codebooks", "tables"] {
        let Ok(entries) = std::fs::read_dir(out.join(folder)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let kept = [".parquet", ".jsonl", ".json", ".md", ".tex", ".csv"].iter().any(|e| name.ends_with(e));
            if path.is_file() && kept && name != "manifest.json" && !name.starts_with("history.") {
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

/// `name` inside a generation of `out` that is not (yet) the current one.
fn in_new_generation(out: &Path, name: &str) -> Option<PathBuf> {
    let current = std::fs::read_link(out.join("current")).ok().and_then(|t| t.file_name().map(|n| n.to_owned()));
    let entries = std::fs::read_dir(out.join(".generations")).ok()?;
    entries.flatten().filter(|e| Some(e.file_name()) != current).map(|e| e.path().join(name)).find(|p| p.exists())
}

/// Temporary files anywhere below `out` (symlinks not followed).
fn temporary_files(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
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
    let visible_manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_simgap")).args(["-q", "run", pipeline]).spawn().unwrap();
    let started = Instant::now();
    let temporary = loop {
        if let Some(found) = in_new_generation(&out, "features.parquet.tmp") {
            break found;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before the features stage was caught");
        assert!(started.elapsed() < Duration::from_secs(60), "no features.parquet.tmp after 60 s");
        std::thread::sleep(Duration::from_millis(2));
    };
    child.kill().unwrap();
    child.wait().unwrap();

    // What readers see is the previous run's set, whole and byte for byte, manifest included: the killed run's
    // finished ingest sits in its unfinished generation, which nobody reads.
    let after = outputs(&out);
    assert_eq!(differing(&before, &after), Vec::<String>::new());
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), visible_manifest);
    assert_eq!(Table::read(&out.join("conversations.parquet")).rows, 20_000);
    assert!(temporary.exists(), "the killed run's temporary file is still in its generation");

    // The next run removes the killed run's generation and does the work again; ingest reads every file from the
    // cache parts the killed run left.
    run_expect(&["-q", "run", pipeline], &[0]);
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    assert!(!temporary.exists());
    assert_eq!(statuses(&out), all("ran"));
    assert!(cached_files(&out).iter().all(|(_, cached)| *cached), "{:?}", cached_files(&out));
    assert_eq!(Table::read(&out.join("conversations.parquet")).rows, 19_000);
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

/// The generation `OUT/current` names.
fn current_generation(out: &Path) -> PathBuf {
    std::fs::read_link(out.join("current")).expect("OUT/current is a symlink")
}

/// The generations present below `out`, in number order.
fn generations(out: &Path) -> Vec<String> {
    let mut numbers: Vec<u64> = std::fs::read_dir(out.join(".generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.iter().map(u64::to_string).collect()
}

#[test]
fn a_run_that_fails_at_any_output_leaves_the_previous_set_and_the_next_run_finishes() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let out = dir.path().join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    let before = outputs(&out);
    let (manifest_before, page_before) =
        (std::fs::read(out.join("manifest.json")).unwrap(), std::fs::read(out.join("report.html")).unwrap());
    let current_before = current_generation(&out);

    // --force makes every stage write again; each run fails at one of its outputs, first to last, as a full disk
    // would there.
    let failing_outputs = [
        "manifest.json",
        "conversations.parquet",
        "rejects.jsonl",
        "features.parquet",
        "assignments.parquet",
        "codebooks/all.json",
        "divergence.parquet",
        "usi.parquet",
        "tables/main.csv",
        "figures/js_by_facet.svg",
        "report.html",
    ];
    for failing in failing_outputs {
        let output = Command::new(env!("CARGO_BIN_EXE_simgap"))
            .args(["-q", "run", pipeline, "--force"])
            .env("SIMGAP_FAIL_COMMIT", failing)
            .output()
            .unwrap();
        let log = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "failing at {failing}: {log}");
        assert!(log.contains(failing) && log.contains("SIMGAP_FAIL_COMMIT"), "failing at {failing}: {log}");
        // Readers see the previous set, every byte of it; the failed run's generation is kept beside it, not
        // current, for inspection (the one an earlier failure left is gone).
        assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new(), "failing at {failing}");
        assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest_before, "failing at {failing}");
        assert_eq!(std::fs::read(out.join("report.html")).unwrap(), page_before, "failing at {failing}");
        assert_eq!(current_generation(&out), current_before, "failing at {failing}");
        assert_eq!(generations(&out).len(), 2, "failing at {failing}: {:?}", generations(&out));
        assert!(log.contains("kept for inspection"), "failing at {failing}: {log}");
    }

    // The next run switches to a complete new set, equal to a clean run's; the one current before is kept for
    // readers that resolved OUT/current before the switch; the failed run's and older ones are removed.
    run_expect(&["-q", "run", pipeline, "--force"], &[0]);
    let switched = current_generation(&out).file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(generations(&out), ["1".to_owned(), switched.clone()]);
    run_expect(&["-q", "run", pipeline], &[0]);
    let next = current_generation(&out).file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(generations(&out), [switched, next]);
    assert_eq!(statuses(&out), all("skipped (unchanged)"));
    let clean = dir.path().join("clean");
    run_expect(&["-q", "run", pipeline, "--out", clean.to_str().unwrap()], &[0]);
    assert_eq!(differing(&outputs(&out), &outputs(&clean)), Vec::<String>::new());
}

/// A reader that resolves OUT/current once and reads under it sees one complete set at every moment of a run: every
/// output its manifest lists has the hash the manifest records. Killed runs at several points change nothing it
/// sees; the last run switches it to the new set.
#[test]
fn readers_see_one_complete_set_at_every_moment_of_runs_killed_at_any_point() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let out = dir.path().join("out");
    run_expect(&["-q", "run", pipeline], &[0]);
    let consistent = |out: &Path| -> Option<String> {
        let generation = out.join(std::fs::read_link(out.join("current")).ok()?);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(generation.join("manifest.json")).ok()?).ok()?;
        assert_eq!(manifest["last_run"]["complete"], true, "{}", generation.display());
        for (stage, section) in manifest["stages"].as_object().unwrap() {
            for (file, hash) in section["outputs"].as_object().unwrap() {
                let actual = simgap::hashing::sha256_file(&generation.join(file)).ok()?;
                assert_eq!(actual, hash.as_str().unwrap(), "{stage}: {file} in {}", generation.display());
            }
        }
        Some(generation.display().to_string())
    };
    let before = outputs(&out);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (out, stop) = (out.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut checks, mut seen) = (0, std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // None: the generation was pruned between resolving and reading (two switches during one read).
                if let Some(generation) = consistent(&out) {
                    seen.insert(generation);
                    checks += 1;
                }
            }
            (checks, seen)
        })
    };
    // Runs with --force killed after 0.05 to 1.6 s (ingest to report on the demo), then one that finishes.
    for millis in [50, 200, 400, 800, 1600] {
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_simgap")).args(["-q", "run", pipeline, "--force"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(millis));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new(), "killed after {millis} ms");
    }
    run_expect(&["-q", "run", pipeline, "--force"], &[0]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (checks, seen) = reader.join().expect("the reader saw only complete sets");
    assert!(checks > 0);
    assert!(consistent(&out).is_some());
    assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new(), "the same settings give the same tables");
    eprintln!("{checks} consistent reads of {} generations", seen.len());
}

/// Bytes of the files below `path`, in 4 KiB pages as tmpfs counts them (symlinks not followed).
fn disk_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata().unwrap().len().div_ceil(4096) * 4096;
            }
        }
    }
    total
}

/// A real full disk: the output folder on a small tmpfs, a complete set on it, then runs with --force on file
/// systems of sizes that leave them from almost no room to nearly enough, so they fail at different points with
/// ENOSPC. Each leaves the previous set byte for byte. Needs `mount` (root); elsewhere it
/// says so and passes, and CI (root) runs it.
#[test]
fn a_full_disk_at_any_point_leaves_the_previous_set() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let Some(disk) = Tmpfs::mount(&mount, 64 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let out = mount.join("out");
    let complete = dir.path().join("complete");
    run_expect(&["-q", "run", pipeline, "--out", out.to_str().unwrap()], &[0]);
    let one_set = disk_bytes(&out);
    copy_folder(&out, &complete);
    drop(disk);
    let before = outputs(&complete);
    let mut failures = BTreeMap::new();
    for extra in [8, 64, 128, 256, 512, 1024, 2048, 4096].map(|kib: u64| kib << 10) {
        let disk = Tmpfs::mount(&mount, one_set + extra).expect("mounted once already");
        copy_folder(&complete, &out);
        let output = simgap(&["-q", "run", pipeline, "--force", "--out", out.to_str().unwrap()]);
        let log = stderr(&output);
        if output.status.code() != Some(0) {
            assert_eq!(output.status.code(), Some(1), "{extra} bytes free: {log}");
            assert!(log.contains("No space left on device"), "{extra} bytes free: {log}");
            assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new(), "{extra} bytes free");
            assert_eq!(current_generation(&out), Path::new(".generations/1"), "{extra} bytes free");
            failures.insert(extra, log.lines().last().unwrap_or_default().to_owned());
        }
        drop(disk);
    }
    eprintln!("{failures:#?}");
    assert!(failures.len() >= 4, "too few of the sizes failed a run: {failures:?}");
}

/// A rerun with nothing to do succeeds on a read-only output folder (a read-only mount), and one with work to do
/// fails at once, naming the folder and the stage. Needs `mount` (root), as the full-disk test.
#[test]
fn a_read_only_output_folder_passes_a_rerun_with_nothing_to_do() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let Some(disk) = Tmpfs::mount(&mount, 64 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let out = mount.join("out");
    let out_arg = out.to_str().unwrap();
    run_expect(&["-q", "run", pipeline, "--out", out_arg], &[0]);
    let before = outputs(&out);
    disk.remount("ro");
    let log = run_expect(&["run", pipeline, "--out", out_arg], &[0]);
    for stage in STAGES {
        assert!(log.contains(&format!("{stage}: skipped (unchanged)")), "{stage} not skipped:\n{log}");
    }
    let text = std::fs::read_to_string(pipeline).unwrap();
    std::fs::write(pipeline, text + "\n[divergence]\nbootstrap = 123\n").unwrap();
    let refused = run_expect(&["-q", "run", pipeline, "--out", out_arg], &[1]);
    assert!(refused.contains("is read-only and the divergence stage must run"), "{refused}");
    assert_eq!(differing(&before, &outputs(&out)), Vec::<String>::new());
    disk.remount("rw");
    run_expect(&["-q", "run", pipeline, "--out", out_arg], &[0]);
}

/// A tmpfs of a given size mounted for the life of the value (unmounted on drop, also when an assertion fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Option<Tmpfs> {
        let option = format!("size={bytes}");
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", &option, "tmpfs"]).arg(at).output().ok()?;
        output.status.success().then(|| Tmpfs(at.to_owned()))
    }

    /// `mode`: "ro" or "rw".
    fn remount(&self, mode: &str) {
        let option = format!("remount,{mode}");
        assert!(Command::new("mount").args(["-o", &option]).arg(&self.0).status().unwrap().success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `cp -a FROM TO`: symlinks kept as symlinks, hard links as hard links.
fn copy_folder(from: &Path, to: &Path) {
    assert!(Command::new("cp").arg("-a").args([from, to]).status().unwrap().success());
}
