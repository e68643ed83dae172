//! End to end for `simgap report` (the last step of `simgap run`): the real binary on the demo corpus in temp
//! folders. Reruns give byte-identical tables; transcript text reaches the HTML page escaped; every table exists in
//! Markdown, LaTeX and CSV.

mod common;

use std::path::Path;

use common::{demo_with, simgap, stderr};

const SMALL: &str = "[divergence]\nbootstrap = 100\npermutations = 100\nusi_bootstrap = 20\n";

fn run(pipeline: &Path) {
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert!(matches!(output.status.code(), Some(0) | Some(3)), "{}", stderr(&output));
}

/// Every file under `dir` that is a table: (relative path, bytes).
fn tables(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.join("tables"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (format!("tables/{}", p.file_name().unwrap().to_string_lossy()), std::fs::read(&p).unwrap()))
        .collect();
    for name in ["divergence", "pairwise", "mixtures", "clusters", "usi", "usi_features"] {
        files.push((format!("{name}.parquet"), std::fs::read(out.join(format!("{name}.parquet"))).unwrap()));
    }
    files.sort();
    files
}

#[test]
fn the_same_inputs_and_seed_give_byte_identical_tables() {
    let (first_dir, first) = demo_with(SMALL);
    let (second_dir, second) = demo_with(SMALL);
    run(&first);
    run(&second);
    let (a, b) = (tables(&first_dir.path().join("out")), tables(&second_dir.path().join("out")));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between two runs");
    }
    for table in ["main", "facets", "pairwise", "mixtures", "usi"] {
        for extension in ["md", "tex", "csv"] {
            assert!(a.iter().any(|(n, _)| *n == format!("tables/{table}.{extension}")), "{table}.{extension}");
        }
    }
    let main = String::from_utf8(a.iter().find(|(n, _)| n == "tables/main.tex").unwrap().1.clone()).unwrap();
    assert!(main.contains("\\toprule") && main.contains("\\textbf{") && main.contains("seed 0"), "{main}");
}

#[test]
fn transcript_text_reaches_the_html_report_escaped() {
    // A simulator whose every user turn carries markup, under a name that is markup too.
    let (dir, pipeline) = demo_with(SMALL);
    let lines: Vec<String> = (0..300)
        .map(|i| {
            serde_json::json!({
                "id": format!("evil-{i}"),
                "messages": [
                    {"role": "assistant", "content": "How can I help?"},
                    {"role": "user", "content": format!("<script>alert('x{i}')</script> <img src=x onerror=alert(1)> please help {i}")},
                    {"role": "assistant", "content": "Sure."},
                    {"role": "user", "content": "<b>thanks</b> & bye"}
                ]
            })
            .to_string()
        })
        .collect();
    std::fs::write(dir.path().join("evil.jsonl"), lines.join("\n") + "\n").unwrap();
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let evil_input = "[[input]]\npath = \"evil.jsonl\"\nformat = \"openai\"\nsource = \"<script>evil</script>\"\n\
                      kind = \"simulator\"\n\n";
    std::fs::write(&pipeline, text.replacen("[[input]]", &format!("{evil_input}[[input]]"), 1)).unwrap();
    run(&pipeline);
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(!html.contains("<script"), "unescaped markup in the report");
    assert!(!html.contains("<img src=x"), "unescaped markup in the report");
    assert!(!html.contains("<b>thanks"), "unescaped markup in the report");
    assert!(html.contains("&lt;script&gt;evil&lt;/script&gt;"), "the source name is shown, escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;x"), "an example turn is shown, escaped");
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn a_report_of_many_sources_shows_the_closest_twenty_and_says_where_the_others_are() {
    // 25 simulators and the humans: 26 sources, 6 more than a figure, the pairwise matrix and the cluster
    // explanations show.
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let output =
        simgap(&["-q", "synth", "--out", corpus.to_str().unwrap(), "--simulators", "25", "--conversations", "2500"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pipeline = corpus.join("pipeline.toml");
    let mut text = std::fs::read_to_string(&pipeline).unwrap();
    text.push_str(
        "\n[divergence]\nbootstrap = 20\npermutations = 20\ncalibration_draws = 10\nceiling_splits = 10\n\
         usi_bootstrap = 10\n",
    );
    std::fs::write(&pipeline, text).unwrap();
    run(&pipeline);
    let out = corpus.join("out");
    let note = "Of 26 sources, the reference and the 19 simulators closest to it on the headline facet are shown; the \
                other 6 are in";
    // Every table with a row per source keeps all 25 simulators; the pairwise matrix holds the shown 20.
    let main = std::fs::read_to_string(out.join("tables/main.csv")).unwrap();
    assert_eq!(main.lines().filter(|l| l.starts_with("sim-")).count(), 25, "{main}");
    let pairwise = std::fs::read_to_string(out.join("tables/pairwise.csv")).unwrap();
    assert_eq!(pairwise.lines().count(), 1 + 20, "{pairwise}");
    assert!(std::fs::read_to_string(out.join("tables/pairwise.md")).unwrap().contains(note));
    // The shown simulators are the closest on the headline facet: every left-out one is at least as far.
    let divergence = common::Table::read(&out.join("divergence.parquet"));
    let shown: Vec<String> = pairwise.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).collect();
    let (sources, facets) = (divergence.text("source"), divergence.text("facet"));
    let js = divergence.number("js_corrected");
    let headline: Vec<(String, f64)> =
        (0..sources.len()).filter(|&i| facets[i] == "all").map(|i| (sources[i].clone(), js[i])).collect();
    let farthest_shown = headline.iter().filter(|(s, _)| shown.contains(s)).map(|(_, j)| *j).fold(f64::MIN, f64::max);
    for (source, value) in headline.iter().filter(|(s, _)| !shown.contains(s)) {
        assert!(*value >= farthest_shown, "{source} ({value}) is closer than a shown one ({farthest_shown})");
    }
    // The page says so under the figures and the explanations, and lists the manifest's per-source entries by count.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.matches(note).count() >= 4, "the note is missing from the page");
    assert!(page.contains("26 entries: see manifest.json"), "the manifest's per-source entries are on the page");
    let left_out = headline.iter().find(|(s, _)| !shown.contains(s)).unwrap().0.clone();
    assert!(!page.contains(&format!("<h4>{left_out}</h4>")), "{left_out} is explained on the page");
}
