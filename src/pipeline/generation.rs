//! Outputs that switch as one set: each `simgap run` writes a new generation of the output folder where readers do
//! not look, and makes it current in one atomic step.
//!
//! Consumes: the output folder OUT, under the lock (`OUT/.lock`) that `incremental::Session` holds.
//! Produces: `OUT/.generations/<n>/`, the run's working folder ([`begin`]), first filled with hard links to the
//! current generation's files, so the outputs of skipped stages carry over without a copy (every writer replaces a
//! file by renaming a new one over it, so nothing writes into an older generation through a link). [`switch`]
//! makes it current by renaming a new symlink over `OUT/current` (atomic), and keeps one stable symlink per
//! top-level output (`OUT/tables -> current/tables`, `OUT/manifest.json -> current/manifest.json`, ...), so the
//! paths users read do not change.
//! Readers: any path opened through OUT resolves to one whole generation: yesterday's or today's, never a mix. A
//! reader of several files that must come from the same set resolves `OUT/current` once (`realpath`) and reads
//! under it: the generation before the current one is kept until the next switch.
//! Deleting `OUT/<output>` (the symlink) or a file under `OUT/tables/` leaves it out of the next generation, so its
//! stage runs again.
//! Invariants: generations are numbered upwards and no number is used twice; all but the current one and the one
//! current before it are removed under the lock, when a run begins (what a killed or failed run left: a failed
//! run's stays until then, for inspection) and after a switch.
//! Takeover: a folder whose `manifest.json` is a plain file (written by a simgap without generations, or by a
//! single-stage command) is simgap's: its recorded outputs seed the first generation, and its files give way to
//! the symlinks at the switch. In any other folder a file where a symlink must go stops the switch.
//! Cost: one hard link per output file (about a hundred) per run; no data is copied unless the file system refuses
//! hard links.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::ingest::cache::CACHE_ROOT;
use crate::manifest::MANIFEST_FILE;

/// The lock file inside OUT, held by the run that writes it (see `incremental::Session`).
pub const LOCK_FILE: &str = ".lock";
/// The folder of generations inside OUT.
pub const GENERATIONS_DIR: &str = ".generations";
/// The symlink inside OUT that names the current generation.
pub const CURRENT: &str = "current";

/// Entries of OUT that are not outputs of a generation.
const NOT_OUTPUTS: [&str; 4] = [LOCK_FILE, GENERATIONS_DIR, CURRENT, CACHE_ROOT];

/// Prepares the next generation of `out`: removes what earlier runs left (generations other than the current one
/// and the one current before it, a half-made `current.tmp`), creates `.generations/<n + 1>/` and fills it with
/// hard links to the current generation's files (or, in a folder from before generations, to its top-level
/// outputs).
/// Returns the new generation's folder.
pub fn begin(out: &Path) -> io::Result<PathBuf> {
    let generations = out.join(GENERATIONS_DIR);
    std::fs::create_dir_all(&generations).map_err(|e| named(&generations, e))?;
    remove_if_present(&out.join(format!("{CURRENT}.tmp")))?;
    // Numbered past every generation present, a killed run's included, so no number names two sets.
    let next = numbered(out)?.into_iter().max().map_or(1, |n| n + 1);
    prune(out)?;
    let generation = generations.join(next.to_string());
    std::fs::create_dir(&generation).map_err(|e| named(&generation, e))?;
    match current(out) {
        Some(current) => {
            // A top-level output whose symlink the user deleted is left out, so its stage runs again.
            let current = generations.join(current.to_string());
            for entry in std::fs::read_dir(&current).map_err(|e| named(&current, e))?.flatten() {
                if std::fs::symlink_metadata(out.join(entry.file_name())).is_ok() {
                    link_tree(&entry.path(), &generation.join(entry.file_name()))?;
                }
            }
        }
        None => {
            for name in legacy_outputs(out) {
                let path = out.join(&name);
                if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_symlink()) {
                    link_tree(&path, &generation.join(&name))?;
                }
            }
        }
    }
    Ok(generation)
}

/// Whether OUT holds plain outputs of simgap's: a `manifest.json` that is a plain file (a simgap without
/// generations, or a single-stage command, wrote it). Its files with the names of outputs are simgap's to replace.
fn written_by_simgap(out: &Path) -> bool {
    std::fs::symlink_metadata(out.join(MANIFEST_FILE)).is_ok_and(|m| m.is_file())
}

/// The top-level outputs of a folder written by a simgap without generations: `manifest.json`, when it is a plain
/// file, and the first component of every output its stages recorded. Only these are seeded into the first
/// generation and replaced by symlinks; anything else of the user's in OUT is left alone.
fn legacy_outputs(out: &Path) -> Vec<OsString> {
    let path = out.join(MANIFEST_FILE);
    if !written_by_simgap(out) {
        return Vec::new();
    }
    let manifest: serde_json::Value =
        std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
    let mut names = vec![OsString::from(MANIFEST_FILE)];
    let stages = manifest.get("stages").and_then(|s| s.as_object()).into_iter().flatten();
    for outputs in stages.filter_map(|(_, section)| section.get("outputs")?.as_object()) {
        for file in outputs.keys() {
            let first = Path::new(file).components().next().map(|c| c.as_os_str().to_owned());
            if let Some(first) = first.filter(|f| !names.contains(f) && !NOT_OUTPUTS.iter().any(|n| f == n)) {
                names.push(first);
            }
        }
    }
    names
}

/// Makes `generation` (made by [`begin`]) the current one: flushes its folders, renames a new `current` symlink
/// over the old one, points one symlink per top-level output at `current/`, removes those whose output is gone,
/// and prunes the generations older than the one before.
pub fn switch(out: &Path, generation: &Path) -> io::Result<()> {
    let name = generation.file_name().ok_or_else(|| named(generation, io::ErrorKind::InvalidInput.into()))?;
    // Nothing of the user's is replaced: every place a symlink will take is free, a symlink, or a file of a folder
    // simgap wrote before generations. Checked before the switch, so a refusal leaves the current set.
    let simgaps = written_by_simgap(out);
    let entries: Vec<OsString> =
        std::fs::read_dir(generation).map_err(|e| named(generation, e))?.flatten().map(|e| e.file_name()).collect();
    for name in &entries {
        let link = out.join(name);
        let taken = std::fs::symlink_metadata(&link).is_ok_and(|m| !m.file_type().is_symlink());
        if taken && !simgaps {
            let message = format!("{} is not simgap's: move it, or give another output folder", link.display());
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, message));
        }
    }
    sync_tree(generation)?;
    let pointer = Path::new(GENERATIONS_DIR).join(name);
    replace_with_symlink(&pointer, &out.join(CURRENT))?;
    sync_folder(out);
    for name in &entries {
        let link = out.join(name);
        let target = Path::new(CURRENT).join(name);
        if std::fs::read_link(&link).is_ok_and(|t| t == target) {
            continue;
        }
        // A folder from before generations: the plain folder gives way to the symlink.
        if std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&link).map_err(|e| named(&link, e))?;
        }
        replace_with_symlink(&target, &link)?;
    }
    for entry in std::fs::read_dir(out).map_err(|e| named(out, e))?.flatten() {
        let into_current = std::fs::read_link(entry.path()).is_ok_and(|t| t.starts_with(CURRENT));
        if into_current && !entries.contains(&entry.file_name()) {
            remove_if_present(&entry.path())?;
        }
    }
    sync_folder(out);
    prune(out)
}

/// The number of the current generation, if `OUT/current` names one.
pub fn current(out: &Path) -> Option<u64> {
    let target = std::fs::read_link(out.join(CURRENT)).ok()?;
    target.file_name()?.to_str()?.parse().ok()
}

/// The numbers of the generations present.
fn numbered(out: &Path) -> io::Result<Vec<u64>> {
    let generations = out.join(GENERATIONS_DIR);
    let entries = std::fs::read_dir(&generations).map_err(|e| named(&generations, e))?;
    Ok(entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
}

/// Removes every generation but the current one and the one current before it: the newest one below it whose
/// manifest says its run completed (a failed or killed run's never does). Anything else in the folder of generations
/// goes too.
fn prune(out: &Path) -> io::Result<()> {
    let current = current(out);
    let mut numbers = numbered(out)?;
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    let generations = out.join(GENERATIONS_DIR);
    let completed = |n: u64| {
        let manifest = std::fs::read(generations.join(n.to_string()).join(MANIFEST_FILE)).unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&manifest).is_ok_and(|m| m["last_run"]["complete"] == true)
    };
    let previous = current.and_then(|c| numbers.iter().copied().filter(|&n| n < c).find(|&n| completed(n)));
    for entry in std::fs::read_dir(&generations).map_err(|e| named(&generations, e))?.flatten() {
        let number: Option<u64> = entry.file_name().to_str().and_then(|n| n.parse().ok());
        if number.is_none() || (number != current && number != previous) {
            let path = entry.path();
            let removed =
                if entry.file_type()?.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(|e| named(&path, e))?;
        }
    }
    Ok(())
}

/// Mirrors `from` at `to`: folders made, files hard-linked (copied where the file system refuses), temporary files
/// of a killed writer left out.
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    let kind = std::fs::symlink_metadata(from).map_err(|e| named(from, e))?.file_type();
    if kind.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| named(to, e))?;
        for entry in std::fs::read_dir(from).map_err(|e| named(from, e))?.flatten() {
            if !is_temporary(&entry.file_name().to_string_lossy()) {
                link_tree(&entry.path(), &to.join(entry.file_name()))?;
            }
        }
    } else if kind.is_file() && std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| named(from, e))?;
    }
    Ok(())
}

/// Flushes every file and folder of a generation to disk, so a power cut after the switch finds it whole. Files
/// written by [`crate::atomic::AtomicPath::commit`] are flushed already; this adds the folders' entries.
fn sync_tree(path: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(path).map_err(|e| named(path, e))?.flatten() {
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    sync_folder(path);
    Ok(())
}

/// Flushes a folder's entries; file systems that cannot (some network ones) are left to their own guarantees.
fn sync_folder(path: &Path) {
    if let Ok(folder) = std::fs::File::open(path) {
        let _ = folder.sync_all();
    }
}

/// Points `link` at `target` in one step: a new symlink under a temporary name, renamed over `link`.
fn replace_with_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let mut temporary = link.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    remove_if_present(&temporary)?;
    std::os::unix::fs::symlink(target, &temporary).map_err(|e| named(&temporary, e))?;
    std::fs::rename(&temporary, link).map_err(|e| named(link, e))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(named(path, e)),
        _ => Ok(()),
    }
}

/// A writer's temporary name (`*.tmp`, and `*.tmp.png` for figures).
fn is_temporary(name: &str) -> bool {
    name.ends_with(".tmp") || name.ends_with(".tmp.png")
}

/// The error with the path it concerns in its message.
fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn a_generation_becomes_visible_only_at_the_switch_and_older_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let first = begin(out).unwrap();
        write(&first.join("tables/main.csv"), "one");
        write(&first.join("manifest.json"), r#"{"last_run": {"complete": true}}"#);
        assert!(!out.join("tables").exists(), "nothing visible before the switch");
        switch(out, &first).unwrap();
        assert_eq!(read(&out.join("tables/main.csv")), "one");
        assert_eq!(current(out), Some(1));

        // The next generation starts as links to the current files; a rewrite (rename over) leaves them alone.
        let second = begin(out).unwrap();
        assert_eq!(read(&second.join("tables/main.csv")), "one");
        write(&second.join("tables/main.csv.tmp"), "two");
        std::fs::rename(second.join("tables/main.csv.tmp"), second.join("tables/main.csv")).unwrap();
        write(&second.join("figures/a.svg"), "svg");
        assert_eq!(read(&out.join("tables/main.csv")), "one", "still the first set");
        assert!(!out.join("figures").exists());
        switch(out, &second).unwrap();
        assert_eq!(read(&out.join("tables/main.csv")), "two");
        assert_eq!(read(&out.join("figures/a.svg")), "svg");

        // A third generation without figures: the symlink goes; the first generation is pruned, the second kept.
        let third = begin(out).unwrap();
        std::fs::remove_dir_all(third.join("figures")).unwrap();
        switch(out, &third).unwrap();
        assert!(std::fs::symlink_metadata(out.join("figures")).is_err());
        let mut kept = numbered(out).unwrap();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3]);
    }

    #[test]
    fn a_failed_or_killed_generation_is_never_visible_and_is_removed_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let first = begin(out).unwrap();
        write(&first.join("report.html"), "good");
        switch(out, &first).unwrap();
        let killed = begin(out).unwrap();
        write(&killed.join("report.html.tmp"), "half");
        std::fs::rename(killed.join("report.html.tmp"), killed.join("report.html")).unwrap();
        assert_eq!(read(&out.join("report.html")), "good");
        let next = begin(out).unwrap();
        assert!(!killed.exists(), "the killed run's generation is removed");
        assert_eq!(read(&next.join("report.html")), "good", "seeded from the current set, not the killed one");
        assert_eq!(next.file_name().unwrap(), "3", "a number is never reused");
    }

    #[test]
    fn a_folder_from_before_generations_seeds_the_first_and_gives_way_to_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        write(&out.join("tables/main.csv"), "old");
        write(&out.join("manifest.json"), r#"{"stages": {"report": {"outputs": {"tables/main.csv": "ab"}}}}"#);
        write(&out.join("notes.txt"), "the user's");
        write(&out.join(".lock"), "");
        write(&out.join("features.parquet.tmp"), "half");
        let generation = begin(out).unwrap();
        assert_eq!(read(&generation.join("tables/main.csv")), "old");
        assert!(!generation.join(".lock").exists() && !generation.join("features.parquet.tmp").exists());
        assert!(!generation.join("notes.txt").exists(), "only what the manifest names is simgap's");
        write(&generation.join("tables/main.csv.tmp"), "new");
        std::fs::rename(generation.join("tables/main.csv.tmp"), generation.join("tables/main.csv")).unwrap();
        switch(out, &generation).unwrap();
        assert_eq!(read(&out.join("tables/main.csv")), "new");
        assert!(std::fs::symlink_metadata(out.join("tables")).unwrap().file_type().is_symlink());
        assert!(std::fs::symlink_metadata(out.join("manifest.json")).unwrap().file_type().is_symlink());
        assert_eq!(read(&out.join("notes.txt")), "the user's");
    }

    #[test]
    fn a_user_file_where_an_output_goes_stops_the_switch_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        write(&out.join("report.html"), "the user's own page");
        let generation = begin(out).unwrap();
        write(&generation.join("report.html"), "simgap's");
        let error = switch(out, &generation).unwrap_err();
        assert!(error.to_string().contains("report.html is not simgap's"), "{error}");
        assert_eq!(read(&out.join("report.html")), "the user's own page");
        assert_eq!(current(out), None);
    }
}
