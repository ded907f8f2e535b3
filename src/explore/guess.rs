//! From grouped legs to a guess at the deployment: which shapes are roles
//! (and which one is a test driver), which field names the approach and
//! which the delay, and which roles each approach needs.

use std::collections::{BTreeMap, BTreeSet};

use super::fields::Operation;
use super::groups::{Grouping, Mark};
use super::survey::Survey;

/// Values of a field a guess shows.
pub const SHOWN_VALUES: usize = 12;

/// Up to [`SHOWN_VALUES`] values, numbers in numeric order.
fn shown(values: &BTreeSet<&String>) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    out.sort_by_key(|v| {
        (
            v.parse::<f64>().ok().map(|x| (x * 1000.0) as i64),
            v.clone(),
        )
    });
    out.truncate(SHOWN_VALUES);
    out
}

/// Share of an approach's requests a role must be in to be required.
pub const REQUIRED_SHARE: f64 = 0.9;
/// Share of requests a field must give a value for, and agree within.
const MIN_COVERAGE: f64 = 0.9;
const MIN_CONSISTENT: f64 = 0.98;
/// Share of its groups in which a driver's leg encloses all the others.
const DRIVER_SHARE: f64 = 0.9;
/// Least correlation of a delay field's value with the request's duration.
const MIN_DELAY_CORRELATION: f64 = 0.3;

/// A role: the shapes whose legs it takes.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub shapes: Vec<usize>,
    /// Starts most of its requests; merges the shapes of one family that do.
    pub entry: bool,
}

/// A shape whose leg encloses every other leg of nearly all its requests.
#[derive(Debug, Clone)]
pub struct Driver {
    pub shape: usize,
    pub groups: usize,
    pub enclosing: usize,
}

/// Where the approach comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ApproachSource {
    /// A field (index into `Grouping::attributes`).
    Field(usize),
    /// The RPC method of an entry role's leg (index into roles).
    Method(usize),
    /// Nothing tells requests apart: one approach.
    Constant,
}

/// How well a candidate field fits the approach or the delay.
#[derive(Debug, Clone)]
pub struct Fit {
    pub source: ApproachSource,
    pub coverage: f64,
    pub consistent: f64,
    pub distinct: usize,
    /// Its values (at most [`SHOWN_VALUES`]), numbers in numeric order.
    pub values: Vec<String>,
    /// Approach: how well its value predicts the roles present; delay: the
    /// correlation of its value with the request's duration.
    pub strength: f64,
    pub score: f64,
}

/// One approach and the share of its requests each role takes part in.
#[derive(Debug, Clone)]
pub struct Approach {
    pub name: String,
    pub requests: usize,
    pub roles: Vec<(usize, f64)>,
}

/// A request as the guess sees it: the legs of role shapes.
struct Request<'a> {
    legs: Vec<&'a Mark>,
    roles: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
pub struct Guess {
    pub roles: Vec<Role>,
    pub drivers: Vec<Driver>,
    /// Requests the guess looked at (sampled groups and single legs).
    pub requests: usize,
    pub approach: Fit,
    pub approach_candidates: Vec<Fit>,
    pub delay: Option<Fit>,
    pub delay_candidates: Vec<Fit>,
    pub approaches: Vec<Approach>,
}

/// The multi-leg groups.
fn multi(g: &Grouping) -> Vec<&Vec<Mark>> {
    let mut out: Vec<&Vec<Mark>> = g.groups.items.values().filter(|l| l.len() >= 2).collect();
    out.sort_by_key(|l| l.iter().map(|m| m.ts).min());
    out
}

pub fn guess(survey: &Survey, g: &Grouping) -> Guess {
    let groups = multi(g);
    let part = taking_part(survey, &groups);
    let drivers = drivers(&groups, &part);
    let guess = attempt(survey, g, &groups, &part, drivers.clone());
    // A caller that waits for the others encloses them too: it is a driver
    // only if the rest of its requests still tell their approach.
    match !drivers.is_empty() && guess.approach.source == ApproachSource::Constant {
        true => attempt(survey, g, &groups, &part, Vec::new()),
        false => guess,
    }
}

/// The guess with `drivers` left out of the requests.
fn attempt(
    survey: &Survey,
    g: &Grouping,
    groups: &[&Vec<Mark>],
    part: &BTreeSet<usize>,
    drivers: Vec<Driver>,
) -> Guess {
    let driver_shapes: BTreeSet<usize> = drivers.iter().map(|d| d.shape).collect();
    let part: BTreeSet<usize> = part.difference(&driver_shapes).copied().collect();
    let entries = entries(groups, &part);
    let mut roles = roles(survey, &part, &entries);
    let siblings = siblings(survey, g, &roles, &part, &driver_shapes);
    // The approach may be named only on legs without an id (`direct`); the
    // delay is read where ids are, so that a sibling without it cannot hide it.
    let trial = with(&roles, &siblings);
    let approach_candidates = approach_fits(g, &trial, &requests(g, &trial));
    let approach = (approach_candidates.first().cloned()).unwrap_or(Fit {
        source: ApproachSource::Constant,
        coverage: 1.0,
        consistent: 1.0,
        distinct: 1,
        values: vec!["all".into()],
        strength: 1.0,
        score: 0.0,
    });
    let delay_candidates = delay_fits(g, &requests(g, &roles), &approach.source);
    let delay = delay_candidates.first().cloned();
    let kept: Vec<(usize, usize)> = (siblings.into_iter())
        .filter(|(_, shape)| {
            carries(g, *shape, &approach.source)
                && delay.as_ref().is_none_or(|d| carries(g, *shape, &d.source))
        })
        .collect();
    roles = with(&roles, &kept);
    let requests = requests(g, &roles);
    let approaches = approaches(g, &roles, &requests, &approach.source);
    Guess {
        delay,
        roles,
        drivers,
        requests: requests.len(),
        approach,
        approach_candidates,
        delay_candidates,
        approaches,
    }
}

/// Whether nearly all kept legs of a shape without ids give a value for `source`.
fn carries(g: &Grouping, shape: usize, source: &ApproachSource) -> bool {
    let ApproachSource::Field(a) = source else {
        return true;
    };
    let legs = &g.singles[shape].items;
    let with = legs
        .values()
        .filter(|m| m.values.iter().any(|(x, _)| *x as usize == *a))
        .count();
    !legs.is_empty() && with as f64 >= MIN_COVERAGE * legs.len() as f64
}

/// `roles` with the (role, shape) pairs added to them.
fn with(roles: &[Role], pairs: &[(usize, usize)]) -> Vec<Role> {
    let mut out = roles.to_vec();
    for (r, shape) in pairs {
        out[*r].shapes.push(*shape);
    }
    out
}

/// Shapes in at least two multi-leg groups (one, when groups are few).
fn taking_part(survey: &Survey, groups: &[&Vec<Mark>]) -> BTreeSet<usize> {
    let mut count = vec![0usize; survey.shapes.len()];
    for legs in groups {
        let shapes: BTreeSet<u32> = legs.iter().map(|m| m.shape).collect();
        shapes.iter().for_each(|s| count[*s as usize] += 1);
    }
    let least = if groups.len() < 10 { 1 } else { 2 };
    (0..count.len()).filter(|s| count[*s] >= least).collect()
}

/// Shapes in nearly every group whose leg encloses the others there: the
/// harness that sends the requests, not a part of them.
fn drivers(groups: &[&Vec<Mark>], part: &BTreeSet<usize>) -> Vec<Driver> {
    let mut out = Vec::new();
    for &s in part {
        let (mut present, mut enclosing) = (0, 0);
        for legs in groups {
            let (mine, others): (Vec<&Mark>, Vec<&Mark>) =
                legs.iter().partition(|m| m.shape as usize == s);
            if mine.is_empty() || others.is_empty() {
                continue;
            }
            present += 1;
            let (start, end) = (
                others.iter().map(|m| m.ts).min(),
                others.iter().map(|m| m.end).max(),
            );
            if mine
                .iter()
                .any(|m| Some(m.ts) <= start && Some(m.end) >= end)
            {
                enclosing += 1;
            }
        }
        let everywhere = present as f64 >= DRIVER_SHARE * groups.len() as f64;
        if part.len() > 1 && everywhere && enclosing as f64 >= DRIVER_SHARE * present as f64 {
            out.push(Driver {
                shape: s,
                groups: present,
                enclosing,
            });
        }
    }
    out
}

/// Shapes whose leg comes first in most of the groups they are in.
fn entries(groups: &[&Vec<Mark>], part: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut first: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for legs in groups {
        // A group left with one leg once its driver is out still has an entry: that leg.
        let legs: Vec<&Mark> = legs
            .iter()
            .filter(|m| part.contains(&(m.shape as usize)))
            .collect();
        if legs.is_empty() {
            continue;
        }
        let shapes: BTreeSet<usize> = legs.iter().map(|m| m.shape as usize).collect();
        for s in shapes {
            first.entry(s).or_default().1 += 1;
        }
        // A caller starts no later than its callee and ends no sooner.
        let lead = legs.iter().min_by_key(|m| (m.ts, -m.end)).expect("a leg");
        first.entry(lead.shape as usize).or_default().0 += 1;
    }
    (first.into_iter())
        .filter(|(_, (lead, all))| 2 * lead >= *all)
        .map(|(s, _)| s)
        .collect()
}

/// One role per shape taking part; a family's entry shapes make one role.
fn roles(survey: &Survey, part: &BTreeSet<usize>, entries: &BTreeSet<usize>) -> Vec<Role> {
    let mut roles: Vec<Role> = (part.difference(entries))
        .map(|&s| Role {
            name: String::new(),
            shapes: vec![s],
            entry: false,
        })
        .collect();
    // Without requests of several legs, every leg is a request of its family.
    let lone: Vec<usize> = match part.is_empty() {
        true => (0..survey.shapes.len()).collect(),
        false => entries.iter().copied().collect(),
    };
    let mut families: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for s in lone {
        families
            .entry(survey.shapes[s].key.family())
            .or_default()
            .push(s);
    }
    roles.extend(families.into_values().map(|shapes| Role {
        name: String::new(),
        shapes,
        entry: true,
    }));
    name_roles(survey, &mut roles);
    roles
}

/// Shapes without ids of an entry role's family that look like its shapes
/// (`/experiment/direct` beside `/experiment/current`), as (role, shape).
fn siblings(
    survey: &Survey,
    g: &Grouping,
    roles: &[Role],
    part: &BTreeSet<usize>,
    drivers: &BTreeSet<usize>,
) -> Vec<(usize, usize)> {
    let key = |s: usize| &survey.shapes[s].key;
    let mut out = Vec::new();
    for (r, role) in roles.iter().enumerate().filter(|(_, r)| r.entry) {
        let family = key(role.shapes[0]).family();
        let ops: Vec<&Operation> = role.shapes.iter().map(|s| &key(*s).operation).collect();
        for s in 0..survey.shapes.len() {
            let free = !part.contains(&s) && !role.shapes.contains(&s) && !drivers.contains(&s);
            if free
                && g.with_id[s] == 0
                && key(s).family() == family
                && sibling(&key(s).operation, &ops)
            {
                out.push((r, s));
            }
        }
    }
    out
}

/// Whether a shape without ids does what the entry shapes do: another RPC
/// method of theirs, or a path that differs from theirs only where theirs differ.
pub fn sibling(op: &Operation, entries: &[&Operation]) -> bool {
    match (op, entries.first()) {
        (Operation::Rpc(_), Some(Operation::Rpc(_))) => true,
        (Operation::Path(p), Some(Operation::Path(_))) => {
            let paths: Vec<&str> = (entries.iter())
                .filter_map(|o| match o {
                    Operation::Path(p) => Some(p.as_str()),
                    _ => None,
                })
                .collect();
            path_union(&paths).is_some_and(|u| matches_union(&u, p))
        }
        _ => false,
    }
}

/// The entry paths as one pattern: segments where they differ become
/// `None`; `None` when their lengths differ.
pub fn path_union(paths: &[&str]) -> Option<Vec<Option<String>>> {
    // `/` and `/result` have one shape only by the empty segment of `/`.
    if paths.len() > 1 && paths.contains(&"/") {
        return None;
    }
    let split = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
    let first = split(paths.first()?);
    let mut out: Vec<Option<String>> = first.into_iter().map(Some).collect();
    for p in &paths[1..] {
        let segments = split(p);
        if segments.len() != out.len() {
            return None;
        }
        for (o, s) in out.iter_mut().zip(segments) {
            if o.as_deref() != Some(s.as_str()) {
                *o = None;
            }
        }
    }
    Some(out)
}

fn matches_union(union: &[Option<String>], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let varies = union.iter().any(Option::is_none);
    varies
        && segments.len() == union.len()
        && (union.iter().zip(&segments)).all(|(u, s)| u.as_deref().is_none_or(|u| u == *s))
}

/// `OriginDO` → `origin-do`, `onFetchResult` → `on-fetch-result`.
pub fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let after_lower = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            let ends_acronym = prev.is_some_and(|p| p.is_ascii_uppercase())
                && next.is_some_and(|n| n.is_ascii_lowercase());
            if after_lower || ends_acronym {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "role".into()
    } else {
        out
    }
}

/// Names from the entrypoint (else the script); roles sharing one get
/// their method or path after it, the entry role keeping the plain name.
fn name_roles(survey: &Survey, roles: &mut [Role]) {
    let base = |r: &Role| {
        let key = &survey.shapes[r.shapes[0]].key;
        kebab(if key.entrypoint.is_empty() {
            &key.script
        } else {
            &key.entrypoint
        })
    };
    let bases: Vec<String> = roles.iter().map(base).collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (i, role) in roles.iter_mut().enumerate() {
        let shared = bases.iter().filter(|b| **b == bases[i]).count() > 1;
        let mut name = bases[i].clone();
        if shared && !role.entry {
            let key = &survey.shapes[role.shapes[0]].key;
            let what = match &key.operation {
                Operation::Rpc(m) => kebab(m),
                Operation::Path(p) => kebab(
                    p.rsplit('/')
                        .find(|s| !s.is_empty() && *s != "*")
                        .unwrap_or("fetch"),
                ),
                Operation::Other => kebab(&key.event_type),
            };
            name = format!("{name}-{what}");
        }
        let mut unique = name.clone();
        let mut n = 2;
        while !taken.insert(unique.clone()) {
            unique = format!("{name}-{n}");
            n += 1;
        }
        role.name = unique;
    }
}

/// The sampled groups and single legs, as requests of role legs.
fn requests<'a>(g: &'a Grouping, roles: &[Role]) -> Vec<Request<'a>> {
    let mut role_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (r, role) in roles.iter().enumerate() {
        role.shapes.iter().for_each(|s| {
            role_of.insert(*s, r);
        });
    }
    let request = |legs: Vec<&'a Mark>| {
        let roles: BTreeSet<usize> = legs
            .iter()
            .filter_map(|m| role_of.get(&(m.shape as usize)).copied())
            .collect();
        Request { legs, roles }
    };
    let mut out: Vec<Request> = Vec::new();
    let mut keys: Vec<&u64> = g.groups.items.keys().collect();
    keys.sort();
    for k in keys {
        let legs: Vec<&Mark> = (g.groups.items[k].iter())
            .filter(|m| role_of.contains_key(&(m.shape as usize)))
            .collect();
        if !legs.is_empty() {
            out.push(request(legs));
        }
    }
    for (shape, singles) in g.singles.iter().enumerate() {
        if role_of.contains_key(&shape) {
            let mut keys: Vec<&u64> = singles.items.keys().collect();
            keys.sort();
            out.extend(keys.into_iter().map(|k| request(vec![&singles.items[k]])));
        }
    }
    out
}

/// The value a request gives for a source: `None` when it gives none,
/// `Some(None)` when its legs disagree.
fn value_of(
    g: &Grouping,
    roles: &[Role],
    r: &Request,
    source: &ApproachSource,
) -> Option<Option<String>> {
    let values: BTreeSet<String> = match source {
        ApproachSource::Field(a) => (r.legs.iter())
            .flat_map(|m| m.values.iter().filter(|(x, _)| *x as usize == *a))
            .map(|(_, v)| g.values[*a][*v as usize].clone())
            .collect(),
        ApproachSource::Method(role) => (r.legs.iter())
            .filter(|m| roles[*role].shapes.contains(&(m.shape as usize)))
            .filter_map(|m| g.method_of(m.shape as usize).map(String::from))
            .collect(),
        ApproachSource::Constant => return Some(Some("all".into())),
    };
    match values.len() {
        0 => None,
        1 => Some(values.into_iter().next()),
        _ => Some(None),
    }
}

/// Coverage, agreement and the agreed values of a source over the requests.
fn measure(
    g: &Grouping,
    roles: &[Role],
    requests: &[Request],
    source: &ApproachSource,
) -> (f64, f64, Vec<(String, usize)>) {
    let (mut has, mut agreed) = (0usize, Vec::new());
    for (i, r) in requests.iter().enumerate() {
        match value_of(g, roles, r, source) {
            None => {}
            Some(None) => has += 1,
            Some(Some(v)) => {
                has += 1;
                agreed.push((v, i));
            }
        }
    }
    let coverage = has as f64 / requests.len().max(1) as f64;
    let consistent = agreed.len() as f64 / has.max(1) as f64;
    (coverage, consistent, agreed)
}

fn approach_fits(g: &Grouping, roles: &[Role], requests: &[Request]) -> Vec<Fit> {
    let mut sources: Vec<ApproachSource> = (0..g.attributes.len())
        .filter(|a| !g.overflow[*a])
        .map(ApproachSource::Field)
        .collect();
    sources.extend(
        (roles.iter().enumerate())
            .filter(|(_, r)| r.entry && methods(g, r) >= 2)
            .map(|(i, _)| ApproachSource::Method(i)),
    );
    let mut fits: Vec<Fit> = (sources.into_iter())
        .filter_map(|source| approach_fit(g, roles, requests, source))
        .collect();
    fits.sort_by(|a, b| b.score.total_cmp(&a.score));
    fits
}

/// How well `source` names the approach: it must be given and agree, and
/// its value should tell which roles take part. Numbers and many values
/// score half (more likely a delay or an id); an RPC method a little less
/// than a field that names the approach in words.
fn approach_fit(
    g: &Grouping,
    roles: &[Role],
    requests: &[Request],
    source: ApproachSource,
) -> Option<Fit> {
    let (coverage, consistent, agreed) = measure(g, roles, requests, &source);
    let distinct: BTreeSet<&String> = agreed.iter().map(|(v, _)| v).collect();
    if distinct.len() < 2 || coverage < MIN_COVERAGE || consistent < MIN_CONSISTENT {
        return None;
    }
    let purity = purity(
        &agreed
            .iter()
            .map(|(v, i)| (v, &requests[*i].roles))
            .collect::<Vec<_>>(),
    );
    let numeric = distinct.iter().all(|v| v.parse::<f64>().is_ok());
    let penalty = match (&source, numeric, distinct.len() > 20) {
        (_, true, _) | (_, _, true) => 0.5,
        (ApproachSource::Method(_), ..) => 0.95,
        _ => 1.0,
    };
    Some(Fit {
        score: coverage * consistent * purity * penalty,
        source,
        coverage,
        consistent,
        distinct: distinct.len(),
        values: shown(&distinct),
        strength: purity,
    })
}

/// The share of (value, roles) pairs whose roles are the most common ones
/// of their value: 1 when the value alone tells which roles take part.
fn purity(pairs: &[(&String, &BTreeSet<usize>)]) -> f64 {
    let mut by: BTreeMap<(&String, &BTreeSet<usize>), usize> = BTreeMap::new();
    for pair in pairs {
        *by.entry(*pair).or_default() += 1;
    }
    let mut best: BTreeMap<&String, usize> = BTreeMap::new();
    for ((v, _), n) in by {
        let b = best.entry(v).or_default();
        *b = (*b).max(n);
    }
    best.values().sum::<usize>() as f64 / pairs.len().max(1) as f64
}

/// Distinct RPC methods among a role's shapes.
fn methods(g: &Grouping, role: &Role) -> usize {
    let m: BTreeSet<&str> = role.shapes.iter().filter_map(|s| g.method_of(*s)).collect();
    m.len()
}

fn delay_fits(g: &Grouping, requests: &[Request], approach: &ApproachSource) -> Vec<Fit> {
    let mut fits: Vec<Fit> = (0..g.attributes.len())
        .filter(|a| !g.overflow[*a] && ApproachSource::Field(*a) != *approach)
        .filter(|a| {
            !g.values[*a].is_empty() && g.values[*a].iter().all(|v| v.parse::<u64>().is_ok())
        })
        .filter_map(|a| {
            let source = ApproachSource::Field(a);
            let (coverage, consistent, agreed) = measure(g, &[], requests, &source);
            let distinct: BTreeSet<&String> = agreed.iter().map(|(v, _)| v).collect();
            if distinct.len() < 2 || coverage < MIN_COVERAGE || consistent < MIN_CONSISTENT {
                return None;
            }
            let pairs: Vec<(f64, f64)> = (agreed.iter())
                .map(|(v, i)| {
                    (
                        v.parse::<f64>().unwrap_or(0.0),
                        duration(&requests[*i]) as f64,
                    )
                })
                .collect();
            let strength = correlation(&pairs);
            (strength >= MIN_DELAY_CORRELATION).then_some(Fit {
                score: coverage * consistent * strength,
                source,
                coverage,
                consistent,
                distinct: distinct.len(),
                values: shown(&distinct),
                strength,
            })
        })
        .collect();
    fits.sort_by(|a, b| b.score.total_cmp(&a.score));
    fits
}

fn duration(r: &Request) -> i64 {
    let start = r.legs.iter().map(|m| m.ts).min().unwrap_or(0);
    r.legs.iter().map(|m| m.end).max().unwrap_or(start) - start
}

/// Pearson's r; 0 when either side is constant.
fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let x: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let y: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    crate::stats::univariate::pearson(&x, &y).unwrap_or(0.0)
}

fn approaches(
    g: &Grouping,
    roles: &[Role],
    requests: &[Request],
    source: &ApproachSource,
) -> Vec<Approach> {
    let mut by: BTreeMap<String, Vec<&Request>> = BTreeMap::new();
    for r in requests {
        if let Some(Some(v)) = value_of(g, roles, r, source) {
            by.entry(v).or_default().push(r);
        }
    }
    by.into_iter()
        .map(|(name, rs)| {
            let n = rs.len();
            let shares = (0..roles.len())
                .map(|role| {
                    (
                        role,
                        rs.iter().filter(|r| r.roles.contains(&role)).count() as f64 / n as f64,
                    )
                })
                .filter(|(_, share)| *share > 0.0)
                .collect();
            Approach {
                name,
                requests: n,
                roles: shares,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purity_is_how_well_a_value_tells_the_roles() {
        let (a, b) = ("a".to_string(), "b".to_string());
        let (one, two) = (BTreeSet::from([0]), BTreeSet::from([0, 1]));
        assert_eq!(
            purity(&[(&a, &one), (&a, &one), (&b, &two), (&b, &two)]),
            1.0
        );
        assert_eq!(
            purity(&[(&a, &one), (&a, &two), (&b, &two), (&b, &two)]),
            0.75
        );
        assert_eq!(purity(&[]), 0.0);
    }

    #[test]
    fn names_become_kebab_case() {
        assert_eq!(kebab("OriginDO"), "origin-do");
        assert_eq!(
            kebab("FetchExecutorEntrypoint"),
            "fetch-executor-entrypoint"
        );
        assert_eq!(kebab("onFetchResult"), "on-fetch-result");
        assert_eq!(kebab("__executeOperation"), "execute-operation");
        assert_eq!(kebab("DOProxy"), "do-proxy");
        assert_eq!(kebab("proxy-executor"), "proxy-executor");
        assert_eq!(kebab("§"), "role");
    }

    #[test]
    fn siblings_differ_from_entries_only_where_they_differ() {
        let path = |p: &str| Operation::Path(p.into());
        let entries = [path("/experiment/current"), path("/experiment/simple")];
        let entries: Vec<&Operation> = entries.iter().collect();
        assert!(sibling(&path("/experiment/direct"), &entries));
        assert!(!sibling(&path("/result"), &entries));
        assert!(!sibling(&path("/dashboard/direct"), &entries));
        let one = [path("/relay")];
        assert!(!sibling(&path("/other"), &one.iter().collect::<Vec<_>>()));
        let rpc = [Operation::Rpc("proxyFetch".into())];
        assert!(sibling(
            &Operation::Rpc("fetchDirect".into()),
            &rpc.iter().collect::<Vec<_>>()
        ));
    }
}
