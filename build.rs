//! Build script: tells the tests whether the real transcripts (`../shared/data-samples`) sit beside the checkout.
//! Where they do not, the tests that need them show as ignored, with the reason, in the summary `cargo test` prints
//! (rather than passing without having checked anything).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data-samples");
    println!("cargo::rerun-if-changed={}", shared.display());
    if shared.is_dir() {
        println!("cargo::rustc-cfg=shared_data");
    }
}
