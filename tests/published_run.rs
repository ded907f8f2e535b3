//! Issue 16: the published `wrangler tail` capture of the real run (not
//! shipped: see pipelines/published-run.toml for where to get it). Ignored
//! unless the capture is there; run with
//! `cargo test --test published_run -- --ignored`.

mod common;

use std::path::PathBuf;

use common::*;

/// The capture: `TRACECOST_PUBLISHED_CAPTURE`, else data/published-run/tail-logs.jsonl.
fn capture() -> PathBuf {
    let path = std::env::var_os("TRACECOST_PUBLISHED_CAPTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/published-run/tail-logs.jsonl")
        });
    assert!(
        path.is_file(),
        "{} is missing: fetch it as pipelines/published-run.toml says",
        path.display()
    );
    path
}

#[test]
#[ignore = "needs the published capture (not shipped); see pipelines/published-run.toml"]
fn published_capture_flags_its_two_slow_chain_starts() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = shipped_pipeline(dir.path(), "published-run.toml");
    let (lake, out) = (dir.path().join("lake"), dir.path().join("out"));
    let capture = capture();
    let flags = [
        "--source",
        capture.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    step("run", &pipeline, &flags, true);
    let rows = read_csv(&out.join("requests.csv"));
    let complete = |a: &str| {
        (rows.iter())
            .filter(|r| r["approach"] == a && r["complete"] == "true")
            .count()
    };
    assert_eq!((complete("direct"), complete("current")), (11, 11));
    let slow: Vec<_> = (rows.iter())
        .filter(|r| r["span_ms"].parse::<f64>().unwrap() > 5_000.0)
        .collect();
    assert_eq!(slow.len(), 2, "the first request of each chain");
    for r in &slow {
        assert_eq!(r["approach"], "current");
        assert_eq!(r["outlier"], "true", "{r:?}");
    }
    // The first chain starts the window's first proxied request; the second
    // follows the first's end by seconds, short of an idle gap.
    assert_eq!(slow[0]["cold_start"], "true");
    let flagged = |flag: &str| rows.iter().filter(|r| r[flag] == "true").count();
    assert!(flagged("outlier") <= 3, "a robust rule flags the tail only");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("Cold starts and outliers"), "{report}");
    let claims = read_csv(&out.join("claims.csv"));
    let verdict = |id: &str| (claims.iter().find(|c| c["id"] == id).unwrap())["verdict"].clone();
    assert_eq!(
        [verdict("H1"), verdict("H2"), verdict("Run")],
        ["refuted", "supported", "refuted"]
    );
}
