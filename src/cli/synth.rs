//! `simgap synth --out DIR`: a seeded synthetic corpus and a pipeline file that reads it.

use std::path::PathBuf;

use anyhow::Context;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::synth::SynthParams;
use crate::synth::profiles::{self, DEFAULT_SIMULATORS};

/// Generate a synthetic corpus: one human source and simulators with different behaviour profiles.
///
/// Reads nothing: needs no data from outside.
/// Writes: DIR/humans.jsonl (canonical JSONL), DIR/sim-*.jsonl (OpenAI-style messages, one file per simulator)
/// and DIR/pipeline.toml, which lists every source (`simgap run DIR/pipeline.toml`). The first three simulators
/// are the built-in profiles (sim-polite-verbose, sim-terse-impatient, sim-near-human); further ones are variants of
/// them in turn with jittered probabilities (sim-polite-verbose-04, sim-terse-impatient-05, ...).
/// The same --seed, --conversations and --simulators give byte-identical files.
/// Cost: about a second per 100,000 conversations (roughly 1 KB each), streamed to disk in bounded memory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Conversations in all: 40% human, the rest split evenly across the simulators.
    #[arg(long, default_value_t = 1000)]
    pub conversations: u64,
    /// Simulator sources, 1 to 65,535: the three built-in profiles first, then variants of them.
    #[arg(long, default_value_t = DEFAULT_SIMULATORS as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub simulators: u16,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let params = SynthParams {
        out_dir: args.out.clone(),
        conversations: args.conversations,
        seed: args.seed,
        profiles: profiles::profiles(usize::from(args.simulators)),
    };
    let report = params.run().with_context(|| format!("writing the corpus into {}", args.out.display()))?;
    if !global.quiet {
        for file in &report.files {
            eprintln!("{}: {} conversations", file.path.display(), file.conversations);
        }
        eprintln!("pipeline: {}", report.pipeline.display());
    }
    Ok(Outcome::Clean)
}
