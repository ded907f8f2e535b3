//! A lake written leg by leg, as an older mirror could have left it (no
//! line is checked on the way in), and a pipeline file for it: for tests of
//! what the transform and the report make of input the simulator never writes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use polars::prelude::*;

/// 2025-11-18T00:00:00Z.
pub const DAY_MS: i64 = 1_763_424_000_000;

/// One trace event of the hand-made lake.
#[derive(Debug, Clone)]
pub struct Leg {
    pub request: String,
    pub approach: &'static str,
    /// Written into the URL as is: `-100` is a delay of -100 ms.
    pub delay: i64,
    /// `OriginDO` (the `origin` role, billed as a DO) or `Executor` (a Worker).
    pub entrypoint: &'static str,
    pub wall_ms: i64,
    pub cpu_ms: i64,
    pub at_ms: i64,
}

impl Leg {
    pub fn origin(request: &str, approach: &'static str, delay: i64, wall_ms: i64) -> Leg {
        Leg {
            request: request.to_string(),
            approach,
            delay,
            entrypoint: "OriginDO",
            wall_ms,
            cpu_ms: 2,
            at_ms: DAY_MS + 3_600_000,
        }
    }

    pub fn executor(request: &str, approach: &'static str, delay: i64) -> Leg {
        Leg {
            entrypoint: "Executor",
            wall_ms: delay + 5,
            cpu_ms: 4,
            ..Leg::origin(request, approach, delay, 0)
        }
    }
}

/// `n` complete requests of `approach` at `delay`, named `<prefix>-<i>`:
/// one origin leg each, and an executor leg unless the approach is `direct`.
pub fn requests(prefix: &str, approach: &'static str, delay: i64, n: usize) -> Vec<Leg> {
    let mut legs = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let mut origin = if approach == "direct" {
            Leg::origin(&id, approach, delay, delay + 20 + i as i64)
        } else {
            Leg::origin(&id, approach, delay, 30 + i as i64)
        };
        origin.at_ms += (legs.len() as i64) * 1_000;
        if approach != "direct" {
            let mut executor = Leg::executor(&id, approach, delay);
            executor.at_ms = origin.at_ms + 10;
            legs.push(executor);
        }
        legs.push(origin);
    }
    legs
}

/// Writes `legs` as one lake file of 2025-11-18.
pub fn write_lake(lake: &Path, legs: &[Leg]) {
    let n = legs.len();
    let text = |f: &dyn Fn(&Leg) -> String| legs.iter().map(f).collect::<Vec<_>>();
    let mut df = df!(
        "event_id" => (0..n).map(|i| format!("{i:016x}")).collect::<Vec<_>>(),
        "EventTimestampMs" => legs.iter().map(|l| l.at_ms).collect::<Vec<_>>(),
        "ScriptName" => vec!["lab"; n],
        "Entrypoint" => text(&|l| l.entrypoint.to_string()),
        "EventType" => vec!["fetch"; n],
        "ExecutionModel" => text(&|l| if l.entrypoint == "OriginDO" { "durableObject".into() } else { "stateless".into() }),
        "RpcMethod" => vec![None::<&str>; n],
        "RequestURL" => text(&|l| format!("https://lab.example/run?reqId={}&approach={}&delay={}", l.request, l.approach, l.delay)),
        "LogMessages" => vec![None::<&str>; n],
        "Outcome" => vec!["ok"; n],
        "WallTimeMs" => legs.iter().map(|l| l.wall_ms).collect::<Vec<_>>(),
        "CPUTimeMs" => legs.iter().map(|l| l.cpu_ms).collect::<Vec<_>>(),
        "source_object" => vec!["20251118/hand.log.gz"; n],
        "source_line" => (1..=n as i64).collect::<Vec<_>>(),
    )
    .unwrap();
    let file = "date=2025-11-18/segment-hand.parquet";
    tracecost::io::parquet::write_parquet(&mut df, &lake.join(file)).unwrap();
    // Readers read only what the manifest owns, as after a mirror.
    let manifest = serde_json::json!({"version": 1, "objects": {"20251118/hand.log.gz": {
        "size": 1, "version": "hand", "status": "ingested", "lines": n, "rows": n,
        "test_lines": 0, "rejected_lines": 0, "files": [file]}}});
    std::fs::write(lake.join("_manifest.json"), manifest.to_string()).unwrap();
}

/// The pipeline of the hand-made lake, named `name`, with `extra` TOML
/// appended (a `[report]` or `[prices]` section).
pub fn pipeline(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"

[[transform.roles]]
name = "origin"
billing = "do"
entrypoint = "OriginDO"

[[transform.roles]]
name = "executor"
billing = "worker"
entrypoint = "Executor"

[transform.correlation]
url = ['[?&]reqId=([0-9a-z-]+)']

[transform.approach]
url_query = "approach"

[transform.delay]
url_query = "delay"

[transform.approaches.direct]
required_roles = ["origin"]

[transform.approaches.simple]
required_roles = ["origin", "executor"]

{extra}
"#
    );
    let path = dir.join(format!("{}.toml", name.replace(['/', '.'], "_")));
    std::fs::write(&path, text).unwrap();
    path
}

/// `--lake L --out O` (and `--resamples 200`, for speed).
pub fn flags(lake: &Path, out: &Path) -> Vec<String> {
    [
        "--lake",
        lake.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--resamples",
        "200",
    ]
    .map(String::from)
    .to_vec()
}
