//! Step `publish`: the lake's events, and the transform's `legs` and
//! `requests`, as Apache Iceberg tables through a catalog, for engines that
//! span machines (Spark, R2 SQL over R2 Data Catalog, DuckDB, pyiceberg).
//!
//! Each lake file becomes one data file of `events`, named by its content
//! and partitioned by its day, so publishing is a sync: a rerun finds every
//! file already there and commits nothing; a new lake file is appended; a
//! lake file that changed replaces its old data file in one commit.
//! Days this lake holds are the ones a publish may change, so several
//! machines can publish disjoint date ranges into one table; each commit is
//! Iceberg's optimistic commit, retried on a conflict.

#[cfg(feature = "iceberg")]
mod arrow;
#[cfg(feature = "iceberg")]
mod replace;
#[cfg(feature = "iceberg")]
mod tables;

use std::path::PathBuf;

use anyhow::Result;

use crate::core::window::Window;
use crate::lake::iceberg::Catalog;

/// What `publish` needs; `settings` resolves it from the pipeline file and flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub lake: PathBuf,
    pub window: Window,
    /// The transform's outputs, whose `legs` and `requests` are published too.
    pub derived: PathBuf,
    pub catalog: Catalog,
    /// The catalog namespace of the tables.
    pub namespace: String,
}

/// What a publish did to one table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Synced {
    pub table: String,
    pub added_files: usize,
    pub added_rows: u64,
    pub kept_files: usize,
    /// Files of lake files that changed or went, replaced in the same commit.
    pub removed_files: usize,
}

#[cfg(feature = "iceberg")]
pub fn run(opts: &Options) -> Result<Vec<Synced>> {
    tables::run(opts)
}

#[cfg(not(feature = "iceberg"))]
pub fn run(_: &Options) -> Result<Vec<Synced>> {
    anyhow::bail!("this tracecost was built without Iceberg: build it with `cargo install --path . --features iceberg` (see README, Beyond one machine)")
}
