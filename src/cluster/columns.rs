//! The feature table as the cluster stage reads it: each facet's columns (from the table's `simgap.facets` metadata,
//! plus `all`), its batches, a facet's values in a batch as a matrix, and the identity columns.
//!
//! Consumes: `features.parquet`. Produces: a [`FeatureTable`], and per batch matrices and identities.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Schema};
use ndarray::Array2;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::error::ClusterError;
use super::scaling::Normalisation;

/// The codebook over every feature column together.
pub const ALL_FACET: &str = "all";

/// Rows per batch read from the feature table.
const BATCH_ROWS: usize = 8192;

/// The columns that name a row: its source and conversation id.
const IDENTITY_COLUMNS: [&str; 2] = ["source", "conversation_id"];

/// The feature columns of each facet, from the table's metadata, in column order.
pub fn facet_columns(schema: &Schema) -> Result<BTreeMap<String, Vec<String>>, String> {
    let text = schema.metadata().get("simgap.facets").ok_or("no simgap.facets metadata: not a simgap feature table")?;
    let facets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("simgap.facets metadata: {e}"))?;
    let mut by_facet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for field in schema.fields() {
        if let Some(facet) = facets.get(field.name()).and_then(|f| f.as_str()) {
            by_facet.entry(facet.to_owned()).or_default().push(field.name().clone());
        }
    }
    Ok(by_facet)
}

/// How a facet's values are scaled before k-means: vectors by their length, the rest by their spread.
pub fn normalisation_of(facet: &str) -> Normalisation {
    match facet {
        "embedding" | "lexical" => Normalisation::L2,
        _ => Normalisation::Standardize,
    }
}

/// `features.parquet`, opened: its schema and each facet's columns (`all`: every feature column).
pub struct FeatureTable {
    pub path: PathBuf,
    pub schema: Schema,
    pub by_facet: BTreeMap<String, Vec<String>>,
}

impl FeatureTable {
    pub fn open(path: &Path) -> Result<Self, ClusterError> {
        let file = File::open(path).map_err(|source| ClusterError::Open { path: path.to_owned(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|source| ClusterError::Parquet { path: path.to_owned(), source })?;
        Self::from_schema(path, builder.schema().as_ref().clone())
    }

    /// A feature table held elsewhere (batches in memory, a shard of a distributed run) by its schema; `path` names
    /// it in errors, and [`Self::batches`] reads it only where it is a file.
    pub fn from_schema(path: &Path, schema: Schema) -> Result<Self, ClusterError> {
        let mut by_facet =
            facet_columns(&schema).map_err(|problem| ClusterError::Table { path: path.to_owned(), problem })?;
        let all_columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| by_facet.values().any(|cols| cols.contains(name)))
            .collect();
        by_facet.insert(ALL_FACET.to_owned(), all_columns);
        Ok(Self { path: path.to_owned(), schema, by_facet })
    }

    /// The facets in the table's column order, then `all`.
    pub fn facets_in_order(&self) -> Vec<String> {
        let mut list: Vec<String> = Vec::new();
        for field in self.schema.fields() {
            let facet = self.by_facet.iter().find(|(f, cols)| *f != ALL_FACET && cols.contains(field.name()));
            if let Some((facet, _)) = facet {
                if !list.contains(facet) {
                    list.push(facet.clone());
                }
            }
        }
        list.push(ALL_FACET.to_owned());
        list
    }

    /// The table's batches, read afresh (each pass of the stage reads the file once more).
    pub fn batches(&self) -> Result<impl Iterator<Item = Result<RecordBatch, ClusterError>> + '_, ClusterError> {
        self.read(None)
    }

    /// The table's batches with only the columns [`Self::identity`] reads: the sampling pass decodes two columns,
    /// not every feature.
    pub fn identity_batches(
        &self,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, ClusterError>> + '_, ClusterError> {
        self.read(Some(&IDENTITY_COLUMNS))
    }

    /// The table's batches, of every column or of the columns `only` names.
    fn read(
        &self,
        only: Option<&[&str]>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, ClusterError>> + '_, ClusterError> {
        let file = File::open(&self.path).map_err(|source| ClusterError::Open { path: self.path.clone(), source })?;
        let reader: ParquetRecordBatchReader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|builder| {
                let builder = match only {
                    Some(names) => {
                        let schema = builder.parquet_schema();
                        let leaves = (0..schema.num_columns())
                            .filter(|&i| names.contains(&schema.column(i).path().string().as_str()));
                        let mask = ProjectionMask::leaves(schema, leaves);
                        builder.with_projection(mask)
                    }
                    None => builder,
                };
                builder.with_batch_size(BATCH_ROWS).build()
            })
            .map_err(|source| ClusterError::Parquet { path: self.path.clone(), source })?;
        Ok(reader.map(|batch| batch.map_err(|source| ClusterError::Arrow { path: self.path.clone(), source })))
    }

    /// The rows `keep` of `columns` in `batch`, as a matrix (NaN for nulls).
    pub fn matrix(&self, batch: &RecordBatch, columns: &[String], keep: &[usize]) -> Result<Array2<f64>, ClusterError> {
        let arrays: Vec<&arrow::array::Float64Array> = columns
            .iter()
            .map(|c| {
                batch.column_by_name(c).and_then(|a| a.as_primitive_opt::<Float64Type>()).ok_or_else(|| {
                    ClusterError::Table { path: self.path.clone(), problem: format!("column {c:?} is not float64") }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Array2::from_shape_fn((keep.len(), columns.len()), |(i, j)| {
            let (array, row) = (arrays[j], keep[i]);
            if array.is_null(row) { f64::NAN } else { array.value(row) }
        }))
    }

    /// The `source` and `conversation_id` columns of a batch.
    pub fn identity<'a>(&self, batch: &'a RecordBatch) -> Result<(&'a StringArray, &'a StringArray), ClusterError> {
        let text = |name: &str| {
            batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).ok_or_else(|| ClusterError::Table {
                path: self.path.clone(),
                problem: format!("no text column {name:?}"),
            })
        };
        Ok((text(IDENTITY_COLUMNS[0])?, text(IDENTITY_COLUMNS[1])?))
    }
}
