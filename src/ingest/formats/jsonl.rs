//! Canonical JSONL and OpenAI-style messages: one conversation per line (or per element of a `.json` array).
//!
//! Consumes: `.jsonl` files streamed in blocks of lines (memory bounded by the block size, whatever the file size),
//! or, for the OpenAI dialect, `.json` files holding an array. Lines of a block are parsed in parallel with rayon
//! and handed to the sink in file order. Blank lines are not records and are skipped.
//! Produces: one [`RawConversation`] per line; `input_record` is the 1-based line number.
//!
//! Canonical: `{conversation_id, source, kind, task_id, run, outcome, survey, messages: [{role, content,
//! timestamp}], metadata}`. OpenAI: `{messages: [...]}` (optionally `id` or `conversation_id`) or a bare message
//! array; without an id a conversation is named `{file stem}-{line}` (or `-{record index}` in a `.json` array).

use std::io::Read;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::json::{JsonId, MessageIn, convert_messages};
use super::records::{json_error_reason, read_array_records};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::Utf8Policy;
use crate::ingest::record::{Location, RawConversation};

/// Bytes read per block; lines of one block are parsed in parallel.
const BLOCK_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Canonical,
    OpenAi,
}

pub struct JsonlReader {
    dialect: Dialect,
}

impl JsonlReader {
    pub fn canonical() -> Self {
        Self { dialect: Dialect::Canonical }
    }

    pub fn openai() -> Self {
        Self { dialect: Dialect::OpenAi }
    }
}

impl FormatReader for JsonlReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let is_array_document = self.dialect == Dialect::OpenAi
            && file
                .zip_entry
                .as_deref()
                .unwrap_or(&file.disk_path.to_string_lossy())
                .to_ascii_lowercase()
                .ends_with(".json");
        if is_array_document { self.read_array(file, sink) } else { self.read_lines(file, sink) }
    }
}

/// What one line turned into, computed in parallel.
enum LineOutcome {
    Blank,
    Record { record: RawConversation, replaced_utf8_at: Option<usize> },
    Invalid(String),
}

/// Streams a line format: blocks of lines are parsed in parallel with `parse` (given the line's text and its 1-based
/// number) and handed to the sink in file order. Blank lines are skipped; a file without a record line (empty, or
/// blank lines only) is one reject, as in the formats that hold one JSON document.
pub fn read_each_line(
    file: &InputFile,
    sink: &mut dyn RecordSink,
    parse: impl Fn(&str, u64) -> Result<RawConversation, String> + Sync,
) -> Result<(), IngestError> {
    let io_error = |source| IngestError::Io { path: file.disk_path.clone(), source };
    let mut reader = file.open().map_err(io_error)?;
    let policy = sink.utf8_policy();
    let mut buffer: Vec<u8> = Vec::with_capacity(BLOCK_BYTES);
    let mut next_line: u64 = 1;
    let mut at_end = false;
    let mut saw_record_line = false;
    while !at_end {
        // Fill the block up to its size (or the end of the file).
        // A block; or, while one line is longer than that, twice what is held (linear in the line's length).
        let start = buffer.len();
        let want = if start < BLOCK_BYTES { BLOCK_BYTES } else { start * 2 };
        buffer.resize(want, 0);
        let mut filled = start;
        while filled < want {
            let n = reader.read(&mut buffer[filled..]).map_err(io_error)?;
            if n == 0 {
                at_end = true;
                break;
            }
            filled += n;
        }
        buffer.truncate(filled);
        // Process whole lines; keep a partial last line for the next block.
        let cut = if at_end {
            buffer.len()
        } else {
            match buffer.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => continue, // a line longer than the block: read more
            }
        };
        let lines: Vec<&[u8]> = split_lines(&buffer[..cut]);
        let first_line = next_line;
        let outcomes: Vec<LineOutcome> = lines
            .par_iter()
            .enumerate()
            .map(|(i, line)| parse_line(line, policy, first_line + i as u64, &parse))
            .collect();
        for (i, (line, outcome)) in lines.iter().zip(outcomes).enumerate() {
            let location = Location::Line(first_line + i as u64);
            match outcome {
                LineOutcome::Blank => continue,
                LineOutcome::Record { record, replaced_utf8_at } => {
                    if let Some(at) = replaced_utf8_at {
                        sink.warn(location, format!("invalid UTF-8 at byte {at} of the line, replaced with U+FFFD"));
                    }
                    sink.accept(location, record)?;
                }
                LineOutcome::Invalid(reason) => sink.reject(location, reason, line)?,
            }
            saw_record_line = true;
        }
        next_line += lines.len() as u64;
        sink.advance(cut as u64);
        buffer.drain(..cut);
    }
    if !saw_record_line {
        sink.reject(Location::File, "empty file".into(), b"")?;
    }
    Ok(())
}

fn parse_line(
    line: &[u8],
    policy: Utf8Policy,
    line_number: u64,
    parse: &(impl Fn(&str, u64) -> Result<RawConversation, String> + Sync),
) -> LineOutcome {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return LineOutcome::Blank;
    }
    let (text, replaced_utf8_at) = match std::str::from_utf8(line) {
        Ok(text) => (std::borrow::Cow::Borrowed(text), None),
        Err(e) if policy == Utf8Policy::Replace => (String::from_utf8_lossy(line), Some(e.valid_up_to())),
        Err(e) => {
            return LineOutcome::Invalid(format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()));
        }
    };
    match parse(&text, line_number) {
        Ok(record) => LineOutcome::Record { record, replaced_utf8_at },
        Err(reason) => LineOutcome::Invalid(reason),
    }
}

impl JsonlReader {
    fn read_lines(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        read_each_line(file, sink, |text, line| self.parse_record(text, || format!("{}-{line}", file.relative_stem)))
    }

    fn read_array(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        read_array_records(file, sink, |text, index| {
            self.parse_record(text, || format!("{}-{index}", file.relative_stem))
        })
    }

    /// One record's JSON text to a raw conversation. `default_id` names records that carry no id (OpenAI only).
    fn parse_record(&self, text: &str, default_id: impl FnOnce() -> String) -> Result<RawConversation, String> {
        let trimmed = text.trim_start();
        if self.dialect == Dialect::OpenAi && trimmed.starts_with('[') {
            let messages: Vec<MessageIn> = serde_json::from_str(text).map_err(|e| json_error_reason(text, &e))?;
            return Ok(RawConversation {
                conversation_id: Some(default_id()),
                messages: Some(convert_messages(messages)?),
                ..RawConversation::default()
            });
        }
        let record: RecordIn = serde_json::from_str(text).map_err(|e| json_error_reason(text, &e))?;
        let conversation_id = match (record.conversation_id.or(record.id), self.dialect) {
            (Some(id), _) => Some(id.0),
            (None, Dialect::OpenAi) => Some(default_id()),
            (None, Dialect::Canonical) => None,
        };
        Ok(RawConversation {
            conversation_id,
            source: record.source,
            kind: record.kind,
            task_id: record.task_id.map(|id| id.0),
            run: record.run,
            outcome: record.outcome,
            survey: record.survey,
            metadata: record.metadata.map(|m| m.get().to_owned()),
            messages: record.messages.map(convert_messages).transpose()?,
        })
    }
}

fn split_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = block.split(|&b| b == b'\n').collect();
    if block.last() == Some(&b'\n') {
        lines.pop(); // the empty piece after the final newline is not a line
    }
    lines
}

#[derive(Deserialize)]
struct RecordIn {
    conversation_id: Option<JsonId>,
    /// OpenAI-style records name the conversation `id`; `conversation_id` wins when both are there.
    id: Option<JsonId>,
    source: Option<String>,
    kind: Option<String>,
    task_id: Option<JsonId>,
    run: Option<i64>,
    outcome: Option<f64>,
    survey: Option<serde_json::Value>,
    metadata: Option<Box<RawValue>>,
    messages: Option<Vec<MessageIn>>,
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    #[test]
    fn canonical_line_reads_every_field() {
        let line = r#"{"conversation_id": "c-1", "source": "sim", "kind": "simulator", "task_id": 12, "run": 2, "outcome": 1.0, "survey": {"q": "4"}, "metadata": {"a": [1]}, "messages": [{"role": "user", "content": "hi", "timestamp": "t0"}, {"role": "assistant", "content": null}]}"#;
        let sink = read_text(&JsonlReader::canonical(), "x.jsonl", format!("{line}\n").as_bytes());
        assert!(sink.rejected.is_empty());
        let (location, record) = &sink.accepted[0];
        assert_eq!(*location, Location::Line(1));
        assert_eq!(record.conversation_id.as_deref(), Some("c-1"));
        assert_eq!(record.task_id.as_deref(), Some("12"));
        assert_eq!(record.run, Some(2));
        assert_eq!(record.metadata.as_deref(), Some(r#"{"a": [1]}"#));
        let messages = record.messages.as_ref().unwrap();
        assert_eq!(messages[0].timestamp.as_deref(), Some("t0"));
        assert_eq!(messages[1].content, None);
    }

    #[test]
    fn malformed_line_is_rejected_with_its_number_and_others_kept() {
        let text = "{\"conversation_id\": \"a\", \"messages\": []}\n\n{not json\n{\"conversation_id\": \"b\", \"messages\": []}";
        let sink = read_text(&JsonlReader::canonical(), "x.jsonl", text.as_bytes());
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(sink.accepted[1].0, Location::Line(4));
        assert_eq!(sink.rejected.len(), 1);
        assert_eq!(sink.rejected[0].0, Location::Line(3));
        assert!(sink.rejected[0].1.contains("malformed JSON"));
    }

    #[test]
    fn invalid_utf8_is_replaced_with_a_warning_or_rejected() {
        let text = b"{\"conversation_id\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"caf\xe9\"}]}\n";
        let sink = read_text(&JsonlReader::canonical(), "x.jsonl", text);
        assert_eq!(sink.accepted.len(), 1);
        assert_eq!(sink.warnings.len(), 1);
        let content = sink.accepted[0].1.messages.as_ref().unwrap()[0].content.clone().unwrap();
        assert_eq!(content, "caf\u{fffd}");
    }

    #[test]
    fn empty_file_is_one_reject() {
        let sink = read_text(&JsonlReader::canonical(), "x.jsonl", b"");
        assert_eq!(sink.rejected.len(), 1);
        assert_eq!(sink.rejected[0].0, Location::File);
    }

    #[test]
    fn openai_bare_arrays_and_objects_get_ids() {
        let text = "[{\"role\": \"user\", \"content\": \"a\"}]\n{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"b\"}]}]}\n{\"id\": \"own\", \"messages\": []}\n";
        let sink = read_text(&JsonlReader::openai(), "chats.jsonl", text.as_bytes());
        let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
        assert_eq!(ids, ["chats-1", "chats-2", "own"]);
        assert_eq!(sink.accepted[1].1.messages.as_ref().unwrap()[0].content.as_deref(), Some("b"));
    }

    #[test]
    fn openai_json_array_document() {
        let text = r#"[{"messages": [{"role": "user", "content": "a"}]}, [{"role": "user", "content": "b"}]]"#;
        let sink = read_text(&JsonlReader::openai(), "chats.json", text.as_bytes());
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(sink.accepted[1].1.conversation_id.as_deref(), Some("chats-1"));
    }

    #[test]
    fn message_without_role_is_rejected() {
        let sink = read_text(
            &JsonlReader::canonical(),
            "x.jsonl",
            b"{\"conversation_id\": \"a\", \"messages\": [{\"content\": \"x\"}]}\n",
        );
        assert!(sink.rejected[0].1.contains("no role"), "{:?}", sink.rejected);
    }

    #[test]
    fn long_line_across_blocks_and_crlf() {
        let big = "x".repeat(BLOCK_BYTES + 10);
        let text = format!(
            "{{\"conversation_id\": \"a\", \"messages\": [{{\"role\": \"user\", \"content\": \"{big}\"}}]}}\r\n{{\"conversation_id\": \"b\", \"messages\": []}}\r\n"
        );
        let sink = read_text(&JsonlReader::canonical(), "x.jsonl", text.as_bytes());
        assert!(sink.rejected.is_empty(), "{:?}", sink.rejected);
        assert_eq!(sink.accepted.len(), 2);
        assert_eq!(sink.accepted[1].0, Location::Line(2));
    }
}
