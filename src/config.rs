//! The pipeline file (TOML) and its merge with command-line flags.
//!
//! Relative paths inside a pipeline file are resolved against the file's own
//! folder, so a pipeline works from any working directory; paths given on the
//! command line are resolved against the working directory as usual.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::Deserialize;

use crate::cli::StepArgs;
use crate::cost::Prices;
use crate::limits::InputLimits;
use crate::mirror::s3::S3Section;
use crate::mirror::source::InputFormat;
use crate::report::ReportSection;
use crate::transform::rules::TransformSection;

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
        // Below a kilobyte no real event fits, and a line's head would not show.
        if limits.max_line_bytes < 1024 {
            bail!(
                "[mirror] max_line_bytes = {}: give at least 1024 bytes (default 16 MiB)",
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

/// Where events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A folder (Logpush layout, tail captures) or a single file.
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 { bucket: String, prefix: String },
}

impl SourceSpec {
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("source `{text}` names no bucket: write s3://BUCKET/PREFIX");
            }
            if !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            {
                bail!(
                    "source `{}`: a bucket name has lowercase letters, digits, `-` and `.` only (credentials come from the AWS chain, never the URL)",
                    redact_userinfo(text)
                );
            }
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if url_scheme(text).is_some() {
            bail!(
                "source `{}` is a URL: give a local folder or file, or s3://BUCKET/PREFIX (with --endpoint for a store other than R2)",
                redact_userinfo(text)
            );
        }
        Ok(SourceSpec::Local(tidy(&base.join(text))))
    }
}

/// The scheme of `text` when it starts like a URL (`scheme://`).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && (scheme.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// `text` with the user name and password of every URL in it replaced by
/// `***`, for anything printed or put in an error. Everything from `://` to
/// the last `@` of the same word goes, so a password holding `/` or `@`
/// leaks no piece either.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let word_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        match tail[..word_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Whether a URL carries a user name or password: an `@` before the end of
/// its authority.
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority.contains('@')
    })
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Local(path) => write!(f, "{}", path.display()),
            SourceSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// A half-open UTC interval `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Window {
    /// Whether a lake `date=` partition (the events' own UTC day) can hold events of the window.
    pub fn may_hold_day(&self, day: NaiveDate) -> bool {
        let day_start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN));
        let day_end = day_start + chrono::Duration::days(1);
        self.from.is_none_or(|f| day_end > f) && self.to.is_none_or(|t| day_start < t)
    }

    /// Whether a Logpush date folder can hold events of the window. Events
    /// reach the folder of their delivery day, which can be the day after.
    pub fn may_hold_folder(&self, folder: NaiveDate) -> bool {
        let day_start = Utc.from_utc_datetime(&folder.and_time(NaiveTime::MIN));
        let day_end = day_start + chrono::Duration::days(1);
        let late = chrono::Duration::days(1);
        self.from.is_none_or(|f| day_end > f) && self.to.is_none_or(|t| day_start - late < t)
    }
}

/// Parses a UTC date or time. `end` turns a bare date into the start of the next day.
pub fn parse_utc(text: &str, end: bool) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let date = if end {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        return Ok(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = t.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(Utc.from_utc_datetime(&dt));
        }
    }
    bail!("`{text}` is not a UTC date or time: write 2025-11-18, 2025-11-18T21:00 or 2025-11-18T21:00:00Z")
}

/// The pipeline file merged with command-line flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub source: Option<SourceSpec>,
    pub format: Option<InputFormat>,
    pub lake: PathBuf,
    pub quarantine: PathBuf,
    pub out: PathBuf,
    pub window: Window,
    pub jobs: usize,
    pub limits: InputLimits,
    pub quiet: bool,
    pub transform: TransformSection,
    pub prices: Prices,
    pub report: ReportSection,
    pub no_charts: bool,
    pub s3: S3Section,
}

pub fn load_pipeline(path: &Path) -> Result<PipelineFile> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read pipeline file {}: pass --pipeline FILE or run from the project folder",
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

/// Resolves `.` and `dir/..` lexically, so that messages show `data/lake`
/// rather than `pipelines/../data/lake`.
pub fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
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

/// One path component of ASCII letters, digits, `-`, `_` and `.`, not `.` or `..`.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && (name.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
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
        let file = load_pipeline(&args.pipeline)?;
        let base = args
            .pipeline
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let cwd = PathBuf::new();
        let name = pipeline_name(&file, &args.pipeline)?;
        let source = match (&args.source, &file.source.location) {
            (Some(s), _) => Some(SourceSpec::parse(s, &cwd)?),
            (None, Some(s)) => Some(SourceSpec::parse(s, &base)?),
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
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("notebooks-export").join(&name));
        let window = window(args, &file.window)?;
        let jobs = match (args.jobs, file.mirror.jobs) {
            (Some(n), _) => clamp_jobs("--jobs", n, args.quiet),
            (None, Some(n)) => clamp_jobs("mirror.jobs", n, args.quiet),
            (None, None) => cores().min(max_jobs()),
        };
        let limits = file.mirror.limits()?;
        let report = ReportSection {
            seed: args.seed.or(file.report.seed),
            resamples: args.resamples.or(file.report.resamples),
            ..file.report
        };
        file.prices.validate()?;
        report.analysis_settings(&file.prices)?;
        let mut transform = file.transform;
        transform.run_manifest = match (&args.run_manifest, transform.run_manifest.take()) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(path)) => Some(tidy(&base.join(path))),
            (None, None) => None,
        };
        Ok(Settings {
            transform,
            prices: file.prices,
            report,
            no_charts: args.no_charts,
            s3: s3_section(file.source.s3, args),
            name,
            source,
            format: args.format.or(file.source.format),
            lake,
            quarantine,
            out,
            window,
            jobs,
            limits,
            quiet: args.quiet,
        })
    }
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
    fn dates_and_times_parse_as_utc() {
        let day = parse_utc("2025-11-18", false).unwrap();
        assert_eq!(day.to_rfc3339(), "2025-11-18T00:00:00+00:00");
        let end = parse_utc("2025-11-18", true).unwrap();
        assert_eq!(end.to_rfc3339(), "2025-11-19T00:00:00+00:00");
        let t = parse_utc("2025-11-18T21:05", false).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-11-18T21:05:00+00:00");
        assert!(parse_utc("yesterday", false).is_err());
    }

    #[test]
    fn window_keeps_next_day_folder_for_late_events() {
        let w = Window {
            from: Some(parse_utc("2025-11-18", false).unwrap()),
            to: Some(parse_utc("2025-11-18", true).unwrap()),
        };
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(!w.may_hold_folder(d("2025-11-16")));
        assert!(!w.may_hold_folder(d("2025-11-17")));
        assert!(w.may_hold_folder(d("2025-11-18")));
        assert!(w.may_hold_folder(d("2025-11-19")));
        assert!(!w.may_hold_folder(d("2025-11-20")));
    }

    #[test]
    fn paths_are_tidied_lexically() {
        assert_eq!(
            tidy(Path::new("pipelines/../data/lake")),
            PathBuf::from("data/lake")
        );
        assert_eq!(tidy(Path::new("./a/./b")), PathBuf::from("a/b"));
        assert_eq!(tidy(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(tidy(Path::new("/a/../../b")), PathBuf::from("/b"));
        assert_eq!(tidy(Path::new("a/..")), PathBuf::from("."));
    }

    #[test]
    fn a_name_is_one_folder_name() {
        for good in ["proxy-fetch", "a.b_c-1", "...x", "x.."] {
            assert!(is_folder_name(good), "{good}");
        }
        for bad in [
            "", ".", "..", "../x", "/abs", "a/b", "a\\b", "x\ny", "é", "a b", "C:",
        ] {
            assert!(!is_folder_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn userinfo_is_redacted_from_every_url_of_a_text() {
        let cases = [
            ("http://u:p@host:9000/x", "http://***@host:9000/x"),
            (
                "at https://key@h and s3://a:b@c/d.",
                "at https://***@h and s3://***@c/d.",
            ),
            ("http://u:p@ss/w@rd@host/path", "http://***@host/path"),
            ("`http://u:p@h` then `x@y`", "`http://***@h` then `x@y`"),
            ("https://host/a?b=c", "https://host/a?b=c"),
            ("no url here: a@b", "no url here: a@b"),
        ];
        for (text, want) in cases {
            assert_eq!(redact_userinfo(text), want, "{text}");
        }
        assert!(has_userinfo("http://u@h") && !has_userinfo("http://h/u@x?"));
    }

    #[test]
    fn a_url_source_is_refused_without_its_password() {
        for text in ["https://u:s3cr3t@host/logs", "s3://u:s3cr3t@bucket/p"] {
            let err = SourceSpec::parse(text, Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("s3cr3t") && err.contains("***@"), "{err}");
        }
    }

    #[test]
    fn s3_source_parses_bucket_and_prefix() {
        let s = SourceSpec::parse("s3://logs/workers/", Path::new("x")).unwrap();
        assert_eq!(
            s,
            SourceSpec::S3 {
                bucket: "logs".into(),
                prefix: "workers".into()
            }
        );
    }
}
