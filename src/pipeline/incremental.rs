//! Nightly runs: `simgap run` skips the stages whose inputs and settings are unchanged, and survives being killed.
//!
//! Consumes: the output folder, the pipeline, and per stage the hashes of the files it reads. Produces: a
//! [`Session`] that holds the folder's lock, opens the run's generation of the output folder ([`super::generation`]:
//! stages write there, unseen, and [`Session::finish`] makes it current in one step), decides per stage whether to
//! run it ([`Plan`]), and records what each stage read and wrote in the generation's `manifest.json`.
//!
//! Fingerprint of a stage: SHA-256 over the stage's name, the simgap version, the stage's settings (its tables of the
//! pipeline file, as JSON with sorted keys: comments and layout do not count) and the SHA-256 of every file it reads
//! (the inputs for ingest; the earlier stages' outputs and any lexicon, embedding or difficulty file for the others).
//! A stage is skipped when its recorded fingerprint equals the new one and every output it recorded is still there
//! with the recorded hash. Since a stage's manifest section is written after its outputs, a run killed in between
//! leaves outputs whose hashes differ from the section (or a section without a fingerprint), and the next run does
//! the stage again. The report stage reads `manifest.json` too, but that file is left out of its fingerprint (it
//! changes on every run).
//!
//! Invariants: one `simgap run` per output folder at a time (an exclusive lock on `OUT/.lock`, released by the
//! operating system when the process ends, however it ends); temporary files (`*.tmp`) a killed run left behind are
//! removed when the next run starts. Cost: one SHA-256 pass over the inputs and over the recorded outputs of every
//! stage that might be skipped (about 1 GB/s).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::config::PipelineConfig;
use super::generation::{self, LOCK_FILE};
use crate::hashing::{sha256_bytes, sha256_file};
use crate::manifest;

/// What the log and `last_run` say of a stage that did not need to run.
pub const SKIPPED: &str = "skipped (unchanged)";

/// Folders of the output folder where stages write (and where a killed run may leave `*.tmp` files).
const OUTPUT_FOLDERS: [&str; 5] = ["", "codebooks", "tables", "figures", crate::ingest::cache::CACHE_DIR];

/// The stages `simgap run` runs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Ingest,
    Features,
    Cluster,
    Divergence,
    Report,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Features => "features",
            Stage::Cluster => "cluster",
            Stage::Divergence => "divergence",
            Stage::Report => "report",
        }
    }

    /// The pipeline file's tables that hold the stage's settings (the report names the divergence seed).
    fn tables(self) -> &'static [&'static str] {
        match self {
            Stage::Ingest => &["input", "ingest"],
            Stage::Features => &["features"],
            Stage::Cluster => &["cluster"],
            Stage::Divergence => &["divergence"],
            Stage::Report => &["divergence", "report"],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IncrementalError {
    #[error(
        "{path} is locked: another `simgap run` is writing this output folder (wait for it, or give another --out)"
    )]
    Busy { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is read-only and the {stage} stage must run (its inputs or settings changed since the current \
         outputs): make the folder writable, or give another --out"
    )]
    ReadOnly { path: PathBuf, stage: &'static str },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IncrementalError + '_ {
    move |source| IncrementalError::Io { path: path.to_owned(), source }
}

/// The decision for one stage.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stage: Stage,
    pub fingerprint: String,
    /// What the stage reads: a name (an output file relative to OUT, or a setting such as `[features] lexicons`)
    /// and its SHA-256.
    pub reads: BTreeMap<String, String>,
    /// The recorded fingerprint matches and the recorded outputs are intact.
    pub skip: bool,
    /// The recorded outputs, verified (when `skip`).
    outputs: BTreeMap<String, String>,
    started: Instant,
}

/// The run's generation: being written, switched to, or (read-only folder) none of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GenerationState {
    Writing,
    Switched,
    /// The folder is read-only: the session reads the current generation and can only skip stages.
    ReadOnly,
}

/// One `simgap run` on one output folder.
pub struct Session {
    out_dir: PathBuf,
    /// The generation this run writes ([`super::generation::begin`]); file names below are relative to it.
    work_dir: PathBuf,
    /// What happens to `work_dir` when the session ends: made current by [`Session::finish`]; kept, not current,
    /// when dropped before (the next run removes it); left alone in a read-only folder, where `work_dir` is the
    /// current generation.
    generation: GenerationState,
    /// Held for the whole run; the operating system releases it when the process ends.
    _lock: File,
    force: bool,
    /// The manifest's stage sections as the run found them.
    recorded: Map<String, Value>,
    /// Per stage, its output files (relative to OUT) and their hashes, as verified or written during this run.
    known: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// `last_run` in the manifest: what this run did to each stage so far.
    last_run: Map<String, Value>,
}

impl Session {
    /// Creates the output folder, takes its lock, removes what a killed run left (`*.tmp`, generations never made
    /// current), begins the next generation (the current one's files linked in), reads its manifest, and marks this
    /// run begun (`last_run.complete = false`) in the new generation's copy.
    /// A folder the run cannot write (a read-only mount, no write permission) whose lock file exists is opened
    /// read-only: the run reads the current generation, succeeds when every stage is unchanged, and fails naming
    /// the first stage that would have to run ([`IncrementalError::ReadOnly`]).
    pub fn open(out_dir: &Path, config: &PipelineConfig, force: bool) -> Result<Self, IncrementalError> {
        std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
        let lock_path = out_dir.join(LOCK_FILE);
        let writable = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
        let (lock, read_only) = match writable {
            Ok(lock) => (lock, false),
            Err(e) if matches!(e.kind(), ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied) => {
                (File::open(&lock_path).map_err(|_| IncrementalError::Io { path: lock_path.clone(), source: e })?, true)
            }
            Err(source) => return Err(IncrementalError::Io { path: lock_path, source }),
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(IncrementalError::Busy { path: lock_path }),
            Err(std::fs::TryLockError::Error(source)) => return Err(IncrementalError::Io { path: lock_path, source }),
        }
        let (work_dir, state) = if read_only {
            tracing::info!(folder = %out_dir.display(), "the output folder is read-only: only unchanged stages pass");
            let current =
                generation::current(out_dir).map(|n| out_dir.join(generation::GENERATIONS_DIR).join(n.to_string()));
            (current.unwrap_or_else(|| out_dir.to_owned()), GenerationState::ReadOnly)
        } else {
            let removed = remove_temporary_files(out_dir)?;
            if removed > 0 {
                tracing::info!(files = removed, "removed temporary files an interrupted run left");
            }
            (generation::begin(out_dir).map_err(io_error(out_dir))?, GenerationState::Writing)
        };
        let recorded = match manifest::read(&work_dir).remove("stages") {
            Some(Value::Object(stages)) => stages,
            _ => Map::new(),
        };
        let mut last_run = Map::new();
        last_run.insert("forced".into(), json!(force));
        last_run.insert("complete".into(), json!(false));
        last_run.insert("stages".into(), json!({}));
        let session = Self {
            out_dir: out_dir.to_owned(),
            work_dir,
            generation: state,
            _lock: lock,
            force,
            recorded,
            known: BTreeMap::new(),
            last_run,
        };
        session.write(config, |_| {})?;
        Ok(session)
    }

    /// The folder stages write to in this run: the new generation, current once [`finish`](Self::finish) returns.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The output folder (whose `manifest.json`, until [`finish`](Self::finish), is the previous run's).
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Whether the folder was opened read-only: the run can only skip stages and writes nothing.
    pub fn read_only(&self) -> bool {
        self.generation == GenerationState::ReadOnly
    }

    /// The section a previous run recorded for `stage`.
    pub fn recorded(&self, stage: Stage) -> Option<&Value> {
        self.recorded.get(stage.name())
    }

    /// The SHA-256 of an output file of an earlier stage (relative to OUT): as that stage wrote or verified it in
    /// this run, or computed now.
    pub fn output_hash(&self, file: &str) -> Result<String, IncrementalError> {
        if let Some(hash) = self.known.values().find_map(|outputs| outputs.get(file)) {
            return Ok(hash.clone());
        }
        let path = self.work_dir.join(file);
        sha256_file(&path).map_err(io_error(&path))
    }

    /// The outputs an earlier stage wrote or verified in this run (relative to OUT, with their hashes).
    pub fn outputs_of(&self, stage: Stage) -> BTreeMap<String, String> {
        self.known.get(stage.name()).cloned().unwrap_or_default()
    }

    /// Fingerprints `stage` and decides whether it can be skipped.
    pub fn plan(
        &mut self,
        stage: Stage,
        config: &PipelineConfig,
        reads: BTreeMap<String, String>,
    ) -> Result<Plan, IncrementalError> {
        let started = Instant::now();
        let fingerprint = fingerprint(stage, &settings(config, stage), &reads);
        let recorded = self.recorded.get(stage.name());
        let same = recorded.and_then(|s| s.get("fingerprint")).and_then(Value::as_str) == Some(fingerprint.as_str());
        let mut skip = false;
        let mut verified = BTreeMap::new();
        if same && !self.force {
            let outputs = recorded.and_then(|s| s.get("outputs")).and_then(Value::as_object);
            if let Some(outputs) = outputs.filter(|o| !o.is_empty()) {
                skip = true;
                for (name, hash) in outputs {
                    let actual = sha256_file(&self.work_dir.join(name)).ok();
                    if actual.is_none() || actual.as_deref() != hash.as_str() {
                        tracing::info!(stage = stage.name(), file = name.as_str(), "output missing or changed: redone");
                        skip = false;
                        break;
                    }
                    verified.insert(name.clone(), actual.unwrap_or_default());
                }
            }
        }
        if !skip && self.generation == GenerationState::ReadOnly {
            return Err(IncrementalError::ReadOnly { path: self.out_dir.clone(), stage: stage.name() });
        }
        let outputs = if skip { verified } else { BTreeMap::new() };
        Ok(Plan { stage, fingerprint, reads, skip, outputs, started })
    }

    /// Records a skipped stage (its outputs as verified by [`plan`](Self::plan)) in `last_run`, and says so in the
    /// log.
    pub fn skipped(&mut self, plan: &Plan, config: &PipelineConfig) -> Result<(), IncrementalError> {
        tracing::info!(stage = plan.stage.name(), "{}: {SKIPPED}", plan.stage.name());
        self.known.insert(plan.stage.name(), plan.outputs.clone());
        self.note(plan, SKIPPED);
        self.write(config, |_| {})
    }

    /// Records a stage that ran: hashes its outputs, and writes its section (`section`, or the one the stage
    /// recorded itself) with the fingerprint, the reads and the outputs, as the stage's last write.
    pub fn ran(
        &mut self,
        plan: &Plan,
        config: &PipelineConfig,
        outputs: &[PathBuf],
        section: Option<Value>,
    ) -> Result<(), IncrementalError> {
        let mut hashes = Map::new();
        let mut known = BTreeMap::new();
        for path in outputs {
            let name = path.strip_prefix(&self.work_dir).unwrap_or(path).to_string_lossy().replace('\\', "/");
            let hash = sha256_file(path).map_err(io_error(path))?;
            known.insert(name.clone(), hash.clone());
            hashes.insert(name, json!(hash));
        }
        self.known.insert(plan.stage.name(), known);
        self.note(plan, "ran");
        let (stage, fingerprint) = (plan.stage, plan.fingerprint.clone());
        let reads: Map<String, Value> = plan.reads.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        self.recorded.remove(stage.name());
        self.write(config, move |manifest| {
            let stages = manifest.entry("stages").or_insert_with(|| json!({}));
            if !stages.is_object() {
                *stages = json!({});
            }
            let stages = stages.as_object_mut().expect("made an object above");
            let entry = stages.entry(stage.name()).or_insert_with(|| json!({}));
            if let Some(section) = section {
                *entry = section;
            }
            if !entry.is_object() {
                *entry = json!({});
            }
            let entry = entry.as_object_mut().expect("made an object above");
            entry.insert("fingerprint".into(), json!(fingerprint));
            if stage != Stage::Ingest {
                // Ingest's reads are its files, listed with their hashes and counts in `files`.
                entry.insert("reads".into(), Value::Object(reads));
            }
            entry.insert("outputs".into(), Value::Object(hashes));
        })
    }

    /// Marks the run complete in `last_run`, then makes its generation current: every output, and the manifest
    /// that describes them, switch as one set.
    pub fn finish(&mut self, config: &PipelineConfig) -> Result<(), IncrementalError> {
        self.last_run.insert("complete".into(), json!(true));
        self.write(config, |_| {})?;
        if self.generation == GenerationState::Writing {
            generation::switch(&self.out_dir, &self.work_dir).map_err(io_error(&self.out_dir))?;
            self.generation = GenerationState::Switched;
        }
        Ok(())
    }

    fn note(&mut self, plan: &Plan, status: &str) {
        let seconds = plan.started.elapsed().as_secs_f64();
        if let Some(Value::Object(stages)) = self.last_run.get_mut("stages") {
            stages.insert(plan.stage.name().into(), json!({ "status": status, "seconds": seconds }));
        }
    }

    fn write(
        &self,
        config: &PipelineConfig,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), IncrementalError> {
        if self.generation == GenerationState::ReadOnly {
            return Ok(());
        }
        let last_run = Value::Object(self.last_run.clone());
        let path = self.work_dir.join(manifest::MANIFEST_FILE);
        manifest::update(&self.work_dir, config.manifest_file(), |manifest| {
            change(manifest);
            manifest.insert("last_run".into(), last_run);
        })
        .map_err(io_error(&path))
    }
}

/// A run that fails (or panics) before [`Session::finish`] leaves the current generation as it was; its own stays,
/// never current, for inspection (the rejects of a corpus whose every record was rejected, say), and the next
/// [`Session::open`] removes it, as it removes a killed run's.
impl Drop for Session {
    fn drop(&mut self) {
        if self.generation == GenerationState::Writing {
            tracing::warn!(
                "this run's outputs were not made current; they are kept for inspection in {} until the next run",
                self.work_dir.display()
            );
        }
    }
}

/// Adds the SHA-256 of a file a stage reads that is not an output of another stage (a lexicon, embedding or
/// difficulty file), named by its setting. A file that cannot be read gets a note instead (the stage reports the
/// error when it runs).
pub fn external_read(reads: &mut BTreeMap<String, String>, setting: &str, path: Option<&Path>) {
    if let Some(path) = path {
        let hash = sha256_file(path).unwrap_or_else(|e| format!("unreadable: {e}"));
        reads.insert(setting.to_owned(), hash);
    }
}

/// The stage's settings: its tables of the pipeline file, as JSON.
fn settings(config: &PipelineConfig, stage: Stage) -> Value {
    let table: toml::Table = toml::from_str(&config.text).unwrap_or_default();
    let mut settings = Map::new();
    for name in stage.tables() {
        let value = table.get(*name).map(|v| serde_json::to_value(v).unwrap_or(Value::Null)).unwrap_or(Value::Null);
        settings.insert((*name).to_owned(), value);
    }
    Value::Object(settings)
}

/// SHA-256 over the stage, the simgap version, the settings and the reads, as JSON with sorted keys.
pub fn fingerprint(stage: Stage, settings: &Value, reads: &BTreeMap<String, String>) -> String {
    let value = json!({
        "stage": stage.name(),
        "simgap_version": env!("CARGO_PKG_VERSION"),
        "settings": settings,
        "reads": reads,
    });
    sha256_bytes(sorted(&value).to_string().as_bytes())
}

/// `value` with every object's keys in order, whatever order it was built in.
pub(super) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let keys: BTreeMap<&String, &Value> = map.iter().collect();
            Value::Object(keys.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Removes `*.tmp` files from the folders stages write to (and `*.tmp.png`, the figures' temporary name, which
/// keeps the extension the image encoder goes by, from `figures/`). Returns how many.
pub fn remove_temporary_files(out_dir: &Path) -> Result<usize, IncrementalError> {
    let mut removed = 0;
    for folder in OUTPUT_FOLDERS {
        let dir = out_dir.join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let figure = folder == "figures" && name.ends_with(".tmp.png");
            let temporary = (name.ends_with(".tmp") || figure) && entry.file_type().is_ok_and(|t| t.is_file());
            if temporary {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> PipelineConfig {
        let text = format!("[output]\ndir = \"o\"\n[[input]]\npath = \"a.jsonl\"\nformat = \"jsonl\"\n{extra}");
        PipelineConfig::parse(&text, Path::new("p.toml"), Path::new(".")).unwrap()
    }

    #[test]
    fn fingerprint_follows_settings_reads_and_nothing_else() {
        let reads = BTreeMap::from([("features.parquet".to_owned(), "ab".to_owned())]);
        let base = fingerprint(Stage::Cluster, &settings(&config("[cluster]\nk = 5\n"), Stage::Cluster), &reads);
        let commented = config("# nightly\n[cluster]\nk   = 5 # five\n");
        assert_eq!(base, fingerprint(Stage::Cluster, &settings(&commented, Stage::Cluster), &reads), "layout");
        let other_stage = config("[cluster]\nk = 5\n[divergence]\nseed = 3\n");
        assert_eq!(base, fingerprint(Stage::Cluster, &settings(&other_stage, Stage::Cluster), &reads));
        let k = config("[cluster]\nk = 6\n");
        assert_ne!(base, fingerprint(Stage::Cluster, &settings(&k, Stage::Cluster), &reads), "settings");
        let changed = BTreeMap::from([("features.parquet".to_owned(), "ac".to_owned())]);
        let same = config("[cluster]\nk = 5\n");
        assert_ne!(base, fingerprint(Stage::Cluster, &settings(&same, Stage::Cluster), &changed), "reads");
        assert_ne!(base, fingerprint(Stage::Features, &settings(&same, Stage::Cluster), &reads), "stage");
    }

    #[test]
    fn sorted_keys_make_equal_json_equal() {
        let a = json!({"b": 1, "a": {"d": 2, "c": [ {"f": 1, "e": 2} ]}});
        assert_eq!(sorted(&a).to_string(), r#"{"a":{"c":[{"e":2,"f":1}],"d":2},"b":1}"#);
    }

    #[test]
    fn temporary_files_go_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("codebooks")).unwrap();
        std::fs::create_dir_all(dir.path().join("figures")).unwrap();
        let names = ["features.parquet.tmp", "features.parquet", "codebooks/usi.json.tmp", "notes.tmp.txt"];
        for name in names.into_iter().chain(["figures/js.tmp.png", "figures/js.png"]) {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        assert_eq!(remove_temporary_files(dir.path()).unwrap(), 3);
        assert!(dir.path().join("figures/js.png").exists());
        assert!(dir.path().join("features.parquet").exists());
        assert!(dir.path().join("notes.tmp.txt").exists());
        assert!(!dir.path().join("codebooks/usi.json.tmp").exists());
    }

    #[test]
    fn a_second_session_on_one_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = config("");
        let first = Session::open(dir.path(), &config, false).unwrap();
        let second = Session::open(dir.path(), &config, false);
        assert!(matches!(second, Err(IncrementalError::Busy { .. })), "{:?}", second.err());
        drop(first);
        assert!(Session::open(dir.path(), &config, false).is_ok());
    }

    #[test]
    fn skip_needs_the_same_fingerprint_and_intact_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let config = config("");
        let reads = BTreeMap::from([("conversations.parquet".to_owned(), "aa".to_owned())]);
        {
            let mut session = Session::open(dir.path(), &config, false).unwrap();
            let output = session.work_dir().join("features.parquet");
            std::fs::write(&output, "one").unwrap();
            let plan = session.plan(Stage::Features, &config, reads.clone()).unwrap();
            assert!(!plan.skip, "nothing recorded yet");
            session.ran(&plan, &config, std::slice::from_ref(&output), Some(json!({"rows": 1}))).unwrap();
            session.finish(&config).unwrap();
        }
        let output = dir.path().join("features.parquet");
        let manifest = || -> Value {
            serde_json::from_slice(&std::fs::read(dir.path().join(manifest::MANIFEST_FILE)).unwrap()).unwrap()
        };
        assert_eq!(manifest()["stages"]["features"]["rows"], 1);
        assert_eq!(manifest()["stages"]["features"]["outputs"]["features.parquet"].as_str().unwrap().len(), 64);
        assert_eq!(manifest()["last_run"]["stages"]["features"]["status"], "ran");
        let plan_in = |force: bool, reads: &BTreeMap<String, String>| {
            let mut session = Session::open(dir.path(), &config, force).unwrap();
            session.plan(Stage::Features, &config, reads.clone()).unwrap().skip
        };
        assert!(plan_in(false, &reads));
        assert!(!plan_in(true, &reads), "--force");
        let changed = BTreeMap::from([("conversations.parquet".to_owned(), "ab".to_owned())]);
        assert!(!plan_in(false, &changed), "a read changed");
        std::fs::write(&output, "two").unwrap();
        assert!(!plan_in(false, &reads), "the output changed after its section was written");
        // The runs above began and did not finish: what readers see is the finished run's set.
        assert_eq!(manifest()["last_run"]["complete"], true);
        assert_eq!(generation::current(dir.path()), Some(1));
    }
}
