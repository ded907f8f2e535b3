//! report.md: the answer first, then the evidence, then how it was computed.

use std::fmt::Write as _;

use super::analysis::{has_interval, Analysis, Settings, Verdict};
use crate::core::numbers::{delay_label, level, thousands, thousands_f};
use crate::lake::derived::QualityRow;
use crate::stats::bootstrap::{Estimate, Method};

/// What the report states about its inputs besides the analysis.
pub struct Context<'a> {
    pub pipeline: &'a str,
    pub requests_total: usize,
    pub requests_complete: usize,
    /// Complete requests left out for a metric that is missing or not finite.
    pub requests_unusable: usize,
    pub quality: Vec<QualityRow>,
    pub charts: bool,
    /// Approaches with requests (or declared) but no complete one, and their requests.
    pub without_complete: Vec<(String, usize)>,
    /// wrangler tail's sampling notices over the lake's sources.
    pub sampling_notices: u64,
}

fn money(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("${v:.2}")
    } else {
        format!("${v:.3}")
    }
}

fn ms(v: f64) -> String {
    format!("{} ms", thousands_f(v))
}

/// A value and its interval; `n`, the requests of the smallest group it
/// comes from, says why an interval is missing.
fn with_ci(e: &Estimate, f: fn(f64) -> String, n: usize) -> String {
    if has_interval(e) {
        format!("{} ({}-{})", f(e.value), f(e.ci.low), f(e.ci.high))
    } else {
        format!("{} ({})", f(e.value), no_interval(n))
    }
}

fn no_interval(n: usize) -> &'static str {
    if n < super::analysis::MIN_REQUESTS_FOR_INTERVAL {
        "no interval: a single request"
    } else {
        "no interval"
    }
}

fn ratio_with_ci(e: &Estimate, n: usize) -> String {
    if has_interval(e) {
        format!("{:.3} ({:.3}-{:.3})", e.value, e.ci.low, e.ci.high)
    } else if e.value.is_finite() {
        format!("{:.3} ({})", e.value, no_interval(n))
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

fn times(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{}x", thousands_f(v))
    } else {
        format!("{v:.1}x")
    }
}

pub fn render(a: &Analysis, s: &Settings, c: &Context) -> String {
    let mut out = String::new();
    let w = &mut out;
    let lv = level(s.bootstrap.confidence);
    header(w, a, c, &lv);
    answer(w, a, s, c, &lv);
    evidence(w, a, c, &lv);
    differences(w, a, &lv);
    quality(w, c);
    method(w, a, s);
    out
}

/// The title, the sampling warning when there is one, and what went in.
fn header(w: &mut String, a: &Analysis, c: &Context, lv: &str) {
    let _ = writeln!(
        w,
        "# Which proxy fetch approach to keep: `{}`\n",
        c.pipeline
    );
    if let Some(warning) = sampling_warning(c.sampling_notices) {
        let _ = writeln!(w, "> **Warning.** {warning}\n");
    }
    let _ = writeln!(
        w,
        "{} complete requests of {} at fetch delays {}; {} incomplete requests are counted in Data quality and left out of every statistic. Intervals are {lv} bootstrap confidence intervals.\n",
        thousands(c.requests_complete as u64),
        a.approaches.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "),
        a.delays.iter().map(|d| delay_label(*d)).collect::<Vec<_>>().join(", "),
        thousands(c.requests_total.saturating_sub(c.requests_complete) as u64),
    );
}

/// What to keep, why, the cheapest approach per delay, break-even and verdicts.
fn answer(w: &mut String, a: &Analysis, s: &Settings, c: &Context, lv: &str) {
    let _ = writeln!(w, "## The answer\n");
    let _ = writeln!(w, "{}\n", recommendation(a, s));
    for note in [
        without_complete_note(&c.without_complete),
        unusable_note(c.requests_unusable),
    ]
    .into_iter()
    .flatten()
    {
        let _ = writeln!(w, "{note}\n");
    }
    cheapest(w, a, lv);
    breakeven(w, a, s);
    theories(w, a, lv);
}

fn cheapest(w: &mut String, a: &Analysis, lv: &str) {
    let cost = |ap: &str, d: i64| a.summary_row(ap, d, "cost_usd_per_million");
    let _ = writeln!(
        w,
        "**Cheapest approach at each delay** (mean cost in USD per million requests, {lv} CI):\n"
    );
    let _ = write!(w, "| delay | cheapest |");
    for ap in &a.approaches {
        let _ = write!(w, " `{ap}` |");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "|---|---|{}", "---:|".repeat(a.approaches.len()));
    for &d in &a.delays {
        let best = a
            .approaches
            .iter()
            .filter_map(|ap| cost(ap, d).map(|r| (ap, r.mean.value)))
            .min_by(|x, y| x.1.total_cmp(&y.1));
        let _ = write!(
            w,
            "| {} | {} |",
            delay_label(d),
            best.map_or("-".into(), |b| format!("**`{}`**", b.0))
        );
        for ap in &a.approaches {
            let cell = cost(ap, d).map_or("-".into(), |r| with_ci(&r.mean, money, r.describe.n));
            let _ = write!(w, " {cell} |");
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w);
}

fn breakeven(w: &mut String, a: &Analysis, s: &Settings) {
    let _ = writeln!(w, "**Break-even** (cost fitted against delay per approach; bootstrap over requests within each group):\n");
    for b in &a.breakeven {
        match b.delay_ms {
            Some(x) if x >= 0.0 => {
                let _ = writeln!(
                    w,
                    "- `{}` is cheaper than `{}` above **{}** ({}).",
                    b.approach,
                    b.baseline,
                    ms(x),
                    breakeven_interval(b, s.bootstrap.confidence)
                );
            }
            _ => {
                let _ = writeln!(
                    w,
                    "- `{}` against `{}`: {}.",
                    b.approach, b.baseline, b.note
                );
            }
        }
    }
    let _ = writeln!(w);
}

fn theories(w: &mut String, a: &Analysis, lv: &str) {
    let _ = writeln!(w, "**The plan's theories**:\n");
    let _ = writeln!(w, "| theory | claimed | measured ({lv} CI) | verdict |");
    let _ = writeln!(w, "|---|---:|---:|---|");
    for h in &a.hypotheses {
        let fmt: fn(f64) -> String = if h.unit == "ms" { ms } else { times };
        let verdict = match h.verdict {
            Verdict::Supported => "**supported**",
            Verdict::Refuted => "**refuted**",
            Verdict::Inconclusive => "inconclusive",
        };
        let _ = writeln!(
            w,
            "| {}: {} | {}-{} | {} | {verdict} |",
            h.id,
            h.claim,
            fmt(h.range.0),
            fmt(h.range.1),
            with_ci(&h.measured, fmt, h.n)
        );
    }
    let _ = writeln!(w);
}

/// One section per chart: its caption and the means behind it.
fn evidence(w: &mut String, a: &Analysis, c: &Context, lv: &str) {
    let section = |w: &mut String,
                   title: &str,
                   chart: &str,
                   metric: &str,
                   f: fn(f64) -> String,
                   caption: &str| {
        let _ = writeln!(w, "## {title}\n");
        // A section without a chart of its own links none (issue 16 adds one
        // for client latency).
        if c.charts && !chart.is_empty() {
            let _ = writeln!(w, "![{title}](charts/{chart})\n");
        }
        let _ = writeln!(w, "{caption}\n");
        let _ = write!(w, "| delay |");
        for ap in &a.approaches {
            let _ = write!(w, " `{ap}` |");
        }
        let _ = writeln!(w);
        let _ = writeln!(w, "|---|{}", "---:|".repeat(a.approaches.len()));
        for &d in &a.delays {
            let _ = write!(w, "| {} |", delay_label(d));
            for ap in &a.approaches {
                let cell = a
                    .summary_row(ap, d, metric)
                    .map_or("-".into(), |r| with_ci(&r.mean, f, r.describe.n));
                let _ = write!(w, " {cell} |");
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w);
    };
    section(w, "Billed Durable Object wall time", "do_wall_by_delay.png", "do_wall_ms", ms, &format!("Mean `do_wall_ms` per request ({lv} CI): the wall clock Durable Objects are billed on, summed over origin and orchestrator legs."));
    section(
        w,
        "Cost per million requests",
        "cost_vs_delay.png",
        "cost_usd_per_million",
        money,
        &format!("Mean `cost_usd_per_million` ({lv} CI), with the prices listed under How this was computed."),
    );
    section(
        w,
        "Latency",
        "span_ecdf.png",
        "span_ms",
        ms,
        &format!(
            "Mean `span_ms` ({lv} CI): first leg start to last leg end, as Cloudflare saw it."
        ),
    );
    section(
        w,
        "Worker CPU",
        "worker_cpu.png",
        "worker_cpu_ms",
        ms,
        &format!("Mean `worker_cpu_ms` ({lv} CI): the CPU time Workers are billed on."),
    );
    if a.has_client_latency {
        section(w, "Client latency", "", "client_latency_ms", ms, &format!("Mean `client_latency_ms` from the run manifest ({lv} CI), for requests matched to exactly one window."));
    }
}

fn differences(w: &mut String, a: &Analysis, lv: &str) {
    let _ = writeln!(w, "## Differences against the baseline\n");
    let _ = writeln!(w, "Difference and ratio of means (other - baseline, other / baseline), {lv} CI. All rows in `comparisons.csv`.\n");
    let _ = writeln!(
        w,
        "| delay | approach | baseline | metric | difference | ratio |"
    );
    let _ = writeln!(w, "|---|---|---|---|---:|---:|");
    for r in &a.comparisons {
        let f: fn(f64) -> String = if r.metric == "cost_usd_per_million" {
            money
        } else {
            ms
        };
        let _ = writeln!(
            w,
            "| {} | `{}` | `{}` | {} | {} | {} |",
            delay_label(r.delay_ms),
            r.approach,
            r.baseline,
            r.metric,
            with_ci(&r.diff, f, r.n),
            ratio_with_ci(&r.ratio, r.n)
        );
    }
    let _ = writeln!(w);
}

fn quality(w: &mut String, c: &Context) {
    let _ = writeln!(w, "## Data quality\n");
    let _ = writeln!(w, "| item | detail | approach | delay | count |");
    let _ = writeln!(w, "|---|---|---|---|---:|");
    for q in &c.quality {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            q.item,
            q.detail,
            q.approach.as_deref().unwrap_or(""),
            q.delay_ms.map(delay_label).unwrap_or_default(),
            thousands(q.count)
        );
    }
    let _ = writeln!(w);
}

fn method(w: &mut String, a: &Analysis, s: &Settings) {
    let p = &s.prices;
    let b = &s.bootstrap;
    let _ = writeln!(w, "## How this was computed\n");
    let _ = writeln!(w, "- Per-request metrics as defined in experiment.md, from `requests.csv`; only complete requests (every role of their approach present) enter the statistics.");
    let _ = writeln!(
        w,
        "- Prices (USD per million): DO wall clock {} per ms, DO request {}, Worker CPU {} per ms, Worker request {}, row written {}, row read {}.",
        p.do_wall_ms, p.do_request, p.worker_cpu_ms, p.worker_request, p.row_written, p.row_read
    );
    let _ = writeln!(
        w,
        "- Bootstrap: {} resamples, seed {}, {} intervals at {} confidence, each approach and delay's requests resampled once and every statistic read from those resamples (medians drawn from their exact bootstrap distribution); BCa's jackknife leaves out one of at most 200 blocks of requests. Quantiles by linear interpolation (numpy's default).",
        thousands(b.resamples as u64),
        b.seed,
        match b.method {
            Method::Bca => "BCa",
            Method::Percentile => "percentile",
        },
        level(b.confidence)
    );
    let _ = writeln!(w, "- Break-even: least squares of cost against delay per approach; its interval from refits on resampled requests (percentiles).");
    let _ = writeln!(
        w,
        "- Verdicts: supported when the interval lies inside the claimed range, refuted when wholly outside, inconclusive otherwise. Theories 1 and 2 at the {} delay.",
        a.hypothesis_delay_ms.map(delay_label).unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(w, "- Files: `summary.csv`, `comparisons.csv`, `breakeven.csv`, `hypotheses.csv`, `quality.csv`, `requests.csv`, each with a `.parquet` twin; charts in `charts/`.");
    let _ = writeln!(w, "- tracecost {}.", env!("CARGO_PKG_VERSION"));
}

/// A break-even delay's interval, or why it has none.
pub fn breakeven_interval(b: &super::analysis::BreakevenRow, confidence: f64) -> String {
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
fn latency_ci(c: &super::analysis::ComparisonRow, confidence: f64) -> String {
    if has_interval(&c.diff) {
        format!(
            "{} CI {}-{}",
            level(confidence),
            thousands_f(-c.diff.ci.high),
            ms(-c.diff.ci.low)
        )
    } else {
        no_interval(c.n).to_string()
    }
}

/// One paragraph that says what to keep and why.
fn recommendation(a: &Analysis, s: &Settings) -> String {
    let baseline = &s.baseline;
    let Some(&top) = a.delays.last() else {
        return String::new();
    };
    let cost = |ap: &str, d: i64| {
        a.summary_row(ap, d, "cost_usd_per_million")
            .map(|r| r.mean.value)
    };
    let proxies: Vec<&String> = a.approaches.iter().filter(|ap| *ap != baseline).collect();
    let Some(best) = proxies
        .iter()
        .filter_map(|ap| cost(ap, top).map(|c| (*ap, c)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|b| b.0)
    else {
        return format!(
            "Only `{baseline}` has complete requests: there is nothing to compare it with."
        );
    };
    let cheaper_everywhere = a.delays.iter().all(|d| {
        proxies
            .iter()
            .all(|ap| match (cost(best, *d), cost(ap, *d)) {
                (Some(b), Some(o)) => b <= o,
                _ => true,
            })
    });
    let mut text = format!("**Keep `{best}`**");
    if cheaper_everywhere && proxies.len() > 1 {
        text.push_str(" as the proxy: it is the cheapest proxy at every delay measured");
    } else {
        text.push_str(&format!(
            " as the proxy: it is the cheapest proxy at {}",
            delay_label(top)
        ));
    }
    if let Some(b) = a.breakeven.iter().find(|b| &b.approach == best) {
        match b.delay_ms {
            Some(x) if x >= 0.0 => text.push_str(&format!(
                ". Use it only for fetches expected to take longer than about {} ({}); below that, `{baseline}` is cheaper",
                ms(x),
                breakeven_interval(b, s.bootstrap.confidence)
            )),
            Some(_) => text.push_str(&format!(", and it is cheaper than `{baseline}` at every delay")),
            None => text.push_str(&format!("; {}", b.note)),
        }
    }
    let others: Vec<String> = proxies
        .iter()
        .filter(|ap| **ap != best)
        .filter_map(|ap| {
            let c = a
                .comparisons
                .iter()
                .find(|r| {
                    &r.approach == best
                        && &r.baseline == *ap
                        && r.metric == "span_ms"
                        && r.delay_ms == top
                })
                .or_else(|| {
                    a.comparisons.iter().find(|r| {
                        &r.approach == best && &r.baseline == *ap && r.metric == "span_ms"
                    })
                })?;
            let faster = -c.diff.value;
            Some(format!(
                "`{best}` is {} {} than `{ap}` at {} ({})",
                ms(faster.abs()),
                if faster >= 0.0 { "faster" } else { "slower" },
                delay_label(c.delay_ms),
                latency_ci(c, s.bootstrap.confidence)
            ))
        })
        .collect();
    text.push('.');
    if !others.is_empty() {
        text.push_str(&format!(" On latency, {}.", others.join("; ")));
    }
    text
}
