//! Fuzzes the MultiWOZ reader on zip archives (entries, compression, names) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "multiwoz"
source = "human"
kind = "human""#, "input.json.zip", data);
});
