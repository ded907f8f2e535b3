//! Issue 16, items 3 and 4: cold starts, outliers and the figures without
//! them; segments (`colo`, `script_version`), on hand-made lakes whose
//! answer is known by construction.

mod common;
mod handmade;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use handmade::{write_lake, Leg};
use polars::prelude::*;

/// Requests of `direct` one second apart, then three more after an idle
/// gap of 200 s; `simple` in between; `d-5` far out in the tail; and one
/// `simple` request whose executor never arrived (incomplete).
fn flagged_lake() -> Vec<Leg> {
    let mut legs = handmade::requests("d", "direct", 100, 8);
    for leg in &mut legs {
        if leg.request == "d-5" {
            leg.wall_ms = 5_000;
        }
    }
    let mut late = handmade::requests("late", "direct", 100, 3);
    for leg in &mut late {
        leg.at_ms += 200_000;
    }
    legs.extend(late);
    let mut simple = handmade::requests("s", "simple", 100, 6);
    for leg in &mut simple {
        leg.at_ms += 20_000;
    }
    legs.extend(simple);
    let mut lost = Leg::origin("s-lost", "simple", 100, 30);
    lost.at_ms += 30_000;
    legs.push(lost);
    legs
}

struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    pipeline: PathBuf,
    flags: Vec<String>,
    out: PathBuf,
}

fn transformed(legs: &[Leg], extra: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (lake, out) = (dir.join("lake"), dir.join("out"));
    write_lake(&lake, legs);
    let pipeline = handmade::pipeline(&dir, "hand", extra);
    let flags = handmade::flags(&lake, &out);
    step("transform", &pipeline, &flags, true);
    Run {
        _tmp: tmp,
        dir,
        pipeline,
        flags,
        out,
    }
}

fn by_request(out: &Path) -> HashMap<String, HashMap<String, String>> {
    read_csv(&out.join("requests.csv"))
        .into_iter()
        .map(|r| (r["request_id"].clone(), r))
        .collect()
}

#[test]
fn requests_csv_flags_cold_starts_and_outliers_and_leaves_incomplete_ones_empty() {
    let run = transformed(&flagged_lake(), "");
    step("report", &run.pipeline, &run.flags, true);
    let rows = by_request(&run.out);
    let flags = |id: &str| {
        (
            rows[id]["cold_start"].as_str(),
            rows[id]["outlier"].as_str(),
        )
    };
    assert_eq!(flags("d-0"), ("true", "false"), "first of direct");
    assert_eq!(flags("d-1"), ("false", "false"));
    assert_eq!(flags("d-5"), ("false", "true"), "5 s of wall time");
    assert_eq!(flags("late-0"), ("true", "false"), "200 s idle");
    assert_eq!(flags("late-1"), ("false", "false"));
    assert_eq!(flags("s-0"), ("true", "false"), "first of simple");
    assert_eq!(flags("s-lost"), ("", ""), "incomplete: in no statistic");
    let header = std::fs::read_to_string(run.out.join("requests.csv")).unwrap();
    assert!(header
        .lines()
        .next()
        .unwrap()
        .ends_with(",cold_start,outlier"));
    // The Parquet twin holds them as booleans, nulls where the CSV is empty.
    let df = read_parquet(&run.out.join("requests.parquet"));
    let cold = df.column("cold_start").unwrap().bool().unwrap();
    assert_eq!(cold.null_count(), 1);
    assert_eq!(cold.sum(), Some(3));

    // A longer idle gap makes `late-0` warm.
    let longer = handmade::pipeline(&run.dir, "hand", "[report.flags]\nidle_gap_ms = 500000\n");
    step("report", &longer, &run.flags, true);
    assert_eq!(by_request(&run.out)["late-0"]["cold_start"], "false");
}

#[test]
fn the_report_says_what_the_flagged_requests_do_and_sensitivity_csv_agrees() {
    let run = transformed(&flagged_lake(), "");
    step("report", &run.pipeline, &run.flags, true);
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    let section = &md[md.find("## Cold starts and outliers").expect("the section")..];
    assert!(
        md.find("## Cold starts").unwrap() < md.find("## Billed Durable Object").unwrap(),
        "on the first screen, before the evidence"
    );
    assert!(
        section.contains("Without the 4 flagged requests (3 cold starts, 1 outliers"),
        "{section}"
    );
    assert!(
        section.contains("| `direct` | 11 | 2 | 1 | 3 |"),
        "{section}"
    );
    let rows = read_csv(&run.out.join("sensitivity.csv"));
    let mean = |metric: &str| {
        rows.iter()
            .find(|r| r["figure"] == "mean" && r["approach"] == "direct" && r["metric"] == metric)
            .unwrap()
            .clone()
    };
    let span = mean("span_ms");
    assert_eq!(
        (span["n"].as_str(), span["n_without_flagged"].as_str()),
        ("11", "8")
    );
    // Without d-5's 5 s, the mean of direct's span falls from 566 ms to ~123 ms.
    let (all, without): (f64, f64) = (
        span["value"].parse().unwrap(),
        span["value_without_flagged"].parse().unwrap(),
    );
    assert!(all > 500.0 && without < 130.0, "{span:?}");
    assert!(rows
        .iter()
        .all(|r| r["changed"].is_empty() || r["figure"] != "mean"));
    assert!(run.out.join("sensitivity.parquet").is_file());
}

#[test]
fn with_nothing_flagged_the_report_says_every_figure_stands() {
    // Wide idle gap, one request per approach in the window; no spread
    // beyond k = 1000.
    let mut legs = handmade::requests("d", "direct", 100, 6);
    legs.extend(handmade::requests("s", "simple", 100, 6));
    let extra = "[report.flags]\noutlier_k = 1000\n";
    let run = transformed(&legs, extra);
    step("report", &run.pipeline, &run.flags, true);
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    // The first of each approach is still a cold start.
    assert!(
        md.contains("Without the 2 flagged requests (2 cold starts, 0 outliers"),
        "{md}"
    );
}

#[test]
fn a_bad_flag_or_segment_setting_is_one_line_naming_it() {
    let run = transformed(&flagged_lake(), "");
    let cases = [
        (
            "[report.flags]\nidle_gap_ms = 0\n",
            "report.flags.idle_gap_ms",
        ),
        (
            "[report.flags]\nidle_gap_ms = -5\n",
            "report.flags.idle_gap_ms",
        ),
        (
            "[report.flags]\noutlier_k = nan\n",
            "report.flags.outlier_k",
        ),
        ("[report.flags]\noutlier_k = 0\n", "report.flags.outlier_k"),
        (
            "[report.flags]\noutlier_metrics = [\"latency\"]\n",
            "report.flags.outlier_metrics",
        ),
        ("[report.flags]\ngap = 1\n", "gap"),
        ("[report]\nsegment_by = [\"\"]\n", "report.segment_by"),
        (
            "[report]\nsegment_by = [\"colo\", \"colo\"]\n",
            "report.segment_by",
        ),
        (
            "[report]\nsegment_by = [\"delay_ms\"]\n",
            "report.segment_by",
        ),
    ];
    for (i, (extra, field)) in cases.iter().enumerate() {
        let pipeline = handmade::pipeline(&run.dir, &format!("bad{i}"), extra);
        // The report reads the transform's outputs of `hand`.
        let text = std::fs::read_to_string(&pipeline).unwrap();
        std::fs::write(&pipeline, text.replace(&format!("bad{i}"), "hand")).unwrap();
        let out = step("report", &pipeline, &run.flags, false);
        let err = stderr(&out);
        assert!(err.contains(field), "{extra}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra}: {err}");
    }
}

/// Rewrites the transform's requests.parquet with text columns `colo` and
/// `script_version` (as the transform of issue 16 writes them), from each
/// request's id.
fn add_segments(run: &Run, colo: impl Fn(&str) -> Option<&'static str>) {
    let path = run.dir.join("lake/_derived/hand/requests.parquet");
    let mut df = read_parquet(&path);
    let ids = text_col(&df, "request_id");
    let colos: Vec<Option<&str>> = ids.iter().map(|id| colo(id)).collect();
    let versions: Vec<&str> = ids.iter().map(|_| "v1").collect();
    df.with_column(Column::new("colo".into(), colos)).unwrap();
    df.with_column(Column::new("script_version".into(), versions))
        .unwrap();
    tracecost::io::parquet::write_parquet(&mut df, &path).unwrap();
}

/// Two regions: in `far`, every request takes 500 ms longer.
fn two_regions() -> Vec<Leg> {
    let mut legs = handmade::requests("near", "direct", 100, 8);
    let mut far = handmade::requests("far", "direct", 100, 8);
    for leg in &mut far {
        leg.wall_ms += 500;
        leg.at_ms += 10_000;
    }
    legs.extend(far);
    let mut simple = handmade::requests("s", "simple", 100, 8);
    for leg in &mut simple {
        leg.at_ms += 20_000;
    }
    legs.extend(simple);
    legs
}

fn colo_of(id: &str) -> Option<&'static str> {
    if id.starts_with("far") {
        Some("SIN")
    } else if id == "s-7" {
        None
    } else if id.starts_with('s') {
        Some(["LHR", "AMS"][id.len() % 2])
    } else {
        Some("LHR")
    }
}

#[test]
fn segments_that_differ_are_named_first_with_an_interval() {
    let run = transformed(&two_regions(), "");
    add_segments(&run, colo_of);
    step("report", &run.pipeline, &run.flags, true);
    let rows = read_csv(&run.out.join("segments.csv"));
    let diff = rows
        .iter()
        .find(|r| {
            r["statistic"] == "largest difference of means"
                && r["segment_by"] == "colo"
                && r["approach"] == "direct"
                && r["metric"] == "do_wall_ms"
        })
        .expect("a difference for direct by colo");
    assert_eq!(diff["value"], "SIN - LHR");
    assert_eq!(diff["differ"], "true");
    // Each colo's requests are 500 ms apart, but the window's first request
    // (LHR's first, a cold start) is left out of the segments: LHR's mean
    // moves up by half a step.
    let d: f64 = diff["estimate"].parse().unwrap();
    assert!((d - 499.5).abs() < 1e-9, "{diff:?}");
    let means: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["statistic"] == "mean" && r["segment_by"] == "colo" && r["approach"] == "direct"
        })
        .collect();
    assert_eq!(means.len(), 6, "two colos, three metrics");
    let n: Vec<&str> = means.iter().map(|r| r["n"].as_str()).collect();
    assert_eq!(
        n.iter().filter(|n| **n == "7").count(),
        3,
        "LHR without its cold start: {means:?}"
    );
    assert_eq!(n.iter().filter(|n| **n == "8").count(), 3, "{means:?}");
    // One script version: no difference to test.
    assert!(!rows
        .iter()
        .any(|r| r["segment_by"] == "script_version" && r["statistic"] != "mean"));
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    let section = &md[md.find("## Do regions or script versions differ?").unwrap()..];
    let first = section.lines().nth(2).unwrap();
    assert!(
        first.starts_with("**Yes**: by `colo`, 3 of 3 comparisons differ")
            && first.contains(
                "`direct` at 100 ms, mean `do_wall_ms` 500 ms higher in `SIN` than in `LHR`"
            ),
        "{first}"
    );
    assert!(section.contains("1 requests have no `colo`"), "{section}");
    assert!(run.out.join("segments.parquet").is_file());
}

#[test]
fn segment_columns_without_values_say_so_and_a_misspelt_one_is_an_error() {
    let run = transformed(&two_regions(), "");
    step("report", &run.pipeline, &run.flags, true);
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    assert!(
        md.contains(
            "**Not measured**: no request in the statistics has a value of `colo` or `script_version`"
        ),
        "{md}"
    );
    assert_eq!(read_csv(&run.out.join("segments.csv")).len(), 0);

    let misspelt = transformed(
        &two_regions(),
        "[report]\nsegment_by = [\"colo\", \"region\"]\n",
    );
    let err = stderr(&step("report", &misspelt.pipeline, &misspelt.flags, false));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "report.segment_by: requests.parquet has no column \"region\"; its text columns are"
        ) && err.contains("colo"),
        "{err}"
    );

    add_segments(&run, |id| (!id.starts_with("far")).then_some("LHR"));
    step("report", &run.pipeline, &run.flags, true);
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    assert!(md.contains("**No**: by `colo`, cannot tell"), "{md}");
}
