//! The transform's first pass: every lake file of the window is read,
//! classified line by line and spread over partitions on disk by request key,
//! so that all legs of a request, and every copy of a line delivered twice,
//! land in one partition. The second pass then joins one partition at a time:
//! memory follows the size of a partition, not of the window.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::core::memory;
use crate::io::parquet::ParquetWriter;
use crate::lake::read_lake_file;

/// Bytes of lake files per partition: the join of one partition is the
/// transform's memory peak, so a partition is kept small.
pub const LAKE_BYTES_PER_PARTITION: u64 = 7 << 20;

/// Lines classified between two returns of freed memory to the system: each
/// return costs page faults later, so it is not done per lake file.
const RELEASE_EVERY_LINES: u64 = 100_000;

/// How many partitions a window's lake files need.
pub fn count_for(files: &[String]) -> Result<usize> {
    let mut bytes = 0;
    for path in files {
        bytes += fs::metadata(path)
            .with_context(|| format!("cannot read {path}"))?
            .len();
    }
    Ok(bytes.div_ceil(LAKE_BYTES_PER_PARTITION).max(1) as usize)
}

/// The files of each partition, of classified lines; removed when dropped.
pub struct Partitions {
    dir: PathBuf,
    pub files: Vec<Vec<PathBuf>>,
    /// Lines of the window, duplicates included.
    pub lines: u64,
    /// No lines, the columns of classified lines: the shape of the outputs
    /// when the window holds none.
    pub no_lines: Option<DataFrame>,
}

impl Drop for Partitions {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Row groups whose metadata the open partition files hold, all together:
/// a Parquet writer keeps every row group's metadata until the file ends
/// (~3 KB per column chunk), so a partition starts a new file every few
/// row groups.
const HELD_ROW_GROUPS: usize = 256;

/// What the partitions hold, all together, before they write it: lines,
/// and bytes of them (a lake's lines may be long). Each lake file gives
/// every partition a few of its lines; written as they came, the row
/// groups (and their cost) grew with files x partitions, the square of the
/// window.
const HELD_LINES: usize = 131_072;
const HELD_BYTES: usize = 128 << 20;

/// Lines longer than this on average make a lake file's pieces written at
/// once, not held (a few such pieces would keep whole files resident).
const HELD_LINE_BYTES: usize = 16 << 10;

/// A partition's shares of [`HELD_LINES`], [`HELD_BYTES`] and
/// [`HELD_ROW_GROUPS`]; at least 256 lines per row group, so above 512
/// partitions the lines held grow with them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Share {
    lines: usize,
    bytes: usize,
    row_groups: usize,
}

impl Share {
    fn of(count: usize) -> Share {
        let count = count.max(1);
        Share {
            lines: (HELD_LINES / count).max(256),
            bytes: HELD_BYTES / count,
            row_groups: (HELD_ROW_GROUPS / count).max(1),
        }
    }
}

/// The partition file being written, those already written, and the lines
/// not yet written.
struct Spill {
    partition: usize,
    share: Share,
    open: Option<(ParquetWriter<fs::File>, usize)>,
    files: Vec<PathBuf>,
    held: Vec<DataFrame>,
    held_lines: usize,
    held_bytes: usize,
}

impl Spill {
    fn new(partition: usize, share: Share) -> Self {
        Spill {
            partition,
            share,
            open: None,
            files: Vec::new(),
            held: Vec::new(),
            held_lines: 0,
            held_bytes: 0,
        }
    }

    /// Holds `lines` (about `bytes` in memory); writes what is held once it
    /// is the partition's share.
    fn append(&mut self, dir: &Path, lines: DataFrame, bytes: usize) -> Result<()> {
        self.held_lines += lines.height();
        self.held_bytes = self.held_bytes.saturating_add(bytes);
        self.held.push(lines);
        if self.held_lines >= self.share.lines || self.held_bytes >= self.share.bytes {
            self.write_held(dir)?;
        }
        Ok(())
    }

    /// The held lines, in one chunk; none when nothing is held.
    fn take_held(&mut self) -> Result<Option<DataFrame>> {
        let mut held = std::mem::take(&mut self.held).into_iter();
        (self.held_lines, self.held_bytes) = (0, 0);
        let Some(mut lines) = held.next() else {
            return Ok(None);
        };
        for more in held {
            lines.vstack_mut_owned(more)?;
        }
        lines.rechunk_mut();
        Ok(Some(lines))
    }

    /// The held lines, as one row group.
    fn write_held(&mut self, dir: &Path) -> Result<()> {
        let Some(lines) = self.take_held()? else {
            return Ok(());
        };
        let (writer, groups) = match &mut self.open {
            Some(open) => open,
            None => {
                let path = dir.join(format!(
                    "part-{}-{}.parquet",
                    self.partition,
                    self.files.len()
                ));
                let file = fs::File::create(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                let writer = ParquetWriter::scratch(file, &lines)?;
                self.files.push(path);
                self.open.insert((writer, 0))
            }
        };
        writer.write(&lines)?;
        *groups += 1;
        if *groups == self.share.row_groups {
            self.end_file()?;
        }
        Ok(())
    }

    fn close(&mut self, dir: &Path) -> Result<()> {
        self.write_held(dir)?;
        self.end_file()
    }

    fn end_file(&mut self) -> Result<()> {
        if let Some((writer, _)) = self.open.take() {
            let path = self.files.last().expect("an open file is listed");
            writer
                .finish()
                .map(drop)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The partition of a line: its correlation id, or its own event id when it
/// has none, hashed. Both come from the line's content alone, so copies of a
/// line agree.
fn partition_of(correlation_id: Option<&str>, event_id: Option<&str>, count: usize) -> usize {
    let key = correlation_id.or(event_id).unwrap_or_default();
    (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % count as u64) as usize
}

/// `lines` cut into one piece per partition, each in the lines' order. One
/// gather of the rows sorted by partition, then slices: a gather per
/// partition cost files x partitions calls, the square of the window.
fn split(lines: &DataFrame, count: usize) -> Result<Vec<DataFrame>> {
    let correlation = lines.column("correlation_id")?.str()?;
    let event = lines.column("event_id")?.str()?;
    let of: Vec<usize> = (correlation.iter().zip(event.iter()))
        .map(|(c, e)| partition_of(c, e, count))
        .collect();
    let mut starts = vec![0usize; count + 1];
    for &p in &of {
        starts[p + 1] += 1;
    }
    for p in 0..count {
        starts[p + 1] += starts[p];
    }
    let mut next = starts.clone();
    let mut order: Vec<IdxSize> = vec![0; of.len()];
    for (row, &p) in of.iter().enumerate() {
        order[next[p]] = row as IdxSize;
        next[p] += 1;
    }
    let sorted = lines.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))?;
    Ok((starts.windows(2))
        .map(|w| sorted.slice(w[0] as i64, w[1] - w[0]))
        .collect())
}

/// Reads `columns` of a lake file; those of `optional` it lacks come as
/// nulls of text (older lakes lack columns lifted since).
fn read_columns(path: &str, (columns, optional): (&[&str], &[&str])) -> Result<DataFrame> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    let schema = ParquetReader::new(file)
        .schema()
        .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
    let absent: Vec<&str> = (optional.iter().copied())
        .filter(|c| !schema.contains(c))
        .collect();
    let present: Vec<&str> = (columns.iter().copied())
        .filter(|c| !absent.contains(c))
        .collect();
    let mut rows = read_lake_file(path, &present)?;
    for name in absent {
        let nulls = Column::full_null(name.into(), rows.height(), &DataType::String);
        rows.with_column(nulls)?;
    }
    Ok(rows.select(columns.iter().copied())?)
}

/// Reads `files` (several at once), turns each into classified lines with
/// `classify` and appends them to `count` partition files in `dir`.
/// `columns` are the columns read and, of them, those a file may lack.
pub fn scatter<F>(
    files: &[String],
    columns: (&[&str], &[&str]),
    dir: &Path,
    count: usize,
    classify: F,
) -> Result<Partitions>
where
    F: Fn(DataFrame) -> Result<DataFrame> + Sync,
{
    let _ = fs::remove_dir_all(dir); // left by a run that crashed
    fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut partitions = Partitions {
        dir: dir.to_path_buf(),
        files: vec![Vec::new(); count],
        lines: 0,
        no_lines: None,
    };
    let no_lines = Mutex::new(None);
    let spills: Vec<Mutex<Spill>> = (0..count)
        .map(|partition| Mutex::new(Spill::new(partition, Share::of(count))))
        .collect();
    let read = |path: &String| {
        classify(read_columns(path, columns)?).with_context(|| format!("in {path}"))
    };
    let lines = AtomicU64::new(0);
    let spread = |classified: DataFrame| -> Result<()> {
        no_lines
            .lock()
            .expect("no writer panicked")
            .get_or_insert_with(|| classified.clear());
        let rows = classified.height() as u64;
        let before = lines.fetch_add(rows, Ordering::Relaxed);
        // A held piece keeps its whole file's text buffers resident: pieces
        // of a file of long lines are written at once (as if over the share).
        let line_bytes = classified.estimated_size() / classified.height().max(1);
        let hold = line_bytes <= HELD_LINE_BYTES;
        for (part, spill) in split(&classified, count)?.into_iter().zip(&spills) {
            if part.height() > 0 {
                let bytes = match hold {
                    true => part.height().saturating_mul(line_bytes),
                    false => usize::MAX,
                };
                spill
                    .lock()
                    .expect("no writer panicked")
                    .append(dir, part, bytes)?;
            }
        }
        drop(classified);
        if (before + rows) / RELEASE_EVERY_LINES != before / RELEASE_EVERY_LINES {
            memory::release_freed();
        }
        Ok(())
    };
    each_file_on_threads(files, |path| spread(read(path)?))?;
    for (spill, files) in spills.into_iter().zip(&mut partitions.files) {
        let mut spill = spill.into_inner().expect("no writer panicked");
        spill.close(dir)?;
        *files = spill.files;
    }
    partitions.lines = lines.into_inner();
    partitions.no_lines = no_lines.into_inner().expect("no writer panicked");
    memory::release_freed(); // the writers' row group metadata
    Ok(partitions)
}

/// Runs `work` on every file, one file per thread at a time, on plain
/// threads: in a rayon task, a polars query waiting on its own pool lets the
/// task's thread start other files meanwhile, without bound.
fn each_file_on_threads(
    files: &[String],
    work: impl Fn(&String) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(files.len()))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        work(path)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a partition worker panicked"))
    })
}

/// Every line of one partition, from its files (at least one).
pub fn read(files: &[PathBuf]) -> Result<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for path in files {
        let file =
            fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let lines = ParquetReader::new(file)
            .finish()
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        match &mut all {
            Some(all) => {
                all.vstack_mut_owned(lines)?;
            }
            None => all = Some(lines),
        }
    }
    Ok(all.expect("a partition has files"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_of_a_request_and_copies_of_a_line_share_a_partition() {
        for count in [1, 2, 7] {
            let p = partition_of(Some("74f8"), Some("aaaa"), count);
            assert_eq!(p, partition_of(Some("74f8"), Some("bbbb"), count));
            assert_eq!(p, partition_of(None, Some("74f8"), count));
            assert!(p < count);
        }
        let spread: std::collections::BTreeSet<usize> = (0..100)
            .map(|i| partition_of(Some(&format!("{i:x}")), None, 4))
            .collect();
        assert_eq!(spread.len(), 4, "keys reach every partition");
    }

    #[test]
    fn split_gives_each_partition_its_lines_in_order() {
        let n = 500;
        let correlation: Vec<Option<String>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| format!("req-{}", i % 37)))
            .collect();
        let lines = df!(
            "correlation_id" => correlation.clone(),
            "event_id" => (0..n).map(|i| format!("{i:016x}")).collect::<Vec<_>>(),
            "line" => (0..n as i64).collect::<Vec<_>>(),
        )
        .unwrap();
        for count in [1, 3, 64] {
            let pieces = split(&lines, count).unwrap();
            assert_eq!(pieces.len(), count);
            let mut seen = Vec::new();
            for (p, piece) in pieces.iter().enumerate() {
                let rows: Vec<i64> = (piece.column("line").unwrap().i64().unwrap())
                    .into_no_null_iter()
                    .collect();
                assert!(rows.windows(2).all(|w| w[0] < w[1]), "in the lines' order");
                for &row in &rows {
                    let event = format!("{row:016x}");
                    let key = correlation[row as usize].as_deref();
                    assert_eq!(partition_of(key, Some(&event), count), p);
                }
                seen.extend(rows);
            }
            seen.sort();
            assert_eq!(seen, (0..n as i64).collect::<Vec<_>>(), "every line once");
        }
    }

    /// Pieces are held until a partition has its share of lines, then
    /// written as one row group, a few row groups per file: every line
    /// comes back, in the order it came.
    #[test]
    fn held_pieces_become_row_groups_of_their_share() {
        let dir = tempfile::tempdir().unwrap();
        let share = Share {
            lines: 250,
            bytes: 1_000,
            row_groups: 2,
        };
        let mut spill = Spill::new(3, share);
        for piece in 0..10i64 {
            let values: Vec<i64> = (piece * 100..piece * 100 + 100).collect();
            let lines = df!("line" => values).unwrap();
            // Pieces 6 and 7 are long: their bytes reach the share first.
            let bytes = if piece == 6 || piece == 7 { 600 } else { 10 };
            spill.append(dir.path(), lines, bytes).unwrap();
        }
        spill.close(dir.path()).unwrap();
        let groups = |path: &PathBuf| {
            let mut file = fs::File::open(path).unwrap();
            let meta = polars_parquet::read::read_metadata(&mut file).unwrap();
            meta.row_groups
                .iter()
                .map(|g| g.num_rows())
                .collect::<Vec<_>>()
        };
        let shape: Vec<Vec<usize>> = spill.files.iter().map(groups).collect();
        assert_eq!(shape, [vec![300, 300], vec![200, 200]]);
        let back = read(&spill.files).unwrap();
        let line: Vec<i64> = back
            .column("line")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(line, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn shares_divide_what_is_held_with_floors() {
        let share = |lines, bytes, row_groups| Share {
            lines,
            bytes,
            row_groups,
        };
        assert_eq!(Share::of(1), share(HELD_LINES, HELD_BYTES, HELD_ROW_GROUPS));
        assert_eq!(Share::of(0), Share::of(1));
        assert_eq!(Share::of(32), share(4_096, 4 << 20, 8));
        assert_eq!(Share::of(4_096), share(256, 32 << 10, 1));
    }
}
