//! Candidate correlation ids: fields whose values repeat across legs of
//! different scripts or entrypoints within a short time, ranked by how many
//! legs they join.

use std::collections::BTreeSet;

use super::fields::Field;
use super::survey::{FieldStats, Survey, MAX_NAMES};

/// Longest time between the first and last leg of a request that a
/// correlation id may span (most of its groups).
const MAX_SPAN_MS: i64 = 15 * 60 * 1000;
/// Most legs a typical request has: a value shared by more is a constant
/// (a DO's id, a log level), not a request's id.
const MAX_TYPICAL_LEGS: u32 = 32;
/// Share of the best score within which the finest grouping wins.
const NEARLY: f64 = 0.9;
/// Share of a field's sampled values that must also be the top candidate's
/// for the field to name the same ids.
const SAME_IDS: f64 = 0.8;

/// One field that could be the request id.
#[derive(Debug, Clone)]
pub struct IdCandidate {
    /// Index into [`Survey::fields`].
    pub field: usize,
    /// Legs in joined groups (groups whose legs run in two or more scripts
    /// or entrypoints), estimated from the sample.
    pub legs_joined: f64,
    pub groups_joined: f64,
    /// Shapes that appear in its joined groups.
    pub shapes_joined: BTreeSet<usize>,
    /// Distinct (script, entrypoint) pairs its joined groups span.
    pub roles_joined: usize,
    pub median_legs: u32,
    pub p90_span_ms: i64,
}

/// The id candidates, best first: by the legs they join, discounted by the
/// share of legs in which they take several values (a request's leg has one id).
pub fn rank(survey: &Survey) -> Vec<IdCandidate> {
    let mut out: Vec<IdCandidate> = (survey.fields.iter().enumerate())
        .filter_map(|(i, f)| candidate(survey, i, f))
        .collect();
    let score = |c: &IdCandidate| c.legs_joined * survey.fields[c.field].single_share();
    out.sort_by(|a, b| {
        (score(b).total_cmp(&score(a)))
            .then(b.roles_joined.cmp(&a.roles_joined))
            .then(a.field.cmp(&b.field))
    });
    // Of fields joining about as many legs, the one that makes the most
    // requests is the request's id; the others group requests (an account).
    let best = out.first().map_or(0.0, score);
    let finest = (out.iter().enumerate())
        .filter(|(_, c)| score(c) >= NEARLY * best)
        .max_by(|(i, a), (j, b)| a.groups_joined.total_cmp(&b.groups_joined).then(j.cmp(i)))
        .map(|(i, _)| i);
    if let Some(i) = finest {
        let c = out.remove(i);
        out.insert(0, c);
    }
    out
}

fn place(survey: &Survey, shape: u32) -> (&str, &str) {
    let key = &survey.shapes[shape as usize].key;
    (&key.script, &key.entrypoint)
}

fn candidate(survey: &Survey, index: usize, f: &FieldStats) -> Option<IdCandidate> {
    let mut sizes = Vec::new();
    let mut spans = Vec::new();
    let mut shapes = BTreeSet::new();
    let mut places = BTreeSet::new();
    let mut legs = 0u64;
    for seen in f.sample.values.values() {
        let here: BTreeSet<(&str, &str)> = seen.shapes.iter().map(|s| place(survey, *s)).collect();
        if seen.legs < 2 || here.len() < 2 {
            continue;
        }
        sizes.push(seen.legs);
        spans.push(seen.last - seen.first);
        legs += u64::from(seen.legs);
        shapes.extend(seen.shapes.iter().map(|s| *s as usize));
        places.extend(here);
    }
    if sizes.len() < 2 {
        return None;
    }
    sizes.sort_unstable();
    spans.sort_unstable();
    let median_legs = sizes[sizes.len() / 2];
    let p90_span_ms = spans[(spans.len() * 9 / 10).min(spans.len() - 1)];
    if median_legs > MAX_TYPICAL_LEGS || p90_span_ms > MAX_SPAN_MS {
        return None;
    }
    let rate = f.sample.rate();
    Some(IdCandidate {
        field: index,
        legs_joined: legs as f64 / rate,
        groups_joined: sizes.len() as f64 / rate,
        shapes_joined: shapes,
        roles_joined: places.len(),
        median_legs,
        p90_span_ms,
    })
}

/// The fields that carry the same ids as `top`: the same key elsewhere (a
/// query parameter and a log key of one name), or legs `top` does not reach.
/// The transform tries URL fields first, then log fields, as here.
pub fn same_ids(survey: &Survey, top: usize) -> Vec<usize> {
    let t = &survey.fields[top];
    let mut out: Vec<usize> = (survey.fields.iter().enumerate())
        .filter(|(i, f)| *i == top || (shares_values(t, f) && adds(t, f)))
        .map(|(i, _)| i)
        .collect();
    out.sort_by_key(|&i| (!survey.fields[i].field.in_url(), i != top, i));
    out
}

fn key(field: &Field) -> &str {
    match field {
        Field::Query(k) | Field::Log(k) | Field::Path(k) => k,
    }
}

fn adds(top: &FieldStats, other: &FieldStats) -> bool {
    key(&top.field) == key(&other.field) || other.shapes.keys().any(|s| !top.shapes.contains_key(s))
}

/// Whether most of `other`'s values (where both samples reach) are `top`'s.
fn shares_values(top: &FieldStats, other: &FieldStats) -> bool {
    let threshold = top.sample.threshold.min(other.sample.threshold);
    let mine: Vec<&u64> = (other.sample.values.keys())
        .filter(|h| **h <= threshold)
        .collect();
    let shared = mine
        .iter()
        .filter(|h| top.sample.values.contains_key(h))
        .count();
    !mine.is_empty() && shared as f64 >= SAME_IDS * mine.len() as f64
}

/// Whether a field's values are few enough to be names (approach, delay).
pub fn is_names(f: &FieldStats) -> bool {
    !f.many && (2..=MAX_NAMES).contains(&f.names.len())
}
