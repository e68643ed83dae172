//! RecLLMSim: one JSON file per conversation, `{history: [{role, content, content_zh?, intent?}], ...}` plus a
//! profile and ratings (`questionnaire` for the human files, `rating` for the simulated ones).
//!
//! Consumes: every `.json` file below the input's folder or glob; each file is one record. Produces: one
//! [`RawConversation`] per file with `conversation_id` = the file's path below the input root without extension
//! (`User_8/礼物准备/1`), `task_id` = `task_type` or `task`, `survey` = the ratings. `[input.recllmsim] text_field`
//! picks the text (`content`, or `content_zh` for the simulator's Chinese translation); a message without that
//! field rejects the file, naming the message.

use serde::Deserialize;

use super::records::{parse_json, read_document};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::RecLlmSimOptions;
use crate::ingest::record::{Location, RawConversation, RawMessage};

pub struct RecLlmSimReader {
    options: RecLlmSimOptions,
}

impl RecLlmSimReader {
    pub fn new(options: RecLlmSimOptions) -> Self {
        Self { options }
    }

    fn parse(&self, text: &str, id: &str) -> Result<RawConversation, String> {
        let record: FileIn = parse_json(text)?;
        let messages = match record.history {
            None => None,
            Some(history) => Some(
                history
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut message)| {
                        let role = message
                            .get("role")
                            .and_then(|r| r.as_str())
                            .ok_or_else(|| format!("message {i} has no role"))?
                            .to_owned();
                        let content = match message.remove(&self.options.text_field) {
                            Some(serde_json::Value::String(text)) => Some(text),
                            Some(serde_json::Value::Null) => None,
                            Some(_) => {
                                return Err(format!("message {i}: `{}` is not a string", self.options.text_field));
                            }
                            None => {
                                return Err(format!(
                                    "message {i} has no `{}` field (set [input.recllmsim] text_field)",
                                    self.options.text_field
                                ));
                            }
                        };
                        Ok(RawMessage::new(role, content))
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        Ok(RawConversation {
            conversation_id: Some(id.to_owned()),
            task_id: record.task_type.or(record.task),
            survey: record.questionnaire.or(record.rating),
            messages,
            ..RawConversation::default()
        })
    }
}

#[derive(Deserialize)]
struct FileIn {
    history: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    task_type: Option<String>,
    task: Option<String>,
    questionnaire: Option<serde_json::Value>,
    rating: Option<serde_json::Value>,
}

impl FormatReader for RecLlmSimReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let Some(text) = read_document(file, sink)? else {
            return Ok(());
        };
        match self.parse(&text, &file.relative_stem) {
            Ok(record) => sink.accept(Location::Record(0), record),
            Err(reason) => sink.reject(Location::Record(0), reason, text.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    const FILE: &str = r#"{"task": "travel", "rating": {"overall": 4},
        "history": [{"role": "user", "content": "Hello", "content_zh": "你好"}, {"role": "assistant", "content": "Hi", "content_zh": "嗨"}]}"#;

    #[test]
    fn text_field_picks_the_translation() {
        let reader = RecLlmSimReader::new(RecLlmSimOptions { text_field: "content_zh".into() });
        let sink = read_text(&reader, "7.json", FILE.as_bytes());
        let record = &sink.accepted[0].1;
        assert_eq!(record.conversation_id.as_deref(), Some("7"));
        assert_eq!(record.task_id.as_deref(), Some("travel"));
        assert_eq!(record.messages.as_ref().unwrap()[0].content.as_deref(), Some("你好"));
    }

    #[test]
    fn missing_text_field_is_rejected() {
        let reader = RecLlmSimReader::new(RecLlmSimOptions { text_field: "content_en".into() });
        let sink = read_text(&reader, "7.json", FILE.as_bytes());
        assert!(sink.rejected[0].1.contains("content_en"));
    }
}
