//! "Cold starts and outliers": how many, what they do to latency and cost,
//! and whether any verdict or break-even changes without them.

use super::table::{Align, Table};
use super::{
    breakeven_interval, format_of, heading, list, ms, paragraph, single_request, table, with_ci,
};
use crate::core::metric::Metric;
use crate::core::numbers::{delay_label, thousands};
use crate::report::analysis::{has_interval, BreakevenRow};
use crate::report::flags::{MeanChange, Sensitivity, SENSITIVE_METRICS};
use crate::stats::bootstrap::Estimate;

pub fn section(s: &Sensitivity, confidence: f64, ci: &str) -> String {
    let total: usize = s.counts.iter().map(|c| c.flagged).sum();
    [
        heading("Cold starts and outliers"),
        paragraph(&(answer(s, total) + &largest_changes(s, ci))),
        paragraph(&rule(s)),
        counts(s),
        means(s, ci),
        breakeven(s, confidence),
    ]
    .concat()
}

/// The section's answer, for the first screen.
pub(super) fn headline(s: &Sensitivity) -> String {
    answer(s, s.counts.iter().map(|c| c.flagged).sum())
}

/// One sentence: does leaving the flagged requests out change any verdict or break-even?
fn answer(s: &Sensitivity, total: usize) -> String {
    if let Some(note) = &s.note {
        let mut chars = note.chars();
        let cap: String = chars
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default();
        return format!("{cap}{}.", chars.as_str());
    }
    let cold: usize = s.counts.iter().map(|c| c.cold_start).sum();
    let outliers: usize = s.counts.iter().map(|c| c.outlier).sum();
    let mut changes: Vec<String> = (s.verdicts.iter())
        .filter(|v| v.changed())
        .map(|v| {
            let to = v.without.map_or("-", |(w, _)| w.name());
            format!("{} goes from {} to {to}", v.id, v.all.name())
        })
        .collect();
    changes.extend((s.breakeven.iter()).filter(|b| b.changed()).map(|b| {
        format!(
            "the break-even of `{}` against `{}` moves from {} to {}",
            b.all.approach,
            b.all.baseline,
            point(&b.all),
            b.without.as_ref().map_or("-".into(), point)
        )
    }));
    let lead = format!(
        "Without the {} flagged requests ({} cold starts, {} outliers; a request can be both)",
        thousands(total as u64),
        thousands(cold as u64),
        thousands(outliers as u64)
    );
    if changes.is_empty() && s.point_estimates {
        format!("**{lead}, the figures move as shown below; without intervals (`--resamples 0`) no verdict is judged.**")
    } else if changes.is_empty() {
        format!("**{lead}, no verdict changes and no break-even moves out of its interval.**")
    } else {
        format!("**{lead}: {}.**", changes.join("; "))
    }
}

/// Per metric, the group whose mean moves most (relatively) without the flagged.
fn largest_changes(s: &Sensitivity, ci: &str) -> String {
    let moved = |m: &&MeanChange| {
        let w = m.without.map_or(f64::NAN, |w| w.value);
        let change = ((w - m.all.value) / m.all.value).abs();
        if change.is_finite() {
            change
        } else {
            0.0
        }
    };
    let sentences: Vec<String> = SENSITIVE_METRICS
        .iter()
        .filter_map(|metric| {
            let m = (s.means.iter())
                .filter(|m| m.metric == *metric && m.without.is_some())
                .max_by(|x, y| moved(x).total_cmp(&moved(y)))
                .filter(|m| moved(m) > 0.0)?;
            let without = m.without.as_ref()?;
            Some(format!(
                "the mean `{metric}` of `{}` at {}, from {} to {}",
                m.approach,
                delay_label(m.delay_ms),
                inline(&m.all, *metric, m.n, ci),
                inline(without, *metric, m.n_without, ci)
            ))
        })
        .collect();
    let mut out = String::new();
    if !sentences.is_empty() {
        out += &format!(
            " Without them, the largest changes are in {}.",
            sentences.join("; and in ")
        );
    }
    out + &emptied(s)
}

/// Groups every request of which is flagged: absent from the figures without them.
fn emptied(s: &Sensitivity) -> String {
    let mut groups: Vec<String> = (s.means.iter())
        .filter(|m| m.without.is_none() && m.metric == SENSITIVE_METRICS[0])
        .map(|m| format!("`{}` at {}", m.approach, delay_label(m.delay_ms)))
        .collect();
    groups.dedup();
    if s.note.is_some() || groups.is_empty() {
        return String::new();
    }
    format!(
        " Every request of {} is flagged, so those groups are absent from the figures without them.",
        groups.join(", ")
    )
}

/// A mean in a sentence: value, interval and n in one parenthesis.
fn inline(e: &Estimate, metric: Metric, n: usize, ci: &str) -> String {
    let f = format_of(metric);
    let why = single_request(n).map(|why| format!("{why}, "));
    let n = thousands(n as u64);
    if has_interval(e) {
        format!(
            "{} ({ci} {}-{}, n = {n})",
            f(e.value),
            f(e.ci.low),
            f(e.ci.high)
        )
    } else {
        format!("{} ({}n = {n})", f(e.value), why.unwrap_or_default())
    }
}

fn point(b: &BreakevenRow) -> String {
    b.delay_ms.map_or("none".into(), ms)
}

fn rule(s: &Sensitivity) -> String {
    let k = &s.settings;
    let metrics: Vec<String> = k.outlier_metrics.iter().map(|m| format!("`{m}`")).collect();
    format!(
        "A request is a *cold start* when it is the first of its approach in the window, or when it starts {} or more after every earlier request of its approach had ended; an *outlier* when its modified z-score 0.6745 (x - median) / MAD within its approach and delay exceeds {} for {} (upper tail only). Each request's flags are in `requests.csv` (`cold_start`, `outlier`); every figure below with and without them in `sensitivity.csv`.",
        ms(k.idle_gap_ms as f64),
        k.outlier_k,
        metrics.join(" or ")
    )
}

fn counts(s: &Sensitivity) -> String {
    let mut t = Table::new([
        ("approach", Align::Left),
        ("complete requests", Align::Right),
        ("cold starts", Align::Right),
        ("outliers", Align::Right),
        ("flagged", Align::Right),
    ]);
    for c in &s.counts {
        t.push(vec![
            format!("`{}`", c.approach),
            thousands(c.requests as u64),
            thousands(c.cold_start as u64),
            thousands(c.outlier as u64),
            thousands(c.flagged as u64),
        ]);
    }
    table(&t)
}

fn mean_text(e: Option<&Estimate>, metric: Metric, n: usize) -> String {
    match e {
        Some(e) => format!(
            "{}, n = {}",
            with_ci(e, format_of(metric), n),
            thousands(n as u64)
        ),
        None => "- (every request flagged)".into(),
    }
}

/// Mean latency and cost of the groups that have flagged requests.
fn means(s: &Sensitivity, ci: &str) -> String {
    let touched: Vec<&MeanChange> = (s.means.iter())
        .filter(|m| m.n != m.n_without && s.note.is_none())
        .collect();
    if touched.is_empty() {
        return String::new();
    }
    let mut t = Table::new([
        ("approach", Align::Left),
        ("delay", Align::Left),
        ("metric", Align::Left),
        ("every request", Align::Right),
        ("without the flagged", Align::Right),
    ]);
    for m in touched {
        t.push(vec![
            format!("`{}`", m.approach),
            delay_label(m.delay_ms),
            m.metric.to_string(),
            mean_text(Some(&m.all), m.metric, m.n),
            mean_text(m.without.as_ref(), m.metric, m.n_without),
        ]);
    }
    let metrics: Vec<String> = SENSITIVE_METRICS.iter().map(|m| format!("`{m}`")).collect();
    paragraph(&format!(
        "**What they do to latency and cost**: mean {} ({ci}) of the groups with a flagged request.",
        metrics.join(" and ")
    )) + &table(&t)
}

fn breakeven(s: &Sensitivity, confidence: f64) -> String {
    if s.note.is_some() || s.breakeven.is_empty() {
        return String::new();
    }
    let items: Vec<String> = (s.breakeven.iter())
        .map(|b| {
            let none = |r: &BreakevenRow| r.delay_ms.is_none();
            if none(&b.all) && b.without.as_ref().is_none_or(none) {
                return format!(
                    "`{}` against `{}`: none with or without them ({}).",
                    b.all.approach, b.all.baseline, b.all.note
                );
            }
            let without = b.without.as_ref().map_or("none".into(), |w| {
                format!("{} ({})", point(w), breakeven_interval(w, confidence))
            });
            format!(
                "`{}` against `{}`: {} ({}) with every request, {without} without the flagged.",
                b.all.approach,
                b.all.baseline,
                point(&b.all),
                breakeven_interval(&b.all, confidence)
            )
        })
        .collect();
    paragraph("**Break-even with and without them**:") + &list(&items) + "\n"
}
