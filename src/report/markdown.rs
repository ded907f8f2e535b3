//! report.md: the answer first, then the evidence, then how it was computed.

mod glance;
mod segments;
mod sensitivity;
pub(super) mod table;

use super::analysis::{has_interval, Analysis, BreakevenRow, ComparisonRow, Settings};
use super::charts;
use super::claims::Verdict;
use crate::core::metric::{Metric, Unit};
use crate::core::numbers::{delay_label, level, thousands, thousands_f};
use crate::lake::derived::QualityRow;
use crate::stats::bootstrap::{Estimate, Method};
use table::{Align, Table};

/// What the report states about its inputs besides the analysis.
pub struct Context<'a> {
    pub pipeline: &'a str,
    pub requests_total: usize,
    pub requests_complete: usize,
    /// Complete requests left out for a metric that is missing or not finite.
    pub requests_unusable: usize,
    pub quality: Vec<QualityRow>,
    /// Where the requests came from when computed elsewhere (`--requests`):
    /// then there is no quality table.
    pub requests_from: Option<String>,
    pub charts: bool,
    /// Approaches with requests (or declared) but no complete one, and their requests.
    pub without_complete: Vec<(String, usize)>,
    /// wrangler tail's sampling notices over the lake's sources.
    pub sampling_notices: u64,
    /// "How late Logpush delivered" and its answer.
    pub delivery: &'a super::delivery::Text,
    /// Each role's request fee, as the pipeline file or the published rule has it.
    pub billing: &'a [crate::core::cost::RoleBilling],
    /// Cold starts and outliers, and the figures without them.
    pub sensitivity: &'a super::flags::Sensitivity,
    /// The requests split by `[report] segment_by`.
    pub segments: &'a super::segments::Segments,
}

fn money(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    let v = v.abs();
    if v >= 10.0 {
        format!("{sign}${v:.2}")
    } else {
        format!("{sign}${v:.3}")
    }
}

fn ms(v: f64) -> String {
    format!("{} ms", thousands_f(v))
}

/// A value and its interval; `n`, the requests of the smallest group it
/// comes from, says why an interval is missing (else nothing was resampled,
/// which the report's opening says once).
fn with_ci(e: &Estimate, f: fn(f64) -> String, n: usize) -> String {
    if has_interval(e) {
        // "-25 ms to -18 ms": a dash between negatives would read as a minus.
        let to = if e.ci.low < 0.0 { " to " } else { "-" };
        format!("{} ({}{to}{})", f(e.value), f(e.ci.low), f(e.ci.high))
    } else {
        match single_request(n) {
            Some(why) => format!("{} ({why})", f(e.value)),
            None => f(e.value),
        }
    }
}

/// Why a group of `n` requests has no interval, when `n` is too few to resample.
pub(super) fn single_request(n: usize) -> Option<&'static str> {
    (n < super::analysis::MIN_REQUESTS_FOR_INTERVAL).then_some("no interval: a single request")
}

fn ratio_with_ci(e: &Estimate, n: usize) -> String {
    if has_interval(e) {
        format!("{:.3} ({:.3}-{:.3})", e.value, e.ci.low, e.ci.high)
    } else if e.value.is_finite() {
        match single_request(n) {
            Some(why) => format!("{:.3} ({why})", e.value),
            None => format!("{:.3}", e.value),
        }
    } else {
        "-".into()
    }
}

/// The warning that opens a report on a sampled `wrangler tail` capture.
pub fn sampling_warning(notices: u64) -> Option<String> {
    (notices > 0).then(|| format!(
        "The capture is incomplete: wrangler tail was sampling ({} \"Tail is currently in sampling mode\" notices), so it dropped events. Counts and incomplete requests understate the traffic; capture with Logpush, or at a lower request rate, for a complete record.",
        thousands(notices)
    ))
}

/// Complete requests the statistics could not use; `None` when there are none.
pub fn unusable_note(unusable: usize) -> Option<String> {
    (unusable > 0).then(|| format!(
        "{} complete requests lack a metric or hold one that is not a finite number; they are left out of every statistic.",
        thousands(unusable as u64)
    ))
}

/// Why approaches are in no table; `None` when every approach has complete requests.
pub fn without_complete_note(without: &[(String, usize)]) -> Option<String> {
    if without.is_empty() {
        return None;
    }
    let each: Vec<String> = without
        .iter()
        .map(|(a, n)| match n {
            0 => format!("`{a}` (no request at all)"),
            n => format!("`{a}` ({} requests, none complete)", thousands(*n as u64)),
        })
        .collect();
    let see = if without.iter().any(|(_, n)| *n > 0) {
        " See Data quality for what their requests miss."
    } else {
        ""
    };
    Some(format!(
        "Left out of every table for want of a complete request: {}.{see}",
        each.join(", ")
    ))
}

/// What the report says when the pipeline file states no claim.
pub const NO_CLAIMS: &str =
    "No claims in the pipeline file: add [[report.claims]] to have them judged.";

fn count(v: f64) -> String {
    thousands_f(v)
}

/// A ratio to three significant digits: 0.95x, 6.07x, 26.7x, 1,000x.
fn times(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{}x", thousands_f(v))
    } else if v.abs() >= 10.0 {
        format!("{v:.1}x")
    } else {
        format!("{v:.2}x")
    }
}

pub fn render(a: &Analysis, s: &Settings, c: &Context) -> String {
    let ci = a.interval_label();
    [
        header(a, s, c),
        answer(a, s, c, &ci),
        sensitivity::section(c.sensitivity, s.bootstrap.confidence, &ci),
        segments::section(c.segments, &ci),
        evidence(a, s, c, &ci),
        differences(a, &ci),
        quality(c),
        c.delivery.section.clone(),
        method(s, c),
    ]
    .concat()
}

fn paragraph(text: &str) -> String {
    format!("{text}\n\n")
}

fn heading(title: &str) -> String {
    paragraph(&format!("## {title}"))
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("- {i}\n")).collect()
}

/// A table and the blank line that ends it.
fn table(t: &Table) -> String {
    t.render() + "\n"
}

/// The title, the sampling warning when there is one, and what went in.
fn header(a: &Analysis, s: &Settings, c: &Context) -> String {
    let mut out = paragraph(&format!("# {}: `{}`", s.frame.title, c.pipeline));
    if let Some(question) = &s.frame.question {
        out += &paragraph(&format!("**Question.** {question}"));
    }
    if let Some(warning) = sampling_warning(c.sampling_notices) {
        out += &paragraph(&format!("> **Warning.** {warning}"));
    }
    let intervals = if s.bootstrap.point_estimates() {
        "Point estimates only (`--resamples 0`): no figure has an interval and no claim is judged."
            .to_string()
    } else {
        format!(
            "Intervals are {} bootstrap confidence intervals.",
            level(s.bootstrap.confidence)
        )
    };
    out + &paragraph(&format!(
        "{} complete requests of {} at fetch delays {}; {} incomplete requests are counted in Data quality and left out of every statistic. {intervals}",
        thousands(c.requests_complete as u64),
        a.approaches.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "),
        a.delays.iter().map(|d| delay_label(*d)).collect::<Vec<_>>().join(", "),
        thousands(c.requests_total.saturating_sub(c.requests_complete) as u64),
    ))
}

/// What to keep, why, the cheapest approach per delay, break-even and verdicts.
fn answer(a: &Analysis, s: &Settings, c: &Context, ci: &str) -> String {
    let notes = [
        without_complete_note(&c.without_complete),
        unusable_note(c.requests_unusable),
    ];
    let notes: String = notes.iter().flatten().map(|n| paragraph(n)).collect();
    [
        heading("The answer"),
        paragraph(&recommendation(a, s)),
        glance::section(a, c),
        notes,
        cheapest(a, ci),
        breakeven(a, s),
        claims(a, ci),
    ]
    .concat()
}

fn mean_cost(a: &Analysis, approach: &str, delay_ms: i64) -> Option<f64> {
    a.summary_row(approach, delay_ms, Metric::Cost)
        .map(|r| r.mean.value)
}

/// Of `among`, the approach whose mean `cost` (either billing rule's) is lowest at `d`.
fn cheapest_of<'a>(a: &Analysis, among: &[&'a str], d: i64, cost: Metric) -> Option<&'a str> {
    (among.iter())
        .filter_map(|ap| a.summary_row(ap, d, cost).map(|r| (*ap, r.mean.value)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(ap, _)| ap)
}

/// A leading column of a table by delay: its header and its cell at a delay.
type Lead = (&'static str, fn(&Analysis, i64) -> String);

/// A row per delay: `lead` columns, then a column per approach.
fn per_delay(a: &Analysis, lead: &[Lead], cell: impl Fn(&str, i64) -> String) -> Table {
    let approaches = a
        .approaches
        .iter()
        .map(|ap| (format!("`{ap}`"), Align::Right));
    let columns = lead.iter().map(|(h, _)| (h.to_string(), Align::Left));
    let mut t = Table::new(columns.chain(approaches));
    for &d in &a.delays {
        let lead = lead.iter().map(|(_, f)| f(a, d));
        t.push(
            lead.chain(a.approaches.iter().map(|ap| cell(ap, d)))
                .collect(),
        );
    }
    t
}

fn delay_cell(_: &Analysis, d: i64) -> String {
    delay_label(d)
}

fn cheapest_cell(a: &Analysis, d: i64) -> String {
    let all: Vec<&str> = a.approaches.iter().map(String::as_str).collect();
    cheapest_of(a, &all, d, Metric::Cost).map_or("-".into(), |b| format!("**`{b}`**"))
}

/// A metric's mean and interval for an approach and delay, `-` when there is none.
/// How a value of `metric` is written.
fn format_of(metric: Metric) -> fn(f64) -> String {
    format_in(metric.unit())
}

/// How a value in `unit` is written: dollars, ratios, or milliseconds and counts.
pub(super) fn format_in(unit: Unit) -> fn(f64) -> String {
    match unit {
        Unit::UsdPerMillion => money,
        Unit::Times => times,
        Unit::Ms => ms,
        Unit::Invocations => count,
    }
}

fn mean_cell(a: &Analysis, metric: Metric, ap: &str, d: i64) -> String {
    let f = format_of(metric);
    a.summary_row(ap, d, metric)
        .map_or("-".into(), |r| with_ci(&r.mean, f, r.describe.n))
}

fn cheapest(a: &Analysis, ci: &str) -> String {
    let lead: [Lead; 2] = [("delay", delay_cell), ("cheapest", cheapest_cell)];
    let t = per_delay(a, &lead, |ap, d| mean_cell(a, Metric::Cost, ap, d));
    paragraph(&format!(
        "**Cheapest approach at each delay** (mean cost in USD per million requests, {ci}):"
    )) + &table(&t)
}

fn breakeven(a: &Analysis, s: &Settings) -> String {
    let items: Vec<String> = a
        .breakeven
        .iter()
        .map(|b| match b.delay_ms {
            Some(x) if x >= 0.0 => format!(
                "`{}` is cheaper than `{}` above **{}** ({}).",
                b.approach,
                b.baseline,
                ms(x),
                breakeven_interval(b, s.bootstrap.confidence)
            ),
            _ => format!("`{}` against `{}`: {}.", b.approach, b.baseline, b.note),
        })
        .collect();
    let how = match s.bootstrap.point_estimates() {
        true => "cost fitted against delay per approach",
        false => {
            "cost fitted against delay per approach; bootstrap over requests within each group"
        }
    };
    paragraph(&format!("**Break-even** ({how}):")) + &list(&items) + "\n"
}

fn claims(a: &Analysis, ci: &str) -> String {
    if a.claims.is_empty() {
        return paragraph(&format!("**Claims**: {NO_CLAIMS}"));
    }
    let mut t = Table::new([
        ("claim".to_string(), Align::Left),
        ("claimed".into(), Align::Right),
        (format!("measured ({ci})"), Align::Right),
        ("verdict".into(), Align::Left),
    ]);
    for h in &a.claims {
        let fmt = format_in(h.unit);
        let c = &h.claim;
        let verdict = match h.verdict {
            Some(Verdict::Supported) => "**supported**".to_string(),
            Some(Verdict::Refuted) => "**refuted**".into(),
            Some(Verdict::Inconclusive) => "inconclusive".into(),
            None => h.note.clone(),
        };
        t.push(vec![
            format!("{}: {} ({})", c.id, c.claim, h.what),
            claimed_range(c.range, fmt),
            (h.measured.as_ref()).map_or("-".into(), |m| with_ci(m, fmt, h.n)),
            verdict,
        ]);
    }
    paragraph("**Claims from the pipeline file**:") + &table(&t)
}

/// "10 ms-30 ms", or "-100 ms to -1 ms" where a dash would read as a minus.
fn claimed_range((low, high): (f64, f64), fmt: fn(f64) -> String) -> String {
    if low < 0.0 || high < 0.0 {
        format!("{} to {}", fmt(low), fmt(high))
    } else {
        format!("{}-{}", fmt(low), fmt(high))
    }
}

/// A metric's section: its title and its caption, where `{ci}` stands for
/// the interval label (`Analysis::interval_label`) and `{m}` for the metric's column.
fn section_text(metric: Metric) -> (&'static str, String) {
    let (title, caption) = match metric {
        Metric::DoWall => ("Billed Durable Object wall time", "Mean `{m}` per request ({ci}): the wall clock Durable Objects are billed on, summed over the request's Durable Object legs."),
        Metric::Cost => ("Cost per million requests", "Mean `{m}` ({ci}), with the prices listed under How this was computed."),
        Metric::CostOtherBilling => ("Cost under the other billing assumption", "Mean `{m}` ({ci}): the cost if each Worker role's request fee were billed the other way (see How this was computed)."),
        Metric::Span => ("Latency", "Mean `{m}` ({ci}): first leg start to last leg end, as Cloudflare saw it."),
        Metric::WorkerCpu => ("Worker CPU", "Mean `{m}` ({ci}): the CPU time Workers are billed on."),
        Metric::ClientLatency => ("Client latency", "Mean `{m}` from the run manifest ({ci}), for requests matched to exactly one window."),
        Metric::DoCpu => ("Durable Object CPU", ""),
        Metric::WorkerWall => ("Worker wall time", ""),
        Metric::DoInvocations => ("Durable Object requests", ""),
        Metric::WorkerInvocations => ("Worker invocations", ""),
    };
    if caption.is_empty() {
        (
            title,
            format!("Mean `{{m}}` per request ({{ci}}): {}.", metric.meaning()),
        )
    } else {
        (title, caption.to_string())
    }
}

/// One section per metric: its chart, its caption and the means behind it.
fn evidence(a: &Analysis, s: &Settings, c: &Context, ci: &str) -> String {
    let section = |metric: Metric| {
        let (title, caption) = section_text(metric);
        let image = if c.charts {
            paragraph(&format!("![{title}](charts/{})", charts::file_name(metric)))
        } else {
            String::new()
        };
        let lead: [Lead; 1] = [("delay", delay_cell)];
        let t = per_delay(a, &lead, |ap, d| mean_cell(a, metric, ap, d));
        heading(title)
            + &image
            + &paragraph(&caption.replace("{ci}", ci).replace("{m}", metric.column()))
            + &table(&t)
    };
    let metrics = s.frame.sections(a.has_client_latency);
    metrics.into_iter().map(section).collect()
}

fn differences(a: &Analysis, ci: &str) -> String {
    let mut t = Table::new([
        ("delay", Align::Left),
        ("approach", Align::Left),
        ("baseline", Align::Left),
        ("metric", Align::Left),
        ("difference", Align::Right),
        ("ratio", Align::Right),
    ]);
    for r in &a.comparisons {
        let f = format_of(r.metric);
        t.push(vec![
            delay_label(r.delay_ms),
            format!("`{}`", r.approach),
            format!("`{}`", r.baseline),
            r.metric.to_string(),
            with_ci(&r.diff, f, r.n),
            ratio_with_ci(&r.ratio, r.n),
        ]);
    }
    heading("Differences against the baseline")
        + &paragraph(&format!("Difference and ratio of means (other - baseline, other / baseline), {ci}. All rows in `comparisons.csv`."))
        + &table(&t)
}

fn quality(c: &Context) -> String {
    if let Some(from) = &c.requests_from {
        return heading("Data quality") + &paragraph(&format!(
            "The requests come from `{}`, computed elsewhere (`--requests`): the transform's quality table (lines ignored and why, legs that did not end `ok`, requests the logs lost) is not available here. Incomplete requests and the roles they miss are in `requests.csv` (`complete`, `missing_roles`).",
            crate::core::terminal::printable(from)
        ));
    }
    let mut t = Table::new([
        ("item", Align::Left),
        ("detail", Align::Left),
        ("approach", Align::Left),
        ("delay", Align::Left),
        ("count", Align::Right),
    ]);
    for q in &c.quality {
        t.push(vec![
            q.item.clone(),
            q.detail.clone(),
            q.approach.clone().unwrap_or_default(),
            q.delay_ms.map(delay_label).unwrap_or_default(),
            thousands(q.count),
        ]);
    }
    heading("Data quality") + &table(&t)
}

fn method(s: &Settings, c: &Context) -> String {
    let p = &s.prices;
    let b = &s.bootstrap;
    let interval = match b.method {
        Method::Bca => "BCa",
        Method::Percentile => "percentile",
    };
    heading("How this was computed") + &list(&[
        "Per-request metrics as defined in experiment.md, from `requests.csv`; only complete requests (every role of their approach present) enter the statistics.".into(),
        format!("Prices (USD per million): DO wall clock {} per ms, DO request {}, Worker CPU {} per ms, Worker request {}, row written {}, row read {}.", p.do_wall_ms, p.do_request, p.worker_cpu_ms, p.worker_request, p.row_written, p.row_read),
        if b.point_estimates() {
            "No bootstrap (`--resamples 0`): point estimates only, no interval, no verdict. Quantiles by linear interpolation (numpy's default).".into()
        } else {
            format!("Bootstrap: {} resamples, seed {}, {interval} intervals at {} confidence, each approach and delay's requests resampled once and every statistic read from those resamples (medians drawn from their exact bootstrap distribution); BCa's jackknife leaves out one of at most 200 blocks of requests. Quantiles by linear interpolation (numpy's default).", thousands(b.resamples as u64), b.seed, level(b.confidence))
        },
        format!("Break-even: least squares of cost against delay per approach{}.", if b.point_estimates() { "" } else { "; its interval from refits on resampled requests (percentiles)" }),
        format!("Claims: each from `[[report.claims]]` of the pipeline file; a ratio is approach / baseline and a difference approach - baseline, of means (or medians) at the measured delay nearest the claim's, or averaged over the delays both approaches have. {}", if b.point_estimates() { "Not judged: a verdict needs an interval." } else { "Verdicts: supported when the interval lies inside the claimed range, refuted when wholly outside, inconclusive otherwise." }),
        format!("Files: `summary.csv`, `comparisons.csv`, `breakeven.csv`, `claims.csv`, {}`requests.csv`, each with a `.parquet` twin; charts in `charts/`.", if c.requests_from.is_some() { "" } else { "`quality.csv`, " }),
        format!("tracecost {}.", env!("CARGO_PKG_VERSION")),
    ])
}

/// A break-even delay's interval, or why it has none.
pub fn breakeven_interval(b: &BreakevenRow, confidence: f64) -> String {
    match b.ci {
        Some(ci) => format!(
            "{} CI {}-{}",
            level(confidence),
            thousands_f(ci.low),
            ms(ci.high)
        ),
        None => b.note.clone(),
    }
}

/// The interval of "faster by": the negated difference, low and high swapped.
fn latency_ci(c: &ComparisonRow, confidence: f64) -> String {
    if has_interval(&c.diff) {
        let (low, high) = (-c.diff.ci.high, -c.diff.ci.low);
        let to = if low < 0.0 { " to " } else { "-" };
        format!(
            "{} CI {}{to}{}",
            level(confidence),
            thousands_f(low),
            ms(high)
        )
    } else {
        single_request(c.n).unwrap_or("point estimate").into()
    }
}

/// One paragraph that says what to keep and why.
fn recommendation(a: &Analysis, s: &Settings) -> String {
    let baseline = &s.baseline;
    let Some(&top) = a.delays.last() else {
        return String::new();
    };
    let alternatives: Vec<&str> = a
        .approaches
        .iter()
        .map(String::as_str)
        .filter(|ap| ap != baseline)
        .collect();
    let Some(best) = cheapest_of(a, &alternatives, top, Metric::Cost) else {
        return format!(
            "Only `{baseline}` has complete requests: there is nothing to compare it with."
        );
    };
    let mut text = if baseline_cheaper(a, baseline, best, top) {
        format!(
            "**Keep `{baseline}`**: at {}, the longest delay measured, no approach compared with it costs less; the closest is `{best}`{}",
            delay_label(top),
            pays_off(a, s, best)
        )
    } else {
        format!(
            "**Keep `{best}`**: of the approaches compared with `{baseline}`, it is the cheapest at {}{}",
            where_cheapest(a, &alternatives, best, top),
            when_to_use(a, s, best)
        )
    };
    text.push('.');
    let others = latency_notes(a, s, &alternatives, best, top);
    if !others.is_empty() {
        text += &format!(" On latency, {}.", others.join("; "));
    }
    text
}

/// "every delay measured" when `best` costs no more than any other alternative at
/// every delay, else the delay it was chosen at.
fn where_cheapest(a: &Analysis, alternatives: &[&str], best: &str, top: i64) -> String {
    let everywhere = a.delays.iter().all(|d| {
        alternatives
            .iter()
            .all(|ap| match (mean_cost(a, best, *d), mean_cost(a, ap, *d)) {
                (Some(b), Some(o)) => b <= o,
                _ => true,
            })
    });
    if everywhere && alternatives.len() > 1 {
        "every delay measured".into()
    } else {
        delay_label(top)
    }
}

/// Whether the baseline costs no more than `best` at `top`.
fn baseline_cheaper(a: &Analysis, baseline: &str, best: &str, top: i64) -> bool {
    match (mean_cost(a, baseline, top), mean_cost(a, best, top)) {
        (Some(b), Some(o)) => b <= o,
        _ => false,
    }
}

/// Where `best`, dearer than the baseline, would pay off, as a clause.
fn pays_off(a: &Analysis, s: &Settings, best: &str) -> String {
    let Some(b) = a.breakeven.iter().find(|b| b.approach == best) else {
        return String::new();
    };
    match b.delay_ms {
        Some(x) if x >= 0.0 => format!(
            ", which would pay off only for fetches longer than about {} ({})",
            ms(x),
            breakeven_interval(b, s.bootstrap.confidence)
        ),
        Some(_) => String::new(),
        None => format!("; {}", b.note),
    }
}

/// Where `best` breaks even with the baseline, as a clause.
fn when_to_use(a: &Analysis, s: &Settings, best: &str) -> String {
    let baseline = &s.baseline;
    let Some(b) = a.breakeven.iter().find(|b| b.approach == best) else {
        return String::new();
    };
    match b.delay_ms {
        Some(x) if x >= 0.0 => format!(
            ". Use it only for fetches expected to take longer than about {} ({}); below that, `{baseline}` is cheaper",
            ms(x),
            breakeven_interval(b, s.bootstrap.confidence)
        ),
        Some(_) => format!(", and it is cheaper than `{baseline}` at every delay"),
        None => format!("; {}", b.note),
    }
}

/// How much faster or slower `best` is than each other alternative, at `top`
/// when it was compared there, else at the first delay it was.
fn latency_notes(
    a: &Analysis,
    s: &Settings,
    alternatives: &[&str],
    best: &str,
    top: i64,
) -> Vec<String> {
    let span = |ap: &str, r: &&ComparisonRow| {
        r.approach == best && r.baseline == ap && r.metric == Metric::Span
    };
    let note = |ap: &str| {
        let c = (a.comparisons.iter())
            .find(|r| span(ap, r) && r.delay_ms == top)
            .or_else(|| a.comparisons.iter().find(|r| span(ap, r)))?;
        let faster = -c.diff.value;
        let at = delay_label(c.delay_ms);
        let ci = latency_ci(c, s.bootstrap.confidence);
        if has_interval(&c.diff) && c.diff.ci.low <= 0.0 && c.diff.ci.high >= 0.0 {
            return Some(format!(
                "`{best}` and `{ap}` show no detectable difference at {at} (`{best}` {} {}, {ci})",
                ms(faster.abs()),
                if faster >= 0.0 { "faster" } else { "slower" },
            ));
        }
        Some(format!(
            "`{best}` is {} {} than `{ap}` at {at} ({ci})",
            ms(faster.abs()),
            if faster >= 0.0 { "faster" } else { "slower" },
        ))
    };
    alternatives
        .iter()
        .filter(|ap| **ap != best)
        .filter_map(|ap| note(ap))
        .collect()
}
