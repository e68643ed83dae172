//! The per-file ingest cache of `simgap run`: `OUT/.cache/ingest/`, one part per input file.
//!
//! Consumes: an input file, its content hash and its `[[input]]` settings. Produces: a part named by [`part_key`]
//! (SHA-256 over the simgap version, the cache format, the `[[input]]` table, the record-level `[ingest]` limits,
//! the file's name and its content hash): `KEY.arrow` (the rows that passed the record's own rules, in file order,
//! with their locations; [`super::writer::part_schema`], Arrow IPC with LZ4 frames), `KEY.rejects.jsonl` (that
//! file's rejects, as lines of `rejects.jsonl`) and `KEY.json` ([`PartSummary`]: counts, warnings, and where each reject falls among the rows).
//! The summary is written last, so a part without one is unfinished and is not used.
//!
//! Invariants: a part depends only on what its key hashes, so an unchanged file is never read again; the rules
//! across records (one kind per source, unique ids) are not in parts but run when the parts are merged in input
//! order ([`super::validate::Ledger`]), so merging parts gives the table a direct run gives, byte for byte. A part
//! that fails a check (summary unreadable, row count or rejects size different) counts as missing and is rebuilt.
//! Cost: a part takes about a fifth of its input file's bytes (LZ4 frames; on the 1M-conversation benchmark corpus,
//! 260 MB of parts for 1.2 GB of JSONL, four times `conversations.parquet`), and is written and read back at little
//! CPU cost; the folder keeps the parts of the current inputs only ([`remove_unused`]).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::ipc::reader::FileReader;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::IngestError;
use super::input_files::InputFile;
use super::record::{Conversation, Location, Message, Role, SourceKind};
use super::writer::LOCATION_COLUMN;
use crate::hashing::sha256_bytes;
use crate::ingest::options::{IngestOptions, InputConfig};

/// The cache folder inside the output folder.
pub const CACHE_DIR: &str = ".cache/ingest";
/// The folder of OUT that holds the caches.
pub const CACHE_ROOT: &str = ".cache";

/// Bumped whenever what a part holds changes meaning or form; part of every key. 2: rows in Arrow IPC, not Parquet.
const CACHE_FORMAT: u32 = 2;

/// The key of one file's part: SHA-256 (hex) over everything the part's content depends on.
pub fn part_key(input: &InputConfig, options: &IngestOptions, file: &InputFile, content_sha256: &str) -> String {
    // `row_group_size` only shapes the final table, so it is left out: changing it re-reads nothing.
    let key = json!({
        "cache_format": CACHE_FORMAT,
        "simgap_version": env!("CARGO_PKG_VERSION"),
        "input": input,
        "max_message_bytes": options.max_message_bytes,
        "invalid_utf8": options.invalid_utf8,
        "empty_user_messages": options.empty_user_messages,
        "file": file.display,
        "relative_stem": file.relative_stem,
        "zip_entry": file.zip_entry,
        "sha256": content_sha256,
    });
    sha256_bytes(key.to_string().as_bytes())
}

/// The three files of one part.
#[derive(Debug, Clone)]
pub struct PartPaths {
    pub rows: PathBuf,
    pub rejects: PathBuf,
    pub summary: PathBuf,
}

impl PartPaths {
    pub fn new(cache_dir: &Path, key: &str) -> Self {
        Self {
            rows: cache_dir.join(format!("{key}.arrow")),
            rejects: cache_dir.join(format!("{key}.rejects.jsonl")),
            summary: cache_dir.join(format!("{key}.json")),
        }
    }
}

/// `KEY.json`: what reading one file gave, before the rules across records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartSummary {
    /// The file's name in outputs, and its content hash (also in the key; kept for people reading the cache).
    pub file: String,
    pub sha256: String,
    /// Records read = rows + rejected + filtered.
    pub read: u64,
    /// Rows in `KEY.arrow`: records that passed the record's own rules; and the file's size in bytes.
    pub rows: u64,
    pub rows_bytes: u64,
    /// Lines in `KEY.rejects.jsonl`, and their size in bytes.
    pub rejected: u64,
    pub rejects_bytes: u64,
    /// Records the input's filter left out.
    #[serde(default)]
    pub filtered: u64,
    pub warnings: u64,
    pub warning_examples: Vec<String>,
    /// For each reject, in order, how many rows came before it in the file.
    pub reject_positions: Vec<u64>,
}

impl PartSummary {
    /// The part's summary if the part is complete and its files agree with it; `None` otherwise (rebuild it).
    pub fn load(paths: &PartPaths) -> Option<Self> {
        let bytes = std::fs::read(&paths.summary).ok()?;
        let summary: PartSummary = serde_json::from_slice(&bytes).ok()?;
        let rejects_bytes = std::fs::metadata(&paths.rejects).ok()?.len();
        let consistent = summary.reject_positions.len() as u64 == summary.rejected
            && summary.read == summary.rows + summary.rejected + summary.filtered
            && rejects_bytes == summary.rejects_bytes
            && summary.reject_positions.windows(2).all(|w| w[0] <= w[1])
            && summary.reject_positions.last().is_none_or(|&last| last <= summary.rows);
        if !consistent {
            return None;
        }
        // The rows file: its size as written, the part's schema, and as many rows as the summary says.
        let rows_bytes = std::fs::metadata(&paths.rows).ok()?.len();
        (rows_bytes == summary.rows_bytes && part_rows(&paths.rows) == Some(summary.rows)).then_some(summary)
    }

    /// Writes `KEY.json`, through a temporary file: the last file of a part. Like the part's other files it is not
    /// flushed to disk one by one (a part a power cut damaged fails [`load`](Self::load) and is rebuilt).
    pub fn write(&self, path: &Path) -> Result<(), IngestError> {
        let io_error = |source| IngestError::Io { path: path.to_owned(), source };
        let bytes = serde_json::to_vec(self).map_err(|e| io_error(e.into()))?;
        let target = crate::atomic::AtomicPath::new(path);
        std::fs::write(target.temp(), &bytes).map_err(io_error)?;
        target.commit_unsynced().map_err(io_error)
    }
}

/// The rows of a part's Arrow IPC file, from its footer and its batches' headers alone (their bodies are not read);
/// `None` if the file is no IPC file or its schema is not [`super::writer::part_schema`].
fn part_rows(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    let mut trailer = [0u8; 10];
    let size = file.seek(SeekFrom::End(-10)).ok()?;
    file.read_exact(&mut trailer).ok()?;
    let footer_length = arrow::ipc::reader::read_footer_length(trailer).ok()? as u64;
    let mut footer = vec![0u8; usize::try_from(footer_length).ok()?];
    file.seek(SeekFrom::Start(size.checked_sub(footer_length)?)).ok()?;
    file.read_exact(&mut footer).ok()?;
    let footer = arrow::ipc::root_as_footer(&footer).ok()?;
    if arrow::ipc::convert::try_fb_to_schema(footer.schema()?).ok()? != *super::writer::part_schema() {
        return None;
    }
    let mut rows = 0u64;
    for block in footer.recordBatches()?.iter() {
        let mut header = vec![0u8; usize::try_from(block.metaDataLength()).ok()?];
        file.seek(SeekFrom::Start(u64::try_from(block.offset()).ok()?)).ok()?;
        file.read_exact(&mut header).ok()?;
        // An encapsulated message: the continuation marker and the length (8 bytes), then the flatbuffer.
        let message = arrow::ipc::root_as_message(header.get(8..)?).ok()?;
        rows += u64::try_from(message.header_as_record_batch()?.length()).ok()?;
    }
    Some(rows)
}

/// Reads a part's rows back, batch by batch, in file order.
pub struct PartReader {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
}

impl PartReader {
    pub fn open(path: &Path) -> Result<Self, IngestError> {
        let file = File::open(path).map_err(|source| IngestError::Io { path: path.to_owned(), source })?;
        let reader = FileReader::try_new_buffered(file, None).map_err(|e| damaged(path, e.to_string()))?;
        Ok(Self { path: path.to_owned(), reader })
    }
}

impl Iterator for PartReader {
    type Item = Result<Vec<(Conversation, Location)>, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?;
        Some(batch.map_err(|e| e.to_string()).and_then(|batch| decode(&batch)).map_err(|m| damaged(&self.path, m)))
    }
}

fn damaged(path: &Path, message: String) -> IngestError {
    IngestError::Parquet {
        path: path.to_owned(),
        message: format!("damaged ingest cache part ({message}); `simgap run --force` rebuilds the cache"),
    }
}

/// One batch of a part as conversations with their locations.
fn decode(batch: &RecordBatch) -> Result<Vec<(Conversation, Location)>, String> {
    let column = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no column {name}"));
    let text = |name: &str| -> Result<arrow::array::StringArray, String> {
        column(name)?.as_string_opt::<i32>().cloned().ok_or_else(|| format!("column {name} is not text"))
    };
    let (ids, sources, kinds, tasks, surveys, files, metadata, locations) = (
        text("conversation_id")?,
        text("source")?,
        text("kind")?,
        text("task_id")?,
        text("survey")?,
        text("input_file")?,
        text("metadata")?,
        text(LOCATION_COLUMN)?,
    );
    let runs = column("run")?.as_primitive_opt::<Int64Type>().ok_or("column run is not int64")?.clone();
    let records = column("input_record")?.as_primitive_opt::<Int64Type>().ok_or("input_record is not int64")?.clone();
    let outcomes = column("outcome")?.as_primitive_opt::<Float64Type>().ok_or("outcome is not float64")?.clone();
    let messages = column("messages")?.as_list_opt::<i32>().ok_or("messages is not a list")?.clone();
    let message_fields = messages.values().as_struct_opt().ok_or("messages are not structs")?;
    let message_text = |name: &str| -> Result<arrow::array::StringArray, String> {
        message_fields
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .cloned()
            .ok_or_else(|| format!("no message field {name}"))
    };
    let (roles, contents, stamps) = (message_text("role")?, message_text("content")?, message_text("timestamp")?);
    let optional = |a: &arrow::array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let kind = SourceKind::parse(kinds.value(i)).ok_or_else(|| format!("kind {:?}", kinds.value(i)))?;
        let offsets = messages.value_offsets();
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let mut conversation_messages = Vec::with_capacity(end - start);
        for j in start..end {
            let role = Role::parse(roles.value(j)).ok_or_else(|| format!("role {:?}", roles.value(j)))?;
            conversation_messages.push(Message {
                role,
                content: optional(&contents, j),
                timestamp: optional(&stamps, j),
            });
        }
        let location: Location =
            serde_json::from_str(locations.value(i)).map_err(|e| format!("location {:?}: {e}", locations.value(i)))?;
        rows.push((
            Conversation {
                conversation_id: ids.value(i).to_owned(),
                source: sources.value(i).to_owned(),
                kind,
                task_id: optional(&tasks, i),
                run: (!runs.is_null(i)).then(|| runs.value(i)),
                outcome: (!outcomes.is_null(i)).then(|| outcomes.value(i)),
                survey: optional(&surveys, i),
                metadata: optional(&metadata, i),
                messages: conversation_messages,
                input_file: files.value(i).to_owned(),
                input_record: records.value(i),
            },
            location,
        ));
    }
    Ok(rows)
}

/// Deletes the parts (and unfinished temporary files) of `cache_dir` whose key is not in `keys`: the cache holds
/// the current inputs only. Files that are not parts are left alone.
pub fn remove_unused(cache_dir: &Path, keys: &HashSet<String>) -> Result<usize, IngestError> {
    let io_error = |source| IngestError::Io { path: cache_dir.to_owned(), source };
    let mut removed = 0;
    for entry in std::fs::read_dir(cache_dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let key = name.split('.').next().unwrap_or_default();
        let is_part = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) && path.is_file();
        if is_part && !keys.contains(key) {
            std::fs::remove_file(&path).map_err(|source| IngestError::Io { path: path.clone(), source })?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Format;

    fn input(source: &str) -> InputConfig {
        InputConfig {
            path: "a.jsonl".into(),
            format: Format::Openai,
            source: Some(source.into()),
            kind: Some(SourceKind::Simulator),
            csv: None,
            recllmsim: None,
            table: None,
        }
    }

    fn file(name: &str) -> InputFile {
        InputFile { disk_path: name.into(), zip_entry: None, display: name.into(), relative_stem: name.into() }
    }

    #[test]
    fn key_changes_with_content_settings_and_name_only() {
        let options = IngestOptions::default();
        let key = part_key(&input("s"), &options, &file("a.jsonl"), "00");
        assert_eq!(key.len(), 64);
        assert_eq!(key, part_key(&input("s"), &options, &file("a.jsonl"), "00"));
        assert_ne!(key, part_key(&input("s"), &options, &file("a.jsonl"), "01"), "content");
        assert_ne!(key, part_key(&input("t"), &options, &file("a.jsonl"), "00"), "[[input]] settings");
        assert_ne!(key, part_key(&input("s"), &options, &file("b.jsonl"), "00"), "file name (the input_file column)");
        let limits = IngestOptions { max_message_bytes: 10, ..IngestOptions::default() };
        assert_ne!(key, part_key(&input("s"), &limits, &file("a.jsonl"), "00"), "record rules");
        let row_groups = IngestOptions { row_group_size: 10, ..IngestOptions::default() };
        assert_eq!(key, part_key(&input("s"), &row_groups, &file("a.jsonl"), "00"), "row groups shape the table only");
    }

    #[test]
    fn unused_parts_go_and_other_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let (keep, drop) = ("a".repeat(64), "b".repeat(64));
        for name in [format!("{keep}.json"), format!("{drop}.json"), format!("{drop}.parquet"), "notes.txt".into()] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let removed = remove_unused(dir.path(), &HashSet::from([keep.clone()])).unwrap();
        assert_eq!(removed, 2);
        assert!(dir.path().join(format!("{keep}.json")).exists());
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn a_summary_that_disagrees_with_its_files_is_no_part() {
        let dir = tempfile::tempdir().unwrap();
        let paths = PartPaths::new(dir.path(), &"c".repeat(64));
        let mut writer = crate::ingest::writer::ConversationWriter::create_part(&paths.rows).unwrap();
        let conversation = Conversation {
            conversation_id: "x".into(),
            source: "s".into(),
            kind: SourceKind::Human,
            task_id: None,
            run: Some(2),
            outcome: Some(0.5),
            survey: Some("{}".into()),
            metadata: None,
            messages: vec![Message { role: Role::User, content: Some("hi".into()), timestamp: Some("t".into()) }],
            input_file: "f.jsonl".into(),
            input_record: 3,
        };
        writer.append_at(&conversation, Location::Line(3)).unwrap();
        writer.finish().unwrap();
        let rows_bytes = std::fs::metadata(&paths.rows).unwrap().len();
        std::fs::write(&paths.rejects, "{\"reason\":\"r\"}\n").unwrap();
        let summary = PartSummary {
            file: "f.jsonl".into(),
            sha256: "00".into(),
            read: 2,
            rows: 1,
            rows_bytes,
            rejected: 1,
            rejects_bytes: 15,
            filtered: 0,
            warnings: 0,
            warning_examples: Vec::new(),
            reject_positions: vec![0],
        };
        summary.write(&paths.summary).unwrap();
        assert_eq!(PartSummary::load(&paths), Some(summary.clone()));
        let rows: Vec<_> = PartReader::open(&paths.rows).unwrap().flat_map(Result::unwrap).collect();
        assert_eq!(rows, vec![(conversation, Location::Line(3))]);
        PartSummary { rows: 2, read: 3, ..summary.clone() }.write(&paths.summary).unwrap();
        assert_eq!(PartSummary::load(&paths), None, "row count differs");
        PartSummary { rejects_bytes: 3, ..summary.clone() }.write(&paths.summary).unwrap();
        assert_eq!(PartSummary::load(&paths), None, "rejects size differs");
        PartSummary { rows_bytes: rows_bytes + 1, ..summary.clone() }.write(&paths.summary).unwrap();
        assert_eq!(PartSummary::load(&paths), None, "rows file size differs");
        summary.write(&paths.summary).unwrap();
        let mut bytes = std::fs::read(&paths.rows).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&paths.rows, bytes).unwrap();
        assert_eq!(PartSummary::load(&paths), None, "rows file damaged (same size)");
    }
}
