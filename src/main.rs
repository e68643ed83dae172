//! simgap's command line: the subcommands live in the library's `cli/` (one file each, shared with the Python
//! package), the stages they drive beside them (`simgap::ingest`, ...). `main` maps the outcome to an exit code:
//! 0 success, 1 failure, 2 bad configuration or usage, 3 success with rejected records.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use simgap::cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::logging::init(&args.global);
    if let Some(threads) = args.global.threads {
        // Fails only if a pool exists already, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let result = cli::execute(args.command, &args.global);
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("error: {}", cli::outcome::describe(&error));
            cli::outcome::exit_code_for(&error)
        }
    }
}
