//! The manifest as the page shows it: only what is final when the page is written.
//!
//! Consumes: `OUT/manifest.json` as the earlier stages left it. Produces: that manifest without `last_run` (the
//! run's own record, marked complete only after the report) and without `stages.report` (this report's record,
//! which holds the page's own hash and is written after it), every list or table of more than [`SHOWN_SOURCES`]
//! entries left to the file. The page links to `manifest.json` for the whole, final file.

use serde_json::Value;

use crate::report::data::SHOWN_SOURCES;

/// The keys of the manifest written after the page: `last_run` at the top, `report` under `stages`.
const WRITTEN_AFTER: (&str, &str) = ("last_run", "report");

/// The manifest without what is written after the page.
pub fn final_part(manifest: &Value) -> Value {
    let mut shown = manifest.clone();
    if let Value::Object(top) = &mut shown {
        top.remove(WRITTEN_AFTER.0);
        if let Some(Value::Object(stages)) = top.get_mut("stages") {
            stages.remove(WRITTEN_AFTER.1);
        }
    }
    shown
}

/// `value` with every array or object of more than [`SHOWN_SOURCES`] entries replaced by a note of its size: with
/// 200 sources the whole manifest is a megabyte of per-file and per-source entries.
pub fn abridged(value: &Value) -> Value {
    let note = |n: usize| Value::String(format!("{n} entries: see manifest.json"));
    match value {
        Value::Array(items) if items.len() > SHOWN_SOURCES => note(items.len()),
        Value::Object(map) if map.len() > SHOWN_SOURCES => note(map.len()),
        Value::Array(items) => Value::Array(items.iter().map(abridged).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), abridged(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_on_the_page_leaves_long_lists_to_the_file() {
        let files: Vec<Value> = (0..30).map(|i| serde_json::json!({ "file": i })).collect();
        let manifest = serde_json::json!({ "stages": { "ingest": { "files": files, "read": 30 } }, "seed": [1, 2] });
        let shown = abridged(&manifest);
        assert_eq!(shown["stages"]["ingest"]["files"], "30 entries: see manifest.json");
        assert_eq!(shown["stages"]["ingest"]["read"], 30);
        assert_eq!(shown["seed"], serde_json::json!([1, 2]));
    }

    #[test]
    fn what_is_written_after_the_page_is_not_on_it() {
        let manifest = serde_json::json!({
            "last_run": { "complete": false },
            "stages": { "divergence": { "seconds": 1.5 }, "report": { "outputs": { "report.html": "ab12" } } },
            "simgap_version": "0.1.0",
        });
        let shown = final_part(&manifest);
        assert_eq!(
            shown,
            serde_json::json!({ "stages": { "divergence": { "seconds": 1.5 } }, "simgap_version": "0.1.0" })
        );
        assert_eq!(final_part(&Value::Null), Value::Null);
    }
}
