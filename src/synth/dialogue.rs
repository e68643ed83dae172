//! One synthetic customer-service conversation from a behaviour profile and a seeded generator.
//!
//! Consumes: a [`Profile`], a task number and an RNG. Produces: a [`Dialogue`]: the agent greets, the user opens
//! (with every detail when front-loading), the agent asks for the missing details one by one, proposes an action,
//! and the user confirms, pushes back, drifts, repeats or gives up as its profile says, then ends the conversation.

use rand::Rng;
use rand::seq::SliceRandom;

use super::profiles::Profile;

/// One generated conversation.
#[derive(Debug, Clone)]
pub struct Dialogue {
    pub task_id: String,
    pub outcome: f64,
    pub rating: u8,
    /// (role, text, seconds since the start).
    pub messages: Vec<(&'static str, String, u32)>,
}

struct Domain {
    name: &'static str,
    goals: &'static [&'static str],
    details: &'static [(&'static str, &'static [&'static str])],
    action: &'static str,
}

const DOMAINS: &[Domain] = &[
    Domain {
        name: "airline",
        goals: &[
            "change my flight to an earlier one",
            "cancel my reservation",
            "add a checked bag to my booking",
            "upgrade my seat to business",
        ],
        details: &[
            ("user id", &["mia_li_3668", "omar_davis_3817", "ava_kim_2201", "noah_ruiz_9042"]),
            ("reservation number", &["8JX2WO", "K1NW8N", "4WQ150", "ZFA04Y"]),
            ("travel date", &["May 20", "June 3", "the 14th", "next Friday"]),
        ],
        action: "update the reservation",
    },
    Domain {
        name: "retail",
        goals: &[
            "return a pair of headphones",
            "exchange a shirt for a bigger size",
            "find out where my order is",
            "cancel an order I placed yesterday",
        ],
        details: &[
            ("order number", &["#W2378156", "#W9911432", "#W4417720", "#W5561034"]),
            ("email", &["sara.chen@example.com", "l.ortiz@example.org", "kim_j@example.net"]),
            ("zip code", &["94107", "10023", "60614", "73301"]),
        ],
        action: "process that for you",
    },
    Domain {
        name: "restaurant",
        goals: &[
            "book a table for dinner",
            "find a cheap place to eat in the centre",
            "reserve an italian restaurant",
            "change my booking to a later time",
        ],
        details: &[
            ("number of people", &["2", "4", "5", "7"]),
            ("time", &["18:30", "19:00", "20:15", "12:45"]),
            ("day", &["monday", "friday", "saturday", "sunday"]),
        ],
        action: "make the booking",
    },
];

const POLITE_OPENERS: &[&str] = &["Hi there!", "Hello, good afternoon.", "Hi, I hope you're doing well.", "Hello!"];
const POLITE_ADDONS: &[&str] = &["Thank you so much.", "I'd really appreciate it.", "Thanks in advance!", "please"];
const ELABORATIONS: &[&str] = &[
    "I have been planning this for a while and want to make sure everything is correct.",
    "It is quite important for me because my schedule is very tight this week.",
    "Just to give you some context, this is for a family event.",
    "I want to double check every detail before we continue.",
];
const TERSE: &[&str] = &["ok", "yes", "yeah", "sure", "k", "fine", "no", "yep"];
const HEDGES: &[&str] = &["I think", "maybe", "I'm not sure but", "probably"];
const FRUSTRATION: &[&str] = &[
    "This is ridiculous.",
    "I already told you that.",
    "Why is this so complicated?",
    "You're not listening to me.",
    "Ugh, seriously?",
];
const PUSHBACK: &[&str] = &[
    "Why can't you just do it?",
    "Why do you need that?",
    "Can't you look it up yourself?",
    "Is there really no other way?",
];
const PIVOTS: &[&str] = &[
    "Also, do you know if there is a loyalty program?",
    "By the way, what are your opening hours?",
    "Actually, one more thing, can I pay with a gift card?",
];

impl Dialogue {
    pub fn generate(profile: &Profile, task: u64, rng: &mut impl Rng) -> Self {
        let domain = &DOMAINS[(task % DOMAINS.len() as u64) as usize];
        let goal = domain.goals[((task / DOMAINS.len() as u64) % domain.goals.len() as u64) as usize];
        let values: Vec<(&str, &str)> = domain
            .details
            .iter()
            .map(|(name, options)| (*name, *options.choose(rng).expect("options are non-empty")))
            .collect();
        let mut builder = Builder { profile, messages: Vec::new(), clock: 0 };
        builder.agent(rng, "Hello! How can I help you today?".to_owned());

        let frontload = rng.gen_bool(profile.frontload);
        let opening = opening(profile, goal, &values, frontload, rng);
        let opening = builder.style(rng, opening);
        builder.user(rng, opening);

        let exchanges = rng.gen_range(profile.exchanges.0..=profile.exchanges.1) as usize;
        let mut previous_user = String::new();
        for step in 0..exchanges {
            let (name, value) = values[step % values.len()];
            if frontload && step < values.len() {
                builder.agent(rng, format!("Thanks. Can you confirm your {name} is {value}?"));
            } else {
                builder.agent(rng, format!("Could you please provide your {name}?"));
            }
            let reply = if rng.gen_bool(profile.repeat) && !previous_user.is_empty() {
                previous_user.clone()
            } else if rng.gen_bool(profile.terse) {
                TERSE.choose(rng).expect("non-empty").to_string()
            } else {
                let confirms = frontload && step < values.len();
                let text = answer(profile, if confirms { None } else { Some((name, value)) }, rng);
                builder.style(rng, text)
            };
            previous_user = reply.clone();
            builder.user(rng, reply);
        }

        let success = rng.gen_bool(profile.success);
        if success {
            builder.agent(rng, format!("I can {} now. Shall I go ahead?", domain.action));
            let confirm = builder.style(rng, "Yes, go ahead.".to_owned());
            builder.user(rng, confirm);
            builder.agent(rng, "Done! Is there anything else I can help you with?".to_owned());
        } else {
            builder.agent(rng, format!("I'm sorry, I am unable to {} because of our policy.", domain.action));
        }
        if let Some(text) = builder.ending(rng) {
            builder.user(rng, text);
        }
        let noise: f64 = rng.gen_range(-1.0..1.0);
        let rating = (profile.rating + noise + if success { 0.5 } else { -0.5 }).round().clamp(1.0, 5.0) as u8;
        Dialogue {
            task_id: format!("{}-{task}", domain.name),
            outcome: if success { 1.0 } else { 0.0 },
            rating,
            messages: builder.messages,
        }
    }
}

struct Builder<'a> {
    profile: &'a Profile,
    messages: Vec<(&'static str, String, u32)>,
    clock: u32,
}

impl Builder<'_> {
    /// How the user ends the conversation, as the profile draws: thanks, bye, a stop token, or nothing (walks away).
    fn ending(&mut self, rng: &mut impl Rng) -> Option<String> {
        let profile = self.profile;
        let end: f64 = rng.r#gen();
        if end < profile.end_thanks {
            Some(self.style(rng, "Thank you, that's all I needed.".to_owned()))
        } else if end < profile.end_thanks + profile.end_bye {
            Some(self.style(rng, "bye".to_owned()))
        } else if end < profile.end_thanks + profile.end_bye + profile.end_stop_token {
            Some("###STOP###".to_owned())
        } else {
            None
        }
    }

    fn agent(&mut self, rng: &mut impl Rng, text: String) {
        self.clock += rng.gen_range(1..4);
        self.messages.push(("assistant", text, self.clock));
    }

    fn user(&mut self, rng: &mut impl Rng, text: String) {
        // People take longer and vary more than simulators.
        self.clock += if self.profile.human { rng.gen_range(4..90) } else { rng.gen_range(2..6) };
        self.messages.push(("user", text, self.clock));
    }

    /// Applies politeness, elaboration, informality and typos.
    fn style(&self, rng: &mut impl Rng, mut text: String) -> String {
        let p = self.profile;
        if rng.gen_bool(p.polite) {
            text = format!("{text} {}", POLITE_ADDONS.choose(rng).expect("non-empty"));
        }
        if rng.gen_bool(p.verbose) {
            text = format!("{text} {}", ELABORATIONS.choose(rng).expect("non-empty"));
        }
        if rng.gen_bool(p.informal) {
            text = text.to_lowercase().trim_end_matches(['.', '!']).to_owned();
        }
        if p.typo > 0.0 {
            text = text
                .split(' ')
                .map(|word| {
                    if word.len() > 3 && rng.gen_bool(p.typo) {
                        let mut chars: Vec<char> = word.chars().collect();
                        let i = rng.gen_range(1..chars.len() - 1);
                        chars.swap(i, i - 1);
                        chars.into_iter().collect()
                    } else {
                        word.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        text
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

/// The user's first message: the goal, politely where the profile is, with every detail where it front-loads them.
fn opening(profile: &Profile, goal: &str, values: &[(&str, &str)], frontload: bool, rng: &mut impl Rng) -> String {
    let mut opening = format!("I need to {goal}.");
    if profile.polite > 0.0 && rng.gen_bool(profile.polite) {
        opening = format!("{} {opening}", POLITE_OPENERS.choose(rng).expect("non-empty"));
    }
    if frontload {
        let all: Vec<String> = values.iter().map(|(n, v)| format!("my {n} is {v}")).collect();
        opening = format!("{opening} {}.", capitalise(&all.join(", ")));
    }
    opening
}

/// The user's answer to a request for one detail (None: a confirmation of a detail already given), hedged, pushed
/// back, frustrated or pivoting as the profile draws.
fn answer(profile: &Profile, detail: Option<(&str, &str)>, rng: &mut impl Rng) -> String {
    let mut text = match detail {
        None => "Yes, that's right.".to_owned(),
        Some((name, value)) => format!("My {name} is {value}."),
    };
    if rng.gen_bool(profile.uncertain) {
        text = format!("{} {}", HEDGES.choose(rng).expect("non-empty"), lower_first(&text));
    }
    if rng.gen_bool(profile.pushback) {
        text = format!("{} {text}", PUSHBACK.choose(rng).expect("non-empty"));
    }
    if rng.gen_bool(profile.frustrated) {
        text = format!("{} {text}", FRUSTRATION.choose(rng).expect("non-empty"));
    }
    if rng.gen_bool(profile.pivot) {
        text = format!("{text} {}", PIVOTS.choose(rng).expect("non-empty"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::profiles::default_profiles;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_dialogue_has_a_user_turn_and_ordered_clock() {
        for profile in default_profiles() {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            for task in 0..200 {
                let dialogue = Dialogue::generate(&profile, task, &mut rng);
                assert!(dialogue.messages.iter().any(|(role, text, _)| *role == "user" && !text.trim().is_empty()));
                assert!(dialogue.messages.windows(2).all(|w| w[0].2 < w[1].2));
                assert!((1..=5).contains(&dialogue.rating));
            }
        }
    }

    #[test]
    fn polite_simulator_is_politer_and_longer_than_terse_one() {
        let profiles = default_profiles();
        let stats = |profile: &Profile| {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let (mut words, mut turns, mut polite) = (0usize, 0usize, 0usize);
            for task in 0..500 {
                for (role, text, _) in Dialogue::generate(profile, task, &mut rng).messages {
                    if role == "user" {
                        turns += 1;
                        words += text.split_whitespace().count();
                        polite += usize::from(text.to_lowercase().contains("thank") || text.contains("please"));
                    }
                }
            }
            (words as f64 / turns as f64, polite as f64 / turns as f64)
        };
        let verbose = stats(&profiles[1]);
        let terse = stats(&profiles[2]);
        assert!(verbose.0 > 2.0 * terse.0, "{verbose:?} vs {terse:?}");
        assert!(verbose.1 > 3.0 * terse.1, "{verbose:?} vs {terse:?}");
    }
}
