//! `simgap kmeans`: k-means on any table of numeric columns, outside a pipeline.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::cluster::kmeans::KMeansParams;
use crate::cluster::scaling::{Normalisation, Scaler};

/// K-means on the numeric columns of a Parquet file.
///
/// Reads: --input (Parquet), the columns named by --columns, else every numeric column (of a simgap feature
/// table, every feature column). A null value is an error naming its row and column.
/// Writes: --out, a JSON codebook: centroids (a list of rows, in the input's space), inertia (sum of squared
/// distances, in the space k-means ran in: standardised with --standardize, raw otherwise), iterations, converged,
/// seconds (the fit alone; init_seconds and lloyd_seconds split it, lloyd_passes counts the rows scanned against
/// every centre over every restart, in full passes over the data), k, seed, restarts, max_iter, tol, precision and
/// the columns.
/// Cost: greedy k-means++ then Lloyd iterations on every core: the first scans every row (2 n k d flops), later ones
/// only the rows that distance bounds cannot settle; memory: the matrix (n x d values of 8 bytes, or 4 with --f32),
/// three values per row, and for k-means++ an f32 copy (4 n d bytes) plus 4 (2 + ln k) bytes per row for each of
/// up to 4 restarts seeded together.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Parquet file.
    #[arg(long)]
    pub input: PathBuf,
    /// Comma-separated column names (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    #[arg(long)]
    pub k: usize,
    #[arg(long, default_value_t = crate::cluster::kmeans::DEFAULT_RESTARTS)]
    pub restarts: usize,
    #[arg(long, default_value_t = crate::cluster::kmeans::DEFAULT_MAX_ITER)]
    pub max_iter: usize,
    /// Relative tolerance (times the mean feature variance), as scikit-learn's.
    #[arg(long, default_value_t = crate::cluster::kmeans::DEFAULT_TOL)]
    pub tol: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Mini-batch k-means with batches of this many rows (max_iter batches) instead of full Lloyd passes.
    #[arg(long)]
    pub minibatch: Option<usize>,
    /// Compute in 32-bit floats.
    #[arg(long)]
    pub f32: bool,
    /// Standardise the columns first (centroids are reported back in the input's space).
    #[arg(long)]
    pub standardize: bool,
    /// Where to write the codebook JSON.
    #[arg(long)]
    pub out: PathBuf,
}

fn read_matrix(path: &PathBuf, wanted: Option<&Vec<String>>) -> anyhow::Result<(Vec<String>, Array2<f64>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).with_context(|| format!("reading {}", path.display()))?;
    let schema = builder.schema().clone();
    let columns: Vec<String> = match wanted {
        Some(names) => {
            for name in names {
                if schema.field_with_name(name).is_err() {
                    bail!("{}: no column {name:?}", path.display());
                }
            }
            names.clone()
        }
        // A simgap feature table: its feature columns (not run or outcome); any other table: every numeric column.
        None => match schema
            .metadata()
            .get("simgap.facets")
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        {
            Some(facets) => {
                schema.fields().iter().map(|f| f.name().clone()).filter(|n| facets.get(n).is_some()).collect()
            }
            None => schema.fields().iter().filter(|f| f.data_type().is_numeric()).map(|f| f.name().clone()).collect(),
        },
    };
    if columns.is_empty() {
        bail!("{}: no numeric column", path.display());
    }
    let mut values: Vec<f64> = Vec::new();
    let mut rows = 0usize;
    for batch in builder.with_batch_size(65_536).build()? {
        let batch = batch?;
        let arrays = columns
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).expect("checked above");
                let cast =
                    cast(column, &DataType::Float64).with_context(|| format!("column {name:?} is not numeric"))?;
                Ok(cast.as_primitive::<Float64Type>().clone())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for i in 0..batch.num_rows() {
            for (array, name) in arrays.iter().zip(&columns) {
                if array.is_null(i) {
                    bail!("{}: row {} has no value in column {name:?}", path.display(), rows + i);
                }
                values.push(array.value(i));
            }
        }
        rows += batch.num_rows();
    }
    Ok((columns.clone(), Array2::from_shape_vec((rows, columns.len()), values)?))
}

pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let params = KMeansParams::new(args.k)
        .restarts(args.restarts)
        .max_iter(args.max_iter)
        .tol(args.tol)
        .seed(args.seed)
        .minibatch(args.minibatch);
    params.check_settings()?;
    let (columns, data) = read_matrix(&args.input, args.columns.as_ref())?;
    let scaler = args.standardize.then(|| Scaler::fit(data.view(), Normalisation::Standardize, None));
    let data = match &scaler {
        Some(scaler) => scaler.transform(data.view()),
        None => data,
    };
    let started = Instant::now();
    let (centroids, inertia, iterations, converged, stats) = if args.f32 {
        let model = params.fit_array(data.mapv(|v| v as f32).view())?;
        (model.centroids.mapv(f64::from), model.inertia, model.iterations, model.converged, model.stats)
    } else {
        let model = params.fit_array(data.view())?;
        (model.centroids, model.inertia, model.iterations, model.converged, model.stats)
    };
    let seconds = started.elapsed().as_secs_f64();
    let centroids = match &scaler {
        Some(scaler) => scaler.inverse(centroids.view()),
        None => centroids,
    };
    let codebook = serde_json::json!({
        "centroids": centroids.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        "inertia": inertia,
        "iterations": iterations,
        "converged": converged,
        "seconds": seconds,
        "init_seconds": stats.init_seconds,
        "lloyd_seconds": stats.lloyd_seconds,
        "lloyd_passes": stats.passes,
        "k": args.k,
        "seed": args.seed,
        "restarts": args.restarts,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "precision": if args.f32 { "f32" } else { "f64" },
        "minibatch": args.minibatch,
        "standardized": args.standardize,
        "columns": columns,
        "rows": data.nrows(),
    });
    crate::atomic::write_atomic(&args.out, serde_json::to_string_pretty(&codebook)?.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    tracing::info!(
        k = args.k,
        inertia,
        iterations,
        seconds = format!("{seconds:.3}"),
        "kmeans done: {}",
        args.out.display()
    );
    Ok(Outcome::Clean)
}
