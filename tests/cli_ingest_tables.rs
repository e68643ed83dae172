//! End to end, `format = "table"` on the shared samples converted into the shapes real tabular corpora have
//! (`tests/python/make_table_corpora.py`, pyarrow's writers: WildChat- and LMSYS-shaped Parquet, NDJSON, a
//! `datasets` cache's Arrow stream, Feather, message-per-row CSV and hive-partitioned Parquet). Each must ingest to
//! the conversations the original format gives (ids, roles, texts, timestamps, task, run, outcome, survey); the
//! filter must keep exactly the rows it names (checked against the table read with arrow-rs, not polars); and
//! read = accepted + rejected + filtered in every file's manifest entry. The bundled templates
//! (`pipelines/wildchat.toml`, `pipelines/lmsys.toml`) run on the converted files.
//!
//! The converted files come from `SIMGAP_TABLE_CORPORA` (`.ci/run` makes them before `cargo test`); where it is
//! not set the tests show as ignored, with the reason.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{Row, Table, read_conversations, read_rejects, shared_data, simgap, stderr};

/// The converted tables, or `None` (said why) where `SIMGAP_TABLE_CORPORA` is not set.
fn corpora() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SIMGAP_TABLE_CORPORA")?);
    assert!(dir.join("wildchat").is_dir(), "SIMGAP_TABLE_CORPORA={} holds no converted tables", dir.display());
    Some(dir)
}

/// Runs `simgap ingest` on a pipeline of `inputs` (TOML `[[input]]` tables) and returns its rows, its manifest and
/// its output folder.
fn ingest(inputs: &str) -> (Vec<Row>, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, format!("[output]\ndir = \"out\"\n\n{inputs}")).unwrap();
    let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap()]);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    let out = dir.path().join("out");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for file in manifest["stages"]["ingest"]["files"].as_array().unwrap() {
        let count = |key: &str| file[key].as_u64().unwrap();
        assert_eq!(count("read"), count("accepted") + count("rejected") + count("filtered"), "{file}");
    }
    (read_conversations(&out.join("conversations.parquet")), manifest, dir)
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// The original samples ingested by their own readers, one source each.
fn originals(data: &Path) -> Vec<Row> {
    let inputs = format!(
        r#"[[input]]
path = "{multiwoz}"
format = "multiwoz"
source = "multiwoz"
kind = "human"
[[input]]
path = "{chitchat}"
format = "chitchat"
source = "chitchat"
kind = "human"
[[input]]
path = "{tau}"
format = "tau-bench"
source = "tau-bench"
kind = "simulator"
"#,
        multiwoz = path(&data.join("multiwoz/convlab3_multiwoz21_val.json.zip")),
        chitchat = path(&data.join("chitchat/chitchat_first500.json")),
        tau = path(&data.join("tau-bench/historical_trajectories_gpt-4o-airline.json")),
    );
    ingest(&inputs).0
}

/// What must survive a conversion: per source, each conversation's messages (role, text, and the timestamp where
/// `with_times`), and its task, run and outcome where the table has those columns (`with_task`).
type Conversations = BTreeMap<String, BTreeMap<String, String>>;

fn conversations(rows: &[Row], key: impl Fn(&Row) -> String, with_times: bool) -> Conversations {
    described(rows, key, with_times, false)
}

fn described(rows: &[Row], key: impl Fn(&Row) -> String, with_times: bool, with_task: bool) -> Conversations {
    let mut out: Conversations = BTreeMap::new();
    for row in rows {
        let messages: Vec<_> = row
            .messages
            .iter()
            .map(|(role, content, time)| (role, content, if with_times { time.clone() } else { None }))
            .collect();
        let mut value = format!("{messages:?}");
        if with_task {
            value += &format!(" task={:?} run={:?} outcome={:?}", row.task_id, row.run, row.outcome);
        }
        out.entry(row.source.clone()).or_default().insert(key(row), value);
    }
    out
}

/// Fails naming the first conversation that differs (the maps are too large to print whole).
#[track_caller]
fn assert_same(actual: &Conversations, expected: &Conversations, what: &str) {
    let count = |c: &Conversations| c.iter().map(|(s, m)| (s.clone(), m.len())).collect::<BTreeMap<_, _>>();
    assert_eq!(count(actual), count(expected), "{what}: conversations per source");
    for (source, conversations) in expected {
        for (key, value) in conversations {
            let found = actual[source].get(key);
            let short = |v: &str| v.chars().take(600).collect::<String>();
            assert!(
                found == Some(value),
                "{what}: {source} {key}\n got {:?}\nwant {}",
                found.map(|v| short(v)),
                short(value)
            );
        }
    }
}

fn by_id(row: &Row) -> String {
    row.conversation_id.clone()
}

fn only(sources: &[&str], mut conversations: Conversations) -> Conversations {
    conversations.retain(|source, _| sources.contains(&source.as_str()));
    conversations
}

#[test]
#[cfg_attr(not(table_corpora), ignore = "needs SIMGAP_TABLE_CORPORA (tests/python/make_table_corpora.py)")]
fn converted_tables_ingest_to_the_original_conversations() {
    let (Some(data), Some(tables)) = (shared_data(), corpora()) else { return };
    let original = originals(&data);
    let expected = conversations(&original, by_id, true);
    assert_eq!(expected.values().map(BTreeMap::len).sum::<usize>(), original.len());

    let wildchat = format!(
        r#"[[input]]
path = "{}/wildchat/*.parquet"
format = "table"
[input.table]
conversation_id = "conversation_hash"
source_column = "model"
kind_column = "user_kind"
timestamp = "timestamp"
"#,
        path(&tables)
    );
    let (rows, manifest, _out) = ingest(&wildchat);
    assert_eq!(manifest["stages"]["ingest"]["files"].as_array().unwrap().len(), 3, "three shards");
    assert_same(&conversations(&rows, by_id, true), &expected, "WildChat-shaped shards");
    let kinds: BTreeSet<_> = rows.iter().map(|r| (r.source.as_str(), r.kind.as_str())).collect();
    assert!(kinds.contains(&("tau-bench", "simulator")) && kinds.contains(&("chitchat", "human")), "{kinds:?}");

    let lmsys = |file: &str| {
        format!(
            "[[input]]\npath = \"{}/{file}\"\nformat = \"table\"\nkind = \"human\"\n\
             [input.table]\nsource_column = \"model\"\n",
            path(&tables)
        )
    };
    let without_times = only(&["multiwoz", "chitchat"], conversations(&original, by_id, false));
    for file in ["lmsys.parquet", "lmsys.ndjson"] {
        let (rows, _, _out) = ingest(&lmsys(file));
        assert_same(&conversations(&rows, by_id, false), &without_times, file);
    }

    let feather = format!(
        "[[input]]\npath = \"{}/multiwoz.feather\"\nformat = \"table\"\nsource = \"multiwoz\"\nkind = \"human\"\n",
        path(&tables)
    );
    let (rows, _, _out) = ingest(&feather);
    assert_same(
        &conversations(&rows, by_id, false),
        &only(&["multiwoz"], conversations(&original, by_id, false)),
        "feather",
    );

    // A `datasets` cache: the folder is the input; its .arrow stream is read, its JSON files are not.
    let cache = format!(
        "[[input]]\npath = \"{}/datasets-cache\"\nformat = \"table\"\nsource = \"tau-bench\"\nkind = \"simulator\"\n\
         [input.table]\nmessages = \"traj\"\ntask_id = \"task_id\"\nrun = \"trial\"\noutcome = \"reward\"\n",
        path(&tables)
    );
    let (rows, manifest, _out) = ingest(&cache);
    assert_eq!(manifest["stages"]["ingest"]["files"].as_array().unwrap().len(), 1);
    let by_task = |row: &Row| format!("{:?}-{:?}", row.task_id, row.run);
    let expected_tau = only(&["tau-bench"], described(&original, by_task, false, true));
    assert_same(&described(&rows, by_task, false, true), &expected_tau, "datasets cache, task, run and outcome");

    let csv = format!(
        "[[input]]\npath = \"{}/chitchat_messages.csv\"\nformat = \"table\"\nsource = \"chitchat\"\nkind = \"human\"\n\
         [input.table]\nlayout = \"message-per-row\"\ncontent = \"text\"\norder = \"turn\"\n\
         timestamp = \"ts\"\nsurvey = \"ratings\"\n",
        path(&tables)
    );
    let (rows, _, _out) = ingest(&csv);
    assert_same(&conversations(&rows, by_id, true), &only(&["chitchat"], expected.clone()), "message-per-row CSV");
    let surveys = |rows: &[Row]| -> BTreeMap<String, Option<serde_json::Value>> {
        let parse = |s: &Option<String>| s.as_deref().map(|s| serde_json::from_str(s).unwrap());
        rows.iter().filter(|r| r.source == "chitchat").map(|r| (r.conversation_id.clone(), parse(&r.survey))).collect()
    };
    assert_eq!(surveys(&rows), surveys(&original), "ratings as the survey");

    // Hive partitions: `source=<sample>` folders give the source column.
    let hive = format!(
        "[[input]]\npath = \"{}/messages\"\nformat = \"table\"\nkind = \"human\"\n\
         [input.table]\nlayout = \"message-per-row\"\ncontent = \"text\"\norder = \"turn\"\n\
         source_column = \"source\"\n",
        path(&tables)
    );
    let (rows, _, _out) = ingest(&hive);
    let expected_hive = only(&["multiwoz", "tau-bench"], conversations(&original, by_id, false));
    assert_same(&conversations(&rows, by_id, false), &expected_hive, "hive-partitioned message-per-row Parquet");
}

#[test]
#[cfg_attr(not(table_corpora), ignore = "needs SIMGAP_TABLE_CORPORA (tests/python/make_table_corpora.py)")]
fn the_filter_keeps_exactly_the_rows_it_names() {
    let Some(tables) = corpora() else { return };
    let shards: Vec<PathBuf> = (0..3).map(|i| tables.join(format!("wildchat/train-{i:05}-of-00003.parquet"))).collect();
    let input = |filter: &str| {
        format!(
            "[[input]]\npath = \"{}/wildchat/*.parquet\"\nformat = \"table\"\n\
             [input.table]\nconversation_id = \"conversation_hash\"\n\
             source_column = \"model\"\nkind_column = \"user_kind\"\n{filter}",
            path(&tables)
        )
    };
    let (all, _, _out) = ingest(&input(""));
    let (kept, manifest, out) = ingest(&input("filter = \"language = 'English' AND turn >= 2 AND NOT toxic\"\n"));
    let mut expected_ids = BTreeSet::new();
    let files = manifest["stages"]["ingest"]["files"].as_array().unwrap();
    for (shard, report) in shards.iter().zip(files) {
        let table = Table::read(shard);
        let (ids, language, turn, toxic) =
            (table.text("conversation_hash"), table.text("language"), table.number("turn"), table.number("toxic"));
        let passing: Vec<&String> = (0..table.rows)
            .filter(|&i| language[i] == "English" && turn[i] >= 2.0 && toxic[i] == 0.0)
            .map(|i| &ids[i])
            .collect();
        assert!(passing.len() < table.rows && !passing.is_empty(), "the filter must drop some rows and keep some");
        assert_eq!(report["read"].as_u64().unwrap() as usize, table.rows, "{report}");
        assert_eq!(report["filtered"].as_u64().unwrap() as usize, table.rows - passing.len(), "{report}");
        assert_eq!(report["filter"], "language = 'English' AND turn >= 2 AND NOT toxic");
        expected_ids.extend(passing.into_iter().cloned());
    }
    let kept_ids: BTreeSet<String> = kept.iter().map(|r| r.conversation_id.clone()).collect();
    let valid_ids: BTreeSet<String> = all.iter().map(|r| r.conversation_id.clone()).collect();
    assert_eq!(kept_ids, expected_ids.intersection(&valid_ids).cloned().collect(), "exactly the rows the filter names");
    let summary = simgap(&["ingest", out.path().join("p.toml").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&summary.stdout).into_owned() + &stderr(&summary);
    assert!(text.contains("filtered"), "the run summary has a filtered column: {text}");
}

#[test]
#[cfg_attr(not(table_corpora), ignore = "needs SIMGAP_TABLE_CORPORA (tests/python/make_table_corpora.py)")]
fn the_bundled_templates_read_the_converted_corpora() {
    let Some(tables) = corpora() else { return };
    let demo = common::project_root().join("data/demo");
    for (template, corpus) in [("wildchat", "wildchat/*.parquet"), ("lmsys", "lmsys.parquet")] {
        let text = std::fs::read_to_string(common::project_root().join(format!("pipelines/{template}.toml"))).unwrap();
        let text = text
            .replace(
                &format!(
                    "../data/{}",
                    if template == "wildchat" { "WildChat-1M/data/*.parquet" } else { "lmsys-chat-1m/data/*.parquet" }
                ),
                &format!("{}/{corpus}", path(&tables)),
            )
            .replace("../data/simulator/*.jsonl", &format!("{}/sim-*.jsonl", path(&demo)))
            .replace("format = \"jsonl\"\nkind", "format = \"openai\"\nsource = \"sim\"\nkind");
        assert!(text.contains(&path(&tables)), "{template}: the template's corpus path moved");
        let dir = tempfile::tempdir().unwrap();
        let pipeline = dir.path().join("p.toml");
        std::fs::write(&pipeline, text.replace(&format!("../out/{template}"), "out")).unwrap();
        let output = simgap(&["-q", "ingest", pipeline.to_str().unwrap()]);
        assert!(matches!(output.status.code(), Some(0 | 3)), "{template}: {}", stderr(&output));
        let rows = read_conversations(&dir.path().join("out/conversations.parquet"));
        let humans = rows.iter().filter(|r| r.kind == "human").count();
        assert!(humans > 100, "{template}: {humans} human conversations");
        let rejects = read_rejects(&dir.path().join("out"));
        assert!(rejects.iter().all(|r| r["reason"].as_str().is_some()), "{template}");
    }
}

#[test]
#[cfg_attr(not(table_corpora), ignore = "needs SIMGAP_TABLE_CORPORA (tests/python/make_table_corpora.py)")]
fn every_bad_row_class_is_a_reject_naming_file_and_row() {
    let Some(tables) = corpora() else { return };
    let inputs = format!(
        "[[input]]\npath = \"{bad}/*.parquet\"\nformat = \"table\"\nsource = \"t\"\nkind = \"human\"\n\
         [[input]]\npath = \"{bad}/bad-messages.csv\"\nformat = \"table\"\nsource = \"m\"\nkind = \"human\"\n\
         [input.table]\nlayout = \"message-per-row\"\norder = \"turn\"\n",
        bad = path(&tables.join("bad"))
    );
    let (rows, manifest, out) = ingest(&inputs);
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.conversation_id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["good-1", "good-2", "m1", "m3"]));
    let rejects = read_rejects(&out.path().join("out"));
    let found: Vec<(String, u64, String)> = rejects
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
            (file, r["row"].as_u64().unwrap_or(0), r["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let expect = [
        ("bad-rows.parquet", 2, "column \"conversation\" is null"),
        ("bad-rows.parquet", 3, "message 1 has no role"),
        ("bad-rows.parquet", 4, "unknown role \"narrator\""),
        ("wrong-type.parquet", 1, "content holds i64, not text"),
        ("wrong-type.parquet", 2, "content holds i64, not text"),
        ("wrong-type.parquet", 3, "content holds i64, not text"),
        ("bad-messages.csv", 2, "no conversation id"),
        ("bad-messages.csv", 3, "row 4: column \"turn\" holds str, not a number"),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for ((file, row, reason), (want_file, want_row, want_reason)) in found.iter().zip(expect) {
        assert_eq!((file.as_str(), *row), (want_file, want_row), "{reason}");
        assert!(reason.contains(want_reason), "{file} row {row}: {reason:?} lacks {want_reason:?}");
    }
    let ingest = &manifest["stages"]["ingest"];
    assert_eq!(ingest["read"].as_u64(), Some(4 + found.len() as u64), "read = accepted + rejected: {ingest}");
}
