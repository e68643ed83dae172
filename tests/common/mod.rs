//! Helpers for the end-to-end tests: run the real binary, find the shared real data, read the Parquet output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn simgap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simgap")).args(args).output().expect("the simgap binary runs")
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data-samples`, or `None` (with the reason printed) when it is absent on a user's machine.
/// Absent under `CI=true` is a failure: CI always has it.
pub fn shared_data() -> Option<PathBuf> {
    let dir = project_root().join("../shared/data-samples");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing, and CI=true: CI must have ../shared beside the checkout", dir.display());
    }
    eprintln!("skipped: {} is absent (real-data tests need ../shared beside the checkout)", dir.display());
    None
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One row of conversations.parquet, as the tests need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub conversation_id: String,
    pub source: String,
    pub kind: String,
    pub task_id: Option<String>,
    pub run: Option<i64>,
    pub outcome: Option<f64>,
    pub survey: Option<String>,
    pub messages: Vec<(String, Option<String>, Option<String>)>,
    pub input_file: String,
    pub input_record: i64,
}

pub fn read_conversations(path: &Path) -> Vec<Row> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let text = |name: &str| batch.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (ids, sources, kinds, tasks, surveys, files) = (
            text("conversation_id"),
            text("source"),
            text("kind"),
            text("task_id"),
            text("survey"),
            text("input_file"),
        );
        let runs = batch.column_by_name("run").unwrap().as_primitive::<arrow::datatypes::Int64Type>().clone();
        let records =
            batch.column_by_name("input_record").unwrap().as_primitive::<arrow::datatypes::Int64Type>().clone();
        let outcomes = batch.column_by_name("outcome").unwrap().as_primitive::<arrow::datatypes::Float64Type>().clone();
        let messages = batch.column_by_name("messages").unwrap().as_list::<i32>().clone();
        let opt = |a: &arrow::array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
        for i in 0..batch.num_rows() {
            let list = messages.value(i);
            let list = list.as_struct();
            let roles = list.column_by_name("role").unwrap().as_string::<i32>();
            let contents = list.column_by_name("content").unwrap().as_string::<i32>();
            let stamps = list.column_by_name("timestamp").unwrap().as_string::<i32>();
            rows.push(Row {
                conversation_id: ids.value(i).to_owned(),
                source: sources.value(i).to_owned(),
                kind: kinds.value(i).to_owned(),
                task_id: opt(&tasks, i),
                run: (!runs.is_null(i)).then(|| runs.value(i)),
                outcome: (!outcomes.is_null(i)).then(|| outcomes.value(i)),
                survey: opt(&surveys, i),
                messages: (0..list.len())
                    .map(|j| (roles.value(j).to_owned(), opt(contents, j), opt(stamps, j)))
                    .collect(),
                input_file: files.value(i).to_owned(),
                input_record: records.value(i),
            });
        }
    }
    rows
}

pub fn count_by_source(rows: &[Row]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.source.clone()).or_default() += 1;
    }
    counts
}

/// Reads OUT/rejects.jsonl as JSON values.
pub fn read_rejects(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("rejects.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A small Parquet table read whole, column by column: text columns as strings, numbers as f64 (null = NaN).
pub struct Table {
    pub rows: usize,
    text: BTreeMap<String, Vec<Option<String>>>,
    numbers: BTreeMap<String, Vec<f64>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        let mut table = Table { rows: 0, text: BTreeMap::new(), numbers: BTreeMap::new() };
        for batch in reader {
            let batch = batch.unwrap();
            table.rows += batch.num_rows();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let name = field.name().clone();
                if let Some(strings) = column.as_string_opt::<i32>() {
                    let values = table.text.entry(name).or_default();
                    values.extend((0..strings.len()).map(|i| (!strings.is_null(i)).then(|| strings.value(i).into())));
                } else if let Ok(cast) = arrow::compute::cast(column, &arrow::datatypes::DataType::Float64) {
                    let floats = cast.as_primitive::<arrow::datatypes::Float64Type>();
                    let values = table.numbers.entry(name).or_default();
                    values
                        .extend((0..floats.len()).map(|i| if floats.is_null(i) { f64::NAN } else { floats.value(i) }));
                }
            }
        }
        table
    }

    pub fn text(&self, column: &str) -> Vec<String> {
        self.text[column].iter().map(|v| v.clone().unwrap_or_default()).collect()
    }

    pub fn optional_text(&self, column: &str) -> &[Option<String>] {
        &self.text[column]
    }

    pub fn number(&self, column: &str) -> &[f64] {
        self.numbers.get(column).unwrap_or_else(|| panic!("no numeric column {column}"))
    }
}

/// The demo pipeline (`pipelines/demo.toml`) reading the bundled demo data and writing into `out` of a new temp
/// folder, with `extra` appended (settings tables); returns the folder and the pipeline's path.
/// `pipelines/shi2019.toml` in `dir`, reading ../shared/data-samples and writing `dir/out`; None (with the reason
/// printed) where the shared data is absent.
pub fn shi2019_in(dir: &Path) -> Option<PathBuf> {
    let shared = shared_data()?;
    let text = std::fs::read_to_string(project_root().join("pipelines/shi2019.toml")).unwrap();
    let pipeline = dir.join("shi2019.toml");
    let text = text.replace("../../shared/data-samples", shared.to_str().unwrap()).replace("../out/shi2019", "out");
    std::fs::write(&pipeline, text).unwrap();
    Some(pipeline)
}

pub fn demo_with(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(project_root().join("pipelines/demo.toml")).unwrap();
    let data = project_root().join("data/demo");
    let text = demo.replace("../data/demo", data.to_str().unwrap()).replace("../out/demo", "out") + extra;
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, text).unwrap();
    (dir, pipeline)
}
