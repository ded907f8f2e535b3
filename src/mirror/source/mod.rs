//! What the mirror reads from: a listing of objects and a way to open each.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::core::paths::tidy;
use crate::core::redact::redact_userinfo;
use crate::core::window::Window;
use crate::lake::delivery::Delivered;

pub mod dir;
pub mod s3;

/// Where events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A folder (Logpush layout, tail captures) or a single file.
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 { bucket: String, prefix: String },
}

impl SourceSpec {
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("source `{text}` names no bucket: write s3://BUCKET/PREFIX");
            }
            if !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            {
                bail!(
                    "source `{}`: a bucket name has lowercase letters, digits, `-` and `.` only (credentials come from the AWS chain, never the URL)",
                    redact_userinfo(text)
                );
            }
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if url_scheme(text).is_some() {
            bail!(
                "source `{}` is a URL: give a local folder or file, or s3://BUCKET/PREFIX (with --endpoint for a store other than R2)",
                redact_userinfo(text)
            );
        }
        Ok(SourceSpec::Local(tidy(&base.join(text))))
    }
}

/// The scheme of `text` when it starts like a URL (`scheme://`).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && (scheme.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

impl SourceSpec {
    /// The source as a pipeline file's `[source] location` that works from
    /// any folder: local paths made absolute where they exist; none for a
    /// path that is not UTF-8 (TOML could not hold it as it is).
    pub fn location(&self) -> Option<String> {
        match self {
            SourceSpec::Local(path) => {
                let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                path.to_str().map(String::from)
            }
            s3 => Some(s3.to_string()),
        }
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Local(path) => write!(f, "{}", path.display()),
            SourceSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
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
    /// When it was delivered, where the source can tell.
    pub delivered: Option<Delivered>,
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

    #[test]
    fn a_url_source_is_refused_without_its_password() {
        for text in ["https://u:s3cr3t@host/logs", "s3://u:s3cr3t@bucket/p"] {
            let err = SourceSpec::parse(text, Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("s3cr3t") && err.contains("***@"), "{err}");
        }
    }

    #[test]
    fn s3_source_parses_bucket_and_prefix() {
        let s = SourceSpec::parse("s3://logs/workers/", Path::new("x")).unwrap();
        assert_eq!(
            s,
            SourceSpec::S3 {
                bucket: "logs".into(),
                prefix: "workers".into()
            }
        );
    }
}
