//! Fuzzes the CSV reader (header, quoted fields spanning lines, role mapping) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "csv"
source = "human"
kind = "human"
[input.csv]
header = true
conversation_id = "dialogue"
role = "speaker"
text = "utterance"
roles = { usr = "user", sys = "assistant" }"#, "input.csv", data);
});
