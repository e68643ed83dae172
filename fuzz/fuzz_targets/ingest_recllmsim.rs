//! Fuzzes the RecLLMSim reader (one conversation per JSON file) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "recllmsim"
source = "human"
kind = "human""#, "input.json", data);
});
