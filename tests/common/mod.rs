//! Helpers shared by the integration tests: run the real binary, simulate
//! archives, read lakes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use polars::prelude::*;

pub mod layouts;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tracecost"))
}

/// Runs tracecost; panics with its output if the exit status is not `ok`.
pub fn run(args: &[&str], ok: bool) -> Output {
    let out = bin().args(args).output().expect("tracecost runs");
    if out.status.success() != ok {
        panic!(
            "tracecost {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Runs tracecost; fails the test if it has not exited after `secs` seconds.
pub fn run_within(args: &[&str], secs: u64) -> Output {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("tracecost {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => out.extend(walk(&path)),
            false => out.push(path),
        }
    }
    out
}

/// `from`'s files and folders copied into `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_tree(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), &target).unwrap()),
        }
    }
}

/// An empty pipeline file, so that only flags count.
pub fn empty_pipeline(dir: &Path) -> PathBuf {
    let path = dir.join("empty.toml");
    std::fs::write(&path, "name = \"test\"\n").unwrap();
    path
}

pub fn simulate(dir: &Path, seed: u64, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("sim-{seed}"));
    let seed = seed.to_string();
    let mut args = vec!["simulate", "--out", out.to_str().unwrap(), "--seed", &seed];
    args.extend_from_slice(extra);
    run(&args, true);
    out
}

/// `mirror --pipeline P --source S --lake L`, for tests that add flags.
pub fn mirror_args(pipeline: &Path, source: &str, lake: &Path) -> Vec<String> {
    [
        "mirror",
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--source",
        source,
        "--lake",
        lake.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// `tracecost mirror` from `source` into `lake`, quarantine inside the lake.
pub fn mirror(dir: &Path, source: &Path, lake: &Path, extra: &[&str]) -> Output {
    let mut args = mirror_args(&empty_pipeline(dir), source.to_str().unwrap(), lake);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, true)
}

pub fn read_lake(lake: &Path) -> DataFrame {
    tracecost::lake::scan_lake(lake, &Default::default())
        .unwrap()
        .expect("lake has files")
        .collect()
        .unwrap()
}

pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every file under `dir` with its bytes, for comparing two lakes.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".lock" {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn str_col<'a>(df: &'a DataFrame, name: &str) -> Vec<Option<&'a str>> {
    df.column(name).unwrap().str().unwrap().iter().collect()
}

pub fn i64_col(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
    df.column(name).unwrap().i64().unwrap().iter().collect()
}

/// A shipped pipeline file copied into `dir` (its relative paths then point
/// nowhere, so tests pass --source, --lake and --run-manifest).
pub fn shipped_pipeline(dir: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pipelines")
            .join(name),
    )
    .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a step with a pipeline file and flags.
pub fn step<S: AsRef<str>>(step: &str, pipeline: &Path, flags: &[S], ok: bool) -> Output {
    let mut args = vec![step, "--pipeline", pipeline.to_str().unwrap()];
    args.extend(flags.iter().map(|f| f.as_ref()));
    run(&args, ok)
}

/// `--source`, `--lake` and `--run-manifest` for a simulated archive.
pub fn archive_flags(sim: &Path, lake: &Path, manifest: &Path) -> Vec<String> {
    [
        "--source",
        sim.join("logpush").to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--run-manifest",
        manifest.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// Column values as text ("" for null), for comparing with CSV truth.
pub fn text_col(df: &DataFrame, name: &str) -> Vec<String> {
    let c = df
        .column(name)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::String)
        .unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

/// Runs tracecost with extra environment variables (and no AWS configuration
/// from the host), returning its output whatever the status.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bin();
    cmd.args(args)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("tracecost runs")
}

/// The per-request metrics the transform's output is compared on with the truth.
pub const METRICS: &[&str] = &[
    "do_wall_ms",
    "do_cpu_ms",
    "worker_cpu_ms",
    "worker_wall_ms",
    "do_invocations",
    "worker_invocations",
    "span_ms",
    "cost_usd_per_million",
    "cost_other_billing_usd_per_million",
    "first_event_ms",
];

/// Compares requests.parquet with truth, request by request; returns how many were compared.
pub fn assert_requests_match_truth(requests: &Path, truth: &Path, with_latency: bool) -> usize {
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
    // A transform that predates per-role billing (contract.md, issue 16) bills
    // every leg's request: the truth's cost under the other assumption.
    let by_role = df.column("cost_other_billing_usd_per_million").is_ok();
    let truth_of = |m: &'static str| match m {
        "cost_usd_per_million" if !by_role => "cost_other_billing_usd_per_million",
        _ => m,
    };
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
            if m.starts_with("cost_") && !approach_known {
                continue;
            }
            let (got, want): (f64, f64) = (
                columns[m][i].parse().unwrap(),
                t[truth_of(m)].parse().unwrap(),
            );
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

/// The output of a run that must have succeeded; its stdout and stderr otherwise.
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `there`, a report of requests computed elsewhere (`--requests`), is the
/// report `here` of the transform's: every table the same bytes, but the
/// quality table, which only the transform has (and report.md says so); no
/// temporary left.
pub fn assert_same_report_tables(here: &Path, there: &Path) {
    let mut compared = 0;
    for entry in std::fs::read_dir(here).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("quality.") {
            assert!(!there.join(&name).exists(), "{name}: not this report's");
        } else if name.ends_with(".csv") {
            let (a, b) = (
                std::fs::read(here.join(&name)).unwrap(),
                std::fs::read(there.join(&name)).unwrap(),
            );
            assert!(a == b, "{name} differs");
            compared += 1;
        }
    }
    assert!(compared >= 8, "{compared} tables compared");
    let md = std::fs::read_to_string(there.join("report.md")).unwrap();
    assert!(md.contains("computed elsewhere (`--requests`)"), "{md}");
    let leftovers: Vec<_> = (std::fs::read_dir(there).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
