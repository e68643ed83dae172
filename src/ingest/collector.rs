//! Where readers hand their records: [`Collector`] validates each record, writes the accepted rows and the rejects,
//! and counts per file and per source; [`Merge`] appends the cache parts of `simgap run` to the output table,
//! applying the rules across records on the way, so that the table equals a direct run's byte for byte. A part being
//! built feeds its merge record by record through a [`Tee`], instead of being read back.
//!
//! Consumes: records from a [`RecordSink`] caller, or cache parts. Produces: rows in a
//! [`ConversationWriter`], lines in a [`RejectsWriter`], and the counts of [`CurrentFile`] and [`SourceCount`].

use std::collections::BTreeMap;
use std::io::BufRead;

use super::cache::{PartPaths, PartReader, PartSummary};
use super::error::IngestError;
use super::formats::sink::RecordSink;
use super::input_files::InputFile;
use super::options::{IngestOptions, Utf8Policy};
use super::record::{Conversation, Location, RawConversation};
use super::rejects::{Reject, RejectsWriter};
use super::report::SourceCount;
use super::validate::{InputDefaults, Ledger, check_record};
use super::writer::ConversationWriter;

/// Warnings kept per file in the report (all are counted).
const WARNINGS_KEPT: usize = 20;

/// The merge of cache parts into the output table: the rules across records, the writers, the counts per source.
pub(super) struct Merge {
    pub(super) ledger: Ledger,
    pub(super) writer: ConversationWriter,
    pub(super) rejects: RejectsWriter,
    pub(super) sources: BTreeMap<String, SourceCount>,
}

impl Merge {
    /// Appends one part: its rows that the ledger admits, its rejects where they fell among the rows, and a reject
    /// for each row the ledger refuses (as a direct run writes it). Returns the file's (accepted, rejected).
    pub(super) fn part(
        &mut self,
        paths: &PartPaths,
        summary: &PartSummary,
        display: &str,
    ) -> Result<(u64, u64), IngestError> {
        let damaged = |message: &str| IngestError::Parquet {
            path: paths.rejects.clone(),
            message: format!("damaged ingest cache part ({message}); `simgap run --force` rebuilds the cache"),
        };
        let file = std::fs::File::open(&paths.rejects)
            .map_err(|source| IngestError::Io { path: paths.rejects.clone(), source })?;
        let mut lines = std::io::BufReader::new(file).lines();
        let mut positions = summary.reject_positions.iter().peekable();
        let (mut row, mut accepted, mut rejected) = (0u64, 0u64, 0u64);
        let mut copy_rejects_before = |row: u64, rejects: &mut RejectsWriter| -> Result<u64, IngestError> {
            let mut copied = 0;
            while positions.next_if(|&&p| p == row).is_some() {
                let line = lines
                    .next()
                    .ok_or_else(|| damaged("fewer rejects than its summary says"))?
                    .map_err(|source| IngestError::Io { path: paths.rejects.clone(), source })?;
                rejects.copy_line(&line)?;
                copied += 1;
            }
            Ok(copied)
        };
        for batch in PartReader::open(&paths.rows)? {
            for (conversation, location) in batch? {
                rejected += copy_rejects_before(row, &mut self.rejects)?;
                row += 1;
                if self.admit(&conversation, location, display)? {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        rejected += copy_rejects_before(row, &mut self.rejects)?;
        if row != summary.rows || accepted + rejected + summary.filtered != summary.read {
            return Err(damaged("its rows or rejects differ from its summary"));
        }
        Ok((accepted, rejected))
    }

    /// One row that passed the record's own rules: into the table if the rules across records admit it (true),
    /// else into the rejects, as a direct run writes it (false).
    fn admit(&mut self, conversation: &Conversation, location: Location, display: &str) -> Result<bool, IngestError> {
        match self.ledger.admit(conversation) {
            Ok(()) => {
                self.writer.append(conversation)?;
                self.sources
                    .entry(conversation.source.clone())
                    .or_insert(SourceCount { kind: conversation.kind, conversations: 0 })
                    .conversations += 1;
                Ok(true)
            }
            Err(rejection) => {
                let id = &conversation.conversation_id;
                self.rejects.write(&Reject {
                    file: display,
                    location,
                    conversation_id: Some(id),
                    source: Some(&conversation.source),
                    reason: &rejection.reason,
                    raw: id.as_bytes(),
                })?;
                Ok(false)
            }
        }
    }
}

/// The merge that a part being built feeds as it goes: when `simgap run` reads a file that has no part yet, each
/// record goes to the part and, in the same order the part would be merged in, to the output table, so the part is
/// not read back. Counts the file's rows and rejects in the table.
pub(super) struct Tee<'m> {
    pub(super) merge: &'m mut Merge,
    pub(super) accepted: u64,
    pub(super) rejected: u64,
}

/// Counts for the file being read.
pub(super) struct CurrentFile {
    pub(super) display: String,
    pub(super) defaults: InputDefaults,
    pub(super) accepted: u64,
    pub(super) rejected: u64,
    /// Records the input's filter left out.
    pub(super) filtered: u64,
    pub(super) warnings: u64,
    pub(super) warning_examples: Vec<String>,
}

impl CurrentFile {
    pub(super) fn new(file: &InputFile, defaults: InputDefaults) -> Self {
        Self {
            display: file.display.clone(),
            defaults,
            accepted: 0,
            rejected: 0,
            filtered: 0,
            warnings: 0,
            warning_examples: Vec::new(),
        }
    }
}

/// The sink every reader writes to: validates, writes accepted rows, writes rejects, counts.
pub(super) struct Collector<'m> {
    pub(super) options: IngestOptions,
    /// The rules across records; `None` while a cache part is written (they run when parts are merged).
    pub(super) ledger: Option<Ledger>,
    pub(super) writer: ConversationWriter,
    pub(super) rejects: RejectsWriter,
    /// Cache parts: for each reject, how many rows the part held before it.
    pub(super) reject_positions: Option<Vec<u64>>,
    pub(super) strict: bool,
    pub(super) utf8: Utf8Policy,
    pub(super) sources: BTreeMap<String, SourceCount>,
    pub(super) current: Option<CurrentFile>,
    pub(super) progress: indicatif::ProgressBar,
    /// While a cache part is built by `simgap run`: the merge into the output table, fed record by record.
    pub(super) tee: Option<Tee<'m>>,
}

impl Collector<'_> {
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
        let reject = Reject { file: &file, location, conversation_id, source, reason, raw };
        self.rejects.write(&reject)?;
        if let Some(tee) = &mut self.tee {
            tee.merge.rejects.write(&reject)?;
            tee.rejected += 1;
        }
        let rows_before = self.current().accepted;
        if let Some(positions) = &mut self.reject_positions {
            positions.push(rows_before);
        }
        self.current().rejected += 1;
        Ok(())
    }
}

impl RecordSink for Collector<'_> {
    fn accept(&mut self, location: Location, record: RawConversation) -> Result<(), IngestError> {
        let current = self.current.as_ref().expect("a file is being read");
        let (defaults, display) = (current.defaults.clone(), current.display.clone());
        let id_for_reject = record.conversation_id.clone();
        let source_for_reject = defaults.source.clone().or_else(|| record.source.clone());
        let checked = check_record(&self.options, record, &defaults, &display, location.record_number());
        let admitted = match (checked, &mut self.ledger) {
            (Ok(conversation), Some(ledger)) => ledger.admit(&conversation).map(|()| conversation),
            (checked, _) => checked,
        };
        match admitted {
            Ok(conversation) => {
                self.writer.append_at(&conversation, location)?;
                if let Some(tee) = &mut self.tee {
                    if tee.merge.admit(&conversation, location, &display)? {
                        tee.accepted += 1;
                    } else {
                        tee.rejected += 1;
                    }
                }
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

    fn filtered(&mut self, count: u64) {
        self.current().filtered += count;
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
