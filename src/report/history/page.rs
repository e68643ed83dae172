//! The history on the report page: a table of the last nights recorded, and what to say when there is none.
//!
//! Consumes: [`ReportData`] (its `history`, the headline facet and the simulators shown). Produces: a [`Table`] of
//! the last [`NIGHTS_SHOWN`] nights (night, date, conversations, input files, how the inputs and the settings
//! changed, and each simulator's corrected JS on the headline facet with its 95% interval), which the page renders
//! as it renders the paper tables; and the sentence for a folder without a history.

use std::collections::BTreeMap;

use super::record::{Estimate, HistoryRow};
use crate::report::data::{Bounded, ReportData};
use crate::report::tables::{Better, Cell, Table};

/// The most nights the page's table lists (the figure and `history.csv` hold them all).
pub const NIGHTS_SHOWN: usize = 10;

/// What the page says where there is no history to draw.
pub fn missing(data: &ReportData) -> String {
    if data.history.is_empty() {
        "No history yet: each `simgap run` whose inputs or settings differ from the last night recorded adds its \
         headline numbers to history.parquet, and the trend appears here."
            .to_owned()
    } else {
        format!(
            "history.parquet records no corrected JS on facet {} for the simulators of this run.",
            data.headline_facet().unwrap_or_default()
        )
    }
}

/// The table of the last nights, None without a history.
pub fn nights_table(data: &ReportData) -> Option<Table> {
    let mut numbers: Vec<u64> = data.history.iter().map(|r| r.night.night).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let total = numbers.len();
    let shown = &numbers[total.saturating_sub(NIGHTS_SHOWN)..];
    let facet = data.headline_facet();
    let reference = data.reference().unwrap_or_default();
    let (sources, _) = data.shown_sources();
    let simulators: Vec<String> = sources.into_iter().filter(|s| s != reference).collect();
    let mut columns: Vec<(String, Better)> = ["night", "date", "conversations", "input files", "inputs", "settings"]
        .iter()
        .map(|c| ((*c).to_owned(), Better::Neither))
        .collect();
    columns.extend(simulators.iter().map(|s| (s.clone(), Better::Neither)));
    let mut rows = Vec::new();
    for &number in shown {
        let of_night: Vec<&HistoryRow> = data.history.iter().filter(|r| r.night.night == number).collect();
        let night = &of_night.first()?.night;
        let conversations: f64 =
            of_night.iter().filter(|r| r.estimate == Estimate::Conversations).map(|r| r.value).sum();
        let js: BTreeMap<&str, &HistoryRow> = of_night
            .iter()
            .filter(|r| r.estimate == Estimate::JsCorrected && r.facet == facet)
            .map(|r| (r.source.as_str(), *r))
            .collect();
        let mut row = vec![
            Cell::Text(night.night.to_string()),
            Cell::Text(night.date.clone()),
            Cell::Text(format!("{conversations}")),
            Cell::Text(night.input_files.to_string()),
            Cell::Text(night.inputs_change.name().to_owned()),
            Cell::Text(night.settings_change.name().to_owned()),
        ];
        row.extend(simulators.iter().map(|s| match js.get(s.as_str()) {
            Some(r) => Cell::Interval(Bounded { value: r.value, lo: r.lo, hi: r.hi }),
            None => Cell::Number(f64::NAN),
        }));
        rows.push(row);
    }
    let listed = if total > shown.len() {
        format!("the last {} of {total} nights", shown.len())
    } else {
        format!("{total} night{}", if total == 1 { "" } else { "s" })
    };
    Some(Table {
        name: "history".into(),
        title: "The nights recorded".into(),
        caption: format!(
            "From history.parquet ({listed}; every night, facet and the USI are in history.csv): conversations \
             accepted over all sources; inputs: first, unchanged, grew (every file of the night before unchanged, \
             new ones added) or changed; settings: first, unchanged or changed (the pipeline's tables but [output] \
             and [report], the files they name, the simgap version); then each simulator's bias-corrected JS from \
             {reference} on facet {} with its 95% interval.",
            facet.unwrap_or_default()
        ),
        columns,
        rows,
        transpose_when_wide: false,
    })
}
