//! Tests of the figures as a paper prints them: widths, text sizes, no title, text inside the page, the share axis
//! and the reference's outline, facets without values, and one source order in tables and figures.

use super::format::{Format, PAPER_TEXT, PaperWidth, UNITS_PER_POINT};
use super::histograms::histograms;
use super::js_by_facet::js_by_facet;
use super::tests::synthetic;
use super::usi_components::usi_components;
use crate::report::data::{Bounded, ReportData};
use crate::report::scene::TITLE_SIZE;

/// The paper width each figure is drawn for.
fn expected_width(name: &str) -> PaperWidth {
    if name.starts_with("histograms_") || name == "js_by_facet" { PaperWidth::Full } else { PaperWidth::Column }
}

#[test]
fn paper_figures_are_a_journals_width_with_8_to_9_pt_text_and_no_title() {
    for (n, k) in [(4, 12), (2, 3), (7, 50), (30, 40)] {
        let data = synthetic(n, k).in_source_order();
        let plots = super::draw(&data, true, &mut Vec::new());
        assert_eq!(plots.len(), 5, "{n} sources");
        for plot in plots {
            let inches = expected_width(&plot.name).inches();
            let width = plot.scene.width();
            assert!((width / UNITS_PER_POINT / 72.0 - inches).abs() < 0.01, "{}: {width} units", plot.name);
            for (text, size, left, right, vertical) in plot.scene.texts() {
                let points = size / UNITS_PER_POINT;
                assert!((8.0..=9.0).contains(&points), "{} ({n} sources): {text:?} at {points} pt", plot.name);
                assert!(size < TITLE_SIZE && text != plot.title, "{}: a title on paper", plot.name);
                if !vertical {
                    assert!(left >= 0.0 && right <= width + 0.5, "{} ({n}): {text:?} at {left}-{right}", plot.name);
                }
            }
            let pdf = String::from_utf8(plot.scene.pdf(1.0 / UNITS_PER_POINT)).unwrap();
            let media = format!("/MediaBox [0 0 {} ", (width / UNITS_PER_POINT * 100.0).round() / 100.0);
            assert!(pdf.contains(&media), "{}: {media} not in the PDF", plot.name);
        }
    }
    assert_eq!(PAPER_TEXT, (12.0, 13.5));
}

#[test]
fn screen_figures_keep_their_titles() {
    let data = synthetic(4, 12).in_source_order();
    for plot in super::draw(&data, false, &mut Vec::new()) {
        assert!(plot.scene.texts().iter().any(|t| t.0 == plot.title && t.1 == TITLE_SIZE), "{}", plot.name);
    }
}

#[test]
fn the_reference_outline_never_crosses_the_axis_and_each_panel_has_its_own_scale() {
    let mut data = synthetic(4, 12).in_source_order();
    // The reference spreads over ten clusters and has none in the last two; the simulators spread evenly, but one
    // puts half of its conversations in one cluster.
    let lone = data.sources()[2].clone();
    for row in data.clusters.iter_mut().filter(|c| c.facet == "all") {
        row.reference_share = if row.cluster >= 10 { 0.0 } else { 0.1 };
        row.share = if row.source == "human" { row.reference_share } else { 1.0 / 12.0 };
        if row.source == lone {
            row.share = if row.cluster == 0 { 0.5 } else { 0.5 / 11.0 };
        }
    }
    let plot = histograms(&data, "all", Format::Paper(PaperWidth::Full)).unwrap();
    let axes: Vec<f64> = plot.scene.lines().iter().filter(|(_, w)| *w == 1.0).map(|(p, _)| p[0].1).collect();
    let bottom_of = |y: f64| axes.iter().copied().filter(|a| *a >= y - 1e-9).fold(f64::INFINITY, f64::min);
    for (points, width) in plot.scene.lines().into_iter().filter(|(_, w)| *w == 1.5) {
        let lowest = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert!(lowest + width / 2.0 <= bottom_of(lowest) + 1e-9, "the outline crosses the axis at {lowest}");
    }
    let ticks: Vec<String> =
        plot.scene.texts().into_iter().map(|t| t.0).filter(|t| t.ends_with('%') && t != "0%").collect();
    assert_eq!(ticks, ["5%", "10%", "25%", "50%", "5%", "10%"], "only the lone panel goes to 50%");
}

#[test]
fn facets_without_values_are_left_out_and_named_in_the_caption() {
    let mut data = synthetic(4, 12);
    for row in data.divergence.iter_mut().filter(|r| r.facet == "lexical") {
        row.corrected.js = Bounded { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };
    }
    let data = data.in_source_order();
    for format in [Format::Screen, Format::Paper(PaperWidth::Full)] {
        let plot = js_by_facet(&data, format).unwrap();
        assert!(plot.caption.contains("Left out (no value): lexical."), "{}", plot.caption);
        assert!(plot.scene.texts().iter().all(|t| !t.0.starts_with("lexical")));
        assert!(plot.scene.texts().iter().any(|t| t.0.starts_with("style")));
    }
}

/// The order in which `names` first appear among a figure's texts.
fn order_in(texts: &[(String, f64, f64, f64, bool)], names: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for (text, ..) in texts {
        if let Some(name) = names.iter().find(|n| super::clean(n, super::labels::NAME_CHARS) == *text)
            && !seen.contains(name)
        {
            seen.push(name.clone());
        }
    }
    seen
}

#[test]
fn tables_and_figures_list_the_sources_in_one_order_closest_first() {
    let data: ReportData = synthetic(6, 12).in_source_order();
    let sources = data.sources();
    let simulators = sources[1..].to_vec();
    let headline: Vec<f64> = simulators
        .iter()
        .map(|s| data.divergence.iter().find(|r| r.facet == "all" && &r.source == s).unwrap().corrected.js.value)
        .collect();
    assert!(headline.windows(2).all(|w| w[0] <= w[1]), "closest first: {headline:?}");
    let tables = crate::report::table_builders::build(&data, 0);
    for name in ["main", "usi"] {
        let table = tables.iter().find(|t| t.name == name).unwrap();
        let rows: Vec<String> = table.rendered(3).into_iter().map(|row| row[0].0.clone()).collect();
        assert_eq!(rows, simulators, "table {name}");
    }
    for format in [Format::Screen, Format::Paper(PaperWidth::Column)] {
        let usi = usi_components(&data, format).unwrap();
        assert_eq!(order_in(&usi.scene.texts(), &simulators), simulators, "usi_components");
        let facets = js_by_facet(&data, format).unwrap();
        assert_eq!(order_in(&facets.scene.texts(), &simulators), simulators, "js_by_facet");
    }
}
