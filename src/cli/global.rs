//! Flags every subcommand takes (`-v`, `-q`, `--threads`, `--log-format`).
//!
//! Consumes: the command line, through clap. Produces: [`GlobalArgs`], which every subcommand's `run` reads.

use clap::Args;

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output (-v debug, -vv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors; no progress bars and no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Worker threads for parallel stages (default: every core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Log format: `text` for people, `json` (one object per line) for schedulers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
