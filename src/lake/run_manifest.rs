//! Run manifests: the windows of the client that drove a run. They give
//! approach and delay to requests that carry neither, and client latency.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::core::window::parse_utc;

#[derive(Debug, Clone, PartialEq)]
pub struct RunWindow {
    pub approach: String,
    pub delay_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub run_id: Option<String>,
    pub client_latency_ms: Option<f64>,
    /// The id the client gave the request, when the manifest says it.
    pub req_id: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    approach: String,
    delay_ms: i64,
    start: String,
    end: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    client_latency_ms: Option<f64>,
    #[serde(default)]
    req_id: Option<String>,
    /// `drive`'s warm-up requests: recorded, left out of the windows.
    #[serde(default)]
    warmup: Option<String>,
}

/// A time as epoch milliseconds or a UTC date-time.
fn parse_time(text: &str) -> Result<i64> {
    match text.trim().parse::<i64>() {
        Ok(ms) => Ok(ms),
        Err(_) => Ok(parse_utc(text, false)?.timestamp_millis()),
    }
}

/// What a row must hold beyond its types: a delay and a client latency are
/// durations, so not negative (nor NaN or infinite).
fn check_row(row: &Row) -> Result<()> {
    if row.delay_ms < 0 {
        bail!("delay_ms {} is negative", row.delay_ms);
    }
    if let Some(ms) = row
        .client_latency_ms
        .filter(|ms| !ms.is_finite() || *ms < 0.0)
    {
        bail!("client_latency_ms {ms} is not a duration of 0 ms or more");
    }
    Ok(())
}

/// The windows of a manifest; warm-up rows (`warmup` = true, written by
/// `drive`) are left out and counted on stderr. Columns it does not know
/// (`status`, `error`) are ignored.
pub fn load(path: &Path) -> Result<Vec<RunWindow>> {
    let (windows, warmups) = load_counted(path)?;
    if warmups > 0 {
        eprintln!(
            "note: run manifest {}: {warmups} warm-up rows left out",
            path.display()
        );
    }
    Ok(windows)
}

/// The windows of a manifest and the number of warm-up rows left out.
pub fn load_counted(path: &Path) -> Result<(Vec<RunWindow>, usize)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read run manifest {}", path.display()))?;
    let mut out = Vec::new();
    let mut warmups = 0;
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| {
            anyhow::anyhow!(
                "run manifest {} line {line}: {e}; expected columns approach, delay_ms, start, end[, run_id, client_latency_ms, req_id]",
                path.display()
            )
        })?;
        let at = |t: &str| {
            parse_time(t).with_context(|| format!("run manifest {} line {line}", path.display()))
        };
        match row.warmup.as_deref().map(str::trim) {
            Some("true") => {
                warmups += 1;
                continue;
            }
            None | Some("" | "false") => {}
            Some(other) => bail!(
                "run manifest {} line {line}: warmup {other:?} is not true or false",
                path.display()
            ),
        }
        check_row(&row).with_context(|| format!("run manifest {} line {line}", path.display()))?;
        let (start_ms, end_ms) = (at(&row.start)?, at(&row.end)?);
        if end_ms < start_ms {
            bail!(
                "run manifest {} line {line}: end {} is before start {}",
                path.display(),
                row.end,
                row.start
            );
        }
        out.push(RunWindow {
            approach: row.approach,
            delay_ms: row.delay_ms,
            start_ms,
            end_ms,
            run_id: row.run_id.filter(|s| !s.is_empty()),
            client_latency_ms: row.client_latency_ms,
            req_id: row.req_id.filter(|s| !s.is_empty()),
        });
    }
    Ok((out, warmups))
}

/// The window(s) holding a time, by their place in [`Index::windows`].
#[derive(Debug, PartialEq)]
pub enum Match<'a> {
    One(usize, &'a RunWindow),
    NoWindow,
    Ambiguous(Vec<usize>),
}

/// Windows sorted by start, for lookups by time, and by the id the client
/// gave each request.
pub struct Index {
    windows: Vec<RunWindow>,
    longest_ms: i64,
    /// Window of each request id that names one window only.
    ids: std::collections::HashMap<String, usize>,
}

impl Index {
    pub fn new(mut windows: Vec<RunWindow>) -> Self {
        windows.sort_by_key(|w| (w.start_ms, w.end_ms));
        let longest_ms = windows
            .iter()
            .map(|w| w.end_ms - w.start_ms)
            .max()
            .unwrap_or(0);
        let mut ids = std::collections::HashMap::new();
        let mut repeated = std::collections::HashSet::new();
        for (i, id) in windows
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((i, w.req_id.clone()?)))
        {
            if ids.insert(id.clone(), i).is_some() {
                repeated.insert(id);
            }
        }
        // An id on several rows (a request sent again after a resume) names no one window.
        ids.retain(|id, _| !repeated.contains(id));
        Index {
            windows,
            longest_ms,
            ids,
        }
    }

    /// The window of the request the client named `id`, if one row names it.
    pub fn find_id(&self, id: &str) -> Option<(usize, &RunWindow)> {
        let i = *self.ids.get(id)?;
        Some((i, &self.windows[i]))
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Every window, sorted by (start, end): a [`Match`]'s numbers index it.
    pub fn windows(&self) -> &[RunWindow] {
        &self.windows
    }

    /// The window holding `t` (start ≤ t ≤ end), if exactly one does; else
    /// all that do.
    pub fn find(&self, t: i64) -> Match<'_> {
        let upto = self.windows.partition_point(|w| w.start_ms <= t);
        let mut found = Vec::new();
        for (i, w) in self.windows[..upto].iter().enumerate().rev() {
            if w.start_ms < t.saturating_sub(self.longest_ms) {
                break;
            }
            if w.end_ms >= t {
                found.push(i);
            }
        }
        match found[..] {
            [] => Match::NoWindow,
            [i] => Match::One(i, &self.windows[i]),
            _ => Match::Ambiguous(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> RunWindow {
        RunWindow {
            approach: "direct".into(),
            delay_ms: 0,
            start_ms: start,
            end_ms: end,
            run_id: None,
            client_latency_ms: None,
            req_id: None,
        }
    }

    #[test]
    fn a_time_in_one_window_matches_it_and_others_are_counted() {
        let index = Index::new(vec![w(100, 200), w(300, 400), w(350, 500), w(0, 50)]);
        assert_eq!(index.find(150), Match::One(1, &w(100, 200)));
        assert_eq!(index.find(100), Match::One(1, &w(100, 200)));
        assert_eq!(index.find(250), Match::NoWindow);
        assert_eq!(index.find(360), Match::Ambiguous(vec![3, 2]));
        assert_eq!(index.find(450), Match::One(3, &w(350, 500)));
        assert_eq!(index.find(-5), Match::NoWindow);
        assert_eq!(index.find(i64::MIN), Match::NoWindow);
        assert_eq!(index.windows()[1], w(100, 200));
    }

    #[test]
    fn a_req_id_column_is_read_and_an_empty_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let text = "approach,delay_ms,start,end,req_id\ndirect,0,1,2,ab12\ndirect,0,3,4,\n";
        std::fs::write(&path, text).unwrap();
        let ids: Vec<Option<String>> = (load(&path).unwrap().into_iter())
            .map(|w| w.req_id)
            .collect();
        assert_eq!(ids, [Some("ab12".to_string()), None]);
    }

    #[test]
    fn drive_columns_are_read_and_warmup_rows_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let text = "run_id,approach,delay_ms,req_id,start,end,client_latency_ms,status,error,warmup\n\
            warmup,direct,0,aa,2025-11-18T20:45:00.000Z,2025-11-18T20:45:00.010Z,10.000,200,,true\n\
            run0,direct,0,bb,2025-11-18T20:45:01.000Z,2025-11-18T20:45:01.020Z,20.000,,timeout,false\n";
        std::fs::write(&path, text).unwrap();
        let (windows, warmups) = load_counted(&path).unwrap();
        assert_eq!(warmups, 1);
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].req_id.as_deref(), Some("bb"));
        assert_eq!(windows[0].client_latency_ms, Some(20.0));
        std::fs::write(&path, text.replace("true", "yes")).unwrap();
        assert!(load(&path)
            .unwrap_err()
            .to_string()
            .contains("warmup \"yes\""));
    }

    #[test]
    fn times_parse_as_epoch_ms_or_utc() {
        assert_eq!(parse_time("1763509500000").unwrap(), 1763509500000);
        assert_eq!(
            parse_time("2025-11-18T23:45:00.000Z").unwrap(),
            1763509500000
        );
    }
}
