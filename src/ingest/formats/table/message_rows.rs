//! Layout `message-per-row`: each row one message, grouped into conversations by the id column (a warehouse's
//! `conversation_id, turn, role, text, ts`).
//!
//! Consumes: [`Batch`]es holding the id, message and identity columns, and the filter's verdict per row where the
//! input has a filter. Produces: one [`RawConversation`] per conversation, located by its first and last row, its
//! identity read from its first row and its messages sorted by the `order` column (stable; file order without one).
//! A row without an id is a reject on its own; any other bad row rejects its whole conversation, naming the row. A
//! conversation the filter does not hold for on every row is counted as filtered, whole.
//!
//! Memory: with `grouping = "contiguous"` (the default) one conversation at a time, and an id that comes back after
//! other ids is a second conversation, which validation rejects as a duplicate (so rows that are not contiguous are
//! found, never merged silently). With `grouping = "any"` every conversation of the file is held until its end.

use std::collections::HashMap;

use polars::prelude::*;

use super::cells;
use super::columns::{Batch, Columns};
use super::messages::MessageFields;
use crate::ingest::IngestError;
use crate::ingest::formats::sink::RecordSink;
use crate::ingest::grouping::RowGrouping;
use crate::ingest::record::{Location, RawConversation, RawMessage};

/// The filter's verdict per row (message-per-row filters are evaluated, not pushed down).
pub const KEEP: &str = "__simgap_keep";

pub struct MessageRows {
    pub columns: Columns,
    pub fields: MessageFields,
    pub order: Option<String>,
    pub grouping: RowGrouping,
    /// Whether batches carry the [`KEEP`] column.
    pub filtered: bool,
    open: Vec<Group>,
    index_of: HashMap<String, usize>,
}

/// The rows of one conversation so far.
struct Group {
    id: String,
    first_row: u64,
    last_row: u64,
    /// The identity from the first row, or why it cannot be read.
    identity: Result<RawConversation, String>,
    messages: Vec<(Option<f64>, RawMessage)>,
    /// The first bad row's reason.
    error: Option<String>,
    kept: bool,
}

impl MessageRows {
    pub fn new(
        columns: Columns,
        fields: MessageFields,
        order: Option<String>,
        grouping: RowGrouping,
        filtered: bool,
    ) -> Self {
        Self { columns, fields, order, grouping, filtered, open: Vec::new(), index_of: HashMap::new() }
    }

    /// Groups the rows of `batch`, handing finished conversations to `sink`.
    pub fn read_batch(&mut self, batch: &Batch, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let id_column = self.columns.conversation_id.clone().expect("message-per-row resolves an id column");
        for index in 0..batch.len() {
            let row = batch.row(index);
            let id = match batch.read(&id_column, index, cells::id) {
                Ok(Some(id)) => id,
                Ok(None) => {
                    sink.reject(
                        Location::Row(row),
                        format!("column \"{id_column}\" is null or blank: the row has no conversation id"),
                        b"",
                    )?;
                    continue;
                }
                Err(reason) => {
                    sink.reject(Location::Row(row), reason, b"")?;
                    continue;
                }
            };
            let position = self.group_for(id, batch, index, sink)?;
            let message = self.message(batch, index);
            let kept = !self.filtered
                || batch.read(KEEP, index, |cell| Ok(Some(matches!(cell, AnyValue::Boolean(true))))).ok().flatten()
                    == Some(true);
            let group = &mut self.open[position];
            group.last_row = row;
            group.kept &= kept;
            match message {
                Ok(message) if group.error.is_none() => group.messages.push(message),
                Ok(_) => {}
                Err(reason) => {
                    group.error.get_or_insert(format!("row {row}: {reason}"));
                }
            }
        }
        Ok(())
    }

    /// Hands the conversations still open to `sink`, in the order they began.
    pub fn finish(&mut self, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        for group in std::mem::take(&mut self.open) {
            emit(group, sink)?;
        }
        self.index_of.clear();
        Ok(())
    }

    /// The position in `open` of the conversation `id` (a new one where needed); with contiguous grouping, the
    /// conversation before it is finished first.
    fn group_for(
        &mut self,
        id: String,
        batch: &Batch,
        index: usize,
        sink: &mut dyn RecordSink,
    ) -> Result<usize, IngestError> {
        let row = batch.row(index);
        if let RowGrouping::Any = self.grouping
            && let Some(&position) = self.index_of.get(&id)
        {
            return Ok(position);
        }
        if self.grouping == RowGrouping::Contiguous {
            if self.open.last().is_some_and(|group| group.id == id) {
                return Ok(0);
            }
            if let Some(done) = self.open.pop() {
                emit(done, sink)?;
            }
        }
        let identity =
            self.columns.identity(batch, index, || id.clone()).map_err(|reason| format!("row {row}: {reason}"));
        if self.grouping == RowGrouping::Any {
            self.index_of.insert(id.clone(), self.open.len());
        }
        self.open.push(Group {
            id,
            first_row: row,
            last_row: row,
            identity,
            messages: Vec::new(),
            error: None,
            kept: true,
        });
        Ok(self.open.len() - 1)
    }

    /// Row `index` as a message with its order key.
    fn message(&self, batch: &Batch, index: usize) -> Result<(Option<f64>, RawMessage), String> {
        let cell = |name: &str| batch.column(name).get(index).unwrap_or(AnyValue::Null);
        let timestamp = self.fields.timestamp.as_deref().map(cell);
        let message = self.fields.message(&cell(&self.fields.role), &cell(&self.fields.content), timestamp.as_ref())?;
        let order = match &self.order {
            Some(name) => Some(
                batch
                    .read(name, index, cells::number)?
                    .ok_or_else(|| format!("column \"{name}\" (table.order) is null"))?,
            ),
            None => None,
        };
        Ok((order, message))
    }
}

/// A finished conversation: filtered, rejected with its first bad row, or accepted with its messages in order.
fn emit(group: Group, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
    let location = Location::Rows { first: group.first_row, last: group.last_row };
    if !group.kept {
        sink.filtered(1);
        return Ok(());
    }
    let mut raw = match (group.identity, group.error) {
        (Err(reason), _) | (Ok(_), Some(reason)) => return sink.reject(location, reason, group.id.as_bytes()),
        (Ok(raw), None) => raw,
    };
    let mut messages = group.messages;
    if messages.iter().any(|(order, _)| order.is_some()) {
        messages.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    }
    raw.messages = Some(messages.into_iter().map(|(_, message)| message).collect());
    sink.accept(location, raw)
}
