//! `[input.table]`: how a table (Parquet, Arrow IPC / Feather, CSV, NDJSON) holds its conversations, for
//! `format = "table"`.
//!
//! Consumes: TOML, through serde (unknown keys are refused). Produces: [`TableOptions`] and the rules its types
//! cannot express ([`TableOptions::check`]), among them that the `filter` parses as a polars SQL expression.
//!
//! Two layouts. `conversation-per-row` (the default): each row is one conversation, its messages a list-of-struct
//! column (`messages`, default `conversation`, as in WildChat and LMSYS-Chat-1M) whose struct fields `role`,
//! `content` and optionally `timestamp` are named here. `message-per-row`: each row is one message; the
//! `conversation_id`, `role` and `content` columns (optionally `order` and `timestamp`) are grouped into
//! conversations. The identity columns (`conversation_id`, `task_id`, `run`, `outcome`, `survey`), the `metadata`
//! columns kept as JSON, and `source_column` / `kind_column` mean the same in both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::grouping::RowGrouping;
use super::record::Role;

/// `[input.table]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TableOptions {
    pub layout: TableLayout,
    /// The file type; by default from the extension (`.parquet`; `.arrow`, `.ipc`, `.feather`; `.csv`, `.tsv`;
    /// `.ndjson`, `.jsonl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type: Option<TableFileType>,
    /// conversation-per-row: the list-of-struct column holding the messages.
    pub messages: String,
    /// The role: a field of the message struct (conversation-per-row) or a column (message-per-row).
    pub role: String,
    /// The message text, as `role`.
    pub content: String,
    /// The message's time, as `role`: a datetime, Unix seconds, or ISO 8601 text. None by default.
    pub timestamp: Option<String>,
    /// message-per-row: a numeric column ordering the messages of a conversation; file order otherwise.
    pub order: Option<String>,
    /// The conversation id column. Default `conversation_id` where the table has it; otherwise the id is the file's
    /// name and the row number (`shard-00001#17`), or for message-per-row a required column.
    pub conversation_id: Option<String>,
    pub task_id: Option<String>,
    pub run: Option<String>,
    pub outcome: Option<String>,
    /// A struct column, or text holding a JSON object, of survey answers.
    pub survey: Option<String>,
    /// Columns kept in `metadata` as a JSON object (column name -> value).
    pub metadata: Vec<String>,
    /// A column whose value is each conversation's source label (instead of the input's `source`).
    pub source_column: Option<String>,
    /// A column whose value (`human` or `simulator`) is each conversation's kind (instead of the input's `kind`).
    pub kind_column: Option<String>,
    /// Raw role value -> canonical role. Values not named here go through the usual aliases (`human`, `gpt`, ...);
    /// anything else rejects the conversation.
    pub roles: BTreeMap<String, String>,
    /// A polars SQL expression over the table's columns; rows where it is false or null are counted as filtered.
    /// conversation-per-row: pushed into the scan. message-per-row: a conversation is kept when it holds on every
    /// one of its rows.
    pub filter: Option<String>,
    /// message-per-row: `contiguous` (default; bounded memory, an id that comes back later is a duplicate) or `any`
    /// (the whole file is grouped in memory).
    pub grouping: RowGrouping,
    /// CSV: the field delimiter (default `,`, or a tab for `.tsv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            layout: TableLayout::ConversationPerRow,
            file_type: None,
            messages: "conversation".into(),
            role: "role".into(),
            content: "content".into(),
            timestamp: None,
            order: None,
            conversation_id: None,
            task_id: None,
            run: None,
            outcome: None,
            survey: None,
            metadata: Vec::new(),
            source_column: None,
            kind_column: None,
            roles: BTreeMap::new(),
            filter: None,
            grouping: RowGrouping::Contiguous,
            delimiter: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableLayout {
    #[default]
    ConversationPerRow,
    MessagePerRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableFileType {
    Parquet,
    /// Arrow IPC: the file format (Feather v2) or the stream format (a `datasets` cache's `*.arrow`).
    Ipc,
    Csv,
    Ndjson,
}

impl TableFileType {
    /// The type a file extension stands for.
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "arrow" | "ipc" | "feather" => Some(Self::Ipc),
            "csv" | "tsv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

impl TableOptions {
    /// The rules of `[input.table]` its types cannot express; `which` names the input in messages. `source_set` and
    /// `kind_set` say whether the input names a `source` and a `kind`.
    pub fn check(&self, which: &str, source_set: bool, kind_set: bool) -> Result<(), String> {
        let per_message = self.layout == TableLayout::MessagePerRow;
        if source_set && self.source_column.is_some() {
            return Err(format!("{which}: set either source or table.source_column, not both"));
        }
        if kind_set && self.kind_column.is_some() {
            return Err(format!("{which}: set either kind or table.kind_column, not both"));
        }
        if per_message && self.messages != TableOptions::default().messages {
            return Err(format!("{which}: table.messages is for layout \"conversation-per-row\""));
        }
        if !per_message && self.order.is_some() {
            return Err(format!("{which}: table.order is for layout \"message-per-row\" (a list keeps its order)"));
        }
        if !per_message && self.grouping != RowGrouping::Contiguous {
            return Err(format!("{which}: table.grouping is for layout \"message-per-row\""));
        }
        if self.delimiter.is_some_and(|d| !d.is_ascii()) {
            return Err(format!("{which}: table.delimiter must be one ASCII character"));
        }
        for (raw, role) in &self.roles {
            if Role::parse(role).is_none() {
                let canonical = "user, assistant, system, tool";
                return Err(format!(
                    "{which}: table.roles maps \"{raw}\" to \"{role}\", which is not one of {canonical}"
                ));
            }
        }
        let mut named: BTreeMap<&str, &str> = BTreeMap::new();
        for (key, column) in self.identity_columns() {
            if let Some(previous) = named.insert(column, key) {
                return Err(format!("{which}: table.{previous} and table.{key} both name column \"{column}\""));
            }
        }
        if let Some(filter) = &self.filter {
            let _parsed = polars_sql::sql_expr(filter)
                .map_err(|e| format!("{which}: table.filter {filter:?} is not a SQL expression polars reads: {e}"))?;
        }
        Ok(())
    }

    /// The columns the identity keys name, with their keys (not the message columns, which may be shared).
    fn identity_columns(&self) -> Vec<(&'static str, &str)> {
        let keyed = [
            ("conversation_id", &self.conversation_id),
            ("task_id", &self.task_id),
            ("run", &self.run),
            ("outcome", &self.outcome),
            ("survey", &self.survey),
            ("source_column", &self.source_column),
            ("kind_column", &self.kind_column),
        ];
        keyed.into_iter().filter_map(|(key, column)| column.as_deref().map(|c| (key, c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> TableOptions {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_read_wildchat_and_lmsys() {
        let options = parse("");
        assert_eq!(options.layout, TableLayout::ConversationPerRow);
        assert_eq!(
            (options.messages.as_str(), options.role.as_str(), options.content.as_str()),
            ("conversation", "role", "content")
        );
        assert!(options.check("x", true, true).is_ok());
    }

    #[test]
    fn rules_name_the_key() {
        let both = parse("source_column = \"model\"");
        assert!(both.check("x", true, false).unwrap_err().contains("source_column"));
        let order = parse("order = \"turn\"");
        assert!(order.check("x", false, false).unwrap_err().contains("message-per-row"));
        let roles = parse("roles = { usr = \"customer\" }");
        assert!(roles.check("x", false, false).unwrap_err().contains("customer"));
        let twice = parse("task_id = \"a\"\nrun = \"a\"");
        assert!(twice.check("x", false, false).unwrap_err().contains("both name column \"a\""));
        let filter = parse("filter = \"language = = 'English'\"");
        assert!(filter.check("x", false, false).unwrap_err().contains("table.filter"));
        let fine = parse("filter = \"language = 'English' AND turn >= 2 AND NOT toxic\"");
        assert!(fine.check("x", false, false).is_ok());
    }

    #[test]
    fn extensions_name_types() {
        assert_eq!(TableFileType::from_extension("PARQUET"), Some(TableFileType::Parquet));
        assert_eq!(TableFileType::from_extension("feather"), Some(TableFileType::Ipc));
        assert_eq!(TableFileType::from_extension("tsv"), Some(TableFileType::Csv));
        assert_eq!(TableFileType::from_extension("json"), None);
        for extension in crate::ingest::record::TABLE_EXTENSIONS {
            assert!(
                TableFileType::from_extension(extension).is_some(),
                "{extension}: a folder's files must be readable"
            );
        }
    }
}
