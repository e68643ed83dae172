//! End to end for the paper outputs: the real binary runs the demo in a temp folder; the `.tex` tables are laid out
//! for the paper `[report] paper` names (two-column by default), drop the column without values (`timing`: the
//! demo has no timestamps) that the CSV and Markdown keep, and say which packages they need; every figure comes as
//! a PDF of a journal's width, the same bytes on a second run. Where pdflatex and pdftoppm are installed, the
//! two-column run also goes through the paper check (tests/paper/check.sh), as CI does.

mod common;

use std::path::Path;
use std::process::Command;

use common::{project_root, simgap, stderr};

/// The demo with small bootstrap settings and `report` appended, run whole; returns the temp folder.
fn run_demo(report: &str) -> tempfile::TempDir {
    let settings = format!("[divergence]\nbootstrap = 20\npermutations = 20\nusi_bootstrap = 10\n{report}");
    let (dir, pipeline) = common::demo_with(&settings);
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert!(matches!(output.status.code(), Some(0) | Some(3)), "{}", stderr(&output));
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The width of a one-page PDF's MediaBox, in inches.
fn pdf_width_inches(path: &Path) -> f64 {
    let text = String::from_utf8(std::fs::read(path).unwrap()).expect("the PDF is ASCII");
    let media = text.split("/MediaBox [0 0 ").nth(1).unwrap_or_else(|| panic!("{}: no MediaBox", path.display()));
    let width: f64 = media.split(' ').next().unwrap().parse().unwrap();
    width / 72.0
}

#[test]
fn a_two_column_paper_gets_fitting_tables_and_pdf_figures() {
    let dir = run_demo("");
    let out = dir.path().join("out");
    for table in ["main", "facets", "pairwise", "mixtures", "usi"] {
        let tex = read(&out.join(format!("tables/{table}.tex")));
        assert!(tex.starts_with(&format!("% simgap table `{table}`, laid out for a two-column paper.")), "{tex}");
        assert!(tex.contains("% Needs \\usepackage{booktabs"), "{tex}");
        assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"), "{tex}");
    }
    let facets = read(&out.join("tables/facets.tex"));
    assert!(!facets.contains("timing"), "the column without values is dropped: {facets}");
    assert!(read(&out.join("tables/facets.csv")).contains("timing"), "the CSV keeps every column");
    assert!(read(&out.join("tables/facets.md")).contains("timing"), "the Markdown keeps every column");
    // Three simulators on ten facets: transposed, a row per facet.
    assert!(facets.contains("\\midrule\nusi & "), "{facets}");
    let js = read(&out.join("figures/js_by_facet.svg"));
    assert!(!js.contains(">timing"), "js_by_facet leaves out the facet without values");
    let mut first = Vec::new();
    for (name, inches) in [
        ("histograms_all", 6.75),
        ("js_by_facet", 6.75),
        ("pairwise_js", 3.3),
        ("usi_components", 3.3),
        ("mds_map", 3.3),
    ] {
        let pdf = out.join(format!("figures/{name}.pdf"));
        let width = pdf_width_inches(&pdf);
        assert!((width - inches).abs() < 0.01, "{name}: {width} in");
        first.push(std::fs::read(&pdf).unwrap());
    }
    let again = simgap(&["-q", "report", dir.path().join("p.toml").to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    for (name, bytes) in
        ["histograms_all", "js_by_facet", "pairwise_js", "usi_components", "mds_map"].iter().zip(&first)
    {
        assert_eq!(&std::fs::read(out.join(format!("figures/{name}.pdf"))).unwrap(), bytes, "{name}");
    }
    let tools = ["pdflatex", "pdftoppm"];
    if tools.iter().all(|tool| Command::new(tool).arg("-v").output().is_ok()) {
        let check = Command::new(project_root().join("tests/paper/check.sh")).arg(&out).output().unwrap();
        assert!(check.status.success(), "{}{}", String::from_utf8_lossy(&check.stdout), stderr(&check));
        assert!(out.join("paper/article.pdf").is_file() && out.join("paper/page-1.png").is_file());
    } else {
        eprintln!("paper check skipped: pdflatex or pdftoppm is not installed (CI installs them)");
    }
}

#[test]
fn a_one_column_paper_gets_no_page_wide_float() {
    let dir = run_demo("[report]\npaper = \"one-column\"\n");
    let out = dir.path().join("out");
    for table in ["main", "facets", "pairwise", "mixtures", "usi"] {
        let tex = read(&out.join(format!("tables/{table}.tex")));
        assert!(tex.contains("laid out for a one-column paper.") && !tex.contains("table*"), "{tex}");
    }
    let (_folder, pipeline) = common::demo_with("[report]\npaper = \"three-column\"\n");
    let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("three-column"), "{}", stderr(&output));
}
