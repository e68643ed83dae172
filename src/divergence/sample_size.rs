//! Sample-size warnings of the divergence tables: a side with fewer than [`VALIDATED_PER_CLUSTER`] conversations
//! per cluster (where the simulation study, docs/method.md, did not validate the corrected estimates' intervals),
//! or fewer than 10 (where the plug-in divergences are visibly biased upward).
//!
//! Consumes: the sizes and K of each comparison. Produces: the row's `warning` text, and for the log and the
//! manifest each fact once: one summary line per (shortfall, K, facets) naming every source it concerns (a facet
//! that three simulators lack is one line, not three).

use std::collections::BTreeMap;

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

/// How short of conversations one side of a comparison is: what its summary line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shortfall {
    /// No conversation with a value in the facet (timing without timestamps, say): no divergences.
    NoValue,
    /// Under [`VALIDATED_PER_CLUSTER`] per cluster.
    Unvalidated,
    /// Under 10 per cluster.
    Biased,
}

impl Shortfall {
    fn of(n: u64, k: usize) -> Option<Self> {
        if n == 0 {
            Some(Shortfall::NoValue)
        } else if n < VALIDATED_PER_CLUSTER * k as u64 {
            Some(Shortfall::Unvalidated)
        } else if n < 10 * k as u64 {
            Some(Shortfall::Biased)
        } else {
            None
        }
    }
}

/// One fact of the summary: a shortfall at a K on a list of facets.
type Fact<'a> = (Shortfall, usize, Vec<&'a str>);

/// The sample-size warnings of the table, each fact once: one line per (shortfall, K, facets) naming every source it
/// concerns. `items` are the (compared source, facet) of each comparison, `sizes` their sizes; `sources` and
/// `facets` name the indices.
pub(super) fn sample_size_summary(
    items: &[(usize, usize)],
    sizes: &[Sizes],
    sources: &[String],
    facets: &[String],
    compared: &[usize],
    reference: usize,
) -> Vec<String> {
    // Per (source, n, K): the facets where that side has n conversations.
    let mut facets_by_side: BTreeMap<(&str, u64, usize), Vec<&str>> = BTreeMap::new();
    for (&(c, f), estimate) in items.iter().zip(sizes) {
        for (source, n) in [(reference, estimate.n_reference), (compared[c], estimate.n_source)] {
            if Shortfall::of(n, estimate.k).is_some() {
                let list = facets_by_side.entry((sources[source].as_str(), n, estimate.k)).or_default();
                if !list.contains(&facets[f].as_str()) {
                    list.push(&facets[f]);
                }
            }
        }
    }
    // Per fact: the sources and their sizes.
    let mut sides_by_fact: BTreeMap<Fact, Vec<(&str, u64)>> = BTreeMap::new();
    for ((source, n, k), facets) in facets_by_side {
        let shortfall = Shortfall::of(n, k).expect("only shortfalls were kept");
        sides_by_fact.entry((shortfall, k, facets)).or_default().push((source, n));
    }
    sides_by_fact.into_iter().map(|((shortfall, k, facets), sides)| fact_line(shortfall, k, &facets, &sides)).collect()
}

/// One summary line: the sources, their sizes, what it means, and the facets.
fn fact_line(shortfall: Shortfall, k: usize, facets: &[&str], sides: &[(&str, u64)]) -> String {
    let facets = facets.join(", ");
    let named = |sides: &[(&str, u64)]| sides.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ");
    let who = match sides {
        [(s, n)] => format!("{s} ({n} conversations)"),
        [(_, n), rest @ ..] if rest.iter().all(|(_, m)| m == n) => format!("{} ({n} conversations each)", named(sides)),
        _ => sides.iter().map(|(s, n)| format!("{s} ({n} conversations)")).collect::<Vec<_>>().join(", "),
    };
    match shortfall {
        Shortfall::NoValue => {
            format!("no conversation of {} has a value in facets {facets}: no divergences for them there", named(sides))
        }
        Shortfall::Unvalidated => format!(
            "{who}: under {VALIDATED_PER_CLUSTER} per cluster (k = {k}): the plug-in divergences are biased upward \
             and the corrected ones' intervals were not validated at this size (facets {facets})"
        ),
        Shortfall::Biased => format!(
            "{who}: fewer than 10 per cluster (k = {k}): the plug-in divergences are biased upward (the corrected \
             columns remove the bias) (facets {facets})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_fact_shared_by_several_sources_is_one_line_naming_them_all() {
        // human (0) against three simulators on facets all (0) and timing (1); no simulator has timing values.
        let sources = names(&["human", "sim-a", "sim-b", "sim-c"]);
        let facets = names(&["all", "timing"]);
        let compared = [1, 2, 3];
        let items: Vec<(usize, usize)> = (0..3).flat_map(|c| [(c, 0), (c, 1)]).collect();
        let sizes: Vec<Sizes> = items
            .iter()
            .map(|&(_, f)| Sizes { n_reference: 560, n_source: if f == 0 { 280 } else { 0 }, k: 50 })
            .collect();
        let lines = sample_size_summary(&items, &sizes, &sources, &facets, &compared, 0);
        assert_eq!(
            lines,
            [
                "no conversation of sim-a, sim-b, sim-c has a value in facets timing: no divergences for them there",
                "sim-a, sim-b, sim-c (280 conversations each): fewer than 10 per cluster (k = 50): the plug-in \
                 divergences are biased upward (the corrected columns remove the bias) (facets all)",
            ]
        );
    }

    #[test]
    fn sources_of_different_sizes_share_a_line_with_their_sizes_and_big_ones_are_not_named() {
        let sources = names(&["human", "small", "smaller", "big"]);
        let facets = names(&["all"]);
        let items = [(0, 0), (1, 0), (2, 0)];
        let sizes = [300, 250, 5000].map(|n| Sizes { n_reference: 5000, n_source: n, k: 50 });
        let lines = sample_size_summary(&items, &sizes, &sources, &facets, &[1, 2, 3], 0);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("small (300 conversations), smaller (250 conversations): fewer than 10"),
            "{lines:?}"
        );
        let tiny = [Sizes { n_reference: 5000, n_source: 100, k: 50 }];
        let lines = sample_size_summary(&items[..1], &tiny, &sources, &facets, &[1], 0);
        assert!(lines[0].starts_with("small (100 conversations): under 4 per cluster (k = 50)"), "{lines:?}");
    }
}
