//! The window's requests in time order without holding them all: each
//! partition's requests, already sorted, are spilled to a scratch file (a
//! run), and the runs are merged a row group at a time. Memory follows the
//! number of partitions and the size of a row group, not the window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::io::parquet::{AtomicParquet, ParquetWriter, ROW_GROUP};

/// Rows per row group of a run: what the merge holds of each partition...
const RUN_GROUP: usize = 4_096;

/// ...unless the runs are many (above 64): rows held of all runs at once,
/// so that the merge's memory does not grow with the partitions (up to
/// 1,024 of them: each run holds at least 256 rows).
const MERGE_ROWS: usize = 262_144;

/// The order requests are written in; `aggregate` sorts each partition by it.
pub use crate::lake::derived::REQUEST_ORDER as ORDER;

/// Sorted runs of requests, one scratch file per partition; removed when dropped.
pub struct Runs {
    dir: PathBuf,
    files: Vec<(PathBuf, usize)>,
    run_group: usize,
    out_group: usize,
}

impl Runs {
    /// For up to `partitions` runs.
    pub fn new(dir: &Path, partitions: usize) -> Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
        Ok(Runs {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            run_group: (MERGE_ROWS / partitions.max(1)).clamp(256, RUN_GROUP),
            // Gathered a row group of the output at a time.
            out_group: ROW_GROUP,
        })
    }

    /// Spills one partition's requests, sorted by [`ORDER`].
    pub fn push(&mut self, requests: &DataFrame) -> Result<()> {
        if requests.height() == 0 {
            return Ok(());
        }
        let path = self
            .dir
            .join(format!("requests-{}.parquet", self.files.len()));
        let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
        let file = fs::File::create(&path).map_err(|e| failed(e.into()))?;
        let mut writer = ParquetWriter::scratch(file, requests).map_err(failed)?;
        for start in (0..requests.height()).step_by(self.run_group) {
            let mut group = requests.slice(start as i64, self.run_group);
            group.rechunk_mut();
            writer.write(&group).map_err(failed)?;
        }
        writer.finish().map_err(failed)?;
        self.files.push((path, requests.height()));
        Ok(())
    }

    /// Appends every run's rows to `out` in [`ORDER`].
    pub fn merge_into(&self, out: &mut AtomicParquet) -> Result<()> {
        let mut cursors = (self.files.iter())
            .map(|(path, rows)| Cursor::open(path, *rows, self.run_group))
            .collect::<Result<Vec<_>>>()?;
        let mut heap = BinaryHeap::new();
        for (run, cursor) in cursors.iter().enumerate() {
            if let Some(key) = cursor.key()? {
                heap.push(Reverse((key, run)));
            }
        }
        let mut pending = Gather::default();
        while let Some(Reverse((_, run))) = heap.pop() {
            let cursor = &mut cursors[run];
            pending.pick(cursor);
            if cursor.advance(&mut pending)? {
                let key = cursor.key()?.expect("a row after advance");
                heap.push(Reverse((key, run)));
            }
            if pending.picks.len() == self.out_group || heap.is_empty() {
                for cursor in &mut cursors {
                    pending.cut(cursor);
                }
                out.write(&mut pending.take()?)?;
            }
        }
        Ok(())
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        for (path, _) in &self.files {
            let _ = fs::remove_file(path);
        }
    }
}

/// A request's place in [`ORDER`]; `None` sorts first, as polars puts nulls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key(Option<i64>, Option<String>);

/// Where the merge is in one run: its current row group and row.
struct Cursor {
    path: PathBuf,
    rows: usize,
    group_rows: usize,
    /// Row of the run at which `group` starts.
    group_start: usize,
    group: DataFrame,
    row: usize,
    /// Start of the rows of `group` picked but not yet cut off (see [`Gather`]).
    picked_from: usize,
    /// The piece of the output gather they will form.
    piece: Option<usize>,
}

impl Cursor {
    fn open(path: &Path, rows: usize, group_rows: usize) -> Result<Self> {
        let mut cursor = Cursor {
            path: path.to_path_buf(),
            rows,
            group_rows,
            group_start: 0,
            group: DataFrame::empty(),
            row: 0,
            picked_from: 0,
            piece: None,
        };
        cursor.load()?;
        Ok(cursor)
    }

    fn load(&mut self) -> Result<()> {
        let file = fs::File::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        self.group = ParquetReader::new(file)
            .with_slice(Some((self.group_start, self.group_rows)))
            .finish()
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.path.display()))?;
        self.row = 0;
        self.picked_from = 0;
        Ok(())
    }

    /// The current row's key; `None` when the run is done.
    fn key(&self) -> Result<Option<Key>> {
        if self.group_start + self.row >= self.rows {
            return Ok(None);
        }
        let time = self.group.column(ORDER[0])?.i64()?.get(self.row);
        let id = self.group.column(ORDER[1])?.str()?.get(self.row);
        Ok(Some(Key(time, id.map(String::from))))
    }

    /// Moves past the picked row; false when the run is done.
    fn advance(&mut self, pending: &mut Gather) -> Result<bool> {
        self.row += 1;
        if self.group_start + self.row >= self.rows {
            return Ok(false);
        }
        if self.row == self.group.height() {
            pending.cut(self);
            self.group_start += self.row;
            self.load()?;
        }
        Ok(true)
    }
}

/// Rows picked for the next output row group: contiguous pieces of the
/// runs' row groups (slices, not copies) and, in output order, which piece
/// and row each comes from.
#[derive(Default)]
struct Gather {
    pieces: Vec<Option<DataFrame>>,
    picks: Vec<(usize, IdxSize)>,
}

impl Gather {
    fn pick(&mut self, cursor: &mut Cursor) {
        let piece = *cursor.piece.get_or_insert_with(|| {
            self.pieces.push(None);
            self.pieces.len() - 1
        });
        let offset = (cursor.row - cursor.picked_from) as IdxSize;
        self.picks.push((piece, offset));
    }

    /// Closes the cursor's open piece at its current row.
    fn cut(&mut self, cursor: &mut Cursor) {
        if let Some(piece) = cursor.piece.take() {
            let len = cursor.row - cursor.picked_from;
            self.pieces[piece] = Some(cursor.group.slice(cursor.picked_from as i64, len));
        }
        cursor.picked_from = cursor.row;
    }

    /// The picked rows in output order; empties the gather.
    fn take(&mut self) -> Result<DataFrame> {
        let pieces: Vec<DataFrame> = (self.pieces.drain(..))
            .map(|p| p.expect("every piece is cut before the gather"))
            .collect();
        let mut starts = Vec::with_capacity(pieces.len());
        let mut all = DataFrame::empty();
        for piece in &pieces {
            starts.push(all.height() as IdxSize);
            if all.width() == 0 {
                all = piece.clone();
            } else {
                all.vstack_mut(piece)?;
            }
        }
        let order: Vec<IdxSize> = (self.picks.drain(..))
            .map(|(piece, offset)| starts[piece] + offset)
            .collect();
        Ok(all.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Rng;

    #[test]
    fn runs_hold_a_share_of_the_merge_rows() {
        let dir = tempfile::tempdir().unwrap();
        let group = |partitions| Runs::new(dir.path(), partitions).unwrap().run_group;
        assert_eq!([group(0), group(1), group(64)], [RUN_GROUP; 3]);
        assert_eq!(group(115), MERGE_ROWS / 115);
        assert_eq!([group(1_024), group(4_096)], [256, 256]);
    }

    /// Sorted runs of random requests (times repeat across runs, some are
    /// null), merged with row groups small enough that every boundary is
    /// crossed, come out as polars sorts their concatenation.
    #[test]
    fn merged_runs_are_the_sorted_concatenation() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(7);
        let mut runs = Runs::new(&dir.path().join("runs"), 1).unwrap();
        (runs.run_group, runs.out_group) = (7, 16);
        let mut all: Option<DataFrame> = None;
        for (run, rows) in [0usize, 1, 37, 100, 250, 7].into_iter().enumerate() {
            let time: Vec<Option<i64>> = (0..rows)
                .map(|_| (!rng.chance(0.05)).then(|| rng.range(0..40)))
                .collect();
            let id: Vec<String> = (0..rows)
                .map(|i| format!("{:04x}-{run}", i * 31 % 1009))
                .collect();
            let payload: Vec<u64> = (0..rows).map(|i| (run * 1000 + i) as u64).collect();
            let df = df!(ORDER[0] => time, ORDER[1] => id, "payload" => payload)
                .unwrap()
                .sort(ORDER, SortMultipleOptions::default())
                .unwrap();
            runs.push(&df).unwrap();
            match &mut all {
                Some(all) => all.vstack_mut(&df).map(drop).unwrap(),
                None => all = Some(df),
            }
        }
        let all = all.unwrap();
        let out = dir.path().join("requests.parquet");
        let mut file = AtomicParquet::create(&out, &all).unwrap();
        runs.merge_into(&mut file).unwrap();
        file.commit().unwrap();
        let merged = ParquetReader::new(fs::File::open(&out).unwrap())
            .finish()
            .unwrap();
        let expected = all.sort(ORDER, SortMultipleOptions::default()).unwrap();
        assert_eq!(merged.height(), 395);
        assert!(merged.equals_missing(&expected), "{merged}\n{expected}");
        drop(runs);
        assert_eq!(
            fs::read_dir(dir.path().join("runs")).unwrap().count(),
            0,
            "runs removed"
        );
    }
}
