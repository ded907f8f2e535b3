//! The claims of the pipeline file (`[[report.claims]]`): what each
//! measures, checked when the settings are read, and judged from the
//! resampled groups of the analysis.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::interval::{shown, NO_INTERVAL, POINT_ESTIMATES};
use crate::core::cost::Prices;
use crate::core::limits::MAX_DURATION_MS;
use crate::core::metric::{Metric, Unit};
use crate::core::named::{named_serde, Named};
use crate::core::numbers::delay_label;
use crate::stats::bootstrap::{Config, Estimate, Interval};
use crate::stats::resampled::{estimate, Resampled, View};

/// What a claim measures. Ratio = approach / baseline, difference =
/// approach − baseline, of a metric's mean or median.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Measure {
    MeanRatio,
    MedianRatio,
    MeanDifference,
    MedianDifference,
    /// Cost of the DO wall time the approach saves against the baseline
    /// over the cost of the Worker CPU it adds.
    WallSavedOverCpuAdded,
    /// The delay above which the approach is cheaper than the baseline.
    BreakEvenMs,
}

impl Named for Measure {
    const ALL: &'static [Self] = &[
        Measure::MeanRatio,
        Measure::MedianRatio,
        Measure::MeanDifference,
        Measure::MedianDifference,
        Measure::WallSavedOverCpuAdded,
        Measure::BreakEvenMs,
    ];

    fn name(self) -> &'static str {
        match self {
            Measure::MeanRatio => "mean_ratio",
            Measure::MedianRatio => "median_ratio",
            Measure::MeanDifference => "mean_difference",
            Measure::MedianDifference => "median_difference",
            Measure::WallSavedOverCpuAdded => "wall_saved_over_cpu_added",
            Measure::BreakEvenMs => "break_even_ms",
        }
    }
}

named_serde!(Measure);

impl Measure {
    fn takes_metric(self) -> bool {
        matches!(
            self,
            Measure::MeanRatio
                | Measure::MedianRatio
                | Measure::MeanDifference
                | Measure::MedianDifference
        )
    }

    fn takes_delay(self) -> bool {
        self != Measure::BreakEvenMs
    }

    fn ratio(self) -> bool {
        matches!(self, Measure::MeanRatio | Measure::MedianRatio)
    }

    fn median(self) -> bool {
        matches!(self, Measure::MedianRatio | Measure::MedianDifference)
    }

    /// The unit of the measured value.
    pub fn unit(self, metric: Option<Metric>) -> Unit {
        match (self, metric) {
            (Measure::MeanDifference | Measure::MedianDifference, Some(m)) => m.unit(),
            (Measure::BreakEvenMs, _) => Unit::Ms,
            _ => Unit::Times,
        }
    }
}

/// One `[[report.claims]]` as written; every field is checked by
/// [`ClaimSpec::resolve`], which names the claim and the field.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    pub id: Option<String>,
    /// The sentence as the plan states it.
    pub claim: Option<String>,
    pub measure: Option<String>,
    /// A column of `requests.parquet` (`do_wall_ms`, `span_ms`, ...).
    pub metric: Option<String>,
    pub approach: Option<String>,
    pub baseline: Option<String>,
    /// Judged at the measured delay nearest this one; absent: averaged over
    /// the delays both approaches have.
    pub delay_ms: Option<i64>,
    /// `[low, high]`, in the measure's unit.
    pub range: Option<[f64; 2]>,
}

/// A claim, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub id: String,
    pub claim: String,
    pub measure: Measure,
    pub metric: Option<Metric>,
    pub approach: String,
    pub baseline: String,
    pub delay_ms: Option<i64>,
    pub range: (f64, f64),
}

impl Claim {
    /// Whether its measure reads cost, so that the request-fee assumption can change it.
    pub fn reads_cost(&self) -> bool {
        self.measure == Measure::BreakEvenMs || self.metric == Some(Metric::Cost)
    }
}

fn metric_names() -> String {
    let all = Metric::OF_LEGS.into_iter().chain([Metric::ClientLatency]);
    all.map(Metric::column).collect::<Vec<_>>().join(", ")
}

/// A metric named by its column; the error names `field`.
pub fn parse_metric(field: &str, name: &str) -> Result<Metric> {
    match Metric::from_column(name) {
        Some(m) => Ok(m),
        None => bail!(
            "{field} = \"{}\": not a metric; use one of {}",
            name.escape_debug(),
            metric_names()
        ),
    }
}

/// An approach the pipeline declares; the error names `field`.
pub fn declared_approach(field: &str, name: &str, declared: &[String]) -> Result<String> {
    if declared.iter().any(|a| a == name) {
        return Ok(name.to_string());
    }
    let list: Vec<String> = declared.iter().map(|a| format!("`{a}`")).collect();
    let list = if list.is_empty() {
        "none is declared".to_string()
    } else {
        format!("declared: {}", list.join(", "))
    };
    bail!(
        "{field} = \"{}\": not an approach of [transform.approaches] ({list})",
        name.escape_debug()
    )
}

impl ClaimSpec {
    /// The claim, its approaches among `declared`; `index` names a claim
    /// without an id.
    pub fn resolve(&self, index: usize, declared: &[String]) -> Result<Claim> {
        let Some(id) = self.id.clone().filter(|id| !id.trim().is_empty()) else {
            bail!(
                "report.claims[{index}]: id is missing: give each claim an id, such as \"cost-1\""
            );
        };
        let at = format!("report.claims[\"{}\"]", id.escape_debug());
        let missing = |field: &str| anyhow::anyhow!("{at}: {field} is missing");
        let claim = self.claim.clone().ok_or_else(|| missing("claim"))?;
        let measure = self.measure.as_deref().ok_or_else(|| missing("measure"))?;
        let measure =
            Measure::from_name(measure).map_err(|e| anyhow::anyhow!("{at}.measure: {e}"))?;
        let metric = match (&self.metric, measure.takes_metric()) {
            (Some(m), true) => Some(parse_metric(&format!("{at}.metric"), m)?),
            (None, true) => return Err(missing("metric")),
            (Some(_), false) => bail!("{at}.metric: {} takes no metric", measure.name()),
            (None, false) => None,
        };
        let approach = self
            .approach
            .as_deref()
            .ok_or_else(|| missing("approach"))?;
        let approach = declared_approach(&format!("{at}.approach"), approach, declared)?;
        let baseline = self
            .baseline
            .as_deref()
            .ok_or_else(|| missing("baseline"))?;
        let baseline = declared_approach(&format!("{at}.baseline"), baseline, declared)?;
        if approach == baseline {
            bail!("{at}: approach and baseline are both `{approach}`: compare two approaches");
        }
        if let Some(d) = self.delay_ms {
            if !measure.takes_delay() {
                bail!("{at}.delay_ms: {} takes no delay", measure.name());
            }
            if !(0..=MAX_DURATION_MS).contains(&d) {
                bail!(
                    "{at}.delay_ms = {d}: give a delay in ms from 0 to {MAX_DURATION_MS} (30 days)"
                );
            }
        }
        let Some([low, high]) = self.range else {
            return Err(missing("range"));
        };
        if !(low.is_finite() && high.is_finite() && low <= high) {
            bail!("{at}.range = [{low}, {high}]: give [low, high], finite, low <= high");
        }
        Ok(Claim {
            id,
            claim,
            measure,
            metric,
            approach,
            baseline,
            delay_ms: self.delay_ms,
            range: (low, high),
        })
    }
}

/// Every claim, checked; ids are unique.
pub fn resolve_all(specs: &[ClaimSpec], declared: &[String]) -> Result<Vec<Claim>> {
    let mut ids = BTreeSet::new();
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let claim = spec.resolve(i, declared)?;
        if !ids.insert(claim.id.clone()) {
            bail!(
                "report.claims[\"{}\"].id: two claims have this id",
                claim.id.escape_debug()
            );
        }
        out.push(claim);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Refuted,
    Inconclusive,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Supported when the interval lies inside the claimed range, refuted when
    /// it lies wholly outside, inconclusive when it straddles a bound.
    pub fn of(ci: Interval, range: (f64, f64)) -> Self {
        if ci.low >= range.0 && ci.high <= range.1 {
            Verdict::Supported
        } else if ci.high < range.0 || ci.low > range.1 {
            Verdict::Refuted
        } else {
            Verdict::Inconclusive
        }
    }
}

/// The break-even of two approaches, as the analysis fitted it.
#[derive(Debug, Clone)]
pub struct BreakEven {
    pub delay_ms: Option<f64>,
    pub ci: Option<Interval>,
    /// Why there is no delay or interval, or what the delay means.
    pub note: String,
    /// Requests in the smallest group of either approach.
    pub n: usize,
}

/// What claims are judged from: the analysis's resampled groups and fits.
pub trait Source {
    /// The resampled table holding `metric` of `approach` at `delay_ms`, and its column.
    fn table(&self, approach: &str, delay_ms: i64, metric: Metric) -> Option<(&Resampled, usize)>;
    /// Whether `approach` has complete requests.
    fn measured(&self, approach: &str) -> bool;
    fn break_even(&self, approach: &str, baseline: &str) -> BreakEven;
}

/// A claim and what the data say of it.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub claim: Claim,
    /// How the measure reads, with its approaches and delay.
    pub what: String,
    /// The delay it was measured at; `None` when averaged over `delays` delays.
    pub delay_ms: Option<i64>,
    pub delays: usize,
    pub unit: Unit,
    /// `None` when the approaches were not measured (see `note`).
    pub measured: Option<Estimate>,
    pub verdict: Option<Verdict>,
    /// Requests in the smallest group the measure comes from.
    pub n: usize,
    pub note: String,
}

impl ClaimRow {
    pub fn id(&self) -> &str {
        &self.claim.id
    }
}

/// Each claim's row, in the file's order.
pub fn evaluate(
    source: &impl Source,
    delays: &[i64],
    claims: &[Claim],
    cfg: &Config,
    prices: &Prices,
) -> Vec<ClaimRow> {
    let judge = Judge {
        source,
        cfg,
        prices,
    };
    (claims.iter()).map(|c| judge.evaluate(delays, c)).collect()
}

struct Judge<'a, S: Source> {
    source: &'a S,
    cfg: &'a Config,
    prices: &'a Prices,
}

/// Where a measure was read: "at 1 s" or "averaged over 6 delays".
fn place(c: &Claim, delays: &[i64]) -> String {
    match (c.delay_ms, delays) {
        (Some(_), [d]) => format!("at {}", delay_label(*d)),
        (Some(want), _) => format!("at the delay nearest {}", delay_label(want)),
        (None, [d]) => format!("at {}, the one delay both have", delay_label(*d)),
        (None, _) => format!("averaged over {} delays", delays.len()),
    }
}

fn describe(c: &Claim, delays: &[i64]) -> String {
    let (a, b, at) = (&c.approach, &c.baseline, place(c, delays));
    let stat = if c.measure.median() { "median" } else { "mean" };
    let m = c.metric.map(Metric::column).unwrap_or_default();
    match c.measure {
        Measure::MeanRatio | Measure::MedianRatio => format!("{a}'s {stat} {m} / {b}'s, {at}"),
        Measure::MeanDifference | Measure::MedianDifference => {
            format!("{a}'s {stat} {m} - {b}'s, {at}")
        }
        Measure::WallSavedOverCpuAdded => {
            format!("{a} vs {b}, {at}: cost of DO wall time saved / cost of Worker CPU added")
        }
        Measure::BreakEvenMs => {
            format!("delay above which {a} is cheaper than {b}, from cost fitted against delay")
        }
    }
}

/// Requests in the smallest of `tables`.
fn fewest(tables: &[&Resampled]) -> usize {
    tables.iter().map(|r| r.n()).min().unwrap_or(0)
}

impl<S: Source> Judge<'_, S> {
    fn evaluate(&self, delays: &[i64], c: &Claim) -> ClaimRow {
        let at = self.claim_delays(delays, c);
        let mut row = ClaimRow {
            claim: c.clone(),
            what: describe(c, &at),
            delay_ms: c.delay_ms.and(at.first().copied()),
            delays: at.len(),
            unit: c.measure.unit(c.metric),
            measured: None,
            verdict: None,
            n: 0,
            note: String::new(),
        };
        if c.measure == Measure::BreakEvenMs {
            return self.break_even(row);
        }
        if at.is_empty() {
            row.note = self.unmeasured(c);
            return row;
        }
        let (measured, n) = match c.measure {
            Measure::WallSavedOverCpuAdded => self.wall_saved(&at, c),
            _ => self.compared(&at, c),
        };
        row.n = n;
        if let Some(why) = undefined(c, &measured) {
            row.note = why;
            return row;
        }
        self.judged(row, measured)
    }

    /// `row` with its measure and verdict; none without resampling, which
    /// gives no interval to judge by.
    fn judged(&self, mut row: ClaimRow, measured: Estimate) -> ClaimRow {
        row.measured = Some(measured);
        if self.cfg.point_estimates() {
            row.note = format!("not judged ({POINT_ESTIMATES})");
        } else {
            row.verdict = Some(Verdict::of(measured.ci, row.claim.range));
        }
        row
    }

    /// The delays the claim reads: the one nearest its delay, or all both
    /// approaches have (with the claim's metric).
    fn claim_delays(&self, delays: &[i64], c: &Claim) -> Vec<i64> {
        let metric = c.metric.unwrap_or(Metric::DoWall);
        let has = |a: &str, d: i64| self.source.table(a, d, metric).is_some();
        let both: Vec<i64> = (delays.iter().copied())
            .filter(|d| has(&c.approach, *d) && has(&c.baseline, *d))
            .collect();
        match c.delay_ms {
            Some(want) => (both.into_iter().min_by_key(|d| d.abs_diff(want)))
                .into_iter()
                .collect(),
            None => both,
        }
    }

    /// Why a claim has no measure: an approach has no complete request, or
    /// the two share no delay.
    fn unmeasured(&self, c: &Claim) -> String {
        let missing: Vec<String> = [&c.approach, &c.baseline]
            .into_iter()
            .filter(|a| !self.source.measured(a))
            .map(|a| format!("`{a}`"))
            .collect();
        if !missing.is_empty() {
            return format!(
                "not measured: no complete request of {}",
                missing.join(" or ")
            );
        }
        let (a, b) = (&c.approach, &c.baseline);
        match c.metric {
            Some(Metric::ClientLatency) => {
                format!("not measured: no client latency of both `{a}` and `{b}` at one delay")
            }
            _ => format!("not measured: `{a}` and `{b}` share no delay"),
        }
    }

    /// (baseline, approach) tables at each delay of `at`, with the metric's
    /// column in each.
    fn pairs(&self, at: &[i64], c: &Claim, metric: Metric) -> (Vec<&Resampled>, Vec<usize>) {
        let mut tables = Vec::new();
        let mut columns = Vec::new();
        for &d in at {
            for a in [&c.baseline, &c.approach] {
                let (r, col) =
                    (self.source.table(a, d, metric)).expect("a delay both approaches have");
                tables.push(r);
                columns.push(col);
            }
        }
        (tables, columns)
    }

    /// A ratio or difference of means or medians, averaged over the delays.
    fn compared(&self, at: &[i64], c: &Claim) -> (Estimate, usize) {
        let metric = c.metric.expect("a measure of a metric");
        let (tables, columns) = self.pairs(at, c, metric);
        let k = at.len();
        let stat = |v: &View, i: usize| {
            if c.measure.median() {
                v.median(i, columns[i])
            } else {
                v.mean(i, columns[i])
            }
        };
        let [e] = estimate(self.cfg, &tables, |v| {
            if c.measure.ratio() {
                let (mut b, mut a) = (0.0, 0.0);
                for i in 0..k {
                    b += stat(v, 2 * i);
                    a += stat(v, 2 * i + 1);
                }
                [(a / k as f64) / (b / k as f64)]
            } else {
                let diffs: f64 = (0..k).map(|i| stat(v, 2 * i + 1) - stat(v, 2 * i)).sum();
                [diffs / k as f64]
            }
        });
        let n = fewest(&tables);
        (shown(e, n), n)
    }

    /// Cost of the DO wall time saved over the cost of the Worker CPU added,
    /// from one resample of each group (wall and CPU of a request go together).
    fn wall_saved(&self, at: &[i64], c: &Claim) -> (Estimate, usize) {
        let (tables, wall) = self.pairs(at, c, Metric::DoWall);
        let (_, cpu) = self.pairs(at, c, Metric::WorkerCpu);
        let (k, p) = (at.len() as f64, self.prices);
        let [e] = estimate(self.cfg, &tables, |v| {
            let (mut saved, mut added) = (0.0, 0.0);
            for i in 0..at.len() {
                let (b, a) = (2 * i, 2 * i + 1);
                saved += v.mean(b, wall[b]) - v.mean(a, wall[a]);
                added += v.mean(a, cpu[a]) - v.mean(b, cpu[b]);
            }
            [(saved / k) * p.do_wall_ms / ((added / k) * p.worker_cpu_ms)]
        });
        let n = fewest(&tables);
        (shown(e, n), n)
    }

    fn break_even(&self, mut row: ClaimRow) -> ClaimRow {
        let c = &row.claim;
        let b = self.source.break_even(&c.approach, &c.baseline);
        row.n = b.n;
        row.note = b.note;
        // Without an interval the point is an extrapolation of lines that
        // may never cross: the note says why, no number stands for it
        // (unless nothing was resampled: then every figure is a point).
        match (b.delay_ms, b.ci) {
            (Some(value), ci) if ci.is_some() || self.cfg.point_estimates() => {
                let ci = ci.unwrap_or(NO_INTERVAL);
                self.judged(row, Estimate { value, ci })
            }
            _ => row,
        }
    }
}

/// Why a measured value cannot be judged: a ratio over a baseline of 0, or
/// a wall-for-CPU trade where nothing is traded.
fn undefined(c: &Claim, e: &Estimate) -> Option<String> {
    if !e.value.is_finite() {
        return Some(format!(
            "undefined: `{}`'s value is 0, so the ratio has none",
            c.baseline
        ));
    }
    (c.measure == Measure::WallSavedOverCpuAdded && e.value <= 0.0).then(|| {
        format!(
            "undefined: `{}` saves no DO wall time for Worker CPU added against `{}` (the ratio is {})",
            c.approach,
            c.baseline,
            crate::core::numbers::thousands_f(e.value)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_over_zero_or_a_trade_of_nothing_has_no_verdict() {
        let claim = |measure, metric| Claim {
            id: "x".into(),
            claim: String::new(),
            measure,
            metric,
            approach: "a".into(),
            baseline: "b".into(),
            delay_ms: None,
            range: (1.0, 2.0),
        };
        let at = |value| Estimate {
            value,
            ci: Interval {
                low: value,
                high: value,
            },
        };
        let ratio = claim(Measure::MeanRatio, Some(Metric::WorkerCpu));
        assert!(
            undefined(&ratio, &at(f64::INFINITY)).is_some_and(|n| n.contains("`b`'s value is 0"))
        );
        assert!(undefined(&ratio, &at(f64::NAN)).is_some());
        assert!(
            undefined(&ratio, &at(-3.0)).is_none(),
            "a negative ratio is a value"
        );
        let trade = claim(Measure::WallSavedOverCpuAdded, None);
        assert!(undefined(&trade, &at(-46.3)).is_some_and(|n| n.contains("saves no DO wall time")));
        assert!(undefined(&trade, &at(65.0)).is_none());
    }

    #[test]
    fn verdicts_follow_where_the_interval_lies() {
        let ci = |low, high| Interval { low, high };
        let range = (33.0, 100.0);
        assert_eq!(Verdict::of(ci(40.0, 60.0), range), Verdict::Supported);
        assert_eq!(Verdict::of(ci(20.0, 30.0), range), Verdict::Refuted);
        assert_eq!(Verdict::of(ci(110.0, 130.0), range), Verdict::Refuted);
        assert_eq!(Verdict::of(ci(30.0, 40.0), range), Verdict::Inconclusive);
        assert_eq!(Verdict::of(ci(20.0, 120.0), range), Verdict::Inconclusive);
        assert_eq!(Verdict::of(NO_INTERVAL, range), Verdict::Inconclusive);
    }

    fn spec(text: &str) -> ClaimSpec {
        toml::from_str(text).unwrap()
    }

    const GOOD: &str = "id = \"H2\"\nclaim = \"cuts wall\"\nmeasure = \"mean_ratio\"\nmetric = \"do_wall_ms\"\napproach = \"a\"\nbaseline = \"b\"\ndelay_ms = 1000\nrange = [33, 100]\n";

    fn declared() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn a_claim_resolves_and_its_measure_reads_back() {
        let c = spec(GOOD).resolve(0, &declared()).unwrap();
        assert_eq!(c.measure, Measure::MeanRatio);
        assert_eq!(c.metric, Some(Metric::DoWall));
        assert_eq!(c.range, (33.0, 100.0));
        for m in Measure::ALL {
            assert_eq!(Measure::from_name(m.name()), Ok(*m));
        }
    }

    #[test]
    fn each_bad_field_is_one_line_naming_the_claim_and_the_field() {
        let cases = [
            (
                "metric = \"do_wall_ms\"",
                "metric = \"do_wal_ms\"",
                ".metric",
            ),
            ("approach = \"a\"", "approach = \"c\"", ".approach"),
            (
                "baseline = \"b\"",
                "baseline = \"a\"",
                "approach and baseline",
            ),
            (
                "measure = \"mean_ratio\"",
                "measure = \"mean_ration\"",
                ".measure",
            ),
            ("range = [33, 100]", "range = [100, 33]", ".range"),
            ("range = [33, 100]", "", "range is missing"),
            ("metric = \"do_wall_ms\"", "", "metric is missing"),
            ("delay_ms = 1000", "delay_ms = -5", ".delay_ms"),
        ];
        for (from, to, field) in cases {
            let err = spec(&GOOD.replace(from, to))
                .resolve(0, &declared())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("report.claims[\"H2\"]"), "{err}");
            assert!(err.contains(field), "{field}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = spec(&GOOD.replace("id = \"H2\"", "")).resolve(3, &declared());
        assert!(err
            .unwrap_err()
            .to_string()
            .starts_with("report.claims[3]: id"));
        let two = [spec(GOOD), spec(GOOD)];
        let err = resolve_all(&two, &declared()).unwrap_err().to_string();
        assert!(err.contains("two claims have this id"), "{err}");
    }

    #[test]
    fn a_measure_without_a_metric_or_delay_refuses_one() {
        let be = GOOD.replace("mean_ratio", "break_even_ms");
        let err = spec(&be).resolve(0, &declared()).unwrap_err().to_string();
        assert!(
            err.contains(".metric: break_even_ms takes no metric"),
            "{err}"
        );
        let be = be.replace("metric = \"do_wall_ms\"\n", "");
        let err = spec(&be).resolve(0, &declared()).unwrap_err().to_string();
        assert!(
            err.contains(".delay_ms: break_even_ms takes no delay"),
            "{err}"
        );
        let be = be.replace("delay_ms = 1000\n", "");
        let c = spec(&be).resolve(0, &declared()).unwrap();
        assert_eq!(c.measure.unit(c.metric), Unit::Ms);
    }
}
