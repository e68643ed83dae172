//! Lloyd iterations with Hamerly's distance bounds: plain Lloyd's iterates, with most distance computations
//! skipped once few rows still move.
//!
//! Consumes: the data (standard layout, n x d), its squared row norms, the seeded centroids and the stopping rules.
//! Produces: a [`KMeans`] run (centroids, inertia, iterations, convergence, the rows scanned against every centre).
//!
//! How (G. Hamerly, "Making k-means even faster", SDM 2010): every row keeps an upper bound on its distance to its
//! own centre and a lower bound on its distance to every other centre. When the centres move by delta_j, a row's
//! upper bound grows by its centre's delta and its lower bound shrinks by the largest delta of another centre. A
//! row whose upper bound is at most max(lower bound, half the distance from its centre to the nearest other centre)
//! cannot change cluster and is skipped; otherwise its upper bound is made exact, and if the test still fails the
//! row is scanned against every centre. Scanned rows are gathered `BLOCK_ROWS` at a time into one matrix multiply,
//! as plain Lloyd does for all rows, and each one's nearest two centres ([`super::nearest`]) give its label and both
//! bounds. The per-cluster sums (f64) follow the rows that change cluster (every row on the first pass), in row
//! order: the result does not depend on the thread count, and an iteration in which no label changes leaves the
//! centroids bit for bit as they were, which ends the run.
//! Stopping rules and empty-cluster repair are plain Lloyd's, as in scikit-learn: labels unchanged, or the
//! centres' total squared shift at most `tol`; an empty cluster takes the row farthest from its centre.
//!
//! Cost per iteration: O(n) bound tests, O(d) per row whose bound is tightened, 2 k d flops per scanned row, O(d)
//! per row that changes cluster, O(k^2 d) for the centre-to-centre distances; in the long tail of iterations
//! almost no row is scanned. Memory: a label and two bounds per row, k x d sums.

use linfa::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::blocks::{BLOCK_ROWS, chunk_ranges};
use super::model::{FitStats, KMeans};
use super::nearest::{self, nearest_two};

/// Squared Euclidean distance of two rows, in four independent sums (so the loop pipelines).
#[inline(always)]
fn squared_distance<F: Float>(a: &[F], b: &[F]) -> F {
    let mut partial = [F::zero(); 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: F = a4.remainder().iter().zip(b4.remainder()).map(|(x, y)| (*x - *y) * (*x - *y)).sum();
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            let difference = x[l] - y[l];
            partial[l] += difference * difference;
        }
    }
    (partial[0] + partial[1]) + (partial[2] + partial[3]) + tail
}

/// How many unsettled rows ahead a row's data is prefetched.
const PREFETCH_AHEAD: usize = 8;

/// Asks the processor to bring a row into cache (a hint only: no effect on results; nothing on other processors).
/// The unsettled rows are scattered, so without it their loads wait on memory one by one (about 15% of the
/// k-means time on the benchmark's `usi` matrix).
#[inline(always)]
fn prefetch<F>(row: &[F]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes = std::mem::size_of_val(row);
        let start = row.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults and the address lies inside `row`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// The centres of one iteration, with what the bound tests need of them.
struct Centres<F> {
    centroids: Array2<F>,
    norms: Vec<F>,
    /// Half the distance from each centre to its nearest other centre (infinite when k = 1): a row closer than
    /// that to its own centre is closer to it than to any other.
    half_gaps: Vec<F>,
}

impl<F: Float> Centres<F> {
    fn new(centroids: Array2<F>) -> Self {
        let k = centroids.nrows();
        let norms = centroids.axis_iter(Axis(0)).map(|c| c.dot(&c)).collect();
        let row = |j: usize| centroids.row(j).to_slice().expect("standard layout");
        let half_gaps = (0..k)
            .map(|j| {
                let nearest = (0..k)
                    .filter(|&other| other != j)
                    .map(|other| squared_distance(row(j), row(other)))
                    .fold(F::infinity(), F::min);
                nearest.sqrt() / F::cast(2.0)
            })
            .collect();
        Self { centroids, norms, half_gaps }
    }

    fn row(&self, j: usize) -> &[F] {
        self.centroids.row(j).to_slice().expect("standard layout")
    }
}

/// How far each centre moved in the last update, for loosening the bounds.
struct Moves<F> {
    deltas: Vec<F>,
    /// The largest delta and its centre, and the second largest.
    largest: (usize, F),
    second: F,
}

impl<F: Float> Moves<F> {
    fn new(old: &Centres<F>, new: &Centres<F>) -> Self {
        let deltas: Vec<F> =
            (0..old.centroids.nrows()).map(|j| squared_distance(old.row(j), new.row(j)).sqrt()).collect();
        let mut largest = (0usize, F::zero());
        let mut second = F::zero();
        for (j, &delta) in deltas.iter().enumerate() {
            if delta > largest.1 {
                second = largest.1;
                largest = (j, delta);
            } else if delta > second {
                second = delta;
            }
        }
        Self { deltas, largest, second }
    }

    /// The largest move of a centre other than `own`.
    fn other_than(&self, own: usize) -> F {
        if own == self.largest.0 { self.second } else { self.largest.1 }
    }

    fn total_squared(&self) -> F {
        self.deltas.iter().map(|d| *d * *d).sum()
    }
}

/// Per row: its cluster, an upper bound on the distance to that centre, a lower bound on the distance to any other.
struct Bounds<F> {
    labels: Vec<u32>,
    upper: Vec<F>,
    lower: Vec<F>,
}

/// A chunk's part of one pass: the rows that changed cluster (row, old cluster: None on the first pass, where every
/// row gets its first label), and the rows scanned.
struct ChunkPass {
    changed: Vec<(usize, Option<u32>)>,
    scanned: usize,
}

/// The rows of one chunk and their bounds, for one pass.
struct Chunk<'a, F> {
    start: usize,
    labels: &'a mut [u32],
    upper: &'a mut [F],
    lower: &'a mut [F],
}

/// What every chunk of a pass reads: the data (row-major, `d` columns), its squared row norms, the centres, and
/// how far they moved since the last pass (None on the first pass, which scans every row).
#[derive(Clone, Copy)]
struct PassInputs<'a, F> {
    data: &'a [F],
    d: usize,
    norms: &'a [F],
    centres: &'a Centres<F>,
    moves: Option<&'a Moves<F>>,
}

impl<F> PassInputs<'_, F> {
    fn row(&self, i: usize) -> &[F] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// [`chunk_pass`] compiled for AVX2 where the processor has it (checked at run time; the lanes of the minima and
/// distance sums then fill 256-bit registers), portable code elsewhere. No fused multiply-adds either way, so both
/// give the same bits.
fn chunk_pass_dispatch<F: Float>(inputs: PassInputs<'_, F>, chunk: Chunk<'_, F>) -> ChunkPass {
    #[cfg(target_arch = "x86_64")]
    if nearest::has_avx2() {
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { chunk_pass_avx2(inputs, chunk) };
    }
    chunk_pass::<F, false>(inputs, chunk)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_pass_avx2<F: Float>(inputs: PassInputs<'_, F>, chunk: Chunk<'_, F>) -> ChunkPass {
    chunk_pass::<F, true>(inputs, chunk)
}

/// One assignment pass over the rows of a chunk: loosens the bounds by the centres' moves (none on the first pass,
/// which scans every row), skips the rows the bounds settle, tightens or scans the rest.
#[inline(always)]
fn chunk_pass<F: Float, const AVX2: bool>(inputs: PassInputs<'_, F>, mut chunk: Chunk<'_, F>) -> ChunkPass {
    let PassInputs { d, centres, moves, .. } = inputs;
    let rows = chunk.labels.len();
    let k = centres.centroids.nrows();
    let Some(moves) = moves else {
        let mut scanner = Scanner::new(BLOCK_ROWS.min(rows), d, k);
        // The first pass: every row is scanned.
        for local in 0..rows {
            scanner.pending.push(local);
            if scanner.is_full() {
                scanner.scan::<AVX2>(inputs, &mut chunk);
            }
        }
        scanner.scan::<AVX2>(inputs, &mut chunk);
        return scanner.out;
    };
    // Loosen every bound and keep the rows the bounds alone do not settle (a sequential sweep over the bounds)...
    // Branch-free: every row is written at the end of the list, which grows only when the row is unsettled (about
    // one row in five late in a run, at random: a branch would mispredict often).
    let mut unsettled: Vec<u32> = vec![0; rows];
    let mut count = 0usize;
    for local in 0..rows {
        let own = chunk.labels[local] as usize;
        let upper = chunk.upper[local] + moves.deltas[own];
        let lower = chunk.lower[local] - moves.other_than(own);
        chunk.upper[local] = upper;
        chunk.lower[local] = lower;
        unsettled[count] = local as u32;
        count += usize::from(upper > centres.half_gaps[own].max(lower));
    }
    unsettled.truncate(count);
    // Buffers for as many rows as may be scanned: late in a run, few.
    let mut scanner = Scanner::new(BLOCK_ROWS.min(count), d, k);
    // ... then make their upper bounds exact, reading their rows ahead of use, and scan the rows whose bounds still
    // overlap.
    for (position, &local) in unsettled.iter().enumerate() {
        if let Some(&ahead) = unsettled.get(position + PREFETCH_AHEAD) {
            prefetch(inputs.row(chunk.start + ahead as usize));
        }
        let local = local as usize;
        let own = chunk.labels[local] as usize;
        let i = chunk.start + local;
        let exact = squared_distance(inputs.row(i), centres.row(own)).sqrt();
        chunk.upper[local] = exact;
        if exact > centres.half_gaps[own].max(chunk.lower[local]) {
            scanner.pending.push(local);
            if scanner.is_full() {
                scanner.scan::<AVX2>(inputs, &mut chunk);
            }
        }
    }
    scanner.scan::<AVX2>(inputs, &mut chunk);
    scanner.out
}

/// The rows of a chunk waiting to be scanned against every centre, and the buffers of their matrix multiply.
struct Scanner<F> {
    block: Array2<F>,
    dots: Array2<F>,
    pending: Vec<usize>,
    out: ChunkPass,
}

impl<F: Float> Scanner<F> {
    fn is_full(&self) -> bool {
        self.pending.len() == self.block.nrows()
    }

    /// Buffers for blocks of up to `rows` rows.
    fn new(rows: usize, d: usize, k: usize) -> Self {
        Self {
            block: Array2::zeros((rows, d)),
            dots: Array2::zeros((rows, k)),
            pending: Vec::with_capacity(rows),
            out: ChunkPass { changed: Vec::new(), scanned: 0 },
        }
    }

    /// Scans the pending rows: one matrix multiply, then each row's nearest two centres become its label and bounds.
    #[inline(always)]
    fn scan<const AVX2: bool>(&mut self, inputs: PassInputs<'_, F>, chunk: &mut Chunk<'_, F>) {
        let PassInputs { norms, centres, moves, .. } = inputs;
        let rows = self.pending.len();
        if rows == 0 {
            return;
        }
        for (r, &local) in self.pending.iter().enumerate() {
            let row = inputs.row(chunk.start + local);
            self.block.row_mut(r).as_slice_mut().expect("standard layout").copy_from_slice(row);
        }
        let mut products = self.dots.slice_mut(s![..rows, ..]);
        general_mat_mul(F::one(), &self.block.slice(s![..rows, ..]), &centres.centroids.t(), F::zero(), &mut products);
        for (r, &local) in self.pending.iter().enumerate() {
            let (nearest, best, second) =
                nearest_two::<F, AVX2>(&centres.norms, products.row(r).to_slice().expect("standard layout"));
            let x_norm = norms[chunk.start + local];
            let label = nearest as u32;
            if moves.is_none() {
                self.out.changed.push((chunk.start + local, None));
            } else if chunk.labels[local] != label {
                self.out.changed.push((chunk.start + local, Some(chunk.labels[local])));
            }
            chunk.labels[local] = label;
            chunk.upper[local] = (best + x_norm).max(F::zero()).sqrt();
            chunk.lower[local] = (second + x_norm).max(F::zero()).sqrt();
        }
        self.out.scanned += rows;
        self.pending.clear();
    }
}

/// One pass over every chunk in parallel; the rows that changed cluster come back in row order.
fn pass<F: Float>(inputs: PassInputs<'_, F>, bounds: &mut Bounds<F>) -> ChunkPass {
    let ranges = chunk_ranges(bounds.labels.len());
    let chunk_rows = ranges[0].1 - ranges[0].0;
    let parts: Vec<ChunkPass> = bounds
        .labels
        .par_chunks_mut(chunk_rows)
        .zip(bounds.upper.par_chunks_mut(chunk_rows))
        .zip(bounds.lower.par_chunks_mut(chunk_rows))
        .zip(ranges.par_iter())
        .map(|(((labels, upper), lower), &(start, _))| {
            chunk_pass_dispatch(inputs, Chunk { start, labels, upper, lower })
        })
        .collect();
    let mut merged = ChunkPass { changed: Vec::new(), scanned: 0 };
    for part in parts {
        merged.changed.extend(part.changed);
        merged.scanned += part.scanned;
    }
    merged
}

/// Per-cluster sums (f64, k x d, row-major) and counts.
struct Sums {
    sums: Vec<f64>,
    counts: Vec<u64>,
    d: usize,
}

impl Sums {
    fn new(k: usize, d: usize) -> Self {
        Self { sums: vec![0.0; k * d], counts: vec![0; k], d }
    }

    fn add<F: Float>(&mut self, cluster: usize, row: &[F]) {
        for (sum, x) in self.sums[cluster * self.d..(cluster + 1) * self.d].iter_mut().zip(row) {
            *sum += x.to_f64().unwrap_or(f64::NAN);
        }
        self.counts[cluster] += 1;
    }

    fn remove<F: Float>(&mut self, cluster: usize, row: &[F]) {
        let sums = &mut self.sums[cluster * self.d..(cluster + 1) * self.d];
        self.counts[cluster] -= 1;
        if self.counts[cluster] == 0 {
            // No rounding residue survives an emptied cluster.
            sums.fill(0.0);
            return;
        }
        for (sum, x) in sums.iter_mut().zip(row) {
            *sum -= x.to_f64().unwrap_or(f64::NAN);
        }
    }

    /// The means; an empty cluster keeps its previous centre.
    fn centroids<F: Float>(&self, previous: &Array2<F>) -> Array2<F> {
        let mut centroids = previous.clone();
        for (j, mut centre) in centroids.axis_iter_mut(Axis(0)).enumerate() {
            if self.counts[j] > 0 {
                let count = self.counts[j] as f64;
                for (c, sum) in centre.iter_mut().zip(&self.sums[j * self.d..(j + 1) * self.d]) {
                    *c = F::cast(sum / count);
                }
            }
        }
        centroids
    }
}

/// Squared distance of every row to its own centre, and their sum (summed in chunk order).
fn own_distances<F: Float>(data: &[F], d: usize, centres: &Centres<F>, labels: &[u32]) -> (Vec<F>, f64) {
    let parts: Vec<(Vec<F>, f64)> = chunk_ranges(labels.len())
        .into_par_iter()
        .map(|(start, end)| {
            let distances: Vec<F> = (start..end)
                .map(|i| squared_distance(&data[i * d..(i + 1) * d], centres.row(labels[i] as usize)))
                .collect();
            let total = distances.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).sum();
            (distances, total)
        })
        .collect();
    let mut distances = Vec::with_capacity(labels.len());
    let mut total = 0.0;
    for (part, sum) in parts {
        distances.extend(part);
        total += sum;
    }
    (distances, total)
}

/// Gives each empty cluster the row farthest from its centre whose cluster keeps another member (as scikit-learn
/// does), updating labels and sums; returns the rows moved.
fn relocate_empty_clusters<F: Float>(
    data: &[F],
    centres: &Centres<F>,
    labels: &mut [u32],
    sums: &mut Sums,
) -> Vec<usize> {
    let d = sums.d;
    let empty: Vec<usize> = (0..sums.counts.len()).filter(|&j| sums.counts[j] == 0).collect();
    if empty.is_empty() {
        return Vec::new();
    }
    let (distances, _) = own_distances(data, d, centres, labels);
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order
        .sort_by(|&a, &b| distances[b].partial_cmp(&distances[a]).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
    let mut donors = order.into_iter();
    let mut moved = Vec::new();
    for j in empty {
        let Some(i) = donors.by_ref().find(|&i| sums.counts[labels[i] as usize] > 1) else { break };
        let row = &data[i * d..(i + 1) * d];
        sums.remove(labels[i] as usize, row);
        sums.add(j, row);
        labels[i] = j as u32;
        moved.push(i);
    }
    moved
}

/// Lloyd iterations from `centroids` until the labels stop changing, the centres' squared shift is at most `tol`,
/// or `max_iter`; then the labels of the final centres and their inertia.
pub(super) fn lloyd<F: Float>(
    data: &ArrayView2<F>,
    norms: &Array1<F>,
    centroids: Array2<F>,
    max_iter: usize,
    tol: F,
    restart: usize,
) -> KMeans<F> {
    let (n, d) = data.dim();
    let k = centroids.nrows();
    let values = data.as_slice().expect("the caller passes a standard-layout matrix");
    let norms = norms.as_slice().expect("a fresh array is contiguous");
    let mut bounds = Bounds { labels: vec![0; n], upper: vec![F::infinity(); n], lower: vec![F::zero(); n] };
    let mut centres = Centres::new(centroids);
    let mut sums = Sums::new(k, d);
    let mut moves: Option<Moves<F>> = None;
    let mut scanned = 0usize;
    let mut iterations = 0;
    let mut converged = false;
    loop {
        iterations += 1;
        // Assign the rows to the current centres (the first pass scans every row).
        let inputs = PassInputs { data: values, d, norms, centres: &centres, moves: moves.as_ref() };
        let step = pass(inputs, &mut bounds);
        scanned += step.scanned;
        // The sums follow the rows that changed cluster (on the first pass, every row), in row order.
        for &(i, old) in &step.changed {
            let row = &values[i * d..(i + 1) * d];
            if let Some(old) = old {
                sums.remove(old as usize, row);
            }
            sums.add(bounds.labels[i] as usize, row);
        }
        let relocated = relocate_empty_clusters(values, &centres, &mut bounds.labels, &mut sums);
        for &i in &relocated {
            // The row is now its cluster's only member; a scan rebuilds its bounds.
            bounds.upper[i] = F::infinity();
            bounds.lower[i] = F::zero();
        }
        if step.changed.is_empty() && relocated.is_empty() {
            // No label changed, so the sums, and the centroids, are bit for bit the ones just measured against.
            moves = None;
            converged = true;
            break;
        }
        // Move the centres to the means of their rows.
        let next = Centres::new(sums.centroids(&centres.centroids));
        let moved = Moves::new(&centres, &next);
        centres = next;
        let settled = moved.total_squared() <= tol;
        moves = Some(moved);
        if settled {
            converged = true;
            break;
        }
        if iterations == max_iter {
            break;
        }
    }
    if let Some(moves) = &moves {
        // The labels of the final centres.
        let inputs = PassInputs { data: values, d, norms, centres: &centres, moves: Some(moves) };
        scanned += pass(inputs, &mut bounds).scanned;
    }
    let (_, inertia) = own_distances(values, d, &centres, &bounds.labels);
    let stats = FitStats { passes: scanned as f64 / n as f64, ..FitStats::default() };
    KMeans { centroids: centres.centroids, inertia, iterations, converged, restart, stats }
}

#[cfg(test)]
#[path = "bounded_tests.rs"]
mod tests;
