//! The lake: its layout, what its manifest owns, and the scans that read it back.
//!
//! ```text
//! <lake>/date=YYYY-MM-DD/segment-<hash>.parquet       rows of up to 64 objects of a run (segment.rs)
//! <lake>/date=YYYY-MM-DD/<object>-<keyhash>.parquet   an object with more than a row group on a date
//! <lake>/_manifest.json                               what each source object produced
//! <lake>/_derived/                                    outputs of later steps
//! <lake>/_quarantine/                                 bad lines and objects (default place)
//! ```
//! Names starting with `_` or `.` are skipped by pyarrow/pandas dataset readers.
//! Every lake file is written through `io::atomic`.

pub mod delivery;
pub mod derived;
pub mod filters;
pub mod iceberg;
pub mod imported;
pub mod lock;
pub mod manifest;
pub mod run_manifest;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::core::window::Window;
use crate::io::atomic::TMP_MARK;
pub use lock::LakeLock;

/// Whether the mirror could have written a file of this name (or its
/// temporary): a stem and a 16-hex-digit hash, then one of its suffixes
/// (`.parquet`, `.jsonl`, `.object`, `.tail`, `.reason.json`). The sweep
/// removes only such files, so a lake or quarantine pointed at a folder
/// that holds other things never loses them.
pub fn is_mirror_name(name: &str) -> bool {
    let name = match name.strip_prefix('.').and_then(|n| n.split_once(TMP_MARK)) {
        Some((inner, _)) => inner,
        None => name,
    };
    let suffixes = [
        ".parquet",
        ".jsonl",
        ".object",
        ".tail",
        ".reason.json",
        ".tail.reason.json",
    ];
    suffixes.iter().any(|suffix| {
        name.strip_suffix(suffix)
            .and_then(|stem| stem.rsplit_once('-'))
            .is_some_and(|(head, hash)| {
                !head.is_empty()
                    && hash.len() == 16
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            })
    }) || name == self::manifest::FILE_NAME
}

/// File-system-safe name for a source object: a readable stem plus a hash of
/// the whole key, so no key (`..`, `/`, absolute paths) can steer a write.
pub fn object_stem(key: &str) -> String {
    let base = key.rsplit('/').next().unwrap_or(key);
    let base = base
        .strip_suffix(".gz")
        .unwrap_or(base)
        .trim_end_matches(".log")
        .trim_end_matches(".json");
    let mut stem: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if stem.is_empty() {
        stem.push_str("object");
    }
    format!("{stem}-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
}

/// `date=YYYY-MM-DD` for days since the epoch. Rows reach the lake only
/// within `limits::event_time_in_range`, so the date is always valid.
pub fn partition_dir(epoch_day: i32) -> String {
    let date = chrono::NaiveDate::from_num_days_from_ce_opt(epoch_day.saturating_add(719_163))
        .expect("event dates are checked against crate::core::limits");
    format!("date={}", date.format("%Y-%m-%d"))
}

/// Lake files that the manifest owns and whose `date=` partition can hold
/// events of the window. Only owned files: a killed mirror leaves files no
/// entry names, which its rerun removes or rewrites.
pub fn lake_files(lake_dir: &Path, window: &Window) -> Result<Vec<String>> {
    let manifest = self::manifest::Manifest::load(lake_dir)?;
    let owned: std::collections::BTreeSet<&str> = manifest
        .objects
        .values()
        .flat_map(|e| e.files.iter().map(String::as_str))
        .collect();
    let mut files = Vec::new();
    for rel in owned {
        let Some((day, _)) = rel.strip_prefix("date=").and_then(|r| r.split_once('/')) else {
            continue;
        };
        let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
            continue;
        };
        if window.may_hold_day(day) {
            files.push(lake_dir.join(rel).to_string_lossy().into_owned());
        }
    }
    Ok(files)
}

/// Whether a lake row's event time is inside the window.
pub fn in_window(window: &Window) -> Expr {
    let time = || col("EventTimestampMs");
    let from = window.from.map(|f| time().gt_eq(lit(f.timestamp_millis())));
    let to = window.to.map(|t| time().lt(lit(t.timestamp_millis())));
    [from, to].into_iter().flatten().fold(lit(true), Expr::and)
}

/// The lake columns that say what a leg is and did: what explore reads, and
/// the first columns the transform reads.
pub const LEG_FIELDS: [&str; 12] = [
    "event_id",
    "EventTimestampMs",
    "ScriptName",
    "Entrypoint",
    "EventType",
    "ExecutionModel",
    "RpcMethod",
    "RequestURL",
    "LogMessages",
    "Outcome",
    "WallTimeMs",
    "CPUTimeMs",
];

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

/// `columns` of one lake file, read eagerly on the calling thread: a step
/// reads many small files one task each, which is several times faster than a
/// lazy scan's per-file setup.
pub fn read_lake_file(path: &str, columns: &[&str]) -> Result<DataFrame> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    ParquetReader::new(file)
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .read_parallel(ParallelStrategy::None)
        .finish()
        .map_err(|e| {
            anyhow::anyhow!("cannot read {path}: {e}; remove it and run `tracecost mirror` again")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::atomic::tmp_path;

    #[test]
    fn only_names_the_mirror_writes_are_its_own() {
        let stem = object_stem("20251118/x.log.gz");
        let ours = [
            "segment-00ff00ff00ff00ff.parquet".to_string(),
            format!("{stem}.parquet"),
            format!("{stem}.object"),
            format!("{stem}.tail.reason.json"),
            "segment-00ff00ff00ff00ff.jsonl".into(),
            tmp_path(Path::new("segment-00ff00ff00ff00ff.parquet"))
                .to_string_lossy()
                .into_owned(),
            "._manifest.json.tmp-1-2".into(),
        ];
        for name in &ours {
            assert!(is_mirror_name(name), "{name}");
        }
        for name in [
            "notes.txt",
            "a.parquet",
            "x-123.parquet",
            "keep-00FF00FF00FF00FF.parquet",
            ".draft.tmp-1",
            "-00ff00ff00ff00ff.parquet",
        ] {
            assert!(!is_mirror_name(name), "{name}");
        }
    }

    #[test]
    fn hostile_keys_stay_inside_the_lake() {
        for key in ["../../etc/passwd", "/abs/x.log.gz", "a/../../b", "..", ""] {
            let stem = object_stem(key);
            assert!(
                !stem.contains('/') && !stem.contains(".."),
                "{key} -> {stem}"
            );
            assert!(!stem.is_empty());
        }
        assert_ne!(object_stem("a/x.log.gz"), object_stem("b/x.log.gz"));
        assert!(
            object_stem("20251118/20251118T204500Z_20251118T205000Z_1a2b.log.gz")
                .starts_with("20251118T204500Z_20251118T205000Z_1a2b-")
        );
    }

    #[test]
    fn partition_names_follow_the_utc_day() {
        assert_eq!(partition_dir(0), "date=1970-01-01");
        assert_eq!(partition_dir(20410), "date=2025-11-18");
    }
}
