//! The features stage on Arrow tables in memory: a conversations table (any text and list types) conformed to the
//! columns the engine reads, then `FeatureEngine` per batch, with the lexical document frequencies as a mergeable
//! partial result ([`Frequencies`]).
//!
//! Consumes: conversations tables, `[features]` settings as JSON. Produces: the features table as an
//! [`ArrowStream`] (the schema of `features.parquet`), the rows without a feature row, [`Frequencies`].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use pyo3::prelude::*;

use simgap::features::engine::FeatureEngine;
use simgap::features::lexical::DocumentFrequencies;
use simgap::features::reader::{COLUMNS, ConversationBatch};
use simgap::features::{Facet, FeaturesConfig, FeaturesParams};

use crate::capsule::{ArrowStream, Table, import_table};
use crate::errors::{config_error, data_error, to_python};

/// Settings given as JSON (a pipeline file's table, as Python builds it), refused with the key at fault.
pub fn settings<T: serde::de::DeserializeOwned>(json: &str, table: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| config_error(format!("[{table}]: {e}")))
}

/// The conversations table's columns the features stage reads, in its types: a table from `simgap.ingest` (or any
/// table with `conversation_id`, `source`, `kind` and `messages` as list<struct<role, content[, timestamp]>>; text
/// may be large or view strings, as polars writes them). `task_id`, `run` and `outcome` are null where missing.
fn conversation_batch(batch: &RecordBatch, first_row: u64) -> Result<ConversationBatch, String> {
    let ingest = simgap::ingest::writer::schema();
    let mut fields = Vec::with_capacity(COLUMNS.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len());
    for name in COLUMNS {
        let field = ingest.field_with_name(name).expect("a column of the ingest schema");
        let column = match (batch.column_by_name(name), field.is_nullable()) {
            (Some(column), _) if name == "messages" => messages(column)?,
            (Some(column), _) => cast(column, field.data_type()).map_err(|e| format!("column {name:?}: {e}"))?,
            (None, true) => new_null_array(field.data_type(), batch.num_rows()),
            (None, false) => {
                let has: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "the conversations table has no {name:?} column (its columns: {}); simgap.ingest gives this \
                     shape",
                    has.join(", ")
                ));
            }
        };
        if column.null_count() > 0 && !field.is_nullable() {
            return Err(format!("column {name:?} has null values"));
        }
        fields.push(Field::new(name, column.data_type().clone(), field.is_nullable()));
        columns.push(column);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())?;
    Ok(ConversationBatch { batch, first_row })
}

/// `messages` as list<struct<role, content, timestamp>> of plain text, from any list and text types.
fn messages(column: &ArrayRef) -> Result<ArrayRef, String> {
    let list = cast(column, &DataType::List(Arc::new(Field::new_list_field(column_item(column)?, true))))
        .map_err(|e| format!("column \"messages\": {e}"))?;
    let list = list.as_list::<i32>();
    let parts = list.values().as_struct_opt().ok_or("column \"messages\" holds no structs")?;
    let mut children: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for name in ["role", "content", "timestamp"] {
        let child = match parts.column_by_name(name) {
            Some(child) => cast(child, &DataType::Utf8).map_err(|e| format!("messages.{name}: {e}"))?,
            None if name == "timestamp" => new_null_array(&DataType::Utf8, parts.len()),
            None => return Err(format!("the messages have no {name:?} field")),
        };
        fields.push(Field::new(name, DataType::Utf8, true));
        children.push(child);
    }
    let structs = arrow::array::StructArray::try_new(fields.into(), children, parts.nulls().cloned())
        .map_err(|e| e.to_string())?;
    let item = Arc::new(Field::new_list_field(structs.data_type().clone(), true));
    let rebuilt =
        arrow::array::ListArray::try_new(item, list.offsets().clone(), Arc::new(structs), list.nulls().cloned())
            .map_err(|e| e.to_string())?;
    Ok(Arc::new(rebuilt))
}

/// The item type of a list column (any list type).
fn column_item(column: &ArrayRef) -> Result<DataType, String> {
    match column.data_type() {
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) | DataType::LargeListView(item) => {
            Ok(item.data_type().clone())
        }
        other => Err(format!("column \"messages\" is {other}, not a list of messages")),
    }
}

/// Every batch of `table` as conversation batches, numbered in table order.
fn conversation_batches(table: &Table) -> PyResult<Vec<ConversationBatch>> {
    let mut first_row = 0u64;
    let mut out = Vec::with_capacity(table.batches.len());
    for batch in &table.batches {
        out.push(conversation_batch(batch, first_row).map_err(config_error)?);
        first_row += batch.num_rows() as u64;
    }
    Ok(out)
}

/// The features stage's settings (`[features]`) and its engine before the document frequencies.
fn feature_engine(settings_json: &str) -> PyResult<FeatureEngine> {
    let config: FeaturesConfig = settings(settings_json, "features")?;
    let facets = config.facets.clone().unwrap_or_else(|| Facet::BUILT_IN.to_vec());
    let params = FeaturesParams {
        out_dir: ".".into(),
        facets,
        lexicons: config.lexicons,
        lexical_dimensions: config.lexical_dimensions,
        seed: config.seed,
        embeddings: config.embeddings,
        progress: false,
    };
    params.check_settings().map_err(|e| to_python(e.into()))?;
    let (engine, issues) = params.engine_before_frequencies().map_err(|e| to_python(e.into()))?;
    if let Some(issue) = issues.first() {
        return Err(data_error(format!("embeddings: {} ({} issues in all)", issue.reason, issues.len())));
    }
    Ok(engine)
}

/// The lexical facet's document frequencies: in how many conversations each term bucket occurs. A partial result:
/// compute one per shard of a corpus, `merge` them (in any order: they are counts), and pass the whole corpus's to
/// `features` so every shard's lexical values are those of the corpus.
#[pyclass(module = "simgap._simgap")]
#[derive(Clone)]
pub struct Frequencies {
    inner: DocumentFrequencies,
}

#[pymethods]
impl Frequencies {
    /// This table's frequencies plus `other`'s.
    fn merge(&self, other: &Frequencies) -> Frequencies {
        Frequencies { inner: self.inner.clone().merge(&other.inner) }
    }

    /// As JSON (to send between processes).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Frequencies> {
        DocumentFrequencies::from_json(text).map(|inner| Frequencies { inner }).map_err(data_error)
    }

    fn __reduce__(slf: Bound<'_, Self>) -> PyResult<(Bound<'_, PyAny>, (String,))> {
        let rebuild = slf.get_type().getattr("from_json")?;
        let text = slf.borrow().inner.to_json();
        Ok((rebuild, (text,)))
    }
}

/// The lexical document frequencies of a conversations table (see [`Frequencies`]).
#[pyfunction]
pub fn frequencies(py: Python<'_>, conversations: &Bound<'_, PyAny>, settings_json: &str) -> PyResult<Frequencies> {
    let table = import_table(conversations, "conversations")?;
    let engine = feature_engine(settings_json)?;
    let batches = conversation_batches(&table)?;
    let inner = py.detach(|| {
        let mut total = DocumentFrequencies::default();
        for batch in &batches {
            total = total.merge(&engine.frequencies_of(batch)?);
        }
        Ok::<_, String>(total)
    });
    inner.map(|inner| Frequencies { inner }).map_err(data_error)
}

/// The feature rows of a conversations table, and the rows that got none (row, conversation_id, source, reason).
/// A conversation without a feature row: (row, conversation id, source, reason).
type SkippedRow = (u64, String, String, String);

#[pyfunction]
#[pyo3(signature = (conversations, settings_json, frequencies=None))]
pub fn features(
    py: Python<'_>,
    conversations: &Bound<'_, PyAny>,
    settings_json: &str,
    frequencies: Option<PyRef<'_, Frequencies>>,
) -> PyResult<(ArrowStream, Vec<SkippedRow>)> {
    let table = import_table(conversations, "conversations")?;
    let engine = feature_engine(settings_json)?;
    let batches = conversation_batches(&table)?;
    let frequencies = frequencies.map(|given| given.inner.clone());
    let computed = py.detach(|| {
        let engine = if engine.needs_frequencies() {
            let frequencies = match frequencies {
                Some(given) => given,
                None => {
                    let mut total = DocumentFrequencies::default();
                    for batch in &batches {
                        total = total.merge(&engine.frequencies_of(batch)?);
                    }
                    total
                }
            };
            engine.with_frequencies(frequencies)
        } else {
            engine
        };
        let schema = simgap::features::writer::schema(engine.columns());
        let mut out = Vec::with_capacity(batches.len());
        let mut notes = Vec::new();
        for batch in &batches {
            let features = engine.compute(batch)?;
            let (ids, sources) = identities(&batch.batch);
            for &(row, reason) in &features.notes {
                let at = row as usize;
                notes.push((
                    batch.first_row + row as u64,
                    ids.value(at).into(),
                    sources.value(at).into(),
                    reason.into(),
                ));
            }
            if !features.kept.is_empty() {
                let rows = simgap::features::writer::feature_rows(&schema, batch, &features.kept, &features.values)
                    .map_err(|e| e.to_string())?;
                out.push(rows);
            }
        }
        Ok::<_, String>((schema, out, notes))
    });
    let (schema, batches, notes) = computed.map_err(data_error)?;
    Ok((ArrowStream::new(schema, batches), notes))
}

fn identities(batch: &RecordBatch) -> (&StringArray, &StringArray) {
    let text = |name: &str| batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>()).expect("conformed");
    (text("conversation_id"), text("source"))
}

/// Every feature column: (name, facet, definition), as `simgap features --list` prints them.
#[pyfunction]
pub fn feature_list(lexical_dimensions: usize) -> Vec<(String, String)> {
    simgap::features::columns(&Facet::BUILT_IN, lexical_dimensions, 0)
        .into_iter()
        .map(|c| (c.name.clone(), c.facet.name().to_owned()))
        .collect()
}
