//! End to end on the real transcripts in ../shared/data-samples: the real binary, each bundled pipeline, exact
//! conversation counts per source, and message texts that survive the round trip into Parquet.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Row, count_by_source, read_conversations, shared_data, simgap, stderr};

/// Runs `simgap ingest pipelines/NAME.toml --out TMP` and returns the rows and the temp folder.
fn ingest(name: &str) -> (Vec<Row>, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let pipeline = common::project_root().join(format!("pipelines/{name}.toml"));
    let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    for file in manifest["stages"]["ingest"]["files"].as_array().unwrap() {
        let (read, accepted, rejected) = (file["read"].as_u64(), file["accepted"].as_u64(), file["rejected"].as_u64());
        assert_eq!(read.unwrap(), accepted.unwrap() + rejected.unwrap(), "{file}");
        assert_eq!(file["sha256"].as_str().unwrap().len(), 64);
    }
    (read_conversations(&out.path().join("conversations.parquet")), out)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

fn user_texts(row: &Row) -> Vec<&str> {
    row.messages.iter().filter(|(role, _, _)| role == "user").filter_map(|(_, content, _)| content.as_deref()).collect()
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn shi2019_counts_and_texts() {
    let Some(data) = shared_data() else { return };
    let (rows, _out) = ingest("shi2019");
    assert_eq!(
        count_by_source(&rows),
        counts(&[
            ("human", 1310),
            ("rule-generation", 200),
            ("rule-sample", 200),
            ("rule-template", 200),
            ("seq-generation", 200),
            ("seq-sample", 200),
            ("seq-template", 200),
        ])
    );
    // The human CSV, read independently: every utterance of the first dialogue, in order, with its role.
    let human_csv = data.join("shi2019-user-simulator/human/multiwoz_restaurant_non_delex.csv");
    let mut reader = csv::Reader::from_path(&human_csv).unwrap();
    let first: Vec<(String, String)> = reader
        .records()
        .map(|r| r.unwrap())
        .take_while(|r| &r[1] == "SNG01162.json")
        .map(|r| (if &r[2] == "0" { "user" } else { "assistant" }.to_owned(), r[3].to_owned()))
        .collect();
    let row = rows.iter().find(|r| r.conversation_id == "SNG01162.json").unwrap();
    let got: Vec<(String, String)> = row.messages.iter().map(|(r, c, _)| (r.clone(), c.clone().unwrap())).collect();
    assert_eq!(got, first);
    // rule_sample leaves commas unquoted: the merged text is whole again.
    let sample = rows.iter().find(|r| r.source == "rule-sample" && r.conversation_id == "dial_0").unwrap();
    assert!(sample.messages.iter().any(|(role, c, _)| role == "assistant"
        && c.as_deref() == Some("I am sorry, but there are no restaurants matching your request. Is there anything else I can help you with?")));
    // rule_generation's goal row is kept as a system message.
    let generation = rows.iter().find(|r| r.source == "rule-generation").unwrap();
    assert_eq!(generation.messages[0].0, "system");
    assert!(rows.iter().all(|r| r.kind == if r.source == "human" { "human" } else { "simulator" }));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn tau_bench_and_tau2_identity_and_texts() {
    let Some(data) = shared_data() else { return };
    let (rows, _out) = ingest("tau");
    assert_eq!(count_by_source(&rows), counts(&[("tau-bench-gpt-4o", 200), ("gpt-4.1", 100), ("gpt-4o", 20)]));
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("tau-bench/historical_trajectories_gpt-4o-airline.json")).unwrap(),
    )
    .unwrap();
    for record in raw.as_array().unwrap().iter().take(20) {
        let id = format!("{}-{}", record["task_id"], record["trial"]);
        let row = rows.iter().find(|r| r.source == "tau-bench-gpt-4o" && r.conversation_id == id).unwrap();
        assert_eq!(row.outcome, record["reward"].as_f64());
        assert_eq!(row.run, record["trial"].as_i64());
        assert_eq!(row.task_id.as_deref(), Some(record["task_id"].to_string().as_str()));
        let expected: Vec<(String, Option<String>)> = record["traj"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["role"].as_str().unwrap().to_owned(), m["content"].as_str().map(str::to_owned)))
            .collect();
        let got: Vec<(String, Option<String>)> = row.messages.iter().map(|(r, c, _)| (r.clone(), c.clone())).collect();
        assert_eq!(got, expected, "{id}");
    }
    let tau2: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("tau2-bench/gpt-4.1_airline_default_gpt-4.1_1trials.json")).unwrap(),
    )
    .unwrap();
    let simulation = &tau2["simulations"][0];
    let row = rows.iter().find(|r| r.conversation_id == simulation["id"].as_str().unwrap()).unwrap();
    assert_eq!(row.source, "gpt-4.1");
    assert_eq!(row.outcome, simulation["reward_info"]["reward"].as_f64());
    assert_eq!(row.messages.len(), simulation["messages"].as_array().unwrap().len());
    assert_eq!(row.messages[1].2.as_deref(), simulation["messages"][1]["timestamp"].as_str());
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn multiwoz_from_zip() {
    let Some(_) = shared_data() else { return };
    let (rows, _out) = ingest("multiwoz");
    assert_eq!(count_by_source(&rows), counts(&[("multiwoz-human", 999)]));
    let row = rows.iter().find(|r| r.conversation_id == "PMUL1635").unwrap();
    assert_eq!(row.messages[0].1.as_deref(), Some("I need to book a hotel in the east that has 4 stars ."));
    assert!(row.input_file.ends_with(".zip!/val.json"), "{}", row.input_file);
    assert!(row.messages.iter().step_by(2).all(|(role, _, _)| role == "user"));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn chitchat_first_writer_is_user() {
    let Some(_) = shared_data() else { return };
    let (rows, _out) = ingest("chitchat");
    assert_eq!(count_by_source(&rows), counts(&[("chitchat-human", 500)]));
    let row = rows.iter().find(|r| r.conversation_id == "a07edb12-6b91-4138-b11e-02421888d699").unwrap();
    assert_eq!(user_texts(row)[..2], ["Hello", "How are you doing today?"]);
    assert_eq!(row.messages[2].1.as_deref(), Some("whats up MD"));
    assert_eq!(row.messages[2].0, "assistant");
    assert!(row.survey.as_deref().unwrap().contains("witty"));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn recllmsim_human_and_translated_simulator() {
    let Some(data) = shared_data() else { return };
    let (rows, _out) = ingest("recllmsim");
    assert_eq!(count_by_source(&rows), counts(&[("human", 291), ("human-exp-v2", 113), ("llm-user", 150)]));
    let file = data.join("recllmsim/LLM_agent_user/travel planning/3.json");
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let row = rows.iter().find(|r| r.conversation_id == "travel planning/3").unwrap();
    assert_eq!(row.messages[0].1.as_deref(), raw["history"][0]["content_zh"].as_str());
    let human = rows.iter().find(|r| r.conversation_id == "User_8/礼物准备/1").unwrap();
    assert!(user_texts(human)[0].starts_with("教师节快到了"));
    assert!(Path::new(&human.input_file).ends_with("real_human_user/User_8/礼物准备/1.json"));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn same_inputs_give_identical_bytes() {
    let Some(_) = shared_data() else { return };
    let (_, a) = ingest("shi2019");
    let (_, b) = ingest("shi2019");
    for name in ["conversations.parquet", "rejects.jsonl"] {
        assert_eq!(std::fs::read(a.path().join(name)).unwrap(), std::fs::read(b.path().join(name)).unwrap(), "{name}");
    }
}
