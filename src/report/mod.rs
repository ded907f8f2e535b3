//! Step 3: statistics, charts and exports, one file per output.

pub mod analysis;
pub mod charts;
pub mod claims;
pub mod cold_starts;
pub mod csv;
pub mod delivery;
pub mod flags;
pub mod interval;
pub mod markdown;
pub mod segments;
pub mod tables;
pub mod values;

use crate::core::cost::Prices;
use crate::core::metric::Metric;
use crate::core::numbers;
use std::path::PathBuf;

use anyhow::{Context, Result};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Deserialize;

use crate::io::atomic::{remove_temporaries, write_atomic};
use crate::io::parquet::{write_parquet, AtomicParquet, ROW_GROUP};
use crate::lake::derived::{self, RequestsFile, QUALITY_FILE};
use crate::stats::bootstrap::{Config, Method};
use analysis::Analysis;

/// `[report]` of the pipeline file.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// Bootstrap seed (default 1): the same seed gives byte-identical CSVs.
    pub seed: Option<u64>,
    /// Bootstrap resamples (default 10,000).
    pub resamples: Option<usize>,
    /// Confidence level of every interval (default 0.95).
    pub confidence: Option<f64>,
    /// `bca` (default) or `percentile`.
    pub interval: Option<Method>,
    /// The approach the others are compared with (the settings give the default).
    pub baseline: Option<String>,
    /// Further `[other, baseline]` pairs to compare (default none).
    pub compare: Option<Vec<[String; 2]>>,
    /// Draw the PNG charts (default true).
    pub charts: Option<bool>,
    /// Text columns of requests.parquet to split the requests by (default `["colo", "script_version"]`).
    pub segment_by: Option<Vec<String>>,
    /// Cold starts and outliers.
    pub flags: Option<flags::FlagsSection>,
    /// The report's title (default [`DEFAULT_TITLE`]).
    pub title: Option<String>,
    /// The question the report answers, shown under the title.
    pub question: Option<String>,
    /// Metrics that get a section, a chart and a comparison (columns of
    /// `requests.parquet`; default [`Frame`]'s).
    pub metrics: Option<Vec<String>>,
    /// `[[report.claims]]`: what the plan claims, judged by the report.
    #[serde(default)]
    pub claims: Vec<claims::ClaimSpec>,
}

/// The title of a pipeline file that gives none.
pub const DEFAULT_TITLE: &str = "tracecost report";

/// Sections of a report whose pipeline file names no metrics: what is
/// billed, what it costs, what is waited for, then client latency when known.
pub const DEFAULT_SECTIONS: [Metric; 5] = [
    Metric::DoWall,
    Metric::Cost,
    Metric::Span,
    Metric::WorkerCpu,
    Metric::ClientLatency,
];

/// What the report is about: its title and question, and the metrics that
/// get a section, chart and comparison.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub title: String,
    pub question: Option<String>,
    /// `None`: [`DEFAULT_SECTIONS`] and [`Metric::COMPARED`].
    pub metrics: Option<Vec<Metric>>,
}

impl Frame {
    /// Client latency only where the run manifest gave it.
    fn known(list: &[Metric], has_client_latency: bool) -> Vec<Metric> {
        let known = |m: &&Metric| has_client_latency || **m != Metric::ClientLatency;
        list.iter().filter(known).copied().collect()
    }

    /// Metrics with a section and a chart, in order.
    pub fn sections(&self, has_client_latency: bool) -> Vec<Metric> {
        let list = self.metrics.as_deref().unwrap_or(&DEFAULT_SECTIONS);
        Frame::known(list, has_client_latency)
    }

    /// Metrics compared between approaches.
    pub fn compared(&self, has_client_latency: bool) -> Vec<Metric> {
        match &self.metrics {
            Some(list) => Frame::known(list, has_client_latency),
            None => {
                let all: Vec<Metric> = (Metric::COMPARED.into_iter())
                    .chain([Metric::ClientLatency])
                    .collect();
                Frame::known(&all, has_client_latency)
            }
        }
    }
}

/// Most resamples per interval: each group holds 128 bytes per resample,
/// so 100,000 is ~13 MB a group.
pub const MAX_RESAMPLES: usize = 100_000;

impl ReportSection {
    /// The analysis settings; a value out of range is a one-line error naming its field.
    /// `declared`: the approaches of `[transform.approaches]`, which every
    /// approach named here must be.
    pub fn analysis_settings(
        &self,
        prices: &Prices,
        declared: &[String],
    ) -> Result<analysis::Settings> {
        let confidence = self.confidence.unwrap_or(0.95);
        if !(0.5..1.0).contains(&confidence) {
            anyhow::bail!(
                "report.confidence = {confidence}: give a level of at least 0.5 and below 1, such as 0.95"
            );
        }
        let resamples = self.resamples.unwrap_or(10_000);
        if resamples != 0 && !(100..=MAX_RESAMPLES).contains(&resamples) {
            anyhow::bail!(
                "report.resamples (or --resamples) = {resamples}: give 100 to {} (10,000 by default), or 0 for point estimates without intervals",
                numbers::thousands(MAX_RESAMPLES as u64)
            );
        }
        Ok(analysis::Settings {
            bootstrap: Config {
                resamples,
                confidence,
                seed: self.seed.unwrap_or(1),
                method: self.interval.unwrap_or(Method::Bca),
            },
            baseline: match &self.baseline {
                Some(b) => claims::declared_approach("report.baseline", b, declared)?,
                None => String::new(),
            },
            extra_pairs: self.pairs(declared)?,
            prices: *prices,
            claims: claims::resolve_all(&self.claims, declared)?,
            frame: self.frame()?,
        })
    }

    /// `compare`, each approach declared.
    fn pairs(&self, declared: &[String]) -> Result<Vec<(String, String)>> {
        let pairs = self.compare.iter().flatten().enumerate();
        pairs
            .map(|(i, [a, b])| {
                let field = format!("report.compare[{i}]");
                if a == b {
                    anyhow::bail!("{field} = [{a:?}, {b:?}]: give two different approaches");
                }
                Ok((
                    claims::declared_approach(&field, a, declared)?,
                    claims::declared_approach(&field, b, declared)?,
                ))
            })
            .collect()
    }

    fn frame(&self) -> Result<Frame> {
        let metrics = match &self.metrics {
            None => None,
            Some(names) => {
                let mut list: Vec<Metric> = Vec::new();
                for name in names {
                    let m = claims::parse_metric("report.metrics", name)?;
                    if !list.contains(&m) {
                        list.push(m);
                    }
                }
                Some(list)
            }
        };
        Ok(Frame {
            title: (self.title.clone()).unwrap_or_else(|| DEFAULT_TITLE.into()),
            question: self.question.clone(),
            metrics,
        })
    }
}

impl ReportSection {
    /// The cold start and outlier rules.
    pub fn flag_settings(&self) -> Result<flags::Settings> {
        self.flags.clone().unwrap_or_default().settings()
    }

    /// The columns to segment by; an empty or repeated name is a one-line error.
    pub fn segment_by(&self) -> Result<Vec<String>> {
        let names = match &self.segment_by {
            Some(names) => names.clone(),
            None => segments::DEFAULT_SEGMENT_BY.map(String::from).to_vec(),
        };
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() || names[..i].contains(name) {
                anyhow::bail!("report.segment_by: {name:?} is empty or repeated; give distinct column names of requests.parquet, such as \"colo\"");
            }
        }
        Ok(names)
    }
}

/// The report's flags of the rows `offset..offset + len`, as two columns.
fn flag_columns(flags: &[Option<flags::Flags>], offset: usize, len: usize) -> [Column; 2] {
    let slice = flags.get(offset..offset + len).unwrap_or(&[]);
    let column = |name: &str, f: fn(flags::Flags) -> bool| {
        let values: Vec<Option<bool>> = (0..len)
            .map(|i| slice.get(i).copied().flatten().map(f))
            .collect();
        Column::new(name.into(), values)
    };
    [
        column("cold_start", |f| f.cold_start),
        column("outlier", |f| f.outlier),
    ]
}

/// `requests.csv` and `requests.parquet` of the report, copied from the
/// transform's file a row group at a time, with each row's flags.
fn export_requests(
    file: &RequestsFile,
    flags: &[Option<flags::Flags>],
    out: &std::path::Path,
) -> Result<()> {
    let rows = file.rows()?;
    let read = |offset: usize| -> Result<DataFrame> {
        let mut block = file.read(None, Some((offset, ROW_GROUP)))?;
        for c in flag_columns(flags, offset, block.height()) {
            block.with_column(c)?;
        }
        Ok(block)
    };
    let mut block = read(0)?;
    let mut csv = csv::CsvFile::create(&out.join("requests.csv"), &block)?;
    let mut parquet =
        AtomicParquet::create(&out.join("requests.parquet"), &tables::typed_frame(&block)?)?;
    let mut offset = 0;
    loop {
        csv.append(&block)?;
        parquet.write(&mut tables::typed_frame(&block)?)?;
        offset += block.height();
        if offset >= rows || block.height() == 0 {
            break;
        }
        block = read(offset)?;
    }
    csv.commit()?;
    parquet.commit()
}

/// The complete requests by approach and delay, read a row group at a
/// time: only the metrics' values are held.
fn group(file: &RequestsFile, idle_gap_ms: i64) -> Result<analysis::Grouping> {
    let columns = analysis::columns();
    let mut grouping = analysis::Grouping::new(idle_gap_ms);
    for start in (0..file.rows()?).step_by(ROW_GROUP) {
        grouping.add(&file.read(Some(&columns), Some((start, ROW_GROUP)))?)?;
    }
    Ok(grouping)
}

/// The columns of requests.parquet and their types.
fn schema(file: &RequestsFile) -> Result<Schema> {
    Ok(file.read(None, Some((0, 0)))?.schema().as_ref().clone())
}

fn read_quality(derived: &std::path::Path) -> Result<DataFrame> {
    let path = derived.join(QUALITY_FILE);
    let file = std::fs::File::open(&path).with_context(|| {
        format!(
            "cannot open {}: run `tracecost transform` first",
            path.display()
        )
    })?;
    (ParquetReader::new(file).finish())
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

const QUALITY_TABLE: &str = "quality";

/// Removes a table's CSV and Parquet files, if there.
fn remove_table(out: &std::path::Path, name: &str) -> Result<()> {
    for ext in ["csv", "parquet"] {
        let path = out.join(format!("{name}.{ext}"));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", path.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The CSV tables and their Parquet twins.
fn write_tables(
    a: &Analysis,
    quality: Option<&DataFrame>,
    sensitivity: &flags::Sensitivity,
    segments: &segments::Segments,
    out: &std::path::Path,
) -> Result<()> {
    let mut tables = vec![
        tables::summary(a),
        tables::comparisons(a),
        tables::breakeven(a),
        tables::claims(a),
        flags::table(sensitivity),
        segments::table(segments),
    ];
    match quality {
        Some(quality) => tables.push(tables::from_frame(QUALITY_TABLE, quality)?),
        // Requests from elsewhere: a quality table of an earlier run would not be theirs.
        None => remove_table(out, QUALITY_TABLE)?,
    }
    tables.par_iter().try_for_each(|t| -> Result<()> {
        write_atomic(
            &out.join(format!("{}.csv", t.name)),
            csv::render(t).as_bytes(),
        )?;
        write_parquet(&mut t.to_frame()?, &out.join(format!("{}.parquet", t.name)))
    })
}

/// What the report needs; `settings` resolves it from the pipeline file and flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub pipeline: String,
    /// The transform's outputs (`lake::derived::derived_dir`).
    pub derived: PathBuf,
    pub out: PathBuf,
    pub analysis: analysis::Settings,
    /// The approaches the pipeline file names, to say which have no complete request.
    pub approaches: Vec<String>,
    pub charts: bool,
    /// The lake, whose manifest holds the delivery delays, and the window.
    pub lake: PathBuf,
    pub window: crate::core::window::Window,
    /// Cold start and outlier rules.
    pub flags: flags::Settings,
    /// Text columns of requests.parquet to segment by; missing ones are skipped.
    pub segment_by: Vec<String>,
    /// Each role's request fee, as the pipeline file or the published rule has it.
    pub billing: Vec<crate::core::cost::RoleBilling>,
    /// A requests table computed elsewhere (`--requests`), read instead of the transform's.
    pub requests: Option<crate::lake::imported::Source>,
}

pub fn run(opts: &Options) -> Result<()> {
    crate::core::memory::map_large_blocks();
    let out = &opts.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create report folder {}", out.display()))?;
    for dir in [out.clone(), out.join("charts")] {
        remove_temporaries(&dir)?;
    }
    let imported = match &opts.requests {
        Some(source) => Some(crate::lake::imported::import(source, out)?),
        None => None,
    };
    let opened;
    let requests_file = match &imported {
        Some(imported) => &imported.file,
        None => {
            opened = RequestsFile::open(&opts.derived)?;
            &opened
        }
    };
    let columns = schema(requests_file)?;
    let grouping = group(requests_file, opts.flags.idle_gap_ms)?;
    let (requests_total, requests_complete) = (grouping.requests, grouping.complete);
    let requests_unusable = grouping.unusable;
    let without_complete = grouping.without_complete(opts.approaches.iter());
    let quality = match &opts.requests {
        Some(_) => None,
        None => Some(read_quality(&opts.derived)?),
    };
    let s = &opts.analysis;
    let grouped = grouping.finish(&s.baseline)?;
    let flagged = flags::flag(&grouped.2, &opts.flags);
    let row_flags = flags::by_row(&grouped.2, &flagged, requests_total);
    let segmenting = segments::collect(requests_file, &columns, &opts.segment_by, requests_total)?;
    // The requests table does not depend on the analysis: written alongside it.
    let counts = flags::counts(&grouped.2, &flagged);
    let (analysed, requests_written) = rayon::join(
        || {
            let mut a = analysis::analyse(grouped, s)?;
            if opts.charts {
                let metrics = s.frame.sections(a.has_client_latency);
                charts::write_all(&a, &metrics, &out.join("charts"))?;
            }
            // The charts read every request last: the groups then lose their
            // flagged requests in place for the second analysis.
            let keys: Vec<(String, i64)> = (a.groups.iter())
                .map(|g| (g.approach.clone(), g.delay_ms))
                .collect();
            let groups = a.take_groups();
            let kept = flags::without_flagged(&a.approaches, groups, &flagged);
            // Segments compare warm requests: a cold start in one colo would pass for a slow region.
            let segments = segments::analyse(segmenting, &kept.2, &s.bootstrap);
            let (without, note) = analyse_without(kept, &counts, s);
            let sensitivity =
                flags::sensitivity(&opts.flags, counts, &a, &keys, without.as_ref(), note);
            anyhow::Ok((a, sensitivity, segments))
        },
        || export_requests(requests_file, &row_flags, out),
    );
    let (a, sensitivity, segments) = analysed?;
    requests_written?;
    write_tables(&a, quality.as_ref(), &sensitivity, &segments, out)?;
    let delivery = delivery::write(&opts.lake, &opts.window, out)?;
    let charts = opts.charts;
    let quality = match &quality {
        Some(quality) => derived::from_frame(quality)?,
        None => Vec::new(),
    };
    let context = markdown::Context {
        pipeline: &opts.pipeline,
        requests_total,
        requests_complete,
        requests_unusable,
        sampling_notices: derived::sampling_notices(&quality),
        quality,
        requests_from: opts.requests.as_ref().map(|r| r.label()),
        charts,
        without_complete,
        delivery: &delivery,
        billing: &opts.billing,
        sensitivity: &sensitivity,
        segments: &segments,
    };
    write_atomic(
        &out.join("report.md"),
        markdown::render(&a, s, &context).as_bytes(),
    )?;
    print_summary(&a, s, &context, out);
    Ok(())
}

/// The analysis without the flagged requests, or why there is none.
fn analyse_without(
    kept: analysis::Grouped,
    counts: &[flags::FlagCount],
    s: &analysis::Settings,
) -> (Option<Analysis>, Option<String>) {
    if counts.iter().all(|c| c.flagged == 0) {
        return (
            None,
            Some("no request is flagged: every figure stands as it is".into()),
        );
    }
    if kept.0.is_empty() {
        return (
            None,
            Some("every request is flagged: nothing is left to compare with".into()),
        );
    }
    match analysis::analyse(kept, s) {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(format!("without the flagged requests: {e}"))),
    }
}

fn print_summary(
    a: &Analysis,
    s: &analysis::Settings,
    c: &markdown::Context,
    out: &std::path::Path,
) {
    use numbers::thousands_f;
    if let Some(warning) = markdown::sampling_warning(c.sampling_notices) {
        println!("WARNING: {warning}");
    }
    let intervals = if s.bootstrap.point_estimates() {
        "point estimates only, no intervals (--resamples 0)".to_string()
    } else {
        format!(
            "{} resamples per interval, intervals at {}",
            numbers::thousands(s.bootstrap.resamples as u64),
            numbers::level(a.confidence)
        )
    };
    println!(
        "report: {} approaches x {} delays, {intervals}",
        a.approaches.len(),
        a.delays.len(),
    );
    let notes = [
        markdown::without_complete_note(&c.without_complete),
        markdown::unusable_note(c.requests_unusable),
    ];
    for note in notes.into_iter().flatten() {
        println!("  {}", note.replace('`', ""));
    }
    // Values as report.md writes them: "$0.629", "68.0x", "11.3 ms".
    let ci = |e: &crate::stats::bootstrap::Estimate, f: fn(f64) -> String| {
        if analysis::has_interval(e) {
            // A dash between two numbers would read as a minus sign.
            let to = if e.ci.low < 0.0 { " to " } else { "-" };
            let lv = numbers::level(a.confidence);
            format!("{lv} CI {}{to}{}", f(e.ci.low), f(e.ci.high))
        } else {
            "no interval".to_string()
        }
    };
    for b in &a.breakeven {
        let (ap, base) = (&b.approach, &b.baseline);
        match b.delay_ms {
            Some(x) => {
                let interval = markdown::breakeven_interval(b, a.confidence);
                println!(
                    "  break-even {ap} vs {base}: {} ms ({interval})",
                    thousands_f(x)
                );
            }
            None => println!("  break-even {ap} vs {base}: {}", b.note),
        }
    }
    if a.claims.is_empty() {
        println!("  {}", markdown::NO_CLAIMS);
    }
    for h in &a.claims {
        let f = markdown::format_in(h.unit);
        match (h.verdict, &h.measured) {
            (Some(verdict), Some(m)) => println!(
                "  {}: {} ({}, {})",
                h.id(),
                verdict.name(),
                f(m.value),
                ci(m, f)
            ),
            _ => println!("  {}: {}", h.id(), h.note.replace('`', "")),
        }
    }
    println!(
        "  outputs: {} (report.md, CSV and Parquet tables, charts/)",
        out.display()
    );
}
