//! Cluster explanations: what each cluster of a codebook means in words, so a divergence number can be read.
//!
//! Consumes: per facet, the cluster of every conversation, the facet's feature values, and (for a seeded sample
//! of conversations) their user turns. Produces, per (facet, cluster): the features whose member mean is most
//! extreme, as z-scores against all conversations ([`FeatureProfile`]); the most distinctive words by TF-IDF, with
//! the user turns of the cluster's sampled conversations as one document against the other clusters
//! ([`ClusterWords`]); and a few example user turns. Labels (captured / missed / hallucinated) come from the
//! histograms ([`label`]). Memory: K x columns sums per facet, and the words of the sampled conversations.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::exact_sum::ExactSum;

/// How many extreme features, words and example turns a cluster row lists.
pub const TOP_FEATURES: usize = 5;
pub const TOP_WORDS: usize = 8;
pub const EXAMPLES: usize = 3;
/// Example turns are cut to this many characters.
const EXAMPLE_CHARS: usize = 280;

/// Per cluster sums and sums of squares of a facet's features (the totals over every conversation are their sums).
/// The sums are exact ([`ExactSum`]), so profiles added per shard merge to the same bits in any order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub columns: Vec<String>,
    sums: Vec<Vec<ExactSum>>,
    squares: Vec<Vec<ExactSum>>,
    counts: Vec<Vec<u64>>,
}

impl FeatureProfile {
    pub fn new(columns: Vec<String>, k: usize) -> Self {
        let d = columns.len();
        FeatureProfile {
            columns,
            sums: vec![vec![ExactSum::new(); d]; k],
            squares: vec![vec![ExactSum::new(); d]; k],
            counts: vec![vec![0; d]; k],
        }
    }

    /// Adds a batch's rows, `members[cluster]` the rows of each cluster; `values(j, row)` is column j of the row
    /// (NaN = missing). Column by column, then cluster by cluster: one column's values stay in cache while every
    /// cluster reads its rows of it (cluster by cluster over every column, they would be read from memory again for
    /// each cluster). Each sum sees its cluster's rows in row order.
    pub fn add_members(&mut self, members: &[Vec<usize>], values: impl Fn(usize, usize) -> f64) {
        for j in 0..self.columns.len() {
            for (cluster, rows) in members.iter().enumerate() {
                let (sum, square, count) =
                    (&mut self.sums[cluster][j], &mut self.squares[cluster][j], &mut self.counts[cluster][j]);
                for &row in rows {
                    let v = values(j, row);
                    if v.is_nan() {
                        continue;
                    }
                    sum.add(v);
                    square.add(v * v);
                    *count += 1;
                }
            }
        }
    }

    /// Adds another profile of the same facet and codebook.
    pub fn merge(&mut self, other: &FeatureProfile) -> Result<(), String> {
        if other.columns != self.columns || other.sums.len() != self.sums.len() {
            return Err(format!(
                "feature profiles of different codebooks ({} columns and {} clusters, {} and {})",
                self.columns.len(),
                self.sums.len(),
                other.columns.len(),
                other.sums.len()
            ));
        }
        for (mine, theirs) in self.sums.iter_mut().flatten().zip(other.sums.iter().flatten()) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.squares.iter_mut().flatten().zip(other.squares.iter().flatten()) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.counts.iter_mut().flatten().zip(other.counts.iter().flatten()) {
            *mine += theirs;
        }
        Ok(())
    }

    /// Per column over every conversation: (mean, variance, count).
    fn totals(&self) -> Vec<(f64, f64, u64)> {
        (0..self.columns.len())
            .map(|j| {
                let (mut sum, mut squares, mut count) = (ExactSum::new(), ExactSum::new(), 0u64);
                for cluster in 0..self.sums.len() {
                    sum.merge(&self.sums[cluster][j]);
                    squares.merge(&self.squares[cluster][j]);
                    count += self.counts[cluster][j];
                }
                let n = count as f64;
                let mean = sum.value() / n;
                (mean, (squares.value() / n - mean * mean).max(0.0), count)
            })
            .collect()
    }

    /// Every cluster's most extreme features: (name, z) sorted by |z|, largest first.
    pub fn all_extremes(&self) -> Vec<Vec<(String, f64)>> {
        let totals = self.totals();
        (0..self.sums.len()).map(|cluster| self.extremes_with(cluster, &totals)).collect()
    }

    /// The cluster's most extreme features: (name, z) sorted by |z|, largest first.
    pub fn extremes(&self, cluster: usize) -> Vec<(String, f64)> {
        self.extremes_with(cluster, &self.totals())
    }

    fn extremes_with(&self, cluster: usize, totals: &[(f64, f64, u64)]) -> Vec<(String, f64)> {
        let mut scored: Vec<(String, f64)> = (0..self.columns.len())
            .filter(|&j| self.counts[cluster][j] > 0 && totals[j].2 > 1)
            .map(|j| {
                let (mean, variance, _) = totals[j];
                let member_mean = self.sums[cluster][j].value() / self.counts[cluster][j] as f64;
                let z = if variance > 0.0 { (member_mean - mean) / variance.sqrt() } else { 0.0 };
                (self.columns[j].clone(), z)
            })
            .collect();
        scored.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
        scored.truncate(TOP_FEATURES);
        scored
    }
}

/// Word counts per cluster of the sampled conversations' user turns, and a few example turns; counts add and the
/// examples with the smallest hashes win, so word tables merge in any order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterWords {
    #[serde(serialize_with = "sorted_counts")]
    counts: Vec<HashMap<String, u64>>,
    /// (hash, turn): the turns with the smallest hashes are kept, so the choice does not depend on file order.
    examples: Vec<Vec<(u64, String)>>,
}

impl ClusterWords {
    pub fn new(k: usize) -> Self {
        ClusterWords { counts: vec![HashMap::new(); k], examples: vec![Vec::new(); k] }
    }

    /// Adds another table of the same codebook.
    pub fn merge(&mut self, other: &ClusterWords) -> Result<(), String> {
        if other.counts.len() != self.counts.len() {
            return Err(format!("word tables of {} and {} clusters", self.counts.len(), other.counts.len()));
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            for (word, count) in theirs {
                *mine.entry(word.clone()).or_default() += count;
            }
        }
        for (mine, theirs) in self.examples.iter_mut().zip(&other.examples) {
            mine.extend(theirs.iter().cloned());
            mine.sort();
            mine.truncate(EXAMPLES);
        }
        Ok(())
    }

    pub fn add(&mut self, cluster: usize, words: &[&str], example: Option<(u64, &str)>) {
        let counts = &mut self.counts[cluster];
        for word in words {
            match counts.get_mut(*word) {
                Some(count) => *count += 1,
                None => {
                    counts.insert((*word).to_owned(), 1);
                }
            }
        }
        if let Some((hash, text)) = example {
            let examples = &mut self.examples[cluster];
            let full = examples.len() >= EXAMPLES;
            if !full || examples.iter().any(|(h, _)| *h > hash) {
                let cut: String = text.chars().take(EXAMPLE_CHARS).collect();
                examples.push((hash, cut));
                examples.sort();
                examples.truncate(EXAMPLES);
            }
        }
    }

    pub fn examples(&self, cluster: usize) -> Vec<String> {
        self.examples[cluster].iter().map(|(_, t)| t.clone()).collect()
    }

    /// The most distinctive words of each cluster: tf (share of the cluster's words) x ln((1 + C) / (1 + df)),
    /// C = clusters with words, df = clusters using the word; a word every cluster uses scores 0 and is left out.
    pub fn top_words(&self) -> Vec<Vec<String>> {
        let documents = self.counts.iter().filter(|c| !c.is_empty()).count() as f64;
        let mut frequency: HashMap<&str, u64> = HashMap::new();
        for counts in &self.counts {
            for word in counts.keys() {
                *frequency.entry(word.as_str()).or_default() += 1;
            }
        }
        self.counts
            .iter()
            .map(|counts| {
                let length: u64 = counts.values().sum();
                let mut scored: Vec<(&str, f64)> = counts
                    .iter()
                    .map(|(word, &count)| {
                        let idf = ((1.0 + documents) / (1.0 + frequency[word.as_str()] as f64)).ln();
                        (word.as_str(), count as f64 / length as f64 * idf)
                    })
                    .filter(|(_, score)| *score > 0.0)
                    .collect();
                scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                scored.into_iter().take(TOP_WORDS).map(|(w, _)| w.to_owned()).collect()
            })
            .collect()
    }
}

/// Word counts written in word order, so a serialised table does not depend on the hash map's order.
fn sorted_counts<S: serde::Serializer>(counts: &[HashMap<String, u64>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(counts.iter().map(|c| c.iter().collect::<BTreeMap<&String, &u64>>()))
}

/// A cluster's label for one simulator: `missed` when the reference's share is at least `ratio` times the
/// simulator's, `hallucinated` for the reverse, else `captured`; None when neither side has the cluster.
pub fn label(reference_share: f64, source_share: f64, ratio: f64) -> Option<&'static str> {
    if reference_share == 0.0 && source_share == 0.0 {
        None
    } else if reference_share >= ratio * source_share {
        Some("missed")
    } else if source_share >= ratio * reference_share {
        Some("hallucinated")
    } else {
        Some("captured")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_ratio() {
        assert_eq!(label(0.2, 0.1, 2.0), Some("missed"));
        assert_eq!(label(0.2, 0.0, 2.0), Some("missed"));
        assert_eq!(label(0.05, 0.1, 2.0), Some("hallucinated"));
        assert_eq!(label(0.1, 0.15, 2.0), Some("captured"));
        assert_eq!(label(0.0, 0.0, 2.0), None);
    }

    #[test]
    fn z_scores_pick_the_deviating_feature() {
        let mut profile = FeatureProfile::new(vec!["calm".into(), "loud".into()], 2);
        for i in 0..100 {
            let cluster = usize::from(i >= 90);
            let loud = if cluster == 1 { 10.0 } else { 1.0 };
            let values = [1.0 + (i % 2) as f64 * 0.01, loud];
            let mut members = vec![Vec::new(); 2];
            members[cluster].push(0);
            profile.add_members(&members, |j, _| values[j]);
        }
        let extremes = profile.extremes(1);
        assert_eq!(extremes[0].0, "loud");
        assert!(extremes[0].1 > 2.0);
    }

    #[test]
    fn tf_idf_prefers_words_of_one_cluster() {
        let mut words = ClusterWords::new(2);
        words.add(0, &["refund", "refund", "order", "please"], Some((5, "I want a refund")));
        words.add(1, &["flight", "seat", "please"], Some((3, "change my seat")));
        words.add(1, &["flight"], Some((9, "flight")));
        let top = words.top_words();
        assert_eq!(top[0], vec!["refund", "order"]);
        assert_eq!(top[1], vec!["flight", "seat"]);
        assert!(!top[0].contains(&"please".to_owned()), "a word of every cluster is not distinctive");
        assert_eq!(words.examples(1), vec!["change my seat", "flight"]);
    }
}
