//! End to end for the nightly history: the real binary runs three nights in a temp folder, the demo's transcripts
//! arriving a third per night (one new file per source each night), then a rerun, a comment, a settings change and
//! an edited file. Checked: the rows each night adds to `history.parquet` and `history.csv`, earlier rows unchanged
//! byte for byte, nothing added when inputs and settings are unchanged, each change named and marked, the trend
//! figure with one point per simulator per night, the report's section; and that a failed run adds nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Table, project_root, stderr};

const SOURCES: [&str; 4] = ["humans", "sim-polite-verbose", "sim-terse-impatient", "sim-near-human"];
const SIMULATORS: usize = 3;
/// 2025-12-01 00:00:00 UTC.
const DECEMBER_FIRST: i64 = 1_764_547_200;
const HISTORY_COLUMNS: [&str; 20] = [
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

/// A temp folder with the pipeline `p.toml` reading `data/<source>/*.jsonl` (the demo's formats), small bootstrap
/// settings, and no data yet.
fn nightly_folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = String::from("[output]\ndir = \"out\"\n");
    pipeline += "[[input]]\npath = \"data/humans/*.jsonl\"\nformat = \"jsonl\"\n";
    for simulator in &SOURCES[1..] {
        pipeline += &format!(
            "[[input]]\npath = \"data/{simulator}/*.jsonl\"\nformat = \"openai\"\nsource = \"{simulator}\"\n\
             kind = \"simulator\"\n"
        );
    }
    pipeline += "[cluster]\nk = 20\n[divergence]\nbootstrap = 50\npermutations = 50\nusi_bootstrap = 10\n";
    let path = dir.path().join("p.toml");
    std::fs::write(&path, pipeline).unwrap();
    (dir, path)
}

/// The `part`-th third (1 to 3) of each demo file arrives as `data/<source>/<part>.jsonl`.
fn arrive(dir: &Path, part: usize) {
    for source in SOURCES {
        let text = std::fs::read_to_string(project_root().join(format!("data/demo/{source}.jsonl"))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let third = lines.len() / 3;
        let end = if part == 3 { lines.len() } else { part * third };
        let folder = dir.join("data").join(source);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{part}.jsonl")), lines[(part - 1) * third..end].join("\n") + "\n").unwrap();
    }
}

/// `simgap run p.toml` on day `day` of December 2025 (SOURCE_DATE_EPOCH), with `env` added.
fn run_on(pipeline: &Path, day: i64, env: &[(&str, &str)]) -> Output {
    let epoch = (DECEMBER_FIRST + (day - 1) * 86_400).to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_simgap"));
    command.args(["run", pipeline.to_str().unwrap()]).env("SOURCE_DATE_EPOCH", epoch).env("SIMGAP_FONT", "none");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the simgap binary runs")
}

fn run_ok(pipeline: &Path, day: i64) -> String {
    let output = run_on(pipeline, day, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stderr(&output)
}

/// Each row of the history as text, every number by its bits: equal rows, equal text.
fn history_rows(out: &Path) -> Vec<String> {
    let table = Table::read(&out.join("history.parquet"));
    (0..table.rows)
        .map(|i| {
            let cells: Vec<String> = HISTORY_COLUMNS
                .iter()
                .map(|column| {
                    let number = ["night", "input_files", "value", "lo", "hi"].contains(column)
                        || column.starts_with("human_ceiling");
                    if number {
                        format!("{:x}", table.number(column)[i].to_bits())
                    } else {
                        format!("{:?}", table.optional_text(column)[i])
                    }
                })
                .collect();
            cells.join("|")
        })
        .collect()
}

/// The values of one text column of the history, per row.
fn column(out: &Path, name: &str) -> Vec<String> {
    Table::read(&out.join("history.parquet")).text(name)
}

/// (night, date, inputs_change, settings_change) of each night, in order.
fn nights(out: &Path) -> Vec<(String, String, String, String)> {
    let table = Table::read(&out.join("history.parquet"));
    let numbers = table.number("night");
    let (dates, inputs, settings) = (table.text("date"), table.text("inputs_change"), table.text("settings_change"));
    let mut nights: Vec<(String, String, String, String)> = (0..table.rows)
        .map(|i| (numbers[i].to_string(), dates[i].clone(), inputs[i].clone(), settings[i].clone()))
        .collect();
    nights.dedup();
    nights
}

fn night(number: u64, day: u32, inputs: &str, settings: &str) -> (String, String, String, String) {
    (number.to_string(), format!("2025-12-{day:02}"), inputs.to_owned(), settings.to_owned())
}

/// The trend figure's SVG.
fn trend(out: &Path) -> String {
    std::fs::read_to_string(out.join("figures/history_js.svg")).expect("figures/history_js.svg is written")
}

/// Every text of an SVG, in order.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("</text>").filter_map(|t| Some(t.rsplit_once('>')?.1.trim())).collect()
}

/// How many texts of an SVG are exactly `text`.
fn count_text(svg: &str, text: &str) -> usize {
    texts(svg).iter().filter(|t| **t == text).count()
}

/// Points drawn in the trend figure, the legend's swatch left out.
fn points(svg: &str) -> usize {
    svg.matches("<circle").count() - 1
}

#[test]
fn three_nights_of_growing_inputs_make_three_nights_of_history_and_a_trend() {
    let (dir, pipeline) = nightly_folder();
    let out = dir.path().join("out");

    // Night 1: a third of every source. One night: a single point per simulator.
    arrive(dir.path(), 1);
    run_ok(&pipeline, 1);
    assert_eq!(nights(&out), [night(1, 1, "first", "first")]);
    let first_rows = history_rows(&out);
    // Per source its conversations, per (simulator, facet) the corrected JS, per simulator the USI.
    let estimates = column(&out, "estimate");
    assert_eq!(estimates.iter().filter(|e| *e == "conversations").count(), SOURCES.len());
    assert_eq!(estimates.iter().filter(|e| *e == "usi").count(), SIMULATORS);
    let facets = estimates.iter().filter(|e| *e == "js_corrected").count() / SIMULATORS;
    assert!(facets >= 9, "{facets} facets");
    let first_csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(first_csv.lines().count(), 1 + first_rows.len());
    let svg = trend(&out);
    assert_eq!(points(&svg), SIMULATORS, "one point per simulator");
    for simulator in &SOURCES[1..] {
        assert!(svg.contains(simulator), "{simulator} has no panel");
    }
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("id=\"history\"") && page.contains("id=\"figure-history_js\""));
    assert!(page.contains("id=\"table-history\"") && page.contains("2025-12-01"));

    // Night 2: a new file per source; the inputs grew.
    arrive(dir.path(), 2);
    run_ok(&pipeline, 2);
    assert_eq!(nights(&out), [night(1, 1, "first", "first"), night(2, 2, "grew", "unchanged")]);
    let rows = history_rows(&out);
    assert_eq!(rows.len(), 2 * first_rows.len());
    assert_eq!(rows[..first_rows.len()], first_rows[..], "night 1's rows changed");
    let csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert!(csv.starts_with(&first_csv), "night 1's CSV lines changed");

    // A rerun on the same inputs a day later, and a comment in the pipeline: nothing added, nothing rewritten.
    let parquet = std::fs::read(out.join("history.parquet")).unwrap();
    let log = run_ok(&pipeline, 3);
    assert!(log.contains("nothing added"), "{log}");
    assert!(log.contains("report: skipped (unchanged)"), "{log}");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, format!("# nightly\n{text}")).unwrap();
    run_ok(&pipeline, 3);
    assert_eq!(std::fs::read(out.join("history.parquet")).unwrap(), parquet);

    // Night 3: three nights, three points per simulator, each night's date under its point.
    arrive(dir.path(), 3);
    run_ok(&pipeline, 3);
    let rows = history_rows(&out);
    assert_eq!(rows.len(), 3 * first_rows.len());
    assert_eq!(rows[..first_rows.len()], first_rows[..], "night 1's rows changed");
    assert_eq!(nights(&out).last(), Some(&night(3, 3, "grew", "unchanged")));
    let svg = trend(&out);
    assert_eq!(points(&svg), 3 * SIMULATORS, "three points per simulator");
    for date in ["12-01", "12-02", "12-03"] {
        assert_eq!(count_text(&svg, date), SIMULATORS, "{date} under each panel");
    }
    assert_eq!(count_text(&svg, "+"), 2 * SIMULATORS, "nights 2 and 3 grew, in every panel");
    let conversations: Vec<f64> = {
        let table = Table::read(&out.join("history.parquet"));
        let (estimate, source, value) = (table.text("estimate"), table.text("source"), table.number("value"));
        (0..table.rows).filter(|&i| estimate[i] == "conversations" && source[i] == "human").map(|i| value[i]).collect()
    };
    assert_eq!(conversations, [186.0, 372.0, 560.0]);

    // A settings change on the same inputs: night 4, marked S in every panel, the line broken there.
    std::fs::write(&pipeline, text.replace("bootstrap = 50", "bootstrap = 60")).unwrap();
    run_ok(&pipeline, 4);
    assert_eq!(nights(&out).last(), Some(&night(4, 4, "unchanged", "changed")));
    let svg = trend(&out);
    assert_eq!(points(&svg), 4 * SIMULATORS);
    assert_eq!(count_text(&svg, "S"), SIMULATORS, "the settings change is marked in every panel");

    // An edited file (not only new ones): night 5, marked I.
    let edited = dir.path().join("data/humans/2.jsonl");
    let lines = std::fs::read_to_string(&edited).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    std::fs::write(&edited, lines[..lines.len() - 10].join("\n") + "\n").unwrap();
    run_ok(&pipeline, 5);
    assert_eq!(nights(&out).last(), Some(&night(5, 5, "changed", "unchanged")));
    assert_eq!(count_text(&trend(&out), "I"), SIMULATORS);
    assert_eq!(history_rows(&out)[..first_rows.len()], first_rows[..], "night 1's rows changed");
}

#[test]
fn a_failed_run_adds_no_night_and_a_bad_date_fails_before_any_stage() {
    let (dir, pipeline) = nightly_folder();
    let out = dir.path().join("out");
    arrive(dir.path(), 1);
    run_ok(&pipeline, 1);
    let (parquet, csv) =
        (std::fs::read(out.join("history.parquet")).unwrap(), std::fs::read(out.join("history.csv")).unwrap());

    // New inputs, and the run fails at its last output: the history readers see is unchanged.
    arrive(dir.path(), 2);
    let failed = run_on(&pipeline, 2, &[("SIMGAP_FAIL_COMMIT", "report.html")]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(std::fs::read(out.join("history.parquet")).unwrap(), parquet);
    assert_eq!(std::fs::read(out.join("history.csv")).unwrap(), csv);

    // A date that is not a number: exit 2 naming the variable, before any stage runs.
    let bad = Command::new(env!("CARGO_BIN_EXE_simgap"))
        .args(["run", pipeline.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("SOURCE_DATE_EPOCH=\"yesterday\""), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains("ingest"), "{}", stderr(&bad));

    // The next run adds the night once.
    run_ok(&pipeline, 3);
    assert_eq!(nights(&out), [night(1, 1, "first", "first"), night(2, 3, "grew", "unchanged")]);
}
