//! What a feature column means to a reader of the cluster explanations.
//!
//! Consumes: a column name of `features.parquet`. Produces: [`Meaning`]: a rule-based feature's definition (from
//! the features stage's own list, `simgap features --list`), or that the column is one dimension of a projection
//! (`lexical_NN` of the projected TF-IDF, `emb_NNN` of a supplied embedding), which means nothing alone: the
//! explanations describe such a cluster by its distinctive words instead.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::features::facet::{Facet, columns};

/// What a column means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// A rule-based feature and its one-line definition.
    Defined { definition: &'static str },
    /// One dimension of the lexical or embedding projection: its words say more than its name.
    Projected,
    /// A column simgap does not define (a file from another version): shown by its name.
    Unknown,
}

/// The definitions of every rule-based feature, by column name.
fn definitions() -> &'static BTreeMap<String, String> {
    static DEFINITIONS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DEFINITIONS.get_or_init(|| columns(&Facet::BUILT_IN, 0, 0).into_iter().map(|c| (c.name, c.definition)).collect())
}

/// What `column` means.
pub fn meaning(column: &str) -> Meaning {
    if let Some(definition) = definitions().get(column) {
        return Meaning::Defined { definition: definition.as_str() };
    }
    let dimension = |prefix: &str| {
        column.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if dimension("lexical_") || dimension("emb_") { Meaning::Projected } else { Meaning::Unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_the_features_stage_writes_has_a_meaning() {
        for column in columns(&[Facet::Lexical, Facet::Embedding], 120, 1100) {
            assert_eq!(meaning(&column.name), Meaning::Projected, "{}", column.name);
        }
        for column in columns(&Facet::BUILT_IN, 0, 0) {
            assert!(matches!(meaning(&column.name), Meaning::Defined { .. }), "{}", column.name);
        }
        assert_eq!(
            meaning("style_questions_per_turn"),
            Meaning::Defined { definition: "question marks (? and ？) per user turn" }
        );
        assert_eq!(meaning("lexical_"), Meaning::Unknown);
        assert_eq!(meaning("my_column"), Meaning::Unknown);
    }
}
