//! Post-conversation survey answers for USI's Eval term (shared/specs/usi.md section 4): the eight ordinal
//! questions, their answer scales, and the min-max scaling to [0, 1].
//!
//! Consumes: the `survey` column of `conversations.parquet` (a JSON object, question -> answer; answers as text such
//! as "completed" or "4 (Good)", or as numbers). Produces: [`Answers`], one ordinal value per question (0 = not
//! answered), [`scaled`] values, and the seeded random answer that replaces a simulator's skipped one. Questions
//! the scale does not know are ignored and counted; an answer that matches no label is counted and left unanswered.

use serde_json::Value;

/// The eight questions, each with its labels and their ordinal values (longest labels are tried first).
pub const QUESTIONS: [(&str, &[(&str, u8)]); 8] = [
    (
        "task_success",
        &[
            ("failed for an explained policy reason", 2),
            ("failed", 1),
            ("partial", 3),
            ("completed", 4),
            ("exceeded", 5),
        ],
    ),
    ("efficiency", &[("very inefficient", 1), ("somewhat inefficient", 2), ("about right", 3), ("very efficient", 4)]),
    ("question_amount_preference", &[("too many", 1), ("about right", 2), ("too few", 1)]),
    ("answer_effort_time", &[("high", 1), ("medium", 2), ("low", 3)]),
    ("human_like", &[("no", 1), ("partially", 2), ("yes", 3)]),
    ("interaction_flow", &[("not smooth", 1), ("ok", 2), ("smooth", 3), ("excellent", 4)]),
    ("overall_score", &[("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5)]),
    ("reuse", &[("absolutely no", 1), ("absolutely yes", 5), ("no", 2), ("maybe", 3), ("yes", 4)]),
];

/// Ordinal value per question, 0 where not answered.
pub type Answers = [u8; 8];

/// What parsing one survey found beside the answers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SurveyIssues {
    pub unknown_questions: u32,
    pub unreadable_answers: u32,
}

fn range(question: usize) -> (u8, u8) {
    let values = QUESTIONS[question].1.iter().map(|(_, v)| *v);
    (values.clone().min().unwrap_or(1), values.max().unwrap_or(1))
}

/// An answer's value on its question's [0, 1] scale.
pub fn scaled(question: usize, value: u8) -> f64 {
    let (low, high) = range(question);
    if high == low { 0.0 } else { f64::from(value - low) / f64::from(high - low) }
}

/// The ordinal value of one answer: a label (case-insensitive, at the start of the answer, ending at a word
/// boundary) or the number of a valid value.
fn ordinal(question: usize, answer: &Value) -> Option<u8> {
    let labels = QUESTIONS[question].1;
    let text = match answer {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_lowercase(),
        _ => return None,
    };
    let mut by_length: Vec<&(&str, u8)> = labels.iter().collect();
    by_length.sort_by_key(|(label, _)| std::cmp::Reverse(label.len()));
    for (label, value) in by_length {
        if let Some(rest) = text.strip_prefix(label)
            && !rest.starts_with(|c: char| c.is_alphanumeric())
        {
            return Some(*value);
        }
    }
    let number: f64 = text.split(|c: char| !(c.is_ascii_digit() || c == '.')).next()?.parse().ok()?;
    labels.iter().map(|(_, v)| *v).find(|v| f64::from(*v) == number)
}

/// Parses a survey object. Not an object: an error message.
pub fn parse(json: &str) -> Result<(Answers, SurveyIssues), String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("survey is not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("survey is not a JSON object".into()) };
    let mut answers = [0u8; 8];
    let mut issues = SurveyIssues::default();
    for (key, answer) in &map {
        match QUESTIONS.iter().position(|(name, _)| name == key) {
            // A null answer is a skipped question.
            Some(_) if answer.is_null() => {}
            Some(question) => match ordinal(question, answer) {
                Some(value) => answers[question] = value,
                None => issues.unreadable_answers += 1,
            },
            None => issues.unknown_questions += 1,
        }
    }
    Ok((answers, issues))
}

/// A valid answer to `question` chosen by `hash` (uniform over the question's labels, as a seeded generator would).
pub fn random_answer(question: usize, hash: u64) -> u8 {
    let labels = QUESTIONS[question].1;
    labels[(hash % labels.len() as u64) as usize].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_numbers_map_to_the_published_scales() {
        let (answers, issues) = parse(
            r#"{"task_success": "Failed for an explained policy reason", "efficiency": "About right",
                "question_amount_preference": "too few", "answer_effort_time": "LOW", "human_like": "partially",
                "interaction_flow": "Not smooth", "overall_score": "4 (Good)", "reuse": "absolutely yes",
                "free_text": "nice"}"#,
        )
        .unwrap();
        assert_eq!(answers, [2, 3, 1, 3, 2, 1, 4, 5]);
        assert_eq!(issues, SurveyIssues { unknown_questions: 1, unreadable_answers: 0 });
        let (numeric, _) = parse(r#"{"overall_score": 3, "task_success": "failed", "reuse": "no"}"#).unwrap();
        assert_eq!((numeric[6], numeric[0], numeric[7]), (3, 1, 2));
    }

    #[test]
    fn scaling_is_min_max_within_the_question() {
        assert_eq!(scaled(0, 1), 0.0);
        assert_eq!(scaled(0, 5), 1.0);
        assert_eq!(scaled(1, 3), 2.0 / 3.0);
        // too many and too few are both 1, about right 2.
        assert_eq!((scaled(2, 1), scaled(2, 2)), (0.0, 1.0));
        assert_eq!(scaled(3, 2), 0.5);
    }

    #[test]
    fn unreadable_answers_and_bad_surveys_are_reported() {
        let (answers, issues) = parse(r#"{"overall_score": "great", "human_like": "nope", "reuse": null}"#).unwrap();
        assert_eq!(answers, [0; 8]);
        assert_eq!(issues.unreadable_answers, 2);
        assert!(parse("[1, 2]").is_err());
        assert!(parse("{").is_err());
    }

    #[test]
    fn random_answers_are_valid_values() {
        for (question, (_, labels)) in QUESTIONS.iter().enumerate() {
            for hash in 0..20 {
                let value = random_answer(question, hash);
                assert!(labels.iter().any(|(_, v)| *v == value));
            }
        }
    }
}
