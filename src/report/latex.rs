//! The LaTeX of a table, laid out to fit a paper's column or page.
//!
//! Consumes: a [`Table`] and the [`Paper`] it goes into. Produces: the `.tex` text (a `table` or `table*` float with
//! booktabs rules), whose first lines say which packages it needs. The rules, in order: columns without any value are
//! dropped (`timing` without timestamps); a table that may be transposed and is wider than tall (more value columns
//! than rows) is transposed, a row per column; an interval goes on a second line in `\scriptsize` under its value (a
//! nested one-column tabular, so no package beyond booktabs), the value alone bold when it is its column's best (only
//! where two or more rows compare); a header wider than its column breaks at its middle space. Then the first layout
//! whose estimated width fits: a column-wide `table` in `\small`; on a two-column paper, a page-wide `table*` in
//! `\small`; `\footnotesize` with narrower gaps and the headers set upright (`\rotatebox`) when one is wider than its
//! column's values, in `table` or `table*`; last, that scaled to the width (`\resizebox`). Widths are estimated from
//! Computer Modern's advances, rounded up, so an estimate that fits does not overflow. Markdown and CSV keep every
//! column ([`super::tables`]).

use serde::{Deserialize, Serialize};

use super::tables::{RenderedCell, Table};

/// The paper a table is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Paper {
    /// Two columns of 241 pt on a 505 pt text width (IEEE, ACM): a table takes a column or, as `table*`, the page.
    #[default]
    TwoColumn,
    /// One column of 345 pt (LaTeX's article at 10 pt).
    OneColumn,
}

impl Paper {
    /// The width of a column, in points.
    pub fn column_width(self) -> f64 {
        match self {
            Paper::TwoColumn => 241.0,
            Paper::OneColumn => 345.0,
        }
    }

    /// The width of the text block, in points.
    pub fn text_width(self) -> f64 {
        match self {
            Paper::TwoColumn => 505.0,
            Paper::OneColumn => 345.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Paper::TwoColumn => "two-column",
            Paper::OneColumn => "one-column",
        }
    }
}

/// The size of an interval's line, in points (`\scriptsize` in a 10 pt document).
const SECOND_LINE_PT: f64 = 7.0;

/// The width of `text` in ems of Computer Modern Roman, rounded up (bold is wider).
fn em_width(text: &str, bold: bool) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            '0'..='9' | '*' | '_' | '‖' => 0.5,
            'i' | 'j' | 'l' | 'f' | 't' | 'r' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' => 0.4,
            ' ' | '-' => 0.34,
            '(' | ')' | '[' | ']' => 0.39,
            'm' | 'w' | '%' => 0.84,
            'M' | 'W' => 1.03,
            'I' => 0.37,
            'A'..='Z' | '&' | '–' => 0.78,
            'a'..='z' => 0.56,
            _ => 0.8,
        })
        .sum();
    em * if bold { 1.15 } else { 1.0 } * 1.03
}

/// Text escaped for LaTeX (in text mode).
pub(super) fn latex_escape(text: &str) -> String {
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
            '‖' => out.push_str("$\\Vert$"),
            '≤' => out.push_str("$\\leq$"),
            '≥' => out.push_str("$\\geq$"),
            '±' => out.push_str("$\\pm$"),
            '–' => out.push_str("--"),
            '—' => out.push_str("---"),
            '…' => out.push_str("\\ldots{}"),
            _ => out.push(c),
        }
    }
    out
}

/// One cell of the LaTeX grid: its lines (the first in the table's size, the rest too unless `small_rest`), whether
/// the first is bold, and whether it is a number (right-aligned).
#[derive(Debug, Clone, PartialEq)]
struct TexCell {
    lines: Vec<String>,
    small_rest: bool,
    bold: bool,
    numeric: bool,
}

impl TexCell {
    fn text(text: &str) -> Self {
        TexCell { lines: vec![text.to_owned()], small_rest: false, bold: false, numeric: false }
    }

    fn of(cell: &RenderedCell, is_text: bool) -> Self {
        let numeric = !is_text || cell.value == "–" || cell.value.parse::<f64>().is_ok();
        match &cell.interval {
            Some(interval) => TexCell {
                lines: vec![cell.value.clone(), interval.clone()],
                small_rest: true,
                bold: cell.bold,
                numeric,
            },
            None => TexCell { lines: cell.lines.clone(), small_rest: false, bold: cell.bold, numeric },
        }
    }

    /// The estimated width at `size` points.
    fn width(&self, size: f64) -> f64 {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let line_size = if i > 0 && self.small_rest { SECOND_LINE_PT } else { size };
                em_width(line, i == 0 && self.bold) * line_size
            })
            .fold(0.0, f64::max)
    }

    /// The cell's LaTeX, aligned `align` (`l` or `r`) when it takes several lines.
    fn latex(&self, align: char) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let text = latex_escape(line);
                if i == 0 && self.bold {
                    format!("\\textbf{{{text}}}")
                } else if i > 0 && self.small_rest {
                    format!("{{\\scriptsize {text}}}")
                } else {
                    text
                }
            })
            .collect();
        match lines.as_slice() {
            [one] => one.clone(),
            _ => format!("\\begin{{tabular}}[c]{{@{{}}{align}@{{}}}}{}\\end{{tabular}}", lines.join("\\\\")),
        }
    }
}

/// The table as a grid: its header and rows, with the empty columns dropped and transposed when wide.
#[derive(Debug, Clone)]
struct Grid {
    header: Vec<TexCell>,
    rows: Vec<Vec<TexCell>>,
}

impl Grid {
    fn of(table: &Table) -> Self {
        let keep: Vec<usize> =
            (0..table.columns.len()).filter(|&j| j == 0 || table.rows.iter().any(|row| !row[j].is_empty())).collect();
        let rendered = table.rendered_cells(3);
        let header: Vec<TexCell> = keep.iter().map(|&j| TexCell::text(&table.columns[j].0)).collect();
        let rows: Vec<Vec<TexCell>> = rendered
            .iter()
            .zip(&table.rows)
            .map(|(cells, row)| keep.iter().map(|&j| TexCell::of(&cells[j], row[j].is_text())).collect())
            .collect();
        let grid = Grid { header, rows };
        if table.transpose_when_wide && grid.header.len() - 1 > grid.rows.len() { grid.transposed() } else { grid }
    }

    /// A row per column: the first cells of the rows head the new columns, the headers start the new rows.
    fn transposed(self) -> Self {
        let mut header = vec![TexCell::text("")];
        header.extend(self.rows.iter().map(|row| row[0].clone()));
        let rows = (1..self.header.len())
            .map(|j| {
                let mut row = vec![self.header[j].clone()];
                row.extend(self.rows.iter().map(|r| r[j].clone()));
                row
            })
            .collect();
        Grid { header, rows }
    }

    /// `l` for a column of text, `r` for one with a number.
    fn align(&self, j: usize) -> char {
        if self.rows.iter().any(|row| row[j].numeric) { 'r' } else { 'l' }
    }

    /// The widest body cell of column `j` at `size` points.
    fn body_width(&self, j: usize, size: f64) -> f64 {
        self.rows.iter().map(|row| row[j].width(size)).fold(0.0, f64::max)
    }

    /// Headers wider than their column's values broken at the space nearest their middle.
    fn break_headers(&mut self, size: f64) {
        for j in 0..self.header.len() {
            let body = self.body_width(j, size);
            let cell = &mut self.header[j];
            if cell.lines.len() == 1 && cell.width(size) > body {
                let text = cell.lines[0].clone();
                let middle = text.len() / 2;
                let space = text.match_indices(' ').map(|(i, _)| i).min_by_key(|&i| i.abs_diff(middle));
                if let Some(i) = space {
                    cell.lines = vec![text[..i].to_owned(), text[i + 1..].to_owned()];
                }
            }
        }
    }
}

/// How a table is set: its float, type size, column gap, upright headers and scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    /// `table*`: the whole text width of a two-column page.
    wide: bool,
    /// `\small` (9 pt) or `\footnotesize` (8 pt).
    size_pt: f64,
    /// Half the space between columns, in points.
    tabcolsep: f64,
    /// Headers wider than their column's values set upright.
    rotate: bool,
    /// Scaled to the width (the last resort).
    resize: bool,
}

impl Layout {
    fn size_command(&self) -> &'static str {
        if self.size_pt < 9.0 { "\\footnotesize" } else { "\\small" }
    }

    /// Whether column `j`'s header is set upright: every header but the first when one of them is wider than its
    /// column's values (so that the row of headers reads alike).
    fn rotated(&self, grid: &Grid, j: usize) -> bool {
        let wider = |i: usize| grid.header[i].width(self.size_pt) > grid.body_width(i, self.size_pt);
        self.rotate && j > 0 && (1..grid.header.len()).any(wider)
    }

    /// The estimated width of the tabular, in points.
    fn width(&self, grid: &Grid) -> f64 {
        (0..grid.header.len())
            .map(|j| {
                let header = if self.rotated(grid, j) {
                    1.2 * self.size_pt * grid.header[j].lines.len() as f64
                } else {
                    grid.header[j].width(self.size_pt)
                };
                header.max(grid.body_width(j, self.size_pt)) + 2.0 * self.tabcolsep
            })
            .sum()
    }
}

/// The first layout that fits `paper`, from a column-wide `\small` table to a scaled one.
fn choose_layout(grid: &Grid, paper: Paper) -> Layout {
    let two_column = paper == Paper::TwoColumn;
    let small = Layout { wide: false, size_pt: 9.0, tabcolsep: 6.0, rotate: false, resize: false };
    let footnote = Layout { size_pt: 8.0, tabcolsep: 4.0, rotate: true, ..small };
    let mut candidates = vec![(small, paper.column_width())];
    if two_column {
        candidates.push((Layout { wide: true, ..small }, paper.text_width()));
    }
    candidates.push((footnote, paper.column_width()));
    if two_column {
        candidates.push((Layout { wide: true, ..footnote }, paper.text_width()));
    }
    candidates
        .into_iter()
        .find(|(layout, room)| layout.width(grid) <= *room)
        .map(|(layout, _)| layout)
        .unwrap_or(Layout { wide: two_column, resize: true, ..footnote })
}

impl Table {
    /// The table as a LaTeX float laid out for `paper` (see the module's rules).
    pub fn latex(&self, paper: Paper) -> String {
        let mut grid = Grid::of(self);
        grid.break_headers(9.0);
        let layout = choose_layout(&grid, paper);
        let header: Vec<String> = (0..grid.header.len())
            .map(|j| {
                let cell = grid.header[j].latex(grid.align(j));
                if layout.rotated(&grid, j) { format!("\\rotatebox{{90}}{{{cell}}}") } else { cell }
            })
            .collect();
        let body: Vec<String> = grid
            .rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row.iter().enumerate().map(|(j, c)| c.latex(grid.align(j))).collect();
                format!("{} \\\\\n", cells.join(" & "))
            })
            .collect();
        let mut packages = vec!["booktabs"];
        if layout.resize || header.concat().contains("\\rotatebox") {
            packages.push("graphicx");
        }
        self.float(&grid, &layout, &header, &body, &packages, paper)
    }

    /// The float around the tabular, with its caption, label and the comment naming the packages.
    fn float(
        &self,
        grid: &Grid,
        layout: &Layout,
        header: &[String],
        body: &[String],
        packages: &[&str],
        paper: Paper,
    ) -> String {
        let env = if layout.wide { "table*" } else { "table" };
        let spec: String = (0..grid.header.len()).map(|j| grid.align(j)).collect();
        let mut out = format!(
            "% simgap table `{}`, laid out for a {} paper. Written by simgap.\n% Needs \\usepackage{{{}}}.\n",
            self.name,
            paper.name(),
            packages.join(",")
        );
        out.push_str(&format!("\\begin{{{env}}}[t]\n\\centering\n"));
        out.push_str(&format!("\\caption{{{}. {}}}\n", latex_escape(&self.title), latex_escape(&self.caption)));
        out.push_str(&format!("\\label{{tab:simgap-{}}}\n{}\n", self.name, layout.size_command()));
        if layout.tabcolsep != 6.0 {
            out.push_str(&format!("\\setlength{{\\tabcolsep}}{{{}pt}}\n", layout.tabcolsep));
        }
        if layout.resize {
            out.push_str("\\resizebox{\\linewidth}{!}{%\n");
        }
        out.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n{} \\\\\n\\midrule\n", header.join(" & ")));
        out.push_str(&body.concat());
        out.push_str("\\bottomrule\n\\end{tabular}");
        out.push_str(if layout.resize { "}\n" } else { "\n" });
        out.push_str(&format!("\\end{{{env}}}\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::Bounded;
    use crate::report::tables::{Better, Cell};

    fn interval(value: f64) -> Cell {
        Cell::Interval(Bounded { value, lo: value - 0.05, hi: value + 0.05 })
    }

    /// `sources` simulators (rows) by `facets` facets (columns), the last facet without any value.
    fn facets_table(sources: usize, facets: usize) -> Table {
        let mut columns = vec![("source".to_owned(), Better::Neither)];
        columns.extend((0..facets).map(|f| (format!("facet{f}"), Better::Lower)));
        let rows = (0..sources)
            .map(|s| {
                let mut row = vec![Cell::Text(format!("sim-{s}"))];
                row.extend((0..facets).map(|f| {
                    if f + 1 == facets { Cell::Number(f64::NAN) } else { interval(0.1 * (s + f + 1) as f64) }
                }));
                row
            })
            .collect();
        Table { name: "t".into(), title: "T".into(), caption: "C".into(), columns, rows, transpose_when_wide: true }
    }

    #[test]
    fn a_column_without_any_value_is_dropped_from_latex_only() {
        let table = facets_table(3, 3);
        let tex = table.latex(Paper::TwoColumn);
        assert!(tex.contains("facet1") && !tex.contains("facet2"), "{tex}");
        assert!(table.markdown().contains("facet2") && table.csv().contains("facet2"));
    }

    #[test]
    fn a_table_wider_than_tall_is_transposed_when_it_may_be() {
        let mut table = facets_table(2, 5);
        let tex = table.latex(Paper::TwoColumn);
        assert!(tex.contains("\\midrule\nfacet0 & "), "a row per facet: {tex}");
        assert!(tex.contains(" & sim-0 & sim-1 \\\\\n\\midrule"), "a column per source: {tex}");
        table.transpose_when_wide = false;
        assert!(table.latex(Paper::TwoColumn).contains("\\midrule\nsim-0 & "));
        // As tall as wide: not transposed.
        let square = facets_table(4, 5);
        assert!(square.latex(Paper::TwoColumn).contains("\\midrule\nsim-0 & "));
    }

    #[test]
    fn intervals_go_on_a_second_line_and_only_the_value_is_bold() {
        let tex = facets_table(2, 2).latex(Paper::TwoColumn);
        let cell = "\\begin{tabular}[c]{@{}r@{}}\\textbf{0.100}\\\\{\\scriptsize [0.050, 0.150]}\\end{tabular}";
        assert!(tex.contains(cell), "{tex}");
        assert!(tex.starts_with("% simgap table `t`, laid out for a two-column paper."));
        assert!(tex.contains("% Needs \\usepackage{booktabs}.\n"), "{tex}");
    }

    #[test]
    fn the_float_is_the_narrowest_that_fits() {
        let narrow = facets_table(2, 3).latex(Paper::TwoColumn);
        assert!(narrow.contains("\\begin{table}[t]") && narrow.contains("\\small\n"), "{narrow}");
        // Ten columns of intervals: too wide for a column, fits the page.
        let mut wide = facets_table(12, 11);
        wide.transpose_when_wide = false;
        let page = wide.latex(Paper::TwoColumn);
        assert!(page.contains("\\begin{table*}[t]") && page.contains("\\end{table*}"), "{page}");
        // The same in a one-column paper: never table*, smaller type, and scaled when nothing else fits.
        let one = wide.latex(Paper::OneColumn);
        assert!(!one.contains("table*") && one.contains("\\resizebox{\\linewidth}{!}{%"), "{one}");
        assert!(one.contains("% Needs \\usepackage{booktabs,graphicx}."), "{one}");
    }

    #[test]
    fn long_source_names_as_headers_are_set_upright_before_anything_is_scaled() {
        let names: Vec<String> = (0..7).map(|i| format!("a-rather-long-simulator-{i}")).collect();
        let mut columns = vec![(String::new(), Better::Neither)];
        columns.extend(names.iter().map(|n| (n.clone(), Better::Neither)));
        let rows = names
            .iter()
            .map(|n| {
                let mut row = vec![Cell::Text(n.clone())];
                row.extend((0..7).map(|j| Cell::Number(0.1 * j as f64)));
                row
            })
            .collect();
        let table = Table {
            name: "pairwise".into(),
            title: "P".into(),
            caption: "C".into(),
            columns,
            rows,
            transpose_when_wide: false,
        };
        let tex = table.latex(Paper::TwoColumn);
        assert!(tex.contains("\\rotatebox{90}{a-rather-long-simulator-0}") && !tex.contains("resizebox"), "{tex}");
        assert!(tex.contains("\\footnotesize\n\\setlength{\\tabcolsep}{4pt}"), "{tex}");
    }

    #[test]
    fn text_is_escaped_for_latex() {
        assert_eq!(latex_escape("KL(P‖Q) 5% a_b ∞ –"), "KL(P$\\Vert$Q) 5\\% a\\_b $\\infty$ --");
    }

    #[test]
    fn the_paper_setting_reads_from_toml() {
        #[derive(Deserialize)]
        struct Section {
            paper: Paper,
        }
        let one: Section = toml::from_str("paper = \"one-column\"").unwrap();
        assert_eq!(one.paper, Paper::OneColumn);
        assert!(toml::from_str::<Section>("paper = \"three-column\"").is_err());
        assert_eq!(Paper::default().column_width(), 241.0);
    }
}
