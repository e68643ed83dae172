//! The outputs of the demo and of shi2019 are pinned: `tests/fixtures/demo_outputs.sha256` holds the SHA-256 of
//! every table, Parquet file, rejects file and SVG figure that `simgap run pipelines/demo.toml` wrote before the
//! engine seam and the house's reorganisation (commit 9cb3168); `tests/fixtures/shi2019_outputs.sha256` the same
//! files of `pipelines/shi2019.toml` on the shared real data, pinned before the speed work of issue 20 (commit
//! b50325b) so that no optimisation changes a byte. These tests fail when a change alters one byte of them. Codebooks (they
//! record their fit time), the manifest, the HTML page and the PNGs (their text depends on the machine's fonts) are
//! not pinned; the assignments they produce are.
//! Deliberate changes since: `clusters.parquet` was re-pinned when the cluster profiles' sums became exact (so
//! that partial results merge to the same bits in any grouping); its `extreme_z` moved by at most 9.3e-13 relative,
//! every feature name and order stayed. Everything from the assignments on was re-pinned when `[cluster] k` became
//! `"auto"` by default (28 on the demo, a tenth of its smallest source, instead of 50), and the mixtures when the
//! full mixture started from the best pair.
//! Another deliberate change: the paper-ready outputs re-pinned every table and SVG and added the figures' PDFs
//! (their bytes depend on the data alone): sources in one order everywhere (closest to the reference first), `.tex`
//! laid out for a two-column paper, histograms with a share axis per panel, `js_by_facet` without the facet that has
//! no value (`timing`).
//!
//! A change that means to change the numbers regenerates the file from its own run (`cd OUT/current && sha256sum`
//! over the same files, see the list) and says why in its commit. The bytes hold on x86-64 processors with AVX2 and
//! FMA, the kernels k-means and the matrix multiplies choose at run time there; elsewhere the test says so and
//! checks nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{project_root, shared_data, simgap, stderr};

fn pinned(list: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(project_root().join("tests/fixtures").join(list)).unwrap();
    text.lines()
        .map(|line| {
            let (hash, file) = line.split_once("  ").expect("sha256sum lines: HASH, two spaces, FILE");
            (file.to_owned(), hash.to_owned())
        })
        .collect()
}

fn kernels_of_the_pins() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The files of `out/current` whose SHA-256 differs from the pin list's.
fn changed_outputs(out: &Path, list: &str) -> Vec<String> {
    let pinned = pinned(list);
    assert!(pinned.len() >= 30, "the pin list holds every table, Parquet file and SVG: {}", pinned.len());
    let mut changed = Vec::new();
    for (file, expected) in &pinned {
        let actual = simgap::hashing::sha256_file(&out.join(file)).unwrap_or_else(|e| format!("unreadable: {e}"));
        if &actual != expected {
            changed.push(file.clone());
        }
    }
    changed
}

#[test]
fn the_demo_outputs_equal_the_pinned_bytes() {
    if !kernels_of_the_pins() {
        eprintln!("skipped: the pinned bytes were made with the AVX2/FMA kernels, which this processor lacks");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let pipeline = project_root().join("pipelines/demo.toml");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let changed = changed_outputs(&out, "demo_outputs.sha256");
    assert!(changed.is_empty(), "outputs that differ from the pinned bytes: {changed:?}");
}

/// shi2019 through a link `shi2019` -> the shared data, so that `conversations.parquet` names its input files
/// relative to the pipeline, the same on every machine.
#[test]
fn the_shi2019_outputs_equal_the_pinned_bytes() {
    if !kernels_of_the_pins() {
        eprintln!("skipped: the pinned bytes were made with the AVX2/FMA kernels, which this processor lacks");
        return;
    }
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(shared.join("shi2019-user-simulator"), dir.path().join("shi2019")).unwrap();
    let text = std::fs::read_to_string(project_root().join("pipelines/shi2019.toml")).unwrap();
    let text =
        text.replace("../../shared/data-samples/shi2019-user-simulator", "shi2019").replace("../out/shi2019", "out");
    let pipeline = dir.path().join("shi2019.toml");
    std::fs::write(&pipeline, text).unwrap();
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let changed = changed_outputs(&dir.path().join("out/current"), "shi2019_outputs.sha256");
    assert!(changed.is_empty(), "outputs that differ from the pinned bytes: {changed:?}");
}
