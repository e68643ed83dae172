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
        Self::open_rows(path, &[], None)
    }

    /// The row groups of a table: the first row (0-based) and the number of rows of each.
    pub fn row_groups(path: &Path) -> Result<Vec<(u64, u64)>, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let mut first = 0u64;
        Ok(builder
            .metadata()
            .row_groups()
            .iter()
            .map(|group| {
                let rows = group.num_rows() as u64;
                first += rows;
                (first - rows, rows)
            })
            .collect())
    }

    /// Opens one row group of the table (see [`row_groups`]), reading only the rows in `rows` (0-based in the file,
    /// ascending, inside the group); the decoder skips the others. Batches number their rows within the selection
    /// (`first_row` counts selected rows). Row groups can be read in parallel, each by its own reader.
    pub fn open_group_rows(path: &Path, extra: &[&str], group: usize, rows: &[u64]) -> Result<Self, String> {
        Self::open_rows(path, extra, Some((group, rows)))
    }

    /// Opens the rows `range` of the table (0-based, end exclusive; clipped to the table), with the columns `extra`
    /// beside the usual ones: a shard's part of the table. Batches number their rows in the whole table, so what
    /// they produce (rejects naming rows) is what a pass over the whole table produces for those rows.
    pub fn open_range(path: &Path, extra: &[&str], range: std::ops::Range<u64>) -> Result<Self, String> {
        let mut batches = Self::open_rows(path, extra, None)?;
        let total = batches.rows;
        let (start, end) = (range.start.min(total), range.end.min(total));
        if (start, end) == (0, total) {
            return Ok(batches);
        }
        let file = File::open(path).map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let schema = builder.schema().clone();
        let mut roots = Vec::new();
        for name in COLUMNS.iter().chain(extra) {
            roots.push(schema.index_of(name).map_err(|_| format!("no column {name:?}"))?);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let selection =
            RowSelection::from_consecutive_ranges(std::iter::once(start as usize..end as usize), total as usize);
        batches.reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .with_row_selection(selection)
            .build()
            .map_err(|e| e.to_string())?;
        batches.rows = end - start;
        batches.next_row = start;
        Ok(batches)
    }

    fn open_rows(path: &Path, extra: &[&str], selection: Option<(usize, &[u64])>) -> Result<Self, String> {
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
        if let Some((group, selected)) = selection {
            let groups = builder.metadata().row_groups();
            let (first, rows_in_group) = groups
                .get(group)
                .map(|g| (groups[..group].iter().map(|g| g.num_rows() as u64).sum::<u64>(), g.num_rows() as u64))
                .ok_or_else(|| format!("no row group {group}"))?;
            if let Some(row) = selected.iter().find(|&&row| row < first || row >= first + rows_in_group) {
                return Err(format!("row {row} is not in row group {group}"));
            }
            let ranges = selected.iter().map(|&row| (row - first) as usize..(row - first) as usize + 1);
            builder = builder
                .with_row_groups(vec![group])
                .with_row_selection(RowSelection::from_consecutive_ranges(ranges, rows_in_group as usize));
        }
        let reader = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { reader, rows: selection.map_or(rows_in_file, |(_, r)| r.len() as u64), next_row: 0 })
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
pub fn for_each_batch<E: Send>(
    batches: ConversationBatches,
    read_error: impl Fn(String) -> E + Send,
    consume: impl FnMut(ConversationBatch) -> Result<(), E>,
) -> Result<(), E> {
    crate::prefetch::for_each_prefetched(batches.map(move |batch| batch.map_err(&read_error)), consume)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::writer::{ConversationWriter, tests::conversation};

    /// A conversations table of `rows` rows in row groups of `group_rows`.
    fn table(rows: usize, group_rows: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conversations.parquet");
        let mut writer = ConversationWriter::create(&path, group_rows).unwrap();
        for i in 0..rows {
            writer.append(&conversation(i)).unwrap();
        }
        writer.finish().unwrap();
        (dir, path)
    }

    fn ids(batch: &ConversationBatch) -> Vec<String> {
        batch.rows().unwrap().iter().map(|row| row.conversation_id.to_owned()).collect()
    }

    #[test]
    fn every_batch_in_order_and_the_first_error_stops() {
        let (_dir, path) = table(10_000, 3_000);
        let mut seen = Vec::new();
        for_each_batch(
            ConversationBatches::open(&path).unwrap(),
            |e| e,
            |batch| {
                seen.extend(ids(&batch));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..10_000).map(|i| format!("c{i}")).collect::<Vec<_>>());
        let mut calls = 0;
        let stopped = for_each_batch(
            ConversationBatches::open(&path).unwrap(),
            |e| e,
            |_| {
                calls += 1;
                Err("stop".to_owned())
            },
        );
        assert_eq!((stopped, calls), (Err("stop".to_owned()), 1));
    }

    #[test]
    fn reads_only_the_selected_rows_of_a_row_group() {
        let (_dir, path) = table(1_000, 300);
        let groups = ConversationBatches::row_groups(&path).unwrap();
        assert_eq!(groups, vec![(0, 300), (300, 300), (600, 300), (900, 100)]);
        let rows = [300u64, 301, 450, 599];
        let batches = ConversationBatches::open_group_rows(&path, &[], 1, &rows).unwrap();
        assert_eq!(batches.rows(), 4);
        let read: Vec<String> = batches.flat_map(|b| ids(&b.unwrap())).collect();
        assert_eq!(read, ["c300", "c301", "c450", "c599"]);
        let outside = ConversationBatches::open_group_rows(&path, &[], 1, &[299]).err().unwrap();
        assert!(outside.contains("row 299 is not in row group 1"), "{outside}");
        assert!(ConversationBatches::open_group_rows(&path, &[], 9, &[]).err().unwrap().contains("no row group 9"));
    }
}
