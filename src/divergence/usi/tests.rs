//! The USI's unit tests: Dice, features, the comparison's terms, difficulty, batches and the bootstrap.

use super::*;
use crate::divergence::survey;

fn row<'a>(task: &'a str, run: i64, outcome: f64, features: [f64; USI_FEATURES]) -> UsiRow<'a> {
    UsiRow { task: Some(task), run: Some(run), outcome: Some(outcome), features, survey: None, fill_hash: 0 }
}

fn constant(value: f64) -> [f64; USI_FEATURES] {
    [value; USI_FEATURES]
}

#[test]
fn dice_by_hand() {
    assert_eq!(dice(0.0, 0.0), 1.0);
    assert_eq!(dice(0.2, 0.6), 2.0 * 0.2 / 0.8);
    assert_eq!(dice(-0.5, 0.5), 1.0, "magnitudes");
    assert_eq!(dice(0.0, 3.0), 0.0);
}

#[test]
fn dimensions_are_dice_of_means_not_means_of_dice() {
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    human.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
    human.add(&row("b", 1, 1.0, constant(0.6)), &mut tasks);
    sim.add(&row("a", 1, 1.0, constant(0.4)), &mut tasks);
    sim.add(&row("b", 1, 1.0, constant(0.4)), &mut tasks);
    sim.add(&row("c", 1, 1.0, constant(9.0)), &mut tasks); // not a shared task: left out
    let difficulty = vec![None; tasks.names.len()];
    let n = tasks.names.len();
    let score = Comparison::new(&human, &sim, &difficulty, n, TaskScope::Shared).point(n);
    // Means 0.4 and 0.4: Dice 1, although per-task Dice would be below 1.
    assert_eq!(score.d, [100.0; 4]);
    assert_eq!(score.shared_tasks, Some(2));
    assert_eq!((score.eval, score.ece, score.terms), (None, None, 4));
}

#[test]
fn several_runs_average_their_rows() {
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    human.add(&row("a", 1, 1.0, constant(0.5)), &mut tasks);
    // Run 1 has two conversations at 0.2, run 2 one at 0.8: rows 0.2 and 0.8, mean 0.5 (not 0.4).
    sim.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
    sim.add(&UsiRow { task: Some("a"), ..row("a", 1, 1.0, constant(0.2)) }, &mut tasks);
    sim.add(&row("a", 2, 1.0, constant(0.8)), &mut tasks);
    let difficulty = vec![None; 1];
    let score = Comparison::new(&human, &sim, &difficulty, 1, TaskScope::Shared).point(1);
    assert!((score.features[0].source_mean - 0.5).abs() < 1e-15);
    assert_eq!(score.d[0], 100.0);
}

#[test]
fn ece_by_hand() {
    // Two tasks, difficulty 0.1 (bin 0) and 0.7 (bin 3). Human succeeds on both, the simulator on the second.
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    for (task, h, s) in [("easy", 1.0, 0.0), ("hard", 1.0, 1.0)] {
        human.add(&row(task, 1, h, constant(0.1)), &mut tasks);
        sim.add(&row(task, 1, s, constant(0.1)), &mut tasks);
    }
    let difficulty = vec![Some(0.1), Some(0.7)];
    let score = Comparison::new(&human, &sim, &difficulty, 2, TaskScope::Shared).point(2);
    // Bin 0: |0 - 1| with weight 1/2; bin 3: |1 - 1|. ECE = 0.5.
    assert_eq!(score.ece, Some(0.5));
    assert_eq!(score.terms, 5);
    assert!((score.usi - (400.0 + 50.0) / 5.0).abs() < 1e-12);
    assert_eq!(bin_of(0.2), 1, "a cut-off opens the bin above it");
    assert_eq!(bin_of(0.8), 4);
    assert_eq!(bin_of(1.0), 4);
}

#[test]
fn difficulty_needs_ten_pooled_runs() {
    let mut tasks = Tasks::default();
    let mut sim = Side::new("sim", true);
    for i in 0..10 {
        sim.add(&row("a", i, if i < 3 { 1.0 } else { 0.0 }, constant(0.0)), &mut tasks);
    }
    for i in 0..9 {
        sim.add(&row("b", i, 1.0, constant(0.0)), &mut tasks);
    }
    assert_eq!(difficulty(&[&sim], 2), vec![Some(0.3), None]);
}

#[test]
fn eval_scales_answers_and_fills_skipped_ones() {
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    let mut answers = [0u8; 8];
    answers[6] = 5; // overall_score 5 -> 1.0
    answers[0] = 4; // task_success completed -> 0.75
    human.add(&UsiRow { survey: Some(answers), ..row("a", 1, 1.0, constant(0.1)) }, &mut tasks);
    let mut sim_answers = [0u8; 8];
    sim_answers[6] = 3; // overall 3 -> 0.5; task_success skipped -> a random valid answer
    sim.add(&UsiRow { survey: Some(sim_answers), fill_hash: 11, ..row("a", 1, 1.0, constant(0.1)) }, &mut tasks);
    let difficulty = vec![None];
    let score = Comparison::new(&human, &sim, &difficulty, 1, TaskScope::Shared).point(1);
    let filled = survey::scaled(0, survey::random_answer(0, crate::hashing::mix64(11 ^ 1)));
    let expected = 100.0 * (1.0 - ((1.0f64 - 0.5).abs() + (0.75f64 - filled).abs()) / 2.0);
    assert!((score.eval.unwrap() - expected).abs() < 1e-12, "{:?} vs {expected}", score.eval);
    assert_eq!(score.terms, 5);
}

#[test]
fn the_ceiling_is_usi_between_batches() {
    // Three annotator batches (runs) on two tasks; batch 3 differs on one feature.
    let mut tasks = Tasks::default();
    let mut humans = Side::new("human", false);
    for run in 1..=3 {
        for task in ["a", "b"] {
            let mut features = constant(0.5);
            if run == 3 {
                features[0] = 1.5; // politeness_rate: Dice(0.5, 1.5) = 0.5 against batches 1 and 2
            }
            humans.add(&row(task, run, 1.0, features), &mut tasks);
        }
    }
    let batches = humans.batches();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].conversations, 2);
    let (mean, std) = batch_ceiling(&batches, &[None, None], 2, TaskScope::Shared);
    // Pair (1, 2): 100 on every term. (1, 3) and (2, 3): D1 = 100 x (6 x 1 + 0.5) / 7, the rest 100.
    let d1 = 100.0 * 6.5 / 7.0;
    let partial = (d1 + 300.0) / 4.0;
    let expected = (100.0 + 2.0 * partial) / 3.0;
    assert!((mean - expected).abs() < 1e-12, "{mean} vs {expected}");
    let expected_std = (((100.0 - expected).powi(2) + 2.0 * (partial - expected).powi(2)) / 3.0).sqrt();
    assert!((std - expected_std).abs() < 1e-12);
    assert!(Side::new("one", false).batches().is_empty());
}

#[test]
fn scope_all_takes_every_conversation_for_the_dimensions_and_shared_tasks_for_ece() {
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    human.add(&row("a", 1, 1.0, constant(0.2)), &mut tasks);
    human.add(&row("b", 1, 0.0, constant(0.6)), &mut tasks);
    sim.add(&row("a", 1, 0.0, constant(0.4)), &mut tasks);
    sim.add(&row("c", 1, 1.0, constant(0.8)), &mut tasks); // not a shared task: in D1-D4, not in ECE
    let difficulty = vec![Some(0.5), Some(0.5), Some(0.5)];
    let n = tasks.names.len();
    let shared = Comparison::new(&human, &sim, &difficulty, n, TaskScope::Shared).point(n);
    assert!((shared.features[0].reference_mean - 0.2).abs() < 1e-15, "task a alone");
    let all = Comparison::new(&human, &sim, &difficulty, n, TaskScope::All);
    let score = all.point(n);
    assert!((score.features[0].reference_mean - 0.4).abs() < 1e-15);
    assert!((score.features[0].source_mean - 0.6).abs() < 1e-15);
    let expected_d = 100.0 * dice(0.4, 0.6);
    assert!(score.d.iter().all(|d| (d - expected_d).abs() < 1e-12), "{:?}", score.d);
    // ECE over task a only: the human succeeded, the simulator did not.
    assert_eq!(score.ece, Some(1.0));
    assert_eq!(score.ece, shared.ece);
    assert_eq!(score.shared_tasks, Some(1));
    let replicates: Vec<f64> = (0..50).map(|r| all.replicate(7, r, n).usi).collect();
    assert!(replicates.iter().all(|u| (0.0..=100.0).contains(u)));
    assert!(replicates.iter().any(|&u| u != replicates[0]), "units are resampled");
    assert_eq!(replicates[5], all.replicate(7, 5, n).usi, "seeded");
}

#[test]
fn without_task_ids_every_conversation_is_compared() {
    let mut tasks = Tasks::default();
    let (mut human, mut sim) = (Side::new("human", false), Side::new("sim", true));
    let untasked =
        |v: f64| UsiRow { task: None, run: None, outcome: None, features: constant(v), survey: None, fill_hash: 0 };
    human.add(&untasked(0.3), &mut tasks);
    human.add(&untasked(0.5), &mut tasks);
    sim.add(&untasked(0.4), &mut tasks);
    let comparison = Comparison::new(&human, &sim, &[], 0, TaskScope::Shared);
    assert!(comparison.shared_tasks.is_none());
    let score = comparison.point(0);
    assert_eq!(score.d, [100.0; 4]);
    let replicates: Vec<f64> = (0..50).map(|r| comparison.replicate(1, r, 0).usi).collect();
    assert!(replicates.iter().all(|u| (0.0..=100.0).contains(u)));
    assert_eq!(replicates[3], comparison.replicate(1, 3, 0).usi, "seeded");
}
