//! Progress bars for long stages: drawn on stderr when it is a terminal, hidden otherwise (logs, CI, cron).
//!
//! Consumes: a total and a label. Produces: an indicatif bar, or a hidden one when `enabled` is false.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting bytes; hidden unless `enabled` and stderr is a terminal (indicatif checks the latter).
pub fn bytes_bar(enabled: bool, total: u64, label: &'static str) -> ProgressBar {
    bar(enabled, total, label, "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
}

/// A bar counting items (conversations); hidden unless `enabled` and stderr is a terminal.
pub fn count_bar(enabled: bool, total: u64, label: &'static str) -> ProgressBar {
    bar(enabled, total, label, "{prefix} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}")
}

fn bar(enabled: bool, total: u64, label: &'static str, template: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(label);
    bar
}
