//! Issue 4: the report on the embedded sample, against the simulator's truth
//! and an independent computation from requests.csv.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;

struct Run {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    sample: PathBuf,
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

/// `tracecost run` with the shipped pipeline on the embedded sample, into a temporary folder.
fn run_sample(extra: &[&str]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/proxy-fetch.toml");
    let (lake, quarantine) = (tmp.path().join("lake"), tmp.path().join("q"));
    let mut flags = vec![
        "--lake",
        lake.to_str().unwrap(),
        "--quarantine",
        quarantine.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    flags.extend_from_slice(extra);
    step("run", &pipeline, &flags, true);
    Run {
        out,
        _tmp: tmp,
        sample: sample(),
    }
}

fn f(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn the_report_on_the_embedded_sample_agrees_with_truth_and_with_requests_csv() {
    let r = run_sample(&[]);
    let summary = read_csv(&r.out.join("summary.csv"));
    let truth: HashMap<(String, String), HashMap<String, String>> =
        read_csv(&r.sample.join("truth/groups.csv"))
            .into_iter()
            .map(|g| ((g["approach"].clone(), g["delay_ms"].clone()), g))
            .collect();
    // Means equal the simulator's truth (6 decimals in the CSV).
    let mut checked = 0;
    for row in &summary {
        let t = &truth[&(row["approach"].clone(), row["delay_ms"].clone())];
        assert_eq!(row["n"], t["n"], "{row:?}");
        let want = f(&t[&row["metric"]]);
        assert!(
            (f(&row["mean"]) - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{row:?} truth {want}"
        );
        checked += 1;
    }
    assert_eq!(
        checked,
        truth.len() * 9,
        "8 metrics and client latency per group"
    );

    // Every interval contains its point estimate.
    for row in &summary {
        for (v, lo, hi) in [
            ("mean", "mean_ci_low", "mean_ci_high"),
            ("median", "median_ci_low", "median_ci_high"),
        ] {
            assert!(
                f(&row[lo]) <= f(&row[v]) && f(&row[v]) <= f(&row[hi]),
                "{row:?}"
            );
        }
    }
    for row in read_csv(&r.out.join("comparisons.csv")) {
        for (v, lo, hi) in [
            ("diff", "diff_ci_low", "diff_ci_high"),
            ("ratio", "ratio_ci_low", "ratio_ci_high"),
            ("median_diff", "median_diff_ci_low", "median_diff_ci_high"),
            (
                "median_ratio",
                "median_ratio_ci_low",
                "median_ratio_ci_high",
            ),
        ] {
            assert!(
                f(&row[lo]) <= f(&row[v]) && f(&row[v]) <= f(&row[hi]),
                "{row:?}"
            );
        }
    }
    for row in read_csv(&r.out.join("breakeven.csv")) {
        assert!(
            f(&row["ci_low"]) <= f(&row["breakeven_delay_ms"])
                && f(&row["breakeven_delay_ms"]) <= f(&row["ci_high"]),
            "{row:?}"
        );
    }

    // An independent computation from requests.csv: same groups, same descriptive numbers.
    let requests = read_csv(&r.out.join("requests.csv"));
    let mut groups: HashMap<(String, String, String), Vec<f64>> = HashMap::new();
    for q in requests.iter().filter(|q| q["complete"] == "true") {
        for m in [
            "do_wall_ms",
            "span_ms",
            "cost_usd_per_million",
            "worker_cpu_ms",
        ] {
            groups
                .entry((q["approach"].clone(), q["delay_ms"].clone(), m.to_string()))
                .or_default()
                .push(f(&q[m]));
        }
    }
    for row in &summary {
        let Some(values) = groups.get(&(
            row["approach"].clone(),
            row["delay_ms"].clone(),
            row["metric"].clone(),
        )) else {
            continue;
        };
        let mut v = values.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // numpy's linear percentile, written out again here.
        let pct = |p: f64| {
            let h = (n - 1.0) * p;
            let (i, frac) = (h.floor() as usize, h - h.floor());
            v[i] + frac * (v[(i + 1).min(v.len() - 1)] - v[i])
        };
        for (col, want) in [
            ("mean", mean),
            ("std", std),
            ("median", pct(0.5)),
            ("p95", pct(0.95)),
            ("p99", pct(0.99)),
            ("min", v[0]),
            ("max", v[v.len() - 1]),
        ] {
            assert!(
                (f(&row[col]) - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{row:?}: {col} {want}"
            );
        }
        assert_eq!(f(&row["n"]) as usize, v.len());
    }

    // Verdicts and break-even follow from the model's parameters.
    let model = read_json(&r.sample.join("truth/model.json"));
    let expected = model["expected"].as_object().unwrap();
    let hypotheses = read_csv(&r.out.join("hypotheses.csv"));
    assert_eq!(hypotheses.len(), 5);
    for h in &hypotheses {
        let value = expected[&h["id"]].as_f64().unwrap();
        let (lo, hi) = (f(&h["claimed_low"]), f(&h["claimed_high"]));
        // The model keeps its values clear of the claimed bounds, so the verdict is decidable.
        let margin = ((value - lo).abs().min((value - hi).abs())) / value.abs();
        assert!(
            margin > 0.15,
            "model value {value} too close to the claim for {}",
            h["id"]
        );
        let want = if (lo..=hi).contains(&value) {
            "supported"
        } else {
            "refuted"
        };
        assert_eq!(h["verdict"], want, "{h:?}: the model says {value}");
    }
    for b in read_csv(&r.out.join("breakeven.csv")) {
        let want = expected[&format!("breakeven {}", b["approach"])]
            .as_f64()
            .unwrap();
        assert!(
            (f(&b["breakeven_delay_ms"]) - want).abs() < 0.05 * want,
            "{b:?} vs model {want}"
        );
    }

    // Charts: real PNGs of the stated size.
    for chart in [
        "do_wall_by_delay",
        "cost_vs_delay",
        "span_ecdf",
        "worker_cpu",
    ] {
        let img = image::open(r.out.join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (1400, 900), "{chart}");
    }
    // The report answers first and shows every chart.
    let md = std::fs::read_to_string(r.out.join("report.md")).unwrap();
    let answer = md.find("## The answer").unwrap();
    assert!(answer < md.find("## Billed Durable Object wall time").unwrap());
    assert!(
        md[answer..].contains("**Keep `simple`**"),
        "{}",
        &md[answer..answer + 400]
    );
    for chart in [
        "do_wall_by_delay",
        "cost_vs_delay",
        "span_ecdf",
        "worker_cpu",
    ] {
        assert!(md.contains(&format!("(charts/{chart}.png)")));
    }
    // Every table has its Parquet twin with the same rows.
    for t in [
        "summary",
        "comparisons",
        "breakeven",
        "hypotheses",
        "quality",
        "requests",
    ] {
        let rows = read_csv(&r.out.join(format!("{t}.csv"))).len();
        assert_eq!(
            read_parquet(&r.out.join(format!("{t}.parquet"))).height(),
            rows,
            "{t}"
        );
    }
}

#[test]
fn same_input_and_seed_give_byte_identical_csvs_that_spreadsheets_read() {
    let (a, b) = (
        run_sample(&["--no-charts", "--resamples", "2000"]),
        run_sample(&["--no-charts", "--resamples", "2000"]),
    );
    let c = run_sample(&["--no-charts", "--resamples", "2000", "--seed", "9"]);
    for t in [
        "summary",
        "comparisons",
        "breakeven",
        "hypotheses",
        "quality",
        "requests",
    ] {
        let (x, y) = (
            std::fs::read(a.out.join(format!("{t}.csv"))).unwrap(),
            std::fs::read(b.out.join(format!("{t}.csv"))).unwrap(),
        );
        assert!(x == y, "{t}.csv differs between two runs");
        let text = String::from_utf8(x).unwrap();
        assert!(
            text.ends_with("\r\n") && text.lines().next().unwrap().split(',').count() > 3,
            "{t}"
        );
        // Plain decimals only: no exponent in any numeric field. Ids are
        // text: a hex request id such as 186945124e94 only looks like one.
        for row in read_csv(&a.out.join(format!("{t}.csv"))) {
            for (column, field) in row {
                if column != "id" && !column.ends_with("_id") && field.parse::<f64>().is_ok() {
                    assert!(!field.contains(['e', 'E']), "{t}: {column} {field}");
                }
            }
        }
    }
    assert!(!a.out.join("charts").exists());
    let differs = std::fs::read(a.out.join("summary.csv")).unwrap()
        != std::fs::read(c.out.join("summary.csv")).unwrap();
    assert!(differs, "another seed draws other resamples");
}

mod handmade;

use handmade::{write_lake, Leg};

/// A hand-made lake, transformed: returns (tempdir, pipeline, flags, out).
fn handmade_run(legs: &[Leg], extra: &str) -> (tempfile::TempDir, PathBuf, Vec<String>, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (lake, out) = (tmp.path().join("lake"), tmp.path().join("out"));
    write_lake(&lake, legs);
    let pipeline = handmade::pipeline(tmp.path(), "hand", extra);
    let flags = handmade::flags(&lake, &out);
    step("transform", &pipeline, &flags, true);
    (tmp, pipeline, flags, out)
}

/// Two approaches at two delays, enough requests for every interval.
fn two_by_two() -> Vec<Leg> {
    let mut legs = handmade::requests("d1", "direct", 100, 6);
    legs.extend(handmade::requests("d2", "direct", 1000, 6));
    legs.extend(handmade::requests("s1", "simple", 100, 6));
    legs
}

#[test]
fn every_interval_label_follows_the_configured_level() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped_pipeline(tmp.path(), "proxy-fetch.toml")).unwrap();
    let pipeline = tmp.path().join("ninety.toml");
    std::fs::write(&pipeline, format!("{text}\n[report]\nconfidence = 0.9\n")).unwrap();
    let (lake, out) = (tmp.path().join("lake"), tmp.path().join("out"));
    let mut flags = archive_flags(&sample(), &lake, &sample().join("run-manifest.csv"));
    flags.extend(["--out", out.to_str().unwrap(), "--resamples", "2000"].map(String::from));
    let run = step("run", &pipeline, &flags, true);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let console = stdout(&run);
    for (what, text) in [("report.md", &md), ("console", &console)] {
        assert!(
            !text.contains("95%"),
            "{what} mislabels a 90% interval:\n{text}"
        );
    }
    assert!(md.matches("90% CI").count() >= 10, "{md}");
    assert!(md.contains("intervals at 90% confidence"), "{md}");
    assert!(console.contains("90% CI"), "{console}");
}

#[test]
fn no_interval_label_is_written_into_the_report_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let code = std::fs::read_to_string(&path).unwrap();
        // Labels come from `format::level` of the configured confidence.
        assert!(
            !code.contains("95%"),
            "{} writes a fixed level",
            path.display()
        );
    }
}

#[test]
fn a_group_of_one_request_shows_no_interval_and_says_why() {
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 1));
    let (_tmp, pipeline, flags, out) = handmade_run(&legs, "");
    step("report", &pipeline, &flags, true);
    let summary = read_csv(&out.join("summary.csv"));
    for row in &summary {
        let alone = row["approach"] == "simple" && row["delay_ms"] == "1000";
        assert_eq!(alone, row["n"] == "1", "{row:?}");
        for column in [
            "mean_ci_low",
            "mean_ci_high",
            "median_ci_low",
            "median_ci_high",
        ] {
            assert_eq!(row[column].is_empty(), alone, "{column} of {row:?}");
        }
    }
    for row in read_csv(&out.join("comparisons.csv")) {
        let alone = row["approach"] == "simple" && row["delay_ms"] == "1000";
        assert_eq!(row["diff_ci_low"].is_empty(), alone, "{row:?}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("(no interval: a single request)"), "{md}");
}

#[test]
fn an_approach_without_a_complete_request_is_named_in_the_answer() {
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 6));
    // `current` is declared below, and its requests never reach the executor.
    for i in 0..3 {
        legs.push(Leg::origin(&format!("c-{i}"), "current", 100, 40));
    }
    let extra = "[transform.approaches.current]\nrequired_roles = [\"origin\", \"executor\"]\n\
                 [transform.approaches.rpc-target]\nrequired_roles = [\"origin\", \"executor\"]\n";
    let (_tmp, pipeline, flags, out) = handmade_run(&legs, extra);
    let console = stdout(&step("report", &pipeline, &flags, true));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let answer = &md[md.find("## The answer").unwrap()..md.find("**Cheapest approach").unwrap()];
    assert!(
        answer.contains("`current` (3 requests, none complete)"),
        "{answer}"
    );
    assert!(
        answer.contains("`rpc-target` (no request at all)"),
        "{answer}"
    );
    assert!(
        console.contains("current (3 requests, none complete)"),
        "{console}"
    );
}

#[test]
fn a_negative_delay_is_printed_as_negative_never_as_zero() {
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 6));
    legs.push(Leg::origin("early", "direct", -100, 20));
    let (_tmp, pipeline, flags, out) = handmade_run(&legs, "");
    step("report", &pipeline, &flags, true);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| requests | incomplete | direct | -100 ms | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| requests incomplete | missing: negative delay |  |  | 1 |"),
        "{md}"
    );
    assert!(!md.contains("| 0 ms |"), "{md}");
}

#[test]
fn a_sampled_tail_capture_is_flagged_at_the_top_of_the_report() {
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 6));
    let (tmp, pipeline, flags, out) = handmade_run(&legs, "");
    let path = tmp.path().join("lake/_manifest.json");
    let mut manifest = read_json(&path);
    manifest["objects"]["capture.json"] = serde_json::json!({
        "size": 10, "version": "1", "status": "ingested", "format": "tail", "lines": 40,
        "rows": 30, "test_lines": 0, "rejected_lines": 0, "files": [], "sampling_notices": 12
    });
    std::fs::write(&path, manifest.to_string()).unwrap();
    step("transform", &pipeline, &flags, true);
    let console = stdout(&step("report", &pipeline, &flags, true));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let warning = md
        .find("wrangler tail was sampling (12 ")
        .expect("the warning");
    assert!(warning < md.find("## The answer").unwrap(), "{md}");
    assert!(
        console.starts_with("WARNING: The capture is incomplete"),
        "{console}"
    );
}

#[test]
fn a_bad_report_setting_is_one_line_naming_it_and_never_hangs() {
    let (tmp, _pipeline, flags, _out) = handmade_run(&two_by_two(), "");
    let mut cases: Vec<(String, String)> = Vec::new();
    for price in [
        "do_wall_ms",
        "do_request",
        "worker_cpu_ms",
        "worker_request",
        "row_written",
        "row_read",
    ] {
        for bad in ["inf", "nan", "-1.0", "-inf"] {
            cases.push((
                format!("[prices]\n{price} = {bad}\n"),
                format!("prices.{price}"),
            ));
        }
    }
    for (setting, bad) in [
        ("confidence", "1.0"),
        ("confidence", "0.3"),
        ("confidence", "nan"),
        ("resamples", "0"),
        ("resamples", "1000000000"),
        ("hypothesis_delay_ms", "-1"),
        ("hypothesis_delay_ms", "9223372036854775807"),
    ] {
        cases.push((
            format!("[report]\n{setting} = {bad}\n"),
            format!("report.{setting}"),
        ));
    }
    for (i, (extra, field)) in cases.iter().enumerate() {
        let pipeline = handmade::pipeline(tmp.path(), &format!("bad{i}"), extra);
        let mut args = vec!["report", "--pipeline", pipeline.to_str().unwrap()];
        // --resamples would override the [report] value under test.
        args.extend(flags.iter().take(4).map(String::as_str));
        let out = run_within(&args, 60);
        let err = stderr(&out);
        assert!(!out.status.success(), "{extra}");
        assert!(err.contains(field.as_str()), "{extra}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra}: {err}");
    }
}

#[test]
fn charts_of_values_no_axis_can_hold_are_explained_never_hung() {
    // No DO wall time at all: a log axis has nothing above 0 to show.
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 6));
    for leg in &mut legs {
        leg.wall_ms = 0;
    }
    // A delay no axis can step through.
    legs.extend(handmade::requests(
        "far",
        "direct",
        100_000_000_000_000_000,
        3,
    ));
    let (_tmp, pipeline, flags, out) = handmade_run(&legs, "");
    let mut args = vec!["report", "--pipeline", pipeline.to_str().unwrap()];
    args.extend(flags.iter().map(String::as_str));
    let done = run_within(&args, 120);
    assert!(done.status.success(), "{}", stderr(&done));
    for chart in [
        "do_wall_by_delay",
        "cost_vs_delay",
        "span_ecdf",
        "worker_cpu",
    ] {
        let img = image::open(out.join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (1400, 900), "{chart}");
    }
}

#[test]
fn the_report_removes_leftover_temporaries_and_a_failed_chart_leaves_none() {
    let mut legs = two_by_two();
    legs.extend(handmade::requests("s2", "simple", 1000, 6));
    let (_tmp, pipeline, flags, out) = handmade_run(&legs, "");
    let charts = out.join("charts");
    std::fs::create_dir_all(&charts).unwrap();
    let leftovers = [
        out.join(".report.md.tmp-4242-1"),
        charts.join(".cost_vs_delay.png.tmp-4242-3"),
    ];
    for path in &leftovers {
        std::fs::write(path, vec![0u8; 4096]).unwrap();
    }
    step("report", &pipeline, &flags, true);
    for path in &leftovers {
        assert!(!path.exists(), "{} left behind", path.display());
    }
    // A chart that cannot be renamed into place: the error is one line, and
    // its temporary is gone.
    std::fs::remove_file(charts.join("span_ecdf.png")).unwrap();
    std::fs::create_dir(charts.join("span_ecdf.png")).unwrap();
    std::fs::write(charts.join("span_ecdf.png/x"), "a folder in the way").unwrap();
    let failed = step("report", &pipeline, &flags, false);
    assert_eq!(
        stderr(&failed).trim().lines().count(),
        1,
        "{}",
        stderr(&failed)
    );
    let names: Vec<String> = std::fs::read_dir(&charts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !tracecost::mirror::lake::is_tmp_name(n)),
        "{names:?}"
    );
}

#[test]
fn every_image_the_report_links_is_a_chart_it_wrote() {
    let run = run_sample(&[]);
    let md = std::fs::read_to_string(run.out.join("report.md")).unwrap();
    let links: Vec<&str> = md
        .match_indices("](")
        .filter(|(at, _)| {
            md[..*at]
                .rfind("![")
                .is_some_and(|open| !md[open..*at].contains('\n'))
        })
        .map(|(at, _)| &md[at + 2..at + 2 + md[at + 2..].find(')').unwrap()])
        .collect();
    assert!(links.len() >= 4, "{links:?}");
    for link in links {
        let path = run.out.join(link);
        assert!(
            path.is_file(),
            "report.md links {link}, which is not a file"
        );
    }
}
