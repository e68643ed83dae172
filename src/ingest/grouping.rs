//! How the rows of one conversation are grouped, for the formats with one row per message (CSV, message-per-row
//! tables).
//!
//! Consumes: TOML (`grouping = "contiguous"` or `"any"`). Produces: [`RowGrouping`].

use serde::{Deserialize, Serialize};

/// `contiguous` (the default): a conversation's rows are consecutive, memory holds one conversation at a time, and
/// an id that comes back after another id is a second conversation (a duplicate). `any`: rows may interleave; the
/// whole file is grouped in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowGrouping {
    #[default]
    Contiguous,
    Any,
}
