//! A Parquet table read whole for the report, its columns by name with typed access per row.
//!
//! Consumes: one Parquet file of the divergence stage. Produces: [`Columns`]: text, optional text, f64 (every numeric
//! column converted once; null reads as NaN), and lists of text or f64, per row; a missing or mistyped column is a
//! [`ReadError`] naming the file and the column.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::error::ReadError;

/// A table's columns by name, with typed access per row; numeric columns converted to f64 once.
pub(super) struct Columns {
    path: PathBuf,
    /// The number of rows.
    pub(super) rows: usize,
    batch: RecordBatch,
    numbers: BTreeMap<String, Vec<f64>>,
}

impl Columns {
    /// Reads the whole table at `path`; a missing or unreadable file is an error naming it.
    pub(super) fn read(path: &Path) -> Result<Self, ReadError> {
        let error = |problem: String| ReadError { path: path.to_path_buf(), column: None, problem };
        let file = File::open(path).map_err(|e| error(format!("{e} (run `simgap divergence` first)")))?;
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| error(e.to_string()))?;
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(|e| error(e.to_string()))?;
        let batch = match batches.as_slice() {
            [] => RecordBatch::new_empty(std::sync::Arc::new(arrow::datatypes::Schema::empty())),
            [one] => one.clone(),
            many => arrow::compute::concat_batches(&many[0].schema(), many).map_err(|e| error(e.to_string()))?,
        };
        let mut numbers = BTreeMap::new();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            if field.data_type().is_numeric() {
                let cast = arrow::compute::cast(column, &DataType::Float64).map_err(|e| error(e.to_string()))?;
                let floats = cast.as_primitive::<Float64Type>();
                let values = (0..floats.len()).map(|i| if floats.is_null(i) { f64::NAN } else { floats.value(i) });
                numbers.insert(field.name().clone(), values.collect());
            }
        }
        Ok(Columns { path: path.to_path_buf(), rows: batch.num_rows(), batch, numbers })
    }

    /// An error about `column` of this table.
    fn error(&self, column: &str, problem: &str) -> ReadError {
        ReadError { path: self.path.clone(), column: Some(column.to_owned()), problem: problem.to_owned() }
    }

    /// The column `name`, or an error saying it is missing.
    fn column(&self, name: &str) -> Result<&dyn Array, ReadError> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| self.error(name, "missing (written by an older simgap? rerun `simgap divergence`)"))
    }

    /// The text in column `name` at `row`; empty where null.
    pub(super) fn text(&self, name: &str, row: usize) -> Result<String, ReadError> {
        Ok(self.optional_text(name, row)?.unwrap_or_default())
    }

    /// The text in column `name` at `row`; `None` where null.
    pub(super) fn optional_text(&self, name: &str, row: usize) -> Result<Option<String>, ReadError> {
        let strings = self.column(name)?.as_string_opt::<i32>().ok_or_else(|| self.error(name, "not text"))?;
        Ok((!strings.is_null(row)).then(|| strings.value(row).to_owned()))
    }

    /// The number in column `name` at `row`, as f64; NaN where null.
    pub(super) fn float(&self, name: &str, row: usize) -> Result<f64, ReadError> {
        let values = self.numbers.get(name).ok_or_else(|| self.error(name, "missing or not numeric"))?;
        Ok(values[row])
    }

    /// The list in column `name` at `row`.
    fn list(&self, name: &str, row: usize) -> Result<arrow::array::ArrayRef, ReadError> {
        let list = self.column(name)?.as_list_opt::<i32>().ok_or_else(|| self.error(name, "not a list"))?;
        Ok(list.value(row))
    }

    /// The list of text in column `name` at `row`.
    pub(super) fn text_list(&self, name: &str, row: usize) -> Result<Vec<String>, ReadError> {
        let values = self.list(name, row)?;
        let strings = values.as_string_opt::<i32>().ok_or_else(|| self.error(name, "not a list of text"))?;
        Ok((0..strings.len()).map(|i| strings.value(i).to_owned()).collect())
    }

    /// The list of f64 in column `name` at `row`.
    pub(super) fn float_list(&self, name: &str, row: usize) -> Result<Vec<f64>, ReadError> {
        let values = self.list(name, row)?;
        let floats =
            values.as_primitive_opt::<Float64Type>().ok_or_else(|| self.error(name, "not a list of float64"))?;
        Ok((0..floats.len()).map(|i| floats.value(i)).collect())
    }
}
