//! Segment files: the rows of up to [`OBJECTS`] consecutive source objects
//! (in key order) share one Parquet file per event day, instead of one small
//! file per object and day. Logpush writes an object every few minutes, so a
//! file per object meant thousands of files of a few hundred rows: each one
//! created and synced on ingest, opened again by every reader.
//!
//! A segment is committed whole (every file synced, then renamed) before the
//! manifest records any of its objects, and its name and bytes depend only on
//! its objects: after a crash, the rerun cuts the objects still to read into
//! the same segments and writes the same files. (An object the source fails
//! to deliver is left out of its segment and read into another one by the
//! next run: the rows are the same, the files are not.)

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::{col, lit, DataFrame, IntoLazy, ParquetReader, SerReader};

use super::parse::record::NO_MIN_MAX;
use super::source::ObjectRef;
#[cfg(doc)]
use crate::io::atomic::commit_all;
use crate::io::atomic::AtomicFile;
use crate::io::parquet::{write_parquet, ParquetWriter, ROW_GROUP};
use crate::lake::partition_dir;

/// Bytes of text that also end a row group: a few lines just under the
/// line cap would otherwise be held by the tens.
pub const GROUP_BYTES: usize = 32 << 20;
/// Source objects per segment.
pub const OBJECTS: usize = 64;
/// Event days one object, or one part of a segment, may span: each day is a
/// file with its own writer and held rows, so a few kilobytes of lines a
/// day apart each would otherwise take gigabytes. Logpush objects span
/// minutes, captures hours. A segment whose objects span more is cut into parts.
pub const MAX_DAYS: usize = 366;
/// Small frames held before they are written: each costs a few kilobytes
/// of column headers, whatever its rows.
const MAX_HELD_FRAMES: usize = 1024;

/// The segments of a run: consecutive objects in key order.
pub fn cut(mut pending: Vec<ObjectRef>) -> Vec<Vec<ObjectRef>> {
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    pending.chunks(OBJECTS).map(<[ObjectRef]>::to_vec).collect()
}

/// One day's file of a segment: rows are held until they fill a row group.
struct DayFile {
    held: Vec<DataFrame>,
    rows: usize,
    bytes: usize,
    writer: Option<ParquetWriter<AtomicFile>>,
    dest: PathBuf,
}

pub struct Segment {
    lake: PathBuf,
    name: String,
    days: BTreeMap<i32, DayFile>,
    held_frames: usize,
}

impl Segment {
    /// Part `part` of the segment of `objects`; its name depends only on
    /// them and the part, so a rerun writes the same files.
    pub fn new(lake: &Path, objects: &[ObjectRef], part: usize) -> Self {
        let mut keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        let part_name = format!("#part {part}");
        if part > 0 {
            keys.push(&part_name);
        }
        let hash = xxhash_rust::xxh3::xxh3_64(keys.join("\n").as_bytes());
        Segment {
            lake: lake.to_path_buf(),
            name: format!("segment-{hash:016x}.parquet"),
            days: BTreeMap::new(),
            held_frames: 0,
        }
    }

    /// Whether an object's rows (by day) keep the segment within [`MAX_DAYS`].
    pub fn fits(&self, rows: &[(i32, DataFrame)]) -> bool {
        let new = rows
            .iter()
            .filter(|(day, _)| !self.days.contains_key(day))
            .count();
        self.days.len() + new <= MAX_DAYS
    }

    /// The segment's name, which its quarantine file of bad lines shares.
    pub fn stem(&self) -> &str {
        self.name.trim_end_matches(".parquet")
    }

    /// The lake file (relative to the lake) of the segment's rows of `day`.
    pub fn file_of(&self, day: i32) -> String {
        format!("{}/{}", partition_dir(day), self.name)
    }

    /// Adds one object's rows of `day`.
    pub fn append(&mut self, day: i32, rows: DataFrame) -> Result<()> {
        let rel = self.file_of(day);
        let file = self.days.entry(day).or_insert_with(|| {
            let dest = self.lake.join(&rel);
            DayFile {
                held: Vec::new(),
                rows: 0,
                bytes: 0,
                writer: None,
                dest,
            }
        });
        file.rows += rows.height();
        file.bytes += rows.estimated_size();
        file.held.push(rows);
        self.held_frames += 1;
        if file.rows >= ROW_GROUP || file.bytes >= GROUP_BYTES {
            self.held_frames -= file.held.len();
            write_held(file)?;
        }
        if self.held_frames > MAX_HELD_FRAMES {
            for file in self.days.values_mut().filter(|f| !f.held.is_empty()) {
                write_held(file)?;
            }
            self.held_frames = 0;
        }
        Ok(())
    }

    /// Ends every file, unsynced: the caller commits them ([`commit_all`])
    /// before the manifest names any. On error, or dropped, they leave nothing.
    pub fn finish(self) -> Result<Vec<AtomicFile>> {
        let mut done = Vec::with_capacity(self.days.len());
        for mut file in self.days.into_values() {
            if !file.held.is_empty() {
                write_held(&mut file)?;
            }
            let writer = file.writer.take().expect("a day has rows, so a writer");
            let finished = writer.finish();
            done.push(finished.with_context(|| format!("cannot write {}", file.dest.display()))?);
        }
        Ok(done)
    }
}

/// Writes the held rows as one row group.
fn write_held(file: &mut DayFile) -> Result<()> {
    let mut parts = std::mem::take(&mut file.held).into_iter();
    let mut rows = parts.next().expect("rows are held");
    for part in parts {
        rows.vstack_mut_owned(part)?;
    }
    rows.rechunk_mut();
    file.rows = 0;
    file.bytes = 0;
    if file.writer.is_none() {
        let sink = AtomicFile::create(&file.dest)?;
        file.writer = Some(ParquetWriter::lasting(sink, &rows)?.without_min_max(&NO_MIN_MAX));
    }
    file.writer.as_mut().expect("created above").write(&rows)?;
    Ok(())
}

/// Takes the rows of `key` out of a lake file that other objects share (the
/// object changed at its source); removes the file when nothing is left.
pub fn remove_object_rows(lake: &Path, rel: &str, key: &str) -> Result<()> {
    let path = lake.join(rel);
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let all = ParquetReader::new(file)
        .finish()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut rest = all
        .lazy()
        .filter(col("source_object").neq(lit(key)))
        .collect()?;
    if rest.height() == 0 {
        return fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()));
    }
    write_parquet(&mut rest, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str) -> ObjectRef {
        ObjectRef {
            key: key.into(),
            size: 1,
            version: "v".into(),
            delivered: None,
        }
    }

    #[test]
    fn segments_are_consecutive_keys_and_named_by_them() {
        let pending: Vec<ObjectRef> = (0..150).rev().map(|i| obj(&format!("k{i:03}"))).collect();
        let cut = cut(pending);
        assert_eq!(
            cut.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![64, 64, 22]
        );
        assert_eq!(cut[1][0].key, "k064");
        let lake = Path::new("/lake");
        let (a, b) = (
            Segment::new(lake, &cut[0], 0),
            Segment::new(lake, &cut[1], 0),
        );
        assert_ne!(a.file_of(0), b.file_of(0));
        assert_eq!(a.file_of(0), Segment::new(lake, &cut[0], 0).file_of(0));
        assert_ne!(a.file_of(0), Segment::new(lake, &cut[0], 1).file_of(0));
        assert!(a.file_of(20410).starts_with("date=2025-11-18/segment-"));
    }
}
