//! `simgap._simgap`: the native half of the Python package. The commands (`run`, `ingest`) are the CLI's own
//! (`simgap::cli`), run in-process; the stage functions (`features`, codebooks, k-means, divergences) call the
//! engine's per-batch functions on Arrow tables handed over without copies. The pure-Python half (`simgap/`) gives
//! them their documented signatures and turns results into pyarrow or polars tables.
//!
//! Consumes: Python objects (paths, Arrow tables through the PyCapsule interface, NumPy buffers). Produces: exit
//! codes, [`capsule::ArrowStream`]s, and Python exceptions carrying the CLI's messages. Every call releases the GIL
//! while Rust works, and rayon uses every core.

mod capsule;
mod codebook;
mod commands;
mod errors;
mod features;
mod numeric;
mod sample;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::prelude::*;

#[pymodule]
fn _simgap(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<capsule::ArrowStream>()?;
    module.add_class::<features::Frequencies>()?;
    module.add_class::<codebook::Codebook>()?;
    module.add_class::<numeric::KMeansResult>()?;
    module.add_class::<sample::SampleKeys>()?;
    module.add_class::<sample::FitSample>()?;
    module.add_function(wrap_pyfunction!(commands::run_pipeline, module)?)?;
    module.add_function(wrap_pyfunction!(commands::ingest_pipeline, module)?)?;
    module.add_function(wrap_pyfunction!(commands::pipeline_toml, module)?)?;
    module.add_function(wrap_pyfunction!(commands::shard_round, module)?)?;
    module.add_function(wrap_pyfunction!(commands::merge_parts, module)?)?;
    module.add_function(wrap_pyfunction!(features::features, module)?)?;
    module.add_function(wrap_pyfunction!(features::frequencies, module)?)?;
    module.add_function(wrap_pyfunction!(features::feature_list, module)?)?;
    module.add_function(wrap_pyfunction!(numeric::kmeans, module)?)?;
    module.add_function(wrap_pyfunction!(numeric::divergence, module)?)?;
    Ok(())
}
