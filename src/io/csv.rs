//! A CSV file written with the `csv` crate under a temporary name in its
//! folder and renamed into place by `commit`: readers see the old file or
//! the whole new one. Dropped without `commit`, it leaves nothing behind.

use std::fs::{self, File};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::mirror::lake::tmp_path;

pub struct AtomicCsv {
    /// `None` once committed.
    writer: Option<csv::Writer<File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicCsv {
    /// Creates the temporary file (and `dest`'s folder), written as `format` says.
    pub fn create(dest: &Path, format: &csv::WriterBuilder) -> Result<Self> {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let tmp = tmp_path(dest);
        let file =
            File::create(&tmp).with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(AtomicCsv {
            writer: Some(format.from_writer(file)),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// Where the file lands on `commit`.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes and syncs the file and renames it into place.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("committed once");
        let done = (|| -> Result<()> {
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            file.sync_data()?;
            Ok(fs::rename(&self.tmp, &self.dest)?)
        })();
        if done.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        done.with_context(|| format!("cannot write {}", self.dest.display()))
    }
}

impl Deref for AtomicCsv {
    type Target = csv::Writer<File>;

    fn deref(&self) -> &Self::Target {
        self.writer.as_ref().expect("written before commit")
    }
}

impl DerefMut for AtomicCsv {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.writer.as_mut().expect("written before commit")
    }
}

impl Drop for AtomicCsv {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `rows` with a header from their field names, in the `csv` crate's
/// default format.
pub fn write_rows<T: Serialize>(dest: &Path, rows: &[T]) -> Result<()> {
    let mut file = AtomicCsv::create(dest, &csv::WriterBuilder::new())?;
    for row in rows {
        file.serialize(row)
            .with_context(|| format!("cannot write {}", dest.display()))?;
    }
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        n: i64,
    }

    fn names(dir: &Path) -> Vec<String> {
        let names = fs::read_dir(dir).unwrap();
        names
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn rows_land_under_their_name_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/t.csv");
        let rows = [Row { name: "a,b", n: 1 }, Row { name: "c", n: -2 }];
        write_rows(&dest, &rows).unwrap();
        let text = fs::read_to_string(&dest).unwrap();
        assert_eq!(text, "name,n\n\"a,b\",1\nc,-2\n");
        assert_eq!(names(dest.parent().unwrap()), ["t.csv"]);
    }

    #[test]
    fn a_file_dropped_before_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut file =
            AtomicCsv::create(&dir.path().join("t.csv"), &csv::WriterBuilder::new()).unwrap();
        file.write_record(["a", "b"]).unwrap();
        file.flush().unwrap();
        assert_eq!(names(dir.path()).len(), 1, "the temporary");
        drop(file);
        assert!(names(dir.path()).is_empty());
    }
}
