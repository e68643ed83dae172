//! What document formats share: decoding bytes under the UTF-8 policy, reading a whole file, and walking a top-level
//! JSON array or object record by record, so that a malformed record is one reject and its neighbours survive.
//!
//! Consumes: an [`InputFile`] and a parse function per record. Produces: records and rejects in a [`RecordSink`].

use std::borrow::Cow;

use super::json;
use super::sink::RecordSink;
use crate::ingest::error::IngestError;
use crate::ingest::input_files::InputFile;
use crate::ingest::options::Utf8Policy;
use crate::ingest::record::{Location, RawConversation};

/// Bytes as text under the sink's UTF-8 policy: replaced (with a warning) or `None` after rejecting the record.
pub fn decode<'a>(
    bytes: &'a [u8],
    location: Location,
    sink: &mut dyn RecordSink,
) -> Result<Option<Cow<'a, str>>, IngestError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Some(Cow::Borrowed(text))),
        Err(e) => {
            let at = e.valid_up_to();
            match sink.utf8_policy() {
                Utf8Policy::Replace => {
                    sink.warn(location, format!("invalid UTF-8 at byte {at} of the record, replaced with U+FFFD"));
                    Ok(Some(String::from_utf8_lossy(bytes)))
                }
                Utf8Policy::Reject => {
                    sink.reject(location, format!("invalid UTF-8 at byte {at} of the record"), bytes)?;
                    Ok(None)
                }
            }
        }
    }
}

/// Reads a whole-document file as text, rejecting the file as one record when it cannot be read or decoded.
/// `None` means the file was rejected (and counted) already.
pub fn read_document(file: &InputFile, sink: &mut dyn RecordSink) -> Result<Option<String>, IngestError> {
    let bytes = file.read_all().map_err(|source| IngestError::Io { path: file.disk_path.clone(), source })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        sink.reject(Location::File, "empty file".into(), b"")?;
        return Ok(None);
    }
    Ok(decode(&bytes, Location::File, sink)?.map(Cow::into_owned))
}

/// Reads a document whose top level is an array of records, parsing each element with `parse` (given the
/// element's JSON text and index). Complete records survive a truncated or malformed tail, which is rejected as one
/// record with its byte offset.
pub fn read_array_records(
    file: &InputFile,
    sink: &mut dyn RecordSink,
    parse: impl Fn(&str, u64) -> Result<RawConversation, String>,
) -> Result<(), IngestError> {
    let Some(text) = read_document(file, sink)? else {
        return Ok(());
    };
    let items = match json::split_array(&text) {
        Ok(items) => items,
        Err(reason) => return sink.reject(Location::File, reason, text.as_bytes()),
    };
    if items.is_empty() {
        return sink.reject(Location::File, "no records: the array is empty".into(), text.as_bytes());
    }
    for item in items {
        match item {
            json::ArrayItem::Element { index, byte_offset, raw } => {
                let location = Location::RecordAt { index, byte_offset };
                match parse(raw.get(), index) {
                    Ok(record) => sink.accept(location, record)?,
                    Err(reason) => sink.reject(location, reason, raw.get().as_bytes())?,
                }
            }
            json::ArrayItem::Broken { index, byte_offset, reason } => {
                let tail = &text.as_bytes()[byte_offset as usize..];
                sink.reject(Location::RecordAt { index, byte_offset }, reason, tail)?;
            }
        }
    }
    Ok(())
}

/// Reads a document whose top level is an object of `key -> record`, in file order, parsing each value with
/// `parse` (given the key and the value's JSON text). A document that is not such an object is one reject.
pub fn read_object_records(
    file: &InputFile,
    sink: &mut dyn RecordSink,
    parse: impl Fn(&str, &str) -> Result<RawConversation, String>,
) -> Result<(), IngestError> {
    let Some(text) = read_document(file, sink)? else {
        return Ok(());
    };
    let entries = match json::object_entries(&text) {
        Ok(entries) => entries,
        Err(e) => {
            let reason = if e.is_eof() {
                format!("file is truncated: {e}")
            } else {
                format!("expected a JSON object of records: {e}")
            };
            return sink.reject(Location::File, reason, text.as_bytes());
        }
    };
    if entries.is_empty() {
        return sink.reject(Location::File, "no records: the object is empty".into(), text.as_bytes());
    }
    for (index, (key, raw)) in entries.into_iter().enumerate() {
        let location = Location::Record(index as u64);
        match parse(&key, raw.get()) {
            Ok(record) => sink.accept(location, record)?,
            Err(reason) => sink.reject(location, format!("record \"{key}\": {reason}"), raw.get().as_bytes())?,
        }
    }
    Ok(())
}

/// Parses one record's JSON text into `T`, with the error text readers put in rejects.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| json_error_reason(text, &e))
}

/// A record's JSON error as a reject reason: `malformed JSON: ...` where the text is not JSON, `schema: field `F`:
/// ...` where it is JSON of the wrong shape (F, the last key before the error's position, is the field at fault).
pub fn json_error_reason(text: &str, error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Data => match field_before(text, error.line(), error.column()) {
            Some(field) => format!("schema: field `{field}`: {error}"),
            None => format!("schema: {error}"),
        },
        _ => format!("malformed JSON: {error}"),
    }
}

/// The last object key before (1-based) `line` and `column` of `text`.
fn field_before(text: &str, line: usize, column: usize) -> Option<&str> {
    let line_text = text.lines().nth(line.checked_sub(1)?)?;
    let mut end = column.min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end -= 1;
    }
    let mut before = &line_text[..end];
    while let Some(colon) = before.rfind(':') {
        let key = before[..colon].trim_end();
        if let Some(key) = key.strip_suffix('"') {
            let start = key.rfind('"')?;
            return Some(&key[start + 1..]);
        }
        before = &before[..colon];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_of_the_wrong_type_is_a_schema_error_naming_its_field() {
        let text = r#"{"conversation_id": "a", "outcome": "success", "messages": []}"#;
        let error = serde_json::from_str::<Probe>(text).unwrap_err();
        let reason = json_error_reason(text, &error);
        assert!(reason.starts_with("schema: field `outcome`: invalid type"), "{reason}");
        let broken = r#"{"conversation_id": "a", "outcome": "#;
        let error = serde_json::from_str::<Probe>(broken).unwrap_err();
        assert!(json_error_reason(broken, &error).starts_with("malformed JSON"));
        assert_eq!(field_before("{\"a\" : 1, \"b\":", 1, 20), Some("b"));
        assert_eq!(field_before("[1, 2]", 1, 5), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Probe {
        conversation_id: String,
        outcome: Option<f64>,
    }
}
