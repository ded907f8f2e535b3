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
