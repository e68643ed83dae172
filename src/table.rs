//! The Parquet settings every stage writes its tables with: zstd (level 3), simgap named as the writer, and an
//! optional row-group bound.
//!
//! Consumes: the row-group size, if the stage bounds it. Produces: arrow-rs `WriterProperties`.

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

pub fn writer_properties(row_group_rows: Option<usize>) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("3 is a valid zstd level")))
        .set_created_by(format!("simgap {}", env!("CARGO_PKG_VERSION")));
    if let Some(rows) = row_group_rows {
        builder = builder.set_max_row_group_row_count(Some(rows));
    }
    builder.build()
}

/// A small in-memory table built column by column and written as one Parquet file through a temporary name: the
/// divergence and report tables are small (rows per facet x source), so they need no streaming.
#[derive(Default)]
pub struct TableBuilder {
    fields: Vec<arrow::datatypes::Field>,
    columns: Vec<arrow::array::ArrayRef>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, nullable: bool, column: arrow::array::ArrayRef) -> Self {
        self.fields.push(arrow::datatypes::Field::new(name, column.data_type().clone(), nullable));
        self.columns.push(column);
        self
    }

    pub fn text<S: AsRef<str>>(self, name: &str, values: impl IntoIterator<Item = S>) -> Self {
        let array: arrow::array::StringArray = values.into_iter().map(|v| Some(v.as_ref().to_owned())).collect();
        self.push(name, false, std::sync::Arc::new(array))
    }

    pub fn optional_text(self, name: &str, values: impl IntoIterator<Item = Option<String>>) -> Self {
        let array: arrow::array::StringArray = values.into_iter().collect();
        self.push(name, true, std::sync::Arc::new(array))
    }

    /// Floats; NaN is written as null (no value), infinities as themselves.
    pub fn float(self, name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        let array: arrow::array::Float64Array = values.into_iter().map(|v| (!v.is_nan()).then_some(v)).collect();
        self.push(name, true, std::sync::Arc::new(array))
    }

    pub fn unsigned(self, name: &str, values: impl IntoIterator<Item = u64>) -> Self {
        let array: arrow::array::UInt64Array = values.into_iter().map(Some).collect();
        self.push(name, false, std::sync::Arc::new(array))
    }

    pub fn text_list(self, name: &str, values: impl IntoIterator<Item = Vec<String>>) -> Self {
        let mut builder = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
        for list in values {
            for item in list {
                builder.values().append_value(item);
            }
            builder.append(true);
        }
        self.push(name, false, std::sync::Arc::new(builder.finish()))
    }

    pub fn float_list(self, name: &str, values: impl IntoIterator<Item = Vec<f64>>) -> Self {
        let mut builder = arrow::array::ListBuilder::new(arrow::array::Float64Builder::new());
        for list in values {
            for item in list {
                builder.values().append_value(item);
            }
            builder.append(true);
        }
        self.push(name, false, std::sync::Arc::new(builder.finish()))
    }

    /// Writes the table to `path` (through `path.tmp`, renamed), with `metadata` as file key-values.
    pub fn write(self, path: &std::path::Path, metadata: &[(&str, String)]) -> Result<(), WriteError> {
        let error = |e: &dyn std::fmt::Display| WriteError { path: path.to_owned(), message: e.to_string() };
        let schema = arrow::datatypes::Schema::new(self.fields).with_metadata(
            metadata.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<std::collections::HashMap<_, _>>(),
        );
        let batch =
            arrow::array::RecordBatch::try_new(std::sync::Arc::new(schema), self.columns).map_err(|e| error(&e))?;
        let target = crate::atomic::AtomicPath::new(path);
        let file = std::fs::File::create(target.temp()).map_err(|e| error(&e))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(writer_properties(None)))
            .map_err(|e| error(&e))?;
        writer.write(&batch).map_err(|e| error(&e))?;
        writer.close().map_err(|e| error(&e))?;
        target.commit().map_err(|e| error(&e))
    }
}

/// A table that could not be written: the file, and why.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {message}")]
pub struct WriteError {
    pub path: std::path::PathBuf,
    pub message: String,
}

/// Rows given to the Parquet writer in batches of exactly [`CHUNK_ROWS`] rows, counted from the table's first row,
/// whatever batches they arrive in. The writer cuts pages at points counted from the start of each batch it is given,
/// so the same rows written in other batches (a shard's part, a reader's) would give other bytes; cut here, a table
/// joined from parts is byte for byte the table written in one pass.
pub struct ChunkedWriter {
    writer: parquet::arrow::ArrowWriter<std::fs::File>,
    pending: Vec<arrow::array::RecordBatch>,
    pending_rows: usize,
}

/// Rows per batch handed to the Parquet writer; divides every row group size the stages use.
pub const CHUNK_ROWS: usize = 8192;

impl ChunkedWriter {
    pub fn new(writer: parquet::arrow::ArrowWriter<std::fs::File>) -> Self {
        ChunkedWriter { writer, pending: Vec::new(), pending_rows: 0 }
    }

    pub fn write(&mut self, batch: &arrow::array::RecordBatch) -> parquet::errors::Result<()> {
        let mut rest = batch.clone();
        while self.pending_rows + rest.num_rows() >= CHUNK_ROWS {
            let take = CHUNK_ROWS - self.pending_rows;
            self.pending.push(rest.slice(0, take));
            rest = rest.slice(take, rest.num_rows() - take);
            self.flush()?;
        }
        if rest.num_rows() > 0 {
            self.pending_rows += rest.num_rows();
            self.pending.push(rest);
        }
        Ok(())
    }

    /// The pending rows as one batch, to the writer.
    fn flush(&mut self) -> parquet::errors::Result<()> {
        let parts = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        match parts.as_slice() {
            [] => Ok(()),
            [one] => self.writer.write(one),
            [first, ..] => self.writer.write(&arrow::compute::concat_batches(&first.schema(), &parts)?),
        }
    }

    pub fn close(mut self) -> parquet::errors::Result<()> {
        self.flush()?;
        self.writer.close().map(|_| ())
    }
}
