//! `mds_map`: every source placed in the plane by classical MDS of the JS distance sqrt(JS / ln 2).
//!
//! Consumes: [`ReportData`] and the [`Format`]. Produces: a [`Plot`], and a warning when two dimensions hold little of
//! the variance.

use super::axis::{fmt, nice_step, percent_of, ticks_between};
use super::format::Format;
use super::labels::{NAME_CHARS, clean, fit};
use super::lookup::{k_of, pairwise_matrix, unit_of};
use super::mds::classical_mds;
use super::palette::{AXIS, GRID, MUTED, POINT, REFERENCE, REFERENCE_INK, WHITE_INK};
use super::plot::Plot;
use crate::report::data::ReportData;
use crate::report::scene::{Align, INK, MARGIN, Scene, TITLE_SIZE, Text, place_label, text_width};

/// Every source placed in the plane by classical MDS of the JS distances on `facet`.
pub(super) fn mds_map(data: &ReportData, facet: &str, format: Format, warnings: &mut Vec<String>) -> Option<Plot> {
    let (mut sources, matrix) = pairwise_matrix(data, facet)?;
    let unit = unit_of(data);
    let mut distances = js_distances(&matrix, unit);
    let left_out = leave_out_incomplete(&mut sources, &mut distances);
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
    let frame = MapFrame::new(&embedding.points, n, format);
    let title = format!("MDS map of the sources by JS distance, facet {}", clean(facet, 40));
    let (x0, y0, margin) = (frame.x0, frame.y0, format.margin());
    let width = format.width().unwrap_or_else(|| {
        (x0 + frame.plot_w + margin).max(text_width(&title, TITLE_SIZE) + 2.0 * margin).max(x0 + 360.0)
    });
    let height = y0 + frame.plot_h + 52.0 + margin;
    let mut scene = Scene::new(width, height);
    if format.titled() {
        scene.title(&title);
    }
    let [first, second] = embedding.explained;
    draw_map_axes(&mut scene, &frame, first, second);
    draw_sources(&mut scene, &frame, &embedding.points, &sources, reference);
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

/// The JS distance sqrt(JS normalised to 0-1) of every pair in `matrix`, 0 on the diagonal.
fn js_distances(matrix: &[Vec<f64>], unit: &str) -> Vec<Vec<f64>> {
    let to_normalized = if unit == "bits" { 1.0 } else { std::f64::consts::LN_2 };
    let mut distances: Vec<Vec<f64>> =
        matrix.iter().map(|row| row.iter().map(|js| (js / to_normalized).clamp(0.0, 1.0).sqrt()).collect()).collect();
    for (i, row) in distances.iter_mut().enumerate() {
        row[i] = 0.0;
    }
    distances
}

/// Removes the sources without a distance to some other, the one missing most first, from `sources` and
/// `distances`; returns their names in the order removed.
fn leave_out_incomplete(sources: &mut Vec<String>, distances: &mut Vec<Vec<f64>>) -> Vec<String> {
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
        for row in distances.iter_mut() {
            row.remove(worst);
        }
    }
    left_out
}

/// The map's plotting area: the padded range of the points, one scale for both axes, and where it sits.
struct MapFrame {
    x_lo: f64,
    x_hi: f64,
    y_lo: f64,
    y_hi: f64,
    /// Pixels per JS-distance unit, on both axes.
    scale: f64,
    plot_w: f64,
    plot_h: f64,
    x0: f64,
    y0: f64,
    /// The sizes of the tick labels and of the sources' names.
    tick: f64,
    label: f64,
}

impl MapFrame {
    /// The frame that holds `points` with a margin of 12% of their span, sized for `n` sources (on paper, as wide as
    /// the page allows).
    fn new(points: &[(f64, f64)], n: usize, format: Format) -> Self {
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for &(x, y) in points {
            (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
        }
        let span = (x_hi - x_lo).max(y_hi - y_lo).max(1e-9);
        let pad = 0.12 * span;
        let (x_lo, x_hi, mut y_lo, mut y_hi) = (x_lo - pad, x_hi + pad, y_lo - pad, y_hi + pad);
        // A map of two sources (or of sources on a line) is at least 40% as tall as wide, room for its axis title.
        let short = 0.4 * (x_hi - x_lo) - (y_hi - y_lo);
        if short > 0.0 {
            (y_lo, y_hi) = (y_lo - short / 2.0, y_hi + short / 2.0);
        }
        let (x0, y0) = if format.titled() { (MARGIN + 48.0, MARGIN + 40.0) } else { (format.margin() + 48.0, 12.0) };
        let side = match format.width() {
            None if n > 15 => 600.0,
            None => 520.0,
            Some(width) => width - x0 - format.margin() - 4.0,
        };
        let scale = side / (x_hi - x_lo).max(y_hi - y_lo);
        let (plot_w, plot_h) = ((x_hi - x_lo) * scale, (y_hi - y_lo) * scale);
        let (tick, label) = (format.tick(), if n > 15 { format.tick() } else { format.label() });
        Self { x_lo, x_hi, y_lo, y_hi, scale, plot_w, plot_h, x0, y0, tick, label }
    }

    /// The scene position of a point of the embedding.
    fn px(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (self.x0 + (x - self.x_lo) * self.scale, self.y0 + (self.y_hi - y) * self.scale)
    }
}

/// Draws the grid, tick labels, frame and the two axis titles with the variance each dimension carries.
fn draw_map_axes(scene: &mut Scene, frame: &MapFrame, first: f64, second: f64) {
    let (x0, y0, plot_w, plot_h) = (frame.x0, frame.y0, frame.plot_w, frame.plot_h);
    let tick_step = nice_step((frame.x_hi - frame.x_lo).max(frame.y_hi - frame.y_lo) / 6.0);
    for tick in ticks_between(frame.x_lo, frame.x_hi, tick_step) {
        let (x, _) = frame.px((tick, 0.0));
        scene.line(vec![(x, y0), (x, y0 + plot_h)], GRID, 1.0);
        scene.text(Text::new(x, y0 + plot_h + 9.0, fmt(tick, 2), frame.tick).align(Align::Middle).color(MUTED));
    }
    for tick in ticks_between(frame.y_lo, frame.y_hi, tick_step) {
        let (_, y) = frame.px((0.0, tick));
        scene.line(vec![(x0, y), (x0 + plot_w, y)], GRID, 1.0);
        scene.text(Text::new(x0 - 5.0, y, fmt(tick, 2), frame.tick).align(Align::End).color(MUTED));
    }
    scene.rect(x0, y0, x0 + plot_w, y0 + plot_h, None, Some(AXIS));
    scene.text(
        Text::new(
            x0 + plot_w / 2.0,
            y0 + plot_h + 28.0,
            format!("MDS dimension 1 ({} of variance)", percent_of(first)),
            frame.tick,
        )
        .align(Align::Middle),
    );
    scene.text(
        Text::new(
            x0 - 46.0,
            y0 + plot_h / 2.0,
            fit(&format!("MDS dimension 2 ({})", percent_of(second)), frame.tick, plot_h),
            frame.tick,
        )
        .align(Align::Middle)
        .vertical(),
    );
}

/// Draws each source as a point (the reference larger, in red) and places its name where it overlaps nothing.
fn draw_sources(
    scene: &mut Scene,
    frame: &MapFrame,
    points: &[(f64, f64)],
    sources: &[String],
    reference: Option<&str>,
) {
    let n = sources.len();
    let centres: Vec<(f64, f64)> = points.iter().map(|&p| frame.px(p)).collect();
    let is_reference: Vec<bool> = sources.iter().map(|s| Some(s.as_str()) == reference).collect();
    let radius = |i: usize| if is_reference[i] { 7.0 } else { 5.0 };
    for (i, &(x, y)) in centres.iter().enumerate() {
        if is_reference[i] {
            scene.circle(x, y, radius(i), REFERENCE, Some(INK));
        } else {
            scene.circle(x, y, radius(i), POINT, Some(WHITE_INK));
        }
    }
    let label_size = frame.label;
    let mut taken: Vec<[f64; 4]> = centres
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| [x - radius(i), y - radius(i), x + radius(i), y + radius(i)])
        .collect();
    let bounds = [frame.x0, frame.y0, frame.x0 + frame.plot_w, frame.y0 + frame.plot_h];
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
}
