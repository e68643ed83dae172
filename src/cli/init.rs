//! `simgap init DIR`: a starting pipeline and example transcripts for a user's own data.
//!
//! Consumes: a folder (created if missing). Produces: `DIR/pipeline.toml` (two sources in canonical JSON Lines,
//! the optional settings commented with their defaults) and `DIR/data/{human,simulator}.jsonl` (three example
//! conversations each, showing the required and the optional fields). Refuses to overwrite a file unless `--force`,
//! and then writes nothing at all.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::global::GlobalArgs;
use super::outcome::Outcome;

/// The files `simgap init` writes, relative to its folder, and their text.
const TEMPLATE: [(&str, &str); 3] = [
    ("pipeline.toml", include_str!("init_template/pipeline.toml")),
    ("data/human.jsonl", include_str!("init_template/human.jsonl")),
    ("data/simulator.jsonl", include_str!("init_template/simulator.jsonl")),
];

/// Write a starting pipeline and example transcripts for your own data.
///
/// Reads nothing. Writes: DIR/pipeline.toml (a human and a simulator source in canonical JSON Lines, optional
/// settings commented with their defaults) and DIR/data/human.jsonl, DIR/data/simulator.jsonl (three example
/// conversations each: replace them with your transcripts, one conversation per line; the format is in
/// docs/formats.md). Then `simgap run DIR/pipeline.toml` writes DIR/out/report.html and DIR/out/tables/.
/// Existing files are left alone unless --force. Cost: instant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write into (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let targets: Vec<(PathBuf, &str)> = TEMPLATE.iter().map(|(name, text)| (args.dir.join(name), *text)).collect();
    if !args.force
        && let Some((existing, _)) = targets.iter().find(|(path, _)| path.exists())
    {
        anyhow::bail!("{} exists: simgap init writes only new files (--force overwrites)", existing.display());
    }
    for (path, text) in &targets {
        write_file(path, text)?;
    }
    if !global.quiet {
        for (path, _) in &targets {
            eprintln!("wrote {}", path.display());
        }
    }
    let (data, pipeline) = (args.dir.join("data"), args.dir.join("pipeline.toml"));
    println!("next: replace the example lines in {}, then: simgap run {}", data.display(), pipeline.display());
    Ok(Outcome::Clean)
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    crate::atomic::write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_pipeline_parses_and_its_commented_settings_too() {
        let (_, pipeline) = TEMPLATE[0];
        let parsed: toml::Table = pipeline.parse().unwrap();
        assert_eq!(parsed["input"].as_array().unwrap().len(), 2);
        // Every commented setting, uncommented, is a key the pipeline file accepts.
        let uncommented: String = pipeline
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config: toml::Table = uncommented.parse().unwrap();
        assert!(config.contains_key("cluster") && config.contains_key("divergence"), "{uncommented}");
    }

    #[test]
    fn the_example_lines_are_json_with_the_required_fields() {
        for (name, text) in &TEMPLATE[1..] {
            for line in text.lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(record["conversation_id"].is_string() && record["messages"].is_array(), "{name}: {line}");
            }
        }
    }
}
