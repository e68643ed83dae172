//! Facet `usi`: the 19 behavioural features of the User-Sim Index (arXiv 2603.11245), plus `n_turns`, exactly as
//! shared/specs/usi.md defines them, on user turns only.
//!
//! Consumes: a [`Prepared`] conversation and the compiled [`Cues`]. Produces: 20 values in the order of
//! [`FEATURES`]. Words are whitespace-separated tokens, as in the published scorer, also for CJK text (the
//! `style_words_per_turn` feature counts CJK characters instead). Rates are fractions of user turns; `repeat_rate` and `id_confuse_rate` are per-conversation 0/1.
//! Groups: D1 style (politeness .. id_confuse), D2 information (info_frontload .. opening_words), D3 clarification
//! (uncertainty .. info_q), D4 error reaction (emotion .. pivot).

use std::hash::BuildHasher;
use std::sync::LazyLock;

use regex::Regex;

use super::cues::{Cues, UsiCue};
use super::rule::FeatureDef;
use super::text::Prepared;

/// The USI dimension a feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Dimension {
    D1,
    D2,
    D3,
    D4,
    /// Computed, but in no dimension.
    None,
}

macro_rules! usi_features {
    ($($name:literal, $dim:ident, $def:literal;)*) => {
        /// Every feature of the facet, in column order, with its dimension.
        pub const FEATURES: &[(FeatureDef, Dimension)] = &[
            $((FeatureDef { name: $name, definition: $def }, Dimension::$dim),)*
        ];
    };
}

usi_features! {
    "politeness_rate", D1, "share of user turns with a politeness phrase (please, thank you, sorry, ...)";
    "short_msg_rate", D1, "share of user turns of at most 3 words";
    "formality_rate", D1, "share of user turns containing an em or en dash";
    "ack_only_rate", D1, "share of user turns that are a bare acknowledgement (ok, yes, sounds good, ...)";
    "verbosity_cv", D1, "coefficient of variation (population) of words per user turn";
    "repeat_rate", D1, "1 if a word trigram occurs more than 10 times across the user turns, else 0";
    "id_confuse_rate", D1, "1 if a user turn uses agent-like phrasing (how can I help, your order, ...), else 0";
    "info_frontload", D2, "share of the user's words said in the first two user turns";
    "id_density", D2, "ID-like tokens (codes, long numbers, e-mails) per user turn";
    "user_words_per_turn", D2, "mean words per user turn";
    "opening_words", D2, "words in the first user turn";
    "uncertainty_rate", D3, "share of user turns with a hedge (i think, not sure, maybe, ...)";
    "certainty_rate", D3, "share of user turns with a certainty marker (definitely, of course, ...)";
    "pushback_q_rate", D3, "share of user turns pushing back (are you sure, i already told you, why can't ...)";
    "clarify_q_rate", D3, "share of user turns asking for clarification (what do you mean, ...), if not pushback";
    "info_q_rate", D3, "share of user turns asking for information (how much, what is the ...), if neither above";
    "emotion_rate", D4, "share of user turns expressing emotion (frustrated, upset, ugh, ...)";
    "accusation_rate", D4, "share of user turns with blame (useless, unacceptable, your fault, ...)";
    "pivot_rate", D4, "share of user turns changing course (actually, instead, how about, ...)";
    "n_turns", None, "user and assistant messages with text after cleaning (no system, tool or tool-call messages)";
}

/// ID-like tokens: long alphanumeric runs, numbers of 5+ digits, `word_word_123`, payment ids, e-mails.
static ID_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z0-9]{6,}\b|#?\w*\d{5,}\w*|\w+_\w+_\d{3,}|(?:gift_card|credit_card|paypal)_\w+|\w+@\w+\.\w+")
        .expect("valid")
});

/// A trigram repeated more than this many times makes `repeat_rate` 1.
const REPEAT_THRESHOLD: usize = 10;

/// Counts the word trigrams of the user turns (never across turns) by their hashes, confirming a repeat on the
/// words themselves, so a hash collision can never change the result.
#[derive(Default)]
struct TrigramCounter<'a> {
    hashes: Vec<(u64, u32)>,
    trigrams: Vec<[&'a str; 3]>,
}

impl<'a> TrigramCounter<'a> {
    fn add_turn(&mut self, lower: &'a str) {
        let mut window: [&str; 3] = [""; 3];
        let mut hashes = [0u64; 3];
        for (i, word) in lower.split_whitespace().enumerate() {
            window = [window[1], window[2], word];
            hashes = [hashes[1], hashes[2], rustc_hash::FxBuildHasher.hash_one(word)];
            if i >= 2 {
                let hash = hashes[0].rotate_left(42) ^ hashes[1].rotate_left(21) ^ hashes[2];
                self.hashes.push((hash, self.trigrams.len() as u32));
                self.trigrams.push(window);
            }
        }
    }

    /// Whether some trigram occurs more than `threshold` times.
    fn any_more_than(&mut self, threshold: usize) -> bool {
        if self.trigrams.len() <= threshold {
            return false;
        }
        self.hashes.sort_unstable();
        self.hashes.chunk_by(|a, b| a.0 == b.0).filter(|run| run.len() > threshold).any(|run| {
            let mut same: Vec<[&str; 3]> = run.iter().map(|(_, i)| self.trigrams[*i as usize]).collect();
            same.sort_unstable();
            same.chunk_by(|a, b| a == b).any(|words| words.len() > threshold)
        })
    }
}

/// Appends the facet's values for one conversation to `out`.
pub fn compute(conversation: &Prepared<'_>, cues: &Cues, out: &mut Vec<f64>) {
    let turns = conversation.user_turns.len() as f64;
    let rate = |count: usize| count as f64 / turns;
    let words: Vec<usize> = conversation.turns().map(|t| t.usi_words).collect();
    let total_words: usize = words.iter().sum();
    let mean_words = total_words as f64 / turns;

    let (mut polite, mut short, mut formal, mut ack, mut agent_like) = (0, 0, 0, 0, false);
    let (mut uncertain, mut certain, mut pushback, mut clarify, mut info) = (0, 0, 0, 0, 0);
    let (mut emotion, mut accusation, mut pivot, mut ids) = (0, 0, 0, 0);
    let mut trigrams = TrigramCounter::default();
    for turn in conversation.turns() {
        let lower = turn.lower.as_str();
        let cleaned = turn.text.as_deref().unwrap_or_default();
        let hits = cues.usi.matches(lower);
        let hit = |cue: UsiCue| usize::from(hits.matched(cue as usize));
        polite += hit(UsiCue::Politeness);
        short += usize::from(turn.usi_words <= 3);
        formal += usize::from(cleaned.contains(['\u{2014}', '\u{2013}']));
        ack += usize::from(cues.ack_only.is_match(lower.trim()));
        agent_like |= hits.matched(UsiCue::AgentPhrases as usize);
        uncertain += hit(UsiCue::Uncertainty);
        certain += hit(UsiCue::Certainty);
        if hits.matched(UsiCue::Pushback as usize) {
            pushback += 1;
        } else if hits.matched(UsiCue::Clarify as usize) {
            clarify += 1;
        } else if hits.matched(UsiCue::InfoQuestion as usize) {
            info += 1;
        }
        emotion += hit(UsiCue::Emotion);
        accusation += hit(UsiCue::Accusation);
        pivot += hit(UsiCue::Pivot);
        ids += ID_TOKEN.find_iter(lower).count();
        trigrams.add_turn(lower);
    }
    let repeated = trigrams.any_more_than(REPEAT_THRESHOLD);
    let variance = words.iter().map(|&w| (w as f64 - mean_words).powi(2)).sum::<f64>() / turns;
    let frontload: usize = words.iter().take(2).sum();
    out.extend_from_slice(&[
        rate(polite),
        rate(short),
        rate(formal),
        rate(ack),
        if mean_words == 0.0 { 0.0 } else { variance.sqrt() / mean_words },
        f64::from(u8::from(repeated)),
        f64::from(u8::from(agent_like)),
        if total_words == 0 { 0.0 } else { frontload as f64 / total_words as f64 },
        rate(ids),
        mean_words,
        words[0] as f64,
        rate(uncertain),
        rate(certain),
        rate(pushback),
        rate(clarify),
        rate(info),
        rate(emotion),
        rate(accusation),
        rate(pivot),
        conversation.messages.iter().filter(|m| m.is_turn()).count() as f64,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::cues::CueLists;
    use crate::features::text::{MessageView, Reading, prepare};
    use crate::ingest::{Role, SourceKind};
    use std::collections::HashMap;

    /// The features of a conversation given as (role, text) pairs, by name.
    fn features(messages: &[(Role, &str)], kind: SourceKind) -> HashMap<&'static str, f64> {
        let cues = CueLists::built_in().compile().unwrap();
        let views: Vec<MessageView> = messages
            .iter()
            .map(|(role, text)| MessageView { role: *role, content: Some(text), timestamp: None })
            .collect();
        let prepared = prepare(&views, kind, Reading::default()).expect("a user turn");
        let mut out = Vec::new();
        compute(&prepared, &cues, &mut out);
        assert_eq!(out.len(), FEATURES.len());
        FEATURES.iter().map(|(f, _)| f.name).zip(out).collect()
    }

    fn users(texts: &[&str]) -> HashMap<&'static str, f64> {
        let messages: Vec<(Role, &str)> = texts.iter().map(|t| (Role::User, *t)).collect();
        features(&messages, SourceKind::Human)
    }

    const EPS: f64 = 1e-12;

    #[test]
    fn politeness_needs_whole_words() {
        // "pleased" is not "please"; "thank-you" is not "thank you".
        let f = users(&["Please help", "I'm pleased", "THANKS a lot", "thank-you"]);
        assert!((f["politeness_rate"] - 0.5).abs() < EPS, "{}", f["politeness_rate"]);
    }

    #[test]
    fn short_messages_count_words_after_markup() {
        let f = users(&["ok then", "one two three four", "<|think|>long hidden reasoning here<|/think|>fine"]);
        assert!((f["short_msg_rate"] - 2.0 / 3.0).abs() < EPS);
    }

    #[test]
    fn formality_is_dashes_on_cleaned_text() {
        let f = users(&["a \u{2014} b", "a \u{2013} b", "a - b", "plain"]);
        assert!((f["formality_rate"] - 0.5).abs() < EPS);
    }

    #[test]
    fn ack_only_is_the_whole_turn() {
        let f = users(&["Okay!!", "sounds good.", "yes, ...", "yes please do that", "uh-huh", "Thanks!"]);
        assert!((f["ack_only_rate"] - 5.0 / 6.0).abs() < EPS, "{}", f["ack_only_rate"]);
    }

    #[test]
    fn verbosity_cv_is_population_cv() {
        let f = users(&["a b", "a b c d e f"]); // words 2 and 6: mean 4, std 2
        assert!((f["verbosity_cv"] - 0.5).abs() < EPS);
        assert!((f["user_words_per_turn"] - 4.0).abs() < EPS);
        assert!((f["opening_words"] - 2.0).abs() < EPS);
    }

    #[test]
    fn verbosity_cv_is_zero_without_words() {
        let f = users(&["<|think|>only markup<|/think|>", "<function=x>{}</function>"]);
        assert_eq!(f["verbosity_cv"], 0.0);
        assert_eq!(f["info_frontload"], 0.0);
        assert_eq!(f["short_msg_rate"], 1.0);
        assert_eq!(f["opening_words"], 0.0);
    }

    #[test]
    fn repeat_needs_more_than_ten_trigrams_within_turns() {
        let ten: Vec<&str> = vec!["I want a refund"; 10];
        assert_eq!(users(&ten)["repeat_rate"], 0.0);
        let eleven: Vec<&str> = vec!["I want a refund"; 11];
        assert_eq!(users(&eleven)["repeat_rate"], 1.0);
        // Trigrams do not cross turns: "a b" then "c" eleven times never forms "a b c".
        let split: Vec<&str> = ["a b", "c"].iter().cycle().take(22).copied().collect();
        assert_eq!(users(&split)["repeat_rate"], 0.0);
        // Lower-cased before counting.
        let mixed: Vec<&str> = ["I WANT A", "i want a"].iter().cycle().take(11).copied().collect();
        assert_eq!(users(&mixed)["repeat_rate"], 1.0);
    }

    #[test]
    fn agent_phrasing_flags_the_conversation() {
        assert_eq!(users(&["hi", "How can I help you today?"])["id_confuse_rate"], 1.0);
        assert_eq!(users(&["hi", "Let me check my email"])["id_confuse_rate"], 1.0);
        assert_eq!(users(&["can you help me"])["id_confuse_rate"], 0.0);
    }

    #[test]
    fn frontload_is_first_two_turns_share() {
        let f = users(&["a b c", "d", "e f g h"]);
        assert!((f["info_frontload"] - 0.5).abs() < EPS);
    }

    #[test]
    fn id_tokens_are_counted_non_overlapping() {
        // "reservation" and "booking" count too: any run of 6+ [a-z0-9] does, as the published pattern says.
        // Turn 1: reservation, 8jx2wo, #w2378156, mia_li_3668, sara@example.com; turn 2: booking.
        let f = users(&["Reservation 8JX2WO, order #W2378156, user mia_li_3668, mail sara@example.com", "booking"]);
        assert!((f["id_density"] - (5.0 + 1.0) / 2.0).abs() < EPS, "{}", f["id_density"]);
        let f = users(&["my card is gift_card_7217405 ok"]);
        assert!((f["id_density"] - 1.0).abs() < EPS, "{}", f["id_density"]);
    }

    #[test]
    fn hedges_and_certainty() {
        let f = users(&["I dont remember the date", "definitely tuesday", "maybe", "no"]);
        assert!((f["uncertainty_rate"] - 0.5).abs() < EPS);
        assert!((f["certainty_rate"] - 0.25).abs() < EPS);
    }

    #[test]
    fn question_types_are_exclusive_in_priority_order() {
        let f = users(&[
            "Are you sure? What do you mean? How much is it?", // pushback wins
            "What do you mean? How much is it?",               // clarify wins over info
            "How much is it?",                                 // info
            "Why can't you just do it",                        // pushback
            "hello",
        ]);
        assert!((f["pushback_q_rate"] - 0.4).abs() < EPS);
        assert!((f["clarify_q_rate"] - 0.2).abs() < EPS);
        assert!((f["info_q_rate"] - 0.2).abs() < EPS);
    }

    #[test]
    fn error_reactions() {
        let f = users(&["This is ridiculous and I'm frustrated", "Actually, can we change it", "fine"]);
        assert!((f["emotion_rate"] - 1.0 / 3.0).abs() < EPS);
        assert!((f["accusation_rate"] - 1.0 / 3.0).abs() < EPS, "ridiculous is also an accusation");
        assert!((f["pivot_rate"] - 1.0 / 3.0).abs() < EPS);
    }

    /// Whether one USI cue list matches a (lower-cased) turn.
    fn cue(cue: UsiCue, turn: &str) -> bool {
        CueLists::built_in().compile().unwrap().usi_match(cue, turn)
    }

    #[test]
    fn phrases_with_spaces_are_literal_as_in_the_authors_scorer() {
        // info: `is there ` / `is it ` / `is that ` keep their trailing space, which needs a word after it.
        for (turn, info) in [
            ("is there a table free", true),
            ("is it open on sundays", true),
            ("is there any parking", true),
            ("what else is there?", false),
            ("that is it. thanks", false),
            ("is it?", false),
        ] {
            assert_eq!(cue(UsiCue::InfoQuestion, turn), info, "{turn:?}");
        }
        // info: any one character between `what` and `s the status`, the typographic apostrophe too.
        assert!(cue(UsiCue::InfoQuestion, "what\u{2019}s the status of it"));
        // pivot: one space after wait/actually, no comma.
        assert!(cue(UsiCue::Pivot, "actually can i get the address"));
        assert!(!cue(UsiCue::Pivot, "actually, can i just get the address"));
        assert!(cue(UsiCue::Pivot, "wait could we"));
        // clarify: `that` is required after repeat/say.
        assert!(cue(UsiCue::Clarify, "could you repeat that please"));
        assert!(!cue(UsiCue::Clarify, "could you repeat the reference number"));
        // clarify: the three forms of "what ... mean", no others.
        assert!(cue(UsiCue::Clarify, "what did you mean by late"));
        assert!(!cue(UsiCue::Clarify, "what does you mean"));
        // clarify: `you said` + space + up to 30 characters + `?`, and the closing boundary needs a word character.
        assert!(cue(UsiCue::Clarify, "you said 5pm?ok"));
        assert!(!cue(UsiCue::Clarify, "you said 5pm?"));
        // pushback: `ask me`, a space, anything on the line, a space, `again`.
        assert!(cue(UsiCue::Pushback, "do not ask me for my id again"));
        assert!(cue(UsiCue::Pushback, "don't ask me that again"));
        assert!(!cue(UsiCue::Pushback, "don't ask me again"));
    }

    #[test]
    fn n_turns_counts_user_and_assistant_messages_with_text() {
        let mut f = features(
            &[
                (Role::System, "You are a helpful agent."),
                (Role::User, "change my flight"),
                (Role::Assistant, "Sure."),
                (Role::Tool, "{\"ok\": true}"),
                (Role::User, "thanks"),
            ],
            SourceKind::Simulator,
        );
        assert_eq!(f.remove("n_turns"), Some(3.0), "system and tool messages are not turns");
        let cues = CueLists::built_in().compile().unwrap();
        let tool_call = MessageView { role: Role::Assistant, content: None, timestamp: None };
        let views = [MessageView { role: Role::User, content: Some("hi"), timestamp: None }, tool_call];
        let prepared = prepare(&views, SourceKind::Simulator, Reading::default()).unwrap();
        let mut out = Vec::new();
        compute(&prepared, &cues, &mut out);
        assert_eq!(out[FEATURES.len() - 1], 1.0, "an assistant message without text (a tool call) is not a turn");
    }

    #[test]
    fn only_user_turns_count_and_stop_token_is_dropped() {
        let f = features(
            &[
                (Role::Assistant, "Sorry, please, thank you, how can I help?"),
                (Role::User, "book it"),
                (Role::Assistant, "Done."),
                (Role::User, "###STOP###"),
            ],
            SourceKind::Simulator,
        );
        assert_eq!(f["politeness_rate"], 0.0);
        assert_eq!(f["id_confuse_rate"], 0.0);
        assert_eq!(f["n_turns"], 3.0, "the stop message is not a turn");
        assert_eq!(f["short_msg_rate"], 1.0);
    }

    #[test]
    fn one_turn_conversation() {
        let f = users(&["I need to change my flight to tomorrow please"]);
        assert_eq!(f["info_frontload"], 1.0);
        assert_eq!(f["verbosity_cv"], 0.0);
        assert_eq!(f["opening_words"], 9.0);
        assert_eq!(f["n_turns"], 1.0);
    }
}
