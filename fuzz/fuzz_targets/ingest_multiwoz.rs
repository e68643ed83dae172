//! Fuzzes the MultiWOZ / ConvLab-3 reader on a plain JSON document through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "multiwoz"
source = "human"
kind = "human""#, "input.json", data);
});
