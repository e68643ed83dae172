//! Write-then-rename for every output file, so a crash never leaves a half-written table where a good one stood.
//!
//! Consumes: the final path of an output. Produces: a temporary sibling path to write to (`NAME.tmp`), renamed
//! over the final path by [`AtomicPath::commit`]; a value dropped without commit removes its temporary file.
//! Failure injection: with `SIMGAP_FAIL_COMMIT=NAME` in the environment, committing any file whose path ends with
//! NAME (whole components: `tables/main.csv`) fails with an I/O error, as a full disk would. The end-to-end tests
//! fail runs at each output this way (`tests/cli_nightly.rs`); nobody else sets it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The output name whose commit fails (`SIMGAP_FAIL_COMMIT`), read once.
static INJECTED_FAILURE: LazyLock<Option<PathBuf>> =
    LazyLock::new(|| std::env::var_os("SIMGAP_FAIL_COMMIT").filter(|v| !v.is_empty()).map(PathBuf::from));

/// An output path written through a temporary sibling.
#[derive(Debug)]
pub struct AtomicPath {
    final_path: PathBuf,
    temp_path: PathBuf,
    committed: bool,
}

impl AtomicPath {
    pub fn new(final_path: impl Into<PathBuf>) -> Self {
        let final_path = final_path.into();
        let mut name = final_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".tmp");
        let temp_path = final_path.with_file_name(name);
        Self { final_path, temp_path, committed: false }
    }

    /// Where to write.
    pub fn temp(&self) -> &Path {
        &self.temp_path
    }

    /// Where it ends up.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes the temporary file to disk and renames it into place.
    pub fn commit(self) -> io::Result<()> {
        self.finish(true)
    }

    /// Renames the temporary file into place without waiting for the disk: as safe as [`commit`](Self::commit)
    /// against a killed process, not against a power cut. For files whose reader checks them and can rebuild them
    /// (the ingest cache's parts), where a flush per file would cost more than the work.
    pub fn commit_unsynced(self) -> io::Result<()> {
        self.finish(false)
    }

    fn finish(mut self, sync: bool) -> io::Result<()> {
        if let Some(name) = INJECTED_FAILURE.as_deref()
            && self.final_path.ends_with(name)
        {
            return Err(io::Error::other(format!(
                "{}: failure injected by SIMGAP_FAIL_COMMIT",
                self.final_path.display()
            )));
        }
        if sync {
            std::fs::File::open(&self.temp_path)?.sync_all()?;
        }
        std::fs::rename(&self.temp_path, &self.final_path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicPath {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = AtomicPath::new(path);
    std::fs::write(target.temp(), bytes)?;
    target.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_without_commit_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, "old").unwrap();
        {
            let target = AtomicPath::new(&path);
            std::fs::write(target.temp(), "half").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(!dir.path().join("t.json.tmp").exists());
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
