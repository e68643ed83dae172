//! Numbers on axes and in labels: formats, percentages and "nice" tick positions.
//!
//! Consumes: values and ranges. Produces: tick positions and their labels.

/// A number with `decimals` decimals; NaN as "n/a", infinities as "inf".
pub(super) fn fmt(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "n/a".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf".to_owned() } else { "-inf".to_owned() }
    } else {
        format!("{value:.decimals$}")
    }
}

/// A share as a percentage: whole percents where the value is one (`4%`), else one decimal (`2.5%`).
pub(super) fn percent(value: f64) -> String {
    let percent = 100.0 * value;
    let decimals = if (percent - percent.round()).abs() < 1e-6 { 0 } else { 1 };
    format!("{percent:.decimals$}%")
}

pub(super) fn percent_of(share: f64) -> String {
    format!("{:.0}%", 100.0 * share)
}

/// The top of a JS axis: a nice number above the largest value, but never above JS's own maximum (ln 2 nats,
/// 1 bit) when no value exceeds it.
pub(super) fn js_axis_max(top: f64, unit: &str) -> f64 {
    let most = if unit == "bits" { 1.0 } else { std::f64::consts::LN_2 };
    let nice = nice_ceil(top);
    if top <= most * (1.0 + 1e-9) { nice.min(most) } else { nice }
}

/// `ticks` with `end` added when the last tick is more than `gap` below it.
pub(super) fn with_end(mut ticks: Vec<f64>, end: f64, gap: f64) -> Vec<f64> {
    match ticks.last() {
        Some(&last) if end - last <= gap => {
            if end - last > 1e-9 * end.abs() {
                ticks.pop();
                ticks.push(end);
            }
        }
        _ => ticks.push(end),
    }
    ticks
}

/// A tick's text: two decimals, three where two would round a value like ln 2.
pub(super) fn tick_label(value: f64) -> String {
    let two = fmt(value, 2);
    if (two.parse::<f64>().unwrap_or(value) - value).abs() > 1e-9 { fmt(value, 3) } else { two }
}

/// The smallest of 1, 2, 2.5, 5 x 10^e at or above `value` (1 for anything not positive and finite).
pub(super) fn nice_ceil(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * power >= value * (1.0 - 1e-9) {
            return step * power;
        }
    }
    10.0 * power
}

/// The smallest of 1, 2, 2.5, 5 x 10^e at or above `value`.
pub(super) fn nice_step(value: f64) -> f64 {
    nice_ceil(value)
}

/// Ticks at multiples of `step` within [lo, hi].
pub(super) fn ticks_between(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last.min(first + 50))
        .map(|i| i as f64 * step)
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect()
}

/// About `count` ticks from `lo` to `hi` at a nice step.
pub(super) fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    ticks_between(lo, hi, nice_step((hi - lo) / count.max(1) as f64))
}
