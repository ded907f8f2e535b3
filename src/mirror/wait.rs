//! `tracecost mirror --wait`: Logpush delivers events 1-10 minutes after
//! they happen, so the mirror polls until the lake holds what the analysis
//! needs, and then until the goal's time plus a margin has passed, so that
//! the events delivered late arrive too. The margin is `--margin` (or
//! `[mirror] margin`), else the p99 delivery delay of the objects the lake
//! received in the last 7 days, never below [`MARGIN_FLOOR`].

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::*;

use crate::core::numbers::thousands;
use crate::core::window::parse_utc;
use crate::lake::delivery;
use crate::lake::filters::Filters;
use crate::lake::manifest::{Entry, Manifest};
use crate::lake::run_manifest::{self, RunWindow};
use crate::lake::{in_window, scan_lake};

/// What the lake must hold before the wait is over.
#[derive(Debug, Clone)]
pub enum Goal {
    /// Events up to this time.
    Until(DateTime<Utc>),
    /// At least one event inside every window of a run manifest.
    Windows(Vec<RunWindow>),
    /// This many events matching the pipeline's filters.
    Events(u64),
}

#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub goal: Goal,
    pub every: Duration,
    pub timeout: Duration,
    /// The pipeline's filters: `--events` counts only the rows they keep.
    pub filters: Filters,
}

/// The least default margin: none, as before the margin was learnt from the
/// lake (the wait ends when the goal is met).
pub const MARGIN_FLOOR: Duration = Duration::ZERO;
/// Deliveries this recent make the default margin.
const RECENT_MS: i64 = 7 * 86_400_000;

/// A margin the user gave, and where (`--margin`, `[mirror] margin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenMargin {
    pub length: Duration,
    pub from: &'static str,
}

/// The margin a wait uses, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Margin {
    pub length: Duration,
    pub why: String,
}

/// The given margin, else the p99 delivery delay of the objects delivered
/// in the 7 days before `now_ms`, at least [`MARGIN_FLOOR`].
pub fn margin(given: Option<GivenMargin>, manifest: &Manifest, now_ms: i64) -> Margin {
    if let Some(g) = given {
        return Margin {
            length: g.length,
            why: format!("from {}", g.from),
        };
    }
    let objects = manifest.objects.values().filter_map(Entry::delivery);
    let recent = delivery::recent(objects, now_ms, RECENT_MS);
    let floor = MARGIN_FLOOR.as_secs();
    let Some(p99) = recent.quantile(0.99) else {
        return Margin {
            length: MARGIN_FLOOR,
            why: format!("the floor of {floor} s: no object the lake received in the last 7 days has a delivery time"),
        };
    };
    let p99 = Duration::from_millis(p99.max(0) as u64);
    let length = p99.max(MARGIN_FLOOR);
    let at_floor = if length > p99 {
        ", raised to the floor"
    } else {
        ""
    };
    Margin {
        length,
        why: format!(
            "the p99 delivery delay ({} s, to the second) of {} events in the objects the lake received in the last 7 days{at_floor} (floor {floor} s)",
            p99.as_secs(),
            thousands(recent.non_negative()),
        ),
    }
}

/// `90`, `90s`, `10m`, `1h` → a duration.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a duration: write 90, 90s, 10m or 1h"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("`{text}` is not a duration: write 90, 90s, 10m or 1h"),
    };
    let secs =
        (n.checked_mul(scale)).ok_or_else(|| anyhow::anyhow!("`{text}` is too long a duration"))?;
    Ok(Duration::from_secs(secs))
}

/// `--every`: at least a second between polls (0 would poll without pause).
pub fn parse_every(text: &str) -> Result<Duration> {
    let every = parse_duration(text).map_err(|e| anyhow::anyhow!("--every: {e}"))?;
    if every < Duration::from_secs(1) {
        bail!("--every {text}: poll at most once a second; give 1 or more seconds (default 10)");
    }
    Ok(every)
}

impl Goal {
    /// `--until`, else `--events`, else the run manifest's windows.
    pub fn from_flags(
        until: Option<&str>,
        events: Option<u64>,
        run_manifest: Option<&std::path::Path>,
    ) -> Result<Goal> {
        if let Some(u) = until {
            return Ok(Goal::Until(parse_utc(u, false)?));
        }
        if let Some(n) = events {
            return Ok(Goal::Events(n));
        }
        if let Some(path) = run_manifest {
            return Ok(Goal::Windows(run_manifest::load(path)?));
        }
        bail!("--wait needs a goal: --until TIME, --events N, or a run manifest (--run-manifest FILE or [transform] run_manifest)")
    }

    fn describe(&self) -> String {
        match self {
            Goal::Until(t) => format!(
                "events up to {}",
                t.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Goal::Windows(w) => format!(
                "an event in each of the {} run manifest windows",
                thousands(w.len() as u64)
            ),
            Goal::Events(n) => format!("{} events matching the pipeline's filters", thousands(*n)),
        }
    }

    /// The event time the margin counts from: none for a count of events.
    fn time_ms(&self) -> Option<i64> {
        match self {
            Goal::Until(t) => Some(t.timestamp_millis()),
            Goal::Windows(w) => w.iter().map(|w| w.end_ms).max(),
            Goal::Events(_) => None,
        }
    }
}

/// Timestamps of lake events that pass the pipeline's filters, sorted.
fn matching_timestamps(mirror: &super::Options, filters: &Filters) -> Result<Vec<i64>> {
    let Some(lf) = scan_lake(&mirror.lake, &mirror.window)? else {
        return Ok(Vec::new());
    };
    let keep = filters.selected().and(in_window(&mirror.window));
    let df = lf
        .filter(keep)
        .select([col("EventTimestampMs")])
        .sort(["EventTimestampMs"], Default::default())
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot read the lake: {e}"))?;
    Ok(df
        .column("EventTimestampMs")?
        .i64()?
        .iter()
        .flatten()
        .collect())
}

/// How far the lake is: (goal met, progress in words).
fn progress(goal: &Goal, ts: &[i64]) -> (bool, String) {
    match goal {
        Goal::Until(t) => {
            let latest = ts.last().copied();
            let text = latest.map_or("the lake holds no matching event yet".into(), |l| {
                let at = DateTime::from_timestamp_millis(l).unwrap_or_default();
                format!(
                    "latest event {}",
                    at.to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            });
            (latest.is_some_and(|l| l >= t.timestamp_millis()), text)
        }
        Goal::Windows(windows) => {
            let covered = windows
                .iter()
                .filter(|w| {
                    let i = ts.partition_point(|t| *t < w.start_ms);
                    ts.get(i).is_some_and(|t| *t <= w.end_ms)
                })
                .count();
            (
                covered == windows.len(),
                format!(
                    "{} of {} windows covered",
                    thousands(covered as u64),
                    thousands(windows.len() as u64)
                ),
            )
        }
        Goal::Events(n) => (
            ts.len() as u64 >= *n,
            format!("{} of {} events", thousands(ts.len() as u64), thousands(*n)),
        ),
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The margin of this wait, printed once the first poll has brought the
/// lake's latest deliveries in.
fn announce_margin(mirror: &super::Options, goal: &Goal) -> Result<Option<i64>> {
    let m = margin(mirror.margin, &Manifest::load(&mirror.lake)?, now_ms());
    let secs = m.length.as_secs();
    let Some(time) = goal.time_ms() else {
        println!(
            "wait: margin {secs} s ({}) does not apply to --events: a count is met or not",
            m.why
        );
        return Ok(None);
    };
    let ready = time.saturating_add(m.length.as_millis().min(i64::MAX as u128) as i64);
    let at = DateTime::from_timestamp_millis(ready).unwrap_or_default();
    println!(
        "wait: margin {secs} s, {}: done once the goal is met and it is {}",
        m.why,
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    Ok(Some(ready))
}

/// Mirrors, checks, sleeps, until the goal is met and its margin has
/// passed, or the timeout passes.
pub fn run(mirror: &super::Options, options: &WaitOptions) -> Result<()> {
    let started = Instant::now();
    let goal = options.goal.describe();
    println!(
        "waiting for {goal}: polling every {} s for up to {} s",
        options.every.as_secs(),
        options.timeout.as_secs()
    );
    let mut ready_ms = None;
    loop {
        super::run(mirror)?;
        let ready = match ready_ms {
            Some(ready) => ready,
            None => *ready_ms.insert(announce_margin(mirror, &options.goal)?),
        };
        let timestamps = matching_timestamps(mirror, &options.filters)?;
        let (met, mut how_far) = progress(&options.goal, &timestamps);
        let wait_ms = ready.map_or(0, |r| r.saturating_sub(now_ms()));
        if met && wait_ms <= 0 {
            println!(
                "wait: done after {} s: {how_far}",
                started.elapsed().as_secs()
            );
            return Ok(());
        }
        if met {
            how_far = format!("{how_far}; goal met, polling on for the margin ({} s more, see --margin) to let late deliveries in", (wait_ms + 999) / 1000);
        }
        let left = options.timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            bail!(
                "timed out after {} s waiting for {goal}: {how_far}; Logpush delivers 1-10 minutes late, so raise --timeout, or check that the job is enabled and the source is right",
                options.timeout.as_secs()
            );
        }
        println!(
            "wait: {how_far}; next poll in {} s ({} s left)",
            options.every.as_secs(),
            left.as_secs()
        );
        std::thread::sleep(options.every.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration(&format!("{}h", u64::MAX / 10)).is_err());
        assert!(parse_every("0").is_err() && parse_every("0m").is_err());
        assert_eq!(parse_every("1").unwrap(), Duration::from_secs(1));
    }

    #[test]
    fn progress_says_how_far() {
        let w = |s, e| RunWindow {
            approach: "a".into(),
            delay_ms: 0,
            start_ms: s,
            end_ms: e,
            run_id: None,
            client_latency_ms: None,
            req_id: None,
        };
        let (done, text) = progress(&Goal::Windows(vec![w(0, 10), w(20, 30)]), &[5, 15]);
        assert!(!done);
        assert_eq!(text, "1 of 2 windows covered");
        assert!(progress(&Goal::Windows(vec![w(0, 10), w(20, 30)]), &[5, 25]).0);
        assert!(progress(&Goal::Events(2), &[1, 2]).0);
        let until = DateTime::from_timestamp_millis(10).unwrap();
        assert!(!progress(&Goal::Until(until), &[5]).0);
        assert!(progress(&Goal::Until(until), &[5, 10]).0);
    }
}
