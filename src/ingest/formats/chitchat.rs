//! chitchat: `{uuid: {prompt, ratings, start, messages: [[{text, timestamp, sender}]]}}`, two people chatting.
//!
//! Consumes: the whole `.json` file. Produces: one [`RawConversation`] per chat, in file order, with
//! `conversation_id` = the uuid and `survey` = the ratings. The chat is between two people, so simgap takes the one
//! who writes first as the `user` and the other as the `assistant`; each message of a turn stays its own message,
//! with its timestamp. A chat with a third sender is rejected, naming the sender.

use std::collections::HashMap;

use serde::Deserialize;

use super::records::{parse_json, read_object_records};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::record::{RawConversation, RawMessage};

pub struct ChitchatReader;

#[derive(Deserialize)]
struct ChatIn {
    ratings: Option<serde_json::Value>,
    prompt: Option<String>,
    messages: Option<Vec<Vec<MessageIn>>>,
}

#[derive(Deserialize)]
struct MessageIn {
    text: Option<String>,
    timestamp: Option<String>,
    sender: Option<String>,
}

fn parse(id: &str, text: &str) -> Result<RawConversation, String> {
    let chat: ChatIn = parse_json(text)?;
    let messages = match chat.messages {
        None => None,
        Some(turns) => {
            let mut roles: HashMap<String, &'static str> = HashMap::new();
            let mut messages = Vec::new();
            for message in turns.into_iter().flatten() {
                let sender = message.sender.ok_or("a message has no sender")?;
                let next_role = match roles.len() {
                    0 => "user",
                    1 => "assistant",
                    _ => "",
                };
                let role = *roles.entry(sender.clone()).or_insert(next_role);
                if role.is_empty() {
                    return Err(format!("a third sender ({sender}) in a two-person chat"));
                }
                messages.push(RawMessage {
                    role: role.to_owned(),
                    content: message.text,
                    timestamp: message.timestamp,
                });
            }
            Some(messages)
        }
    };
    let metadata = chat.prompt.map(|prompt| serde_json::json!({ "prompt": prompt }).to_string());
    Ok(RawConversation {
        conversation_id: Some(id.to_owned()),
        survey: chat.ratings,
        metadata,
        messages,
        ..RawConversation::default()
    })
}

impl FormatReader for ChitchatReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        read_object_records(file, sink, parse)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    #[test]
    fn first_writer_is_the_user() {
        let text = r#"{"u1": {"prompt": "p", "ratings": {"witty": 3}, "messages": [
            [{"text": "Hello", "timestamp": "t0", "sender": "A"}, {"text": "How are you", "timestamp": "t1", "sender": "A"}],
            [{"text": "fine", "timestamp": "t2", "sender": "B"}]]}}"#;
        let sink = read_text(&ChitchatReader, "c.json", text.as_bytes());
        let record = &sink.accepted[0].1;
        let roles: Vec<_> = record.messages.as_ref().unwrap().iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "user", "assistant"]);
        assert_eq!(record.survey, Some(serde_json::json!({"witty": 3})));
    }

    #[test]
    fn third_sender_is_rejected() {
        let text = r#"{"u1": {"messages": [[{"text": "a", "sender": "A"}], [{"text": "b", "sender": "B"}], [{"text": "c", "sender": "C"}]]}}"#;
        let sink = read_text(&ChitchatReader, "c.json", text.as_bytes());
        assert!(sink.rejected[0].1.contains("third sender"));
    }
}
