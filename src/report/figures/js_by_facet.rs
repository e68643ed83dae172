//! `js_by_facet`: JS per facet and source with 95% intervals and the human split-half ceiling.
//!
//! Consumes: [`ReportData`]. Produces: a [`Plot`].

use std::collections::BTreeMap;

use super::axis::{js_axis_max, nice_ticks, tick_label, with_end};
use super::labels::{NAME_CHARS, clean};
use super::lookup::{compared_sources, divergence_rows, unit_of};
use super::palette::{AXIS, CEILING, CEILING_BAND, GRID, MUTED, POINT, STRIPE};
use super::plot::Plot;
use crate::report::data::{DivergenceRow, ReportData, left_out_note};
use crate::report::scene::{
    Align, LABEL_SIZE, MARGIN, Scene, Swatch, TICK_SIZE, TITLE_SIZE, Text, finite_or, text_width,
};

/// JS from the reference per facet and source, with 95% intervals and the human split-half ceiling.
pub(super) fn js_by_facet(data: &ReportData) -> Option<Plot> {
    let facets = data.facets();
    let headline = data.headline_facet()?;
    let reference = data.reference()?;
    let unit = unit_of(data);
    let (sources, left_out) = sources_closest_first(data, &headline)?;
    if facets.is_empty() {
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
    let layout = FacetLayout::new(&sources, facets.len(), reference);
    let (width, height) = (layout.width, layout.height);
    let mut scene = Scene::new(width, height);
    scene.title(&layout.title);
    let legend = [
        (Swatch::Dot(POINT), format!("corrected JS from {} with 95% interval", clean(reference, NAME_CHARS))),
        (Swatch::Band(CEILING_BAND, CEILING), "corrected human split-half ceiling (band: 2.5-97.5%)".to_owned()),
    ];
    scene.legend(MARGIN, MARGIN + 34.0, &legend, width - MARGIN);
    let ticks = with_end(nice_ticks(0.0, x_max, 3), x_max, 34.0 * x_max / 170.0);
    for (f, facet) in facets.iter().enumerate() {
        let panel = FacetPanel::new(&layout, f, x_max);
        draw_facet_panel(&mut scene, &layout, &panel, facet, &by_facet[f], &sources, &ticks);
    }
    scene.text(
        Text::new(
            MARGIN + layout.label_w,
            height - MARGIN - 6.0,
            format!("x: Jensen-Shannon divergence ({unit}), same scale in every panel"),
            TICK_SIZE,
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
         sampling noise is removed. {ks}.{}",
        left_out_note(left_out, "tables/facets.csv and divergence.parquet")
    );
    Some(Plot { name: "js_by_facet".to_owned(), title: layout.title, caption, scene })
}

/// The simulators to draw, closest to the reference on the `headline` facet first, and how many were left out;
/// none when there is no simulator.
fn sources_closest_first(data: &ReportData, headline: &str) -> Option<(Vec<String>, usize)> {
    let mut sources = compared_sources(data, headline);
    for row in &data.divergence {
        if !sources.contains(&row.source) {
            sources.push(row.source.clone());
        }
    }
    if sources.is_empty() {
        return None;
    }
    let headline_rows = divergence_rows(data, headline);
    let headline_js = |s: &str| headline_rows.get(s).map_or(f64::NAN, |r| r.corrected.js.value);
    sources
        .sort_by(|a, b| finite_or(headline_js(a), f64::INFINITY).total_cmp(&finite_or(headline_js(b), f64::INFINITY)));
    let (shown, left_out) = data.shown_sources();
    if left_out > 0 {
        sources.retain(|s| shown.contains(s));
    }
    Some((sources, left_out))
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
    /// The layout of `facet_count` panels with a row for each of `sources`, titled with `reference`.
    fn new(sources: &[String], facet_count: usize, reference: &str) -> Self {
        let n = sources.len();
        let row_h = if n > 20 { 16.0 } else { 20.0 };
        let labels: Vec<String> = sources.iter().map(|s| clean(s, NAME_CHARS)).collect();
        let label_w = labels.iter().map(|l| text_width(l, TICK_SIZE + 1.0)).fold(0.0, f64::max) + 10.0;
        let panel_rows = facet_count.div_ceil(5);
        let columns = facet_count.div_ceil(panel_rows);
        let panel_w = 170.0;
        let panel_h = n as f64 * row_h;
        let cell_w = panel_w + 16.0;
        let cell_h = 22.0 + panel_h + 22.0 + 12.0;
        let title = format!("Jensen-Shannon divergence from {}, per facet", clean(reference, NAME_CHARS));
        let top_y = MARGIN + 30.0 + 24.0;
        let width =
            (MARGIN + label_w + columns as f64 * cell_w + MARGIN).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
        let height = top_y + panel_rows as f64 * cell_h + 22.0 + MARGIN;
        Self { row_h, labels, label_w, columns, panel_w, panel_h, cell_w, cell_h, title, top_y, width, height }
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
        let x0 = MARGIN + layout.label_w + col as f64 * layout.cell_w;
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
    let row_h = layout.row_h;
    let k = rows.values().map(|r| r.k).max().unwrap_or(0);
    scene.text(Text::new(x0, y0 - 10.0, format!("{} (K={k})", clean(facet, 22)), LABEL_SIZE).bold());
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
        scene.text(Text::new(x, y1 + 9.0, tick_label(*tick), TICK_SIZE).align(align).color(MUTED));
    }
    for (i, source) in sources.iter().enumerate() {
        let y = y0 + (i as f64 + 0.5) * row_h;
        if i % 2 == 1 {
            scene.rect(x0, y - row_h / 2.0, x1, y + row_h / 2.0, Some(STRIPE), None);
        }
        if panel.col == 0 {
            scene.text(Text::new(x0 - 8.0, y, layout.labels[i].clone(), TICK_SIZE + 1.0).align(Align::End));
        }
        let Some(row) = rows.get(source.as_str()) else {
            scene.text(Text::new((x0 + x1) / 2.0, y, "n/a", TICK_SIZE - 1.0).align(Align::Middle).color(MUTED));
            continue;
        };
        draw_source_row(scene, panel, row, y, row_h);
    }
    scene.rect(x0, y0, x1, y1, None, Some(AXIS));
}

/// Draws one source's row at height `y`: the ceiling's band and tick, then the JS interval and point (or "n/a").
fn draw_source_row(scene: &mut Scene, panel: &FacetPanel, row: &DivergenceRow, y: f64, row_h: f64) {
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
        scene.text(Text::new((x0 + x1) / 2.0, y, "n/a", TICK_SIZE - 1.0).align(Align::Middle).color(MUTED));
    }
}
