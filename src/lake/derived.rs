//! What the transform leaves for the report, under `<lake>/_derived/<pipeline>/`:
//! the per-request table, the quality table and the lost requests.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;

use super::run_manifest::RunWindow;
use crate::core::metric::Metric;

/// Where transform writes and report reads.
pub fn derived_dir(lake: &Path, pipeline: &str) -> PathBuf {
    lake.join("_derived").join(pipeline)
}

pub const REQUESTS_FILE: &str = "requests.parquet";
/// The order of the rows of `requests.parquet`: time, then id.
pub const REQUEST_ORDER: [&str; 2] = ["first_event_ms", "request_id"];
pub const LEGS_FILE: &str = "legs.parquet";
pub const QUALITY_FILE: &str = "quality.parquet";

/// Request columns a deployment's requests can be segmented by: the colo of
/// the first leg that has one, and the script versions of its legs.
pub const COLO: &str = "colo";
pub const SCRIPT_VERSION: &str = "script_version";
pub const SEGMENT_COLUMNS: [&str; 2] = [COLO, SCRIPT_VERSION];
/// The run manifest's windows in which no request's first event fell.
pub const LOST_FILE: &str = "lost.parquet";

/// Every column of `requests.parquet`, in order, with its type.
pub fn request_columns() -> Vec<(&'static str, DataType)> {
    use DataType::{Boolean, Float64, Int64, String as Text};
    let mut columns = vec![
        ("request_id", Text),
        ("approach", Text),
        ("delay_ms", Int64),
        ("complete", Boolean),
    ];
    let metrics = (Metric::OF_LEGS.into_iter()).filter(|m| *m != Metric::CostOtherBilling);
    columns.extend(metrics.map(|m| match m {
        Metric::Cost => (m.column(), Float64),
        _ => (m.column(), Int64),
    }));
    columns.extend([
        ("first_event_ms", Int64),
        (Metric::ClientLatency.column(), Float64),
        ("run_id", Text),
        ("legs", Int64),
        ("roles", Text),
        ("missing_roles", Text),
        (COLO, Text),
        (SCRIPT_VERSION, Text),
        ("legs_not_ok", Int64),
        ("outcomes", Text),
        ("do_requests_billed", Int64),
        ("worker_requests_billed", Int64),
        (Metric::CostOtherBilling.column(), Float64),
    ]);
    columns
}

/// `requests.parquet`, read back by the report.
pub struct RequestsFile {
    path: PathBuf,
}

impl RequestsFile {
    /// A requests file at `path` (an imported one: `super::imported`).
    pub fn at(path: &Path) -> Self {
        RequestsFile {
            path: path.to_path_buf(),
        }
    }

    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(REQUESTS_FILE);
        if !path.is_file() {
            bail!(
                "cannot open {}: run `tracecost transform` first",
                path.display()
            );
        }
        Ok(RequestsFile { path })
    }

    fn reader(&self) -> Result<ParquetReader<std::fs::File>> {
        let file = std::fs::File::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        Ok(ParquetReader::new(file))
    }

    pub fn rows(&self) -> Result<usize> {
        (self.reader()?.num_rows())
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.path.display()))
    }

    /// `columns` (all when `None`) of the rows `offset..offset + len` (all when `None`).
    pub fn read(
        &self,
        columns: Option<&[&str]>,
        rows: Option<(usize, usize)>,
    ) -> Result<DataFrame> {
        (self.reader()?)
            .with_columns(columns.map(|c| c.iter().map(|c| c.to_string()).collect()))
            .with_slice(rows)
            .finish()
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.path.display()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QualityRow {
    pub item: String,
    pub detail: String,
    pub approach: Option<String>,
    pub delay_ms: Option<i64>,
    pub count: u64,
}

fn str_values(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(String::from))
        .collect())
}

pub fn to_frame(rows: &[QualityRow]) -> PolarsResult<DataFrame> {
    df! {
        "item" => rows.iter().map(|r| r.item.as_str()).collect::<Vec<_>>(),
        "detail" => rows.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
        "approach" => rows.iter().map(|r| r.approach.as_deref()).collect::<Vec<_>>(),
        "delay_ms" => rows.iter().map(|r| r.delay_ms).collect::<Vec<_>>(),
        "count" => rows.iter().map(|r| r.count).collect::<Vec<_>>(),
    }
}

/// The windows of `lost.parquet`: approach, delay_ms, start and end (UTC
/// times), req_id and run_id (null when the manifest has none).
pub fn lost_frame(windows: &[&RunWindow]) -> PolarsResult<DataFrame> {
    let time = |name: &str, ms: Vec<i64>| {
        Int64Chunked::from_vec(name.into(), ms)
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
            .into_column()
    };
    let n = windows.len();
    let columns = vec![
        Column::new(
            "approach".into(),
            windows
                .iter()
                .map(|w| w.approach.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "delay_ms".into(),
            windows.iter().map(|w| w.delay_ms).collect::<Vec<_>>(),
        ),
        time("start", windows.iter().map(|w| w.start_ms).collect()),
        time("end", windows.iter().map(|w| w.end_ms).collect()),
        Column::new(
            "req_id".into(),
            windows
                .iter()
                .map(|w| w.req_id.as_deref())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "run_id".into(),
            windows
                .iter()
                .map(|w| w.run_id.as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(n, columns)
}

/// Reads the table back from its frame (report step).
pub fn from_frame(df: &DataFrame) -> Result<Vec<QualityRow>> {
    let text = |n: &str| str_values(df, n);
    let (item, detail, approach) = (text("item")?, text("detail")?, text("approach")?);
    let delay: Vec<Option<i64>> = df
        .column("delay_ms")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect();
    let count: Vec<Option<u64>> = df
        .column("count")?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .collect();
    Ok((0..df.height())
        .map(|i| QualityRow {
            item: item[i].clone().unwrap_or_default(),
            detail: detail[i].clone().unwrap_or_default(),
            approach: approach[i].clone(),
            delay_ms: delay[i],
            count: count[i].unwrap_or(0),
        })
        .collect())
}

/// Sum of counts of an item (all details), or of one detail.
pub fn total(rows: &[QualityRow], item: &str, detail: Option<&str>) -> u64 {
    rows.iter()
        .filter(|r| r.item == item && detail.is_none_or(|d| r.detail == d))
        .fold(0, |sum, r| sum.saturating_add(r.count))
}

/// The quality item of legs whose Outcome is present and not `ok`.
pub const LEGS_NOT_OK: &str = "legs not ok";
/// The quality item of run-manifest windows in which no request fell.
pub const REQUESTS_LOST: &str = "requests lost";
pub const REQUESTS_LOST_DETAIL: &str = "run-manifest window with no event";

/// The row of wrangler tail's "Tail is currently in sampling mode" notices:
/// each says the capture dropped events.
pub const SAMPLING_ITEM: &str = "source lines";
pub const SAMPLING_DETAIL: &str = "wrangler tail sampling notices (events dropped)";

/// The sampling notices over every source object of the lake.
pub fn sampling_notices(rows: &[QualityRow]) -> u64 {
    total(rows, SAMPLING_ITEM, Some(SAMPLING_DETAIL))
}
