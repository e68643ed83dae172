//! The figures: the divergence tables drawn as SVG (inlined in the HTML report) and PNG, with plotters, and as PDF
//! for a paper.
//!
//! Consumes: [`ReportData`]. Produces, in `OUT/figures/`, each as `NAME.svg`, `NAME.png` and `NAME.pdf`:
//! `histograms_<facet>` (each simulator's cluster histogram against the reference's on the headline facet, each
//! panel's share axis scaled to its own data), `pairwise_js` (the pairwise JS heatmap), `js_by_facet` (JS per facet
//! with 95% intervals and the human split-half ceiling; facets without a value left out), `usi_components` (D1-D4,
//! Eval, 100(1-ECE) and USI per simulator; only when USI was computed), `mds_map` (classical MDS of the JS
//! distances) and, for the page only (SVG and PNG, no PDF), `history_js` (the trend across the nights of
//! `history.parquet`, per simulator; only when there is a history). Sources are in one order everywhere ([`ReportData::sources`]: the reference, then the simulators
//! closest to it), the tables' order.
//!
//! How: every figure is laid out twice as a [`Scene`] ([`super::scene`]) in logical pixels (shapes and text, every
//! position computed here; text widths from a fixed table of glyph advances, [`text_width`]): for the screen
//! ([`Format::Screen`]: titled, as wide as its content) and for a paper ([`Format::Paper`]: untitled, exactly 3.3 in
//! (`pairwise_js`, `usi_components`, `mds_map`) or 6.75 in (`histograms_<facet>`, `js_by_facet`) wide, every text
//! 8-9 pt; [`format`]). The screen scene is drawn by plotters onto its SVG backend and, at
//! [`super::scene::PNG_SCALE`] times the size, onto its bitmap backend; the paper scene is written as a vector PDF
//! with Helvetica (the scene's own PDF writer). The layout never asks a font, so the SVG and PDF bytes depend on the
//! data alone (plotters writes no timestamp). PNG text needs a TrueType font, read at run time from `SIMGAP_FONT` or
//! common system locations (`SIMGAP_FONT=none` turns the PNGs off); without one the PNGs are skipped with one
//! warning. Text from data (source and facet names) is stripped of control characters and shortened ([`clean`]);
//! plotters' SVG backend XML-escapes every text and attribute. Invariants: no NaN or infinity reaches a coordinate
//! (missing values are drawn as "n/a" or left out); every file is written through a temporary name and renamed.
//! Beyond [`super::data::SHOWN_SOURCES`] sources every figure but the MDS map shows the closest ones and says so.
//! Cost: milliseconds per SVG and PDF, tens of milliseconds per PNG; memory: one PNG's pixels (a few tens of MB for
//! the 30-source benchmark).

mod axis;
pub mod format;
mod histograms;
mod history_js;
mod js_by_facet;
mod labels;
mod lookup;
mod mds;
mod mds_map;
mod pairwise_heatmap;
mod palette;
#[cfg(test)]
mod paper_tests;
mod plot;
#[cfg(test)]
mod tests;
mod usi_components;

use std::path::{Path, PathBuf};

use crate::report::data::ReportData;
use crate::report::error::ReportError;
use crate::report::scene::{Font, font};
pub use format::{Format, PaperWidth};
use histograms::histograms;
pub use history_js::HISTORY_FIGURE;
use history_js::history_js;
use js_by_facet::js_by_facet;
pub use labels::clean;
use mds_map::mds_map;
use pairwise_heatmap::pairwise_heatmap;
use plot::Plot;
use usi_components::usi_components;

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
    /// The figure for a paper (no title, a journal's width, 8-9 pt text); none for the page-only `history_js`.
    pub pdf_path: Option<PathBuf>,
}

/// Every figure the data allows, laid out for the screen or (`paper`) for a paper page.
fn draw(data: &ReportData, paper: bool, warnings: &mut Vec<String>) -> Vec<Plot> {
    let format = |width| if paper { Format::Paper(width) } else { Format::Screen };
    let mut plots = Vec::new();
    if let Some(facet) = data.headline_facet() {
        plots.extend(histograms(data, &facet, format(PaperWidth::Full)));
        plots.extend(pairwise_heatmap(data, &facet, format(PaperWidth::Column)));
        plots.extend(js_by_facet(data, format(PaperWidth::Full)));
        plots.extend(usi_components(data, format(PaperWidth::Column)));
        plots.extend(mds_map(data, &facet, format(PaperWidth::Column), warnings));
    } else {
        plots.extend(usi_components(data, format(PaperWidth::Column)));
    }
    plots
}

/// Writes every figure into `dir`; returns them and any warnings.
pub fn write_figures(data: &ReportData, dir: &Path) -> Result<(Vec<Figure>, Vec<String>), ReportError> {
    let mut warnings = Vec::new();
    let mut plots = draw(data, false, &mut warnings);
    let paper_plots = draw(data, true, &mut Vec::new());
    // The nightly trend is a dashboard's figure, not a paper's: no PDF.
    plots.extend(history_js(data));
    remove_stale(dir, &plots);
    let font = if plots.is_empty() { Font { path: None, note: None } } else { font() };
    match (&font.path, &font.note) {
        (None, Some(why)) => warnings.push(format!("PNG figures skipped (the SVGs are written): {why}")),
        (Some(_), Some(note)) => warnings.push(note.clone()),
        _ => {}
    }
    let mut figures = Vec::new();
    let paper_plots = paper_plots.into_iter().map(Some).chain(std::iter::repeat_with(|| None));
    for (plot, paper) in plots.into_iter().zip(paper_plots) {
        let svg_path = dir.join(format!("{}.svg", plot.name));
        let svg = plot.scene.svg().map_err(|message| ReportError::Figure { path: svg_path.clone(), message })?;
        crate::atomic::write_atomic(&svg_path, svg.as_bytes()).map_err(ReportError::write(&svg_path))?;
        let pdf_path = match paper {
            Some(paper) => {
                let path = dir.join(format!("{}.pdf", paper.name));
                let pdf = paper.scene.pdf(1.0 / format::UNITS_PER_POINT);
                crate::atomic::write_atomic(&path, &pdf).map_err(ReportError::write(&path))?;
                Some(path)
            }
            None => {
                let _ = std::fs::remove_file(dir.join(format!("{}.pdf", plot.name)));
                None
            }
        };
        let png = dir.join(format!("{}.png", plot.name));
        let png_path = match &font.path {
            Some(_) => match plot.scene.write_png(&png) {
                Ok(()) => Some(png),
                Err(e) => {
                    warnings.push(format!("{}: PNG not written: {e}", png.display()));
                    let _ = std::fs::remove_file(&png);
                    None
                }
            },
            None => {
                let _ = std::fs::remove_file(&png);
                None
            }
        };
        let (name, title, caption) = (plot.name, plot.title, plot.caption);
        figures.push(Figure { name, title, caption, svg, svg_path, png_path, pdf_path });
    }
    Ok((figures, warnings))
}

/// Removes the figures a previous run wrote that this run does not draw (another headline facet's histograms, the
/// USI figure of a run that had USI), so the folder never mixes runs.
fn remove_stale(dir: &Path, plots: &[Plot]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, extension)) = name.rsplit_once('.') else { continue };
        let ours = ["pairwise_js", "js_by_facet", "usi_components", "mds_map", HISTORY_FIGURE].contains(&stem)
            || stem.starts_with("histograms_");
        if ours && ["svg", "png", "pdf"].contains(&extension) && !plots.iter().any(|p| p.name == stem) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
