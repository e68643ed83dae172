//! `rejects.jsonl`: one line per record that was not accepted, with where it was and why.
//!
//! Consumes: rejects as they happen. Produces: a JSON Lines file (`file`, `line` / `last_line` / `record` /
//! `byte_offset`, `conversation_id` and `source` when known, `reason`, `excerpt` of at most 200 characters), written
//! through a temporary name and renamed into place on success, so the rejects always match the table beside them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value};

use super::error::IngestError;
use super::formats::excerpt;
use super::record::Location;
use crate::atomic::AtomicPath;

/// One rejected record.
#[derive(Debug, Clone)]
pub struct Reject<'a> {
    pub file: &'a str,
    pub location: Location,
    pub conversation_id: Option<&'a str>,
    pub source: Option<&'a str>,
    pub reason: &'a str,
    pub raw: &'a [u8],
}

pub struct RejectsWriter {
    out: BufWriter<File>,
    target: AtomicPath,
    count: u64,
    /// Cache parts are renamed into place without a flush to disk (see [`AtomicPath::commit_unsynced`]).
    sync: bool,
}

impl RejectsWriter {
    pub fn create(path: &Path) -> Result<Self, IngestError> {
        Self::open(path, true)
    }

    /// The rejects of an ingest cache part.
    pub fn create_part(path: &Path) -> Result<Self, IngestError> {
        Self::open(path, false)
    }

    fn open(path: &Path, sync: bool) -> Result<Self, IngestError> {
        let target = AtomicPath::new(path);
        let file =
            File::create(target.temp()).map_err(|source| IngestError::Io { path: target.temp().to_owned(), source })?;
        Ok(Self { out: BufWriter::new(file), target, count: 0, sync })
    }

    pub fn write(&mut self, reject: &Reject<'_>) -> Result<(), IngestError> {
        let mut line = Map::new();
        line.insert("file".into(), Value::from(reject.file));
        reject.location.to_json_fields(&mut line);
        if let Some(id) = reject.conversation_id {
            line.insert("conversation_id".into(), Value::from(id));
        }
        if let Some(source) = reject.source {
            line.insert("source".into(), Value::from(source));
        }
        line.insert("reason".into(), Value::from(reject.reason));
        line.insert("excerpt".into(), Value::from(excerpt(reject.raw)));
        let io_error = |source| IngestError::Io { path: self.target.temp().to_owned(), source };
        serde_json::to_writer(&mut self.out, &line).map_err(|e| io_error(e.into()))?;
        self.out.write_all(b"\n").map_err(io_error)?;
        self.count += 1;
        Ok(())
    }

    /// Copies a line a rejects file of the same format already holds (a cache part's), as it is.
    pub fn copy_line(&mut self, line: &str) -> Result<(), IngestError> {
        let io_error = |source| IngestError::Io { path: self.target.temp().to_owned(), source };
        self.out.write_all(line.as_bytes()).map_err(io_error)?;
        self.out.write_all(b"\n").map_err(io_error)?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and renames into place. Returns the number of rejects written.
    pub fn finish(self) -> Result<u64, IngestError> {
        let Self { mut out, target, count, sync } = self;
        let path = target.final_path().to_owned();
        let io_error = |source| IngestError::Io { path: path.clone(), source };
        out.flush().map_err(io_error)?;
        drop(out);
        let committed = if sync { target.commit() } else { target.commit_unsynced() };
        committed.map_err(io_error)?;
        Ok(count)
    }
}
