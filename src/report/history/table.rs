//! The history on disk: `history.parquet` and `history.csv` (the same columns and rows), written whole through
//! temporary names, and the Parquet read back.
//!
//! Consumes: [`HistoryRow`]s, or the folder holding the file. Produces: the two files; the rows read back, each
//! value as written (a missing value, NaN, is written as null / an empty CSV field and read back as NaN).
//! Columns, in order: `night`, `date`, `simgap_version`, `inputs_sha256`, `input_files`, `inputs_change`,
//! `settings_sha256`, `settings_change`, `reference`, `source`, `kind`, `facet`, `estimate`, `unit`, `value`,
//! `lo`, `hi`, `human_ceiling`, `human_ceiling_lo`, `human_ceiling_hi`.

use std::fmt::Write;
use std::path::Path;

use super::record::{Estimate, HistoryRow, InputsChange, Night, SettingsChange};
use crate::report::columns::Columns;
use crate::report::error::{ReadError, ReportError};
use crate::table::TableBuilder;

/// The history table, at the top of the output folder.
pub const HISTORY_FILE: &str = "history.parquet";
/// The same rows as CSV, beside it.
pub const HISTORY_CSV: &str = "history.csv";

/// What the file's `simgap.history` metadata says: the layout's version.
const LAYOUT: &str = "1";

const HEADER: [&str; 20] = [
    "night",
    "date",
    "simgap_version",
    "inputs_sha256",
    "input_files",
    "inputs_change",
    "settings_sha256",
    "settings_change",
    "reference",
    "source",
    "kind",
    "facet",
    "estimate",
    "unit",
    "value",
    "lo",
    "hi",
    "human_ceiling",
    "human_ceiling_lo",
    "human_ceiling_hi",
];

/// Writes every row to `dir/history.parquet` and `dir/history.csv`.
pub(super) fn write(dir: &Path, rows: &[HistoryRow]) -> Result<(), ReportError> {
    let path = dir.join(HISTORY_FILE);
    let text = |f: fn(&HistoryRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let float = |f: fn(&HistoryRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    TableBuilder::new()
        .unsigned("night", rows.iter().map(|r| r.night.night))
        .text("date", text(|r| &r.night.date))
        .text("simgap_version", text(|r| &r.night.simgap_version))
        .text("inputs_sha256", text(|r| &r.night.inputs_sha256))
        .unsigned("input_files", rows.iter().map(|r| r.night.input_files))
        .text("inputs_change", text(|r| r.night.inputs_change.name()))
        .text("settings_sha256", text(|r| &r.night.settings_sha256))
        .text("settings_change", text(|r| r.night.settings_change.name()))
        .text("reference", text(|r| &r.reference))
        .text("source", text(|r| &r.source))
        .text("kind", text(|r| &r.kind))
        .optional_text("facet", rows.iter().map(|r| r.facet.clone()))
        .text("estimate", text(|r| r.estimate.name()))
        .optional_text("unit", rows.iter().map(|r| r.unit.clone()))
        .float("value", float(|r| r.value))
        .float("lo", float(|r| r.lo))
        .float("hi", float(|r| r.hi))
        .float("human_ceiling", float(|r| r.human_ceiling))
        .float("human_ceiling_lo", float(|r| r.human_ceiling_lo))
        .float("human_ceiling_hi", float(|r| r.human_ceiling_hi))
        .write(&path, &[("simgap.history", LAYOUT.to_owned())])
        .map_err(|e| ReportError::Write { path: e.path, source: std::io::Error::other(e.message) })?;
    let csv = dir.join(HISTORY_CSV);
    crate::atomic::write_atomic(&csv, csv_text(rows).as_bytes()).map_err(ReportError::write(&csv))
}

/// The rows as CSV: a header line, then one line per row; numbers in Rust's shortest form that reads back to the
/// same value, a missing one empty.
fn csv_text(rows: &[HistoryRow]) -> String {
    let mut out = HEADER.join(",") + "\n";
    for r in rows {
        let n = &r.night;
        let number = |v: f64| if v.is_nan() { String::new() } else { format!("{v}") };
        let fields = [
            n.night.to_string(),
            quoted(&n.date),
            quoted(&n.simgap_version),
            n.inputs_sha256.clone(),
            n.input_files.to_string(),
            n.inputs_change.name().to_owned(),
            n.settings_sha256.clone(),
            n.settings_change.name().to_owned(),
            quoted(&r.reference),
            quoted(&r.source),
            quoted(&r.kind),
            r.facet.as_deref().map(quoted).unwrap_or_default(),
            r.estimate.name().to_owned(),
            r.unit.as_deref().map(quoted).unwrap_or_default(),
            number(r.value),
            number(r.lo),
            number(r.hi),
            number(r.human_ceiling),
            number(r.human_ceiling_lo),
            number(r.human_ceiling_hi),
        ];
        let _ = writeln!(out, "{}", fields.join(","));
    }
    out
}

/// A CSV field: in double quotes (doubled inside) when it holds a comma, a quote or a line break.
pub(super) fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// The history in `dir` (`history.parquet`), in file order; empty when there is none.
pub fn read(dir: &Path) -> Result<Vec<HistoryRow>, ReadError> {
    let path = dir.join(HISTORY_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(Vec::new());
    }
    let table = Columns::read(&path)?;
    (0..table.rows)
        .map(|i| {
            let c = &table;
            let night = Night {
                night: c.float("night", i)? as u64,
                date: c.text("date", i)?,
                simgap_version: c.text("simgap_version", i)?,
                inputs_sha256: c.text("inputs_sha256", i)?,
                input_files: c.float("input_files", i)? as u64,
                inputs_change: named(c, &path, "inputs_change", i, InputsChange::parse)?,
                settings_sha256: c.text("settings_sha256", i)?,
                settings_change: named(c, &path, "settings_change", i, SettingsChange::parse)?,
            };
            Ok(HistoryRow {
                night,
                reference: c.text("reference", i)?,
                source: c.text("source", i)?,
                kind: c.text("kind", i)?,
                facet: c.optional_text("facet", i)?,
                estimate: named(c, &path, "estimate", i, Estimate::parse)?,
                unit: c.optional_text("unit", i)?,
                value: c.float("value", i)?,
                lo: c.float("lo", i)?,
                hi: c.float("hi", i)?,
                human_ceiling: c.float("human_ceiling", i)?,
                human_ceiling_lo: c.float("human_ceiling_lo", i)?,
                human_ceiling_hi: c.float("human_ceiling_hi", i)?,
            })
        })
        .collect()
}

/// The value of a column of names (`inputs_change`, `estimate`, ...) at `row`, or an error naming the file, the
/// column and the text found.
fn named<T>(
    table: &Columns,
    path: &Path,
    column: &str,
    row: usize,
    parse: fn(&str) -> Option<T>,
) -> Result<T, ReadError> {
    let text = table.text(column, row)?;
    parse(&text).ok_or_else(|| ReadError {
        path: path.to_owned(),
        column: Some(column.to_owned()),
        problem: format!("{text:?} is not a value simgap writes (move the file away to start a new history)"),
    })
}
