//! `tracecost drive` against a real HTTP server on 127.0.0.1: `/{approach}`
//! sleeps `delay` ms and records the `reqId` it saw and its own duration;
//! `/fail` answers 500; `/hang` never answers.

mod common;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Debug, Clone)]
struct Seen {
    approach: String,
    req_id: String,
    server_ms: f64,
    authorization: Option<String>,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let record = record.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let record = record.clone();
                        async move { Ok::<_, Infallible>(answer(req, &record).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Server {
            port,
            seen,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/{{approach}}?delay={{delay_ms}}&reqId={{req_id}}",
            self.port
        )
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    record: &Mutex<Vec<Seen>>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let approach = req.uri().path().trim_start_matches('/').to_string();
    let query: HashMap<String, String> = (req.uri().query().unwrap_or_default().split('&'))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let delay: u64 = query.get("delay").and_then(|d| d.parse().ok()).unwrap_or(0);
    let authorization =
        (req.headers().get("authorization")).map(|v| v.to_str().unwrap_or_default().to_string());
    if approach == "hang" {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    tokio::time::sleep(Duration::from_millis(delay)).await;
    record.lock().unwrap().push(Seen {
        approach: approach.clone(),
        req_id: query.get("reqId").cloned().unwrap_or_default(),
        server_ms: started.elapsed().as_secs_f64() * 1000.0,
        authorization,
    });
    let status = if approach == "fail" { 500 } else { 200 };
    hyper::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap()
}

fn drive(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .arg("drive")
        .args(args)
        .env_remove("TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("tracecost runs")
}

const MATRIX: [&str; 6] = [
    "--approaches",
    "direct,simple",
    "--delays",
    "0,100",
    "--runs",
    "3",
];

fn matrix<'a>(url: &'a str, manifest: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--url", url, "--manifest", manifest];
    args.extend(MATRIX);
    args.extend(extra);
    args
}

#[test]
fn the_matrix_sends_each_id_once_interleaved_and_transform_accepts_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    ok(drive(
        tmp.path(),
        &matrix(&url, "m.csv", &["--seed", "5"]),
        &[],
    ));
    let text = std::fs::read_to_string(tmp.path().join("m.csv")).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "run_id,approach,delay_ms,req_id,start,end,client_latency_ms,status,error,warmup"
    );
    let rows = read_csv(&tmp.path().join("m.csv"));
    assert_eq!(rows.len(), 12);
    let seen = server.seen();
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.iter().filter(|s| s.approach == "direct").count(), 6);
    let ids: HashSet<&str> = rows.iter().map(|r| r["req_id"].as_str()).collect();
    assert_eq!(ids, seen.iter().map(|s| s.req_id.as_str()).collect());
    assert!(ids
        .iter()
        .all(|id| id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())));
    // Each block of four holds every approach x delay once.
    for (r, block) in rows.chunks(4).enumerate() {
        let keys: HashSet<(&str, &str)> = (block.iter())
            .map(|row| (row["approach"].as_str(), row["delay_ms"].as_str()))
            .collect();
        assert_eq!(keys.len(), 4, "block {r}");
        assert!(block.iter().all(|row| row["run_id"] == format!("run{r}")));
        assert!(block
            .iter()
            .all(|row| row["status"] == "200" && row["error"].is_empty()));
        assert!(block.iter().all(|row| row["warmup"] == "false"));
        assert!(block
            .iter()
            .all(|row| row["start"].ends_with('Z') && row["start"].len() == 24));
    }
    // Client latency: at least the delay, close to the server's own measure.
    let server_ms: HashMap<&str, f64> = seen
        .iter()
        .map(|s| (s.req_id.as_str(), s.server_ms))
        .collect();
    for row in &rows {
        let client: f64 = row["client_latency_ms"].parse().unwrap();
        let delay: f64 = row["delay_ms"].parse().unwrap();
        let server = server_ms[row["req_id"].as_str()];
        assert!(client >= delay, "{row:?}");
        assert!((client - server).abs() < 50.0, "{row:?} server {server}");
    }
    // Same seed: same order and ids; another seed: another schedule.
    ok(drive(
        tmp.path(),
        &matrix(&url, "again.csv", &["--seed", "5"]),
        &[],
    ));
    let again = read_csv(&tmp.path().join("again.csv"));
    let key = |r: &HashMap<String, String>| {
        (
            r["run_id"].clone(),
            r["approach"].clone(),
            r["delay_ms"].clone(),
            r["req_id"].clone(),
        )
    };
    assert_eq!(
        rows.iter().map(key).collect::<Vec<_>>(),
        again.iter().map(key).collect::<Vec<_>>()
    );
    // Without --resume an existing manifest is refused.
    let out = drive(tmp.path(), &matrix(&url, "m.csv", &[]), &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("exists: pass --resume"),
        "{}",
        stderr(&out)
    );

    // transform reads the manifest (with a lake of a small simulated archive).
    let sim = simulate(tmp.path(), 3, &["--runs", "2"]);
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let flags = archive_flags(&sim, &lake, &tmp.path().join("m.csv"));
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
}

#[test]
fn dry_run_prints_the_schedule_and_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let out = ok(drive(
        tmp.path(),
        &matrix(&url, "m.csv", &["--dry-run"]),
        &[],
    ));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 12, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("run") && l.contains("reqId=")),
        "{text}"
    );
    assert!(server.seen().is_empty());
    assert!(!tmp.path().join("m.csv").exists());
}

#[test]
fn killed_half_way_and_resumed_every_request_is_done_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let manifest = tmp.path().join("m.csv");
    let mut child = bin()
        .current_dir(tmp.path())
        .arg("drive")
        .args(matrix(&url, "m.csv", &["--pause", "50"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&manifest).map_or(0, |t| t.lines().count());
        if lines >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "drive wrote no rows"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = read_csv(&manifest).len();
    assert!((4..12).contains(&before), "{before}");
    let out = ok(drive(
        tmp.path(),
        &matrix(&url, "m.csv", &["--pause", "50", "--resume"]),
        &[],
    ));
    assert!(
        stderr(&out).contains(&format!("{} already in the manifest", before)),
        "{}",
        stderr(&out)
    );
    let rows = read_csv(&manifest);
    assert_eq!(rows.len(), 12);
    let keys: HashSet<(&str, &str, &str)> = (rows.iter())
        .map(|r| {
            (
                r["run_id"].as_str(),
                r["approach"].as_str(),
                r["delay_ms"].as_str(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 12);
    // Every id of the manifest reached the server; the one in flight at the
    // kill has no row and is sent again under the same id.
    let ids: HashSet<&str> = rows.iter().map(|r| r["req_id"].as_str()).collect();
    assert_eq!(ids.len(), 12);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for s in server.seen() {
        *counts.entry(s.req_id).or_default() += 1;
    }
    assert_eq!(
        counts.keys().map(String::as_str).collect::<HashSet<_>>(),
        ids
    );
    let twice = counts.values().filter(|n| **n == 2).count();
    assert!(twice <= 1 && counts.values().all(|n| *n <= 2), "{counts:?}");
}

#[test]
fn a_header_from_the_environment_reaches_the_server_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let secret = "Bearer s3cr3t-t0ken-Zx81";
    let args = [
        "--url",
        &url,
        "--approaches",
        "direct,simple",
        "--delays",
        "0,100",
        "--runs",
        "1",
        "--manifest",
        "m.csv",
        "--header",
        "Authorization: $TOKEN",
    ];
    let out = ok(drive(tmp.path(), &args, &[("TOKEN", secret)]));
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some(secret)));
    let manifest = std::fs::read_to_string(tmp.path().join("m.csv")).unwrap();
    for text in [stdout(&out), stderr(&out), manifest] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    // Unset: one line naming the variable, nothing sent.
    let out = drive(
        tmp.path(),
        &matrix(&url, "n.csv", &["--header", "Authorization: $TOKEN"]),
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("TOKEN") && err.contains("--header"), "{err}");
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn a_500_and_a_timeout_are_recorded_and_not_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let args = [
        "--url",
        &url,
        "--approaches",
        "fail",
        "--delays",
        "0",
        "--runs",
        "2",
        "--manifest",
        "f.csv",
    ];
    ok(drive(tmp.path(), &args, &[]));
    let rows = read_csv(&tmp.path().join("f.csv"));
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["status"] == "500" && r["error"].is_empty()));
    assert_eq!(server.seen().len(), 2);

    let started = Instant::now();
    let args = [
        "--url",
        &url,
        "--approaches",
        "hang",
        "--delays",
        "0",
        "--runs",
        "1",
        "--timeout",
        "1s",
        "--manifest",
        "h.csv",
    ];
    let out = ok(drive(tmp.path(), &args, &[]));
    assert!(started.elapsed() < Duration::from_secs(10));
    let rows = read_csv(&tmp.path().join("h.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["error"].as_str()),
        ("", "timeout")
    );
    let latency: f64 = rows[0]["client_latency_ms"].parse().unwrap();
    assert!((1000.0..5000.0).contains(&latency), "{latency}");
    assert!(
        stderr(&out).contains("hang: n = 1, errors = 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_values_are_one_line_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--url",
        "http://h/{nope}",
        "--approaches",
        "a",
        "--delays",
        "0",
    ];
    let err = stderr(&drive(tmp.path(), &args, &[]));
    assert!(
        err.trim().lines().count() == 1 && err.contains("--url"),
        "{err}"
    );
    let url = "http://127.0.0.1:9/{approach}";
    for (extra, flag) in [
        (["--order", "random"], "--order"),
        (["--delays", "0,x"], "--delays"),
        (["--timeout", "soon"], "--timeout"),
        (["--concurrency", "0"], "--concurrency"),
        (["--runs", "0"], "--runs"),
        (["--runs", "999999999999"], "--runs"),
        (["--delays", "99999999999"], "--delays"),
        (["--pause", "99999999999"], "--pause"),
    ] {
        let mut args = vec!["--url", url, "--approaches", "a", "--delays", "0"];
        args.extend(extra);
        let out = drive(tmp.path(), &args, &[]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(flag), "{err}");
    }
}

#[test]
fn a_drive_section_is_read_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    std::fs::create_dir(tmp.path().join("p")).unwrap();
    let pipeline = tmp.path().join("p/drive.toml");
    let text = format!(
        "name = \"d\"\n[drive]\nurl = \"{}\"\napproaches = [\"direct\"]\ndelays = [0, 5]\nruns = 2\nwarmup = 1\norder = \"sequential\"\nmanifest = \"out.csv\"\n",
        server.url()
    );
    std::fs::write(&pipeline, text).unwrap();
    let p = pipeline.to_str().unwrap();
    ok(drive(tmp.path(), &["--pipeline", p, "--runs", "1"], &[]));
    // Relative to the pipeline file's folder; sequential order; the warm-up first.
    let rows = read_csv(&tmp.path().join("p/out.csv"));
    let got: Vec<(&str, &str, &str)> = (rows.iter())
        .map(|r| {
            (
                r["run_id"].as_str(),
                r["delay_ms"].as_str(),
                r["warmup"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("warmup", "0", "true"),
            ("run0", "0", "false"),
            ("run0", "5", "false")
        ]
    );
    assert_eq!(server.seen().len(), 3);
    std::fs::write(&pipeline, "[drive]\nrunz = 3\n").unwrap();
    let err = stderr(&drive(tmp.path(), &["--pipeline", p], &[]));
    assert!(
        err.trim().lines().count() == 1 && err.contains("runz"),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_after_the_request_in_flight_and_leaves_a_valid_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let manifest = tmp.path().join("m.csv");
    let child = bin()
        .current_dir(tmp.path())
        .arg("drive")
        .args(matrix(&url, "m.csv", &["--pause", "100"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(&manifest).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "drive wrote no rows"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    let rows = read_csv(&manifest);
    assert!(rows.len() < 12, "{}", rows.len());
    // Every request the server saw has its row: none was cut off.
    assert_eq!(server.seen().len(), rows.len());
}

#[test]
fn a_driven_run_simulated_from_its_manifest_has_every_request_assigned_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    let matrix_args = [
        "--url",
        &url,
        "--manifest",
        "m.csv",
        "--approaches",
        "direct,current,simple",
        "--delays",
        "0,100",
        "--runs",
        "3",
        "--seed",
        "9",
    ];
    ok(drive(tmp.path(), &matrix_args, &[]));
    let manifest = read_csv(&tmp.path().join("m.csv"));
    assert_eq!(manifest.len(), 18);
    // The archive a deployment would have logged for exactly these requests.
    let sim = tmp.path().join("sim");
    let args = [
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--manifest",
        "m.csv",
        "--seed",
        "4",
    ];
    let out = bin().current_dir(tmp.path()).args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let truth = read_csv(&sim.join("truth/requests.csv"));
    let ids: HashSet<&str> = manifest.iter().map(|r| r["req_id"].as_str()).collect();
    let truth_ids: HashSet<&str> = truth.iter().map(|r| r["request_id"].as_str()).collect();
    assert_eq!(ids, truth_ids, "the simulated requests are the driven ones");
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let flags = archive_flags(&sim.clone(), &lake, &tmp.path().join("m.csv"));
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    // Every request that left legs gets the manifest's approach, delay and run by its id.
    let requests = read_parquet(&lake.join("_derived/proxy-fetch/requests.parquet"));
    let by_id: HashMap<&str, &HashMap<String, String>> =
        manifest.iter().map(|r| (r["req_id"].as_str(), r)).collect();
    let with_legs = truth.iter().filter(|r| r["legs"] != "0").count();
    let got: Vec<(String, String, String, String)> = (0..requests.height())
        .map(|i| {
            let col = |c: &str| text_col(&requests, c)[i].clone();
            (
                col("request_id"),
                col("approach"),
                col("delay_ms"),
                col("run_id"),
            )
        })
        .collect();
    assert_eq!(got.len(), with_legs);
    for (id, approach, delay, run) in &got {
        let row = by_id[id.as_str()];
        assert_eq!(
            (approach, delay, run),
            (&row["approach"], &row["delay_ms"], &row["run_id"]),
            "{id}"
        );
    }
}

#[test]
fn requests_sent_four_at_a_time_are_each_sent_once_and_recorded_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.url();
    ok(drive(
        tmp.path(),
        &matrix(&url, "m.csv", &["--concurrency", "4"]),
        &[],
    ));
    let rows = read_csv(&tmp.path().join("m.csv"));
    let seen = server.seen();
    assert_eq!((rows.len(), seen.len()), (12, 12));
    let ids: HashSet<&str> = rows.iter().map(|r| r["req_id"].as_str()).collect();
    assert_eq!(
        ids,
        seen.iter()
            .map(|s| s.req_id.as_str())
            .collect::<HashSet<_>>()
    );
    // Requests were in flight together: some windows overlap.
    let windows: Vec<(String, String)> = (rows.iter())
        .map(|r| (r["start"].clone(), r["end"].clone()))
        .collect();
    let overlapping = (windows.iter().enumerate())
        .filter(|(i, (s, e))| {
            windows
                .iter()
                .enumerate()
                .any(|(j, (s2, e2))| j != *i && s2 < e && s < e2)
        })
        .count();
    assert!(overlapping >= 2, "{windows:?}");
}

#[test]
fn simulate_refuses_a_manifest_it_cannot_model_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let header =
        "run_id,approach,delay_ms,req_id,start,end,client_latency_ms,status,error,warmup\n";
    let cases = [
        (
            "run0,direct,0,aa,9000000000000000000,9000000000000000001,1,200,,false\n",
            "outside 2010-2100",
        ),
        (
            "run0,teleport,0,aa,1763509500000,1763509500100,1,200,,false\n",
            "teleport",
        ),
        ("", "lists no request"),
    ];
    for (row, words) in cases {
        std::fs::write(tmp.path().join("m.csv"), format!("{header}{row}")).unwrap();
        let out = bin()
            .current_dir(tmp.path())
            .args(["simulate", "--out", "sim", "--manifest", "m.csv"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(err.contains(words), "{err}");
        assert!(!tmp.path().join("sim").exists(), "nothing written");
    }
}
