//! `conversations.parquet`: validated conversations appended to Arrow builders and written by arrow-rs' streaming
//! Parquet writer (zstd, bounded row groups) on its own thread, so parsing and encoding overlap.
//!
//! Consumes: [`Conversation`]s in order. Produces: one Parquet file with the schema of [`schema`] (or, for a per-file
//! cache part, an Arrow IPC file with LZ4 frames and [`part_schema`]: the same columns plus each row's [`Location`]
//! in its file), written to a temporary name and renamed into place by [`ConversationWriter::finish`]. Memory: one
//! batch of builders plus the writer's open row group, both bounded by `row_group_size` conversations. The table's
//! bytes depend only on the rows appended and the row group size, so rows read back from cache parts and appended
//! again give the same file as a direct run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::{ArrayBuilder, ArrayRef, Float64Builder, Int64Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use super::error::IngestError;
use super::record::{Conversation, Location};
use crate::atomic::AtomicPath;

/// Conversations per Arrow batch handed to the writer thread.
const BATCH_ROWS: usize = 4096;

fn message_fields() -> Fields {
    Fields::from(vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, true),
        Field::new("timestamp", DataType::Utf8, true),
    ])
}

fn message_item() -> Field {
    Field::new("item", DataType::Struct(message_fields()), false)
}

/// The schema of `conversations.parquet`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("task_id", DataType::Utf8, true),
        Field::new("run", DataType::Int64, true),
        Field::new("outcome", DataType::Float64, true),
        Field::new("survey", DataType::Utf8, true),
        Field::new("messages", DataType::List(Arc::new(message_item())), false),
        Field::new("input_file", DataType::Utf8, false),
        Field::new("input_record", DataType::Int64, false),
        Field::new("metadata", DataType::Utf8, true),
    ]))
}

/// The column of a cache part that holds each row's location in its file, as JSON (`{"Line": 7}`).
pub const LOCATION_COLUMN: &str = "location";

/// The schema of a per-file cache part: [`schema`] plus [`LOCATION_COLUMN`].
pub fn part_schema() -> SchemaRef {
    let mut fields: Vec<Field> = schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(LOCATION_COLUMN, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// Column builders for one batch.
struct Builders {
    conversation_id: StringBuilder,
    source: StringBuilder,
    kind: StringBuilder,
    task_id: StringBuilder,
    run: Int64Builder,
    outcome: Float64Builder,
    survey: StringBuilder,
    messages: ListBuilder<StructBuilder>,
    input_file: StringBuilder,
    input_record: Int64Builder,
    metadata: StringBuilder,
    /// Cache parts only.
    location: Option<StringBuilder>,
}

impl Builders {
    fn new(located: bool) -> Self {
        let message = StructBuilder::new(
            message_fields(),
            vec![
                Box::new(StringBuilder::new()) as Box<dyn ArrayBuilder>,
                Box::new(StringBuilder::new()),
                Box::new(StringBuilder::new()),
            ],
        );
        Self {
            conversation_id: StringBuilder::new(),
            source: StringBuilder::new(),
            kind: StringBuilder::new(),
            task_id: StringBuilder::new(),
            run: Int64Builder::new(),
            outcome: Float64Builder::new(),
            survey: StringBuilder::new(),
            messages: ListBuilder::new(message).with_field(Arc::new(message_item())),
            input_file: StringBuilder::new(),
            input_record: Int64Builder::new(),
            metadata: StringBuilder::new(),
            location: located.then(StringBuilder::new),
        }
    }

    fn append(&mut self, c: &Conversation, location: Location) {
        self.conversation_id.append_value(&c.conversation_id);
        self.source.append_value(&c.source);
        self.kind.append_value(c.kind.as_str());
        self.task_id.append_option(c.task_id.as_deref());
        self.run.append_option(c.run);
        self.outcome.append_option(c.outcome);
        self.survey.append_option(c.survey.as_deref());
        let list = self.messages.values();
        for message in &c.messages {
            fn field(list: &mut StructBuilder, i: usize) -> &mut StringBuilder {
                list.field_builder::<StringBuilder>(i).expect("message fields are strings")
            }
            field(list, 0).append_value(message.role.as_str());
            field(list, 1).append_option(message.content.as_deref());
            field(list, 2).append_option(message.timestamp.as_deref());
            list.append(true);
        }
        self.messages.append(true);
        self.input_file.append_value(&c.input_file);
        self.input_record.append_value(c.input_record);
        self.metadata.append_option(c.metadata.as_deref());
        if let Some(builder) = &mut self.location {
            builder.append_value(serde_json::to_string(&location).expect("a location serialises"));
        }
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.conversation_id.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.task_id.finish()),
            Arc::new(self.run.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.survey.finish()),
            Arc::new(self.messages.finish()),
            Arc::new(self.input_file.finish()),
            Arc::new(self.input_record.finish()),
            Arc::new(self.metadata.finish()),
        ];
        if let Some(builder) = &mut self.location {
            columns.push(Arc::new(builder.finish()));
        }
        RecordBatch::try_new(schema.clone(), columns)
    }
}

type WriterThread = JoinHandle<Result<(), String>>;

/// The file a writer thread puts its batches in: the table, in Parquet; or a cache part, in Arrow IPC with LZ4
/// frames, which costs little to write and to read back (a part is read by simgap alone, the table by everyone).
enum BatchFile {
    Parquet(ArrowWriter<File>),
    Ipc(FileWriter<BufWriter<File>>),
}

/// What a [`ConversationWriter`] writes: the table, with row groups of at most `row_group_size` conversations, or a
/// cache part.
#[derive(Clone, Copy)]
enum Destination {
    Table { row_group_size: usize },
    Part,
}

impl BatchFile {
    fn create(file: File, schema: &SchemaRef, destination: Destination) -> Result<Self, String> {
        match destination {
            Destination::Part => {
                let options = IpcWriteOptions::default()
                    .try_with_compression(Some(CompressionType::LZ4_FRAME))
                    .map_err(|e| e.to_string())?;
                let writer = FileWriter::try_new_with_options(BufWriter::new(file), schema, options);
                writer.map(Self::Ipc).map_err(|e| e.to_string())
            }
            Destination::Table { row_group_size } => {
                let properties = crate::table::writer_properties(Some(row_group_size));
                let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties));
                writer.map(Self::Parquet).map_err(|e| e.to_string())
            }
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        match self {
            Self::Parquet(writer) => writer.write(batch).map_err(|e| e.to_string()),
            Self::Ipc(writer) => writer.write(batch).map_err(|e| e.to_string()),
        }
    }

    fn close(self) -> Result<(), String> {
        match self {
            Self::Parquet(writer) => writer.close().map(|_| ()).map_err(|e| e.to_string()),
            Self::Ipc(writer) => {
                let mut out = writer.into_inner().map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())
            }
        }
    }
}

/// Streams conversations into the Parquet table or a cache part.
pub struct ConversationWriter {
    schema: SchemaRef,
    builders: Builders,
    rows_in_batch: usize,
    rows_written: u64,
    sender: Option<SyncSender<RecordBatch>>,
    thread: Option<WriterThread>,
    /// Taken by `finish`; dropped uncommitted (removing the temporary file) otherwise.
    target: Option<AtomicPath>,
    temp_path: std::path::PathBuf,
    /// Cache parts are renamed into place without a flush to disk (see [`AtomicPath::commit_unsynced`]).
    sync: bool,
}

impl ConversationWriter {
    /// Opens `path`'s temporary sibling for writing.
    pub fn create(path: &Path, row_group_size: usize) -> Result<Self, IngestError> {
        Self::open(path, Destination::Table { row_group_size })
    }

    /// Opens a per-file cache part (rows with their locations, [`part_schema`], in Arrow IPC) for writing.
    pub fn create_part(path: &Path) -> Result<Self, IngestError> {
        Self::open(path, Destination::Part)
    }

    fn open(path: &Path, destination: Destination) -> Result<Self, IngestError> {
        let located = matches!(destination, Destination::Part);
        let target = AtomicPath::new(path);
        let io_error = |source| IngestError::Io { path: target.temp().to_owned(), source };
        let file = std::fs::File::create(target.temp()).map_err(io_error)?;
        let schema = if located { part_schema() } else { schema() };
        let mut writer = BatchFile::create(file, &schema, destination)
            .map_err(|message| IngestError::Parquet { path: target.temp().to_owned(), message })?;
        let (sender, receiver) = sync_channel::<RecordBatch>(2);
        let thread = std::thread::spawn(move || {
            for batch in receiver {
                writer.write(&batch)?;
            }
            writer.close()
        });
        Ok(Self {
            schema,
            builders: Builders::new(located),
            rows_in_batch: 0,
            rows_written: 0,
            sender: Some(sender),
            thread: Some(thread),
            temp_path: target.temp().to_owned(),
            target: Some(target),
            sync: !located,
        })
    }

    pub fn append(&mut self, conversation: &Conversation) -> Result<(), IngestError> {
        self.append_at(conversation, Location::File)
    }

    /// Appends a row with its location in its file (kept in cache parts; ignored otherwise).
    pub fn append_at(&mut self, conversation: &Conversation, location: Location) -> Result<(), IngestError> {
        self.builders.append(conversation, location);
        self.rows_in_batch += 1;
        if self.rows_in_batch >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), IngestError> {
        if self.rows_in_batch == 0 {
            return Ok(());
        }
        let batch = self.builders.finish(&self.schema).map_err(|e| self.parquet_error(e.to_string()))?;
        self.rows_written += self.rows_in_batch as u64;
        self.rows_in_batch = 0;
        let sent = self.sender.as_ref().map(|s| s.send(batch));
        if !matches!(sent, Some(Ok(()))) {
            // The writer thread stopped: its own error says why.
            return Err(self.join().err().unwrap_or_else(|| self.parquet_error("writer thread stopped".into())));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<(), IngestError> {
        self.sender.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(message))) => Err(self.parquet_error(message)),
            Some(Err(_)) => Err(self.parquet_error("the writer thread panicked".into())),
        }
    }

    fn parquet_error(&self, message: String) -> IngestError {
        IngestError::Parquet { path: self.temp_path.clone(), message }
    }

    /// Writes what is buffered, closes the file and renames it into place. Returns the rows written.
    pub fn finish(mut self) -> Result<u64, IngestError> {
        self.flush_batch()?;
        self.join()?;
        let target = self.target.take().expect("finish runs once");
        let path = target.final_path().to_owned();
        let committed = if self.sync { target.commit() } else { target.commit_unsynced() };
        committed.map_err(|source| IngestError::Io { path, source })?;
        Ok(self.rows_written)
    }
}

impl Drop for ConversationWriter {
    fn drop(&mut self) {
        // Abandoned (an error or --strict): stop the thread; AtomicPath removes the temporary file.
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ingest::record::{Message, Role, SourceKind};
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Conversation `c{i}` of source `s`: a user turn "hello {i}" and an empty assistant turn.
    pub(crate) fn conversation(i: usize) -> Conversation {
        Conversation {
            conversation_id: format!("c{i}"),
            source: "s".into(),
            kind: SourceKind::Simulator,
            task_id: i.is_multiple_of(2).then(|| "t".to_owned()),
            run: Some(i as i64),
            outcome: None,
            survey: None,
            metadata: None,
            messages: vec![
                Message { role: Role::User, content: Some(format!("hello {i}")), timestamp: None },
                Message { role: Role::Assistant, content: None, timestamp: Some("t".into()) },
            ],
            input_file: "f.jsonl".into(),
            input_record: i as i64 + 1,
        }
    }

    #[test]
    fn round_trips_through_parquet_in_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        let mut writer = ConversationWriter::create(&path, 1000).unwrap();
        for i in 0..5000 {
            writer.append(&conversation(i)).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), 5000);
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 5);
        let batches: Vec<RecordBatch> = builder.build().unwrap().collect::<Result<_, _>>().unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 5000);
        let first = &batches[0];
        let messages = first.column_by_name("messages").unwrap().as_list::<i32>();
        let one = messages.value(3);
        let content = one.as_struct().column_by_name("content").unwrap().as_string::<i32>();
        assert_eq!(content.value(0), "hello 3");
        assert!(content.is_null(1));
        assert!(!dir.path().join("c.parquet.tmp").exists());
    }

    #[test]
    fn abandoned_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        let mut writer = ConversationWriter::create(&path, 10).unwrap();
        writer.append(&conversation(0)).unwrap();
        drop(writer);
        assert!(!path.exists());
        assert!(!dir.path().join("c.parquet.tmp").exists());
    }
}
