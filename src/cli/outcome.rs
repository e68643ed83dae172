//! How a command ends: its outcome and error as an exit code and one line of text, and its output on stdout.
//!
//! Consumes: a command's result. Produces: the exit code (0 success, 1 failure, 2 bad configuration or usage,
//! 3 success with rejected records), the error line, and stdout text that stops quietly when the reader has gone
//! (`simgap features --list | head -1` exits 0, as `rg` and `xsv` do).

use std::io::Write;
use std::process::ExitCode;

use crate::cluster::ClusterError;
use crate::cluster::kmeans::KMeansError;
use crate::divergence::DivergenceError;
use crate::features::FeaturesError;
use crate::ingest::IngestError;
use crate::pipeline::config::ConfigError;
use crate::pipeline::shards::ShardError;
use crate::report::ReportError;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    WithRejects,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::WithRejects => ExitCode::from(3),
        }
    }
}

/// The error and its causes, joined by ": ", leaving out a cause whose text the message already holds (errors that
/// name their path and print their source, such as `{path}: {source}`, would otherwise say it twice).
pub fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

/// 2 for configuration and usage errors, 1 for everything else.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    let usage = error.chain().any(|cause| {
        cause.downcast_ref::<ConfigError>().is_some()
            || cause.downcast_ref::<IngestError>().is_some_and(IngestError::is_usage)
            || cause.downcast_ref::<FeaturesError>().is_some_and(FeaturesError::is_usage)
            || cause.downcast_ref::<ClusterError>().is_some_and(ClusterError::is_usage)
            || cause.downcast_ref::<DivergenceError>().is_some_and(DivergenceError::is_usage)
            || cause.downcast_ref::<ReportError>().is_some_and(ReportError::is_usage)
            || cause.downcast_ref::<ShardError>().is_some_and(|e| matches!(e, ShardError::Config(_)))
            || cause.downcast_ref::<KMeansError>().is_some_and(|e| !matches!(e, KMeansError::Linfa(_)))
    });
    ExitCode::from(if usage { 2 } else { 1 })
}

/// Writes `text` to stdout. A reader that has closed the pipe (`| head`) ends the output quietly: that is success.
pub fn print_to_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_says_each_cause_once() {
        let io = std::io::Error::other("No space left on device");
        let error = anyhow::Error::new(io).context("out/manifest.json: No space left on device").context("writing out");
        assert_eq!(describe(&error), "writing out: out/manifest.json: No space left on device");
    }
}
