//! Issue 14: flags and settings that could crash, hang or leak a secret.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A Logpush folder holding one object of one event.
fn one_object(dir: &Path) -> PathBuf {
    let source = dir.join("logpush");
    std::fs::create_dir_all(source.join("20251118")).unwrap();
    let line = r#"{"EventTimestampMs": 1763424000000, "ScriptName": "lab", "EventType": "fetch", "WallTimeMs": 3, "CPUTimeMs": 1}"#;
    std::fs::write(
        source.join("20251118/20251118T000000Z_20251118T000100Z_ab.log.gz"),
        gzip(format!("{line}\n").as_bytes()),
    )
    .unwrap();
    source
}

#[test]
fn jobs_beyond_what_the_machine_can_run_are_clamped_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let source = one_object(tmp.path());
    let pipeline = empty_pipeline(tmp.path());
    for (quiet, lake) in [(false, "lake1"), (true, "lake2")] {
        let mut args = mirror_args(&pipeline, source.to_str().unwrap(), &tmp.path().join(lake));
        args.extend(["--jobs", "100000"].map(String::from));
        if quiet {
            args.push("--quiet".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, true);
        let err = stderr(&out);
        let max = (4 * std::thread::available_parallelism().unwrap().get()).min(64);
        let said = format!("--jobs 100000 is out of range: using {max}");
        assert_eq!(err.contains(&said), !quiet, "{err}");
    }
}

#[test]
fn polling_every_zero_seconds_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let source = one_object(tmp.path());
    let pipeline = empty_pipeline(tmp.path());
    let lake = tmp.path().join("lake");
    for every in ["0", "0s", "0m"] {
        let mut args = mirror_args(&pipeline, source.to_str().unwrap(), &lake);
        args.extend(["--wait", "--events", "1000", "--every", every].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_within(&args, 60);
        let err = stderr(&out);
        assert!(!out.status.success(), "--every {every}");
        assert!(
            err.contains("--every") && err.contains("once a second"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_password_in_an_endpoint_or_a_url_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = empty_pipeline(tmp.path());
    let lake = tmp.path().join("lake");
    let lake = lake.to_str().unwrap();
    let secret_endpoint = "http://AKIDLEAK:s3cr3tLEAK@127.0.0.1:9";
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Vec<&str>, Env)> = vec![
        (
            vec!["--source", "s3://logs", "--endpoint", secret_endpoint],
            vec![],
        ),
        (
            vec!["--source", "s3://logs"],
            vec![("AWS_ENDPOINT_URL_S3", secret_endpoint)],
        ),
        (
            vec!["--source", "https://AKIDLEAK:s3cr3tLEAK@example.com/logs"],
            vec![],
        ),
        (
            vec!["--source", "s3://AKIDLEAK:s3cr3tLEAK@logs/prefix"],
            vec![],
        ),
    ];
    for (flags, env) in cases {
        let mut args = vec![
            "mirror",
            "--pipeline",
            pipeline.to_str().unwrap(),
            "--lake",
            lake,
        ];
        args.extend(&flags);
        let out = run_env(&args, &env);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!out.status.success(), "{flags:?}");
        assert!(
            !all.contains("s3cr3tLEAK") && !all.contains("AKIDLEAK"),
            "{flags:?}: {all}"
        );
        assert!(
            all.contains("***@"),
            "{flags:?}: the redacted URL is shown: {all}"
        );
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{all}");
    }
}

/// The shipped sample pipeline with `[report]` changed: `from` replaced by `to`.
fn sample_pipeline_with(dir: &Path, from: &str, to: &str) -> PathBuf {
    let path = shipped_pipeline(dir, "proxy-fetch.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from}");
    let edited = dir.join("edited.toml");
    std::fs::write(&edited, text.replacen(from, to, 1)).unwrap();
    edited
}

/// `transform` resolves every setting, the report's too, before it reads
/// anything: a bad claim fails there, in one line naming it.
fn refused(dir: &Path, from: &str, to: &str) -> String {
    let pipeline = sample_pipeline_with(dir, from, to);
    let lake = dir.join("lake");
    let out = step(
        "transform",
        &pipeline,
        &["--lake", lake.to_str().unwrap()],
        false,
    );
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

#[test]
fn a_bad_claim_is_one_line_naming_the_claim_and_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let h2 = "id = \"H2 simple\"\nclaim = \"For a 1000 ms fetch, simple cuts billed DO wall clock 33-100x\"\nmeasure = \"mean_ratio\"\nmetric = \"do_wall_ms\"";
    let cases = [
        (
            "metric = \"do_wall_ms\"",
            "metric = \"do_wall\"",
            ".metric = \"do_wall\": not a metric",
        ),
        (
            "measure = \"mean_ratio\"",
            "measure = \"mean_ratoi\"",
            ".measure: unknown variant `mean_ratoi`",
        ),
        ("metric = \"do_wall_ms\"", "", "metric is missing"),
    ];
    for (from, to, said) in cases {
        let err = refused(tmp.path(), h2, &h2.replace(from, to));
        assert!(err.contains("report.claims[\"H2 simple\"]"), "{err}");
        assert!(err.contains(said), "{said}: {err}");
    }
    let err = refused(
        tmp.path(),
        "approach = \"simple\"\nbaseline = \"direct\"",
        "approach = \"simpel\"\nbaseline = \"direct\"",
    );
    assert!(
        err.contains("report.claims[\"H1 simple\"].approach = \"simpel\": not an approach of [transform.approaches]"),
        "{err}"
    );
    let err = refused(tmp.path(), "range = [10, 30]", "");
    assert!(
        err.contains("report.claims[\"H3\"]: range is missing"),
        "{err}"
    );
}

#[test]
fn a_bad_frame_setting_is_one_line_naming_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "baseline = \"direct\"\ncompare",
            "baseline = \"drect\"\ncompare",
            "report.baseline = \"drect\"",
        ),
        (
            "compare = [[\"simple\", \"current\"]]",
            "compare = [[\"simple\", \"curent\"]]",
            "report.compare[0] = \"curent\"",
        ),
        (
            "compare = [[\"simple\", \"current\"]]",
            "compare = [[\"simple\", \"simple\"]]",
            "report.compare[0] = [\"simple\", \"simple\"]: give two different approaches",
        ),
        (
            "# metrics = [",
            "metrics = [\"span\"]\n# x = [",
            "report.metrics = \"span\": not a metric",
        ),
    ];
    for (from, to, said) in cases {
        let err = refused(tmp.path(), from, to);
        assert!(err.contains(said), "{said}: {err}");
    }
}

#[test]
fn the_baseline_defaults_to_direct_when_declared_else_the_first_approach() {
    use tracecost::settings::{Settings, StepArgs};
    let tmp = tempfile::tempdir().unwrap();
    let resolve = |text: &str| {
        let path = tmp.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        let args = StepArgs {
            pipeline: Some(path),
            ..Default::default()
        };
        Settings::resolve(&args).unwrap().report.analysis
    };
    let both = "[transform.approaches.beta]\n[transform.approaches.direct]\n";
    assert_eq!(resolve(both).baseline, "direct");
    let none = "[transform.approaches.beta]\n[transform.approaches.alpha]\n";
    let s = resolve(none);
    assert_eq!(
        s.baseline, "alpha",
        "the first in the file's order of names"
    );
    assert!(s.claims.is_empty() && s.extra_pairs.is_empty());
    assert_eq!(s.frame.title, tracecost::report::DEFAULT_TITLE);
    assert_eq!(resolve("name = \"x\"\n").baseline, "");
}
