//! Fuzzes the pipeline file: parsing, path resolution and every settings check `simgap run` makes before it reads
//! data. Property: no panic; every rejection is an error value.
#![no_main]

use std::path::Path;

use simgap::pipeline::config::PipelineConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = PipelineConfig::parse(text, Path::new("fuzz/pipeline.toml"), Path::new("fuzz")) else { return };
    let out = config.out_dir(None).unwrap_or_else(|_| "fuzz/out".into());
    let _ = config.features_params(out, false).check_settings();
    let _ = config.cluster.check();
    let _ = config.divergence.check();
    let _ = config.check_across_stages();
});
