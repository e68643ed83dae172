//! simgap: how far LLM user simulators are from real users.
//!
//! Stages, each a library function first and a CLI subcommand second:
//! [`ingest`] (transcripts -> `conversations.parquet`), then features, cluster, divergence and report as they land.
//! [`pipeline`] turns a TOML pipeline file into stage parameters and keeps the output folder's manifest;
//! [`synth`] generates a seeded demo and scale corpus.

pub mod atomic;
pub mod features;
pub mod ingest;
pub mod pipeline;
pub mod progress;
pub mod synth;
