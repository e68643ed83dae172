//! Streaming `conversations.parquet` batch by batch, with borrowed views of each conversation.
//!
//! Consumes: the ingest stage's table. Produces: [`ConversationBatch`]es (the Arrow batch itself, kept so the
//! identity columns are copied into `features.parquet` without conversion) and, per batch, [`ConversationRow`]s that
//! borrow their text from it. Memory: one batch of `BATCH_ROWS` conversations.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, ListArray, RecordBatch, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection};

use super::text::MessageView;
use crate::ingest::{Role, SourceKind};

const BATCH_ROWS: usize = 4096;

/// The identity columns `features.parquet` copies, then the messages.
pub const COLUMNS: [&str; 7] = ["conversation_id", "source", "kind", "task_id", "run", "outcome", "messages"];

/// Batches of conversations, in file order.
pub struct ConversationBatches {
    reader: ParquetRecordBatchReader,
    rows: u64,
    next_row: u64,
}

impl ConversationBatches {
    pub fn open(path: &Path) -> Result<Self, String> {
        Self::open_with(path, &[])
    }

    /// Opens the table reading `extra` columns too (e.g. `survey`), available in each batch's `batch`.
    pub fn open_with(path: &Path, extra: &[&str]) -> Result<Self, String> {
        Self::open_rows(path, extra, None)
    }

    /// Opens the table reading only the rows in `rows` (0-based, ascending; None: every row). The other rows are
    /// skipped by the decoder, so reading a small sample of a large table costs little more than the sample.
    /// Batches then number their rows within the selection (`first_row` counts selected rows).
    pub fn open_rows(path: &Path, extra: &[&str], rows: Option<&[u64]>) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let rows_in_file = builder.metadata().file_metadata().num_rows() as u64;
        let schema = builder.schema().clone();
        let mut roots = Vec::new();
        for name in COLUMNS.iter().chain(extra) {
            roots.push(
                schema.index_of(name).map_err(|_| format!("no column {name:?}: not a simgap conversations table"))?,
            );
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let mut builder = builder.with_projection(mask).with_batch_size(BATCH_ROWS);
        if let Some(selected) = rows {
            let ranges = selected.iter().map(|&row| row as usize..row as usize + 1);
            builder = builder.with_row_selection(RowSelection::from_consecutive_ranges(ranges, rows_in_file as usize));
        }
        let reader = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { reader, rows: rows.map_or(rows_in_file, |r| r.len() as u64), next_row: 0 })
    }

    /// Conversations the batches hold: the file's, or the selection's.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl Iterator for ConversationBatches {
    type Item = Result<ConversationBatch, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?.map_err(|e| e.to_string());
        Some(batch.map(|batch| {
            let first_row = self.next_row;
            self.next_row += batch.num_rows() as u64;
            ConversationBatch { batch, first_row }
        }))
    }
}

/// Runs `consume` on every batch in order while a thread of its own decodes the next one, so the Parquet decoding
/// overlaps with the work on the current batch (one batch ahead: memory stays at two batches). Stops at the first
/// error, the reader's or `consume`'s.
pub fn for_each_batch<E>(
    batches: ConversationBatches,
    read_error: impl Fn(String) -> E,
    mut consume: impl FnMut(ConversationBatch) -> Result<(), E>,
) -> Result<(), E> {
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || {
            for batch in batches {
                let failed = batch.is_err();
                // A closed channel means the consumer stopped; a read error ends the batches.
                if sender.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        for batch in receiver {
            consume(batch.map_err(&read_error)?)?;
        }
        Ok(())
    })
}

/// One batch of the conversations table.
pub struct ConversationBatch {
    pub batch: RecordBatch,
    /// Index in the file of the batch's first row.
    pub first_row: u64,
}

/// One conversation, borrowing from its batch.
pub struct ConversationRow<'a> {
    pub conversation_id: &'a str,
    pub source: &'a str,
    pub kind: SourceKind,
    pub messages: Vec<MessageView<'a>>,
    /// 0-based index in the conversations table.
    pub row_number: u64,
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, String> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| format!("column {name:?} is not text"))
}

impl ConversationBatch {
    pub fn rows(&self) -> Result<Vec<ConversationRow<'_>>, String> {
        let batch = &self.batch;
        let (ids, sources, kinds) =
            (strings(batch, "conversation_id")?, strings(batch, "source")?, strings(batch, "kind")?);
        let messages: &ListArray = batch
            .column_by_name("messages")
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or("column \"messages\" is not a list")?;
        let parts = messages.values().as_struct_opt().ok_or("messages are not structs")?;
        let text = |name: &str| {
            parts
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or(format!("messages have no {name:?} text"))
        };
        let (roles, contents, stamps) = (text("role")?, text("content")?, text("timestamp")?);
        let offsets = messages.value_offsets();
        (0..batch.num_rows())
            .map(|i| {
                let row = self.first_row + i as u64;
                let kind =
                    SourceKind::parse(kinds.value(i)).ok_or_else(|| format!("row {row}: kind {:?}", kinds.value(i)))?;
                let views = (offsets[i] as usize..offsets[i + 1] as usize)
                    .map(|j| {
                        let role = Role::parse(roles.value(j))
                            .ok_or_else(|| format!("row {row}: unknown role {:?}", roles.value(j)))?;
                        Ok(MessageView {
                            role,
                            content: (!contents.is_null(j)).then(|| contents.value(j)),
                            timestamp: (!stamps.is_null(j)).then(|| stamps.value(j)),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(ConversationRow {
                    conversation_id: ids.value(i),
                    source: sources.value(i),
                    kind,
                    messages: views,
                    row_number: self.first_row + i as u64,
                })
            })
            .collect()
    }
}
