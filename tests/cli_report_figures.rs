//! End to end for the report's figures: the real binary runs the demo pipeline in a temp folder and writes every
//! figure as SVG (and PNG where a font exists), the HTML report embeds them, a second run writes the same SVG bytes,
//! and `SIMGAP_FONT=none` leaves the SVGs and skips the PNGs with one warning.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::stderr;

/// Every figure of a `simgap run` (`history_js`: its first night, one point per simulator).
const FIGURES: [&str; 6] = ["histograms_all", "pairwise_js", "js_by_facet", "usi_components", "mds_map", "history_js"];

/// The demo pipeline with small bootstrap settings, in a temp folder.
fn demo() -> (tempfile::TempDir, PathBuf) {
    common::demo_with("[divergence]\nbootstrap = 50\npermutations = 50\nusi_bootstrap = 10\n")
}

/// Runs simgap with `SIMGAP_FONT` set as given (None: as in the test's environment).
fn simgap_with_font(args: &[&str], font: Option<&str>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simgap"));
    command.args(args);
    if let Some(font) = font {
        command.env("SIMGAP_FONT", font);
    }
    let output = command.output().expect("the simgap binary runs");
    assert!(matches!(output.status.code(), Some(0) | Some(3)), "{args:?}: {}", stderr(&output));
}

/// The report stage's warnings as recorded in the manifest.
fn report_warnings(out: &Path) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    manifest["stages"]["report"]["warnings"]
        .as_array()
        .map(|list| list.iter().filter_map(|w| w.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Whether the PNGs should be there: a font the binary would find.
fn font_present() -> bool {
    match std::env::var_os("SIMGAP_FONT") {
        Some(path) => path != "none" && Path::new(&path).is_file(),
        None => Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file(),
    }
}

fn read_svg(path: &Path) -> String {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.starts_with("<svg "), "{}: does not open an <svg> element", path.display());
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""), "{}", path.display());
    assert!(svg.trim_end().ends_with("</svg>"), "{}: not closed", path.display());
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count(), "{}", path.display());
    assert!(svg.matches("<text").count() >= 5, "{}: hardly any text", path.display());
    for bad in ["NaN", "inf\"", "=\"-2147483648\""] {
        assert!(!svg.contains(bad), "{}: contains {bad}", path.display());
    }
    svg
}

#[test]
fn run_writes_every_figure_and_the_report_embeds_them() {
    let (dir, pipeline) = demo();
    let pipeline = pipeline.to_str().unwrap();
    simgap_with_font(&["-q", "run", pipeline], None);
    let out = dir.path().join("out");
    let figures = out.join("figures");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut first = Vec::new();
    for name in FIGURES {
        let svg = read_svg(&figures.join(format!("{name}.svg")));
        let png = figures.join(format!("{name}.png"));
        if font_present() {
            let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000, "{}", png.display());
        } else {
            assert!(!png.exists(), "{}", png.display());
            assert!(report_warnings(&out).iter().any(|w| w.contains("PNG figures skipped")));
        }
        assert!(html.contains(&format!("<figure id=\"figure-{name}\"><img")), "report.html lacks {name}");
        first.push(svg);
    }
    assert_eq!(html.matches("src=\"data:image/svg+xml;base64,").count(), FIGURES.len());
    // Source names and the facet appear in the figures; the MDS map names every source.
    let mds = &first[4];
    for source in ["human", "sim-polite-verbose", "sim-terse-impatient", "sim-near-human"] {
        assert!(mds.contains(source), "mds_map lacks {source}");
        assert!(first[1].contains(source), "pairwise_js lacks {source}");
    }
    assert!(!std::fs::read_dir(&figures).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp")));

    // The report again: the same SVG bytes.
    simgap_with_font(&["-q", "report", pipeline], None);
    for (name, svg) in FIGURES.iter().zip(&first) {
        assert_eq!(&read_svg(&figures.join(format!("{name}.svg"))), svg, "{name}: not deterministic");
    }

    // No font: every SVG (the same bytes), no PNG (yesterday's removed), one warning.
    simgap_with_font(&["-q", "report", pipeline], Some("none"));
    for (name, svg) in FIGURES.iter().zip(&first) {
        assert_eq!(&read_svg(&figures.join(format!("{name}.svg"))), svg, "{name}: depends on the font");
        assert!(!figures.join(format!("{name}.png")).exists(), "{name}.png left behind");
    }
    let warnings = report_warnings(&out);
    assert_eq!(warnings.iter().filter(|w| w.contains("PNG")).count(), 1, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("SIMGAP_FONT=none")), "{warnings:?}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(FIGURES.iter().all(|name| html.contains(&format!("id=\"figure-{name}\""))));

    // A font path that is not a font: a warning naming it, and PNGs from a system font where there is one.
    let not_a_font = dir.path().join("not-a-font.ttf");
    std::fs::write(&not_a_font, b"not a font").unwrap();
    simgap_with_font(&["-q", "report", pipeline], Some(not_a_font.to_str().unwrap()));
    let warnings = report_warnings(&out);
    assert!(warnings.iter().any(|w| w.contains("not-a-font.ttf")), "{warnings:?}");
    let system_font = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file();
    assert_eq!(figures.join("mds_map.png").exists(), system_font);
}
