//! What the figures read of the report data: the unit, K, the compared sources, the divergence rows of a facet and
//! the pairwise JS matrix.
//!
//! Consumes: [`ReportData`]. Produces: those values, with nothing drawn.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::data::{DivergenceRow, ReportData};

/// The unit of the JS values ("nats" unless every row says otherwise).
pub(super) fn unit_of(data: &ReportData) -> &str {
    data.divergence.first().map(|r| r.unit.as_str()).filter(|u| !u.is_empty()).unwrap_or("nats")
}

/// `K = k` for the facet, from the divergence or cluster rows.
pub(super) fn k_of(data: &ReportData, facet: &str) -> String {
    let k = data
        .divergence
        .iter()
        .filter(|r| r.facet == facet)
        .map(|r| r.k)
        .chain(data.clusters.iter().filter(|c| c.facet == facet).map(|c| c.k))
        .max();
    k.map_or_else(|| "K unknown".to_owned(), |k| format!("K = {k} clusters"))
}

pub(super) fn divergence_rows<'a>(data: &'a ReportData, facet: &str) -> BTreeMap<&'a str, &'a DivergenceRow> {
    data.divergence.iter().filter(|r| r.facet == facet).map(|r| (r.source.as_str(), r)).collect()
}

/// The sources (the reference first, then table order) and their symmetric JS matrix on `facet` (NaN: missing).
pub(super) fn pairwise_matrix(data: &ReportData, facet: &str) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
    let rows: Vec<_> = data.pairwise.iter().filter(|r| r.facet == facet).collect();
    if rows.is_empty() {
        return None;
    }
    let present: BTreeSet<&str> = rows.iter().flat_map(|r| [r.source_a.as_str(), r.source_b.as_str()]).collect();
    let mut sources: Vec<String> = data.sources().into_iter().filter(|s| present.contains(s.as_str())).collect();
    for row in &rows {
        for s in [&row.source_a, &row.source_b] {
            if !sources.contains(s) {
                sources.push(s.clone());
            }
        }
    }
    let index: BTreeMap<&str, usize> = sources.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let n = sources.len();
    let mut matrix = vec![vec![f64::NAN; n]; n];
    for row in &rows {
        let (a, b) = (index[row.source_a.as_str()], index[row.source_b.as_str()]);
        if row.js.is_finite() {
            matrix[a][b] = row.js.max(0.0);
        }
    }
    // A pair given one way only counts both ways (JS is symmetric).
    for (a, b) in (0..n).flat_map(|a| ((a + 1)..n).map(move |b| (a, b))) {
        match (matrix[a][b].is_finite(), matrix[b][a].is_finite()) {
            (true, false) => matrix[b][a] = matrix[a][b],
            (false, true) => matrix[a][b] = matrix[b][a],
            _ => {}
        }
    }
    Some((sources, matrix))
}
