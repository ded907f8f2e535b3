//! What the mirror reads from: a listing of objects and a way to open each.

use std::io::Read;

use anyhow::Result;

use crate::config::Window;

#[derive(
    clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Gzipped newline-delimited JSON in PascalCase, as Logpush writes it.
    Logpush,
    /// `wrangler tail --format json`: pretty-printed camelCase JSON objects.
    Tail,
}

impl InputFormat {
    /// The name the manifest, the lake's `source_format` and `--format` use.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Logpush => "logpush",
            InputFormat::Tail => "tail",
        }
    }
}

/// One source object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Key relative to the source root or prefix, `/`-separated: the same
    /// archive on disk and in a bucket yields the same keys, hence the same lake.
    pub key: String,
    pub size: u64,
    /// ETag, or modification time for files: a change means re-read.
    pub version: String,
}

/// What a listing found: the objects to read, and the entries it will not
/// read (links, names that are not UTF-8, unreadable folders), with why.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectRef>,
    pub skipped: Vec<Skipped>,
}

impl From<Vec<ObjectRef>> for Listing {
    fn from(objects: Vec<ObjectRef>) -> Self {
        Listing {
            objects,
            skipped: Vec::new(),
        }
    }
}

/// An entry of the source that is not read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The entry's key, or a lossy rendering when it is not UTF-8.
    pub key: String,
    pub reason: String,
}

/// A source error that running again will not mend (a local file that
/// cannot be opened): the object is skipped and listed, and the run goes on.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

pub trait ObjectSource: Send + Sync {
    /// Objects that may hold events of the window, sorted by key.
    fn list(&self, window: &Window) -> Result<Listing>;
    /// The object's raw bytes, as stored (gzipped or not).
    fn open(&self, obj: &ObjectRef) -> Result<Box<dyn Read + Send>>;
    /// Objects worth opening at once (network sources wait more than they compute).
    fn parallelism(&self) -> Option<usize> {
        None
    }
    /// Largest object read, for sources that hold an object in memory.
    fn max_object_bytes(&self) -> Option<u64> {
        None
    }
    /// Refuses keys that must not be read (network sources list keys they do not control).
    fn check_key(&self, _key: &str) -> Result<(), String> {
        Ok(())
    }
}

/// The UTC date a Logpush key's folder names: `YYYYMMDD`, `date=YYYYMMDD` or `date=YYYY-MM-DD`.
pub fn folder_date(key: &str) -> Option<chrono::NaiveDate> {
    let mut parts: Vec<&str> = key.split('/').collect();
    parts.pop();
    parts.iter().rev().find_map(|part| {
        let digits = part.strip_prefix("date=").unwrap_or(part).replace('-', "");
        (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_dates_in_every_logpush_layout() {
        let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(folder_date("20251118/x.log.gz"), d("2025-11-18"));
        assert_eq!(
            folder_date("logs/workers/date=20251118/x.log.gz"),
            d("2025-11-18")
        );
        assert_eq!(folder_date("date=2025-11-18/x.log.gz"), d("2025-11-18"));
        assert_eq!(folder_date("20251118T204500Z_x.log.gz"), None);
        assert_eq!(folder_date("capture.json"), None);
    }
}
