//! Cue lists (politeness, hedges, emotion, ...) as data: built in from `cues.toml`, replaceable list by list from a
//! TOML file named in the pipeline, compiled once into regular expressions.
//!
//! Consumes: the built-in `cues.toml` and optionally a user file with the same `[usi]` / `[own]` tables. Produces:
//! [`Cues`], the compiled patterns every facet matches against lower-cased user turns. A user file that names an
//! unknown list, or an entry that is not a valid regular expression, is an error naming the list.

use std::collections::BTreeMap;
use std::path::Path;

use regex::{Regex, RegexSet};
use serde::Deserialize;

const BUILT_IN: &str = include_str!("cues.toml");

/// The cue lists as text, before compiling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueLists {
    #[serde(default)]
    pub usi: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub own: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CueError {
    #[error("cue file {path}: {message}")]
    File { path: String, message: String },
    #[error("cue list [{table}] {list}: {message}")]
    List { table: String, list: String, message: String },
}

/// The USI lists matched anywhere in a turn, in the order of the set in [`Cues::usi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsiCue {
    Politeness,
    AgentPhrases,
    Uncertainty,
    Certainty,
    Pushback,
    Clarify,
    InfoQuestion,
    Emotion,
    Accusation,
    Pivot,
}

impl UsiCue {
    pub const ALL: [UsiCue; 10] = [
        UsiCue::Politeness,
        UsiCue::AgentPhrases,
        UsiCue::Uncertainty,
        UsiCue::Certainty,
        UsiCue::Pushback,
        UsiCue::Clarify,
        UsiCue::InfoQuestion,
        UsiCue::Emotion,
        UsiCue::Accusation,
        UsiCue::Pivot,
    ];

    /// The list's key in the `[usi]` table.
    pub fn list(self) -> &'static str {
        match self {
            UsiCue::Politeness => "politeness",
            UsiCue::AgentPhrases => "agent_phrases",
            UsiCue::Uncertainty => "uncertainty",
            UsiCue::Certainty => "certainty",
            UsiCue::Pushback => "pushback",
            UsiCue::Clarify => "clarify",
            UsiCue::InfoQuestion => "info_question",
            UsiCue::Emotion => "emotion",
            UsiCue::Accusation => "accusation",
            UsiCue::Pivot => "pivot",
        }
    }
}

/// Compiled cue patterns.
#[derive(Debug, Clone)]
pub struct Cues {
    /// Every list of [`UsiCue`], `\b(?:...)\b`, matched together in one pass over a turn.
    pub usi: RegexSet,
    pub ack_only: Regex,
    pub agreement_start: Regex,
    pub gratitude: Regex,
    pub proposal: Regex,
    pub failure: Regex,
    pub first_person: Regex,
    pub second_person: Regex,
    pub stop_tokens: Vec<String>,
    pub stopwords: rustc_hash::FxHashSet<String>,
}

impl Cues {
    /// Whether one USI list matches a lower-cased turn (tests and one-off checks; facets match the whole set).
    pub fn usi_match(&self, cue: UsiCue, lower: &str) -> bool {
        self.usi.matches(lower).matched(cue as usize)
    }
}

impl CueLists {
    pub fn built_in() -> Self {
        toml::from_str(BUILT_IN).expect("the built-in cues.toml parses")
    }

    /// The built-in lists with every list named in `path` replaced.
    pub fn with_overrides(path: &Path) -> Result<Self, CueError> {
        let file_error = |message: String| CueError::File { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let user: CueLists = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
        let mut lists = Self::built_in();
        for (table, user_lists, known) in [("usi", user.usi, &mut lists.usi), ("own", user.own, &mut lists.own)] {
            for (name, entries) in user_lists {
                if !known.contains_key(&name) {
                    let names: Vec<&str> = known.keys().map(String::as_str).collect();
                    return Err(file_error(format!("unknown list [{table}] {name}; known: {}", names.join(", "))));
                }
                known.insert(name, entries);
            }
        }
        Ok(lists)
    }

    fn list(&self, table: &str, name: &str) -> &[String] {
        let lists = if table == "usi" { &self.usi } else { &self.own };
        lists.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn compile(&self) -> Result<Cues, CueError> {
        let compile = |table: &str, name: &str, pattern: String| {
            Regex::new(&pattern).map_err(|e| CueError::List {
                table: table.to_owned(),
                list: name.to_owned(),
                message: e.to_string(),
            })
        };
        // USI lists: `\b(?:a|b)\b` on the whole group, exactly as the published scorer; all lists are compiled
        // together as one set; when that fails, each alone, to name the list with the invalid entry.
        let usi_patterns: Vec<String> =
            UsiCue::ALL.iter().map(|cue| format!(r"\b(?:{})\b", self.list("usi", cue.list()).join("|"))).collect();
        let usi = match RegexSet::new(&usi_patterns) {
            Ok(set) => set,
            Err(e) => {
                for (cue, pattern) in UsiCue::ALL.iter().zip(&usi_patterns) {
                    compile("usi", cue.list(), pattern.clone())?;
                }
                return Err(CueError::List { table: "usi".into(), list: "(all)".into(), message: e.to_string() });
            }
        };
        // Own lists: a word boundary only where the entry starts or ends with an ASCII word character, so entries in
        // scripts without spaces (我, 谢谢) match inside a run of characters.
        let own_entries = |name: &str| -> String {
            self.list("own", name)
                .iter()
                .map(|entry| {
                    let starts = entry.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
                    let ends = entry.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
                    format!("{}(?:{entry}){}", if starts { r"\b" } else { "" }, if ends { r"\b" } else { "" })
                })
                .collect::<Vec<_>>()
                .join("|")
        };
        let own = |name: &str| compile("own", name, own_entries(name));
        Ok(Cues {
            usi,
            ack_only: compile(
                "usi",
                "ack_only",
                format!(r"^(?:{})[\s!.,-]*$", self.list("usi", "ack_only").join("|")),
            )?,
            agreement_start: compile("own", "agreement", format!("^(?:{})", own_entries("agreement")))?,
            gratitude: own("gratitude")?,
            proposal: own("proposal")?,
            failure: own("failure")?,
            first_person: own("first_person")?,
            second_person: own("second_person")?,
            stop_tokens: self.list("own", "stop_tokens").iter().map(|t| t.to_lowercase()).collect(),
            stopwords: self.list("own", "stopwords").iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_lists_compile() {
        let cues = CueLists::built_in().compile().unwrap();
        assert!(cues.usi_match(UsiCue::Politeness, "could you help, please"));
        assert!(!cues.usi_match(UsiCue::Politeness, "pleased to meet"), "word boundary at the end");
        assert!(cues.ack_only.is_match("ok!!"));
        assert!(!cues.ack_only.is_match("ok but"));
        assert!(cues.first_person.is_match("我们去"), "CJK entries match without spaces");
        assert!(cues.stop_tokens.contains(&"###stop###".to_owned()));
    }

    #[test]
    fn overrides_replace_named_lists_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cues.toml");
        std::fs::write(&path, "[usi]\npoliteness = [\"bitte\", \"danke\"]\n").unwrap();
        let cues = CueLists::with_overrides(&path).unwrap().compile().unwrap();
        assert!(cues.usi_match(UsiCue::Politeness, "danke schön"));
        assert!(!cues.usi_match(UsiCue::Politeness, "please"));
        assert!(cues.usi_match(UsiCue::Emotion, "i am so frustrated"), "other lists keep the defaults");
    }

    #[test]
    fn unknown_list_and_bad_regex_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cues.toml");
        std::fs::write(&path, "[usi]\npoliteness_typo = [\"x\"]\n").unwrap();
        let err = CueLists::with_overrides(&path).unwrap_err().to_string();
        assert!(err.contains("politeness_typo"), "{err}");
        std::fs::write(&path, "[usi]\nemotion = [\"(unclosed\"]\n").unwrap();
        let err = CueLists::with_overrides(&path).unwrap().compile().unwrap_err().to_string();
        assert!(err.contains("emotion"), "{err}");
    }
}
