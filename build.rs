//! Build script: tells the tests whether the real transcripts (`../shared/data-samples`) sit beside the checkout.
//! Where they do not, the tests that need them show as ignored, with the reason, in the summary `cargo test` prints
//! (rather than passing without having checked anything). Likewise for the tables converted from them
//! (`SIMGAP_TABLE_CORPORA`, made by `tests/python/make_table_corpora.py`, as `.ci/run` does).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    println!("cargo::rustc-check-cfg=cfg(table_corpora)");
    println!("cargo::rerun-if-env-changed=SIMGAP_TABLE_CORPORA");
    if std::env::var_os("SIMGAP_TABLE_CORPORA").is_some() {
        println!("cargo::rustc-cfg=table_corpora");
    }
    // Read when the script runs, not baked in when it is compiled: a target folder shared by two checkouts (worktrees,
    // CI clones at new paths) may run a script compiled for the other one.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let shared = std::path::Path::new(&manifest_dir).join("../shared/data-samples");
    println!("cargo::rerun-if-changed={}", shared.display());
    if shared.is_dir() {
        println!("cargo::rustc-cfg=shared_data");
    }
}
