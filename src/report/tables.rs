//! Paper tables: each built once as cells, then written as Markdown, LaTeX (booktabs) and CSV.
//!
//! Consumes: [`Table`]s of cells, as [`super::table_builders`] makes them from the report data: `main` (the headline
//! facet: every divergence with its 95% interval, the human ceiling and the p-value), `facets` (JS per facet and
//! source), `pairwise` (the JS matrix on the headline facet), `usi` (D1-D4, Eval, ECE, USI) and `mixtures`.
//! Produces: each table's `.md`, `.tex` and `.csv` text and files. The best value of each column is bold (lowest
//! divergence, highest MAUVE and similarity); captions name the facet, K, smoothing, unit, n per source and seed.
//! CSV holds the raw numbers (an interval as three columns: value, `_lo`, `_hi`), the others rounded text.

use std::path::{Path, PathBuf};

use super::data::Bounded;
use super::error::ReportError;

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

/// A number as text with `digits` decimals; `–` for NaN and `∞` for infinity.
pub(super) fn number_text(value: f64, digits: usize) -> String {
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

    /// The decimals each column is shown with: `digits`, or one where a value reaches 10 (scores on 0-100, as USI,
    /// read better with one decimal).
    pub fn column_digits(&self, digits: usize) -> Vec<usize> {
        (0..self.columns.len())
            .map(|j| {
                let large = self.rows.iter().filter_map(|r| r[j].value()).any(|v| v.is_finite() && v.abs() >= 10.0);
                if large { 1 } else { digits }
            })
            .collect()
    }

    /// Each cell as rounded text, and whether it is its column's best.
    pub fn rendered(&self, digits: usize) -> Vec<Vec<(String, bool)>> {
        let best = self.best();
        let column_digits = self.column_digits(digits);
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
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::new();
        for (extension, text) in [("md", self.markdown()), ("tex", self.latex()), ("csv", self.csv())] {
            let path = dir.join(format!("{}.{extension}", self.name));
            crate::atomic::write_atomic(&path, text.as_bytes()).map_err(ReportError::write(&path))?;
            written.push(path);
        }
        Ok(written)
    }
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
