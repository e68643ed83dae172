//! `OUT/manifest.json`: what produced the output folder. Each stage records its own section (inputs with content
//! hashes and counts, settings, timings); the pipeline file's text and hash and the simgap version sit at the top.
//!
//! Consumes: a stage name and its report as JSON. Produces: the updated manifest, written through a temporary
//! file and renamed, so it is always complete. Keys are sorted, so equal content gives equal bytes.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::config::PipelineConfig;
use crate::atomic::write_atomic;
use crate::ingest::input_files::sha256_bytes;

pub const MANIFEST_FILE: &str = "manifest.json";

/// Records `stage` in `out_dir/manifest.json`, keeping the other stages' sections.
pub fn record_stage(out_dir: &Path, config: &PipelineConfig, stage: &str, report: Value) -> std::io::Result<()> {
    let path = out_dir.join(MANIFEST_FILE);
    let mut manifest = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    manifest.insert("simgap_version".into(), json!(env!("CARGO_PKG_VERSION")));
    manifest.insert(
        "pipeline".into(),
        json!({
            "file": config.file.to_string_lossy(),
            "sha256": sha256_bytes(config.text.as_bytes()),
            "text": config.text,
        }),
    );
    let stages = manifest.entry("stages").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(stages) = stages {
        stages.insert(stage.to_owned(), report);
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(manifest)).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)
}
