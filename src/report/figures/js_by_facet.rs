//! `js_by_facet`: JS per facet and source with 95% intervals and the human split-half ceiling.
//!
//! Consumes: [`ReportData`] and the [`Format`]. Produces: a [`Plot`]: one panel per facet that has a value (a facet
//! without one, such as `timing` without timestamps, is left out), one row per simulator in the sources' order.

use std::collections::BTreeMap;

use super::axis::{js_axis_max, nice_ticks, tick_label, with_end};
use super::format::Format;
use super::labels::{NAME_CHARS, clean, fit};
use super::lookup::{divergence_rows, unit_of};
use super::palette::{AXIS, CEILING, CEILING_BAND, GRID, MUTED, POINT, STRIPE};
use super::plot::Plot;
use crate::report::data::{DivergenceRow, ReportData, left_out_note};
use crate::report::scene::{Align, Scene, Swatch, TITLE_SIZE, Text, legend_height, text_width};

/// JS from the reference per facet and source, with 95% intervals and the human split-half ceiling.
pub(super) fn js_by_facet(data: &ReportData, format: Format) -> Option<Plot> {
    let facets = facets_with_values(data);
    let headline = data.headline_facet()?;
    let reference = data.reference()?;
    let unit = unit_of(data);
    let (shown, left_out) = data.shown_sources();
    let sources: Vec<String> = shown.into_iter().filter(|s| s != reference).collect();
    if facets.is_empty() || sources.is_empty() {
        return None;
    }
    let by_facet: Vec<BTreeMap<&str, &DivergenceRow>> = facets.iter().map(|f| divergence_rows(data, f)).collect();
    let top = data
        .divergence
        .iter()
        .flat_map(|r| [r.corrected.js.value, r.corrected.js.hi, r.human_ceiling_js_corrected.hi])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let x_max = js_axis_max(top, unit);
    let legend = [
        (Swatch::Dot(POINT), format!("corrected JS from {} with 95% interval", clean(reference, NAME_CHARS))),
        (Swatch::Band(CEILING_BAND, CEILING), "corrected human split-half ceiling (band: 2.5-97.5%)".to_owned()),
    ];
    let layout = FacetLayout::new(&sources, facets.len(), reference, format, &legend);
    let (width, height, margin) = (layout.width, layout.height, format.margin());
    let mut scene = Scene::new(width, height);
    if format.titled() {
        scene.title(&layout.title);
    }
    scene.legend(margin, format.top(), &legend, width - margin);
    let tick_count = if layout.panel_w < 140.0 { 2 } else { 3 };
    let ticks = with_end(nice_ticks(0.0, x_max, tick_count), x_max, 34.0 * x_max / layout.panel_w);
    for (f, facet) in facets.iter().enumerate() {
        let panel = FacetPanel::new(&layout, f, x_max);
        draw_facet_panel(&mut scene, &layout, &panel, facet, &by_facet[f], &sources, &ticks);
    }
    scene.text(
        Text::new(
            margin + layout.label_w,
            height - margin - 6.0,
            format!("x: Jensen-Shannon divergence ({unit}), same scale in every panel"),
            format.tick(),
        )
        .color(MUTED),
    );
    let ks = k_per_facet(&facets, &by_facet);
    let caption = format!(
        "Bias-corrected Jensen-Shannon divergence (two-sample delete-one jackknife) from {reference} per facet \
         (panels) and simulator (rows, closest to {reference} on facet {headline} first), in {unit}, with 95% \
         intervals (bias-aware, calibrated on simulated samples; coverage measured by simulation: docs/method.md); \
         the grey tick and band are the human split-half ceiling corrected the same way (JS between two random parts \
         of {reference}'s conversations, with its 2.5-97.5% range): about 0, what a perfect simulator would show once \
         sampling noise is removed. {ks}.{}{}",
        left_out_facets_note(data, &facets),
        left_out_note(left_out, "tables/facets.csv and divergence.parquet")
    );
    Some(Plot { name: "js_by_facet".to_owned(), title: layout.title, caption, scene })
}

/// The facets, in table order, on which some simulator has a corrected JS (a facet without any value, such as
/// `timing` without timestamps, has nothing to draw).
fn facets_with_values(data: &ReportData) -> Vec<String> {
    let mut facets = data.facets();
    facets.retain(|f| data.divergence.iter().any(|r| &r.facet == f && r.corrected.js.value.is_finite()));
    facets
}

/// " Left out (no value): timing." for the facets without a value; empty when none was left out.
fn left_out_facets_note(data: &ReportData, drawn: &[String]) -> String {
    let left_out: Vec<String> = data.facets().into_iter().filter(|f| !drawn.contains(f)).collect();
    if left_out.is_empty() { String::new() } else { format!(" Left out (no value): {}.", left_out.join(", ")) }
}

/// "K = 40 clusters on every facet", or each facet's K when they differ.
fn k_per_facet(facets: &[String], by_facet: &[BTreeMap<&str, &DivergenceRow>]) -> String {
    let ks: Vec<u64> = by_facet.iter().map(|rows| rows.values().map(|r| r.k).max().unwrap_or(0)).collect();
    if ks.windows(2).all(|w| w[0] == w[1]) {
        format!("K = {} clusters on every facet", ks[0])
    } else {
        let each: Vec<String> = facets.iter().zip(&ks).map(|(f, k)| format!("{f} {k}")).collect();
        format!("K per facet: {}", each.join(", "))
    }
}

/// Where the facet panels go: a grid of panels, one row per source in each, and the figure's size.
struct FacetLayout {
    format: Format,
    /// The height of one source's row.
    row_h: f64,
    /// The sources' names as drawn, in row order.
    labels: Vec<String>,
    /// The width of the name column left of the panels.
    label_w: f64,
    /// Panels per row of the grid.
    columns: usize,
    panel_w: f64,
    panel_h: f64,
    cell_w: f64,
    cell_h: f64,
    title: String,
    /// The top of the first row of panels.
    top_y: f64,
    width: f64,
    height: f64,
}

impl FacetLayout {
    /// The layout of `facet_count` panels with a row for each of `sources`, titled with `reference`, below `legend`:
    /// at most five panels a row, 170 wide on screen and as wide as the row allows on paper.
    fn new(
        sources: &[String],
        facet_count: usize,
        reference: &str,
        format: Format,
        legend: &[(Swatch, String)],
    ) -> Self {
        let margin = format.margin();
        let n = sources.len();
        let row_h = if n > 20 { 16.0 } else { 20.0 };
        let name_size = format.size(format.tick() + 1.0);
        let labels: Vec<String> = sources.iter().map(|s| clean(s, NAME_CHARS)).collect();
        let label_w = labels.iter().map(|l| text_width(l, name_size)).fold(0.0, f64::max) + 10.0;
        let panel_rows = facet_count.div_ceil(5);
        let columns = facet_count.div_ceil(panel_rows);
        let panel_w = match format.width() {
            None => 170.0,
            Some(width) => (width - 2.0 * margin - label_w) / columns as f64 - 16.0,
        };
        let panel_h = n as f64 * row_h;
        let cell_w = panel_w + 16.0;
        let cell_h = 22.0 + panel_h + 22.0 + 12.0;
        let title = format!("Jensen-Shannon divergence from {}, per facet", clean(reference, NAME_CHARS));
        let width = format.width().unwrap_or_else(|| {
            (margin + label_w + columns as f64 * cell_w + margin).max(text_width(&title, TITLE_SIZE) + 2.0 * margin)
        });
        let top_y = format.top() + legend_height(legend, margin, width - margin);
        let height = top_y + panel_rows as f64 * cell_h + 22.0 + margin;
        Self { format, row_h, labels, label_w, columns, panel_w, panel_h, cell_w, cell_h, title, top_y, width, height }
    }
}

/// One facet's panel in the scene: its grid column, corners and JS scale.
struct FacetPanel {
    col: usize,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    x_max: f64,
    width: f64,
}

impl FacetPanel {
    /// The panel of the `f`-th facet, with JS from 0 to `x_max`.
    fn new(layout: &FacetLayout, f: usize, x_max: f64) -> Self {
        let (col, prow) = (f % layout.columns, f / layout.columns);
        let x0 = layout.format.margin() + layout.label_w + col as f64 * layout.cell_w;
        let y0 = layout.top_y + prow as f64 * layout.cell_h + 22.0;
        let (x1, y1) = (x0 + layout.panel_w, y0 + layout.panel_h);
        Self { col, x0, y0, x1, y1, x_max, width: layout.panel_w }
    }

    /// The x coordinate of a JS value, clamped to the panel.
    fn x_of(&self, v: f64) -> f64 {
        self.x0 + (v / self.x_max).clamp(0.0, 1.0) * self.width
    }
}

/// Draws one facet's panel: heading with K, ticks, and each source's row; the names beside the first column.
fn draw_facet_panel(
    scene: &mut Scene,
    layout: &FacetLayout,
    panel: &FacetPanel,
    facet: &str,
    rows: &BTreeMap<&str, &DivergenceRow>,
    sources: &[String],
    ticks: &[f64],
) {
    let (x0, y0, x1, y1) = (panel.x0, panel.y0, panel.x1, panel.y1);
    let (row_h, format) = (layout.row_h, layout.format);
    let (label, tick_size) = (format.label(), format.tick());
    let k = rows.values().map(|r| r.k).max().unwrap_or(0);
    // On paper K is the caption's (every panel alike).
    let heading = if format.titled() {
        format!("{} (K={k})", clean(facet, 22))
    } else {
        fit(&clean(facet, 22), label, layout.panel_w + 12.0)
    };
    scene.text(Text::new(x0, y0 - 10.0, heading, label).bold());
    for (t, tick) in ticks.iter().enumerate() {
        let x = panel.x_of(*tick);
        scene.line(vec![(x, y0), (x, y1)], GRID, 1.0);
        let align = if t == 0 {
            Align::Start
        } else if t + 1 == ticks.len() && x >= x1 - 12.0 {
            Align::End
        } else {
            Align::Middle
        };
        scene.text(Text::new(x, y1 + 9.0, tick_label(*tick), tick_size).align(align).color(MUTED));
    }
    for (i, source) in sources.iter().enumerate() {
        let y = y0 + (i as f64 + 0.5) * row_h;
        if i % 2 == 1 {
            scene.rect(x0, y - row_h / 2.0, x1, y + row_h / 2.0, Some(STRIPE), None);
        }
        if panel.col == 0 {
            let name = Text::new(x0 - 8.0, y, layout.labels[i].clone(), format.size(tick_size + 1.0));
            scene.text(name.align(Align::End));
        }
        let Some(row) = rows.get(source.as_str()) else {
            let missing = Text::new((x0 + x1) / 2.0, y, "n/a", format.size(tick_size - 1.0));
            scene.text(missing.align(Align::Middle).color(MUTED));
            continue;
        };
        draw_source_row(scene, panel, row, y, row_h, format);
    }
    scene.rect(x0, y0, x1, y1, None, Some(AXIS));
}

/// Draws one source's row at height `y`: the ceiling's band and tick, then the JS interval and point (or "n/a").
fn draw_source_row(scene: &mut Scene, panel: &FacetPanel, row: &DivergenceRow, y: f64, row_h: f64, format: Format) {
    let ceiling = row.human_ceiling_js_corrected;
    let half = row_h * 0.4;
    if ceiling.lo.is_finite() && ceiling.hi.is_finite() {
        let (a, b) = (panel.x_of(ceiling.lo), panel.x_of(ceiling.hi).max(panel.x_of(ceiling.lo) + 1.0));
        scene.rect(a, y - half, b, y + half, Some(CEILING_BAND), None);
    }
    if ceiling.value.is_finite() {
        let x = panel.x_of(ceiling.value);
        scene.line(vec![(x, y - half), (x, y + half)], CEILING, 2.0);
    }
    let js = row.corrected.js;
    if js.lo.is_finite() && js.hi.is_finite() {
        let (a, b) = (panel.x_of(js.lo), panel.x_of(js.hi));
        scene.line(vec![(a, y), (b, y)], POINT, 1.5);
        scene.line(vec![(a, y - 3.0), (a, y + 3.0)], POINT, 1.5);
        scene.line(vec![(b, y - 3.0), (b, y + 3.0)], POINT, 1.5);
    }
    if js.value.is_finite() {
        scene.circle(panel.x_of(js.value), y, 3.5, POINT, None);
    } else {
        let (x0, x1) = (panel.x0, panel.x1);
        let missing = Text::new((x0 + x1) / 2.0, y, "n/a", format.size(format.tick() - 1.0));
        scene.text(missing.align(Align::Middle).color(MUTED));
    }
}
