//! The figures: the divergence tables drawn as SVG (inlined in the HTML report) and PNG, with plotters.
//!
//! Consumes: [`ReportData`]. Produces, in `OUT/figures/`, each as `NAME.svg` and `NAME.png`:
//! `histograms_<facet>` (each simulator's cluster histogram against the reference's on the headline facet),
//! `pairwise_js` (the pairwise JS heatmap), `js_by_facet` (JS per facet with 95% intervals and the human split-half
//! ceiling), `usi_components` (D1-D4, Eval, 100(1-ECE) and USI per simulator; only when USI was computed) and
//! `mds_map` (classical MDS of the JS distances).
//!
//! How: every figure is first laid out as a [`Scene`] ([`super::scene`]) in logical pixels (shapes and text, every
//! position computed here; text widths from a fixed table of glyph advances, [`text_width`]), then drawn by
//! plotters onto its SVG backend and, at [`super::scene::PNG_SCALE`] times the size, onto its bitmap backend. The
//! layout never asks a font, so the SVG bytes depend on the data alone (plotters writes no timestamp) and the SVGs
//! are written on any machine. PNG text needs a TrueType font, read at run time from `SIMGAP_FONT` or common system
//! locations (`SIMGAP_FONT=none` turns the PNGs off); without one the PNGs are skipped with one warning. Text from
//! data (source and facet names) is stripped of control characters and shortened ([`clean`]); plotters' SVG backend
//! XML-escapes every text and attribute. Invariants: no NaN or infinity reaches a coordinate (missing values are
//! drawn as "n/a" or left out); every file is written through a temporary name and renamed. Beyond
//! [`super::data::SHOWN_SOURCES`] sources every figure but the MDS map shows the closest ones and says so. Cost:
//! milliseconds per SVG, tens of milliseconds per PNG; memory: one PNG's pixels (a few tens of MB for the 30-source
//! benchmark).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::data::{ClusterRow, DivergenceRow, ReportData, UsiRow, left_out_note};
use super::scene::{
    Align, Font, INK, LABEL_SIZE, MARGIN, Rgb, Scene, Swatch, TICK_SIZE, TITLE_SIZE, Text, finite_or, font,
    legend_height, place_label, text_width,
};

/// One figure as written.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem, e.g. `js_by_facet`.
    pub name: String,
    pub title: String,
    /// What the figure shows, for the report.
    pub caption: String,
    /// The SVG text (inlined in the HTML report).
    pub svg: String,
    pub svg_path: PathBuf,
    pub png_path: Option<PathBuf>,
}

/// Source names longer than this many characters are shortened with an ellipsis.
const NAME_CHARS: usize = 28;

/// Writes every figure into `dir`; returns them and any warnings.
pub fn write_figures(data: &ReportData, dir: &Path) -> Result<(Vec<Figure>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let mut plots = Vec::new();
    if let Some(facet) = data.headline_facet() {
        plots.extend(histograms(data, &facet));
        plots.extend(pairwise_heatmap(data, &facet));
        plots.extend(js_by_facet(data));
        plots.extend(usi_components(data));
        plots.extend(mds_map(data, &facet, &mut warnings));
    } else {
        plots.extend(usi_components(data));
    }
    remove_stale(dir, &plots);
    let font = if plots.is_empty() { Font { path: None, note: None } } else { font() };
    match (&font.path, &font.note) {
        (None, Some(why)) => warnings.push(format!("PNG figures skipped (the SVGs are written): {why}")),
        (Some(_), Some(note)) => warnings.push(note.clone()),
        _ => {}
    }
    let mut figures = Vec::new();
    for plot in plots {
        let svg = plot.scene.svg()?;
        let svg_path = dir.join(format!("{}.svg", plot.name));
        crate::atomic::write_atomic(&svg_path, svg.as_bytes()).map_err(|e| format!("{}: {e}", svg_path.display()))?;
        let png = dir.join(format!("{}.png", plot.name));
        let png_path = match &font.path {
            Some(_) => match plot.scene.write_png(&png) {
                Ok(()) => Some(png),
                Err(e) => {
                    warnings.push(format!("{}: PNG not written: {e}", png.display()));
                    let _ = std::fs::remove_file(&png);
                    None
                }
            },
            None => {
                let _ = std::fs::remove_file(&png);
                None
            }
        };
        figures.push(Figure { name: plot.name, title: plot.title, caption: plot.caption, svg, svg_path, png_path });
    }
    Ok((figures, warnings))
}

/// Removes the figures a previous run wrote that this run does not draw (another headline facet's histograms, the
/// USI figure of a run that had USI), so the folder never mixes runs.
fn remove_stale(dir: &Path, plots: &[Plot]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, extension)) = name.rsplit_once('.') else { continue };
        let ours = ["pairwise_js", "js_by_facet", "usi_components", "mds_map"].contains(&stem)
            || stem.starts_with("histograms_");
        if ours && ["svg", "png"].contains(&extension) && !plots.iter().any(|p| p.name == stem) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A figure before it is written.
struct Plot {
    name: String,
    title: String,
    caption: String,
    scene: Scene,
}

// ---------------------------------------------------------------------------------------------------------------
// The figures.

/// Each compared source's cluster histogram on `facet` beside the reference's (an outline), one panel per source,
/// clusters ordered by the reference's share.
fn histograms(data: &ReportData, facet: &str) -> Option<Plot> {
    let reference = data.reference()?;
    let rows: Vec<&ClusterRow> = data.clusters.iter().filter(|c| c.facet == facet).collect();
    if rows.is_empty() {
        return None;
    }
    let k = rows.iter().map(|r| r.k).max().unwrap_or(0);
    let mut reference_share: BTreeMap<u64, f64> = BTreeMap::new();
    for row in &rows {
        let entry = reference_share.entry(row.cluster).or_insert(f64::NAN);
        if row.source == reference || entry.is_nan() {
            *entry = if row.source == reference { row.share } else { row.reference_share };
        }
    }
    let mut clusters: Vec<u64> = reference_share.keys().copied().collect();
    clusters.sort_by(|a, b| finite_or(reference_share[b], -1.0).total_cmp(&finite_or(reference_share[a], -1.0)));
    let position: BTreeMap<u64, usize> = clusters.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut sources = compared_sources(data, facet);
    for row in &rows {
        if row.source != reference && !sources.contains(&row.source) {
            sources.push(row.source.clone());
        }
    }
    if sources.is_empty() {
        return None;
    }
    let divergence = divergence_rows(data, facet);
    let unit = unit_of(data);
    let js = |source: &str| divergence.get(source).map_or(f64::NAN, |r| r.js.value);
    sources.sort_by(|a, b| finite_or(js(a), f64::INFINITY).total_cmp(&finite_or(js(b), f64::INFINITY)));
    let (shown, left_out) = data.shown_sources();
    if left_out > 0 {
        sources.retain(|s| shown.contains(s));
    }
    let mut shares = vec![vec![f64::NAN; clusters.len()]; sources.len()];
    let source_index: BTreeMap<&str, usize> = sources.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    for row in &rows {
        if let Some(&s) = source_index.get(row.source.as_str()) {
            shares[s][position[&row.cluster]] = row.share;
        }
    }
    let reference_shares: Vec<f64> = clusters.iter().map(|c| reference_share[c]).collect();
    let top = shares.iter().flatten().chain(&reference_shares).copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
    let y_max = nice_ceil(top);

    let n = sources.len();
    let columns = match n {
        1 | 2 => n,
        3 | 4 => 2,
        _ => 3,
    };
    let panel_rows = n.div_ceil(columns);
    let panel_w = (clusters.len() as f64 * 8.0).clamp(220.0, 360.0);
    let panel_h = 130.0;
    let slot = panel_w / clusters.len() as f64;
    let id_width = clusters.iter().map(|c| text_width(&c.to_string(), 9.0)).fold(0.0, f64::max);
    let show_ids = slot >= id_width + 2.0;
    let axis_w = text_width("100%", TICK_SIZE) + 8.0;
    let cell_w = axis_w + panel_w + 18.0;
    let cell_h = 22.0 + panel_h + if show_ids { 16.0 } else { 6.0 } + 10.0;
    let title = format!("Cluster histograms, facet {}", clean(facet, 40));
    let top_y = MARGIN + 30.0 + 24.0;
    let width = (MARGIN * 2.0 + columns as f64 * cell_w).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
    let height = top_y + panel_rows as f64 * cell_h + 24.0 + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    let reference_name = clean(reference, NAME_CHARS);
    let legend = [
        (Swatch::Fill(BAR), "simulator's share".to_owned()),
        (Swatch::Area(REFERENCE_AREA, INK), format!("{reference_name}'s share (reference)")),
    ];
    scene.legend(MARGIN, MARGIN + 34.0, &legend, width - MARGIN);
    for (s, source) in sources.iter().enumerate() {
        let (col, row) = (s % columns, s / columns);
        let x0 = MARGIN + col as f64 * cell_w + axis_w;
        let y0 = top_y + row as f64 * cell_h + 22.0;
        let (x1, y1) = (x0 + panel_w, y0 + panel_h);
        let heading = format!("{}   JS {} {unit}", clean(source, NAME_CHARS), fmt(js(source), 3));
        scene.text(Text::new(x0, y0 - 10.0, heading, LABEL_SIZE).bold());
        let y_of = |v: f64| y1 - (v / y_max).clamp(0.0, 1.0) * panel_h;
        for tick in [0.0, y_max / 2.0, y_max] {
            let y = y_of(tick);
            scene.line(vec![(x0, y), (x1, y)], GRID, 1.0);
            scene.text(Text::new(x0 - 4.0, y, percent(tick, y_max), TICK_SIZE).align(Align::End));
        }
        for (i, &share) in reference_shares.iter().enumerate() {
            if share.is_finite() && share > 0.0 {
                scene.rect(
                    x0 + i as f64 * slot,
                    y_of(share),
                    x0 + (i + 1) as f64 * slot,
                    y1,
                    Some(REFERENCE_AREA),
                    None,
                );
            }
        }
        let own = &shares[s];
        if own.iter().all(|v| !v.is_finite()) {
            scene.text(
                Text::new((x0 + x1) / 2.0, y0 + panel_h / 2.0, "no conversations on this facet", TICK_SIZE)
                    .align(Align::Middle),
            );
        }
        for (i, &share) in own.iter().enumerate() {
            if share.is_finite() && share > 0.0 {
                let left = x0 + i as f64 * slot + slot * 0.1;
                let right = (x0 + (i + 1) as f64 * slot - slot * 0.1).max(left + 1.0);
                scene.rect(left, y_of(share), right, y1, Some(BAR), None);
            }
        }
        let mut step = Vec::with_capacity(2 * clusters.len() + 2);
        for (i, &share) in reference_shares.iter().enumerate() {
            let y = y_of(finite_or(share, 0.0));
            step.push((x0 + i as f64 * slot, y));
            step.push((x0 + (i + 1) as f64 * slot, y));
        }
        step.insert(0, (x0, y1));
        step.push((x1, y1));
        scene.line(step, INK, 1.5);
        scene.line(vec![(x0, y1), (x1, y1)], AXIS, 1.0);
        scene.line(vec![(x0, y0), (x0, y1)], AXIS, 1.0);
        if show_ids {
            for (i, c) in clusters.iter().enumerate() {
                let x = x0 + (i as f64 + 0.5) * slot;
                scene.text(Text::new(x, y1 + 8.0, c.to_string(), 9.0).align(Align::Middle).color(MUTED));
            }
        }
    }
    let note = if show_ids { "cluster ids, " } else { "clusters " };
    scene.text(
        Text::new(
            MARGIN + axis_w,
            height - MARGIN - 6.0,
            format!("x: {note}ordered by {reference_name}'s share, largest first; y: share of conversations"),
            TICK_SIZE,
        )
        .color(MUTED),
    );
    let caption = format!(
        "Cluster histograms on facet {facet} (K = {k} k-means clusters): for each simulator (panels, closest to \
         {reference} first), the share of its conversations in each cluster (bars) against {reference}'s share \
         (grey area with a black outline), clusters ordered by {reference}'s share, largest first. Panel titles give \
         the JS divergence from {reference} in {unit}; a bar above the outline is behaviour the simulator \
         over-produces, a gap below it behaviour it misses.{}",
        left_out_note(left_out, "clusters.parquet")
    );
    Some(Plot { name: format!("histograms_{}", file_safe(facet)), title, caption, scene })
}

/// The pairwise JS matrix on `facet` as a heatmap.
fn pairwise_heatmap(data: &ReportData, facet: &str) -> Option<Plot> {
    let (sources, matrix) = pairwise_matrix(data, facet)?;
    let (shown, left_out) = data.shown_sources();
    let keep: Vec<usize> = (0..sources.len()).filter(|&i| left_out == 0 || shown.contains(&sources[i])).collect();
    let matrix: Vec<Vec<f64>> = keep.iter().map(|&i| keep.iter().map(|&j| matrix[i][j]).collect()).collect();
    let sources: Vec<String> = keep.iter().map(|&i| sources[i].clone()).collect();
    let n = sources.len();
    let unit = unit_of(data);
    let off_diagonal = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)));
    let top = off_diagonal.clone().map(|(i, j)| matrix[i][j]).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let v_max = js_axis_max(top, unit);
    let cell = (520.0 / n as f64).clamp(16.0, 56.0);
    let label_size = if n <= 12 { LABEL_SIZE } else { TICK_SIZE.min(cell * 0.75) };
    let labels: Vec<String> = sources.iter().map(|s| clean(s, NAME_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l, label_size)).fold(0.0, f64::max) + 8.0;
    let title = format!("Pairwise Jensen-Shannon divergence, facet {}", clean(facet, 40));
    let x0 = MARGIN + label_w;
    let y0 = MARGIN + 54.0;
    let side = cell * n as f64;
    let bar_x = x0 + side + 24.0;
    let bar_h = side.clamp(120.0, 320.0);
    let ticks = with_end(nice_ticks(0.0, v_max, 5), v_max, 14.0 * v_max / bar_h);
    let tick_w = ticks.iter().map(|t| text_width(&fmt(*t, 3), TICK_SIZE)).fold(0.0, f64::max);
    let legend_title = format!("JS ({unit})");
    let width = (bar_x + 16.0 + 6.0 + tick_w.max(text_width(&legend_title, TICK_SIZE) - 22.0) + MARGIN)
        .max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
    let height = y0 + side + label_w + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    let reference = data.reference();
    let value_size = (cell * 0.28).clamp(8.0, 12.0);
    let mut missing = false;
    for (i, row) in matrix.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let (cx, cy) = (x0 + j as f64 * cell, y0 + i as f64 * cell);
            let fill = if v.is_finite() { ramp(v / v_max) } else { NA };
            missing |= !v.is_finite();
            scene.rect(cx, cy, cx + cell, cy + cell, Some(fill), Some(WHITE_INK));
            if n <= 12 {
                let text = if v.is_finite() { fmt(v, 3) } else { "n/a".to_owned() };
                let ink = if luminance(fill) < 0.5 { WHITE_INK } else { INK };
                scene.text(
                    Text::new(cx + cell / 2.0, cy + cell / 2.0, text, value_size).align(Align::Middle).color(ink),
                );
            }
        }
        let is_reference = Some(sources[i].as_str()) == reference;
        let mut row_label =
            Text::new(x0 - 6.0, y0 + (i as f64 + 0.5) * cell, labels[i].clone(), label_size).align(Align::End);
        let mut column_label = Text::new(x0 + (i as f64 + 0.5) * cell, y0 + side + 6.0, labels[i].clone(), label_size)
            .align(Align::End)
            .vertical();
        if is_reference {
            row_label = row_label.bold();
            column_label = column_label.bold();
        }
        scene.text(row_label);
        scene.text(column_label);
    }
    scene.rect(x0, y0, x0 + side, y0 + side, None, Some(AXIS));
    // The colour bar: drawn as thin strips, largest value on top.
    scene.text(Text::new(bar_x, y0 - 16.0, legend_title, TICK_SIZE));
    let strips = 64;
    for s in 0..strips {
        let (a, b) = (s as f64 / strips as f64, (s + 1) as f64 / strips as f64);
        let (top_y, bottom_y) = (y0 + bar_h * (1.0 - b), y0 + bar_h * (1.0 - a));
        scene.rect(bar_x, top_y, bar_x + 16.0, bottom_y + 0.5, Some(ramp((a + b) / 2.0)), None);
    }
    scene.rect(bar_x, y0, bar_x + 16.0, y0 + bar_h, None, Some(AXIS));
    for tick in &ticks {
        let y = y0 + bar_h * (1.0 - tick / v_max);
        scene.line(vec![(bar_x + 16.0, y), (bar_x + 20.0, y)], AXIS, 1.0);
        scene.text(Text::new(bar_x + 22.0, y, tick_label(*tick), TICK_SIZE));
    }
    if missing {
        scene.rect(bar_x, y0 + bar_h + 14.0, bar_x + 16.0, y0 + bar_h + 26.0, Some(NA), Some(AXIS));
        scene.text(Text::new(bar_x + 22.0, y0 + bar_h + 20.0, "n/a", TICK_SIZE));
    }
    let k = k_of(data, facet);
    let caption = format!(
        "Pairwise Jensen-Shannon divergence between {} {n} sources on facet {facet} ({k}), in {unit} (0: the same \
         behaviour distribution; {}: no cluster in common); darker is farther{}. The reference, {}, is in bold.{}{}",
        if left_out > 0 { "these" } else { "all" },
        if unit == "bits" { "1" } else { "ln 2 = 0.693" },
        if n <= 12 { ", and each cell gives the value" } else { "" },
        reference.unwrap_or("the first source"),
        if missing { " Grey cells: a source without conversations on this facet." } else { "" },
        left_out_note(left_out, "pairwise.parquet")
    );
    Some(Plot { name: "pairwise_js".to_owned(), title, caption, scene })
}

/// JS from the reference per facet and source, with 95% intervals and the human split-half ceiling.
fn js_by_facet(data: &ReportData) -> Option<Plot> {
    let facets = data.facets();
    let headline = data.headline_facet()?;
    let reference = data.reference()?;
    let unit = unit_of(data);
    let mut sources = compared_sources(data, &headline);
    for row in &data.divergence {
        if !sources.contains(&row.source) {
            sources.push(row.source.clone());
        }
    }
    if facets.is_empty() || sources.is_empty() {
        return None;
    }
    let headline_rows = divergence_rows(data, &headline);
    let headline_js = |s: &str| headline_rows.get(s).map_or(f64::NAN, |r| r.corrected.js.value);
    sources
        .sort_by(|a, b| finite_or(headline_js(a), f64::INFINITY).total_cmp(&finite_or(headline_js(b), f64::INFINITY)));
    let (shown, left_out) = data.shown_sources();
    if left_out > 0 {
        sources.retain(|s| shown.contains(s));
    }
    let by_facet: Vec<BTreeMap<&str, &DivergenceRow>> = facets.iter().map(|f| divergence_rows(data, f)).collect();
    let top = data
        .divergence
        .iter()
        .flat_map(|r| [r.corrected.js.value, r.corrected.js.hi, r.human_ceiling_js_corrected.hi])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let x_max = js_axis_max(top, unit);
    let n = sources.len();
    let row_h = if n > 20 { 16.0 } else { 20.0 };
    let labels: Vec<String> = sources.iter().map(|s| clean(s, NAME_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l, TICK_SIZE + 1.0)).fold(0.0, f64::max) + 10.0;
    let panel_rows = facets.len().div_ceil(5);
    let columns = facets.len().div_ceil(panel_rows);
    let panel_w = 170.0;
    let panel_h = n as f64 * row_h;
    let cell_w = panel_w + 16.0;
    let cell_h = 22.0 + panel_h + 22.0 + 12.0;
    let title = format!("Jensen-Shannon divergence from {}, per facet", clean(reference, NAME_CHARS));
    let top_y = MARGIN + 30.0 + 24.0;
    let width =
        (MARGIN + label_w + columns as f64 * cell_w + MARGIN).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
    let height = top_y + panel_rows as f64 * cell_h + 22.0 + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    let legend = [
        (Swatch::Dot(POINT), format!("corrected JS from {} with 95% interval", clean(reference, NAME_CHARS))),
        (Swatch::Band(CEILING_BAND, CEILING), "corrected human split-half ceiling (band: 2.5-97.5%)".to_owned()),
    ];
    scene.legend(MARGIN, MARGIN + 34.0, &legend, width - MARGIN);
    let ticks = with_end(nice_ticks(0.0, x_max, 3), x_max, 34.0 * x_max / 170.0);
    for (f, facet) in facets.iter().enumerate() {
        let (col, prow) = (f % columns, f / columns);
        let x0 = MARGIN + label_w + col as f64 * cell_w;
        let y0 = top_y + prow as f64 * cell_h + 22.0;
        let (x1, y1) = (x0 + panel_w, y0 + panel_h);
        let x_of = |v: f64| x0 + (v / x_max).clamp(0.0, 1.0) * panel_w;
        let k = by_facet[f].values().map(|r| r.k).max().unwrap_or(0);
        scene.text(Text::new(x0, y0 - 10.0, format!("{} (K={k})", clean(facet, 22)), LABEL_SIZE).bold());
        for (t, tick) in ticks.iter().enumerate() {
            let x = x_of(*tick);
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
            if col == 0 {
                scene.text(Text::new(x0 - 8.0, y, labels[i].clone(), TICK_SIZE + 1.0).align(Align::End));
            }
            let Some(row) = by_facet[f].get(source.as_str()) else {
                scene.text(Text::new((x0 + x1) / 2.0, y, "n/a", TICK_SIZE - 1.0).align(Align::Middle).color(MUTED));
                continue;
            };
            let ceiling = row.human_ceiling_js_corrected;
            let half = row_h * 0.4;
            if ceiling.lo.is_finite() && ceiling.hi.is_finite() {
                let (a, b) = (x_of(ceiling.lo), x_of(ceiling.hi).max(x_of(ceiling.lo) + 1.0));
                scene.rect(a, y - half, b, y + half, Some(CEILING_BAND), None);
            }
            if ceiling.value.is_finite() {
                let x = x_of(ceiling.value);
                scene.line(vec![(x, y - half), (x, y + half)], CEILING, 2.0);
            }
            let js = row.corrected.js;
            if js.lo.is_finite() && js.hi.is_finite() {
                let (a, b) = (x_of(js.lo), x_of(js.hi));
                scene.line(vec![(a, y), (b, y)], POINT, 1.5);
                scene.line(vec![(a, y - 3.0), (a, y + 3.0)], POINT, 1.5);
                scene.line(vec![(b, y - 3.0), (b, y + 3.0)], POINT, 1.5);
            }
            if js.value.is_finite() {
                scene.circle(x_of(js.value), y, 3.5, POINT, None);
            } else {
                scene.text(Text::new((x0 + x1) / 2.0, y, "n/a", TICK_SIZE - 1.0).align(Align::Middle).color(MUTED));
            }
        }
        scene.rect(x0, y0, x1, y1, None, Some(AXIS));
    }
    scene.text(
        Text::new(
            MARGIN + label_w,
            height - MARGIN - 6.0,
            format!("x: Jensen-Shannon divergence ({unit}), same scale in every panel"),
            TICK_SIZE,
        )
        .color(MUTED),
    );
    let ks: Vec<u64> = by_facet.iter().map(|rows| rows.values().map(|r| r.k).max().unwrap_or(0)).collect();
    let ks = if ks.windows(2).all(|w| w[0] == w[1]) {
        format!("K = {} clusters on every facet", ks[0])
    } else {
        let each: Vec<String> = facets.iter().zip(&ks).map(|(f, k)| format!("{f} {k}")).collect();
        format!("K per facet: {}", each.join(", "))
    };
    let caption = format!(
        "Bias-corrected Jensen-Shannon divergence (two-sample delete-one jackknife) from {reference} per facet \
         (panels) and simulator (rows, closest to {reference} on facet {headline} first), in {unit}, with 95% \
         intervals (bias-aware, calibrated on simulated samples; coverage measured by simulation: docs/method.md); \
         the grey tick and band are the human split-half ceiling corrected the same way (JS between two random parts \
         of {reference}'s conversations, with its 2.5-97.5% range): about 0, what a perfect simulator would show once \
         sampling noise is removed. {ks}.{}",
        left_out_note(left_out, "tables/facets.csv and divergence.parquet")
    );
    Some(Plot { name: "js_by_facet".to_owned(), title, caption, scene })
}

/// The User-Sim Index and its terms per simulator, as grouped horizontal bars.
fn usi_components(data: &ReportData) -> Option<Plot> {
    if data.usi.is_empty() {
        return None;
    }
    type Term = (&'static str, Rgb, fn(&UsiRow) -> f64);
    let all: [Term; 7] = [
        ("D1 style", Rgb(66, 133, 190), |r| r.d[0]),
        ("D2 information", Rgb(72, 166, 90), |r| r.d[1]),
        ("D3 clarification", Rgb(240, 145, 50), |r| r.d[2]),
        ("D4 error reaction", Rgb(150, 105, 190), |r| r.d[3]),
        ("Eval", Rgb(160, 110, 90), |r| r.eval),
        ("100(1-ECE)", Rgb(40, 180, 190), |r| 100.0 * (1.0 - r.ece)),
        ("USI (red: 95% interval)", USI_BAR, |r| r.usi.value),
    ];
    let terms: Vec<&Term> = all.iter().filter(|(_, _, get)| data.usi.iter().any(|r| get(r).is_finite())).collect();
    let (shown, left_out) = data.shown_sources();
    let mut rows: Vec<&UsiRow> = data.usi.iter().filter(|r| left_out == 0 || shown.contains(&r.source)).collect();
    rows.sort_by(|a, b| {
        finite_or(b.usi.value, f64::NEG_INFINITY).total_cmp(&finite_or(a.usi.value, f64::NEG_INFINITY))
    });
    let reference = data.reference().unwrap_or("the reference");
    let bar_h = if rows.len() > 12 { 5.0 } else { 7.0 };
    let group_h = terms.len() as f64 * (bar_h + 1.0) + 12.0;
    let labels: Vec<String> = rows.iter().map(|r| clean(&r.source, NAME_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l, LABEL_SIZE)).fold(0.0, f64::max) + 12.0;
    let plot_w = 520.0;
    let title = format!("User-Sim Index and its terms (0-100, higher is closer to {})", clean(reference, NAME_CHARS));
    let x0 = MARGIN + label_w;
    let mut legend: Vec<(Swatch, String)> =
        terms.iter().map(|(name, colour, _)| (Swatch::Fill(*colour), (*name).to_owned())).collect();
    let has_ceiling = rows.iter().any(|r| r.human_ceiling_usi.is_finite());
    if has_ceiling {
        legend.push((Swatch::Dash(CEILING), "human ceiling (USI between human batches)".to_owned()));
    }
    let width = (x0 + plot_w + 60.0 + MARGIN).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
    let legend_h = legend_height(&legend, MARGIN, width - MARGIN);
    let y0 = MARGIN + 34.0 + legend_h + 8.0;
    let height = y0 + rows.len() as f64 * group_h + 40.0 + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    scene.legend(MARGIN, MARGIN + 34.0, &legend, width - MARGIN);
    let y1 = y0 + rows.len() as f64 * group_h;
    let x_of = |v: f64| x0 + (v / 100.0).clamp(0.0, 1.0) * plot_w;
    for tick in [0.0, 20.0, 40.0, 60.0, 80.0, 100.0] {
        let x = x_of(tick);
        scene.line(vec![(x, y0), (x, y1)], GRID, 1.0);
        scene.text(Text::new(x, y1 + 9.0, fmt(tick, 0), TICK_SIZE).align(Align::Middle).color(MUTED));
    }
    for (g, row) in rows.iter().enumerate() {
        let top = y0 + g as f64 * group_h + 6.0;
        if g % 2 == 1 {
            scene.rect(x0, top - 6.0, x0 + plot_w, top - 6.0 + group_h, Some(STRIPE), None);
        }
        scene.text(Text::new(x0 - 8.0, top + (group_h - 12.0) / 2.0, labels[g].clone(), LABEL_SIZE).align(Align::End));
        for (t, (_, colour, get)) in terms.iter().enumerate() {
            let y = top + t as f64 * (bar_h + 1.0);
            let v = get(row);
            if v.is_finite() {
                scene.rect(x0, y, x_of(v).max(x0 + 1.0), y + bar_h, Some(*colour), None);
            } else {
                scene.text(Text::new(x0 + 3.0, y + bar_h / 2.0, "n/a", 8.0).color(MUTED));
            }
            if *colour == USI_BAR {
                let (lo, hi) = (row.usi.lo, row.usi.hi);
                let mid = y + bar_h / 2.0;
                if lo.is_finite() && hi.is_finite() {
                    scene.line(vec![(x_of(lo), mid), (x_of(hi), mid)], ERROR_BAR, 1.5);
                    scene.line(vec![(x_of(lo), mid - 3.5), (x_of(lo), mid + 3.5)], ERROR_BAR, 1.5);
                    scene.line(vec![(x_of(hi), mid - 3.5), (x_of(hi), mid + 3.5)], ERROR_BAR, 1.5);
                }
                let end = [v, hi].into_iter().filter(|x| x.is_finite()).map(x_of).fold(x0, f64::max);
                scene.text(Text::new(end + 5.0, mid, fmt(v, 1), TICK_SIZE).bold());
            }
        }
        if row.human_ceiling_usi.is_finite() {
            let x = x_of(row.human_ceiling_usi);
            scene.dashed(x, top - 3.0, top + group_h - 9.0, CEILING, 1.5);
        }
    }
    scene.rect(x0, y0, x0 + plot_w, y1, None, Some(AXIS));
    scene.text(Text::new(x0, y1 + 26.0, "score (0-100)", TICK_SIZE).color(MUTED));
    let names: Vec<&str> = terms.iter().map(|t| t.0).collect();
    let missing: Vec<&str> = all.iter().filter(|t| !names.contains(&t.0)).map(|t| t.0).collect();
    let caption = format!(
        "The User-Sim Index against {reference} and its terms per simulator (groups, highest USI first), all on a \
         0-100 scale where 100 is indistinguishable from {reference}: D1-D4 are the Sorensen-Dice similarities of the \
         aggregated feature means of communication style, information pattern, clarification and error reaction, \
         Eval the agreement of post-conversation ratings, 100(1-ECE) the outcome calibration, and USI their mean, \
         with its 95% interval for the true USI (red: the bootstrap spread widened upward by the bias bound of \
         Dice's kink, docs/method.md) and value.{}{}{}",
        if has_ceiling { " Dashed: the human ceiling, the USI between batches of human conversations." } else { "" },
        if missing.is_empty() {
            String::new()
        } else {
            format!(" Not computed on this data (so left out of USI): {}.", missing.join(", "))
        },
        left_out_note(left_out, "tables/usi.csv and usi.parquet")
    );
    Some(Plot { name: "usi_components".to_owned(), title, caption, scene })
}

/// Every source placed in the plane by classical MDS of the JS distances on `facet`.
fn mds_map(data: &ReportData, facet: &str, warnings: &mut Vec<String>) -> Option<Plot> {
    let (mut sources, matrix) = pairwise_matrix(data, facet)?;
    let unit = unit_of(data);
    let to_normalized = if unit == "bits" { 1.0 } else { std::f64::consts::LN_2 };
    let mut distances: Vec<Vec<f64>> =
        matrix.iter().map(|row| row.iter().map(|js| (js / to_normalized).clamp(0.0, 1.0).sqrt()).collect()).collect();
    for (i, row) in distances.iter_mut().enumerate() {
        row[i] = 0.0;
    }
    // Leave out the sources without a distance to some other, the one missing most first.
    let mut left_out = Vec::new();
    loop {
        let missing: Vec<usize> = distances.iter().map(|row| row.iter().filter(|d| !d.is_finite()).count()).collect();
        let Some((worst, &count)) = missing.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))) else {
            break;
        };
        if count == 0 {
            break;
        }
        left_out.push(sources.remove(worst));
        distances.remove(worst);
        for row in &mut distances {
            row.remove(worst);
        }
    }
    if !left_out.is_empty() {
        warnings.push(format!(
            "mds_map: left out {} (no JS distance to every other source on facet {facet})",
            left_out.join(", ")
        ));
    }
    if sources.is_empty() {
        return None;
    }
    let embedding = classical_mds(&distances);
    let n = sources.len();
    let reference = data.reference();
    let points = &embedding.points;
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for &(x, y) in points {
        (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
    }
    let span = (x_hi - x_lo).max(y_hi - y_lo).max(1e-9);
    let pad = 0.12 * span;
    let (x_lo, x_hi, y_lo, y_hi) = (x_lo - pad, x_hi + pad, y_lo - pad, y_hi + pad);
    let side = if n > 15 { 600.0 } else { 520.0 };
    let scale = side / (x_hi - x_lo).max(y_hi - y_lo);
    let (plot_w, plot_h) = ((x_hi - x_lo) * scale, (y_hi - y_lo) * scale);
    let title = format!("MDS map of the sources by JS distance, facet {}", clean(facet, 40));
    let x0 = MARGIN + 48.0;
    let y0 = MARGIN + 40.0;
    let width = (x0 + plot_w + MARGIN).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN).max(x0 + 360.0);
    let height = y0 + plot_h + 52.0 + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    let px = |(x, y): (f64, f64)| (x0 + (x - x_lo) * scale, y0 + (y_hi - y) * scale);
    let tick_step = nice_step((x_hi - x_lo).max(y_hi - y_lo) / 6.0);
    for tick in ticks_between(x_lo, x_hi, tick_step) {
        let (x, _) = px((tick, 0.0));
        scene.line(vec![(x, y0), (x, y0 + plot_h)], GRID, 1.0);
        scene.text(Text::new(x, y0 + plot_h + 9.0, fmt(tick, 2), TICK_SIZE).align(Align::Middle).color(MUTED));
    }
    for tick in ticks_between(y_lo, y_hi, tick_step) {
        let (_, y) = px((0.0, tick));
        scene.line(vec![(x0, y), (x0 + plot_w, y)], GRID, 1.0);
        scene.text(Text::new(x0 - 5.0, y, fmt(tick, 2), TICK_SIZE).align(Align::End).color(MUTED));
    }
    scene.rect(x0, y0, x0 + plot_w, y0 + plot_h, None, Some(AXIS));
    let [first, second] = embedding.explained;
    scene.text(
        Text::new(
            x0 + plot_w / 2.0,
            y0 + plot_h + 28.0,
            format!("MDS dimension 1 ({} of variance)", percent_of(first)),
            TICK_SIZE,
        )
        .align(Align::Middle),
    );
    scene.text(
        Text::new(MARGIN + 2.0, y0 + plot_h / 2.0, format!("MDS dimension 2 ({})", percent_of(second)), TICK_SIZE)
            .align(Align::Middle)
            .vertical(),
    );
    let centres: Vec<(f64, f64)> = points.iter().map(|&p| px(p)).collect();
    let is_reference: Vec<bool> = sources.iter().map(|s| Some(s.as_str()) == reference).collect();
    let radius = |i: usize| if is_reference[i] { 7.0 } else { 5.0 };
    for (i, &(x, y)) in centres.iter().enumerate() {
        if is_reference[i] {
            scene.circle(x, y, radius(i), REFERENCE, Some(INK));
        } else {
            scene.circle(x, y, radius(i), POINT, Some(WHITE_INK));
        }
    }
    let label_size = if n > 15 { TICK_SIZE } else { LABEL_SIZE };
    let mut taken: Vec<[f64; 4]> = centres
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| [x - radius(i), y - radius(i), x + radius(i), y + radius(i)])
        .collect();
    let bounds = [x0, y0, x0 + plot_w, y0 + plot_h];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| !is_reference[i]);
    for i in order {
        let text = clean(&sources[i], NAME_CHARS);
        let (w, h) = (text_width(&text, label_size), label_size);
        let placed = place_label(centres[i], radius(i), w, h, &taken, bounds);
        taken.push(placed.bounds);
        let mut label = Text::new(placed.x, placed.y, text, label_size).align(placed.align);
        if is_reference[i] {
            label = label.bold().color(REFERENCE_INK);
        }
        scene.text(label);
    }
    let k = k_of(data, facet);
    let caption = format!(
        "Classical (Torgerson) multidimensional scaling of the {n} sources from their pairwise Jensen-Shannon \
         distances {} on facet {facet} ({k}; a distance from 0, the same distribution, to 1, no cluster \
         in common): points closer together behave more alike. The reference, {}, is red. The two dimensions carry \
         {} of the variance of the double-centred squared distances ({} and {}); axes in JS-distance units, equal \
         scale on both.{}",
        if unit == "bits" { "sqrt(JS in bits)" } else { "sqrt(JS / ln 2)" },
        reference.unwrap_or("the first source"),
        percent_of(first + second),
        percent_of(first),
        percent_of(second),
        if left_out.is_empty() { String::new() } else { format!(" Left out (no distances): {}.", left_out.join(", ")) }
    );
    Some(Plot { name: "mds_map".to_owned(), title, caption, scene })
}

// ---------------------------------------------------------------------------------------------------------------
// Data helpers.

/// The unit of the JS values ("nats" unless every row says otherwise).
fn unit_of(data: &ReportData) -> &str {
    data.divergence.first().map(|r| r.unit.as_str()).filter(|u| !u.is_empty()).unwrap_or("nats")
}

/// `K = k` for the facet, from the divergence or cluster rows.
fn k_of(data: &ReportData, facet: &str) -> String {
    let k = data
        .divergence
        .iter()
        .filter(|r| r.facet == facet)
        .map(|r| r.k)
        .chain(data.clusters.iter().filter(|c| c.facet == facet).map(|c| c.k))
        .max();
    k.map_or_else(|| "K unknown".to_owned(), |k| format!("K = {k} clusters"))
}

/// The compared sources of a facet, in table order.
fn compared_sources(data: &ReportData, facet: &str) -> Vec<String> {
    let mut sources: Vec<String> = Vec::new();
    for row in data.divergence.iter().filter(|r| r.facet == facet) {
        if !sources.contains(&row.source) {
            sources.push(row.source.clone());
        }
    }
    sources
}

fn divergence_rows<'a>(data: &'a ReportData, facet: &str) -> BTreeMap<&'a str, &'a DivergenceRow> {
    data.divergence.iter().filter(|r| r.facet == facet).map(|r| (r.source.as_str(), r)).collect()
}

/// The sources (the reference first, then table order) and their symmetric JS matrix on `facet` (NaN: missing).
fn pairwise_matrix(data: &ReportData, facet: &str) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
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

// ---------------------------------------------------------------------------------------------------------------
// Classical MDS.

/// A classical MDS embedding in two dimensions.
#[derive(Debug, Clone)]
struct Embedding {
    points: Vec<(f64, f64)>,
    /// The share of the positive eigenvalues' sum carried by each of the two dimensions.
    explained: [f64; 2],
}

/// Torgerson's classical MDS: the double-centred matrix B = -1/2 J D^2 J, its two largest eigenpairs, coordinates
/// v sqrt(lambda) (0 where lambda is not positive). Signs are fixed so that each axis's largest-magnitude coordinate
/// is positive, so the same distances give the same picture.
fn classical_mds(distances: &[Vec<f64>]) -> Embedding {
    let n = distances.len();
    if n == 0 {
        return Embedding { points: Vec::new(), explained: [0.0, 0.0] };
    }
    let squared: Vec<Vec<f64>> = distances.iter().map(|r| r.iter().map(|d| d * d).collect()).collect();
    let row_mean: Vec<f64> = squared.iter().map(|r| r.iter().sum::<f64>() / n as f64).collect();
    let grand = row_mean.iter().sum::<f64>() / n as f64;
    let b: Vec<Vec<f64>> =
        (0..n).map(|i| (0..n).map(|j| -0.5 * (squared[i][j] - row_mean[i] - row_mean[j] + grand)).collect()).collect();
    let (values, vectors) = symmetric_eigen(&b);
    let positive: f64 = values.iter().filter(|v| **v > 0.0).sum();
    let mut axes = [vec![0.0; n], vec![0.0; n]];
    let mut explained = [0.0, 0.0];
    for (axis, out) in axes.iter_mut().enumerate() {
        if axis < n && values[axis] > 1e-12 * positive.max(f64::MIN_POSITIVE) {
            let root = values[axis].sqrt();
            let mut column: Vec<f64> = (0..n).map(|i| vectors[i][axis]).collect();
            let pivot = column
                .iter()
                .enumerate()
                .fold(0, |best, (i, v)| if v.abs() > column[best].abs() + 1e-12 { i } else { best });
            if column[pivot] < 0.0 {
                column.iter_mut().for_each(|v| *v = -*v);
            }
            *out = column.iter().map(|v| v * root).collect();
            explained[axis] = values[axis] / positive;
        }
    }
    Embedding { points: (0..n).map(|i| (axes[0][i], axes[1][i])).collect(), explained }
}

/// Eigenvalues (largest first) and eigenvectors (as columns: `vectors[row][k]`) of a symmetric matrix by cyclic
/// Jacobi rotations. For the small n x n matrices here (n = sources) this is exact to rounding and deterministic.
fn symmetric_eigen(matrix: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = matrix.len();
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    let scale: f64 = a.iter().flatten().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|i| ((i + 1)..n).map(move |j| (i, j))).map(|(i, j)| a[i][j] * a[i][j]).sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
                let (before, from_q) = a.split_at_mut(q);
                for (pk, qk) in before[p].iter_mut().zip(from_q[0].iter_mut()) {
                    let (x, y) = (*pk, *qk);
                    *pk = c * x - s * y;
                    *qk = s * x + c * y;
                }
                for row in v.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[i][i]).collect();
    let vectors = (0..n).map(|r| order.iter().map(|&k| v[r][k]).collect()).collect();
    (values, vectors)
}

// ---------------------------------------------------------------------------------------------------------------
// Text, numbers and colours.

/// Text from data made safe to draw: control characters become spaces, whitespace runs collapse, and text longer
/// than `max_chars` characters is cut with an ellipsis. (XML escaping is plotters' SVG backend's job.)
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' { ' ' } else { c };
        if c.is_whitespace() && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
    }
    let out = out.trim_end().to_owned();
    if out.chars().count() > max_chars {
        let mut cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    } else {
        out
    }
}

/// A facet name as part of a file name: letters, digits, `-` and `_` kept, anything else `_`.
fn file_safe(text: &str) -> String {
    let safe: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if safe.is_empty() { "facet".to_owned() } else { safe }
}

/// A number with `decimals` decimals; NaN as "n/a", infinities as "inf".
fn fmt(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "n/a".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf".to_owned() } else { "-inf".to_owned() }
    } else {
        format!("{value:.decimals$}")
    }
}

fn percent(value: f64, max: f64) -> String {
    let decimals = if max >= 0.1 { 0 } else { 1 };
    format!("{:.decimals$}%", 100.0 * value)
}

fn percent_of(share: f64) -> String {
    format!("{:.0}%", 100.0 * share)
}

/// The top of a JS axis: a nice number above the largest value, but never above JS's own maximum (ln 2 nats,
/// 1 bit) when no value exceeds it.
fn js_axis_max(top: f64, unit: &str) -> f64 {
    let most = if unit == "bits" { 1.0 } else { std::f64::consts::LN_2 };
    let nice = nice_ceil(top);
    if top <= most * (1.0 + 1e-9) { nice.min(most) } else { nice }
}

/// `ticks` with `end` added when the last tick is more than `gap` below it.
fn with_end(mut ticks: Vec<f64>, end: f64, gap: f64) -> Vec<f64> {
    match ticks.last() {
        Some(&last) if end - last <= gap => {
            if end - last > 1e-9 * end.abs() {
                ticks.pop();
                ticks.push(end);
            }
        }
        _ => ticks.push(end),
    }
    ticks
}

/// A tick's text: two decimals, three where two would round a value like ln 2.
fn tick_label(value: f64) -> String {
    let two = fmt(value, 2);
    if (two.parse::<f64>().unwrap_or(value) - value).abs() > 1e-9 { fmt(value, 3) } else { two }
}

/// The smallest of 1, 2, 2.5, 5 x 10^e at or above `value` (1 for anything not positive and finite).
fn nice_ceil(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * power >= value * (1.0 - 1e-9) {
            return step * power;
        }
    }
    10.0 * power
}

/// The smallest of 1, 2, 2.5, 5 x 10^e at or above `value`.
fn nice_step(value: f64) -> f64 {
    nice_ceil(value)
}

/// Ticks at multiples of `step` within [lo, hi].
fn ticks_between(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last.min(first + 50))
        .map(|i| i as f64 * step)
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect()
}

/// About `count` ticks from `lo` to `hi` at a nice step.
fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    ticks_between(lo, hi, nice_step((hi - lo) / count.max(1) as f64))
}

const MUTED: Rgb = Rgb(90, 90, 90);
const AXIS: Rgb = Rgb(120, 120, 120);
const GRID: Rgb = Rgb(225, 225, 225);
const STRIPE: Rgb = Rgb(246, 246, 246);
const WHITE_INK: Rgb = Rgb(255, 255, 255);
const NA: Rgb = Rgb(205, 205, 205);
const BAR: Rgb = Rgb(95, 150, 200);
const POINT: Rgb = Rgb(40, 95, 165);
const ERROR_BAR: Rgb = Rgb(215, 40, 30);
const REFERENCE: Rgb = Rgb(210, 50, 40);
const REFERENCE_INK: Rgb = Rgb(170, 30, 25);
const CEILING: Rgb = Rgb(105, 105, 105);
const CEILING_BAND: Rgb = Rgb(215, 215, 215);
const REFERENCE_AREA: Rgb = Rgb(228, 228, 228);
const USI_BAR: Rgb = Rgb(60, 60, 60);

/// The heatmap's colour for `t` in [0, 1]: white through light yellow, orange and red to dark purple.
fn ramp(t: f64) -> Rgb {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [255.0, 255.0, 255.0]),
        (0.25, [253.0, 224.0, 150.0]),
        (0.5, [245.0, 145.0, 70.0]),
        (0.75, [200.0, 55.0, 60.0]),
        (1.0, [85.0, 20.0, 80.0]),
    ];
    let t = finite_or(t, 0.0).clamp(0.0, 1.0);
    let i = STOPS.iter().position(|s| s.0 >= t).unwrap_or(STOPS.len() - 1).max(1);
    let ((a, ca), (b, cb)) = (STOPS[i - 1], STOPS[i]);
    let f = if b > a { (t - a) / (b - a) } else { 0.0 };
    let mix = |k: usize| (ca[k] + f * (cb[k] - ca[k])).round().clamp(0.0, 255.0) as u8;
    Rgb(mix(0), mix(1), mix(2))
}

/// Relative luminance in [0, 1] (sRGB weights, no gamma: enough to pick black or white text).
fn luminance(c: Rgb) -> f64 {
    (0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2)) / 255.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
        ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
    }

    fn distances_of(points: &[(f64, f64)]) -> Vec<Vec<f64>> {
        points.iter().map(|&a| points.iter().map(|&b| distance(a, b)).collect()).collect()
    }

    #[test]
    fn jacobi_recovers_a_symmetric_matrix() {
        let m = vec![
            vec![4.0, 1.0, -2.0, 0.5],
            vec![1.0, 3.0, 0.0, 1.5],
            vec![-2.0, 0.0, 5.0, -1.0],
            vec![0.5, 1.5, -1.0, 2.0],
        ];
        let (values, vectors) = symmetric_eigen(&m);
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        for i in 0..4 {
            for j in 0..4 {
                let rebuilt: f64 = (0..4).map(|k| vectors[i][k] * values[k] * vectors[j][k]).sum();
                assert!((rebuilt - m[i][j]).abs() < 1e-10, "({i}, {j}): {rebuilt} vs {}", m[i][j]);
                let dot: f64 = (0..4).map(|k| vectors[k][i] * vectors[k][j]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
        assert!((values.iter().sum::<f64>() - 14.0).abs() < 1e-10, "the trace is kept");
    }

    #[test]
    fn mds_of_points_on_a_line_is_the_line() {
        let xs = [0.0, 1.0, 3.0, 6.0, 6.5];
        let d: Vec<Vec<f64>> = xs.iter().map(|a: &f64| xs.iter().map(|b| (a - b).abs()).collect()).collect();
        let e = classical_mds(&d);
        assert!((e.explained[0] - 1.0).abs() < 1e-9, "{:?}", e.explained);
        for (i, p) in e.points.iter().enumerate() {
            assert!(p.1.abs() < 1e-7, "second coordinate {p:?}");
            for (j, q) in e.points.iter().enumerate() {
                assert!((distance(*p, *q) - d[i][j]).abs() < 1e-9);
            }
        }
        // Centred, and the sign fixed: the farthest-from-centre coordinate is positive.
        let mean: f64 = e.points.iter().map(|p| p.0).sum::<f64>() / 5.0;
        assert!(mean.abs() < 1e-9);
        let extreme = e.points.iter().map(|p| p.0).fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
        assert!(extreme > 0.0);
    }

    #[test]
    fn mds_recovers_a_planar_configuration_up_to_rotation() {
        let points = [(0.0, 0.0), (3.0, 0.0), (3.0, 2.0), (-1.0, 4.0), (1.0, 1.0), (0.5, -2.0)];
        let d = distances_of(&points);
        let e = classical_mds(&d);
        let recovered = distances_of(&e.points);
        for i in 0..points.len() {
            for j in 0..points.len() {
                assert!((recovered[i][j] - d[i][j]).abs() < 1e-9, "({i}, {j})");
            }
        }
        assert!((e.explained[0] + e.explained[1] - 1.0).abs() < 1e-9);
        // Deterministic: the same distances in give the same coordinates out, bit for bit.
        let again = classical_mds(&d);
        assert_eq!(format!("{:?}", again.points), format!("{:?}", e.points));
        // Two points, and one: no NaN.
        let two = classical_mds(&[vec![0.0, 0.5], vec![0.5, 0.0]]);
        assert!((distance(two.points[0], two.points[1]) - 0.5).abs() < 1e-12);
        let one = classical_mds(&[vec![0.0]]);
        assert_eq!(one.points, vec![(0.0, 0.0)]);
        // All at one place.
        let same = classical_mds(&[vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]]);
        assert!(same.points.iter().all(|p| p.0 == 0.0 && p.1 == 0.0));
    }

    #[test]
    fn text_from_data_is_cleaned_and_escaped_in_the_svg() {
        assert_eq!(clean("a\u{0}b\n\tc  d ", 40), "a b c d");
        assert_eq!(clean("abcdefghij", 6), "abcde…");
        assert_eq!(clean("", 6), "");
        let mut scene = Scene::new(200.0, 100.0);
        scene.text(Text::new(10.0, 10.0, clean("<script>&\"x'</script>\u{1}", 60), 12.0));
        let svg = scene.svg().unwrap();
        assert!(svg.contains("&lt;script&gt;&amp;&quot;x&apos;&lt;/script&gt;"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains('\u{1}'));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    use crate::report::data::{Bounded, CorrectedRow, DivergenceRow, PairRow, UsiRow};

    /// A deterministic stand-in for the divergence tables: `n` sources (the first the reference), `k` clusters,
    /// three facets, with a long name, markup in a name, a facet where one source has no values (NaN) and an
    /// infinite interval bound.
    pub(super) fn synthetic(n: usize, k: usize) -> ReportData {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let names: Vec<String> = (0..n)
            .map(|i| match i {
                0 => "human".to_owned(),
                1 => "a-very-long-simulator-name-with-model-version-2025-11-20-and-more".to_owned(),
                2 => "sim <b>&amp; \"x\"</b>".to_owned(),
                _ => format!("simulator-{i:02}"),
            })
            .collect();
        let facets = ["all", "style", "lexical"];
        let mut data = ReportData::default();
        let mut histograms: Vec<Vec<Vec<f64>>> = Vec::new();
        for _ in facets {
            let per_source: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    let raw: Vec<f64> = (0..k).map(|_| random().powi(3)).collect();
                    let total: f64 = raw.iter().sum();
                    raw.iter().map(|v| v / total).collect()
                })
                .collect();
            histograms.push(per_source);
        }
        let js = |p: &[f64], q: &[f64]| -> f64 {
            let term = |a: f64, m: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
            p.iter().zip(q).map(|(&a, &b)| 0.5 * term(a, (a + b) / 2.0) + 0.5 * term(b, (a + b) / 2.0)).sum()
        };
        let bounded = |value: f64| Bounded { value, lo: value * 0.9, hi: value * 1.1 };
        for (f, facet) in facets.iter().enumerate() {
            let missing = |s: usize| f == 2 && s == 3;
            for s in 1..n {
                let value = if missing(s) { f64::NAN } else { js(&histograms[f][0], &histograms[f][s]) };
                let mut row_js = bounded(value);
                if s == 4 {
                    row_js.hi = f64::INFINITY;
                }
                data.divergence.push(DivergenceRow {
                    facet: (*facet).to_owned(),
                    reference: names[0].clone(),
                    source: names[s].clone(),
                    kind: "simulator".to_owned(),
                    n_reference: 500,
                    n_source: 200,
                    k: k as u64,
                    smoothing: "counts:0.5".to_owned(),
                    unit: "nats".to_owned(),
                    kl_forward: bounded(1.0),
                    kl_backward: bounded(1.0),
                    js: row_js,
                    js_normalized: bounded(value / std::f64::consts::LN_2),
                    tv: bounded(0.5),
                    mauve: bounded(0.5),
                    mauve_star: bounded(0.5),
                    frontier_integral: bounded(0.5),
                    human_ceiling_js: Bounded { value: 0.02, lo: 0.015, hi: 0.03 },
                    corrected: CorrectedRow {
                        kl_forward: bounded(0.9),
                        kl_backward: bounded(0.9),
                        js: row_js,
                        tv: bounded(0.45),
                        mauve: bounded(0.55),
                        mauve_star: bounded(0.55),
                        frontier_integral: bounded(0.45),
                    },
                    human_ceiling_js_corrected: Bounded { value: 0.001, lo: -0.004, hi: 0.006 },
                    js_above_ceiling: row_js,
                    p_value: 0.001,
                    warning: None,
                });
            }
            for a in 0..n {
                for b in 0..n {
                    let value =
                        if missing(a) || missing(b) { f64::NAN } else { js(&histograms[f][a], &histograms[f][b]) };
                    data.pairwise.push(PairRow {
                        facet: (*facet).to_owned(),
                        source_a: names[a].clone(),
                        source_b: names[b].clone(),
                        js: value,
                        kl_a_b: 1.0,
                        kl_b_a: 1.0,
                    });
                }
            }
            for s in 0..n {
                for (c, &value) in histograms[f][s].iter().enumerate() {
                    let share = if missing(s) { f64::NAN } else { value };
                    data.clusters.push(ClusterRow {
                        facet: (*facet).to_owned(),
                        k: k as u64,
                        cluster: c as u64,
                        source: names[s].clone(),
                        kind: if s == 0 { "human" } else { "simulator" }.to_owned(),
                        count: (share * 200.0).round() as u64,
                        share,
                        reference_share: histograms[f][0][c],
                        label: None,
                        js_term: 0.0,
                        extreme_features: Vec::new(),
                        extreme_z: Vec::new(),
                        top_words: Vec::new(),
                        example_turns: Vec::new(),
                    });
                }
            }
        }
        for s in 1..n {
            let usi = 40.0 + 30.0 * random();
            data.usi.push(UsiRow {
                source: names[s].clone(),
                reference: names[0].clone(),
                n_reference: 500,
                n_source: 200,
                d: [50.0 + 40.0 * random(), 90.0 + 5.0 * random(), 60.0 * random(), 40.0 * random()],
                eval: if s % 3 == 0 { f64::NAN } else { 80.0 + 10.0 * random() },
                ece: 0.2 * random(),
                usi: Bounded { value: usi, lo: usi - 3.0, hi: if s == 5 { f64::INFINITY } else { usi + 4.0 } },
                usi_terms: 6,
                human_ceiling_usi: 92.0,
                note: String::new(),
            });
        }
        data
    }

    fn svg_of(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap()
    }

    #[test]
    fn thirty_sources_with_long_names_nan_and_infinity_draw_every_figure_deterministically() {
        let data = synthetic(30, 40);
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let (figures, _) = write_figures(&data, dir).unwrap();
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["histograms_all", "pairwise_js", "js_by_facet", "usi_components", "mds_map"]);
        for figure in &figures {
            let svg = svg_of(dir, &figure.name);
            assert_eq!(svg, figure.svg);
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{}", figure.name);
            assert!(!svg.contains("NaN") && !svg.contains("inf\""), "{}: a NaN coordinate", figure.name);
            assert!(!svg.contains("<b>"), "{}: unescaped markup", figure.name);
            assert!(!figure.caption.is_empty());
        }
        // The map places every source; the heatmap and the panels the closest 20 of the 30 (data::SHOWN_SOURCES).
        assert!(svg_of(dir, "mds_map").contains("sim &lt;b&gt;&amp;amp; &quot;x&quot;&lt;/b&gt;"));
        assert!(svg_of(dir, "mds_map").contains("a-very-long-simulator-name-…"));
        let heatmap = figures.iter().find(|f| f.name == "pairwise_js").unwrap();
        assert!(heatmap.caption.contains("the other 10 are in pairwise.parquet"), "{}", heatmap.caption);
        let temp2 = tempfile::tempdir().unwrap();
        let (again, _) = write_figures(&data, temp2.path()).unwrap();
        for (a, b) in figures.iter().zip(&again) {
            assert_eq!(a.svg, b.svg, "{}: not deterministic", a.name);
        }
    }

    #[test]
    fn a_single_source_or_no_usi_draws_what_it_can_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let (figures, _) = write_figures(&ReportData::default(), dir.path()).unwrap();
        assert!(figures.is_empty());
        let mut data = synthetic(2, 3);
        data.usi.clear();
        for stale in ["usi_components.svg", "histograms_old-facet.png", "notes.txt"] {
            std::fs::write(dir.path().join(stale), "stale").unwrap();
        }
        let (figures, _) = write_figures(&data, dir.path()).unwrap();
        assert!(figures.iter().all(|f| f.name != "usi_components"));
        assert!(!dir.path().join("usi_components.svg").exists(), "a stale figure is removed");
        assert!(!dir.path().join("histograms_old-facet.png").exists(), "another facet's histograms are removed");
        assert!(dir.path().join("notes.txt").exists(), "what is not a figure stays");
        assert_eq!(figures.len(), 4);
        // Every value missing on the headline facet.
        for row in &mut data.pairwise {
            row.js = f64::NAN;
        }
        for row in &mut data.divergence {
            row.js = Bounded { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };
        }
        for row in &mut data.clusters {
            row.share = f64::NAN;
            row.reference_share = f64::NAN;
        }
        let (figures, warnings) = write_figures(&data, dir.path()).unwrap();
        assert!(figures.iter().all(|f| !f.svg.contains("NaN")));
        assert!(warnings.iter().any(|w| w.contains("mds_map: left out")), "{warnings:?}");
    }

    #[test]
    fn numbers_ticks_and_colours() {
        assert_eq!(nice_ceil(0.693), 1.0);
        assert_eq!(nice_ceil(0.42), 0.5);
        assert_eq!(nice_ceil(0.21), 0.25);
        assert_eq!(nice_ceil(f64::NAN), 1.0);
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert!(ticks_between(0.0, f64::INFINITY, 0.1).is_empty());
        assert_eq!(fmt(f64::NAN, 2), "n/a");
        assert_eq!(fmt(f64::INFINITY, 2), "inf");
        assert_eq!(ramp(0.0), Rgb(255, 255, 255));
        assert_eq!(ramp(1.0), Rgb(85, 20, 80));
        assert_eq!(ramp(f64::NAN), Rgb(255, 255, 255));
        assert_eq!(file_safe("a b/c"), "a_b_c");
    }
}
