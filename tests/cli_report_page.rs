//! End to end for the report page and the log of `simgap run` on the demo corpus (in a temp folder): the results
//! come before the folded warnings, every link of the table of contents has its anchor, the cluster explanations
//! name no projection dimension and leave out the facet the simulators lack, the manifest on the page is the one on
//! disk without what is written after the page, and each warning is one log line naming every source it concerns.

mod common;

use common::{demo_with, simgap, stderr};
use serde_json::Value;

const SMALL: &str = "[divergence]\nbootstrap = 100\npermutations = 100\nusi_bootstrap = 20\n";

const SIMULATORS: [&str; 3] = ["sim-near-human", "sim-polite-verbose", "sim-terse-impatient"];

/// Runs the demo; returns the output folder's page, its manifest and the log.
fn demo_run() -> (tempfile::TempDir, String, Value, String) {
    let (dir, pipeline) = demo_with(SMALL);
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = dir.path().join("out");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let manifest = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    (dir, page, manifest, stderr(&output))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The page's value equals the file's at every leaf; a list or table the page left to the file is noted by its size.
fn same_but_abridged(page: &Value, disk: &Value, path: &str) {
    match (page, disk) {
        (Value::String(note), Value::Array(_) | Value::Object(_)) => {
            let size = if let Value::Array(a) = disk { a.len() } else { disk.as_object().unwrap().len() };
            assert_eq!(*note, format!("{size} entries: see manifest.json"), "{path}");
        }
        (Value::Object(p), Value::Object(d)) => {
            assert_eq!(p.keys().collect::<Vec<_>>(), d.keys().collect::<Vec<_>>(), "{path}");
            for (key, value) in p {
                same_but_abridged(value, &d[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(p), Value::Array(d)) => {
            assert_eq!(p.len(), d.len(), "{path}");
            for (i, (a, b)) in p.iter().zip(d).enumerate() {
                same_but_abridged(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(page, disk, "{path}"),
    }
}

#[test]
fn the_page_leads_with_results_links_its_sections_and_shows_the_final_manifest() {
    let (_dir, page, manifest, _) = demo_run();
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} is not on the page"));
    assert!(at("<nav id=\"contents\"") < at("id=\"table-main\""));
    assert!(at("id=\"table-main\"") < at("id=\"figures\"") && at("id=\"figures\"") < at("id=\"notes\""));
    assert!(page.contains("warnings and notes from the stages</summary>"), "the warnings are folded with a count");
    for link in page.split("href=\"#").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]) {
        assert!(page.contains(&format!("id=\"{link}\"")), "#{link} has no anchor");
    }
    let clusters = &page[at("id=\"clusters\"")..at("id=\"notes\"")];
    assert!(!clusters.contains("lexical_"), "a projection dimension is named in the explanations");
    assert!(clusters.contains("its wording") && clusters.contains("Distinctive words:"));
    assert!(!clusters.contains("clusters-timing") && !clusters.contains("NaN"), "no simulator has timing");
    // The manifest on the page: the file at the end of the run, without last_run and the report's own section.
    assert!(!page.contains("\"complete\""), "the run's status is on the page");
    let pre = &page[at("<pre>") + 5..at("</pre>")];
    let shown: Value = serde_json::from_str(&unescape(pre)).unwrap();
    let mut expected = manifest.clone();
    assert_eq!(expected["last_run"]["complete"], true);
    expected.as_object_mut().unwrap().remove("last_run");
    expected["stages"].as_object_mut().unwrap().remove("report");
    same_but_abridged(&shown, &expected, "manifest");
}

#[test]
fn each_warning_is_one_log_line_naming_every_source_it_concerns() {
    let (_dir, page, manifest, log) = demo_run();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    // The facet the simulators lack (the demo's simulators have no timestamps): one line naming all three.
    let lacking: Vec<&&str> = warnings.iter().filter(|l| l.contains("timing")).collect();
    assert_eq!(lacking.len(), 1, "{warnings:#?}");
    assert!(SIMULATORS.iter().all(|s| lacking[0].contains(s)), "{}", lacking[0]);
    // Every simulator is in the same situation: no warning names one of them alone.
    for line in &warnings {
        let named = SIMULATORS.iter().filter(|s| line.contains(*s)).count();
        assert!(named == 0 || named == SIMULATORS.len(), "a warning names some simulators only: {line}");
    }
    let mut distinct = warnings.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), warnings.len(), "{warnings:#?}");
    // The page lists each once: as many notes as the stages recorded (the report adds its own, as a machine without
    // fonts for the PNGs would).
    let recorded: usize = ["ingest", "features", "cluster", "divergence"]
        .iter()
        .filter_map(|s| manifest["stages"][s]["warnings"].as_array())
        .map(Vec::len)
        .sum();
    assert!(recorded >= 1);
    let notes = page.matches("<li class=\"warn\">").count() - page.matches("<li class=\"warn\"><b>report</b>").count();
    assert_eq!(notes, recorded, "{warnings:#?}");
}
