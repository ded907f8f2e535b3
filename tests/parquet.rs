//! The Parquet writer of `io::parquet` (built on polars-parquet's page API):
//! every column type the lake and the exports hold comes back as written,
//! through polars and through pyarrow.

use std::process::Command;

use polars::prelude::*;
use tracecost::io::atomic::AtomicFile;
use tracecost::io::parquet::{write_parquet, ParquetWriter, ROW_GROUP};

/// More rows than a row group, so that the file has several.
const ROWS: usize = ROW_GROUP * 2 + 7;

fn every_type() -> DataFrame {
    let n = ROWS;
    let few = ["do", "worker", "origin-with-a-long-name", ""];
    let mut df = df!(
        "int64" => (0..n).map(|i| (i % 11 != 0).then_some(i as i64 * 1_000_003 - 5)).collect::<Vec<_>>(),
        "int32" => (0..n).map(|i| i as i32 - 40_000).collect::<Vec<_>>(),
        "uint32" => (0..n).map(|i| i as u32).collect::<Vec<_>>(),
        "uint64" => (0..n).map(|i| u64::MAX - i as u64).collect::<Vec<_>>(),
        "float64" => (0..n).map(|i| (i % 7 != 0).then_some(i as f64 / 3.0)).collect::<Vec<_>>(),
        "float32" => (0..n).map(|i| i as f32 * 0.5).collect::<Vec<_>>(),
        "boolean" => (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect::<Vec<_>>(),
        "text_few" => (0..n).map(|i| (i % 13 != 0).then(|| few[i % few.len()])).collect::<Vec<_>>(),
        "text_many" => (0..n).map(|i| format!("request-{i:09}-with-a-shared-prefix")).collect::<Vec<_>>(),
        "text_unicode" => (0..n).map(|i| if i % 3 == 0 { "Ünïcödé ✓".to_string() } else { format!("é{i}") }).collect::<Vec<_>>(),
        "time_ms" => (0..n).map(|i| 1_763_500_000_000i64 + i as i64).collect::<Vec<_>>(),
        "all_null" => vec![None::<i64>; n],
    )
    .unwrap();
    let time = df
        .column("time_ms")
        .unwrap()
        .cast(&DataType::Datetime(
            TimeUnit::Milliseconds,
            Some(TimeZone::UTC),
        ))
        .unwrap();
    df.with_column(time.with_name("datetime_utc".into()))
        .unwrap();
    df
}

/// The writer's three ways to a file: the outputs' (row groups encoded in
/// parallel), the lake's (one Snappy encoder, no min/max of free text) and
/// a step's scratch file (no compression, no statistics).
#[derive(Debug, Clone, Copy)]
enum Way {
    Outputs,
    Lake,
    Scratch,
}

const WAYS: [Way; 3] = [Way::Outputs, Way::Lake, Way::Scratch];

fn written(way: Way) -> (tempfile::TempDir, std::path::PathBuf, DataFrame) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("every-type.parquet");
    let mut df = every_type();
    match way {
        Way::Outputs => write_parquet(&mut df, &path).unwrap(),
        Way::Lake => {
            let file = AtomicFile::create(&path).unwrap();
            let mut w = ParquetWriter::lasting(file, &df).unwrap();
            w = w.without_min_max(&["text_many", "text_unicode"]);
            for start in (0..df.height()).step_by(ROW_GROUP) {
                w.write(&df.slice(start as i64, ROW_GROUP)).unwrap();
            }
            w.finish().unwrap().commit().unwrap();
        }
        Way::Scratch => {
            let file = std::fs::File::create(&path).unwrap();
            let mut w = ParquetWriter::scratch(file, &df).unwrap();
            for start in (0..df.height()).step_by(ROW_GROUP) {
                w.write(&df.slice(start as i64, ROW_GROUP)).unwrap();
            }
            w.finish().unwrap();
        }
    }
    (dir, path, df)
}

#[test]
fn every_column_type_reads_back_in_polars() {
    for way in WAYS {
        let (_dir, path, df) = written(way);
        let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(back.schema(), df.schema(), "{way:?}");
        assert!(back.equals_missing(&df), "{way:?}: {back}\n{df}");
        let mut file = std::fs::File::open(&path).unwrap();
        let meta = polars_parquet::read::read_metadata(&mut file).unwrap();
        assert_eq!(
            meta.row_groups.len(),
            3,
            "{way:?}: row groups of {ROW_GROUP} rows"
        );
    }
}

#[test]
#[ignore = "needs python3 with pyarrow; .ci/run installs it and runs it"]
fn every_column_type_reads_back_in_pyarrow() {
    for way in WAYS {
        pyarrow_reads(way);
    }
}

fn pyarrow_reads(way: Way) {
    let (_dir, path, df) = written(way);
    let script = r#"
import sys, pyarrow.parquet as pq, pyarrow.compute as pc
t = pq.read_table(sys.argv[1])
out = [str(t.num_rows)]
for name in t.column_names:
    c = t.column(name)
    if str(c.type) in ("string", "large_string", "string_view"):
        c = pc.cast(c, "large_string")
        summary = f"{pc.count_distinct(c).as_py()}:{c[0].as_py()}:{c[len(c) - 1].as_py()}"
    elif str(c.type).startswith("timestamp"):
        summary = f"{c.type.tz}:{pc.min(c).value}:{pc.max(c).value}"
    elif c.null_count == len(c):
        summary = "-"
    else:
        summary = f"{pc.sum(pc.cast(c, 'float64', safe=False)).as_py()!r}"
    out.append(f"{name}|{c.null_count}|{summary}")
print("\n".join(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(ROWS.to_string().as_str()));
    let mut columns = 0;
    for line in lines {
        let parts: Vec<&str> = line.splitn(3, '|').collect();
        let c = df.column(parts[0]).unwrap();
        assert_eq!(parts[1], c.null_count().to_string(), "{line}");
        let want = match c.dtype() {
            DataType::String => {
                let s = c.str().unwrap();
                let (first, last) = (
                    s.get(0).unwrap_or("None"),
                    s.get(ROWS - 1).unwrap_or("None"),
                );
                format!(
                    "{}:{first}:{last}",
                    c.n_unique().unwrap() - usize::from(c.null_count() > 0)
                )
            }
            DataType::Datetime(..) => {
                let ms = c.cast(&DataType::Int64).unwrap();
                let ms = ms.i64().unwrap();
                format!("UTC:{}:{}", ms.min().unwrap(), ms.max().unwrap())
            }
            _ if c.null_count() == ROWS => "-".into(),
            _ => {
                let sum = c
                    .cast(&DataType::Float64)
                    .unwrap()
                    .f64()
                    .unwrap()
                    .sum()
                    .unwrap();
                let theirs: f64 = parts[2].parse().unwrap();
                // Summation order differs between the libraries.
                assert!((theirs - sum).abs() <= 1e-12 * sum.abs(), "{line}: {sum}");
                parts[2].to_string()
            }
        };
        assert_eq!(parts[2], want, "{line}");
        columns += 1;
    }
    assert_eq!(columns, df.width());
}
