//! Fuzzes the canonical JSONL reader (one conversation per line) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "jsonl""#, "input.jsonl", data);
});
