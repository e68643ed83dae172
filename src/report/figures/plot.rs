//! A figure before it is written: its file name, title, caption and laid-out scene.
//!
//! Consumes: nothing of the report. Produces: [`Plot`], which each figure module returns.

use crate::report::scene::Scene;

/// A figure before it is written.
pub(super) struct Plot {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) caption: String,
    pub(super) scene: Scene,
}
