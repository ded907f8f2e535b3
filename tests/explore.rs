//! Issue 17: `tracecost explore` and its drafted pipeline file, run from
//! folders outside the project on archives of deployments it has never seen.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// Runs tracecost in `dir` (not the project folder: no default pipeline there).
fn run_in(dir: &Path, args: &[&str], ok: bool) -> Output {
    let out = bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("tracecost runs");
    if out.status.success() != ok {
        panic!(
            "tracecost {args:?} in {} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            dir.display(),
            out.status,
            stdout(&out),
            stderr(&out)
        );
    }
    out
}

/// `explore --lake lake --draft FILE` in `dir`, which must succeed.
fn explore_draft(dir: &Path, file: &str) -> Output {
    run_in(dir, &["explore", "--lake", "lake", "--draft", file], true)
}

/// Mirrors the embedded sample into `dir/lake`, flags alone.
fn mirror_sample(dir: &Path) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/logpush");
    let source = sample.to_str().unwrap();
    run_in(
        dir,
        &["mirror", "--source", source, "--lake", "lake", "-q"],
        true,
    );
}

/// Writes `lines` as one Logpush object under `dir/logs` and mirrors it into `dir/lake`.
fn mirror_lines(dir: &Path, lines: &[String]) {
    let day = dir.join("logs/20251118");
    fs::create_dir_all(&day).unwrap();
    let object = day.join("20251118T200000Z_20251118T200500Z_0a1b2c3d.log.gz");
    fs::write(&object, gzip((lines.join("\n") + "\n").as_bytes())).unwrap();
    run_in(
        dir,
        &["mirror", "--source", "logs", "--lake", "lake", "-q"],
        true,
    );
}

/// Simulates `layout` into `dir/sim`, mirrors it with flags alone and drafts
/// `dir/p.toml`; returns the simulation folder and explore's output.
fn draft_from(dir: &Path, seed: u64, layout: &[&str]) -> (PathBuf, String) {
    let sim = dir.join("sim");
    let mut args = vec!["simulate", "--out", "sim", "--seed"];
    let seed = seed.to_string();
    args.push(&seed);
    args.extend_from_slice(&["--runs", "4", "--rpc-target"]);
    args.extend_from_slice(layout);
    run_in(dir, &args, true);
    run_in(
        dir,
        &["mirror", "--source", "sim/logpush", "--lake", "lake", "-q"],
        true,
    );
    (sim, stdout(&explore_draft(dir, "p.toml")))
}

/// Storage rows are not in trace events: the draft bills none, the truth
/// bills the model's rows per proxied request. USD per million requests.
fn storage_usd_per_million(sim: &Path, approach: &str) -> f64 {
    let meta = read_json(&sim.join("truth/model.json"));
    if approach == "direct" {
        return 0.0;
    }
    let prices = &meta["prices"];
    let model = &meta["model"];
    model["proxy_rows_written"].as_f64().unwrap() * prices["row_written"].as_f64().unwrap()
        + model["proxy_rows_read"].as_f64().unwrap() * prices["row_read"].as_f64().unwrap()
}

/// The draft's approach name of each truth approach, read off the requests
/// they share; each name must map one way only.
fn approach_names(requests: &Path, truth: &Path) -> BTreeMap<String, String> {
    let df = read_parquet(requests);
    let truth: HashMap<String, String> = (read_csv(truth).into_iter())
        .map(|r| (r["request_id"].clone(), r["approach"].clone()))
        .collect();
    let mut names = BTreeMap::new();
    for (id, drafted) in text_col(&df, "request_id")
        .iter()
        .zip(text_col(&df, "approach"))
    {
        if drafted.is_empty() {
            continue;
        }
        let t = truth[id].clone();
        let before = names.insert(t.clone(), drafted.clone());
        assert!(
            before.as_ref().is_none_or(|b| *b == drafted),
            "{t} is both {before:?} and {drafted}"
        );
    }
    let drafted: std::collections::BTreeSet<&String> = names.values().collect();
    assert_eq!(
        drafted.len(),
        names.len(),
        "one drafted name per approach: {names:?}"
    );
    names
}

/// The truth as the draft must see it: its approach names, and no storage rows.
fn truth_as_drafted(sim: &Path, names: &BTreeMap<String, String>, dest: &Path) {
    let mut reader = csv::Reader::from_path(sim.join("truth/requests.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut writer = csv::Writer::from_path(dest).unwrap();
    writer.write_record(&headers).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let approach = &row[headers.iter().position(|h| h == "approach").unwrap()];
        let storage = storage_usd_per_million(sim, approach);
        let cells: Vec<String> = (headers.iter().zip(row.iter()))
            .map(|(h, v)| match h {
                "approach" => names.get(v).cloned().unwrap_or_default(),
                "cost_usd_per_million" | "cost_other_billing_usd_per_million" => {
                    (v.parse::<f64>().unwrap() - storage).to_string()
                }
                _ => v.to_string(),
            })
            .collect();
        writer.write_record(&cells).unwrap();
    }
    writer.flush().unwrap();
}

#[test]
fn drafts_of_unseen_deployments_reproduce_the_truth_request_by_request() {
    let layouts: [&[&str]; 6] = [
        &[],
        &["--id-in", "logs", "--approach-in", "path"],
        &["--id-in", "url", "--approach-in", "query"],
        &[
            "--id-in",
            "both",
            "--approach-in",
            "query",
            "--renamed",
            "--id-key",
            "traceId",
        ],
        &[
            "--id-in",
            "logs",
            "--approach-in",
            "rpc",
            "--renamed",
            "--id-key",
            "corr_id",
        ],
        &["--id-in", "url", "--approach-in", "path", "--renamed"],
    ];
    for (i, layout) in layouts.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let (sim, _) = draft_from(tmp.path(), 30 + i as u64, layout);
        run_in(tmp.path(), &["transform", "--pipeline", "p.toml"], true);
        let requests = tmp.path().join("lake/_derived/p/requests.parquet");
        let names = approach_names(&requests, &sim.join("truth/requests.csv"));
        assert_eq!(
            names.len(),
            4,
            "{layout:?}: every approach found: {names:?}"
        );
        if !layout.contains(&"rpc") {
            assert!(names.iter().all(|(t, d)| t == d), "{layout:?}: {names:?}");
        }
        let truth = tmp.path().join("truth-as-drafted.csv");
        truth_as_drafted(&sim, &names, &truth);
        let n = assert_requests_match_truth(&requests, &truth, false);
        assert!(n > 60, "{layout:?}: {n} requests");
    }
}

#[test]
fn a_run_on_the_unedited_draft_gives_the_truths_counts_and_means() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = [
        "--id-in",
        "both",
        "--approach-in",
        "query",
        "--renamed",
        "--id-key",
        "traceId",
    ];
    let (sim, printed) = draft_from(tmp.path(), 41, &layout);
    assert!(printed.contains("log traceId"), "{printed}");
    let draft = fs::read_to_string(tmp.path().join("p.toml")).unwrap();
    let expected = [
        "ledger-api",
        "AccountDO",
        "url = ['[?&]traceId=([^&#]+)']",
        r#"logs = ['"traceId"\s*:\s*"([^"\\\x00-\x1f]+)"']"#,
        "url_query = \"mode\"",
        "url_query = \"wait\"",
    ];
    for expected in expected {
        assert!(draft.contains(expected), "draft lacks {expected}:\n{draft}");
    }
    run_in(
        tmp.path(),
        &[
            "run",
            "--pipeline",
            "p.toml",
            "--no-charts",
            "--resamples",
            "200",
        ],
        true,
    );
    let summary = read_csv(&tmp.path().join("notebooks-export/p/summary.csv"));
    let groups = read_csv(&sim.join("truth/groups.csv"));
    let mut checked = 0;
    for g in &groups {
        for metric in [
            "do_wall_ms",
            "worker_cpu_ms",
            "span_ms",
            "cost_usd_per_million",
        ] {
            let row = (summary.iter())
                .find(|s| {
                    s["approach"] == g["approach"]
                        && s["delay_ms"] == g["delay_ms"]
                        && s["metric"] == metric
                })
                .unwrap_or_else(|| {
                    panic!(
                        "no summary row for {:?} {metric}",
                        (&g["approach"], &g["delay_ms"])
                    )
                });
            assert_eq!(row["n"], g["n"], "{} {} n", g["approach"], g["delay_ms"]);
            let storage = match metric {
                "cost_usd_per_million" => storage_usd_per_million(&sim, &g["approach"]),
                _ => 0.0,
            };
            let (got, want): (f64, f64) =
                (row["mean"].parse().unwrap(), g[metric].parse().unwrap());
            // summary.csv rounds to 6 significant digits.
            assert!(
                (got - (want - storage)).abs() <= 1e-5 * want.abs().max(1.0),
                "{} {} {metric}: {got} vs {want}",
                g["approach"],
                g["delay_ms"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, groups.len() * 4);
}

/// Role of each leg (by event id) in a transform's legs.parquet.
fn roles_by_leg(legs: &Path) -> HashMap<String, String> {
    let df = read_parquet(legs);
    (text_col(&df, "event_id").into_iter())
        .zip(text_col(&df, "role"))
        .collect()
}

#[test]
fn the_tail_lab_capture_gives_the_roles_of_the_shipped_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 9, &[]);
    let capture = sim.join("tail/capture.json");
    let lake = tmp.path().join("lake");
    let flags = [
        "--source",
        capture.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ];
    let shipped = shipped_pipeline(tmp.path(), "wrangler-tail.toml");
    step("mirror", &shipped, &flags, true);
    step("transform", &shipped, &flags, true);
    let out = explore_draft(tmp.path(), "drafted.toml");
    assert!(
        stdout(&out).contains("not a role: proxy-lab ControllerDO"),
        "{}",
        stdout(&out)
    );
    run_in(
        tmp.path(),
        &["transform", "--pipeline", "drafted.toml"],
        true,
    );
    let want = roles_by_leg(&lake.join("_derived/wrangler-tail/legs.parquet"));
    let got = roles_by_leg(&lake.join("_derived/drafted/legs.parquet"));
    assert_eq!(want.len(), got.len());
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    for (leg, role) in &want {
        let drafted = &got[leg];
        assert_eq!(
            role.is_empty(),
            drafted.is_empty(),
            "leg {leg}: {role:?} vs {drafted:?}"
        );
        if let Some(before) = pairs.insert(role.clone(), drafted.clone()) {
            assert_eq!(&before, drafted, "role {role} split");
        }
    }
    let drafted: std::collections::BTreeSet<&String> = pairs.values().collect();
    assert_eq!(
        drafted.len(),
        pairs.len(),
        "one drafted role per shipped role: {pairs:?}"
    );
    assert_eq!(pairs.len(), 5, "{pairs:?}");
    let draft = fs::read_to_string(tmp.path().join("drafted.toml")).unwrap();
    assert!(
        draft.contains("\"approach\""),
        "the approach is the log key `approach`:\n{draft}"
    );
}

/// One Logpush line of a Worker with no id anywhere.
fn lonely_line(ts: i64, path: &str) -> String {
    format!(
        r#"{{"CPUTimeMs":1,"Entrypoint":"","Event":{{"Request":{{"URL":"https://www.example.com{path}","Method":"GET"}},"Response":{{"Status":200}}}},"EventTimestampMs":{ts},"EventType":"fetch","ExecutionModel":"stateless","Logs":[],"Outcome":"ok","ScriptName":"site","WallTimeMs":12}}"#
    )
}

#[test]
fn a_lake_without_correlated_legs_gets_a_draft_that_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..40)
        .map(|i| {
            lonely_line(
                1_763_500_000_000 + i * 1000,
                ["/", "/about"][i as usize % 2],
            )
        })
        .collect();
    mirror_lines(tmp.path(), &lines);
    let out = explore_draft(tmp.path(), "p.toml");
    assert!(
        stdout(&out).contains("none: no field's values repeat"),
        "{}",
        stdout(&out)
    );
    let draft = fs::read_to_string(tmp.path().join("p.toml")).unwrap();
    assert!(
        draft.contains("No correlation id found: each leg is its own request"),
        "{draft}"
    );
    run_in(tmp.path(), &["transform", "--pipeline", "p.toml"], true);
    let requests = read_parquet(&tmp.path().join("lake/_derived/p/requests.parquet"));
    assert_eq!(requests.height(), 40, "each leg a request");
}

#[test]
fn a_draft_is_never_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    draft_from(tmp.path(), 3, &[]);
    let path = tmp.path().join("p.toml");
    fs::write(&path, "# mine\n").unwrap();
    let out = run_in(
        tmp.path(),
        &["explore", "--lake", "lake", "--draft", "p.toml"],
        false,
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&path).unwrap(), "# mine\n");
    run_in(
        tmp.path(),
        &["explore", "--lake", "lake", "--draft", "p.toml", "--force"],
        true,
    );
    assert!(fs::read_to_string(&path)
        .unwrap()
        .contains("[[transform.roles]]"));
}

#[test]
fn the_inventory_of_the_sample_fits_100_columns_and_lands_in_csv_and_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    mirror_sample(tmp.path());
    let out = bin()
        .current_dir(tmp.path())
        .env("COLUMNS", "100")
        .args(["explore", "--lake", "lake"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let inventory: Vec<&str> = (text.lines())
        .skip_while(|l| !l.starts_with("Inventory"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(inventory.len() > 10, "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(
        !inventory.iter().any(|l| l.contains('…')),
        "nothing cut:\n{}",
        inventory.join("\n")
    );
    let dir = tmp.path().join("notebooks-export/lake/explore");
    let csv = read_csv(&dir.join("inventory.csv"));
    let parquet = read_parquet(&dir.join("inventory.parquet"));
    assert_eq!(csv.len(), parquet.height());
    let origin: Vec<_> = csv
        .iter()
        .filter(|r| r["operation"] == "/experiment/current")
        .collect();
    assert_eq!(origin.len(), 1);
    assert_eq!(origin[0]["role"], "origin-do");
    assert_eq!(
        origin[0]["legs"], origin[0]["legs_with_id"],
        "every current origin leg carries its id"
    );
    assert!(
        csv[0].contains_key("carries log reqId"),
        "{:?}",
        csv[0].keys()
    );
    let candidates = read_csv(&dir.join("candidates.csv"));
    let chosen: Vec<(&str, &str)> = (candidates.iter())
        .filter(|c| c["chosen"] == "true")
        .map(|c| (c["kind"].as_str(), c["field"].as_str()))
        .collect();
    assert!(
        chosen.contains(&("approach", "path /experiment/*")),
        "{chosen:?}"
    );
    assert!(chosen.contains(&("delay", "query delay")), "{chosen:?}");
}

#[test]
fn outside_the_project_mirror_and_explore_need_no_pipeline_and_the_rest_say_how_to_draft_one() {
    let tmp = tempfile::tempdir().unwrap();
    mirror_sample(tmp.path());
    for step in ["transform", "report", "run"] {
        let out = run_in(tmp.path(), &[step, "--lake", "lake"], false);
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("--pipeline FILE")
                && err.contains("tracecost explore --lake DIR --draft FILE"),
            "{err}"
        );
    }
    let out = run_in(tmp.path(), &["explore", "--lake", "nowhere"], false);
    assert!(
        stderr(&out).contains("tracecost mirror --source"),
        "{}",
        stderr(&out)
    );
    let out = run_in(
        tmp.path(),
        &["explore", "--lake", "lake", "--from", "2030-01-01"],
        false,
    );
    assert!(
        stderr(&out).contains("no events in the window"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hostile_logs_and_names_neither_crash_explore_nor_break_its_draft() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = "{".repeat(50_000);
    let mut lines = Vec::new();
    for i in 0..30i64 {
        let id = format!("r{i:03}");
        let ts = 1_763_500_000_000 + i * 5000;
        let hostile_log = serde_json::json!([{"Level": "log", "Message": [format!("{deep} {{\"reqId\":\"{id}\",\"k\\\"ey\":1}}"), "\u{1b}[31m{\"x\":\"\u{0}\"}"], "TimestampMs": ts}]);
        for (script, entry, model, wall) in [
            ("front\"'\n]", "A\u{1b}[2J", "durableObject", 40),
            ("back", "B", "stateless", 20),
        ] {
            lines.push(serde_json::json!({
                "CPUTimeMs": 1, "Entrypoint": entry, "EventTimestampMs": ts + if script == "back" { 5 } else { 0 },
                "Event": {"Request": {"URL": format!("https://h.example/p/{}?reqId={id}&x=%00%ff", ["a", "b"][i as usize % 2]), "Method": "GET"}},
                "EventType": "fetch", "ExecutionModel": model, "Logs": hostile_log, "Outcome": "ok",
                "ScriptName": script, "WallTimeMs": wall,
            }).to_string());
        }
    }
    mirror_lines(tmp.path(), &lines);
    let out = explore_draft(tmp.path(), "p.toml");
    assert!(
        !stdout(&out).contains('\u{1b}'),
        "escape sequences reach the terminal"
    );
    // The draft parses and runs: every hostile name is quoted or commented.
    run_in(tmp.path(), &["transform", "--pipeline", "p.toml"], true);
    let requests = read_parquet(&tmp.path().join("lake/_derived/p/requests.parquet"));
    assert_eq!(
        requests.height(),
        30,
        "{}",
        fs::read_to_string(tmp.path().join("p.toml")).unwrap()
    );
}

/// A Logpush line of an RPC leg whose logs name `ids`.
fn rpc_line(
    ts: i64,
    script: &str,
    entry: &str,
    method: &str,
    model: &str,
    ids: &[String],
) -> String {
    let logs: Vec<serde_json::Value> = (ids.iter())
        .map(|id| serde_json::json!({"Level": "log", "Message": [format!("{{\"reqId\":\"{id}\"}}")], "TimestampMs": ts}))
        .collect();
    serde_json::json!({
        "CPUTimeMs": 1, "Entrypoint": entry, "Event": {"rpcMethod": method}, "EventTimestampMs": ts,
        "EventType": "worker_rpc", "ExecutionModel": model, "Logs": logs, "Outcome": "ok",
        "ScriptName": script, "WallTimeMs": 30,
    })
    .to_string()
}

#[test]
fn legs_that_carry_two_ids_are_reported_as_chains() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..10i64 {
        let ts = 1_763_500_000_000 + i * 2000;
        // The result of request i-1 comes back to the origin, which starts request i.
        let (method, ids) = match i {
            0 => ("start", vec!["r0".to_string()]),
            _ => ("onResult", vec![format!("r{}", i - 1), format!("r{i}")]),
        };
        lines.push(rpc_line(
            ts,
            "origin",
            "OriginDO",
            method,
            "durableObject",
            &ids,
        ));
        lines.push(rpc_line(
            ts + 40,
            "executor",
            "Executor",
            "execute",
            "stateless",
            &[format!("r{i}")],
        ));
    }
    mirror_lines(tmp.path(), &lines);
    let out = stdout(&run_in(tmp.path(), &["explore", "--lake", "lake"], true));
    assert!(
        out.contains("Chains: 9 legs carry two or more ids"),
        "{out}"
    );
    assert!(
        out.contains("origin OriginDO onResult(): r0 -> r1"),
        "{out}"
    );
}
