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
        // Plain decimals only: no exponent in any numeric field.
        for field in text.split([',', '\r', '\n']) {
            if field.parse::<f64>().is_ok() {
                assert!(!field.contains(['e', 'E']), "{t}: {field}");
            }
        }
    }
    assert!(!a.out.join("charts").exists());
    let differs = std::fs::read(a.out.join("summary.csv")).unwrap()
        != std::fs::read(c.out.join("summary.csv")).unwrap();
    assert!(differs, "another seed draws other resamples");
}
