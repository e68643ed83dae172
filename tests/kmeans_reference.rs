//! simgap's k-means against the reference, linfa-clustering 0.8.1, on the real feature data of shi2019 and on
//! planted clusters: the same number of restarts, simgap's inertia within 1% of linfa's best, or better.

mod common;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_clustering::KMeans as LinfaKMeans;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use simgap::cluster::kmeans::{KMeans, KMeansParams};
use simgap::cluster::scaling::{Normalisation, Scaler};

/// The standardised columns of `facet` in a features.parquet.
fn facet_matrix(path: &std::path::Path, facet: &str) -> Array2<f64> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let facets: serde_json::Value = serde_json::from_str(&builder.schema().metadata()["simgap.facets"]).unwrap();
    let columns: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| facets[name.as_str()] == facet)
        .collect();
    let mut values = Vec::new();
    let mut rows = 0;
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            for column in &columns {
                let array = batch.column_by_name(column).unwrap().as_primitive::<Float64Type>().clone();
                values.push(if array.is_null(i) { f64::NAN } else { array.value(i) });
            }
        }
        rows += batch.num_rows();
    }
    let raw = Array2::from_shape_vec((rows, columns.len()), values).unwrap();
    Scaler::fit(raw.view(), Normalisation::Standardize, None).transform(raw.view())
}

/// linfa's best inertia over `restarts` runs, measured on its centroids (its own `inertia()` is not trusted to be
/// the best run's).
fn linfa_inertia(data: &Array2<f64>, k: usize, restarts: usize) -> f64 {
    let dataset = DatasetBase::from(data.clone());
    let model = LinfaKMeans::params_with_rng(k, ChaCha8Rng::seed_from_u64(1))
        .n_runs(restarts)
        .max_n_iterations(300)
        .tolerance(1e-4)
        .fit(&dataset)
        .unwrap();
    KMeans::from_centroids(model.centroids().clone()).assign(data.view()).unwrap().1
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared/data-samples beside the checkout")]
fn inertia_within_one_percent_of_linfa_on_real_features() {
    let Some(_) = common::shared_data() else { return };
    let out = tempfile::tempdir().unwrap();
    let pipeline = common::project_root().join("pipelines/shi2019.toml");
    let args = ["-q", "features", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()];
    let ingest = common::simgap(&["-q", "ingest", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert_eq!(ingest.status.code(), Some(0));
    assert_eq!(common::simgap(&args).status.code(), Some(0));
    for facet in ["usi", "style"] {
        let data = facet_matrix(&out.path().join("features.parquet"), facet);
        for k in [10, 30] {
            let ours = KMeansParams::new(k).restarts(3).seed(1).fit_array(data.view()).unwrap();
            let reference = linfa_inertia(&data, k, 3);
            eprintln!(
                "{facet} k={k}: simgap {:.4} linfa {reference:.4} ({:+.3}%)",
                ours.inertia,
                100.0 * (ours.inertia / reference - 1.0)
            );
            assert!(ours.inertia <= reference * 1.01, "{facet} k={k}: simgap {} vs linfa {reference}", ours.inertia);
        }
    }
}

#[test]
fn inertia_within_one_percent_of_linfa_on_planted_clusters() {
    let mut data = Array2::<f64>::zeros((3000, 6));
    for ((i, j), value) in data.indexed_iter_mut() {
        let centre = (i % 15) as f64 * 7.0 + j as f64;
        *value = centre + (((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5);
    }
    let ours = KMeansParams::new(15).restarts(3).seed(2).fit_array(data.view()).unwrap();
    let reference = linfa_inertia(&data, 15, 3);
    eprintln!("planted k=15: simgap {:.4} linfa {reference:.4}", ours.inertia);
    assert!(ours.inertia <= reference * 1.01, "simgap {} vs linfa {reference}", ours.inertia);
}
