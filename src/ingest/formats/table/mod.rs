//! `format = "table"`: conversations in Parquet, Arrow IPC / Feather (a `datasets` cache's `*.arrow` too), CSV and
//! NDJSON tables, read through polars lazy scans: WildChat, LMSYS-Chat-1M, a warehouse's chat logs.
//!
//! Consumes: one table file and its `[input.table]`. Produces: every conversation of the file in a
//! [`RecordSink`], accepted, rejected (with its row number and reason) or counted as filtered, so that for each
//! file rows read = accepted + rejected + filtered (message-per-row: conversations, plus rows without an id).
//!
//! Steps: the scan ([`scan`]), the columns `[input.table]` names checked against the file's schema (a missing
//! column rejects the file, naming the columns it has), the projection and the filter (conversation-per-row:
//! pushed into the scan, and the rows it drops counted from the file's row count; message-per-row: evaluated per
//! row), then the batches of polars' streaming engine read by the layout ([`conversation_rows`],
//! [`message_rows`]). A file polars cannot decode past some row keeps the rows before it and is one more reject
//! naming that row. Cells reach [`RawConversation`](crate::ingest::RawConversation)s as Rust values, never through
//! JSON (the `metadata` and `survey` fields, JSON in `conversations.parquet`, excepted).

mod cells;
mod columns;
mod conversation_rows;
mod message_rows;
mod messages;
mod plan;
mod scan;
#[cfg(test)]
mod tests;

use super::sink::{FormatReader, RecordSink};
use crate::ingest::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::TableOptions;
use crate::ingest::record::Location;
use columns::{Batch, Columns};
use plan::Plan;

/// Rows per batch the streaming engine hands over.
const BATCH_ROWS: usize = 4096;

pub struct TableReader {
    options: TableOptions,
}

impl TableReader {
    pub fn new(options: TableOptions) -> Self {
        Self { options }
    }

    /// Scans, plans and streams one file into `sink`; everything wrong with the file or its rows is a reject.
    fn read_file(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let file_type = match scan::file_type(file, &self.options) {
            Ok(file_type) => file_type,
            Err(reason) => return sink.reject(Location::File, reason, b""),
        };
        let opened = scan::open(file, file_type, &self.options, &plan::text_columns(&self.options))
            .and_then(|mut frame| Ok((frame.collect_schema()?, frame)));
        let (schema, frame) = match opened {
            Ok(opened) => opened,
            Err(e) => return sink.reject(Location::File, format!("not a readable {file_type:?} table: {e}"), b""),
        };
        let planned = Columns::resolve(&self.options, &schema)
            .and_then(|columns| plan::plan(&self.options, frame, &schema, columns, file));
        let Plan { query, mut layout, rows_in_file } = match planned {
            Ok(planned) => planned,
            Err(reason) => return sink.reject(Location::File, reason, b""),
        };
        let mut passed = 0u64;
        let mut last_row = 0u64;
        let read = scan::for_each_batch(query, BATCH_ROWS, |frame| {
            let batch = match Batch::new(frame) {
                Ok(batch) => batch,
                Err(e) => {
                    return Err(Stop::Unreadable(format!("a batch after row {last_row} has no row numbers: {e}")));
                }
            };
            passed += batch.len() as u64;
            if let Some(last) = batch.len().checked_sub(1) {
                last_row = batch.row(last);
            }
            layout.read_batch(&batch, sink).map_err(Stop::Sink)?;
            Ok(true)
        });
        let read = match read {
            Ok(read) => read.map_err(|e| format!("the table cannot be read past row {last_row}: {e}")),
            Err(Stop::Sink(error)) => return Err(error),
            Err(Stop::Unreadable(reason)) => Err(reason),
        };
        layout.finish(sink)?;
        match read {
            Ok(()) => {
                if let Some(rows) = rows_in_file {
                    sink.filtered(rows.saturating_sub(passed));
                }
                Ok(())
            }
            Err(reason) => sink.reject(Location::File, reason, b""),
        }
    }
}

/// Why streaming a file stopped early.
enum Stop {
    /// The sink refused (`--strict`, a write error): the stage stops.
    Sink(IngestError),
    /// The rest of the file cannot be read: one reject of the file.
    Unreadable(String),
}

impl FormatReader for TableReader {
    /// Reads the file; a panic inside polars (on a damaged file) becomes one more reject of the file, not a crash.
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_file(file, &mut *sink)));
        match read {
            Ok(result) => result,
            Err(panic) => sink.reject(Location::File, scan::panic_text(&panic), b""),
        }
    }
}
