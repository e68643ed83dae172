//! `simgap run PIPELINE.toml`: every stage that exists, in order, skipping those whose inputs and settings are
//! unchanged since the run that wrote OUT.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::global::GlobalArgs;
use super::outcome::Outcome;
use crate::ingest::{self, CONVERSATIONS_FILE, SourceKind};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::incremental::{Session, Stage, external_read};

/// Run every stage of the pipeline, in order, into one output folder; on a rerun, only what changed.
///
/// Reads: the pipeline file and everything its [[input]] tables name; from the previous run, OUT/manifest.json and
/// OUT/.cache/ingest/.
///
/// Writes: a new generation of the outputs, OUT/.generations/<n>/ (ingest -> conversations.parquet, rejects.jsonl;
/// features -> features.parquet, features_rejects.jsonl; cluster -> codebooks/<facet>.json, assignments.parquet;
/// divergence -> divergence, pairwise, mixtures, clusters, usi and usi_features .parquet; history.parquet and
/// history.csv, a night's headline numbers added when the inputs or settings changed; report -> tables/, figures/,
/// report.html; manifest.json, each stage's section after its files), which starts as hard links to the
/// current generation's files; when every stage is done, one atomic rename of the symlink OUT/current makes the
/// whole set current. OUT/<output> are symlinks through OUT/current, so readers see the previous run's complete set
/// or this run's, never a mix; a failed or killed run changes nothing they see (the generation before the current
/// one is kept, for readers that resolved OUT/current before the switch). OUT/.cache/ingest/ (one part per input
/// file: its rows, rejects and counts); OUT/.lock (held while running: a second run on the same OUT fails at once).
/// Standard output: one line naming OUT/report.html and OUT/tables/ when the run ends (also under -q, also when
/// every stage was skipped).
///
/// Reruns: a stage whose fingerprint (SHA-256 of its settings, the simgap version and the hashes of the files it
/// reads) equals the recorded one, and whose recorded outputs are intact, is skipped ("skipped (unchanged)" in the
/// log, `last_run` in manifest.json). Ingest reads again only new or changed files and rebuilds the table from the
/// cached parts, byte for byte as a full run would. A killed run leaves the current set as it was; the next run
/// removes the generation it left and does what is needed again. --force recomputes everything. Every stage's
/// settings, and the facets and reference the stages share, are checked before any data is read; k against the
/// data right after ingest. A read-only OUT passes a run with nothing to do and fails one with work to do.
///
/// History: a run whose input set (file contents) or settings (every table but [output] and [report], the files
/// they name, the simgap version) differ from the last night recorded adds its night to OUT/history.parquet and
/// history.csv (conversations per source; per simulator and facet the corrected JS with its interval and the human
/// ceiling; the USI), dated in UTC, or by SOURCE_DATE_EPOCH (seconds since 1970) when set; earlier rows never
/// change, and the report draws the trend (figures/history_js). A failed or killed run adds nothing.
///
/// Cost: a SHA-256 pass over the inputs and over the outputs of the stages it may skip (about 1 GB/s), plus the
/// stages that run (see each stage's --help). The cache takes about a fifth of the input files' size (Arrow IPC
/// with LZ4 frames).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pub pipeline: PathBuf,
    /// Output folder; overrides [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fail on the first rejected record (exit 1), writing nothing. Reads every input (the ingest cache serves the
    /// runs without --strict).
    #[arg(long)]
    pub strict: bool,
    /// Recompute every stage and read every input again, ignoring the recorded fingerprints and the ingest cache
    /// (which is rebuilt).
    #[arg(long)]
    pub force: bool,
    /// Run one shard of N instead of the whole pipeline: I/N, 0 <= I < N (a Slurm array index, a task of a
    /// scheduler). Each call does the shard's next round (ingest, frequencies, features, sample, assign: five in all)
    /// into the parts folder and exits; `simgap merge` joins a round once every shard has done it, and the fifth
    /// merge writes OUT, equal to a `simgap run` of the same pipeline, table for table. docs/scale.md shows the
    /// loop. Cost: the round's share of the stage's work, on this machine's cores.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::pipeline::shards::Shard>,
    /// The parts folder of a sharded run (with --shard): where the shards write and the merges read; a folder
    /// every shard and the merge can see. Default OUT/.shards.
    #[arg(long, value_name = "DIR", requires = "shard")]
    pub parts: Option<PathBuf>,
}

/// Where the stages' outputs come from: computed here, or taken from the last merge of a sharded run.
#[derive(Debug, Clone, Copy)]
pub enum Stages<'a> {
    Compute,
    Merged(&'a std::path::Path),
}

pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    if let Some(shard) = args.shard {
        let shard_args = super::shard::ShardArgs {
            pipeline: args.pipeline,
            out: args.out,
            parts: args.parts,
            strict: args.strict,
            force: args.force,
        };
        return super::shard::run(&shard_args, shard, global);
    }
    let (outcome, out_dir) = run_without_summary(args, global)?;
    // One line on stdout, even with -q and when every stage was skipped: where the results are.
    super::outcome::print_to_stdout(&where_the_results_are(&out_dir, outcome))?;
    Ok(outcome)
}

/// Everything `simgap run` does but the line on stdout (a library caller, the Python package, reports the output
/// folder its own way). Returns the outcome and the output folder.
pub fn run_without_summary(args: Args, global: &GlobalArgs) -> anyhow::Result<(Outcome, PathBuf)> {
    run_stages(args, global, Stages::Compute)
}

/// [`run_without_summary`], each stage's outputs computed or taken from a sharded run's last merge.
pub fn run_stages(args: Args, global: &GlobalArgs, stages: Stages<'_>) -> anyhow::Result<(Outcome, PathBuf)> {
    let config = PipelineConfig::load(&args.pipeline)?;
    // Settings of the later stages are checked before the first one runs: a typo fails in a second, not an hour in.
    config.features_params(config.out_dir(args.out.as_ref())?, false).check_settings()?;
    config.cluster.check()?;
    config.divergence.check()?;
    config.check_across_stages()?;
    // The night's date for the history, from SOURCE_DATE_EPOCH when set: a bad value fails before any stage.
    let night = crate::pipeline::history::night_date()?;
    if let Some(sources) = declared_sources(&config).filter(|s| !s.is_empty()) {
        check_sources(&config, &sources)?;
    }
    let out_dir = config.out_dir(args.out.as_ref())?;
    let mut session = Session::open(&out_dir, &config, args.force)?;
    // Every stage writes into the run's generation; `session.finish` makes the whole set current at once.
    let generation = session.work_dir().to_path_buf();
    let out = Some(&generation);

    let (outcome, accepted, sources) = ingest_stage(&config, &args, global, &mut session, stages)?;
    check_against_ingested(&config, accepted, sources.as_deref())?;

    later_stages(&config, out, global, &mut session, &night, stages)?;
    session.finish(&config)?;
    Ok((outcome, out_dir))
}

/// The line a finished run ends with: the report, the tables and (when records were rejected) the rejects.
pub(super) fn where_the_results_are(out_dir: &std::path::Path, outcome: Outcome) -> String {
    let mut line = format!(
        "results: {} (tables in {}, every output in {})",
        out_dir.join(crate::report::REPORT_FILE).display(),
        out_dir.join(crate::report::TABLES_DIR).display(),
        out_dir.display()
    );
    if outcome == Outcome::WithRejects {
        line.push_str(&format!("; rejected records in {}", out_dir.join(ingest::REJECTS_FILE).display()));
    }
    line + "\n"
}

/// The settings that need the ingested data: the sources (at least two, and a reference among them) and k against
/// the conversations accepted; checked before the features stage (which can take long). A corpus with no accepted
/// conversation fails later, as bad data.
fn check_against_ingested(
    config: &PipelineConfig,
    accepted: Option<u64>,
    sources: Option<&[(String, SourceKind)]>,
) -> anyhow::Result<()> {
    if let Some(sources) = sources.filter(|s| !s.is_empty()) {
        check_sources(config, sources)?;
    }
    let fixed_k = config.cluster.k.fixed();
    if let Some((accepted, k)) = accepted.zip(fixed_k).filter(|&(n, k)| n > 0 && n < k as u64) {
        return Err(crate::cluster::ClusterError::Config(format!(
            "[cluster] k = {k} is more than the {accepted} conversations accepted: lower k, or leave it out (\"auto\" \
             takes a tenth of the smallest source; at most a quarter keeps the corrected divergences' intervals \
             validated, docs/method.md)"
        ))
        .into());
    }
    Ok(())
}

/// The sources must give a comparison: two at least, and a reference (the one named, else the only human source).
/// Checked before any stage when every input names its source and kind, else right after ingest.
fn check_sources(config: &PipelineConfig, sources: &[(String, SourceKind)]) -> anyhow::Result<()> {
    let names = || sources.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
    let fail = |message: String| Err(crate::divergence::DivergenceError::Config(message).into());
    // A reference the pipeline file declares is checked with the file (`check_across_stages`); one the records name
    // can only be checked here, after ingest.
    if let Some(reference) = &config.divergence.reference
        && !sources.iter().any(|(name, _)| name == reference)
    {
        return fail(format!("[divergence] reference {reference:?} is none of the sources ingested ({})", names()));
    }
    if sources.len() < 2 {
        return fail(format!(
            "one source only ({}): simgap compares sources with a reference; add the other side's transcripts as \
             another [[input]] (`simgap ingest` and `simgap features` run on one source alone)",
            names()
        ));
    }
    if config.divergence.reference.is_none() {
        let (names, kinds): (Vec<String>, Vec<SourceKind>) = sources.iter().cloned().unzip();
        crate::divergence::only_human(&names, &kinds)?;
    }
    Ok(())
}

/// Every input's source and kind when the pipeline file declares them all (else the records name them).
fn declared_sources(config: &PipelineConfig) -> Option<Vec<(String, SourceKind)>> {
    let mut sources: Vec<(String, SourceKind)> = Vec::new();
    for input in &config.inputs {
        let (Some(source), Some(kind)) = (&input.source, input.kind) else { return None };
        if !sources.iter().any(|(name, _)| name == source) {
            sources.push((source.clone(), kind));
        }
    }
    Some(sources)
}

/// Features, cluster, divergence and report, each run or skipped as the session's plan says; between the last two,
/// the night `night` (its date) recorded in the history, which the report reads.
fn later_stages(
    config: &PipelineConfig,
    out: Option<&PathBuf>,
    global: &GlobalArgs,
    session: &mut Session,
    night: &str,
    stages: Stages<'_>,
) -> anyhow::Result<()> {
    let mut reads = BTreeMap::from([(CONVERSATIONS_FILE.to_owned(), session.output_hash(CONVERSATIONS_FILE)?)]);
    external_read(&mut reads, "[features] lexicons", config.features.lexicons.as_deref());
    let embeddings = config.features.embeddings.as_ref().map(|e| e.path.as_path());
    external_read(&mut reads, "[features.embeddings] path", embeddings);
    let plan = session.plan(Stage::Features, config, reads)?;
    if plan.skip {
        session.skipped(&plan, config)?;
    } else if let Stages::Merged(merged) = stages {
        let files = [crate::features::FEATURES_FILE, crate::features::FEATURES_REJECTS_FILE];
        let (outputs, section) = super::assembled::take_merged(merged, session.work_dir(), &files, "features")?;
        session.ran(&plan, config, &outputs, Some(section))?;
    } else {
        let report = super::features::features_stage(config, out, global)?;
        session.ran(&plan, config, &[report.features_file, report.rejects_file], None)?;
    }

    let features_file = crate::features::FEATURES_FILE;
    let reads = BTreeMap::from([(features_file.to_owned(), session.output_hash(features_file)?)]);
    let plan = session.plan(Stage::Cluster, config, reads)?;
    if plan.skip {
        session.skipped(&plan, config)?;
    } else if let Stages::Merged(merged) = stages {
        let (outputs, section) = super::assembled::take_merged_cluster(merged, session.work_dir())?;
        session.ran(&plan, config, &outputs, Some(section))?;
    } else {
        let report = super::cluster::cluster_stage(config, out, global)?;
        let mut outputs = vec![report.assignments_file];
        outputs.extend(report.facets.into_iter().map(|f| f.codebook));
        session.ran(&plan, config, &outputs, None)?;
    }

    let mut reads = session.outputs_of(Stage::Cluster);
    for file in [features_file, CONVERSATIONS_FILE] {
        reads.insert(file.to_owned(), session.output_hash(file)?);
    }
    external_read(&mut reads, "[features] lexicons", config.features.lexicons.as_deref());
    external_read(&mut reads, "[divergence] usi_difficulty", config.divergence.usi_difficulty.as_deref());
    let plan = session.plan(Stage::Divergence, config, reads)?;
    if plan.skip {
        session.skipped(&plan, config)?;
    } else if let Stages::Merged(merged) = stages {
        let (outputs, section) = super::assembled::take_merged_divergence(merged, session.work_dir())?;
        session.ran(&plan, config, &outputs, Some(section))?;
    } else {
        let report = super::divergence::divergence_stage(config, out, global)?;
        session.ran(&plan, config, &report.files, None)?;
    }

    let mut reads = session.outputs_of(Stage::Divergence);
    reads.extend(crate::pipeline::history::record_night(config, session, night)?);
    let plan = session.plan(Stage::Report, config, reads)?;
    if plan.skip {
        session.skipped(&plan, config)?;
    } else {
        let summary = super::report::report_stage(config, out, global)?;
        let mut outputs = summary.tables;
        outputs.extend(summary.figures);
        outputs.push(summary.report);
        session.ran(&plan, config, &outputs, None)?;
    }

    Ok(())
}

/// Ingest through the per-file cache (every file with --strict), or skipped when no input file and no setting
/// changed. A skipped ingest whose recorded result had rejects still ends as `WithRejects` (exit 3). Returns the
/// outcome, the accepted conversations and the names of the sources with accepted conversations (from the manifest
/// when skipped; None where it does not say).
fn ingest_stage(
    config: &PipelineConfig,
    args: &Args,
    global: &GlobalArgs,
    session: &mut Session,
    stages: Stages<'_>,
) -> anyhow::Result<super::assembled::IngestOutcome> {
    let out_dir = config.out_dir(args.out.as_ref())?;
    let mut params = config.ingest_params(session.work_dir().to_path_buf(), args.strict, !global.quiet);
    params.output_root = out_dir.clone();
    let snapshot = params.snapshot()?;
    // The files (named with their [[input]], since two inputs may name one file) and their content hashes.
    let reads = snapshot.files.iter().map(|f| (format!("{}:{}", f.input, f.file.display), f.sha256.clone())).collect();
    let recorded_rejects = session.recorded(Stage::Ingest).and_then(|s| s.get("rejected")).and_then(|r| r.as_u64());
    let plan = session.plan(Stage::Ingest, config, reads)?;
    // --strict must fail on recorded rejects, so it only skips a clean result.
    if plan.skip && !(args.strict && recorded_rejects != Some(0)) {
        session.skipped(&plan, config)?;
        let rejected = recorded_rejects.unwrap_or(0);
        if rejected > 0 && !global.quiet {
            eprintln!("rejected records (unchanged): {rejected} in {}", out_dir.join(ingest::REJECTS_FILE).display());
        }
        let recorded = session.recorded(Stage::Ingest);
        let accepted = recorded.and_then(|s| s.get("accepted")).and_then(|a| a.as_u64());
        let sources = recorded.and_then(|s| s.get("sources")).and_then(|s| s.as_object()).map(|s| {
            s.iter()
                .filter_map(|(name, count)| {
                    let kind = count.get("kind").and_then(|k| k.as_str()).and_then(SourceKind::parse)?;
                    Some((name.clone(), kind))
                })
                .collect()
        });
        return Ok((if rejected > 0 { Outcome::WithRejects } else { Outcome::Clean }, accepted, sources));
    }
    if let Stages::Merged(merged) = stages {
        let files = [CONVERSATIONS_FILE, ingest::REJECTS_FILE];
        let (outputs, section) = super::assembled::take_merged(merged, session.work_dir(), &files, "ingest")?;
        session.ran(&plan, config, &outputs, Some(section.clone()))?;
        let report: super::assembled::IngestCounts = serde_json::from_value(section)?;
        return Ok(report.outcome());
    }
    let report = if args.strict { params.run()? } else { params.run_cached(&snapshot, args.force)? };
    let outputs = [report.conversations_file.clone(), report.rejects_file.clone()];
    session.ran(&plan, config, &outputs, Some(serde_json::to_value(&report)?))?;
    super::ingest::log_report(&report, global);
    let sources = report.sources.iter().map(|(name, count)| (name.clone(), count.kind)).collect();
    Ok((super::ingest::outcome_of(&report), Some(report.accepted), Some(sources)))
}
