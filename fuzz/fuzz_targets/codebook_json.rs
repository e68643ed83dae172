//! Fuzzes the codebook loader (`codebooks/<facet>.json`, read by the divergence stage and by nightly reruns) and
//! the use of what it accepts. Property: no panic; an accepted codebook assigns rows of its width to clusters
//! below its k.
#![no_main]

use ndarray::Array2;
use simgap::cluster::codebook::Codebook;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("facet.json");
    std::fs::write(&path, data).expect("the codebook file");
    let Ok(codebook) = Codebook::read(&path) else { return };
    for fill in [0.0, 1.5, f64::NAN] {
        let rows = Array2::from_elem((3, codebook.columns.len()), fill);
        if let Ok((labels, _)) = codebook.assign(rows.view()) {
            assert!(labels.iter().all(|&l| (l as usize) < codebook.k), "label beyond k = {}", codebook.k);
        }
    }
});
