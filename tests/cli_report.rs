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
