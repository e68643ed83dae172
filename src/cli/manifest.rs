//! A stage's section in `OUT/manifest.json`, written by every stage's command and by `simgap run`.
//!
//! Consumes: the output folder, the pipeline and the stage's report as JSON. Produces: the updated manifest.

use anyhow::Context;

/// Records a stage's section in OUT/manifest.json; shared by every stage's command and `simgap run`.
pub fn record_in_manifest(
    out_dir: &std::path::Path,
    config: &simgap::pipeline::config::PipelineConfig,
    stage: &str,
    section: serde_json::Value,
) -> anyhow::Result<()> {
    let manifest = simgap::manifest::MANIFEST_FILE;
    simgap::manifest::record_stage(out_dir, config.manifest_file(), stage, section)
        .with_context(|| format!("writing {}", out_dir.join(manifest).display()))
}
