//! Sample-size warnings of the divergence tables: a side with fewer than [`VALIDATED_PER_CLUSTER`] conversations
//! per cluster (where the simulation study, docs/method.md, did not validate the corrected estimates' intervals),
//! or fewer than 10 (where the plug-in divergences are visibly biased upward).
//!
//! Consumes: the sizes and K of each comparison. Produces: the row's `warning` text and one summary line per
//! (source, size, K) for the log and the manifest.

use super::inputs::Assignments;

/// Conversations per cluster below which the simulation study did not validate the corrected estimates'
/// intervals (docs/method.md: coverage >= 93% measured wherever each side has at least this many).
pub const VALIDATED_PER_CLUSTER: u64 = 4;

pub(super) fn sample_size_warning(source: &str, n: u64, k: usize) -> Option<String> {
    let per_cluster = n as f64 / k as f64;
    if n == 0 {
        Some(format!("{source} has no conversation with a value in this facet"))
    } else if n < VALIDATED_PER_CLUSTER * k as u64 {
        Some(format!(
            "{source} has {n} conversations for k = {k} ({per_cluster:.1} per cluster, under {VALIDATED_PER_CLUSTER}): \
             the corrected estimates' intervals were not validated at this size and the plug-in is biased upward"
        ))
    } else if n < 10 * k as u64 {
        Some(format!(
            "{source} has {n} conversations, fewer than 10 per cluster (k = {k}): the plug-in is biased upward; \
             read the corrected columns"
        ))
    } else {
        None
    }
}

/// The sizes of one comparison: conversations of the reference and of the source with a value in the facet, and K.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    pub n_reference: u64,
    pub n_source: u64,
    pub k: usize,
}

/// The sample-size warnings of the table, one line per (source, size, k) with the facets it concerns; `items` are
/// the (compared source, facet) of each comparison, `sizes` their sizes.
pub(super) fn sample_size_summary(
    items: &[(usize, usize)],
    sizes: &[Sizes],
    assignments: &Assignments,
    compared: &[usize],
    reference: usize,
) -> Vec<String> {
    let mut facets_by_case: std::collections::BTreeMap<(String, u64, usize), Vec<&str>> = Default::default();
    for (&(c, f), estimate) in items.iter().zip(sizes) {
        let sides = [(reference, estimate.n_reference), (compared[c], estimate.n_source)];
        for (source, n) in sides {
            if n < 10 * estimate.k as u64 {
                let list = facets_by_case.entry((assignments.sources[source].clone(), n, estimate.k)).or_default();
                if !list.contains(&assignments.facets[f].as_str()) {
                    list.push(&assignments.facets[f]);
                }
            }
        }
    }
    facets_by_case
        .into_iter()
        .map(|((source, n, k), facets)| {
            let what = if n == 0 {
                "no conversation with a value: no divergences".to_owned()
            } else if n < VALIDATED_PER_CLUSTER * k as u64 {
                format!(
                    "{n} conversations, {:.1} per cluster (k = {k}), under {VALIDATED_PER_CLUSTER}: the plug-in \
                     divergences are biased upward and the corrected ones' intervals were not validated at this size",
                    n as f64 / k as f64
                )
            } else {
                format!(
                    "{n} conversations, fewer than 10 per cluster (k = {k}): the plug-in divergences are biased \
                     upward (the corrected columns remove the bias)"
                )
            };
            format!("{source}: {what} (facets {})", facets.join(", "))
        })
        .collect()
}
