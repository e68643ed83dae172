//! Behaviour profiles of the synthetic sources: how often a user is polite, verbose, terse, informal, uncertain,
//! frustrated, pushes back, changes topic, repeats itself, front-loads its details, and how it ends.
//!
//! Consumes the number of simulators. Produces `human` and that many simulators: the first three are the built-in
//! ones, whose differences follow what the simulator studies report (simulators too polite and too cooperative,
//! rarely frustrated, ending on cue); further ones are variants of those three with every probability jittered
//! (see [`variant`]). A profile depends on its index alone, never on the corpus seed or a thread RNG, so simulator
//! `i` is the same whatever the number asked for.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
    pub name: String,
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

/// The simulators `simgap synth` writes unless told otherwise: the three built-in ones.
pub const DEFAULT_SIMULATORS: usize = 3;

/// The default sources: one human population and the three built-in simulators.
pub fn default_profiles() -> Vec<Profile> {
    profiles(DEFAULT_SIMULATORS)
}

/// One human population and `simulators` simulators: the built-in three first (fewer when fewer are asked for),
/// then [`variant`]s of them in turn.
pub fn profiles(simulators: usize) -> Vec<Profile> {
    let mut profiles = built_in();
    let base: Vec<Profile> = profiles.split_off(1);
    profiles.extend(base.iter().take(simulators).cloned());
    profiles.extend((base.len()..simulators).map(|index| variant(&base[index % base.len()], index)));
    profiles
}

/// Seeds the jitter of the variants (mixed with the index), fixed so that variants never change.
const VARIANT_SEED: u64 = 0x5F3D_9A1C_2B47_E681;

/// Simulator number `index + 1` (0-based `index`, at least 3), derived from `base`: named `{base}-{index + 1:02}`
/// (`sim-polite-verbose-04`), each probability multiplied by a factor in [0.7, 1.3] and kept within [0, 0.95] (a
/// zero stays zero, so a variant keeps its base's character), the endings scaled down where they would add up to
/// more than 1, the longest exchange count moved by at most one, and the mean rating by at most 0.3 within [1, 5].
/// The jitter comes from a generator seeded by the index alone.
pub fn variant(base: &Profile, index: usize) -> Profile {
    let mut rng = ChaCha8Rng::seed_from_u64(VARIANT_SEED ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut jitter = |p: f64| (p * rng.gen_range(0.7..=1.3)).clamp(0.0, 0.95);
    let mut v = Profile {
        name: format!("{}-{:02}", base.name, index + 1),
        human: false,
        format: base.format,
        exchanges: base.exchanges,
        polite: jitter(base.polite),
        verbose: jitter(base.verbose),
        terse: jitter(base.terse),
        informal: jitter(base.informal),
        typo: jitter(base.typo),
        uncertain: jitter(base.uncertain),
        frustrated: jitter(base.frustrated),
        pushback: jitter(base.pushback),
        pivot: jitter(base.pivot),
        repeat: jitter(base.repeat),
        frontload: jitter(base.frontload),
        end_thanks: jitter(base.end_thanks),
        end_bye: jitter(base.end_bye),
        end_stop_token: jitter(base.end_stop_token),
        success: jitter(base.success),
        rating: base.rating,
    };
    let ends = v.end_thanks + v.end_bye + v.end_stop_token;
    if ends > 1.0 {
        v.end_thanks /= ends;
        v.end_bye /= ends;
        v.end_stop_token /= ends;
    }
    let (low, high) = base.exchanges;
    v.exchanges = (low, (high as i64 + rng.gen_range(-1..=1)).max(i64::from(low)) as u32);
    v.rating = (base.rating + rng.gen_range(-0.3..=0.3)).clamp(1.0, 5.0);
    v
}

/// The human population and the three built-in simulators.
fn built_in() -> Vec<Profile> {
    vec![
        Profile {
            name: "human".into(),
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
            name: "sim-polite-verbose".into(),
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
            name: "sim-terse-impatient".into(),
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
            name: "sim-near-human".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_three_simulators_are_the_built_in_ones() {
        let built_in = built_in();
        for n in 1..=5 {
            let profiles = profiles(n);
            assert_eq!(profiles.len(), n + 1);
            for (a, b) in profiles.iter().zip(&built_in) {
                assert_eq!(serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap());
            }
        }
        assert_eq!(default_profiles().len(), 4);
    }

    #[test]
    fn variants_are_unique_bounded_and_depend_on_the_index_alone() {
        let many = profiles(40);
        let names: std::collections::BTreeSet<&str> = many.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), many.len());
        assert_eq!(many[4].name, "sim-polite-verbose-04");
        assert_eq!(many[5].name, "sim-terse-impatient-05");
        for v in &many[4..] {
            assert!(!v.human);
            for p in [v.polite, v.verbose, v.terse, v.informal, v.typo, v.uncertain, v.frustrated, v.pushback]
                .into_iter()
                .chain([v.pivot, v.repeat, v.frontload, v.end_thanks, v.end_bye, v.end_stop_token, v.success])
            {
                assert!((0.0..=0.95).contains(&p), "{}: {p}", v.name);
            }
            assert!(v.end_thanks + v.end_bye + v.end_stop_token <= 1.0 + 1e-12, "{}", v.name);
            assert!(v.exchanges.0 >= 1 && v.exchanges.0 <= v.exchanges.1, "{}", v.name);
            assert!((1.0..=5.0).contains(&v.rating));
        }
        // A variant keeps its base's zeros and differs from it elsewhere.
        assert_eq!(many[4].informal, 0.0);
        assert_ne!(many[4].polite, many[1].polite);
        // Asking for more simulators does not change the earlier ones.
        let fewer = profiles(6);
        for (a, b) in fewer.iter().zip(&many) {
            assert_eq!(serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap());
        }
    }
}
