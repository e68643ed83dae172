//! tau-bench trajectories: a JSON array of `{task_id, reward, info, traj: [{role, content, tool_calls?}], trial}`.
//!
//! Consumes: the whole `.json` file (complete records survive a truncated tail). Produces: one [`RawConversation`]
//! per trajectory with `task_id` = the record's task id as text, `run` = trial, `conversation_id` =
//! `{task_id}-{trial}`, `outcome` = reward. The first message (the agent's system prompt) is kept as a system
//! message; tool calls (assistant messages with null content) and tool results are kept with their roles.

use serde::Deserialize;

use super::json::{JsonId, MessageIn, convert_messages};
use super::records::{parse_json, read_array_records};
use super::sink::{FormatReader, RecordSink};
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::record::RawConversation;

pub struct TauBenchReader;

#[derive(Deserialize)]
struct TrajectoryIn {
    task_id: Option<JsonId>,
    trial: Option<i64>,
    reward: Option<f64>,
    traj: Option<Vec<MessageIn>>,
}

fn parse(text: &str) -> Result<RawConversation, String> {
    let record: TrajectoryIn = parse_json(text)?;
    let task_id = record.task_id.ok_or("trajectory has no task_id")?.0;
    let trial = record.trial.ok_or("trajectory has no trial")?;
    Ok(RawConversation {
        conversation_id: Some(format!("{task_id}-{trial}")),
        task_id: Some(task_id),
        run: Some(trial),
        outcome: record.reward,
        messages: record.traj.map(convert_messages).transpose()?,
        ..RawConversation::default()
    })
}

impl FormatReader for TauBenchReader {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        read_array_records(file, sink, |text, _| parse(text))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::read_text;
    use super::*;

    #[test]
    fn identity_from_task_and_trial() {
        let text = r#"[{"task_id": 7, "trial": 2, "reward": 1.0, "info": {}, "traj": [
            {"role": "system", "content": "policy"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "x"}]}]}]"#;
        let sink = read_text(&TauBenchReader, "t.json", text.as_bytes());
        let record = &sink.accepted[0].1;
        assert_eq!(record.conversation_id.as_deref(), Some("7-2"));
        assert_eq!(record.task_id.as_deref(), Some("7"));
        assert_eq!((record.run, record.outcome), (Some(2), Some(1.0)));
        assert_eq!(record.messages.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn missing_trial_is_rejected() {
        let sink = read_text(&TauBenchReader, "t.json", br#"[{"task_id": 7, "traj": []}]"#);
        assert!(sink.rejected[0].1.contains("trial"));
    }
}
