//! What the report answers, computed from complete requests: grouped
//! statistics with bootstrap intervals, comparisons against the baseline,
//! break-even delays and verdicts on the pipeline file's claims.

use std::borrow::Cow;
use std::collections::BTreeMap;

use anyhow::{bail, Result};
use polars::prelude::*;
use rayon::prelude::*;

pub use super::claims::Verdict;
use super::claims::{self, BreakEven, Claim, ClaimRow};
use super::cold_starts::ColdStarts;
pub use super::interval::{
    has_interval, shown, MIN_REQUESTS_FOR_INTERVAL, NO_INTERVAL, POINT_ESTIMATES,
};
use super::values::{self, Values};
use super::Frame;
use crate::core::cost::Prices;
use crate::core::metric::Metric;
use crate::stats::bootstrap::{percentile_interval, stream_id, Config, Estimate, Interval};
use crate::stats::regression::{break_even, fit_groups, GroupMean, Line};
use crate::stats::resampled::{estimate, replicates, Resampled, View};
use crate::stats::univariate::{describe, Describe};

/// The columns of `requests.parquet` the analysis reads.
pub fn columns() -> Vec<&'static str> {
    let mut columns = vec!["approach", "delay_ms", "complete", "first_event_ms"];
    columns.extend(Metric::OF_LEGS.map(Metric::column));
    columns.push(Metric::ClientLatency.column());
    columns
}

/// Complete requests of one approach at one delay.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub approach: String,
    pub delay_ms: i64,
    /// Per metric, one value per request (client latency: only where known).
    pub values: BTreeMap<Metric, Values>,
    /// Per request, in the order of the values: its row in `requests.parquet`.
    pub rows: Vec<usize>,
    /// Per request: whether it is a cold start ([`ColdStarts`]).
    pub cold_start: Vec<bool>,
    /// Per client latency value: the request it belongs to (a position in `rows`).
    pub latency_of: Vec<usize>,
}

impl Group {
    pub fn n(&self) -> usize {
        self.column(Metric::DoWall).len()
    }

    pub fn column(&self, metric: Metric) -> &Values {
        self.values.get(&metric).unwrap_or(&values::NONE)
    }

    /// A metric's values as `f64`s (a copy when they are held as integers).
    pub fn get(&self, metric: Metric) -> Cow<'_, [f64]> {
        self.column(metric).as_f64()
    }

    /// Without the room its vectors grew into (up to half of each), which
    /// would stay resident through both analyses.
    fn shrunk(mut self) -> Self {
        self.values.values_mut().for_each(Values::shrink_to_fit);
        self.rows.shrink_to_fit();
        self.cold_start.shrink_to_fit();
        self.latency_of.shrink_to_fit();
        self
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bootstrap: Config,
    pub baseline: String,
    /// (other, baseline) pairs compared besides each approach against the baseline.
    pub extra_pairs: Vec<(String, String)>,
    pub prices: Prices,
    /// `[[report.claims]]`, checked, in the file's order.
    pub claims: Vec<Claim>,
    /// Title, question and metrics of the report.
    pub frame: Frame,
}

#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub approach: String,
    pub delay_ms: i64,
    pub metric: Metric,
    pub describe: Describe,
    pub mean: Estimate,
    pub median: Estimate,
}

#[derive(Debug, Clone)]
pub struct ComparisonRow {
    pub delay_ms: i64,
    pub approach: String,
    pub baseline: String,
    pub metric: Metric,
    /// Difference and ratio of means (other − baseline, other / baseline).
    pub diff: Estimate,
    pub ratio: Estimate,
    /// The same for medians.
    pub median_diff: Estimate,
    pub median_ratio: Estimate,
    /// Requests in the smaller of the two groups.
    pub n: usize,
}

#[derive(Debug, Clone)]
pub struct BreakevenRow {
    pub approach: String,
    pub baseline: String,
    pub delay_ms: Option<f64>,
    pub ci: Option<Interval>,
    pub note: String,
}

/// A fitted cost line with a bootstrap band, for the chart.
#[derive(Debug, Clone)]
pub struct Fit {
    pub approach: String,
    pub line: Line,
    /// (delay, low, high) of the fitted cost.
    pub band: Vec<(f64, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub approaches: Vec<String>,
    pub delays: Vec<i64>,
    /// Every request's metrics, for the charts, until [`Analysis::take_groups`].
    pub groups: Vec<Group>,
    pub summary: Vec<SummaryRow>,
    pub comparisons: Vec<ComparisonRow>,
    pub breakeven: Vec<BreakevenRow>,
    pub claims: Vec<ClaimRow>,
    pub fits: Vec<Fit>,
    /// The answers that depend on cost, under the other request-fee assumption.
    pub other_billing: OtherBilling,
    pub has_client_latency: bool,
    /// The level of every interval, as configured.
    pub confidence: f64,
    /// Nothing was resampled (`--resamples 0`): no estimate has an interval.
    pub point_estimates: bool,
}

impl Analysis {
    /// What an estimate's parenthesis holds: "<level> CI", or "point
    /// estimates" when nothing was resampled.
    pub fn interval_label(&self) -> String {
        if self.point_estimates {
            "point estimates".into()
        } else {
            format!("{} CI", crate::core::numbers::level(self.confidence))
        }
    }

    /// The groups, leaving none: the report's second analysis filters them
    /// in place once the charts are drawn; the tables stay.
    pub fn take_groups(&mut self) -> Vec<Group> {
        std::mem::take(&mut self.groups)
    }

    pub fn summary_row(
        &self,
        approach: &str,
        delay_ms: i64,
        metric: Metric,
    ) -> Option<&SummaryRow> {
        self.summary
            .iter()
            .find(|r| r.approach == approach && r.delay_ms == delay_ms && r.metric == metric)
    }
}

/// A column as f64 in one chunk, for lookups by row.
fn f64_column(df: &DataFrame, name: &str) -> Result<Float64Chunked> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.rechunk().into_owned())
}

/// The complete requests by approach and delay, built from `requests.parquet`
/// a row group at a time (the file is in time order): only the values of
/// the metrics are held, not the table.
#[derive(Debug, Default)]
pub struct Grouping {
    /// In order of first appearance.
    approaches: Vec<String>,
    by: BTreeMap<(String, i64), Group>,
    /// Requests of each approach named, complete or not.
    named: BTreeMap<String, usize>,
    pub requests: usize,
    pub complete: usize,
    /// Complete requests left out for a metric that is missing or not finite.
    pub unusable: usize,
    cold: ColdStarts,
}

/// Where a complete request sits in `requests.parquet`, and whether it is a cold start.
struct Request {
    row: usize,
    cold_start: bool,
}

/// Grouped requests: approaches (baseline first), delays, and the groups.
pub type Grouped = (Vec<String>, Vec<i64>, Vec<Group>);

impl Grouping {
    /// A grouping whose cold starts follow an idle gap of `idle_gap_ms`.
    pub fn new(idle_gap_ms: i64) -> Self {
        Grouping {
            cold: ColdStarts::new(idle_gap_ms),
            ..Grouping::default()
        }
    }

    /// Adds the requests of `chunk` (the columns of [`columns`]), which come
    /// after those already added.
    pub fn add(&mut self, chunk: &DataFrame) -> Result<()> {
        // Looked up row by row from the columns themselves, never copied
        // into a Vec per column (bench/NOTES.md, "Comments' measurements").
        let complete = chunk.column("complete")?.bool()?.rechunk();
        let approach = chunk.column("approach")?.str()?.rechunk();
        let delay = chunk.column("delay_ms")?.i64()?.rechunk();
        let first = chunk.column("first_event_ms")?.i64()?.rechunk();
        let mut columns: Vec<(Metric, Float64Chunked)> = Vec::new();
        for m in Metric::OF_LEGS.into_iter().chain([Metric::ClientLatency]) {
            columns.push((m, f64_column(chunk, m.column())?));
        }
        let span = &columns
            .iter()
            .find(|(m, _)| *m == Metric::Span)
            .expect("a metric of every request")
            .1;
        let mut order: Vec<usize> = (0..chunk.height()).collect();
        order.sort_by_key(|&i| (first.get(i), i));
        let offset = self.requests;
        self.requests += chunk.height();
        self.complete += complete.sum().unwrap_or(0) as usize;
        for &i in &order {
            if let Some(a) = approach.get(i) {
                match self.named.get_mut(a) {
                    Some(n) => *n += 1,
                    None => drop(self.named.insert(a.to_string(), 1)),
                }
            }
            let Some(a) = approach.get(i) else {
                continue;
            };
            let cold = first.get(i).map(|start| {
                let took = span.get(i).filter(|s| s.is_finite()).unwrap_or(0.0);
                let end = start.saturating_add(took as i64);
                self.cold.see(a, start, end)
            });
            let Some(d) = delay.get(i) else {
                continue;
            };
            if complete.get(i) == Some(true) {
                let at = Request {
                    row: offset + i,
                    cold_start: cold.unwrap_or(true),
                };
                self.add_complete(a, d, &columns, i, at);
            }
        }
        Ok(())
    }

    /// Adds request `i` of the columns to its group. Metrics are resampled
    /// together, so a request counts for all of them or none: the transform
    /// gives every complete request all of them, finite; a lake that does not
    /// cannot make the statistics NaN.
    fn add_complete(
        &mut self,
        a: &str,
        d: i64,
        columns: &[(Metric, Float64Chunked)],
        i: usize,
        at: Request,
    ) {
        let known =
            |(_, values): &(Metric, Float64Chunked)| values.get(i).is_some_and(f64::is_finite);
        if !columns.iter().take(Metric::OF_LEGS.len()).all(known) {
            self.unusable += 1;
            return;
        }
        if !self.approaches.iter().any(|x| x == a) {
            self.approaches.push(a.to_string());
        }
        let g = self.by.entry((a.to_string(), d)).or_insert_with(|| Group {
            approach: a.to_string(),
            delay_ms: d,
            ..Group::default()
        });
        for (m, values) in columns {
            if let Some(v) = values.get(i).filter(|v| v.is_finite()) {
                if *m == Metric::ClientLatency {
                    g.latency_of.push(g.rows.len());
                }
                g.values.entry(*m).or_default().push(v);
            }
        }
        g.rows.push(at.row);
        g.cold_start.push(at.cold_start);
    }

    /// Approaches that have requests (or are `declared`) but no complete
    /// one, with their number of requests: they are in no table, so the
    /// report says why.
    pub fn without_complete<'a>(
        &self,
        declared: impl IntoIterator<Item = &'a String>,
    ) -> Vec<(String, usize)> {
        let mut all = self.named.clone();
        for a in declared {
            all.entry(a.clone()).or_default();
        }
        all.into_iter()
            .filter(|(a, _)| !self.approaches.contains(a))
            .collect()
    }

    /// Approaches in the order baseline first, then by first appearance.
    pub fn finish(self, baseline: &str) -> Result<Grouped> {
        let Grouping {
            mut approaches, by, ..
        } = self;
        if approaches.is_empty() {
            bail!("no complete request with an approach and a delay: check the quality table and the [transform] rules");
        }
        if let Some(pos) = approaches.iter().position(|a| a == baseline) {
            let b = approaches.remove(pos);
            approaches.insert(0, b);
        }
        let mut delays: Vec<i64> = by.keys().map(|(_, d)| *d).collect();
        delays.sort();
        delays.dedup();
        let mut list: Vec<Group> = by.into_values().map(Group::shrunk).collect();
        list.sort_by_key(|g| (approaches.iter().position(|a| *a == g.approach), g.delay_ms));
        Ok((approaches, delays, list))
    }
}

/// A group's requests resampled once for every metric; client latencies,
/// known for some requests only, on their own.
struct Sampled<'a> {
    group: &'a Group,
    requests: Resampled,
    latency: Option<Resampled>,
}

impl Sampled<'_> {
    fn new<'a>(group: &'a Group, cfg: &Config) -> Sampled<'a> {
        let key = [group.approach.as_str(), &group.delay_ms.to_string()];
        let columns = Metric::OF_LEGS.map(|m| group.column(m).column());
        let latency = group.column(Metric::ClientLatency).column();
        Sampled {
            group,
            requests: Resampled::new(
                &columns,
                cfg,
                stream_id(&[&["requests"], &key[..]].concat()),
            ),
            latency: (!latency.is_empty()).then(|| {
                Resampled::new(
                    &[latency],
                    cfg,
                    stream_id(&[&["latency"], &key[..]].concat()),
                )
            }),
        }
    }

    /// The resampled table holding `metric`, and its column there.
    fn column(&self, metric: Metric) -> Option<(&Resampled, usize)> {
        match metric {
            Metric::ClientLatency => self.latency.as_ref().map(|r| (r, 0)),
            m => Some((&self.requests, metric_column(m))),
        }
    }
}

/// Column of a request metric in every group's resampled table.
fn metric_column(metric: Metric) -> usize {
    (Metric::OF_LEGS.iter())
        .position(|m| *m == metric)
        .expect("a metric of every request")
}

pub fn analyse(grouped: Grouped, s: &Settings) -> Result<Analysis> {
    let (approaches, delays, groups) = grouped;
    let has_client_latency = groups
        .iter()
        .any(|g| !g.column(Metric::ClientLatency).is_empty());
    let with_latency = |metrics: &[Metric]| {
        let latency = has_client_latency.then_some(Metric::ClientLatency);
        metrics.iter().copied().chain(latency).collect::<Vec<_>>()
    };
    let cfg = &s.bootstrap;
    let sampled: Vec<Sampled> = groups.par_iter().map(|g| Sampled::new(g, cfg)).collect();
    let summary = summaries(&sampled, &with_latency(&Metric::OF_LEGS), cfg);
    let pairs = compared_pairs(&approaches, s);
    let compared = s.frame.compared(has_client_latency);
    let comparisons = comparisons(&sampled, &delays, &pairs, &compared, cfg);
    let costed = |cost| Costed::new(&sampled, &approaches, &delays, s, cost);
    let (billed, other) = rayon::join(|| costed(Metric::Cost), || costed(Metric::CostOtherBilling));
    let claims = billed.claims(&delays, &s.claims);
    let cost_claims: Vec<Claim> = (s.claims.iter())
        .filter(|c| c.reads_cost())
        .cloned()
        .collect();
    let other_billing = OtherBilling {
        claims: other.claims(&delays, &cost_claims),
        breakeven: other.breakeven,
    };
    let (fits, breakeven) = (billed.fits, billed.breakeven);
    Ok(Analysis {
        approaches,
        delays,
        groups,
        summary,
        comparisons,
        breakeven,
        claims,
        fits,
        other_billing,
        has_client_latency,
        confidence: cfg.confidence,
        point_estimates: cfg.point_estimates(),
    })
}

/// Each group's statistics of each metric it has.
fn summaries(sampled: &[Sampled], metrics: &[Metric], cfg: &Config) -> Vec<SummaryRow> {
    let tasks: Vec<(&Sampled, Metric)> = (sampled.iter())
        .flat_map(|g| (metrics.iter()).filter_map(move |m| g.column(*m).map(|_| (g, *m))))
        .collect();
    (tasks.par_iter())
        .map(|&(g, m)| {
            let (r, c) = g.column(m).expect("task of a known column");
            let [mean_e, median_e] = estimate(cfg, &[r], |v| [v.mean(0, c), v.median(0, c)]);
            SummaryRow {
                approach: g.group.approach.clone(),
                delay_ms: g.group.delay_ms,
                metric: m,
                describe: describe(&g.group.get(m)),
                mean: shown(mean_e, r.n()),
                median: shown(median_e, r.n()),
            }
        })
        .collect()
}

/// (other, baseline): every approach against the baseline, then the
/// configured pairs whose approaches were measured.
fn compared_pairs(approaches: &[String], s: &Settings) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = (approaches.iter())
        .filter(|a| **a != s.baseline)
        .map(|a| (a.clone(), s.baseline.clone()))
        .collect();
    for (other, base) in &s.extra_pairs {
        let pair = (other.clone(), base.clone());
        if approaches.contains(other) && approaches.contains(base) && !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs
}

/// Differences and ratios of means and medians of each pair at each delay.
fn comparisons(
    sampled: &[Sampled],
    delays: &[i64],
    pairs: &[(String, String)],
    metrics: &[Metric],
    cfg: &Config,
) -> Vec<ComparisonRow> {
    let find =
        |a: &str, d: i64| (sampled.iter()).find(|g| g.group.approach == a && g.group.delay_ms == d);
    let mut tasks = Vec::new();
    for &d in delays {
        for (other, base) in pairs {
            let (Some(o), Some(b)) = (find(other, d), find(base, d)) else {
                continue;
            };
            for &m in metrics {
                if let (Some(oc), Some(bc)) = (o.column(m), b.column(m)) {
                    tasks.push((d, o.group, b.group, m, oc, bc));
                }
            }
        }
    }
    (tasks.par_iter())
        .map(|&(d, o, b, m, (or, oc), (br, bc))| {
            let [diff, ratio, median_diff, median_ratio] = estimate(cfg, &[br, or], |v| {
                let (bm, om) = (v.mean(0, bc), v.mean(1, oc));
                let (bd, od) = (v.median(0, bc), v.median(1, oc));
                [om - bm, om / bm, od - bd, od / bd]
            });
            let n = or.n().min(br.n());
            ComparisonRow {
                delay_ms: d,
                approach: o.approach.clone(),
                baseline: b.approach.clone(),
                metric: m,
                diff: shown(diff, n),
                ratio: shown(ratio, n),
                median_diff: shown(median_diff, n),
                median_ratio: shown(median_ratio, n),
                n,
            }
        })
        .collect()
}

/// An approach's groups, by delay, with their resampled requests.
fn approach_groups<'a>(sampled: &'a [Sampled], approach: &str) -> Vec<&'a Sampled<'a>> {
    sampled
        .iter()
        .filter(|g| g.group.approach == approach)
        .collect()
}

/// The least squares line of cost against delay through the requests of
/// `groups`, which sit in the view from position `offset` on.
fn cost_line(v: &View, groups: &[&Sampled], offset: usize, cost: Metric) -> Option<Line> {
    let cost = metric_column(cost);
    let points: Vec<GroupMean> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| GroupMean {
            x: g.group.delay_ms as f64,
            n: g.requests.n() as f64,
            mean: v.mean(offset + i, cost),
        })
        .collect();
    fit_groups(&points)
}

fn resampled_requests<'a>(groups: &[&'a Sampled]) -> Vec<&'a Resampled> {
    groups.iter().map(|g| &g.requests).collect()
}

/// The smallest group of `groups`, in requests.
fn fewest(groups: &[&Sampled]) -> usize {
    groups.iter().map(|g| g.requests.n()).min().unwrap_or(0)
}

/// Cost (`cost`: under either billing rule) against delay for one approach,
/// with, when `band`, a band at the configured level from refits on
/// resampled requests (none when a group has one request).
fn fit_with_band(
    sampled: &[Sampled],
    approach: &str,
    delays: &[i64],
    cfg: &Config,
    cost: Metric,
    band: bool,
) -> Option<Fit> {
    let groups = approach_groups(sampled, approach);
    let tables = resampled_requests(&groups);
    let line = cost_line(&View::observed(&tables), &groups, 0, cost)?;
    if !band || cfg.point_estimates() || fewest(&groups) < MIN_REQUESTS_FOR_INTERVAL {
        return Some(Fit {
            approach: approach.to_string(),
            line,
            band: Vec::new(),
        });
    }
    let reps = replicates(&tables, |v| {
        cost_line(v, &groups, 0, cost).map_or([f64::NAN; 2], |l| [l.intercept, l.slope])
    });
    let (lo, hi) = (*delays.first()? as f64, *delays.last()? as f64);
    let band = (0..=100)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / 100.0;
            let at: Vec<f64> = reps.iter().map(|r| r[0] + r[1] * x).collect();
            let ci = percentile_interval(&at, cfg.confidence);
            (x, ci.low, ci.high)
        })
        .collect();
    Some(Fit {
        approach: approach.to_string(),
        line,
        band,
    })
}

fn breakeven_row(
    sampled: &[Sampled],
    approach: &str,
    baseline: &str,
    fits: &[Fit],
    cfg: &Config,
    cost: Metric,
) -> BreakevenRow {
    let row = |delay_ms, ci, note: String| BreakevenRow {
        approach: approach.to_string(),
        baseline: baseline.to_string(),
        delay_ms,
        ci,
        note,
    };
    let line = |a: &str| fits.iter().find(|f| f.approach == a).map(|f| f.line);
    let (Some(base_line), Some(line)) = (line(baseline), line(approach)) else {
        return row(
            None,
            None,
            format!("needs complete requests of {approach} and {baseline} at two delays or more"),
        );
    };
    let Some(point) = break_even(base_line, line) else {
        return row(
            None,
            None,
            format!("{approach} never gets cheaper than {baseline}: its cost grows with the delay at least as fast"),
        );
    };
    let (base, other) = (
        approach_groups(sampled, baseline),
        approach_groups(sampled, approach),
    );
    let both: Vec<&Sampled> = base.iter().chain(&other).copied().collect();
    if cfg.point_estimates() {
        let note = match point < 0.0 {
            true => format!(
                "{approach} is cheaper than {baseline} at every delay measured ({POINT_ESTIMATES})"
            ),
            false => POINT_ESTIMATES.into(),
        };
        return row(Some(point), None, note);
    }
    if fewest(&both) < MIN_REQUESTS_FOR_INTERVAL {
        return row(
            Some(point),
            None,
            format!("no interval: a group of {approach} or {baseline} has a single request"),
        );
    }
    let values: Vec<f64> = replicates(&resampled_requests(&both), |v| {
        match (
            cost_line(v, &base, 0, cost),
            cost_line(v, &other, base.len(), cost),
        ) {
            (Some(b), Some(o)) => [break_even(b, o).unwrap_or(f64::NAN)],
            _ => [f64::NAN],
        }
    })
    .into_iter()
    .map(|[v]| v)
    .collect();
    let crossing =
        values.iter().filter(|v| v.is_finite()).count() as f64 / values.len().max(1) as f64;
    let alpha = (1.0 - cfg.confidence) / 2.0;
    if crossing < 1.0 - alpha {
        return row(
            Some(point),
            None,
            format!(
                "in {:.0}% of resamples the lines do not cross: the interval is unbounded",
                (1.0 - crossing) * 100.0
            ),
        );
    }
    let ci = percentile_interval(&values, cfg.confidence);
    let note = if point < 0.0 {
        format!("{approach} is cheaper than {baseline} at every delay measured")
    } else {
        format!("{approach} is cheaper than {baseline} above this delay")
    };
    row(Some(point), Some(ci), note)
}

/// The break-even rows and claims on cost under the request-fee assumption
/// the pipeline file does not make (`Metric::CostOtherBilling`).
#[derive(Debug, Clone, Default)]
pub struct OtherBilling {
    pub breakeven: Vec<BreakevenRow>,
    /// Only the claims whose measure reads cost.
    pub claims: Vec<ClaimRow>,
}

/// Cost fits and break-even rows under one billing rule's cost column.
struct Costed<'a> {
    sampled: &'a [Sampled<'a>],
    cfg: &'a Config,
    prices: Prices,
    cost: Metric,
    fits: Vec<Fit>,
    breakeven: Vec<BreakevenRow>,
}

impl<'a> Costed<'a> {
    fn new(
        sampled: &'a [Sampled<'a>],
        approaches: &[String],
        delays: &[i64],
        s: &'a Settings,
        cost: Metric,
    ) -> Self {
        let cfg = &s.bootstrap;
        // Only the billed cost is charted: the other rule's fits need no band.
        let band = cost == Metric::Cost;
        let fits: Vec<Fit> = (approaches.iter())
            .filter_map(|a| fit_with_band(sampled, a, delays, cfg, cost, band))
            .collect();
        let breakeven = (approaches.iter())
            .filter(|a| **a != s.baseline)
            .map(|a| breakeven_row(sampled, a, &s.baseline, &fits, cfg, cost))
            .collect();
        Costed {
            sampled,
            cfg,
            prices: s.prices,
            cost,
            fits,
            breakeven,
        }
    }

    fn claims(&self, delays: &[i64], claims: &[Claim]) -> Vec<ClaimRow> {
        let measured = Measured {
            sampled: self.sampled,
            fits: &self.fits,
            cfg: self.cfg,
            cost: self.cost,
        };
        claims::evaluate(&measured, delays, claims, self.cfg, &self.prices)
    }
}

/// What the claims read: the resampled groups and the cost fits.
struct Measured<'a> {
    sampled: &'a [Sampled<'a>],
    fits: &'a [Fit],
    cfg: &'a Config,
    /// The cost column claims on cost read: under one billing rule or the other.
    cost: Metric,
}

impl claims::Source for Measured<'_> {
    fn table(&self, approach: &str, delay_ms: i64, metric: Metric) -> Option<(&Resampled, usize)> {
        let metric = if metric == Metric::Cost {
            self.cost
        } else {
            metric
        };
        (self.sampled.iter())
            .find(|g| g.group.approach == approach && g.group.delay_ms == delay_ms)
            .and_then(|g| g.column(metric))
    }

    fn measured(&self, approach: &str) -> bool {
        self.sampled.iter().any(|g| g.group.approach == approach)
    }

    fn break_even(&self, approach: &str, baseline: &str) -> BreakEven {
        let b = breakeven_row(
            self.sampled,
            approach,
            baseline,
            self.fits,
            self.cfg,
            self.cost,
        );
        let groups: Vec<&Sampled> = (self.sampled.iter())
            .filter(|g| g.group.approach == approach || g.group.approach == baseline)
            .collect();
        BreakEven {
            delay_ms: b.delay_ms,
            ci: b.ci,
            note: b.note,
            n: fewest(&groups),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests of two approaches in time order, some incomplete, one
    /// missing a metric, client latency known for some.
    fn requests(rows: usize) -> DataFrame {
        let approach: Vec<Option<&str>> = (0..rows)
            .map(|i| [Some("current"), Some("direct"), None][i % 7 % 3])
            .collect();
        let metric = |k: usize| -> Vec<Option<i64>> {
            (0..rows)
                .map(|i| (i != 11 || k != 2).then_some((i * (k + 3) % 17) as i64))
                .collect()
        };
        let mut df = df!(
            "approach" => approach,
            "delay_ms" => (0..rows).map(|i| [100i64, 500][i / 3 % 2]).collect::<Vec<_>>(),
            "complete" => (0..rows).map(|i| i % 5 != 4).collect::<Vec<_>>(),
            "first_event_ms" => (0..rows).map(|i| 1_000 + i as i64).collect::<Vec<_>>(),
            Metric::ClientLatency.column() => (0..rows).map(|i| (i % 4 == 0).then_some(i as f64 * 1.5)).collect::<Vec<_>>(),
        )
        .unwrap();
        for (k, m) in Metric::OF_LEGS.iter().enumerate() {
            df.with_column(Column::new(m.column().into(), metric(k)))
                .unwrap();
        }
        df
    }

    #[test]
    fn grouping_a_row_group_at_a_time_is_grouping_the_table() {
        let all = requests(100);
        let mut whole = Grouping::default();
        whole.add(&all).unwrap();
        let (requests, complete) = (whole.requests, whole.complete);
        let whole = whole.finish("direct").unwrap();
        let mut chunked = Grouping::default();
        for start in (0..all.height()).step_by(7) {
            chunked.add(&all.slice(start as i64, 7)).unwrap();
        }
        assert_eq!((chunked.requests, chunked.complete), (requests, complete));
        assert_eq!((requests, complete), (100, 80));
        let chunked = chunked.finish("direct").unwrap();
        assert_eq!(whole.0, ["direct", "current"], "baseline first");
        assert_eq!(whole.1, [100, 500]);
        assert_eq!(whole.0, chunked.0);
        assert_eq!(whole.1, chunked.1);
        assert_eq!(whole.2.len(), 4);
        for (w, c) in whole.2.iter().zip(&chunked.2) {
            assert_eq!((&w.approach, w.delay_ms), (&c.approach, c.delay_ms));
            assert_eq!(w.values, c.values);
            assert!(w.n() > 0);
        }
        let n: usize = whole.2.iter().map(Group::n).sum();
        assert_eq!(n, 57, "complete, with an approach, every metric known");
    }
}
