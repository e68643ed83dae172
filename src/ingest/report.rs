//! What the ingest stage did: per file, records read = accepted + rejected + filtered, with warnings and whether the
//! file came from the cache; per source, the accepted conversations; and the terminal's summary table of it.
//!
//! Consumes: the counts the [`super::collector`] keeps. Produces: [`IngestReport`] (serialised into the manifest)
//! and [`summary`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::record::{Format, SourceKind};

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
    /// Records the input's `filter` left out (tables); read = accepted + rejected + filtered.
    pub filtered: u64,
    /// The filter, where the input has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub warnings: u64,
    pub warning_examples: Vec<String>,
    /// Whether the file's rows came from its part in `OUT/.cache/ingest` (unchanged content and settings) rather
    /// than from reading it.
    pub cached: bool,
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
    pub filtered: u64,
    pub warnings: u64,
    pub seconds: f64,
    pub conversations_file: PathBuf,
    pub rejects_file: PathBuf,
}

impl IngestReport {
    /// The report of a finished ingest: per-file counts summed (read = accepted + rejected + filtered).
    pub(super) fn total(
        files: Vec<FileReport>,
        sources: BTreeMap<String, SourceCount>,
        accepted: u64,
        started: Instant,
        conversations_file: PathBuf,
        rejects_file: PathBuf,
    ) -> Self {
        let report = IngestReport {
            read: files.iter().map(|f| f.read).sum(),
            accepted,
            rejected: files.iter().map(|f| f.rejected).sum(),
            filtered: files.iter().map(|f| f.filtered).sum(),
            warnings: files.iter().map(|f| f.warnings).sum(),
            files,
            sources,
            seconds: started.elapsed().as_secs_f64(),
            conversations_file,
            rejects_file,
        };
        debug_assert_eq!(report.read, report.accepted + report.rejected + report.filtered);
        report
    }
}

/// A summary for the terminal: read = accepted + rejected per input (files listed when an input names a few), with
/// a `filtered` column where an input has a filter, then conversations per source.
pub fn summary(report: &IngestReport) -> String {
    use std::fmt::Write;
    const FILES_LISTED: usize = 8;
    let counts = |f: &FileReport| [f.read, f.accepted, f.rejected, f.filtered];
    let mut rows: Vec<(String, [u64; 4])> = Vec::new();
    let mut inputs: Vec<&str> = report.files.iter().map(|f| f.input.as_str()).collect();
    inputs.dedup();
    for input in inputs {
        let files: Vec<&FileReport> = report.files.iter().filter(|f| f.input == input).collect();
        if files.len() <= FILES_LISTED {
            rows.extend(files.iter().map(|f| (f.file.clone(), counts(f))));
        } else {
            let mut sum = [0u64; 4];
            for file in &files {
                for (total, count) in sum.iter_mut().zip(counts(file)) {
                    *total += count;
                }
            }
            rows.push((format!("{input} ({} files)", files.len()), sum));
        }
    }
    rows.push(("total".into(), [report.read, report.accepted, report.rejected, report.filtered]));
    let with_filtered = report.files.iter().any(|f| f.filter.is_some());
    let columns = if with_filtered { 4 } else { 3 };
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(5);
    let mut out = String::new();
    let _ = write!(out, "{:<width$}", "input");
    for heading in &["read", "accepted", "rejected", "filtered"][..columns] {
        let _ = write!(out, "  {heading:>9}");
    }
    let _ = writeln!(out);
    for (name, counts) in rows {
        let _ = write!(out, "{name:<width$}");
        for count in &counts[..columns] {
            let _ = write!(out, "  {count:>9}");
        }
        let _ = writeln!(out);
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
