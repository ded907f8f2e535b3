//! The drafted pipeline file: every guess of the exploration as TOML, each
//! with a comment saying what it rests on.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::fields::{Field, Operation, ShapeKey};
use super::guess::{path_union, Approach, ApproachSource, Fit, Role, REQUIRED_SHARE};
use super::Findings;
use crate::core::terminal::is_bidi_control;
use crate::core::url::URL_HEAD;

/// A TOML basic string on one line: quotes, backslashes, control and
/// bidirectional characters escaped.
fn s(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\U{:08X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare where it may be.
fn key(text: &str) -> String {
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        text.to_string()
    } else {
        s(text)
    }
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| s(i)).collect();
    format!("[{}]", items.join(", "))
}

fn pct(share: f64) -> String {
    format!("{:.0}%", 100.0 * share)
}

/// The comment lines of a text that may hold anything (names from the lake).
fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let line = crate::core::terminal::printable(line);
        let _ = writeln!(out, "# {line}");
    }
}

pub fn draft(f: &Findings, name: &str) -> String {
    let mut out = String::new();
    header(&mut out, f, name);
    filters(&mut out, f);
    roles(&mut out, f);
    correlation(&mut out, f);
    attribute(&mut out, f, "approach");
    attribute(&mut out, f, "delay");
    approaches(&mut out, f);
    report(&mut out, f);
    out
}

fn header(out: &mut String, f: &Findings, name: &str) {
    comment(
        out,
        &format!(
            "Drafted by `tracecost explore` from the lake {}\n({} legs, {}).\n\
         Each guess below says what it rests on: read them, edit what is wrong, then\n  \
         tracecost run --pipeline <this file>\n\
         Counts marked \"sampled\" come from a sample of the lake's requests.",
            f.lake.display(),
            f.scanned.legs,
            f.span()
        ),
    );
    let _ = writeln!(out, "\nname = {}\n", s(name));
    let _ = writeln!(out, "[source]");
    match &f.source {
        Some(location) => {
            comment(out, "Where the lake was last mirrored from (its manifest).");
            let _ = writeln!(out, "location = {}", s(location));
        }
        None => {
            comment(
                out,
                "The lake's manifest does not say where it came from: set it to mirror again.",
            );
            let _ = writeln!(out, "# location = \"s3://bucket/prefix\"");
        }
    }
    let _ = writeln!(out, "\n[lake]\ndir = {}\n", s(&f.lake.to_string_lossy()));
}

fn filters(out: &mut String, f: &Findings) {
    let g = &f.guess;
    let shapes: BTreeSet<&ShapeKey> = (g.roles.iter())
        .flat_map(|r| r.shapes.iter().map(|s| &f.survey.shapes[*s].key))
        .collect();
    let scripts: BTreeSet<String> = shapes.iter().map(|k| k.script.clone()).collect();
    let events: BTreeSet<String> = shapes.iter().map(|k| k.event_type.clone()).collect();
    let others: BTreeSet<&str> = (f.survey.shapes.iter())
        .map(|s| s.key.script.as_str())
        .filter(|s| !scripts.contains(*s))
        .collect();
    let _ = writeln!(out, "[transform.filters]");
    comment(out, "The scripts and event types of the roles below.");
    if !others.is_empty() {
        let others: Vec<&str> = others.into_iter().collect();
        comment(
            out,
            &format!(
                "Left out, no leg of theirs shares an id: {}",
                others.join(", ")
            ),
        );
    }
    let _ = writeln!(
        out,
        "scripts = {}",
        list(&scripts.into_iter().collect::<Vec<_>>())
    );
    let _ = writeln!(
        out,
        "event_types = {}\n",
        list(&events.into_iter().collect::<Vec<_>>())
    );
}

fn describe(key: &ShapeKey) -> String {
    let entry = if key.entrypoint.is_empty() {
        "(default handler)"
    } else {
        &key.entrypoint
    };
    format!(
        "{} {} {} {}",
        key.script, entry, key.event_type, key.operation
    )
}

fn roles(out: &mut String, f: &Findings) {
    let g = &f.guess;
    comment(out, "Roles: one per kind of leg that takes part in requests (legs sharing an id);\n\
                  a leg takes the role of the first rule it matches. Billing follows ExecutionModel:\n\
                  durableObject -> do (wall time), stateless -> worker (CPU time).");
    if f.id.is_empty() {
        comment(
            out,
            "No field joins legs of different scripts or entrypoints: no correlated legs.\n\
                      Each leg is a request of its own; a role per kind of script and event.",
        );
    }
    // Specific rules first: an entry role's rule is the most general of its family.
    let ordered = (g.roles.iter())
        .filter(|r| !r.entry)
        .chain(g.roles.iter().filter(|r| r.entry));
    for role in ordered {
        role_rule(out, f, role);
    }
    for d in &g.drivers {
        let key = &f.survey.shapes[d.shape].key;
        comment(
            out,
            &format!(
                "Not a role: {} encloses every other leg in {} of the {} {}requests it is in:\n\
                 the harness that sends the requests, not part of their cost. To bill it:",
                describe(key),
                d.enclosing,
                d.groups,
                if f.sampled() { "sampled " } else { "" },
            ),
        );
        let mut rule = String::new();
        rule_fields(
            &mut rule,
            f,
            &Role {
                name: super::guess::kebab(&key.entrypoint),
                shapes: vec![d.shape],
                entry: false,
            },
        );
        for line in rule.lines() {
            let _ = writeln!(out, "# {line}");
        }
        out.push('\n');
    }
}

fn role_rule(out: &mut String, f: &Findings, role: &Role) {
    for &shape in &role.shapes {
        let st = &f.survey.shapes[shape];
        let with_id = f.grouping.with_id[shape];
        comment(
            out,
            &format!(
                "{}: {} legs, {} with an id",
                describe(&st.key),
                st.legs,
                with_id
            ),
        );
    }
    if role.entry && role.shapes.len() > 1 {
        comment(
            out,
            "These start their requests and never meet in one: one role.",
        );
    }
    rule_fields(out, f, role);
    out.push('\n');
}

fn rule_fields(out: &mut String, f: &Findings, role: &Role) {
    let keys: Vec<&ShapeKey> = role
        .shapes
        .iter()
        .map(|s| &f.survey.shapes[*s].key)
        .collect();
    let one = |get: fn(&ShapeKey) -> &str| -> Option<String> {
        let values: BTreeSet<&str> = keys.iter().map(|k| get(k)).collect();
        (values.len() == 1)
            .then(|| values.into_iter().next().unwrap_or("").to_string())
            .filter(|v| !v.is_empty())
    };
    let model = one(|k| &k.model);
    let billing = match model.as_deref() {
        Some("durableObject") => "\"do\"",
        Some("stateless") => "\"worker\"",
        _ => "\"worker\"  # ExecutionModel missing or mixed: a guess",
    };
    let _ = writeln!(
        out,
        "[[transform.roles]]\nname = {}\nbilling = {billing}",
        s(&role.name)
    );
    match (billing.contains("worker"), role.entry) {
        (true, true) => {
            comment(out, "It starts its requests: the client calls it, and a Worker called so is billed a request fee.");
            let _ = writeln!(out, "request_billed = true");
        }
        (true, false) => comment(
            out,
            "Published pricing bills no request fee for a Worker called by a Durable Object;\n\
             set request_billed = true if the client calls it.",
        ),
        _ => {}
    }
    for (field, value) in [
        ("script", one(|k| &k.script)),
        ("entrypoint", one(|k| &k.entrypoint)),
        ("event_type", one(|k| &k.event_type)),
        ("execution_model", model),
    ] {
        if let Some(v) = value {
            let _ = writeln!(out, "{field} = {}", s(&v));
        }
    }
    let methods: Vec<String> = (keys.iter())
        .filter_map(|k| match &k.operation {
            Operation::Rpc(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let paths: Vec<&str> = (keys.iter())
        .filter_map(|k| match &k.operation {
            Operation::Path(p) if p != "(other paths)" => Some(p.as_str()),
            _ => None,
        })
        .collect();
    if methods.len() == keys.len() {
        let _ = writeln!(out, "rpc_method = {}", list(&methods));
    } else if paths.len() == keys.len() {
        let _ = writeln!(out, "url = {}", literal(&url_regex(&paths)));
    }
}

/// One regex for the paths: their union where they have one shape
/// (`/experiment/[^/?#]+`), else their alternation.
pub fn url_regex(paths: &[&str]) -> String {
    let segment = |seg: Option<&str>| match seg {
        None => "[^/?#]*".to_string(),
        Some("*") => "[^/?#]+".to_string(),
        Some("**") => "[^?#]*".to_string(),
        Some(lit) => regex::escape(lit),
    };
    let one = |segments: Vec<Option<&str>>| {
        let body: Vec<String> = segments.into_iter().skip(1).map(segment).collect();
        format!("/{}", body.join("/"))
    };
    let body = match path_union(paths) {
        Some(u) => one(u.iter().map(|s| s.as_deref()).collect()),
        None => {
            let each: Vec<String> = paths
                .iter()
                .map(|p| one(p.split('/').map(Some).collect()))
                .collect();
            format!("(?:{})", each.join("|"))
        }
    };
    let body = if body == "/" { "" } else { body.as_str() };
    format!("{URL_HEAD}{body}/?(?:[?#]|$)")
}

fn correlation(out: &mut String, f: &Findings) {
    let _ = writeln!(out, "[transform.correlation]");
    let Some(top) = f.candidates.first() else {
        comment(
            out,
            "No correlation id found: each leg is its own request.\n",
        );
        return;
    };
    comment(
        out,
        &format!(
            "{}: joins {:.0} legs in {:.0} requests across {} scripts/entrypoints{};\n\
         a request has {} legs (median), 90% span at most {} ms.",
            f.survey.fields[top.field].field.describe(),
            top.legs_joined,
            top.groups_joined,
            top.roles_joined,
            if f.survey.fields[top.field].sample.rate() < 1.0 {
                " (estimated from a sample)"
            } else {
                ""
            },
            top.median_legs,
            top.p90_span_ms
        ),
    );
    for c in f.candidates.iter().skip(1).take(3) {
        let field = &f.survey.fields[c.field];
        comment(
            out,
            &format!(
                "Also joins legs ({:.0}): {} = '{}'",
                c.legs_joined,
                field.field.describe(),
                field.field.id_regex(field.written())
            ),
        );
    }
    let (url, logs): (Vec<_>, Vec<_>) = f.id.iter().partition(|e| e.field.in_url());
    let regexes = |v: &[&super::groups::Extractor]| {
        v.iter()
            .map(|e| e.field.id_regex(e.written))
            .collect::<Vec<_>>()
    };
    for (name, v) in [("url", regexes(&url)), ("logs", regexes(&logs))] {
        if !v.is_empty() {
            let _ = writeln!(
                out,
                "{name} = [{}]",
                v.iter().map(|r| literal(r)).collect::<Vec<_>>().join(", ")
            );
        }
    }
    out.push('\n');
}

/// A regex as a TOML literal string where it can be, so it reads as written.
fn literal(regex: &str) -> String {
    match regex.contains('\'') || regex.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        true => s(regex),
        false => format!("'{regex}'"),
    }
}

fn fit_line(f: &Findings, fit: &Fit, what: &str) -> String {
    let source = source_name(f, &fit.source);
    let strength = match what {
        "approach" => format!(
            "its values predict which roles take part in {}",
            pct(fit.strength)
        ),
        _ => format!(
            "read as milliseconds; correlation with the request's duration r = {:.2}",
            fit.strength
        ),
    };
    let sampled = if f.sampled() { "sampled " } else { "" };
    let more = if fit.distinct > fit.values.len() {
        ", ..."
    } else {
        ""
    };
    format!(
        "{source}: given by {} of the {sampled}requests, one value in {} of them,\n{} distinct values ({}{more}); {strength}.",
        pct(fit.coverage), pct(fit.consistent), fit.distinct, fit.values.join(", ")
    )
}

fn source_name(f: &Findings, source: &ApproachSource) -> String {
    match source {
        ApproachSource::Field(a) => f.grouping.attributes[*a].field.describe(),
        ApproachSource::Method(r) => format!("the RPC method of role {}", f.guess.roles[*r].name),
        ApproachSource::Constant => "nothing".into(),
    }
}

fn attribute(out: &mut String, f: &Findings, what: &str) {
    let g = &f.guess;
    let _ = writeln!(out, "[transform.{what}]");
    let (chosen, others) = match what {
        "approach" => (
            Some(&g.approach).filter(|a| a.source != ApproachSource::Constant),
            &g.approach_candidates,
        ),
        _ => (g.delay.as_ref(), &g.delay_candidates),
    };
    let others: Vec<&Fit> = (others.iter())
        .filter(|o| chosen.is_none_or(|c| c.source != o.source))
        .take(2)
        .collect();
    let Some(fit) = chosen else {
        let (text, value) = match what {
            "approach" => ("No field or RPC method tells requests apart: one approach, \"all\".", "\"all\""),
            _ => ("No whole-number field that grows with the request's duration: the delay is\nunknown; set the delay your run used (ms).", "0"),
        };
        comment(out, text);
        also(out, f, &others, what);
        let _ = writeln!(out, "constant = {value}\n");
        return;
    };
    comment(out, &fit_line(f, fit, what));
    also(out, f, &others, what);
    match &fit.source {
        ApproachSource::Field(a) => {
            let e = &f.grouping.attributes[*a];
            let line = match &e.field {
                Field::Query(k) => format!("url_query = {}", s(k)),
                Field::Path(_) => format!("url_regex = {}", literal(&e.regex())),
                Field::Log(_) => format!("log_regex = {}", literal(&e.regex())),
            };
            let _ = writeln!(out, "{line}");
        }
        ApproachSource::Method(_) => {
            let pairs: Vec<String> = (g.approaches.iter())
                .map(|a| format!("{} = {}", key(&a.name), s(&a.name)))
                .collect();
            comment(
                out,
                "Each method names its approach; rename the values to your approaches' names.",
            );
            for same in same_roles(f) {
                comment(
                    out,
                    &format!(
                        "{} have the same roles in most requests: if they are one approach, give them one name.",
                        same.join(" and ")
                    ),
                );
            }
            let _ = writeln!(out, "rpc_method = {{ {} }}", pairs.join(", "));
        }
        ApproachSource::Constant => {}
    }
    out.push('\n');
}

/// The runners-up of a guess, as comments.
fn also(out: &mut String, f: &Findings, others: &[&Fit], what: &str) {
    for other in others {
        let line = fit_line(f, other, what).replace('\n', " ");
        comment(out, &format!("Also possible: {line}"));
    }
}

/// The roles an approach requires, by name.
fn required(f: &Findings, a: &Approach) -> Vec<String> {
    (a.roles.iter())
        .filter(|(_, share)| *share >= REQUIRED_SHARE)
        .map(|(r, _)| f.guess.roles[*r].name.clone())
        .collect()
}

/// Approaches whose requests mostly have the same roles, in groups of two or more.
fn same_roles(f: &Findings) -> Vec<Vec<String>> {
    let mut by: std::collections::BTreeMap<Vec<usize>, Vec<String>> = Default::default();
    for a in &f.guess.approaches {
        let roles = (a.roles.iter())
            .filter(|(_, share)| *share >= 0.5)
            .map(|(r, _)| *r);
        by.entry(roles.collect()).or_default().push(a.name.clone());
    }
    by.into_values().filter(|names| names.len() > 1).collect()
}

/// The approach with the fewest required roles (the one without a proxy),
/// the most requests breaking ties.
fn baseline(f: &Findings) -> Option<&Approach> {
    (f.guess.approaches.iter())
        .min_by_key(|a| (required(f, a).len(), std::cmp::Reverse(a.requests)))
}

fn approaches(out: &mut String, f: &Findings) {
    comment(
        out,
        &format!(
            "Approaches: the roles in at least {} of an approach's requests are required;\n\
         a request without one of them is incomplete and left out of the statistics.",
            pct(REQUIRED_SHARE)
        ),
    );
    for a in &f.guess.approaches {
        approach(out, f, a);
    }
}

fn approach(out: &mut String, f: &Findings, a: &Approach) {
    let roles = &f.guess.roles;
    let shares: Vec<String> = (a.roles.iter())
        .map(|(r, share)| format!("{} {}", roles[*r].name, pct(*share)))
        .collect();
    let _ = writeln!(out, "[transform.approaches.{}]", key(&a.name));
    let sampled = if f.sampled() {
        "sampled requests"
    } else {
        "requests"
    };
    comment(
        out,
        &format!("{} {sampled}: {}", a.requests, shares.join(", ")),
    );
    let _ = writeln!(out, "required_roles = {}", list(&required(f, a)));
    comment(
        out,
        "SQLite-backed storage rows written and read per request, if any:",
    );
    let _ = writeln!(out, "# rows_written = 1\n# rows_read = 1\n");
}

fn report(out: &mut String, f: &Findings) {
    let names: Vec<&str> = f.guess.approaches.iter().map(|a| a.name.as_str()).collect();
    let _ = writeln!(out, "[report]");
    comment(
        out,
        "The question, the baseline and your theories as claims (see README, Report).",
    );
    let _ = writeln!(out, "title = {}", s("Which approach costs least"));
    if let Some(base) = baseline(f) {
        comment(out, &format!(
            "Approaches: {}; each is compared with the baseline, here the one\nthat needs the fewest roles (no proxy).",
            names.join(", ")
        ));
        let _ = writeln!(out, "baseline = {}", s(&base.name));
    }
    let _ = writeln!(out, "\n# [[report.claims]]\n# id = \"H1\"\n# claim = \"...\"\n# measure = \"mean_ratio\"\n# metric = \"do_wall_ms\"\n# approach = \"...\"\n# baseline = \"...\"\n# range = [2, 10]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_one_anchored_regex() {
        let re = url_regex(&[
            "/experiment/current",
            "/experiment/simple",
            "/experiment/direct",
        ]);
        assert_eq!(
            re,
            "^[a-z][a-z0-9+.-]*://[^/?#]*/experiment/[^/?#]*/?(?:[?#]|$)"
        );
        let re = regex::Regex::new(&re).unwrap();
        assert!(re.is_match("https://h.example/experiment/rpc-target?delay=1"));
        assert!(!re.is_match("https://h.example/experiment/a/b"));
        assert!(!re.is_match("https://h.example/dashboard/stats"));
        let re = regex::Regex::new(&url_regex(&["/", "/result"])).unwrap();
        assert!(re.is_match("https://h.example/?x=1") && re.is_match("https://h.example/result#f"));
        assert!(!re.is_match("https://h.example/other"));
        assert_eq!(key("rpc-target"), "rpc-target");
        assert_eq!(
            s("a\"b\\c\nd\u{202e}"),
            "\"a\\\"b\\\\c\\U0000000Ad\\U0000202E\""
        );
        let parsed: toml::Value = toml::from_str(&format!("k = {}", s("x\ny\"\u{1b}"))).unwrap();
        assert_eq!(parsed["k"].as_str(), Some("x\ny\"\u{1b}"));
        assert_eq!(literal("a'b"), "\"a'b\"");
        assert_eq!(key("a b"), "\"a b\"");
    }
}
