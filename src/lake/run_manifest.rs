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

pub fn load(path: &Path) -> Result<Vec<RunWindow>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read run manifest {}", path.display()))?;
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| {
            anyhow::anyhow!(
                "run manifest {} line {line}: {e}; expected columns approach, delay_ms, start, end[, run_id, client_latency_ms]",
                path.display()
            )
        })?;
        let at = |t: &str| {
            parse_time(t).with_context(|| format!("run manifest {} line {line}", path.display()))
        };
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
        });
    }
    Ok(out)
}

#[derive(Debug, PartialEq)]
pub enum Match<'a> {
    One(&'a RunWindow),
    NoWindow,
    Ambiguous,
}

/// Windows sorted by start, for lookups by time.
pub struct Index {
    windows: Vec<RunWindow>,
    longest_ms: i64,
}

impl Index {
    pub fn new(mut windows: Vec<RunWindow>) -> Self {
        windows.sort_by_key(|w| (w.start_ms, w.end_ms));
        let longest_ms = windows
            .iter()
            .map(|w| w.end_ms - w.start_ms)
            .max()
            .unwrap_or(0);
        Index {
            windows,
            longest_ms,
        }
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The window holding `t` (start ≤ t ≤ end), if exactly one does.
    pub fn find(&self, t: i64) -> Match<'_> {
        let upto = self.windows.partition_point(|w| w.start_ms <= t);
        let mut found = None;
        for w in self.windows[..upto].iter().rev() {
            if w.start_ms < t - self.longest_ms {
                break;
            }
            if w.end_ms >= t {
                if found.is_some() {
                    return Match::Ambiguous;
                }
                found = Some(w);
            }
        }
        found.map_or(Match::NoWindow, Match::One)
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
        }
    }

    #[test]
    fn a_time_in_one_window_matches_it_and_others_are_counted() {
        let index = Index::new(vec![w(100, 200), w(300, 400), w(350, 500), w(0, 50)]);
        assert_eq!(index.find(150), Match::One(&w(100, 200)));
        assert_eq!(index.find(100), Match::One(&w(100, 200)));
        assert_eq!(index.find(250), Match::NoWindow);
        assert_eq!(index.find(360), Match::Ambiguous);
        assert_eq!(index.find(450), Match::One(&w(350, 500)));
        assert_eq!(index.find(-5), Match::NoWindow);
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
