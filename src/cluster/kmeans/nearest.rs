//! The nearest two centres of a row, from the row's products with every centre: what a Lloyd scan needs for the
//! row's label and for both of its Hamerly bounds.
//!
//! Consumes: the centres' squared norms and the row's dot products with them. Produces: the nearest centre (ties to
//! the lower index, as a plain scan), ||c||^2 - 2 x.c for it and for the second nearest. Running minima in lanes,
//! without branches; for f64 on processors with AVX2 (checked at run time by the callers), two 256-bit registers
//! of four lanes. The answer is unique, so every arrangement of lanes gives the same bits. Cost: O(k) per row.

use linfa::Float;

/// Four lanes of running minima over ||c_j||^2 - 2 x.c_j: per lane the best value, its centre, and the second best.
struct Lanes<F> {
    best: [F; 4],
    index: [usize; 4],
    second: [F; 4],
}

impl<F: Float> Lanes<F> {
    fn new() -> Self {
        Self { best: [F::infinity(); 4], index: [0; 4], second: [F::infinity(); 4] }
    }

    /// Takes `value` of centre `j` into `lane`, without branches.
    #[inline(always)]
    fn consider(&mut self, lane: usize, j: usize, value: F) {
        let better = value < self.best[lane];
        let runner_up = if value < self.second[lane] { value } else { self.second[lane] };
        self.second[lane] = if better { self.best[lane] } else { runner_up };
        self.index[lane] = if better { j } else { self.index[lane] };
        self.best[lane] = if better { value } else { self.best[lane] };
    }

    /// Takes another set of lanes in, lane by lane: the better best stays (ties to the lower index), the other
    /// competes for second.
    #[inline(always)]
    fn merge(&mut self, other: &Self) {
        for lane in 0..4 {
            let (value, index) = (other.best[lane], other.index[lane]);
            let other_wins = value < self.best[lane] || (value == self.best[lane] && index < self.index[lane]);
            let (winner_second, loser_best) =
                if other_wins { (other.second[lane], self.best[lane]) } else { (self.second[lane], value) };
            if other_wins {
                self.best[lane] = value;
                self.index[lane] = index;
            }
            self.second[lane] = winner_second.min(loser_best);
        }
    }

    /// The nearest centre (ties to the lower index), its value, and the second best value.
    #[inline(always)]
    fn finish(&self) -> (usize, F, F) {
        let mut winner = 0;
        for lane in 1..4 {
            let (value, index) = (self.best[lane], self.index[lane]);
            if value < self.best[winner] || (value == self.best[winner] && index < self.index[winner]) {
                winner = lane;
            }
        }
        let mut runner_up = self.second[winner];
        for lane in (0..4).filter(|&lane| lane != winner) {
            runner_up = runner_up.min(self.best[lane]);
        }
        (self.index[winner], self.best[winner], runner_up)
    }
}

/// Whether the processor has AVX2 (the callers' run-time choice of path).
pub(super) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The nearest centre of a row and ||c||^2 - 2 x.c for it and for the second nearest, from the row's products with
/// every centre: lanes of running minima, merged at the end; ties go to the lower index, as in a plain scan. With
/// `AVX2` (true only once the processor was found to support it, see [`has_avx2`]) f64 rows take the AVX2 path.
#[inline(always)]
pub(super) fn nearest_two<F: Float, const AVX2: bool>(centre_norms: &[F], dots: &[F]) -> (usize, F, F) {
    #[cfg(target_arch = "x86_64")]
    if AVX2 && std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
        // SAFETY: F is f64 (checked just above), so the slices are f64 slices; callers pass AVX2 = true only after
        // the processor was found to support AVX2.
        let (index, best, second) = unsafe {
            let norms = std::slice::from_raw_parts(centre_norms.as_ptr().cast::<f64>(), centre_norms.len());
            let dots = std::slice::from_raw_parts(dots.as_ptr().cast::<f64>(), dots.len());
            nearest_two_f64_avx2(norms, dots)
        };
        return (index, F::cast(best), F::cast(second));
    }
    let mut lanes = Lanes::new();
    for (j, (norm, dot)) in centre_norms.iter().zip(dots).enumerate() {
        lanes.consider(j % 4, j, *norm - (*dot + *dot));
    }
    lanes.finish()
}

/// [`nearest_two`] for f64 in AVX2 registers. The answer is unique (the lowest index of the smallest value, and the
/// smallest value of the others), so any arrangement of the lanes gives the same bits as the portable code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn nearest_two_f64_avx2(centre_norms: &[f64], dots: &[f64]) -> (usize, f64, f64) {
    use std::arch::x86_64::*;
    /// One register of four lanes: best value, its centre (exact as f64), second best.
    #[derive(Clone, Copy)]
    struct Register {
        best: __m256d,
        index: __m256d,
        second: __m256d,
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    fn step(lanes: &mut Register, norms: &[f64], products: &[f64], current: __m256d) {
        // SAFETY: the slices hold four f64 values each (unaligned loads); AVX2 is enabled in the caller.
        let (n, x) = unsafe { (_mm256_loadu_pd(norms.as_ptr()), _mm256_loadu_pd(products.as_ptr())) };
        let value = _mm256_sub_pd(n, _mm256_add_pd(x, x));
        let better = _mm256_cmp_pd::<_CMP_LT_OQ>(value, lanes.best);
        // runner_up = value < second ? value : second
        let runner_up = _mm256_blendv_pd(lanes.second, value, _mm256_cmp_pd::<_CMP_LT_OQ>(value, lanes.second));
        lanes.second = _mm256_blendv_pd(runner_up, lanes.best, better);
        lanes.index = _mm256_blendv_pd(lanes.index, current, better);
        lanes.best = _mm256_blendv_pd(lanes.best, value, better);
    }
    // Two registers (eight lanes) with independent dependency chains, so the comparisons overlap.
    let whole = dots.len() / 8 * 8;
    let start = Register {
        best: _mm256_set1_pd(f64::INFINITY),
        index: _mm256_setzero_pd(),
        second: _mm256_set1_pd(f64::INFINITY),
    };
    let (mut low, mut high) = (start, start);
    let mut current = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
    let (four, eight) = (_mm256_set1_pd(4.0), _mm256_set1_pd(8.0));
    for (norms, products) in centre_norms[..whole].chunks_exact(8).zip(dots[..whole].chunks_exact(8)) {
        step(&mut low, &norms[..4], &products[..4], current);
        step(&mut high, &norms[4..], &products[4..], _mm256_add_pd(current, four));
        current = _mm256_add_pd(current, eight);
    }
    let mut result = Lanes::new();
    for register in [low, high] {
        let mut lanes = Lanes::new();
        let mut indices = [0.0f64; 4];
        // SAFETY: stores of four f64 values into arrays of four.
        unsafe {
            _mm256_storeu_pd(lanes.best.as_mut_ptr(), register.best);
            _mm256_storeu_pd(lanes.second.as_mut_ptr(), register.second);
            _mm256_storeu_pd(indices.as_mut_ptr(), register.index);
        }
        lanes.index = indices.map(|i| i as usize);
        result.merge(&lanes);
    }
    for j in whole..dots.len() {
        result.consider(j % 4, j, centre_norms[j] - (dots[j] + dots[j]));
    }
    result.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn nearest_two_matches_a_plain_scan() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for k in [1usize, 2, 3, 4, 5, 7, 8, 13, 50] {
            for _ in 0..200 {
                // Few distinct values, so ties are common.
                let norms: Vec<f64> = (0..k).map(|_| rng.gen_range(0..4) as f64).collect();
                let dots: Vec<f64> = (0..k).map(|_| rng.gen_range(0..4) as f64).collect();
                let values: Vec<f64> = (0..k).map(|j| norms[j] - 2.0 * dots[j]).collect();
                let best = (0..k).fold(0, |b, j| if values[j] < values[b] { j } else { b });
                let second = (0..k).filter(|&j| j != best).map(|j| values[j]).fold(f64::INFINITY, f64::min);
                let expected = (best, values[best], second);
                assert_eq!(nearest_two::<f64, false>(&norms, &dots), expected, "k = {k}: {values:?}");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    assert_eq!(nearest_two::<f64, true>(&norms, &dots), expected, "AVX2, k = {k}: {values:?}");
                }
            }
        }
    }
}
