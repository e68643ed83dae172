//! Facet `repetition`: whether the user repeats or contradicts itself: word overlap of consecutive turns, requests
//! restated in a later turn, and numbers that change for the same thing.
//!
//! Consumes: a [`Prepared`] conversation (its content words exclude the stopwords). Produces: the values of [`FEATURES`].

use rustc_hash::FxHashMap as HashMap;

use super::FeatureDef;
use super::cues::Cues;
use super::text::Prepared;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "rep_consecutive_similarity",
        definition: "mean Jaccard similarity of the word sets of consecutive user turns; 0 with one turn",
    },
    FeatureDef {
        name: "rep_restated_rate",
        definition: "share of later user turns whose content words overlap an earlier turn's by Jaccard >= 0.6",
    },
    FeatureDef {
        name: "rep_contradictions_per_turn",
        definition: "numbers that change for the same preceding word (for 4 people ... for 5 people), per user turn",
    },
];

const RESTATED_JACCARD: f64 = 0.6;

/// Jaccard similarity of two sorted, deduplicated word lists (0 when both are empty).
pub fn jaccard(a: &[&str], b: &[&str]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / (a.len() + b.len() - shared) as f64
}

/// A sorted set of words, as a vector.
fn word_set<'t>(words: impl Iterator<Item = &'t str>) -> Vec<&'t str> {
    let mut set: Vec<&str> = words.collect();
    set.sort_unstable();
    set.dedup();
    set
}

pub fn compute(conversation: &Prepared<'_>, _cues: &Cues, out: &mut Vec<f64>) {
    let turns = conversation.user_turns.len();
    let word_sets: Vec<Vec<&str>> = conversation.turns().map(|t| word_set(t.tokens())).collect();
    let content_sets: Vec<Vec<&str>> = conversation.turns().map(|t| word_set(t.content_words())).collect();
    let consecutive = if turns < 2 {
        0.0
    } else {
        word_sets.windows(2).map(|w| jaccard(&w[0], &w[1])).sum::<f64>() / (turns - 1) as f64
    };
    let restated = (1..turns)
        .filter(|&i| {
            !content_sets[i].is_empty()
                && content_sets[..i].iter().any(|earlier| jaccard(earlier, &content_sets[i]) >= RESTATED_JACCARD)
        })
        .count();
    // The number said after each word, and how often it changed.
    let mut numbers: HashMap<&str, &str> = HashMap::default();
    let mut contradictions = 0usize;
    for turn in conversation.turns() {
        let words: Vec<&str> =
            turn.tokens().map(|t| t.trim_matches(|c: char| !c.is_alphanumeric() && c != ':')).collect();
        for pair in words.windows(2) {
            let (key, value) = (pair[0], pair[1]);
            if value.chars().next().is_some_and(|c| c.is_ascii_digit()) && key.chars().all(char::is_alphabetic) {
                if let Some(previous) = numbers.insert(key, value) {
                    contradictions += usize::from(previous != value);
                }
            }
        }
    }
    out.extend_from_slice(&[
        consecutive,
        if turns < 2 { 0.0 } else { restated as f64 / (turns - 1) as f64 },
        contradictions as f64 / turns as f64,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, users};

    #[test]
    fn similarity_restatement_contradiction() {
        let f = by_name(
            FEATURES,
            compute,
            &users(&["book a table for 4 people", "a table for 5 people", "book a table for 5 people tonight"]),
        );
        // Consecutive word-set Jaccard: {book,a,table,for,4,people} vs {a,table,for,5,people}: 4/7;
        // then {a,table,for,5,people} vs {book,a,table,for,5,people,tonight}: 5/7.
        assert!((f["rep_consecutive_similarity"] - (4.0 / 7.0 + 5.0 / 7.0) / 2.0).abs() < 1e-12);
        // Content words: {book,table,4,people}, {table,5,people}, {book,table,5,people,tonight}.
        // Turn 2 vs 1: 2/5; turn 3 vs 1: 3/6, vs 2: 3/5 = 0.6 -> restated.
        assert_eq!(f["rep_restated_rate"], 0.5);
        // "for 4" then "for 5": one change; "for 5" again: none.
        assert!((f["rep_contradictions_per_turn"] - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_turn_is_zero() {
        let f = by_name(FEATURES, compute, &users(&["hello there"]));
        assert_eq!(f["rep_consecutive_similarity"], 0.0);
        assert_eq!(f["rep_restated_rate"], 0.0);
    }
}
