//! Issue 2: local Logpush folders and tail captures into the lake.

mod common;

use std::collections::HashMap;
use std::fs;

use common::*;

#[test]
fn simulated_archive_lands_in_the_lake_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 3, &[]);
    let lake = tmp.path().join("lake");
    let out = mirror(tmp.path(), &sim.join("logpush"), &lake, &[]);
    let counts = read_json(&sim.join("truth/archive.json"));
    let n = |k: &str| counts[k].as_u64().unwrap();

    let df = read_lake(&lake);
    // One row per delivered line: duplicates kept, malformed copies and the test object not.
    assert_eq!(df.height() as u64, n("lines") - n("malformed_lines"));
    assert_eq!(
        df.column("event_id").unwrap().n_unique().unwrap() as u64,
        n("events")
    );

    // Every value matches the simulator's own record of the event.
    let truth: HashMap<String, HashMap<String, String>> = read_csv(&sim.join("truth/legs.csv"))
        .into_iter()
        .map(|r| (r["event_id"].clone(), r))
        .collect();
    let ids = str_col(&df, "event_id");
    let (ts, wall, cpu) = (
        i64_col(&df, "EventTimestampMs"),
        i64_col(&df, "WallTimeMs"),
        i64_col(&df, "CPUTimeMs"),
    );
    let (script, entry, kind) = (
        str_col(&df, "ScriptName"),
        str_col(&df, "Entrypoint"),
        str_col(&df, "EventType"),
    );
    for i in 0..df.height() {
        let t = &truth[ids[i].unwrap()];
        assert_eq!(ts[i].unwrap().to_string(), t["ts"]);
        assert_eq!(wall[i].unwrap().to_string(), t["wall"]);
        assert_eq!(cpu[i].unwrap().to_string(), t["cpu"]);
        assert_eq!(script[i].unwrap(), t["script"]);
        assert_eq!(entry[i].unwrap(), t["entrypoint"]);
        assert_eq!(kind[i].unwrap(), t["event_type"]);
    }

    // The quarantine holds exactly the malformed lines, each with object, line and cause.
    let q = lake.join("_quarantine/lines");
    let records: Vec<serde_json::Value> = fs::read_dir(&q)
        .unwrap()
        .flat_map(|f| {
            let text = fs::read_to_string(f.unwrap().path()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(records.len() as u64, n("malformed_lines"));
    for r in &records {
        assert!(r["object"].as_str().unwrap().ends_with(".log.gz"));
        assert!(r["line"].as_u64().unwrap() >= 1);
        assert!(r["error"].as_str().unwrap().starts_with("invalid JSON"));
    }

    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "{} objects listed, {} read",
            n("objects"),
            n("objects")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "test objects 1, empty objects 0, rejected lines {}",
            n("malformed_lines")
        )),
        "{text}"
    );

    // A second run reads nothing and changes nothing.
    let before = tree(&lake);
    let again = mirror(tmp.path(), &sim.join("logpush"), &lake, &[]);
    assert!(stdout(&again).contains(" 0 read"), "{}", stdout(&again));
    assert_eq!(tree(&lake), before);
}

#[test]
fn tail_capture_and_logpush_of_the_same_events_give_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 5, &[]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    mirror(tmp.path(), &sim.join("tail/capture.json"), &a, &[]);
    mirror(tmp.path(), &sim.join("tail/logpush"), &b, &[]);
    let key = [
        "EventTimestampMs",
        "ScriptName",
        "Entrypoint",
        "RpcMethod",
        "WallTimeMs",
    ];
    let same = [
        "EventTimestampMs",
        "EventTime",
        "ScriptName",
        "Entrypoint",
        "EventType",
        "Outcome",
        "ExecutionModel",
        "CPUTimeMs",
        "WallTimeMs",
        "Truncated",
        "RequestURL",
        "RequestMethod",
        "ResponseStatus",
        "RpcMethod",
        "LogMessages",
        "Logs",
        "Exceptions",
        "ScriptVersion",
        "ScriptTags",
        "DiagnosticsChannelEvents",
    ];
    let sorted = |df: polars::prelude::DataFrame| {
        df.sort(key, Default::default())
            .unwrap()
            .select(same)
            .unwrap()
    };
    let (ta, tb) = (sorted(read_lake(&a)), sorted(read_lake(&b)));
    assert!(ta.height() > 100);
    assert!(ta.equals_missing(&tb), "tail:\n{ta}\nlogpush:\n{tb}");
    // Duplicates in the capture are kept and share their event id.
    let da = read_lake(&a);
    assert!(da.column("event_id").unwrap().n_unique().unwrap() < da.height());
    // The capture's fetch legs carry their colo (`event.request.cf.colo`).
    let colos = str_col(&da, "Colo");
    assert!(colos.iter().any(|c| c.is_some()), "no colo lifted");
}

#[test]
fn a_colo_of_any_size_or_shape_never_panics_the_mirror_or_the_transform() {
    let tmp = tempfile::tempdir().unwrap();
    let huge = "A".repeat(10 << 20);
    let line = |ms: i64, cf: &str| {
        format!(
            r#"{{"EventTimestampMs":{ms},"ScriptName":"s","EventType":"fetch","WallTimeMs":5,"Event":{{"Request":{{"URL":"https://x/","cf":{cf}}}}}}}"#
        )
    };
    let lines = [
        line(1763510000000, r#"{"colo":"AMS"}"#),
        line(1763510000001, &format!(r#"{{"colo":"{huge}"}}"#)),
        line(1763510000002, r#"{"colo":5}"#),
        line(1763510000003, r#""AMS""#),
        line(1763510000004, "null"),
    ];
    let src = tmp.path().join("src/20251119");
    write(&src.join("a.log.gz"), &gzip(lines.join("\n").as_bytes()));
    let capture = tmp.path().join("capture.json");
    let event = |ms: i64, cf: serde_json::Value| {
        serde_json::json!({"eventTimestamp": ms, "scriptName": "s", "wallTime": 5,
            "event": {"request": {"url": "https://x/", "cf": cf}}})
        .to_string()
    };
    let events = [
        event(1763510000000, serde_json::json!({"colo": "AMS"})),
        event(1763510000001, serde_json::json!({ "colo": huge })),
        event(1763510000002, serde_json::json!({"colo": 5})),
        event(1763510000003, serde_json::json!("AMS")),
    ];
    fs::write(&capture, events.join("\n")).unwrap();
    let pipeline = tmp.path().join("c.toml");
    fs::write(
        &pipeline,
        "name = \"c\"\n[[transform.roles]]\nname = \"x\"\nbilling = \"do\"\n",
    )
    .unwrap();
    // Logpush: a colo that is not a string quarantines its line, as any lifted text field.
    // Tail: fields of an unexpected shape are null, as every tail field.
    let want_logpush = [Some("AMS"), Some(huge.as_str()), None];
    let want_tail = [Some("AMS"), Some(huge.as_str()), None, None];
    for (name, source, want, rejected) in [
        ("logpush", tmp.path().join("src"), &want_logpush[..], 2),
        ("tail", capture, &want_tail[..], 0),
    ] {
        let lake = tmp.path().join(name);
        let out = mirror(tmp.path(), &source, &lake, &[]);
        assert!(
            stdout(&out).contains(&format!("rejected lines {rejected},")),
            "{name}: {}",
            stdout(&out)
        );
        let df = read_lake(&lake)
            .sort(["EventTimestampMs"], Default::default())
            .unwrap();
        assert_eq!(str_col(&df, "Colo"), want, "{name}");
        let flags = ["--lake", lake.to_str().unwrap()];
        let out = bin()
            .args(["transform", "--pipeline", pipeline.to_str().unwrap()])
            .args(flags)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let requests = read_parquet(&lake.join("_derived/c/requests.parquet"))
            .sort(["first_event_ms"], Default::default())
            .unwrap();
        assert_eq!(str_col(&requests, "colo"), want, "{name}");
    }
}

fn write(path: &std::path::Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

const GOOD: &str = r#"{"EventTimestampMs":1763510000000,"ScriptName":"s","WallTimeMs":5,"CPUTimeMs":1,"EventType":"fetch"}"#;

/// `n` GOOD lines, one millisecond apart from `from_ms`, each with `wall` ms of wall time.
fn good_lines(n: usize, from_ms: i64, wall: i64) -> String {
    (0..n)
        .map(|i| {
            GOOD.replace("1763510000000", &(from_ms + i as i64).to_string())
                .replace("\"WallTimeMs\":5", &format!("\"WallTimeMs\":{wall}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hostile_input_is_quarantined_and_counted_without_failing_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let good2 = GOOD.replace("5,", "6,");
    write(&src.join("a_ok.log.gz"), &gzip(format!("{GOOD}\n{{\"EventTimestampMs\": 17635\n\n{good2}\n[1,2]\n{{\"ScriptName\":\"no time\"}}\n").as_bytes()));
    write(&src.join("b_test.log.gz"), &gzip(b"{\"content\":\"test\"}"));
    write(&src.join("c_not_gzip.log.gz"), b"this is not gzip");
    write(&src.join("d_not_json.log.gz"), &gzip(b"col1,col2\n1,2\n"));
    let full = gzip(format!("{GOOD}\n").repeat(2000).as_bytes());
    write(&src.join("e_truncated.log.gz"), &full[..full.len() / 2]);
    write(&src.join("f_empty.log.gz"), b"");
    write(
        &src.join("g_latin1.log.gz"),
        &gzip(&[GOOD.as_bytes(), b"\n{\"ScriptName\":\"caf\xe9\"}\n"].concat()),
    );
    let lake = tmp.path().join("lake");
    let out = mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    let text = stdout(&out);
    assert!(text.contains("7 objects listed, 7 read"), "{text}");
    // The truncated object keeps every whole line before the cut; its last,
    // cut line is rejected and the object is quarantined from the broken member.
    let rows = read_lake(&lake).height();
    assert!(rows > 3 + 100 && rows < 3 + 2000, "{rows}");
    assert!(
        text.contains(&format!("lines {} -> rows {}", 8 + rows - 3 + 1, rows)),
        "{text}"
    );
    assert!(
        text.contains("test objects 1, empty objects 1, rejected lines 5, quarantined objects 2"),
        "{text}"
    );

    let q = lake.join("_quarantine");
    // The objects of a run share one file of bad lines per segment.
    let files: Vec<_> = fs::read_dir(q.join("lines")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let lines: Vec<serde_json::Value> = fs::read_to_string(files[0].as_ref().unwrap().path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["object"].as_str().unwrap().contains("a_ok"))
        .collect();
    let at: Vec<u64> = lines.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(at, [2, 5, 6]);
    assert!(lines[2]["error"]
        .as_str()
        .unwrap()
        .contains("EventTimestampMs"));
    let reasons: Vec<String> = fs::read_dir(q.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".reason.json"))
        .map(|p| read_json(&p)["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 3);
    let tail = q.join("objects").join(format!(
        "{}.tail",
        tracecost::lake::object_stem("20251119/e_truncated.log.gz")
    ));
    assert_eq!(fs::read(tail).unwrap(), &full[..full.len() / 2]);
    assert!(
        reasons.iter().any(|r| r.starts_with("not gzip")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("corrupt gzip member at byte 0")),
        "{reasons:?}"
    );
    // The quarantined copy is the object as it was.
    let copy = fs::read_dir(q.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("c_not_gzip") && p.extension().unwrap() == "object")
        .unwrap();
    assert_eq!(fs::read(copy).unwrap(), b"this is not gzip");
    // Each problem is named on the terminal with object, line and cause.
    let err = stderr(&out);
    assert!(err.contains("a_ok.log.gz line 2: invalid JSON"), "{err}");
    assert!(err.contains("g_latin1.log.gz line 2: not UTF-8"), "{err}");
}

#[test]
fn a_changed_object_replaces_exactly_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let lines = |n: usize, wall: i64| good_lines(n, 1763510000000, wall);
    let with_bad_line = |good: String| format!("{good}\n{{not json\n");
    write(
        &src.join("one.log.gz"),
        &gzip(with_bad_line(lines(5, 5)).as_bytes()),
    );
    write(
        &src.join("two.log.gz"),
        &gzip(with_bad_line(lines(7, 9)).as_bytes()),
    );
    let lake = tmp.path().join("lake");
    mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    let quarantined = |lake: &std::path::Path| {
        let mut records: Vec<(String, u64)> = fs::read_dir(lake.join("_quarantine/lines"))
            .unwrap()
            .flat_map(|f| {
                let text = fs::read_to_string(f.unwrap().path()).unwrap();
                text.lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                    .map(|r| {
                        (
                            r["object"].as_str().unwrap().to_string(),
                            r["line"].as_u64().unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        records.sort();
        records
    };
    let (one, two) = (
        "20251119/one.log.gz".to_string(),
        "20251119/two.log.gz".to_string(),
    );
    assert_eq!(quarantined(&lake), [(one.clone(), 6), (two.clone(), 8)]);
    // Both objects share one segment file.
    let files = |lake: &std::path::Path| {
        fs::read_dir(lake.join("date=2025-11-18"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&lake).len(), 1, "{:?}", files(&lake));
    let rows_of = |df: &polars::prelude::DataFrame, key: &str| -> Vec<Option<i64>> {
        let objects = str_col(df, "source_object");
        let walls = i64_col(df, "WallTimeMs");
        (0..df.height())
            .filter(|i| objects[*i] == Some(key))
            .map(|i| walls[i])
            .collect()
    };
    let two_before = rows_of(&read_lake(&lake), "20251119/two.log.gz");
    assert_eq!(two_before, vec![Some(9); 7]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(
        &src.join("one.log.gz"),
        &gzip(with_bad_line(lines(3, 42)).as_bytes()),
    );
    let out = mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    assert!(
        stdout(&out).contains("2 objects listed, 1 read"),
        "{}",
        stdout(&out)
    );
    let df = read_lake(&lake);
    assert_eq!(df.height(), 10);
    let walls = i64_col(&df, "WallTimeMs");
    assert_eq!(walls.iter().filter(|w| **w == Some(42)).count(), 3);
    assert_eq!(walls.iter().filter(|w| **w == Some(5)).count(), 0);
    assert_eq!(rows_of(&df, "20251119/two.log.gz"), two_before);
    // The old segment lost one's rows; the new version has a segment of its own.
    assert_eq!(files(&lake).len(), 2, "{:?}", files(&lake));
    // Likewise its bad lines: the old version's left the shared quarantine file.
    assert_eq!(quarantined(&lake), [(one, 4), (two, 8)]);
    // And the manifest still accounts for every file.
    let again = mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    assert!(stdout(&again).contains("0 read"), "{}", stdout(&again));
    assert_eq!(read_lake(&lake).height(), 10);
}

#[test]
fn an_object_larger_than_a_row_group_gets_a_file_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let lines = |n: usize, from: i64| good_lines(n, from, 5);
    // 60,000 rows on one date: more than a row group (50,000).
    write(
        &src.join("big.log.gz"),
        &gzip(lines(60_000, 1763510000000).as_bytes()),
    );
    write(
        &src.join("small.log.gz"),
        &gzip(lines(10, 1763500000000).as_bytes()),
    );
    let lake = tmp.path().join("lake");
    let out = mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    assert!(stdout(&out).contains("rows 60,010"), "{}", stdout(&out));
    let mut names: Vec<String> = fs::read_dir(lake.join("date=2025-11-18"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("big-") && names[1].starts_with("segment-"),
        "{names:?}"
    );
    let df = read_lake(&lake);
    assert_eq!(df.height(), 60_010);
    let objects = str_col(&df, "source_object");
    assert_eq!(
        objects
            .iter()
            .filter(|o| **o == Some("20251119/big.log.gz"))
            .count(),
        60_000
    );
    let manifest = read_json(&lake.join("_manifest.json"));
    let files = |key: &str| manifest["objects"][key]["files"].as_array().unwrap().len();
    assert_eq!(
        (files("20251119/big.log.gz"), files("20251119/small.log.gz")),
        (1, 1)
    );
    let again = mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]);
    assert!(stdout(&again).contains("0 read"), "{}", stdout(&again));
}

#[test]
fn an_interrupted_mirror_rerun_gives_the_same_lake_as_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 11, &["--scale", "8"]);
    let source = sim.join("logpush");
    let clean = tmp.path().join("clean");
    mirror(tmp.path(), &source, &clean, &[]);

    let lake = tmp.path().join("crashed");
    let pipeline = empty_pipeline(tmp.path());
    let mut child = bin()
        .args(mirror_args(&pipeline, source.to_str().unwrap(), &lake))
        .args(["--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no clean-up) once it has written part of the lake.
    let started = std::time::Instant::now();
    loop {
        let written = fs::read_dir(&lake).map(|d| d.count()).unwrap_or(0);
        if written >= 3 || started.elapsed().as_secs() > 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "the mirror finished before it could be killed; use a larger archive"
    );
    assert_ne!(tree(&lake), tree(&clean), "nothing was interrupted");

    mirror(tmp.path(), &source, &lake, &[]);
    let (got, want) = (tree(&lake), tree(&clean));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want));
    assert!(got == want, "same files, different bytes");
}

#[test]
fn a_mirror_killed_after_a_checkpoint_reruns_to_the_clean_lake_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    // Large enough that the mirror saves its manifest (every 2 s) before it ends.
    let sim = simulate(tmp.path(), 3, &["--scale", "150"]);
    let source = sim.join("logpush");
    let clean = tmp.path().join("clean");
    mirror(tmp.path(), &source, &clean, &["--quiet"]);

    let lake = tmp.path().join("crashed");
    let pipeline = empty_pipeline(tmp.path());
    let mut child = bin()
        .args(mirror_args(&pipeline, source.to_str().unwrap(), &lake))
        .args(["--jobs", "2", "--quiet"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !lake.join("_manifest.json").exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    assert!(
        child.wait().unwrap().code().is_none(),
        "the mirror finished before it could be killed; use a larger archive"
    );
    mirror(tmp.path(), &source, &lake, &["--quiet"]);
    let rows = |lake: &std::path::Path| read_lake(lake).height();
    assert_eq!(rows(&lake), rows(&clean), "rows lost or duplicated");
    assert!(tree(&lake) == tree(&clean), "same rows, different files");
}

#[test]
fn window_limits_the_folders_that_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 3, &[]);
    let lake = tmp.path().join("lake");
    let counts = read_json(&sim.join("truth/archive.json"));
    let folders = counts["folders"].as_object().unwrap();
    // Events of 2025-11-17 can only sit in the folders of the 17th and 18th.
    let out = mirror(
        tmp.path(),
        &sim.join("logpush"),
        &lake,
        &["--from", "2025-11-17", "--to", "2025-11-17"],
    );
    let want = folders.get("20251118").unwrap().as_u64().unwrap();
    assert!(
        stdout(&out).contains(&format!("{want} objects listed")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn pipeline_file_mistakes_are_one_line_errors_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    fs::write(&p, "name = \"x\"\n[lake]\ndirr = \"lake\"\n").unwrap();
    let out = run(&["mirror", "--pipeline", p.to_str().unwrap()], false);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("dirr") && err.contains("line 3") && err.contains("bad.toml"),
        "{err}"
    );

    let out = run(
        &[
            "mirror",
            "--pipeline",
            tmp.path().join("missing.toml").to_str().unwrap(),
        ],
        false,
    );
    assert!(stderr(&out).contains("--pipeline"), "{}", stderr(&out));

    fs::write(&p, "name = \"x\"\n").unwrap();
    let out = run(
        &[
            "mirror",
            "--pipeline",
            p.to_str().unwrap(),
            "--source",
            "/nonexistent/folder",
        ],
        false,
    );
    assert!(
        stderr(&out).contains("/nonexistent/folder does not exist"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            "mirror",
            "--pipeline",
            p.to_str().unwrap(),
            "--source",
            ".",
            "--from",
            "last tuesday",
        ],
        false,
    );
    assert!(stderr(&out).contains("not a UTC date"), "{}", stderr(&out));
}

/// The lake is plain Parquet with Hive partitions: DuckDB and pyarrow read it
/// as is.
#[test]
#[ignore = "needs python3 with duckdb and pyarrow; .ci/run installs them and runs it"]
fn lake_opens_in_duckdb_and_pyarrow() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 3, &[]);
    let lake = tmp.path().join("lake");
    mirror(tmp.path(), &sim.join("logpush"), &lake, &[]);
    let df = read_lake(&lake);
    let rows = df.height();
    // Text with few distinct values is dictionary-encoded: the same strings must come back.
    let scripts = df.column("ScriptName").unwrap().str().unwrap();
    let mut names: Vec<&str> = scripts.iter().flatten().collect();
    let named = names.len();
    names.sort_unstable();
    names.dedup();
    let script = format!(
        r#"
import duckdb, pyarrow.dataset as ds
lake = {lake:?}
sql = f"select count(*), count(distinct date), typeof(any_value(EventTime)), count(ScriptName), string_agg(distinct ScriptName, ',' order by ScriptName) from read_parquet('{{lake}}/date=*/*.parquet', hive_partitioning=true)"
n, days, t, named, names = duckdb.connect().execute(sql).fetchone()
table = ds.dataset(lake, format="parquet", partitioning="hive").to_table()
print(n, days, t, table.num_rows, named, names, sep="|")
"#,
        lake = lake.to_string_lossy()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().split('|').collect();
    assert_eq!(fields[0], rows.to_string());
    assert_eq!(fields[1], "2", "two event dates: the run crosses midnight");
    assert_eq!(fields[2], "TIMESTAMP WITH TIME ZONE", "{text}");
    assert_eq!(fields[3], rows.to_string());
    assert_eq!(fields[4], named.to_string());
    assert_eq!(fields[5], names.join(","));
}

#[test]
fn wait_polls_until_late_objects_arrive_and_times_out_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 3, &[]);
    let counts = read_json(&sim.join("truth/archive.json"));
    let rows = counts["lines"].as_u64().unwrap() - counts["malformed_lines"].as_u64().unwrap();
    // Hold the last three objects back, as Logpush does for minutes.
    let source = tmp.path().join("src");
    let late = tmp.path().join("late");
    fs::create_dir_all(&late).unwrap();
    let day = sim.join("logpush/20251119");
    let mut names: Vec<_> = fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for name in names.iter().rev().take(3) {
        fs::rename(day.join(name), late.join(name)).unwrap();
    }
    fs::rename(sim.join("logpush"), &source).unwrap();
    let lake = tmp.path().join("lake");
    let pipeline = empty_pipeline(tmp.path());
    let args = |events: u64, timeout: &str| -> Vec<String> {
        let mut a = mirror_args(&pipeline, source.to_str().unwrap(), &lake);
        a.extend(
            [
                "--wait",
                "--events",
                &events.to_string(),
                "--every",
                "1",
                "--timeout",
                timeout,
            ]
            .map(String::from),
        );
        a
    };
    let (late_dir, day_dir) = (late.clone(), source.join("20251119"));
    let delivery = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(2500));
        for e in fs::read_dir(&late_dir).unwrap() {
            let e = e.unwrap();
            fs::rename(e.path(), day_dir.join(e.file_name())).unwrap();
        }
    });
    let out = bin().args(args(rows, "60")).output().unwrap();
    delivery.join().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "waiting for {} events",
            tracecost::core::numbers::thousands(rows)
        )),
        "{text}"
    );
    assert!(
        text.contains("next poll in 1 s") && text.contains("wait: done"),
        "{text}"
    );
    assert_eq!(read_lake(&lake).height() as u64, rows);

    let out = bin().args(args(rows + 1, "2")).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("timed out after 2 s") && err.contains("--timeout"),
        "{err}"
    );
}

#[test]
fn every_row_of_an_object_larger_than_a_row_group_names_its_format() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    write(
        &src.join("big.log.gz"),
        &gzip(good_lines(120_000, 1763510000000, 5).as_bytes()),
    );
    let lake = tmp.path().join("lake");
    mirror(tmp.path(), &tmp.path().join("src"), &lake, &["--quiet"]);
    let df = read_lake(&lake);
    assert_eq!(df.height(), 120_000);
    let formats = str_col(&df, "source_format");
    assert!(
        formats.iter().all(|f| *f == Some("logpush")),
        "{:?}",
        formats.iter().filter(|f| **f != Some("logpush")).count()
    );
    let manifest = read_json(&lake.join("_manifest.json"));
    assert_eq!(
        manifest["objects"]["20251119/big.log.gz"]["format"],
        "logpush"
    );
}

/// Issue 16: an object's delivery time, from where the source tells it, and
/// its events' delays by event day, in the manifest.
#[test]
fn each_object_records_its_delivery_time_and_delays_by_event_day() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // 2025-11-18T20:50:00Z, the name's batch end.
    let end: i64 = 1_763_499_000_000;
    let line = |ts: i64| GOOD.replace("1763510000000", &ts.to_string());
    let named = [
        end - 30_000,
        end - 90_500,
        end + 200,
        end - 86_400_000 - 5_000,
    ]
    .map(line)
    .join("\n");
    let key = "20251118/20251118T204500Z_20251118T205000Z_1a2b3c4d.log.gz";
    write(&src.join(key), &gzip(named.as_bytes()));
    // No Logpush name: its modification time stands for the delivery.
    let copied = src.join("copies/batch.log.gz");
    write(&copied, &gzip(line(end).as_bytes()));
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_millis(end as u64 + 61_000);
    fs::File::options()
        .write(true)
        .open(&copied)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/tail");
    fs::copy(sample.join("capture.json"), src.join("capture.json")).unwrap();
    let lake = tmp.path().join("lake");
    mirror(tmp.path(), &src, &lake, &["--quiet"]);

    let manifest = read_json(&lake.join("_manifest.json"));
    let entry = &manifest["objects"][key];
    assert_eq!(entry["delivered_ms"], end);
    assert_eq!(entry["delivery_source"], "object_name");
    // 30 s and 90.5 s on the 18th, to the second; 200 ms early, apart; a day
    // and 5 s on the 17th, in its hour's bucket; the maximum exact.
    assert_eq!(
        entry["delays"]["2025-11-18"],
        serde_json::json!({"counts": "30:1 90:1", "negative": 1, "max_ms": 90_500})
    );
    assert_eq!(
        entry["delays"]["2025-11-17"],
        serde_json::json!({"counts": "86400:1", "max_ms": 86_405_000})
    );
    let copy = &manifest["objects"]["copies/batch.log.gz"];
    assert_eq!(copy["delivery_source"], "mtime");
    assert_eq!(copy["delivered_ms"], end + 61_000);
    assert_eq!(copy["delays"]["2025-11-18"]["counts"], "61:1");
    // A tail capture is written as events happen: no delivery time.
    let tail = &manifest["objects"]["capture.json"];
    assert_eq!(tail["format"], "tail");
    assert!(tail.get("delivered_ms").is_none() && tail.get("delays").is_none());

    let window = tracecost::core::window::Window::default();
    let d = tracecost::report::delivery::read(&lake, &window).unwrap();
    assert_eq!((d.tail_objects, d.unrecorded_objects), (1, 0));
    let days: Vec<(String, u64, u64, u64)> = d
        .rows
        .iter()
        .map(|r| (r.day.to_string(), r.objects, r.events, r.negative))
        .collect();
    assert_eq!(
        days,
        [
            ("2025-11-17".to_string(), 1, 1, 0),
            ("2025-11-18".to_string(), 2, 4, 1)
        ]
    );
    assert_eq!(d.rows[1].source, "object_name,mtime");
    assert_eq!(d.rows[1].median_ms, Some(61_000));
    assert_eq!(d.rows[1].max_ms, Some(90_500));
    let section = tracecost::report::delivery::section(&d);
    assert!(
        section.contains("1 tail capture objects have no delivery time"),
        "{section}"
    );
    assert!(
        section.contains("1 events have a delivery time before their own"),
        "{section}"
    );
}

/// A manifest written before delivery times were recorded still loads; its
/// objects stay current and are named as lacking a delivery time.
#[test]
fn a_manifest_without_delivery_fields_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    write(
        &src.join("a.log.gz"),
        &gzip(good_lines(3, 1763510000000, 5).as_bytes()),
    );
    let lake = tmp.path().join("lake");
    mirror(tmp.path(), &tmp.path().join("src"), &lake, &["--quiet"]);
    let path = lake.join("_manifest.json");
    let mut manifest = read_json(&path);
    let entry = manifest["objects"]["20251119/a.log.gz"]
        .as_object_mut()
        .unwrap();
    assert_eq!(entry["delivery_source"], "mtime");
    for field in ["delivered_ms", "delivery_source", "delays"] {
        entry.remove(field).unwrap();
    }
    fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let out = stdout(&mirror(tmp.path(), &tmp.path().join("src"), &lake, &[]));
    assert!(out.contains("0 read (0.0 MB), 1 unchanged"), "{out}");
    let window = tracecost::core::window::Window::default();
    let d = tracecost::report::delivery::read(&lake, &window).unwrap();
    assert!(d.rows.is_empty());
    assert_eq!(d.unrecorded_objects, 1);
    let section = tracecost::report::delivery::section(&d);
    assert!(
        section.contains("1 Logpush objects were mirrored before"),
        "{section}"
    );
}

/// `delivery.csv` on the embedded sample equals the delays computed here
/// from the lake's rows and their objects' names: nearest rank, rounded
/// down to the second, the maximum exact.
#[test]
fn delivery_csv_equals_the_delays_computed_from_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = root.join("pipelines/proxy-fetch.toml");
    let (lake, out) = (tmp.path().join("lake"), tmp.path().join("out"));
    let quarantine = tmp.path().join("q");
    let flags = [
        "--lake",
        lake.to_str().unwrap(),
        "--quarantine",
        quarantine.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-charts",
        "--resamples",
        "100",
        "--quiet",
    ];
    step("run", &pipeline, &flags, true);

    let df = read_lake(&lake);
    let (objects, ts) = (
        str_col(&df, "source_object"),
        i64_col(&df, "EventTimestampMs"),
    );
    let mut by_day: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for (object, ts) in objects.iter().zip(&ts) {
        let name = object.unwrap().rsplit('/').next().unwrap();
        let end = name.split('_').nth(1).unwrap();
        let end = chrono::NaiveDateTime::parse_from_str(end, "%Y%m%dT%H%M%SZ").unwrap();
        let ts = ts.unwrap();
        let day = chrono::DateTime::from_timestamp_millis(ts).unwrap();
        let delay = end.and_utc().timestamp_millis() - ts;
        by_day
            .entry(day.format("%Y-%m-%d").to_string())
            .or_default()
            .push(delay);
    }
    let rows = read_csv(&out.join("delivery.csv"));
    assert_eq!(rows.len(), by_day.len());
    for (row, (day, mut delays)) in rows.iter().zip(by_day) {
        delays.sort();
        assert!(delays[0] >= 0, "the simulator delivers after the event");
        let rank = |q: f64| (q * delays.len() as f64).ceil() as usize - 1;
        let second = |q: f64| (delays[rank(q)] / 1000 * 1000).to_string();
        assert_eq!(row["day"], day);
        assert_eq!(row["events"], delays.len().to_string());
        assert_eq!(row["negative"], "0");
        assert_eq!(row["median_ms"], second(0.5), "{row:?}");
        assert_eq!(row["p95_ms"], second(0.95), "{row:?}");
        assert_eq!(row["p99_ms"], second(0.99), "{row:?}");
        assert_eq!(row["max_ms"], delays.last().unwrap().to_string());
        assert_eq!(row["source"], "object_name");
    }
    let parquet = read_parquet(&out.join("delivery.parquet"));
    assert_eq!(parquet.height(), rows.len());
    assert_eq!(text_col(&parquet, "median_ms")[0], rows[0]["median_ms"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = &md[md.find("## How late Logpush delivered").unwrap()..];
    let median_s = rows[0]["median_ms"].parse::<i64>().unwrap() / 1000;
    assert!(
        section.contains(&format!("| {} |", rows[0]["day"]))
            && section.contains(&format!("| {median_s} s |"))
            && section.contains("batch end time in the object's name"),
        "{section}"
    );
}

/// `mirror --wait` prints its margin: the lake's recent p99 delivery delay
/// and from how many events, the floor when no delivery is recent, or the
/// one given; and it polls on until the goal's time plus the margin.
#[test]
fn wait_margin_is_the_recent_p99_delay_or_the_floor_or_the_given_one() {
    let tmp = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp_millis() / 1000 * 1000;
    let name = |ms: i64| {
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        format!(
            "{}/{}_{}_00c0ffee.log.gz",
            t.format("%Y%m%d"),
            t.format("%Y%m%dT%H%M%SZ"),
            t.format("%Y%m%dT%H%M%SZ")
        )
    };
    let src = tmp.path().join("src");
    let events = [now - 90_000, now - 90_000, now - 87_500]
        .map(|ts| GOOD.replace("1763510000000", &ts.to_string()))
        .join("\n");
    // Delivered a minute ago: delays 30, 30 and 27.5 s.
    write(&src.join(name(now - 60_000)), &gzip(events.as_bytes()));
    let lake = tmp.path().join("lake");
    let pipeline = empty_pipeline(tmp.path());
    let until = chrono::DateTime::from_timestamp_millis(now - 100_000).unwrap();
    let until = until.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let wait = |extra: &[&str]| {
        let mut a = mirror_args(&pipeline, src.to_str().unwrap(), &lake);
        a.extend(
            [
                "--wait",
                "--until",
                &until,
                "--every",
                "1",
                "--timeout",
                "30",
            ]
            .map(String::from),
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        stdout(&run(&a, true))
    };
    let text = wait(&[]);
    assert!(
        text.contains("wait: margin 30 s, the p99 delivery delay (30 s, to the second) of 3 events in the objects the lake received in the last 7 days (floor 0 s)"),
        "{text}"
    );
    assert!(text.contains("wait: done"), "{text}");
    // The goal time was 100 s ago: a margin of 103 s holds the wait ~3 s.
    let text = wait(&["--margin", "103"]);
    assert!(text.contains("wait: margin 103 s, from --margin"), "{text}");
    assert!(
        text.contains("goal met, polling on for the margin"),
        "{text}"
    );
    assert!(text.contains("wait: done"), "{text}");

    // Deliveries of 2025 are not recent: the floor.
    let old = tmp.path().join("old");
    write(
        &old.join("20251119/20251119T000000Z_20251119T000100Z_1a.log.gz"),
        &gzip(GOOD.as_bytes()),
    );
    let old_lake = tmp.path().join("old-lake");
    let mut a = mirror_args(&pipeline, old.to_str().unwrap(), &old_lake);
    a.extend(["--wait", "--events", "1"].map(String::from));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let text = stdout(&run(&a, true));
    assert!(
        text.contains("margin 0 s (the floor of 0 s: no object the lake received in the last 7 days has a delivery time) does not apply to --events"),
        "{text}"
    );
    let mut a = mirror_args(&pipeline, old.to_str().unwrap(), &old_lake);
    a.extend(["--margin", "5m"].map(String::from));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let err = stderr(&run(&a, false));
    assert!(err.contains("--margin only apply with --wait"), "{err}");
}
