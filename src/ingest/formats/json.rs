//! JSON helpers the readers share: a truncation-tolerant splitter for top-level arrays, an order-keeping reader of
//! top-level objects, message content in its several shapes, and ids written as strings or numbers.
//!
//! Consumes: document text. Produces: borrowed raw elements with their record index and byte offset, so a reader
//! parses each record on its own and one bad record never takes the rest of the file with it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::ingest::record::RawMessage;

/// One element of a top-level JSON array, or the reason the array stopped.
pub enum ArrayItem<'a> {
    Element {
        index: u64,
        byte_offset: u64,
        raw: &'a RawValue,
    },
    /// The rest of the document from `byte_offset` cannot be read (truncated or malformed); it is one record.
    Broken {
        index: u64,
        byte_offset: u64,
        reason: String,
    },
}

/// Splits a top-level JSON array into its elements without parsing them. A file cut off mid-record yields every
/// complete element and then one `Broken` item for the tail. Errors only when the document is not an array.
pub fn split_array(text: &str) -> Result<Vec<ArrayItem<'_>>, String> {
    let bytes = text.as_bytes();
    let mut pos = skip_whitespace(bytes, 0);
    if bytes.get(pos) != Some(&b'[') {
        return Err("expected a JSON array (`[` ... `]`) at the top level".into());
    }
    pos += 1;
    let mut items = Vec::new();
    let mut index = 0u64;
    loop {
        pos = skip_whitespace(bytes, pos);
        match bytes.get(pos) {
            Some(b']') => {
                check_end(bytes, pos, index, &mut items);
                break;
            }
            None => {
                items.push(ArrayItem::Broken {
                    index,
                    byte_offset: pos as u64,
                    reason: "file ends before the closing `]` (truncated)".into(),
                });
                break;
            }
            _ => {}
        }
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(raw)) => {
                items.push(ArrayItem::Element { index, byte_offset: pos as u64, raw });
                pos += stream.byte_offset();
            }
            Some(Err(e)) => {
                let reason = if e.is_eof() {
                    format!("file ends in the middle of this record (truncated): {e}")
                } else {
                    format!("malformed JSON, the rest of the file cannot be read: {e}")
                };
                items.push(ArrayItem::Broken { index, byte_offset: pos as u64, reason });
                break;
            }
            None => break,
        }
        index += 1;
        pos = skip_whitespace(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => {
                check_end(bytes, pos, index, &mut items);
                break;
            }
            None => {
                items.push(ArrayItem::Broken {
                    index,
                    byte_offset: pos as u64,
                    reason: "file ends before the closing `]` (truncated after a complete record)".into(),
                });
                break;
            }
            Some(other) => {
                items.push(ArrayItem::Broken {
                    index,
                    byte_offset: pos as u64,
                    reason: format!("expected `,` or `]` between records, found `{}`", *other as char),
                });
                break;
            }
        }
    }
    Ok(items)
}

/// After the closing `]` at `close`, only whitespace may follow; anything else (a second array appended) is
/// rejected as one record from where it starts.
fn check_end(bytes: &[u8], close: usize, index: u64, items: &mut Vec<ArrayItem<'_>>) {
    let rest = skip_whitespace(bytes, close + 1);
    if rest < bytes.len() {
        items.push(ArrayItem::Broken {
            index,
            byte_offset: rest as u64,
            reason: "content after the array's closing `]` (two documents in one file?): not read".into(),
        });
    }
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// The entries of a top-level JSON object in file order (serde_json's own map would sort them).
pub fn object_entries(text: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object at the top level")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                entries.push((key, value));
            }
            Ok(entries)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = de.deserialize_map(Entries)?;
    de.end()?;
    Ok(entries)
}

/// Message content as formats write it: a string, null (tool calls), or a list of parts (`{type, text}`) whose
/// text parts are joined with newlines.
#[derive(Debug, Default)]
pub struct JsonContent(pub Option<String>);

impl<'de> Deserialize<'de> for JsonContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
}

/// Visits content without building a `serde_json::Value` for the common case, a plain string.
struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = JsonContent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("message content: a string, null or a list of parts")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<JsonContent, E> {
        Ok(JsonContent(Some(text.to_owned())))
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<JsonContent, E> {
        Ok(JsonContent(Some(text)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<JsonContent, E> {
        Ok(JsonContent(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<JsonContent, E> {
        Ok(JsonContent(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<JsonContent, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonContent, A::Error> {
        let mut texts: Vec<String> = Vec::new();
        while let Some(part) = seq.next_element::<serde_json::Value>()? {
            match part {
                serde_json::Value::String(text) => texts.push(text),
                serde_json::Value::Object(mut fields) => {
                    if let Some(serde_json::Value::String(text)) = fields.remove("text") {
                        texts.push(text);
                    }
                }
                _ => {}
            }
        }
        Ok(JsonContent((!texts.is_empty()).then(|| texts.join("\n"))))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonContent, E> {
        Err(E::custom("message content must be a string, null or a list of parts, found a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonContent, E> {
        Err(E::custom("message content must be a string, null or a list of parts, found a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonContent, E> {
        Err(E::custom("message content must be a string, null or a list of parts, found a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonContent, E> {
        Err(E::custom("message content must be a string, null or a list of parts, found a number"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<JsonContent, A::Error> {
        Err(de::Error::custom("message content must be a string, null or a list of parts, found an object"))
    }
}

/// A message as most JSON formats write it: `{role, content, timestamp}`; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct MessageIn {
    pub role: Option<String>,
    #[serde(default)]
    pub content: JsonContent,
    pub timestamp: Option<JsonId>,
}

/// Messages to raw messages; a message without a role rejects the record.
pub fn convert_messages(messages: Vec<MessageIn>) -> Result<Vec<RawMessage>, String> {
    messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(RawMessage {
                role: m.role.ok_or_else(|| format!("message {i} has no role"))?,
                content: m.content.0,
                timestamp: m.timestamp.map(|t| t.0),
            })
        })
        .collect()
}

/// An id written as a string or as a number; a number keeps its JSON text exactly as written (`12`, not `12.0`;
/// an integer beyond 64 bits is not rounded through floating point, so two such ids never collide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonId(pub String);

impl<'de> Deserialize<'de> for JsonId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(text).map(JsonId).map_err(de::Error::custom),
            Some(b'-' | b'0'..=b'9') => Ok(JsonId(text.to_owned())),
            _ => {
                let kind = serde_json::from_str::<serde_json::Value>(text).map_or("not JSON", |v| kind_of(&v));
                Err(de::Error::custom(format!("an id must be a string or a number, found {kind}")))
            }
        }
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// At most 200 characters of a record, for the rejects file.
pub fn excerpt(raw: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(LIMIT * 4)]);
    let mut out: String = text.chars().take(LIMIT).collect();
    if text.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(items: &[ArrayItem<'_>]) -> Vec<String> {
        items
            .iter()
            .filter_map(|item| match item {
                ArrayItem::Element { raw, .. } => Some(raw.get().to_owned()),
                ArrayItem::Broken { .. } => None,
            })
            .collect()
    }

    fn broken(items: &[ArrayItem<'_>]) -> Vec<(u64, u64)> {
        items
            .iter()
            .filter_map(|item| match item {
                ArrayItem::Broken { index, byte_offset, .. } => Some((*index, *byte_offset)),
                ArrayItem::Element { .. } => None,
            })
            .collect()
    }

    #[test]
    fn splits_complete_array() {
        let items = split_array(" [ {\"a\": 1}, 2 ,\n[3] ] ").unwrap();
        assert_eq!(elements(&items), ["{\"a\": 1}", "2", "[3]"]);
        assert!(broken(&items).is_empty());
    }

    #[test]
    fn empty_array_has_no_items() {
        assert!(split_array("[]").unwrap().is_empty());
    }

    #[test]
    fn a_lone_bracket_and_a_second_array_are_reported() {
        assert_eq!(broken(&split_array("[").unwrap()), [(0, 1)]);
        let items = split_array("[1, 2]\n[3]").unwrap();
        assert_eq!(elements(&items), ["1", "2"]);
        assert_eq!(broken(&items), [(2, 7)]);
    }

    #[test]
    fn truncated_mid_record_keeps_complete_ones() {
        let text = r#"[{"id": "a"}, {"id": "b"}, {"id": "c", "conv"#;
        let items = split_array(text).unwrap();
        assert_eq!(elements(&items).len(), 2);
        assert_eq!(broken(&items), [(2, 27)]);
    }

    #[test]
    fn truncated_after_comma_is_reported() {
        let items = split_array(r#"[{"id": "a"},"#).unwrap();
        assert_eq!(elements(&items).len(), 1);
        assert_eq!(broken(&items).len(), 1);
    }

    #[test]
    fn not_an_array_is_an_error() {
        assert!(split_array("{\"a\": 1}").is_err());
    }

    #[test]
    fn object_entries_keep_file_order() {
        let entries = object_entries(r#"{"z": 1, "a": {"b": 2}}"#).unwrap();
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(entries[1].1.get(), r#"{"b": 2}"#);
    }

    #[test]
    fn content_shapes() {
        let parse = |s: &str| serde_json::from_str::<JsonContent>(s).map(|c| c.0);
        assert_eq!(parse("\"hi\"").unwrap().as_deref(), Some("hi"));
        assert_eq!(parse("null").unwrap(), None);
        assert_eq!(
            parse(r#"[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]"#)
                .unwrap()
                .as_deref(),
            Some("a\nb")
        );
        assert!(parse("3").unwrap_err().to_string().contains("a number"));
    }

    #[test]
    fn ids_from_numbers_keep_their_text() {
        assert_eq!(serde_json::from_str::<JsonId>("12").unwrap().0, "12");
        // Beyond u64: kept as written, so two neighbours stay two ids.
        let big = |text: &str| serde_json::from_str::<JsonId>(text).unwrap().0;
        assert_eq!(big("18446744073709551617"), "18446744073709551617");
        assert_ne!(big("18446744073709551617"), big("18446744073709551616"));
        assert!(serde_json::from_str::<JsonId>("null").unwrap_err().to_string().contains("found null"));
        assert_eq!(serde_json::from_str::<JsonId>("\"x\"").unwrap().0, "x");
        assert!(serde_json::from_str::<JsonId>("true").is_err());
    }

    #[test]
    fn excerpt_is_bounded() {
        let long = "é".repeat(500);
        let short = excerpt(long.as_bytes());
        assert_eq!(short.chars().count(), 201);
    }
}
