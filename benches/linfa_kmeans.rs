//! linfa-clustering 0.8.1's KMeans on a Parquet matrix, for benches/kmeans_compare.sh: prints one JSON line with
//! the fit's seconds and the inertia of its centroids (computed by simgap's assignment, the same for every tool).
//!
//! Usage: cargo run --release --example linfa_kmeans -- MATRIX.parquet K N_RUNS MAX_ITER TOL

use std::time::Instant;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_clustering::KMeans;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, k, runs, max_iter, tol] = args.as_slice() else {
        eprintln!("usage: linfa_kmeans MATRIX.parquet K N_RUNS MAX_ITER TOL");
        std::process::exit(2);
    };
    let (k, runs, max_iter, tol): (usize, usize, u64, f64) =
        (k.parse().unwrap(), runs.parse().unwrap(), max_iter.parse().unwrap(), tol.parse().unwrap());
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let (mut values, mut rows, mut cols) = (Vec::new(), 0, 0);
    for batch in reader {
        let batch = batch.unwrap();
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Float64).unwrap().as_primitive::<Float64Type>().clone())
            .collect();
        cols = columns.len();
        for i in 0..batch.num_rows() {
            values.extend(columns.iter().map(|c| c.value(i)));
        }
        rows += batch.num_rows();
    }
    let data = Array2::from_shape_vec((rows, cols), values).unwrap();
    let dataset = DatasetBase::from(data.clone());
    let started = Instant::now();
    let model = KMeans::params_with_rng(k, ChaCha8Rng::seed_from_u64(0))
        .n_runs(runs)
        .max_n_iterations(max_iter)
        .tolerance(tol)
        .fit(&dataset)
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let inertia =
        simgap::cluster::kmeans::KMeans::from_centroids(model.centroids().clone()).assign(data.view()).unwrap().1;
    println!("{}", serde_json::json!({"tool": "linfa-clustering", "seconds": seconds, "inertia": inertia}));
}
