//! `docs/pipeline.md` is the one reference for every key of the pipeline file: each table's keys there must be
//! exactly the keys its settings struct accepts (read from the struct's serde field list), and the page's complete
//! example must parse.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use simgap::cluster::ClusterConfig;
use simgap::divergence::DivergenceConfig;
use simgap::features::FeaturesConfig;
use simgap::features::embedding::EmbeddingConfig;
use simgap::ingest::options::{CsvOptions, IngestOptions, InputConfig, RecLlmSimOptions, TableOptions};
use simgap::pipeline::config::{OutputConfig, PipelineConfig};
use simgap::report::ReportConfig;

/// A deserializer that answers only one question: which keys a struct accepts. serde hands the field list to
/// `deserialize_struct`; this keeps it and stops.
struct FieldNames<'a>(&'a mut Vec<&'static str>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend_from_slice(fields);
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

fn keys_of<T: for<'de> Deserialize<'de>>() -> BTreeSet<String> {
    let mut fields = Vec::new();
    let _ = T::deserialize(FieldNames(&mut fields));
    assert!(!fields.is_empty(), "{} is not a struct of keys", std::any::type_name::<T>());
    fields.into_iter().map(str::to_owned).collect()
}

/// The keys the pipeline file accepts, per table (`input` for `[[input]]`), read from the settings structs.
fn accepted() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        ("output", keys_of::<OutputConfig>()),
        ("input", keys_of::<InputConfig>()),
        ("input.csv", keys_of::<CsvOptions>()),
        ("input.recllmsim", keys_of::<RecLlmSimOptions>()),
        ("input.table", keys_of::<TableOptions>()),
        ("ingest", keys_of::<IngestOptions>()),
        ("features", keys_of::<FeaturesConfig>()),
        ("features.embeddings", keys_of::<EmbeddingConfig>()),
        ("cluster", keys_of::<ClusterConfig>()),
        ("divergence", keys_of::<DivergenceConfig>()),
        ("report", keys_of::<ReportConfig>()),
    ])
}

fn page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/pipeline.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The page's keys per table: a heading "## `[table]`" (or "## `[[input]]`") opens a table, and each row of its
/// key table starts with "| `key` |".
fn documented(page: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = heading
                .strip_prefix("`[[")
                .and_then(|h| h.strip_suffix("]]`"))
                .or_else(|| heading.strip_prefix("`[").and_then(|h| h.strip_suffix("]`")))
                .map(str::to_owned);
            if let Some(table) = &current {
                tables.entry(table.clone()).or_default();
            }
        } else if let (Some(table), Some(row)) = (&current, line.strip_prefix("| `")) {
            let key = row.split('`').next().expect("split yields one part at least");
            tables.get_mut(table).expect("opened above").insert(key.to_owned());
        }
    }
    tables
}

#[test]
fn every_accepted_key_is_documented_and_every_documented_key_is_accepted() {
    let accepted = accepted();
    let documented = documented(&page());
    for (table, keys) in &accepted {
        let Some(on_page) = documented.get(*table) else {
            panic!("docs/pipeline.md has no section for [{table}]");
        };
        let missing: Vec<_> = keys.difference(on_page).collect();
        let unknown: Vec<_> = on_page.difference(keys).collect();
        assert!(missing.is_empty(), "[{table}]: accepted but not in docs/pipeline.md: {missing:?}");
        assert!(unknown.is_empty(), "[{table}]: in docs/pipeline.md but not accepted: {unknown:?}");
    }
    let unknown_tables: Vec<_> = documented.keys().filter(|t| !accepted.contains_key(t.as_str())).collect();
    assert!(unknown_tables.is_empty(), "docs/pipeline.md documents tables the file does not have: {unknown_tables:?}");
}

#[test]
fn every_top_level_table_has_a_section() {
    let top = keys_of::<PipelineConfig>();
    let sections: BTreeSet<String> = accepted().keys().filter(|t| !t.contains('.')).map(|t| t.to_string()).collect();
    assert_eq!(top, sections, "top-level tables of the pipeline file against the page's sections");
}

#[test]
fn the_complete_example_parses() {
    let page = page();
    let example = page
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/pipeline.md has a toml example");
    let config = PipelineConfig::parse(example, Path::new("pipelines/example.toml"), Path::new("pipelines"))
        .unwrap_or_else(|e| panic!("the example of docs/pipeline.md does not parse: {e}"));
    assert_eq!(config.inputs.len(), 2);
    assert_eq!(config.cluster.k, simgap::cluster::config::ClusterCount::Fixed(20));
}

#[test]
fn the_reader_of_the_page_finds_keys_and_tables() {
    let page = "## `[a]`\n| key | default |\n|---|---|\n| `x` | 1 |\n## `[[b]]`\n| `y` | |\n## Other\n| `z` | |\n";
    let tables = documented(page);
    assert_eq!(tables["a"], BTreeSet::from(["x".to_owned()]));
    assert_eq!(tables["b"], BTreeSet::from(["y".to_owned()]));
    assert_eq!(tables.len(), 2, "{tables:?}");
}
