//! Layout `conversation-per-row`: each row one conversation, its messages a list-of-struct column (WildChat's and
//! LMSYS-Chat-1M's `conversation`).
//!
//! Consumes: [`Batch`]es holding the messages column and the identity columns. Produces: one [`RawConversation`]
//! per row, located by its row number, or a reject naming the row: a null messages cell, a message without a role,
//! a cell of the wrong type (the whole column of the wrong type rejects every row, each with the reason).

use polars::prelude::*;

use super::columns::{Batch, Columns};
use super::messages::MessageFields;
use crate::ingest::IngestError;
use crate::ingest::formats::sink::RecordSink;
use crate::ingest::record::{Location, RawMessage};

pub struct ConversationRows {
    pub columns: Columns,
    /// The list-of-struct column.
    pub messages: String,
    pub fields: MessageFields,
    /// Names conversations of a table without an id column: `{file_stem}#{row}`.
    pub file_stem: String,
}

impl ConversationRows {
    /// Hands every row of `batch` to `sink`, accepted or rejected.
    pub fn read_batch(&self, batch: &Batch, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let lists = MessageLists::new(batch.column(&self.messages), &self.fields);
        for index in 0..batch.len() {
            let row = batch.row(index);
            let location = Location::Row(row);
            let record =
                self.columns.identity(batch, index, || format!("{}#{row}", self.file_stem)).and_then(|mut raw| {
                    let lists = lists.as_ref().map_err(Clone::clone)?;
                    raw.messages = Some(lists.messages(index, &self.fields).map_err(|reason| match reason {
                        MessageError::Null => format!("column \"{}\" is null: the row has no messages", self.messages),
                        MessageError::At(message, reason) => format!("message {message} {reason}"),
                    })?);
                    Ok(raw)
                });
            match record {
                Ok(raw) => sink.accept(location, raw)?,
                Err(reason) => {
                    let excerpt = self.excerpt(batch, index);
                    sink.reject(location, reason, excerpt.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// What a reject's excerpt shows: the row's id where it has one.
    fn excerpt(&self, batch: &Batch, index: usize) -> String {
        let id = self.columns.conversation_id.as_deref();
        id.and_then(|name| batch.read(name, index, super::cells::id).ok().flatten()).unwrap_or_default()
    }
}

/// Item `index` of a one-chunk series.
fn cell(series: &Series, index: usize) -> AnyValue<'_> {
    series.get(index).unwrap_or(AnyValue::Null)
}

/// Why a row's messages cannot be read.
enum MessageError {
    Null,
    /// The 0-based message and the reason.
    At(usize, String),
}

/// The messages column of one batch, as offsets into its structs' flattened fields.
struct MessageLists {
    offsets: Vec<i64>,
    valid: Vec<bool>,
    struct_null: BooleanChunked,
    role: Series,
    content: Series,
    timestamp: Option<Series>,
}

impl MessageLists {
    /// The column's lists, or the reason every row is rejected (a column or struct of the wrong shape).
    fn new(column: &Series, fields: &MessageFields) -> Result<Self, String> {
        let name = column.name().to_string();
        let wrong = || format!("column \"{name}\" holds {}, not a list of message structs", column.dtype());
        let list = column.list().map_err(|_| wrong())?;
        let DataType::Struct(struct_fields) = list.inner_dtype() else {
            return Err(wrong());
        };
        let names: Vec<&str> = struct_fields.iter().map(|f| f.name().as_str()).collect();
        let has = |field: &str| names.contains(&field);
        for (key, field) in
            [("role", Some(&fields.role)), ("content", Some(&fields.content)), ("timestamp", fields.timestamp.as_ref())]
        {
            if let Some(field) = field.filter(|f| !has(f)) {
                return Err(format!(
                    "the messages of column \"{name}\" have no field \"{field}\" (table.{key}; their fields: {})",
                    names.join(", ")
                ));
            }
        }
        let list = list.rechunk();
        let array = list.downcast_as_array();
        let offsets = array.offsets().as_slice().to_vec();
        let valid = (0..list.len()).map(|i| array.validity().is_none_or(|bits| bits.get_bit(i))).collect();
        let inner = list.get_inner();
        let structs = inner.struct_().map_err(|_| wrong())?;
        let field = |field: &str| structs.field_by_name(field).map(|s| s.rechunk()).map_err(|e| e.to_string());
        Ok(MessageLists {
            offsets,
            valid,
            struct_null: inner.is_null(),
            role: field(&fields.role)?,
            content: field(&fields.content)?,
            timestamp: fields.timestamp.as_deref().map(field).transpose()?,
        })
    }

    /// The messages of row `index`.
    fn messages(&self, index: usize, fields: &MessageFields) -> Result<Vec<RawMessage>, MessageError> {
        if !self.valid[index] {
            return Err(MessageError::Null);
        }
        let (start, end) = (self.offsets[index] as usize, self.offsets[index + 1] as usize);
        let mut messages = Vec::with_capacity(end - start);
        for (message, item) in (start..end).enumerate() {
            if self.struct_null.get(item).unwrap_or(true) {
                return Err(MessageError::At(message, "is null".into()));
            }
            let timestamp = self.timestamp.as_ref().map(|series| cell(series, item));
            let raw = fields
                .message(&cell(&self.role, item), &cell(&self.content, item), timestamp.as_ref())
                .map_err(|reason| MessageError::At(message, reason))?;
            messages.push(raw);
        }
        Ok(messages)
    }
}
