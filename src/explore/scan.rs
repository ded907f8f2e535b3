//! The lake's legs of a window, one at a time: a lake file is read, its
//! rows handed out as [`LegView`]s and dropped, so memory follows a file.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::fields::LegView;
use crate::core::window::Window;
use crate::lake::{lake_files, read_lake_file, LEG_FIELDS};

/// Event ids remembered per day to count a line delivered twice once
/// (8 bytes each, 64 MB at most); past it, duplicates count twice.
const MAX_SEEN: usize = 4 << 20;

/// What a scan read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scanned {
    pub files: usize,
    pub legs: u64,
    /// Lines delivered twice (the same event id on one day), counted once.
    pub duplicates: u64,
    /// Legs of days with more than [`MAX_SEEN`] legs, not checked for duplicates.
    pub unchecked: u64,
}

/// Calls `f` with every leg of the window and its event id, once per event id and day.
pub fn each_leg(
    lake: &Path,
    window: &Window,
    mut f: impl FnMut(&LegView, &str),
) -> Result<Scanned> {
    let files = lake_files(lake, window)?;
    let mut scanned = Scanned {
        files: files.len(),
        ..Default::default()
    };
    // Files come sorted, so a day's files follow each other: the set of
    // event ids seen is one day's at most.
    let mut day = String::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for file in &files {
        let file_day = file
            .split("date=")
            .last()
            .unwrap_or("")
            .get(..10)
            .unwrap_or("");
        if file_day != day {
            day = file_day.to_string();
            seen.clear();
        }
        let df = read_lake_file(file, &LEG_FIELDS)?;
        each_row(&df, window, |leg, id| {
            let hash = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
            if seen.contains(&hash) && !id.is_empty() {
                scanned.duplicates += 1;
                return;
            }
            if seen.len() < MAX_SEEN {
                seen.insert(hash);
            } else {
                scanned.unchecked += 1;
            }
            scanned.legs += 1;
            f(leg, id);
        })?;
    }
    Ok(scanned)
}

fn each_row(df: &DataFrame, window: &Window, mut f: impl FnMut(&LegView, &str)) -> Result<()> {
    let s = |name: &str| df.column(name).and_then(|c| c.str().cloned());
    let i = |name: &str| df.column(name).and_then(|c| c.i64().cloned());
    let (ids, ts, wall, cpu) = (
        s("event_id")?,
        i("EventTimestampMs")?,
        i("WallTimeMs")?,
        i("CPUTimeMs")?,
    );
    let (script, entry, event, model) = (
        s("ScriptName")?,
        s("Entrypoint")?,
        s("EventType")?,
        s("ExecutionModel")?,
    );
    let (rpc, url, logs, outcome) = (
        s("RpcMethod")?,
        s("RequestURL")?,
        s("LogMessages")?,
        s("Outcome")?,
    );
    let from = window.from.map(|t| t.timestamp_millis());
    let to = window.to.map(|t| t.timestamp_millis());
    for row in 0..df.height() {
        let Some(ts) = ts.get(row) else { continue };
        if from.is_some_and(|f| ts < f) || to.is_some_and(|t| ts >= t) {
            continue;
        }
        let leg = LegView {
            ts,
            script: script.get(row).unwrap_or(""),
            entrypoint: entry.get(row).unwrap_or(""),
            event_type: event.get(row).unwrap_or(""),
            model: model.get(row).unwrap_or(""),
            rpc: rpc.get(row),
            url: url.get(row),
            logs: logs.get(row),
            outcome: outcome.get(row).unwrap_or(""),
            wall: wall.get(row),
            cpu: cpu.get(row),
        };
        f(&leg, ids.get(row).unwrap_or(""));
    }
    Ok(())
}
