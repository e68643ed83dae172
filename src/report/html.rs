//! `report.html`: one self-contained page (no network, no scripts). The results come first (the tables, the
//! headline table leading, then the figures), then what the clusters mean; the warnings and notes follow, folded,
//! with their count in the summary, and the manifest last, folded. A table of contents under the title links every
//! section, table, figure and explained facet.
//!
//! Consumes: [`ReportData`], the built [`Table`]s, the written [`Figure`]s and the report's own warnings. Produces:
//! the page's text. Transcripts are untrusted input: every piece of text that came from data (source names, words,
//! example turns, warnings, the manifest) goes through [`escape`]; figures are embedded as base64 `data:` images,
//! never inlined as markup, so nothing inside an SVG can run. The parts: [`markup`] (tables, figures, anchors),
//! [`explanations`] (with [`feature_names`]), [`notes`] and [`manifest_view`] (only what is final when the page is
//! written; the page links to the file).

mod explanations;
mod feature_names;
mod manifest_view;
mod markup;
mod notes;

use std::fmt::Write;

pub use markup::{base64, escape};

use super::data::{ReportData, SHOWN_SOURCES};
use super::figures::{Figure, HISTORY_FIGURE};
use super::tables::Table;

/// The tables the results open with, in this order: the headline table, the per-facet table, USI. The others
/// follow in the order they were built.
const LEADING_TABLES: [&str; 3] = ["main", "facets", "usi"];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{padding:4px 6px;border-bottom:1px solid #ddd;\
text-align:right;white-space:nowrap;vertical-align:top}th{border-bottom:2px solid #444;white-space:normal;\
vertical-align:bottom}\
td:first-child,th:first-child{text-align:left}.ci{font-size:11px;color:#666}.wide{overflow-x:auto}\
caption{caption-side:bottom;text-align:left;font-size:13px;color:#555;padding-top:6px;max-width:900px;\
white-space:normal}.missed{color:#b03a2e}.hallucinated{color:#1f618d}.captured{color:#1e8449}figure{margin:1.5em 0}\
figcaption{font-size:13px;color:#555;max-width:900px}img{max-width:100%}nav{font-size:14px;background:#f6f6f6;\
padding:.5em 1em}nav ol{margin:.3em 0;padding-left:1.2em}summary{cursor:pointer}summary h3{display:inline}\
details{margin:.5em 0}.warn{background:#fff4e5;padding:2px 6px}\
blockquote{margin:4px 0 4px 1em;color:#444;font-style:italic}pre{background:#f6f6f6;padding:1em;overflow:auto;\
max-height:400px;font-size:12px}";

/// One section of the page: its anchor, heading and markup, and what the table of contents lists under it
/// (anchor, name).
struct Section {
    id: &'static str,
    title: String,
    body: String,
    entries: Vec<(String, String)>,
}

/// The whole page. `report_warnings` are the report stage's own (the figures'), known before the page is written.
pub fn page(data: &ReportData, tables: &[Table], figures: &[Figure], report_warnings: &[String]) -> String {
    let notes = notes::notes(&data.manifest, report_warnings);
    let mut sections = vec![results(tables)];
    let (trend, figures): (Vec<&Figure>, Vec<&Figure>) = figures.iter().partition(|f| f.name == HISTORY_FIGURE);
    if !figures.is_empty() {
        sections.push(figures_section(&figures));
    }
    sections.push(history_section(data, trend.first().copied()));
    sections.push(clusters(data));
    sections.push(notes_section(&notes));
    sections.push(manifest_section(data));

    let reference = data.reference().unwrap_or("the reference");
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>simgap report</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src \
         'unsafe-inline'\"><style>{STYLE}</style></head><body>\n<h1>How far are the simulators from {}?</h1>\n",
        escape(reference)
    );
    let _ = writeln!(
        out,
        "<p>{} sources compared with {} on {} facets. Written by simgap {}. {}</p>",
        data.sources().len().saturating_sub(1),
        escape(reference),
        data.facets().len(),
        env!("CARGO_PKG_VERSION"),
        match notes.len() {
            0 => "No warnings.".to_owned(),
            n => format!(
                "<a href=\"#notes\">{}</a> after the results.",
                count(n, "warning or note", "warnings and notes")
            ),
        }
    );
    contents(&mut out, &sections);
    for section in &sections {
        let _ = writeln!(out, "<section id=\"{}\"><h2>{}</h2>\n{}</section>", section.id, section.title, section.body);
    }
    out.push_str("</body></html>\n");
    out
}

/// `n` and the noun, singular or plural.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// The table of contents: one line per section, its entries after it.
fn contents(out: &mut String, sections: &[Section]) {
    out.push_str("<nav id=\"contents\"><b>Contents</b><ol>");
    for section in sections {
        let _ = write!(out, "<li><a href=\"#{}\">{}</a>", section.id, section.title);
        let entries: Vec<String> =
            section.entries.iter().map(|(id, name)| format!("<a href=\"#{id}\">{}</a>", escape(name))).collect();
        if !entries.is_empty() {
            let _ = write!(out, ": {}", entries.join(" · "));
        }
        out.push_str("</li>");
    }
    out.push_str("</ol></nav>\n");
}

/// The tables, the leading ones first.
fn results(tables: &[Table]) -> Section {
    let rank = |t: &Table| LEADING_TABLES.iter().position(|name| *name == t.name).unwrap_or(LEADING_TABLES.len());
    let mut ordered: Vec<&Table> = tables.iter().collect();
    ordered.sort_by_key(|t| rank(t));
    let mut body = String::new();
    if ordered.is_empty() {
        body.push_str("<p>No comparison: the tables need a reference and at least one other source.</p>");
    }
    for table in &ordered {
        markup::table(&mut body, table);
    }
    let entries = ordered.iter().map(|t| (markup::table_anchor(t), t.title.clone())).collect();
    Section { id: "results", title: "Results".into(), body, entries }
}

fn figures_section(figures: &[&Figure]) -> Section {
    let mut body = String::new();
    for figure in figures {
        markup::figure(&mut body, figure);
    }
    let entries = figures.iter().map(|f| (markup::figure_anchor(f), f.title.clone())).collect();
    Section { id: "figures", title: "Figures".into(), body, entries }
}

/// The trend across the nights of `history.parquet`: its figure and the last nights' table, or why there is none.
fn history_section(data: &ReportData, trend: Option<&Figure>) -> Section {
    let mut body = String::new();
    match trend {
        Some(figure) => markup::figure(&mut body, figure),
        None => {
            let _ = writeln!(body, "<p>{}</p>", escape(&super::history::page::missing(data)));
        }
    }
    let mut entries: Vec<(String, String)> =
        trend.iter().map(|f| (markup::figure_anchor(f), f.title.clone())).collect();
    if let Some(table) = super::history::page::nights_table(data) {
        markup::table(&mut body, &table);
        entries.push((markup::table_anchor(&table), table.title.clone()));
    }
    Section { id: "history", title: "Night by night".into(), body, entries }
}

fn clusters(data: &ReportData) -> Section {
    let explained = explanations::explanations(data);
    Section { id: "clusters", title: "What the clusters mean".into(), body: explained.body, entries: explained.facets }
}

fn notes_section(notes: &[(String, String)]) -> Section {
    let mut body = String::new();
    if notes.is_empty() {
        body.push_str("<p>No stage warned.</p>");
    } else {
        let _ = write!(
            body,
            "<details><summary>{} from the stages</summary><ul>",
            count(notes.len(), "warning or note", "warnings and notes")
        );
        for (stage, text) in notes {
            let _ = write!(body, "<li class=\"warn\"><b>{}</b>: {}</li>", escape(stage), escape(text));
        }
        body.push_str("</ul></details>");
    }
    Section { id: "notes", title: "Warnings and notes".into(), body, entries: Vec::new() }
}

fn manifest_section(data: &ReportData) -> Section {
    let shown = manifest_view::abridged(&manifest_view::final_part(&data.manifest));
    let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let body = format!(
        "<details><summary>The settings, inputs and counts of the stages before this report</summary><p>From \
         <a href=\"manifest.json\">manifest.json</a> as it stood when this page was written. The run's status \
         (<code>last_run</code>) and the report's own record, which holds this page's hash, are written after the \
         page: they are in the file only. Every list or table of more than {SHOWN_SOURCES} entries (files, sources, \
         feature means) is left to the file too.</p><pre>{}</pre></details>",
        escape(&text)
    );
    Section { id: "manifest", title: "Manifest".into(), body, entries: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::{Bounded, ClusterRow, CorrectedRow, DivergenceRow};

    fn divergence_row(facet: &str, source: &str, js: f64) -> DivergenceRow {
        let b = |value: f64| Bounded { value, lo: value - 0.01, hi: value + 0.05 };
        DivergenceRow {
            facet: facet.into(),
            reference: "human".into(),
            source: source.into(),
            kind: "simulator".into(),
            n_reference: 560,
            n_source: if facet == "timing" { 0 } else { 280 },
            k: 4,
            smoothing: "counts:0.5".into(),
            unit: "nats".into(),
            kl_forward: b(0.1),
            kl_backward: b(0.1),
            js: b(js),
            js_normalized: b(js),
            tv: b(0.2),
            mauve: b(0.9),
            mauve_star: b(0.9),
            frontier_integral: b(0.1),
            human_ceiling_js: b(0.01),
            corrected: CorrectedRow {
                kl_forward: b(0.1),
                kl_backward: b(0.1),
                js: b(js),
                tv: b(0.2),
                mauve: b(0.9),
                mauve_star: b(0.9),
                frontier_integral: b(0.1),
            },
            human_ceiling_js_corrected: b(0.0),
            js_above_ceiling: b(js),
            p_value: 0.01,
            warning: None,
        }
    }

    fn cluster_row(facet: &str, source: &str, cluster: u64, count: u64) -> ClusterRow {
        let share = if count == 0 { f64::NAN } else { count as f64 / 280.0 };
        ClusterRow {
            facet: facet.into(),
            k: 4,
            cluster,
            source: source.into(),
            kind: "simulator".into(),
            count,
            share,
            reference_share: 0.25,
            label: (count > 0).then(|| "missed".into()),
            js_term: if count == 0 { f64::NAN } else { 0.01 * cluster as f64 },
            extreme_features: vec!["style_questions_per_turn".into(), "lexical_22".into()],
            extreme_z: vec![1.6, -1.3],
            top_words: vec!["shirt".into(), "size".into()],
            example_turns: vec!["I need a bigger <size>".into()],
        }
    }

    /// Two simulators on facets all, lexical and timing (which neither simulator has), a manifest as the report
    /// stage finds it in the middle of `simgap run`.
    fn data() -> ReportData {
        let mut data = ReportData::default();
        for facet in ["all", "lexical", "timing"] {
            for (source, js) in [("sim-a", 0.05), ("sim-b", 0.3)] {
                data.divergence.push(divergence_row(facet, source, js));
                for cluster in 0..4 {
                    let count = if facet == "timing" { 0 } else { 70 };
                    data.clusters.push(cluster_row(facet, source, cluster, count));
                }
            }
        }
        data.manifest = serde_json::json!({
            "last_run": { "complete": false, "forced": false },
            "stages": {
                "cluster": { "warnings": ["fewer than 10 conversations per cluster (k = 4): sources sim-a, sim-b"] },
                "divergence": { "warnings": ["no conversation of sim-a, sim-b has a value in facets timing"] },
                "report": { "outputs": { "report.html": "0123" } },
            },
        });
        data
    }

    fn built_page() -> String {
        let data = data();
        page(&data, &crate::report::table_builders::build(&data, 0), &[], &["PNG figures skipped".to_owned()])
    }

    /// The values of `attribute="..."` in `page`, in order.
    fn attribute_values<'a>(page: &'a str, attribute: &str) -> Vec<&'a str> {
        let start = format!("{attribute}=\"");
        page.split(start.as_str()).skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect()
    }

    #[test]
    fn every_link_of_the_contents_points_at_an_anchor_that_exists() {
        let page = built_page();
        let ids = attribute_values(&page, "id");
        let links: Vec<&str> =
            attribute_values(&page, "href").into_iter().filter_map(|h| h.strip_prefix('#')).collect();
        assert!(links.len() >= 8, "{links:?}");
        for link in &links {
            assert_eq!(ids.iter().filter(|id| *id == link).count(), 1, "#{link} among {ids:?}");
        }
        for section in ["results", "clusters", "notes", "manifest", "table-main", "clusters-all", "clusters-lexical"] {
            assert!(links.contains(&section), "the contents lack #{section}: {links:?}");
        }
    }

    #[test]
    fn the_results_come_first_and_the_warnings_after_them() {
        let page = built_page();
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} is not on the page"));
        let order = [
            "<nav id=\"contents\"",
            "id=\"table-main\"",
            "id=\"table-facets\"",
            "id=\"table-pairwise\"",
            "id=\"clusters\"",
            "id=\"notes\"",
            "fewer than 10 conversations per cluster",
            "PNG figures skipped",
            "id=\"manifest\"",
        ];
        for pair in order.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{} comes after {}", pair[0], pair[1]);
        }
        assert!(page.contains("<summary>3 warnings and notes from the stages</summary>"), "folded, counted");
        assert!(page.contains("<a href=\"#notes\">3 warnings and notes</a> after the results"));
    }

    #[test]
    fn the_page_shows_only_the_final_manifest_and_no_projection_dimension() {
        let page = built_page();
        assert!(!page.contains("complete"), "the run's status is written after the page");
        assert!(!page.contains("0123"), "the report's own record is written after the page");
        assert!(page.contains("<a href=\"manifest.json\">manifest.json</a>"));
        assert!(!page.contains("lexical_"), "a dimension of the projection is named on the page");
        assert!(page.contains("question marks per user turn</span> (+1.6 sd); <span title=\"1 dimension"), "{page}");
        assert!(page.contains("&lt;size&gt;") && !page.contains("<size>"));
    }

    #[test]
    fn a_facet_no_simulator_has_is_not_explained() {
        let page = built_page();
        assert!(!page.contains("clusters-timing") && !page.contains("NaN"), "timing is explained");
        assert!(
            page.contains("<details id=\"clusters-all\" open>") && page.contains("<details id=\"clusters-lexical\">")
        );
    }
}
