//! Stage 1, ingest: transcripts in any supported format -> `conversations.parquet` + `rejects.jsonl`.
//!
//! Consumes: the pipeline's `[[input]]` list (paths, formats, source labels, kinds, format options) and `[ingest]`
//! limits. Produces: `OUT/conversations.parquet` (one row per accepted conversation, schema in
//! [`writer::schema`]), `OUT/rejects.jsonl` (one line per rejected record with file, line or record, reason and an
//! excerpt) and an [`IngestReport`] with per-file reconciliation.
//!
//! Invariants: for every input file, records read = accepted + rejected; nothing is dropped silently. Inputs are
//! read in pipeline order, files in sorted path order, records in file order, so the same inputs give the same
//! table byte for byte. Cost: one pass over the inputs; line formats stream (memory bounded by an 8 MiB block and
//! one Parquet row group), document formats hold one file at a time. Lines are parsed in parallel with rayon while
//! a second thread encodes Parquet. `--strict` turns the first reject into an error and leaves no output behind.

pub mod formats;
pub mod input_files;
pub mod record;
pub mod rejects;
pub mod validate;
pub mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

pub use record::{Conversation, Format, Location, Message, RawConversation, RawMessage, Role, SourceKind};

use crate::pipeline::config::{IngestOptions, InputConfig, Utf8Policy};
use formats::{RecordSink, reader_for};
use input_files::{InputFile, sha256_file};
use rejects::{Reject, RejectsWriter};
use validate::{InputDefaults, Validator};

/// File names inside the output folder.
pub const CONVERSATIONS_FILE: &str = "conversations.parquet";
pub const REJECTS_FILE: &str = "rejects.jsonl";

/// Warnings kept per file in the report (all are counted).
const WARNINGS_KEPT: usize = 20;

/// Errors that stop the ingest stage.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input path {pattern:?} matches no file (looked for {resolved})")]
    NoMatch { pattern: String, resolved: PathBuf },
    #[error("input path {pattern:?} is not a valid glob: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("--strict: {file} {location}: {reason}")]
    Strict { file: String, location: Location, reason: String },
}

impl IngestError {
    /// Whether the error is the user's configuration rather than the data or the machine (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, IngestError::NoMatch { .. } | IngestError::BadGlob { .. })
    }
}

/// What the ingest stage needs.
#[derive(Debug, Clone)]
pub struct IngestParams {
    pub inputs: Vec<InputConfig>,
    pub options: IngestOptions,
    /// The folder relative input paths resolve against.
    pub base_dir: PathBuf,
    pub out_dir: PathBuf,
    /// Fail on the first rejected record.
    pub strict: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// Reconciliation for one input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The `[[input]]` path that named this file.
    pub input: String,
    pub file: String,
    pub format: Format,
    pub source: Option<String>,
    pub kind: Option<SourceKind>,
    pub bytes: u64,
    pub sha256: String,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub warning_examples: Vec<String>,
}

/// Accepted conversations of one source.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceCount {
    pub kind: SourceKind,
    pub conversations: u64,
}

/// What the ingest stage did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    pub sources: BTreeMap<String, SourceCount>,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub seconds: f64,
    pub conversations_file: PathBuf,
    pub rejects_file: PathBuf,
}

impl IngestParams {
    /// Every rule the types do not express. Paths are checked when they are resolved.
    pub fn check(&self) -> Result<(), IngestError> {
        std::fs::create_dir_all(&self.out_dir).map_err(|source| IngestError::Io { path: self.out_dir.clone(), source })
    }

    /// Reads every input and writes the conversations table and the rejects file.
    pub fn run(&self) -> Result<IngestReport, IngestError> {
        self.check()?;
        let started = Instant::now();
        // Resolve every input first: a path that matches nothing fails before anything is written.
        let mut resolved: Vec<(&InputConfig, Vec<InputFile>)> = Vec::new();
        for input in &self.inputs {
            resolved.push((input, input_files::resolve(&input.path, input.format, &self.base_dir)?));
        }
        let total_bytes: u64 = resolved.iter().flat_map(|(_, files)| files).map(InputFile::disk_bytes).sum();
        let progress = crate::progress::bytes_bar(self.progress, total_bytes, "ingest");
        // Content hashes for the manifest, computed on their own thread while the files are parsed.
        let disk_paths: Vec<PathBuf> =
            resolved.iter().flat_map(|(_, files)| files).map(|f| f.disk_path.clone()).collect();
        let hashing = std::thread::spawn(move || hash_files(disk_paths));

        let conversations_path = self.out_dir.join(CONVERSATIONS_FILE);
        let rejects_path = self.out_dir.join(REJECTS_FILE);
        let mut collector = Collector {
            validator: Validator::new(self.options.clone()),
            writer: writer::ConversationWriter::create(&conversations_path, self.options.row_group_size)?,
            rejects: RejectsWriter::create(&rejects_path)?,
            strict: self.strict,
            utf8: self.options.invalid_utf8,
            sources: BTreeMap::new(),
            current: None,
            progress: progress.clone(),
        };
        let mut bytes_done = 0u64;
        let mut files = Vec::new();
        let mut report_paths = Vec::new(); // the disk path of each entry of `files`
        for (input, input_files) in &resolved {
            let reader = reader_for(input);
            let defaults = InputDefaults { source: input.source.clone(), kind: input.kind };
            for file in input_files {
                tracing::debug!(file = %file.display, format = input.format.name(), "reading");
                collector.current = Some(CurrentFile::new(file, defaults.clone()));
                reader.read(file, &mut collector)?;
                let current = collector.current.take().expect("set above");
                report_paths.push(file.disk_path.clone());
                if file.zip_entry.is_none() {
                    bytes_done += file.disk_bytes();
                }
                progress.set_position(bytes_done);
                files.push(FileReport {
                    input: input.path.clone(),
                    file: file.display.clone(),
                    format: input.format,
                    source: input.source.clone(),
                    kind: input.kind,
                    bytes: file.disk_bytes(),
                    sha256: String::new(), // filled in from the hashing thread below
                    read: current.accepted + current.rejected,
                    accepted: current.accepted,
                    rejected: current.rejected,
                    warnings: current.warnings,
                    warning_examples: current.warning_examples,
                });
            }
        }
        progress.finish_and_clear();
        let hashes = hashing.join().expect("the hashing thread does not panic")?;
        for (report, path) in files.iter_mut().zip(&report_paths) {
            report.sha256 = hashes[path].clone();
        }
        let Collector { writer, rejects, sources, .. } = collector;
        let accepted = writer.finish()?;
        rejects.finish()?;
        let report = IngestReport {
            read: files.iter().map(|f| f.read).sum(),
            accepted,
            rejected: files.iter().map(|f| f.rejected).sum(),
            warnings: files.iter().map(|f| f.warnings).sum(),
            files,
            sources,
            seconds: started.elapsed().as_secs_f64(),
            conversations_file: conversations_path,
            rejects_file: rejects_path,
        };
        debug_assert_eq!(report.read, report.accepted + report.rejected);
        Ok(report)
    }
}

/// SHA-256 of every distinct file on disk.
fn hash_files(paths: Vec<PathBuf>) -> Result<BTreeMap<PathBuf, String>, IngestError> {
    let mut hashes = BTreeMap::new();
    for path in paths {
        if !hashes.contains_key(&path) {
            let hash = sha256_file(&path).map_err(|source| IngestError::Io { path: path.clone(), source })?;
            hashes.insert(path, hash);
        }
    }
    Ok(hashes)
}

/// Counts for the file being read.
struct CurrentFile {
    display: String,
    defaults: InputDefaults,
    accepted: u64,
    rejected: u64,
    warnings: u64,
    warning_examples: Vec<String>,
}

impl CurrentFile {
    fn new(file: &InputFile, defaults: InputDefaults) -> Self {
        Self {
            display: file.display.clone(),
            defaults,
            accepted: 0,
            rejected: 0,
            warnings: 0,
            warning_examples: Vec::new(),
        }
    }
}

/// The sink every reader writes to: validates, writes accepted rows, writes rejects, counts.
struct Collector {
    validator: Validator,
    writer: writer::ConversationWriter,
    rejects: RejectsWriter,
    strict: bool,
    utf8: Utf8Policy,
    sources: BTreeMap<String, SourceCount>,
    current: Option<CurrentFile>,
    progress: indicatif::ProgressBar,
}

impl Collector {
    fn current(&mut self) -> &mut CurrentFile {
        self.current.as_mut().expect("a file is being read")
    }

    fn record_reject(
        &mut self,
        location: Location,
        reason: &str,
        conversation_id: Option<&str>,
        source: Option<&str>,
        raw: &[u8],
    ) -> Result<(), IngestError> {
        let file = self.current().display.clone();
        if self.strict {
            return Err(IngestError::Strict { file, location, reason: reason.to_owned() });
        }
        tracing::debug!(file = %file, %location, reason, "rejected");
        self.rejects.write(&Reject { file: &file, location, conversation_id, source, reason, raw })?;
        self.current().rejected += 1;
        Ok(())
    }
}

impl RecordSink for Collector {
    fn accept(&mut self, location: Location, record: RawConversation) -> Result<(), IngestError> {
        let current = self.current.as_ref().expect("a file is being read");
        let (defaults, display) = (current.defaults.clone(), current.display.clone());
        let id_for_reject = record.conversation_id.clone();
        let source_for_reject = defaults.source.clone().or_else(|| record.source.clone());
        match self.validator.validate(record, &defaults, &display, location.record_number()) {
            Ok(conversation) => {
                self.writer.append(&conversation)?;
                self.sources
                    .entry(conversation.source.clone())
                    .or_insert(SourceCount { kind: conversation.kind, conversations: 0 })
                    .conversations += 1;
                self.current().accepted += 1;
                Ok(())
            }
            Err(rejection) => {
                let id = rejection.conversation_id.or(id_for_reject);
                let source = rejection.source.or(source_for_reject);
                let excerpt = id.clone().unwrap_or_default();
                self.record_reject(location, &rejection.reason, id.as_deref(), source.as_deref(), excerpt.as_bytes())
            }
        }
    }

    fn reject(&mut self, location: Location, reason: String, raw: &[u8]) -> Result<(), IngestError> {
        self.record_reject(location, &reason, None, None, raw)
    }

    fn warn(&mut self, location: Location, message: String) {
        let current = self.current();
        tracing::warn!(file = %current.display, %location, "{message}");
        current.warnings += 1;
        if current.warning_examples.len() < WARNINGS_KEPT {
            current.warning_examples.push(format!("{location}: {message}"));
        }
    }

    fn utf8_policy(&self) -> Utf8Policy {
        self.utf8
    }

    fn advance(&mut self, bytes: u64) {
        self.progress.inc(bytes);
    }
}

/// A summary for the terminal: read = accepted + rejected per input (files listed when an input names a few),
/// then conversations per source.
pub fn summary(report: &IngestReport) -> String {
    use std::fmt::Write;
    const FILES_LISTED: usize = 8;
    let mut rows: Vec<(String, u64, u64, u64)> = Vec::new();
    let mut inputs: Vec<&str> = report.files.iter().map(|f| f.input.as_str()).collect();
    inputs.dedup();
    for input in inputs {
        let files: Vec<&FileReport> = report.files.iter().filter(|f| f.input == input).collect();
        if files.len() <= FILES_LISTED {
            rows.extend(files.iter().map(|f| (f.file.clone(), f.read, f.accepted, f.rejected)));
        } else {
            let sum = |get: fn(&FileReport) -> u64| files.iter().map(|f| get(f)).sum::<u64>();
            rows.push((
                format!("{input} ({} files)", files.len()),
                sum(|f| f.read),
                sum(|f| f.accepted),
                sum(|f| f.rejected),
            ));
        }
    }
    rows.push(("total".into(), report.read, report.accepted, report.rejected));
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(5);
    let mut out = String::new();
    let _ = writeln!(out, "{:<width$}  {:>9}  {:>9}  {:>9}", "input", "read", "accepted", "rejected");
    for (name, read, accepted, rejected) in rows {
        let _ = writeln!(out, "{name:<width$}  {read:>9}  {accepted:>9}  {rejected:>9}");
    }
    let _ = writeln!(out);
    for (source, count) in &report.sources {
        let _ = writeln!(out, "{source} ({}): {} conversations", count.kind.as_str(), count.conversations);
    }
    if report.warnings > 0 {
        let _ = writeln!(out, "{} warnings (see manifest.json)", report.warnings);
    }
    out
}
