//! Cold starts and outliers: which complete requests to distrust, and what
//! the headline figures become without them.
//!
//! A request is a **cold start** when it is the first of its approach in the
//! window, or when its first event comes `idle_gap_ms` or more after every earlier request of its
//! approach had ended (first event + `span_ms`): an isolate or Durable Object
//! left idle that long may have been evicted. It is an **outlier** when, for
//! any of `outlier_metrics`, its modified z-score 0.6745 (x − median) / MAD
//! over its approach and delay exceeds `outlier_k` (upper tail only; a group
//! whose MAD is 0 flags nothing).

use anyhow::{bail, Result};
use serde::Deserialize;

use super::analysis::{Analysis, BreakevenRow, Group, Grouped, Verdict};
use super::tables::{Cell, Kind, Table};
use super::values::retain_where;
use crate::core::limits::MAX_DURATION_MS;
use crate::core::metric::Metric;
use crate::core::numbers;
use crate::stats::bootstrap::Estimate;
use crate::stats::robust::upper_outliers;

/// `[report.flags]` of the pipeline file.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct FlagsSection {
    /// Idle time after which a request is a cold start (default 60,000 ms).
    pub idle_gap_ms: Option<i64>,
    /// Modified z-score above which a request is an outlier (default 3.5).
    pub outlier_k: Option<f64>,
    /// The metrics judged for outliers (default `["span_ms", "do_wall_ms"]`).
    pub outlier_metrics: Option<Vec<String>>,
}

pub use super::cold_starts::DEFAULT_IDLE_GAP_MS;
/// Iglewicz and Hoaglin's recommended cut-off.
pub const DEFAULT_OUTLIER_K: f64 = 3.5;
pub const DEFAULT_OUTLIER_METRICS: [Metric; 2] = [Metric::Span, Metric::DoWall];

/// The flag rules, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub idle_gap_ms: i64,
    pub outlier_k: f64,
    pub outlier_metrics: Vec<Metric>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_gap_ms: DEFAULT_IDLE_GAP_MS,
            outlier_k: DEFAULT_OUTLIER_K,
            outlier_metrics: DEFAULT_OUTLIER_METRICS.to_vec(),
        }
    }
}

impl FlagsSection {
    /// The rules; a value out of range is a one-line error naming its field.
    pub fn settings(&self) -> Result<Settings> {
        let idle_gap_ms = self.idle_gap_ms.unwrap_or(DEFAULT_IDLE_GAP_MS);
        if !(1..=MAX_DURATION_MS).contains(&idle_gap_ms) {
            bail!(
                "report.flags.idle_gap_ms = {idle_gap_ms}: give a gap in ms from 1 to {} (30 days), such as 60000",
                numbers::thousands(MAX_DURATION_MS as u64)
            );
        }
        let outlier_k = self.outlier_k.unwrap_or(DEFAULT_OUTLIER_K);
        if !(outlier_k.is_finite() && outlier_k > 0.0) {
            bail!("report.flags.outlier_k = {outlier_k}: give a positive number, such as 3.5");
        }
        let outlier_metrics = match &self.outlier_metrics {
            None => DEFAULT_OUTLIER_METRICS.to_vec(),
            Some(names) => names.iter().map(|n| metric_of(n)).collect::<Result<_>>()?,
        };
        Ok(Settings {
            idle_gap_ms,
            outlier_k,
            outlier_metrics,
        })
    }
}

fn metric_of(name: &str) -> Result<Metric> {
    match Metric::from_column(name) {
        Some(m) if Metric::OF_LEGS.contains(&m) => Ok(m),
        _ => {
            let known: Vec<&str> = Metric::OF_LEGS.iter().map(|m| m.column()).collect();
            bail!(
                "report.flags.outlier_metrics: {name:?} is not a metric of every request; give any of {}",
                known.join(", ")
            )
        }
    }
}

/// The flags of one complete request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub cold_start: bool,
    pub outlier: bool,
}

impl Flags {
    pub fn any(self) -> bool {
        self.cold_start || self.outlier
    }
}

/// Per group, per request: its flags.
pub fn flag(groups: &[Group], s: &Settings) -> Vec<Vec<Flags>> {
    groups
        .iter()
        .map(|g| {
            let mut outlier = vec![false; g.rows.len()];
            for m in &s.outlier_metrics {
                if g.column(*m).len() == outlier.len() {
                    let values = g.get(*m);
                    for (o, far) in outlier.iter_mut().zip(upper_outliers(&values, s.outlier_k)) {
                        *o |= far;
                    }
                }
            }
            (g.cold_start.iter().zip(outlier))
                .map(|(&cold_start, outlier)| Flags {
                    cold_start,
                    outlier,
                })
                .collect()
        })
        .collect()
}

/// Per row of `requests.parquet` (`rows` of them): the flags of a request
/// in the statistics, `None` for any other.
pub fn by_row(groups: &[Group], flags: &[Vec<Flags>], rows: usize) -> Vec<Option<Flags>> {
    let mut out = vec![None; rows];
    for (g, f) in groups.iter().zip(flags) {
        for (&row, &f) in g.rows.iter().zip(f) {
            if let Some(slot) = out.get_mut(row) {
                *slot = Some(f);
            }
        }
    }
    out
}

/// The grouped requests without the flagged ones, filtered in place (the
/// report holds no second copy of every request); groups left empty, and
/// approaches left with no group, are dropped.
pub fn without_flagged(approaches: &[String], groups: Vec<Group>, flags: &[Vec<Flags>]) -> Grouped {
    let kept: Vec<Group> = (groups.into_iter().zip(flags))
        .map(|(g, f)| kept_requests(g, f))
        .filter(|g| !g.rows.is_empty())
        .collect();
    let approaches = (approaches.iter())
        .filter(|a| kept.iter().any(|g| g.approach == **a))
        .cloned()
        .collect();
    let mut delays: Vec<i64> = kept.iter().map(|g| g.delay_ms).collect();
    delays.sort();
    delays.dedup();
    (approaches, delays, kept)
}

fn kept_requests(mut g: Group, flags: &[Flags]) -> Group {
    let keep = |i: usize| !flags[i].any();
    // Where each request moves: the number of kept requests before it.
    let before: Vec<usize> = (0..g.rows.len())
        .scan(0, |kept, i| {
            let at = *kept;
            *kept += usize::from(keep(i));
            Some(at)
        })
        .collect();
    for (m, v) in &mut g.values {
        if *m == Metric::ClientLatency {
            v.retain_where(g.latency_of.iter().map(|&i| keep(i)));
        } else {
            v.retain_where((0..before.len()).map(keep));
        }
    }
    g.values.retain(|_, v| !v.is_empty());
    retain_where(&mut g.rows, (0..before.len()).map(keep));
    retain_where(&mut g.cold_start, (0..before.len()).map(keep));
    let latency_of: Vec<usize> = (g.latency_of.iter())
        .filter(|i| keep(**i))
        .map(|&i| before[i])
        .collect();
    g.latency_of = latency_of;
    g
}

/// Flagged requests of one approach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagCount {
    pub approach: String,
    pub requests: usize,
    pub cold_start: usize,
    pub outlier: usize,
    /// Cold start, outlier or both.
    pub flagged: usize,
}

/// A group's mean of a metric with every request and without the flagged.
#[derive(Debug, Clone)]
pub struct MeanChange {
    pub approach: String,
    pub delay_ms: i64,
    pub metric: Metric,
    pub n: usize,
    pub all: Estimate,
    pub n_without: usize,
    /// `None` when every request of the group is flagged.
    pub without: Option<Estimate>,
}

#[derive(Debug, Clone)]
pub struct BreakevenChange {
    pub all: BreakevenRow,
    pub without: Option<BreakevenRow>,
}

impl BreakevenChange {
    /// Whether leaving the flagged out moves the break-even: it appears or
    /// disappears, or lands outside the interval it had.
    pub fn changed(&self) -> bool {
        let Some(w) = &self.without else {
            return false;
        };
        match (self.all.delay_ms, w.delay_ms) {
            (Some(_), Some(x)) => self.all.ci.is_some_and(|ci| !ci.contains(x)),
            (a, b) => a.is_some() != b.is_some(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerdictChange {
    pub id: String,
    pub all: Verdict,
    pub measured: Estimate,
    /// Verdict and measure without the flagged; `None` when they cannot be judged.
    pub without: Option<(Verdict, Estimate)>,
}

impl VerdictChange {
    pub fn changed(&self) -> bool {
        self.without.is_some_and(|(v, _)| v != self.all)
    }
}

/// What the flagged requests do to the headline figures.
#[derive(Debug, Clone)]
pub struct Sensitivity {
    pub settings: Settings,
    pub counts: Vec<FlagCount>,
    /// Mean `span_ms` and cost per approach and delay.
    pub means: Vec<MeanChange>,
    pub breakeven: Vec<BreakevenChange>,
    pub verdicts: Vec<VerdictChange>,
    /// Why there is no analysis without the flagged, when there is none.
    pub note: Option<String>,
    /// Nothing was resampled (`--resamples 0`): no verdict to change.
    pub point_estimates: bool,
}

/// The metrics whose means the sensitivity shows.
pub const SENSITIVE_METRICS: [Metric; 2] = [Metric::Span, Metric::Cost];

/// Every claim's id, verdict and measure: the one place that reads them.
fn claims(a: &Analysis) -> Vec<(&str, Verdict, Estimate)> {
    (a.claims.iter())
        .filter_map(|c| Some((c.id(), c.verdict?, c.measured?)))
        .collect()
}

pub fn counts(groups: &[Group], flags: &[Vec<Flags>]) -> Vec<FlagCount> {
    let mut out: Vec<FlagCount> = Vec::new();
    for (g, f) in groups.iter().zip(flags) {
        let pos = match out.iter().position(|c| c.approach == g.approach) {
            Some(p) => p,
            None => {
                out.push(FlagCount {
                    approach: g.approach.clone(),
                    requests: 0,
                    cold_start: 0,
                    outlier: 0,
                    flagged: 0,
                });
                out.len() - 1
            }
        };
        let c = &mut out[pos];
        c.requests += f.len();
        c.cold_start += f.iter().filter(|x| x.cold_start).count();
        c.outlier += f.iter().filter(|x| x.outlier).count();
        c.flagged += f.iter().filter(|x| x.any()).count();
    }
    out
}

/// The same figures of `all` (every request) and `without` (no flagged one).
pub fn sensitivity(
    settings: &Settings,
    counts: Vec<FlagCount>,
    all: &Analysis,
    groups: &[(String, i64)],
    without: Option<&Analysis>,
    note: Option<String>,
) -> Sensitivity {
    let mut means = Vec::new();
    for (approach, delay_ms) in groups {
        for m in SENSITIVE_METRICS {
            let Some(r) = all.summary_row(approach, *delay_ms, m) else {
                continue;
            };
            let w = without.and_then(|w| w.summary_row(approach, *delay_ms, m));
            means.push(MeanChange {
                approach: approach.clone(),
                delay_ms: *delay_ms,
                metric: m,
                n: r.describe.n,
                all: r.mean,
                n_without: w.map_or(0, |w| w.describe.n),
                without: w.map(|w| w.mean),
            });
        }
    }
    let breakeven = (all.breakeven.iter())
        .map(|b| BreakevenChange {
            all: b.clone(),
            without: without.and_then(|w| {
                (w.breakeven.iter())
                    .find(|x| x.approach == b.approach && x.baseline == b.baseline)
                    .cloned()
            }),
        })
        .collect();
    let kept = without.map(claims).unwrap_or_default();
    let verdicts = claims(all)
        .into_iter()
        .map(|(id, verdict, measured)| VerdictChange {
            id: id.to_string(),
            all: verdict,
            measured,
            without: (kept.iter())
                .find(|(k, ..)| *k == id)
                .map(|(_, v, e)| (*v, *e)),
        })
        .collect();
    Sensitivity {
        settings: settings.clone(),
        counts,
        means,
        breakeven,
        verdicts,
        note,
        point_estimates: all.point_estimates,
    }
}

fn estimate_cells(e: Option<&Estimate>) -> [Cell; 3] {
    [
        e.map(|e| e.value).into(),
        e.map(|e| e.ci.low).into(),
        e.map(|e| e.ci.high).into(),
    ]
}

/// `sensitivity.csv`: a row per mean, break-even and claim, with every
/// request and without the flagged ones.
pub fn table(s: &Sensitivity) -> Table {
    use Kind::{Bool as B, Float as F, Int as I, Text as T};
    let columns = [
        ("figure", T),
        ("approach", T),
        ("delay_ms", I),
        ("metric", T),
        ("n", I),
        ("value", F),
        ("ci_low", F),
        ("ci_high", F),
        ("n_without_flagged", I),
        ("value_without_flagged", F),
        ("ci_low_without_flagged", F),
        ("ci_high_without_flagged", F),
        ("verdict", T),
        ("verdict_without_flagged", T),
        ("changed", B),
    ];
    let mut t = Table {
        name: "sensitivity",
        columns: columns.iter().map(|(n, k)| (n.to_string(), *k)).collect(),
        rows: Vec::new(),
    };
    for m in &s.means {
        let mut row: Vec<Cell> = vec![
            "mean".into(),
            m.approach.as_str().into(),
            m.delay_ms.into(),
            m.metric.column().into(),
            (m.n as i64).into(),
        ];
        row.extend(estimate_cells(Some(&m.all)));
        row.push((m.n_without as i64).into());
        row.extend(estimate_cells(m.without.as_ref()));
        row.extend([Cell::Null, Cell::Null, Cell::Null]);
        t.rows.push(row);
    }
    for b in &s.breakeven {
        let point = |r: &BreakevenRow| {
            [
                r.delay_ms.into(),
                r.ci.map(|c| c.low).into(),
                r.ci.map(|c| c.high).into(),
            ]
        };
        let mut row: Vec<Cell> = vec![
            "breakeven_delay_ms".into(),
            b.all.approach.as_str().into(),
            Cell::Null,
            Metric::Cost.column().into(),
            Cell::Null,
        ];
        row.extend(point(&b.all));
        row.push(Cell::Null);
        row.extend(
            b.without
                .as_ref()
                .map_or([Cell::Null, Cell::Null, Cell::Null], point),
        );
        row.extend([Cell::Null, Cell::Null, Cell::Bool(b.changed())]);
        t.rows.push(row);
    }
    for v in &s.verdicts {
        let mut row: Vec<Cell> = vec![
            "claim".into(),
            v.id.as_str().into(),
            Cell::Null,
            Cell::Null,
            Cell::Null,
        ];
        row.extend(estimate_cells(Some(&v.measured)));
        row.push(Cell::Null);
        row.extend(estimate_cells(v.without.as_ref().map(|(_, e)| e)));
        row.extend([
            v.all.name().into(),
            v.without.map(|(w, _)| w.name()).into(),
            Cell::Bool(v.changed()),
        ]);
        t.rows.push(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(span: &[f64], cold: &[bool]) -> Group {
        let mut g = Group {
            approach: "a".into(),
            delay_ms: 100,
            rows: (0..span.len()).map(|i| i * 2).collect(),
            cold_start: cold.to_vec(),
            ..Group::default()
        };
        for m in Metric::OF_LEGS {
            g.values.insert(m, span.to_vec().into());
        }
        g.values
            .insert(Metric::ClientLatency, vec![1.0, 3.0].into());
        g.latency_of = vec![1, 3];
        g
    }

    #[test]
    fn flags_follow_the_rules_and_the_flagged_are_left_out() {
        let span = [10.0, 11.0, 12.0, 13.0, 14.0, 500.0];
        let mut g = group(&span, &[true, false, false, false, false, false]);
        // Client latencies known for requests 0, 1, 3 and 5; 0 and 5 are flagged.
        g.values
            .insert(Metric::ClientLatency, vec![9.0, 1.0, 3.0, 7.0].into());
        g.latency_of = vec![0, 1, 3, 5];
        let s = Settings::default();
        let f = flag(std::slice::from_ref(&g), &s);
        assert_eq!(
            f[0].iter().map(|x| x.cold_start).collect::<Vec<_>>(),
            g.cold_start
        );
        assert_eq!(
            f[0].iter().map(|x| x.outlier).collect::<Vec<_>>(),
            [false, false, false, false, false, true]
        );
        let rows = by_row(std::slice::from_ref(&g), &f, 12);
        assert_eq!(rows[10], Some(f[0][5]));
        assert_eq!(rows[1], None, "not in the statistics");
        let grouped = (vec!["a".to_string()], vec![100], vec![g]);
        let (approaches, delays, kept) = without_flagged(&grouped.0, grouped.2.clone(), &f);
        assert_eq!((approaches.len(), delays), (1, vec![100]));
        assert_eq!(*kept[0].get(Metric::Span), [11.0, 12.0, 13.0, 14.0]);
        assert_eq!(kept[0].rows, [2, 4, 6, 8]);
        assert_eq!(*kept[0].get(Metric::ClientLatency), [1.0, 3.0]);
        assert_eq!(kept[0].latency_of, [0, 2]);
        let c = counts(&grouped.2, &f);
        assert_eq!(
            (c[0].requests, c[0].cold_start, c[0].outlier, c[0].flagged),
            (6, 1, 1, 2)
        );
    }

    #[test]
    fn a_group_all_flagged_is_dropped_with_its_approach() {
        let g = group(&[1.0, 2.0, 3.0, 4.0], &[true; 4]);
        let f = flag(std::slice::from_ref(&g), &Settings::default());
        let (approaches, delays, kept) = without_flagged(&["a".into()], vec![g], &f);
        assert!(approaches.is_empty() && delays.is_empty() && kept.is_empty());
    }

    #[test]
    fn a_bad_setting_is_one_line_naming_it() {
        let bad = [
            FlagsSection {
                idle_gap_ms: Some(0),
                ..Default::default()
            },
            FlagsSection {
                outlier_k: Some(f64::NAN),
                ..Default::default()
            },
            FlagsSection {
                outlier_k: Some(-1.0),
                ..Default::default()
            },
            FlagsSection {
                outlier_metrics: Some(vec!["span".into()]),
                ..Default::default()
            },
            FlagsSection {
                outlier_metrics: Some(vec!["client_latency_ms".into()]),
                ..Default::default()
            },
        ];
        for (b, field) in bad.iter().zip([
            "idle_gap_ms",
            "outlier_k",
            "outlier_k",
            "outlier_metrics",
            "outlier_metrics",
        ]) {
            let e = b.settings().unwrap_err().to_string();
            assert!(
                e.contains(&format!("report.flags.{field}")) && !e.contains('\n'),
                "{e}"
            );
        }
        assert_eq!(
            FlagsSection::default().settings().unwrap(),
            Settings::default()
        );
    }
}
