//! Issue 3: legs into requests, checked against the simulator's ground truth.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;

const METRICS: &[&str] = &[
    "do_wall_ms",
    "do_cpu_ms",
    "worker_cpu_ms",
    "worker_wall_ms",
    "do_invocations",
    "worker_invocations",
    "span_ms",
    "cost_usd_per_million",
    "first_event_ms",
];

/// Compares requests.parquet with truth, request by request; returns how many were compared.
fn assert_requests_match_truth(requests: &Path, truth: &Path, with_latency: bool) -> usize {
    let df = read_parquet(requests);
    let truth: HashMap<String, HashMap<String, String>> = read_csv(truth)
        .into_iter()
        .filter(|r| r["legs"] != "0")
        .map(|r| (r["request_id"].clone(), r))
        .collect();
    assert_eq!(
        df.height(),
        truth.len(),
        "one request per observable truth request"
    );
    let ids = text_col(&df, "request_id");
    let columns: HashMap<&str, Vec<String>> = METRICS
        .iter()
        .chain(&["approach", "delay_ms", "complete", "client_latency_ms"])
        .map(|c| (*c, text_col(&df, c)))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let t = truth
            .get(id)
            .unwrap_or_else(|| panic!("request {id} is not in the truth"));
        let approach_known = !columns["approach"][i].is_empty();
        for m in METRICS {
            // Storage rows depend on the approach: without one, only the invocation costs are known.
            if *m == "cost_usd_per_million" && !approach_known {
                continue;
            }
            let (got, want): (f64, f64) = (columns[m][i].parse().unwrap(), t[*m].parse().unwrap());
            assert!(
                (got - want).abs() < 1e-9,
                "request {id} {m}: got {got}, truth {want}"
            );
        }
        assert_eq!(
            columns["complete"][i], t["complete"],
            "request {id} complete"
        );
        if columns["approach"][i].is_empty() {
            assert_eq!(
                t["complete"], "false",
                "request {id} without approach must be incomplete"
            );
        } else {
            assert_eq!(
                columns["approach"][i], t["approach"],
                "request {id} approach"
            );
            assert_eq!(columns["delay_ms"][i], t["delay_ms"], "request {id} delay");
        }
        if with_latency && t["complete"] == "true" {
            let got: f64 = columns["client_latency_ms"][i].parse().unwrap();
            assert_eq!(
                got,
                t["client_latency_ms"].parse::<f64>().unwrap(),
                "request {id} client latency"
            );
        }
    }
    df.height()
}

#[test]
fn archive_requests_equal_the_ground_truth_request_by_request() {
    let tmp = tempfile::tempdir().unwrap();
    // Scale 2: two client lanes, more background traffic, duplicates, late batches, midnight.
    let sim = simulate(tmp.path(), 21, &["--scale", "2", "--rpc-target"]);
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let flags = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    step("mirror", &pipeline, &flags, true);
    let out = step("transform", &pipeline, &flags, true);
    let derived = lake.join("_derived/proxy-fetch");
    // Two lanes: their windows overlap, so client latency is attached to none (see the manifest test).
    let n = assert_requests_match_truth(
        &derived.join("requests.parquet"),
        &sim.join("truth/requests.csv"),
        false,
    );
    assert!(n > 1400, "{n}");

    // Legs in = legs with a role + legs ignored, and the quality table says so.
    let legs = read_parquet(&derived.join("legs.parquet"));
    let lake_rows = read_lake(&lake).height();
    let archive = read_json(&sim.join("truth/archive.json"));
    assert_eq!(legs.height() as u64, archive["events"].as_u64().unwrap());
    let roles = text_col(&legs, "role");
    let reasons = text_col(&legs, "ignored_reason");
    let with_role = roles.iter().filter(|r| !r.is_empty()).count();
    let ignored = reasons.iter().filter(|r| !r.is_empty()).count();
    assert_eq!(with_role + ignored, legs.height());
    assert!(roles
        .iter()
        .zip(&reasons)
        .all(|(r, why)| r.is_empty() != why.is_empty()));
    let truth_legs = read_csv(&sim.join("truth/legs.csv"));
    let background = truth_legs
        .iter()
        .filter(|l| l["role"] == "background")
        .count();
    assert_eq!(
        ignored, background,
        "exactly the background traffic is ignored"
    );
    let quality = read_parquet(&derived.join("quality.parquet"));
    let count = |item: &str, detail: &str| -> u64 {
        let (items, details, counts) = (
            text_col(&quality, "item"),
            text_col(&quality, "detail"),
            text_col(&quality, "count"),
        );
        (0..quality.height())
            .filter(|&i| items[i] == item && (detail.is_empty() || details[i] == detail))
            .map(|i| counts[i].parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(count("events", "lake rows in window"), lake_rows as u64);
    assert_eq!(
        count("events", "duplicates dropped"),
        archive["duplicate_lines"].as_u64().unwrap()
    );
    assert_eq!(
        count("legs classified", "") + count("legs ignored", ""),
        legs.height() as u64
    );
    assert_eq!(
        count("source lines", "malformed (quarantined)"),
        archive["malformed_lines"].as_u64().unwrap()
    );
    assert_eq!(count("source objects", "test"), 1);
    let truth_requests = read_csv(&sim.join("truth/requests.csv"));
    let incomplete = truth_requests
        .iter()
        .filter(|r| r["legs"] != "0" && r["complete"] == "false")
        .count() as u64;
    assert!(incomplete > 0, "the simulator drops legs");
    assert_eq!(count("requests", "incomplete"), incomplete);
    assert!(
        stdout(&out).contains(&format!("{} incomplete", incomplete)),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_tail_capture_of_another_deployment_needs_only_its_pipeline_file() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 8, &[]);
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "wrangler-tail.toml");
    let capture = sim.join("tail/capture.json");
    let flags = [
        "--source",
        capture.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ];
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    let derived = lake.join("_derived/wrangler-tail");
    let n = assert_requests_match_truth(
        &derived.join("requests.parquet"),
        &sim.join("tail/truth-requests.csv"),
        false,
    );
    assert_eq!(n, 30);
    // The controller and dashboard DOs of the same script fall out as ignored.
    let legs = read_parquet(&derived.join("legs.parquet"));
    let entry = text_col(&legs, "Entrypoint");
    let reasons = text_col(&legs, "ignored_reason");
    for (e, why) in entry.iter().zip(&reasons) {
        let expected_ignored = e == "ControllerDO" || e == "DashboardDO";
        assert_eq!(
            why == "no role rule matched",
            expected_ignored,
            "{e}: {why}"
        );
    }
}

#[test]
fn the_run_manifest_assigns_approach_and_delay_without_guessing() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 4, &[]);
    let lake = tmp.path().join("lake");
    // A deployment whose legs say nothing about approach or delay: only the manifest does.
    let text = std::fs::read_to_string(shipped_pipeline(tmp.path(), "proxy-fetch.toml")).unwrap();
    let text = text
        .replace("url_regex = '/experiment/([a-z-]+)'", "")
        .replace("role_present = { orchestrator = \"current\" }", "")
        .replace("url_query = \"delay\"", "")
        .replace("log_regex = '/delay/(\\d+)'", "");
    let pipeline = tmp.path().join("blind.toml");
    std::fs::write(
        &pipeline,
        text.replace("name = \"proxy-fetch\"", "name = \"blind\""),
    )
    .unwrap();
    let flags = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    assert_requests_match_truth(
        &lake.join("_derived/blind/requests.parquet"),
        &sim.join("truth/requests.csv"),
        true,
    );

    // Overlapping windows: the requests inside both are counted, not assigned.
    let mut manifest = std::fs::read_to_string(sim.join("run-manifest.csv")).unwrap();
    manifest.push_str("x,extra,0,2025-11-18T23:45:00Z,2025-11-18T23:50:00Z,1\n");
    let overlapping = tmp.path().join("overlap.csv");
    std::fs::write(&overlapping, manifest).unwrap();
    let flags = archive_flags(&sim, &lake, &overlapping);
    step("transform", &pipeline, &flags, true);
    let requests = read_parquet(&lake.join("_derived/blind/requests.parquet"));
    let first = text_col(&requests, "first_event_ms");
    let approach = text_col(&requests, "approach");
    let (lo, hi) = (1_763_509_500_000_i64, 1_763_509_800_000_i64);
    let inside: Vec<usize> = (0..requests.height())
        .filter(|&i| (lo..=hi).contains(&first[i].parse::<i64>().unwrap()))
        .collect();
    assert!(!inside.is_empty());
    assert!(
        inside.iter().all(|&i| approach[i].is_empty()),
        "no request in two windows gets an approach"
    );
    let quality = read_parquet(&lake.join("_derived/blind/quality.parquet"));
    let details = text_col(&quality, "detail");
    let counts = text_col(&quality, "count");
    let several = details
        .iter()
        .position(|d| d == "requests in several windows")
        .unwrap();
    assert_eq!(counts[several], inside.len().to_string());
}

#[test]
fn the_window_selects_events_and_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 4, &[]);
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let base = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    step("mirror", &pipeline, &base, true);
    // Only the events after midnight: the partition of the 18th is not even read.
    let files = tracecost::mirror::lake::lake_files(
        &lake,
        &tracecost::config::Window {
            from: Some(tracecost::config::parse_utc("2025-11-19", false).unwrap()),
            to: None,
        },
    )
    .unwrap();
    assert!(
        !files.is_empty() && files.iter().all(|f| f.contains("date=2025-11-19")),
        "{files:?}"
    );
    let mut flags = base.clone();
    flags.extend(["--from".to_string(), "2025-11-19T00:00:00Z".to_string()]);
    step("transform", &pipeline, &flags, true);
    let requests = read_parquet(&lake.join("_derived/proxy-fetch/requests.parquet"));
    let first = text_col(&requests, "first_event_ms");
    assert!(first
        .iter()
        .all(|t| t.parse::<i64>().unwrap() >= 1_763_510_400_000));
    let truth = read_csv(&sim.join("truth/legs.csv"));
    let after: std::collections::HashSet<&str> = truth
        .iter()
        .filter(|l| {
            !l["request_id"].is_empty() && l["ts"].parse::<i64>().unwrap() >= 1_763_510_400_000
        })
        .map(|l| l["request_id"].as_str())
        .collect();
    assert_eq!(requests.height(), after.len());
}

#[test]
fn transform_configuration_mistakes_name_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped_pipeline(tmp.path(), "proxy-fetch.toml")).unwrap();
    let cases = [
        (
            text.replace(
                "url_regex = '/experiment/([a-z-]+)'",
                "url_regex = '/experiment/([a-z-]+'",
            ),
            "transform.approach.url_regex",
        ),
        (
            text.replace(
                "rpc_method = \"onFetchResult\"",
                "rpc_methd = \"onFetchResult\"",
            ),
            "rpc_methd",
        ),
        (
            text.replace(
                "required_roles = [\"origin\"]",
                "required_roles = [\"orign\"]",
            ),
            "orign",
        ),
        (
            text.replace("billing = \"worker\"", "billing = \"cpu\""),
            "cpu",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = step(
            "transform",
            &p,
            &["--lake", tmp.path().join("lake").to_str().unwrap()],
            false,
        );
        let err = stderr(&out);
        assert!(err.contains(needle), "case {i}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "case {i}: {err}");
    }
}

#[test]
fn joining_in_partitions_changes_nothing_but_the_order_of_legs() {
    let tmp = tempfile::tempdir().unwrap();
    // Scale 2: duplicates, late batches and requests across midnight.
    let sim = simulate(tmp.path(), 21, &["--scale", "2"]);
    let lake = tmp.path().join("lake");
    let whole = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let text = std::fs::read_to_string(&whole).unwrap();
    assert!(text.contains("\n[transform]\n"));
    let pieces = tmp.path().join("pieces.toml");
    let seven = text.replacen("\n[transform]\n", "\n[transform]\npartitions = 7\n", 1);
    std::fs::write(&pieces, seven).unwrap();
    let flags = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    step("mirror", &whole, &flags, true);
    let derived = lake.join("_derived/proxy-fetch");
    let read = |name: &str| read_parquet(&derived.join(name));
    let by_event =
        |df: polars::prelude::DataFrame| df.sort(["event_id"], Default::default()).unwrap();

    step("transform", &whole, &flags, true);
    let (requests, legs, quality) = (
        read("requests.parquet"),
        read("legs.parquet"),
        read("quality.parquet"),
    );
    step("transform", &pieces, &flags, true);
    assert!(requests.height() > 1000);
    assert!(read("requests.parquet").equals_missing(&requests));
    assert!(read("quality.parquet").equals_missing(&quality));
    assert!(by_event(read("legs.parquet")).equals_missing(&by_event(legs)));
    assert!(
        !derived.join(".partitions").exists(),
        "partition files are removed"
    );
}
