//! `pairwise_js`: the heatmap of JS between every pair of sources on the headline facet.
//!
//! Consumes: [`ReportData`] and the [`Format`]. Produces: a [`Plot`], the sources in their one order; on paper the
//! cells shrink to fit the width, and carry their values only where the values fit.

use super::axis::{fmt, js_axis_max, nice_ticks, tick_label, with_end};
use super::format::Format;
use super::labels::{NAME_CHARS, clean};
use super::lookup::{k_of, pairwise_matrix, unit_of};
use super::palette::{AXIS, NA, WHITE_INK, luminance, ramp};
use super::plot::Plot;
use crate::report::data::{ReportData, left_out_note};
use crate::report::scene::{Align, INK, MARGIN, Scene, TITLE_SIZE, Text, text_width};

/// The pairwise JS matrix on `facet` as a heatmap.
pub(super) fn pairwise_heatmap(data: &ReportData, facet: &str, format: Format) -> Option<Plot> {
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
    let (margin, tick) = (format.margin(), format.tick());
    let label_size =
        if n <= 12 { format.label() } else { format.size(tick.min((520.0 / n as f64).clamp(16.0, 56.0) * 0.75)) };
    let labels: Vec<String> = sources.iter().map(|s| clean(s, NAME_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l, label_size)).fold(0.0, f64::max) + 8.0;
    let title = format!("Pairwise Jensen-Shannon divergence, facet {}", clean(facet, 40));
    let x0 = margin + label_w;
    let y0 = if format.titled() { MARGIN + 54.0 } else { format.top() + 14.0 };
    let legend_title = format!("JS ({unit})");
    let ticks_of = |bar_h: f64| with_end(nice_ticks(0.0, v_max, 5), v_max, 14.0 * v_max / bar_h);
    let tick_w_of = |ticks: &[f64]| ticks.iter().map(|t| text_width(&fmt(*t, 3), tick)).fold(0.0, f64::max);
    let bar_w = |tick_w: f64| 24.0 + 16.0 + 6.0 + tick_w.max(text_width(&legend_title, tick) - 22.0);
    let cell = match format.width() {
        None => (520.0 / n as f64).clamp(16.0, 56.0),
        Some(width) => ((width - x0 - bar_w(tick_w_of(&ticks_of(120.0))) - margin) / n as f64).min(56.0),
    };
    let side = cell * n as f64;
    let bar_x = x0 + side + 24.0;
    let bar_h = side.clamp(120.0, 320.0);
    let ticks = ticks_of(bar_h);
    let width = format.width().unwrap_or_else(|| {
        (x0 + side + bar_w(tick_w_of(&ticks)) + margin).max(text_width(&title, TITLE_SIZE) + 2.0 * margin)
    });
    let height = y0 + side.max(bar_h) + label_w + margin;
    let mut scene = Scene::new(width, height);
    if format.titled() {
        scene.title(&title);
    }
    let reference = data.reference();
    let value_size = format.size((cell * 0.28).clamp(8.0, 12.0));
    let with_values = n <= 12 && cell >= text_width("0.000", value_size) + 4.0;
    let grid = Grid { x0, y0, cell, v_max, label_size, value_size, with_values };
    let missing = draw_cells_and_labels(&mut scene, &grid, &matrix, &sources, &labels, reference);
    let bar = ColourBar { x: bar_x, y0, height: bar_h, v_max, tick };
    draw_colour_bar(&mut scene, &bar, legend_title, &ticks, missing);
    let k = k_of(data, facet);
    let caption = format!(
        "Pairwise Jensen-Shannon divergence between {} {n} sources on facet {facet} ({k}), in {unit} (0: the same \
         behaviour distribution; {}: no cluster in common); darker is farther{}. The reference, {}, is in bold.{}{}",
        if left_out > 0 { "these" } else { "all" },
        if unit == "bits" { "1" } else { "ln 2 = 0.693" },
        if with_values { ", and each cell gives the value" } else { "" },
        reference.unwrap_or("the first source"),
        if missing { " Grey cells: a source without conversations on this facet." } else { "" },
        left_out_note(left_out, "pairwise.parquet")
    );
    Some(Plot { name: "pairwise_js".to_owned(), title, caption, scene })
}

/// The matrix's place in the scene: its top left corner, a cell's side, the top of the colour scale, the label size.
struct Grid {
    x0: f64,
    y0: f64,
    cell: f64,
    v_max: f64,
    label_size: f64,
    /// The size of the values in the cells, and whether they are drawn.
    value_size: f64,
    with_values: bool,
}

/// Draws every cell (with its value when there are at most 12 sources), the row and column names (the reference's
/// bold) and the frame; returns whether some cell had no value.
fn draw_cells_and_labels(
    scene: &mut Scene,
    grid: &Grid,
    matrix: &[Vec<f64>],
    sources: &[String],
    labels: &[String],
    reference: Option<&str>,
) -> bool {
    let (x0, y0, cell, label_size) = (grid.x0, grid.y0, grid.cell, grid.label_size);
    let n = sources.len();
    let side = cell * n as f64;
    let value_size = grid.value_size;
    let mut missing = false;
    for (i, row) in matrix.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let (cx, cy) = (x0 + j as f64 * cell, y0 + i as f64 * cell);
            let fill = if v.is_finite() { ramp(v / grid.v_max) } else { NA };
            missing |= !v.is_finite();
            scene.rect(cx, cy, cx + cell, cy + cell, Some(fill), Some(WHITE_INK));
            if grid.with_values {
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
    missing
}

/// The colour bar's place in the scene: its left edge, top, height, and the value at its top.
struct ColourBar {
    x: f64,
    y0: f64,
    height: f64,
    v_max: f64,
    /// The size of its text.
    tick: f64,
}

/// Draws the colour bar as thin strips, largest value on top, with its title, ticks and (when `missing`) the
/// "n/a" swatch.
fn draw_colour_bar(scene: &mut Scene, bar: &ColourBar, legend_title: String, ticks: &[f64], missing: bool) {
    let (bar_x, y0, bar_h) = (bar.x, bar.y0, bar.height);
    scene.text(Text::new(bar_x, y0 - 16.0, legend_title, bar.tick));
    let strips = 64;
    for s in 0..strips {
        let (a, b) = (s as f64 / strips as f64, (s + 1) as f64 / strips as f64);
        let (top_y, bottom_y) = (y0 + bar_h * (1.0 - b), y0 + bar_h * (1.0 - a));
        scene.rect(bar_x, top_y, bar_x + 16.0, bottom_y + 0.5, Some(ramp((a + b) / 2.0)), None);
    }
    scene.rect(bar_x, y0, bar_x + 16.0, y0 + bar_h, None, Some(AXIS));
    for tick in ticks {
        let y = y0 + bar_h * (1.0 - tick / bar.v_max);
        scene.line(vec![(bar_x + 16.0, y), (bar_x + 20.0, y)], AXIS, 1.0);
        scene.text(Text::new(bar_x + 22.0, y, tick_label(*tick), bar.tick));
    }
    if missing {
        scene.rect(bar_x, y0 + bar_h + 14.0, bar_x + 16.0, y0 + bar_h + 26.0, Some(NA), Some(AXIS));
        scene.text(Text::new(bar_x + 22.0, y0 + bar_h + 20.0, "n/a", bar.tick));
    }
}
