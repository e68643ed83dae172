//! A scene as a one-page vector PDF, for `\includegraphics` in a paper: rectangles, lines and circles as paths, text
//! in the base-14 Helvetica and Helvetica-Bold (WinAnsiEncoding), placed with their published character widths.
//!
//! Consumes: a [`Scene`] and the scene units per PDF point. Produces: the PDF's bytes, which depend on the scene alone
//! (no date, no id), so the same data gives the same file. Text outside WinAnsiEncoding is written as `?`. The fonts
//! are not embedded (every PDF reader and pdflatex has them).

use std::fmt::Write as _;

use super::{Align, Rgb, Scene, Shape, Text};

/// Helvetica's advance widths (1/1000 em) for the characters 32 to 126, from Adobe's AFM (WinAnsi quotes).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584,
];
/// Helvetica-Bold's advance widths for the characters 32 to 126.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611,
    556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389,
    280, 389, 584,
];
/// Where the baseline sits below a line's middle, in ems (about half of Helvetica's cap height).
const BASELINE_BELOW_MIDDLE: f64 = 0.35;
/// The control point distance of a quarter circle drawn as a cubic Bézier curve.
const KAPPA: f64 = 0.552_284_75;

/// A character's byte in WinAnsiEncoding (`?` where it has none).
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '€' => 0x80,
        '…' => 0x85,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '\u{A0}'..='\u{FF}' => c as u32 as u8,
        _ => b'?',
    }
}

/// The width of `text` in Helvetica (or Helvetica-Bold) at `size`.
fn helvetica_width(text: &str, size: f64, bold: bool) -> f64 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let per_mille: u32 = text
        .chars()
        .map(|c| match win_ansi(c) {
            b @ 32..=126 => u32::from(table[usize::from(b - 32)]),
            0x85 | 0x97 => 1000,
            _ => 556,
        })
        .sum();
    f64::from(per_mille) * size / 1000.0
}

/// A number as PDF writes it: at most two decimals, no trailing zeros.
fn num(value: f64) -> String {
    let text = format!("{:.2}", if value.is_finite() { value } else { 0.0 });
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// A colour as PDF operands (0-1 per channel).
fn rgb(c: Rgb) -> String {
    format!("{} {} {}", num(f64::from(c.0) / 255.0), num(f64::from(c.1) / 255.0), num(f64::from(c.2) / 255.0))
}

/// A text as a PDF string literal in WinAnsiEncoding.
fn literal(text: &str) -> String {
    let mut out = String::from("(");
    for byte in text.chars().map(win_ansi) {
        match byte {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            32..=126 => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03o}")),
        }
    }
    out.push(')');
    out
}

/// The page's drawing operators: scene units times `scale` points, y flipped (PDF's origin is bottom left).
struct Page {
    scale: f64,
    height: f64,
    ops: String,
}

impl Page {
    fn point(&self, (x, y): (f64, f64)) -> String {
        format!("{} {}", num(x * self.scale), num(self.height - y * self.scale))
    }

    fn shape(&mut self, shape: &Shape) {
        let ops = match shape {
            Shape::Rect { corners: [a, b], fill, stroke } => {
                let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
                let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
                let path = format!(
                    "{} {} {} re",
                    self.point((x0, y1)),
                    num((x1 - x0) * self.scale),
                    num((y1 - y0) * self.scale)
                );
                let mut ops = String::new();
                if let Some(fill) = fill {
                    ops += &format!("{} rg {path} f\n", rgb(*fill));
                }
                if let Some(stroke) = stroke {
                    ops += &format!("{} RG {} w {path} S\n", rgb(*stroke), num(self.scale));
                }
                ops
            }
            Shape::Line { points, color, width } => {
                let mut path = String::new();
                for (i, p) in points.iter().enumerate() {
                    path += &format!("{} {} ", self.point(*p), if i == 0 { "m" } else { "l" });
                }
                format!("{} RG {} w {path}S\n", rgb(*color), num(width * self.scale))
            }
            Shape::Circle { centre, radius, fill, stroke } => {
                let path = self.circle(*centre, *radius);
                let mut ops = format!("{} rg {path} f\n", rgb(*fill));
                if let Some(stroke) = stroke {
                    ops += &format!("{} RG {} w {path} S\n", rgb(*stroke), num(self.scale));
                }
                ops
            }
            Shape::Text(text) => self.text(text),
        };
        self.ops.push_str(&ops);
    }

    /// A closed circle path of four Bézier quarters.
    fn circle(&self, (cx, cy): (f64, f64), r: f64) -> String {
        let k = r * KAPPA;
        let p = |x: f64, y: f64| self.point((cx + x, cy + y));
        format!(
            "{} m {} {} {} c {} {} {} c {} {} {} c {} {} {} c h",
            p(r, 0.0),
            p(r, k),
            p(k, r),
            p(0.0, r),
            p(-k, r),
            p(-r, k),
            p(-r, 0.0),
            p(-r, -k),
            p(-k, -r),
            p(0.0, -r),
            p(k, -r),
            p(r, -k),
            p(r, 0.0)
        )
    }

    /// A line of text: its start moved by its alignment, its baseline below its middle; turned a quarter for
    /// vertical text (reading bottom to top).
    fn text(&self, text: &Text) -> String {
        let width = helvetica_width(&text.text, text.size, text.bold);
        let before = match text.align {
            Align::Start => 0.0,
            Align::Middle => width / 2.0,
            Align::End => width,
        };
        let drop = BASELINE_BELOW_MIDDLE * text.size;
        let (matrix, at) = if text.vertical {
            ("0 1 -1 0", (text.x + drop, text.y + before))
        } else {
            ("1 0 0 1", (text.x - before, text.y + drop))
        };
        let font = if text.bold { "F2" } else { "F1" };
        format!(
            "BT {} rg /{font} {} Tf {matrix} {} Tm {} Tj ET\n",
            rgb(text.color),
            num(text.size * self.scale),
            self.point(at),
            literal(&text.text)
        )
    }
}

impl Scene {
    /// The scene as a one-page PDF, `scale` points per scene unit.
    pub(in crate::report) fn pdf(&self, scale: f64) -> Vec<u8> {
        let (width, height) = (self.width * scale, self.height * scale);
        let mut page = Page { scale, height, ops: String::from("1 J 1 j\n") };
        for shape in &self.shapes {
            page.shape(shape);
        }
        let font =
            |name: &str| format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> \
                 >> /Contents 6 0 R >>",
                num(width),
                num(height)
            ),
            font("Helvetica"),
            font("Helvetica-Bold"),
            format!("<< /Length {} >>\nstream\n{}endstream", page.ops.len(), page.ops),
        ];
        let mut out = String::from("%PDF-1.4\n");
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            let _ = write!(out, "{} 0 obj\n{object}\nendobj\n", i + 1);
        }
        let xref = out.len();
        let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for offset in offsets {
            let _ = writeln!(out, "{offset:010} 00000 n ");
        }
        let _ = write!(out, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_helveticas() {
        assert!((helvetica_width("0.5", 10.0, false) - (5.56 + 2.78 + 5.56)).abs() < 1e-9);
        assert!(helvetica_width("Wm", 10.0, true) > helvetica_width("il", 10.0, true) * 3.0);
    }

    #[test]
    fn text_is_escaped_and_encoded() {
        assert_eq!(literal("a(b)\\c"), "(a\\(b\\)\\\\c)");
        assert_eq!(literal("0–1 ≥"), "(0\\2261 ?)");
    }

    #[test]
    fn a_scene_becomes_a_well_formed_pdf() {
        let mut scene = Scene::new(150.0, 75.0);
        scene.rect(10.0, 10.0, 20.0, 20.0, Some(Rgb(255, 0, 0)), Some(Rgb(0, 0, 0)));
        scene.circle(50.0, 40.0, 3.0, Rgb(0, 0, 255), None);
        scene.text(Text::new(10.0, 60.0, "JS (nats)", 12.0).align(Align::End).vertical());
        let bytes = scene.pdf(2.0 / 3.0);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("/MediaBox [0 0 100 50]"), "{text}");
        assert!(text.contains("/BaseFont /Helvetica ") && text.contains("0 1 -1 0"), "{text}");
        // Every xref offset points at its object.
        let xref = text.find("xref\n").unwrap();
        for (i, line) in text[xref..].lines().skip(3).take(6).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "{line}");
        }
        let startxref: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert_eq!(startxref, xref);
    }
}
