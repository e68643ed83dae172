//! ShareGPT: a JSON array (or JSONL) of `{id, conversations: [{from: human | gpt | system, value}]}`.
//!
//! Consumes: `.json` arrays (read whole; a file truncated mid-record keeps every complete record and rejects the
//! broken tail with its byte offset) or `.jsonl` files (one record per line). Produces: one [`RawConversation`] per
//! record; `from` goes through the role aliases (`human` -> user, `gpt` -> assistant). A record without `id` is
//! named `{file stem}-{record index}`.

use serde::Deserialize;

use super::json::JsonId;
use super::records::{parse_json, read_array_records};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::record::{RawConversation, RawMessage};

pub struct ShareGptReader;

#[derive(Deserialize)]
struct RecordIn {
    id: Option<JsonId>,
    conversations: Option<Vec<TurnIn>>,
}

#[derive(Deserialize)]
struct TurnIn {
    from: Option<String>,
    value: Option<String>,
}

fn parse(text: &str, default_id: String) -> Result<RawConversation, String> {
    let record: RecordIn = parse_json(text)?;
    let messages = match record.conversations {
        None => None,
        Some(turns) => Some(
            turns
                .into_iter()
                .enumerate()
                .map(|(i, turn)| {
                    let role = turn.from.ok_or_else(|| format!("turn {i} has no `from`"))?;
                    Ok(RawMessage::new(role, turn.value))
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
    };
    Ok(RawConversation {
        conversation_id: Some(record.id.map_or(default_id, |id| id.0)),
        messages,
        ..RawConversation::default()
    })
}

impl FormatReader for ShareGptReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        if file.display.to_ascii_lowercase().ends_with(".jsonl") {
            return super::jsonl::read_each_line(file, sink, |text, line| {
                parse(text, format!("{}-{line}", file.relative_stem))
            });
        }
        read_array_records(file, sink, |text, index| parse(text, format!("{}-{index}", file.relative_stem)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;
    use crate::ingest::record::Location;

    #[test]
    fn truncated_file_keeps_complete_records() {
        let text = r#"[
  {"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
  {"id": "b", "conversations": [{"from": "human", "value": "bye"}]},
  {"id": "c", "conversations": [{"from": "human", "val"#;
        let sink = read_text(&ShareGptReader, "dump.json", text.as_bytes());
        let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(sink.rejected.len(), 1);
        let offset = text.find(r#"{"id": "c""#).unwrap() as u64;
        assert_eq!(sink.rejected[0].0, Location::RecordAt { index: 2, byte_offset: offset });
        assert!(sink.rejected[0].1.contains("truncated"), "{}", sink.rejected[0].1);
    }

    #[test]
    fn record_without_conversations_reads_as_missing_messages() {
        let sink = read_text(&ShareGptReader, "d.json", br#"[{"id": "x"}]"#);
        assert_eq!(sink.accepted[0].1.messages, None);
    }

    #[test]
    fn jsonl_layout_and_default_ids() {
        let text = "{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}]}\n";
        let sink = read_text(&ShareGptReader, "d.jsonl", text.as_bytes());
        assert_eq!(sink.accepted[0].1.conversation_id.as_deref(), Some("d-1"));
        assert_eq!(sink.accepted[0].1.messages.as_ref().unwrap()[0].role, "human");
    }
}
