//! `features.parquet`: the identity columns copied from the conversations table, then one float64 column per
//! feature (null where the value does not exist), each field tagged with its facet.
//!
//! Consumes: conversation batches, the indexes of the rows that yielded features, and their values. Produces: the
//! file, through a temporary name renamed into place by [`FeaturesWriter::finish`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;

use super::error::FeaturesError;
use super::facet::Column;
use super::reader::{COLUMNS, ConversationBatch};
use crate::atomic::AtomicPath;

/// Conversations per row group of `features.parquet`.
const ROW_GROUP_ROWS: usize = 16_384;

pub struct FeaturesWriter {
    writer: crate::table::ChunkedWriter,
    schema: SchemaRef,
    target: AtomicPath,
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> FeaturesError {
    FeaturesError::Write { path: path.to_owned(), message: e.to_string() }
}

impl FeaturesWriter {
    pub fn create(path: &Path, columns: &[Column]) -> Result<Self, FeaturesError> {
        let target = AtomicPath::new(path);
        let schema = schema(columns);
        // Bounded row groups: the writer buffers one in memory.
        let properties = crate::table::writer_properties(Some(ROW_GROUP_ROWS));
        let file = std::fs::File::create(target.temp()).map_err(|e| write_error(target.temp(), e))?;
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| write_error(target.temp(), e))?;
        Ok(Self { writer: crate::table::ChunkedWriter::new(writer), schema, target })
    }

    /// Writes the rows `kept` of `batch` with their feature values.
    pub fn write(&mut self, batch: &ConversationBatch, kept: &[u32], values: &[Vec<f64>]) -> Result<(), FeaturesError> {
        if kept.is_empty() {
            return Ok(());
        }
        let rows = feature_rows(&self.schema, batch, kept, values).map_err(|e| write_error(self.target.temp(), e))?;
        self.writer.write(&rows).map_err(|e| write_error(self.target.temp(), e))
    }

    /// Writes rows already in the table's layout (a batch of another `features.parquet` of the same columns, such as
    /// a shard's part): how parts are joined into the stage's table.
    pub fn write_rows(&mut self, rows: &RecordBatch) -> Result<(), FeaturesError> {
        let rows = RecordBatch::try_new(self.schema.clone(), rows.columns().to_vec())
            .map_err(|e| write_error(self.target.temp(), e))?;
        self.writer.write(&rows).map_err(|e| write_error(self.target.temp(), e))
    }

    pub fn finish(self) -> Result<(), FeaturesError> {
        let Self { writer, target, .. } = self;
        writer.close().map_err(|e| write_error(target.temp(), e))?;
        let path = target.final_path().to_owned();
        target.commit().map_err(|e| write_error(&path, e))
    }
}

/// The schema of `features.parquet` for `columns`: the identity columns exactly as the conversations table has them,
/// then one nullable float64 per feature tagged with its facet, and the facets in the `simgap.facets` metadata.
pub fn schema(columns: &[Column]) -> SchemaRef {
    let conversations = crate::ingest::writer::schema();
    let mut fields: Vec<Field> = COLUMNS[..6]
        .iter()
        .map(|name| conversations.field_with_name(name).expect("an identity column of the ingest schema").clone())
        .collect();
    for column in columns {
        fields.push(
            Field::new(&column.name, DataType::Float64, true)
                .with_metadata(HashMap::from([("facet".to_owned(), column.facet.name().to_owned())])),
        );
    }
    let facets: serde_json::Map<String, serde_json::Value> =
        columns.iter().map(|c| (c.name.clone(), c.facet.name().into())).collect();
    Arc::new(Schema::new(fields).with_metadata(HashMap::from([
        ("simgap.facets".to_owned(), serde_json::Value::Object(facets).to_string()),
        ("simgap.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ])))
}

/// The feature rows of one batch, in the table's `schema` ([`schema`]): the rows `kept` of `batch` (their identity
/// columns) with their `values` (NaN written as null).
pub fn feature_rows(
    schema: &SchemaRef,
    batch: &ConversationBatch,
    kept: &[u32],
    values: &[Vec<f64>],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let indices = UInt32Array::from(kept.to_vec());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for name in &COLUMNS[..6] {
        let column = batch.batch.column_by_name(name).expect("the reader checked the columns");
        arrays.push(take(column, &indices, None)?);
    }
    for j in 0..schema.fields().len() - 6 {
        let column: Float64Array = values.iter().map(|row| Some(row[j]).filter(|v| !v.is_nan())).collect();
        arrays.push(Arc::new(column));
    }
    RecordBatch::try_new(schema.clone(), arrays)
}
