//! simgap's command line, as a table of contents: the subcommands live in `cli/`, one file each; the stages they
//! drive live in the library (`simgap::ingest`, ...). `main` maps the outcome to an exit code:
//! 0 success, 1 failure, 2 bad configuration or usage, 3 success with rejected records.

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::logging::init(&args.global);
    if let Some(threads) = args.global.threads {
        // Fails only if a pool exists already, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let result = match args.command {
        cli::Command::Ingest(command) => cli::ingest::run(command, &args.global),
        cli::Command::Features(command) => cli::features::run(command, &args.global),
        cli::Command::Cluster(command) => cli::cluster::run(command, &args.global),
        cli::Command::Divergence(command) => cli::divergence::run(command, &args.global),
        cli::Command::Kmeans(command) => cli::kmeans::run(command, &args.global),
        cli::Command::Report(command) => cli::report::run(command, &args.global),
        cli::Command::Run(command) => cli::run::run(command, &args.global),
        cli::Command::Synth(command) => cli::synth::run(command, &args.global),
        cli::Command::Init(command) => cli::init::run(command, &args.global),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("error: {}", cli::outcome::describe(&error));
            cli::outcome::exit_code_for(&error)
        }
    }
}
