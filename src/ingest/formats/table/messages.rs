//! One message from its role, content and timestamp cells, with `[input.table] roles` applied.
//!
//! Consumes: the three cells of a message (struct fields or columns). Produces: a [`RawMessage`] (validation then
//! checks the role and the text), or the reason the conversation is a reject: a message without a role, or a cell of
//! a type a message field cannot take.

use std::collections::BTreeMap;

use polars::prelude::AnyValue;

use super::cells;
use crate::ingest::record::RawMessage;

/// The names of the message fields and the role map, as `[input.table]` gives them.
pub struct MessageFields {
    pub role: String,
    pub content: String,
    pub timestamp: Option<String>,
    pub roles: BTreeMap<String, String>,
}

impl MessageFields {
    /// The message of these cells (`timestamp` is `None` where no timestamp field is named).
    pub fn message(
        &self,
        role: &AnyValue,
        content: &AnyValue,
        timestamp: Option<&AnyValue>,
    ) -> Result<RawMessage, String> {
        let role = cells::text(role)
            .map_err(|reason| format!("{} {reason}", self.role))?
            .ok_or_else(|| format!("has no role ({} is null)", self.role))?;
        let role = self.roles.get(&role).cloned().unwrap_or(role);
        let content = cells::text(content).map_err(|reason| format!("{} {reason}", self.content))?;
        let timestamp = match (timestamp, &self.timestamp) {
            (Some(cell), Some(name)) => cells::timestamp(cell).map_err(|reason| format!("{name} {reason}"))?,
            _ => None,
        };
        Ok(RawMessage { role, content, timestamp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_and_missing_roles_are_reasons() {
        let fields = MessageFields {
            role: "from".into(),
            content: "value".into(),
            timestamp: None,
            roles: [("human".to_owned(), "user".to_owned())].into_iter().collect(),
        };
        let message = fields.message(&AnyValue::String("human"), &AnyValue::String("hi"), None).unwrap();
        assert_eq!((message.role.as_str(), message.content.as_deref()), ("user", Some("hi")));
        let unmapped = fields.message(&AnyValue::String("narrator"), &AnyValue::Null, None).unwrap();
        assert_eq!(unmapped.role, "narrator", "validation rejects it, naming the role");
        assert_eq!(
            fields.message(&AnyValue::Null, &AnyValue::String("hi"), None).unwrap_err(),
            "has no role (from is null)"
        );
        assert_eq!(
            fields.message(&AnyValue::String("user"), &AnyValue::Int64(3), None).unwrap_err(),
            "value holds i64, not text"
        );
    }
}
