//! Facet `lexical`: what the user talks about, as a hashed bag of the user turns' words and word bigrams, weighted by
//! TF-IDF and reduced to a fixed number of dimensions by a seeded random projection.
//!
//! Consumes: prepared conversations, twice: [`DocumentFrequencies`] (counts, mergeable across threads and batches)
//! from a first pass over the corpus, then one [`project`] per conversation. Produces: `lexical_00` .. `lexical_NN`
//! (the projection of the L2-normalised TF-IDF vector; about unit length). Terms are hashed (FNV-1a) into 2^20
//! buckets; each bucket's projection signs come from a hash of (seed, bucket), so no matrix is stored and the same
//! seed gives the same values on any machine (signs from [`mix64`] of (seed, bucket)). Weights: (1 + ln tf) * (ln((1 + n) / (1 + df)) + 1).

use super::text::Prepared;
use crate::hashing::mix64;

const BUCKETS: usize = 1 << 20;

/// FNV-1a, 64 bits.
fn fnv1a(bytes: impl IntoIterator<Item = u8>, seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The sorted buckets of a conversation's terms with their counts.
pub fn term_counts(conversation: &Prepared<'_>) -> Vec<(u32, u32)> {
    let mut buckets: Vec<u32> = Vec::new();
    for turn in conversation.turns() {
        let words: Vec<&str> = turn.clean_words().collect();
        for (i, word) in words.iter().enumerate() {
            buckets.push((fnv1a(word.bytes(), 0) % BUCKETS as u64) as u32);
            if let Some(next) = words.get(i + 1) {
                let bigram = word.bytes().chain([0x1f]).chain(next.bytes());
                buckets.push((fnv1a(bigram, 0) % BUCKETS as u64) as u32);
            }
        }
    }
    buckets.sort_unstable();
    let mut counts: Vec<(u32, u32)> = Vec::new();
    for bucket in buckets {
        match counts.last_mut() {
            Some((last, count)) if *last == bucket => *count += 1,
            _ => counts.push((bucket, 1)),
        }
    }
    counts
}

/// How many conversations contain each bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFrequencies {
    counts: Vec<u32>,
    documents: u64,
}

impl Default for DocumentFrequencies {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], documents: 0 }
    }
}

impl DocumentFrequencies {
    pub fn add(&mut self, terms: &[(u32, u32)]) {
        for (bucket, _) in terms {
            self.counts[*bucket as usize] += 1;
        }
        self.documents += 1;
    }

    pub fn merge(mut self, other: &DocumentFrequencies) -> Self {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.documents += other.documents;
        self
    }

    /// The counts as JSON, the form in which a shard hands them to the merge: the non-zero buckets only.
    pub fn to_json(&self) -> String {
        let (buckets, counts): (Vec<u32>, Vec<u32>) =
            self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(b, c)| (b as u32, *c)).unzip();
        serde_json::json!({ "documents": self.documents, "buckets": buckets, "counts": counts }).to_string()
    }

    /// Reads what [`Self::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Sparse {
            documents: u64,
            buckets: Vec<u32>,
            counts: Vec<u32>,
        }
        let sparse: Sparse = serde_json::from_str(text).map_err(|e| format!("document frequencies: {e}"))?;
        if sparse.buckets.len() != sparse.counts.len() {
            return Err("document frequencies: as many buckets as counts are needed".into());
        }
        let mut frequencies = Self { documents: sparse.documents, ..Self::default() };
        for (bucket, count) in sparse.buckets.into_iter().zip(sparse.counts) {
            let slot = frequencies.counts.get_mut(bucket as usize).ok_or(format!("bucket {bucket} out of range"))?;
            *slot = count;
        }
        Ok(frequencies)
    }

    fn idf(&self, bucket: u32) -> f64 {
        ((1.0 + self.documents as f64) / (1.0 + f64::from(self.counts[bucket as usize]))).ln() + 1.0
    }
}

/// The TF-IDF vector of `terms`, L2-normalised and projected onto `dimensions` seeded ±1/sqrt(d) directions.
///
/// With sign bits s_jb, y_j = sum_b w_b (2 s_jb - 1) / sqrt(d) = (2 P_j - W) / sqrt(d), where W sums every weight
/// and P_j the weights whose bit j is set; so each term costs one add per set bit and no multiplication.
pub fn project(
    terms: &[(u32, u32)],
    frequencies: &DocumentFrequencies,
    dimensions: usize,
    seed: u64,
    out: &mut Vec<f64>,
) {
    let weights: Vec<(u32, f64)> =
        terms.iter().map(|&(b, tf)| (b, (1.0 + f64::from(tf).ln()) * frequencies.idf(b))).collect();
    let norm = weights.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
    let start = out.len();
    out.resize(start + dimensions, 0.0);
    if norm == 0.0 {
        return;
    }
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let projected = &mut out[start..];
    for (bucket, weight) in &weights {
        for (chunk, dims) in projected.chunks_mut(64).enumerate() {
            let mut bits = mix64(seed ^ (u64::from(*bucket) << 8) ^ chunk as u64);
            if dims.len() < 64 {
                bits &= (1u64 << dims.len()) - 1;
            }
            while bits != 0 {
                dims[bits.trailing_zeros() as usize] += weight;
                bits &= bits - 1;
            }
        }
    }
    let scale = 1.0 / (norm * (dimensions as f64).sqrt());
    for value in projected {
        *value = (2.0 * *value - total) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::prepared;

    #[test]
    fn document_frequencies_survive_their_json_and_merge_as_sums() {
        let mut a = DocumentFrequencies::default();
        a.add(&[(3, 2), (1 << 19, 1)]);
        a.add(&[(3, 1)]);
        let mut b = DocumentFrequencies::default();
        b.add(&[(7, 4)]);
        assert_eq!(DocumentFrequencies::from_json(&a.to_json()).unwrap(), a);
        let merged = a.clone().merge(&b);
        assert_eq!((merged.counts[3], merged.counts[7], merged.documents), (2, 1, 3));
        assert_eq!(merged, b.merge(&a), "merging is a sum: the order does not matter");
        assert!(DocumentFrequencies::from_json(r#"{"documents":1,"buckets":[1048576],"counts":[1]}"#).is_err());
    }

    #[test]
    fn counts_words_and_bigrams() {
        let conversation = prepared(&["Refund, refund please"]);
        let terms = term_counts(&conversation);
        // refund x2, please, "refund refund", "refund please".
        assert_eq!(terms.iter().map(|(_, c)| c).sum::<u32>(), 5);
        assert_eq!(terms.len(), 4);
    }

    #[test]
    fn projection_is_deterministic_and_near_unit_length() {
        let conversations = [prepared(&["my order never arrived"]), prepared(&["book a table for two tonight"])];
        let mut frequencies = DocumentFrequencies::default();
        for c in &conversations {
            frequencies.add(&term_counts(c));
        }
        let mut a = Vec::new();
        project(&term_counts(&conversations[0]), &frequencies, 256, 7, &mut a);
        let mut b = Vec::new();
        project(&term_counts(&conversations[0]), &frequencies, 256, 7, &mut b);
        assert_eq!(a, b);
        let length = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((length - 1.0).abs() < 0.35, "{length}");
        let mut other_seed = Vec::new();
        project(&term_counts(&conversations[0]), &frequencies, 256, 8, &mut other_seed);
        assert_ne!(a, other_seed);
    }

    #[test]
    fn frequencies_merge_as_if_counted_together() {
        let (a, b) = (prepared(&["refund my order"]), prepared(&["refund the flight"]));
        let mut together = DocumentFrequencies::default();
        together.add(&term_counts(&a));
        together.add(&term_counts(&b));
        let (mut left, mut right) = (DocumentFrequencies::default(), DocumentFrequencies::default());
        left.add(&term_counts(&a));
        right.add(&term_counts(&b));
        let merged = left.merge(&right);
        assert_eq!(merged.documents, together.documents);
        assert_eq!(merged.counts, together.counts);
    }

    #[test]
    fn empty_text_projects_to_zero() {
        let mut out = Vec::new();
        project(&[], &DocumentFrequencies::default(), 8, 1, &mut out);
        assert_eq!(out, vec![0.0; 8]);
    }
}
