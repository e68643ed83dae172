//! Fuzzes the ChitChat reader (a JSON object of dialogues) through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "chitchat"
source = "human"
kind = "human""#, "input.json", data);
});
