//! What a rule-based facet module (`usi`, `style`, `information`, ...) provides: the definitions of its features
//! and one function computing them all for a conversation.
//!
//! Consumes: nothing of the stage. Produces: [`FeatureDef`] and the [`Compute`] signature.

use serde::Serialize;

use super::cues::Cues;
use super::text::Prepared;

/// A feature: its column name and a one-line definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureDef {
    pub name: &'static str,
    pub definition: &'static str,
}

/// Computes a facet's features of one prepared conversation, appending them to the row in definition order.
pub type Compute = fn(&Prepared<'_>, &Cues, &mut Vec<f64>);
