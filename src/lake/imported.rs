//! `report --requests`: a requests table computed elsewhere (the statement of
//! `transform --emit-sql`, run by DuckDB or Spark and exported as Parquet, or
//! kept as an Iceberg table), checked against the contract's columns and
//! brought into the shape the transform writes (its types, time order), so
//! that the report reads it as its own.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::*;

use super::derived::{request_columns, RequestsFile, REQUESTS_FILE, REQUEST_ORDER};
use super::iceberg::{read_table, TableRef};
use crate::io::atomic::tmp_path;
use crate::io::parquet::write_parquet;

/// The imported table, in a temporary file of the report folder that goes
/// when this is dropped (or, after a crash, with the folder's temporaries).
pub struct Imported {
    pub file: RequestsFile,
    _scratch: Scratch,
}

/// A temporary file of the report folder, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Where the requests computed elsewhere are.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A Parquet file, or a folder of them as engines export (names
    /// starting with `_` or `.` skipped).
    Parquet(PathBuf),
    /// An Iceberg table (Spark's `CREATE TABLE ... AS` the statement, or
    /// the `requests` table `publish` wrote).
    Table(TableRef),
}

impl Source {
    /// The source as the report names it.
    pub fn label(&self) -> String {
        match self {
            Source::Parquet(path) => path.display().to_string(),
            Source::Table(t) => format!("{}.{} in {}", t.namespace, t.name, t.catalog.place()),
        }
    }
}

/// Reads `source` into a requests file in `scratch`.
pub fn import(source: &Source, scratch: &Path) -> Result<Imported> {
    match source {
        Source::Parquet(path) => import_parquet(path, &source.label(), scratch),
        Source::Table(table) => {
            let copy = Scratch(tmp_path(&scratch.join("requests-table.parquet")));
            read_table(table, &copy.0)?;
            import_parquet(&copy.0, &source.label(), scratch)
        }
    }
}

fn import_parquet(source: &Path, shown: &str, scratch: &Path) -> Result<Imported> {
    let files = parquet_files(source)?;
    let paths: Vec<PlRefPath> = (files.iter())
        .map(|f| PlRefPath::new(f.to_string_lossy().as_ref()))
        .collect();
    let lazy =
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
            .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    let schema =
        (lazy.clone().collect_schema()).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    let columns = request_columns();
    let missing: Vec<&str> = (columns.iter())
        .map(|(name, _)| *name)
        .filter(|name| schema.get(name).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{shown} lacks the column(s) {}: export every column of the statement `tracecost transform --emit-sql` prints",
            missing.join(", ")
        );
    }
    for (name, want) in &columns {
        let got = schema.get(name).expect("checked above");
        if !castable(got, want) {
            bail!("{shown}: column {name} is {got}, not {want}: export the statement's types");
        }
    }
    let select: Vec<Expr> = (columns.iter())
        .map(|(name, dtype)| col(*name).strict_cast(dtype.clone()))
        .collect();
    let mut requests = (lazy.select(select))
        .sort(REQUEST_ORDER, SortMultipleOptions::default())
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    check_ids(&requests, shown)?;
    let path = tmp_path(&scratch.join(REQUESTS_FILE));
    let imported = Imported {
        file: RequestsFile::at(&path),
        _scratch: Scratch(path.clone()),
    };
    write_parquet(&mut requests, &path)?;
    Ok(imported)
}

/// Integers into Int64 and numbers into Float64, text of any width into
/// text: what engines write for the same values. Nothing that changes them.
fn castable(got: &DataType, want: &DataType) -> bool {
    match want {
        DataType::Int64 => got.is_integer() && !matches!(got, DataType::UInt64),
        DataType::Float64 => got.is_float() || got.is_integer(),
        _ => got == want,
    }
}

/// A request twice (two exports appended, say) would count twice.
fn check_ids(requests: &DataFrame, shown: &str) -> Result<()> {
    let ids = requests.column("request_id")?;
    if ids.null_count() > 0 {
        bail!("{shown}: a request has no request_id");
    }
    let distinct = ids.n_unique()?;
    if distinct != requests.height() {
        bail!(
            "{shown}: {} rows but {distinct} request ids: a request is there twice (exports appended?)",
            requests.height()
        );
    }
    Ok(())
}

/// `source` itself, or the Parquet files under it, sorted.
fn parquet_files(source: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(source).with_context(|| {
        format!(
            "cannot read --requests {}: give a Parquet file, a folder of them, or an Iceberg table as NAMESPACE.TABLE",
            source.display()
        )
    })?;
    if meta.is_file() {
        return Ok(vec![source.to_path_buf()]);
    }
    if !meta.is_dir() {
        bail!("--requests {}: not a file or a folder", source.display());
    }
    let mut files = Vec::new();
    let mut folders = vec![source.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in
            fs::read_dir(&folder).with_context(|| format!("cannot list {}", folder.display()))?
        {
            let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Engines' markers and checksums (_SUCCESS, .part.crc) are not data.
            if name.starts_with(['_', '.']) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() && name.ends_with(".parquet") {
                files.push(entry.path());
            }
        }
    }
    if files.is_empty() {
        bail!(
            "--requests {}: the folder holds no .parquet file",
            source.display()
        );
    }
    files.sort();
    Ok(files)
}
