//! The history's rows as types: a night's identity ([`Night`]), how it differs from the night before
//! ([`InputsChange`], [`SettingsChange`]), which number a row holds ([`Estimate`]) and the row ([`HistoryRow`]).
//!
//! Consumes: nothing. Produces: the types, and the names they have in the table ([`InputsChange::name`], ...).
//! Imports nothing of the report, so the report's data ([`crate::report::data::ReportData`]) can hold the history.

/// How a night's input set differs from the night before's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputsChange {
    /// The first night recorded.
    First,
    Unchanged,
    /// Every file of the night before is still there with the same content, and new ones came: the nightly case.
    Grew,
    /// A file the night before read changed or went away (or the night before's files are unknown).
    Changed,
}

/// How a night's settings differ from the night before's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsChange {
    First,
    Unchanged,
    Changed,
}

impl InputsChange {
    pub const ALL: [InputsChange; 4] =
        [InputsChange::First, InputsChange::Unchanged, InputsChange::Grew, InputsChange::Changed];

    pub fn name(self) -> &'static str {
        match self {
            InputsChange::First => "first",
            InputsChange::Unchanged => "unchanged",
            InputsChange::Grew => "grew",
            InputsChange::Changed => "changed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl SettingsChange {
    pub const ALL: [SettingsChange; 3] = [SettingsChange::First, SettingsChange::Unchanged, SettingsChange::Changed];

    pub fn name(self) -> &'static str {
        match self {
            SettingsChange::First => "first",
            SettingsChange::Unchanged => "unchanged",
            SettingsChange::Changed => "changed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The identity every row of a night repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Night {
    /// 1 for the first night recorded, then one more per night added.
    pub night: u64,
    /// `YYYY-MM-DD`, UTC (or the date `SOURCE_DATE_EPOCH` names).
    pub date: String,
    pub simgap_version: String,
    /// SHA-256 of the input set ([`input_set_sha256`]).
    pub inputs_sha256: String,
    pub input_files: u64,
    pub inputs_change: InputsChange,
    /// SHA-256 of the settings that shape the numbers (see `pipeline::history`).
    pub settings_sha256: String,
    pub settings_change: SettingsChange,
}

/// Which number a row holds, named as the column of the divergence stage's table it was copied from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimate {
    /// Conversations accepted from the source (no interval, no ceiling).
    Conversations,
    /// `js_corrected` of `divergence.parquet`: the jackknife bias-corrected JS with its 95% interval; the ceiling is
    /// `human_ceiling_js_corrected` with its 2.5-97.5% range over the splits.
    JsCorrected,
    /// `usi` of `usi.parquet` with `usi_interval_lo` / `_hi`; the ceiling is `human_ceiling_usi`.
    Usi,
}

impl Estimate {
    pub const ALL: [Estimate; 3] = [Estimate::Conversations, Estimate::JsCorrected, Estimate::Usi];

    pub fn name(self) -> &'static str {
        match self {
            Estimate::Conversations => "conversations",
            Estimate::JsCorrected => "js_corrected",
            Estimate::Usi => "usi",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// One number of one night.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub night: Night,
    pub reference: String,
    pub source: String,
    /// `human` or `simulator`.
    pub kind: String,
    /// The facet of a JS row; None for conversations and USI.
    pub facet: Option<String>,
    pub estimate: Estimate,
    /// `nats` or `bits` for JS; None otherwise.
    pub unit: Option<String>,
    /// The value and its 95% interval (NaN where there is none).
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    /// The human split-half ceiling and its 2.5-97.5% range over the splits (NaN where there is none).
    pub human_ceiling: f64,
    pub human_ceiling_lo: f64,
    pub human_ceiling_hi: f64,
}

/// What identifies tonight's run, beyond the tables it produced.
#[derive(Debug, Clone)]
pub struct Tonight {
    /// The night's date, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// SHA-256 of the settings that shape the numbers (computed by the driver).
    pub settings_sha256: String,
    /// The manifest of the run before (the current generation's), whose ingest section lists the files it read;
    /// Null when there is none.
    pub previous_manifest: serde_json::Value,
}
