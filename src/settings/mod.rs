//! The pipeline file (TOML) and its merge with command-line flags.
//!
//! Relative paths inside a pipeline file are resolved against the file's own
//! folder, so a pipeline works from any working directory; paths given on the
//! command line are resolved against the working directory as usual.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub mod drive;
pub mod flags;
pub mod iceberg;

use crate::core::cost::Prices;
use crate::core::format::InputFormat;
use crate::core::limits::{self, InputLimits};
use crate::core::paths::{is_folder_name, tidy};
use crate::core::window::{parse_utc, Window};
use crate::lake::derived::derived_dir;
use crate::mirror::source::s3::S3Section;
use crate::mirror::wait::{self, GivenMargin, Goal, WaitOptions};
use crate::mirror::SourceSpec;
use crate::report::ReportSection;
use crate::transform::rules::TransformSection;
use crate::{explore, mirror, report, transform};
pub use flags::{DriveArgs, ExploreArgs, PublishArgs, ReportArgs, StepArgs, TransformArgs};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Names the report folder: notebooks-export/<name>.
    pub name: Option<String>,
    #[serde(default)]
    pub source: SourceSection,
    #[serde(default)]
    pub lake: LakeSection,
    #[serde(default)]
    pub window: WindowSection,
    #[serde(default)]
    pub mirror: MirrorSection,
    #[serde(default)]
    pub transform: TransformSection,
    #[serde(default)]
    pub prices: Prices,
    #[serde(default)]
    pub report: ReportSection,
    #[serde(default)]
    pub drive: drive::DriveSection,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    pub location: Option<String>,
    pub format: Option<InputFormat>,
    /// Endpoint, credentials profile and retry settings of an `s3://` location.
    #[serde(default)]
    pub s3: S3Section,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LakeSection {
    pub dir: Option<PathBuf>,
    pub quarantine: Option<PathBuf>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct WindowSection {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct MirrorSection {
    pub jobs: Option<usize>,
    /// Longest line or tail event in bytes; longer ones are quarantined by reference.
    pub max_line_bytes: Option<usize>,
    /// Bytes one object may put in the quarantine; past it bad lines are only counted.
    pub max_quarantine_bytes: Option<u64>,
    /// `--wait`'s margin (`90s`, `5m`); default: learnt from the lake's deliveries.
    pub margin: Option<String>,
}

impl MirrorSection {
    fn limits(&self) -> Result<InputLimits> {
        let defaults = InputLimits::default();
        let limits = InputLimits {
            max_line_bytes: self.max_line_bytes.unwrap_or(defaults.max_line_bytes),
            max_quarantine_bytes: self
                .max_quarantine_bytes
                .unwrap_or(defaults.max_quarantine_bytes),
        };
        // Below a kilobyte no real event fits, and a line's head would not
        // show; above `limits::MAX_LINE_BYTES` its strings may not fit a view.
        if !(1024..=limits::MAX_LINE_BYTES).contains(&limits.max_line_bytes) {
            bail!(
                "[mirror] max_line_bytes = {}: give 1024 bytes to 1 GiB (default 16 MiB)",
                limits.max_line_bytes
            );
        }
        if limits.max_quarantine_bytes < 1024 {
            bail!(
                "[mirror] max_quarantine_bytes = {}: give at least 1024 bytes (default 16 MiB)",
                limits.max_quarantine_bytes
            );
        }
        Ok(limits)
    }
}

/// The pipeline file merged with command-line flags: each step's options.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    /// The pipeline file read, if any: `--pipeline`, else [`DEFAULT_PIPELINE`] where it exists.
    pub pipeline: Option<PathBuf>,
    pub mirror: mirror::Options,
    pub transform: transform::Options,
    pub report: report::Options,
}

/// The pipeline file a step reads when `--pipeline` is not given and it exists:
/// the embedded sample's, when run from the project folder.
pub const DEFAULT_PIPELINE: &str = "pipelines/proxy-fetch.toml";

/// What a step that needs deployment knowledge says when there is no pipeline file.
const HOW_TO_DRAFT: &str = "pass --pipeline FILE, or draft one from the mirrored lake with `tracecost explore --lake DIR --draft FILE`";

pub fn load_pipeline(path: &Path) -> Result<PipelineFile> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read pipeline file {}: check --pipeline FILE; to draft one from the mirrored lake: `tracecost explore --lake DIR --draft FILE`",
            path.display()
        )
    })?;
    parse_pipeline(&text).map_err(|e| anyhow::anyhow!("pipeline file {}: {e}", path.display()))
}

/// Parses pipeline TOML; the error is one line naming the offending key and its line.
pub fn parse_pipeline(text: &str) -> Result<PipelineFile, String> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                // Type errors name no field: the key on that line does.
                let key = text.lines().nth(line - 1).and_then(|l| l.split_once('='));
                match key.map(|(k, _)| k.trim()).filter(|k| !message.contains(k)) {
                    Some(key) => format!("line {line} (`{key}`): {message}"),
                    None => format!("line {line}: {message}"),
                }
            }
            None => message,
        }
    })
}

/// The pipeline's name, which names folders (`<lake>/_derived/<name>`,
/// `notebooks-export/<name>`): one path component, so that no name writes
/// or deletes outside them.
fn pipeline_name(file: &PipelineFile, path: &Path) -> Result<String> {
    if let Some(name) = &file.name {
        if !is_folder_name(name) {
            bail!(
                "pipeline file {}: name \"{}\" is not a folder name: use letters, digits, `-`, `_` and `.` (one path component, not `.` or `..`)",
                path.display(),
                name.escape_debug()
            );
        }
        return Ok(name.clone());
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    match stem {
        Some(stem) if is_folder_name(&stem) => Ok(stem),
        _ => bail!(
            "pipeline file {}: its file name is not a folder name, and the pipeline is named after it: set name = \"...\" in the file (letters, digits, `-`, `_` and `.`)",
            path.display()
        ),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The most threads a step starts: more than a few per core only adds
/// memory, and each thread holds a segment or an object.
pub fn max_jobs() -> usize {
    (4 * cores()).min(64)
}

/// `n` threads asked for by `what`, within 1..=[`max_jobs`]; says so when it clamps.
fn clamp_jobs(what: &str, n: usize, quiet: bool) -> usize {
    let clamped = n.clamp(1, max_jobs());
    if clamped != n && !quiet {
        eprintln!(
            "note: {what} {n} is out of range: using {clamped} (1 to 4x the {} cores, at most 64)",
            cores()
        );
    }
    clamped
}

/// The window of `--from`/`--to`, or else of `[window]`.
fn window(args: &StepArgs, file: &WindowSection) -> Result<Window> {
    let from = args.from.as_ref().or(file.from.as_ref());
    let to = args.to.as_ref().or(file.to.as_ref());
    let window = Window {
        from: from.map(|t| parse_utc(t, false)).transpose()?,
        to: to.map(|t| parse_utc(t, true)).transpose()?,
    };
    if let (Some(f), Some(t)) = (window.from, window.to) {
        if f >= t {
            bail!("--from {f} is not before --to {t}: the window is empty");
        }
    }
    Ok(window)
}

/// `[source.s3]` with the command line's endpoint and account id.
fn s3_section(file: S3Section, args: &StepArgs) -> S3Section {
    S3Section {
        endpoint: args.endpoint.clone().or(file.endpoint),
        account_id: args.account_id.clone().or(file.account_id),
        concurrency: (file.concurrency).map(|n| clamp_jobs("source.s3.concurrency", n, args.quiet)),
        ..file
    }
}

impl Settings {
    pub fn resolve(args: &StepArgs) -> Result<Self> {
        Self::resolve_with(args, true)
    }

    /// As [`Settings::resolve`]; `default`: read [`DEFAULT_PIPELINE`] when
    /// no `--pipeline` is given and it exists.
    fn resolve_with(args: &StepArgs, default: bool) -> Result<Self> {
        let fallback = Some(PathBuf::from(DEFAULT_PIPELINE)).filter(|p| default && p.is_file());
        let pipeline = args.pipeline.clone().or(fallback);
        let (file, base, name) = match &pipeline {
            Some(path) => {
                let file = load_pipeline(path)?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let name = pipeline_name(&file, path)?;
                (file, base, name)
            }
            None => (PipelineFile::default(), PathBuf::new(), lake_name(args)),
        };
        let mirror = mirror_options(args, &file, &base)?;
        let mut rules = file.transform;
        rules.run_manifest = match (&args.run_manifest, rules.run_manifest.take()) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(path)) => Some(tidy(&base.join(path))),
            (None, None) => None,
        };
        file.prices.validate()?;
        let declared: Vec<String> = rules.approaches.keys().cloned().collect();
        let report = ReportSection {
            seed: args.seed.or(file.report.seed),
            resamples: args.resamples.or(file.report.resamples),
            baseline: (file.report.baseline.clone()).or_else(|| default_baseline(&declared)),
            ..file.report
        };
        let derived = derived_dir(&mirror.lake, &name);
        let report = report::Options {
            pipeline: name.clone(),
            derived: derived.clone(),
            out: (args.out.clone())
                .unwrap_or_else(|| PathBuf::from("notebooks-export").join(&name)),
            analysis: report.analysis_settings(&file.prices, &declared)?,
            approaches: declared,
            charts: report.charts.unwrap_or(true) && !args.no_charts,
            lake: mirror.lake.clone(),
            window: mirror.window,
            flags: report.flag_settings()?,
            segment_by: report.segment_by()?,
            billing: rules.billing_assumptions(),
            requests: None,
        };
        let transform = transform::Options {
            lake: mirror.lake.clone(),
            window: mirror.window,
            derived,
            rules,
            prices: file.prices,
        };
        Ok(Settings {
            name,
            pipeline,
            mirror,
            transform,
            report,
        })
    }
}

impl Settings {
    /// The settings of `report`: the step's, reading `--requests` if given.
    pub fn report(args: &ReportArgs) -> Result<Self> {
        let mut settings = Settings::resolve(&args.step)?;
        let given = args.requests.as_deref();
        settings.report.requests =
            iceberg::requests_source(given, &args.catalog, &settings.mirror.lake)?;
        Ok(settings)
    }

    /// `publish`'s options: the lake, window and derived tables of the step,
    /// and the catalog (see [`iceberg`]).
    pub fn publish(args: &PublishArgs) -> Result<crate::publish::Options> {
        let settings = Settings::resolve(&args.step)?;
        iceberg::publish_options(args, &settings)
    }

    /// `explore`'s options: the lake and window of the flags (or pipeline
    /// file), the report folder, and the draft's file and source.
    pub fn explore(args: &ExploreArgs) -> Result<explore::Options> {
        // A lake named on the command line is explored as it is, not
        // through the project's own pipeline file.
        let settings = Settings::resolve_with(&args.step_args(), args.lake.is_none())?;
        let source = match &args.source {
            Some(s) => SourceSpec::parse(s, Path::new(""))?.location(),
            None => None,
        };
        Ok(explore::Options {
            lake: settings.mirror.lake,
            window: settings.mirror.window,
            out: settings.report.out,
            draft: args.draft.clone(),
            force: args.force,
            source,
        })
    }

    /// `drive`'s options: `[drive]` of the pipeline file (if given, or the
    /// default one where it exists) under the flags.
    pub fn drive(args: &DriveArgs) -> Result<crate::drive::Options> {
        let fallback = Some(PathBuf::from(DEFAULT_PIPELINE)).filter(|p| p.is_file());
        let (section, base) = match args.pipeline.clone().or(fallback) {
            Some(path) => {
                let file = load_pipeline(&path)?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (file.drive, base)
            }
            None => (drive::DriveSection::default(), PathBuf::new()),
        };
        drive::options(args, section, &base)
    }

    /// Refuses `step` without a pipeline file: it needs to know how this
    /// deployment's legs become requests.
    pub fn require_pipeline(&self, step: &str) -> Result<()> {
        if self.pipeline.is_none() {
            bail!("`{step}` needs a pipeline file that says how this deployment's legs become requests (none given, and no {DEFAULT_PIPELINE} here): {HOW_TO_DRAFT}");
        }
        Ok(())
    }
}

/// The name of a run without a pipeline file: the lake folder's, when it is
/// a folder name.
fn lake_name(args: &StepArgs) -> String {
    let lake = args.lake.as_deref().and_then(Path::file_name);
    (lake.map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| is_folder_name(n))
        .unwrap_or_else(|| "lake".to_string())
}

/// The baseline of a pipeline file that names none: `direct` when it is
/// declared (the plan's name for fetching without a proxy), else the first
/// declared approach; none when no approach is declared.
fn default_baseline(declared: &[String]) -> Option<String> {
    let direct = declared.iter().find(|a| *a == "direct");
    direct.or(declared.first()).cloned()
}

/// `transform` and `report` do not mirror: a wait flag given to them is a mistake.
pub fn refuse_wait(args: &StepArgs) -> Result<()> {
    if args.wait || args.until.is_some() || args.events.is_some() || args.margin.is_some() {
        bail!("--wait, --until, --events and --margin apply to `mirror` and `run` only");
    }
    Ok(())
}

/// The mirror's options: source, lake, quarantine, window, threads, limits.
fn mirror_options(args: &StepArgs, file: &PipelineFile, base: &Path) -> Result<mirror::Options> {
    let source = match (&args.source, &file.source.location) {
        (Some(s), _) => Some(SourceSpec::parse(s, Path::new(""))?),
        (None, Some(s)) => Some(SourceSpec::parse(s, base)?),
        (None, None) => None,
    };
    let lake = match (&args.lake, &file.lake.dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => tidy(&base.join(dir)),
        (None, None) => PathBuf::from("data/lake"),
    };
    let quarantine = match (&args.quarantine, &file.lake.quarantine, &args.lake) {
        (Some(dir), _, _) => dir.clone(),
        // A lake moved on the command line takes its quarantine along.
        (None, Some(dir), None) => tidy(&base.join(dir)),
        _ => lake.join("_quarantine"),
    };
    let jobs = match (args.jobs, file.mirror.jobs) {
        (Some(n), _) => clamp_jobs("--jobs", n, args.quiet),
        (None, Some(n)) => clamp_jobs("mirror.jobs", n, args.quiet),
        (None, None) => cores().min(max_jobs()),
    };
    Ok(mirror::Options {
        source,
        format: args.format.or(file.source.format),
        lake,
        quarantine,
        window: window(args, &file.window)?,
        jobs,
        limits: file.mirror.limits()?,
        quiet: args.quiet,
        s3: s3_section(file.source.s3.clone(), args),
        margin: given_margin(args, &file.mirror)?,
    })
}

/// `--margin`, else `[mirror] margin`: a bad one is an error naming it.
fn given_margin(args: &StepArgs, file: &MirrorSection) -> Result<Option<GivenMargin>> {
    let (text, from) = match (&args.margin, &file.margin) {
        (Some(t), _) => (t, "--margin"),
        (None, Some(t)) => (t, "[mirror] margin"),
        (None, None) => return Ok(None),
    };
    let length = wait::parse_duration(text).map_err(|e| anyhow::anyhow!("{from}: {e}"))?;
    Ok(Some(GivenMargin { length, from }))
}

/// `--wait` and its goal, for the steps that mirror; `--until` and
/// `--events` alone are a mistake.
pub fn wait_options(args: &StepArgs, rules: &TransformSection) -> Result<Option<WaitOptions>> {
    if !args.wait {
        if args.until.is_some() || args.events.is_some() || args.margin.is_some() {
            bail!("--until, --events and --margin only apply with --wait");
        }
        return Ok(None);
    }
    let run_manifest = rules.run_manifest.as_deref();
    Ok(Some(WaitOptions {
        goal: Goal::from_flags(args.until.as_deref(), args.events, run_manifest)?,
        every: wait::parse_every(&args.every)?,
        timeout: wait::parse_duration(&args.timeout)
            .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
        filters: rules.filters.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse_pipeline("name = \"x\"\n[source]\nlocaton = \"a\"\n").unwrap_err();
        assert!(err.contains("locaton"), "{err}");
        assert!(err.starts_with("line 3"), "{err}");
        assert!(!err.contains('\n'));
        let err = parse_pipeline("[mirror]\nmax_line_bytes = -1\n").unwrap_err();
        assert!(err.starts_with("line 2 (`max_line_bytes`): "), "{err}");
    }

    #[test]
    fn line_limit_is_between_a_kilobyte_and_a_gigabyte() {
        let limits = |bytes: usize| {
            MirrorSection {
                max_line_bytes: Some(bytes),
                ..MirrorSection::default()
            }
            .limits()
            .map(|l| l.max_line_bytes)
            .map_err(|e| e.to_string())
        };
        assert_eq!(limits(1024), Ok(1024));
        assert_eq!(limits(1 << 30), Ok(1 << 30));
        for bad in [1023, (1 << 30) + 1, 8 << 30] {
            let err = limits(bad).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "[mirror] max_line_bytes = {bad}: give 1024 bytes to 1 GiB"
                )),
                "{err}"
            );
        }
    }
}
