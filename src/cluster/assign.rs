//! Every row of the feature table labelled with its nearest centroid in each codebook, batch by batch, and the
//! table those labels make.
//!
//! Consumes: batches of `features.parquet` and the fitted codebooks. Produces: per batch, one nullable label per
//! row and codebook ([`assign_batch`]: null where the row has no value in the facet, as in the fit), written by an
//! [`AssignmentWriter`] as `assignments.parquet` (`conversation_id`, `source`, `kind`, `cluster_<facet>` uint32).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;

use super::codebook::Codebook;
use super::columns::FeatureTable;
use super::error::ClusterError;
use crate::atomic::AtomicPath;

/// The cluster of every row of `batch` in each codebook, in codebook order; `None` where the row has no value in the
/// codebook's columns.
pub fn assign_batch(
    table: &FeatureTable,
    batch: &RecordBatch,
    codebooks: &[Codebook],
) -> Result<Vec<Vec<Option<u32>>>, ClusterError> {
    let all: Vec<usize> = (0..batch.num_rows()).collect();
    let mut clusters = Vec::with_capacity(codebooks.len());
    for codebook in codebooks {
        let rows = table.matrix(batch, &codebook.columns, &all)?;
        let (labels, _) = codebook
            .assign(rows.view())
            .map_err(|source| ClusterError::KMeans { facet: codebook.facet.clone(), source })?;
        let labels: Vec<Option<u32>> = labels
            .into_iter()
            .zip(rows.axis_iter(ndarray::Axis(0)))
            .map(|(label, row)| row.iter().any(|v| !v.is_nan()).then_some(label))
            .collect();
        clusters.push(labels);
    }
    Ok(clusters)
}

/// `assignments.parquet`: identity columns and one uint32 cluster column per codebook.
pub struct AssignmentWriter {
    writer: crate::table::ChunkedWriter,
    schema: SchemaRef,
    target: AtomicPath,
}

impl AssignmentWriter {
    pub fn create(path: &Path, facets: &[String]) -> Result<Self, ClusterError> {
        let target = AtomicPath::new(path);
        let mut fields = vec![
            Field::new("conversation_id", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
        ];
        fields.extend(facets.iter().map(|f| Field::new(format!("cluster_{f}"), DataType::UInt32, true)));
        let schema = Arc::new(Schema::new(fields));
        let properties = crate::table::writer_properties(Some(65_536));
        let file =
            File::create(target.temp()).map_err(|source| ClusterError::Write { path: path.to_owned(), source })?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|source| ClusterError::WriteParquet { path: path.to_owned(), source })?;
        Ok(Self { writer: crate::table::ChunkedWriter::new(writer), schema, target })
    }

    /// Writes the identity of `batch`'s rows (a batch of the feature table) with their clusters.
    pub fn write(&mut self, batch: &RecordBatch, clusters: Vec<Vec<Option<u32>>>) -> Result<(), ClusterError> {
        let out = self.rows(batch, clusters)?;
        let path = self.target.final_path();
        self.writer.write(&out).map_err(|source| ClusterError::WriteParquet { path: path.to_owned(), source })
    }

    /// The rows [`Self::write`] writes, without writing them.
    pub fn rows(&self, batch: &RecordBatch, clusters: Vec<Vec<Option<u32>>>) -> Result<RecordBatch, ClusterError> {
        let path = self.target.final_path();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for name in ["conversation_id", "source", "kind"] {
            let column = batch.column_by_name(name).ok_or_else(|| ClusterError::Table {
                path: path.to_owned(),
                problem: format!("the feature table has no column {name}"),
            })?;
            columns.push(column.clone());
        }
        columns.extend(clusters.into_iter().map(|c| Arc::new(UInt32Array::from(c)) as ArrayRef));
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|source| ClusterError::Arrow { path: path.to_owned(), source })
    }

    /// Writes rows already in the table's layout (a batch of another `assignments.parquet` of the same facets, such
    /// as a shard's part): how parts are joined into the stage's table.
    pub fn write_rows(&mut self, rows: &RecordBatch) -> Result<(), ClusterError> {
        let path = self.target.final_path();
        let rows = RecordBatch::try_new(self.schema.clone(), rows.columns().to_vec())
            .map_err(|source| ClusterError::Arrow { path: path.to_owned(), source })?;
        self.writer.write(&rows).map_err(|source| ClusterError::WriteParquet { path: path.to_owned(), source })
    }

    /// Closes the file and renames it into place.
    pub fn finish(self) -> Result<(), ClusterError> {
        let Self { writer, target, .. } = self;
        let path = target.final_path().to_owned();
        writer.close().map_err(|source| ClusterError::WriteParquet { path: path.clone(), source })?;
        target.commit().map_err(|source| ClusterError::Write { path, source })
    }
}
