//! Scenes: a figure's shapes and text laid out in logical pixels, written as SVG or, through plotters and a
//! TrueType font, as PNG; the text metrics and the one colour every figure's text shares.
//!
//! Consumes: shapes, text and legends placed by [`super::figures`]. Produces: SVG text (which depends only on the
//! shapes) and PNG files at [`PNG_SCALE`] pixels per logical pixel; [`text_width`] for layout. The font is found once
//! per process ([`FONT_ENV`], then the usual system places). The PDF for papers is written by [`pdf`].

mod pdf;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The PNG's pixels per logical pixel (the SVG's unit).
pub const PNG_SCALE: f64 = 2.0;
/// The environment variable naming the TrueType font for PNG text (`none`: no PNGs).
pub const FONT_ENV: &str = "SIMGAP_FONT";
/// Where a font is looked for when `SIMGAP_FONT` is unset: Debian/Ubuntu, Fedora, Arch, openSUSE, macOS, Windows.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Space around a figure, and the text sizes of its title, axis labels and ticks (logical pixels).
pub(super) const MARGIN: f64 = 16.0;
pub(super) const TITLE_SIZE: f64 = 18.0;
pub(super) const LABEL_SIZE: f64 = 14.0;
pub(super) const TICK_SIZE: f64 = 12.0;

/// The width of `text` at font size `size`, from approximate DejaVu Sans advances, rounded up a little so that
/// neither the SVG viewer's sans-serif nor the PNG's font overflows the space left for it.
pub fn text_width(text: &str, size: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            ' ' => 0.32,
            'i' | 'j' | 'l' | 'I' | 'J' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.30,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '{' | '}' | '-' | '/' | '\\' | '"' => 0.42,
            'm' | 'w' | 'M' | 'W' | '%' | '@' | '…' | '—' => 1.0,
            '0'..='9' => 0.64,
            'A'..='Z' => 0.74,
            'a'..='z' => 0.63,
            c if c.is_ascii() => 0.70,
            c if is_wide(c) => 1.0,
            _ => 0.80,
        })
        .sum();
    em * size / 1.12
}

/// East Asian wide characters (drawn about one em wide).
pub(super) fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD)
}

pub(super) fn finite_or(value: f64, fallback: f64) -> f64 {
    if value.is_finite() { value } else { fallback }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rgb(pub(super) u8, pub(super) u8, pub(super) u8);
pub(super) const INK: Rgb = Rgb(25, 25, 25);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Start,
    Middle,
    End,
}

/// A line of text; (x, y) is its anchor: vertically its middle, horizontally its start, middle or end.
#[derive(Debug, Clone)]
pub(super) struct Text {
    x: f64,
    y: f64,
    text: String,
    size: f64,
    color: Rgb,
    align: Align,
    bold: bool,
    /// Turned a quarter anticlockwise (read bottom to top).
    vertical: bool,
}

impl Text {
    pub(super) fn new(x: f64, y: f64, text: impl Into<String>, size: f64) -> Self {
        Text { x, y, text: text.into(), size, color: INK, align: Align::Start, bold: false, vertical: false }
    }
    pub(super) fn align(mut self, align: Align) -> Self {
        self.align = align;
        self
    }
    pub(super) fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    pub(super) fn color(mut self, color: Rgb) -> Self {
        self.color = color;
        self
    }
    pub(super) fn vertical(mut self) -> Self {
        self.vertical = true;
        self
    }
}

#[derive(Debug, Clone)]
pub(super) enum Shape {
    Rect { corners: [(f64, f64); 2], fill: Option<Rgb>, stroke: Option<Rgb> },
    Line { points: Vec<(f64, f64)>, color: Rgb, width: f64 },
    Circle { centre: (f64, f64), radius: f64, fill: Rgb, stroke: Option<Rgb> },
    Text(Text),
}

/// What a legend entry's swatch looks like.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Fill(Rgb),
    /// A filled area with an outline on top.
    Area(Rgb, Rgb),
    Dot(Rgb),
    /// A band with a tick in its middle.
    Band(Rgb, Rgb),
    Dash(Rgb),
}

/// A figure laid out in logical pixels.
#[derive(Debug, Clone)]
pub(super) struct Scene {
    width: f64,
    height: f64,
    shapes: Vec<Shape>,
}

pub(super) const SWATCH_W: f64 = 22.0;

impl Scene {
    pub(super) fn new(width: f64, height: f64) -> Self {
        Scene { width: width.ceil(), height: height.ceil(), shapes: Vec::new() }
    }

    pub(super) fn title(&mut self, title: &str) {
        self.text(Text::new(MARGIN, MARGIN + 10.0, title, TITLE_SIZE).bold());
    }

    pub(super) fn text(&mut self, text: Text) {
        self.shapes.push(Shape::Text(text));
    }

    pub(super) fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, fill: Option<Rgb>, stroke: Option<Rgb>) {
        self.shapes.push(Shape::Rect { corners: [(x0, y0), (x1, y1)], fill, stroke });
    }

    pub(super) fn line(&mut self, points: Vec<(f64, f64)>, color: Rgb, width: f64) {
        self.shapes.push(Shape::Line { points, color, width });
    }

    pub(super) fn circle(&mut self, x: f64, y: f64, radius: f64, fill: Rgb, stroke: Option<Rgb>) {
        self.shapes.push(Shape::Circle { centre: (x, y), radius, fill, stroke });
    }

    /// A vertical dashed line from `y0` to `y1`.
    pub(super) fn dashed(&mut self, x: f64, y0: f64, y1: f64, color: Rgb, width: f64) {
        let mut y = y0;
        while y < y1 {
            self.line(vec![(x, y), (x, (y + 4.0).min(y1))], color, width);
            y += 7.0;
        }
    }

    /// Legend entries left to right from (x, y), wrapping before `right`.
    pub(super) fn legend(&mut self, x: f64, y: f64, entries: &[(Swatch, String)], right: f64) {
        let (mut cx, mut cy) = (x, y);
        for (swatch, text) in entries {
            let w = SWATCH_W + 6.0 + text_width(text, TICK_SIZE) + 18.0;
            if cx > x && cx + w > right {
                cx = x;
                cy += 20.0;
            }
            let (sx, sy) = (cx, cy);
            match *swatch {
                Swatch::Fill(c) => self.rect(sx, sy - 6.0, sx + SWATCH_W, sy + 6.0, Some(c), None),
                Swatch::Area(fill, c) => {
                    self.rect(sx, sy - 6.0, sx + SWATCH_W, sy + 6.0, Some(fill), None);
                    self.line(
                        vec![(sx, sy + 6.0), (sx, sy - 6.0), (sx + SWATCH_W, sy - 6.0), (sx + SWATCH_W, sy + 6.0)],
                        c,
                        1.5,
                    );
                }
                Swatch::Dot(c) => {
                    self.line(vec![(sx + 2.0, sy), (sx + SWATCH_W - 2.0, sy)], c, 1.5);
                    self.circle(sx + SWATCH_W / 2.0, sy, 3.5, c, None);
                }
                Swatch::Band(band, tick) => {
                    self.rect(sx, sy - 6.0, sx + SWATCH_W, sy + 6.0, Some(band), None);
                    self.line(vec![(sx + SWATCH_W / 2.0, sy - 6.0), (sx + SWATCH_W / 2.0, sy + 6.0)], tick, 2.0);
                }
                Swatch::Dash(c) => self.dashed(sx + SWATCH_W / 2.0, sy - 7.0, sy + 7.0, c, 1.5),
            }
            self.text(Text::new(sx + SWATCH_W + 6.0, sy, text.clone(), TICK_SIZE));
            cx += w;
        }
    }

    /// The SVG text: plotters' SVG backend, no font needed.
    pub(super) fn svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, self.pixels(1.0)).into_drawing_area();
            self.draw(&area, 1.0)?;
            area.present().map_err(|e| format!("SVG: {e}"))?;
        }
        Ok(svg)
    }

    /// Draws the PNG at [`PNG_SCALE`] into a temporary `*.tmp.png` beside `path` and renames it into place.
    pub(super) fn write_png(&self, path: &Path) -> Result<(), String> {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("figure");
        let temp = path.with_file_name(format!("{stem}.tmp.png"));
        let drawn = (|| {
            let area = BitMapBackend::new(&temp, self.pixels(PNG_SCALE)).into_drawing_area();
            self.draw(&area, PNG_SCALE)?;
            area.present().map_err(|e| e.to_string())
        })();
        let result = drawn.and_then(|()| {
            std::fs::File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
            std::fs::rename(&temp, path).map_err(|e| e.to_string())
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    pub(super) fn pixels(&self, scale: f64) -> (u32, u32) {
        ((self.width * scale).ceil().max(1.0) as u32, (self.height * scale).ceil().max(1.0) as u32)
    }

    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, scale: f64) -> Result<(), String> {
        let failed = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let at = |(x, y): (f64, f64)| -> (i32, i32) {
            let clamp = |v: f64| (finite_or(v, 0.0) * scale).round().clamp(-1e6, 1e6) as i32;
            (clamp(x), clamp(y))
        };
        let colour = |c: Rgb| RGBColor(c.0, c.1, c.2);
        area.fill(&WHITE).map_err(failed)?;
        for shape in &self.shapes {
            match shape {
                Shape::Rect { corners, fill, stroke } => {
                    let corners = [at(corners[0]), at(corners[1])];
                    if let Some(fill) = fill {
                        area.draw(&Rectangle::new(corners, colour(*fill).filled())).map_err(failed)?;
                    }
                    if let Some(stroke) = stroke {
                        let style = colour(*stroke).stroke_width(scale.round().max(1.0) as u32);
                        area.draw(&Rectangle::new(corners, style)).map_err(failed)?;
                    }
                }
                Shape::Line { points, color, width } => {
                    let style = colour(*color).stroke_width((width * scale).round().max(1.0) as u32);
                    let points: Vec<(i32, i32)> = points.iter().map(|&p| at(p)).collect();
                    area.draw(&PathElement::new(points, style)).map_err(failed)?;
                }
                Shape::Circle { centre, radius, fill, stroke } => {
                    let r = (radius * scale).round().max(1.0) as i32;
                    area.draw(&Circle::new(at(*centre), r, colour(*fill).filled())).map_err(failed)?;
                    if let Some(stroke) = stroke {
                        let style = colour(*stroke).stroke_width(scale.round().max(1.0) as u32);
                        area.draw(&Circle::new(at(*centre), r, style)).map_err(failed)?;
                    }
                }
                Shape::Text(text) => {
                    let weight = if text.bold { FontStyle::Bold } else { FontStyle::Normal };
                    let font = FontDesc::new(FontFamily::SansSerif, text.size * scale, weight);
                    let h = match text.align {
                        Align::Start => HPos::Left,
                        Align::Middle => HPos::Center,
                        Align::End => HPos::Right,
                    };
                    let mut style = font.color(&colour(text.color)).pos(Pos::new(h, VPos::Center));
                    if text.vertical {
                        style = style.transform(FontTransform::Rotate270);
                    }
                    let element = plotters::element::Text::new(text.text.as_str(), at((text.x, text.y)), style);
                    area.draw(&element).map_err(failed)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl Scene {
    /// The width, in scene units.
    pub(super) fn width(&self) -> f64 {
        self.width
    }

    /// Every text as (text, size, left, right, vertical), its horizontal extent from [`text_width`].
    pub(super) fn texts(&self) -> Vec<(String, f64, f64, f64, bool)> {
        let texts = self.shapes.iter().filter_map(|shape| match shape {
            Shape::Text(t) => Some(t),
            _ => None,
        });
        texts
            .map(|t| {
                let w = if t.vertical { t.size } else { text_width(&t.text, t.size) };
                let left = match t.align {
                    Align::Start => t.x,
                    Align::Middle => t.x - w / 2.0,
                    Align::End => t.x - w,
                };
                (t.text.clone(), t.size, left, left + w, t.vertical)
            })
            .collect()
    }

    /// Every line as its points and width.
    pub(super) fn lines(&self) -> Vec<(Vec<(f64, f64)>, f64)> {
        let lines = self.shapes.iter().filter_map(|shape| match shape {
            Shape::Line { points, width, .. } => Some((points.clone(), *width)),
            _ => None,
        });
        lines.collect()
    }
}

/// The height the legend takes (one 20-pixel line per row of entries).
pub(super) fn legend_height(entries: &[(Swatch, String)], x: f64, right: f64) -> f64 {
    let (mut cx, mut lines) = (x, 1);
    for (_, text) in entries {
        let w = SWATCH_W + 6.0 + text_width(text, TICK_SIZE) + 18.0;
        if cx > x && cx + w > right {
            cx = x;
            lines += 1;
        }
        cx += w;
    }
    f64::from(lines) * 20.0
}

/// Where a point's label went.
pub(super) struct Placed {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) align: Align,
    pub(super) bounds: [f64; 4],
}

/// The first of eight positions around `point` (a dot of `radius`) where a `w` x `h` label overlaps nothing taken
/// and stays inside `bounds`; else the position with the least overlap.
pub(super) fn place_label(
    point: (f64, f64),
    radius: f64,
    w: f64,
    h: f64,
    taken: &[[f64; 4]],
    bounds: [f64; 4],
) -> Placed {
    let (px, py) = point;
    let gap = radius + 5.0;
    let candidates = [
        (px + gap, py, Align::Start),
        (px - gap, py, Align::End),
        (px, py - gap - h / 2.0, Align::Middle),
        (px, py + gap + h / 2.0, Align::Middle),
        (px + gap * 0.7, py - gap - h / 2.0, Align::Start),
        (px + gap * 0.7, py + gap + h / 2.0, Align::Start),
        (px - gap * 0.7, py - gap - h / 2.0, Align::End),
        (px - gap * 0.7, py + gap + h / 2.0, Align::End),
    ];
    let boxed = |(x, y, align): (f64, f64, Align)| -> [f64; 4] {
        let left = match align {
            Align::Start => x,
            Align::Middle => x - w / 2.0,
            Align::End => x - w,
        };
        [left, y - h / 2.0, left + w, y + h / 2.0]
    };
    let overlap = |a: [f64; 4], b: [f64; 4]| -> f64 {
        let dx = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let dy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        dx * dy
    };
    let cost = |c: (f64, f64, Align)| -> f64 {
        let b = boxed(c);
        let own = [px - radius, py - radius, px + radius, py + radius];
        let crowd: f64 = taken.iter().filter(|t| **t != own).map(|t| overlap(b, *t)).sum();
        let outside = w * h - overlap(b, bounds);
        crowd + 4.0 * outside
    };
    let mut best = (candidates[0], f64::INFINITY);
    for c in candidates {
        let penalty = cost(c);
        if penalty <= 1e-6 {
            best = (c, 0.0);
            break;
        }
        if penalty < best.1 {
            best = (c, penalty);
        }
    }
    let (x, y, align) = best.0;
    Placed { x, y, align, bounds: boxed(best.0) }
}

// ---------------------------------------------------------------------------------------------------------------
// The font for PNG text.

/// The font PNG text is drawn with: its path (None: no PNGs) and what to tell the user about it.
#[derive(Debug, Clone)]
pub(super) struct Font {
    pub(super) path: Option<PathBuf>,
    pub(super) note: Option<String>,
}

/// Finds a TrueType font and registers it with plotters, once per process: `SIMGAP_FONT` first (`none`: no font),
/// then [`FONT_CANDIDATES`].
pub(super) fn font() -> Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| {
        let mut problem = None;
        if let Some(value) = std::env::var_os(FONT_ENV) {
            if value == "none" {
                return Font { path: None, note: Some(format!("{FONT_ENV}=none")) };
            }
            let path = PathBuf::from(&value);
            match register(&path) {
                Ok(()) => return Font { path: Some(path), note: None },
                Err(e) => problem = Some(format!("{FONT_ENV}={}: {e}", path.display())),
            }
        }
        for candidate in FONT_CANDIDATES {
            let path = Path::new(candidate);
            if path.is_file() && register(path).is_ok() {
                let note = problem.map(|p| format!("{p}; PNG text uses {candidate} instead"));
                return Font { path: Some(path.to_path_buf()), note };
            }
        }
        let none = format!(
            "no TrueType font found (set {FONT_ENV}=/path/to/font.ttf, or install one such as DejaVu Sans, e.g. \
             Debian's fonts-dejavu-core; looked in {})",
            FONT_CANDIDATES.join(", ")
        );
        Font { path: None, note: Some(problem.map_or(none.clone(), |p| format!("{p}; {none}"))) }
    })
    .clone()
}

/// Reads a font file and registers it (and its bold sibling, when one lies beside it) as plotters' sans-serif.
pub(super) fn register(path: &Path) -> Result<(), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > 64 << 20 {
        return Err(format!("{size} bytes: too large for a font"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    // plotters keeps fonts for the life of the process; this runs once per process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| "not a TrueType or OpenType font".to_owned())?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let bold_name = if name.contains("-Regular.") {
        name.replacen("-Regular.", "-Bold.", 1)
    } else if let Some((stem, extension)) = name.rsplit_once('.') {
        format!("{stem}-Bold.{extension}")
    } else {
        String::new()
    };
    let bold = path.with_file_name(bold_name);
    if bold.is_file()
        && let Ok(bytes) = std::fs::read(&bold)
    {
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, bytes);
    }
    Ok(())
}
