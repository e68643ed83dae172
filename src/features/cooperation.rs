//! Facet `cooperation`: how readily the user goes along: turns that open with agreement, gratitude, and compliance
//! with the assistant's proposals.
//!
//! Consumes: a [`Prepared`] conversation and the [`Cues`] (agreement, gratitude, proposal lists). Produces: the
//! values of [`FEATURES`].

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;
use crate::ingest::Role;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "coop_agreement_rate",
        definition: "share of user turns that open with agreement (yes, sure, ok, sounds good, ...)",
    },
    FeatureDef {
        name: "coop_gratitude_rate",
        definition: "share of user turns with gratitude (thanks, appreciate, 谢谢, ...)",
    },
    FeatureDef {
        name: "coop_compliance_rate",
        definition: "share of the assistant's proposals (would you like, shall I, ...) the user's next turn agrees to; 0 without proposals",
    },
];

pub fn compute(conversation: &Prepared<'_>, cues: &Cues, out: &mut Vec<f64>) {
    let turns = conversation.user_turns.len() as f64;
    let opens_with_agreement = |lower: &str| cues.agreement_start.is_match(lower.trim_start());
    let agreeing = conversation.turns().filter(|t| opens_with_agreement(&t.lower)).count();
    let grateful = conversation.turns().filter(|t| cues.gratitude.is_match(&t.lower)).count();
    let (mut proposals, mut complied) = (0usize, 0usize);
    let mut pending_proposal = false;
    for message in conversation.messages.iter().filter(|m| m.text.is_some()) {
        match message.role {
            Role::Assistant => pending_proposal = cues.proposal.is_match(&message.lower),
            Role::User => {
                if pending_proposal {
                    proposals += 1;
                    complied += usize::from(opens_with_agreement(&message.lower));
                }
                pending_proposal = false;
            }
            Role::System | Role::Tool => {}
        }
    }
    out.extend_from_slice(&[
        agreeing as f64 / turns,
        grateful as f64 / turns,
        if proposals == 0 { 0.0 } else { complied as f64 / proposals as f64 },
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, conversation};

    #[test]
    fn agreement_gratitude_compliance() {
        let f = by_name(
            FEATURES,
            compute,
            &conversation(&[
                (Role::User, "I need a table"),
                (Role::Assistant, "Would you like the Italian place?"),
                (Role::User, "Yes, thanks"),
                (Role::Assistant, "Shall I book 7pm?"),
                (Role::User, "no, 8pm"),
            ]),
        );
        assert!((f["coop_agreement_rate"] - 1.0 / 3.0).abs() < 1e-12);
        assert!((f["coop_gratitude_rate"] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(f["coop_compliance_rate"], 0.5);
    }
}
