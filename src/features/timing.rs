//! Facet `timing`, where messages carry timestamps: how long the user takes to reply and how long the conversation
//! lasts. Without timestamps the values are missing (null in `features.parquet`), never invented.
//!
//! Consumes: a [`Prepared`] conversation. Produces: the values of [`FEATURES`] (NaN for missing, written as null).
//! Timestamps are parsed by [`parse_timestamp`]; ingest has already rejected records whose timestamps do not parse.

use super::cues::Cues;
use super::rule::FeatureDef;
use super::text::Prepared;
use crate::ingest::{Role, parse_timestamp};

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
