//! Fuzzes the tau-bench trajectory reader (a JSON array of runs) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "tau-bench"
source = "sim"
kind = "simulator""#, "input.json", data);
});
