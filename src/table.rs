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
