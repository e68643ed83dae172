//! One reader per transcript format, all behind [`FormatReader`].
//!
//! Consumes: an [`InputFile`]. Produces: every record of the file, in file order, handed to a [`RecordSink`]
//! either as a [`RawConversation`] (identity and roles as the file wrote them; validation happens in the sink) or
//! as a reject with its location and reason. A reader never drops a record: everything it reads is accepted or
//! rejected. A new format costs one module here and one line in [`reader_for`].

mod chitchat;
mod csv;
mod json;
mod jsonl;
mod multiwoz;
mod recllmsim;
mod sharegpt;
mod tau2;
mod tau_bench;

use std::borrow::Cow;

use super::IngestError;
use super::input_files::InputFile;
use super::record::{Format, Location, RawConversation};
use crate::pipeline::config::{InputConfig, Utf8Policy};

pub use json::{JsonContent, excerpt};

/// Where a reader sends what it read.
pub trait RecordSink {
    /// A record that could be read; validation may still reject it.
    fn accept(&mut self, location: Location, record: RawConversation) -> Result<(), IngestError>;
    /// A record that could not be read. `raw` is the record's bytes, or a prefix of them, for the excerpt.
    fn reject(&mut self, location: Location, reason: String, raw: &[u8]) -> Result<(), IngestError>;
    /// Something was changed but the record kept (invalid UTF-8 replaced).
    fn warn(&mut self, location: Location, message: String);
    fn utf8_policy(&self) -> Utf8Policy;
    /// `bytes` more of the file have been read (for progress; streaming readers call it per block).
    fn advance(&mut self, _bytes: u64) {}
}

/// Reads one file of one format.
pub trait FormatReader: Send + Sync {
    fn read(&self, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), IngestError>;
}

/// The reader for an input's format and options.
pub fn reader_for(input: &InputConfig) -> Box<dyn FormatReader> {
    match input.format {
        Format::Jsonl => Box::new(jsonl::JsonlReader::canonical()),
        Format::Openai => Box::new(jsonl::JsonlReader::openai()),
        Format::TauBench => Box::new(tau_bench::TauBenchReader),
        Format::Tau2 => Box::new(tau2::Tau2Reader),
        Format::Sharegpt => Box::new(sharegpt::ShareGptReader),
        Format::Csv => Box::new(csv::CsvReader::new(
            input.csv.clone().expect("pipeline check guarantees [input.csv] for format csv"),
        )),
        Format::Multiwoz => Box::new(multiwoz::MultiwozReader),
        Format::RecLlmSim => Box::new(recllmsim::RecLlmSimReader::new(input.recllmsim.clone().unwrap_or_default())),
        Format::Chitchat => Box::new(chitchat::ChitchatReader),
    }
}

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
    serde_json::from_str(text).map_err(|e| format!("malformed record: {e}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink that records what readers emit, for the readers' unit tests.
    use super::*;

    #[derive(Default)]
    pub struct VecSink {
        pub accepted: Vec<(Location, RawConversation)>,
        pub rejected: Vec<(Location, String)>,
        pub warnings: Vec<(Location, String)>,
        pub policy: Option<Utf8Policy>,
    }

    impl RecordSink for VecSink {
        fn accept(&mut self, location: Location, record: RawConversation) -> Result<(), IngestError> {
            self.accepted.push((location, record));
            Ok(())
        }
        fn reject(&mut self, location: Location, reason: String, _raw: &[u8]) -> Result<(), IngestError> {
            self.rejected.push((location, reason));
            Ok(())
        }
        fn warn(&mut self, location: Location, message: String) {
            self.warnings.push((location, message));
        }
        fn utf8_policy(&self) -> Utf8Policy {
            self.policy.unwrap_or(Utf8Policy::Replace)
        }
    }

    /// Writes `content` to a temp file named `name` and reads it with `reader`.
    pub fn read_text(reader: &dyn FormatReader, name: &str, content: &[u8]) -> VecSink {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let file = InputFile {
            disk_path: path,
            zip_entry: None,
            display: name.to_owned(),
            relative_stem: name.rsplit_once('.').map_or(name, |(stem, _)| stem).to_owned(),
        };
        let mut sink = VecSink::default();
        reader.read(&file, &mut sink).unwrap();
        sink
    }
}
