//! Validation: a reader's [`RawConversation`] becomes a canonical [`Conversation`] or a reject reason.
//!
//! Consumes: raw records with the input's defaults (source, kind) and the `[ingest]` limits. Produces: validated
//! conversations; keeps one set of ids per source so a repeated `conversation_id` is rejected (the first one is
//! kept). Rules, in order: id, source, kind, messages present and non-empty, roles known, messages within the size
//! limit, timestamps that parse (a blank one is none), no empty user message (unless `empty_user_messages = "keep"`), at least one user turn with text, a finite
//! outcome (the record's own rules, [`check_record`]); then one kind per source and no duplicate id within the
//! source (the rules across records, [`Ledger::admit`]). The two halves run one after the other for a whole
//! table, or apart: per-file cache parts hold what passed the record's own rules, and the ledger runs when the parts
//! are merged in input order, which gives the same rows and rejects. Memory: the ids seen, O(conversations).

use std::collections::{HashMap, HashSet};

use super::record::{Conversation, Message, RawConversation, RawMessage, Role, SourceKind};
use super::timestamp::parse_timestamp;
use crate::ingest::options::{EmptyPolicy, IngestOptions};

/// What an input says about its records when they do not say it themselves (or to override them).
#[derive(Debug, Clone)]
pub struct InputDefaults {
    pub source: Option<String>,
    pub kind: Option<SourceKind>,
}

/// Validates records and remembers the ids seen per source.
#[derive(Debug)]
pub struct Validator {
    options: IngestOptions,
    ledger: Ledger,
}

impl Validator {
    pub fn new(options: IngestOptions) -> Self {
        Self { options, ledger: Ledger::default() }
    }

    /// Checks one record: its own rules, then the rules across records. `input_file` and `input_record` are copied
    /// into the row.
    pub fn validate(
        &mut self,
        raw: RawConversation,
        defaults: &InputDefaults,
        input_file: &str,
        input_record: i64,
    ) -> Result<Conversation, Rejection> {
        let conversation = check_record(&self.options, raw, defaults, input_file, input_record)?;
        self.ledger.admit(&conversation)?;
        Ok(conversation)
    }
}

/// The rules of one record alone (everything but one kind per source and unique ids). Stateless.
pub fn check_record(
    options: &IngestOptions,
    raw: RawConversation,
    defaults: &InputDefaults,
    input_file: &str,
    input_record: i64,
) -> Result<Conversation, Rejection> {
    let id = raw
        .conversation_id
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Rejection::new("missing conversation_id"))?;
    let source = defaults
        .source
        .clone()
        .or(raw.source)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Rejection::new("no source: the record names none and the pipeline input sets none"))?;
    let kind = match (defaults.kind, raw.kind) {
        (Some(kind), _) => kind,
        (None, Some(text)) => SourceKind::parse(&text)
            .ok_or_else(|| Rejection::new(format!("kind \"{text}\" is neither human nor simulator")))?,
        (None, None) => {
            return Err(Rejection::new("no kind: the record names none and the pipeline input sets none"));
        }
    };
    let raw_messages = raw.messages.ok_or_else(|| Rejection::new("missing messages"))?;
    if raw_messages.is_empty() {
        return Err(Rejection::new("no messages"));
    }
    let (messages, user_turns_with_text) = check_messages(options, raw_messages)?;
    if user_turns_with_text == 0 {
        return Err(Rejection::new("no user turn with text"));
    }
    if let Some(outcome) = raw.outcome.filter(|o| !o.is_finite()) {
        return Err(Rejection::new(format!("outcome {outcome} is not a finite number")));
    }
    Ok(Conversation {
        conversation_id: id,
        source,
        kind,
        task_id: raw.task_id,
        run: raw.run,
        outcome: raw.outcome,
        survey: raw.survey.map(|s| s.to_string()),
        metadata: raw.metadata,
        messages,
        input_file: input_file.to_owned(),
        input_record,
    })
}

/// The messages of one record, canonical, and how many user turns have text; or the first message's reject reason
/// (unknown role, over the size limit, an empty user message, a timestamp that does not parse).
fn check_messages(options: &IngestOptions, raw_messages: Vec<RawMessage>) -> Result<(Vec<Message>, usize), Rejection> {
    let mut messages = Vec::with_capacity(raw_messages.len());
    let mut user_turns_with_text = 0usize;
    for (i, message) in raw_messages.into_iter().enumerate() {
        let role = Role::parse_alias(&message.role)
            .ok_or_else(|| Rejection::new(format!("unknown role \"{}\" in message {i}", message.role)))?;
        if let Some(content) = &message.content {
            if content.len() > options.max_message_bytes {
                return Err(Rejection::new(format!(
                    "message {i} is {} bytes, over the limit of {} ([ingest] max_message_bytes)",
                    content.len(),
                    options.max_message_bytes
                )));
            }
            if role == Role::User {
                if content.trim().is_empty() {
                    if options.empty_user_messages == EmptyPolicy::Reject {
                        return Err(Rejection::new(format!("message {i} (user) is empty or whitespace only")));
                    }
                } else {
                    user_turns_with_text += 1;
                }
            }
        }
        let timestamp = message.timestamp.filter(|t| !t.trim().is_empty());
        if let Some(text) = timestamp.as_deref().filter(|t| parse_timestamp(t).is_none()) {
            let shown: String = text.chars().take(60).collect();
            return Err(Rejection::new(format!(
                "message {i}: timestamp \"{shown}\" is neither an ISO 8601 date-time (2026-03-01T10:00:02Z) nor Unix \
                 seconds"
            )));
        }
        messages.push(Message { role, content: message.content, timestamp });
    }
    Ok((messages, user_turns_with_text))
}

/// The rules across records, in input order: a source has one kind (its first accepted conversation's), and a
/// `conversation_id` appears once per source (the first is kept).
#[derive(Debug, Default)]
pub struct Ledger {
    seen: HashMap<String, HashSet<String>>,
    /// The kind of each source, from its first accepted conversation.
    kinds: HashMap<String, SourceKind>,
}

impl Ledger {
    /// Admits a conversation that passed [`check_record`], or says why it cannot be.
    pub fn admit(&mut self, conversation: &Conversation) -> Result<(), Rejection> {
        let (id, source, kind) = (&conversation.conversation_id, &conversation.source, conversation.kind);
        if let Some(known) = self.kinds.get(source).filter(|known| **known != kind) {
            return Err(Rejection {
                reason: format!(
                    "source \"{source}\" is {} in earlier records and {} here: a source has one kind",
                    known.as_str(),
                    kind.as_str()
                ),
                conversation_id: Some(id.clone()),
                source: Some(source.clone()),
            });
        }
        if !self.kinds.contains_key(source) {
            self.kinds.insert(source.clone(), kind);
        }
        let ids = match self.seen.get_mut(source) {
            Some(ids) => ids,
            None => self.seen.entry(source.clone()).or_default(),
        };
        if ids.contains(id) {
            return Err(Rejection {
                reason: format!("duplicate conversation_id \"{id}\" within source \"{source}\": the first is kept"),
                conversation_id: Some(id.clone()),
                source: Some(source.clone()),
            });
        }
        ids.insert(id.clone());
        Ok(())
    }
}

/// Why a record was rejected, with what is known of its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: String,
    pub conversation_id: Option<String>,
    pub source: Option<String>,
}

impl Rejection {
    fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), conversation_id: None, source: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::record::RawMessage;

    fn defaults() -> InputDefaults {
        InputDefaults { source: Some("human".into()), kind: Some(SourceKind::Human) }
    }

    fn raw(id: &str, messages: Vec<(&str, Option<&str>)>) -> RawConversation {
        RawConversation {
            conversation_id: Some(id.into()),
            messages: Some(
                messages.into_iter().map(|(role, content)| RawMessage::new(role, content.map(str::to_owned))).collect(),
            ),
            ..RawConversation::default()
        }
    }

    fn check(raw: RawConversation) -> Result<Conversation, String> {
        Validator::new(IngestOptions::default()).validate(raw, &defaults(), "f", 1).map_err(|r| r.reason)
    }

    #[test]
    fn accepts_and_canonicalises_roles() {
        let conversation =
            check(raw("a", vec![("human", Some("hi")), ("gpt", Some("hello")), ("tool", Some(""))])).unwrap();
        let roles: Vec<_> = conversation.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool]);
        assert_eq!(conversation.source, "human");
    }

    #[test]
    fn missing_id() {
        let mut record = raw("a", vec![("user", Some("hi"))]);
        record.conversation_id = None;
        assert_eq!(check(record).unwrap_err(), "missing conversation_id");
    }

    #[test]
    fn missing_and_empty_messages() {
        let mut record = raw("a", vec![]);
        assert_eq!(check(record.clone()).unwrap_err(), "no messages");
        record.messages = None;
        assert_eq!(check(record).unwrap_err(), "missing messages");
    }

    #[test]
    fn unknown_role() {
        let err = check(raw("a", vec![("user", Some("hi")), ("narrator", Some("x"))])).unwrap_err();
        assert!(err.contains("narrator") && err.contains("message 1"), "{err}");
    }

    #[test]
    fn empty_user_message_rejected_or_kept() {
        let record = raw("a", vec![("user", Some("hi")), ("user", Some("  \n"))]);
        assert!(check(record.clone()).unwrap_err().contains("empty"));
        let options = IngestOptions { empty_user_messages: EmptyPolicy::Keep, ..IngestOptions::default() };
        assert!(Validator::new(options).validate(record, &defaults(), "f", 1).is_ok());
    }

    #[test]
    fn timestamps_must_parse_and_blank_is_none() {
        let stamped = |stamps: [&str; 2]| {
            let mut record = raw("a", vec![("assistant", Some("hi")), ("user", Some("refund"))]);
            for (message, stamp) in record.messages.as_mut().unwrap().iter_mut().zip(stamps) {
                message.timestamp = Some(stamp.to_owned());
            }
            check(record)
        };
        let err = stamped(["2026-03-01T10:00:00Z", "yesterday"]).unwrap_err();
        assert!(err.starts_with("message 1: timestamp \"yesterday\""), "{err}");
        let ok = stamped(["1772359200", "  "]).unwrap();
        assert_eq!(ok.messages[0].timestamp.as_deref(), Some("1772359200"));
        assert_eq!(ok.messages[1].timestamp, None);
    }

    #[test]
    fn no_user_turn() {
        let err = check(raw("a", vec![("assistant", Some("hi")), ("user", None)])).unwrap_err();
        assert_eq!(err, "no user turn with text");
    }

    #[test]
    fn oversized_message() {
        let options = IngestOptions { max_message_bytes: 4, ..IngestOptions::default() };
        let err =
            Validator::new(options).validate(raw("a", vec![("user", Some("hello"))]), &defaults(), "f", 1).unwrap_err();
        assert!(err.reason.contains("5 bytes"), "{}", err.reason);
    }

    #[test]
    fn non_finite_outcome() {
        let mut record = raw("a", vec![("user", Some("hi"))]);
        record.outcome = Some(f64::NAN);
        assert!(check(record).unwrap_err().contains("not a finite"));
    }

    #[test]
    fn duplicate_ids_keep_first_per_source() {
        let mut validator = Validator::new(IngestOptions::default());
        let record = raw("a", vec![("user", Some("hi"))]);
        assert!(validator.validate(record.clone(), &defaults(), "f", 1).is_ok());
        let err = validator.validate(record.clone(), &defaults(), "f", 2).unwrap_err();
        assert!(err.reason.contains("duplicate"));
        assert_eq!(err.conversation_id.as_deref(), Some("a"));
        let other = InputDefaults { source: Some("sim".into()), kind: Some(SourceKind::Simulator) };
        assert!(validator.validate(record, &other, "f", 3).is_ok(), "same id in another source is fine");
    }

    #[test]
    fn kind_from_record_or_error() {
        let mut record = raw("a", vec![("user", Some("hi"))]);
        record.kind = Some("robot".into());
        let no_kind = InputDefaults { source: Some("s".into()), kind: None };
        let err = Validator::new(IngestOptions::default()).validate(record.clone(), &no_kind, "f", 1).unwrap_err();
        assert!(err.reason.contains("robot"));
        record.kind = None;
        let err = Validator::new(IngestOptions::default()).validate(record, &no_kind, "f", 1).unwrap_err();
        assert!(err.reason.contains("no kind"));
    }

    #[test]
    fn a_source_has_one_kind() {
        let mut validator = Validator::new(IngestOptions::default());
        let record = raw("a", vec![("user", Some("hi"))]);
        let as_simulator = InputDefaults { source: Some("human".into()), kind: Some(SourceKind::Simulator) };
        assert!(validator.validate(record.clone(), &defaults(), "f", 1).is_ok());
        let err = validator.validate(raw("b", vec![("user", Some("hi"))]), &as_simulator, "f", 2).unwrap_err();
        assert!(err.reason.contains("one kind"), "{}", err.reason);
    }

    #[test]
    fn pipeline_source_overrides_record() {
        let mut record = raw("a", vec![("user", Some("hi"))]);
        record.source = Some("gpt-4.1".into());
        assert_eq!(check(record.clone()).unwrap().source, "human");
        let from_record = InputDefaults { source: None, kind: Some(SourceKind::Simulator) };
        let conversation = Validator::new(IngestOptions::default()).validate(record, &from_record, "f", 1).unwrap();
        assert_eq!(conversation.source, "gpt-4.1");
    }
}
