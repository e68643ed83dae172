//! The facets and the columns of `features.parquet`: which features each facet has, which function computes them,
//! and the column list a set of settings produces (also printed by `simgap features --list`).
//!
//! Consumes: the facet modules' feature definitions. Produces: [`Facet`], [`Column`], [`columns`] and [`list`].

use serde::{Deserialize, Serialize};

use super::rule::{Compute, FeatureDef};
use super::{context, cooperation, information, repetition, style, termination, timing, usi};

/// A family of features, computed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facet {
    Usi,
    Style,
    Information,
    Cooperation,
    Repetition,
    Context,
    Termination,
    Timing,
    Lexical,
    Embedding,
}

impl Facet {
    /// Every facet simgap computes from the transcripts themselves, in column order.
    pub const BUILT_IN: [Facet; 9] = [
        Facet::Usi,
        Facet::Style,
        Facet::Information,
        Facet::Cooperation,
        Facet::Repetition,
        Facet::Context,
        Facet::Termination,
        Facet::Timing,
        Facet::Lexical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Facet::Usi => "usi",
            Facet::Style => "style",
            Facet::Information => "information",
            Facet::Cooperation => "cooperation",
            Facet::Repetition => "repetition",
            Facet::Context => "context",
            Facet::Termination => "termination",
            Facet::Timing => "timing",
            Facet::Lexical => "lexical",
            Facet::Embedding => "embedding",
        }
    }

    /// Whether the facet reads the tokens of user turns (the others read counts and lower-cased text only).
    pub fn reads_words(self) -> bool {
        matches!(self, Facet::Style | Facet::Information | Facet::Repetition | Facet::Context | Facet::Lexical)
    }

    /// Whether the facet reads assistant messages' text or word counts.
    pub fn reads_assistant_text(self) -> bool {
        matches!(self, Facet::Information | Facet::Cooperation | Facet::Termination)
    }

    /// The fixed features of a rule-based facet and the function computing them; `None` for lexical and embedding,
    /// whose columns depend on settings.
    pub fn rules(self) -> Option<(Vec<FeatureDef>, Compute)> {
        let (defs, compute): (Vec<FeatureDef>, Compute) = match self {
            Facet::Usi => (usi::FEATURES.iter().map(|(f, _)| *f).collect(), usi::compute),
            Facet::Style => (style::FEATURES.to_vec(), style::compute),
            Facet::Information => (information::FEATURES.to_vec(), information::compute),
            Facet::Cooperation => (cooperation::FEATURES.to_vec(), cooperation::compute),
            Facet::Repetition => (repetition::FEATURES.to_vec(), repetition::compute),
            Facet::Context => (context::FEATURES.to_vec(), context::compute),
            Facet::Termination => (termination::FEATURES.to_vec(), termination::compute),
            Facet::Timing => (timing::FEATURES.to_vec(), timing::compute),
            Facet::Lexical | Facet::Embedding => return None,
        };
        Some((defs, compute))
    }
}

/// One output column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    pub facet: Facet,
    pub definition: String,
}

/// The columns the settings produce, in order.
pub fn columns(facets: &[Facet], lexical_dimensions: usize, embedding_dimensions: usize) -> Vec<Column> {
    let mut columns = Vec::new();
    for &facet in facets {
        match facet.rules() {
            Some((defs, _)) => columns.extend(defs.into_iter().map(|d| Column {
                name: d.name.to_owned(),
                facet,
                definition: d.definition.to_owned(),
            })),
            None if facet == Facet::Lexical => columns.extend((0..lexical_dimensions).map(|i| Column {
                name: format!("lexical_{i:02}"),
                facet,
                definition: format!("dimension {i} of the projected TF-IDF of the user's words and bigrams"),
            })),
            None => columns.extend((0..embedding_dimensions).map(|i| Column {
                name: format!("emb_{i:03}"),
                facet,
                definition: format!("dimension {i} of the supplied conversation embedding"),
            })),
        }
    }
    columns
}

/// Every feature of every facet, one line each: name, facet, definition.
pub fn list(lexical_dimensions: usize) -> String {
    let mut out = String::new();
    for column in columns(&Facet::BUILT_IN, lexical_dimensions, 0) {
        if column.facet == Facet::Lexical && column.name != "lexical_00" {
            continue;
        }
        let name = if column.facet == Facet::Lexical { "lexical_00 .. lexical_NN".to_owned() } else { column.name };
        let definition = if column.facet == Facet::Lexical {
            "the user's words and bigrams, TF-IDF weighted, projected to lexical_dimensions (default 64)".to_owned()
        } else {
            column.definition
        };
        out.push_str(&format!("{name:<34} {:<12} {definition}\n", column.facet.name()));
    }
    out.push_str(&format!(
        "{:<34} {:<12} {}\n",
        "emb_000 .. emb_NNN", "embedding", "the vector of [features.embeddings], one column per dimension"
    ));
    out
}
