//! End to end for `simgap divergence` (and the divergence step of `simgap run`): the real binary on real and demo
//! transcripts in a temp folder. The shi2019 tables for all six simulators on every facet, with every simulator
//! beyond the human split-half ceiling; the same bytes on 1 and 2 threads; USI with Eval and ECE; bits; the
//! per-pair protocol; clear errors for bad settings.

mod common;

use std::path::Path;

use common::{Table, demo_with, simgap, stderr};

const SHI2019_SIMULATORS: [&str; 6] =
    ["rule-generation", "rule-sample", "rule-template", "seq-generation", "seq-sample", "seq-template"];

fn run_ok(args: &[&str]) {
    let output = simgap(args);
    assert!(matches!(output.status.code(), Some(0) | Some(3)), "{args:?}: {}", stderr(&output));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn shi2019_every_simulator_is_beyond_the_human_ceiling_on_every_facet() {
    let Some(_) = common::shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shi");
    let pipeline = common::project_root().join("pipelines/shi2019.toml");
    run_ok(&["-q", "run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);

    let table = Table::read(&out.join("divergence.parquet"));
    let facets =
        ["usi", "style", "information", "cooperation", "repetition", "context", "termination", "lexical", "all"];
    assert_eq!(table.rows, facets.len() * SHI2019_SIMULATORS.len(), "one row per (facet, simulator)");
    let (sources, row_facets) = (table.text("source"), table.text("facet"));
    for simulator in SHI2019_SIMULATORS {
        for facet in facets {
            let row = (0..table.rows).find(|&i| sources[i] == simulator && row_facets[i] == facet);
            let i = row.unwrap_or_else(|| panic!("no row for {simulator} / {facet}"));
            let js = table.number("js")[i];
            let (ceiling, ceiling_hi) = (table.number("human_ceiling_js")[i], table.number("human_ceiling_js_hi")[i]);
            assert!(js > ceiling, "{simulator} / {facet}: JS {js} is not beyond the human ceiling {ceiling}");
            if ["usi", "all"].contains(&facet) {
                // On the headline facets, beyond the ceiling's 97.5th percentile too.
                assert!(js > ceiling_hi, "{simulator} / {facet}: JS {js}, ceiling's 97.5% {ceiling_hi}");
            }
            assert!(table.number("p_value")[i] < 0.05, "{simulator} / {facet}");
            assert_eq!(table.number("n_reference")[i], 1310.0);
            assert_eq!(table.number("n_source")[i], 200.0);
            for measure in ["kl_forward", "kl_backward", "js", "tv", "mauve", "mauve_star", "frontier_integral"] {
                let (value, lo, hi) = (
                    table.number(measure)[i],
                    table.number(&format!("{measure}_lo"))[i],
                    table.number(&format!("{measure}_hi"))[i],
                );
                assert!(lo <= value && value <= hi, "{simulator} / {facet} / {measure}: {value} not in [{lo}, {hi}]");
            }
            // k = "auto": a tenth of the smallest source's 200 conversations, so no sample-size warning.
            assert_eq!(table.number("k")[i], 20.0);
            let warning = table.optional_text("warning")[i].as_deref().unwrap_or("");
            assert!(!warning.contains("per cluster"), "{simulator} / {facet}: {warning}");
        }
    }
    assert!(table.text("smoothing").iter().all(|s| s == "counts:0.5"));

    // Pairwise: every ordered pair of the 7 sources per facet; JS symmetric, 0 on the diagonal.
    let pairwise = Table::read(&out.join("pairwise.parquet"));
    assert_eq!(pairwise.rows, facets.len() * 49);
    let (a, b, js) = (pairwise.text("source_a"), pairwise.text("source_b"), pairwise.number("js"));
    for i in 0..pairwise.rows {
        if a[i] == b[i] {
            assert_eq!(js[i], 0.0);
        }
        let mirror = (0..pairwise.rows)
            .find(|&j| a[j] == b[i] && b[j] == a[i] && pairwise.text("facet")[j] == pairwise.text("facet")[i])
            .unwrap();
        assert_eq!(js[i], js[mirror]);
    }

    // USI: one row per simulator, the four D terms only (no surveys, outcomes or task ids in shi2019).
    let usi = Table::read(&out.join("usi.parquet"));
    assert_eq!(usi.rows, 6);
    for i in 0..usi.rows {
        let score = usi.number("usi")[i];
        assert!(score > 0.0 && score < 100.0);
        assert_eq!(usi.number("usi_terms")[i], 4.0);
        assert!(usi.number("eval")[i].is_nan() && usi.number("ece")[i].is_nan());
        assert!(usi.number("usi_lo")[i] <= score && score <= usi.number("usi_hi")[i]);
        let (lo, hi) = (usi.number("usi_interval_lo")[i], usi.number("usi_interval_hi")[i]);
        assert!(lo <= score && score <= hi && hi <= 100.0, "{lo} {score} {hi}");
    }
    let features = Table::read(&out.join("usi_features.parquet"));
    assert_eq!(features.rows, 6 * 19);

    // Mixtures: a mixture never does worse than its best single simulator.
    let mixtures = Table::read(&out.join("mixtures.parquet"));
    let (kind, mixture_facets, mixture_js) = (mixtures.text("mixture"), mixtures.text("facet"), mixtures.number("js"));
    for facet in facets {
        let of = |name: &str| {
            (0..mixtures.rows).find(|&i| mixture_facets[i] == facet && kind[i] == name).map(|i| mixture_js[i]).unwrap()
        };
        assert!(of("best pair") <= of("best single") + 1e-12 && of("best mixture") <= of("best pair") + 1e-9);
    }

    // Clusters: each simulator's labels across the clusters of a facet, words and features listed.
    let clusters = Table::read(&out.join("clusters.parquet"));
    let labels = clusters.optional_text("label");
    assert!(labels.iter().flatten().any(|l| l == "missed"));
    assert!(labels.iter().flatten().any(|l| l == "hallucinated"));
    assert!(labels.iter().flatten().all(|l| ["missed", "hallucinated", "captured"].contains(&l.as_str())));
}

fn table_bytes(out: &Path) -> Vec<(String, Vec<u8>)> {
    ["divergence", "pairwise", "mixtures", "clusters", "usi", "usi_features"]
        .iter()
        .map(|name| (name.to_string(), std::fs::read(out.join(format!("{name}.parquet"))).unwrap()))
        .collect()
}

#[test]
fn same_bytes_on_one_and_two_threads_and_usi_uses_surveys() {
    let (dir, pipeline) = demo_with("[divergence]\nbootstrap = 200\npermutations = 200\nusi_bootstrap = 50\n");
    let pipeline = pipeline.to_str().unwrap();
    run_ok(&["-q", "--threads", "1", "run", pipeline]);
    let out = dir.path().join("out");
    let first = table_bytes(&out);
    run_ok(&["-q", "--threads", "2", "divergence", pipeline]);
    assert_eq!(first, table_bytes(&out), "tables differ between 1 and 2 threads");

    // The demo has surveys (overall_score) and task ids: Eval is a term; too few runs per task for ECE.
    let usi = Table::read(&out.join("usi.parquet"));
    assert_eq!(usi.rows, 3);
    for i in 0..3 {
        assert!(usi.number("eval")[i] > 0.0 && usi.number("eval")[i] <= 100.0);
        assert_eq!(usi.number("usi_terms")[i], 5.0);
        assert_eq!(usi.number("shared_tasks")[i], 280.0);
    }
    // The simulator built to resemble humans is the closest on the USI facet.
    let divergence = Table::read(&out.join("divergence.parquet"));
    let (sources, facets, js) = (divergence.text("source"), divergence.text("facet"), divergence.number("js"));
    let js_of = |s: &str| (0..divergence.rows).find(|&i| sources[i] == s && facets[i] == "usi").map(|i| js[i]).unwrap();
    assert!(js_of("sim-near-human") < js_of("sim-terse-impatient"));
    assert!(js_of("sim-near-human") < js_of("sim-polite-verbose"));
    // Timing: the simulators have no timestamps, so no value rather than a number.
    let timing = (0..divergence.rows).find(|&i| facets[i] == "timing").unwrap();
    assert!(js[timing].is_nan());
    assert!(divergence.optional_text("warning")[timing].as_deref().unwrap().contains("no conversation"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["stages"]["divergence"]["reference"], "human");
}

#[test]
fn a_frozen_difficulty_file_gives_ece_and_six_terms() {
    // Every demo task gets a difficulty: ECE then enters USI.
    let (dir, pipeline) = demo_with(
        "[divergence]\nbootstrap = 20\npermutations = 20\nusi_bootstrap = 20\nusi_difficulty = \"difficulty.json\"\n",
    );
    let tasks: serde_json::Map<String, serde_json::Value> = common::read_conversations(&{
        run_ok(&["-q", "ingest", pipeline.to_str().unwrap()]);
        dir.path().join("out/conversations.parquet")
    })
    .iter()
    .filter_map(|row| row.task_id.clone())
    .enumerate()
    .map(|(i, task)| (task, serde_json::json!((i % 10) as f64 / 10.0)))
    .collect();
    std::fs::write(dir.path().join("difficulty.json"), serde_json::to_string(&tasks).unwrap()).unwrap();
    run_ok(&["-q", "run", pipeline.to_str().unwrap()]);
    let usi = Table::read(&dir.path().join("out/usi.parquet"));
    for i in 0..usi.rows {
        let ece = usi.number("ece")[i];
        assert!((0.0..=1.0).contains(&ece), "{ece}");
        assert_eq!(usi.number("usi_terms")[i], 6.0);
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/usi_difficulty.json")).unwrap()).unwrap();
    assert_eq!(written.as_object().unwrap().len(), tasks.len(), "the difficulties used are written back");
}

#[test]
fn bits_divide_by_ln_2_and_any_source_may_be_the_reference() {
    let (dir, pipeline) = demo_with("[divergence]\nbootstrap = 20\npermutations = 20\nusi_bootstrap = 10\n");
    let pipeline = pipeline.to_str().unwrap();
    run_ok(&["-q", "run", pipeline]);
    let out = dir.path().join("out");
    let nats = Table::read(&out.join("divergence.parquet"));
    let text = std::fs::read_to_string(pipeline).unwrap();
    std::fs::write(pipeline, text.replace("bootstrap = 20\n", "bootstrap = 20\nlog_base = \"2\"\n")).unwrap();
    run_ok(&["-q", "divergence", pipeline]);
    let bits = Table::read(&out.join("divergence.parquet"));
    for i in 0..nats.rows {
        for measure in ["js", "kl_forward", "human_ceiling_js"] {
            let (n, b) = (nats.number(measure)[i], bits.number(measure)[i]);
            assert!(n.is_nan() || (b - n / std::f64::consts::LN_2).abs() < 1e-12, "{measure}");
        }
        assert_eq!(nats.number("mauve")[i].to_bits(), bits.number("mauve")[i].to_bits());
    }
    assert!(bits.text("unit").iter().all(|u| u == "bits"));

    let text = std::fs::read_to_string(pipeline).unwrap();
    std::fs::write(pipeline, text.replace("[divergence]\n", "[divergence]\nreference = \"sim-near-human\"\n")).unwrap();
    run_ok(&["-q", "divergence", pipeline]);
    let swapped = Table::read(&out.join("divergence.parquet"));
    assert!(swapped.text("reference").iter().all(|r| r == "sim-near-human"));
    assert!(swapped.text("source").contains(&"human".to_owned()));
}

#[test]
fn per_pair_protocol_fits_k_500_per_pair() {
    let (dir, pipeline) = demo_with(
        "[divergence]\ncodebook = \"per-pair\"\nfacets = [\"usi\"]\nbootstrap = 20\npermutations = 20\n\
         usi_bootstrap = 5\n",
    );
    run_ok(&["-q", "run", pipeline.to_str().unwrap()]);
    let table = Table::read(&dir.path().join("out/divergence.parquet"));
    assert_eq!(table.rows, 3);
    // 560 humans + 280 simulated: K = 500 as in the paper; `prob` smoothing is the protocol's default.
    assert!(table.number("k").iter().all(|&k| k == 500.0));
    assert!(table.text("smoothing").iter().all(|s| s == "prob"));
    assert!(table.number("js").iter().all(|&js| js > 0.0 && js <= std::f64::consts::LN_2));
}

#[test]
fn bad_settings_fail_with_exit_2_naming_the_problem() {
    let cases = [
        ("[divergence]\nreference = \"nobody\"\n", "reference \"nobody\""),
        ("[divergence]\nsmoothing = \"laplace\"\n", "smoothing"),
        ("[divergence]\nlog_base = \"10\"\n", "log_base"),
        ("[divergence]\nlabel_ratio = 0.5\n", "label_ratio"),
        ("[divergence]\nfacets = [\"tone\"]\n", "tone"),
        ("[divergence]\nbootstraps = 10\n", "bootstraps"),
    ];
    for (extra, expected) in cases {
        let (_dir, pipeline) = demo_with(extra);
        let output = simgap(&["-q", "run", pipeline.to_str().unwrap()]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{extra}: {message}");
        assert!(message.contains(expected), "{extra}: {message}");
    }
    let (_dir, pipeline) = demo_with("");
    let output = simgap(&["-q", "divergence", pipeline.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("assignments.parquet does not exist"), "{}", stderr(&output));
}
