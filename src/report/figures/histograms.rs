//! `histograms_<facet>`: each compared source's cluster histogram on the headline facet beside the reference's.
//!
//! Consumes: [`ReportData`] and the [`Format`]. Produces: a [`Plot`]: one panel per simulator, in the sources' order,
//! each with its share axis scaled to its own bars and the reference's outline (which never crosses the axis).

use std::collections::BTreeMap;

use super::axis::{fmt, percent};
use super::format::Format;
use super::labels::{NAME_CHARS, clean, file_safe, fit};
use super::lookup::{divergence_rows, unit_of};
use super::palette::{AXIS, BAR, GRID, MUTED, REFERENCE_AREA};
use super::plot::Plot;
use crate::report::data::{ClusterRow, ReportData, left_out_note};
use crate::report::scene::{Align, INK, Scene, Swatch, TITLE_SIZE, Text, finite_or, text_width};

/// The width of the reference's outline.
const OUTLINE_WIDTH: f64 = 1.5;

/// Each compared source's cluster histogram on `facet` beside the reference's (an outline), one panel per source,
/// clusters ordered by the reference's share.
pub(super) fn histograms(data: &ReportData, facet: &str, format: Format) -> Option<Plot> {
    let reference = data.reference()?;
    let shares = HistogramShares::gather(data, facet, reference)?;
    let unit = unit_of(data);
    let layout = HistogramLayout::new(shares.sources.len(), &shares.clusters, facet, format);
    let (width, height, margin) = (layout.width, layout.height, format.margin());
    let mut scene = Scene::new(width, height);
    if format.titled() {
        scene.title(&layout.title);
    }
    let reference_name = clean(reference, NAME_CHARS);
    let legend = [
        (Swatch::Fill(BAR), "simulator's share".to_owned()),
        (Swatch::Area(REFERENCE_AREA, INK), format!("{reference_name}'s share (reference)")),
    ];
    scene.legend(margin, format.top(), &legend, width - margin);
    for s in 0..shares.sources.len() {
        draw_source_panel(&mut scene, &layout, &shares, s, unit);
    }
    let note = if layout.show_ids { "cluster ids, " } else { "clusters " };
    scene.text(
        Text::new(
            margin + layout.axis_w,
            height - margin - 6.0,
            format!("x: {note}ordered by {reference_name}'s share, largest first; y: share of conversations"),
            format.tick(),
        )
        .color(MUTED),
    );
    let k = shares.k;
    let caption = format!(
        "Cluster histograms on facet {facet} (K = {k} k-means clusters): for each simulator (panels, closest to \
         {reference} first), the share of its conversations in each cluster (bars) against {reference}'s share \
         (grey area with a black outline), clusters ordered by {reference}'s share, largest first; each panel's \
         share axis is scaled to its own data. Panel titles give the plug-in JS divergence from {reference} in \
         {unit}; a bar above the outline is behaviour the simulator \
         over-produces, a gap below it behaviour it misses.{}",
        left_out_note(shares.left_out, "clusters.parquet")
    );
    Some(Plot { name: format!("histograms_{}", file_safe(facet)), title: layout.title, caption, scene })
}

/// The numbers the histograms draw: clusters in the reference's order and each shown source's share of each.
struct HistogramShares {
    /// The largest K of the facet's cluster rows.
    k: u64,
    /// Cluster ids, the reference's largest share first.
    clusters: Vec<u64>,
    /// The reference's share of each cluster, in `clusters` order.
    reference_shares: Vec<f64>,
    /// The shown simulators, in the sources' order (closest to the reference first).
    sources: Vec<String>,
    /// Each source's JS from the reference (NaN when unknown).
    js: Vec<f64>,
    /// `shares[source][cluster]`, NaN where a source has no row.
    shares: Vec<Vec<f64>>,
    /// The top of each source's share axis: a nice number at or above its largest share and the reference's.
    y_max: Vec<f64>,
    /// How many sources were left out of the figure.
    left_out: usize,
}

impl HistogramShares {
    /// Reads the cluster shares of `facet`; none without cluster rows or without a simulator.
    fn gather(data: &ReportData, facet: &str, reference: &str) -> Option<Self> {
        let rows: Vec<&ClusterRow> = data.clusters.iter().filter(|c| c.facet == facet).collect();
        if rows.is_empty() {
            return None;
        }
        let k = rows.iter().map(|r| r.k).max().unwrap_or(0);
        let (clusters, reference_shares) = clusters_by_reference_share(&rows, reference);
        let (shown, left_out) = data.shown_sources();
        let mut sources: Vec<String> =
            shown.into_iter().filter(|s| s != reference && rows.iter().any(|r| &r.source == s)).collect();
        if left_out == 0 {
            for row in &rows {
                if row.source != reference && !sources.contains(&row.source) {
                    sources.push(row.source.clone());
                }
            }
        }
        if sources.is_empty() {
            return None;
        }
        let divergence = divergence_rows(data, facet);
        let js = sources.iter().map(|s| divergence.get(s.as_str()).map_or(f64::NAN, |r| r.js.value)).collect();
        let shares = source_shares(&rows, &sources, &clusters);
        let largest = |values: &[f64]| values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
        let y_max = shares.iter().map(|own| share_axis_max(largest(own).max(largest(&reference_shares)))).collect();
        Some(Self { k, clusters, reference_shares, sources, js, shares, y_max, left_out })
    }
}

/// The top of a share axis: the smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^e at or above the largest share, so
/// that the bars fill most of the panel (8.5% -> 10%, 27% -> 30%, 50% -> 50%).
fn share_axis_max(largest: f64) -> f64 {
    if !(largest.is_finite() && largest > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(largest.log10().floor());
    let steps = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0];
    steps.iter().map(|s| s * power).find(|top| *top >= largest * (1.0 - 1e-9)).unwrap_or(10.0 * power)
}

/// The facet's clusters, the reference's largest share first, and the reference's share of each.
fn clusters_by_reference_share(rows: &[&ClusterRow], reference: &str) -> (Vec<u64>, Vec<f64>) {
    let mut reference_share: BTreeMap<u64, f64> = BTreeMap::new();
    for row in rows {
        let entry = reference_share.entry(row.cluster).or_insert(f64::NAN);
        if row.source == reference || entry.is_nan() {
            *entry = if row.source == reference { row.share } else { row.reference_share };
        }
    }
    let mut clusters: Vec<u64> = reference_share.keys().copied().collect();
    clusters.sort_by(|a, b| finite_or(reference_share[b], -1.0).total_cmp(&finite_or(reference_share[a], -1.0)));
    let reference_shares = clusters.iter().map(|c| reference_share[c]).collect();
    (clusters, reference_shares)
}

/// Each source's share of each cluster (`[source][cluster]`, clusters in `clusters` order), NaN where absent.
fn source_shares(rows: &[&ClusterRow], sources: &[String], clusters: &[u64]) -> Vec<Vec<f64>> {
    let position: BTreeMap<u64, usize> = clusters.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut shares = vec![vec![f64::NAN; clusters.len()]; sources.len()];
    let source_index: BTreeMap<&str, usize> = sources.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    for row in rows {
        if let Some(&s) = source_index.get(row.source.as_str()) {
            shares[s][position[&row.cluster]] = row.share;
        }
    }
    shares
}

/// Where the histogram panels go: a grid of panels, one per source, and the figure's size.
struct HistogramLayout {
    format: Format,
    /// Panels per row of the grid.
    columns: usize,
    panel_w: f64,
    panel_h: f64,
    /// The width of one cluster's bar slot.
    slot: f64,
    /// Whether cluster ids fit under the bars.
    show_ids: bool,
    /// The width left of a panel for its share ticks.
    axis_w: f64,
    cell_w: f64,
    cell_h: f64,
    title: String,
    /// The top of the first row of panels.
    top_y: f64,
    width: f64,
    height: f64,
}

impl HistogramLayout {
    /// The layout of `n` panels of `clusters.len()` bars each, titled with `facet`: on paper, as many panels a row
    /// as fit the width (at most three), each as wide as the row allows.
    fn new(n: usize, clusters: &[u64], facet: &str, format: Format) -> Self {
        let margin = format.margin();
        let axis_w = text_width("100%", format.tick()) + 8.0;
        let (columns, panel_w, panel_h) = match format.width() {
            None => {
                let columns = match n {
                    1 | 2 => n,
                    3 | 4 => 2,
                    _ => 3,
                };
                (columns, (clusters.len() as f64 * 8.0).clamp(220.0, 360.0), 130.0)
            }
            Some(width) => {
                let columns = if n == 4 { 2 } else { n.min(3) };
                (columns, (width - 2.0 * margin) / columns as f64 - axis_w - 18.0, 90.0)
            }
        };
        let panel_rows = n.div_ceil(columns);
        let slot = panel_w / clusters.len() as f64;
        let id_size = format.size(9.0);
        let id_width = clusters.iter().map(|c| text_width(&c.to_string(), id_size)).fold(0.0, f64::max);
        let show_ids = slot >= id_width + 2.0;
        let cell_w = axis_w + panel_w + 18.0;
        let cell_h = 22.0 + panel_h + if show_ids { 16.0 } else { 6.0 } + 10.0;
        let title = format!("Cluster histograms, facet {}", clean(facet, 40));
        let top_y = format.top() + 20.0;
        let width = format.width().unwrap_or_else(|| {
            (margin * 2.0 + columns as f64 * cell_w).max(text_width(&title, TITLE_SIZE) + 2.0 * margin)
        });
        let height = top_y + panel_rows as f64 * cell_h + 24.0 + margin;
        Self { format, columns, panel_w, panel_h, slot, show_ids, axis_w, cell_w, cell_h, title, top_y, width, height }
    }
}

/// One histogram panel's plotting area in the scene, and its share scale.
struct Panel {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    slot: f64,
    y_max: f64,
    height: f64,
    /// The size of its text.
    tick: f64,
}

impl Panel {
    /// The y coordinate of a share, clamped to the panel.
    fn y_of(&self, v: f64) -> f64 {
        self.y1 - (v / self.y_max).clamp(0.0, 1.0) * self.height
    }
}

/// Draws source `s`'s panel: heading, share grid, the reference's area, the source's bars, outline, axes and ids.
fn draw_source_panel(scene: &mut Scene, layout: &HistogramLayout, shares: &HistogramShares, s: usize, unit: &str) {
    let format = layout.format;
    let (col, row) = (s % layout.columns, s / layout.columns);
    let x0 = format.margin() + col as f64 * layout.cell_w + layout.axis_w;
    let y0 = layout.top_y + row as f64 * layout.cell_h + 22.0;
    let (x1, y1) = (x0 + layout.panel_w, y0 + layout.panel_h);
    let y_max = shares.y_max[s];
    let (slot, height, tick) = (layout.slot, layout.panel_h, format.tick());
    let panel = Panel { x0, y0, x1, y1, slot, y_max, height, tick };
    // On paper the unit is the caption's.
    let js = if format.titled() {
        format!("   JS {} {unit}", fmt(shares.js[s], 3))
    } else {
        format!("  JS {}", fmt(shares.js[s], 3))
    };
    let name_room = layout.panel_w + 12.0 - text_width(&js, format.label());
    let name = fit(&clean(&shares.sources[s], NAME_CHARS), format.label(), name_room);
    scene.text(Text::new(x0, y0 - 10.0, format!("{name}{js}"), format.label()).bold());
    for tick in [0.0, y_max / 2.0, y_max] {
        let y = panel.y_of(tick);
        scene.line(vec![(x0, y), (x1, y)], GRID, 1.0);
        scene.text(Text::new(x0 - 4.0, y, percent(tick), panel.tick).align(Align::End));
    }
    draw_reference_area(scene, &panel, &shares.reference_shares);
    draw_source_bars(scene, &panel, &shares.shares[s]);
    draw_reference_outline(scene, &panel, &shares.reference_shares);
    scene.line(vec![(x0, y1), (x1, y1)], AXIS, 1.0);
    scene.line(vec![(x0, y0), (x0, y1)], AXIS, 1.0);
    if layout.show_ids {
        for (i, c) in shares.clusters.iter().enumerate() {
            let x = x0 + (i as f64 + 0.5) * panel.slot;
            let id = Text::new(x, y1 + 8.0, c.to_string(), format.size(9.0));
            scene.text(id.align(Align::Middle).color(MUTED));
        }
    }
}

/// Draws the reference's shares as a grey area, one full-width block per cluster.
fn draw_reference_area(scene: &mut Scene, panel: &Panel, reference_shares: &[f64]) {
    let (x0, y1, slot) = (panel.x0, panel.y1, panel.slot);
    for (i, &share) in reference_shares.iter().enumerate() {
        if share.is_finite() && share > 0.0 {
            scene.rect(
                x0 + i as f64 * slot,
                panel.y_of(share),
                x0 + (i + 1) as f64 * slot,
                y1,
                Some(REFERENCE_AREA),
                None,
            );
        }
    }
}

/// Draws one source's shares as bars, or says it has no conversations on the facet.
fn draw_source_bars(scene: &mut Scene, panel: &Panel, own: &[f64]) {
    let (x0, x1, y1, slot) = (panel.x0, panel.x1, panel.y1, panel.slot);
    if own.iter().all(|v| !v.is_finite()) {
        scene.text(
            Text::new((x0 + x1) / 2.0, panel.y0 + panel.height / 2.0, "no conversations on this facet", panel.tick)
                .align(Align::Middle),
        );
    }
    for (i, &share) in own.iter().enumerate() {
        if share.is_finite() && share > 0.0 {
            let left = x0 + i as f64 * slot + slot * 0.1;
            let right = (x0 + (i + 1) as f64 * slot - slot * 0.1).max(left + 1.0);
            scene.rect(left, panel.y_of(share), right, y1, Some(BAR), None);
        }
    }
}

/// Draws the reference's shares as a black step outline over the bars, kept above the axis (a zero share runs
/// along it, not across it).
fn draw_reference_outline(scene: &mut Scene, panel: &Panel, reference_shares: &[f64]) {
    let (x0, x1, slot) = (panel.x0, panel.x1, panel.slot);
    let floor = panel.y1 - OUTLINE_WIDTH / 2.0;
    let mut step = Vec::with_capacity(2 * reference_shares.len() + 2);
    step.push((x0, floor));
    for (i, &share) in reference_shares.iter().enumerate() {
        let y = panel.y_of(finite_or(share, 0.0)).min(floor);
        step.push((x0 + i as f64 * slot, y));
        step.push((x0 + (i + 1) as f64 * slot, y));
    }
    step.push((x1, floor));
    scene.line(step, INK, OUTLINE_WIDTH);
}

#[cfg(test)]
mod tests {
    use super::super::axis::percent;
    use super::share_axis_max;

    #[test]
    fn the_share_axis_ends_just_above_the_largest_share() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(share_axis_max(0.085), 0.1));
        assert!(close(share_axis_max(0.27), 0.3));
        assert!(close(share_axis_max(0.5), 0.5));
        assert!(close(share_axis_max(0.075), 0.08));
        assert!(close(share_axis_max(0.012), 0.015));
        assert_eq!(share_axis_max(f64::NAN), 1.0);
        assert_eq!([percent(0.04), percent(0.025), percent(0.0)], ["4%", "2.5%", "0%"]);
    }
}
