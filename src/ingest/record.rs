//! The canonical conversation and the raw record a format reader hands to validation.
//!
//! Consumes nothing; defines the vocabulary of the ingest stage: [`RawConversation`] (what a reader could read,
//! roles and identity still as the file wrote them), [`Conversation`] (validated, canonical roles, one row of
//! `conversations.parquet`) and [`Location`] (where in a file a record came from, for rejects and for
//! `input_record`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a source's users are people or a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Human,
    Simulator,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Human => "human",
            SourceKind::Simulator => "simulator",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "human" => Some(SourceKind::Human),
            "simulator" => Some(SourceKind::Simulator),
            _ => None,
        }
    }
}

/// A message's canonical role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }

    /// The canonical names only.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "system" => Some(Role::System),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }

    /// Canonical names plus the aliases common formats use (ShareGPT's `human`/`gpt`, OpenAI's `developer` and
    /// `function`, Gemini's `model`). Case-insensitive.
    pub fn parse_alias(text: &str) -> Option<Self> {
        if let Some(role) = Self::parse(text) {
            return Some(role);
        }
        let lower = text.trim().to_ascii_lowercase();
        Self::parse(&lower).or(match lower.as_str() {
            "human" => Some(Role::User),
            "gpt" | "chatgpt" | "bot" | "model" => Some(Role::Assistant),
            "developer" => Some(Role::System),
            "function" | "ipython" | "observation" => Some(Role::Tool),
            _ => None,
        })
    }
}

/// The transcript formats simgap reads. Each has one reader module under `ingest::formats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Jsonl,
    Openai,
    TauBench,
    Tau2,
    Sharegpt,
    Csv,
    Multiwoz,
    #[serde(rename = "recllmsim")]
    RecLlmSim,
    Chitchat,
    /// Parquet, Arrow IPC, CSV or NDJSON tables read through polars (`[input.table]`).
    Table,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Openai => "openai",
            Format::TauBench => "tau-bench",
            Format::Tau2 => "tau2",
            Format::Sharegpt => "sharegpt",
            Format::Csv => "csv",
            Format::Multiwoz => "multiwoz",
            Format::RecLlmSim => "recllmsim",
            Format::Chitchat => "chitchat",
            Format::Table => "table",
        }
    }

    /// File extensions taken when an input path is a folder.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Jsonl => &["jsonl", "ndjson"],
            Format::Openai | Format::Sharegpt => &["json", "jsonl"],
            Format::Csv => &["csv", "tsv"],
            Format::Multiwoz => &["json", "zip"],
            Format::TauBench | Format::Tau2 | Format::RecLlmSim | Format::Chitchat => &["json"],
            Format::Table => TABLE_EXTENSIONS,
        }
    }
}

/// The extensions of the table files `format = "table"` takes from a folder (Parquet, Arrow IPC, CSV, NDJSON).
pub const TABLE_EXTENSIONS: &[&str] = &["parquet", "pq", "arrow", "ipc", "feather", "csv", "tsv", "ndjson", "jsonl"];

/// Where in an input file a record came from. Serialised (as `{"Line": 7}`, ...) in the per-file cache parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Location {
    /// 1-based line of a line format (JSONL, CSV).
    Line(u64),
    /// 1-based first and last line of a multi-line record (a CSV conversation).
    Lines { first: u64, last: u64 },
    /// 1-based row of a table (after a CSV table's header).
    Row(u64),
    /// 1-based first and last row of a conversation spread over rows (a message-per-row table).
    Rows { first: u64, last: u64 },
    /// 0-based index of a record within a JSON document.
    Record(u64),
    /// 0-based index of a record and the byte offset where it starts (JSON arrays, where truncation happens).
    RecordAt { index: u64, byte_offset: u64 },
    /// The whole file (a document that is not valid at all).
    File,
}

impl Location {
    /// The `input_record` column: the line number for line formats, the record index otherwise.
    pub fn record_number(self) -> i64 {
        match self {
            Location::Line(n) | Location::Lines { first: n, .. } | Location::Record(n) => n as i64,
            Location::Row(n) | Location::Rows { first: n, .. } => n as i64,
            Location::RecordAt { index, .. } => index as i64,
            Location::File => 0,
        }
    }

    /// JSON fields for a rejects line: `line`, `lines`, `record`, `byte_offset`.
    pub fn to_json_fields(self, out: &mut serde_json::Map<String, serde_json::Value>) {
        use serde_json::json;
        match self {
            Location::Line(n) => {
                out.insert("line".into(), json!(n));
            }
            Location::Lines { first, last } => {
                out.insert("line".into(), json!(first));
                out.insert("last_line".into(), json!(last));
            }
            Location::Row(n) => {
                out.insert("row".into(), json!(n));
            }
            Location::Rows { first, last } => {
                out.insert("row".into(), json!(first));
                out.insert("last_row".into(), json!(last));
            }
            Location::Record(n) => {
                out.insert("record".into(), json!(n));
            }
            Location::RecordAt { index, byte_offset } => {
                out.insert("record".into(), json!(index));
                out.insert("byte_offset".into(), json!(byte_offset));
            }
            Location::File => {
                out.insert("record".into(), serde_json::Value::Null);
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Lines { first, last } if first == last => write!(f, "line {first}"),
            Location::Lines { first, last } => write!(f, "lines {first}-{last}"),
            Location::Row(n) => write!(f, "row {n}"),
            Location::Rows { first, last } if first == last => write!(f, "row {first}"),
            Location::Rows { first, last } => write!(f, "rows {first}-{last}"),
            Location::Record(n) => write!(f, "record {n}"),
            Location::RecordAt { index, byte_offset } => {
                write!(f, "record {index} (byte offset {byte_offset})")
            }
            Location::File => write!(f, "the whole file"),
        }
    }
}

/// A message as the file wrote it; the role is not yet checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawMessage {
    pub role: String,
    pub content: Option<String>,
    pub timestamp: Option<String>,
}

impl RawMessage {
    pub fn new(role: impl Into<String>, content: Option<String>) -> Self {
        Self { role: role.into(), content, timestamp: None }
    }
}

/// What a reader could read of one conversation. Validation turns it into a [`Conversation`] or a reject.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawConversation {
    pub conversation_id: Option<String>,
    /// The record's own source label, if the format carries one (canonical JSONL, tau2's user LLM).
    pub source: Option<String>,
    /// The record's own kind, as written.
    pub kind: Option<String>,
    pub task_id: Option<String>,
    pub run: Option<i64>,
    pub outcome: Option<f64>,
    /// Survey answers as a JSON object (question -> answer).
    pub survey: Option<serde_json::Value>,
    /// Anything else the record carries, as JSON text.
    pub metadata: Option<String>,
    /// `None` when the record has no messages field at all (a reject); `Some(vec![])` when it is empty.
    pub messages: Option<Vec<RawMessage>>,
}

/// One validated conversation: a row of `conversations.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub conversation_id: String,
    pub source: String,
    pub kind: SourceKind,
    pub task_id: Option<String>,
    pub run: Option<i64>,
    pub outcome: Option<f64>,
    /// Survey answers as JSON text.
    pub survey: Option<String>,
    /// The record's `metadata`, as JSON text.
    pub metadata: Option<String>,
    pub messages: Vec<Message>,
    pub input_file: String,
    pub input_record: i64,
}

/// One validated message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Option<String>,
    pub timestamp: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_cover_sharegpt_and_openai() {
        assert_eq!(Role::parse_alias("human"), Some(Role::User));
        assert_eq!(Role::parse_alias("GPT"), Some(Role::Assistant));
        assert_eq!(Role::parse_alias("developer"), Some(Role::System));
        assert_eq!(Role::parse_alias("function"), Some(Role::Tool));
        assert_eq!(Role::parse_alias("narrator"), None);
        assert_eq!(Role::parse("User"), None, "canonical parse is exact");
    }

    #[test]
    fn location_text_names_the_place() {
        assert_eq!(Location::Line(7).to_string(), "line 7");
        assert_eq!(Location::Lines { first: 3, last: 9 }.to_string(), "lines 3-9");
        assert_eq!(Location::RecordAt { index: 2, byte_offset: 512 }.to_string(), "record 2 (byte offset 512)");
        assert_eq!(Location::Lines { first: 3, last: 9 }.record_number(), 3);
    }
}
