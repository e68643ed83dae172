//! `history_js`: the trend per simulator across the nights of the history: the corrected JS on the headline facet
//! with its 95% interval, the corrected human split-half ceiling beside it, and the nights whose settings or inputs
//! changed marked.
//!
//! Consumes: [`ReportData`] (its `history`, and the current tables for the headline facet and the simulators
//! shown). Produces: a [`Plot`] with one panel per simulator (nights left to right, JS up, the same scale in every
//! panel); none without a history. Marks, under the night's date: `S` and a purple dashed line on a night whose
//! settings changed (the line joining the nights is broken there: the numbers are measured differently from then
//! on), `I` and an orange dashed line on a night whose input set changed other than by growing (a file edited or
//! gone), `+` on a night whose inputs only grew (the usual night, so no line).

use std::collections::BTreeMap;

use super::axis::{js_axis_max, nice_ticks, tick_label, with_end};
use super::labels::{NAME_CHARS, clean};
use super::palette::{AXIS, CEILING, CEILING_BAND, GRID, MUTED, POINT};
use super::plot::Plot;
use crate::report::data::{ReportData, left_out_note};
use crate::report::history::{Estimate, HistoryRow, InputsChange, Night, SettingsChange};
use crate::report::scene::{
    Align, LABEL_SIZE, MARGIN, Rgb, Scene, Swatch, TICK_SIZE, TITLE_SIZE, Text, legend_height, text_width,
};

/// The figure's file stem.
pub const HISTORY_FIGURE: &str = "history_js";

/// The mark of a night whose settings changed.
const SETTINGS_MARK: Rgb = Rgb(150, 40, 140);
/// The mark of a night whose inputs changed other than by growing.
const INPUTS_MARK: Rgb = Rgb(215, 120, 20);

const PANEL_W: f64 = 240.0;
const PANEL_H: f64 = 130.0;
/// The width left of a panel for its JS ticks.
const AXIS_W: f64 = 40.0;
const PANELS_PER_ROW: usize = 3;

/// The trend figure, or None when there is no history or no simulator with JS on the facet drawn.
pub(super) fn history_js(data: &ReportData) -> Option<Plot> {
    let trend = Trend::of(data)?;
    let columns = trend.simulators.len().min(PANELS_PER_ROW);
    let panel_rows = trend.simulators.len().div_ceil(columns);
    let cell_w = AXIS_W + PANEL_W + 20.0;
    let cell_h = 22.0 + PANEL_H + 40.0;
    let title = format!("Distance from {} night by night, facet {}", clean(&trend.reference, NAME_CHARS), trend.facet);
    let width = (2.0 * MARGIN + columns as f64 * cell_w).max(text_width(&title, TITLE_SIZE) + 2.0 * MARGIN);
    let legend = [
        (Swatch::Dot(POINT), "corrected JS with 95% interval".to_owned()),
        (Swatch::Band(CEILING_BAND, CEILING), "corrected human split-half ceiling (2.5-97.5%)".to_owned()),
        (Swatch::Dash(SETTINGS_MARK), "S: settings changed".to_owned()),
        (Swatch::Dash(INPUTS_MARK), "I: inputs changed, not only grown".to_owned()),
    ];
    let legend_top = MARGIN + 34.0;
    let top_y = legend_top + legend_height(&legend, MARGIN, width - MARGIN) + 6.0;
    let height = top_y + panel_rows as f64 * cell_h + 22.0 + MARGIN;
    let mut scene = Scene::new(width, height);
    scene.title(&title);
    scene.legend(MARGIN, legend_top, &legend, width - MARGIN);
    for (i, simulator) in trend.simulators.iter().enumerate() {
        let x0 = MARGIN + AXIS_W + (i % columns) as f64 * cell_w;
        let y0 = top_y + (i / columns) as f64 * cell_h + 22.0;
        let panel = Panel { x0, y0, nights: trend.nights.len(), y_max: trend.y_max };
        scene.text(Text::new(x0, y0 - 10.0, clean(simulator, NAME_CHARS), LABEL_SIZE).bold());
        draw_frame(&mut scene, &panel, &trend);
        draw_series(&mut scene, &panel, &trend, simulator);
    }
    let note =
        format!("x: nights (month-day, UTC), marked below: + the inputs only grew; y: JS ({}), one scale", trend.unit);
    scene.text(Text::new(MARGIN, height - MARGIN - 6.0, note, TICK_SIZE).color(MUTED));
    let caption = trend.caption(data);
    Some(Plot { name: HISTORY_FIGURE.to_owned(), title, caption, scene })
}

/// What the figure draws: the nights in order, the simulators, and each one's JS row per night.
struct Trend<'a> {
    reference: String,
    facet: String,
    unit: String,
    nights: Vec<&'a Night>,
    simulators: Vec<String>,
    /// (simulator, night number) -> its JS row on the facet.
    rows: BTreeMap<(&'a str, u64), &'a HistoryRow>,
    y_max: f64,
}

impl<'a> Trend<'a> {
    fn of(data: &'a ReportData) -> Option<Self> {
        let js = |r: &&HistoryRow| r.estimate == Estimate::JsCorrected;
        let last_night = data.history.iter().map(|r| r.night.night).max()?;
        let latest_facet = || data.history.iter().filter(js).find(|r| r.night.night == last_night)?.facet.clone();
        let facet = data.headline_facet().or_else(latest_facet)?;
        let mut nights: Vec<&Night> = Vec::new();
        for row in &data.history {
            if !nights.iter().any(|n| n.night == row.night.night) {
                nights.push(&row.night);
            }
        }
        nights.sort_by_key(|n| n.night);
        let rows: BTreeMap<(&str, u64), &HistoryRow> = data
            .history
            .iter()
            .filter(|r| r.estimate == Estimate::JsCorrected && r.facet.as_deref() == Some(facet.as_str()))
            .map(|r| ((r.source.as_str(), r.night.night), r))
            .collect();
        let reference = data.reference().map(str::to_owned).or_else(|| Some(data.history.last()?.reference.clone()))?;
        let (shown, _) = data.shown_sources();
        let mut simulators: Vec<String> = shown.into_iter().filter(|s| *s != reference).collect();
        if simulators.is_empty() {
            simulators = rows.keys().filter(|(_, n)| *n == last_night).map(|(s, _)| (*s).to_owned()).collect();
        }
        simulators.retain(|s| rows.keys().any(|(source, _)| source == s));
        if simulators.is_empty() {
            return None;
        }
        let top = rows
            .values()
            .flat_map(|r| [r.value, r.hi, r.human_ceiling, r.human_ceiling_hi])
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let unit = rows.values().find_map(|r| r.unit.clone()).unwrap_or_else(|| "nats".to_owned());
        let y_max = js_axis_max(top, &unit);
        Some(Trend { reference, facet, unit, nights, simulators, rows, y_max })
    }

    fn caption(&self, data: &ReportData) -> String {
        let (reference, facet) = (&self.reference, &self.facet);
        let first = self.nights.first().map_or("", |n| n.date.as_str());
        let last = self.nights.last().map_or("", |n| n.date.as_str());
        let count = self.nights.len();
        let span =
            if count == 1 { format!("one night, {first}") } else { format!("{count} nights, {first} to {last}") };
        let one = if count == 1 {
            " One night so far: a single point per simulator; the trend grows with each night whose inputs or \
             settings differ from the last one recorded."
        } else {
            ""
        };
        let (_, left_out) = data.shown_sources();
        format!(
            "Bias-corrected Jensen-Shannon divergence from {reference} on facet {facet}, in {}, with 95% intervals, \
             per night recorded in history.parquet ({span}), one panel per simulator; grey: the human split-half \
             ceiling corrected the same way, with its 2.5-97.5% range (about 0: what sampling noise alone leaves). \
             S marks a night whose settings changed (the pipeline's tables but [output] and [report], the files they \
             name, or the simgap version), and the line is broken there; I marks a night whose input set changed \
             other than by new files (a file edited or removed); + marks a night whose inputs only grew (every file \
             of the night before unchanged, new ones added), the usual night.{one}{}",
            self.unit,
            left_out_note(left_out, "history.parquet")
        )
    }
}

/// One simulator's panel: its corners and scales.
struct Panel {
    x0: f64,
    y0: f64,
    nights: usize,
    y_max: f64,
}

impl Panel {
    fn x1(&self) -> f64 {
        self.x0 + PANEL_W
    }

    fn y1(&self) -> f64 {
        self.y0 + PANEL_H
    }

    /// The x of the `i`-th night: the middle for one night, else evenly spread inside a margin.
    fn x_of(&self, i: usize) -> f64 {
        if self.nights <= 1 {
            return self.x0 + PANEL_W / 2.0;
        }
        let pad = 14.0;
        self.x0 + pad + i as f64 * (PANEL_W - 2.0 * pad) / (self.nights - 1) as f64
    }

    /// The y of a JS value, clamped to the panel.
    fn y_of(&self, v: f64) -> f64 {
        self.y1() - (v / self.y_max).clamp(0.0, 1.0) * PANEL_H
    }

    /// Half the width of a night's ceiling band.
    fn half_slot(&self) -> f64 {
        if self.nights <= 1 { 8.0 } else { ((PANEL_W - 28.0) / (self.nights - 1) as f64 * 0.35).clamp(1.0, 8.0) }
    }
}

/// The panel's grid, JS ticks, night labels (thinned to fit), change marks and frame.
fn draw_frame(scene: &mut Scene, panel: &Panel, trend: &Trend) {
    let ticks = with_end(nice_ticks(0.0, panel.y_max, 3), panel.y_max, panel.y_max * 0.2);
    for tick in &ticks {
        let y = panel.y_of(*tick);
        scene.line(vec![(panel.x0, y), (panel.x1(), y)], GRID, 1.0);
        scene.text(Text::new(panel.x0 - 5.0, y, tick_label(*tick), TICK_SIZE).align(Align::End).color(MUTED));
    }
    let label_w = text_width("00-00", TICK_SIZE) + 10.0;
    let fitting = ((PANEL_W / label_w).floor() as usize).max(1);
    let step = trend.nights.len().div_ceil(fitting).max(1);
    for (i, night) in trend.nights.iter().enumerate() {
        let x = panel.x_of(i);
        if i % step == 0 {
            let day = night.date.get(5..).unwrap_or(&night.date).to_owned();
            scene.text(Text::new(x, panel.y1() + 10.0, day, TICK_SIZE).align(Align::Middle).color(MUTED));
        }
        let night_marks = marks(night);
        if let Some((_, color)) = night_marks.iter().find(|(mark, _)| *mark != "+") {
            scene.dashed(x, panel.y0, panel.y1(), *color, 1.2);
        }
        let marks_w: f64 = night_marks.iter().map(|(mark, _)| text_width(mark, TICK_SIZE)).sum();
        let mut mark_x = x - marks_w / 2.0;
        for (mark, color) in night_marks {
            scene.text(Text::new(mark_x, panel.y1() + 26.0, mark, TICK_SIZE).bold().color(color));
            mark_x += text_width(mark, TICK_SIZE);
        }
    }
    scene.rect(panel.x0, panel.y0, panel.x1(), panel.y1(), None, Some(AXIS));
}

/// A night's marks, each with its colour: `S` (settings changed), `I` (inputs changed, not only grown), `+` (the
/// inputs only grew).
fn marks(night: &Night) -> Vec<(&'static str, Rgb)> {
    let mut marks = Vec::new();
    if night.settings_change == SettingsChange::Changed {
        marks.push(("S", SETTINGS_MARK));
    }
    match night.inputs_change {
        InputsChange::Changed => marks.push(("I", INPUTS_MARK)),
        InputsChange::Grew => marks.push(("+", MUTED)),
        InputsChange::First | InputsChange::Unchanged => {}
    }
    marks
}

/// One simulator's ceiling (bands and line) and JS (intervals, line and points), nights joined unless the settings
/// changed between them.
fn draw_series(scene: &mut Scene, panel: &Panel, trend: &Trend, simulator: &str) {
    let row_of = |i: usize| trend.rows.get(&(simulator, trend.nights[i].night)).copied();
    let half = panel.half_slot();
    let mut ceiling_line: Vec<(f64, f64)> = Vec::new();
    let mut js_line: Vec<(f64, f64)> = Vec::new();
    for i in 0..trend.nights.len() {
        let x = panel.x_of(i);
        if trend.nights[i].settings_change == SettingsChange::Changed {
            flush(scene, &mut ceiling_line, CEILING, 1.5);
            flush(scene, &mut js_line, POINT, 1.5);
        }
        let Some(row) = row_of(i) else {
            flush(scene, &mut ceiling_line, CEILING, 1.5);
            flush(scene, &mut js_line, POINT, 1.5);
            continue;
        };
        if row.human_ceiling_lo.is_finite() && row.human_ceiling_hi.is_finite() {
            let (top, bottom) = (panel.y_of(row.human_ceiling_hi), panel.y_of(row.human_ceiling_lo));
            scene.rect(x - half, top, x + half, bottom.max(top + 1.0), Some(CEILING_BAND), None);
        }
        if row.human_ceiling.is_finite() {
            ceiling_line.push((x, panel.y_of(row.human_ceiling)));
        }
        if row.value.is_finite() {
            js_line.push((x, panel.y_of(row.value)));
        }
    }
    flush(scene, &mut ceiling_line, CEILING, 1.5);
    flush(scene, &mut js_line, POINT, 1.5);
    for i in 0..trend.nights.len() {
        let Some(row) = row_of(i) else { continue };
        let x = panel.x_of(i);
        if row.human_ceiling.is_finite() {
            let y = panel.y_of(row.human_ceiling);
            scene.line(vec![(x - half, y), (x + half, y)], CEILING, 2.0);
        }
        if row.lo.is_finite() && row.hi.is_finite() {
            let (a, b) = (panel.y_of(row.lo), panel.y_of(row.hi));
            scene.line(vec![(x, a), (x, b)], POINT, 1.5);
            scene.line(vec![(x - 3.0, a), (x + 3.0, a)], POINT, 1.5);
            scene.line(vec![(x - 3.0, b), (x + 3.0, b)], POINT, 1.5);
        }
        if row.value.is_finite() {
            scene.circle(x, panel.y_of(row.value), 3.5, POINT, None);
        }
    }
}

/// Draws the points gathered so far as one line (two at least) and starts a new one.
fn flush(scene: &mut Scene, points: &mut Vec<(f64, f64)>, color: Rgb, width: f64) {
    if points.len() >= 2 {
        scene.line(std::mem::take(points), color, width);
    }
    points.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::history::HistoryRow;

    /// A JS row of `source` on facet `all` on night `number`, whose settings changed when `settings_changed`.
    fn row(number: u64, source: &str, value: f64, settings_changed: bool) -> HistoryRow {
        let night = Night {
            night: number,
            date: format!("2025-12-{number:02}"),
            simgap_version: "0".into(),
            inputs_sha256: format!("i{number}"),
            input_files: number,
            inputs_change: if number == 1 { InputsChange::First } else { InputsChange::Grew },
            settings_sha256: "s".into(),
            settings_change: if settings_changed { SettingsChange::Changed } else { SettingsChange::Unchanged },
        };
        HistoryRow {
            night,
            reference: "human".into(),
            source: source.into(),
            kind: "simulator".into(),
            facet: Some("all".into()),
            estimate: Estimate::JsCorrected,
            unit: Some("nats".into()),
            value,
            lo: value - 0.01,
            hi: value + 0.01,
            human_ceiling: 0.0,
            human_ceiling_lo: -0.01,
            human_ceiling_hi: 0.02,
        }
    }

    /// Lines in the JS colour through three points or more.
    fn js_lines_through_three(svg: &str) -> usize {
        let colour = format!("#{:02X}{:02X}{:02X}", POINT.0, POINT.1, POINT.2).to_lowercase();
        svg.split("<polyline")
            .skip(1)
            .map(|element| element.split("/>").next().unwrap_or_default().to_lowercase())
            .filter(|element| element.contains(&colour))
            .filter(|element| {
                let points = element.split("points=\"").nth(1).unwrap_or_default();
                points.split('"').next().unwrap_or_default().split_whitespace().count() >= 3
            })
            .count()
    }

    fn circles(plot: &Plot) -> usize {
        plot.scene.svg().unwrap().matches("<circle").count()
    }

    #[test]
    fn no_history_no_figure_one_night_one_point_per_simulator() {
        let mut data = ReportData::default();
        assert!(history_js(&data).is_none());
        data.history = vec![row(1, "sim-a", 0.2, false), row(1, "sim-b", 0.1, false)];
        let plot = history_js(&data).expect("one night is drawn");
        assert_eq!(circles(&plot), 2 + 1, "a point per simulator and the legend's");
        assert!(plot.caption.contains("One night so far"), "{}", plot.caption);
    }

    #[test]
    fn every_night_is_a_point_and_a_settings_change_breaks_the_line_and_is_marked() {
        let mut data = ReportData::default();
        for (number, value) in [(1, 0.3), (2, 0.25), (3, 0.2)] {
            data.history.push(row(number, "sim-a", value, number == 3));
        }
        data.history.push(row(3, "sim-b", f64::NAN, true));
        let plot = history_js(&data).unwrap();
        let svg = plot.scene.svg().unwrap();
        assert_eq!(circles(&plot), 3 + 1, "sim-a's three nights; sim-b has no value");
        let texts: Vec<&str> = svg.split("</text>").filter_map(|t| Some(t.rsplit_once('>')?.1.trim())).collect();
        assert_eq!(texts.iter().filter(|t| **t == "S").count(), 2, "night 3 is marked in both panels");
        assert!(!svg.contains("NaN") && texts.contains(&"12-03"), "{texts:?}");
        // Nights 1 and 2 joined, night 3 apart: no JS line through three nights; one without the change.
        assert_eq!(js_lines_through_three(&svg), 0);
        let mut unbroken = data.clone();
        unbroken.history.iter_mut().for_each(|r| r.night.settings_change = SettingsChange::Unchanged);
        assert_eq!(js_lines_through_three(&history_js(&unbroken).unwrap().scene.svg().unwrap()), 1);
    }
}
