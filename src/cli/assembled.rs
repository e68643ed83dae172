//! The outputs of a sharded run's last merge (`PARTS/merged/`) put into `simgap run`'s generation, stage by stage,
//! with each stage's manifest section: what `simgap run` does instead of computing a stage when the merge drives it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::outcome::Outcome;
use crate::ingest::SourceKind;
use crate::pipeline::shards;

/// What the driver needs of the merged ingest: the outcome, the conversations accepted and the sources.
#[derive(Debug, serde::Deserialize)]
pub struct IngestCounts {
    accepted: u64,
    rejected: u64,
    sources: BTreeMap<String, serde_json::Value>,
}

/// What the ingest stage tells the stages after it: the outcome, the conversations accepted, the sources with their
/// kinds (None where it is not known).
pub type IngestOutcome = (Outcome, Option<u64>, Option<Vec<(String, SourceKind)>>);

impl IngestCounts {
    pub fn outcome(&self) -> IngestOutcome {
        let sources = self
            .sources
            .iter()
            .filter_map(|(name, count)| {
                let kind = count.get("kind").and_then(|k| k.as_str()).and_then(SourceKind::parse)?;
                Some((name.clone(), kind))
            })
            .collect();
        let outcome = if self.rejected > 0 { Outcome::WithRejects } else { Outcome::Clean };
        (outcome, Some(self.accepted), Some(sources))
    }
}

/// `files` of the merged folder put into the run's generation (linked, or copied across file systems), and the
/// stage's manifest section with its paths moved there too.
pub fn take_merged(
    merged: &Path,
    generation: &Path,
    files: &[&str],
    stage: &str,
) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let outputs =
        files.iter().map(|name| place(&merged.join(name), &generation.join(name))).collect::<Result<_, _>>()?;
    Ok((outputs, section(merged, generation, stage)?))
}

/// The cluster stage's outputs: the codebooks (those of facets not fitted this time removed) and the labels.
pub fn take_merged_cluster(merged: &Path, generation: &Path) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let dir = crate::cluster::CODEBOOKS_DIR;
    let mut outputs = vec![place(
        &merged.join(crate::cluster::ASSIGNMENTS_FILE),
        &generation.join(crate::cluster::ASSIGNMENTS_FILE),
    )?];
    let fitted: Vec<String> = serde_json::from_slice(&std::fs::read(merged.join("codebook_facets.json"))?)?;
    let target = generation.join(dir);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    for entry in std::fs::read_dir(&target)? {
        let path = entry?.path();
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_some_and(|e| e == "json") && !fitted.contains(&stem) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for facet in &fitted {
        let name = format!("{facet}.json");
        outputs.push(place(&merged.join(dir).join(&name), &target.join(&name))?);
    }
    Ok((outputs, section(merged, generation, "cluster")?))
}

/// The divergence stage's tables, as its manifest section lists them.
pub fn take_merged_divergence(merged: &Path, generation: &Path) -> anyhow::Result<(Vec<PathBuf>, serde_json::Value)> {
    let section = section(merged, generation, "divergence")?;
    let files = section["files"].as_array().context("the merged divergence section lists no files")?;
    let mut outputs = Vec::new();
    for file in files {
        let path = PathBuf::from(file.as_str().context("a file that is not a path")?);
        let name = path.file_name().context("a file without a name")?;
        outputs.push(place(&merged.join(name), &generation.join(name))?);
    }
    Ok((outputs, section))
}

/// The stage's manifest section the merge wrote, its paths into `merged` moved into `generation`.
fn section(merged: &Path, generation: &Path, stage: &str) -> anyhow::Result<serde_json::Value> {
    let path = merged.join(shards::section_file(stage));
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (from, to) = (merged.to_string_lossy().into_owned(), generation.to_string_lossy().into_owned());
    serde_json::from_str(&text.replace(&from, &to)).with_context(|| format!("reading {}", path.display()))
}

/// `from` at `to`: a hard link, or a copy where the two are on different file systems; whatever was at `to` goes.
fn place(from: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    if to.exists() {
        std::fs::remove_file(to).with_context(|| format!("removing {}", to.display()))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(to.to_owned())
}
