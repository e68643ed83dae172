//! Arrow across the Python boundary through the Arrow PyCapsule interface, without copies: any object with
//! `__arrow_c_stream__` (pyarrow tables and readers, polars DataFrames, DuckDB results) or `__arrow_c_array__` (a
//! record batch) is read into arrow-rs record batches that share its buffers, and [`ArrowStream`] hands batches back
//! as a stream capsule that pyarrow or polars import the same way.
//!
//! Consumes: Python objects speaking the interface. Produces: `(schema, batches)`, or an [`ArrowStream`].

use std::sync::{Arc, Mutex};

use arrow::array::{RecordBatch, RecordBatchIterator, StructArray};
use arrow::datatypes::SchemaRef;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

const STREAM_CAPSULE: &std::ffi::CStr = c"arrow_array_stream";
const SCHEMA_CAPSULE: &std::ffi::CStr = c"arrow_schema";
const ARRAY_CAPSULE: &std::ffi::CStr = c"arrow_array";

/// A table read from Python: its schema and batches (sharing the producer's buffers).
pub struct Table {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Reads `object` through `__arrow_c_stream__` (preferred) or `__arrow_c_array__`; `what` names the argument in
/// the error a non-Arrow object gets. Runs with the GIL held: a producer written in Python needs it.
pub fn import_table(object: &Bound<'_, PyAny>, what: &str) -> PyResult<Table> {
    if object.hasattr("__arrow_c_stream__")? {
        let capsule = object.call_method0("__arrow_c_stream__")?;
        let capsule =
            capsule.cast::<PyCapsule>().map_err(|_| PyTypeError::new_err("__arrow_c_stream__ gave no capsule"))?;
        let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
        // SAFETY: the capsule holds an ArrowArrayStream (its name says so); `from_raw` moves it out and marks the
        // capsule's copy released, so the capsule's destructor does not release it a second time.
        let reader = unsafe { RecordBatchStreamReader::from_raw(pointer.as_ptr().cast::<FFI_ArrowArrayStream>()) }
            .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
        let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PyValueError::new_err(format!("{what}: reading its Arrow stream: {e}")))?;
        return Ok(Table { schema, batches });
    }
    if object.hasattr("__arrow_c_array__")? {
        let pair = object.call_method0("__arrow_c_array__")?;
        let pair = pair.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("__arrow_c_array__ gave no tuple"))?;
        let schema_capsule = pair.get_item(0)?;
        let array_capsule = pair.get_item(1)?;
        let schema_capsule =
            schema_capsule.cast::<PyCapsule>().map_err(|_| PyTypeError::new_err("no schema capsule"))?;
        let array_capsule = array_capsule.cast::<PyCapsule>().map_err(|_| PyTypeError::new_err("no array capsule"))?;
        let schema_pointer = schema_capsule.pointer_checked(Some(SCHEMA_CAPSULE))?;
        let array_pointer = array_capsule.pointer_checked(Some(ARRAY_CAPSULE))?;
        // SAFETY: the capsules hold an ArrowSchema and an ArrowArray (their names say so). The array is moved out
        // (marked released in the capsule); the schema is only read, and released by its capsule.
        let data = unsafe {
            let array = FFI_ArrowArray::from_raw(array_pointer.as_ptr().cast());
            let schema = &*schema_pointer.as_ptr().cast::<FFI_ArrowSchema>();
            from_ffi(array, schema)
        }
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
        if !matches!(data.data_type(), arrow::datatypes::DataType::Struct(_)) {
            return Err(PyTypeError::new_err(format!(
                "{what}: expected a table or record batch, got an Arrow array of {}",
                data.data_type()
            )));
        }
        let batch = RecordBatch::from(StructArray::from(data));
        return Ok(Table { schema: batch.schema(), batches: vec![batch] });
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected an Arrow table (an object with __arrow_c_stream__ or __arrow_c_array__: a pyarrow Table or \
         RecordBatch, a polars DataFrame, a DuckDB result), got {}",
        object.get_type().name()?
    )))
}

/// The stream an [`ArrowStream`] hands over, marked `Send` for the capsule (which frees it on whatever thread drops
/// the last reference).
#[repr(transparent)]
struct SendStream(FFI_ArrowArrayStream);
// SAFETY: the stream owns its batches (arrow buffers are Send + Sync) and is used by one consumer at a time.
unsafe impl Send for SendStream {}

/// Record batches computed by simgap, handed to Python once through `__arrow_c_stream__` (`pyarrow.table(stream)`,
/// `polars.from_arrow(...)`). The buffers move, nothing is copied.
#[pyclass(module = "simgap._simgap")]
pub struct ArrowStream {
    batches: Mutex<Option<(SchemaRef, Vec<RecordBatch>)>>,
}

impl ArrowStream {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self { batches: Mutex::new(Some((schema, batches))) }
    }
}

#[pymethods]
impl ArrowStream {
    /// The Arrow PyCapsule interface. The stream can be taken once.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // the schema is simgap's; a consumer casts if it wants another
        let taken = self.batches.lock().map_err(|_| PyValueError::new_err("stream lock poisoned"))?.take();
        let (schema, batches) = taken.ok_or_else(|| PyValueError::new_err("this Arrow stream was already taken"))?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), Arc::clone(&schema));
        let stream = SendStream(FFI_ArrowArrayStream::new(Box::new(reader)));
        // The consumer moves the stream out (leaving it released); dropping the capsule's value releases whatever
        // is left, as FFI_ArrowArrayStream's Drop does.
        PyCapsule::new_with_value_and_destructor(py, stream, STREAM_CAPSULE, |_, _| {})
    }
}
