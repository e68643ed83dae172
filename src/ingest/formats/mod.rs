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
mod table;
mod tau2;
mod tau_bench;

pub mod records;
pub mod sink;

use super::options::InputConfig;
use super::record::Format;

pub use json::{JsonContent, excerpt};
pub use sink::{FormatReader, RecordSink};

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
        Format::Table => Box::new(table::TableReader::new(input.table_options())),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink that records what readers emit, for the readers' unit tests.
    use super::sink::{FormatReader, RecordSink};
    use crate::ingest::IngestError;
    use crate::ingest::input_files::InputFile;
    use crate::ingest::options::Utf8Policy;
    use crate::ingest::record::{Location, RawConversation};

    #[derive(Default)]
    pub struct VecSink {
        pub accepted: Vec<(Location, RawConversation)>,
        pub rejected: Vec<(Location, String)>,
        pub warnings: Vec<(Location, String)>,
        pub filtered: u64,
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
        fn filtered(&mut self, count: u64) {
            self.filtered += count;
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
