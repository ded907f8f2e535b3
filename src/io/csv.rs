//! CSV files: the `csv` crate writing into an [`AtomicFile`], so readers see
//! the old file or the whole new one, and a drop before `commit` leaves nothing.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::atomic::AtomicFile;

pub struct AtomicCsv {
    writer: csv::Writer<AtomicFile>,
}

impl AtomicCsv {
    /// Creates the temporary file (and `dest`'s folder), written as `format` says.
    pub fn create(dest: &Path, format: &csv::WriterBuilder) -> Result<Self> {
        let file = AtomicFile::create(dest)?;
        Ok(AtomicCsv {
            writer: format.from_writer(file),
        })
    }

    /// Where the file lands on `commit`.
    pub fn dest(&self) -> &Path {
        self.writer.get_ref().dest()
    }

    /// Flushes and syncs the file and renames it into place.
    pub fn commit(self) -> Result<()> {
        let dest = self.dest().to_path_buf();
        let file = (self.writer.into_inner()).map_err(|e| e.into_error());
        file.with_context(|| format!("cannot write {}", dest.display()))?
            .commit()
    }
}

impl Deref for AtomicCsv {
    type Target = csv::Writer<AtomicFile>;

    fn deref(&self) -> &Self::Target {
        &self.writer
    }
}

impl DerefMut for AtomicCsv {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.writer
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
    use std::fs;

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
