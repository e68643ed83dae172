//! simgap: how far LLM user simulators are from real users.
//!
//! Stages, each a library function first and a CLI subcommand second:
//! [`ingest`] (transcripts -> `conversations.parquet`), [`features`] (-> `features.parquet`), [`cluster`] (-> codebooks
//! and `assignments.parquet`), [`divergence`] (-> divergence, pairwise, mixture, cluster and USI tables), [`report`]
//! (-> paper tables, figures and an HTML page).
//! [`pipeline`] turns a TOML pipeline file into stage parameters and decides which stages a rerun skips;
//! [`synth`] generates a seeded demo and scale corpus; [`cli`] is the command line (one file per subcommand), in the
//! library so that every driver (the `simgap` binary, the Python package) runs the same commands.
//! Low-level rooms that import no stage: [`atomic`] (write-then-rename), [`exact_sum`] (order-free float sums),
//! [`hashing`], [`manifest`] (the output folder's `manifest.json`), [`prefetch`] (read the next batch while
//! working on this one), [`progress`], [`repeated`] (settings lists must
//! not repeat), [`table`] (Parquet writer settings).

pub mod atomic;
pub mod cli;
pub mod cluster;
pub mod divergence;
pub mod exact_sum;
pub mod features;
pub mod hashing;
pub mod ingest;
pub mod manifest;
pub mod pipeline;
pub mod prefetch;
pub mod progress;
pub mod repeated;
pub mod report;
pub mod synth;
pub mod table;
