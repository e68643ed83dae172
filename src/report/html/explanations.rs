//! "What the clusters mean": for each facet and simulator, the clusters that contribute most to its JS, each with
//! what sets it apart in words a reader can follow.
//!
//! Consumes: [`ReportData`]'s cluster rows. Produces: the section's markup and its facets' anchors for the table of
//! contents. Rule-based features are named by their definitions (the column name on hover); dimensions of the
//! lexical or embedding projection (`lexical_22`) mean nothing alone, so a cluster set apart by them is described by
//! its wording: its most distinctive words, which the divergence stage sampled. A facet is folded except the
//! headline facet; a simulator without a conversation in a facet, and a facet where no simulator has one, are left
//! out (Warnings and notes say so once).

use std::fmt::Write;

use super::feature_names::{Meaning, meaning};
use super::markup::{anchor, escape};
use crate::report::data::{ClusterRow, ReportData, left_out_note};

/// How many clusters of each simulator the explanations list (those contributing most to JS).
const EXPLAINED_CLUSTERS: usize = 6;

/// The section's markup and, per facet explained, its anchor and name.
pub struct Explanations {
    pub body: String,
    pub facets: Vec<(String, String)>,
}

/// Every facet's explanations, the headline facet first and unfolded.
pub fn explanations(data: &ReportData) -> Explanations {
    let reference = data.reference().unwrap_or_default();
    let mut body = format!(
        "<p>For each facet and simulator, the clusters that contribute most to its JS from {}: \
         <span class=\"missed\">missed</span> ({} there at least twice as often), \
         <span class=\"hallucinated\">hallucinated</span> (the simulator at least twice as often) or \
         <span class=\"captured\">captured</span>. What sets a cluster apart: the features furthest from the mean of \
         all conversations (in standard deviations; hover for the column name and the whole definition) and, for \
         its wording, its most distinctive words; then example user turns. Simulators without a conversation in a \
         facet, and facets none has, are left out (see Warnings and notes).</p>",
        escape(reference),
        escape(reference)
    );
    let (_, left_out) = data.shown_sources();
    if left_out > 0 {
        let _ = write!(body, "<p>{}</p>", escape(left_out_note(left_out, "clusters.parquet").trim()));
    }
    let headline = data.headline_facet();
    let mut facets = data.facets();
    if let Some(headline) = &headline {
        facets.retain(|f| f != headline);
        facets.insert(0, headline.clone());
    }
    let mut explained = Vec::new();
    for facet in &facets {
        let id = anchor("clusters", facet);
        let open = headline.as_deref() == Some(facet.as_str());
        if facet_explanations(&mut body, data, facet, &id, open) {
            explained.push((id, facet.clone()));
        }
    }
    Explanations { body, facets: explained }
}

/// The simulators explained on `facet`: those shown (see [`ReportData::shown_sources`]) with a conversation in it.
fn explained_simulators<'a>(data: &ReportData, rows: &[&'a ClusterRow]) -> Vec<&'a str> {
    let reference = data.reference().unwrap_or_default();
    let (shown, left_out) = data.shown_sources();
    let mut simulators: Vec<&str> = Vec::new();
    for row in rows {
        let listed = left_out == 0 || shown.contains(&row.source);
        let has_data = row.count > 0;
        if listed && has_data && row.source != reference && !simulators.contains(&row.source.as_str()) {
            simulators.push(&row.source);
        }
    }
    simulators
}

/// One facet, folded unless `open`; false (and nothing written) when no simulator has a conversation in it.
fn facet_explanations(out: &mut String, data: &ReportData, facet: &str, id: &str, open: bool) -> bool {
    let reference = data.reference().unwrap_or_default();
    let rows: Vec<&ClusterRow> = data.clusters.iter().filter(|c| c.facet == facet).collect();
    let simulators = explained_simulators(data, &rows);
    if simulators.is_empty() {
        return false;
    }
    let _ = write!(
        out,
        "<details id=\"{id}\"{}><summary><h3>Facet {}</h3> ({})</summary>",
        if open { " open" } else { "" },
        escape(facet),
        if simulators.len() == 1 { "1 simulator".to_owned() } else { format!("{} simulators", simulators.len()) }
    );
    for simulator in simulators {
        let mut own: Vec<&&ClusterRow> = rows
            .iter()
            .filter(|r| r.source == simulator && r.js_term.is_finite() && (r.share > 0.0 || r.reference_share > 0.0))
            .collect();
        own.sort_by(|a, b| b.js_term.total_cmp(&a.js_term).then(a.cluster.cmp(&b.cluster)));
        let _ = write!(out, "<h4>{}</h4><ul>", escape(simulator));
        for row in own.iter().take(EXPLAINED_CLUSTERS) {
            cluster_item(out, row, reference);
        }
        out.push_str("</ul>");
    }
    out.push_str("</details>\n");
    true
}

/// One cluster: its label, the two shares, its JS term, what sets it apart, its words and example turns.
fn cluster_item(out: &mut String, row: &ClusterRow, reference: &str) {
    let label = escape(row.label.as_deref().unwrap_or("empty"));
    let _ = write!(
        out,
        "<li><span class=\"{label}\">cluster {} {label}</span>: {:.1}% of {} vs {:.1}% of {}; JS term {:.4}.<br>\
         Set apart by: {}. Distinctive words: {}.",
        row.cluster,
        100.0 * row.reference_share,
        escape(reference),
        100.0 * row.share,
        escape(&row.source),
        row.js_term,
        set_apart_by(&row.extreme_features, &row.extreme_z),
        if row.top_words.is_empty() { "–".to_owned() } else { escape(&row.top_words.join(", ")) }
    );
    for turn in &row.example_turns {
        let _ = write!(out, "<blockquote>{}</blockquote>", escape(turn));
    }
    out.push_str("</li>");
}

/// A definition without its parenthesised asides (examples, details), which the full text on hover keeps:
/// "share of user turns with blame (useless, ...)" reads "share of user turns with blame".
fn without_asides(definition: &str) -> String {
    let mut out = String::with_capacity(definition.len());
    let mut depth = 0usize;
    for c in definition.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",")
}

/// The features furthest from the mean, by their definitions (z in standard deviations); the dimensions of a
/// projection as one "its wording"; `–` when there are none.
fn set_apart_by(features: &[String], z: &[f64]) -> String {
    let mut parts = Vec::new();
    let mut projected = 0;
    for (feature, z) in features.iter().zip(z) {
        match meaning(feature) {
            Meaning::Defined { definition } => parts.push(format!(
                "<span title=\"{}: {}\">{}</span> ({z:+.1} sd)",
                escape(feature),
                escape(definition),
                escape(&without_asides(definition))
            )),
            Meaning::Projected => projected += 1,
            Meaning::Unknown => parts.push(format!("{} ({z:+.1} sd)", escape(feature))),
        }
    }
    if projected > 0 {
        let dimensions = if projected == 1 { "1 dimension".to_owned() } else { format!("{projected} dimensions") };
        parts.push(format!("<span title=\"{dimensions} of the lexical or embedding projection\">its wording</span>"));
    }
    if parts.is_empty() { "–".to_owned() } else { parts.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_set_apart_by_definitions_and_wording_never_by_projection_dimensions() {
        let features = ["accusation_rate", "lexical_22", "lexical_47", "my_column"].map(String::from);
        let shown = set_apart_by(&features, &[5.0, -1.3, -1.2, 0.5]);
        assert_eq!(
            shown,
            "<span title=\"accusation_rate: share of user turns with blame (useless, unacceptable, your fault, ...)\">\
             share of user turns with blame</span> (+5.0 sd); my_column (+0.5 sd); <span title=\"2 dimensions of the \
             lexical or embedding projection\">its wording</span>"
        );
        assert_eq!(set_apart_by(&[], &[]), "–");
        assert_eq!(
            without_asides("numbers that change (for 4 people ... 5 people), per user turn"),
            "numbers that change, per user turn"
        );
    }
}
