//! Fuzzes the tau2-bench results reader (one JSON document of simulations) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "tau2"
kind = "simulator""#, "input.json", data);
});
