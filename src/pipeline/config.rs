//! The pipeline file (TOML) as typed structs.
//!
//! Consumes: the text of a pipeline file. Produces: a [`PipelineConfig`] whose relative paths are already resolved
//! against the pipeline file's folder. Every table rejects keys it does not know, and the error names the key, the
//! line and the column, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ingest::options::{IngestOptions, InputConfig};

/// A pipeline file could not be read or understood. Maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("pipeline file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// None when the file has no `[output]`: then `--out` must name the folder.
    #[serde(default)]
    pub output: Option<OutputConfig>,
    #[serde(rename = "input", default)]
    pub inputs: Vec<InputConfig>,
    #[serde(default)]
    pub ingest: IngestOptions,
    #[serde(default)]
    pub features: crate::features::FeaturesConfig,
    #[serde(default)]
    pub cluster: crate::cluster::ClusterConfig,
    #[serde(default)]
    pub divergence: crate::divergence::DivergenceConfig,
    #[serde(default)]
    pub report: crate::report::ReportConfig,
    /// The folder relative paths were resolved against (the pipeline file's folder). Not a TOML key.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The pipeline file itself, as given on the command line. Not a TOML key.
    #[serde(skip)]
    pub file: PathBuf,
    /// The pipeline file's text, kept for the manifest. Not a TOML key.
    #[serde(skip)]
    pub text: String,
}

/// `[output]`: where every stage writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub dir: PathBuf,
}

impl PipelineConfig {
    /// Reads and checks a pipeline file; relative paths resolve against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, path, &base_dir)
    }

    /// Parses pipeline text as if it were the file `path` in folder `base_dir`.
    pub fn parse(text: &str, path: &Path, base_dir: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_owned(), message };
        let mut config: PipelineConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.base_dir = base_dir.to_owned();
        config.file = path.to_owned();
        config.text = text.to_owned();
        if let Some(dir) = config.output.as_ref().map(|o| config.resolve(&o.dir)) {
            config.output = Some(OutputConfig { dir });
        }
        if let Some(difficulty) = &config.divergence.usi_difficulty {
            config.divergence.usi_difficulty = Some(config.resolve(difficulty));
        }
        if let Some(lexicons) = &config.features.lexicons {
            config.features.lexicons = Some(config.resolve(lexicons));
        }
        if let Some(embeddings) = &config.features.embeddings {
            let path = config.resolve(&embeddings.path);
            config.features.embeddings.as_mut().expect("checked above").path = path;
        }
        config.check().map_err(invalid)?;
        Ok(config)
    }

    /// The pipeline file as the manifest names it.
    pub fn manifest_file(&self) -> crate::manifest::PipelineFile<'_> {
        crate::manifest::PipelineFile { path: &self.file, text: &self.text }
    }

    /// A path from the pipeline file, resolved against the pipeline file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_owned() } else { self.base_dir.join(path) }
    }

    /// Every rule the types alone cannot express; one message per rule.
    fn check(&self) -> Result<(), String> {
        if self.inputs.is_empty() {
            return Err("no [[input]] table: name at least one input".into());
        }
        for (i, input) in self.inputs.iter().enumerate() {
            input.check(i)?;
        }
        self.ingest.check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SourceKind;

    fn parse(text: &str) -> Result<PipelineConfig, ConfigError> {
        PipelineConfig::parse(text, Path::new("p/x.toml"), Path::new("p"))
    }

    const MINIMAL: &str = r#"
        [output]
        dir = "out"
        [[input]]
        path = "a.jsonl"
        format = "jsonl"
        source = "human"
        kind = "human"
    "#;

    #[test]
    fn resolves_output_against_pipeline_folder() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.out_dir(None).unwrap(), Path::new("p/out"));
        assert_eq!(config.inputs[0].kind, Some(SourceKind::Human));
        assert_eq!(config.ingest.max_message_bytes, 1 << 20);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse(&MINIMAL.replace("source = \"human\"", "sorce = \"human\"")).unwrap_err();
        assert!(err.to_string().contains("sorce"), "{err}");
    }

    #[test]
    fn unknown_format_is_an_error() {
        let err = parse(&MINIMAL.replace("\"jsonl\"", "\"xml\"")).unwrap_err();
        assert!(err.to_string().contains("xml"), "{err}");
    }

    #[test]
    fn csv_needs_its_table() {
        let err = parse(&MINIMAL.replace("\"jsonl\"", "\"csv\"")).unwrap_err();
        assert!(err.to_string().contains("[input.csv]"), "{err}");
    }

    #[test]
    fn csv_table_only_for_csv() {
        let text = format!("{MINIMAL}\n[input.csv]\nconversation_id = 0\nrole = 1\ntext = 2\n");
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("only for format"), "{err}");
    }

    #[test]
    fn csv_role_map_targets_must_be_canonical() {
        let text = MINIMAL.replace("\"jsonl\"", "\"csv\"")
            + "\n[input.csv]\nconversation_id = 0\nrole = \"who\"\ntext = 2\nroles = { usr = \"customer\" }\n";
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("customer"), "{err}");
    }

    #[test]
    fn no_inputs_is_an_error() {
        let err = parse("[output]\ndir = \"o\"\n").unwrap_err();
        assert!(err.to_string().contains("[[input]]"), "{err}");
    }

    #[test]
    fn zero_limits_are_errors() {
        let err = parse(&format!("{MINIMAL}\n[ingest]\nmax_message_bytes = 0\n")).unwrap_err();
        assert!(err.to_string().contains("max_message_bytes"), "{err}");
        let err = parse(&format!("{MINIMAL}\n[ingest]\nrow_group_size = 0\n")).unwrap_err();
        assert!(err.to_string().contains("row_group_size"), "{err}");
    }

    #[test]
    fn empty_source_is_an_error() {
        let err = parse(&MINIMAL.replace("source = \"human\"", "source = \" \"")).unwrap_err();
        assert!(err.to_string().contains("source is empty"), "{err}");
    }
}
