//! The rows one night adds to the history: its headline numbers, one estimate per row.
//!
//! Consumes: the [`Night`] and the run's [`ReportData`] (divergence and USI tables; the manifest's ingest section
//! for the conversations per source). Produces: [`HistoryRow`]s in a fixed order: conversations per source (by
//! name), then JS per (facet, simulator) in `divergence.parquet`'s order, then USI per simulator in
//! `usi.parquet`'s order.

use super::record::{Estimate, HistoryRow, Night};
use crate::report::data::{Bounded, ReportData};

const NONE: Bounded = Bounded { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };

/// What one row says beyond the night and the reference.
struct Number<'a> {
    source: &'a str,
    kind: &'a str,
    facet: Option<&'a str>,
    estimate: Estimate,
    unit: Option<&'a str>,
    value: Bounded,
    ceiling: Bounded,
}

/// The rows of `night` from the run's tables.
pub(super) fn of_night(night: &Night, data: &ReportData) -> Vec<HistoryRow> {
    let reference = data.reference().unwrap_or_default();
    let mut numbers = Vec::new();
    let sources = data.manifest.pointer("/stages/ingest/sources").and_then(|s| s.as_object());
    for (source, count) in sources.into_iter().flatten() {
        let kind = count.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        let conversations = count.get("conversations").and_then(|c| c.as_u64()).unwrap_or_default() as f64;
        let value = Bounded { value: conversations, ..NONE };
        numbers.push(Number {
            source,
            kind,
            facet: None,
            estimate: Estimate::Conversations,
            unit: None,
            value,
            ceiling: NONE,
        });
    }
    for r in &data.divergence {
        numbers.push(Number {
            source: &r.source,
            kind: &r.kind,
            facet: Some(&r.facet),
            estimate: Estimate::JsCorrected,
            unit: Some(&r.unit),
            value: r.corrected.js,
            ceiling: r.human_ceiling_js_corrected,
        });
    }
    for r in &data.usi {
        let kind = data.divergence.iter().find(|d| d.source == r.source).map_or("simulator", |d| d.kind.as_str());
        let ceiling = Bounded { value: r.human_ceiling_usi, ..NONE };
        numbers.push(Number {
            source: &r.source,
            kind,
            facet: None,
            estimate: Estimate::Usi,
            unit: None,
            value: r.usi,
            ceiling,
        });
    }
    numbers
        .into_iter()
        .map(|n| HistoryRow {
            night: night.clone(),
            reference: reference.to_owned(),
            source: n.source.to_owned(),
            kind: n.kind.to_owned(),
            facet: n.facet.map(str::to_owned),
            estimate: n.estimate,
            unit: n.unit.map(str::to_owned),
            value: n.value.value,
            lo: n.value.lo,
            hi: n.value.hi,
            human_ceiling: n.ceiling.value,
            human_ceiling_lo: n.ceiling.lo,
            human_ceiling_hi: n.ceiling.hi,
        })
        .collect()
}
