//! `simgap._simgap`: the native half of the Python package. The commands (`run`, `ingest`) are the CLI's own
//! (`simgap::cli`), run in-process; the stage functions (`features`, codebooks, k-means, divergences) call the
//! engine's per-batch functions on Arrow tables handed over without copies. The pure-Python half (`simgap/`) gives
//! them their documented signatures and turns results into pyarrow or polars tables.
//!
//! Consumes: Python objects (paths, Arrow tables through the PyCapsule interface, NumPy buffers). Produces: exit
//! codes, [`capsule::ArrowStream`]s, and Python exceptions carrying the CLI's messages. Every call releases the GIL
//! while Rust works, and rayon uses every core.

mod capsule;
mod commands;
mod errors;
mod stages;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::prelude::*;

#[pymodule]
fn _simgap(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<capsule::ArrowStream>()?;
    module.add_class::<stages::Frequencies>()?;
    module.add_class::<stages::Codebook>()?;
    module.add_class::<stages::KMeansResult>()?;
    module.add_function(wrap_pyfunction!(commands::run_pipeline, module)?)?;
    module.add_function(wrap_pyfunction!(commands::ingest_pipeline, module)?)?;
    module.add_function(wrap_pyfunction!(commands::pipeline_toml, module)?)?;
    module.add_function(wrap_pyfunction!(stages::features, module)?)?;
    module.add_function(wrap_pyfunction!(stages::frequencies, module)?)?;
    module.add_function(wrap_pyfunction!(stages::feature_list, module)?)?;
    module.add_function(wrap_pyfunction!(stages::kmeans, module)?)?;
    module.add_function(wrap_pyfunction!(stages::divergence, module)?)?;
    Ok(())
}
