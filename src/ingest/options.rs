//! The ingest stage's settings, as the pipeline file states them: each `[[input]]` (path, format, source, kind,
//! and the CSV and RecLLMSim tables) and the `[ingest]` policies for bad input.
//!
//! Consumes: TOML, through serde (every table rejects keys it does not know). Produces: [`InputConfig`] and
//! [`IngestOptions`], and the rules the types alone cannot express ([`InputConfig::check`], [`IngestOptions::check`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::grouping::RowGrouping;
use super::record::{Format, Role, SourceKind};
pub use super::table_options::{TableFileType, TableLayout, TableOptions};

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
    /// `format = "table"`: the layout and column names (all optional: the defaults read WildChat and LMSYS-Chat-1M).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableOptions>,
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
    pub grouping: RowGrouping,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtraFieldsPolicy {
    #[default]
    Reject,
    Merge,
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

impl InputConfig {
    /// The rules of one `[[input]]` (the `index`-th, from 0) that its types cannot express; the message names it.
    pub fn check(&self, index: usize) -> Result<(), String> {
        let which = format!("[[input]] #{} ({})", index + 1, self.path);
        if self.path.trim().is_empty() {
            return Err(format!("{which}: path is empty"));
        }
        if self.source.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(format!("{which}: source is empty"));
        }
        match (self.format, &self.csv) {
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
        if self.recllmsim.is_some() && self.format != Format::RecLlmSim {
            return Err(format!("{which}: [input.recllmsim] is only for format \"recllmsim\""));
        }
        if self.table.is_some() && self.format != Format::Table {
            return Err(format!("{which}: [input.table] is only for format \"table\""));
        }
        if self.format == Format::Table {
            self.table_options().check(&which, self.source.is_some(), self.kind.is_some())?;
        }
        if let Some(csv) = &self.csv {
            if !csv.delimiter.is_ascii() {
                return Err(format!("{which}: csv.delimiter must be one ASCII character"));
            }
            for (raw, role) in &csv.roles {
                if Role::parse(role).is_none() {
                    return Err(format!(
                        "{which}: csv.roles maps \"{raw}\" to \"{role}\", which is not one of user, assistant, system, tool"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl InputConfig {
    /// `[input.table]`, or its defaults where the input has none.
    pub fn table_options(&self) -> TableOptions {
        self.table.clone().unwrap_or_default()
    }
}

impl IngestOptions {
    /// The `[ingest]` limits must be positive.
    pub fn check(&self) -> Result<(), String> {
        if self.max_message_bytes == 0 {
            return Err("[ingest] max_message_bytes must be positive".into());
        }
        if self.row_group_size == 0 {
            return Err("[ingest] row_group_size must be positive".into());
        }
        Ok(())
    }
}
