//! The quarantine file of bad lines that the objects of a segment share
//! (`lines/<segment>.jsonl`, one JSON record per line naming its object).
//!
//! One file per segment, not per object: an archive with scattered bad lines
//! would otherwise create hundreds of small files. The file is written as the objects are read, rolled
//! back to where an object started if that object is not recorded after all,
//! and committed with the segment's lake files.

use std::fs;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::io::atomic::{write_atomic, AtomicFile};

pub struct Rejects {
    rel: String,
    dest: PathBuf,
    file: Option<BufWriter<AtomicFile>>,
    len: u64,
}

impl Rejects {
    /// The file `lines/<name>.jsonl` of the quarantine; nothing is created
    /// until the first record.
    pub fn new(quarantine: &Path, name: &str) -> Self {
        let rel = format!("lines/{name}.jsonl");
        Rejects {
            dest: quarantine.join(&rel),
            rel,
            file: None,
            len: 0,
        }
    }

    /// The file's path relative to the quarantine, as the manifest names it.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// Bytes written so far: an object's records start here.
    pub fn written(&self) -> u64 {
        self.len
    }

    pub fn write(&mut self, record: &str) -> io::Result<()> {
        if self.file.is_none() {
            let file = AtomicFile::create(&self.dest).map_err(io::Error::other)?;
            self.file = Some(BufWriter::new(file));
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(record.as_bytes())?;
        file.write_all(b"\n")?;
        self.len += record.len() as u64 + 1;
        Ok(())
    }

    /// Drops the records written after `len` (those of an object that is not
    /// recorded after all).
    pub fn rollback(&mut self, len: u64) -> io::Result<()> {
        if len == self.len {
            return Ok(());
        }
        let file = self.file.as_mut().expect("records were written");
        file.flush()?;
        file.get_mut().file().set_len(len)?;
        file.get_mut().file().seek(SeekFrom::Start(len))?;
        self.len = len;
        Ok(())
    }

    /// The file, written but not synced, for the caller to commit with
    /// others (`commit_all`); `None` when it holds no record (then it is
    /// removed). Dropped uncommitted, it leaves nothing.
    pub fn finish(self) -> Result<Option<AtomicFile>> {
        let Some(file) = self.file.filter(|_| self.len > 0) else {
            return Ok(None);
        };
        let file = file.into_inner().map_err(|e| e.into_error());
        Ok(Some(file.with_context(|| {
            format!("cannot write {}", self.dest.display())
        })?))
    }
}

/// Takes the records of `key` out of a quarantine file other objects share
/// (the object changed at its source); removes the file when nothing is left.
pub fn remove_object_lines(quarantine: &Path, rel: &str, key: &str) -> Result<()> {
    let path = quarantine.join(rel);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let rest: String = text
        .lines()
        .filter(|line| {
            let record = serde_json::from_str::<serde_json::Value>(line);
            record.map_or(true, |r| r["object"] != key)
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    if rest.is_empty() {
        return fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()));
    }
    write_atomic(&path, rest.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(object: &str, line: u64) -> String {
        serde_json::json!({"object": object, "line": line, "error": "e", "text": "t"}).to_string()
    }

    #[test]
    fn an_object_rolled_back_leaves_no_record_and_shared_files_lose_only_its_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut rejects = Rejects::new(dir.path(), "segment-1");
        rejects.write(&record("a", 1)).unwrap();
        let b_starts = rejects.written();
        rejects.write(&record("b", 2)).unwrap();
        rejects.rollback(b_starts).unwrap();
        rejects.write(&record("c", 3)).unwrap();
        rejects.finish().unwrap().unwrap().commit().unwrap();
        let path = dir.path().join("lines/segment-1.jsonl");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n{}\n", record("a", 1), record("c", 3))
        );

        remove_object_lines(dir.path(), "lines/segment-1.jsonl", "a").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", record("c", 3))
        );
        remove_object_lines(dir.path(), "lines/segment-1.jsonl", "c").unwrap();
        assert!(!path.exists());

        let mut empty = Rejects::new(dir.path(), "segment-2");
        empty.write(&record("d", 1)).unwrap();
        empty.rollback(0).unwrap();
        assert!(empty.finish().unwrap().is_none());
        assert_eq!(fs::read_dir(dir.path().join("lines")).unwrap().count(), 0);
    }
}
