//! The colours of every figure, and the colour ramp of the heatmap with the luminance that picks its ink.
//!
//! Consumes: nothing. Produces: [`Rgb`] colours.

use crate::report::scene::{Rgb, finite_or};

pub(super) const MUTED: Rgb = Rgb(90, 90, 90);

pub(super) const AXIS: Rgb = Rgb(120, 120, 120);

pub(super) const GRID: Rgb = Rgb(225, 225, 225);

pub(super) const STRIPE: Rgb = Rgb(246, 246, 246);

pub(super) const WHITE_INK: Rgb = Rgb(255, 255, 255);

pub(super) const NA: Rgb = Rgb(205, 205, 205);

pub(super) const BAR: Rgb = Rgb(95, 150, 200);

pub(super) const POINT: Rgb = Rgb(40, 95, 165);

pub(super) const ERROR_BAR: Rgb = Rgb(215, 40, 30);

pub(super) const REFERENCE: Rgb = Rgb(210, 50, 40);

pub(super) const REFERENCE_INK: Rgb = Rgb(170, 30, 25);

pub(super) const CEILING: Rgb = Rgb(105, 105, 105);

pub(super) const CEILING_BAND: Rgb = Rgb(215, 215, 215);

pub(super) const REFERENCE_AREA: Rgb = Rgb(228, 228, 228);

pub(super) const USI_BAR: Rgb = Rgb(60, 60, 60);

/// The heatmap's colour for `t` in [0, 1]: white through light yellow, orange and red to dark purple.
pub(super) fn ramp(t: f64) -> Rgb {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [255.0, 255.0, 255.0]),
        (0.25, [253.0, 224.0, 150.0]),
        (0.5, [245.0, 145.0, 70.0]),
        (0.75, [200.0, 55.0, 60.0]),
        (1.0, [85.0, 20.0, 80.0]),
    ];
    let t = finite_or(t, 0.0).clamp(0.0, 1.0);
    let i = STOPS.iter().position(|s| s.0 >= t).unwrap_or(STOPS.len() - 1).max(1);
    let ((a, ca), (b, cb)) = (STOPS[i - 1], STOPS[i]);
    let f = if b > a { (t - a) / (b - a) } else { 0.0 };
    let mix = |k: usize| (ca[k] + f * (cb[k] - ca[k])).round().clamp(0.0, 255.0) as u8;
    Rgb(mix(0), mix(1), mix(2))
}

/// Relative luminance in [0, 1] (sRGB weights, no gamma: enough to pick black or white text).
pub(super) fn luminance(c: Rgb) -> f64 {
    (0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2)) / 255.0
}
