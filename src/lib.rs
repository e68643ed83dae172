//! simgap: how far LLM user simulators are from real users.
//!
//! Stages, each a library function first and a CLI subcommand second:
//! [`ingest`] (transcripts -> `conversations.parquet`), [`features`] (-> `features.parquet`), [`cluster`] (-> codebooks
//! and `assignments.parquet`), [`divergence`] (-> divergence, pairwise, mixture, cluster and USI tables), [`report`]
//! (-> paper tables, figures and an HTML page).
//! [`pipeline`] turns a TOML pipeline file into stage parameters and keeps the output folder's manifest;
//! [`synth`] generates a seeded demo and scale corpus.

pub mod atomic;
pub mod cluster;
pub mod divergence;
pub mod features;
pub mod ingest;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod synth;
pub mod table;
