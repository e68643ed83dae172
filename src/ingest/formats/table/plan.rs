//! What to stream from one table and how to read it: the projection, the filter (pushed into the scan, or evaluated
//! per row for message-per-row), the file's row count where a pushed filter drops rows, and the layout that turns
//! batches into conversations.
//!
//! Consumes: the scan's [`LazyFrame`] and schema, the resolved [`Columns`] and `[input.table]`. Produces: a [`Plan`],
//! or the reason the file is rejected (a message column it does not have, a filter polars cannot apply).

use polars::prelude::*;

use super::columns::{self, Batch, Columns};
use super::conversation_rows::ConversationRows;
use super::message_rows::{KEEP, MessageRows};
use super::messages::MessageFields;
use super::scan;
use crate::ingest::IngestError;
use crate::ingest::formats::sink::RecordSink;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::{TableLayout, TableOptions};

/// The query to stream, its layout, and the file's row count where a pushed-down filter drops rows.
pub struct Plan {
    pub query: LazyFrame,
    pub layout: Layout,
    pub rows_in_file: Option<u64>,
}

/// A layout reading batches.
pub enum Layout {
    Conversations(ConversationRows),
    Messages(MessageRows),
}

impl Layout {
    pub fn read_batch(&mut self, batch: &Batch, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        match self {
            Layout::Conversations(rows) => rows.read_batch(batch, sink),
            Layout::Messages(rows) => rows.read_batch(batch, sink),
        }
    }

    pub fn finish(&mut self, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        match self {
            Layout::Conversations(_) => Ok(()),
            Layout::Messages(rows) => rows.finish(sink),
        }
    }
}

/// The columns read as text from CSV, whatever their first rows look like.
pub fn text_columns(options: &TableOptions) -> Vec<&str> {
    let mut names = vec![options.role.as_str(), options.content.as_str()];
    names.extend(
        [&options.conversation_id, &options.task_id, &options.source_column, &options.kind_column]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    if options.layout == TableLayout::MessagePerRow && options.conversation_id.is_none() {
        names.push("conversation_id");
    }
    names
}

fn fields(options: &TableOptions) -> MessageFields {
    MessageFields {
        role: options.role.clone(),
        content: options.content.clone(),
        timestamp: options.timestamp.clone(),
        roles: options.roles.clone(),
    }
}

/// The filter as a polars expression.
fn filter(options: &TableOptions) -> Result<Option<Expr>, String> {
    let Some(filter) = &options.filter else {
        return Ok(None);
    };
    polars_sql::sql_expr(filter).map(Some).map_err(|e| format!("table.filter {filter:?}: {e}"))
}

/// The query to stream (projected and filtered), its layout, and the file's row count where a pushed-down filter
/// drops rows (to count them). An error is the reason the file is rejected.
pub fn plan(
    options: &TableOptions,
    frame: LazyFrame,
    schema: &Schema,
    columns: Columns,
    file: &InputFile,
) -> Result<Plan, String> {
    let fields = fields(options);
    let mut names: Vec<&str> = vec![scan::ROW];
    names.extend(columns.names());
    let message_columns: Vec<(&str, &str)> = match options.layout {
        TableLayout::ConversationPerRow => vec![("messages", options.messages.as_str())],
        TableLayout::MessagePerRow => {
            let mut keyed = vec![("role", options.role.as_str()), ("content", options.content.as_str())];
            keyed.extend(options.timestamp.as_deref().map(|c| ("timestamp", c)));
            keyed.extend(options.order.as_deref().map(|c| ("order", c)));
            keyed
        }
    };
    for (key, name) in &message_columns {
        if !schema.contains(name) {
            return Err(columns::missing(schema, &format!("table.{key}"), name));
        }
        names.push(name);
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(*name));
    let projection: Vec<Expr> = names.iter().map(|name| col(*name)).collect();
    let filter = filter(options)?;
    let (mut query, layout, counted) = match options.layout {
        TableLayout::ConversationPerRow => {
            let query = match &filter {
                Some(filter) => frame.clone().filter(filter.clone()).select(projection),
                None => frame.clone().select(projection),
            };
            let rows = ConversationRows {
                columns,
                messages: options.messages.clone(),
                fields,
                file_stem: file.relative_stem.clone(),
            };
            (query, Layout::Conversations(rows), filter.is_some())
        }
        TableLayout::MessagePerRow => {
            let mut projection = projection;
            if let Some(filter) = &filter {
                projection.push(filter.clone().fill_null(lit(false)).alias(KEEP));
            }
            let rows = MessageRows::new(columns, fields, options.order.clone(), options.grouping, filter.is_some());
            (frame.clone().select(projection), Layout::Messages(rows), false)
        }
    };
    // A filter naming a column the table lacks, or of a type that does not compare, fails here, before any row.
    query.collect_schema().map_err(|e| match &options.filter {
        Some(filter) => format!("table.filter {filter:?} cannot run on this table: {e}"),
        None => format!("the table's columns cannot be read: {e}"),
    })?;
    let rows_in_file = match counted {
        true => Some(scan::count_rows(frame).map_err(|e| format!("counting the table's rows: {e}"))?),
        false => None,
    };
    Ok(Plan { query, layout, rows_in_file })
}
