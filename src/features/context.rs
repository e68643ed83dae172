//! Facet `context`: context switching, as the topic distance between consecutive user turns (1 - cosine similarity
//! of their content-word counts).
//!
//! Consumes: a [`Prepared`] conversation (its content words exclude the stopwords). Produces: the values of [`FEATURES`].

use rustc_hash::FxHashMap as HashMap;

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "ctx_topic_shift_mean",
        definition: "mean of 1 - cosine similarity of content words between consecutive user turns that have content words; 0 with fewer than two",
    },
    FeatureDef { name: "ctx_topic_shift_max", definition: "the largest such shift" },
];

fn cosine(a: &HashMap<&str, f64>, b: &HashMap<&str, f64>) -> f64 {
    let dot: f64 = a.iter().filter_map(|(w, x)| b.get(w).map(|y| x * y)).sum();
    let norm = |v: &HashMap<&str, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

pub fn compute(conversation: &Prepared<'_>, _cues: &Cues, out: &mut Vec<f64>) {
    let bags: Vec<HashMap<&str, f64>> = conversation
        .turns()
        .map(|t| {
            let mut bag = HashMap::default();
            for word in t.content_words() {
                *bag.entry(word).or_insert(0.0) += 1.0;
            }
            bag
        })
        .filter(|bag| !bag.is_empty())
        .collect();
    let shifts: Vec<f64> = bags.windows(2).map(|w| 1.0 - cosine(&w[0], &w[1])).collect();
    let mean = if shifts.is_empty() { 0.0 } else { shifts.iter().sum::<f64>() / shifts.len() as f64 };
    out.extend_from_slice(&[mean, shifts.iter().copied().fold(0.0, f64::max)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, users};

    #[test]
    fn shifts() {
        let f = by_name(FEATURES, compute, &users(&["refund headphones", "ok", "refund headphones", "parking hours"]));
        // "ok" is a stopword: bags are [refund headphones] x2 and [parking hours]: shifts 0 and 1.
        assert!((f["ctx_topic_shift_mean"] - 0.5).abs() < 1e-12);
        assert_eq!(f["ctx_topic_shift_max"], 1.0);
    }
}
