//! Text preparation shared by every facet: meta messages dropped, agent markup stripped, words counted.
//!
//! Consumes: one conversation's messages as read from `conversations.parquet`. Produces: a [`Prepared`]
//! conversation whose messages carry cleaned text, its lower-cased form and its word count, plus the indexes of the
//! user turns. Cleaning follows the USI scorer (shared/specs/usi.md section 1): human-side meta messages (`\tau `,
//! `\reward`, canvas/highlight/survey markers, `/stop`) and the simulator-side `###STOP###` are dropped;
//! `<|think|>`, `<function=...>` and `<|tool|>` markup is removed. A user message without text (a tool call) is not
//! a turn. Two word counts: `usi_words`, whitespace-separated tokens exactly as the published scorer counts them,
//! and `words`, the same except that each CJK character counts as one word, so languages written without spaces get
//! sensible counts (the project's own facets use it; without CJK characters the two are equal).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use rustc_hash::FxHashSet;

use crate::ingest::{Role, SourceKind};

/// A message as the features stage reads it.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    pub role: Role,
    pub content: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

/// A message after cleaning.
#[derive(Debug, Clone)]
pub struct PreparedMessage<'a> {
    pub role: Role,
    /// Cleaned text; `None` for messages without text (tool calls).
    pub text: Option<Cow<'a, str>>,
    /// Lower-cased cleaned text (empty without text, for system and tool messages, which no facet reads, and for
    /// assistant messages unless [`Reading::assistant_text`]).
    pub lower: String,
    /// Words in the cleaned text, each CJK character one word (0 where `lower` is empty for lack of need).
    pub words: usize,
    /// Whitespace-separated tokens of the cleaned text, as the USI scorer counts words (0 for system and tool).
    pub usi_words: usize,
    pub timestamp: Option<&'a str>,
    /// Where the words of `lower` are (user turns only): tokenised once, read by every facet.
    spans: WordSpans,
}

/// Byte ranges in a turn's lower-cased text.
#[derive(Debug, Clone, Default)]
struct WordSpans {
    /// Whitespace tokens, CJK characters split off.
    tokens: Vec<(u32, u32)>,
    /// Tokens trimmed of surrounding punctuation, the empty ones left out.
    words: Vec<(u32, u32)>,
    /// Indexes into `words` of the content words (not stopwords).
    content: Vec<u32>,
}

impl WordSpans {
    fn of(lower: &str, stopwords: &FxHashSet<String>) -> Self {
        let offset = |piece: &str| (piece.as_ptr() as usize - lower.as_ptr() as usize) as u32;
        let span = |piece: &str| (offset(piece), offset(piece) + piece.len() as u32);
        let mut spans = WordSpans::default();
        for token in tokens(lower) {
            spans.tokens.push(span(token));
            let word = token.trim_matches(|c: char| !c.is_alphanumeric());
            if !word.is_empty() {
                if !stopwords.contains(word) {
                    spans.content.push(spans.words.len() as u32);
                }
                spans.words.push(span(word));
            }
        }
        spans
    }
}

impl PreparedMessage<'_> {
    /// Whether the message is a turn of the dialogue as the USI scorer counts them: a user or assistant message
    /// with text. System prompts, tool output and tool calls without text are not.
    pub fn is_turn(&self) -> bool {
        matches!(self.role, Role::User | Role::Assistant) && self.text.is_some()
    }

    fn piece(&self, (start, end): (u32, u32)) -> &str {
        &self.lower[start as usize..end as usize]
    }

    /// The lower-cased tokens of a user turn: whitespace-separated, each CJK character its own.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.spans.tokens.iter().map(|&s| self.piece(s))
    }

    /// The tokens trimmed of surrounding punctuation, empty ones left out.
    pub fn clean_words(&self) -> impl Iterator<Item = &str> {
        self.spans.words.iter().map(|&s| self.piece(s))
    }

    /// The clean words that are not stopwords: what the turn is about.
    pub fn content_words(&self) -> impl Iterator<Item = &str> {
        self.spans.content.iter().map(|&i| self.piece(self.spans.words[i as usize]))
    }
}

/// A conversation ready for the facets.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    pub messages: Vec<PreparedMessage<'a>>,
    /// Indexes into `messages` of the user turns (role user, with text), in order.
    pub user_turns: Vec<usize>,
    /// The last user message's raw content before cleaning (stop tokens are meta messages and get dropped).
    pub last_raw_user_text: Option<&'a str>,
}

impl<'a> Prepared<'a> {
    pub fn turn(&self, i: usize) -> &PreparedMessage<'a> {
        &self.messages[self.user_turns[i]]
    }

    pub fn turns(&self) -> impl Iterator<Item = &PreparedMessage<'a>> {
        self.user_turns.iter().map(|&i| &self.messages[i])
    }
}

static THINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<\|think\|>.*?<\|/think\|>").expect("valid"));
static FUNCTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<function=.*?(?:</function>|\z)").expect("valid"));
static TOOL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<\|tool\|>.*?<\|/tool\|>").expect("valid"));

/// Whether a message is a meta message that the USI scorer drops, for a source of this kind.
pub fn is_meta(content: &str, kind: SourceKind) -> bool {
    match kind {
        SourceKind::Human => {
            content.starts_with("\\tau ")
                || content.starts_with("\\reward")
                || content.contains("<|canvas|>")
                || content.contains("<|highlight|>")
                || content.contains("<|survey|>")
                || content.trim() == "/stop"
        }
        SourceKind::Simulator => content.trim() == "###STOP###",
    }
}

/// Removes agent markup: think blocks, function calls (to `</function>` or the end), tool blocks.
pub fn strip_markup(text: &str) -> Cow<'_, str> {
    if !text.contains("<|") && !text.contains("<function=") {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for pattern in [&*THINK, &*FUNCTION, &*TOOL] {
        if let Cow::Owned(replaced) = pattern.replace_all(&out, "") {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// What the facets at hand read beyond the counts and lower-cased text of user turns, so nobody pays for the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading<'s> {
    /// Tokenise user turns (`tokens`, `clean_words`, `content_words`); these stopwords mark the content words.
    pub words: Option<&'s FxHashSet<String>>,
    /// Lower-case and count assistant messages too.
    pub assistant_text: bool,
}

/// Cleans a conversation and prepares what `reading` asks for. `None` when nothing is left or no user turn remains
/// (the USI scorer gives no row).
pub fn prepare<'a>(messages: &[MessageView<'a>], kind: SourceKind, reading: Reading<'_>) -> Option<Prepared<'a>> {
    let mut prepared = Vec::with_capacity(messages.len());
    let mut user_turns = Vec::new();
    let mut last_raw_user_text = None;
    for message in messages {
        if message.role == Role::User && message.content.is_some() {
            last_raw_user_text = message.content;
        }
        if message.content.is_some_and(|c| is_meta(c, kind)) {
            continue;
        }
        let text = message.content.map(strip_markup);
        // System prompts and tool output are never matched against cues: no need to lower-case or count them.
        let read_by_facets = message.role == Role::User || (message.role == Role::Assistant && reading.assistant_text);
        let (lower, words, usi_words) = match &text {
            Some(text) if read_by_facets => {
                let usi_words = text.split_whitespace().count();
                let words = if text.is_ascii() { usi_words } else { count_words(text) };
                (text.to_lowercase(), words, usi_words)
            }
            _ => (String::new(), 0, 0),
        };
        let is_turn = message.role == Role::User && text.is_some();
        if is_turn {
            user_turns.push(prepared.len());
        }
        let spans = match reading.words {
            Some(stopwords) if is_turn => WordSpans::of(&lower, stopwords),
            _ => WordSpans::default(),
        };
        prepared.push(PreparedMessage {
            role: message.role,
            text,
            lower,
            words,
            usi_words,
            timestamp: message.timestamp,
            spans,
        });
    }
    if user_turns.is_empty() {
        return None;
    }
    Some(Prepared { messages: prepared, user_turns, last_raw_user_text })
}

/// CJK ideographs, kana and Hangul syllables: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2A6DF)
}

/// Words: whitespace-separated tokens, with each CJK character a word of its own.
pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let ascii = text.is_ascii();
    text.split_whitespace().flat_map(move |token| {
        let (whole, split) =
            if ascii || !token.chars().any(is_cjk) { (Some(token), None) } else { (None, Some(split_cjk(token))) };
        whole.into_iter().chain(split.into_iter().flatten())
    })
}

/// Splits one whitespace token into its CJK characters and the runs between them.
fn split_cjk(token: &str) -> impl Iterator<Item = &str> {
    let mut rest = token;
    std::iter::from_fn(move || {
        let mut chars = rest.char_indices();
        let (_, first) = chars.next()?;
        let end = if is_cjk(first) {
            first.len_utf8()
        } else {
            chars.find(|(_, c)| is_cjk(*c)).map_or(rest.len(), |(i, _)| i)
        };
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

pub fn count_words(text: &str) -> usize {
    if text.is_ascii() { text.split_ascii_whitespace().count() } else { tokens(text).count() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: Role, content: &str) -> MessageView<'_> {
        MessageView { role, content: Some(content), timestamp: None }
    }

    #[test]
    fn words_are_whitespace_tokens_and_cjk_characters() {
        assert_eq!(count_words("  I need   a flight.\n"), 4);
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("教师节快到了"), 6);
        assert_eq!(count_words("预算在2000元以内 ok"), 8);
        let pieces: Vec<_> = tokens("我要abc的 x").collect();
        assert_eq!(pieces, ["我", "要", "abc", "的", "x"]);
    }

    #[test]
    fn markup_is_stripped() {
        assert_eq!(strip_markup("a <|think|>hidden\nplan<|/think|>b"), "a b");
        assert_eq!(strip_markup("ok <function=lookup>{\"id\": 1}</function> done"), "ok  done");
        assert_eq!(strip_markup("call <function=x>{unfinished"), "call ");
        assert_eq!(strip_markup("<|tool|>x<|/tool|>y<|tool|>z<|/tool|>"), "y");
        assert!(matches!(strip_markup("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn meta_messages_depend_on_the_side() {
        assert!(is_meta("\\tau done", SourceKind::Human));
        assert!(is_meta("\\reward 1", SourceKind::Human));
        assert!(is_meta("see <|survey|>", SourceKind::Human));
        assert!(is_meta(" /stop ", SourceKind::Human));
        assert!(!is_meta("###STOP###", SourceKind::Human));
        assert!(is_meta(" ###STOP###\n", SourceKind::Simulator));
        assert!(!is_meta("/stop", SourceKind::Simulator));
    }

    #[test]
    fn prepare_drops_meta_and_finds_turns() {
        let messages = [
            view(Role::Assistant, "Hi"),
            view(Role::User, "Hello <|think|>x<|/think|>there"),
            MessageView { role: Role::User, content: None, timestamp: None },
            view(Role::User, "###STOP###"),
        ];
        let stopwords = FxHashSet::default();
        let reading = Reading { words: Some(&stopwords), assistant_text: true };
        let prepared = prepare(&messages, SourceKind::Simulator, reading).unwrap();
        assert_eq!(prepared.messages.len(), 3, "the stop message is dropped, the tool call kept");
        assert_eq!(prepared.user_turns, [1]);
        assert_eq!(prepared.turn(0).text.as_deref(), Some("Hello there"));
        assert_eq!(prepared.turn(0).lower, "hello there");
        assert_eq!(prepared.last_raw_user_text, Some("###STOP###"));
        let words: Vec<&str> = prepared.turn(0).clean_words().collect();
        assert_eq!(words, ["hello", "there"]);
    }

    #[test]
    fn no_user_turn_left_gives_none() {
        let messages = [view(Role::Assistant, "Hi"), view(Role::User, "###STOP###")];
        assert!(prepare(&messages, SourceKind::Simulator, Reading::default()).is_none());
    }
}
