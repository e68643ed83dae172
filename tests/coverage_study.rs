//! A small, fixed-seed version of the simulation study of `benches/coverage_study.rs` (docs/method.md): known P and
//! Q, multinomial samples, and simgap's estimator (jackknife-corrected, calibrated bias-aware interval) must keep its
//! goal in cells where each side has at least 4 conversations per cluster: coverage of the nominal 95% interval >=
//! 93% for every measure, and bias under a quarter of the plug-in's where the plug-in's bias is material for JS,
//! MAUVE and the frontier integral; the permutation test must reject about 5% of the time when P = Q; the USI
//! interval for the truth must cover where the means agree. Fails when a change to the estimators breaks that.

use simgap::divergence::coverage::{
    Cell, Estimator, Outcome, Shape, StudySettings, UsiCell, run_cell, usi_interval_coverage,
};
use simgap::divergence::measures::Divergences;

const REPETITIONS: usize = 300;

fn run(cell: Cell, permutations: usize) -> Outcome {
    // A seed the full study does not use, so this is a fresh sample of the same claim.
    let settings = StudySettings { repetitions: REPETITIONS, bootstrap: 20, calibration: 100, permutations, seed: 7 };
    run_cell(cell, &settings)
}

fn measure(name: &str) -> usize {
    Divergences::NAMES.iter().position(|n| *n == name).expect("a measure")
}

#[test]
fn the_corrected_estimates_keep_their_coverage_and_lose_the_plug_in_bias() {
    let cells = [
        Cell { k: 20, n_reference: 200, n_source: 200, shape: Shape::Even, target_js: 0.0 },
        Cell { k: 50, n_reference: 1000, n_source: 200, shape: Shape::Heavy, target_js: 0.1 },
        Cell { k: 50, n_reference: 200, n_source: 200, shape: Shape::Uneven, target_js: 0.02 },
        Cell { k: 20, n_reference: 5000, n_source: 5000, shape: Shape::Uneven, target_js: 0.3 },
    ];
    let ours = Estimator::Calibrated.index();
    let mut failures = Vec::new();
    for cell in cells {
        assert!(cell.per_cluster() >= 4.0);
        let outcome = run(cell, 0);
        for name in Divergences::NAMES {
            let m = measure(name);
            let (coverage, bias, plug_in_bias) = (outcome.coverage[ours][m], outcome.bias[ours][m], outcome.bias[0][m]);
            println!(
                "{cell:?} {name}: coverage {coverage:.3} (plug-in {:.3}), bias {bias:+.5} (plug-in {plug_in_bias:+.5})",
                outcome.coverage[0][m]
            );
            if coverage < 0.93 {
                failures.push(format!("{cell:?} {name}: coverage {coverage:.3} < 0.93"));
            }
            // Where the plug-in's bias is material (a quarter of its RMSE), the corrected one is under a quarter of it:
            // the claim docs/method.md makes for JS, MAUVE and the frontier integral (not for KL, MAUVE* and TV).
            let claimed = ["js", "mauve", "frontier_integral"].contains(&name);
            if claimed && plug_in_bias.abs() >= 0.25 * outcome.rmse[0][m] && bias.abs() >= plug_in_bias.abs() / 4.0 {
                failures.push(format!("{cell:?} {name}: bias {bias} not under a quarter of {plug_in_bias}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_permutation_test_rejects_about_five_percent_under_the_null() {
    let cell = Cell { k: 20, n_reference: 400, n_source: 200, shape: Shape::Uneven, target_js: 0.0 };
    let rate = run(cell, 200).rejection_rate.expect("a null cell has p-values");
    println!("share of p < 0.05 under P = Q: {rate:.3} ({REPETITIONS} repetitions)");
    // Binomial(300, 0.05) lies in [0.02, 0.085] with probability above 99%.
    assert!((0.02..=0.085).contains(&rate), "{rate}");
}

#[test]
fn the_usi_interval_for_the_truth_covers_where_the_bootstrap_spread_does_not() {
    // Equal feature means: the true USI is 100 and every estimate falls below it (Dice's kink).
    for spread in [0.0, 0.2] {
        let outcome = usi_interval_coverage(UsiCell { n_reference: 200, n_source: 200, spread }, 200, 100, 7);
        println!(
            "USI, means scaled by 1 +- {spread}: interval for the truth covers {:.3}, bootstrap spread {:.3}",
            outcome.coverage_for_truth, outcome.coverage
        );
        assert!(outcome.coverage_for_truth >= 0.93, "{outcome:?}");
    }
}
