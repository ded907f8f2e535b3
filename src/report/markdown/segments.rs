//! "Do regions or script versions differ?": one sentence first, then the
//! largest difference per approach and delay, then the means per segment.

use super::table::{Align, Table};
use super::{format_of, heading, paragraph, table, with_ci};
use crate::core::metric::Metric;
use crate::core::numbers::{delay_label, level, thousands};
use crate::report::segments::{SegmentDifference, Segments};

/// Means shown in report.md at most; segments.csv holds them all.
const MAX_MEAN_ROWS: usize = 40;

/// Differences shown in report.md at most, those that differ first.
const MAX_DIFFERENCE_ROWS: usize = 12;

/// A segment value as the report shows it: long ids (script versions are
/// UUIDs) cut to their first 8 characters; segments.csv keeps them whole.
fn short(value: &str) -> String {
    let id_like = |p: &str| p.len() > 12 && p.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let parts: Vec<&str> = (value.split(','))
        .map(|p| if id_like(p) { &p[..8] } else { p })
        .collect();
    parts.join(",")
}

pub fn section(s: &Segments, ci: &str) -> String {
    let mut out = heading("Do regions or script versions differ?")
        + &paragraph(&answer(s))
        + &paragraph("Flagged requests (cold starts, outliers) are left out here: a cold start in one segment would pass for a slow region.");
    let notes: Vec<String> = (s.keys.iter().zip(&s.without_value))
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| {
            format!(
                "{} requests have no `{k}` and are in no `{k}` segment.",
                thousands(*n as u64)
            )
        })
        .chain(
            (s.skipped.iter())
                .filter(|_| !s.keys.is_empty())
                .map(|k| format!("`{k}` is not a column of requests.parquet: skipped.")),
        )
        .collect();
    if !notes.is_empty() {
        out += &paragraph(&notes.join(" "));
    }
    out + &differences(s, ci) + &means(s, ci)
}

fn keys(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|k| format!("`{k}`")).collect();
    quoted.join(" or ")
}

pub(super) fn answer(s: &Segments) -> String {
    if s.keys.is_empty() {
        return format!(
            "**Not measured**: requests.parquet has no {} column, so every request is in one segment.",
            keys(&s.skipped)
        );
    }
    if s.means.is_empty() {
        let all: Vec<String> = s.keys.iter().chain(&s.skipped).cloned().collect();
        return format!(
            "**Not measured**: no request in the statistics has a value of {}, so every request is in one segment.",
            keys(&all)
        );
    }
    if s.point_estimates {
        return "**Not judged**: point estimates (`--resamples 0`) give no interval to tell a difference between segments from chance; the largest differences and the means per segment are below.".into();
    }
    let lv = level(s.confidence);
    let answers: Vec<(bool, String)> = s.keys.iter().map(|k| key_answer(s, k, &lv)).collect();
    let lead = match answers.iter().any(|(beyond_chance, _)| *beyond_chance) {
        true => "**Yes**",
        false => "**No**",
    };
    let sentences: Vec<String> = answers.into_iter().map(|(_, text)| text).collect();
    format!("{lead}: {}.", sentences.join("; "))
}

/// One key's answer, and whether more of its comparisons differ than chance
/// alone would make differ at the level.
fn key_answer(s: &Segments, key: &str, lv: &str) -> (bool, String) {
    let all: Vec<&SegmentDifference> = s.differences.iter().filter(|d| d.key == key).collect();
    if all.is_empty() {
        return (
            false,
            format!("by `{key}`, cannot tell (no approach and delay has two values with two or more requests each)"),
        );
    }
    let differ: Vec<&&SegmentDifference> = all.iter().filter(|d| d.differs()).collect();
    let chance = ((1.0 - s.confidence) * all.len() as f64).round() as usize;
    let counted = format!(
        "by `{key}`, {} of {} comparisons differ (about {chance} would by chance alone at {lv})",
        differ.len(),
        all.len()
    );
    // The clearest difference: farthest from 0 for the width of its interval.
    let clearness = |d: &SegmentDifference| {
        d.difference.value.abs()
            / (d.difference.ci.high - d.difference.ci.low).max(f64::MIN_POSITIVE)
    };
    if differ.len() <= chance {
        return (false, format!("{counted}: no more than chance"));
    }
    let Some(d) = differ
        .iter()
        .max_by(|x, y| clearness(x).total_cmp(&clearness(y)))
    else {
        return (false, counted);
    };
    let f = format_of(d.metric);
    let e = &d.difference;
    let to = if e.ci.low < 0.0 { " to " } else { "-" };
    let clearest = format!(
        "the clearest: `{}` at {}, mean `{}` {} higher in `{}` than in `{}` ({lv} CI {}{to}{}, n = {} in the smaller segment)",
        d.approach,
        delay_label(d.delay_ms),
        d.metric,
        f(e.value),
        short(&d.highest),
        short(&d.lowest),
        f(e.ci.low),
        f(e.ci.high),
        thousands(d.n as u64)
    );
    (true, format!("{counted}; {clearest}"))
}

fn interval(d: &SegmentDifference) -> String {
    with_ci(&d.difference, format_of(d.metric), d.n)
}

fn differences(s: &Segments, ci: &str) -> String {
    if s.differences.is_empty() {
        return String::new();
    }
    let mut t = Table::new([
        ("by", Align::Left),
        ("approach", Align::Left),
        ("delay", Align::Left),
        ("metric", Align::Left),
        ("highest - lowest", Align::Left),
        (format!("difference ({ci})").as_str(), Align::Right),
        ("differ", Align::Left),
    ]);
    let mut rows: Vec<&SegmentDifference> = s.differences.iter().collect();
    rows.sort_by_key(|d| !d.differs());
    for d in rows.iter().take(MAX_DIFFERENCE_ROWS) {
        t.push(vec![
            format!("`{}`", d.key),
            format!("`{}`", d.approach),
            delay_label(d.delay_ms),
            d.metric.to_string(),
            format!(
                "`{}` - `{}` ({} segments)",
                short(&d.highest),
                short(&d.lowest),
                d.segments
            ),
            interval(d),
            match (s.point_estimates, d.differs()) {
                (true, _) => "-".into(),
                (false, true) => "**yes**".into(),
                (false, false) => "no".into(),
            },
        ]);
    }
    let n = s.differences.len();
    let differ = rows.iter().filter(|d| d.differs()).count();
    let rest =
        match n > MAX_DIFFERENCE_ROWS {
            true => {
                format!(
            " The first {MAX_DIFFERENCE_ROWS} of {} are shown{}; all are in `segments.csv`.",
            thousands(n as u64),
            if s.point_estimates { "" } else { ", those that differ first" }
        )
            }
            false => String::new(),
        };
    if s.point_estimates {
        return paragraph(&format!(
            "**Largest difference between segment means** ({ci}; the pair is chosen on the data).{rest}"
        )) + &table(&t);
    }
    let lv = level(s.confidence);
    paragraph(&format!(
        "**Largest difference between segment means** ({lv} CI; the pair is chosen on the data, so a difference that only just excludes 0 is weak evidence). {differ} of {n} comparisons differ; with {n} comparisons at {lv}, about {} would by chance alone.{rest}",
        thousands(((1.0 - s.confidence) * n as f64).round() as u64)
    )) + &table(&t)
}

fn means(s: &Segments, ci: &str) -> String {
    let shown: Vec<_> = (s.means.iter())
        .filter(|m| m.metric == Metric::Span || m.metric == Metric::Cost)
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    if shown.len() > MAX_MEAN_ROWS {
        return paragraph(&format!(
            "Means per segment: {} rows, in `segments.csv`.",
            thousands(s.means.len() as u64)
        ));
    }
    let mut t = Table::new([
        ("by", Align::Left),
        ("value", Align::Left),
        ("approach", Align::Left),
        ("delay", Align::Left),
        ("metric", Align::Left),
        (format!("mean ({ci})").as_str(), Align::Right),
        ("n", Align::Right),
    ]);
    for m in shown {
        t.push(vec![
            format!("`{}`", m.key),
            format!("`{}`", short(&m.value)),
            format!("`{}`", m.approach),
            delay_label(m.delay_ms),
            m.metric.to_string(),
            with_ci(&m.mean, format_of(m.metric), m.n),
            thousands(m.n as u64),
        ]);
    }
    paragraph("**Means per segment** (all rows in `segments.csv`):") + &table(&t)
}
