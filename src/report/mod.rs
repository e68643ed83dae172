//! Stage 5, report: the divergence tables turned into what a paper and a reader need.
//!
//! Consumes: the divergence stage's tables in OUT (see [`data`]) and `OUT/manifest.json`. Produces:
//! `OUT/tables/` (Markdown, LaTeX with booktabs laid out for a one- or two-column paper, and CSV of the main
//! divergence table, the per-facet table, the pairwise matrix, the USI table and the mixtures; built in
//! [`table_builders`], written by [`tables`] and [`latex`]), `OUT/figures/` (SVG and PNG for the page, PDF at a
//! journal's width for a paper; see [`figures`]) and `OUT/report.html` (one self-contained page: tables, inlined
//! figures first after a table of contents, the cluster explanations, then the warnings and notes and the manifest,
//! folded; every piece of transcript text HTML-escaped; see [`html`]).
//! Every file is written through a temporary name and renamed. Cost: milliseconds to a few seconds (the figures);
//! memory: the tables, which are small.

mod columns;
pub mod data;
pub mod error;
pub mod figures;
pub mod history;
pub mod html;
pub mod latex;
pub mod scene;
pub mod table_builders;
pub mod tables;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use data::ReportData;
pub use error::{ReadError, ReportError};

pub const TABLES_DIR: &str = "tables";
pub const FIGURES_DIR: &str = "figures";
pub const REPORT_FILE: &str = "report.html";

/// `[report]` in the pipeline file: how the report stage lays out what it writes.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The paper the LaTeX tables go into: `two-column` (the default; a column of 241 pt, `table*` for the page's
    /// 505 pt) or `one-column` (345 pt).
    #[serde(default)]
    pub paper: latex::Paper,
}

/// What the report stage needs.
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub out_dir: PathBuf,
    /// The seed of the divergence stage, named in captions.
    pub seed: u64,
    /// The paper the LaTeX tables are laid out for (`[report] paper`; two-column by default).
    pub paper: latex::Paper,
}

/// What the report stage wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub tables: Vec<PathBuf>,
    pub figures: Vec<PathBuf>,
    pub report: PathBuf,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

impl ReportParams {
    pub fn check(&self) -> Result<(), ReportError> {
        let path = self.out_dir.join(crate::divergence::tables::DIVERGENCE_FILE);
        if !path.is_file() {
            return Err(ReportError::Config(format!(
                "{} does not exist: run `simgap divergence` first (`simgap run` runs every stage)",
                path.display()
            )));
        }
        Ok(())
    }

    pub fn run(&self) -> Result<ReportSummary, ReportError> {
        self.check()?;
        let started = Instant::now();
        let data = ReportData::read(&self.out_dir)?;
        let tables_dir = self.out_dir.join(TABLES_DIR);
        let figures_dir = self.out_dir.join(FIGURES_DIR);
        for dir in [&tables_dir, &figures_dir] {
            std::fs::create_dir_all(dir).map_err(ReportError::write(dir))?;
        }
        let tables = table_builders::build(&data, self.seed);
        let mut table_files = Vec::new();
        for table in &tables {
            table_files.extend(table.write(&tables_dir, table.latex(self.paper))?);
        }
        let (figures, mut warnings) = figures::write_figures(&data, &figures_dir)?;
        if data.divergence.is_empty() {
            warnings.push("no comparison rows (a single source?): the report has no divergence tables".into());
        }
        let page = html::page(&data, &tables, &figures, &warnings);
        let report = self.out_dir.join(REPORT_FILE);
        crate::atomic::write_atomic(&report, page.as_bytes()).map_err(ReportError::write(&report))?;
        let figure_files = figures
            .iter()
            .flat_map(|f| [Some(f.svg_path.clone()), f.png_path.clone(), f.pdf_path.clone()].into_iter().flatten())
            .collect();
        Ok(ReportSummary {
            tables: table_files,
            figures: figure_files,
            report,
            warnings,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
