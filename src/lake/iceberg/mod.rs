//! The lake's Iceberg side: the catalog that `publish` writes tables into
//! and `report --requests` reads a requests table from — a SQL catalog in a
//! SQLite file, or an Iceberg REST catalog (R2 Data Catalog) whose tables'
//! files are in S3-compatible storage.

#[cfg(feature = "iceberg")]
mod open;
#[cfg(feature = "iceberg")]
mod read;
#[cfg(feature = "iceberg")]
mod storage;

use std::path::PathBuf;

#[cfg(feature = "iceberg")]
pub use open::{open, Access, Commits, Opened, RestCommits};
#[cfg(feature = "iceberg")]
pub use read::read_table;

use crate::core::redact::Secret;

/// The catalog's name in its own tables: readers of the SQL catalog name it so.
pub const CATALOG_NAME: &str = "tracecost";

/// Where the tables are registered and their files written.
#[derive(Debug, Clone, PartialEq)]
pub enum Catalog {
    /// A SQL catalog in a SQLite file, tables under a local warehouse folder
    /// (the catalog pyiceberg and Spark's JDBC catalog read).
    Sqlite { file: PathBuf, warehouse: PathBuf },
    /// An Iceberg REST catalog (R2 Data Catalog), the tables' files in the
    /// S3-compatible storage it names, with the keys it vends.
    Rest {
        uri: String,
        /// The warehouse name (R2: `<account id>_<bucket>`).
        warehouse: Option<String>,
        /// Sent as a bearer token; never printed.
        token: Option<Secret>,
    },
}

impl Catalog {
    /// The catalog as said in messages (a URI carries no user info: settings refuse it).
    pub fn place(&self) -> String {
        match self {
            Catalog::Sqlite { file, .. } => format!("the catalog {}", file.display()),
            Catalog::Rest { uri, .. } => format!("the catalog at {uri}"),
        }
    }
}

/// A table of a catalog's namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    pub catalog: Catalog,
    pub namespace: String,
    pub name: String,
}

/// An error of iceberg-rust as one line that can hold no secret: its kind,
/// message, HTTP status and cause, never its context, which for a catalog's
/// answer holds the answer's body (a table's answer holds the storage keys
/// the catalog vends).
#[cfg(feature = "iceberg")]
pub fn said(e: iceberg::Error) -> anyhow::Error {
    let text = e.to_string();
    let status = (text.split_once("context: { status: "))
        .and_then(|(_, rest)| rest.split([',', '}']).next())
        .map(|s| format!(" ({})", s.trim()))
        .unwrap_or_default();
    let cause = std::error::Error::source(&e)
        .map(|c| format!(": {}", c.to_string().replace('\n', " ")))
        .unwrap_or_default();
    anyhow::anyhow!("{}{status}: {}{cause}", e.kind(), e.message())
}

#[cfg(not(feature = "iceberg"))]
pub fn read_table(table: &TableRef, _: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!("table {}.{}: this tracecost was built without Iceberg: build it with `cargo install --path . --features iceberg` (see README, Beyond one machine)", table.namespace, table.name)
}
