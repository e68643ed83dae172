//! `cargo test` after `cargo build` must compile no dependency twice. Cargo builds a crate again when the tests'
//! dev-dependencies turn on a feature of it that the binary's dependencies leave off, and then everything above it
//! too (arrow and parquet, clap, zip). This test asks cargo for the features of every crate with and without the
//! dev-dependencies, and fails on any crate the two builds share whose features differ; `Cargo.toml` names the
//! features to turn on.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Crate (name and version) -> its feature sets, as `cargo tree` prints them for `edges`.
fn features(edges: &str) -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--prefix", "none", "-f", "{p}|{f}", "-e", edges])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo tree -e {edges}: {}", String::from_utf8_lossy(&output.stderr));
    let mut crates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, features)) = line.split_once('|') else { continue };
        let mut words = package.split_whitespace();
        let name = format!("{} {}", words.next().unwrap_or(""), words.next().unwrap_or(""));
        crates.entry(name).or_default().insert(features.trim().to_owned());
    }
    crates
}

#[test]
fn tests_turn_on_no_feature_the_binary_leaves_off() {
    let binary = features("normal,build");
    let tests = features("normal,build,dev");
    let differing: Vec<String> = binary
        .iter()
        .filter_map(|(name, own)| {
            let with_tests = tests.get(name)?;
            (own != with_tests).then(|| format!("{name}: binary {own:?}, tests {with_tests:?}"))
        })
        .collect();
    assert!(binary.len() > 100, "cargo tree listed {} crates", binary.len());
    assert!(
        differing.is_empty(),
        "crates the tests would compile a second time (turn the features on in Cargo.toml):\n{}",
        differing.join("\n")
    );
}
