//! The first screen's answers to the plan's open questions, a line each:
//! cold starts, regions and versions, how late Logpush delivered, the
//! request-fee assumption, and what the logs lost or saw fail.

use super::{breakeven_interval, cheapest_of, format_of, list, segments, sensitivity, Context};
use crate::core::cost::{Billing, RoleBilling};
use crate::core::metric::Metric;
use crate::core::named::Named;
use crate::core::numbers::{delay_label, thousands};
use crate::lake::derived::{total, LEGS_NOT_OK, REQUESTS_LOST};
use crate::report::analysis::Analysis;
use crate::report::claims::ClaimRow;

pub fn section(a: &Analysis, c: &Context) -> String {
    let items = [
        Some(format!(
            "**Cold starts and outliers**: {}",
            sensitivity::headline(c.sensitivity).replace("**", "")
        )),
        Some(format!(
            "**Regions and script versions**: {}",
            segments::answer(c.segments).replace("**", "")
        )),
        (c.delivery.headline.as_ref()).map(|h| format!("**Logpush delay**: {h}")),
        fees(a, c.billing),
        losses(c),
    ];
    list(&items.into_iter().flatten().collect::<Vec<_>>()) + "\n"
}

fn roles(billing: &[RoleBilling], billed: bool) -> String {
    let names: Vec<String> = (billing.iter())
        .filter(|r| r.request_billed == billed)
        .map(|r| {
            let how = if r.explicit { "set" } else { "published rule" };
            format!("`{}` ({}, {how})", r.role, r.billing.name())
        })
        .collect();
    names.join(", ")
}

/// The request-fee assumption, and the cost answers under the other one.
fn fees(a: &Analysis, billing: &[RoleBilling]) -> Option<String> {
    let workers: Vec<&RoleBilling> = (billing.iter())
        .filter(|r| r.billing == Billing::Worker)
        .collect();
    if workers.is_empty() {
        return None;
    }
    let mut text = String::from("**Request fees**: ");
    for (billed, word) in [(true, "billed"), (false, "not billed")] {
        let named = roles(billing, billed);
        if !named.is_empty() {
            text += &format!("{word} for {named}; ");
        }
    }
    let flipped: Vec<String> = workers.iter().map(|r| format!("`{}`", r.role)).collect();
    text += &format!(
        "the published rule bills no request fee for a Worker reached through a service binding and does not spell out one a Durable Object calls, so with {}'s fee the other way round ({}): {}",
        flipped.join(", "),
        Metric::CostOtherBilling.column(),
        other_answers(a)
    );
    Some(text)
}

fn other_answers(a: &Analysis) -> String {
    let all: Vec<&str> = a.approaches.iter().map(String::as_str).collect();
    let changed: Vec<String> = (a.delays.iter())
        .filter_map(|&d| {
            let (now, other) = (
                cheapest_of(a, &all, d, Metric::Cost)?,
                cheapest_of(a, &all, d, Metric::CostOtherBilling)?,
            );
            (now != other).then(|| format!("`{other}` instead of `{now}` at {}", delay_label(d)))
        })
        .collect();
    let mut parts = vec![match changed.is_empty() {
        true => "the cheapest approach at each delay stays the same".to_string(),
        false => format!("the cheapest approach changes: {}", changed.join(", ")),
    }];
    for b in &a.other_billing.breakeven {
        let at = match b.delay_ms {
            Some(x) => format!(
                "{} ms ({})",
                thousands(x.round().max(0.0) as u64),
                breakeven_interval(b, a.confidence)
            ),
            None => b.note.clone(),
        };
        parts.push(format!(
            "break-even of `{}` against `{}` {at}",
            b.approach, b.baseline
        ));
    }
    for other in &a.other_billing.claims {
        parts.push(claim_change(a, other));
    }
    parts.join("; ") + "."
}

/// A cost claim's verdict under the other fee assumption, against the file's.
fn claim_change(a: &Analysis, other: &ClaimRow) -> String {
    let verdict = |c: &ClaimRow| match (c.verdict, c.measured) {
        (Some(v), _) => v.name(),
        (None, Some(_)) => "not judged",
        (None, None) => "not measured",
    };
    let now = (a.claims.iter()).find(|c| c.id() == other.id());
    let value = (other.measured)
        .map(|m| format!(" ({})", format_of_claim(other, m.value)))
        .unwrap_or_default();
    match now {
        Some(now) if verdict(now) != verdict(other) => format!(
            "{} goes from {} to {}{value}",
            other.id(),
            verdict(now),
            verdict(other)
        ),
        _ => format!("{} stays {}{value}", other.id(), verdict(other)),
    }
}

fn format_of_claim(c: &ClaimRow, v: f64) -> String {
    match c.claim.metric {
        Some(m) => format_of(m)(v),
        None => super::format_in(c.unit)(v),
    }
}

/// Legs that did not end `ok` and requests the logs lost, from the quality table.
fn losses(c: &Context) -> Option<String> {
    let not_ok = total(&c.quality, LEGS_NOT_OK, None);
    let lost = total(&c.quality, REQUESTS_LOST, None);
    if not_ok == 0 && lost == 0 {
        return None;
    }
    let by = |item: &str| -> String {
        let rows: Vec<String> = (c.quality.iter())
            .filter(|q| q.item == item && q.count > 0)
            .map(|q| {
                let at = match (&q.approach, q.delay_ms) {
                    (Some(ap), Some(d)) => format!("`{ap}` at {}", delay_label(d)),
                    (Some(ap), None) => format!("`{ap}`"),
                    _ => "no approach".into(),
                };
                match item == LEGS_NOT_OK {
                    true => format!("{} {} ({at})", thousands(q.count), q.detail),
                    false => format!("{} ({at})", thousands(q.count)),
                }
            })
            .collect();
        rows.join(", ")
    };
    let mut parts = Vec::new();
    if not_ok > 0 {
        parts.push(format!(
            "{} did not end `ok`: {}; they are billed all the same and stay in the statistics",
            plural(not_ok, "leg", "legs"),
            by(LEGS_NOT_OK)
        ));
    }
    if lost > 0 {
        parts.push(format!(
            "{} of the run manifest left no event at all: {}; a request the logs lost is not a request that cost nothing (`lost.parquet` names them)",
            plural(lost, "request", "requests"),
            by(REQUESTS_LOST)
        ));
    }
    Some(format!("**Failures and losses**: {}.", parts.join("; ")))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}
