//! The two sides of reading a file: a [`FormatReader`] per format, and the [`RecordSink`] it hands every record to,
//! accepted or rejected, so that nothing read is lost.
//!
//! Consumes: nothing of the stage. Produces: the two traits.

use super::super::error::IngestError;
use super::super::input_files::InputFile;
use super::super::options::Utf8Policy;
use super::super::record::{Location, RawConversation};

/// Where a reader sends what it read.
pub trait RecordSink {
    /// A record that could be read; validation may still reject it.
    fn accept(&mut self, location: Location, record: RawConversation) -> Result<(), IngestError>;
    /// A record that could not be read. `raw` is the record's bytes, or a prefix of them, for the excerpt.
    fn reject(&mut self, location: Location, reason: String, raw: &[u8]) -> Result<(), IngestError>;
    /// `count` records were read and left out by the input's filter (tables); they are counted, not written.
    fn filtered(&mut self, count: u64);
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
