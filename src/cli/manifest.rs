//! A stage's section in `OUT/manifest.json`, written by every stage's command and by `simgap run`.
//!
//! Consumes: the output folder, the pipeline and the stage's report as JSON. Produces: the updated manifest.

use anyhow::Context;

/// Records a stage's section in OUT/manifest.json; shared by every stage's command and `simgap run`.
pub fn record_in_manifest(
    out_dir: &std::path::Path,
    config: &crate::pipeline::config::PipelineConfig,
    stage: &str,
    section: serde_json::Value,
) -> anyhow::Result<()> {
    let manifest = crate::manifest::MANIFEST_FILE;
    crate::manifest::record_stage(out_dir, config.manifest_file(), stage, section)
        .with_context(|| format!("writing {}", out_dir.join(manifest).display()))
}
