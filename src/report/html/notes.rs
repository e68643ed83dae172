//! "Warnings and notes": what the stages warned about, each once, in the order the stages ran.
//!
//! Consumes: the manifest's `stages.<stage>.warnings` lists and the warnings of the report being written (the
//! manifest's `report` section is the previous report's: it is written after the page). Produces: (stage, text)
//! pairs, an exact repeat left out. The stages already word each fact once, naming every source it concerns.

use serde_json::Value;

/// The stages in the order they run; a section of another name follows them, in name order.
const STAGE_ORDER: [&str; 4] = ["ingest", "features", "cluster", "divergence"];

/// Every warning, once: the earlier stages' from the manifest, then the report's own.
pub fn notes(manifest: &Value, report_warnings: &[String]) -> Vec<(String, String)> {
    let mut stages: Vec<(&str, &Value)> = manifest
        .get("stages")
        .and_then(Value::as_object)
        .map(|stages| stages.iter().filter(|(name, _)| *name != "report").map(|(n, v)| (n.as_str(), v)).collect())
        .unwrap_or_default();
    let rank = |name: &str| STAGE_ORDER.iter().position(|s| *s == name).unwrap_or(STAGE_ORDER.len());
    stages.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut all: Vec<(String, String)> = Vec::new();
    let recorded = stages.into_iter().flat_map(|(stage, section)| {
        let list = section.get("warnings").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        list.iter().filter_map(Value::as_str).map(move |w| (stage.to_owned(), w.to_owned()))
    });
    let own = report_warnings.iter().map(|w| ("report".to_owned(), w.clone()));
    for note in recorded.chain(own) {
        if !all.contains(&note) {
            all.push(note);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_follow_the_stages_once_each_with_this_reports_own_last() {
        let manifest = serde_json::json!({ "stages": {
            "divergence": { "warnings": ["no ECE", "no ECE"] },
            "cluster": { "warnings": ["noisy: sources a (280), b (280)"] },
            "ingest": { "warnings": 0 },
            "report": { "warnings": ["the previous report's"] },
        }});
        let notes = notes(&manifest, &["PNG figures skipped".to_owned()]);
        let expected = [
            ("cluster", "noisy: sources a (280), b (280)"),
            ("divergence", "no ECE"),
            ("report", "PNG figures skipped"),
        ];
        assert_eq!(notes, expected.map(|(s, w)| (s.to_owned(), w.to_owned())));
        assert!(super::notes(&Value::Null, &[]).is_empty());
    }
}
