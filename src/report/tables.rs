//! Paper tables: each built once as cells, then written as Markdown, LaTeX (booktabs; laid out for a paper by
//! [`super::latex`]) and CSV.
//!
//! Consumes: [`Table`]s of cells, as [`super::table_builders`] makes them from the report data: `main` (the headline
//! facet: every divergence with its 95% interval, the human ceiling and the p-value), `facets` (JS per facet and
//! source), `pairwise` (the JS matrix on the headline facet), `usi` (D1-D4, Eval, ECE, USI) and `mixtures`. Produces:
//! each table's `.md`, `.tex` and `.csv` text and files. The best value of each column is bold (lowest divergence,
//! highest MAUVE and similarity) where there is a comparison: at least two rows with a value in that column, not all
//! equal. Captions name the facet, K, smoothing, unit, n per source and seed. CSV holds the raw numbers (an interval as
//! three columns: value, `_lo`, `_hi`), Markdown every value as rounded text; both keep every column.

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
    /// Items of one text (a mixture's members): joined by ", " in Markdown and CSV, one a line in LaTeX.
    Lines(Vec<String>),
}

impl Cell {
    fn value(&self) -> Option<f64> {
        match self {
            Cell::Text(_) | Cell::Lines(_) => None,
            Cell::Number(v) => Some(*v),
            Cell::Interval(b) => Some(b.value),
        }
    }

    /// Whether the cell holds nothing: no number, or the text of one (`–`, or nothing).
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Cell::Text(t) => t.is_empty() || t == "–",
            Cell::Lines(items) => items.is_empty(),
            Cell::Number(v) => v.is_nan(),
            Cell::Interval(b) => b.value.is_nan(),
        }
    }

    /// Whether the cell is text (left-aligned) rather than a number.
    pub(super) fn is_text(&self) -> bool {
        matches!(self, Cell::Text(_) | Cell::Lines(_))
    }
}

/// A cell as rounded text: its value (or text), its interval's `[lo, hi]` when it has one, its lines when it is a
/// [`Cell::Lines`], and whether it is its column's best.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedCell {
    pub value: String,
    pub interval: Option<String>,
    pub lines: Vec<String>,
    pub bold: bool,
}

impl RenderedCell {
    /// The cell as one line of text.
    pub fn text(&self) -> String {
        match &self.interval {
            Some(interval) => format!("{} {interval}", self.value),
            None => self.value.clone(),
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
    /// Whether LaTeX shows the table transposed when it is wider than tall (a row per column); its rows then
    /// become columns headed by their first cells.
    pub transpose_when_wide: bool,
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
    /// The best value of each ranked column; none where fewer than two rows have a value or all values are equal
    /// (nothing to compare: one simulator, or one mixture that is also the best single simulator).
    fn best(&self) -> Vec<Option<f64>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(j, (_, better))| {
                let values = self.rows.iter().filter_map(|r| r[j].value()).filter(|v| !v.is_nan());
                let lowest = values.clone().min_by(f64::total_cmp);
                if values.clone().count() < 2 || values.clone().all(|v| Some(v) == lowest) {
                    return None;
                }
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
        let rows = self.rendered_cells(digits);
        rows.into_iter().map(|row| row.into_iter().map(|cell| (cell.text(), cell.bold)).collect()).collect()
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

    /// Each cell as rounded text in its parts (see [`RenderedCell`]).
    pub fn rendered_cells(&self, digits: usize) -> Vec<Vec<RenderedCell>> {
        let best = self.best();
        let column_digits = self.column_digits(digits);
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(j, cell)| {
                        let bold = cell.value().is_some() && cell.value() == best[j];
                        let number = |v: f64| number_text(v, column_digits[j]);
                        let (value, interval, lines) = match cell {
                            Cell::Text(t) => (t.clone(), None, vec![t.clone()]),
                            Cell::Lines(items) => (items.join(", "), None, items.clone()),
                            Cell::Number(v) => (number(*v), None, vec![number(*v)]),
                            Cell::Interval(b) => {
                                (number(b.value), Some(format!("[{}, {}]", number(b.lo), number(b.hi))), Vec::new())
                            }
                        };
                        RenderedCell { value, interval, lines, bold }
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
            .map(|(j, _)| if self.rows.iter().all(|r| r[j].is_text()) { "---" } else { "---:" })
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
                    Cell::Lines(items) => fields.push(csv_field(&items.join(", "))),
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

    /// Writes `<name>.md`, `.tex` (the given LaTeX, as [`Table::latex`] lays it out for a paper) and `.csv` into
    /// `dir`.
    pub fn write(&self, dir: &Path, latex: String) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::new();
        for (extension, text) in [("md", self.markdown()), ("tex", latex), ("csv", self.csv())] {
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
    use crate::report::latex::Paper;

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
            transpose_when_wide: false,
        }
    }

    #[test]
    fn best_is_bold_in_markdown_and_latex() {
        let t = table();
        let md = t.markdown();
        assert!(md.contains("| sim\\|b | **0.100 [0.050, ∞]** |"), "{md}");
        assert!(md.contains("| sim_a | 0.200 [0.100, 0.300] |"));
        let tex = t.latex(Paper::TwoColumn);
        assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
        assert!(tex.contains("\\textbf{0.100}"), "{tex}");
        assert!(tex.contains("\\caption{T. a\\_b \\& c}"));
    }

    #[test]
    fn bold_only_where_two_rows_have_a_value() {
        let mut t = table();
        t.rows.truncate(1);
        t.rows.push(vec![Cell::Text("human (split-half ceiling)".into()), Cell::Text("0.003".into())]);
        assert!(!t.markdown().contains("**0.200"), "{}", t.markdown());
        assert!(!t.latex(Paper::TwoColumn).contains("\\textbf"));
        t.rows.push(vec![Cell::Text("sim_c".into()), Cell::Number(0.4)]);
        assert!(t.markdown().contains("**0.200 [0.100, 0.300]**"), "{}", t.markdown());
    }

    #[test]
    fn lines_are_one_field_in_markdown_and_csv() {
        let mut t = table();
        t.rows[0][0] = Cell::Lines(vec!["a (0.50)".into(), "b (0.50)".into()]);
        assert!(t.markdown().contains("| a (0.50), b (0.50) |"));
        assert!(t.csv().contains("\n\"a (0.50), b (0.50)\",0.2,"), "{}", t.csv());
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
