//! The columns `[input.table]` names, checked against a table's schema, and one batch's cells read through them.
//!
//! Consumes: a table's [`Schema`], its [`TableOptions`], and batches ([`DataFrame`]s) from the scan. Produces:
//! [`Columns`] (which columns to project, or the reason the file cannot be read: a column it does not have) and,
//! per row, the conversation's identity as a [`RawConversation`] without messages, or the reason the row is a
//! reject. The same for both layouts.

use std::collections::HashMap;

use polars::prelude::*;

use super::cells;
use super::scan::ROW;
use crate::ingest::options::{TableLayout, TableOptions};
use crate::ingest::record::RawConversation;

/// The identity columns of one table.
#[derive(Debug, Clone)]
pub struct Columns {
    /// `None`: the table has no id column; conversations are named by file and row.
    pub conversation_id: Option<String>,
    pub task_id: Option<String>,
    pub run: Option<String>,
    pub outcome: Option<String>,
    pub survey: Option<String>,
    pub metadata: Vec<String>,
    pub source: Option<String>,
    pub kind: Option<String>,
}

impl Columns {
    /// The columns `options` names, each checked against `schema`. The message columns are the layouts' business.
    pub fn resolve(options: &TableOptions, schema: &Schema) -> Result<Self, String> {
        let present = |key: &str, column: &Option<String>| -> Result<Option<String>, String> {
            match column {
                Some(name) if !schema.contains(name) => Err(missing(schema, &format!("table.{key}"), name)),
                other => Ok(other.clone()),
            }
        };
        let conversation_id = match &options.conversation_id {
            Some(_) => present("conversation_id", &options.conversation_id)?,
            None if schema.contains("conversation_id") => Some("conversation_id".to_owned()),
            None if options.layout == TableLayout::MessagePerRow => {
                return Err(missing(
                    schema,
                    "table.conversation_id (message-per-row groups rows by it)",
                    "conversation_id",
                ));
            }
            None => None,
        };
        for name in &options.metadata {
            if !schema.contains(name) {
                return Err(missing(schema, "table.metadata", name));
            }
        }
        Ok(Columns {
            conversation_id,
            task_id: present("task_id", &options.task_id)?,
            run: present("run", &options.run)?,
            outcome: present("outcome", &options.outcome)?,
            survey: present("survey", &options.survey)?,
            metadata: options.metadata.clone(),
            source: present("source_column", &options.source_column)?,
            kind: present("kind_column", &options.kind_column)?,
        })
    }

    /// Every column these name.
    pub fn names(&self) -> Vec<&str> {
        let single =
            [&self.conversation_id, &self.task_id, &self.run, &self.outcome, &self.survey, &self.source, &self.kind];
        single.into_iter().flatten().map(String::as_str).chain(self.metadata.iter().map(String::as_str)).collect()
    }

    /// Row `index` of `batch` as a conversation without messages; `fallback_id` names it where the table has no
    /// id column.
    pub fn identity(
        &self,
        batch: &Batch,
        index: usize,
        fallback_id: impl FnOnce() -> String,
    ) -> Result<RawConversation, String> {
        let read = |column: &Option<String>, convert: fn(&AnyValue) -> Result<Option<String>, String>| {
            column.as_deref().map(|name| batch.read(name, index, convert)).transpose().map(Option::flatten)
        };
        let conversation_id = match &self.conversation_id {
            Some(name) => batch.read(name, index, cells::id)?,
            None => Some(fallback_id()),
        };
        let run = self.run.as_deref().map(|name| batch.read(name, index, cells::integer)).transpose()?.flatten();
        let outcome = self.outcome.as_deref().map(|name| batch.read(name, index, cells::number)).transpose()?.flatten();
        let survey = match &self.survey {
            Some(name) => batch.read(name, index, survey_answers)?,
            None => None,
        };
        let metadata = if self.metadata.is_empty() {
            None
        } else {
            let mut object = serde_json::Map::new();
            for name in &self.metadata {
                object.insert(
                    name.clone(),
                    batch.read(name, index, |cell| cells::json(cell).map(Some))?.unwrap_or_default(),
                );
            }
            Some(serde_json::Value::Object(object).to_string())
        };
        Ok(RawConversation {
            conversation_id,
            source: read(&self.source, cells::text)?,
            kind: read(&self.kind, cells::text)?,
            task_id: read(&self.task_id, cells::id)?,
            run,
            outcome,
            survey,
            metadata,
            messages: None,
        })
    }
}

/// Survey answers: a struct cell, or text holding a JSON object.
fn survey_answers(cell: &AnyValue) -> Result<Option<serde_json::Value>, String> {
    if let Some(text) = cell.get_str() {
        return serde_json::from_str(text).map(Some).map_err(|e| format!("is not a JSON object of answers: {e}"));
    }
    match cells::json(cell)? {
        serde_json::Value::Null => Ok(None),
        value @ serde_json::Value::Object(_) => Ok(Some(value)),
        _ => Err(format!("holds {}, not a struct or JSON text of answers", cell.dtype())),
    }
}

/// The reason a file is refused when it lacks a column.
pub fn missing(schema: &Schema, key: &str, name: &str) -> String {
    let mut names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).filter(|n| *n != ROW).collect();
    names.truncate(40);
    format!("{key} names column \"{name}\", which the table does not have (its columns: {})", names.join(", "))
}

/// One batch of rows, each column in one chunk, read cell by cell.
pub struct Batch {
    columns: HashMap<String, Series>,
    rows: Vec<u64>,
}

impl Batch {
    /// The batch's columns (rechunked) and its row numbers.
    pub fn new(frame: DataFrame) -> PolarsResult<Self> {
        let rows_column = frame.column(ROW)?.as_materialized_series().cast(&DataType::UInt64)?;
        let rows = rows_column.u64()?.iter().map(|row| row.unwrap_or(0)).collect();
        let columns = frame
            .columns()
            .iter()
            .map(|column| (column.name().to_string(), column.as_materialized_series().rechunk()))
            .collect();
        Ok(Batch { columns, rows })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The 1-based row number in the file of the batch's `index`-th row.
    pub fn row(&self, index: usize) -> u64 {
        self.rows[index]
    }

    /// The whole column `name`.
    pub fn column(&self, name: &str) -> &Series {
        &self.columns[name]
    }

    /// One cell, converted; a conversion's reason is prefixed with the column's name.
    pub fn read<T>(
        &self,
        name: &str,
        index: usize,
        convert: impl FnOnce(&AnyValue) -> Result<Option<T>, String>,
    ) -> Result<Option<T>, String> {
        let cell = self.columns[name].get(index).unwrap_or(AnyValue::Null);
        convert(&cell).map_err(|reason| format!("column \"{name}\" {reason}"))
    }
}
