//! Sums of floating-point numbers that do not depend on the order or grouping of the additions: the exact sum is
//! kept as a short list of non-overlapping partial sums (Shewchuk's expansions), and rounded once, correctly, when
//! read. Two accumulators merge exactly, so a stage's partial results can be added per shard and merged in any order
//! and still give the same bits.
//!
//! Consumes: finite f64 values (NaN and infinities are summed apart, as plain floats). Produces: the correctly
//! rounded sum ([`ExactSum::value`]). Imports no stage. Cost: O(partials) per addition, and the list stays at one
//! to three partials for the sums of features this crate makes; it grows only with the spread of exponents.
//! Serialises each partial as its bit pattern, so a round trip through JSON loses nothing.

use serde::{Deserialize, Serialize};

/// An exact sum of f64 values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExactSum {
    /// Non-overlapping partials, increasing in magnitude, as bit patterns.
    #[serde(with = "bits")]
    partials: Vec<f64>,
    /// The sum of non-finite values (NaN, infinities), which have no exact sum.
    #[serde(with = "bits_one")]
    special: f64,
}

/// `a + b` as a rounded sum and its exact rounding error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let sum = a + b;
    let b_virtual = sum - a;
    let a_virtual = sum - b_virtual;
    (sum, (a - a_virtual) + (b - b_virtual))
}

impl ExactSum {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        // The common cases first: the first value, and a sum held in one partial.
        match self.partials.as_mut_slice() {
            [] if x.is_finite() => return self.partials.push(x),
            [only] => {
                let (sum, error) = two_sum(x, *only);
                if sum.is_finite() {
                    if error == 0.0 {
                        *only = sum;
                    } else {
                        *only = error;
                        self.partials.push(sum);
                    }
                    return;
                }
            }
            _ => {}
        }
        self.add_to_expansion(x);
    }

    /// Adds `x` to a sum of several partials, or a non-finite value.
    fn add_to_expansion(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut carry = x;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let (sum, error) = two_sum(carry, self.partials[j]);
            if error != 0.0 {
                self.partials[kept] = error;
                kept += 1;
            }
            carry = sum;
        }
        if carry.is_finite() {
            self.partials.truncate(kept);
            self.partials.push(carry);
        } else {
            // The exact sum left the range of f64: it rounds to an infinity, and stays there.
            self.partials.clear();
            self.special += carry;
        }
    }

    /// Adds everything `other` has summed.
    pub fn merge(&mut self, other: &ExactSum) {
        for &partial in &other.partials {
            self.add(partial);
        }
        self.special += other.special;
    }

    /// The exact sum, rounded to the nearest f64 (ties to even).
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let partials = &self.partials;
        let Some(&last) = partials.last() else { return 0.0 };
        let mut high = last;
        let mut low = 0.0;
        let mut j = partials.len() - 1;
        while j > 0 {
            j -= 1;
            let x = high;
            let y = partials[j];
            high = x + y;
            low = y - (high - x);
            if low != 0.0 {
                break;
            }
        }
        // `high + low` is exact and `high` is its rounding; if `low` sits exactly half an ulp away and the next
        // partial pushes the same way, the correctly rounded sum is the other neighbour.
        if j > 0 && ((low < 0.0 && partials[j - 1] < 0.0) || (low > 0.0 && partials[j - 1] > 0.0)) {
            let doubled = low * 2.0;
            let candidate = high + doubled;
            if doubled == candidate - high {
                high = candidate;
            }
        }
        high
    }
}

/// f64 values as their bit patterns, so that JSON keeps every bit (and NaN).
mod bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|v| v.to_bits()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<u64>::deserialize(deserializer)?.into_iter().map(f64::from_bits).collect())
    }
}

mod bits_one {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(f64::from_bits(u64::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Values m 2^(s - 40) with |m| < 2^53 (so each is an f64) whose exact sum an i128 holds; the i128 -> f64 cast
    /// rounds to nearest, ties to even, as the sum must.
    fn on_grid(terms: &[(i64, u32)]) -> (Vec<f64>, f64) {
        let scale = (-40f64).exp2();
        let integers: Vec<i128> = terms.iter().map(|&(m, s)| i128::from(m) << s).collect();
        let values = integers.iter().map(|&i| i as f64 * scale).collect();
        (values, integers.iter().sum::<i128>() as f64 * scale)
    }

    fn sum_of(values: &[f64]) -> ExactSum {
        let mut sum = ExactSum::new();
        values.iter().for_each(|&v| sum.add(v));
        sum
    }

    #[test]
    fn catastrophic_cancellation_is_exact() {
        let values = [1e100, 1.0, -1e100, 1e-100, 3.0];
        assert_eq!(sum_of(&values).value(), 4.0 + 1e-100);
        assert_ne!(values.iter().sum::<f64>(), 4.0 + 1e-100, "the naive sum loses the 1.0");
    }

    #[test]
    fn halfway_cases_round_to_even() {
        // 1 + 2^-53 is halfway between 1 and the next f64; a tiny positive remainder decides upward.
        let half_ulp = (-53f64).exp2();
        assert_eq!(sum_of(&[1.0, half_ulp]).value(), 1.0);
        assert_eq!(sum_of(&[1.0, half_ulp, 1e-300]).value(), 1.0 + 2.0 * half_ulp);
        assert_eq!(sum_of(&[1.0, half_ulp, -1e-300]).value(), 1.0);
    }

    #[test]
    fn non_finite_values_are_summed_apart() {
        assert!(sum_of(&[1.0, f64::NAN]).value().is_nan());
        assert_eq!(sum_of(&[1.0, f64::INFINITY]).value(), f64::INFINITY);
        assert_eq!(sum_of(&[f64::MAX, f64::MAX]).value(), f64::INFINITY);
        assert_eq!(ExactSum::new().value(), 0.0);
    }

    #[test]
    fn json_keeps_every_bit() {
        let sum = sum_of(&[0.1, 0.2, 1e-17, -3.5e300, 3.5e300]);
        let back: ExactSum = serde_json::from_str(&serde_json::to_string(&sum).unwrap()).unwrap();
        assert_eq!(back, sum);
        assert_eq!(back.value().to_bits(), sum.value().to_bits());
    }

    proptest! {
        #[test]
        fn equals_the_correctly_rounded_integer_sum(
            terms in prop::collection::vec((-(1i64 << 53) + 1..(1i64 << 53), 0u32..64), 0..60),
        ) {
            let (values, expected) = on_grid(&terms);
            prop_assert_eq!(sum_of(&values).value().to_bits(), expected.to_bits());
        }

        #[test]
        fn any_grouping_and_order_gives_the_same_bits(
            values in prop::collection::vec(-1e12f64..1e12, 1..80),
            cuts in prop::collection::vec(0usize..80, 0..6),
            rotate in 0usize..80,
        ) {
            let whole = sum_of(&values).value();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (values.len() + 1)).collect();
            cuts.sort_unstable();
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(values.len());
            let mut parts: Vec<ExactSum> = bounds.windows(2).map(|w| sum_of(&values[w[0]..w[1]])).collect();
            let shift = rotate % parts.len();
            parts.rotate_left(shift);
            let mut merged = ExactSum::new();
            parts.iter().for_each(|p| merged.merge(p));
            prop_assert_eq!(merged.value().to_bits(), whole.to_bits());
        }
    }
}
