//! tau2-bench results: `{info: {user_info: {llm}}, tasks, simulations: [{id, task_id, trial, reward_info: {reward},
//! termination_reason, messages: [{role, content, turn_idx, timestamp}]}]}`.
//!
//! Consumes: the whole `.json` file. Produces: one [`RawConversation`] per simulation with `conversation_id` = the
//! simulation id, `task_id`, `run` = trial, `outcome` = `reward_info.reward`, and the record's source set to the
//! user simulator's model (`info.user_info.llm`), which a pipeline's `source` overrides. The termination reason is
//! kept in `metadata`. User messages that are tool calls have null content and are kept.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json::{JsonId, MessageIn, convert_messages};
use super::records::{parse_json, read_document};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::record::{Location, RawConversation};

pub struct Tau2Reader;

#[derive(Deserialize)]
struct ResultsIn<'a> {
    info: Option<InfoIn>,
    #[serde(borrow)]
    simulations: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct InfoIn {
    user_info: Option<UserInfoIn>,
}

#[derive(Deserialize)]
struct UserInfoIn {
    llm: Option<String>,
}

#[derive(Deserialize)]
struct SimulationIn {
    id: Option<JsonId>,
    task_id: Option<JsonId>,
    trial: Option<i64>,
    reward_info: Option<RewardIn>,
    termination_reason: Option<String>,
    messages: Option<Vec<MessageIn>>,
}

#[derive(Deserialize)]
struct RewardIn {
    reward: Option<f64>,
}

fn parse(text: &str, user_llm: Option<&str>) -> Result<RawConversation, String> {
    let simulation: SimulationIn = parse_json(text)?;
    let metadata =
        simulation.termination_reason.map(|reason| serde_json::json!({ "termination_reason": reason }).to_string());
    Ok(RawConversation {
        conversation_id: simulation.id.map(|id| id.0),
        source: user_llm.map(str::to_owned),
        task_id: simulation.task_id.map(|id| id.0),
        run: simulation.trial,
        outcome: simulation.reward_info.and_then(|r| r.reward),
        metadata,
        messages: simulation.messages.map(convert_messages).transpose()?,
        ..RawConversation::default()
    })
}

impl FormatReader for Tau2Reader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let Some(text) = read_document(file, sink)? else {
            return Ok(());
        };
        let results: ResultsIn = match serde_json::from_str(&text) {
            Ok(results) => results,
            Err(e) => {
                return sink.reject(Location::File, format!("not a tau2 results document: {e}"), text.as_bytes());
            }
        };
        let Some(simulations) = results.simulations else {
            return sink.reject(Location::File, "no `simulations` list".into(), text.as_bytes());
        };
        let user_llm = results.info.and_then(|i| i.user_info).and_then(|u| u.llm);
        for (index, raw) in simulations.into_iter().enumerate() {
            let location = Location::Record(index as u64);
            match parse(raw.get(), user_llm.as_deref()) {
                Ok(record) => sink.accept(location, record)?,
                Err(reason) => sink.reject(location, reason, raw.get().as_bytes())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    #[test]
    fn simulation_identity_and_source_from_user_llm() {
        let text = r#"{"info": {"user_info": {"llm": "gpt-4.1"}}, "tasks": [], "simulations": [
            {"id": "s1", "task_id": "t9", "trial": 0, "reward_info": {"reward": 0.0}, "termination_reason": "user_stop",
             "messages": [{"role": "assistant", "content": "Hi", "turn_idx": 0, "timestamp": "2025-01-01T00:00:00"},
                          {"role": "user", "content": null, "tool_calls": [{}]}]}]}"#;
        let sink = read_text(&Tau2Reader, "r.json", text.as_bytes());
        let record = &sink.accepted[0].1;
        assert_eq!(record.conversation_id.as_deref(), Some("s1"));
        assert_eq!(record.source.as_deref(), Some("gpt-4.1"));
        assert_eq!((record.task_id.as_deref(), record.run, record.outcome), (Some("t9"), Some(0), Some(0.0)));
        assert!(record.metadata.as_deref().unwrap().contains("user_stop"));
        let messages = record.messages.as_ref().unwrap();
        assert_eq!(messages[0].timestamp.as_deref(), Some("2025-01-01T00:00:00"));
    }

    #[test]
    fn not_a_results_document_is_one_reject() {
        let sink = read_text(&Tau2Reader, "r.json", b"[1, 2]");
        assert_eq!(sink.rejected[0].0, Location::File);
    }
}
