//! Lazy scans of the lake, limited to the date partitions a window needs.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Window;
use crate::mirror::lake;

/// Lake files whose `date=` partition can hold events of the window.
pub fn lake_files(lake_dir: &Path, window: &Window) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for rel in lake::list_files(lake_dir, &["_derived", "_quarantine"])? {
        let Some(rest) = rel.strip_prefix("date=") else {
            continue;
        };
        let Some((day, name)) = rest.split_once('/') else {
            continue;
        };
        if !name.ends_with(".parquet") || name.starts_with(lake::TMP_PREFIX) {
            continue;
        }
        let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
            continue;
        };
        if window.may_hold_day(day) {
            files.push(lake_dir.join(&rel).to_string_lossy().into_owned());
        }
    }
    Ok(files)
}

/// Every lake row of the window's partitions, lazily; `None` when there are none.
pub fn scan_lake(lake_dir: &Path, window: &Window) -> Result<Option<LazyFrame>> {
    let files = lake_files(lake_dir, window)?;
    if files.is_empty() {
        return Ok(None);
    }
    let paths: Vec<PlRefPath> = files.iter().map(|f| PlRefPath::new(f.as_str())).collect();
    let lf = LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
        .map_err(|e| anyhow::anyhow!("cannot read the lake {}: {e}", lake_dir.display()))?;
    Ok(Some(lf))
}
