use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

/// A lock on the lake: one mirror writes it at a time (exclusive), and
/// nothing reads it while a mirror writes (shared). Also one transform at a
/// time per output folder. Held until dropped; the operating system
/// releases it when the process dies, even by `kill -9`.
pub struct LakeLock(#[allow(dead_code)] fs::File);

impl LakeLock {
    pub fn exclusive(lake: &Path) -> Result<Self> {
        Self::take(lake, false, || {
            format!(
            "lake {} is in use by another tracecost process (a mirror writing it, or a transform reading it); wait for it to finish",
            lake.display()
        )
        })
    }

    pub fn shared(lake: &Path) -> Result<Self> {
        if !lake.is_dir() {
            anyhow::bail!(
                "the lake {} does not exist: mirror into it first, e.g. `tracecost mirror --source DIR_OR_S3 --lake {}`",
                lake.display(),
                lake.display()
            );
        }
        Self::take(lake, true, || {
            format!(
            "lake {} is being written by a running `tracecost mirror`; wait for it to finish, then run this again",
            lake.display()
        )
        })
    }

    /// A step's own output folder (`_derived/<name>/`): one writer at a time.
    pub fn outputs(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Self::take(dir, false, || {
            format!(
                "{} is being written by another tracecost transform; wait for it to finish",
                dir.display()
            )
        })
    }

    fn take(dir: &Path, shared: bool, busy: impl Fn() -> String) -> Result<Self> {
        let path = dir.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let taken = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match taken {
            Ok(()) => Ok(LakeLock(file)),
            Err(_) => Err(anyhow::anyhow!(busy())),
        }
    }
}
