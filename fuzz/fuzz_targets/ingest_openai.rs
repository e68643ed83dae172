//! Fuzzes the OpenAI chat-messages JSONL reader through the ingest stage.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest(r#"format = "openai"
source = "sim"
kind = "simulator""#, "input.jsonl", data);
});
