//! The pipeline: a TOML file naming inputs, settings and an output folder, turned into stage parameters, plus the
//! manifest every stage records itself in, and what lets `simgap run` skip unchanged stages.
//!
//! Consumes: a pipeline file (see [`config`]). Produces: stage params (`ingest_params`), `OUT/manifest.json`
//! (see [`manifest`]), per-stage fingerprints and skip decisions (see [`incremental`]), and the night each run adds
//! to the history (see [`history`]).

pub mod config;
pub mod generation;
pub mod history;
pub mod incremental;
pub mod shards;

use std::path::PathBuf;

use crate::features::{Facet, FeaturesParams};
use crate::ingest::IngestParams;
use config::{ConfigError, PipelineConfig};

impl PipelineConfig {
    /// The output folder: `--out` if given, else `[output] dir`; an error naming both when neither is.
    pub fn out_dir(&self, override_dir: Option<&PathBuf>) -> Result<PathBuf, ConfigError> {
        match (override_dir, &self.output) {
            (Some(dir), _) => Ok(dir.clone()),
            (None, Some(output)) => Ok(output.dir.clone()),
            (None, None) => Err(ConfigError::Invalid {
                path: self.file.clone(),
                message: "no output folder: give `[output] dir = \"...\"` in the file or `--out DIR`".into(),
            }),
        }
    }

    /// Parameters of the ingest stage.
    pub fn ingest_params(&self, out_dir: PathBuf, strict: bool, progress: bool) -> IngestParams {
        IngestParams {
            inputs: self.inputs.clone(),
            options: self.ingest.clone(),
            base_dir: self.base_dir.clone(),
            output_root: out_dir.clone(),
            out_dir,
            strict,
            progress,
        }
    }

    /// Parameters of the features stage.
    pub fn features_params(&self, out_dir: PathBuf, progress: bool) -> FeaturesParams {
        let features = &self.features;
        let facets = features.facets.clone().unwrap_or_else(|| {
            let mut facets = Facet::BUILT_IN.to_vec();
            if features.embeddings.is_some() {
                facets.push(Facet::Embedding);
            }
            facets
        });
        FeaturesParams {
            out_dir,
            facets,
            lexicons: features.lexicons.clone(),
            lexical_dimensions: features.lexical_dimensions,
            seed: features.seed,
            embeddings: features.embeddings.clone(),
            progress,
        }
    }

    /// Parameters of the cluster stage.
    pub fn cluster_params(&self, out_dir: PathBuf, progress: bool) -> crate::cluster::ClusterParams {
        crate::cluster::ClusterParams { out_dir, config: self.cluster.clone(), progress }
    }

    /// The rules that tie one stage's settings to another's, checked before any data is read (so `simgap run`
    /// fails in a second, not after ingest and features): the facets `[cluster]` and `[divergence]` name must be
    /// ones the features stage computes, or `all`; a `[divergence] reference` must be one of the source labels the
    /// inputs declare, where every input declares its label (records and tau2 files may name theirs, and are
    /// checked when read).
    pub fn check_across_stages(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: self.file.clone(), message };
        let computed = self.features_params(PathBuf::new(), false).facets;
        let mut known: Vec<&str> = computed.iter().map(|f| f.name()).collect();
        known.push(crate::cluster::ALL_FACET);
        for (table, facets) in [("cluster", &self.cluster.facets), ("divergence", &self.divergence.facets)] {
            for facet in facets.iter().flatten() {
                if !known.contains(&facet.as_str()) {
                    return Err(invalid(format!(
                        "[{table}] facets names {facet:?}, which the features stage does not compute (it computes: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        let declared: Option<Vec<&str>> = self.inputs.iter().map(|input| input.source.as_deref()).collect();
        if let (Some(reference), Some(declared)) = (&self.divergence.reference, declared) {
            if !declared.contains(&reference.as_str()) {
                let mut labels = declared.clone();
                labels.sort_unstable();
                labels.dedup();
                return Err(invalid(format!(
                    "[divergence] reference {reference:?} is none of the sources the inputs declare ({})",
                    labels.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Parameters of the report stage.
    pub fn report_params(&self, out_dir: PathBuf) -> crate::report::ReportParams {
        crate::report::ReportParams { out_dir, seed: self.divergence.seed, paper: self.report.paper }
    }

    /// Parameters of the divergence stage.
    pub fn divergence_params(&self, out_dir: PathBuf, progress: bool) -> crate::divergence::DivergenceParams {
        crate::divergence::DivergenceParams {
            out_dir,
            config: self.divergence.clone(),
            lexicons: self.features.lexicons.clone(),
            progress,
        }
    }
}
