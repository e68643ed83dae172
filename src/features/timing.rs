//! Facet `timing`, where messages carry timestamps: how long the user takes to reply and how long the conversation
//! lasts. Without timestamps the values are missing (null in `features.parquet`), never invented.
//!
//! Consumes: a [`Prepared`] conversation. Produces: the values of [`FEATURES`] (NaN for missing, written as null).
//! Timestamps are ISO 8601 (`2025-08-01T16:23:26.43Z`, an offset, or none meaning UTC) or Unix seconds.

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;
use crate::ingest::Role;

pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "timing_reply_seconds_mean",
        definition: "mean seconds from an assistant message to the user's reply; missing without timestamps",
    },
    FeatureDef {
        name: "timing_reply_seconds_cv",
        definition: "coefficient of variation of those reply times; missing with fewer than two",
    },
    FeatureDef {
        name: "timing_duration_seconds",
        definition: "seconds from the first to the last timestamped message; missing with fewer than two",
    },
];

/// Seconds since 1970 for an ISO 8601 date-time or a number of Unix seconds.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if bytes.len() < 19 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b' ') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(digits) = rest.strip_prefix('.') {
        let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
        fraction = format!("0.{}", &digits[..end]).parse().ok()?;
        rest = &digits[end..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 3600 + digits[2..].parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64 + fraction)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub fn compute(conversation: &Prepared<'_>, _cues: &Cues, out: &mut Vec<f64>) {
    let stamped: Vec<(Role, f64)> =
        conversation.messages.iter().filter_map(|m| Some((m.role, parse_timestamp(m.timestamp?)?))).collect();
    let replies: Vec<f64> = stamped
        .windows(2)
        .filter(|w| w[0].0 == Role::Assistant && w[1].0 == Role::User)
        .map(|w| w[1].1 - w[0].1)
        .collect();
    let mean = if replies.is_empty() { f64::NAN } else { replies.iter().sum::<f64>() / replies.len() as f64 };
    let cv = if replies.len() < 2 || mean == 0.0 {
        f64::NAN
    } else {
        (replies.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / replies.len() as f64).sqrt() / mean
    };
    let duration = match (stamped.first(), stamped.last()) {
        (Some(first), Some(last)) if stamped.len() >= 2 => last.1 - first.1,
        _ => f64::NAN,
    };
    out.extend_from_slice(&[mean, cv, duration]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::testing::{by_name, timed};

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_timestamp("2026-03-01T00:00:00Z"), Some(1_772_323_200.0));
        assert_eq!(parse_timestamp("2025-08-01T16:23:26.5"), Some(1_754_065_406.5));
        assert_eq!(parse_timestamp("2018-05-02T19:38:15+02:00"), Some(1_525_282_695.0));
        assert_eq!(parse_timestamp("1700000000"), Some(1.7e9));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn reply_times() {
        let f = by_name(
            FEATURES,
            compute,
            &timed(&[
                (Role::Assistant, "Hi", "2026-03-01T00:00:00Z"),
                (Role::User, "hello", "2026-03-01T00:00:10Z"),
                (Role::Assistant, "How can I help?", "2026-03-01T00:00:12Z"),
                (Role::User, "refund", "2026-03-01T00:00:42Z"),
            ]),
        );
        assert_eq!(f["timing_reply_seconds_mean"], 20.0);
        assert_eq!(f["timing_reply_seconds_cv"], 0.5);
        assert_eq!(f["timing_duration_seconds"], 42.0);
    }

    #[test]
    fn missing_without_timestamps() {
        let f = by_name(FEATURES, compute, &crate::features::testing::users(&["hi", "there"]));
        assert!(f.values().all(|v| v.is_nan()));
    }
}
