//! The lake's manifest: what each source object was when it was read and what
//! it produced. It decides what the next run must read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::lake::write_atomic;

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
    pub format: Option<String>,
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
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Manifest {
    pub version: u32,
    /// Keyed by the object's key relative to the source root or prefix.
    pub objects: BTreeMap<String, Entry>,
}

impl Manifest {
    pub fn path(lake: &Path) -> PathBuf {
        lake.join(FILE_NAME)
    }

    pub fn load(lake: &Path) -> Result<Self> {
        let path = Self::path(lake);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "manifest {} is unreadable: move it away to rebuild the lake from the source",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                version: 1,
                ..Default::default()
            }),
            Err(e) => Err(e).with_context(|| format!("cannot read manifest {}", path.display())),
        }
    }

    pub fn save(&self, lake: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        write_atomic(&Self::path(lake), &bytes)
    }

    /// Whether an object must be (re)read: new, or its size or version changed.
    pub fn is_current(&self, key: &str, size: u64, version: &str) -> bool {
        self.objects
            .get(key)
            .is_some_and(|e| e.size == size && e.version == version)
    }
}
