//! A night's identity in the history: its number and date, the input set and the settings it ran on, and how each
//! differs from the night before.
//!
//! Consumes: the manifests of tonight's run and of the run before (their `stages.ingest.files`: per input file the
//! `[[input]]` path that named it and its content hash), the settings hash and the last recorded night. Produces:
//! [`Night`]. The input set is a multiset of (`[[input]]` path as written, SHA-256 of the content): a file renamed
//! within its input's pattern is the same input, an edited one is another.

use std::collections::BTreeMap;

use serde_json::Value;

use super::record::{InputsChange, Night, SettingsChange, Tonight};
use crate::hashing::sha256_bytes;

/// One input file as the input set counts it: the `[[input]]` path that named it and its content hash.
pub type InputEntry = (String, String);

/// The input files a manifest's ingest section lists, sorted; None when it lists none (no ingest recorded).
pub fn input_entries(manifest: &Value) -> Option<Vec<InputEntry>> {
    let files = manifest.get("stages")?.get("ingest")?.get("files")?.as_array()?;
    let mut entries: Vec<InputEntry> = files
        .iter()
        .filter_map(|file| Some((file.get("input")?.as_str()?.to_owned(), file.get("sha256")?.as_str()?.to_owned())))
        .collect();
    entries.sort();
    Some(entries)
}

/// SHA-256 over the sorted entries, one `INPUT<tab>SHA256<newline>` line each.
pub fn input_set_sha256(entries: &[InputEntry]) -> String {
    let mut sorted: Vec<&InputEntry> = entries.iter().collect();
    sorted.sort();
    let text: String = sorted.iter().map(|(input, sha)| format!("{input}\t{sha}\n")).collect();
    sha256_bytes(text.as_bytes())
}

/// Whether every entry of `smaller` is in `larger`, as many times at least.
fn contained(smaller: &[InputEntry], larger: &[InputEntry]) -> bool {
    let mut counts: BTreeMap<&InputEntry, i64> = BTreeMap::new();
    for entry in larger {
        *counts.entry(entry).or_default() += 1;
    }
    smaller.iter().all(|entry| {
        let count = counts.entry(entry).or_default();
        *count -= 1;
        *count >= 0
    })
}

impl Night {
    /// The night after `last` (None: the first), run on `inputs` with tonight's settings. The inputs only grew when
    /// the run before read exactly the last night's input set (`previous`, from its manifest) and every one of its
    /// files is among tonight's; without the run before's list they count as changed.
    pub(super) fn after(
        last: Option<&Night>,
        tonight: &Tonight,
        inputs: &[InputEntry],
        previous: Option<&[InputEntry]>,
    ) -> Night {
        let inputs_sha256 = input_set_sha256(inputs);
        let (inputs_change, settings_change) = match last {
            None => (InputsChange::First, SettingsChange::First),
            Some(last) => {
                let inputs_change = if last.inputs_sha256 == inputs_sha256 {
                    InputsChange::Unchanged
                } else {
                    match previous {
                        Some(previous)
                            if input_set_sha256(previous) == last.inputs_sha256 && contained(previous, inputs) =>
                        {
                            InputsChange::Grew
                        }
                        _ => InputsChange::Changed,
                    }
                };
                let settings_change = if last.settings_sha256 == tonight.settings_sha256 {
                    SettingsChange::Unchanged
                } else {
                    SettingsChange::Changed
                };
                (inputs_change, settings_change)
            }
        };
        Night {
            night: last.map_or(1, |l| l.night + 1),
            date: tonight.date.clone(),
            simgap_version: env!("CARGO_PKG_VERSION").to_owned(),
            inputs_sha256,
            input_files: inputs.len() as u64,
            inputs_change,
            settings_sha256: tonight.settings_sha256.clone(),
            settings_change,
        }
    }
}
