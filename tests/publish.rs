//! Issue 20: `tracecost publish` writes the lake's events and the
//! transform's tables as Iceberg tables (a SQLite SQL catalog here) that
//! pyiceberg reads back equal to the lake; a rerun publishes nothing new;
//! machines publishing disjoint days into one table at once both land.
#![cfg(feature = "iceberg")]

mod common;

use std::path::PathBuf;

use common::*;

struct Published {
    _tmp: tempfile::TempDir,
    pipeline: PathBuf,
    flags: Vec<String>,
    lake: PathBuf,
    catalog: PathBuf,
    warehouse: PathBuf,
}

impl Published {
    fn flags(&self) -> Vec<&str> {
        self.flags.iter().map(String::as_str).collect()
    }

    fn publish(&self, more: &[&str]) -> String {
        let mut f = self.flags();
        f.extend(["--catalog", self.catalog.to_str().unwrap()]);
        f.extend(["--warehouse", self.warehouse.to_str().unwrap()]);
        f.extend(more);
        stdout(&step("publish", &self.pipeline, &f, true))
    }
}

/// A simulator archive mirrored and transformed, not yet published.
fn archive(seed: u64) -> Published {
    let tmp = tempfile::tempdir().unwrap();
    // 30 runs cross midnight: two days of events.
    let sim = simulate(tmp.path(), seed, &["--runs", "30"]);
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let lake = tmp.path().join("lake");
    let flags = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    let f: Vec<&str> = flags.iter().map(String::as_str).collect();
    step("mirror", &pipeline, &f, true);
    step("transform", &pipeline, &f, true);
    let (catalog, warehouse) = (tmp.path().join("catalog.db"), tmp.path().join("warehouse"));
    Published {
        _tmp: tmp,
        pipeline,
        flags,
        lake,
        catalog,
        warehouse,
    }
}

/// pyiceberg reads each table through the SQL catalog; every row and column
/// equals the lake's (events, read as DuckDB and pyarrow read the lake) and
/// the transform's files (legs, requests).
fn assert_tables_equal_the_lake(p: &Published) {
    let script = r#"
import sys, pyarrow as pa, pyarrow.compute as pc, pyarrow.dataset as ds
from pyiceberg.catalog.sql import SqlCatalog
catalog_file, warehouse, lake = sys.argv[1:4]
catalog = SqlCatalog("tracecost", uri=f"sqlite:///{catalog_file}", warehouse=f"file://{warehouse}")
def plain(t):
    # Text as plain strings: pyarrow sorts no view types.
    text = {pa.string_view(), pa.large_string()}
    return t.cast(pa.schema([pa.field(f.name, pa.string() if f.type in text else f.type) for f in t.schema]))
def same(name, want, by):
    got = plain(catalog.load_table(("tracecost", name)).scan().to_arrow())
    want = plain(want)
    assert set(got.column_names) == set(want.column_names), f"{name}: columns {got.column_names}, want {want.column_names}"
    # Iceberg keeps microseconds and a date type where the lake has milliseconds and a folder name.
    got = got.select(want.column_names).cast(want.schema, safe=True)
    got, want = got.sort_by([(c, "ascending") for c in by]), want.sort_by([(c, "ascending") for c in by])
    assert got.num_rows == want.num_rows, f"{name}: {got.num_rows} rows, want {want.num_rows}"
    for c in want.column_names:
        assert got.column(c).equals(want.column(c)), f"{name}.{c} differs"
    print(f"{name}={got.num_rows}", end=" ")
events = ds.dataset(lake, format="parquet", partitioning="hive", exclude_invalid_files=True,
                    ignore_prefixes=["_", "."]).to_table()
same("events", events, ["source_object", "source_line"])
derived = f"{lake}/_derived/proxy-fetch"
same("legs", pa.parquet.read_table(f"{derived}/legs.parquet"), ["event_id"])
same("requests", pa.parquet.read_table(f"{derived}/requests.parquet"), ["request_id"])
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", &format!("import pyarrow.parquet\n{script}")])
        .args([&p.catalog, &p.warehouse, &p.lake])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("events=") && text.contains("requests="),
        "{text}"
    );
}

#[test]
#[ignore = "needs python3 with pyiceberg; .ci/run installs it and runs it"]
fn published_tables_read_back_with_pyiceberg_equal_the_lake() {
    let p = archive(21);
    let first = p.publish(&[]);
    assert!(
        first.contains("events: ") && !first.contains("events: 0 file(s) added"),
        "{first}"
    );
    assert_tables_equal_the_lake(&p);
    let again = p.publish(&[]);
    for table in ["events", "legs", "requests"] {
        assert!(
            again.contains(&format!("{table}: 0 file(s) added")),
            "{again}"
        );
    }
    assert_tables_equal_the_lake(&p);
}

#[test]
fn a_rerun_publishes_nothing_new_and_new_lake_files_are_appended() {
    let p = archive(22);
    let day = ["--from", "2025-11-18", "--to", "2025-11-18"];
    let first = p.publish(&day);
    assert!(first.contains("file(s) added"), "{first}");
    let rest = p.publish(&[]);
    let line = rest.lines().find(|l| l.starts_with("events: ")).unwrap();
    assert!(
        !line.starts_with("events: 0 file(s) added") && !line.ends_with(", 0 already there"),
        "{rest}"
    );
    let again = p.publish(&[]);
    assert!(again.contains("events: 0 file(s) added"), "{again}");
}

#[test]
#[ignore = "needs python3 with pyiceberg; .ci/run installs it and runs it"]
fn machines_publishing_days_at_once_all_land() {
    let p = archive(23);
    // Two machines with a day each, and a third publishing both days too.
    let days: [&[&str]; 3] = [
        &["--from", "2025-11-18", "--to", "2025-11-18"],
        &["--from", "2025-11-19", "--to", "2025-11-19"],
        &[],
    ];
    let children: Vec<_> = days
        .iter()
        .map(|day| {
            let mut f = p.flags();
            f.extend([
                "--catalog",
                p.catalog.to_str().unwrap(),
                "--warehouse",
                p.warehouse.to_str().unwrap(),
            ]);
            f.extend(day.iter());
            let mut args = vec!["publish", "--pipeline", p.pipeline.to_str().unwrap()];
            args.extend(f);
            (bin().args(&args))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let again = p.publish(&[]);
    assert!(
        again.contains("events: 0 file(s) added"),
        "both days landed: {again}"
    );
    // Each file once: a file two machines both added is in the table once.
    assert_tables_equal_the_lake(&p);
}

#[test]
fn a_bad_namespace_is_one_line_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let out = step("publish", &pipeline, &["--namespace", "a.b; drop"], false);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: --namespace \"a.b; drop\""), "{err}");
}

/// A source object delivered again with other content: the mirror rewrites
/// its lake file, and the next publish replaces the old data file with the
/// new one in one commit, so the table equals the lake again.
#[test]
#[ignore = "needs python3 with pyiceberg; .ci/run installs it and runs it"]
fn a_changed_lake_file_replaces_its_data_file_in_one_commit() {
    let p = archive(24);
    p.publish(&[]);
    let logpush = PathBuf::from(p.flags[1].clone());
    let object = first_object_with_rows(&logpush);
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&object).unwrap()),
        &mut text,
    )
    .unwrap();
    let kept: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(&object, gzip((kept.join("\n") + "\n").as_bytes())).unwrap();
    step("mirror", &p.pipeline, &p.flags(), true);
    step("transform", &p.pipeline, &p.flags(), true);
    let out = p.publish(&[]);
    // The object's segment is rewritten without its rows, which go to a new
    // one; the transform's files are replaced whole.
    let events = out.lines().find(|l| l.starts_with("events: ")).unwrap();
    assert!(
        events.starts_with("events: 2 file(s) added") && events.contains(", 1 removed"),
        "{out}"
    );
    for table in ["legs", "requests"] {
        let line = out.lines().find(|l| l.starts_with(table)).unwrap();
        assert!(
            line.starts_with(&format!("{table}: 1 file(s) added")),
            "{out}"
        );
        assert!(line.ends_with("1 removed, 0 already there"), "{out}");
    }
    assert_tables_equal_the_lake(&p);
    let again = p.publish(&[]);
    assert!(
        again.contains("events: 0 file(s) added (0 rows), 0 removed"),
        "{again}"
    );
}

/// The first object in key order that is more than Logpush's one-line test object.
fn first_object_with_rows(dir: &std::path::Path) -> PathBuf {
    let mut objects: Vec<PathBuf> = (walk(dir).into_iter())
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .filter(|p| std::fs::metadata(p).unwrap().len() > 2048)
        .collect();
    objects.sort();
    objects.remove(0)
}

/// Two lakes holding the same days (objects delivered after midnight hold
/// the day before) publish into one catalog: neither removes the other's
/// files, and each rerun finds its own all there.
#[test]
fn lakes_sharing_days_keep_each_others_files() {
    let (a, b) = (archive(25), archive(26));
    let b_into_a = |p: &Published| {
        let mut f = p.flags();
        f.extend(["--catalog", a.catalog.to_str().unwrap()]);
        f.extend(["--warehouse", a.warehouse.to_str().unwrap()]);
        stdout(&step("publish", &p.pipeline, &f, true))
    };
    a.publish(&[]);
    let first_b = b_into_a(&b);
    assert!(first_b.contains("events: 2 file(s) added"), "{first_b}");
    for out in [a.publish(&[]), b_into_a(&b)] {
        let events = out.lines().find(|l| l.starts_with("events: ")).unwrap();
        assert_eq!(events.split(", ").nth(1), Some("0 removed"), "{out}");
        assert!(events.starts_with("events: 0 file(s) added"), "{out}");
    }
}

/// A lake file that is not Parquet (a disk error, a hand edit) is one line
/// naming it, and nothing is published.
#[test]
fn an_unreadable_lake_file_is_one_line_naming_it() {
    let p = archive(27);
    let file = walk(&p.lake.join("date=2025-11-18"))
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    std::fs::write(&file, b"PAR1 not parquet at all").unwrap();
    let mut f = p.flags();
    f.extend(["--catalog", p.catalog.to_str().unwrap()]);
    f.extend(["--warehouse", p.warehouse.to_str().unwrap()]);
    let err = stderr(&step("publish", &p.pipeline, &f, false));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
}
