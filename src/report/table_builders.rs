//! The builders of the paper tables: which rows and columns each table holds, and its title and caption.
//!
//! Consumes: [`ReportData`] and the divergence stage's seed. Produces: the [`Table`]s `main` (the headline facet:
//! every divergence with its 95% interval, the human ceiling and the p-value), `facets` (JS per facet and source),
//! `pairwise` (the JS matrix on the headline facet), `mixtures` (when the facet has any) and `usi` (D1-D4, Eval,
//! ECE, USI; when USI was computed), in that order, as cells that [`super::tables`] renders.

use std::collections::HashMap;

use super::data::{DivergenceRow, MixtureRow, ReportData, UsiRow, left_out_note};
use super::tables::{Better, Cell, Table, number_text};

/// "n = 560 (human), 280 (sim-a), ..." for captions.
fn sizes(data: &ReportData, facet: &str) -> String {
    let mut parts = Vec::new();
    if let Some(first) = data.divergence.iter().find(|r| r.facet == facet) {
        parts.push(format!("{} ({})", first.n_reference, first.reference));
    }
    for row in data.divergence.iter().filter(|r| r.facet == facet) {
        parts.push(format!("{} ({})", row.n_source, row.source));
    }
    format!("n = {}", parts.join(", "))
}

/// Every table of the report.
pub fn build(data: &ReportData, seed: u64) -> Vec<Table> {
    let mut tables = Vec::new();
    let reference = data.reference().unwrap_or("the reference").to_owned();
    if let Some(facet) = data.headline_facet() {
        let rows: Vec<&DivergenceRow> = data.divergence.iter().filter(|r| r.facet == facet).collect();
        let first = rows[0];
        tables.push(main_table(data, &facet, &rows, &reference, seed));
        tables.push(facets_table(data, first, &reference, seed));
        tables.push(pairwise_table(data, &facet, first));
        tables.extend(mixtures_table(data, &facet, &reference, &first.unit));
    }
    if !data.usi.is_empty() {
        tables.push(usi_table(data, &reference, seed));
    }
    tables
}

/// The `main` table: every divergence of each simulator on the headline facet, with the human ceiling and p.
fn main_table(data: &ReportData, facet: &str, rows: &[&DivergenceRow], reference: &str, seed: u64) -> Table {
    let first = rows[0];
    let unit = &first.unit;
    Table {
        name: "main".into(),
        title: format!("Distance of each simulator from {reference}, facet {facet}"),
        caption: format!(
            "Facet {facet}, K = {}, KL smoothing {}, KL and JS in {unit}, seed {seed}; {}. Bias-corrected \
             estimates (two-sample delete-one jackknife) with bias-aware 95% intervals (calibrated on simulated \
             samples; coverage measured by simulation where each side has at least {} conversations per cluster: \
             docs/method.md). JS plug-in: the uncorrected value, as the published protocol reports it. \
             Human ceiling: the plug-in JS between two random parts of {reference} of the simulator's size, \
             what sampling noise alone gives; above ceiling: the corrected JS minus the corrected ceiling. p from \
             a permutation test. Best per column in bold (with two or more simulators).",
            first.k,
            first.smoothing,
            sizes(data, facet),
            crate::divergence::VALIDATED_PER_CLUSTER
        ),
        columns: main_columns(),
        rows: rows.iter().map(|r| main_row(r)).collect(),
        transpose_when_wide: true,
    }
}

/// The columns of the `main` table and which end of each is best.
fn main_columns() -> Vec<(String, Better)> {
    vec![
        ("source".into(), Better::Neither),
        ("JS".into(), Better::Lower),
        ("JS plug-in".into(), Better::Neither),
        ("KL(P‖Q)".into(), Better::Lower),
        ("KL(Q‖P)".into(), Better::Lower),
        ("TV".into(), Better::Lower),
        ("MAUVE".into(), Better::Higher),
        ("MAUVE*".into(), Better::Higher),
        ("human ceiling JS".into(), Better::Neither),
        ("JS above ceiling".into(), Better::Lower),
        ("p".into(), Better::Neither),
    ]
}

/// One simulator's row of the `main` table.
fn main_row(r: &DivergenceRow) -> Vec<Cell> {
    let c = &r.corrected;
    vec![
        Cell::Text(r.source.clone()),
        Cell::Interval(c.js),
        Cell::Number(r.js.value),
        Cell::Interval(c.kl_forward),
        Cell::Interval(c.kl_backward),
        Cell::Interval(c.tv),
        Cell::Interval(c.mauve),
        Cell::Interval(c.mauve_star),
        Cell::Number(r.human_ceiling_js.value),
        Cell::Interval(r.js_above_ceiling),
        Cell::Number(r.p_value),
    ]
}

/// The `facets` table: corrected JS per facet (columns) and simulator (rows), then the human split-half ceiling.
fn facets_table(data: &ReportData, first: &DivergenceRow, reference: &str, seed: u64) -> Table {
    let unit = &first.unit;
    let facets = data.facets();
    let sources: Vec<String> = data.sources().into_iter().filter(|s| *s != reference).collect();
    let by_facet_and_source: HashMap<(&str, &str), &DivergenceRow> =
        data.divergence.iter().map(|r| ((r.facet.as_str(), r.source.as_str()), r)).collect();
    let mut columns = vec![("source".to_owned(), Better::Neither)];
    columns.extend(facets.iter().map(|f| (f.clone(), Better::Lower)));
    let mut rows: Vec<Vec<Cell>> =
        sources.iter().map(|source| facets_source_row(source, &facets, &by_facet_and_source)).collect();
    rows.push(split_half_ceiling_row(data, &facets, reference));
    Table {
        name: "facets".into(),
        title: format!("Jensen-Shannon divergence from {reference} per facet"),
        caption: format!(
            "Bias-corrected JS (jackknife) in {unit} with 95% intervals, one codebook per facet (K = {}), seed \
             {seed}. The last row is the human split-half ceiling, corrected the same way (mean over the \
             simulators' sizes): about 0 where the correction removes the sampling noise. Lowest per facet in \
             bold (with two or more simulators).",
            first.k
        ),
        columns,
        rows,
        transpose_when_wide: true,
    }
}

/// One simulator's row of the `facets` table: its corrected JS on each facet, NaN where it has none.
fn facets_source_row(
    source: &str,
    facets: &[String],
    by_facet_and_source: &HashMap<(&str, &str), &DivergenceRow>,
) -> Vec<Cell> {
    let mut row = vec![Cell::Text(source.to_owned())];
    for facet in facets {
        let found = by_facet_and_source.get(&(facet.as_str(), source));
        row.push(found.map_or(Cell::Number(f64::NAN), |r| Cell::Interval(r.corrected.js)));
    }
    row
}

/// The last row of the `facets` table: the corrected human split-half ceiling per facet, averaged over simulators.
fn split_half_ceiling_row(data: &ReportData, facets: &[String], reference: &str) -> Vec<Cell> {
    let mut row = vec![Cell::Text(format!("{reference} (split-half ceiling)"))];
    for facet in facets {
        let values: Vec<f64> = data
            .divergence
            .iter()
            .filter(|r| &r.facet == facet && !r.human_ceiling_js_corrected.value.is_nan())
            .map(|r| r.human_ceiling_js_corrected.value)
            .collect();
        let mean = if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 };
        row.push(Cell::Text(number_text(mean, 3)));
    }
    row
}

/// The `pairwise` table: JS between every pair of the shown sources on the headline facet.
fn pairwise_table(data: &ReportData, facet: &str, first: &DivergenceRow) -> Table {
    let unit = &first.unit;
    let (shown, left_out) = data.shown_sources();
    let mut columns = vec![("".to_owned(), Better::Neither)];
    columns.extend(shown.iter().map(|s| (s.clone(), Better::Neither)));
    let pair_js: HashMap<(&str, &str), f64> = data
        .pairwise
        .iter()
        .filter(|r| r.facet == facet)
        .map(|r| ((r.source_a.as_str(), r.source_b.as_str()), r.js))
        .collect();
    Table {
        name: "pairwise".into(),
        title: format!("Pairwise Jensen-Shannon divergence, facet {facet}"),
        caption: format!(
            "JS in {unit} between every pair of sources on the shared codebook (K = {}).{}",
            first.k,
            left_out_note(left_out, "pairwise.parquet")
        ),
        columns,
        rows: shown
            .iter()
            .map(|a| {
                let mut row = vec![Cell::Text(a.clone())];
                for b in &shown {
                    row.push(Cell::Number(pair_js.get(&(a.as_str(), b.as_str())).copied().unwrap_or(f64::NAN)));
                }
                row
            })
            .collect(),
        transpose_when_wide: false,
    }
}

/// The `mixtures` table: the best mixtures of simulators on the headline facet; none when there are none.
fn mixtures_table(data: &ReportData, facet: &str, reference: &str, unit: &str) -> Option<Table> {
    let mixtures: Vec<&MixtureRow> = data.mixtures.iter().filter(|m| m.facet == facet).collect();
    if mixtures.is_empty() {
        return None;
    }
    Some(Table {
        name: "mixtures".into(),
        title: format!("Best mixtures of simulators, facet {facet}"),
        caption: format!(
            "Weights on the simplex minimising JS({reference}, sum w Q); JS in {unit}. A mixture that gets \
             much closer than the best single simulator means the simulators miss different behaviours."
        ),
        columns: vec![
            ("mixture".into(), Better::Neither),
            ("simulators (weight)".into(), Better::Neither),
            ("JS".into(), Better::Lower),
        ],
        rows: mixtures
            .iter()
            .map(|m| {
                let members: Vec<String> =
                    m.sources.iter().zip(&m.weights).map(|(s, w)| format!("{s} ({w:.2})")).collect();
                vec![Cell::Text(m.mixture.clone()), Cell::Lines(members), Cell::Number(m.js)]
            })
            .collect(),
        transpose_when_wide: false,
    })
}

/// The `usi` table: D1-D4, Eval, ECE and USI with its interval per simulator.
fn usi_table(data: &ReportData, reference: &str, seed: u64) -> Table {
    Table {
        name: "usi".into(),
        title: format!("User-Sim Index against {reference}"),
        caption: format!(
            "D1-D4: Sorensen-Dice of feature means (style, information, clarification, error reaction); Eval: \
             survey agreement; ECE: outcome calibration (lower is better); USI: mean of the available terms \
             (the published scorer's estimate), with a 95% interval for the true USI (bootstrap spread widened \
             upward by the bias bound of Dice's kink; coverage measured by simulation: docs/method.md); seed \
             {seed}. {}",
            usi_scorer_note(data)
        ),
        columns: vec![
            ("source".into(), Better::Neither),
            ("n".into(), Better::Neither),
            ("D1".into(), Better::Higher),
            ("D2".into(), Better::Higher),
            ("D3".into(), Better::Higher),
            ("D4".into(), Better::Higher),
            ("Eval".into(), Better::Higher),
            ("ECE".into(), Better::Lower),
            ("USI".into(), Better::Higher),
        ],
        rows: data.usi.iter().map(usi_row).collect(),
        transpose_when_wide: true,
    }
}

/// The end of the `usi` caption: the scorer's note and the human ceiling (or why there is none); empty without USI.
fn usi_scorer_note(data: &ReportData) -> String {
    data.usi
        .first()
        .map(|u| {
            format!(
                "{} ({})",
                u.note,
                if u.human_ceiling_usi.is_nan() {
                    "no batches for a human ceiling".to_owned()
                } else {
                    format!("human ceiling {:.1}", u.human_ceiling_usi)
                }
            )
        })
        .unwrap_or_default()
}

/// One simulator's row of the `usi` table.
fn usi_row(u: &UsiRow) -> Vec<Cell> {
    vec![
        Cell::Text(u.source.clone()),
        Cell::Text(u.n_source.to_string()),
        Cell::Number(u.d[0]),
        Cell::Number(u.d[1]),
        Cell::Number(u.d[2]),
        Cell::Number(u.d[3]),
        Cell::Number(u.eval),
        Cell::Number(u.ece),
        Cell::Interval(u.usi),
    ]
}
