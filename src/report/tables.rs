//! Paper tables: each built once as cells, then written as Markdown, LaTeX (booktabs) and CSV.
//!
//! Consumes: [`ReportData`]. Produces: [`Table`]s: `main` (the headline facet: every divergence with its 95%
//! interval, the human ceiling and the p-value), `facets` (JS per facet and source), `pairwise` (the JS matrix on the
//! headline facet), `usi` (D1-D4, Eval, ECE, USI) and `mixtures`. The best value of each column is bold (lowest
//! divergence, highest MAUVE and similarity); captions name the facet, K, smoothing, unit, n per source and seed.
//! CSV holds the raw numbers (an interval as three columns: value, `_lo`, `_hi`), the others rounded text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::data::{Bounded, ReportData, left_out_note};

/// Which end of a column is best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Not ranked (names, sizes, p-values).
    Neither,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Interval(Bounded),
}

impl Cell {
    fn value(&self) -> Option<f64> {
        match self {
            Cell::Text(_) => None,
            Cell::Number(v) => Some(*v),
            Cell::Interval(b) => Some(b.value),
        }
    }
}

/// A table ready to render.
#[derive(Debug, Clone)]
pub struct Table {
    /// File stem: `tables/<name>.md`, `.tex`, `.csv`.
    pub name: String,
    pub title: String,
    pub caption: String,
    pub columns: Vec<(String, Better)>,
    pub rows: Vec<Vec<Cell>>,
}

fn number_text(value: f64, digits: usize) -> String {
    if value.is_nan() {
        "–".to_owned()
    } else if value == f64::INFINITY {
        "∞".to_owned()
    } else {
        format!("{value:.digits$}")
    }
}

fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '∞' => out.push_str("$\\infty$"),
            '–' => out.push_str("--"),
            _ => out.push(c),
        }
    }
    out
}

/// A CSV field: quoted where needed, and a text that a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return; a source may be named anything) prefixed with `'`, as OWASP advises.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// Text for a Markdown table: HTML (a source may be named `<script>`) shown as text, pipes escaped, line breaks
/// as spaces.
fn markdown_text(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;").replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn csv_number(value: f64) -> String {
    if value.is_nan() {
        String::new()
    } else if value.is_infinite() {
        if value > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{value}")
    }
}

impl Table {
    /// Rows whose cell in each ranked column is the best, per column.
    fn best(&self) -> Vec<Option<f64>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(j, (_, better))| {
                let values = self.rows.iter().filter_map(|r| r[j].value()).filter(|v| !v.is_nan());
                match better {
                    Better::Lower => values.min_by(f64::total_cmp),
                    Better::Higher => values.max_by(f64::total_cmp),
                    Better::Neither => None,
                }
            })
            .collect()
    }

    /// Each cell as rounded text, and whether it is its column's best.
    pub fn rendered(&self, digits: usize) -> Vec<Vec<(String, bool)>> {
        let best = self.best();
        // Scores on 0-100 (USI) read better with one decimal.
        let column_digits: Vec<usize> = (0..self.columns.len())
            .map(|j| {
                let large = self.rows.iter().filter_map(|r| r[j].value()).any(|v| v.is_finite() && v.abs() >= 10.0);
                if large { 1 } else { digits }
            })
            .collect();
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(j, cell)| {
                        let is_best = self.rows.len() > 1 && cell.value().is_some() && cell.value() == best[j];
                        let text = match cell {
                            Cell::Text(t) => t.clone(),
                            Cell::Number(v) => number_text(*v, column_digits[j]),
                            Cell::Interval(b) => format!(
                                "{} [{}, {}]",
                                number_text(b.value, column_digits[j]),
                                number_text(b.lo, column_digits[j]),
                                number_text(b.hi, column_digits[j])
                            ),
                        };
                        (text, is_best)
                    })
                    .collect()
            })
            .collect()
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("**{}.** {}\n\n", markdown_text(&self.title), markdown_text(&self.caption));
        let header: Vec<String> = self.columns.iter().map(|(h, _)| markdown_text(h)).collect();
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        let align: Vec<&str> = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, _)| if self.rows.iter().all(|r| matches!(r[j], Cell::Text(_))) { "---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for row in self.rendered(3) {
            let cells: Vec<String> = row
                .into_iter()
                .map(|(text, bold)| {
                    let text = markdown_text(&text);
                    if bold { format!("**{text}**") } else { text }
                })
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    pub fn latex(&self) -> String {
        let spec: String = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, _)| if self.rows.iter().all(|r| matches!(r[j], Cell::Text(_))) { 'l' } else { 'r' })
            .collect();
        let mut out =
            String::from("% Needs \\usepackage{booktabs}. Written by simgap.\n\\begin{table}[t]\n\\centering\n");
        out.push_str(&format!("\\caption{{{}. {}}}\n", latex_escape(&self.title), latex_escape(&self.caption)));
        out.push_str(&format!("\\label{{tab:simgap-{}}}\n", self.name));
        out.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n"));
        let header: Vec<String> = self.columns.iter().map(|(h, _)| latex_escape(h)).collect();
        out.push_str(&format!("{} \\\\\n\\midrule\n", header.join(" & ")));
        for row in self.rendered(3) {
            let cells: Vec<String> = row
                .into_iter()
                .map(|(text, bold)| {
                    let text = latex_escape(&text);
                    if bold { format!("\\textbf{{{text}}}") } else { text }
                })
                .collect();
            out.push_str(&format!("{} \\\\\n", cells.join(" & ")));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        out
    }

    pub fn csv(&self) -> String {
        let mut header = Vec::new();
        for (j, (name, _)) in self.columns.iter().enumerate() {
            header.push(csv_field(name));
            if self.rows.iter().any(|r| matches!(r[j], Cell::Interval(_))) {
                header.push(csv_field(&format!("{name}_lo")));
                header.push(csv_field(&format!("{name}_hi")));
            }
        }
        let mut out = header.join(",") + "\n";
        for row in &self.rows {
            let mut fields = Vec::new();
            for (j, cell) in row.iter().enumerate() {
                let interval_column = self.rows.iter().any(|r| matches!(r[j], Cell::Interval(_)));
                match cell {
                    Cell::Text(t) => fields.push(csv_field(t)),
                    Cell::Number(v) => fields.push(csv_number(*v)),
                    Cell::Interval(b) => {
                        fields.extend([csv_number(b.value), csv_number(b.lo), csv_number(b.hi)]);
                        continue;
                    }
                }
                if interval_column {
                    fields.extend([String::new(), String::new()]);
                }
            }
            out.push_str(&(fields.join(",") + "\n"));
        }
        out
    }

    /// Writes `<name>.md`, `.tex` and `.csv` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let mut written = Vec::new();
        for (extension, text) in [("md", self.markdown()), ("tex", self.latex()), ("csv", self.csv())] {
            let path = dir.join(format!("{}.{extension}", self.name));
            crate::atomic::write_atomic(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// "n = 560 (human), 280 (sim-a), ..." for captions.
fn sizes(data: &ReportData, facet: &str) -> String {
    let mut parts = Vec::new();
    if let Some(first) = data.divergence.iter().find(|r| r.facet == facet) {
        parts.push(format!("{} ({})", first.n_reference, first.reference));
    }
    for row in data.divergence.iter().filter(|r| r.facet == facet) {
        parts.push(format!("{} ({})", row.n_source, row.source));
    }
    format!("n = {}", parts.join(", "))
}

/// Every table of the report.
pub fn build(data: &ReportData, seed: u64) -> Vec<Table> {
    let mut tables = Vec::new();
    let reference = data.reference().unwrap_or("the reference").to_owned();
    if let Some(facet) = data.headline_facet() {
        let rows: Vec<_> = data.divergence.iter().filter(|r| r.facet == facet).collect();
        let first = rows[0];
        let unit = &first.unit;
        tables.push(Table {
            name: "main".into(),
            title: format!("Distance of each simulator from {reference}, facet {facet}"),
            caption: format!(
                "Facet {facet}, K = {}, KL smoothing {}, KL and JS in {unit}, seed {seed}; {}. Bias-corrected \
                 estimates (two-sample delete-one jackknife) with bias-aware 95% intervals (calibrated on simulated \
                 samples; coverage measured by simulation where each side has at least {} conversations per cluster: \
                 docs/method.md). JS plug-in: the uncorrected value, as the published protocol reports it. \
                 Human ceiling: the plug-in JS between two random parts of {reference} of the simulator's size, \
                 what sampling noise alone gives; above ceiling: the corrected JS minus the corrected ceiling. p from \
                 a permutation test. Best per column in bold.",
                first.k,
                first.smoothing,
                sizes(data, &facet),
                crate::divergence::VALIDATED_PER_CLUSTER
            ),
            columns: vec![
                ("source".into(), Better::Neither),
                ("JS".into(), Better::Lower),
                ("JS plug-in".into(), Better::Neither),
                ("KL(P‖Q)".into(), Better::Lower),
                ("KL(Q‖P)".into(), Better::Lower),
                ("TV".into(), Better::Lower),
                ("MAUVE".into(), Better::Higher),
                ("MAUVE*".into(), Better::Higher),
                ("human ceiling JS".into(), Better::Neither),
                ("JS above ceiling".into(), Better::Lower),
                ("p".into(), Better::Neither),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    let c = &r.corrected;
                    vec![
                        Cell::Text(r.source.clone()),
                        Cell::Interval(c.js),
                        Cell::Number(r.js.value),
                        Cell::Interval(c.kl_forward),
                        Cell::Interval(c.kl_backward),
                        Cell::Interval(c.tv),
                        Cell::Interval(c.mauve),
                        Cell::Interval(c.mauve_star),
                        Cell::Number(r.human_ceiling_js.value),
                        Cell::Interval(r.js_above_ceiling),
                        Cell::Number(r.p_value),
                    ]
                })
                .collect(),
        });
        let facets = data.facets();
        let sources: Vec<String> = data.sources().into_iter().filter(|s| *s != reference).collect();
        let by_facet_and_source: HashMap<(&str, &str), _> =
            data.divergence.iter().map(|r| ((r.facet.as_str(), r.source.as_str()), r)).collect();
        let mut columns = vec![("source".to_owned(), Better::Neither)];
        columns.extend(facets.iter().map(|f| (f.clone(), Better::Lower)));
        tables.push(Table {
            name: "facets".into(),
            title: format!("Jensen-Shannon divergence from {reference} per facet"),
            caption: format!(
                "Bias-corrected JS (jackknife) in {unit} with 95% intervals, one codebook per facet (K = {}), seed \
                 {seed}. The last row is the human split-half ceiling, corrected the same way (mean over the \
                 simulators' sizes): about 0 where the correction removes the sampling noise. Lowest per facet in \
                 bold.",
                first.k
            ),
            columns,
            rows: sources
                .iter()
                .map(|source| {
                    let mut row = vec![Cell::Text(source.clone())];
                    for facet in &facets {
                        let found = by_facet_and_source.get(&(facet.as_str(), source.as_str()));
                        row.push(found.map_or(Cell::Number(f64::NAN), |r| Cell::Interval(r.corrected.js)));
                    }
                    row
                })
                .chain(std::iter::once({
                    let mut row = vec![Cell::Text(format!("{reference} (split-half ceiling)"))];
                    for facet in &facets {
                        let values: Vec<f64> = data
                            .divergence
                            .iter()
                            .filter(|r| &r.facet == facet && !r.human_ceiling_js_corrected.value.is_nan())
                            .map(|r| r.human_ceiling_js_corrected.value)
                            .collect();
                        let mean =
                            if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 };
                        row.push(Cell::Text(number_text(mean, 3)));
                    }
                    row
                }))
                .collect(),
        });
        let (shown, left_out) = data.shown_sources();
        let mut columns = vec![("".to_owned(), Better::Neither)];
        columns.extend(shown.iter().map(|s| (s.clone(), Better::Neither)));
        let pair_js: HashMap<(&str, &str), f64> = data
            .pairwise
            .iter()
            .filter(|r| r.facet == facet)
            .map(|r| ((r.source_a.as_str(), r.source_b.as_str()), r.js))
            .collect();
        tables.push(Table {
            name: "pairwise".into(),
            title: format!("Pairwise Jensen-Shannon divergence, facet {facet}"),
            caption: format!(
                "JS in {unit} between every pair of sources on the shared codebook (K = {}).{}",
                first.k,
                left_out_note(left_out, "pairwise.parquet")
            ),
            columns,
            rows: shown
                .iter()
                .map(|a| {
                    let mut row = vec![Cell::Text(a.clone())];
                    for b in &shown {
                        row.push(Cell::Number(pair_js.get(&(a.as_str(), b.as_str())).copied().unwrap_or(f64::NAN)));
                    }
                    row
                })
                .collect(),
        });
        let mixtures: Vec<_> = data.mixtures.iter().filter(|m| m.facet == facet).collect();
        if !mixtures.is_empty() {
            tables.push(Table {
                name: "mixtures".into(),
                title: format!("Best mixtures of simulators, facet {facet}"),
                caption: format!(
                    "Weights on the simplex minimising JS({reference}, sum w Q); JS in {unit}. A mixture that gets \
                     much closer than the best single simulator means the simulators miss different behaviours."
                ),
                columns: vec![
                    ("mixture".into(), Better::Neither),
                    ("simulators (weight)".into(), Better::Neither),
                    ("JS".into(), Better::Lower),
                ],
                rows: mixtures
                    .iter()
                    .map(|m| {
                        let members: Vec<String> =
                            m.sources.iter().zip(&m.weights).map(|(s, w)| format!("{s} ({w:.2})")).collect();
                        vec![Cell::Text(m.mixture.clone()), Cell::Text(members.join(", ")), Cell::Number(m.js)]
                    })
                    .collect(),
            });
        }
    }
    if !data.usi.is_empty() {
        tables.push(Table {
            name: "usi".into(),
            title: format!("User-Sim Index against {reference}"),
            caption: format!(
                "D1-D4: Sorensen-Dice of feature means (style, information, clarification, error reaction); Eval: \
                 survey agreement; ECE: outcome calibration (lower is better); USI: mean of the available terms \
                 (the published scorer's estimate), with a 95% interval for the true USI (bootstrap spread widened \
                 upward by the bias bound of Dice's kink; coverage measured by simulation: docs/method.md); seed \
                 {seed}. {}",
                data.usi
                    .first()
                    .map(|u| format!(
                        "{} ({})",
                        u.note,
                        if u.human_ceiling_usi.is_nan() {
                            "no batches for a human ceiling".to_owned()
                        } else {
                            format!("human ceiling {:.1}", u.human_ceiling_usi)
                        }
                    ))
                    .unwrap_or_default()
            ),
            columns: vec![
                ("source".into(), Better::Neither),
                ("n".into(), Better::Neither),
                ("D1".into(), Better::Higher),
                ("D2".into(), Better::Higher),
                ("D3".into(), Better::Higher),
                ("D4".into(), Better::Higher),
                ("Eval".into(), Better::Higher),
                ("ECE".into(), Better::Lower),
                ("USI".into(), Better::Higher),
            ],
            rows: data
                .usi
                .iter()
                .map(|u| {
                    vec![
                        Cell::Text(u.source.clone()),
                        Cell::Text(u.n_source.to_string()),
                        Cell::Number(u.d[0]),
                        Cell::Number(u.d[1]),
                        Cell::Number(u.d[2]),
                        Cell::Number(u.d[3]),
                        Cell::Number(u.eval),
                        Cell::Number(u.ece),
                        Cell::Interval(u.usi),
                    ]
                })
                .collect(),
        });
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            name: "t".into(),
            title: "T".into(),
            caption: "a_b & c".into(),
            columns: vec![("source".into(), Better::Neither), ("JS".into(), Better::Lower)],
            rows: vec![
                vec![Cell::Text("sim_a".into()), Cell::Interval(Bounded { value: 0.2, lo: 0.1, hi: 0.3 })],
                vec![Cell::Text("sim|b".into()), Cell::Interval(Bounded { value: 0.1, lo: 0.05, hi: f64::INFINITY })],
            ],
        }
    }

    #[test]
    fn best_is_bold_in_markdown_and_latex() {
        let t = table();
        let md = t.markdown();
        assert!(md.contains("| sim\\|b | **0.100 [0.050, ∞]** |"), "{md}");
        assert!(md.contains("| sim_a | 0.200 [0.100, 0.300] |"));
        let tex = t.latex();
        assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
        assert!(tex.contains("sim\\_a & 0.200 [0.100, 0.300] \\\\"), "{tex}");
        assert!(tex.contains("\\textbf{0.100 [0.050, $\\infty$]}"), "{tex}");
        assert!(tex.contains("\\caption{T. a\\_b \\& c}"));
    }

    #[test]
    fn source_names_cannot_inject_html_or_spreadsheet_formulas() {
        let mut t = table();
        t.rows[0][0] = Cell::Text("<script>alert(1)</script>".into());
        t.rows[1][0] = Cell::Text("=HYPERLINK(\"http://x\",\"y\")".into());
        let md = t.markdown();
        assert!(md.contains("| &lt;script&gt;alert(1)&lt;/script&gt; |") && !md.contains("<script>"), "{md}");
        let csv = t.csv();
        assert!(csv.contains("\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","), "{csv}");
    }

    #[test]
    fn csv_keeps_raw_numbers_and_intervals_as_columns() {
        let csv = table().csv();
        assert_eq!(csv, "source,JS,JS_lo,JS_hi\nsim_a,0.2,0.1,0.3\nsim|b,0.1,0.05,inf\n");
    }
}
