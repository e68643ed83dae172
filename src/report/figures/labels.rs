//! Text from the data made safe for a figure: control characters stripped, long names shortened, file names
//! from facet names.
//!
//! Consumes: strings. Produces: strings.

/// Source names longer than this many characters are shortened with an ellipsis.
pub(super) const NAME_CHARS: usize = 28;

/// Text from data made safe to draw: control characters become spaces, whitespace runs collapse, and text longer
/// than `max_chars` characters is cut with an ellipsis. (XML escaping is plotters' SVG backend's job.)
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' { ' ' } else { c };
        if c.is_whitespace() && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
    }
    let out = out.trim_end().to_owned();
    if out.chars().count() > max_chars {
        let mut cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    } else {
        out
    }
}

/// A facet name as part of a file name: letters, digits, `-` and `_` kept, anything else `_`.
pub(super) fn file_safe(text: &str) -> String {
    let safe: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if safe.is_empty() { "facet".to_owned() } else { safe }
}

/// `text` shortened with an ellipsis until it is at most `width` wide at font size `size` (at least one character
/// and the ellipsis).
pub(super) fn fit(text: &str, size: f64, width: f64) -> String {
    let mut chars = text.chars().count();
    let mut fitted = text.to_owned();
    while chars > 1 && crate::report::scene::text_width(&fitted, size) > width {
        chars -= 1;
        fitted = clean(text, chars);
    }
    fitted
}
