//! Fuzzes the embeddings loader ([features.embeddings]: a Parquet file of vectors by conversation id), with a list
//! column and with one column per dimension. Property: no panic escapes the loader; every bad file or row is an
//! error or an issue. The loader turns the parquet crate's own panics on malformed files into errors
//! (catch_unwind); libfuzzer-sys's panic hook would abort on those caught panics, so this target installs a silent
//! hook. A panic the loader does not catch still aborts, through libfuzzer-sys's catch_unwind around each input.
#![no_main]

static QUIET_PANIC_HOOK: std::sync::Once = std::sync::Once::new();

use simgap::features::embedding::{EmbeddingConfig, Embeddings};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    QUIET_PANIC_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&choice, bytes)) = data.split_first() else { return };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("embeddings.parquet");
    std::fs::write(&path, bytes).expect("the embeddings file");
    let by_columns = choice % 2 == 1;
    let config = EmbeddingConfig {
        path: path.clone(),
        id_column: "conversation_id".into(),
        source_column: (choice % 4 >= 2).then(|| "source".into()),
        vector_column: (!by_columns).then(|| "embedding".into()),
        columns: by_columns.then(|| vec!["x".into(), "y".into()]),
    };
    let _ = Embeddings::load(&config, &path);
});
