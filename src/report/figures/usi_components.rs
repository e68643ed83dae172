//! `usi_components`: D1-D4, Eval, 100(1-ECE) and USI per simulator.
//!
//! Consumes: [`ReportData`] and the [`Format`]. Produces: a [`Plot`] (none when USI was not computed), one group of
//! bars per simulator in the sources' order.

use super::axis::fmt;
use super::format::Format;
use super::labels::{NAME_CHARS, clean};
use super::palette::{AXIS, CEILING, ERROR_BAR, GRID, MUTED, STRIPE, USI_BAR};
use super::plot::Plot;
use crate::report::data::{ReportData, UsiRow, left_out_note};
use crate::report::scene::{Align, Rgb, Scene, Swatch, TITLE_SIZE, Text, legend_height, text_width};

/// One bar of a simulator's group: its legend name, colour and value (0-100).
type Term = (&'static str, Rgb, fn(&UsiRow) -> f64);

/// Every term the figure can draw, in bar order; USI last.
fn all_terms() -> [Term; 7] {
    [
        ("D1 style", Rgb(66, 133, 190), |r| r.d[0]),
        ("D2 information", Rgb(72, 166, 90), |r| r.d[1]),
        ("D3 clarification", Rgb(240, 145, 50), |r| r.d[2]),
        ("D4 error reaction", Rgb(150, 105, 190), |r| r.d[3]),
        ("Eval", Rgb(160, 110, 90), |r| r.eval),
        ("100(1-ECE)", Rgb(40, 180, 190), |r| 100.0 * (1.0 - r.ece)),
        ("USI (red: 95% interval)", USI_BAR, |r| r.usi.value),
    ]
}

/// The User-Sim Index and its terms per simulator, as grouped horizontal bars.
pub(super) fn usi_components(data: &ReportData, format: Format) -> Option<Plot> {
    if data.usi.is_empty() {
        return None;
    }
    let all = all_terms();
    let terms: Vec<&Term> = all.iter().filter(|(_, _, get)| data.usi.iter().any(|r| get(r).is_finite())).collect();
    let (shown, left_out) = data.shown_sources();
    let rows: Vec<&UsiRow> = data.usi.iter().filter(|r| left_out == 0 || shown.contains(&r.source)).collect();
    let (margin, label_size, tick) = (format.margin(), format.label(), format.tick());
    let reference = data.reference().unwrap_or("the reference");
    let bar_h = if rows.len() > 12 { 5.0 } else { 7.0 };
    let group_h = terms.len() as f64 * (bar_h + 1.0) + 12.0;
    let labels: Vec<String> = rows.iter().map(|r| clean(&r.source, NAME_CHARS)).collect();
    let label_w = labels.iter().map(|l| text_width(l, label_size)).fold(0.0, f64::max) + 12.0;
    let title = format!("User-Sim Index and its terms (0-100, higher is closer to {})", clean(reference, NAME_CHARS));
    let x0 = margin + label_w;
    let plot_w = format.width().map_or(520.0, |width| width - x0 - 44.0 - margin);
    let mut legend: Vec<(Swatch, String)> =
        terms.iter().map(|(name, colour, _)| (Swatch::Fill(*colour), (*name).to_owned())).collect();
    let has_ceiling = rows.iter().any(|r| r.human_ceiling_usi.is_finite());
    if has_ceiling {
        legend.push((Swatch::Dash(CEILING), "human ceiling (USI between human batches)".to_owned()));
    }
    let width = format
        .width()
        .unwrap_or_else(|| (x0 + plot_w + 60.0 + margin).max(text_width(&title, TITLE_SIZE) + 2.0 * margin));
    let legend_h = legend_height(&legend, margin, width - margin);
    let y0 = format.top() + legend_h + 8.0;
    let height = y0 + rows.len() as f64 * group_h + 40.0 + margin;
    let mut scene = Scene::new(width, height);
    if format.titled() {
        scene.title(&title);
    }
    scene.legend(margin, format.top(), &legend, width - margin);
    let frame = UsiFrame { x0, y0, plot_w, bar_h, group_h, label_size, tick, na_size: format.size(8.0) };
    let y1 = y0 + rows.len() as f64 * group_h;
    for tick in [0.0, 20.0, 40.0, 60.0, 80.0, 100.0] {
        let x = frame.x_of(tick);
        scene.line(vec![(x, y0), (x, y1)], GRID, 1.0);
        scene.text(Text::new(x, y1 + 9.0, fmt(tick, 0), frame.tick).align(Align::Middle).color(MUTED));
    }
    for (g, row) in rows.iter().enumerate() {
        draw_simulator_group(&mut scene, &frame, &terms, g, row, &labels[g]);
    }
    scene.rect(x0, y0, x0 + plot_w, y1, None, Some(AXIS));
    scene.text(Text::new(x0, y1 + 26.0, "score (0-100)", frame.tick).color(MUTED));
    let caption = usi_caption(reference, &all, &terms, has_ceiling, left_out);
    Some(Plot { name: "usi_components".to_owned(), title, caption, scene })
}

/// The bars' area in the scene: its top left corner, width, and the heights of a bar and of a simulator's group.
struct UsiFrame {
    x0: f64,
    y0: f64,
    plot_w: f64,
    bar_h: f64,
    group_h: f64,
    /// The sizes of the simulators' names, of the ticks and values, and of "n/a".
    label_size: f64,
    tick: f64,
    na_size: f64,
}

impl UsiFrame {
    /// The x coordinate of a score, clamped to 0-100.
    fn x_of(&self, v: f64) -> f64 {
        self.x0 + (v / 100.0).clamp(0.0, 1.0) * self.plot_w
    }
}

/// Draws the `g`-th simulator's group: stripe, name, one bar per term, USI's interval and value, the ceiling.
fn draw_simulator_group(scene: &mut Scene, frame: &UsiFrame, terms: &[&Term], g: usize, row: &UsiRow, label: &str) {
    let (x0, plot_w, bar_h, group_h) = (frame.x0, frame.plot_w, frame.bar_h, frame.group_h);
    let top = frame.y0 + g as f64 * group_h + 6.0;
    if g % 2 == 1 {
        scene.rect(x0, top - 6.0, x0 + plot_w, top - 6.0 + group_h, Some(STRIPE), None);
    }
    let name = Text::new(x0 - 8.0, top + (group_h - 12.0) / 2.0, label.to_owned(), frame.label_size);
    scene.text(name.align(Align::End));
    for (t, (_, colour, get)) in terms.iter().enumerate() {
        let y = top + t as f64 * (bar_h + 1.0);
        let v = get(row);
        if v.is_finite() {
            scene.rect(x0, y, frame.x_of(v).max(x0 + 1.0), y + bar_h, Some(*colour), None);
        } else {
            scene.text(Text::new(x0 + 3.0, y + bar_h / 2.0, "n/a", frame.na_size).color(MUTED));
        }
        if *colour == USI_BAR {
            draw_usi_interval_and_value(scene, frame, row, v, y + bar_h / 2.0);
        }
    }
    if row.human_ceiling_usi.is_finite() {
        let x = frame.x_of(row.human_ceiling_usi);
        scene.dashed(x, top - 3.0, top + group_h - 9.0, CEILING, 1.5);
    }
}

/// Draws USI's 95% interval as an error bar at height `mid`, and its value `v` right of the bar or interval.
fn draw_usi_interval_and_value(scene: &mut Scene, frame: &UsiFrame, row: &UsiRow, v: f64, mid: f64) {
    let (lo, hi) = (row.usi.lo, row.usi.hi);
    if lo.is_finite() && hi.is_finite() {
        let (x_lo, x_hi) = (frame.x_of(lo), frame.x_of(hi));
        scene.line(vec![(x_lo, mid), (x_hi, mid)], ERROR_BAR, 1.5);
        scene.line(vec![(x_lo, mid - 3.5), (x_lo, mid + 3.5)], ERROR_BAR, 1.5);
        scene.line(vec![(x_hi, mid - 3.5), (x_hi, mid + 3.5)], ERROR_BAR, 1.5);
    }
    let end = [v, hi].into_iter().filter(|x| x.is_finite()).map(|x| frame.x_of(x)).fold(frame.x0, f64::max);
    scene.text(Text::new(end + 5.0, mid, fmt(v, 1), frame.tick).bold());
}

/// The figure's caption: what each term is, the ceiling when drawn, the terms not computed, the sources left out.
fn usi_caption(reference: &str, all: &[Term], terms: &[&Term], has_ceiling: bool, left_out: usize) -> String {
    let names: Vec<&str> = terms.iter().map(|t| t.0).collect();
    let missing: Vec<&str> = all.iter().filter(|t| !names.contains(&t.0)).map(|t| t.0).collect();
    format!(
        "The User-Sim Index against {reference} and its terms per simulator (groups, closest to {reference} first, as \
         in the tables), all on a \
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
    )
}
