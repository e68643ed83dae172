//! Facet `repetition`: whether the user repeats or contradicts itself: word overlap of consecutive turns, requests
//! restated in a later turn, and numbers that change for the same thing.
//!
//! Consumes: a [`Prepared`] conversation (its content words exclude the stopwords). Produces: the values of [`FEATURES`].

use rustc_hash::FxHashMap as HashMap;

use super::cues::Cues;
use super::rule::FeatureDef;
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

/// How many turns (after the first) restate an earlier one: content-word Jaccard >= 0.6 with any earlier turn.
/// Comparing every pair is quadratic (100,000 user turns took 30 s), so candidates come from a prefix filter, as in
/// set-similarity joins: with the words of every set ordered rarest first, two sets with Jaccard >= t share a word
/// among the first |x| - ceil(t |x|) + 1 words of each, and their sizes are within a factor t. Only earlier turns
/// that pass both are compared in full, so the count is exactly the all-pairs one.
fn restated_turns(sets: &[Vec<&str>]) -> usize {
    // t = 3/5: the prefix keeps |x| - ceil(3 |x| / 5) + 1 words.
    let prefix = |size: usize| size - (3 * size).div_ceil(5) + 1;
    let mut frequency: HashMap<&str, u32> = HashMap::default();
    for word in sets.iter().flatten() {
        *frequency.entry(word).or_default() += 1;
    }
    // Rarest first, ties by the word: (count, word) pairs sorted once, with no lookup per comparison.
    let mut ordered: Vec<(u32, &str)> = frequency.iter().map(|(word, count)| (*count, *word)).collect();
    ordered.sort_unstable();
    let rank: HashMap<&str, u32> = ordered.iter().enumerate().map(|(r, (_, w))| (*w, r as u32)).collect();
    let mut postings: HashMap<u32, Vec<usize>> = HashMap::default();
    let mut seen = vec![usize::MAX; sets.len()];
    let mut restated = 0;
    for (i, set) in sets.iter().enumerate() {
        if set.is_empty() {
            continue;
        }
        let mut ranks: Vec<u32> = set.iter().map(|w| rank[w]).collect();
        ranks.sort_unstable();
        let probe = &ranks[..prefix(ranks.len())];
        let size = set.len();
        let matches = probe.iter().filter_map(|r| postings.get(r)).flatten().any(|&j| {
            let earlier = sets[j].len();
            let candidate = seen[j] != i && 3 * size <= 5 * earlier && 3 * earlier <= 5 * size;
            seen[j] = i;
            candidate && jaccard(&sets[j], set) >= RESTATED_JACCARD
        });
        restated += usize::from(i > 0 && matches);
        for &r in probe {
            postings.entry(r).or_default().push(i);
        }
    }
    restated
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
    let restated = restated_turns(&content_sets);
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
    fn the_prefix_filter_counts_exactly_what_comparing_every_pair_counts() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let vocabulary: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
        for _ in 0..2000 {
            let turns = rng.gen_range(0..9);
            let sets: Vec<Vec<&str>> = (0..turns)
                .map(|_| {
                    let size = rng.gen_range(0..6);
                    word_set((0..size).map(|_| vocabulary[rng.gen_range(0..vocabulary.len())].as_str()))
                })
                .collect();
            let all_pairs = (1..sets.len())
                .filter(|&i| {
                    !sets[i].is_empty()
                        && sets[..i].iter().any(|earlier| jaccard(earlier, &sets[i]) >= RESTATED_JACCARD)
                })
                .count();
            assert_eq!(restated_turns(&sets), all_pairs, "{sets:?}");
        }
    }

    #[test]
    fn one_turn_is_zero() {
        let f = by_name(FEATURES, compute, &users(&["hello there"]));
        assert_eq!(f["rep_consecutive_similarity"], 0.0);
        assert_eq!(f["rep_restated_rate"], 0.0);
    }
}
