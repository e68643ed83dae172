//! Placeholder: the figures land next.

use std::path::{Path, PathBuf};

use super::data::ReportData;

/// One figure as written.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem, e.g. `js_by_facet`.
    pub name: String,
    pub title: String,
    /// What the figure shows, for the report.
    pub caption: String,
    /// The SVG text (inlined in the HTML report).
    pub svg: String,
    pub svg_path: PathBuf,
    pub png_path: Option<PathBuf>,
}

/// Writes every figure into `dir`; returns them and any warnings.
pub fn write_figures(_data: &ReportData, _dir: &Path) -> Result<(Vec<Figure>, Vec<String>), String> {
    Ok((Vec::new(), Vec::new()))
}
