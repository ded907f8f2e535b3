//! Issue 17: the simulator writes archives of deployments the project has
//! never seen (other names, the id under another key, the id and approach
//! elsewhere); a pipeline file written for each reproduces its truth.

mod common;

use std::io::Read;
use std::path::Path;

use common::layouts::*;
use common::*;

/// Every intact event line of the archive, parsed.
fn events(logpush: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut stack = vec![logpush.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            out.extend(
                (text.lines())
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|v| v.get("EventType").is_some()),
            );
        }
    }
    out
}

/// The event's URL, its log messages joined, and whether it is an experiment leg.
fn shape(v: &serde_json::Value, n: &Names) -> (String, String, bool) {
    let url = v["Event"]["Request"]["URL"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let logs: Vec<String> = (v["Logs"].as_array().unwrap().iter())
        .map(|l| l["Message"].to_string())
        .collect();
    let script = v["ScriptName"].as_str().unwrap();
    let entry = v["Entrypoint"].as_str().unwrap();
    let experiment = [n.orchestrator_script, n.executor_script].contains(&script)
        || (script == n.origin_script && entry == n.origin && v["EventType"] != "alarm");
    (url, logs.join(" "), experiment)
}

/// The archive's legs carry the id, approach and delay where the layout says, under its names.
fn assert_shapes(case: &Case, sim: &Path) {
    let n = case.names();
    let key = case.id_key;
    let (in_url, in_logs) = (format!("{key}="), format!("\"{key}\\\":"));
    let events = events(&sim.join("logpush"));
    let experiment: Vec<_> = (events.iter())
        .map(|v| (v, shape(v, n)))
        .filter(|(_, s)| s.2)
        .collect();
    assert!(experiment.len() > 100, "{}", experiment.len());
    let url_ids = experiment.iter().filter(|(_, s)| s.0.contains(&in_url));
    let log_ids = experiment.iter().filter(|(_, s)| s.1.contains(&in_logs));
    let (url_ids, log_ids) = (url_ids.count(), log_ids.count());
    match case.id_in {
        "url" => {
            assert_eq!(log_ids, 0);
            // Every proxied leg is a fetch whose URL carries the id; direct's none.
            for (v, (url, _, _)) in &experiment {
                assert_eq!(v["EventType"], "fetch", "{v}");
                let direct = url.contains("direct");
                assert_eq!(url.contains(&in_url), !direct, "{url}");
            }
        }
        "logs" => assert!(url_ids == 0 && log_ids > 100, "{url_ids} {log_ids}"),
        _ => assert!(url_ids > 50 && log_ids > 100, "{url_ids} {log_ids}"),
    }
    let origin_rpc = |v: &serde_json::Value| {
        v["ScriptName"] == n.origin_script
            && v["EventType"] == "worker_rpc"
            && n.methods
                .contains(&v["Event"]["rpcMethod"].as_str().unwrap())
    };
    let origins = experiment.iter().filter(|(v, _)| origin_rpc(v)).count();
    if case.approach_in == "rpc" {
        assert!(origins > 50, "{origins}");
        assert!(experiment.iter().all(|(_, s)| s.0.is_empty()));
    } else {
        assert_eq!(origins, 0);
        let marker = match case.approach_in {
            "path" => format!("{}/simple?{}=", n.prefix, n.delay_key),
            _ => format!("{}?{}=simple&{}=", n.prefix, n.approach_key, n.delay_key),
        };
        assert!(experiment.iter().any(|(_, s)| s.0.contains(&marker)));
    }
    if case.renamed {
        let text: String = events.iter().map(|v| v.to_string()).collect();
        for classic in [
            "experiment",
            "OriginDO",
            "Orchestrator",
            "FetchExecutor",
            "onFetchResult",
            "enqueueFetch",
            "executeFetch",
            "DashboardDO",
            "marketing-site",
            "nightly-cleanup",
            "proxy-orchestrator",
            "proxy-executor",
            "delay=",
            "approach=",
        ] {
            assert!(!text.contains(classic), "{classic} in the renamed archive");
        }
    }
    if key != "reqId" {
        let text: String = events.iter().map(|v| v.to_string()).collect();
        assert!(!text.contains("reqId"));
    }
}

fn simulate_and_join(case: &Case, seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), seed, &case.flags());
    assert_shapes(case, &sim);
    let pipeline = tmp.path().join("layout.toml");
    std::fs::write(&pipeline, case.pipeline("layout")).unwrap();
    let lake = tmp.path().join("lake");
    let logpush = sim.join("logpush");
    let flags = [
        "--source",
        logpush.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ];
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    let n = assert_requests_match_truth(
        &lake.join("_derived/layout/requests.parquet"),
        &sim.join("truth/requests.csv"),
        false,
    );
    // 4 runs x 6 delays x 4 approaches, a lost request or two at most.
    assert!(n >= 90, "{n}");
    let requests = read_parquet(&lake.join("_derived/layout/requests.parquet"));
    let approaches = text_col(&requests, "approach");
    for a in APPROACHES {
        assert!(approaches.iter().any(|x| x == a), "no {a} request");
    }
    let model = read_json(&sim.join("truth/model.json"));
    assert_eq!(model["layout"]["id_in"], case.id_in);
    assert_eq!(model["layout"]["approach_in"], case.approach_in);
    assert_eq!(model["layout"]["id_key"], case.id_key);
    assert_eq!(model["layout"]["renamed"], case.renamed);
    let archive = read_json(&sim.join("truth/archive.json"));
    assert_eq!(archive["layout"], model["layout"]);
}

#[test]
fn id_in_logs_approach_in_path() {
    let case = Case {
        id_in: "logs",
        approach_in: "path",
        id_key: "reqId",
        renamed: false,
    };
    simulate_and_join(&case, 31);
}

#[test]
fn id_in_url_approach_in_query() {
    let case = Case {
        id_in: "url",
        approach_in: "query",
        id_key: "reqId",
        renamed: false,
    };
    simulate_and_join(&case, 32);
}

#[test]
fn id_in_both_approach_in_query_renamed_under_another_key() {
    let case = Case {
        id_in: "both",
        approach_in: "query",
        id_key: "traceId",
        renamed: true,
    };
    simulate_and_join(&case, 33);
}

#[test]
fn id_in_logs_approach_in_rpc_renamed() {
    let case = Case {
        id_in: "logs",
        approach_in: "rpc",
        id_key: "reqId",
        renamed: true,
    };
    simulate_and_join(&case, 34);
}

#[test]
fn id_in_url_approach_in_path_renamed() {
    let case = Case {
        id_in: "url",
        approach_in: "path",
        id_key: "corr_id_2",
        renamed: true,
    };
    simulate_and_join(&case, 35);
}

#[test]
fn the_default_layout_writes_the_committed_sample_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = simulate(tmp.path(), 7, &[]);
    let sample = tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample"));
    assert!(tree(&plain) == sample, "data/sample is `simulate --seed 7`");
    let explicit = tmp.path().join("explicit");
    let flags = [
        "--id-in",
        "both",
        "--approach-in",
        "path",
        "--id-key",
        "reqId",
    ];
    let out = explicit.to_str().unwrap();
    let mut args = vec!["simulate", "--out", out, "--seed", "7"];
    args.extend(flags);
    run(&args, true);
    assert!(
        tree(&explicit) == sample,
        "explicit defaults change nothing"
    );
}

#[test]
fn an_impossible_layout_or_a_bad_id_key_is_one_line_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("never");
    let o = out.to_str().unwrap();
    let long = "k".repeat(33);
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["--approach-in", "rpc"],
            &["--approach-in", "--id-in logs"],
        ),
        (
            &["--approach-in", "rpc", "--id-in", "url"],
            &["--approach-in rpc", "--id-in url", "no URL"],
        ),
        (&["--id-key", "req-id"], &["--id-key", "req-id"]),
        (&["--id-key", ""], &["--id-key"]),
        (&["--id-key", long.as_str()], &["--id-key", "1-32"]),
        (&["--id-key", "delay"], &["--id-key", "already writes"]),
        (
            &["--renamed", "--id-key", "wait"],
            &["--id-key", "already writes"],
        ),
    ];
    for (flags, words) in cases {
        let mut args = vec!["simulate", "--out", o];
        args.extend(flags);
        let err = stderr(&run(&args, false));
        assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{flags:?}: {err}");
        }
        assert!(!out.exists(), "{flags:?} wrote something");
    }
    let ok = ["--approach-in", "rpc", "--id-in", "logs", "--id-key", "A_9"];
    let mut args = vec!["simulate", "--out", o, "--runs", "1"];
    args.extend(ok);
    run(&args, true);
}
