//! Facet `termination`: how the user ends the conversation: with thanks, with a simulator stop token, by walking
//! away after the assistant failed, and who has the last word.
//!
//! Consumes: a [`Prepared`] conversation and the [`Cues`] (gratitude, failure, stop tokens). Produces: the values of
//! [`FEATURES`], each 0 or 1.

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;
use crate::ingest::Role;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef { name: "term_thanks", definition: "1 if the last user turn thanks the assistant" },
    FeatureDef {
        name: "term_stop_token",
        definition: "1 if the user's last message is a stop token (###STOP###, ###TRANSFER###, /stop, ...)",
    },
    FeatureDef {
        name: "term_abandon_after_failure",
        definition: "1 if the conversation ends on an assistant message reporting a failure (sorry, unable, ...) with no user reply",
    },
    FeatureDef { name: "term_user_last", definition: "1 if the last message with text is the user's" },
];

pub fn compute(conversation: &Prepared<'_>, cues: &Cues, out: &mut Vec<f64>) {
    let last_turn = conversation.turn(conversation.user_turns.len() - 1);
    let stop = conversation
        .last_raw_user_text
        .is_some_and(|raw| cues.stop_tokens.iter().any(|token| raw.trim().eq_ignore_ascii_case(token)));
    let last_spoken = conversation.messages.iter().rev().find(|m| m.text.is_some() && m.role != Role::Tool);
    let abandoned = last_spoken.is_some_and(|m| m.role == Role::Assistant && cues.failure.is_match(&m.lower));
    let user_last = last_spoken.is_some_and(|m| m.role == Role::User);
    let flag = |b: bool| f64::from(u8::from(b));
    out.extend_from_slice(&[
        flag(cues.gratitude.is_match(&last_turn.lower)),
        flag(stop),
        flag(abandoned),
        flag(user_last),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, conversation};

    #[test]
    fn endings() {
        let f = by_name(
            FEATURES,
            compute,
            &conversation(&[(Role::User, "Change my flight"), (Role::Assistant, "Sorry, I am unable to do that.")]),
        );
        assert_eq!(f["term_abandon_after_failure"], 1.0);
        assert_eq!(f["term_user_last"], 0.0);
        assert_eq!(f["term_thanks"], 0.0);
        let f = by_name(
            FEATURES,
            compute,
            &conversation(&[(Role::User, "Thanks a lot"), (Role::Assistant, "Done."), (Role::User, "/stop")]),
        );
        assert_eq!(f["term_stop_token"], 1.0);
        assert_eq!(f["term_thanks"], 1.0, "a human /stop is a meta message, not a turn: the last turn is the thanks");
        assert_eq!(f["term_abandon_after_failure"], 0.0);
    }
}
