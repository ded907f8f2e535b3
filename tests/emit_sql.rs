//! Issue 20: `transform --emit-sql` gives one SQL statement whose requests,
//! run by DuckDB over the lake, equal the Polars transform's request by
//! request: every column, every value, the same types.

mod common;

use std::path::Path;

use common::layouts::*;
use common::*;

/// Runs the emitted statement in DuckDB over `lake` and compares it with
/// `requests` (the transform's file) both ways; returns the rows compared.
/// DuckDB's requests are left in `export`, in two Parquet files beside the
/// marker and checksum files Spark writes.
fn assert_sql_equals_transform(lake: &Path, sql: &str, requests: &Path, export: &Path) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let sql_file = dir.path().join("requests.sql");
    std::fs::write(&sql_file, sql).unwrap();
    let script = r#"
import duckdb, sys
lake, sql_file, requests, export = sys.argv[1:5]
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{lake}/date=*/*.parquet', hive_partitioning = true)")
con.execute("CREATE TABLE emitted AS " + open(sql_file).read())
con.execute(f"CREATE TABLE polars AS SELECT * FROM read_parquet('{requests}')")
count = lambda q: con.execute(q).fetchone()[0]
print(count("SELECT count(*) FROM emitted"), count("SELECT count(*) FROM polars"),
      count("SELECT count(*) FROM (SELECT * FROM emitted EXCEPT ALL SELECT * FROM polars)"),
      count("SELECT count(*) FROM (SELECT * FROM polars EXCEPT ALL SELECT * FROM emitted)"),
      con.execute("DESCRIBE emitted").fetchall() == con.execute("DESCRIBE polars").fetchall(),
      sep="|")
import os, shutil
shutil.rmtree(export, ignore_errors=True)
os.makedirs(export)
for part in range(2):
    con.execute(f"COPY (SELECT * FROM emitted WHERE hash(request_id) % 2 = {part}) TO '{export}/part-{part}.parquet' (FORMAT parquet)")
open(f"{export}/_SUCCESS", "w").close()
open(f"{export}/.part-0.parquet.crc", "w").write("not parquet")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .args([lake, &sql_file, requests, export])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let fields: Vec<&str> = text.trim().split('|').collect();
    assert_eq!(
        fields[0], fields[1],
        "rows, emitted|polars|only emitted|only polars|same types: {text}"
    );
    assert_eq!(
        &fields[2..],
        ["0", "0", "True"],
        "emitted|polars|only emitted|only polars|same types: {text}"
    );
    fields[0].parse().unwrap()
}

fn emit(pipeline: &Path, flags: &[&str]) -> String {
    let mut args = vec![
        "transform",
        "--emit-sql",
        "duckdb",
        "--pipeline",
        pipeline.to_str().unwrap(),
    ];
    args.extend(flags);
    stdout(&run(&args, true))
}

/// Lines the sample's pipeline reads oddly: delays Polars parses or not,
/// an id after a Unicode space (Rust's `\s` matches it, RE2's does not),
/// duplicates, an impossible duration, an unselected script, a failed leg.
fn odd_lines() -> Vec<String> {
    let t0: i64 = 1_763_509_500_000; // 2025-11-18T23:45:00Z, in the sample's run
    let origin = |i: i64, query: &str| {
        serde_json::json!({
            "EventTimestampMs": t0 + i * 7, "ScriptName": "experiment-origin", "Entrypoint": "OriginDO",
            "EventType": "fetch", "ExecutionModel": "durableObject", "Outcome": "ok",
            "Event": {"Request": {"URL": format!("https://lab.example/experiment/{query}"), "Method": "GET", "cf": {"colo": "AMS"}}},
            "ScriptVersion": {"ID": format!("v{}", i % 3)}, "WallTimeMs": 40 + i, "CPUTimeMs": 2,
        })
    };
    let mut lines: Vec<serde_json::Value> = [
        "direct?delay=+12&reqId=aa01",
        "direct?delay=007&reqId=aa02",
        "direct?delay=99999999999999999999&reqId=aa03",
        "direct?delay=12.0&reqId=aa04",
        "direct?delay=&reqId=aa05",
        "direct?delay=-5&reqId=aa06",
        "Direct?delay=100&reqId=aa07",
        "simple?delay=%E2%80%8B1&reqId=aa08",
    ]
    .iter()
    .enumerate()
    .map(|(i, q)| origin(i as i64, q))
    .collect();
    let mut executor = serde_json::json!({
        "EventTimestampMs": t0 + 100, "ScriptName": "proxy-executor", "Entrypoint": "FetchExecutor",
        "EventType": "worker_rpc", "ExecutionModel": "stateless", "Outcome": "exception",
        "Event": {"rpcMethod": "executeFetch"}, "WallTimeMs": 900, "CPUTimeMs": 3,
        "Logs": [{"Level": "log", "Message": ["{\"reqId\":\u{a0}\"aa08\"} /delay/\u{663}"], "TimestampMs": t0 + 101}],
    });
    lines.push(executor.clone());
    executor["Logs"][0]["Message"][0] = "{\"reqId\": \"aa08\"}".into();
    executor["EventTimestampMs"] = (t0 + 120).into();
    lines.push(executor.clone());
    lines.push(executor.clone()); // delivered twice
    executor["WallTimeMs"] = (-1).into(); // impossible: ignored
    lines.push(executor.clone());
    executor["WallTimeMs"] = 5.into();
    executor["ScriptName"] = "unselected".into();
    lines.push(executor);
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
#[ignore = "needs python3 with duckdb; .ci/run installs it and runs it"]
fn on_the_sample_and_odd_lines_the_emitted_sql_gives_the_transforms_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let logpush = tmp.path().join("logpush");
    copy_tree(&root.join("data/sample/logpush"), &logpush);
    let odd = odd_lines().join("\n") + "\n";
    let object = logpush.join("20251118/20251118T234500Z_20251118T234600Z_0dd0dd00.log.gz");
    std::fs::write(&object, gzip(format!("{odd}{odd}").as_bytes())).unwrap();
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let lake = tmp.path().join("lake");
    let manifest = root.join("data/sample/run-manifest.csv");
    let flags = archive_flags(tmp.path(), &lake, &manifest);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    step("mirror", &pipeline, &flags, true);
    let requests = lake.join("_derived/proxy-fetch/requests.parquet");
    let export = tmp.path().join("exported");
    for window in [
        &["--from", "2025-11-18T23:50", "--to", "2025-11-19T00:05"][..],
        &[],
    ] {
        let flags: Vec<&str> = flags.iter().chain(window).copied().collect();
        step("transform", &pipeline, &flags, true);
        let sql = emit(&pipeline, &flags);
        let n = assert_sql_equals_transform(&lake, &sql, &requests, &export);
        assert!(n > 100, "{n} requests");
    }
    let sql = emit(&pipeline, &flags);
    assert!(sql.contains("\\x{A0}"), "\\s spelled out as Rust reads it");
    assert_same_report(&pipeline, &flags, &export, tmp.path());
}

/// The report of requests exported by an engine (`--requests`) is the
/// report of the transform's: every table the same bytes, but the quality
/// table, which only the transform has (and report.md says so).
fn assert_same_report(pipeline: &Path, flags: &[&str], export: &Path, tmp: &Path) {
    let (here, there) = (tmp.join("report-here"), tmp.join("report-there"));
    let report = |out: &Path, more: &[&str]| {
        let mut f = flags.to_vec();
        f.extend([
            "--resamples",
            "1000",
            "--no-charts",
            "--out",
            out.to_str().unwrap(),
        ]);
        f.extend(more);
        step("report", pipeline, &f, true);
    };
    report(&here, &[]);
    std::fs::create_dir_all(&there).unwrap();
    std::fs::write(there.join("quality.csv"), "stale").unwrap();
    report(&there, &["--requests", export.to_str().unwrap()]);
    assert_same_report_tables(&here, &there);
}

/// Each archive layout of the simulator, with the pipeline file written for it.
#[test]
#[ignore = "needs python3 with duckdb; .ci/run installs it and runs it"]
fn for_every_archive_layout_the_emitted_sql_gives_the_transforms_requests() {
    let cases = [
        ("logs", "path", "reqId", false),
        ("url", "query", "rid", false),
        ("both", "query", "trace_id", true),
        ("logs", "rpc", "reqId", true),
        ("url", "path", "x_req", true),
    ];
    for (seed, (id_in, approach_in, id_key, renamed)) in cases.into_iter().enumerate() {
        let case = Case {
            id_in,
            approach_in,
            id_key,
            renamed,
        };
        let tmp = tempfile::tempdir().unwrap();
        let sim = simulate(tmp.path(), 40 + seed as u64, &case.flags());
        let pipeline = tmp.path().join("layout.toml");
        std::fs::write(&pipeline, case.pipeline("layout")).unwrap();
        let lake = tmp.path().join("lake");
        let manifest = sim.join("run-manifest.csv");
        let flags = archive_flags(&sim, &lake, &manifest);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        step("mirror", &pipeline, &flags, true);
        step("transform", &pipeline, &flags, true);
        let sql = emit(&pipeline, &flags);
        let requests = lake.join("_derived/layout/requests.parquet");
        let export = tmp.path().join("exported");
        let n = assert_sql_equals_transform(&lake, &sql, &requests, &export);
        assert!(n >= 90, "{id_in}/{approach_in}: {n} requests");
    }
}

#[test]
fn what_cannot_be_emitted_is_one_line_naming_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let bounded = text.replace(r#"url = "/experiment/""#, r#"url = '\b/experiment/'"#);
    assert_ne!(bounded, text);
    std::fs::write(&pipeline, bounded).unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/run-manifest.csv");
    let (p, m) = (pipeline.to_str().unwrap(), manifest.to_str().unwrap());
    let emit = [
        "transform",
        "--pipeline",
        p,
        "--run-manifest",
        m,
        "--emit-sql",
    ];
    let out = run(&[&emit[..], &["spark"]].concat(), false);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: transform.roles[1].url (origin): regex"),
        "{err}"
    );
    assert!(
        err.contains("no SQL form for Spark SQL: a word boundary"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "nothing half-emitted");
    let table = ["duckdb", "--events-table", "e; DROP TABLE x"];
    let out = run(&[&emit[..], &table].concat(), false);
    let err = stderr(&out);
    assert!(
        err.starts_with("error: --events-table \"e; DROP TABLE x\""),
        "{err}"
    );
    let out = run(
        &["transform", "--pipeline", p, "--events-table", "events"],
        false,
    );
    assert!(stderr(&out).contains("--emit-sql"), "{}", stderr(&out));
}

/// `report --requests` reads a table it did not write: whatever it is given
/// that is not a requests table is one line saying what is wrong, and the
/// report folder keeps no scrap of it.
#[test]
fn a_requests_table_that_is_not_one_is_refused_in_one_line() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let lake = tmp.path().join("lake");
    let manifest = root.join("data/sample/run-manifest.csv");
    let flags = archive_flags(&root.join("data/sample"), &lake, &manifest);
    let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    let good = read_parquet(&lake.join("_derived/proxy-fetch/requests.parquet"));
    let out = tmp.path().join("report");
    flags.extend([
        "--out",
        out.to_str().unwrap(),
        "--no-charts",
        "--resamples",
        "0",
    ]);
    let write = |name: &str, mut df: DataFrame| -> String {
        let path = tmp.path().join(name);
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        path.to_string_lossy().into_owned()
    };
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let garbage = tmp.path().join("garbage.parquet");
    std::fs::write(&garbage, "PAR1 not really").unwrap();
    let retype = |column: &str, dtype: DataType| {
        let retyped = good.clone().lazy().with_column(col(column).cast(dtype));
        retyped.collect().unwrap()
    };
    let retyped = retype("delay_ms", DataType::String);
    let cases = [
        ("nowhere".to_string(), "cannot read --requests"),
        ("/dev/null".to_string(), "not a file or a folder"),
        (
            empty.to_string_lossy().into_owned(),
            "holds no .parquet file",
        ),
        (garbage.to_string_lossy().into_owned(), "cannot read"),
        (
            write("no-colo.parquet", good.drop("colo").unwrap()),
            "lacks the column(s) colo",
        ),
        (
            write("retyped.parquet", retyped),
            "column delay_ms is str, not i64",
        ),
        (
            write("twice.parquet", good.vstack(&good).unwrap()),
            "a request is there twice",
        ),
    ];
    for (source, why) in cases {
        let f: Vec<&str> = flags
            .iter()
            .copied()
            .chain(["--requests", &source])
            .collect();
        let err = stderr(&step("report", &pipeline, &f, false));
        assert_eq!(err.lines().count(), 1, "{source}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(why),
            "{source}: {err}"
        );
        let scraps: Vec<_> = (std::fs::read_dir(&out).into_iter().flatten())
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(scraps.is_empty(), "{scraps:?}");
    }
    // Narrower integers are the same values: read as the transform's.
    let narrow = retype("legs", DataType::Int32);
    let source = write("narrow.parquet", narrow);
    let f: Vec<&str> = flags
        .iter()
        .copied()
        .chain(["--requests", &source])
        .collect();
    step("report", &pipeline, &f, true);
    let exported = read_parquet(&out.join("requests.parquet"));
    assert_eq!(exported.column("legs").unwrap().dtype(), &DataType::Int64);
}
