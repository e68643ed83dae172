//! The simulation study of simgap's divergence estimators (docs/method.md): for every cell of the grid (K 20, 50,
//! 500; sizes 200 to 20,000 per side, equal and unequal; true JS 0 to 0.3 nats; three shapes of P), the coverage of
//! the nominal 95% interval, the bias and the RMSE of three estimators for each of the seven measures, and the share
//! of permutation p-values below 0.05 when P = Q.
//!
//! Usage: cargo run --release --example coverage_study -- OUT.csv [REPETITIONS [BOOTSTRAP [PERMUTATIONS [CELLS]]]]
//! Defaults: 400 repetitions (200 at K = 500), 200 bootstrap replicates (also the calibration's simulated draws),
//! 200 permutations, seed 2026, every cell; CELLS keeps the cells whose description (as the tables write it,
//! e.g. "K 500 n 20000/2000") contains it, and skips the USI study (about 35 s).
//! Writes OUT.csv (one row per cell, measure and estimator) and prints the JS table and the cells that miss the goal
//! (coverage >= 93% where n / K >= 4 on each side) as Markdown on stdout; progress on stderr.
//! Cost: about 15 minutes on 2 cores with the defaults, most of it the K = 500 cells (MAUVE's jackknife).

use std::fmt::Write as _;
use std::io::Write as _;

use simgap::divergence::coverage::{
    Cell, Estimator, Outcome, StudySettings, UsiCell, full_grid, run_cell, usi_interval_coverage,
};
use simgap::divergence::measures::Divergences;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out_path) = args.first() else {
        eprintln!("usage: coverage_study OUT.csv [REPETITIONS [BOOTSTRAP [PERMUTATIONS [CELLS]]]]");
        std::process::exit(2);
    };
    let number = |i: usize, default: usize| args.get(i).map_or(default, |a| a.parse().expect("a number"));
    let repetitions = number(1, 400);
    let bootstrap = number(2, 200);
    let settings =
        StudySettings { repetitions, bootstrap, calibration: bootstrap, permutations: number(3, 200), seed: 2026 };
    let filter = args.get(4).cloned().unwrap_or_default();
    let cells: Vec<Cell> = full_grid().into_iter().filter(|c| describe(c, 0.0).contains(&filter)).collect();
    let start = std::time::Instant::now();
    let mut outcomes = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let cell_settings =
            StudySettings { repetitions: if cell.k >= 500 { repetitions / 2 } else { repetitions }, ..settings };
        outcomes.push(run_cell(*cell, &cell_settings));
        eprintln!("cell {}/{} done ({:.0} s)", i + 1, cells.len(), start.elapsed().as_secs_f64());
    }
    let mut csv = String::from(
        "k,n_reference,n_source,shape,target_js,measure,truth,estimator,repetitions,coverage,bias,rmse,width,\
         rejection_rate\n",
    );
    for o in &outcomes {
        let repetitions = if o.cell.k >= 500 { repetitions / 2 } else { repetitions };
        for (m, measure) in Divergences::NAMES.iter().enumerate() {
            for (e, estimator) in Estimator::ALL.iter().enumerate() {
                writeln!(
                    csv,
                    "{},{},{},{},{},{measure},{},{},{repetitions},{},{},{},{},{}",
                    o.cell.k,
                    o.cell.n_reference,
                    o.cell.n_source,
                    o.cell.shape.name(),
                    o.cell.target_js,
                    o.truth[m],
                    estimator.name(),
                    o.coverage[e][m],
                    o.bias[e][m],
                    o.rmse[e][m],
                    o.width[e][m],
                    o.rejection_rate.map_or(String::new(), |r| r.to_string())
                )
                .expect("writing to a string");
            }
        }
    }
    std::fs::write(out_path, csv).unwrap_or_else(|e| panic!("{out_path}: {e}"));
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", markdown(&outcomes)).expect("stdout");
    if filter.is_empty() {
        writeln!(stdout, "{}", usi_study(settings.seed)).expect("stdout");
    }
    eprintln!("wrote {out_path} ({} cells, {:.0} s)", outcomes.len(), start.elapsed().as_secs_f64());
}

/// The JS table (every cell) and, per measure and estimator, the worst coverage where n / K >= 4 and the cells below
/// 93% there.
fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let percent = |x: f64| format!("{:.0}%", 100.0 * x);
    out.push_str(
        "| K | n ref | n sim | shape | true JS | plug-in bias | corrected bias | plug-in RMSE | corrected RMSE | \
         coverage now | bootstrap basic | jackknife 1.96 SE | jackknife 2.576 SE | calibrated (simgap) | \
         p < 0.05 under P = Q |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let js = 2;
    let ours = Estimator::Calibrated.index();
    for o in outcomes {
        let c = &o.cell;
        writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:+.4} | {:+.4} | {:.4} | {:.4} | {} | {} | {} | {} | {} | {} |",
            c.k,
            c.n_reference,
            c.n_source,
            c.shape.name(),
            c.target_js,
            o.bias[0][js],
            o.bias[ours][js],
            o.rmse[0][js],
            o.rmse[ours][js],
            percent(o.coverage[0][js]),
            percent(o.coverage[1][js]),
            percent(o.coverage[2][js]),
            percent(o.coverage[3][js]),
            percent(o.coverage[4][js]),
            o.rejection_rate.map_or(String::new(), percent)
        )
        .expect("writing to a string");
    }
    out.push_str("\nWorst coverage where n / K >= 4 on each side, and the cells below 93% there:\n\n");
    out.push_str(
        "| measure | estimator | worst coverage | mean coverage | bias / plug-in bias (worst) | cells below 93% |\n\
         |---|---|---|---|---|---|\n",
    );
    let eligible: Vec<&Outcome> = outcomes.iter().filter(|o| o.cell.per_cluster() >= 4.0).collect();
    for (m, measure) in Divergences::NAMES.iter().enumerate() {
        for (e, estimator) in Estimator::ALL.iter().enumerate() {
            let worst = eligible.iter().map(|o| o.coverage[e][m]).fold(f64::INFINITY, f64::min);
            let mean = eligible.iter().map(|o| o.coverage[e][m]).sum::<f64>() / eligible.len() as f64;
            // Where the plug-in's bias matters: at least a quarter of its RMSE.
            let ratio = eligible
                .iter()
                .filter(|o| o.bias[0][m].abs() >= 0.25 * o.rmse[0][m])
                .map(|o| (o.bias[e][m] / o.bias[0][m]).abs())
                .fold(0.0, f64::max);
            let misses: Vec<String> = eligible
                .iter()
                .filter(|o| o.coverage[e][m] < 0.93)
                .map(|o| describe(&o.cell, o.coverage[e][m]))
                .collect();
            let misses = if misses.is_empty() {
                "none".to_owned()
            } else if *estimator == Estimator::Calibrated || misses.len() <= 3 {
                misses.join("; ")
            } else {
                format!("{} of {} cells", misses.len(), eligible.len())
            };
            writeln!(
                out,
                "| {measure} | {} | {} | {} | {ratio:.2} | {misses} |",
                estimator.name(),
                percent(worst),
                percent(mean)
            )
            .expect("writing to a string");
        }
    }
    out
}

/// The USI interval study (D1-D4, bootstrap percentile interval) as a Markdown table.
fn usi_study(seed: u64) -> String {
    let mut out = String::from(
        "USI (D1-D4) bootstrap percentile interval, 300 repetitions, 200 replicates:\n\n\
         | n ref | n sim | feature means | true USI | bias | coverage of usi_lo..usi_hi | coverage of \
         usi_interval_lo..usi_interval_hi |\n|---|---|---|---|---|---|---|\n",
    );
    for (n_reference, n_source) in [(50, 50), (200, 200), (1000, 200), (1000, 1000)] {
        for spread in [0.0, 0.2, 0.5] {
            let cell = UsiCell { n_reference, n_source, spread };
            let o = usi_interval_coverage(cell, 300, 200, seed);
            let means = if spread == 0.0 { "equal".to_owned() } else { format!("scaled by 1 +- {spread}") };
            writeln!(
                out,
                "| {n_reference} | {n_source} | {means} | {:.2} | {:+.2} | {:.0}% | {:.0}% |",
                o.truth,
                o.bias,
                100.0 * o.coverage,
                100.0 * o.coverage_for_truth
            )
            .expect("writing to a string");
        }
    }
    out
}

fn describe(cell: &Cell, coverage: f64) -> String {
    format!(
        "K {} n {}/{} {} JS {} ({:.0}%)",
        cell.k,
        cell.n_reference,
        cell.n_source,
        cell.shape.name(),
        cell.target_js,
        100.0 * coverage
    )
}
