//! Facet `style`: how the user writes, beyond the USI features: length in characters, lexical diversity, question
//! and exclamation marks, capitals, emoji, contractions, and first- versus second-person pronouns.
//!
//! Consumes: a [`Prepared`] conversation and the [`Cues`] (pronoun lists). Produces: the values of [`FEATURES`].

use rustc_hash::FxHashMap as HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "style_words_per_turn",
        definition: "mean words per user turn, each CJK character counted as a word",
    },
    FeatureDef { name: "style_chars_per_turn", definition: "mean characters per user turn" },
    FeatureDef {
        name: "style_mattr",
        definition: "lexical diversity: moving-average type-token ratio of the user's words (window 25)",
    },
    FeatureDef { name: "style_questions_per_turn", definition: "question marks (? and ？) per user turn" },
    FeatureDef { name: "style_exclamations_per_turn", definition: "exclamation marks (! and ！) per user turn" },
    FeatureDef { name: "style_capitals_share", definition: "upper-case letters / letters in the user's text" },
    FeatureDef { name: "style_emoji_per_turn", definition: "emoji per user turn" },
    FeatureDef {
        name: "style_contractions_per_word",
        definition: "contractions (don't, I'm, we'll, ...) per user word",
    },
    FeatureDef {
        name: "style_first_person_per_word",
        definition: "first-person pronouns (I, me, we, 我, ...) per user word",
    },
    FeatureDef {
        name: "style_second_person_per_word",
        definition: "second-person pronouns (you, your, 您, ...) per user word",
    },
];

const MATTR_WINDOW: usize = 25;

static CONTRACTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\w+['’](?:t|s|re|ve|ll|d|m)\b").expect("valid"));

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

/// Moving-average type-token ratio: the mean distinct share over every window of `MATTR_WINDOW` words (the plain
/// type-token ratio when there are fewer words; 0 without words).
pub fn mattr(words: &[&str]) -> f64 {
    if words.is_empty() {
        return 0.0;
    }
    if words.len() <= MATTR_WINDOW {
        let mut distinct: Vec<&str> = words.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        return distinct.len() as f64 / words.len() as f64;
    }
    let mut counts: HashMap<&str, usize> = HashMap::default();
    for word in &words[..MATTR_WINDOW] {
        *counts.entry(word).or_default() += 1;
    }
    let mut total = counts.len();
    for i in MATTR_WINDOW..words.len() {
        let leaving = words[i - MATTR_WINDOW];
        let count = counts.get_mut(leaving).expect("in the window");
        *count -= 1;
        if *count == 0 {
            counts.remove(leaving);
        }
        *counts.entry(words[i]).or_default() += 1;
        total += counts.len();
    }
    total as f64 / ((words.len() - MATTR_WINDOW + 1) * MATTR_WINDOW) as f64
}

pub fn compute(conversation: &Prepared<'_>, cues: &Cues, out: &mut Vec<f64>) {
    let turns = conversation.user_turns.len() as f64;
    let (mut chars, mut questions, mut exclamations, mut upper, mut letters, mut emoji) = (0, 0, 0, 0, 0, 0);
    let (mut words, mut contractions, mut first, mut second) = (0, 0, 0, 0);
    let mut all_words: Vec<&str> = Vec::new();
    for turn in conversation.turns() {
        let text = turn.text.as_deref().unwrap_or_default();
        for c in text.chars() {
            chars += 1;
            questions += usize::from(c == '?' || c == '？');
            exclamations += usize::from(c == '!' || c == '！');
            emoji += usize::from(is_emoji(c));
            if c.is_alphabetic() {
                letters += 1;
                upper += usize::from(c.is_uppercase());
            }
        }
        words += turn.words;
        contractions += CONTRACTION.find_iter(&turn.lower).count();
        first += cues.first_person.find_iter(&turn.lower).count();
        second += cues.second_person.find_iter(&turn.lower).count();
        all_words.extend(turn.tokens());
    }
    let per_word = |n: usize| if words == 0 { 0.0 } else { n as f64 / words as f64 };
    out.extend_from_slice(&[
        words as f64 / turns,
        chars as f64 / turns,
        mattr(&all_words),
        questions as f64 / turns,
        exclamations as f64 / turns,
        if letters == 0 { 0.0 } else { upper as f64 / letters as f64 },
        emoji as f64 / turns,
        per_word(contractions),
        per_word(first),
        per_word(second),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, users};

    #[test]
    fn mattr_plain_and_moving() {
        assert_eq!(mattr(&[]), 0.0);
        assert_eq!(mattr(&["a", "b", "a", "c"]), 0.75);
        let repeated = vec!["x"; 50];
        assert!((mattr(&repeated) - 1.0 / 25.0).abs() < 1e-12);
        let distinct: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let refs: Vec<&str> = distinct.iter().map(String::as_str).collect();
        assert_eq!(mattr(&refs), 1.0);
    }

    #[test]
    fn marks_capitals_emoji_pronouns() {
        let f = by_name(FEATURES, compute, &users(&["Why?? I don't KNOW!", "我们 you 😀"]));
        assert_eq!(f["style_words_per_turn"], 4.0);
        // "Why?? I don't KNOW!" is 19 characters, "我们 you 😀" 8.
        assert_eq!(f["style_chars_per_turn"], 13.5);
        assert_eq!(f["style_questions_per_turn"], 1.0);
        assert_eq!(f["style_exclamations_per_turn"], 0.5);
        assert_eq!(f["style_emoji_per_turn"], 0.5);
        assert!((f["style_contractions_per_word"] - 1.0 / 8.0).abs() < 1e-12, "{}", f["style_contractions_per_word"]);
        // Words: why?? i don't know! (4) + 我 们 you 😀 (4). First person: i, 我们. Second: you.
        assert!((f["style_first_person_per_word"] - 2.0 / 8.0).abs() < 1e-12);
        assert!((f["style_second_person_per_word"] - 1.0 / 8.0).abs() < 1e-12);
        // Letters: Why I don t KNOW (12, of which W I K N O W = 6 upper), 我们 (2), you (3).
        assert!((f["style_capitals_share"] - 6.0 / 17.0).abs() < 1e-12, "{}", f["style_capitals_share"]);
    }
}
