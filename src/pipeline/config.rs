//! The pipeline file (TOML) as typed structs.
//!
//! Consumes: the text of a pipeline file. Produces: a [`PipelineConfig`] whose relative paths are already resolved
//! against the pipeline file's folder. Every table rejects keys it does not know, and the error names the key, the
//! line and the column, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ingest::{Format, SourceKind};

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
    pub output: OutputConfig,
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

/// One `[[input]]`: a file, folder or glob of transcripts in one format. Serialised into the key of its files'
/// cache parts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// A file, a folder (every file below it with the format's usual extensions), or a glob (`**` allowed).
    pub path: String,
    pub format: Format,
    /// Source label. May be omitted where the format or the record names it (tau2: `info.user_info.llm`).
    pub source: Option<String>,
    /// `human` or `simulator`. May be omitted where every record carries `kind` (canonical JSONL).
    pub kind: Option<SourceKind>,
    pub csv: Option<CsvOptions>,
    pub recllmsim: Option<RecLlmSimOptions>,
}

/// `[ingest]`: limits and policies for bad input, shared by every input.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestOptions {
    /// A message longer than this many bytes rejects its conversation. Default 1 MiB.
    pub max_message_bytes: usize,
    /// Bytes that are not UTF-8: `replace` (U+FFFD, with a warning naming the line) or `reject` the record.
    pub invalid_utf8: Utf8Policy,
    /// An empty or whitespace-only user message: `reject` its conversation (default) or `keep` it.
    pub empty_user_messages: EmptyPolicy,
    /// Conversations per Parquet row group; bounds the writer's memory.
    pub row_group_size: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            max_message_bytes: 1 << 20,
            invalid_utf8: Utf8Policy::Replace,
            empty_user_messages: EmptyPolicy::Reject,
            row_group_size: 16_384,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Utf8Policy {
    Replace,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmptyPolicy {
    Reject,
    Keep,
}

/// A CSV column named by its header or by its 0-based index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ColumnRef {
    Index(usize),
    Name(String),
}

/// `[input.csv]`: one row per message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Whether the first row is a header. Default true.
    #[serde(default = "default_true")]
    pub header: bool,
    /// One character; `"\t"` for TSV. Default `,`.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    pub conversation_id: ColumnRef,
    pub role: ColumnRef,
    pub text: ColumnRef,
    /// Optional column ordering the messages within a conversation (numeric); file order otherwise.
    pub order: Option<ColumnRef>,
    pub timestamp: Option<ColumnRef>,
    /// Raw role value -> canonical role (`user`, `assistant`, `system`, `tool`). Values not named here must
    /// already be canonical, or the row's conversation is rejected with the line.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// A row with more fields than the header (an unquoted delimiter in the text): `reject` its conversation
    /// (default), or `merge` the surplus fields back into the text column, joined by the delimiter.
    #[serde(default)]
    pub extra_fields: ExtraFieldsPolicy,
    /// `contiguous` (default): a conversation's rows are consecutive, memory stays bounded, and an id that comes
    /// back later is a duplicate. `any`: rows may interleave; the whole file is grouped in memory.
    #[serde(default)]
    pub grouping: CsvGrouping,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtraFieldsPolicy {
    #[default]
    Reject,
    Merge,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsvGrouping {
    #[default]
    Contiguous,
    Any,
}

/// `[input.recllmsim]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecLlmSimOptions {
    /// Which message field holds the text: `content` (default) or `content_zh` (the simulator's Chinese translation).
    #[serde(default = "default_content_field")]
    pub text_field: String,
}

impl Default for RecLlmSimOptions {
    fn default() -> Self {
        Self { text_field: default_content_field() }
    }
}

fn default_true() -> bool {
    true
}
fn default_delimiter() -> char {
    ','
}
fn default_content_field() -> String {
    "content".to_owned()
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
        config.output.dir = config.resolve(&config.output.dir);
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
            let which = format!("[[input]] #{} ({})", i + 1, input.path);
            if input.path.trim().is_empty() {
                return Err(format!("{which}: path is empty"));
            }
            if input.source.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(format!("{which}: source is empty"));
            }
            match (input.format, &input.csv) {
                (Format::Csv, None) => {
                    return Err(format!(
                        "{which}: format \"csv\" needs an [input.csv] table naming the conversation_id, role and text columns"
                    ));
                }
                (f, Some(_)) if f != Format::Csv => {
                    return Err(format!("{which}: [input.csv] is only for format \"csv\""));
                }
                _ => {}
            }
            if input.recllmsim.is_some() && input.format != Format::RecLlmSim {
                return Err(format!("{which}: [input.recllmsim] is only for format \"recllmsim\""));
            }
            if let Some(csv) = &input.csv {
                if !csv.delimiter.is_ascii() {
                    return Err(format!("{which}: csv.delimiter must be one ASCII character"));
                }
                for (raw, role) in &csv.roles {
                    if crate::ingest::Role::parse(role).is_none() {
                        return Err(format!(
                            "{which}: csv.roles maps \"{raw}\" to \"{role}\", which is not one of user, assistant, system, tool"
                        ));
                    }
                }
            }
        }
        if self.ingest.max_message_bytes == 0 {
            return Err("[ingest] max_message_bytes must be positive".into());
        }
        if self.ingest.row_group_size == 0 {
            return Err("[ingest] row_group_size must be positive".into());
        }
        Ok(())
    }
}

/// The first item of a settings list that appears twice (lists of facets must not repeat).
pub fn first_repeated<T: Eq + std::hash::Hash>(items: &[T]) -> Option<&T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().find(|item| !seen.insert(*item))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(config.output.dir, Path::new("p/out"));
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
