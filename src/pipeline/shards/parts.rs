//! The parts folder of a sharded run: the shard `I/N`, where each round's shard files and the merged results live,
//! what the merges have done so far, and the errors of a sharded run.
//!
//! Consumes: a parts folder's path. Produces: the paths of every file a shard or a merge reads or writes, and the
//! merge state (`merged/state.json`). Reads and writes nothing else.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Rounds of a sharded run, in order.
pub const ROUNDS: [&str; 5] = ["ingest", "frequencies", "features", "sample", "assign"];
/// The folder of merged results inside the parts folder.
pub const MERGED_DIR: &str = "merged";
/// What the last merge did.
const STATE_FILE: &str = "state.json";

/// One shard of N: `I/N`, 0 <= I < N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a shard: give I/N with 0 <= I < N (e.g. 0/4), as Slurm's array index");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard's part of `0..total`: a contiguous range, the parts of all shards covering it in order.
    pub fn range(&self, total: u64) -> std::ops::Range<u64> {
        let at = |i: usize| (total as u128 * i as u128 / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }

    pub(super) fn stem(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }
}

/// What went wrong, for the CLI's exit codes: `Config` is the user's call (exit 2), the others the data's or the
/// disk's (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Missing(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Stage(#[from] anyhow::Error),
}

pub(super) fn io_error(path: &Path, error: impl std::fmt::Display) -> ShardError {
    ShardError::Io { path: path.to_owned(), message: error.to_string() }
}

/// What the merges have done so far, in `PARTS/merged/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct MergeState {
    /// Rounds merged (0 to 5).
    pub merged: usize,
    pub shards: usize,
    /// SHA-256 of the pipeline file: parts of another pipeline are refused.
    pub pipeline: String,
}

/// The parts folder: where each round's shard files and the merged results are.
#[derive(Debug, Clone)]
pub struct Parts {
    pub dir: PathBuf,
}

impl Parts {
    pub fn new(dir: PathBuf) -> Self {
        Parts { dir }
    }

    /// The default parts folder of an output folder.
    pub fn default_for(out_dir: &Path) -> PathBuf {
        out_dir.join(".shards")
    }

    pub fn merged(&self) -> PathBuf {
        self.dir.join(MERGED_DIR)
    }

    pub(super) fn round_dir(&self, round: usize) -> PathBuf {
        self.dir.join(format!("{}-{}", round + 1, ROUNDS[round]))
    }

    /// The file of a shard's partial result of `round`, ending in `suffix`.
    pub(super) fn shard_file(&self, round: usize, shard: Shard, suffix: &str) -> PathBuf {
        self.round_dir(round).join(format!("{}{suffix}", shard.stem()))
    }

    /// The file a shard writes last: its round is done when this exists.
    pub(super) fn done_file(&self, round: usize, shard: Shard) -> PathBuf {
        self.shard_file(round, shard, ".done.json")
    }

    pub(super) fn state(&self) -> Result<Option<MergeState>, ShardError> {
        let path = self.merged().join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| io_error(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    pub(super) fn write_state(&self, state: &MergeState) -> Result<(), ShardError> {
        let path = self.merged().join(STATE_FILE);
        let text = serde_json::to_string_pretty(state).map_err(|e| io_error(&path, e))?;
        crate::atomic::write_atomic(&path, text.as_bytes()).map_err(|e| io_error(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_what_is_not_one() {
        assert_eq!("2/7".parse::<Shard>(), Ok(Shard { index: 2, count: 7 }));
        for bad in ["7/7", "1/0", "a/3", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_cover_the_rows_in_order_without_overlap() {
        for total in [0u64, 1, 6, 560, 1_000_003] {
            for count in [1usize, 3, 7, 64] {
                let mut next = 0;
                for index in 0..count {
                    let range = Shard { index, count }.range(total);
                    assert_eq!(range.start, next);
                    assert!(range.end >= range.start);
                    next = range.end;
                }
                assert_eq!(next, total);
            }
        }
    }
}
