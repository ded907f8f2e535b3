//! The lake's manifest: what each source object was when it was read and what
//! it produced. It decides what the next run must read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::core::format::InputFormat;
use crate::io::atomic::AtomicFile;
use crate::lake::delivery::{DeliverySource, Histogram, ObjectDelays};

pub const FILE_NAME: &str = "_manifest.json";

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read; its events are in the lake (some lines may be quarantined).
    Ingested,
    /// Held no lines at all.
    Empty,
    /// Logpush's `{"content":"test"}` object.
    Test,
    /// Not gzip, not JSON, or a corrupt stream: copied whole to the quarantine.
    Quarantined,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    pub size: u64,
    /// ETag for S3 objects, modification time (ns since epoch) for files.
    pub version: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<InputFormat>,
    pub lines: u64,
    pub rows: u64,
    pub test_lines: u64,
    pub rejected_lines: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Lake files (relative to the lake) holding this object's rows.
    pub files: Vec<String>,
    /// Quarantine files (relative to the quarantine folder) for this object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<String>,
    /// wrangler tail's "Tail is currently in sampling mode" notices: events
    /// were dropped before they reached the capture.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sampling_notices: u64,
    /// When the object was delivered (ms since the epoch); none for tail
    /// captures, and in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_source: Option<DeliverySource>,
    /// (delivered − event time) of its lake rows, by event day `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delays: BTreeMap<String, Histogram>,
}

impl Entry {
    /// Its delays, when it has a delivery time.
    pub fn delivery(&self) -> Option<ObjectDelays<'_>> {
        Some(ObjectDelays {
            source: self.delivery_source?,
            delivered_ms: self.delivered_ms?,
            days: &self.delays,
        })
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One path component that is a file name: no separator, not `.` or `..`.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Manifest {
    pub version: u32,
    /// Where the last mirror read from (an absolute folder or file, or
    /// `s3://bucket/prefix`), so that a pipeline drafted from the lake can
    /// mirror it again; never credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Keyed by the object's key relative to the source root or prefix.
    pub objects: BTreeMap<String, Entry>,
}

impl Manifest {
    pub fn path(lake: &Path) -> PathBuf {
        lake.join(FILE_NAME)
    }

    pub fn load(lake: &Path) -> Result<Self> {
        let path = Self::path(lake);
        let unreadable = || {
            format!(
                "manifest {} is unreadable: move it away to rebuild the lake from the source",
                path.display()
            )
        };
        let cannot_read = || format!("cannot read manifest {}", path.display());
        // Read as it is parsed, as it is written (see `save`).
        match std::fs::File::open(&path) {
            Ok(file) => {
                let text = std::io::BufReader::with_capacity(1 << 20, file);
                let manifest: Manifest = serde_json::from_reader(text).map_err(|e| {
                    let context = if e.is_io() {
                        cannot_read()
                    } else {
                        unreadable()
                    };
                    anyhow::Error::from(e).context(context)
                })?;
                manifest.check_paths().context(unreadable())?;
                Ok(manifest)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                version: 1,
                ..Default::default()
            }),
            Err(e) => Err(e).with_context(cannot_read),
        }
    }

    /// Streamed into the file: the text of a large lake's manifest is
    /// larger than the manifest in memory.
    pub fn save(&self, lake: &Path) -> Result<()> {
        let path = Self::path(lake);
        let mut file = AtomicFile::create(&path)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        (serde_json::to_writer_pretty(&mut out, self).map_err(std::io::Error::from))
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        drop(out);
        file.commit()
    }

    /// Every file an entry names stays in its folder: runs remove and
    /// rewrite these files, so a hand-edited or hostile manifest must not
    /// steer them outside the lake or the quarantine.
    fn check_paths(&self) -> Result<()> {
        for (key, entry) in &self.objects {
            let lake_ok = entry.files.iter().all(|f| {
                f.strip_prefix("date=")
                    .and_then(|r| r.split_once('/'))
                    .is_some_and(|(day, name)| {
                        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
                            && plain_name(name)
                    })
            });
            let quarantine_ok = entry.quarantine.iter().all(|f| {
                ["lines/", "objects/"]
                    .iter()
                    .any(|dir| f.strip_prefix(dir).is_some_and(plain_name))
            });
            if !lake_ok || !quarantine_ok {
                anyhow::bail!("the entry of {key:?} names a file outside its folder");
            }
        }
        Ok(())
    }

    /// Whether an object must be (re)read: new, or its size or version changed.
    pub fn is_current(&self, key: &str, size: u64, version: &str) -> bool {
        self.objects
            .get(key)
            .is_some_and(|e| e.size == size && e.version == version)
    }
}
