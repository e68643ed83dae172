//! Fuzzes the ShareGPT reader through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "sharegpt"
source = "sim"
kind = "simulator""#, "input.json", data);
});
