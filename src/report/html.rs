//! `report.html`: one self-contained page (no network, no scripts) with the tables, the figures, the cluster
//! explanations, the manifest and every warning.
//!
//! Consumes: [`ReportData`], the built [`Table`]s and written [`Figure`]s. Produces: the page's text. Transcripts
//! are untrusted input: every piece of text that came from data (source names, words, example turns, warnings, the
//! manifest) goes through [`escape`]; figures are embedded as base64 `data:` images, never inlined as markup, so
//! nothing inside an SVG can run.

use std::fmt::Write;

use super::data::{ClusterRow, ReportData, SHOWN_SOURCES, left_out_note};
use super::figures::{Figure, HISTORY_FIGURE};
use super::tables::Table;

/// How many clusters of each simulator the explanations list (those contributing most to JS).
const EXPLAINED_CLUSTERS: usize = 6;

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{padding:4px 8px;border-bottom:1px solid #ddd;\
text-align:right}th{border-bottom:2px solid #444}td:first-child,th:first-child{text-align:left}\
caption{caption-side:bottom;text-align:left;font-size:13px;color:#555;padding-top:6px;max-width:900px}\
.missed{color:#b03a2e}.hallucinated{color:#1f618d}.captured{color:#1e8449}figure{margin:1.5em 0}\
figcaption{font-size:13px;color:#555;max-width:900px}img{max-width:100%}.warn{background:#fff4e5;padding:2px 6px}\
blockquote{margin:4px 0 4px 1em;color:#444;font-style:italic}pre{background:#f6f6f6;padding:1em;overflow:auto;\
max-height:400px;font-size:12px}";

fn html_table(out: &mut String, table: &Table) {
    let _ = write!(out, "<table id=\"table-{}\">", escape(&table.name));
    let _ = write!(out, "<caption><b>{}.</b> {}</caption><tr>", escape(&table.title), escape(&table.caption));
    for (name, _) in &table.columns {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    out.push_str("</tr>");
    for row in table.rendered(3) {
        out.push_str("<tr>");
        for (text, bold) in row {
            if bold {
                let _ = write!(out, "<td><b>{}</b></td>", escape(&text));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(&text));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
}

fn figure(out: &mut String, figure: &Figure) {
    let _ = writeln!(
        out,
        "<figure id=\"figure-{}\"><img alt=\"{}\" src=\"data:image/svg+xml;base64,{}\"><figcaption><b>{}.</b> {}\
         </figcaption></figure>",
        escape(&figure.name),
        escape(&figure.title),
        base64(figure.svg.as_bytes()),
        escape(&figure.title),
        escape(&figure.caption)
    );
}

fn explanations(out: &mut String, data: &ReportData, facet: &str) {
    let reference = data.reference().unwrap_or_default();
    let rows: Vec<&ClusterRow> = data.clusters.iter().filter(|c| c.facet == facet).collect();
    let (shown, left_out) = data.shown_sources();
    let mut simulators: Vec<&str> = Vec::new();
    for row in &rows {
        let listed = left_out == 0 || shown.contains(&row.source);
        if listed && row.source != reference && !simulators.contains(&row.source.as_str()) {
            simulators.push(&row.source);
        }
    }
    let _ = write!(
        out,
        "<h3>Facet {}</h3><p>For each simulator, the clusters that contribute most to its JS from {}: \
         <span class=\"missed\">missed</span> (humans there at least twice as often), \
         <span class=\"hallucinated\">hallucinated</span> (the simulator at least twice as often) or \
         <span class=\"captured\">captured</span>, with the features that set the cluster apart (z-scores against \
         all conversations), its most distinctive words and example user turns.</p>",
        escape(facet),
        escape(reference)
    );
    if left_out > 0 {
        let _ = write!(out, "<p>{}</p>", escape(left_out_note(left_out, "clusters.parquet").trim()));
    }
    for simulator in simulators {
        let mut own: Vec<&&ClusterRow> = rows.iter().filter(|r| r.source == simulator).collect();
        own.sort_by(|a, b| b.js_term.total_cmp(&a.js_term).then(a.cluster.cmp(&b.cluster)));
        let _ = write!(out, "<h4>{}</h4><ul>", escape(simulator));
        for row in own.iter().take(EXPLAINED_CLUSTERS) {
            let label = row.label.as_deref().unwrap_or("empty");
            let features: Vec<String> = row
                .extreme_features
                .iter()
                .zip(&row.extreme_z)
                .map(|(f, z)| format!("{} ({z:+.1})", escape(f)))
                .collect();
            let _ = write!(
                out,
                "<li><span class=\"{label}\">cluster {} {label}</span>: {:.1}% of {} vs {:.1}% of {}; JS term {:.4}. \
                 Features: {}. Words: {}.",
                row.cluster,
                100.0 * row.reference_share,
                escape(reference),
                100.0 * row.share,
                escape(simulator),
                row.js_term,
                if features.is_empty() { "–".to_owned() } else { features.join(", ") },
                if row.top_words.is_empty() { "–".to_owned() } else { escape(&row.top_words.join(", ")) }
            );
            for turn in &row.example_turns {
                let _ = write!(out, "<blockquote>{}</blockquote>", escape(turn));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
}

/// The trend across the nights of `history.parquet`: its figure and the last nights' table, or why there is none.
fn history_section(out: &mut String, data: &ReportData, figures: &[Figure]) {
    out.push_str("<h2 id=\"history\">Night by night</h2>\n");
    match figures.iter().find(|f| f.name == HISTORY_FIGURE) {
        Some(trend) => figure(out, trend),
        None => {
            let _ = writeln!(out, "<p>{}</p>", escape(&super::history::page::missing(data)));
        }
    }
    if let Some(table) = super::history::page::nights_table(data) {
        html_table(out, &table);
    }
}

/// Every warning the manifest's stages recorded.
fn warnings(data: &ReportData) -> Vec<String> {
    let mut all = Vec::new();
    if let Some(stages) = data.manifest.get("stages").and_then(|s| s.as_object()) {
        for (stage, section) in stages {
            if let Some(list) = section.get("warnings").and_then(|w| w.as_array()) {
                all.extend(list.iter().filter_map(|w| w.as_str()).map(|w| format!("{stage}: {w}")));
            }
        }
    }
    all
}

/// The whole page.
pub fn page(data: &ReportData, tables: &[Table], figures: &[Figure]) -> String {
    let mut out = String::new();
    let reference = data.reference().unwrap_or("the reference");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>simgap report</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src \
         'unsafe-inline'\"><style>{STYLE}</style></head><body>\n<h1>How far are the simulators from {}?</h1>\n",
        escape(reference)
    );
    let sources = data.sources();
    let _ = writeln!(
        out,
        "<p>{} sources compared with {} on {} facets. Written by simgap {}.</p>",
        sources.len().saturating_sub(1),
        escape(reference),
        data.facets().len(),
        env!("CARGO_PKG_VERSION")
    );
    let warnings = warnings(data);
    if !warnings.is_empty() {
        out.push_str("<h2>Warnings</h2><ul>");
        for warning in &warnings {
            let _ = write!(out, "<li class=\"warn\">{}</li>", escape(warning));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Tables</h2>\n");
    for table in tables {
        html_table(&mut out, table);
    }
    if figures.iter().any(|f| f.name != HISTORY_FIGURE) {
        out.push_str("<h2>Figures</h2>\n");
        for f in figures.iter().filter(|f| f.name != HISTORY_FIGURE) {
            figure(&mut out, f);
        }
    }
    history_section(&mut out, data, figures);
    out.push_str("<h2>What the clusters mean</h2>\n");
    let mut facets = data.facets();
    if let Some(headline) = data.headline_facet() {
        facets.retain(|f| *f != headline);
        facets.insert(0, headline);
    }
    for facet in &facets {
        explanations(&mut out, data, facet);
    }
    let manifest = serde_json::to_string_pretty(&abridged(&data.manifest)).unwrap_or_default();
    let _ = write!(
        out,
        "<h2>Manifest</h2><p>manifest.json, with every list or table of more than {SHOWN_SOURCES} entries (files, \
         sources, feature means, warnings) left to the file.</p><pre>{}</pre>\n</body></html>\n",
        escape(&manifest)
    );
    out
}

/// `value` with every array or object of more than [`SHOWN_SOURCES`] entries replaced by a note of its size: with
/// 200 sources the whole manifest is a megabyte of per-file and per-source entries.
fn abridged(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let note = |n: usize| Value::String(format!("{n} entries: see manifest.json"));
    match value {
        Value::Array(items) if items.len() > SHOWN_SOURCES => note(items.len()),
        Value::Object(map) if map.len() > SHOWN_SOURCES => note(map.len()),
        Value::Array(items) => Value::Array(items.iter().map(abridged).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), abridged(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_on_the_page_leaves_long_lists_to_the_file() {
        let files: Vec<serde_json::Value> = (0..30).map(|i| serde_json::json!({ "file": i })).collect();
        let manifest = serde_json::json!({ "stages": { "ingest": { "files": files, "read": 30 } }, "seed": [1, 2] });
        let shown = abridged(&manifest);
        assert_eq!(shown["stages"]["ingest"]["files"], "30 entries: see manifest.json");
        assert_eq!(shown["stages"]["ingest"]["read"], 30);
        assert_eq!(shown["seed"], serde_json::json!([1, 2]));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
