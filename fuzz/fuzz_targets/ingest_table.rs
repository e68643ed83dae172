//! Fuzzes the table reader (`format = "table"`, polars scans) through the ingest stage. The first byte picks the
//! file type and layout (NDJSON conversation per row with a pushed-down filter, CSV message per row with an
//! evaluated filter, Parquet, Arrow IPC); the rest is the file.
//!
//! The reader turns a panic inside polars (a damaged Parquet or Arrow file) into a reject of the file, as the
//! release binary does; libFuzzer's hook would abort on it first, so this target puts the standard hook back. What
//! is caught is what users would meet: aborts, hangs, and records lost (read != accepted + rejected + filtered).
#![no_main]

#[path = "common.rs"]
mod common;

static STANDARD_PANIC_HOOK: std::sync::Once = std::sync::Once::new();

const NDJSON: &str = r#"format = "table"
source = "human"
kind = "human"
[input.table]
metadata = ["model"]
filter = "turn >= 2 AND NOT toxic""#;

const CSV: &str = r#"format = "table"
source = "human"
kind = "human"
[input.table]
layout = "message-per-row"
content = "text"
order = "turn"
timestamp = "ts"
filter = "channel = 'web'""#;

const BINARY: &str = r#"format = "table"
kind = "human"
[input.table]
source_column = "model""#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    STANDARD_PANIC_HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    let Some((&selector, file)) = data.split_first() else { return };
    match selector % 4 {
        0 => common::ingest(NDJSON, "input.ndjson", file),
        1 => common::ingest(CSV, "input.csv", file),
        2 => common::ingest(BINARY, "input.parquet", file),
        _ => common::ingest(BINARY, "input.arrow", file),
    }
});
