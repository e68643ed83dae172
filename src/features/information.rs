//! Facet `information`: how much the user says and reveals, and how early: user turns, the user's share of the
//! words, new content words per turn, digits and identifiers per turn, and the turn where the first identifier
//! appears.
//!
//! Consumes: a [`Prepared`] conversation (its content words exclude the stopwords). Produces: the values of [`FEATURES`].

use rustc_hash::FxHashSet as HashSet;

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;
use crate::ingest::Role;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef { name: "info_user_turns", definition: "user turns" },
    FeatureDef { name: "info_user_word_share", definition: "user words / (user + assistant words)" },
    FeatureDef {
        name: "info_new_content_words_per_turn",
        definition: "content words not said in an earlier user turn, per user turn",
    },
    FeatureDef { name: "info_digits_per_turn", definition: "digits per user turn" },
    FeatureDef {
        name: "info_identifiers_per_turn",
        definition: "identifiers (tokens of 4+ characters with a digit, e-mails, snake_case ids with digits) per user turn",
    },
    FeatureDef {
        name: "info_first_identifier_position",
        definition: "0-based index of the first user turn with an identifier / user turns; 1 when none is revealed",
    },
];

/// A token that identifies something: 4+ characters with a digit, an e-mail, or an underscore id with a digit.
pub fn is_identifier(token: &str) -> bool {
    let token = token.trim_matches(|c: char| !c.is_alphanumeric() && c != '#' && c != '_');
    let has_digit = token.chars().any(|c| c.is_ascii_digit());
    (has_digit && token.chars().count() >= 4)
        || (token.contains('@') && token.contains('.'))
        || (has_digit && token.contains('_'))
}

pub fn compute(conversation: &Prepared<'_>, _cues: &Cues, out: &mut Vec<f64>) {
    let turns = conversation.user_turns.len();
    let (mut user_words, mut assistant_words) = (0usize, 0usize);
    for message in &conversation.messages {
        match message.role {
            Role::User => user_words += message.words,
            Role::Assistant => assistant_words += message.words,
            Role::System | Role::Tool => {}
        }
    }
    let mut seen: HashSet<&str> = HashSet::default();
    let (mut new_words, mut digits, mut identifiers) = (0usize, 0usize, 0usize);
    let mut first_identifier: Option<usize> = None;
    for (i, turn) in conversation.turns().enumerate() {
        for word in turn.content_words() {
            new_words += usize::from(seen.insert(word));
        }
        digits += turn.lower.chars().filter(char::is_ascii_digit).count();
        let found = turn.tokens().filter(|t| is_identifier(t)).count();
        identifiers += found;
        if found > 0 && first_identifier.is_none() {
            first_identifier = Some(i);
        }
    }
    let per_turn = |n: usize| n as f64 / turns as f64;
    let all_words = user_words + assistant_words;
    out.extend_from_slice(&[
        turns as f64,
        if all_words == 0 { 0.0 } else { user_words as f64 / all_words as f64 },
        per_turn(new_words),
        per_turn(digits),
        per_turn(identifiers),
        first_identifier.map_or(1.0, |i| i as f64 / turns as f64),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, conversation};

    #[test]
    fn identifiers() {
        assert!(is_identifier("8JX2WO,"));
        assert!(is_identifier("#W2378156"));
        assert!(is_identifier("sara@example.com"));
        assert!(is_identifier("mia_li_3668"));
        assert!(!is_identifier("2pm"));
        assert!(!is_identifier("hello"));
    }

    #[test]
    fn shares_and_positions() {
        let f = by_name(
            FEATURES,
            compute,
            &conversation(&[
                (Role::Assistant, "How can I help you today"),
                (Role::User, "I want a refund"),
                (Role::Assistant, "Your order number?"),
                (Role::User, "It is W2378156, the refund please"),
            ]),
        );
        assert_eq!(f["info_user_turns"], 2.0);
        assert!((f["info_user_word_share"] - 10.0 / 19.0).abs() < 1e-12);
        // Content words: refund | w2378156 (refund already said).
        assert_eq!(f["info_new_content_words_per_turn"], 1.0);
        assert_eq!(f["info_digits_per_turn"], 3.5);
        assert_eq!(f["info_identifiers_per_turn"], 0.5);
        assert_eq!(f["info_first_identifier_position"], 0.5);
    }
}
