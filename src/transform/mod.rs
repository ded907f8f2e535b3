//! Step 2: from trace events in the lake to per-request metrics.
//!
//! Polars over the lake's date partitions: filter to the window, give each
//! line a role, a correlation id and the approach and delay it carries, drop
//! duplicate lines by `event_id`, then aggregate the legs of each request into
//! experiment.md's metrics. Lines are spread over partitions by request first
//! (`partition`), so memory follows a partition, not the window. Outputs go to
//! `<lake>/_derived/<pipeline>/`.

pub mod merge;
pub mod partition;
pub mod quality;
pub mod rules;
pub mod sql;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;

use crate::core::cost::{Prices, Usage};
use crate::core::limits::{EVENT_TIME_MAX_MS, EVENT_TIME_MIN_MS, MAX_DURATION_MS};
use crate::core::memory;
use crate::core::metric::Metric;
use crate::core::named::Named;
use crate::core::window::Window;
use crate::io::atomic::{commit_all, remove_temporaries, AtomicFile};
use crate::io::parquet::AtomicParquet;
use crate::lake::derived::{
    request_columns, QualityRow, COLO, LEGS_FILE, LOST_FILE, QUALITY_FILE, REQUESTS_FILE,
    SCRIPT_VERSION,
};
use crate::lake::run_manifest::{Index, Match, RunWindow};
use crate::lake::{lake_files, LakeLock, LEG_FIELDS};
use quality::{LegCounts, RequestCounts};
use rules::{has_role_column, null_str, Billing, TransformSection};

/// What the transform needs; `settings` resolves it from the pipeline file and flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub lake: PathBuf,
    pub window: Window,
    /// Where it writes, and the report reads (`lake::derived::derived_dir`).
    pub derived: PathBuf,
    pub rules: TransformSection,
    pub prices: Prices,
}

impl Options {
    /// Per role: its billing and whether its legs are billed a request fee
    /// (see [`TransformSection::billing_assumptions`]).
    pub fn billing_assumptions(&self) -> Vec<rules::RoleBilling> {
        self.rules.billing_assumptions()
    }
}

/// Where the first pass spreads the window's lines; removed when done.
const PARTITIONS_DIR: &str = ".partitions";

/// Why a leg whose wall or CPU time is negative or beyond
/// [`MAX_DURATION_MS`] is ignored: a lake written before the mirror
/// quarantined such lines may hold them, and they would overflow a request's sums.
pub const BAD_DURATION: &str = "wall or CPU time negative or over 30 days";
/// Why a leg whose event time is outside the limits' range is ignored (its
/// span could overflow, like a duration's).
pub const BAD_EVENT_TIME: &str = "event time before 2010 or from 2100";
/// What `missing_roles` says of a request whose delay is negative: no
/// endpoint answers before it is asked, so the value is wrong, not small.
pub const NEGATIVE_DELAY: &str = "negative delay";
/// What `missing_roles` says of a request without an approach, without a
/// delay, or of an approach the pipeline file does not declare.
pub const APPROACH_UNKNOWN: &str = "approach unknown";
pub const DELAY_UNKNOWN: &str = "delay unknown";
pub const APPROACH_NOT_DECLARED: &str = "approach not declared";
/// The outcome of a leg that ended well; any other is counted.
pub const OUTCOME_OK: &str = "ok";
/// The order of copies of a line: the first is kept (`deduplicate`).
pub const COPY_ORDER: [&str; 4] = [
    "EventTimestampMs",
    "event_id",
    "source_object",
    "source_line",
];

/// Lake columns the transform reads beside [`LEG_FIELDS`].
const MORE_LEG_COLUMNS: &[&str] = &["source_object", "source_line", "ScriptVersion", "Colo"];

/// Of [`MORE_LEG_COLUMNS`], those a lake may lack: a lake mirrored before they
/// were lifted (or written by hand) reads them as null.
const OPTIONAL_LEG_COLUMNS: &[&str] = &["ScriptVersion", "Colo"];

/// The id in a leg's `ScriptVersion` document: Logpush writes `ID`; tail's
/// `id` is renamed by the mirror, and a lake written otherwise may keep it.
pub(crate) const SCRIPT_VERSION_ID: &str = r#""(?:ID|id)"\s*:\s*"([^"\\]+)""#;

/// Reads the window's lake files, joins the legs of each request and writes
/// `requests.parquet`, `legs.parquet`, `quality.parquet` and `lost.parquet`
/// (the run manifest's windows no request fell in); returns the quality rows.
///
/// Two passes: lines are classified as each lake file is read and spread over
/// partitions by request key (`partition`), then each partition is
/// de-duplicated and joined on its own, its legs appended to `legs.parquet`
/// and its requests spilled, to be merged into time order at the end
/// (`merge`). Legs come out partition by partition, in time order within each.
pub fn run(opts: &Options) -> Result<Vec<QualityRow>> {
    let t = &opts.rules;
    t.validate()?;
    let _lake = LakeLock::shared(&opts.lake)?;
    let files = window_files(opts)?;
    let index = match &t.run_manifest {
        Some(path) => Some(Index::new(crate::lake::run_manifest::load(path)?)),
        None => None,
    };
    let dir = &opts.derived;
    let _outputs = LakeLock::outputs(dir)?;
    remove_temporaries(dir)?;
    let count = match t.partitions {
        Some(count) => count,
        None => partition::count_for(&files)?,
    };
    let in_window = crate::lake::in_window(&opts.window);
    let classify = |rows: DataFrame| classify(rows.lazy().filter(in_window.clone()), t);
    let columns: Vec<&str> = LEG_FIELDS.iter().chain(MORE_LEG_COLUMNS).copied().collect();
    let partitions = partition::scatter(
        &files,
        (&columns, OPTIONAL_LEG_COLUMNS),
        &dir.join(PARTITIONS_DIR),
        count,
        classify,
    )?;
    let mut outputs = Outputs::new(dir, index.as_ref(), count)?;
    let mut pieces: Vec<Option<&[PathBuf]>> = (partitions.files.iter())
        .filter(|files| !files.is_empty())
        .map(|files| Some(files.as_slice()))
        .collect();
    if pieces.is_empty() {
        pieces.push(None); // no line in the window: outputs with no rows
    }
    for files in pieces {
        let lines = match files {
            Some(files) => partition::read(files)?,
            None => (partitions.no_lines.clone()).expect("scatter read a lake file"),
        };
        let counts = &mut outputs.manifest_counts;
        let (legs, requests) = join(lines, t, &opts.prices, index.as_ref(), counts)?;
        outputs.add(legs, requests)?;
        memory::release_freed();
    }
    // The merge reads the spilled runs, in the partitions' folder; the folder
    // goes before the outputs are synced, so its bytes need not reach the disk.
    let (files, legs, requests, manifest) = outputs.finish()?;
    let lake_rows = partitions.lines;
    drop(partitions);
    let lost = match &index {
        Some(index) => manifest.lost(index, &opts.window),
        None => Vec::new(),
    };
    let quality = quality::build(&opts.lake, lake_rows, &legs, &requests, &manifest, &lost)?;
    let tables = [
        (QUALITY_FILE, crate::lake::derived::to_frame(&quality)?),
        (LOST_FILE, crate::lake::derived::lost_frame(&lost)?),
    ];
    let mut written = files;
    for (name, mut frame) in tables {
        let mut file = AtomicParquet::create(&dir.join(name), &frame)?;
        file.write(&mut frame)?;
        written.push(file.finish()?);
    }
    commit_all(written)?;
    quality::print_summary(&quality, dir);
    memory::release_freed(); // for the steps after it in the same process
    Ok(quality)
}

/// The lake files of the window; none is an error that says what to run.
fn window_files(opts: &Options) -> Result<Vec<String>> {
    let files = lake_files(&opts.lake, &opts.window)?;
    if files.is_empty() {
        let in_window = match opts.window == Window::default() {
            true => "",
            false => " in the window",
        };
        bail!(
            "the lake {} holds no events{in_window}: run `tracecost mirror` first",
            opts.lake.display(),
        );
    }
    Ok(files)
}

/// The first pass's work on the rows of one lake file.
fn classify(rows: LazyFrame, t: &TransformSection) -> Result<DataFrame> {
    let lines = line_columns(rows, t).collect();
    let mut lines = Context::context(lines, "cannot classify legs")?;
    // Log text was only needed to find ids and attributes. Dropped from the
    // collected frame, not in the lazy plan, where memory grew with every file.
    for helper in ["role_rule", "LogMessages", "ScriptVersion"] {
        lines.drop_in_place(helper)?;
    }
    Ok(lines)
}

/// What the second pass writes and counts, partition by partition.
struct Outputs {
    legs_path: PathBuf,
    requests_path: PathBuf,
    legs_file: Option<AtomicParquet>,
    requests_file: Option<AtomicParquet>,
    runs: merge::Runs,
    leg_counts: LegCounts,
    request_counts: RequestCounts,
    manifest_counts: ManifestCounts,
}

impl Outputs {
    fn new(dir: &Path, index: Option<&Index>, partitions: usize) -> Result<Self> {
        Ok(Outputs {
            legs_path: dir.join(LEGS_FILE),
            requests_path: dir.join(REQUESTS_FILE),
            legs_file: None,
            requests_file: None,
            runs: merge::Runs::new(&dir.join(PARTITIONS_DIR), partitions)?,
            leg_counts: LegCounts::default(),
            request_counts: RequestCounts::default(),
            manifest_counts: ManifestCounts {
                used: index.is_some(),
                windows: index.map_or(0, |i| i.len() as u64),
                matched: vec![false; index.map_or(0, Index::len)],
                ..Default::default()
            },
        })
    }

    /// Appends a partition's legs and spills its requests.
    fn add(&mut self, mut legs: DataFrame, requests: DataFrame) -> Result<()> {
        self.leg_counts.add(&legs)?;
        let file = match &mut self.legs_file {
            Some(file) => file,
            None => (self.legs_file).insert(AtomicParquet::create(&self.legs_path, &legs)?),
        };
        file.write(&mut legs)?;
        drop(legs);
        self.request_counts.add(&requests)?;
        if self.requests_file.is_none() {
            self.requests_file = Some(AtomicParquet::create(&self.requests_path, &requests)?);
        }
        self.runs.push(&requests)
    }

    /// Merges the requests into time order and ends both files, to be
    /// committed with the quality table.
    fn finish(self) -> Result<(Vec<AtomicFile>, LegCounts, RequestCounts, ManifestCounts)> {
        let mut requests_file = self.requests_file.expect("at least one partition");
        self.runs.merge_into(&mut requests_file)?;
        drop(self.runs);
        let files = vec![
            requests_file.finish()?,
            self.legs_file.expect("at least one partition").finish()?,
        ];
        Ok((
            files,
            self.leg_counts,
            self.request_counts,
            self.manifest_counts,
        ))
    }
}

/// One partition's distinct legs, each with its request's approach, delay and
/// completeness, and its requests.
fn join(
    lines: DataFrame,
    t: &TransformSection,
    prices: &Prices,
    index: Option<&Index>,
    manifest_counts: &mut ManifestCounts,
) -> Result<(DataFrame, DataFrame)> {
    let legs = Context::context(
        deduplicate(lines.lazy()).collect(),
        "cannot drop duplicate lines",
    )?;
    let base = Context::context(
        aggregate(legs.clone().lazy(), t).collect(),
        "cannot aggregate requests",
    )?;
    let base = apply_run_manifest(base, index, manifest_counts)?;
    let requests = Context::context(
        finish(base.lazy(), t, prices).collect(),
        "cannot compute request metrics",
    )?;
    let summary = requests.clone().lazy().select([
        col("request_id"),
        col("approach").alias("request_approach"),
        col("delay_ms").alias("request_delay_ms"),
        col("complete").alias("request_complete"),
    ]);
    let legs = legs
        .lazy()
        .left_join(summary, col("request_id"), col("request_id"))
        .collect();
    let legs = Context::context(legs, "cannot attach requests to legs")?;
    Ok((legs, requests))
}

/// Each line's role (or why it has none), billing, correlation id, request id
/// and the approach and delay it carries; row by row, so each lake file is
/// classified on its own.
pub fn line_columns(rows: LazyFrame, t: &TransformSection) -> LazyFrame {
    let outside = |c: &str, low: i64, high: i64| {
        (col(c).lt(lit(low)).or(col(c).gt(lit(high)))).fill_null(lit(false))
    };
    let bad_duration =
        outside("WallTimeMs", 0, MAX_DURATION_MS).or(outside("CPUTimeMs", 0, MAX_DURATION_MS));
    let bad_time = outside("EventTimestampMs", EVENT_TIME_MIN_MS, EVENT_TIME_MAX_MS - 1);
    let reason = when(bad_duration)
        .then(lit(BAD_DURATION))
        .when(bad_time)
        .then(lit(BAD_EVENT_TIME))
        .when(t.filters.script_selected().not())
        .then(lit("script not selected"))
        .when(t.filters.event_type_selected().not())
        .then(lit("event type not selected"))
        .when(col("role_rule").is_null())
        .then(lit("no role rule matched"))
        .otherwise(null_str());
    rows.with_column(rules::role_expr(&t.roles).alias("role_rule"))
        .with_column(reason.alias("ignored_reason"))
        .with_column(
            when(col("ignored_reason").is_null())
                .then(col("role_rule"))
                .otherwise(null_str())
                .alias("role"),
        )
        .with_columns([
            rules::billing_expr(&t.roles, col("role")).alias("billing"),
            rules::request_billed_expr(&t.roles, col("role")).alias("request_billed"),
            (col("ScriptVersion").str())
                .extract(lit(SCRIPT_VERSION_ID), 1)
                .alias("script_version_id"),
            rules::correlation_expr(&t.correlation).alias("correlation_id"),
            rules::leg_attribute_expr(&t.approach).alias("leg_approach"),
            rules::leg_attribute_expr(&t.delay)
                .cast(DataType::Int64)
                .alias("leg_delay_ms"),
        ])
        .with_column(
            when(col("role").is_not_null())
                .then(coalesce(&[col("correlation_id"), col("event_id")]))
                .otherwise(null_str())
                .alias("request_id"),
        )
}

/// One row per distinct line: of a line delivered more than once, the copy
/// first in (time, event id, object, line) order, so the choice does not
/// depend on the order files are read in. Rows come out in that order.
pub fn deduplicate(lines: LazyFrame) -> LazyFrame {
    lines
        .sort(COPY_ORDER, SortMultipleOptions::default())
        .unique_stable_generic(Some(vec![col("event_id")]), UniqueKeepStrategy::First)
}

fn billed(billing: Billing, value: &str) -> Expr {
    col(value)
        .filter(col("billing").eq(lit(billing.name())))
        .sum()
        .cast(DataType::Int64)
}

fn legs_billed(billing: Billing) -> Expr {
    col("billing")
        .eq(lit(billing.name()))
        .sum()
        .cast(DataType::Int64)
}

/// Legs of `billing` whose role is billed a request fee.
fn requests_billed(billing: Billing) -> Expr {
    (col("billing").eq(lit(billing.name())))
        .and(col("request_billed"))
        .sum()
        .cast(DataType::Int64)
}

/// The distinct values of a text column over a request's legs, sorted and
/// joined with ","; "" when there is none ([`none_if_empty`] makes that null
/// after the aggregation: a ternary inside it is evaluated per group, and
/// cost a quarter of the transform). Nulls are skipped by the join, not
/// dropped before: a group left empty upsets polars' group bookkeeping.
fn distinct_joined(values: Expr) -> Expr {
    (values.unique().sort(SortOptions::default()))
        .str()
        .join(",", true)
}

/// Null in place of "" in a column [`distinct_joined`] made.
fn none_if_empty(column: &str) -> Expr {
    when(col(column).eq(lit("")))
        .then(null_str())
        .otherwise(col(column))
        .alias(column)
}

/// A leg's outcome when it is not `ok`: computed on the legs before the
/// aggregation (one flat column, not a ternary per group).
const OUTCOME_NOT_OK: &str = "outcome_not_ok";

fn leg_columns() -> Expr {
    when(col("Outcome").neq(lit(OUTCOME_OK)))
        .then(col("Outcome"))
        .otherwise(null_str())
        .alias(OUTCOME_NOT_OK)
}

/// Per request: where it ran (the first leg, in time order, that says so),
/// which script versions served it and how its legs ended.
fn leg_attributes() -> [Expr; 4] {
    [
        col("Colo").drop_nulls().first().alias(COLO),
        distinct_joined(col("script_version_id")).alias(SCRIPT_VERSION),
        col(OUTCOME_NOT_OK)
            .is_not_null()
            .sum()
            .cast(DataType::Int64)
            .alias("legs_not_ok"),
        distinct_joined(col(OUTCOME_NOT_OK)).alias("outcomes"),
    ]
}

/// Legs with a role, aggregated per request; approach and delay from the
/// first leg (in time order) that carries them, then the request-level rules.
pub fn aggregate(legs: LazyFrame, t: &TransformSection) -> LazyFrame {
    let mut aggs = vec![
        col("leg_approach").drop_nulls().first().alias("approach"),
        col("leg_delay_ms").drop_nulls().first().alias("delay_ms"),
        billed(Billing::Do, "WallTimeMs").alias(Metric::DoWall.column()),
        billed(Billing::Do, "CPUTimeMs").alias(Metric::DoCpu.column()),
        billed(Billing::Worker, "CPUTimeMs").alias(Metric::WorkerCpu.column()),
        billed(Billing::Worker, "WallTimeMs").alias(Metric::WorkerWall.column()),
        legs_billed(Billing::Do).alias(Metric::DoInvocations.column()),
        legs_billed(Billing::Worker).alias(Metric::WorkerInvocations.column()),
        requests_billed(Billing::Do).alias(DO_REQUESTS_BILLED),
        requests_billed(Billing::Worker).alias(WORKER_REQUESTS_BILLED),
        col("EventTimestampMs").min().alias("first_event_ms"),
        (col("EventTimestampMs") + col("WallTimeMs").fill_null(lit(0)))
            .max()
            .alias("last_end_ms"),
        len().cast(DataType::Int64).alias("legs"),
    ];
    aggs.extend(leg_attributes());
    for role in t.role_names() {
        aggs.push(
            col("role")
                .eq(lit(role.as_str()))
                .any(true)
                .alias(has_role_column(&role)),
        );
    }
    let delay_constant = t.delay.constant.as_ref().and_then(|c| c.as_integer());
    let delay = match delay_constant {
        Some(c) => coalesce(&[col("delay_ms"), lit(c)]),
        None => col("delay_ms"),
    };
    legs.filter(col("role").is_not_null())
        .with_column(leg_columns())
        .group_by([col("request_id")])
        .agg(aggs)
        .with_columns([
            rules::approach_fallback_expr(&t.approach, col("approach")).alias("approach"),
            delay.alias("delay_ms"),
            (col("last_end_ms") - col("first_event_ms")).alias(Metric::Span.column()),
            none_if_empty(SCRIPT_VERSION),
            none_if_empty("outcomes"),
        ])
        .sort(merge::ORDER, SortMultipleOptions::default())
}

/// What the run manifest did, for the quality table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ManifestCounts {
    pub used: bool,
    pub windows: u64,
    pub assigned: u64,
    pub latency_attached: u64,
    pub outside_windows: u64,
    pub in_several_windows: u64,
    pub disagreeing: u64,
    /// Per window of the index: whether a request's first event fell in it.
    pub matched: Vec<bool>,
}

impl ManifestCounts {
    /// Windows of the transform's window in which no request's first event
    /// fell: requests the logs lost (or never delivered), in start order.
    pub fn lost<'a>(&self, index: &'a Index, window: &Window) -> Vec<&'a RunWindow> {
        let from = window.from.map_or(i64::MIN, |t| t.timestamp_millis());
        let to = window.to.map_or(i64::MAX, |t| t.timestamp_millis());
        (index.windows().iter().zip(&self.matched))
            .filter(|(w, matched)| !**matched && w.end_ms >= from && w.start_ms < to)
            .map(|(w, _)| w)
            .collect()
    }
}

/// Fills approach and delay of requests that carry neither from the window
/// holding their first event, and attaches client latency where the window
/// agrees with the request. Nothing is guessed: no window or several are
/// counted, into `counts`.
pub fn apply_run_manifest(
    base: DataFrame,
    index: Option<&Index>,
    counts: &mut ManifestCounts,
) -> Result<DataFrame> {
    let n = base.height();
    let mut approach: Vec<Option<String>> = base
        .column("approach")?
        .str()?
        .iter()
        .map(|v| v.map(String::from))
        .collect();
    let mut delay: Vec<Option<i64>> = base.column("delay_ms")?.i64()?.iter().collect();
    let mut latency: Vec<Option<f64>> = vec![None; n];
    let mut run_id: Vec<Option<String>> = vec![None; n];
    if let Some(index) = index {
        let first: Vec<Option<i64>> = base.column("first_event_ms")?.i64()?.iter().collect();
        let ids: Vec<Option<&str>> = base.column("request_id")?.str()?.iter().collect();
        for i in 0..n {
            let Some(t) = first[i] else { continue };
            // The id the client gave the request, when the manifest has it: exact,
            // whatever the clocks; else the window its first event falls in.
            let by_id = ids[i].and_then(|id| index.find_id(id));
            let found = match by_id {
                Some((at, w)) => Match::One(at, w),
                None => index.find(t),
            };
            match found {
                Match::One(at, w) => {
                    counts.matched[at] = true;
                    if approach[i].is_none() || delay[i].is_none() {
                        counts.assigned += 1;
                    }
                    let a = approach[i].get_or_insert_with(|| w.approach.clone());
                    let d = delay[i].get_or_insert(w.delay_ms);
                    if *a == w.approach && *d == w.delay_ms {
                        latency[i] = w.client_latency_ms;
                        run_id[i] = w.run_id.clone();
                        counts.latency_attached += u64::from(w.client_latency_ms.is_some());
                    } else {
                        counts.disagreeing += 1;
                    }
                }
                Match::NoWindow => counts.outside_windows += 1,
                Match::Ambiguous(all) => {
                    all.into_iter().for_each(|at| counts.matched[at] = true);
                    counts.in_several_windows += 1;
                }
            }
        }
    }
    let mut base = base;
    base.with_column(Column::new("approach".into(), approach))?;
    base.with_column(Column::new("delay_ms".into(), delay))?;
    base.with_column(Column::new(Metric::ClientLatency.column().into(), latency))?;
    base.with_column(Column::new("run_id".into(), run_id))?;
    Ok(base)
}

/// What a request's approach decides: whether it is complete, which roles
/// it misses, and the storage rows it bills.
struct ApproachTerms {
    complete: Expr,
    missing: Expr,
    rows_written: Expr,
    rows_read: Expr,
}

/// [`ApproachTerms`] of every declared approach, as one expression each.
fn approach_terms(t: &TransformSection) -> ApproachTerms {
    let present = |role: &str| col(has_role_column(role));
    let mut terms = ApproachTerms {
        complete: lit(false),
        missing: when(col("approach").is_null())
            .then(lit(APPROACH_UNKNOWN))
            .when(col("delay_ms").is_null())
            .then(lit(DELAY_UNKNOWN))
            .otherwise(lit(APPROACH_NOT_DECLARED)),
        rows_written: lit(0.0),
        rows_read: lit(0.0),
    };
    for (name, spec) in t.approaches.iter().rev() {
        let this = col("approach").eq(lit(name.as_str())).fill_null(lit(false));
        let roles = &spec.required_roles;
        let all = (roles.iter().map(|r| present(r)).reduce(Expr::and)).unwrap_or(lit(true));
        let delay_known = col("delay_ms").gt_eq(lit(0)).fill_null(lit(false));
        let absent: Vec<Expr> = (roles.iter())
            .map(|r| {
                when(present(r).not())
                    .then(lit(r.as_str()))
                    .otherwise(null_str())
            })
            .collect();
        let absent = match absent.is_empty() {
            true => lit(""),
            false => concat_str(absent, ",", true),
        };
        let absent = when(col("delay_ms").is_null())
            .then(lit(DELAY_UNKNOWN))
            .when(col("delay_ms").lt(lit(0)))
            .then(lit(NEGATIVE_DELAY))
            .otherwise(absent);
        let pick = |then: Expr, otherwise: Expr| when(this.clone()).then(then).otherwise(otherwise);
        terms = ApproachTerms {
            complete: pick(all.and(delay_known), terms.complete),
            missing: pick(absent, terms.missing),
            rows_written: pick(lit(spec.rows_written), terms.rows_written),
            rows_read: pick(lit(spec.rows_read), terms.rows_read),
        };
    }
    terms
}

/// Legs of a request billed a request fee, per billing type.
pub const DO_REQUESTS_BILLED: &str = "do_requests_billed";
pub const WORKER_REQUESTS_BILLED: &str = "worker_requests_billed";

/// The cost of a request, from `core::cost`'s one definition, with the
/// Worker legs billed a request fee counted by `worker_requests`.
fn cost_expr(terms: &ApproachTerms, prices: &Prices, worker_requests: Expr) -> Expr {
    let f = |c: &str| col(c).cast(DataType::Float64);
    let usage = Usage {
        do_wall_ms: f(Metric::DoWall.column()),
        do_requests: f(DO_REQUESTS_BILLED),
        worker_cpu_ms: f(Metric::WorkerCpu.column()),
        worker_requests: worker_requests.cast(DataType::Float64),
        rows_written: terms.rows_written.clone(),
        rows_read: terms.rows_read.clone(),
    };
    (usage.priced(prices).into_iter())
        .map(|(quantity, price)| quantity * lit(price))
        .reduce(|a, b| a + b)
        .expect("six priced quantities")
}

/// Completeness, missing roles and cost, then the contract's columns in order.
pub fn finish(base: LazyFrame, t: &TransformSection, prices: &Prices) -> LazyFrame {
    let terms = approach_terms(t);
    let roles = t.role_names();
    let roles_present = (roles.iter())
        .map(|r| (when(col(has_role_column(r))).then(lit(r.as_str()))).otherwise(null_str()))
        .collect::<Vec<_>>();
    // The other assumption flips every Worker role: the Worker legs not billed now are.
    let worker_flipped = col(Metric::WorkerInvocations.column()) - col(WORKER_REQUESTS_BILLED);
    base.with_columns([
        cost_expr(&terms, prices, col(WORKER_REQUESTS_BILLED)).alias(Metric::Cost.column()),
        cost_expr(&terms, prices, worker_flipped).alias(Metric::CostOtherBilling.column()),
        terms.complete.alias("complete"),
        concat_str(roles_present, ",", true).alias("roles"),
        terms.missing.alias("missing_roles"),
    ])
    .select(
        (request_columns().into_iter())
            .map(|(name, dtype)| col(name).strict_cast(dtype))
            .collect::<Vec<_>>(),
    )
}
