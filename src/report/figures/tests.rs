//! The figures' unit tests: MDS, ticks, labels, and each figure's layout on small tables.

use super::axis::*;
use super::labels::*;
use super::mds::*;
use super::palette::*;
use super::*;
use crate::report::data::*;
use crate::report::scene::*;

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn distances_of(points: &[(f64, f64)]) -> Vec<Vec<f64>> {
    points.iter().map(|&a| points.iter().map(|&b| distance(a, b)).collect()).collect()
}

#[test]
fn jacobi_recovers_a_symmetric_matrix() {
    let m = vec![
        vec![4.0, 1.0, -2.0, 0.5],
        vec![1.0, 3.0, 0.0, 1.5],
        vec![-2.0, 0.0, 5.0, -1.0],
        vec![0.5, 1.5, -1.0, 2.0],
    ];
    let (values, vectors) = symmetric_eigen(&m);
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    for i in 0..4 {
        for j in 0..4 {
            let rebuilt: f64 = (0..4).map(|k| vectors[i][k] * values[k] * vectors[j][k]).sum();
            assert!((rebuilt - m[i][j]).abs() < 1e-10, "({i}, {j}): {rebuilt} vs {}", m[i][j]);
            let dot: f64 = (0..4).map(|k| vectors[k][i] * vectors[k][j]).sum();
            assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
        }
    }
    assert!((values.iter().sum::<f64>() - 14.0).abs() < 1e-10, "the trace is kept");
}

#[test]
fn mds_of_points_on_a_line_is_the_line() {
    let xs = [0.0, 1.0, 3.0, 6.0, 6.5];
    let d: Vec<Vec<f64>> = xs.iter().map(|a: &f64| xs.iter().map(|b| (a - b).abs()).collect()).collect();
    let e = classical_mds(&d);
    assert!((e.explained[0] - 1.0).abs() < 1e-9, "{:?}", e.explained);
    for (i, p) in e.points.iter().enumerate() {
        assert!(p.1.abs() < 1e-7, "second coordinate {p:?}");
        for (j, q) in e.points.iter().enumerate() {
            assert!((distance(*p, *q) - d[i][j]).abs() < 1e-9);
        }
    }
    // Centred, and the sign fixed: the farthest-from-centre coordinate is positive.
    let mean: f64 = e.points.iter().map(|p| p.0).sum::<f64>() / 5.0;
    assert!(mean.abs() < 1e-9);
    let extreme = e.points.iter().map(|p| p.0).fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
    assert!(extreme > 0.0);
}

#[test]
fn mds_recovers_a_planar_configuration_up_to_rotation() {
    let points = [(0.0, 0.0), (3.0, 0.0), (3.0, 2.0), (-1.0, 4.0), (1.0, 1.0), (0.5, -2.0)];
    let d = distances_of(&points);
    let e = classical_mds(&d);
    let recovered = distances_of(&e.points);
    for i in 0..points.len() {
        for j in 0..points.len() {
            assert!((recovered[i][j] - d[i][j]).abs() < 1e-9, "({i}, {j})");
        }
    }
    assert!((e.explained[0] + e.explained[1] - 1.0).abs() < 1e-9);
    // Deterministic: the same distances in give the same coordinates out, bit for bit.
    let again = classical_mds(&d);
    assert_eq!(format!("{:?}", again.points), format!("{:?}", e.points));
    // Two points, and one: no NaN.
    let two = classical_mds(&[vec![0.0, 0.5], vec![0.5, 0.0]]);
    assert!((distance(two.points[0], two.points[1]) - 0.5).abs() < 1e-12);
    let one = classical_mds(&[vec![0.0]]);
    assert_eq!(one.points, vec![(0.0, 0.0)]);
    // All at one place.
    let same = classical_mds(&[vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]]);
    assert!(same.points.iter().all(|p| p.0 == 0.0 && p.1 == 0.0));
}

#[test]
fn text_from_data_is_cleaned_and_escaped_in_the_svg() {
    assert_eq!(clean("a\u{0}b\n\tc  d ", 40), "a b c d");
    assert_eq!(clean("abcdefghij", 6), "abcde…");
    assert_eq!(clean("", 6), "");
    let mut scene = Scene::new(200.0, 100.0);
    scene.text(Text::new(10.0, 10.0, clean("<script>&\"x'</script>\u{1}", 60), 12.0));
    let svg = scene.svg().unwrap();
    assert!(svg.contains("&lt;script&gt;&amp;&quot;x&apos;&lt;/script&gt;"), "{svg}");
    assert!(!svg.contains("<script"), "{svg}");
    assert!(!svg.contains('\u{1}'));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
}

use crate::report::data::{Bounded, CorrectedRow, DivergenceRow, PairRow, UsiRow};

/// A deterministic stand-in for the divergence tables: `n` sources (the first the reference), `k` clusters,
/// three facets, with a long name, markup in a name, a facet where one source has no values (NaN) and an
/// infinite interval bound.
pub(super) fn synthetic(n: usize, k: usize) -> ReportData {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let names: Vec<String> = (0..n)
        .map(|i| match i {
            0 => "human".to_owned(),
            1 => "a-very-long-simulator-name-with-model-version-2025-11-20-and-more".to_owned(),
            2 => "sim <b>&amp; \"x\"</b>".to_owned(),
            _ => format!("simulator-{i:02}"),
        })
        .collect();
    let facets = ["all", "style", "lexical"];
    let mut data = ReportData::default();
    let mut histograms: Vec<Vec<Vec<f64>>> = Vec::new();
    for _ in facets {
        let per_source: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let raw: Vec<f64> = (0..k).map(|_| random().powi(3)).collect();
                let total: f64 = raw.iter().sum();
                raw.iter().map(|v| v / total).collect()
            })
            .collect();
        histograms.push(per_source);
    }
    let js = |p: &[f64], q: &[f64]| -> f64 {
        let term = |a: f64, m: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
        p.iter().zip(q).map(|(&a, &b)| 0.5 * term(a, (a + b) / 2.0) + 0.5 * term(b, (a + b) / 2.0)).sum()
    };
    let bounded = |value: f64| Bounded { value, lo: value * 0.9, hi: value * 1.1 };
    for (f, facet) in facets.iter().enumerate() {
        let missing = |s: usize| f == 2 && s == 3;
        for s in 1..n {
            let value = if missing(s) { f64::NAN } else { js(&histograms[f][0], &histograms[f][s]) };
            let mut row_js = bounded(value);
            if s == 4 {
                row_js.hi = f64::INFINITY;
            }
            data.divergence.push(DivergenceRow {
                facet: (*facet).to_owned(),
                reference: names[0].clone(),
                source: names[s].clone(),
                kind: "simulator".to_owned(),
                n_reference: 500,
                n_source: 200,
                k: k as u64,
                smoothing: "counts:0.5".to_owned(),
                unit: "nats".to_owned(),
                kl_forward: bounded(1.0),
                kl_backward: bounded(1.0),
                js: row_js,
                js_normalized: bounded(value / std::f64::consts::LN_2),
                tv: bounded(0.5),
                mauve: bounded(0.5),
                mauve_star: bounded(0.5),
                frontier_integral: bounded(0.5),
                human_ceiling_js: Bounded { value: 0.02, lo: 0.015, hi: 0.03 },
                corrected: CorrectedRow {
                    kl_forward: bounded(0.9),
                    kl_backward: bounded(0.9),
                    js: row_js,
                    tv: bounded(0.45),
                    mauve: bounded(0.55),
                    mauve_star: bounded(0.55),
                    frontier_integral: bounded(0.45),
                },
                human_ceiling_js_corrected: Bounded { value: 0.001, lo: -0.004, hi: 0.006 },
                js_above_ceiling: row_js,
                p_value: 0.001,
                warning: None,
            });
        }
        for a in 0..n {
            for b in 0..n {
                let value = if missing(a) || missing(b) { f64::NAN } else { js(&histograms[f][a], &histograms[f][b]) };
                data.pairwise.push(PairRow {
                    facet: (*facet).to_owned(),
                    source_a: names[a].clone(),
                    source_b: names[b].clone(),
                    js: value,
                    kl_a_b: 1.0,
                    kl_b_a: 1.0,
                });
            }
        }
        for s in 0..n {
            for (c, &value) in histograms[f][s].iter().enumerate() {
                let share = if missing(s) { f64::NAN } else { value };
                data.clusters.push(ClusterRow {
                    facet: (*facet).to_owned(),
                    k: k as u64,
                    cluster: c as u64,
                    source: names[s].clone(),
                    kind: if s == 0 { "human" } else { "simulator" }.to_owned(),
                    count: (share * 200.0).round() as u64,
                    share,
                    reference_share: histograms[f][0][c],
                    label: None,
                    js_term: 0.0,
                    extreme_features: Vec::new(),
                    extreme_z: Vec::new(),
                    top_words: Vec::new(),
                    example_turns: Vec::new(),
                });
            }
        }
    }
    for s in 1..n {
        let usi = 40.0 + 30.0 * random();
        data.usi.push(UsiRow {
            source: names[s].clone(),
            reference: names[0].clone(),
            n_reference: 500,
            n_source: 200,
            d: [50.0 + 40.0 * random(), 90.0 + 5.0 * random(), 60.0 * random(), 40.0 * random()],
            eval: if s % 3 == 0 { f64::NAN } else { 80.0 + 10.0 * random() },
            ece: 0.2 * random(),
            usi: Bounded { value: usi, lo: usi - 3.0, hi: if s == 5 { f64::INFINITY } else { usi + 4.0 } },
            usi_terms: 6,
            human_ceiling_usi: 92.0,
            note: String::new(),
        });
    }
    data
}

fn svg_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap()
}

#[test]
fn thirty_sources_with_long_names_nan_and_infinity_draw_every_figure_deterministically() {
    let data = synthetic(30, 40);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let (figures, _) = write_figures(&data, dir).unwrap();
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["histograms_all", "pairwise_js", "js_by_facet", "usi_components", "mds_map"]);
    for figure in &figures {
        let svg = svg_of(dir, &figure.name);
        assert_eq!(svg, figure.svg);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{}", figure.name);
        assert!(!svg.contains("NaN") && !svg.contains("inf\""), "{}: a NaN coordinate", figure.name);
        assert!(!svg.contains("<b>"), "{}: unescaped markup", figure.name);
        assert!(!figure.caption.is_empty());
    }
    // The map places every source; the heatmap and the panels the closest 20 of the 30 (data::SHOWN_SOURCES).
    assert!(svg_of(dir, "mds_map").contains("sim &lt;b&gt;&amp;amp; &quot;x&quot;&lt;/b&gt;"));
    assert!(svg_of(dir, "mds_map").contains("a-very-long-simulator-name-…"));
    let heatmap = figures.iter().find(|f| f.name == "pairwise_js").unwrap();
    assert!(heatmap.caption.contains("the other 10 are in pairwise.parquet"), "{}", heatmap.caption);
    let temp2 = tempfile::tempdir().unwrap();
    let (again, _) = write_figures(&data, temp2.path()).unwrap();
    for (a, b) in figures.iter().zip(&again) {
        assert_eq!(a.svg, b.svg, "{}: not deterministic", a.name);
    }
}

#[test]
fn a_single_source_or_no_usi_draws_what_it_can_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let (figures, _) = write_figures(&ReportData::default(), dir.path()).unwrap();
    assert!(figures.is_empty());
    let mut data = synthetic(2, 3);
    data.usi.clear();
    for stale in ["usi_components.svg", "histograms_old-facet.png", "notes.txt"] {
        std::fs::write(dir.path().join(stale), "stale").unwrap();
    }
    let (figures, _) = write_figures(&data, dir.path()).unwrap();
    assert!(figures.iter().all(|f| f.name != "usi_components"));
    assert!(!dir.path().join("usi_components.svg").exists(), "a stale figure is removed");
    assert!(!dir.path().join("histograms_old-facet.png").exists(), "another facet's histograms are removed");
    assert!(dir.path().join("notes.txt").exists(), "what is not a figure stays");
    assert_eq!(figures.len(), 4);
    // Every value missing on the headline facet.
    for row in &mut data.pairwise {
        row.js = f64::NAN;
    }
    for row in &mut data.divergence {
        row.js = Bounded { value: f64::NAN, lo: f64::NAN, hi: f64::NAN };
    }
    for row in &mut data.clusters {
        row.share = f64::NAN;
        row.reference_share = f64::NAN;
    }
    let (figures, warnings) = write_figures(&data, dir.path()).unwrap();
    assert!(figures.iter().all(|f| !f.svg.contains("NaN")));
    assert!(warnings.iter().any(|w| w.contains("mds_map: left out")), "{warnings:?}");
}

#[test]
fn numbers_ticks_and_colours() {
    assert_eq!(nice_ceil(0.693), 1.0);
    assert_eq!(nice_ceil(0.42), 0.5);
    assert_eq!(nice_ceil(0.21), 0.25);
    assert_eq!(nice_ceil(f64::NAN), 1.0);
    assert_eq!(nice_ceil(0.0), 1.0);
    assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
    assert!(ticks_between(0.0, f64::INFINITY, 0.1).is_empty());
    assert_eq!(fmt(f64::NAN, 2), "n/a");
    assert_eq!(fmt(f64::INFINITY, 2), "inf");
    assert_eq!(ramp(0.0), Rgb(255, 255, 255));
    assert_eq!(ramp(1.0), Rgb(85, 20, 80));
    assert_eq!(ramp(f64::NAN), Rgb(255, 255, 255));
    assert_eq!(file_safe("a b/c"), "a_b_c");
}
