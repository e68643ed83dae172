//! One table file as a polars lazy scan, and its rows handed out in batches from polars' streaming engine.
//!
//! Consumes: an [`InputFile`] and its `[input.table]`. Produces: a [`LazyFrame`] with a 1-based row number column
//! ([`ROW`]), the hive partition columns of the file's path (`language=English/part-0.parquet` adds a column
//! `language`, unless the table has one), and the batches of a query over it, in file order.
//!
//! Parquet, Arrow IPC files (Feather v2) and NDJSON are scanned lazily, so the projection and a pushed-down filter
//! decide what is decoded; CSV too, with the text columns read as text whatever their first rows look like. An Arrow
//! IPC *stream* (what the Hugging Face `datasets` cache writes as `*.arrow`) cannot be scanned: it is read whole,
//! its columns projected, and then queried the same way. Memory: the streaming engine holds a few morsels; the
//! batches channel holds at most [`BATCHES_IN_FLIGHT`].

use std::num::NonZeroUsize;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use polars::prelude::*;

use crate::ingest::input_files::InputFile;
use crate::ingest::options::{TableFileType, TableOptions};

/// The row number column the scan adds (1-based, in file order).
pub const ROW: &str = "__simgap_row";

/// Batches the engine may run ahead of the reader.
const BATCHES_IN_FLIGHT: usize = 2;

/// The file's type: `[input.table] file_type`, else its extension.
pub fn file_type(file: &InputFile, options: &TableOptions) -> Result<TableFileType, String> {
    if let Some(file_type) = options.file_type {
        return Ok(file_type);
    }
    let extension = file.disk_path.extension().and_then(|e| e.to_str()).unwrap_or("");
    TableFileType::from_extension(extension)
        .ok_or_else(|| format!("cannot tell the table type of a \".{extension}\" file: set [input.table] file_type"))
}

/// A lazy scan of the whole file, with its row numbers and hive columns. `text_columns` are read as text from CSV.
pub fn open(
    file: &InputFile,
    file_type: TableFileType,
    options: &TableOptions,
    text_columns: &[&str],
) -> PolarsResult<LazyFrame> {
    let path = PlRefPath::new(file.disk_path.to_string_lossy().as_ref());
    let row_index = Some(RowIndex { name: ROW.into(), offset: 1 });
    let no_hive = HiveOptions { enabled: Some(false), ..HiveOptions::new_disabled() };
    let frame = match file_type {
        TableFileType::Parquet => {
            let args = ScanArgsParquet { row_index, hive_options: no_hive, glob: false, ..Default::default() };
            LazyFrame::scan_parquet(path, args)?
        }
        TableFileType::Ipc if is_ipc_stream(file)? => {
            let stream = std::fs::File::open(&file.disk_path).map_err(PolarsError::from)?;
            IpcStreamReader::new(stream).finish()?.lazy().with_row_index(ROW, Some(1))
        }
        TableFileType::Ipc => {
            let args = UnifiedScanArgs { row_index, hive_options: no_hive, glob: false, ..Default::default() };
            LazyFrame::scan_ipc(path, Default::default(), args)?
        }
        TableFileType::Csv => {
            let tab = file.disk_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
            let delimiter = options.delimiter.unwrap_or(if tab { '\t' } else { ',' }) as u8;
            let text: Schema = text_columns.iter().map(|c| Field::new((*c).into(), DataType::String)).collect();
            LazyCsvReader::new(path)
                .with_glob(false)
                .with_has_header(true)
                .with_separator(delimiter)
                .with_row_index(row_index)
                .with_dtype_overwrite(Some(Arc::new(text)))
                .finish()?
        }
        TableFileType::Ndjson => LazyJsonLineReader::new(path).with_row_index(row_index).finish()?,
    };
    with_hive_columns(frame, &file.relative_stem)
}

/// Whether an Arrow IPC file is the stream format (no `ARROW1` magic at its start).
fn is_ipc_stream(file: &InputFile) -> PolarsResult<bool> {
    use std::io::Read;
    let mut magic = [0u8; 6];
    let mut handle = std::fs::File::open(&file.disk_path).map_err(PolarsError::from)?;
    let read = handle.read(&mut magic).map_err(PolarsError::from)?;
    Ok(read < 6 || &magic != b"ARROW1")
}

/// Adds a literal column for each `key=value` folder of the file's path (relative to its input's root), typed as an
/// integer, a number, a boolean or text, where the table has no column of that name.
fn with_hive_columns(mut frame: LazyFrame, relative_stem: &str) -> PolarsResult<LazyFrame> {
    let partitions = hive_partitions(relative_stem);
    if partitions.is_empty() {
        return Ok(frame);
    }
    let schema = frame.collect_schema()?;
    let columns: Vec<Expr> = partitions
        .into_iter()
        .filter(|(key, _)| !schema.contains(key))
        .map(|(key, value)| hive_value(value).alias(key))
        .collect();
    Ok(if columns.is_empty() { frame } else { frame.with_columns(columns) })
}

/// The `key=value` folders of a path relative to its input's root, outermost first.
fn hive_partitions(relative_stem: &str) -> Vec<(&str, &str)> {
    let folders = relative_stem.rsplit_once('/').map_or("", |(folders, _)| folders);
    folders.split('/').filter_map(|folder| folder.split_once('=')).filter(|(key, _)| !key.is_empty()).collect()
}

fn hive_value(value: &str) -> Expr {
    if let Ok(integer) = value.parse::<i64>() {
        lit(integer)
    } else if let Ok(number) = value.parse::<f64>() {
        lit(number)
    } else if let Ok(flag) = value.parse::<bool>() {
        lit(flag)
    } else {
        lit(value.to_owned())
    }
}

/// Runs `frame` on the streaming engine and hands each batch of about `batch_rows` rows, in order, to `each`, which
/// returns whether to go on. The outer error is `each`'s; the inner one is polars' (a file that cannot be decoded
/// past some row), or a panic inside polars, turned into an error.
pub fn for_each_batch<E>(
    frame: LazyFrame,
    batch_rows: usize,
    mut each: impl FnMut(DataFrame) -> Result<bool, E>,
) -> Result<PolarsResult<()>, E> {
    let (send, receive) = sync_channel::<DataFrame>(BATCHES_IN_FLIGHT);
    // The callback answers "stop" once the receiving side is gone.
    let callback = PlanCallback::new(move |batch: DataFrame| Ok(send.send(batch).is_err()));
    let query = match frame.sink_batches(callback, true, NonZeroUsize::new(batch_rows)) {
        Ok(query) => query,
        Err(e) => return Ok(Err(e)),
    };
    std::thread::scope(|scope| {
        let engine = scope.spawn(move || query.collect_with_engine(Engine::Streaming).map(|_| ()));
        // The next batch, until the engine is done and its channel empty (the wait is bounded, so that a sender the
        // engine kept alive after finishing cannot hang the reader).
        let next = || loop {
            match receive.recv_timeout(Duration::from_millis(20)) {
                Ok(batch) => return Some(batch),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) if engine.is_finished() => return receive.try_recv().ok(),
                Err(RecvTimeoutError::Timeout) => {}
            }
        };
        let mut handed = Ok(());
        while let Some(batch) = next() {
            match each(batch) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    handed = Err(e);
                    break;
                }
            }
        }
        drop(receive);
        let engine_result =
            engine.join().unwrap_or_else(|panic| Err(polars_err!(ComputeError: "{}", panic_text(&panic))));
        handed.map(|()| engine_result)
    })
}

/// A panic's message, for the reject that reports it.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    format!("polars panicked: {message}")
}

/// The number of rows a frame yields (Parquet and IPC answer from their metadata).
pub fn count_rows(frame: LazyFrame) -> PolarsResult<u64> {
    let counted = frame.select([len()]).collect()?;
    let cell = counted.columns().first().map(|c| c.get(0)).transpose()?.unwrap_or(AnyValue::Null);
    Ok(super::cells::integer(&cell).ok().flatten().unwrap_or(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_folders_become_columns() {
        assert_eq!(hive_partitions("language=English/year=2024/part-0"), [("language", "English"), ("year", "2024")]);
        assert_eq!(hive_partitions("shards/part-0"), Vec::<(&str, &str)>::new());
        assert_eq!(hive_partitions("a=b"), Vec::<(&str, &str)>::new(), "the file's own name is no partition");
    }
}
