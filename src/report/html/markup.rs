//! The page's building blocks: escaping, base64, anchors, a table and a figure as HTML.
//!
//! Consumes: a [`Table`] or a [`Figure`], or text. Produces: markup. Every piece of text goes through [`escape`];
//! a figure is a base64 `data:` image, never inlined markup, so nothing inside an SVG can run. A table's number
//! cells do not wrap: an interval sits on its own line under its value, in smaller type.

use std::fmt::Write;

use crate::report::data::Bounded;
use crate::report::figures::Figure;
use crate::report::tables::{Cell, Table, number_text};

/// Decimals of the numbers in the page's tables (as in the Markdown tables).
const DIGITS: usize = 3;

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An anchor (`id`) made of `prefix` and `name`: letters, digits, `-` and `_` kept, anything else a `-`, so a name
/// from the data can neither break the attribute nor the link.
pub fn anchor(prefix: &str, name: &str) -> String {
    let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
    format!("{prefix}-{slug}")
}

/// The anchor of a table.
pub fn table_anchor(table: &Table) -> String {
    anchor("table", &table.name)
}

/// The anchor of a figure.
pub fn figure_anchor(figure: &Figure) -> String {
    anchor("figure", &figure.name)
}

/// One table, scrolling sideways inside its box when it is wider than the page.
pub fn table(out: &mut String, table: &Table) {
    let _ = write!(out, "<div class=\"wide\"><table id=\"{}\">", table_anchor(table));
    let _ = write!(out, "<caption><b>{}.</b> {}</caption><tr>", escape(&table.title), escape(&table.caption));
    for (name, _) in &table.columns {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    out.push_str("</tr>");
    let digits = table.column_digits(DIGITS);
    for (cells, rendered) in table.rows.iter().zip(table.rendered(DIGITS)) {
        out.push_str("<tr>");
        for (j, (cell, (text, bold))) in cells.iter().zip(rendered).enumerate() {
            let shown = match cell {
                Cell::Interval(b) => interval(b, digits[j]),
                Cell::Lines(items) => items.iter().map(|item| escape(item)).collect::<Vec<_>>().join("<br>"),
                Cell::Text(_) | Cell::Number(_) => escape(&text),
            };
            if bold {
                let _ = write!(out, "<td><b>{shown}</b></td>");
            } else {
                let _ = write!(out, "<td>{shown}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>\n");
}

/// A value with its interval on a second line in smaller type; the value alone when the interval is missing.
fn interval(b: &Bounded, digits: usize) -> String {
    let value = number_text(b.value, digits);
    if b.value.is_nan() || b.lo.is_nan() || b.hi.is_nan() {
        return value;
    }
    format!("{value}<br><span class=\"ci\">[{}, {}]</span>", number_text(b.lo, digits), number_text(b.hi, digits))
}

/// One figure, its SVG as a base64 `data:` image.
pub fn figure(out: &mut String, figure: &Figure) {
    let _ = writeln!(
        out,
        "<figure id=\"{}\"><img alt=\"{}\" src=\"data:image/svg+xml;base64,{}\"><figcaption><b>{}.</b> {}\
         </figcaption></figure>",
        figure_anchor(figure),
        escape(&figure.title),
        base64(figure.svg.as_bytes()),
        escape(&figure.title),
        escape(&figure.caption)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tables::Better;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn an_anchor_keeps_only_safe_characters() {
        assert_eq!(anchor("clusters", "all"), "clusters-all");
        assert_eq!(anchor("clusters", "a \"b\"<c>"), "clusters-a--b--c-");
    }

    #[test]
    fn an_interval_sits_under_its_value_and_the_best_is_bold() {
        let cell = |value: f64| Cell::Interval(Bounded { value, lo: value - 0.01, hi: value + 0.05 });
        let shown = Table {
            name: "main".into(),
            title: "T".into(),
            caption: "C".into(),
            columns: vec![("source".into(), Better::Neither), ("JS".into(), Better::Lower)],
            rows: vec![vec![Cell::Text("a<b".into()), cell(0.052)], vec![Cell::Text("c".into()), cell(0.2)]],
            transpose_when_wide: false,
        };
        let mut out = String::new();
        table(&mut out, &shown);
        assert!(out.contains("<td>a&lt;b</td><td><b>0.052<br><span class=\"ci\">[0.042, 0.102]</span></b></td>"));
        assert!(out.contains("<td>0.200<br><span class=\"ci\">[0.190, 0.250]</span></td>"), "{out}");
        assert!(out.starts_with("<div class=\"wide\"><table id=\"table-main\">"));
        let missing = Bounded { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };
        assert_eq!(interval(&missing, 3), "–");
    }
}
