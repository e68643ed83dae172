//! The history's rules on in-memory tables: what a night adds, how it is told from the night before, and that the
//! file keeps every earlier row as it was.

use serde_json::json;

use super::*;
use crate::report::data::{Bounded, CorrectedRow, DivergenceRow, UsiRow};

/// A manifest whose ingest read `files` (`[[input]]` path, content hash) and accepted the given conversations.
fn manifest(files: &[(&str, &str)], humans: u64) -> serde_json::Value {
    let files: Vec<serde_json::Value> =
        files.iter().map(|(input, sha)| json!({ "input": input, "file": input, "sha256": sha })).collect();
    json!({ "stages": { "ingest": { "files": files, "sources": {
        "human": { "kind": "human", "conversations": humans },
        "sim-a": { "kind": "simulator", "conversations": 40 },
    } } } })
}

fn bounded(value: f64) -> Bounded {
    Bounded { value, lo: value - 0.01, hi: value + 0.01 }
}

/// The tables of one run: JS of `sim-a` on two facets (the second without an interval), and its USI.
fn data(js: f64, files: &[(&str, &str)]) -> ReportData {
    let corrected = CorrectedRow {
        kl_forward: bounded(0.5),
        kl_backward: bounded(0.5),
        js: bounded(js),
        tv: bounded(0.3),
        mauve: bounded(0.9),
        mauve_star: bounded(0.9),
        frontier_integral: bounded(0.1),
    };
    let row = |facet: &str, js: Bounded| DivergenceRow {
        facet: facet.to_owned(),
        reference: "human".to_owned(),
        source: "sim-a".to_owned(),
        kind: "simulator".to_owned(),
        n_reference: 100,
        n_source: 40,
        k: 5,
        smoothing: "counts:0.5".to_owned(),
        unit: "nats".to_owned(),
        kl_forward: bounded(0.5),
        kl_backward: bounded(0.5),
        js,
        js_normalized: bounded(0.1),
        tv: bounded(0.3),
        mauve: bounded(0.9),
        mauve_star: bounded(0.9),
        frontier_integral: bounded(0.1),
        human_ceiling_js: bounded(0.02),
        corrected: CorrectedRow { js, ..corrected.clone() },
        human_ceiling_js_corrected: bounded(0.001),
        js_above_ceiling: js,
        p_value: 0.01,
        warning: None,
    };
    let usi = UsiRow {
        source: "sim-a".to_owned(),
        reference: "human".to_owned(),
        n_reference: 100,
        n_source: 40,
        d: [0.5; 4],
        eval: 0.5,
        ece: 0.1,
        usi: bounded(61.5),
        usi_terms: 6,
        human_ceiling_usi: 88.25,
        note: String::new(),
    };
    ReportData {
        divergence: vec![
            row("all", bounded(js)),
            row("style", Bounded { value: js / 3.0, lo: f64::NAN, hi: f64::NAN }),
        ],
        usi: vec![usi],
        manifest: manifest(files, 100),
        ..ReportData::default()
    }
}

fn tonight(date: &str, settings: &str, previous: serde_json::Value) -> Tonight {
    Tonight { date: date.to_owned(), settings_sha256: settings.to_owned(), previous_manifest: previous }
}

/// Every value of a row, floats as bits, so that NaN equals NaN.
fn bits(rows: &[HistoryRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let floats = [r.value, r.lo, r.hi, r.human_ceiling, r.human_ceiling_lo, r.human_ceiling_hi];
            let floats: Vec<u64> = floats.iter().map(|f| f.to_bits()).collect();
            let names = format!("{} {} {} {:?} {:?} {:?}", r.reference, r.source, r.kind, r.facet, r.estimate, r.unit);
            format!("{:?} {names} {floats:?}", r.night)
        })
        .collect()
}

#[test]
fn a_night_adds_conversations_js_per_facet_and_usi_with_intervals_and_ceilings() {
    let dir = tempfile::tempdir().unwrap();
    let files = [("data/*.jsonl", "aa")];
    let added = add_night(dir.path(), data(0.2, &files), &tonight("2025-12-01", "s1", json!(null))).unwrap();
    assert_eq!(added, Appended::Added { night: 1, rows: 2 + 2 + 1 });
    let rows = read(dir.path()).unwrap();
    let estimates: Vec<(&str, &str, Option<&str>)> =
        rows.iter().map(|r| (r.source.as_str(), r.estimate.name(), r.facet.as_deref())).collect();
    assert_eq!(
        estimates,
        [
            ("human", "conversations", None),
            ("sim-a", "conversations", None),
            ("sim-a", "js_corrected", Some("all")),
            ("sim-a", "js_corrected", Some("style")),
            ("sim-a", "usi", None),
        ]
    );
    assert_eq!((rows[0].value, rows[1].value), (100.0, 40.0));
    assert!(rows[0].lo.is_nan() && rows[0].human_ceiling.is_nan());
    let js = &rows[2];
    assert_eq!((js.value, js.lo, js.hi, js.unit.as_deref()), (0.2, 0.2 - 0.01, 0.2 + 0.01, Some("nats")));
    assert_eq!((js.human_ceiling, js.human_ceiling_lo), (0.001, 0.001 - 0.01));
    assert!(rows[3].lo.is_nan() && rows[3].hi.is_nan(), "a missing interval stays missing");
    assert_eq!((rows[4].value, rows[4].human_ceiling), (61.5, 88.25));
    let night = &rows[0].night;
    assert_eq!((night.night, night.date.as_str(), night.input_files), (1, "2025-12-01", 1));
    assert_eq!((night.inputs_change, night.settings_change), (InputsChange::First, SettingsChange::First));
    assert_eq!(night.inputs_sha256, input_set_sha256(&[("data/*.jsonl".to_owned(), "aa".to_owned())]));
    assert!(rows.iter().all(|r| r.night == *night && r.reference == "human"));
}

#[test]
fn the_history_only_grows_and_unchanged_inputs_and_settings_add_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let night_one = [("data/*.jsonl", "aa")];
    add_night(dir.path(), data(0.2, &night_one), &tonight("2025-12-01", "s1", json!(null))).unwrap();
    let (first_rows, first_csv) =
        (read(dir.path()).unwrap(), std::fs::read_to_string(dir.path().join(HISTORY_CSV)).unwrap());
    let first_parquet = std::fs::read(dir.path().join(HISTORY_FILE)).unwrap();

    // The same inputs and settings on a later date: nothing added, the files untouched.
    let mut again = data(0.2, &night_one);
    again.history = first_rows.clone();
    let unchanged = add_night(dir.path(), again, &tonight("2025-12-02", "s1", manifest(&night_one, 100))).unwrap();
    assert_eq!(unchanged, Appended::Unchanged { nights: 1 });
    assert_eq!(std::fs::read(dir.path().join(HISTORY_FILE)).unwrap(), first_parquet);

    // A new file: the night is added; the first night's rows and CSV lines are as they were.
    let night_two = [("data/*.jsonl", "aa"), ("data/*.jsonl", "bb")];
    let mut grown = data(0.15, &night_two);
    grown.history = first_rows.clone();
    let added = add_night(dir.path(), grown, &tonight("2025-12-02", "s1", manifest(&night_one, 100))).unwrap();
    assert_eq!(added, Appended::Added { night: 2, rows: 5 });
    let rows = read(dir.path()).unwrap();
    assert_eq!(bits(&rows[..5]), bits(&first_rows), "earlier rows change in no bit");
    let csv = std::fs::read_to_string(dir.path().join(HISTORY_CSV)).unwrap();
    assert!(csv.starts_with(&first_csv), "earlier CSV lines change in no byte");
    assert_eq!(csv.lines().count(), 1 + 10);
    assert_eq!(rows[5].night.inputs_change, InputsChange::Grew);
    assert_eq!(rows[5].night.settings_change, SettingsChange::Unchanged);
    assert_eq!((rows[5].night.input_files, rows[7].value), (2, 0.15));
}

#[test]
fn inputs_that_only_grew_are_told_from_inputs_that_changed_and_settings_changes_are_marked() {
    let entries = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };
    let one = entries(&[("h/*.jsonl", "aa"), ("s.jsonl", "cc")]);
    let last = Night::after(None, &tonight("2025-12-01", "s1", json!(null)), &one, None);
    assert_eq!((last.night, last.inputs_change, last.settings_change), (1, InputsChange::First, SettingsChange::First));
    let previous_one = manifest(&[("h/*.jsonl", "aa"), ("s.jsonl", "cc")], 1);
    let next = |settings: &str, inputs: &[(String, String)], previous: &serde_json::Value| {
        let tonight = tonight("2025-12-02", settings, previous.clone());
        let previous = input_entries(previous);
        let night = Night::after(Some(&last), &tonight, inputs, previous.as_deref());
        (night.night, night.inputs_change, night.settings_change)
    };
    let grown = entries(&[("h/*.jsonl", "aa"), ("h/*.jsonl", "bb"), ("s.jsonl", "cc")]);
    assert_eq!(next("s1", &grown, &previous_one), (2, InputsChange::Grew, SettingsChange::Unchanged));
    let edited = entries(&[("h/*.jsonl", "ab"), ("h/*.jsonl", "bb"), ("s.jsonl", "cc")]);
    assert_eq!(next("s1", &edited, &previous_one), (2, InputsChange::Changed, SettingsChange::Unchanged));
    let fewer = entries(&[("h/*.jsonl", "aa")]);
    assert_eq!(next("s1", &fewer, &previous_one), (2, InputsChange::Changed, SettingsChange::Unchanged));
    assert_eq!(next("s2", &one, &previous_one), (2, InputsChange::Unchanged, SettingsChange::Changed));
    // Without the run before's list, or with one that is not the last night's, growth cannot be told.
    assert_eq!(next("s1", &grown, &json!(null)).1, InputsChange::Changed);
    let other = manifest(&[("h/*.jsonl", "zz")], 1);
    assert_eq!(next("s1", &grown, &other).1, InputsChange::Changed);
    // A file counted twice must be there twice to count as kept.
    let twice = entries(&[("h/*.jsonl", "aa"), ("h/*.jsonl", "aa")]);
    let last_twice = Night::after(None, &tonight("d", "s1", json!(null)), &twice, None);
    let once_more = entries(&[("h/*.jsonl", "aa"), ("h/*.jsonl", "bb")]);
    let previous = input_entries(&manifest(&[("h/*.jsonl", "aa"), ("h/*.jsonl", "aa")], 1));
    let night = Night::after(Some(&last_twice), &tonight("d", "s1", json!(null)), &once_more, previous.as_deref());
    assert_eq!(night.inputs_change, InputsChange::Changed);
}

#[test]
fn the_input_set_hash_ignores_order_and_follows_content() {
    let a = vec![("x".to_owned(), "1".to_owned()), ("y".to_owned(), "2".to_owned())];
    let b = vec![("y".to_owned(), "2".to_owned()), ("x".to_owned(), "1".to_owned())];
    assert_eq!(input_set_sha256(&a), input_set_sha256(&b));
    let c = vec![("x".to_owned(), "1".to_owned()), ("y".to_owned(), "3".to_owned())];
    assert_ne!(input_set_sha256(&a), input_set_sha256(&c));
    assert_eq!(input_entries(&json!({ "stages": {} })), None);
}

#[test]
fn a_run_without_an_ingest_record_or_a_history_simgap_did_not_write_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = data(0.2, &[]);
    data.manifest = json!({});
    let error = add_night(dir.path(), data, &tonight("d", "s", json!(null))).unwrap_err();
    assert!(error.to_string().contains("stages.ingest.files"), "{error}");

    crate::table::TableBuilder::new().text("night", ["1"]).write(&dir.path().join(HISTORY_FILE), &[]).unwrap();
    let error = read(dir.path()).unwrap_err();
    assert!(error.to_string().contains("history.parquet"), "{error}");
    assert_eq!(error.column.as_deref(), Some("night"), "{error}");
}

#[test]
fn csv_fields_with_commas_or_quotes_are_quoted() {
    assert_eq!(table::quoted("sim-a"), "sim-a");
    assert_eq!(table::quoted("sim, \"b\""), "\"sim, \"\"b\"\"\"");
}
