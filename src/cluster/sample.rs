//! Which rows the codebooks are fitted on: a bounded sample, each source's share set by `balance`, the rows chosen
//! by a seeded hash of (source, conversation id). The choice is per batch: [`SampleKeys`] gathers the hashes of any
//! part of the table and merges with the others' (pass 1); its [`SamplePlan`] then tells, for any batch alone, which
//! of its rows the sample takes (pass 2), so the same seed picks the same rows however the table is cut.
//!
//! Consumes: batches of `features.parquet`, the seed, `sample_size` and `balance`. Produces: the per-source quotas
//! and hash thresholds, and the sample's rows per facet in table order ([`FitSample`]).

use std::collections::BTreeMap;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Builder, ListBuilder, RecordBatch, StringBuilder, UInt64Builder};
use arrow::datatypes::{Float64Type, UInt64Type};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use ndarray::Array2;

use super::columns::FeatureTable;
use super::config::SampleBalance;
use super::error::ClusterError;
use crate::hashing::row_hash;

/// The sampling hash of every row seen, per source (8 bytes a row). Serialises as JSON (`serde`), the form in which a
/// shard hands it to the merge.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SampleKeys {
    hashes: BTreeMap<String, Vec<u64>>,
}

impl SampleKeys {
    /// Adds the rows of one batch.
    pub fn add_batch(&mut self, table: &FeatureTable, batch: &RecordBatch, seed: u64) -> Result<(), ClusterError> {
        let (sources, ids) = table.identity(batch)?;
        for i in 0..batch.num_rows() {
            let source = sources.value(i);
            let hash = row_hash(seed, source, ids.value(i));
            match self.hashes.get_mut(source) {
                Some(list) => list.push(hash),
                None => {
                    self.hashes.insert(source.to_owned(), vec![hash]);
                }
            }
        }
        Ok(())
    }

    /// Takes in the keys of another part of the table (in any order: the plan depends on the set of hashes).
    pub fn merge(&mut self, other: SampleKeys) {
        for (source, list) in other.hashes {
            self.hashes.entry(source).or_default().extend(list);
        }
    }

    /// Rows seen.
    pub fn rows(&self) -> usize {
        self.hashes.values().map(Vec::len).sum()
    }

    /// Rows seen per source.
    pub fn source_rows(&self) -> BTreeMap<String, u64> {
        self.hashes.iter().map(|(s, l)| (s.clone(), l.len() as u64)).collect()
    }

    /// The rows of the smallest source (0 for no rows): what `k = "auto"` is chosen from.
    pub fn smallest_source(&self) -> u64 {
        self.hashes.values().map(|l| l.len() as u64).min().unwrap_or(0)
    }

    /// The quotas and, per source, the largest hash its sample takes.
    pub fn plan(mut self, sample_size: usize, balance: SampleBalance) -> SamplePlan {
        let quotas = sample_quotas(&self.hashes, sample_size, balance);
        let thresholds = self
            .hashes
            .iter_mut()
            .map(|(source, list)| {
                let quota = quotas[source];
                list.sort_unstable();
                (source.clone(), (quota > 0).then(|| list[quota - 1]))
            })
            .collect();
        SamplePlan { quotas, thresholds }
    }
}

/// Which rows the sample takes: a row of a source whose hash is at most the source's threshold. Small (two numbers
/// per source): what a driver sends its shards, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SamplePlan {
    pub quotas: BTreeMap<String, usize>,
    /// The largest hash each source's sample takes (None: the source gives no row).
    thresholds: BTreeMap<String, Option<u64>>,
}

impl SamplePlan {
    /// The rows of `batch` in the sample, in batch order.
    pub fn select(&self, table: &FeatureTable, batch: &RecordBatch, seed: u64) -> Result<Vec<usize>, ClusterError> {
        let (sources, ids) = table.identity(batch)?;
        Ok((0..batch.num_rows())
            .filter(|&i| {
                let threshold = self.thresholds.get(sources.value(i)).copied().flatten();
                threshold.is_some_and(|t| row_hash(seed, sources.value(i), ids.value(i)) <= t)
            })
            .collect())
    }
}

/// The sample's rows of each facet, batch by batch. Each batch's rows are keyed by the table row of the batch's
/// first row, so parts merged in any order give the sample in table order, the order the fit sees.
#[derive(Debug, Default, Clone)]
pub struct FitSample {
    parts: BTreeMap<String, BTreeMap<u64, Array2<f64>>>,
}

impl FitSample {
    /// Adds the rows `keep` of `batch`, whose first row is row `first_row` of the table, for every facet of `facets`.
    pub fn add_batch(
        &mut self,
        table: &FeatureTable,
        batch: &RecordBatch,
        first_row: u64,
        keep: &[usize],
        facets: &[String],
    ) -> Result<(), ClusterError> {
        for facet in facets {
            let rows = table.matrix(batch, &table.by_facet[facet], keep)?;
            self.parts.entry(facet.clone()).or_default().insert(first_row, rows);
        }
        Ok(())
    }

    /// Takes in the sample of other batches of the same table (disjoint from these: a batch is added once).
    pub fn merge(&mut self, other: FitSample) {
        for (facet, parts) in other.parts {
            let mine = self.parts.entry(facet).or_default();
            for (first_row, rows) in parts {
                let previous = mine.insert(first_row, rows);
                assert!(previous.is_none(), "the batch at table row {first_row} was added to two merged samples");
            }
        }
    }

    /// The sample as Arrow IPC (a stream of one batch: `facet`, `first_row`, `values` per sample row; NaN kept), the
    /// form in which a shard hands it to the merge.
    pub fn to_ipc(&self) -> Result<Vec<u8>, arrow::error::ArrowError> {
        let (mut facets, mut first_rows) = (StringBuilder::new(), UInt64Builder::new());
        let mut values = ListBuilder::new(Float64Builder::new());
        for (facet, parts) in &self.parts {
            for (first_row, rows) in parts {
                for row in rows.rows() {
                    facets.append_value(facet);
                    first_rows.append_value(*first_row);
                    values.values().append_slice(row.as_slice().expect("a standard-layout matrix"));
                    values.append(true);
                }
                if rows.nrows() == 0 {
                    // An empty part still names its batch, so the merge knows it was added.
                    facets.append_value(facet);
                    first_rows.append_value(*first_row);
                    values.append(false);
                }
            }
        }
        let columns: Vec<ArrayRef> =
            vec![Arc::new(facets.finish()), Arc::new(first_rows.finish()), Arc::new(values.finish())];
        let batch = RecordBatch::try_from_iter(["facet", "first_row", "values"].into_iter().zip(columns))?;
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
        writer.write(&batch)?;
        writer.finish()?;
        drop(writer);
        Ok(bytes)
    }

    /// Reads what [`Self::to_ipc`] wrote; `columns` gives each facet's width (for parts without rows).
    pub fn from_ipc(bytes: &[u8], columns: &BTreeMap<String, usize>) -> Result<Self, String> {
        let reader = StreamReader::try_new(bytes, None).map_err(|e| format!("fit sample: {e}"))?;
        let mut rows_of: BTreeMap<(String, u64), Vec<f64>> = BTreeMap::new();
        let mut counts: BTreeMap<(String, u64), usize> = BTreeMap::new();
        for batch in reader {
            let batch = batch.map_err(|e| format!("fit sample: {e}"))?;
            let facets = batch.column(0).as_string_opt::<i32>().ok_or("fit sample: facet is not text")?;
            let first_rows = batch.column(1).as_primitive_opt::<UInt64Type>().ok_or("fit sample: first_row")?;
            let values = batch.column(2).as_list_opt::<i32>().ok_or("fit sample: values is not a list")?;
            for i in 0..batch.num_rows() {
                let key = (facets.value(i).to_owned(), first_rows.value(i));
                let entry = rows_of.entry(key.clone()).or_default();
                if values.is_valid(i) {
                    let row = values.value(i);
                    let row = row.as_primitive_opt::<Float64Type>().ok_or("fit sample: values are not float64")?;
                    entry.extend(row.values().iter());
                    *counts.entry(key).or_default() += 1;
                }
            }
        }
        let mut sample = FitSample::default();
        for ((facet, first_row), values) in rows_of {
            let width = *columns.get(&facet).ok_or(format!("fit sample: unknown facet {facet}"))?;
            let rows = counts.get(&(facet.clone(), first_row)).copied().unwrap_or(0);
            let matrix = Array2::from_shape_vec((rows, width), values).map_err(|e| format!("fit sample: {e}"))?;
            sample.parts.entry(facet).or_default().insert(first_row, matrix);
        }
        Ok(sample)
    }

    /// A facet's sample as one matrix, in table order, taken out of the sample: its parts are freed as the matrix is
    /// made, so fitting facet after facet holds one copy of the sample, not two.
    pub fn take_facet(&mut self, facet: &str, columns: usize) -> Array2<f64> {
        let parts = self.parts.remove(facet).unwrap_or_default();
        let rows: usize = parts.values().map(Array2::nrows).sum();
        let mut values = Vec::with_capacity(rows * columns);
        for part in parts.into_values() {
            values.extend(part.as_standard_layout().iter());
        }
        Array2::from_shape_vec((rows, columns), values).expect("parts of one facet have the same columns")
    }

    /// A facet's sample as one matrix, in table order.
    pub fn facet(&self, facet: &str, columns: usize) -> Array2<f64> {
        let parts: Vec<_> = self.parts.get(facet).into_iter().flat_map(|p| p.values()).map(|m| m.view()).collect();
        if parts.is_empty() {
            return Array2::zeros((0, columns));
        }
        ndarray::concatenate(ndarray::Axis(0), &parts).expect("parts of one facet have the same columns")
    }
}

/// Rows each source contributes to the fit sample.
pub fn sample_quotas(
    hashes: &BTreeMap<String, Vec<u64>>,
    sample_size: usize,
    balance: SampleBalance,
) -> BTreeMap<String, usize> {
    let total: usize = hashes.values().map(Vec::len).sum();
    if total <= sample_size {
        return hashes.iter().map(|(s, l)| (s.clone(), l.len())).collect();
    }
    match balance {
        SampleBalance::Proportional => hashes
            .iter()
            .map(|(s, l)| (s.clone(), ((l.len() as f64 / total as f64) * sample_size as f64).floor() as usize))
            .collect(),
        SampleBalance::Equal => {
            // Water-filling: small sources give all they have, the rest share what is left equally.
            let mut quotas: BTreeMap<String, usize> = BTreeMap::new();
            let mut sizes: Vec<(&String, usize)> = hashes.iter().map(|(s, l)| (s, l.len())).collect();
            sizes.sort_by_key(|(s, n)| (*n, (*s).clone()));
            let mut left = sample_size;
            let mut remaining_sources = sizes.len();
            for (source, size) in sizes {
                let share = left / remaining_sources;
                let quota = size.min(share);
                quotas.insert(source.clone(), quota);
                left -= quota;
                remaining_sources -= 1;
            }
            quotas
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_quotas_water_fill() {
        let hashes: BTreeMap<String, Vec<u64>> =
            [("a", 10), ("b", 1000), ("c", 1000)].iter().map(|(s, n)| (s.to_string(), vec![0; *n])).collect();
        let quotas = sample_quotas(&hashes, 310, SampleBalance::Equal);
        assert_eq!((quotas["a"], quotas["b"], quotas["c"]), (10, 150, 150));
        let proportional = sample_quotas(&hashes, 100, SampleBalance::Proportional);
        assert_eq!((proportional["a"], proportional["b"]), (0, 49));
        assert_eq!(sample_quotas(&hashes, 5000, SampleBalance::Equal)["b"], 1000, "small corpora are used whole");
    }

    #[test]
    fn keys_merged_from_parts_in_any_order_plan_the_same_sample_as_the_whole() {
        let hash = |i: u64| crate::hashing::mix64(i + 1);
        let mut whole = SampleKeys::default();
        for (source, n) in [("human", 500u64), ("sim-a", 120), ("sim-b", 40)] {
            whole.hashes.insert(source.to_owned(), (0..n).map(|i| hash(i * 7 + n)).collect());
        }
        let mut parts = vec![SampleKeys::default(), SampleKeys::default(), SampleKeys::default()];
        for (source, list) in &whole.hashes {
            for (i, &h) in list.iter().enumerate() {
                parts[i % 3].hashes.entry(source.clone()).or_default().push(h);
            }
        }
        let mut merged = SampleKeys::default();
        for part in parts.into_iter().rev() {
            merged.merge(part);
        }
        assert_eq!(merged.rows(), whole.rows());
        for balance in [SampleBalance::Equal, SampleBalance::Proportional] {
            assert_eq!(merged.clone().plan(200, balance), whole.clone().plan(200, balance));
        }
        let plan = whole.plan(200, SampleBalance::Equal);
        assert_eq!(plan.quotas.values().sum::<usize>(), 200);
    }
}
