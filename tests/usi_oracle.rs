//! The USI numbers against the USI authors' own scorer (`../shared/oracle/`): every data set ingested and scored by
//! the bundled pipelines, then all 20 per-conversation values of `usi_features.csv` (to 1e-9) and D1-D4 of every
//! comparison in `usi_dice.csv` (to 1e-6) compared with simgap's `features.parquet` and `usi.parquet`.
//! Each test prints its agreement table and fails on any difference, on an oracle conversation simgap lacks, and on a
//! simgap conversation the oracle lacks. Skips where `../shared` is absent, fails so under `CI=true`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{Table, project_root, shared_data, simgap, stderr};

/// The 20 values per conversation, in the order of `usi_features.csv`.
const VALUES: [&str; 20] = [
    "n_turns",
    "user_words_per_turn",
    "politeness_rate",
    "short_msg_rate",
    "formality_rate",
    "ack_only_rate",
    "verbosity_cv",
    "repeat_rate",
    "id_confuse_rate",
    "info_frontload",
    "id_density",
    "opening_words",
    "uncertainty_rate",
    "certainty_rate",
    "pushback_q_rate",
    "clarify_q_rate",
    "info_q_rate",
    "emotion_rate",
    "accusation_rate",
    "pivot_rate",
];
const FEATURE_TOLERANCE: f64 = 1e-9;
const DICE_TOLERANCE: f64 = 1e-6;

/// A conversation as simgap names it: the bundled pipeline that ingests it, its source label and conversation id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    pipeline: &'static str,
    source: String,
    conversation_id: String,
}

/// Where an oracle conversation lies in simgap's output, by the id forms of `../shared/oracle/README.md`.
fn simgap_key(dataset: &str, group: &str, id: &str) -> Key {
    let after_slash = || id.split_once('/').unwrap_or_else(|| panic!("{dataset} id {id:?} has no '/'")).1;
    let (pipeline, source, conversation_id) = match (dataset, group) {
        ("shi2019", "human_multiwoz_restaurant") => ("shi2019", "human".to_owned(), id.to_owned()),
        ("shi2019", simulator) => ("shi2019", simulator.replace('_', "-"), after_slash().to_owned()),
        ("recllmsim", set) => {
            let source = match set {
                "real_human_user" => "human",
                "human_exp_V2" => "human-exp-v2",
                "LLM_agent_user_zh" => "llm-user",
                other => panic!("recllmsim group {other:?} is new: map it to a source of pipelines/recllmsim.toml"),
            };
            let path = after_slash();
            ("recllmsim", source.to_owned(), path.strip_suffix(".json").unwrap_or(path).to_owned())
        }
        ("tau-bench", "gpt-4o-airline") => {
            // <file stem>/task<task_id>/trial<trial>/<index>; simgap names it <task_id>-<trial>.
            let parts: Vec<&str> = id.split('/').collect();
            let (task, trial) = (parts[1].trim_start_matches("task"), parts[2].trim_start_matches("trial"));
            ("tau", "tau-bench-gpt-4o".to_owned(), format!("{task}-{trial}"))
        }
        ("tau2-bench", group) => {
            // user-<llm>_<domain>; pipelines/tau.toml labels each tau2 file by its user simulator's llm.
            let llm = group.strip_prefix("user-").and_then(|g| g.rsplit_once('_')).map(|(llm, _)| llm);
            ("tau", llm.unwrap_or_else(|| panic!("tau2 group {group:?}")).to_owned(), after_slash().to_owned())
        }
        (dataset, group) => panic!("oracle data set {dataset:?} (group {group:?}) has no bundled pipeline here"),
    };
    Key { pipeline, source, conversation_id }
}

/// Runs `simgap COMMAND pipelines/NAME.toml --out OUT/NAME` for each command and returns OUT/NAME.
fn run_pipeline(out: &Path, name: &str, commands: &[&str]) -> PathBuf {
    let pipeline = project_root().join(format!("pipelines/{name}.toml"));
    let dir = out.join(name);
    for command in commands {
        let output = simgap(&["-q", command, pipeline.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "simgap {command} {name}: {}", stderr(&output));
    }
    dir
}

fn oracle_csv(name: &str) -> Vec<BTreeMap<String, String>> {
    let path = project_root().join("../shared/oracle").join(name);
    let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| headers.iter().zip(record.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|e| panic!("oracle value {column} = {:?}: {e}", row[column]))
}

/// The oracle's conversations by simgap key. The oracle lists some conversations twice (each of rule_generation's
/// 200, so its n_compared is 400); a repeated conversation must carry the same values both times.
fn oracle_features() -> BTreeMap<Key, [f64; 20]> {
    let mut conversations: BTreeMap<Key, [f64; 20]> = BTreeMap::new();
    for row in oracle_csv("usi_features.csv") {
        let key = simgap_key(&row["dataset"], &row["group"], &row["conversation_id"]);
        let values: [f64; 20] = std::array::from_fn(|j| number(&row, VALUES[j]));
        if let Some(earlier) = conversations.insert(key.clone(), values) {
            assert_eq!(earlier, values, "the oracle lists {key:?} twice with different values");
        }
    }
    conversations
}

/// simgap's 20 values per conversation that yields USI features (rows whose USI values are all missing are
/// conversations without a user turn, which the scorer gives no row either).
fn simgap_features(pipeline: &'static str, dir: &Path) -> BTreeMap<Key, [f64; 20]> {
    let table = Table::read(&dir.join("features.parquet"));
    let (sources, ids) = (table.text("source"), table.text("conversation_id"));
    let columns: Vec<&[f64]> = VALUES.iter().map(|name| table.number(name)).collect();
    (0..table.rows)
        .filter(|&i| columns.iter().any(|column| !column[i].is_nan()))
        .map(|i| {
            let key = Key { pipeline, source: sources[i].clone(), conversation_id: ids[i].clone() };
            (key, std::array::from_fn(|j| columns[j][i]))
        })
        .collect()
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn every_feature_of_every_conversation_equals_the_authors_scorer() {
    if shared_data().is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut ours = BTreeMap::new();
    for pipeline in ["shi2019", "recllmsim", "tau"] {
        let dir = run_pipeline(out.path(), pipeline, &["ingest", "features"]);
        ours.extend(simgap_features(pipeline, &dir));
    }
    let oracle = oracle_features();

    let missing: Vec<&Key> = oracle.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<&Key> = ours.keys().filter(|k| !oracle.contains_key(*k)).collect();
    let mut equal = [0usize; 20];
    let mut examples: Vec<Vec<String>> = vec![Vec::new(); 20];
    for (key, expected) in &oracle {
        let Some(actual) = ours.get(key) else { continue };
        for j in 0..20 {
            if (actual[j] - expected[j]).abs() <= FEATURE_TOLERANCE {
                equal[j] += 1;
            } else if examples[j].len() < 5 {
                examples[j].push(format!(
                    "{} {}: scorer {} simgap {}",
                    key.source, key.conversation_id, expected[j], actual[j]
                ));
            }
        }
    }
    println!(
        "USI features against the authors' scorer ({} conversations, tolerance {FEATURE_TOLERANCE:e}):",
        oracle.len()
    );
    for j in 0..20 {
        println!("  {:<20} {:>5} / {} equal", VALUES[j], equal[j], oracle.len());
        for example in &examples[j] {
            println!("      {example}");
        }
    }
    let datasets: BTreeSet<(&str, &str)> = oracle.keys().map(|k| (k.pipeline, k.source.as_str())).collect();
    println!("  sources compared: {datasets:?}");
    assert!(
        missing.is_empty(),
        "{} oracle conversations have no simgap row, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        extra.is_empty(),
        "{} simgap conversations are not in the oracle, e.g. {:?}",
        extra.len(),
        &extra[..extra.len().min(5)]
    );
    assert!(equal.iter().all(|&n| n == oracle.len()), "some values differ from the scorer's (table above)");
}

/// The comparison of `usi_dice.csv` as a bundled pipeline, its reference source and its compared source.
fn simgap_comparison(dataset: &str, reference: &str, compared: &str) -> (&'static str, String, String) {
    match (dataset, reference, compared) {
        ("shi2019", "human_multiwoz_restaurant", simulator) => ("shi2019", "human".into(), simulator.replace('_', "-")),
        ("recllmsim", "real_human_user", "LLM_agent_user_zh") => ("recllmsim", "human".into(), "llm-user".into()),
        ("recllmsim", "real_human_user", "human_exp_V2") => ("recllmsim", "human".into(), "human-exp-v2".into()),
        ("recllmsim", "human_exp_V2", "LLM_agent_user_zh") => {
            ("recllmsim-exp-v2", "human-exp-v2".into(), "llm-user".into())
        }
        ("tau2-bench", "user-gpt-4.1_telecom", "user-gpt-4o_telecom") => {
            ("tau2-telecom", "gpt-4.1-telecom".into(), "gpt-4o-telecom".into())
        }
        other => panic!("oracle comparison {other:?} has no bundled pipeline here"),
    }
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn d1_to_d4_of_every_comparison_equal_the_authors_scorer() {
    if shared_data().is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let comparisons = oracle_csv("usi_dice.csv");
    let pipelines: BTreeSet<&'static str> = comparisons
        .iter()
        .map(|row| simgap_comparison(&row["dataset"], &row["reference_group"], &row["compared_group"]).0)
        .collect();
    let tables: BTreeMap<&str, Table> = pipelines
        .iter()
        .map(|&name| (name, Table::read(&run_pipeline(out.path(), name, &["run"]).join("usi.parquet"))))
        .collect();

    let mut failures = Vec::new();
    println!("USI D1-D4 against the authors' scorer (tolerance {DICE_TOLERANCE:e}):");
    for row in &comparisons {
        let (pipeline, reference, compared) =
            simgap_comparison(&row["dataset"], &row["reference_group"], &row["compared_group"]);
        let table = &tables[pipeline];
        let (sources, references) = (table.text("source"), table.text("reference"));
        let Some(i) = (0..table.rows).find(|&i| sources[i] == compared && references[i] == reference) else {
            failures.push(format!("{pipeline}: no usi.parquet row for {compared} against {reference}"));
            continue;
        };
        for (column, oracle_column) in
            [("d1", "D1_conv_repo"), ("d2", "D2_info_repo"), ("d3", "D3_clarif_repo"), ("d4", "D4_react_repo")]
        {
            let (ours, theirs) = (table.number(column)[i], number(row, oracle_column));
            let verdict = if (ours - theirs).abs() <= DICE_TOLERANCE { "equal" } else { "DIFFERS" };
            println!(
                "  {pipeline:<17} {compared:>16} vs {reference:<16} {column}: scorer {theirs:>10.6} simgap {ours:>10.6} {verdict}"
            );
            if verdict != "equal" {
                failures.push(format!("{pipeline} {compared} vs {reference} {column}: scorer {theirs} simgap {ours}"));
            }
        }
    }
    assert!(failures.is_empty(), "D1-D4 differ from the scorer's:\n{}", failures.join("\n"));
}
