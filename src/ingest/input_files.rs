//! Resolving an `[[input]]` path (file, folder or glob) to the files it names, and opening them.
//!
//! Consumes: an input's path string and its format. Produces: a sorted, deduplicated list of [`InputFile`]s, each
//! with the name it carries in every output (relative to the pipeline folder, so tables do not depend on the
//! working directory) and its name relative to the input's root (the id of one-file-per-conversation formats).
//! A `.zip` file stands for the entries inside it that have the format's extensions. A path or glob that matches
//! nothing is an error, not an empty result. Only regular files are read: a FIFO, socket or device with a matching
//! name would block or never end, so it is skipped with a warning, as is a dangling symlink; a folder reached twice
//! through symlinks is walked once. The run's own output folder is never read as input, even inside an input folder
//! (its rejects and cache would otherwise grow run after run).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::error::IngestError;
use super::record::Format;

/// One file to read (or one entry of a zip archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Where it is on disk (the archive, for a zip entry).
    pub disk_path: PathBuf,
    /// The entry inside the archive, for a zip entry.
    pub zip_entry: Option<String>,
    /// The name used in outputs: relative to the pipeline folder, `archive.zip!/entry` for zip entries.
    pub display: String,
    /// Relative to the input's root folder, without extension: `User_8/gifts/1` for `root/User_8/gifts/1.json`.
    pub relative_stem: String,
}

impl InputFile {
    /// The file's whole content (documents: JSON arrays and objects).
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open()?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// A buffered reader over the file's content (line formats stream through it).
    /// A leading UTF-8 byte-order mark (Windows and spreadsheet exports) is skipped.
    pub fn open(&self) -> io::Result<Box<dyn BufRead + Send>> {
        let file = File::open(&self.disk_path)?;
        let mut reader: Box<dyn BufRead + Send> = match &self.zip_entry {
            None => Box::new(BufReader::with_capacity(1 << 20, file)),
            Some(entry) => {
                let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(io::Error::other)?;
                let mut bytes = Vec::new();
                archive.by_name(entry).map_err(io::Error::other)?.read_to_end(&mut bytes)?;
                Box::new(io::Cursor::new(bytes))
            }
        };
        if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
        }
        Ok(reader)
    }

    /// Size on disk in bytes (of the archive, for a zip entry), for progress.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::metadata(&self.disk_path).map(|m| m.len()).unwrap_or(0)
    }
}

/// The files an input path names, sorted by path. `base_dir` is the pipeline file's folder; nothing under
/// `out_dir` (the run's output folder) is taken.
pub fn resolve(pattern: &str, format: Format, base_dir: &Path, out_dir: &Path) -> Result<Vec<InputFile>, IngestError> {
    let joined = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base_dir.join(pattern) };
    let no_match = || IngestError::NoMatch { pattern: pattern.to_owned(), resolved: joined.clone() };
    let (root, mut paths) = if has_glob_chars(pattern) {
        let text = joined.to_string_lossy().into_owned();
        let entries = glob::glob(&text)
            .map_err(|e| IngestError::BadGlob { pattern: pattern.to_owned(), message: e.to_string() })?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = match entry {
                Ok(path) => path,
                // A symlink loop under `**`: the glob follows it until the system refuses (ELOOP).
                Err(e) if e.error().raw_os_error() == Some(ELOOP) => {
                    tracing::warn!(path = %e.path().display(), "symlink loop: not followed further");
                    continue;
                }
                Err(e) => {
                    return Err(IngestError::Io { path: e.path().to_owned(), source: io::Error::other(e.to_string()) });
                }
            };
            if is_regular_file(&path) {
                paths.push(path);
            }
        }
        (glob_root(&joined), paths)
    } else if joined.is_dir() {
        let mut paths = Vec::new();
        walk(&joined, format, &mut paths, &mut Vec::new())?;
        (joined.clone(), paths)
    } else if joined.is_file() {
        let root = joined.parent().map(Path::to_path_buf).unwrap_or_default();
        (root, vec![joined.clone()])
    } else {
        return Err(no_match());
    };
    paths.sort();
    paths.dedup();
    // One file reached by several paths (symlinks, a loop under `**`) is read once, under its first name.
    let mut canonical_seen = std::collections::HashSet::new();
    paths.retain(|path| canonical_seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())));
    let outputs = out_dir.canonicalize().unwrap_or_else(|_| out_dir.to_path_buf());
    let before = paths.len();
    paths.retain(|path| !path.canonicalize().is_ok_and(|p| p.starts_with(&outputs)));
    if paths.len() < before {
        tracing::warn!(
            input = pattern,
            output = %out_dir.display(),
            "the output folder lies inside this input: its {} files are not read as input",
            before - paths.len()
        );
    }
    let mut files = Vec::new();
    for path in paths {
        let display = display_name(&path, base_dir);
        let relative = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
            files.extend(zip_entries(&path, &display, &relative, format)?);
        } else {
            files.push(InputFile { relative_stem: stem_of(&relative), disk_path: path, zip_entry: None, display });
        }
    }
    if files.is_empty() {
        return Err(no_match());
    }
    Ok(files)
}

fn has_glob_chars(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The longest leading part of a glob with no wildcard in it.
fn glob_root(pattern: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for part in pattern.components() {
        if has_glob_chars(&part.as_os_str().to_string_lossy()) {
            break;
        }
        root.push(part);
    }
    root
}

/// Linux's "too many levels of symbolic links".
const ELOOP: i32 = 40;

/// A regular file (through symlinks); anything else with a matching name is skipped with a warning.
fn is_regular_file(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => true,
        Ok(meta) if meta.is_dir() => false,
        Ok(_) => {
            tracing::warn!(path = %path.display(), "not a regular file (a FIFO, socket or device): skipped");
            false
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable entry (a dangling symlink?): skipped");
            false
        }
    }
}

/// Every file below `dir` with the format's extensions; `seen` holds the folders already walked (canonical), so a
/// symlink loop is walked once.
fn walk(dir: &Path, format: Format, out: &mut Vec<PathBuf>, seen: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let io_error = |source| IngestError::Io { path: dir.to_owned(), source };
    let canonical = dir.canonicalize().map_err(io_error)?;
    if seen.contains(&canonical) {
        return Ok(());
    }
    seen.push(canonical);
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        if path.is_dir() {
            walk(&path, format, out, seen)?;
        } else if has_extension(&path, format.extensions()) && is_regular_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn display_name(path: &Path, base_dir: &Path) -> String {
    let shown = path.strip_prefix(base_dir).unwrap_or(path);
    shown.to_string_lossy().replace('\\', "/")
}

fn stem_of(relative: &Path) -> String {
    relative.with_extension("").to_string_lossy().replace('\\', "/")
}

fn zip_entries(path: &Path, display: &str, relative: &Path, format: Format) -> Result<Vec<InputFile>, IngestError> {
    let io_error = |source| IngestError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_error)?;
    let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| io_error(io::Error::other(e)))?;
    let extensions: Vec<&str> = format.extensions().iter().copied().filter(|e| *e != "zip").collect();
    let mut names = Vec::new();
    for name in archive.file_names() {
        let name = name.map_err(|e| io_error(io::Error::other(e)))?;
        if !name.ends_with('/') && has_extension(Path::new(name.as_ref()), &extensions) {
            names.push(name.into_owned());
        }
    }
    if names.is_empty() {
        // Not "matches no file": the archive is there, but holds nothing of the format (found by fuzzing).
        let wanted = extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(" or ");
        return Err(io_error(io::Error::other(format!("the zip archive holds no {wanted} entry"))));
    }
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| InputFile {
            disk_path: path.to_owned(),
            display: format!("{display}!/{name}"),
            relative_stem: format!("{}/{}", stem_of(relative), stem_of(Path::new(&name))),
            zip_entry: Some(name),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_without_entries_of_the_format_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("val.json.zip");
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        writer.start_file("notes.txt", zip::write::SimpleFileOptions::default()).unwrap();
        io::Write::write_all(&mut writer, b"not json").unwrap();
        writer.finish().unwrap();
        let error = resolve("val.json.zip", Format::Multiwoz, dir.path(), &dir.path().join("out")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("val.json.zip") && message.contains("holds no .json entry"), "{message}");
        assert!(!error.is_usage(), "bad data, not bad configuration");
    }

    #[test]
    fn folder_takes_format_extensions_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        for name in ["b/2.json", "a.json", "notes.txt"] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        let files = resolve("in", Format::RecLlmSim, dir.path(), &dir.path().join("out")).unwrap_err();
        assert!(matches!(files, IngestError::NoMatch { .. }));
        let files = resolve(".", Format::RecLlmSim, dir.path(), &dir.path().join("out")).unwrap();
        let stems: Vec<_> = files.iter().map(|f| f.relative_stem.as_str()).collect();
        assert_eq!(stems, ["a", "b/2"]);
    }

    #[test]
    fn glob_matching_nothing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve("*.jsonl", Format::Jsonl, dir.path(), &dir.path().join("out")).unwrap_err();
        assert!(err.to_string().contains("*.jsonl"), "{err}");
    }

    #[test]
    fn only_regular_files_outside_the_output_folder_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("out/cache")).unwrap();
        std::fs::write(root.join("a.jsonl"), "{}").unwrap();
        std::fs::write(root.join("out/rejects.jsonl"), "{}").unwrap();
        std::fs::write(root.join("out/cache/part.jsonl"), "{}").unwrap();
        // A FIFO would block the reader forever; a dangling symlink and a symlink loop have nothing to read.
        let made = std::process::Command::new("mkfifo").arg(root.join("pipe.jsonl")).status().unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink(root.join("missing.jsonl"), root.join("dangling.jsonl")).unwrap();
        std::os::unix::fs::symlink(root, root.join("loop")).unwrap();
        for pattern in [".", "*.jsonl", "**/*.jsonl"] {
            let files = resolve(pattern, Format::Jsonl, root, &root.join("out")).unwrap();
            let names: Vec<_> = files.iter().map(|f| f.display.as_str()).collect();
            assert_eq!(names, ["a.jsonl"], "{pattern}");
        }
    }

    #[test]
    fn glob_root_stops_at_first_wildcard() {
        assert_eq!(glob_root(Path::new("a/b/**/*.json")), PathBuf::from("a/b"));
    }

    #[test]
    fn display_is_relative_to_pipeline_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.jsonl"), "").unwrap();
        let files = resolve("x.jsonl", Format::Jsonl, dir.path(), &dir.path().join("out")).unwrap();
        assert_eq!(files[0].display, "x.jsonl");
        assert_eq!(files[0].relative_stem, "x");
    }
}
