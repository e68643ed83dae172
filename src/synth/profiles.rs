//! Behaviour profiles of the synthetic sources: how often a user is polite, verbose, terse, informal, uncertain,
//! frustrated, pushes back, changes topic, repeats itself, front-loads its details, and how it ends.
//!
//! Consumes nothing. Produces the default set: `human` and three simulators whose differences follow what the
//! simulator studies report (simulators too polite and too cooperative, rarely frustrated, ending on cue).

use serde::Serialize;

/// Which file format a source is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SynthFormat {
    /// Canonical JSONL (`format = "jsonl"`), source and kind in every record.
    Canonical,
    /// OpenAI-style `{id, messages}` lines (`format = "openai"`), source and kind set in the pipeline.
    OpenAi,
}

/// How one source's users behave. Probabilities are per user turn unless said otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: &'static str,
    pub human: bool,
    pub format: SynthFormat,
    /// Information exchanges after the opening, inclusive range.
    pub exchanges: (u32, u32),
    /// A politeness marker (please, thank you) in a turn.
    pub polite: f64,
    /// An extra explanatory sentence in a turn.
    pub verbose: f64,
    /// A one- or two-word reply instead of a full one.
    pub terse: f64,
    /// Lower case, no final punctuation.
    pub informal: f64,
    /// Per-word chance of a typo.
    pub typo: f64,
    /// Hedges (I think, maybe, not sure).
    pub uncertain: f64,
    /// Frustration or blame (this is ridiculous, you already asked).
    pub frustrated: f64,
    /// Pushback questions (why can't you just ...?).
    pub pushback: f64,
    /// Changing topic for one turn.
    pub pivot: f64,
    /// Sending the previous message again.
    pub repeat: f64,
    /// Per conversation: every detail in the opening message.
    pub frontload: f64,
    /// Per conversation: how it ends: thanks, a bare goodbye, the `###STOP###` token, or walking away.
    pub end_thanks: f64,
    pub end_bye: f64,
    pub end_stop_token: f64,
    /// Per conversation: the task succeeded (outcome 1.0).
    pub success: f64,
    /// Per conversation: mean survey score (1-5).
    pub rating: f64,
}

/// The default sources: one human population and three simulators.
pub fn default_profiles() -> Vec<Profile> {
    vec![
        Profile {
            name: "human",
            human: true,
            format: SynthFormat::Canonical,
            exchanges: (1, 6),
            polite: 0.22,
            verbose: 0.15,
            terse: 0.22,
            informal: 0.4,
            typo: 0.015,
            uncertain: 0.15,
            frustrated: 0.12,
            pushback: 0.1,
            pivot: 0.07,
            repeat: 0.05,
            frontload: 0.2,
            end_thanks: 0.4,
            end_bye: 0.25,
            end_stop_token: 0.0,
            success: 0.55,
            rating: 3.4,
        },
        Profile {
            name: "sim-polite-verbose",
            human: false,
            format: SynthFormat::OpenAi,
            exchanges: (2, 5),
            polite: 0.9,
            verbose: 0.75,
            terse: 0.02,
            informal: 0.0,
            typo: 0.0,
            uncertain: 0.03,
            frustrated: 0.01,
            pushback: 0.02,
            pivot: 0.01,
            repeat: 0.0,
            frontload: 0.7,
            end_thanks: 0.3,
            end_bye: 0.0,
            end_stop_token: 0.68,
            success: 0.8,
            rating: 4.5,
        },
        Profile {
            name: "sim-terse-impatient",
            human: false,
            format: SynthFormat::OpenAi,
            exchanges: (1, 4),
            polite: 0.04,
            verbose: 0.02,
            terse: 0.6,
            informal: 0.65,
            typo: 0.005,
            uncertain: 0.02,
            frustrated: 0.3,
            pushback: 0.35,
            pivot: 0.02,
            repeat: 0.1,
            frontload: 0.1,
            end_thanks: 0.05,
            end_bye: 0.15,
            end_stop_token: 0.4,
            success: 0.5,
            rating: 2.6,
        },
        Profile {
            name: "sim-near-human",
            human: false,
            format: SynthFormat::OpenAi,
            exchanges: (1, 6),
            polite: 0.3,
            verbose: 0.2,
            terse: 0.18,
            informal: 0.3,
            typo: 0.005,
            uncertain: 0.12,
            frustrated: 0.08,
            pushback: 0.08,
            pivot: 0.05,
            repeat: 0.03,
            frontload: 0.3,
            end_thanks: 0.45,
            end_bye: 0.15,
            end_stop_token: 0.2,
            success: 0.65,
            rating: 3.8,
        },
    ]
}
