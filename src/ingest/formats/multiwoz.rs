//! MultiWOZ: `{dialogue_id: {goal, log: [{text, dialog_act, metadata, ...}]}}`; even-numbered turns are the user's.
//!
//! Consumes: a `.json` file, or a `.zip` holding one (the public releases ship zipped); read whole. Produces: one
//! [`RawConversation`] per dialogue, in file order, with `conversation_id` = the dialogue id, turn 0, 2, 4, ... as
//! user messages and the odd turns as assistant (wizard) messages.

use serde::Deserialize;

use super::records::{parse_json, read_object_records};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::record::{RawConversation, RawMessage};

pub struct MultiwozReader;

#[derive(Deserialize)]
struct DialogueIn {
    log: Option<Vec<TurnIn>>,
}

#[derive(Deserialize)]
struct TurnIn {
    text: Option<String>,
}

fn parse(id: &str, text: &str) -> Result<RawConversation, String> {
    let dialogue: DialogueIn = parse_json(text)?;
    let messages = dialogue.log.map(|log| {
        log.into_iter()
            .enumerate()
            .map(|(i, turn)| RawMessage::new(if i % 2 == 0 { "user" } else { "assistant" }, turn.text))
            .collect()
    });
    Ok(RawConversation { conversation_id: Some(id.to_owned()), messages, ..RawConversation::default() })
}

impl FormatReader for MultiwozReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        read_object_records(file, sink, parse)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    #[test]
    fn even_turns_are_the_users_and_order_is_kept() {
        let text = r#"{"PMUL2": {"goal": {}, "log": [{"text": "I need a hotel"}, {"text": "Which area?"}, {"text": "East"}]},
                       "A1": {"goal": {}, "log": [{"text": "hi"}]}}"#;
        let sink = read_text(&MultiwozReader, "val.json", text.as_bytes());
        let ids: Vec<_> = sink.accepted.iter().map(|(_, r)| r.conversation_id.clone().unwrap()).collect();
        assert_eq!(ids, ["PMUL2", "A1"]);
        let roles: Vec<_> = sink.accepted[0].1.messages.as_ref().unwrap().iter().map(|m| m.role.clone()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
    }

    #[test]
    fn truncated_document_is_one_reject() {
        let sink = read_text(&MultiwozReader, "val.json", br#"{"A": {"log": [{"text": "h"#);
        assert_eq!(sink.rejected.len(), 1);
        assert!(sink.rejected[0].1.contains("truncated"), "{}", sink.rejected[0].1);
    }
}
