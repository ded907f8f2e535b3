//! The quality table: what went in, what was dropped or ignored and why, and
//! how many requests are complete, per approach and delay.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::ManifestCounts;
use crate::core::numbers::thousands;
use crate::lake::derived::{sampling_notices, total, QualityRow, SAMPLING_DETAIL, SAMPLING_ITEM};
use crate::lake::manifest::{Manifest, Status};
use crate::lake::run_manifest::RunWindow;

fn row(item: &str, detail: &str, count: u64) -> QualityRow {
    QualityRow {
        item: item.to_string(),
        detail: detail.to_string(),
        approach: None,
        delay_ms: None,
        count,
    }
}

/// What the window's distinct legs were; summed over partitions.
#[derive(Debug, Default)]
pub struct LegCounts {
    distinct: u64,
    classified: BTreeMap<String, u64>,
    ignored: BTreeMap<String, u64>,
    orphans: u64,
    /// Legs with a role whose Outcome is not `ok`, by (outcome, approach,
    /// delay of their request): failed invocations are billed too.
    not_ok: BTreeMap<(String, Option<String>, Option<i64>), u64>,
}

pub use crate::lake::derived::{LEGS_NOT_OK, REQUESTS_LOST, REQUESTS_LOST_DETAIL};

impl LegCounts {
    /// Counts legs that carry their request's columns.
    pub fn add(&mut self, legs: &DataFrame) -> Result<()> {
        // Borrowed, not copied: there is one leg per event of the window.
        let text = |name: &str| legs.column(name).and_then(|c| c.str());
        let (roles, reasons) = (text("role")?, text("ignored_reason")?);
        let approaches = text("request_approach")?;
        let outcomes = text("Outcome")?;
        let delays = legs.column("request_delay_ms")?.i64()?;
        let rows = roles.iter().zip(reasons.iter()).zip(approaches.iter());
        for (((role, reason), approach), (outcome, delay)) in
            rows.zip(outcomes.iter().zip(delays.iter()))
        {
            let (counts, key) = match (role, reason) {
                (Some(role), _) => {
                    self.orphans += u64::from(approach.is_none());
                    if let Some(outcome) = outcome.filter(|o| *o != "ok") {
                        let key = (outcome.to_string(), approach.map(String::from), delay);
                        *self.not_ok.entry(key).or_default() += 1;
                    }
                    (&mut self.classified, role)
                }
                (None, Some(reason)) => (&mut self.ignored, reason),
                (None, None) => unreachable!("a leg without a role has a reason"),
            };
            match counts.get_mut(key) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(key.to_string(), 1);
                }
            }
        }
        self.distinct += legs.height() as u64;
        Ok(())
    }
}

/// How many requests are complete, per approach and delay, and what the
/// incomplete ones miss; summed over partitions.
#[derive(Debug, Default)]
pub struct RequestCounts {
    groups: BTreeMap<(Option<String>, Option<i64>, &'static str), u64>,
    missing: BTreeMap<String, u64>,
}

impl RequestCounts {
    pub fn add(&mut self, requests: &DataFrame) -> Result<()> {
        let approach = requests.column("approach")?.str()?;
        let delay = requests.column("delay_ms")?.i64()?;
        let complete = requests.column("complete")?.bool()?;
        let missing = requests.column("missing_roles")?.str()?;
        for (((approach, delay), complete), missing) in approach
            .iter()
            .zip(delay.iter())
            .zip(complete.iter())
            .zip(missing.iter())
        {
            let state = if complete == Some(true) {
                "complete"
            } else {
                *self
                    .missing
                    .entry(missing.unwrap_or_default().to_string())
                    .or_default() += 1;
                "incomplete"
            };
            *self
                .groups
                .entry((approach.map(String::from), delay, state))
                .or_default() += 1;
        }
        Ok(())
    }
}

pub fn build(
    lake: &Path,
    lake_rows: u64,
    legs: &LegCounts,
    requests: &RequestCounts,
    m: &ManifestCounts,
    lost: &[&RunWindow],
) -> Result<Vec<QualityRow>> {
    let mut out = source_rows(&Manifest::load(lake)?);
    out.extend(leg_rows(lake_rows, legs));
    for ((outcome, approach, delay_ms), count) in &legs.not_ok {
        out.push(QualityRow {
            item: LEGS_NOT_OK.into(),
            detail: outcome.clone(),
            approach: approach.clone(),
            delay_ms: *delay_ms,
            count: *count,
        });
    }
    for ((approach, delay_ms, state), count) in &requests.groups {
        out.push(QualityRow {
            item: "requests".into(),
            detail: state.to_string(),
            approach: approach.clone(),
            delay_ms: *delay_ms,
            count: *count,
        });
    }
    for (what, n) in &requests.missing {
        out.push(row("requests incomplete", &format!("missing: {what}"), *n));
    }
    if m.used {
        let item = "run manifest";
        out.extend([
            row(item, "windows", m.windows),
            row(item, "approach or delay assigned", m.assigned),
            row(item, "client latency attached", m.latency_attached),
            row(item, "requests outside every window", m.outside_windows),
            row(item, "requests in several windows", m.in_several_windows),
            row(
                item,
                "requests disagreeing with their window",
                m.disagreeing,
            ),
        ]);
    }
    let mut by_group: BTreeMap<(&str, i64), u64> = BTreeMap::new();
    for w in lost {
        *by_group.entry((&w.approach, w.delay_ms)).or_default() += 1;
    }
    for ((approach, delay_ms), count) in by_group {
        out.push(QualityRow {
            item: REQUESTS_LOST.into(),
            detail: REQUESTS_LOST_DETAIL.into(),
            approach: Some(approach.to_string()),
            delay_ms: Some(delay_ms),
            count,
        });
    }
    Ok(out)
}

/// What the mirror read, from the lake's manifest (all objects, whatever the window).
fn source_rows(manifest: &Manifest) -> Vec<QualityRow> {
    let mut statuses: BTreeMap<&str, u64> = BTreeMap::new();
    // Saturating: the manifest is a file anyone can edit.
    let (mut lines, mut rejected, mut test_lines, mut sampling) = (0u64, 0u64, 0u64, 0u64);
    for e in manifest.objects.values() {
        let status = match e.status {
            Status::Ingested => "ingested",
            Status::Empty => "empty",
            Status::Test => "test",
            Status::Quarantined => "unreadable (quarantined)",
        };
        *statuses.entry(status).or_default() += 1;
        lines = lines.saturating_add(e.lines);
        rejected = rejected.saturating_add(e.rejected_lines);
        test_lines = test_lines.saturating_add(e.test_lines);
        sampling = sampling.saturating_add(e.sampling_notices);
    }
    let mut out: Vec<QualityRow> = (statuses.into_iter())
        .map(|(status, n)| row("source objects", status, n))
        .collect();
    out.extend([
        row("source lines", "read", lines),
        row("source lines", "malformed (quarantined)", rejected),
        row("source lines", "test", test_lines),
        row(SAMPLING_ITEM, SAMPLING_DETAIL, sampling),
    ]);
    out
}

/// Lake rows of the window, and what became of them as legs.
fn leg_rows(lake_rows: u64, legs: &LegCounts) -> Vec<QualityRow> {
    let duplicates = lake_rows.saturating_sub(legs.distinct);
    let mut out = vec![
        row("events", "lake rows in window", lake_rows),
        row("events", "duplicates dropped", duplicates),
        row("events", "distinct legs", legs.distinct),
    ];
    for (role, n) in &legs.classified {
        out.push(row("legs classified", role, *n));
    }
    for (reason, n) in &legs.ignored {
        out.push(row("legs ignored", reason, *n));
    }
    out.push(row(
        "legs orphaned",
        "in requests without an approach",
        legs.orphans,
    ));
    out
}

pub fn print_summary(rows: &[QualityRow], dir: &Path) {
    let n = |item, detail| thousands(total(rows, item, detail));
    let ignored: Vec<String> = rows
        .iter()
        .filter(|r| r.item == "legs ignored")
        .map(|r| format!("{} {}", r.detail, thousands(r.count)))
        .collect();
    println!(
        "transform: {} lake rows in window, {} duplicates dropped, {} legs: {} with a role, {} ignored{}",
        n("events", Some("lake rows in window")),
        n("events", Some("duplicates dropped")),
        n("events", Some("distinct legs")),
        n("legs classified", None),
        n("legs ignored", None),
        if ignored.is_empty() { String::new() } else { format!(" ({})", ignored.join(", ")) }
    );
    println!(
        "  {} requests: {} complete, {} incomplete; {} orphaned legs",
        n("requests", None),
        n("requests", Some("complete")),
        n("requests", Some("incomplete")),
        n("legs orphaned", None),
    );
    let (not_ok, lost) = (
        total(rows, LEGS_NOT_OK, None),
        total(rows, REQUESTS_LOST, None),
    );
    if not_ok + lost > 0 {
        println!(
            "  {} legs not ok (billed all the same); {} requests lost (run-manifest windows with no event)",
            thousands(not_ok),
            thousands(lost),
        );
    }
    let sampling = sampling_notices(rows);
    if sampling > 0 {
        println!(
            "  wrangler tail was sampling: {} notices, so the capture misses events",
            thousands(sampling)
        );
    }
    println!("  outputs: {}", dir.display());
}
