//! k-means++ seeding for [`super`]: greedy k-means++ (2 + ln k candidates per centre, the best kept) over a centred
//! f32 copy of the data, for several restarts in one pass.
//!
//! Consumes: the data matrix and one seeded RNG per restart. Produces: each restart's k initial centres (k x d, in
//! the data's type) and its RNG, advanced.
//! How: [`SeedingData`] holds the rows in groups of eight stored dimension by dimension, so eight rows' squared
//! distances to a candidate are eight-lane multiply-adds (an AVX2/FMA kernel chosen at run time, taking two groups
//! at a time so that eight chains keep both FMA units busy; a portable one otherwise). Each round scores every
//! restart's candidates on a group of rows while the group is in cache. Each centre is drawn in proportion to the
//! current distances, per chunk of rows in parallel and merged in chunk order, so any thread count and any number of
//! restarts sharing the pass give the same centres. Large inputs are bound by memory bandwidth (one pass over the
//! copy per round).
//! Cost: O(n k d log k) flops per restart, one pass over the copy per round; memory 4 n d bytes for the copy and
//! 4 n (2 + ln k) per restart in the pass for the candidates' scores.

use linfa::Float;
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::blocks::{LANES, chunk_ranges, column_means};

/// The matrix in f32 for k-means++ (half the memory traffic of f64; the choice of seeds tolerates the rounding), in
/// groups of eight rows stored dimension by dimension, so eight rows' dot products with a candidate are eight-lane
/// multiply-adds with no horizontal sums. Shared by every restart.
pub(super) struct SeedingData {
    /// Group g, dimension j, lane l: row 8 g + l, value j (rows past n are zero).
    groups: Vec<f32>,
    norms: Vec<f32>,
    d: usize,
}

impl SeedingData {
    /// The rows are centred on the column means first: distances do not change, and ||x||^2 - 2 x.c + ||c||^2
    /// in f32 does not lose them to cancellation when the data sits far from the origin.
    pub(super) fn new<F: Float>(data: &ArrayView2<F>) -> Self {
        let (n, d) = data.dim();
        let means = column_means(data);
        let centred = |i: usize, j: usize| (data[[i, j]].to_f64().unwrap_or(f64::NAN) - means[j]) as f32;
        let mut groups = vec![0.0f32; n.div_ceil(LANES) * d * LANES];
        groups.par_chunks_mut(d * LANES).enumerate().for_each(|(g, group)| {
            for l in 0..LANES.min(n - g * LANES) {
                for j in 0..d {
                    group[j * LANES + l] = centred(g * LANES + l, j);
                }
            }
        });
        let norms = (0..n).into_par_iter().map(|i| (0..d).map(|j| centred(i, j).powi(2)).sum()).collect();
        Self { groups, norms, d }
    }

    fn row(&self, i: usize) -> Vec<f32> {
        let group = &self.groups[(i / LANES) * self.d * LANES..];
        (0..self.d).map(|j| group[j * LANES + i % LANES]).collect()
    }
}

/// Candidates by fours, dimension by dimension: `planes[b * d + j]` holds value j of candidates 4b .. 4b + 3
/// (zero past the last), so the kernel reads one small array per dimension.
fn candidate_planes(candidates: &[Vec<f32>], d: usize) -> Vec<[f32; 4]> {
    let mut planes = vec![[0.0f32; 4]; candidates.len().div_ceil(4) * d];
    for (t, candidate) in candidates.iter().enumerate() {
        for (j, value) in candidate.iter().enumerate() {
            planes[(t / 4) * d + j][t % 4] = *value;
        }
    }
    planes
}

/// Scores one group of (up to) eight rows against every candidate: for row r and candidate t,
/// min(nearest[r], ||x_r - c_t||^2), written to `scores[t * plane + r]` and added to `sums[t]`.
/// Four candidates at a time: four independent multiply-add chains share each load of the rows.
/// The kernels here take their slices as separate arguments, not bundled in structs: as arguments they are known
/// not to overlap, which the scoring loop's vectorisation needs (bundled, k-means++ for 100k x 64, k = 500 took
/// 1.72 s instead of 1.50 s).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn score_group<const FMA: bool>(
    group: &[f32],
    norms: &[f32],
    nearest: &[f32],
    planes: &[[f32; 4]],
    candidate_norms: &[f32],
    scores: &mut [f32],
    plane: usize,
    sums: &mut [f64],
) {
    let d = group.len() / LANES;
    for (b, batch) in planes.chunks_exact(d).enumerate() {
        let mut acc = [[0.0f32; LANES]; 4];
        for (x, c4) in group.chunks_exact(LANES).zip(batch) {
            let x: &[f32; LANES] = x.try_into().expect("a lane group");
            for q in 0..4 {
                let c = c4[q];
                for l in 0..LANES {
                    acc[q][l] = if FMA { x[l].mul_add(c, acc[q][l]) } else { acc[q][l] + x[l] * c };
                }
            }
        }
        finish_group(&acc, b, norms, nearest, candidate_norms, scores, plane, sums);
    }
}

/// The scores of one group of (up to) eight rows against candidates 4 b .. 4 b + 3 from their dot products `acc`:
/// min(nearest[r], ||x_r||^2 + ||c_t||^2 - 2 x_r.c_t) into `scores[t * plane + r]`, their f32 sum added to `sums[t]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn finish_group(
    acc: &[[f32; LANES]; 4],
    b: usize,
    norms: &[f32],
    nearest: &[f32],
    candidate_norms: &[f32],
    scores: &mut [f32],
    plane: usize,
    sums: &mut [f64],
) {
    let rows = nearest.len();
    for (q, dots) in acc.iter().enumerate().take(candidate_norms.len() - 4 * b) {
        let t = 4 * b + q;
        let out = &mut scores[t * plane..t * plane + rows];
        let mut sum = 0.0f32;
        for r in 0..rows {
            let score = (norms[r] + candidate_norms[t] - 2.0 * dots[r]).max(0.0).min(nearest[r]);
            out[r] = score;
            sum += score;
        }
        sums[t] += f64::from(sum);
    }
}

/// [`score_group`] for two whole groups (sixteen rows) at once, in AVX2 registers: eight multiply-add chains, one per
/// (group, candidate), keep both FMA units busy where four chains wait on each other's latency. Each lane is still
/// one row's chain over the dimensions in order, and the groups are finished one after the other, so the scores and
/// sums are the bits of two calls of [`score_group`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn score_group_pair_avx2(
    groups: &[f32],
    norms: &[f32],
    nearest: &[f32],
    planes: &[[f32; 4]],
    candidate_norms: &[f32],
    scores: &mut [f32],
    plane: usize,
    sums: &mut [f64],
) {
    use std::arch::x86_64::*;
    let d = groups.len() / (2 * LANES);
    let (first, second) = groups.split_at(d * LANES);
    for (b, batch) in planes.chunks_exact(d).enumerate() {
        let mut chains = [_mm256_setzero_ps(); 8];
        for ((x0, x1), c4) in first.chunks_exact(LANES).zip(second.chunks_exact(LANES)).zip(batch) {
            // SAFETY: each chunk holds LANES = 8 f32 values (unaligned loads); AVX2 and FMA are enabled here.
            let (x0, x1) = unsafe { (_mm256_loadu_ps(x0.as_ptr()), _mm256_loadu_ps(x1.as_ptr())) };
            for q in 0..4 {
                let c = _mm256_set1_ps(c4[q]);
                chains[q] = _mm256_fmadd_ps(x0, c, chains[q]);
                chains[4 + q] = _mm256_fmadd_ps(x1, c, chains[4 + q]);
            }
        }
        let mut acc = [[[0.0f32; LANES]; 4]; 2];
        for q in 0..4 {
            // SAFETY: each destination holds LANES = 8 f32 values.
            unsafe {
                _mm256_storeu_ps(acc[0][q].as_mut_ptr(), chains[q]);
                _mm256_storeu_ps(acc[1][q].as_mut_ptr(), chains[4 + q]);
            }
        }
        finish_group(&acc[0], b, &norms[..LANES], &nearest[..LANES], candidate_norms, scores, plane, sums);
        finish_group(
            &acc[1],
            b,
            &norms[LANES..],
            &nearest[LANES..],
            candidate_norms,
            &mut scores[LANES..],
            plane,
            sums,
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn score_group_avx2(
    group: &[f32],
    norms: &[f32],
    nearest: &[f32],
    planes: &[[f32; 4]],
    candidate_norms: &[f32],
    scores: &mut [f32],
    plane: usize,
    sums: &mut [f64],
) {
    score_group::<true>(group, norms, nearest, planes, candidate_norms, scores, plane, sums);
}

/// Whether the processor has AVX2 and FMA (the AVX2 kernels' run-time choice).
fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// [`score_group`] with AVX2 and FMA where the processor has them (checked at run time), portable code elsewhere.
#[allow(clippy::too_many_arguments)]
fn score_group_dispatch(
    group: &[f32],
    norms: &[f32],
    nearest: &[f32],
    planes: &[[f32; 4]],
    candidate_norms: &[f32],
    scores: &mut [f32],
    plane: usize,
    sums: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor supports AVX2 and FMA, checked just above.
        unsafe { score_group_avx2(group, norms, nearest, planes, candidate_norms, scores, plane, sums) };
        return;
    }
    score_group::<false>(group, norms, nearest, planes, candidate_norms, scores, plane, sums);
}

/// One restart's k-means++ state between rounds: its random stream, the centres so far, each row's squared distance
/// to its nearest centre, and this round's candidates with their scores.
struct Seeder<F> {
    rng: ChaCha8Rng,
    centroids: Array2<F>,
    /// Row i's distance to its nearest centre, as of the round before `pending`'s.
    closest: Vec<f32>,
    /// The scores of a chunk (rows start..end): min(nearest so far, distance of row i to candidate t) at
    /// start * trials + t * (end - start) + (i - start), one plane per candidate.
    scores: Vec<f32>,
    /// Last round's winner, not yet folded into `closest`.
    pending: Option<usize>,
    candidates: Vec<usize>,
}

/// One restart's slices of one chunk in a round: its rows' nearest-so-far distances, their scores, and last round's
/// winner to fold in.
type ChunkState<'a> = (&'a mut [f32], &'a mut [f32], Option<usize>);

/// A restart's candidates as the kernels read them.
struct CandidateBlock {
    planes: Vec<[f32; 4]>,
    norms: Vec<f32>,
}

/// Greedy k-means++ for every restart at once: each new centre is the best of 2 + ln k candidates drawn in proportion
/// to the squared distance to the nearest centre so far. One pass over the data per round serves every restart
/// (each group of rows is scored against every restart's candidates while it is in cache); the pass that scores the
/// candidates also keeps each row's distance to every candidate, so the winner's distances need no second pass, and
/// each chunk's total for the next draw comes out of the same scores. Each restart draws from its own `rngs` entry
/// and its rows are scored and summed in the same order as if it ran alone, so its centres do not depend on how
/// many restarts share the pass. Returns each restart's centres and its random stream, advanced past the seeding.
pub(super) fn kmeans_plus_plus<F: Float>(
    data: &ArrayView2<F>,
    seeding: &SeedingData,
    k: usize,
    rngs: Vec<ChaCha8Rng>,
) -> Vec<(Array2<F>, ChaCha8Rng)> {
    let (n, d) = data.dim();
    let trials = 2 + (k as f64).ln() as usize;
    let ranges = chunk_ranges(n);
    let chunk_rows = ranges[0].1 - ranges[0].0;
    // Round 0 scores the first centre alone (as every candidate), with an infinite "nearest so far".
    let mut seeders: Vec<Seeder<F>> = rngs
        .into_iter()
        .map(|mut rng| {
            let first = rng.gen_range(0..n);
            let mut centroids = Array2::<F>::zeros((k, d));
            centroids.row_mut(0).assign(&data.row(first));
            Seeder {
                rng,
                centroids,
                closest: vec![f32::INFINITY; n],
                scores: vec![0.0f32; n * trials],
                pending: None,
                candidates: vec![first; trials],
            }
        })
        .collect();
    let pair = has_avx2_fma();
    for c in 0..k {
        let blocks: Vec<CandidateBlock> = seeders
            .iter()
            .map(|seeder| {
                let rows: Vec<Vec<f32>> = seeder.candidates.iter().map(|&i| seeding.row(i)).collect();
                let norms = seeder.candidates.iter().map(|&i| seeding.norms[i]).collect();
                CandidateBlock { planes: candidate_planes(&rows, d), norms }
            })
            .collect();
        // Each chunk's slices of every restart's state: [chunk][restart].
        let mut chunk_states: Vec<Vec<ChunkState<'_>>> =
            (0..ranges.len()).map(|_| Vec::with_capacity(seeders.len())).collect();
        for seeder in &mut seeders {
            let pending = seeder.pending;
            let closest = seeder.closest.chunks_mut(chunk_rows);
            let scores = seeder.scores.chunks_mut(chunk_rows * trials);
            for (chunk, (closest, scores)) in chunk_states.iter_mut().zip(closest.zip(scores)) {
                chunk.push((closest, scores, pending));
            }
        }
        // One pass: fold last round's winner into `closest`, score this round's candidates, sum per chunk.
        let chunk_scores: Vec<Vec<Vec<f64>>> = chunk_states
            .into_par_iter()
            .zip(ranges.par_iter())
            .map(|(mut states, &(start, end))| score_chunk(seeding, &blocks, &mut states, start, end, trials, pair))
            .collect();
        for (r, seeder) in seeders.iter_mut().enumerate() {
            let pots: Vec<f64> = (0..trials).map(|t| chunk_scores.iter().map(|chunk| chunk[r][t]).sum()).collect();
            let best = (0..trials).min_by(|&a, &b| pots[a].total_cmp(&pots[b])).expect("at least two trials");
            seeder.centroids.row_mut(c).assign(&data.row(seeder.candidates[best]));
            seeder.pending = Some(best);
            if c + 1 == k {
                continue;
            }
            // Draw the next round's candidates in proportion to the distance to the nearest centre.
            let chunk_totals: Vec<f64> = chunk_scores.iter().map(|chunk| chunk[r][best]).collect();
            let potential: f64 = chunk_totals.iter().sum();
            let scores = &seeder.scores;
            let current = |i: usize| {
                let start = (i / chunk_rows) * chunk_rows;
                let plane = chunk_rows.min(n - start);
                scores[start * trials + best * plane + (i - start)]
            };
            let rng = &mut seeder.rng;
            seeder.candidates = (0..trials)
                .map(|_| sample_proportional(&current, &ranges, &chunk_totals, rng.r#gen::<f64>() * potential, n))
                .collect();
        }
    }
    seeders.into_iter().map(|seeder| (seeder.centroids, seeder.rng)).collect()
}

/// One chunk's part of a round for every restart: folds each restart's last winner into its `closest`, then scores
/// the chunk's rows against each restart's candidates, one or two lane groups at a time, every restart on a group
/// before the next group. Returns each restart's per-candidate sums over the chunk.
fn score_chunk(
    seeding: &SeedingData,
    blocks: &[CandidateBlock],
    states: &mut [ChunkState<'_>],
    start: usize,
    end: usize,
    trials: usize,
    pair: bool,
) -> Vec<Vec<f64>> {
    let d = seeding.d;
    let plane = end - start;
    let mut sums = vec![vec![0.0f64; trials]; states.len()];
    for (closest, scores, pending) in states.iter_mut() {
        if let Some(best) = *pending {
            closest.copy_from_slice(&scores[best * plane..(best + 1) * plane]);
        }
    }
    let mut row = start;
    while row < end {
        // Two whole groups at a time where the processor has AVX2 and FMA, else (and for the last group of the
        // chunk) one.
        let rows = if pair && end - row >= 2 * LANES { 2 * LANES } else { LANES.min(end - row) };
        let groups = &seeding.groups[(row / LANES) * d * LANES..(row + rows).div_ceil(LANES) * d * LANES];
        let norms = &seeding.norms[row..row + rows];
        let local = row - start;
        for (((closest, scores, _), block), sums) in states.iter_mut().zip(blocks).zip(&mut sums) {
            let nearest = &closest[local..local + rows];
            let scores = &mut scores[local..];
            if rows == 2 * LANES {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `pair` is true only where the processor has AVX2 and FMA (checked by the caller).
                unsafe {
                    score_group_pair_avx2(groups, norms, nearest, &block.planes, &block.norms, scores, plane, sums)
                };
            } else {
                score_group_dispatch(groups, norms, nearest, &block.planes, &block.norms, scores, plane, sums);
            }
        }
        row += rows;
    }
    sums
}

/// Index of the row where the running sum of `weight(i)` passes `target` (weights in chunks with known totals).
fn sample_proportional(
    weight: &impl Fn(usize) -> f32,
    ranges: &[(usize, usize)],
    chunk_totals: &[f64],
    target: f64,
    n: usize,
) -> usize {
    let mut remaining = target;
    for (&(start, end), &total) in ranges.iter().zip(chunk_totals) {
        if remaining < total {
            for i in start..end {
                remaining -= f64::from(weight(i));
                if remaining < 0.0 {
                    return i;
                }
            }
            // Rounding between the chunk total and the row sums: the chunk's last row with weight.
            if let Some(i) = (start..end).rev().find(|&i| weight(i) > 0.0) {
                return i;
            }
        }
        remaining -= total;
    }
    // Rounding left the target past the end: the last row with weight.
    (0..n).rev().find(|&i| weight(i) > 0.0).unwrap_or(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-group AVX2 kernel gives the bits of two one-group calls: scores and the order of the sums.
    #[test]
    fn a_pair_of_groups_scores_as_two_single_groups() {
        if !has_avx2_fma() {
            eprintln!("skipped: no AVX2 and FMA on this processor");
            return;
        }
        let (d, trials) = (7, 6);
        let value = |i: usize| ((i * 7919) % 1000) as f32 / 37.0 - 13.0;
        let groups: Vec<f32> = (0..2 * d * LANES).map(value).collect();
        let norms: Vec<f32> = (0..2 * LANES).map(|i| value(i + 5000).abs() * 9.0).collect();
        let nearest: Vec<f32> =
            (0..2 * LANES).map(|i| if i % 3 == 0 { f32::INFINITY } else { value(i + 7000).abs() }).collect();
        let candidates: Vec<Vec<f32>> =
            (0..trials).map(|t| (0..d).map(|j| value(9000 + t * d + j)).collect()).collect();
        let planes = candidate_planes(&candidates, d);
        let candidate_norms: Vec<f32> = candidates.iter().map(|c| c.iter().map(|v| v * v).sum()).collect();
        let plane = 2 * LANES;
        let (mut pair_scores, mut pair_sums) = (vec![0.0f32; plane * trials], vec![0.25f64; trials]);
        // SAFETY: the processor has AVX2 and FMA (checked above).
        unsafe {
            score_group_pair_avx2(
                &groups,
                &norms,
                &nearest,
                &planes,
                &candidate_norms,
                &mut pair_scores,
                plane,
                &mut pair_sums,
            )
        };
        let (mut scores, mut sums) = (vec![0.0f32; plane * trials], vec![0.25f64; trials]);
        for g in 0..2 {
            let rows = g * LANES..(g + 1) * LANES;
            score_group::<true>(
                &groups[g * d * LANES..(g + 1) * d * LANES],
                &norms[rows.clone()],
                &nearest[rows],
                &planes,
                &candidate_norms,
                &mut scores[g * LANES..],
                plane,
                &mut sums,
            );
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pair_scores), bits(&scores));
        assert_eq!(
            pair_sums.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            sums.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    /// Restarts seeded in one shared pass get the centres (and the random streams) each gets when seeded alone.
    #[test]
    fn restarts_seeded_together_equal_restarts_seeded_alone() {
        use rand::SeedableRng;
        let (n, d, k) = (3001, 5, 9);
        let data = Array2::from_shape_fn((n, d), |(i, j)| (((i * 7919 + j * 104_729) % 1013) as f64).sqrt() - 15.0);
        let view = data.view();
        let seeding = SeedingData::new(&view);
        let rngs: Vec<ChaCha8Rng> = (0..3).map(|r| ChaCha8Rng::seed_from_u64(11 + r)).collect();
        let together = kmeans_plus_plus(&view, &seeding, k, rngs.clone());
        for (rng, (centres, mut after)) in rngs.into_iter().zip(together) {
            let (alone, mut alone_after) = kmeans_plus_plus(&view, &seeding, k, vec![rng]).remove(0);
            assert_eq!(centres, alone);
            assert_eq!(after.r#gen::<u64>(), alone_after.r#gen::<u64>());
        }
    }
}
