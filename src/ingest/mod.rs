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
//!
//! Two ways to run: [`IngestParams::run`] reads every file straight into the table (`simgap ingest`);
//! [`IngestParams::run_cached`] (`simgap run`) keeps one part per file in `OUT/.cache/ingest` (see [`cache`]), reads
//! only the files whose content or settings changed, and merges the parts into the same table, byte for byte.

pub mod cache;
mod collector;
pub mod error;
pub mod formats;
pub mod grouping;
pub mod input_files;
pub mod options;
pub mod record;
pub mod rejects;
pub mod report;
pub mod table_options;
pub mod timestamp;
pub mod validate;
pub mod writer;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

pub use error::IngestError;
pub use record::{Conversation, Format, Location, Message, RawConversation, RawMessage, Role, SourceKind};
pub use report::{FileReport, IngestReport, SourceCount, summary};
pub use timestamp::parse_timestamp;

use crate::hashing::sha256_file;
use cache::{PartPaths, PartSummary};
use collector::{Collector, CurrentFile, Merge, Tee};
use formats::reader_for;
use input_files::InputFile;
use options::{IngestOptions, InputConfig};
use rejects::RejectsWriter;
use validate::{InputDefaults, Ledger};

/// File names inside the output folder.
pub const CONVERSATIONS_FILE: &str = "conversations.parquet";
pub const REJECTS_FILE: &str = "rejects.jsonl";

/// What the ingest stage needs.
#[derive(Debug, Clone)]
pub struct IngestParams {
    pub inputs: Vec<InputConfig>,
    pub options: IngestOptions,
    /// The folder relative input paths resolve against.
    pub base_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The output folder the run owns: never read as input (even inside an input folder), and the home of the ingest
    /// cache (`.cache/ingest`). `out_dir` itself, except under `simgap run`, whose `out_dir` is the generation it
    /// writes inside this folder.
    pub output_root: PathBuf,
    /// Fail on the first rejected record.
    pub strict: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// One file the inputs name, with its content hash.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    /// Index of the `[[input]]` that named it.
    pub input: usize,
    pub file: InputFile,
    pub sha256: String,
}

/// Every file the inputs name, in reading order (pipeline order, then sorted path), with content hashes: what the
/// stage's fingerprint and the cache keys are computed from.
#[derive(Debug, Clone)]
pub struct InputSnapshot {
    pub files: Vec<SnapshotFile>,
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
            resolved.push((input, input_files::resolve(&input.path, input.format, &self.base_dir, &self.output_root)?));
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
            options: self.options.clone(),
            ledger: Some(Ledger::default()),
            writer: writer::ConversationWriter::create(&conversations_path, self.options.row_group_size)?,
            rejects: RejectsWriter::create(&rejects_path)?,
            reject_positions: None,
            strict: self.strict,
            utf8: self.options.invalid_utf8,
            sources: BTreeMap::new(),
            current: None,
            progress: progress.clone(),
            tee: None,
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
                    read: current.accepted + current.rejected + current.filtered,
                    accepted: current.accepted,
                    rejected: current.rejected,
                    filtered: current.filtered,
                    filter: input.table.as_ref().and_then(|t| t.filter.clone()),
                    warnings: current.warnings,
                    warning_examples: current.warning_examples,
                    cached: false,
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
        Ok(IngestReport::total(files, sources, accepted, started, conversations_path, rejects_path))
    }

    /// Resolves every input to its files and hashes them (in parallel): the ingest stage's fingerprint and the keys
    /// of its cache parts. A path that matches nothing fails here, before anything is written.
    pub fn snapshot(&self) -> Result<InputSnapshot, IngestError> {
        self.snapshot_of(|_| true)
    }

    /// Every input's files, in order, without hashing them: the list whose positions [`Self::build_parts`] and
    /// [`Self::snapshot_of`] take.
    pub fn input_files(&self) -> Result<Vec<(usize, input_files::InputFile)>, IngestError> {
        let mut files = Vec::new();
        for (index, input) in self.inputs.iter().enumerate() {
            for file in input_files::resolve(&input.path, input.format, &self.base_dir, &self.output_root)? {
                files.push((index, file));
            }
        }
        Ok(files)
    }

    /// [`Self::snapshot`] of the files at the positions `keep` accepts alone (a shard's files): only those are
    /// hashed.
    pub fn snapshot_of(&self, keep: impl Fn(usize) -> bool) -> Result<InputSnapshot, IngestError> {
        let files: Vec<(usize, input_files::InputFile)> =
            self.input_files()?.into_iter().enumerate().filter(|(at, _)| keep(*at)).map(|(_, f)| f).collect();
        let mut disk_paths: Vec<PathBuf> = files.iter().map(|(_, f)| f.disk_path.clone()).collect();
        disk_paths.sort();
        disk_paths.dedup();
        let hashes: BTreeMap<PathBuf, String> = disk_paths
            .into_par_iter()
            .map(|path| match sha256_file(&path) {
                Ok(hash) => Ok((path, hash)),
                Err(source) => Err(IngestError::Io { path, source }),
            })
            .collect::<Result<_, _>>()?;
        let files = files
            .into_iter()
            .map(|(input, file)| SnapshotFile { input, sha256: hashes[&file.disk_path].clone(), file })
            .collect();
        Ok(InputSnapshot { files })
    }

    /// Like [`run`](Self::run), through the per-file cache in `OUT/.cache/ingest`: a file whose part exists (same
    /// content, same settings, same simgap) is not read again; the others are read into new parts; then every part
    /// is merged, in input order, into the conversations table and the rejects file, applying the rules across
    /// records on the way. `force` reads every file again. The result, tables and report, equals a direct run's.
    /// Not for `--strict` (use [`run`](Self::run)). Parts of files no longer named are deleted at the end.
    pub fn run_cached(&self, snapshot: &InputSnapshot, force: bool) -> Result<IngestReport, IngestError> {
        self.check()?;
        let started = Instant::now();
        let cache_dir = self.output_root.join(cache::CACHE_DIR);
        std::fs::create_dir_all(&cache_dir).map_err(|source| IngestError::Io { path: cache_dir.clone(), source })?;
        let keys: Vec<String> = snapshot
            .files
            .iter()
            .map(|f| cache::part_key(&self.inputs[f.input], &self.options, &f.file, &f.sha256))
            .collect();
        let to_read: u64 = snapshot
            .files
            .iter()
            .zip(&keys)
            .filter(|(_, key)| force || !PartPaths::new(&cache_dir, key).summary.is_file())
            .map(|(f, _)| f.file.disk_bytes())
            .sum();
        let progress = crate::progress::bytes_bar(self.progress, to_read, "ingest");

        let conversations_path = self.out_dir.join(CONVERSATIONS_FILE);
        let rejects_path = self.out_dir.join(REJECTS_FILE);
        let mut merge = Merge {
            ledger: Ledger::default(),
            writer: writer::ConversationWriter::create(&conversations_path, self.options.row_group_size)?,
            rejects: RejectsWriter::create(&rejects_path)?,
            sources: BTreeMap::new(),
        };
        let mut built_now: HashSet<&str> = HashSet::new();
        let mut bytes_done = 0u64;
        let mut files = Vec::with_capacity(snapshot.files.len());
        for (entry, key) in snapshot.files.iter().zip(&keys) {
            let input = &self.inputs[entry.input];
            let paths = PartPaths::new(&cache_dir, key);
            let reuse = !force || built_now.contains(key.as_str());
            // A part built now feeds the merge as it is built; one found in the cache is merged from its files.
            let mut merged = None;
            let (summary, cached) = match reuse.then(|| PartSummary::load(&paths)).flatten() {
                Some(summary) => (summary, true),
                None => {
                    tracing::debug!(file = %entry.file.display, format = input.format.name(), "reading");
                    let (summary, counts) = self.build_part(input, entry, &paths, &progress, Some(&mut merge))?;
                    merged = counts;
                    built_now.insert(key);
                    if entry.file.zip_entry.is_none() {
                        bytes_done += entry.file.disk_bytes();
                    }
                    progress.set_position(bytes_done);
                    (summary, false)
                }
            };
            let (accepted, rejected) = match merged {
                Some(counts) => counts,
                None => merge.part(&paths, &summary, &entry.file.display)?,
            };
            files.push(FileReport {
                input: input.path.clone(),
                file: entry.file.display.clone(),
                format: input.format,
                source: input.source.clone(),
                kind: input.kind,
                bytes: entry.file.disk_bytes(),
                sha256: entry.sha256.clone(),
                read: summary.read,
                accepted,
                rejected,
                filtered: summary.filtered,
                filter: input.table.as_ref().and_then(|t| t.filter.clone()),
                warnings: summary.warnings,
                warning_examples: summary.warning_examples,
                cached,
            });
        }
        progress.finish_and_clear();
        let Merge { writer, rejects, sources, .. } = merge;
        let accepted = writer.finish()?;
        rejects.finish()?;
        let current: HashSet<String> = keys.into_iter().collect();
        let removed = cache::remove_unused(&cache_dir, &current)?;
        let read_files = files.iter().filter(|f| !f.cached).count();
        tracing::debug!(read_files, cached_files = files.len() - read_files, removed_parts = removed, "ingest cache");
        Ok(IngestReport::total(files, sources, accepted, started, conversations_path, rejects_path))
    }

    /// A shard's part of the stage: the cache parts (in `OUT/.cache/ingest`) of the snapshot's files (a shard's,
    /// from [`Self::snapshot_of`]), each built unless it exists already; [`Self::run_cached`] then merges every
    /// part without reading a file again, so shards that build disjoint ranges of files give, together, what one
    /// run gives. Returns the number of parts built and found.
    pub fn build_parts(&self, snapshot: &InputSnapshot) -> Result<(usize, usize), IngestError> {
        self.check()?;
        let cache_dir = self.output_root.join(cache::CACHE_DIR);
        std::fs::create_dir_all(&cache_dir).map_err(|source| IngestError::Io { path: cache_dir.clone(), source })?;
        let bytes = snapshot.files.iter().map(|f| f.file.disk_bytes()).sum();
        let progress = crate::progress::bytes_bar(self.progress, bytes, "ingest");
        let (mut built, mut found) = (0, 0);
        for entry in &snapshot.files {
            let input = &self.inputs[entry.input];
            let key = cache::part_key(input, &self.options, &entry.file, &entry.sha256);
            let paths = PartPaths::new(&cache_dir, &key);
            if PartSummary::load(&paths).is_some() {
                found += 1;
                continue;
            }
            self.build_part(input, entry, &paths, &progress, None)?;
            progress.inc(entry.file.disk_bytes());
            built += 1;
        }
        progress.finish_and_clear();
        Ok((built, found))
    }

    /// Reads one file into its cache part: the rows that pass the record's own rules, the rejects, the summary last.
    /// With `merge`, every record also goes to that merge as it is read (see [`Tee`]); then the file's (accepted,
    /// rejected) in the output table come back beside the summary.
    fn build_part(
        &self,
        input: &InputConfig,
        entry: &SnapshotFile,
        paths: &PartPaths,
        progress: &indicatif::ProgressBar,
        merge: Option<&mut Merge>,
    ) -> Result<(PartSummary, Option<(u64, u64)>), IngestError> {
        let defaults = InputDefaults { source: input.source.clone(), kind: input.kind };
        let mut collector = Collector {
            options: self.options.clone(),
            ledger: None,
            writer: writer::ConversationWriter::create_part(&paths.rows)?,
            rejects: RejectsWriter::create_part(&paths.rejects)?,
            reject_positions: Some(Vec::new()),
            strict: false,
            utf8: self.options.invalid_utf8,
            sources: BTreeMap::new(),
            current: Some(CurrentFile::new(&entry.file, defaults)),
            progress: progress.clone(),
            tee: merge.map(|merge| Tee { merge, accepted: 0, rejected: 0 }),
        };
        reader_for(input).read(&entry.file, &mut collector)?;
        let Collector { writer, rejects, current, reject_positions, tee, .. } = collector;
        let current = current.expect("set above");
        let rows = writer.finish()?;
        rejects.finish()?;
        let rejects_bytes = std::fs::metadata(&paths.rejects)
            .map_err(|source| IngestError::Io { path: paths.rejects.clone(), source })?
            .len();
        let rows_bytes = std::fs::metadata(&paths.rows)
            .map_err(|source| IngestError::Io { path: paths.rows.clone(), source })?
            .len();
        let summary = PartSummary {
            file: entry.file.display.clone(),
            sha256: entry.sha256.clone(),
            read: current.accepted + current.rejected + current.filtered,
            rows,
            rows_bytes,
            rejected: current.rejected,
            filtered: current.filtered,
            rejects_bytes,
            warnings: current.warnings,
            warning_examples: current.warning_examples,
            reject_positions: reject_positions.unwrap_or_default(),
        };
        summary.write(&paths.summary)?;
        let merged = tee.map(|tee| (tee.accepted, tee.rejected));
        if merged.is_some_and(|(accepted, rejected)| accepted + rejected + summary.filtered != summary.read) {
            return Err(IngestError::Parquet {
                path: paths.rows.clone(),
                message: "the rows merged while the part was built differ from the part's summary".into(),
            });
        }
        Ok((summary, merged))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::PipelineConfig;
    use std::path::Path;

    const PIPELINE: &str = r#"
        [output]
        dir = "out"
        [[input]]
        path = "h/*.jsonl"
        format = "jsonl"
        [[input]]
        path = "sim.jsonl"
        format = "openai"
        source = "sim"
        kind = "simulator"
    "#;

    fn line(id: &str, source: &str, kind: &str) -> String {
        format!(
            r#"{{"conversation_id": "{id}", "source": "{source}", "kind": "{kind}", "messages": [{{"role": "user", "content": "hi {id}"}}]}}"#
        )
    }

    /// Files with every rule across records at work: ids repeated within and across files, a source whose kind
    /// changes between files and within one, bad lines between good ones, invalid UTF-8.
    fn write_inputs(dir: &Path) {
        std::fs::create_dir_all(dir.join("h")).unwrap();
        let first =
            [line("a", "human", "human"), line("b", "human", "human"), "{broken".into(), line("x1", "x", "human")];
        std::fs::write(dir.join("h/1.jsonl"), first.join("\n")).unwrap();
        let second = [
            line("b", "human", "human"),
            line("x2", "x", "simulator"),
            line("c", "human", "human"),
            line("x3", "x", "human"),
            line("c", "human", "human"),
            "{\"conversation_id\": \"d\"}".into(),
        ];
        std::fs::write(dir.join("h/2.jsonl"), second.join("\n")).unwrap();
        let mut sim = b"{\"id\": \"s1\", \"messages\": [{\"role\": \"user\", \"content\": \"caf\xe9\"}]}\n".to_vec();
        sim.extend_from_slice(b"{\"id\": \"s1\", \"messages\": [{\"role\": \"user\", \"content\": \"again\"}]}\n");
        sim.extend_from_slice(b"{\"id\": \"s2\", \"messages\": [{\"role\": \"narrator\", \"content\": \"x\"}]}\n");
        std::fs::write(dir.join("sim.jsonl"), sim).unwrap();
    }

    fn params(dir: &Path, out: &str) -> IngestParams {
        let config = PipelineConfig::parse(PIPELINE, &dir.join("p.toml"), dir).unwrap();
        config.ingest_params(dir.join(out), false, false)
    }

    fn outputs(params: &IngestParams) -> (Vec<u8>, Vec<u8>) {
        let read = |name: &str| std::fs::read(params.out_dir.join(name)).unwrap();
        (read(CONVERSATIONS_FILE), read(REJECTS_FILE))
    }

    /// The report without what legitimately differs between runs (time, output paths, cache use).
    fn counts(report: &IngestReport) -> serde_json::Value {
        let mut value = serde_json::to_value(report).unwrap();
        for key in ["seconds", "conversations_file", "rejects_file"] {
            value.as_object_mut().unwrap().remove(key);
        }
        for file in value["files"].as_array_mut().unwrap() {
            file.as_object_mut().unwrap().remove("cached");
        }
        value
    }

    #[test]
    fn cached_run_gives_the_direct_run_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        write_inputs(dir.path());
        let direct = params(dir.path(), "direct");
        let direct_report = direct.run().unwrap();
        assert_eq!(direct_report.accepted, 6, "{:#?}", direct_report);
        assert_eq!(direct_report.rejected, 7);
        let cached = params(dir.path(), "cached");
        let snapshot = cached.snapshot().unwrap();
        let first = cached.run_cached(&snapshot, false).unwrap();
        assert!(first.files.iter().all(|f| !f.cached));
        assert_eq!(outputs(&cached), outputs(&direct));
        assert_eq!(counts(&first), counts(&direct_report));

        // Again: nothing read, same bytes.
        let again = cached.run_cached(&cached.snapshot().unwrap(), false).unwrap();
        assert!(again.files.iter().all(|f| f.cached));
        assert_eq!(outputs(&cached), outputs(&direct));
        assert_eq!(counts(&again), counts(&direct_report));

        // One file changed and one added: only those are read, and the table is the direct run's.
        std::fs::write(
            dir.path().join("h/1.jsonl"),
            [line("c", "human", "human"), line("x9", "x", "simulator")].join("\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("h/0.jsonl"), line("b", "human", "human")).unwrap();
        let changed = cached.run_cached(&cached.snapshot().unwrap(), false).unwrap();
        let read: Vec<&str> = changed.files.iter().filter(|f| !f.cached).map(|f| f.file.as_str()).collect();
        assert_eq!(read, ["h/0.jsonl", "h/1.jsonl"]);
        let direct_report = direct.run().unwrap();
        assert_eq!(outputs(&cached), outputs(&direct));
        assert_eq!(counts(&changed), counts(&direct_report));
        let parts = std::fs::read_dir(cached.out_dir.join(cache::CACHE_DIR)).unwrap().count();
        assert_eq!(parts, 4 * 3, "one part (rows, rejects, summary) per current file; the old h/1.jsonl's is gone");

        // --force reads everything and changes nothing.
        let forced = cached.run_cached(&cached.snapshot().unwrap(), true).unwrap();
        assert!(forced.files.iter().all(|f| !f.cached));
        assert_eq!(outputs(&cached), outputs(&direct));
    }

    #[test]
    fn a_damaged_part_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        write_inputs(dir.path());
        let cached = params(dir.path(), "out");
        cached.run_cached(&cached.snapshot().unwrap(), false).unwrap();
        let before = outputs(&cached);
        let cache_dir = cached.out_dir.join(cache::CACHE_DIR);
        for entry in std::fs::read_dir(&cache_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "arrow") {
                std::fs::write(&path, b"not arrow").unwrap();
            }
        }
        let report = cached.run_cached(&cached.snapshot().unwrap(), false).unwrap();
        assert!(report.files.iter().all(|f| !f.cached));
        assert_eq!(outputs(&cached), before);
    }
}
