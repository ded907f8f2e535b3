//! Issue 17: the simulator writes archives of deployments the project has
//! never seen (other names, the id under another key, the id and approach
//! elsewhere); a pipeline file written for each reproduces its truth.

mod common;

use std::io::Read;
use std::path::Path;

use common::*;

/// What a deployment calls things, written out by hand (not read from the simulator).
struct Names {
    origin_script: &'static str,
    orchestrator_script: &'static str,
    executor_script: &'static str,
    origin: &'static str,
    orchestrator: &'static str,
    /// The origin's rpc methods for direct, current, simple, rpc-target.
    methods: [&'static str; 4],
    callback_method: &'static str,
    prefix: &'static str,
    callback_path: &'static str,
    delay_key: &'static str,
    approach_key: &'static str,
}

const CLASSIC: Names = Names {
    origin_script: "experiment-origin",
    orchestrator_script: "proxy-orchestrator",
    executor_script: "proxy-executor",
    origin: "OriginDO",
    orchestrator: "Orchestrator",
    methods: [
        "fetchDirect",
        "proxyFetch",
        "proxyFetchSimple",
        "proxyFetchRpcTarget",
    ],
    callback_method: "onFetchResult",
    prefix: "/experiment",
    callback_path: "/result",
    delay_key: "delay",
    approach_key: "approach",
};

const RENAMED: Names = Names {
    origin_script: "ledger-api",
    orchestrator_script: "relay-hub",
    executor_script: "outbound-fetcher",
    origin: "AccountDO",
    orchestrator: "RelayDO",
    methods: ["callDirect", "relayCall", "forwardCall", "targetCall"],
    callback_method: "deliverResult",
    prefix: "/relay",
    callback_path: "/deliver",
    delay_key: "wait",
    approach_key: "mode",
};

const APPROACHES: [&str; 4] = ["direct", "current", "simple", "rpc-target"];

struct Case {
    id_in: &'static str,
    approach_in: &'static str,
    id_key: &'static str,
    renamed: bool,
}

impl Case {
    fn names(&self) -> &'static Names {
        if self.renamed {
            &RENAMED
        } else {
            &CLASSIC
        }
    }

    fn flags(&self) -> Vec<&str> {
        let mut f = vec![
            "--runs",
            "4",
            "--rpc-target",
            "--id-in",
            self.id_in,
            "--approach-in",
            self.approach_in,
            "--id-key",
            self.id_key,
        ];
        if self.renamed {
            f.push("--renamed");
        }
        f
    }

    /// The pipeline file a person would write for this layout.
    fn pipeline(&self, name: &str) -> String {
        let n = self.names();
        let key = self.id_key;
        let (url_id, log_id) = match self.id_in {
            "url" => (true, false),
            "logs" => (false, true),
            _ => (true, true),
        };
        let callback = if self.id_in == "url" {
            format!("event_type = \"fetch\"\nurl = '{}\\?'", n.callback_path)
        } else {
            format!("rpc_method = \"{}\"", n.callback_method)
        };
        let methods = |f: &dyn Fn(usize, &str) -> String| -> String {
            (n.methods.iter().enumerate())
                .map(|(i, m)| f(i, m))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let origin = if self.approach_in == "rpc" {
            format!("rpc_method = [{}]", methods(&|_, m| format!("\"{m}\"")))
        } else {
            format!("event_type = \"fetch\"\nurl = '{}[/?]'", n.prefix)
        };
        let approach = match self.approach_in {
            "path" => format!("url_regex = '{}/([a-z-]+)'", n.prefix),
            "query" => format!("url_query = \"{}\"", n.approach_key),
            _ => format!(
                "rpc_method = {{ {} }}",
                methods(&|i, m| format!("{m} = \"{}\"", APPROACHES[i]))
            ),
        };
        let delay = match self.approach_in {
            "rpc" => format!(
                "log_regex = '(?:\"{}\"\\s*:\\s*|/delay/)(\\d+)'",
                n.delay_key
            ),
            _ => format!(
                "url_query = \"{}\"\nurl_regex = 'delay%2F(\\d+)'\nlog_regex = '/delay/(\\d+)'",
                n.delay_key
            ),
        };
        let url_re = format!("'[?&]{key}=([0-9a-f]+)'");
        let log_re = format!("'\"{key}\"\\s*:\\s*\"([0-9a-f]+)\"'");
        format!(
            r#"name = "{name}"

[transform.filters]
scripts = ["{os}", "{rs}", "{es}"]
event_types = ["fetch", "worker_rpc", "rpc"]

[[transform.roles]]
name = "callback"
billing = "do"
script = "{os}"
entrypoint = "{o}"
{callback}

[[transform.roles]]
name = "origin"
billing = "do"
script = "{os}"
entrypoint = "{o}"
{origin}

[[transform.roles]]
name = "orchestrator"
billing = "do"
script = "{rs}"
entrypoint = "{r}"

[[transform.roles]]
name = "executor"
billing = "worker"
script = "{es}"

[transform.correlation]
url = [{url}]
logs = [{logs}]

[transform.approach]
{approach}
role_present = {{ orchestrator = "current" }}

[transform.delay]
{delay}

[transform.approaches.direct]
required_roles = ["origin"]

[transform.approaches.current]
required_roles = ["origin", "orchestrator", "executor", "callback"]
rows_written = 1
rows_read = 1

[transform.approaches.simple]
required_roles = ["origin", "executor", "callback"]
rows_written = 1
rows_read = 1

[transform.approaches.rpc-target]
required_roles = ["origin", "executor", "callback"]
rows_written = 1
rows_read = 1
"#,
            os = n.origin_script,
            rs = n.orchestrator_script,
            es = n.executor_script,
            o = n.origin,
            r = n.orchestrator,
            url = if url_id { url_re.as_str() } else { "" },
            logs = if log_id { log_re.as_str() } else { "" },
        )
    }
}

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
