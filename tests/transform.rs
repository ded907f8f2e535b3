//! Issue 3: legs into requests, checked against the simulator's ground truth.

mod common;

use std::path::Path;

use common::*;

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
    let files = tracecost::lake::lake_files(
        &lake,
        &tracecost::core::window::Window {
            from: Some(tracecost::core::window::parse_utc("2025-11-19", false).unwrap()),
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
        (
            text.replace(
                "billing = \"worker\"",
                "billing = \"worker\"\nrequest_billed = \"yes\"",
            ),
            "request_billed",
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

mod handmade;

use handmade::{write_lake, Leg};

/// The rows of a quality table with this item and detail, summed.
fn quality_count(quality: &polars::prelude::DataFrame, item: &str, detail: &str) -> u64 {
    let (items, details, counts) = (
        text_col(quality, "item"),
        text_col(quality, "detail"),
        text_col(quality, "count"),
    );
    (0..quality.height())
        .filter(|&i| items[i] == item && details[i] == detail)
        .map(|i| counts[i].parse::<u64>().unwrap())
        .sum()
}

#[test]
fn a_leg_with_an_impossible_duration_is_ignored_and_counted_never_summed() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let mut legs = handmade::requests("ok", "direct", 100, 3);
    // An older mirror let these in: two legs of i64::MAX summed to -2 ms.
    legs.push(Leg::origin("big", "direct", 100, i64::MAX));
    legs.push(Leg::origin("big", "direct", 100, i64::MAX));
    legs.push(Leg {
        cpu_ms: -5,
        ..Leg::origin("negcpu", "direct", 100, 120)
    });
    let too_long = tracecost::core::limits::MAX_DURATION_MS + 1;
    legs.push(Leg::origin("month", "direct", 100, too_long));
    write_lake(&lake, &legs);
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        true,
    );

    let derived = lake.join("_derived/hand");
    let requests = read_parquet(&derived.join("requests.parquet"));
    assert_eq!(
        text_col(&requests, "request_id"),
        ["ok-0", "ok-1", "ok-2"],
        "requests of ignored legs only do not exist"
    );
    for wall in text_col(&requests, "do_wall_ms") {
        let wall: i64 = wall.parse().unwrap();
        assert!((120..=122).contains(&wall), "{wall}");
    }
    for cost in text_col(&requests, "cost_usd_per_million") {
        let cost: f64 = cost.parse().unwrap();
        assert!(cost.is_finite() && (0.0..1.0).contains(&cost), "{cost}");
    }
    let legs_out = read_parquet(&derived.join("legs.parquet"));
    let why = tracecost::transform::BAD_DURATION;
    let reasons = text_col(&legs_out, "ignored_reason");
    let roles = text_col(&legs_out, "role");
    let ignored: Vec<usize> = (0..legs_out.height())
        .filter(|&i| reasons[i] == why)
        .collect();
    assert_eq!(ignored.len(), 4, "kept in legs.parquet with the reason");
    assert!(ignored.iter().all(|&i| roles[i].is_empty()));
    let quality = read_parquet(&derived.join("quality.parquet"));
    assert_eq!(quality_count(&quality, "legs ignored", why), 4);
}

#[test]
fn a_negative_delay_makes_a_request_incomplete_and_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let mut legs = handmade::requests("ok", "direct", 100, 2);
    legs.push(Leg::origin("early", "direct", -100, 20));
    write_lake(&lake, &legs);
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        true,
    );
    let derived = lake.join("_derived/hand");
    let requests = read_parquet(&derived.join("requests.parquet"));
    let ids = text_col(&requests, "request_id");
    let i = ids.iter().position(|id| id == "early").unwrap();
    assert_eq!(
        text_col(&requests, "delay_ms")[i],
        "-100",
        "kept as measured"
    );
    assert_eq!(text_col(&requests, "complete")[i], "false");
    assert_eq!(text_col(&requests, "missing_roles")[i], "negative delay");
    let quality = read_parquet(&derived.join("quality.parquet"));
    assert_eq!(
        quality_count(&quality, "requests incomplete", "missing: negative delay"),
        1
    );
    assert_eq!(quality_count(&quality, "requests", "complete"), 2);
}

#[test]
fn a_rerun_removes_the_temporaries_a_killed_transform_left() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    write_lake(&lake, &handmade::requests("ok", "direct", 100, 2));
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    let flags = ["--lake", lake.to_str().unwrap()];
    step("transform", &pipeline, &flags, true);
    let derived = lake.join("_derived/hand");
    let leftovers = [".requests.parquet.tmp-4242-7", ".legs.parquet.tmp-4242-9"];
    for name in leftovers {
        std::fs::write(derived.join(name), vec![0u8; 1 << 20]).unwrap();
    }
    std::fs::write(derived.join("notes.txt"), "mine").unwrap();
    step("transform", &pipeline, &flags, true);
    for name in leftovers {
        assert!(!derived.join(name).exists(), "{name} left behind");
    }
    assert!(derived.join("notes.txt").exists(), "only temporaries go");
    assert!(derived.join("requests.parquet").exists());
}

#[test]
fn a_pipeline_name_that_is_not_one_folder_name_writes_nothing_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("a/b/c");
    let lake = work.join("lake");
    write_lake(&lake, &handmade::requests("ok", "direct", 100, 2));
    // Where `<lake>/_derived/<name>` and `notebooks-export/<name>` would land.
    let absolute = tmp.path().join("abs");
    let (escaped_lake, escaped_out) = (tmp.path().join("a/b/x"), tmp.path().join("a/x"));
    let victims = [&absolute, &escaped_lake, &escaped_out];
    for victim in victims {
        std::fs::create_dir_all(victim.join(".partitions")).unwrap();
        std::fs::write(victim.join(".partitions/keep"), "theirs").unwrap();
    }
    let names = [
        "../../../x".to_string(),
        absolute.to_str().unwrap().to_string(),
        "a/b".into(),
        "..".into(),
        ".".into(),
        "".into(),
        "x\\ny".into(),
    ];
    for (i, name) in names.iter().enumerate() {
        let text = std::fs::read_to_string(handmade::pipeline(tmp.path(), "hand", "")).unwrap();
        let path = tmp.path().join(format!("case{i}.toml"));
        std::fs::write(
            &path,
            text.replace("name = \"hand\"", &format!("name = \"{name}\"")),
        )
        .unwrap();
        for step_name in ["transform", "report", "run"] {
            let out = bin()
                .current_dir(&work)
                .args([step_name, "--pipeline", path.to_str().unwrap()])
                .args(["--lake", lake.to_str().unwrap()])
                .output()
                .unwrap();
            let err = stderr(&out);
            assert!(!out.status.success(), "{step_name} {name:?}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(
                err.contains("name") && err.contains("letters, digits"),
                "{err}"
            );
        }
    }
    for victim in victims {
        assert!(
            victim.join(".partitions/keep").exists(),
            "{victim:?} emptied"
        );
        assert_eq!(std::fs::read_dir(victim).unwrap().count(), 1, "{victim:?}");
    }
    assert!(!work.join("notebooks-export").exists());
    assert!(!lake.join("_derived").exists());

    // Without `name`, the file's name names the pipeline: the same rule.
    let text = std::fs::read_to_string(handmade::pipeline(tmp.path(), "hand", "")).unwrap();
    let nameless = tmp.path().join("my pipeline!.toml");
    std::fs::write(&nameless, text.replace("name = \"hand\"", "")).unwrap();
    let out = step(
        "transform",
        &nameless,
        &["--lake", lake.to_str().unwrap()],
        false,
    );
    assert!(stderr(&out).contains("set name = "), "{}", stderr(&out));
}

#[test]
fn a_bad_transform_setting_is_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    write_lake(&lake, &handmade::requests("ok", "direct", 100, 2));
    let base = std::fs::read_to_string(handmade::pipeline(tmp.path(), "hand", "")).unwrap();
    let cases = [
        (
            "[transform.delay]\nurl_query = \"delay\"",
            "[transform.delay]\nurl_query = \"delay\"\nconstant = -100",
            "transform.delay.constant",
        ),
        (
            "required_roles = [\"origin\"]\n",
            "required_roles = [\"origin\"]\nrows_written = nan\n",
            "transform.approaches.direct.rows_written",
        ),
        (
            "required_roles = [\"origin\"]\n",
            "required_roles = [\"origin\"]\nrows_read = -1\n",
            "transform.approaches.direct.rows_read",
        ),
        (
            "[transform.correlation]",
            "[transform]\npartitions = 1000000000\n\n[transform.correlation]",
            "transform.partitions",
        ),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        assert!(base.contains(from), "{from}");
        let path = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, base.replacen(from, to, 1)).unwrap();
        let out = step(
            "transform",
            &path,
            &["--lake", lake.to_str().unwrap()],
            false,
        );
        let err = stderr(&out);
        assert!(err.contains(field), "case {i}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "case {i}: {err}");
    }
}

#[test]
fn the_quality_table_counts_the_sampling_notices_of_wrangler_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    write_lake(&lake, &handmade::requests("ok", "direct", 100, 2));
    let entry = |notices: u64| {
        serde_json::json!({
            "size": 10, "version": "1", "status": "ingested", "format": "tail",
            "lines": 5, "rows": 2, "test_lines": 0, "rejected_lines": 0,
            "files": [], "sampling_notices": notices
        })
    };
    let path = lake.join("_manifest.json");
    let mut manifest = read_json(&path);
    for (key, notices) in [("a.json", 3), ("b.json", 4), ("c.json", 0)] {
        manifest["objects"][key] = entry(notices);
    }
    std::fs::write(&path, manifest.to_string()).unwrap();
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    let out = step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        true,
    );
    let quality = read_parquet(&lake.join("_derived/hand/quality.parquet"));
    let detail = tracecost::lake::derived::SAMPLING_DETAIL;
    assert_eq!(quality_count(&quality, "source lines", detail), 7);
    assert!(
        stdout(&out).contains("wrangler tail was sampling: 7 notices"),
        "{}",
        stdout(&out)
    );
}

/// A leg as both formats write it: (time, entrypoint, request, approach,
/// delay, colo, script version, outcome).
type Written<'a> = (
    i64,
    &'a str,
    &'a str,
    &'a str,
    i64,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
);

const DAY_MS: i64 = 1_763_424_000_000; // 2025-11-18T00:00:00Z

const WRITTEN: [Written; 5] = [
    (
        1_000,
        "OriginDO",
        "r1",
        "simple",
        100,
        None,
        "v2",
        Some("ok"),
    ),
    (
        1_010,
        "Executor",
        "r1",
        "simple",
        100,
        Some("AMS"),
        "v1",
        Some("exception"),
    ),
    (
        1_020,
        "Executor",
        "r1",
        "simple",
        100,
        Some("FRA"),
        "v1",
        Some("canceled"),
    ),
    (
        5_000,
        "OriginDO",
        "r2",
        "direct",
        0,
        Some("LHR"),
        "v1",
        Some("ok"),
    ),
    (9_000, "OriginDO", "r3", "direct", 0, None, "v1", None),
];

fn url(l: &Written) -> String {
    format!(
        "https://lab.example/run?reqId={}&approach={}&delay={}",
        l.2, l.3, l.4
    )
}

/// The legs as one Logpush object of a local folder.
fn write_logpush(dir: &Path) {
    let lines: Vec<String> = WRITTEN
        .iter()
        .map(|l| {
            let mut request = serde_json::json!({"URL": url(l), "Method": "GET"});
            if let Some(colo) = l.5 {
                request["cf"] = serde_json::json!({"colo": colo, "country": "NL"});
            }
            let mut line = serde_json::json!({
                "EventTimestampMs": DAY_MS + l.0, "ScriptName": "lab", "Entrypoint": l.1,
                "EventType": "fetch", "Event": {"Request": request},
                "ScriptVersion": {"ID": l.6, "Tag": ""}, "WallTimeMs": 20, "CPUTimeMs": 2,
            });
            if let Some(outcome) = l.7 {
                line["Outcome"] = outcome.into();
            }
            line.to_string()
        })
        .collect();
    let folder = dir.join("20251118");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("20251118T000000Z_20251118T000100Z_0a1b2c3d.log.gz"),
        gzip((lines.join("\n") + "\n").as_bytes()),
    )
    .unwrap();
}

/// The legs as a `wrangler tail --format json` capture.
fn write_tail(path: &Path) {
    let events: Vec<String> = WRITTEN
        .iter()
        .map(|l| {
            let mut request = serde_json::json!({"url": url(l), "method": "GET"});
            if let Some(colo) = l.5 {
                request["cf"] = serde_json::json!({"colo": colo});
            }
            let mut event = serde_json::json!({
                "eventTimestamp": DAY_MS + l.0, "scriptName": "lab", "entrypoint": l.1,
                "event": {"request": request}, "scriptVersion": {"id": l.6},
                "wallTime": 20, "cpuTime": 2,
            });
            if let Some(outcome) = l.7 {
                event["outcome"] = outcome.into();
            }
            serde_json::to_string_pretty(&event).unwrap()
        })
        .collect();
    std::fs::write(path, events.join("\n") + "\n").unwrap();
}

#[test]
fn colo_script_version_and_outcomes_come_from_either_format() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    let logpush = tmp.path().join("logpush");
    write_logpush(&logpush);
    let capture = tmp.path().join("capture.json");
    write_tail(&capture);
    let mut tables = Vec::new();
    for (name, source) in [("a", &logpush), ("b", &capture)] {
        let lake = tmp.path().join(name);
        let flags = [
            "--source",
            source.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
        ];
        step("mirror", &pipeline, &flags, true);
        let out = step("transform", &pipeline, &flags, true);
        assert!(
            stdout(&out).contains("2 legs not ok (billed all the same)"),
            "{}",
            stdout(&out)
        );
        let derived = lake.join("_derived/hand");
        let requests = read_parquet(&derived.join("requests.parquet"));
        let columns = [
            "request_id",
            "colo",
            "script_version",
            "legs_not_ok",
            "outcomes",
            "do_requests_billed",
            "worker_requests_billed",
        ];
        let got: Vec<Vec<String>> = columns.iter().map(|c| text_col(&requests, c)).collect();
        let want = [
            ["r1", "r2", "r3"],
            // The first leg in time order that has a colo; r3's leg has none.
            ["AMS", "LHR", ""],
            ["v1,v2", "v1", "v1"],
            // A leg with no Outcome is not counted as failed.
            ["2", "0", "0"],
            ["canceled,exception", "", ""],
            ["1", "1", "1"],
            ["0", "0", "0"],
        ];
        assert_eq!(
            got,
            want.map(|c| c.map(String::from).to_vec()).to_vec(),
            "{name}"
        );
        let quality = read_parquet(&derived.join("quality.parquet"));
        let rows = |item: &str| -> Vec<String> {
            let cols =
                ["item", "detail", "approach", "delay_ms", "count"].map(|c| text_col(&quality, c));
            (0..quality.height())
                .filter(|&i| cols[0][i] == item)
                .map(|i| {
                    format!(
                        "{} {} {} {}",
                        cols[1][i], cols[2][i], cols[3][i], cols[4][i]
                    )
                })
                .collect()
        };
        assert_eq!(
            rows("legs not ok"),
            ["canceled simple 100 1", "exception simple 100 1"]
        );
        tables.push(requests);
    }
    assert!(
        tables[0].equals_missing(&tables[1]),
        "{}\n{}",
        tables[0],
        tables[1]
    );
}

#[test]
fn billing_the_executor_request_changes_the_cost_by_its_fee_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let mut legs = handmade::requests("s", "simple", 100, 3);
    legs.extend(handmade::requests("d", "direct", 100, 2));
    write_lake(&lake, &legs);
    let default = handmade::pipeline(tmp.path(), "hand", "");
    let text = std::fs::read_to_string(&default).unwrap();
    let billed = tmp.path().join("billed.toml");
    let from = "billing = \"worker\"\n";
    assert!(text.contains(from));
    std::fs::write(
        &billed,
        text.replace(from, &format!("{from}request_billed = true\n")),
    )
    .unwrap();
    let flags = ["--lake", lake.to_str().unwrap()];
    let read = |pipeline: &Path| {
        step("transform", pipeline, &flags, true);
        let requests = read_parquet(&lake.join("_derived/hand/requests.parquet"));
        let f = |c: &str| -> Vec<f64> {
            text_col(&requests, c)
                .iter()
                .map(|v| v.parse().unwrap())
                .collect()
        };
        let metrics = [
            "cost_usd_per_million",
            "cost_other_billing_usd_per_million",
            "worker_invocations",
            "worker_requests_billed",
        ];
        (text_col(&requests, "approach"), metrics.map(f))
    };
    let (approach, [cost, other, workers, billed_default]) = read(&default);
    let (_, [cost_billed, other_billed, _, billed_set]) = read(&billed);
    assert_eq!(
        workers.iter().sum::<f64>(),
        3.0,
        "one executor leg per simple request"
    );
    assert!(billed_default.iter().all(|n| *n == 0.0));
    assert_eq!(billed_set, workers);
    for i in 0..approach.len() {
        let fee = 0.30 * workers[i];
        assert!((cost_billed[i] - cost[i] - fee).abs() < 1e-12, "{i}");
        // Each assumption's other cost is the other's cost.
        assert!((other[i] - cost_billed[i]).abs() < 1e-12, "{i}");
        assert!((other_billed[i] - cost[i]).abs() < 1e-12, "{i}");
        if approach[i] == "direct" {
            assert_eq!(
                cost[i], other[i],
                "a request without Worker legs does not depend on it"
            );
        }
    }
}

#[test]
fn a_run_manifest_window_no_request_fell_in_is_a_lost_request() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let legs = handmade::requests("ok", "direct", 100, 2);
    let times: Vec<i64> = legs.iter().map(|l| l.at_ms).collect();
    write_lake(&lake, &legs);
    let (first, last) = (times[0], *times.iter().max().unwrap());
    let manifest = tmp.path().join("manifest.csv");
    let rows = [
        format!("direct,100,{},{},,ok-0", first - 1, first + 1),
        format!("direct,100,{},{},r1,", last - 1, last + 1),
        // No event in either; the second lies after the transform's window.
        format!("simple,250,{},{},lost-1,run-a", last + 100, last + 200),
        format!(
            "direct,0,{},{},lost-2,run-a",
            last + 86_400_000,
            last + 86_400_001
        ),
    ];
    std::fs::write(
        &manifest,
        format!(
            "approach,delay_ms,start,end,req_id,run_id\n{}\n",
            rows.join("\n")
        ),
    )
    .unwrap();
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    let flags = [
        "--lake",
        lake.to_str().unwrap(),
        "--run-manifest",
        manifest.to_str().unwrap(),
        "--to",
        "2025-11-19T00:00:00Z",
    ];
    let out = step("transform", &pipeline, &flags, true);
    assert!(stdout(&out).contains("1 requests lost"), "{}", stdout(&out));
    let derived = lake.join("_derived/hand");
    let quality = read_parquet(&derived.join("quality.parquet"));
    assert_eq!(
        quality_count(
            &quality,
            "requests lost",
            "run-manifest window with no event"
        ),
        1
    );
    let lost = read_parquet(&derived.join("lost.parquet"));
    let names: Vec<&str> = lost.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        ["approach", "delay_ms", "start", "end", "req_id", "run_id"]
    );
    let row: Vec<String> = names
        .iter()
        .map(|c| text_col(&lost, c)[0].clone())
        .collect();
    assert_eq!(lost.height(), 1);
    assert_eq!(
        [&row[0], &row[1], &row[4], &row[5]],
        ["simple", "250", "lost-1", "run-a"]
    );
    assert!(row[2].starts_with("2025-11-18"), "{row:?}");

    // Without a run manifest nothing is lost, and the old list goes.
    step("transform", &pipeline, &flags[..2], true);
    assert_eq!(read_parquet(&derived.join("lost.parquet")).height(), 0);
}

#[test]
fn a_lake_without_colo_or_script_version_still_transforms() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    // The hand-made lake has neither column, as a lake mirrored before they were lifted.
    write_lake(&lake, &handmade::requests("ok", "simple", 100, 2));
    let columns = read_lake(&lake).get_column_names_owned();
    assert!(!columns.iter().any(|c| c == "Colo" || c == "ScriptVersion"));
    let pipeline = handmade::pipeline(tmp.path(), "hand", "");
    step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        true,
    );
    let requests = read_parquet(&lake.join("_derived/hand/requests.parquet"));
    assert_eq!(requests.height(), 2);
    for c in ["colo", "script_version", "outcomes"] {
        assert_eq!(requests.column(c).unwrap().null_count(), 2, "{c}");
    }
    assert_eq!(text_col(&requests, "legs_not_ok"), ["0", "0"]);
}

#[test]
fn the_embedded_sample_loses_one_direct_request() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let flags = archive_flags(&sample, &lake, &sample.join("run-manifest.csv"));
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    let derived = lake.join("_derived/proxy-fetch");
    let lost = read_parquet(&derived.join("lost.parquet"));
    assert_eq!(text_col(&lost, "approach"), ["direct"]);
    let quality = read_parquet(&derived.join("quality.parquet"));
    assert_eq!(
        quality_count(
            &quality,
            "requests lost",
            "run-manifest window with no event"
        ),
        1
    );
    // The manifest has a window per request of the truth, observed or not.
    let truth = read_csv(&sample.join("truth/requests.csv"));
    let unseen: Vec<_> = truth.iter().filter(|r| r["legs"] == "0").collect();
    assert_eq!(unseen.len(), 1);
    assert_eq!(text_col(&lost, "run_id"), [unseen[0]["run_id"].clone()]);
}

#[test]
fn a_lake_that_does_not_exist_is_one_line_saying_to_mirror_first() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let lake = tmp.path().join("no-lake");
    let out = step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        false,
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does not exist: mirror into it first"),
        "{err}"
    );
    assert!(!lake.exists(), "nothing created");
}
