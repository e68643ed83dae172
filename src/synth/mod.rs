//! `simgap synth`: a seeded synthetic corpus in two formats, with a pipeline file that reads it.
//!
//! Consumes: [`SynthParams`] (folder, number of conversations, seed, behaviour profiles: one human and any number of
//! simulators, see [`profiles::profiles`]). Produces: one file per source (`humans.jsonl` in canonical JSONL with
//! timestamps; `sim-*.jsonl` as OpenAI-style message lines) and `pipeline.toml`, which lists every source. 40% of
//! the conversations are human, the rest split evenly across the simulators (every source gets at least one). Each
//! conversation has its own generator seeded from (seed, source index, conversation index), so blocks are generated
//! in parallel and the files are byte-identical for the same parameters whatever the thread count; adding
//! simulators leaves the earlier sources' files unchanged, bar their share of the conversations. Memory: one block
//! of lines.

mod dialogue;
pub mod profiles;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::json;

use crate::atomic::AtomicPath;
use dialogue::Dialogue;
use profiles::{Profile, SynthFormat};

/// Conversations generated per parallel block.
const BLOCK: u64 = 8192;

#[derive(Debug, Clone)]
pub struct SynthParams {
    pub out_dir: PathBuf,
    pub conversations: u64,
    pub seed: u64,
    pub profiles: Vec<Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("--conversations must be at least {0} (one per source)")]
    TooFew(u64),
    #[error("a synthetic corpus needs exactly one human profile and at least one simulator")]
    Profiles,
    #[error("two profiles are named {0}; every source needs its own name")]
    DuplicateName(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct SynthFile {
    pub path: PathBuf,
    pub source: String,
    pub conversations: u64,
}

#[derive(Debug, Clone)]
pub struct SynthReport {
    pub files: Vec<SynthFile>,
    pub pipeline: PathBuf,
}

impl SynthParams {
    pub fn check(&self) -> Result<(), SynthError> {
        let humans = self.profiles.iter().filter(|p| p.human).count();
        if humans != 1 || self.profiles.len() < 2 {
            return Err(SynthError::Profiles);
        }
        let mut names = std::collections::BTreeSet::new();
        if let Some(p) = self.profiles.iter().find(|p| !names.insert(p.name.as_str())) {
            return Err(SynthError::DuplicateName(p.name.clone()));
        }
        let fewest = fewest_conversations(self.profiles.len() as u64 - 1);
        if self.conversations < fewest {
            return Err(SynthError::TooFew(fewest));
        }
        Ok(())
    }

    /// Conversations per profile: 40% human, the rest evenly split (remainder to the first simulators).
    pub fn counts(&self) -> Vec<u64> {
        let humans = (self.conversations * 2 / 5).max(1);
        let simulators = self.profiles.iter().filter(|p| !p.human).count() as u64;
        let rest = self.conversations - humans;
        let mut sim_index = 0;
        self.profiles
            .iter()
            .map(|p| {
                if p.human {
                    humans
                } else {
                    let n = rest / simulators + u64::from(sim_index < rest % simulators);
                    sim_index += 1;
                    n
                }
            })
            .collect()
    }

    pub fn run(&self) -> Result<SynthReport, SynthError> {
        self.check()?;
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| SynthError::Io { path, source }
        };
        std::fs::create_dir_all(&self.out_dir).map_err(io(&self.out_dir))?;
        let mut files = Vec::new();
        for (index, (profile, count)) in self.profiles.iter().zip(self.counts()).enumerate() {
            let name = if profile.human { "humans.jsonl".to_owned() } else { format!("{}.jsonl", profile.name) };
            let path = self.out_dir.join(&name);
            let target = AtomicPath::new(&path);
            let file = File::create(target.temp()).map_err(io(&path))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut start = 0;
            while start < count {
                let end = (start + BLOCK).min(count);
                let lines: Vec<String> =
                    (start..end).into_par_iter().map(|i| self.line(profile, index as u64, i)).collect();
                for line in lines {
                    out.write_all(line.as_bytes()).map_err(io(&path))?;
                    out.write_all(b"\n").map_err(io(&path))?;
                }
                start = end;
            }
            out.flush().map_err(io(&path))?;
            drop(out);
            target.commit().map_err(io(&path))?;
            files.push(SynthFile { path, source: profile.name.clone(), conversations: count });
        }
        let pipeline = self.out_dir.join("pipeline.toml");
        crate::atomic::write_atomic(&pipeline, pipeline_text(&self.profiles, &files, self.seed).as_bytes())
            .map_err(io(&pipeline))?;
        Ok(SynthReport { files, pipeline })
    }

    fn line(&self, profile: &Profile, source_index: u64, i: u64) -> String {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, source_index, i));
        let dialogue = Dialogue::generate(profile, i % 997, &mut rng);
        let id = format!("{}-{:07}", profile.name, i);
        let start = 1_000 * i; // seconds after the corpus epoch, for human timestamps
        let messages: Vec<serde_json::Value> = dialogue
            .messages
            .iter()
            .map(|(role, text, at)| {
                if profile.human {
                    json!({ "role": role, "content": text, "timestamp": timestamp(start + u64::from(*at)) })
                } else {
                    json!({ "role": role, "content": text })
                }
            })
            .collect();
        let survey = json!({ "overall_score": dialogue.rating.to_string() });
        let record = match profile.format {
            SynthFormat::Canonical => json!({
                "conversation_id": id,
                "source": profile.name,
                "kind": if profile.human { "human" } else { "simulator" },
                "task_id": dialogue.task_id,
                "run": 1,
                "outcome": dialogue.outcome,
                "survey": survey,
                "messages": messages,
            }),
            SynthFormat::OpenAi => json!({
                "id": id,
                "task_id": dialogue.task_id,
                "run": 1,
                "outcome": dialogue.outcome,
                "survey": survey,
                "messages": messages,
            }),
        };
        record.to_string()
    }
}

/// The fewest conversations that give each of one human and `simulators` simulators at least one: the humans get
/// max(1, floor(2n/5)), so the simulators get n - that, which is ceil(3n/5) once n >= 3.
fn fewest_conversations(simulators: u64) -> u64 {
    (simulators + 1).max(5 * simulators.saturating_sub(1) / 3 + 1)
}

/// A seed per (corpus seed, source, conversation), via SplitMix64 finalisation.
fn mix(seed: u64, source: u64, i: u64) -> u64 {
    let mut z = seed ^ source.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// ISO 8601 UTC time for seconds after 2026-03-01T00:00:00Z (synthetic: months of 28 days from March).
fn timestamp(seconds: u64) -> String {
    let days = seconds / 86_400;
    let (month, day) = (3 + (days / 28) % 9, 1 + days % 28);
    let rest = seconds % 86_400;
    format!("2026-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, (rest / 60) % 60, rest % 60)
}

fn pipeline_text(profiles: &[Profile], files: &[SynthFile], seed: u64) -> String {
    let mut text = format!(
        "# Generated by `simgap synth --seed {seed}`: one human source and {} simulators.\n\
         # Paths are relative to this file's folder.\n\n[output]\ndir = \"out\"\n",
        profiles.len() - 1
    );
    for (profile, file) in profiles.iter().zip(files) {
        let name = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match profile.format {
            SynthFormat::Canonical => {
                text.push_str(&format!(
                    "\n[[input]]\npath = \"{name}\"\nformat = \"jsonl\"   # source and kind are in every record\n"
                ));
            }
            SynthFormat::OpenAi => text.push_str(&format!(
                "\n[[input]]\npath = \"{name}\"\nformat = \"openai\"\nsource = \"{}\"\nkind = \"simulator\"\n",
                profile.name
            )),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(dir: &std::path::Path, n: u64) -> SynthParams {
        SynthParams { out_dir: dir.to_owned(), conversations: n, seed: 5, profiles: profiles::default_profiles() }
    }

    #[test]
    fn counts_add_up() {
        let p = params(std::path::Path::new("."), 1001);
        let counts = p.counts();
        assert_eq!(counts.iter().sum::<u64>(), 1001);
        assert_eq!(counts[0], 400);
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        params(a.path(), 50).run().unwrap();
        params(b.path(), 50).run().unwrap();
        for name in ["humans.jsonl", "sim-polite-verbose.jsonl", "pipeline.toml"] {
            assert_eq!(
                std::fs::read(a.path().join(name)).unwrap(),
                std::fs::read(b.path().join(name)).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn too_few_conversations() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(params(dir.path(), 3).run(), Err(SynthError::TooFew(4))));
    }

    #[test]
    fn fewest_conversations_give_every_source_one() {
        for simulators in 1..200 {
            let mut p = params(std::path::Path::new("."), 0);
            p.profiles = profiles::profiles(simulators);
            let fewest = fewest_conversations(simulators as u64);
            p.conversations = fewest;
            assert!(p.check().is_ok() && p.counts().iter().all(|&n| n >= 1), "{simulators}: {:?}", p.counts());
            p.conversations = fewest - 1;
            assert!(p.counts().contains(&0), "{simulators}");
            assert!(matches!(p.check(), Err(SynthError::TooFew(n)) if n == fewest));
        }
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let mut p = params(std::path::Path::new("."), 100);
        p.profiles.push(p.profiles[1].clone());
        assert!(matches!(p.check(), Err(SynthError::DuplicateName(name)) if name == "sim-polite-verbose"));
    }

    #[test]
    fn more_simulators_leave_the_first_sources_alone_bar_their_share() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        params(a.path(), 50).run().unwrap();
        let mut more = params(b.path(), 50 * 7 / 4);
        more.profiles = profiles::profiles(6);
        let report = more.run().unwrap();
        assert_eq!(report.files.len(), 7);
        assert_eq!(report.files[6].source, "sim-near-human-06");
        // 87 conversations: 34 human, 53 over six simulators; the first sources' lines are a prefix or equal.
        let text = |dir: &std::path::Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        for name in ["humans.jsonl", "sim-polite-verbose.jsonl"] {
            let (few, many) = (text(a.path(), name), text(b.path(), name));
            assert!(few.starts_with(&many) || many.starts_with(&few), "{name}");
        }
        let pipeline = text(b.path(), "pipeline.toml");
        assert_eq!(pipeline.matches("[[input]]").count(), 7);
        assert!(pipeline.contains("source = \"sim-terse-impatient-05\""));
    }

    #[test]
    fn timestamps_are_iso() {
        assert_eq!(timestamp(0), "2026-03-01T00:00:00Z");
        assert_eq!(timestamp(86_400 + 3_661), "2026-03-02T01:01:01Z");
    }
}
