//! The nightly history: every completed `simgap run` whose inputs or settings differ from the last recorded
//! night's adds that night's headline numbers to `OUT/history.parquet` (and `OUT/history.csv`, the same rows).
//!
//! Consumes: the run's generation of the output folder (its divergence tables and `manifest.json`, read as
//! [`ReportData`]), what identifies the night ([`Tonight`]: its date, the hash of its settings, and the manifest of
//! the run before) and the history as the run before left it. Produces: the history with the night's rows added
//! ([`append`]), and the history read back for the report's trend figure and section ([`read`]).
//! A night's rows: per source the conversations accepted; per (simulator, facet) the bias-corrected JS
//! (`js_corrected`, as in `tables/facets`) with its 95% interval and the corrected human split-half ceiling with its
//! 2.5-97.5% range; per simulator the USI with its interval and the human ceiling. Every row repeats the night's
//! identity: its number, date (UTC), the simgap version, the hash of the input set and the number of input files,
//! the hash of the settings, and how each differs from the night before ([`InputsChange`], [`SettingsChange`]).
//! Invariants: the history only grows: earlier rows are written back with the same values, byte for byte; a night
//! whose input set and settings equal the last recorded night's adds nothing and leaves the file untouched. Both
//! files are written through temporary names into the run's generation, so they switch with the rest of the outputs
//! and a run that fails or is killed adds nothing.
//! Cost: reading and writing the whole history once per night added: a night adds (sources + simulators x
//! (facets + 1)) rows, about 300 bytes of CSV each (the demo's 37 rows: 8 KB of Parquet, 12 KB of CSV); a year of
//! nights with ten simulators is about 50,000 rows, some 15 MB of CSV, read and written in well under a second.

mod night;
pub mod page;
pub mod record;
mod rows;
pub mod table;

use std::path::Path;

pub use night::{input_entries, input_set_sha256};
pub use record::{Estimate, HistoryRow, InputsChange, Night, SettingsChange, Tonight};
pub use table::{HISTORY_CSV, HISTORY_FILE, read};

use super::data::ReportData;
use super::error::ReportError;

/// What [`append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// A night was added: its number and its rows.
    Added { night: u64, rows: usize },
    /// The inputs and settings equal the last recorded night's: nothing added, `nights` recorded.
    Unchanged { nights: u64 },
}

/// Adds tonight's rows to the history in `generation` (the run's working folder, holding the divergence tables,
/// the manifest with tonight's ingest section and, linked from the run before, the history so far), unless the
/// input set and the settings equal the last recorded night's. Writes `history.parquet` and `history.csv` through
/// temporary names; a history that cannot be read is an error (it is never replaced by a shorter one).
pub fn append(generation: &Path, tonight: &Tonight) -> Result<Appended, ReportError> {
    add_night(generation, ReportData::read(generation)?, tonight)
}

/// [`append`] with the generation's tables read: `data.history` is the history so far, `data.manifest` tonight's.
fn add_night(generation: &Path, data: ReportData, tonight: &Tonight) -> Result<Appended, ReportError> {
    let inputs = input_entries(&data.manifest).ok_or_else(|| {
        ReportError::Config(format!(
            "{}: no `stages.ingest.files` to identify the night's inputs by (run `simgap run`)",
            generation.join(crate::manifest::MANIFEST_FILE).display()
        ))
    })?;
    let last = data.history.iter().map(|row| &row.night).max_by_key(|night| night.night);
    let inputs_sha256 = input_set_sha256(&inputs);
    if let Some(last) = last
        && last.inputs_sha256 == inputs_sha256
        && last.settings_sha256 == tonight.settings_sha256
    {
        return Ok(Appended::Unchanged { nights: last.night });
    }
    let previous = input_entries(&tonight.previous_manifest);
    let night = Night::after(last, tonight, &inputs, previous.as_deref());
    let added = rows::of_night(&night, &data);
    let count = added.len();
    let mut all = data.history;
    all.extend(added);
    table::write(generation, &all)?;
    Ok(Appended::Added { night: night.night, rows: count })
}

#[cfg(test)]
mod tests;
