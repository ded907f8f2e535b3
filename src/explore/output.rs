//! What `explore` prints and writes: the inventory (terminal, CSV, Parquet)
//! and the candidates for id, approach and delay (terminal, CSV).

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::guess::{ApproachSource, Fit};
use super::{time, Findings};
use crate::core::terminal::{cut, fit_table, printable, wrap};
use crate::io::csv::write_frame;
use crate::io::parquet::write_parquet;
use crate::stats::univariate::nearest_rank;

/// Id candidates given a column of their own in the inventory files.
const ID_COLUMNS: usize = 4;

/// The role a shape got in the draft, or why not.
fn role_of(f: &Findings, shape: usize) -> String {
    let g = &f.guess;
    if let Some(r) = g.roles.iter().find(|r| r.shapes.contains(&shape)) {
        return r.name.clone();
    }
    match g.drivers.iter().any(|d| d.shape == shape) {
        true => "(driver)".into(),
        false => String::new(),
    }
}

fn opt(n: Option<i64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// A short time: `HH:MM:SS`, with the day when the lake spans several.
fn short(ms: i64, days: bool) -> String {
    let t = time(ms).unwrap_or_default();
    match days {
        true => t.get(5..16).unwrap_or("").to_string(),
        false => t.get(11..).unwrap_or("").to_string(),
    }
}

pub fn printout(f: &Findings, width: usize) -> String {
    let mut out = String::new();
    let mut dup = match f.scanned.duplicates {
        0 => String::new(),
        n => format!(", {n} duplicate lines counted once"),
    };
    if f.scanned.unchecked > 0 {
        dup += &format!(
            " ({} legs of busy days not checked for duplicates)",
            f.scanned.unchecked
        );
    }
    let head = format!(
        "explore: {} legs in {} lake files{dup}, {}",
        f.scanned.legs,
        f.scanned.files,
        f.span()
    );
    out.push_str(&wrap(&head, width, 4));
    inventory(&mut out, f, width);
    ids(&mut out, f, width);
    fits(&mut out, f, width);
    roles(&mut out, f, width);
    chains(&mut out, f, width);
    out
}

/// "N requests", said to be a sample when the second pass sampled.
fn requests(f: &Findings, n: usize) -> String {
    match f.sampled() {
        true => format!("{n} sampled requests"),
        false => format!("{n} requests"),
    }
}

/// One row of the inventory: a kind of leg and its numbers.
struct Line {
    shape: usize,
    not_ok: u64,
    /// Median, p95 and max, in ms.
    wall: [Option<i64>; 3],
    cpu: [Option<i64>; 3],
    with_id: i64,
}

/// The inventory, by script, entrypoint, event type and operation.
fn lines(f: &Findings) -> Vec<Line> {
    let mut order: Vec<usize> = (0..f.survey.shapes.len()).collect();
    order.sort_by(|a, b| f.survey.shapes[*a].key.cmp(&f.survey.shapes[*b].key));
    let three =
        |m: &std::collections::BTreeMap<i64, u64>| [0.5, 0.95, 1.0].map(|q| nearest_rank(m, q));
    (order.into_iter())
        .map(|i| {
            let s = &f.survey.shapes[i];
            Line {
                shape: i,
                not_ok: s
                    .outcomes
                    .iter()
                    .filter(|(o, _)| *o != "ok")
                    .map(|(_, n)| n)
                    .sum(),
                wall: three(&s.wall),
                cpu: three(&s.cpu),
                with_id: f.grouping.with_id[i] as i64,
            }
        })
        .collect()
}

/// Inventory columns the terminal drops first when it is narrow (the files keep them).
const DROPPABLE: [&str; 3] = ["first-last", "model", "!ok"];

/// The inventory as terminal cells: headers, right alignment, rows.
fn terminal_cells(
    f: &Findings,
    lines: &[Line],
) -> ([&'static str; 10], [bool; 10], Vec<Vec<String>>) {
    let first = f.survey.shapes.iter().map(|s| s.first).min().unwrap_or(0);
    let last = f.survey.shapes.iter().map(|s| s.last).max().unwrap_or(0);
    let days = first.div_euclid(86_400_000) != last.div_euclid(86_400_000);
    let headers = [
        "entrypoint",
        "event",
        "operation",
        "model",
        "legs",
        "!ok",
        "wall p50/95/max",
        "cpu p50/95/max",
        "first-last",
        "w/ id",
    ];
    let right = [
        false, false, false, false, true, true, true, true, false, true,
    ];
    let three = |n: &[Option<i64>; 3]| format!("{}/{}/{}", opt(n[0]), opt(n[1]), opt(n[2]));
    let rows = (lines.iter())
        .map(|l| {
            let s = &f.survey.shapes[l.shape];
            let model = match s.key.model.as_str() {
                "durableObject" => "DO",
                "stateless" => "Worker",
                m => m,
            };
            let entrypoint = if s.key.entrypoint.is_empty() {
                "-"
            } else {
                &s.key.entrypoint
            };
            vec![
                format!("  {entrypoint}"),
                s.key.event_type.clone(),
                s.key.operation.to_string(),
                model.to_string(),
                s.legs.to_string(),
                l.not_ok.to_string(),
                three(&l.wall),
                three(&l.cpu),
                format!("{}-{}", short(s.first, days), short(s.last, days)),
                l.with_id.to_string(),
            ]
        })
        .collect();
    (headers, right, rows)
}

fn inventory(out: &mut String, f: &Findings, width: usize) {
    let lines = lines(f);
    let (headers, right, table) = terminal_cells(f, &lines);
    let _ = writeln!(
        out,
        "\nInventory: {} kinds of leg by script; times in ms; w/ id: legs carrying the chosen id",
        table.len()
    );
    let pick = |keep: &[usize]| {
        let h: Vec<&str> = keep.iter().map(|c| headers[*c]).collect();
        let r: Vec<bool> = keep.iter().map(|c| right[*c]).collect();
        let t: Vec<Vec<String>> = (table.iter())
            .map(|row| keep.iter().map(|c| row[*c].clone()).collect())
            .collect();
        fit_table(&h, &r, &t, width)
    };
    let mut keep: Vec<usize> = (0..headers.len()).collect();
    let mut text = pick(&keep);
    for drop in DROPPABLE {
        if text.lines().all(|l| l.chars().count() <= width) && !text.contains('…') {
            break;
        }
        keep.retain(|c| headers[*c] != drop);
        text = pick(&keep);
    }
    let mut rows = text.lines();
    let _ = writeln!(out, "{}", rows.next().unwrap_or(""));
    let mut script = None;
    for (l, row) in lines.iter().zip(rows) {
        let s = &f.survey.shapes[l.shape].key.script;
        if script != Some(s) {
            let legs: u64 = (f.survey.shapes.iter())
                .filter(|x| &x.key.script == s)
                .map(|x| x.legs)
                .sum();
            let name = printable(if s.is_empty() { "(no script name)" } else { s });
            let _ = writeln!(out, "{}", cut(&format!("{name} ({legs} legs)"), width));
            script = Some(s);
        }
        let _ = writeln!(out, "{row}");
    }
}

/// The inventory as a frame, one column per figure, and a `carries <field>`
/// column for each of the best id candidates.
fn inventory_frame(f: &Findings) -> Result<DataFrame> {
    let lines = lines(f);
    let shape = |l: &Line| &f.survey.shapes[l.shape];
    let text = |name: &str, get: &dyn Fn(&Line) -> String| {
        Column::new(name.into(), lines.iter().map(get).collect::<Vec<_>>())
    };
    let int = |name: &str, get: &dyn Fn(&Line) -> Option<i64>| {
        Column::new(name.into(), lines.iter().map(get).collect::<Vec<_>>())
    };
    let mut columns = vec![
        text("script", &|l| shape(l).key.script.clone()),
        text("entrypoint", &|l| shape(l).key.entrypoint.clone()),
        text("event_type", &|l| shape(l).key.event_type.clone()),
        text("operation", &|l| shape(l).key.operation.to_string()),
        text("execution_model", &|l| shape(l).key.model.clone()),
        int("legs", &|l| Some(shape(l).legs as i64)),
        text("outcomes", &|l| {
            (shape(l).outcomes.iter())
                .map(|(o, n)| format!("{o}:{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
    ];
    for (what, i) in [("p50", 0), ("p95", 1), ("max", 2)] {
        columns.push(int(&format!("wall_ms_{what}"), &|l| l.wall[i]));
    }
    for (what, i) in [("p50", 0), ("p95", 1), ("max", 2)] {
        columns.push(int(&format!("cpu_ms_{what}"), &|l| l.cpu[i]));
    }
    columns.push(text("first", &|l| time(shape(l).first).unwrap_or_default()));
    columns.push(text("last", &|l| time(shape(l).last).unwrap_or_default()));
    columns.push(text("role", &|l| role_of(f, l.shape)));
    columns.push(int("legs_with_id", &|l| Some(l.with_id)));
    for c in f.candidates.iter().take(ID_COLUMNS) {
        let field = &f.survey.fields[c.field];
        let name = format!("carries {}", field.field.describe());
        columns.push(int(&name, &|l| {
            Some(field.shapes.get(&l.shape).copied().unwrap_or(0) as i64)
        }));
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// `inventory.csv`, `inventory.parquet` and `candidates.csv` under `dir`.
pub fn write_tables(f: &Findings, dir: &Path) -> Result<()> {
    let mut df = inventory_frame(f)?;
    write_parquet(&mut df, &dir.join("inventory.parquet"))?;
    write_frame(&dir.join("inventory.csv"), &df)?;
    candidates_csv(f, &dir.join("candidates.csv"))
}

fn ids(out: &mut String, f: &Findings, width: usize) {
    let _ = writeln!(
        out,
        "\nCorrelation ids: fields whose values join legs of different scripts or entrypoints"
    );
    if f.candidates.is_empty() {
        let _ = writeln!(
            out,
            "  none: no field's values repeat across scripts or entrypoints; each leg is a request"
        );
        return;
    }
    let rows: Vec<Vec<String>> = (f.candidates.iter().take(8))
        .map(|c| {
            let field = &f.survey.fields[c.field];
            vec![
                field.field.describe(),
                format!("{:.0}", c.legs_joined),
                format!("{:.0}", c.groups_joined),
                c.roles_joined.to_string(),
                c.median_legs.to_string(),
                c.p90_span_ms.to_string(),
                field.field.id_regex(field.written()),
            ]
        })
        .collect();
    let headers = [
        "field",
        "legs",
        "requests",
        "places",
        "median legs",
        "p90 span ms",
        "regex",
    ];
    out.push_str(&fit_table(
        &headers,
        &[false, true, true, true, true, true, false],
        &rows,
        width,
    ));
}

fn source(f: &Findings, s: &ApproachSource) -> String {
    match s {
        ApproachSource::Field(a) => f.grouping.attributes[*a].field.describe(),
        ApproachSource::Method(r) => format!("rpc method of {}", f.guess.roles[*r].name),
        ApproachSource::Constant => "-".into(),
    }
}

fn fits(out: &mut String, f: &Findings, width: usize) {
    for (what, list, strength) in [
        ("Approach", &f.guess.approach_candidates, "predicts roles"),
        ("Delay", &f.guess.delay_candidates, "r with duration"),
    ] {
        let _ = writeln!(
            out,
            "\n{what} candidates: fields with few values, one per request ({})",
            requests(f, f.guess.requests)
        );
        if list.is_empty() {
            let _ = writeln!(out, "  none");
            continue;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .take(6)
            .map(|fit: &Fit| {
                vec![
                    source(f, &fit.source),
                    pct(fit.coverage),
                    pct(fit.consistent),
                    fit.distinct.to_string(),
                    format!("{:.2}", fit.strength),
                    format!("{:.2}", fit.score),
                ]
            })
            .collect();
        let headers = ["field", "given", "one value", "values", strength, "score"];
        out.push_str(&fit_table(
            &headers,
            &[false, true, true, true, true, true],
            &rows,
            width,
        ));
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn roles(out: &mut String, f: &Findings, width: usize) {
    let g = &f.guess;
    let mut say = |text: String| out.push_str(&wrap(&printable(&text), width, 4));
    say(String::new());
    say("Roles (kinds of leg that take part in requests):".into());
    for r in &g.roles {
        let shapes: Vec<String> = (r.shapes.iter())
            .map(|s| {
                let k = &f.survey.shapes[*s].key;
                format!(
                    "{} {} {} {}",
                    k.script, k.entrypoint, k.event_type, k.operation
                )
            })
            .collect();
        say(format!("  {}: {}", r.name, shapes.join(" | ")));
    }
    for d in &g.drivers {
        let k = &f.survey.shapes[d.shape].key;
        say(format!(
            "  not a role: {} {} {} {} encloses the other legs of {} of its {} requests: a test driver (or a caller that waits for them, if the rest tells no approach)",
            k.script, k.entrypoint, k.event_type, k.operation, d.enclosing, d.groups
        ));
    }
    say(String::new());
    let from = match g.approach.source {
        ApproachSource::Constant => "none found: one approach, all".to_string(),
        ref s => format!("from {}", source(f, s)),
    };
    say(format!(
        "Approaches ({from}), and the share of their requests each role is in ({}):",
        requests(f, g.requests)
    ));
    for a in &g.approaches {
        let roles: Vec<String> = (a.roles.iter())
            .map(|(r, share)| format!("{} {}", g.roles[*r].name, pct(*share)))
            .collect();
        say(format!(
            "  {} ({} requests): {}",
            a.name,
            a.requests,
            roles.join(", ")
        ));
    }
    let delay = g
        .delay
        .as_ref()
        .map_or("none found".into(), |d| source(f, &d.source));
    say(format!("Delay: {delay}"));
}

fn chains(out: &mut String, f: &Findings, width: usize) {
    let g = &f.grouping;
    let total: u64 = g.chained.iter().sum();
    if total == 0 {
        let _ = writeln!(out, "Chains: no leg carries two ids");
        return;
    }
    let mut say = |text: String| out.push_str(&wrap(&printable(&text), width, 4));
    say(format!(
        "Chains: {total} legs carry two or more ids (one request's leg starting the next):"
    ));
    for (shape, ids) in &g.chain_examples {
        let key = &f.survey.shapes[*shape].key;
        say(format!(
            "  {} {} {}: {}",
            key.script,
            key.entrypoint,
            key.operation,
            ids.join(" -> ")
        ));
    }
}

/// One row of `candidates.csv`: an id, approach or delay candidate.
struct Candidate {
    kind: &'static str,
    field: String,
    regex: String,
    chosen: bool,
    legs_joined: Option<f64>,
    requests: Option<f64>,
    places: Option<usize>,
    given_share: Option<f64>,
    one_value_share: Option<f64>,
    values: Option<usize>,
    strength: Option<f64>,
    score: Option<f64>,
}

fn candidates_csv(f: &Findings, dest: &Path) -> Result<()> {
    let mut out = Vec::new();
    for (i, c) in f.candidates.iter().enumerate() {
        let field = &f.survey.fields[c.field];
        out.push(Candidate {
            kind: "id",
            field: field.field.describe(),
            regex: field.field.id_regex(field.written()),
            chosen: f.id.iter().any(|e| e.field == field.field) || i == 0,
            legs_joined: Some(c.legs_joined),
            requests: Some(c.groups_joined),
            places: Some(c.roles_joined),
            given_share: None,
            one_value_share: None,
            values: None,
            strength: None,
            score: None,
        });
    }
    let g = &f.guess;
    for (kind, list, chosen) in [
        ("approach", &g.approach_candidates, Some(&g.approach)),
        ("delay", &g.delay_candidates, g.delay.as_ref()),
    ] {
        for fit in list.iter() {
            let regex = match &fit.source {
                ApproachSource::Field(a) => f.grouping.attributes[*a].regex(),
                _ => String::new(),
            };
            out.push(Candidate {
                kind,
                field: source(f, &fit.source),
                regex,
                chosen: chosen.is_some_and(|c| c.source == fit.source),
                legs_joined: None,
                requests: None,
                places: None,
                given_share: Some(fit.coverage),
                one_value_share: Some(fit.consistent),
                values: Some(fit.distinct),
                strength: Some(fit.strength),
                score: Some(fit.score),
            });
        }
    }
    write_frame(dest, &candidate_frame(&out)?)
}

/// The candidates as a frame: written through the spreadsheet CSV writer,
/// so a field name from the lake that starts like a formula stays text.
fn candidate_frame(rows: &[Candidate]) -> Result<DataFrame> {
    let text = |name: &str, get: fn(&Candidate) -> String| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let float = |name: &str, get: fn(&Candidate) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let count = |name: &str, get: fn(&Candidate) -> Option<usize>| {
        Column::new(
            name.into(),
            rows.iter()
                .map(|r| get(r).map(|n| n as i64))
                .collect::<Vec<_>>(),
        )
    };
    Ok(DataFrame::new_infer_height(vec![
        text("kind", |c| c.kind.to_string()),
        text("field", |c| c.field.clone()),
        text("regex", |c| c.regex.clone()),
        Column::new(
            "chosen".into(),
            rows.iter().map(|c| c.chosen).collect::<Vec<_>>(),
        ),
        float("legs_joined", |c| c.legs_joined),
        float("requests", |c| c.requests),
        count("places", |c| c.places),
        float("given_share", |c| c.given_share),
        float("one_value_share", |c| c.one_value_share),
        count("values", |c| c.values),
        float("strength", |c| c.strength),
        float("score", |c| c.score),
    ])?)
}
