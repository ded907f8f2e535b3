//! tracecost's Parquet writer (`io::parquet`) against polars' own
//! `ParquetWriter` with the same options (Snappy, statistics, row groups of
//! `ROW_GROUP` rows), interleaved, on the rows of a lake:
//!
//!   cargo run --release --example parquet_writers -- <lake folder> [rounds]
//!
//! Prints wall time per write (median of the rounds) and file size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use tracecost::io::parquet::{write_parquet, ROW_GROUP};

fn lake_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a lake folder") {
        let path = entry.expect("listable").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name.starts_with("date=") {
            lake_files(&path, out);
        } else if name.ends_with(".parquet") && !name.starts_with('.') {
            out.push(path);
        }
    }
}

fn polars_writer(df: &mut DataFrame, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .with_statistics(StatisticsOptions::default())
        .with_row_group_size(Some(ROW_GROUP))
        .finish(df)
        .unwrap();
    std::fs::File::open(path).unwrap().sync_data().unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lake = Path::new(args.get(1).expect("usage: parquet_writers <lake> [rounds]"));
    let rounds: usize = args.get(2).map_or(5, |r| r.parse().expect("rounds"));
    let mut files = Vec::new();
    lake_files(lake, &mut files);
    files.sort();
    let frames: Vec<DataFrame> = (files.iter())
        .map(|f| {
            ParquetReader::new(std::fs::File::open(f).unwrap())
                .finish()
                .unwrap()
        })
        .collect();
    let mut frames = frames.into_iter();
    let mut df = frames.next().expect("a lake file");
    for frame in frames {
        df.vstack_mut_owned(frame)
            .expect("lake files share a schema");
    }
    df.rechunk_mut();
    let out = std::env::temp_dir().join(format!("parquet-writers-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let (ours_path, theirs_path) = (out.join("ours.parquet"), out.join("polars.parquet"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        write_parquet(&mut df.clone(), &ours_path).unwrap();
        ours.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        polars_writer(&mut df.clone(), &theirs_path);
        theirs.push(start.elapsed().as_secs_f64());
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    let back = |p: &Path| {
        ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap()
    };
    assert!(
        back(&ours_path).equals_missing(&back(&theirs_path)),
        "same rows"
    );
    println!(
        "{} rows, {} columns, {rounds} rounds",
        df.height(),
        df.width()
    );
    println!("| writer | median s | MB |\n| --- | --- | --- |");
    println!(
        "| io::parquet | {:.3} | {:.1} |",
        median(ours),
        size(&ours_path)
    );
    println!(
        "| polars ParquetWriter | {:.3} | {:.1} |",
        median(theirs),
        size(&theirs_path)
    );
    let _ = std::fs::remove_dir_all(&out);
}
