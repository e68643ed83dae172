//! Mixtures of simulators: weights w on the simplex minimising JS(P, sum_s w_s Q_s). JS is convex in its second
//! argument, so this is a convex problem; it is solved by pairwise Frank-Wolfe with an exact line search (golden section),
//! stopping when the duality gap is below 1e-12 or after 5,000 steps.
//!
//! Consumes: the reference distribution and each simulator's distribution on one shared codebook. Produces:
//! [`Mixture`]s: the best single simulator, the best pair (every pair, each a one-dimensional convex search) and the
//! best mixture of all, with weights and JS. Cost: O(S K) per step for the full mixture, O(S^2 K) for the pairs.

use super::measures::js;

const MAX_STEPS: usize = 5000;
/// Stop when the duality gap (an upper bound on the distance to the optimum) is this small.
const GAP_TOLERANCE: f64 = 1e-12;

/// Weights over simulators (indexes into the list given) and the JS they reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    pub members: Vec<usize>,
    pub weights: Vec<f64>,
    pub js: f64,
    /// Frank-Wolfe duality gap at the end (0 for a single simulator): an upper bound on how far `js` is from the
    /// best possible.
    pub gap: f64,
}

fn mix(sources: &[&[f64]], weights: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for (q, &w) in sources.iter().zip(weights) {
        if w > 0.0 {
            for (o, &x) in out.iter_mut().zip(q.iter()) {
                *o += w * x;
            }
        }
    }
}

/// Minimises a convex function on [0, 1] by golden-section search.
fn golden_section(mut f: impl FnMut(f64) -> f64) -> (f64, f64) {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (0.0, 1.0);
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    // The end points too: the minimum of a convex function on [0, 1] may sit on one.
    let middle = (a + b) / 2.0;
    let candidates = [(0.0, f(0.0)), (1.0, f(1.0)), (middle, f(middle))];
    candidates.into_iter().min_by(|x, y| x.1.total_cmp(&y.1)).expect("three candidates")
}

/// The best single simulator.
pub fn best_single(reference: &[f64], sources: &[&[f64]]) -> Option<Mixture> {
    (0..sources.len())
        .map(|s| Mixture { members: vec![s], weights: vec![1.0], js: js(reference, sources[s]), gap: 0.0 })
        .min_by(|a, b| a.js.total_cmp(&b.js))
}

/// The best two-simulator mixture over every pair.
pub fn best_pair(reference: &[f64], sources: &[&[f64]]) -> Option<Mixture> {
    let k = reference.len();
    let mut best: Option<Mixture> = None;
    let mut mixed = vec![0.0; k];
    for a in 0..sources.len() {
        for b in a + 1..sources.len() {
            let (w, value) = golden_section(|w| {
                mix(&[sources[a], sources[b]], &[w, 1.0 - w], &mut mixed);
                js(reference, &mixed)
            });
            let candidate = Mixture { members: vec![a, b], weights: vec![w, 1.0 - w], js: value, gap: 0.0 };
            if best.as_ref().is_none_or(|m| candidate.js < m.js) {
                best = Some(candidate);
            }
        }
    }
    best
}

/// The best mixture of all simulators: pairwise Frank-Wolfe (each step moves weight from the active simulator with
/// the largest slope to the one with the smallest, with an exact line search), which converges linearly on the
/// simplex where plain Frank-Wolfe crawls; started from the best single simulator.
pub fn best_full(reference: &[f64], sources: &[&[f64]]) -> Option<Mixture> {
    let start = best_single(reference, sources)?;
    let (k, s) = (reference.len(), sources.len());
    let mut weights = vec![0.0; s];
    weights[start.members[0]] = 1.0;
    let mut mixed = vec![0.0; k];
    mix(sources, &weights, &mut mixed);
    let mut trial = vec![0.0; k];
    let mut gap = f64::INFINITY;
    for _ in 0..MAX_STEPS {
        // d JS / d q_i = 1/2 ln(q_i / m_i), m = (p + q) / 2; a cell the mixture lacks pulls with a large slope.
        let slope: Vec<f64> = reference
            .iter()
            .zip(&mixed)
            .map(|(&p, &q)| {
                let m = 0.5 * (p + q);
                if m == 0.0 { 0.0 } else { 0.5 * (q.max(1e-300) / m).ln() }
            })
            .collect();
        let gradient: Vec<f64> = sources.iter().map(|q| q.iter().zip(&slope).map(|(a, b)| a * b).sum()).collect();
        let toward = (0..s).min_by(|&a, &b| gradient[a].total_cmp(&gradient[b])).expect("at least one source");
        let away = (0..s)
            .filter(|&i| weights[i] > 0.0)
            .max_by(|&a, &b| gradient[a].total_cmp(&gradient[b]))
            .expect("weights sum to 1");
        gap = weights.iter().zip(&gradient).map(|(w, g)| w * g).sum::<f64>() - gradient[toward];
        if gap <= GAP_TOLERANCE || toward == away {
            break;
        }
        let most = weights[away];
        let (fraction, _) = golden_section(|t| {
            let gamma = t * most;
            for i in 0..k {
                trial[i] = mixed[i] + gamma * (sources[toward][i] - sources[away][i]);
            }
            js(reference, &trial)
        });
        let gamma = fraction * most;
        if gamma == 0.0 {
            break;
        }
        weights[toward] += gamma;
        weights[away] = if fraction == 1.0 { 0.0 } else { weights[away] - gamma };
        mix(sources, &weights, &mut mixed);
    }
    let value = js(reference, &mixed);
    let members: Vec<usize> = (0..s).filter(|&i| weights[i] > 1e-9).collect();
    let kept: Vec<f64> = members.iter().map(|&i| weights[i]).collect();
    let total: f64 = kept.iter().sum();
    Some(Mixture { weights: kept.iter().map(|w| w / total).collect(), members, js: value, gap: gap.max(0.0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_that_is_a_mixture_is_recovered() {
        let a = [0.7, 0.3, 0.0, 0.0];
        let b = [0.0, 0.0, 0.5, 0.5];
        let c = [0.25, 0.25, 0.25, 0.25];
        // P = 0.4 a + 0.6 b.
        let p: Vec<f64> = a.iter().zip(&b).map(|(x, y)| 0.4 * x + 0.6 * y).collect();
        let sources: Vec<&[f64]> = vec![&a, &b, &c];
        let full = best_full(&p, &sources).unwrap();
        assert!(full.js < 1e-8, "{full:?}");
        let weight_of = |s: usize| full.members.iter().position(|&m| m == s).map_or(0.0, |i| full.weights[i]);
        assert!((weight_of(0) - 0.4).abs() < 1e-3 && (weight_of(1) - 0.6).abs() < 1e-3, "{full:?}");
        let pair = best_pair(&p, &sources).unwrap();
        assert_eq!(pair.members, vec![0, 1]);
        assert!((pair.weights[0] - 0.4).abs() < 1e-6);
        let single = best_single(&p, &sources).unwrap();
        assert!(single.js > pair.js && pair.js >= full.js - 1e-12);
    }

    #[test]
    fn mixing_never_does_worse_than_the_best_single() {
        let p = [0.1, 0.2, 0.3, 0.4];
        let sources: Vec<&[f64]> = vec![&[0.4, 0.3, 0.2, 0.1], &[0.1, 0.1, 0.1, 0.7], &[0.0, 0.5, 0.5, 0.0]];
        let single = best_single(&p, &sources).unwrap();
        let pair = best_pair(&p, &sources).unwrap();
        let full = best_full(&p, &sources).unwrap();
        assert!(pair.js <= single.js + 1e-12 && full.js <= pair.js + 1e-9, "{single:?} {pair:?} {full:?}");
        assert!((full.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
