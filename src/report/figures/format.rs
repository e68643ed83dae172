//! How a figure is laid out: for the screen (the SVG and PNG that report.html shows, with a title) or for a paper
//! page (the PDF, at a journal's column or full width, without a title: captions belong to the paper).
//!
//! Consumes: nothing. Produces: [`Format`], which every figure module asks for its margin, its text sizes, whether to
//! draw a title, where the content starts and, on paper, the exact width to fill.

use crate::report::scene::{LABEL_SIZE, MARGIN, TICK_SIZE};

/// Scene units per PDF point on paper: 12-unit tick labels print at 8 pt.
pub const UNITS_PER_POINT: f64 = 1.5;
/// The smallest and largest text on paper, in scene units (8 pt and 9 pt at [`UNITS_PER_POINT`]).
pub const PAPER_TEXT: (f64, f64) = (8.0 * UNITS_PER_POINT, 9.0 * UNITS_PER_POINT);

/// The widths journals print figures at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperWidth {
    /// One column of a two-column page: 3.3 in.
    Column,
    /// The full text width of a two-column page: 6.75 in.
    Full,
}

impl PaperWidth {
    pub fn inches(self) -> f64 {
        match self {
            PaperWidth::Column => 3.3,
            PaperWidth::Full => 6.75,
        }
    }

    /// The width in scene units.
    pub fn units(self) -> f64 {
        self.inches() * 72.0 * UNITS_PER_POINT
    }
}

/// Screen or paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Screen,
    Paper(PaperWidth),
}

impl Format {
    /// Whether the figure draws its title (on screen only).
    pub(super) fn titled(self) -> bool {
        self == Format::Screen
    }

    /// The space around the figure.
    pub(super) fn margin(self) -> f64 {
        if self.titled() { MARGIN } else { 3.0 }
    }

    /// The middle of the first line below the title (the legend's, usually).
    pub(super) fn top(self) -> f64 {
        if self.titled() { MARGIN + 34.0 } else { self.margin() + 8.0 }
    }

    /// A text size as the format prints it: on paper within 8-9 pt, so no text is smaller than a tick label.
    pub(super) fn size(self, size: f64) -> f64 {
        match self {
            Format::Screen => size,
            Format::Paper(_) => size.clamp(PAPER_TEXT.0, PAPER_TEXT.1),
        }
    }

    pub(super) fn label(self) -> f64 {
        self.size(LABEL_SIZE)
    }

    pub(super) fn tick(self) -> f64 {
        self.size(TICK_SIZE)
    }

    /// The exact width on paper; none on screen (the figure is as wide as its content).
    pub(super) fn width(self) -> Option<f64> {
        match self {
            Format::Screen => None,
            Format::Paper(width) => Some(width.units()),
        }
    }
}
