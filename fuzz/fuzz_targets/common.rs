//! What every ingest fuzz target does: the fuzzer's bytes become one input file of one format, read by the real
//! ingest stage into a temporary output folder.
//!
//! Property checked on every input: no panic (libFuzzer reports it), no hang (libFuzzer's -timeout), and nothing
//! lost: the report's read = accepted + rejected + filtered, conversations.parquet holds `accepted` rows and
//! rejects.jsonl `rejected` lines. An error is allowed only where the file could not be read at all
//! (IngestError::Io), never for content that was read.

use std::path::Path;

use simgap::pipeline::config::PipelineConfig;

/// Reads `data` as the file `file_name` of an input declared by `input_toml` (the [[input]] table without `path`).
pub fn ingest(input_toml: &str, file_name: &str, data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(dir.path().join("in")).expect("the input folder");
    std::fs::write(dir.path().join("in").join(file_name), data).expect("the input file");
    let text = format!("[output]\ndir = \"out\"\n\n[[input]]\npath = \"in/{file_name}\"\n{input_toml}\n");
    let pipeline = dir.path().join("pipeline.toml");
    let config = PipelineConfig::parse(&text, &pipeline, dir.path()).expect("the target's pipeline is valid");
    let out = dir.path().join("out");
    let params = config.ingest_params(out.clone(), false, false);
    match params.run() {
        Ok(report) => check_conserved(&report, &out),
        Err(simgap::ingest::IngestError::Io { .. }) => {}
        Err(other) => panic!("read content ended in an error instead of rejects: {other}"),
    }
}

fn check_conserved(report: &simgap::ingest::IngestReport, out: &Path) {
    let counted = report.accepted + report.rejected + report.filtered;
    assert_eq!(report.read, counted, "read != accepted + rejected + filtered");
    for file in &report.files {
        let counted = file.accepted + file.rejected + file.filtered;
        assert_eq!(file.read, counted, "{}: read != accepted + rejected + filtered", file.file);
    }
    let rejects = std::fs::read(&report.rejects_file).unwrap_or_default();
    let lines = rejects.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    assert_eq!(lines, report.rejected, "rejects.jsonl lines != rejected");
    let parquet = std::fs::File::open(out.join(simgap::ingest::CONVERSATIONS_FILE)).expect("conversations.parquet");
    let rows = parquet::file::reader::SerializedFileReader::new(parquet)
        .map(|r| parquet::file::reader::FileReader::metadata(&r).file_metadata().num_rows())
        .expect("a readable conversations.parquet");
    assert_eq!(rows as u64, report.accepted, "conversations.parquet rows != accepted");
}
