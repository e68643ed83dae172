//! `OUT/manifest.json`: what produced the output folder. Each stage records its own section (inputs with content
//! hashes and counts, settings, timings); the pipeline file's text and hash and the simgap version sit at the top.
//!
//! Consumes: a stage name and its report as JSON. Produces: the updated manifest, written through a temporary
//! file and renamed, so it is always complete. Keys are sorted, so equal content gives equal bytes. `simgap run`
//! adds to each section the stage's `fingerprint`, the hashes of the files it `reads` and of its `outputs`, and a
//! top-level `last_run` (see `pipeline::incremental`).
//! Imports no stage: the pipeline file is passed in as its path and text ([`PipelineFile`]).

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::atomic::write_atomic;
use crate::hashing::sha256_bytes;

pub const MANIFEST_FILE: &str = "manifest.json";

/// The pipeline file the manifest names at its top: its path as given and its text.
#[derive(Debug, Clone, Copy)]
pub struct PipelineFile<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

/// Records `stage` in `out_dir/manifest.json`, keeping the other stages' sections.
pub fn record_stage(out_dir: &Path, pipeline: PipelineFile, stage: &str, report: Value) -> std::io::Result<()> {
    update(out_dir, pipeline, |manifest| {
        let stages = manifest.entry("stages").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(stages) = stages {
            stages.insert(stage.to_owned(), report);
        }
    })
}

/// The manifest as it is on disk: an empty object when it is absent or unreadable.
pub fn read(out_dir: &Path) -> Map<String, Value> {
    std::fs::read(out_dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

/// Reads the manifest, sets the simgap version and the pipeline file, lets `change` edit the rest, and writes it
/// back through a temporary file: one atomic replacement.
pub fn update(
    out_dir: &Path,
    pipeline: PipelineFile,
    change: impl FnOnce(&mut Map<String, Value>),
) -> std::io::Result<()> {
    let path = out_dir.join(MANIFEST_FILE);
    let mut manifest = read(out_dir);
    manifest.insert("simgap_version".into(), json!(env!("CARGO_PKG_VERSION")));
    manifest.insert(
        "pipeline".into(),
        json!({
            "file": pipeline.path.to_string_lossy(),
            "sha256": sha256_bytes(pipeline.text.as_bytes()),
            "text": pipeline.text,
        }),
    );
    change(&mut manifest);
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(manifest)).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)
}
