//! Lake layout: atomic file writes, and the scans that read the lake back.
//!
//! ```text
//! <lake>/date=YYYY-MM-DD/segment-<hash>.parquet       rows of up to 64 objects of a run (segment.rs)
//! <lake>/date=YYYY-MM-DD/<object>-<keyhash>.parquet   an object with more than a row group on a date
//! <lake>/_manifest.json                               what each source object produced
//! <lake>/_derived/                                    outputs of later steps
//! <lake>/_quarantine/                                 bad lines and objects (default place)
//! ```
//! Names starting with `_` or `.` are skipped by pyarrow/pandas dataset readers.
//! Every file is written under a temporary name in its final folder and
//! renamed into place, so a reader never sees a partial file and an
//! interrupted run leaves only temporaries, which the next run removes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::config::Window;

/// Marks a temporary file: `.<name>.tmp-<pid>-<thread>`. It starts with `.`
/// and does not end in `.parquet`, so no reader's glob (`date=*/*.parquet`)
/// and no pyarrow dataset sees it.
const TMP_MARK: &str = ".tmp-";

/// Whether a file name is one of [`tmp_path`]'s temporaries.
pub fn is_tmp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TMP_MARK)
}

/// Whether the mirror could have written a file of this name (or its
/// temporary): a stem and a 16-hex-digit hash, then one of its suffixes
/// (`.parquet`, `.jsonl`, `.object`, `.tail`, `.reason.json`). The sweep
/// removes only such files, so a lake or quarantine pointed at a folder
/// that holds other things never loses them.
pub fn is_mirror_name(name: &str) -> bool {
    let name = match name.strip_prefix('.').and_then(|n| n.split_once(TMP_MARK)) {
        Some((inner, _)) => inner,
        None => name,
    };
    let suffixes = [
        ".parquet",
        ".jsonl",
        ".object",
        ".tail",
        ".reason.json",
        ".tail.reason.json",
    ];
    suffixes.iter().any(|suffix| {
        name.strip_suffix(suffix)
            .and_then(|stem| stem.rsplit_once('-'))
            .is_some_and(|(head, hash)| {
                !head.is_empty()
                    && hash.len() == 16
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            })
    }) || name == super::manifest::FILE_NAME
}

/// File-system-safe name for a source object: a readable stem plus a hash of
/// the whole key, so no key (`..`, `/`, absolute paths) can steer a write.
pub fn object_stem(key: &str) -> String {
    let base = key.rsplit('/').next().unwrap_or(key);
    let base = base
        .strip_suffix(".gz")
        .unwrap_or(base)
        .trim_end_matches(".log")
        .trim_end_matches(".json");
    let mut stem: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if stem.is_empty() {
        stem.push_str("object");
    }
    format!("{stem}-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
}

/// `date=YYYY-MM-DD` for days since the epoch. Rows reach the lake only
/// within `limits::event_time_in_range`, so the date is always valid.
pub fn partition_dir(epoch_day: i32) -> String {
    let date = chrono::NaiveDate::from_num_days_from_ce_opt(epoch_day.saturating_add(719_163))
        .expect("event dates are checked against crate::limits");
    format!("date={}", date.format("%Y-%m-%d"))
}

/// A temporary path next to `dest`, unique per process and thread.
pub fn tmp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tid = format!("{:?}", std::thread::current().id());
    let tid: String = tid.chars().filter(char::is_ascii_digit).collect();
    dest.with_file_name(format!(".{name}{TMP_MARK}{}-{tid}", std::process::id()))
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    let tmp = tmp_path(dest);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", dest.display()))
}

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

/// Rows per Parquet row group, in the lake and every output; it also bounds
/// the rows a step holds at once (per date on ingest, per block on read).
pub const ROW_GROUP: usize = 50_000;

/// Writes a frame as a Parquet file, atomically, with the lake's encodings.
pub fn write_parquet(df: &mut DataFrame, dest: &Path) -> Result<()> {
    let mut file = AtomicParquet::create(dest, df)?;
    file.write(df)?;
    file.commit()
}

/// A Parquet file written under a temporary name in its folder and renamed
/// into place by `commit`: readers see the old file or the whole new one.
/// Dropped without `commit`, it leaves nothing behind.
pub struct AtomicParquet {
    writer: Option<LakeFileWriter>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicParquet {
    /// Columns and types come from `like`.
    pub fn create(dest: &Path, like: &DataFrame) -> Result<Self> {
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let tmp = tmp_path(dest);
        let writer = LakeFileWriter::create(&tmp, like)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))?;
        Ok(AtomicParquet {
            writer: Some(writer),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// Appends `df` in row groups of `ROW_GROUP` rows.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        df.rechunk_mut_par();
        let writer = self.writer.as_mut().expect("written before commit");
        for start in (0..df.height()).step_by(ROW_GROUP) {
            writer
                .write_parallel(&df.slice(start as i64, ROW_GROUP))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.dest.display()))?;
        }
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("committed once");
        let done = writer
            .finish()
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(fs::rename(&self.tmp, &self.dest)?));
        if done.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        done.with_context(|| format!("cannot write {}", self.dest.display()))
    }
}

impl Drop for AtomicParquet {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A Parquet file of the lake (and of the steps after it). Columns are written
/// plain, or as a dictionary when text has few distinct values (see
/// [`encode_column`]): polars would otherwise estimate each column's
/// cardinality (HyperLogLog) for every row group to choose, which cost more
/// than a quarter of the ingest CPU for an archive of small Logpush objects.
/// Snappy: measured on a 300 MB archive, ingest took 3.7 s with it, 4.3 s
/// with LZ4 and 5.5 s with zstd, for a lake 1.3x the size of zstd's; every
/// Parquet reader supports it.
pub struct LakeFileWriter {
    writer: polars_parquet::write::FileWriter<io::BufWriter<File>>,
    /// Per column: compression and statistics (see `without_min_max`).
    options: Vec<polars_parquet::write::WriteOptions>,
    snappy: PageCompressor,
}

/// Snappy for the pages of one file with one encoder and one scratch buffer:
/// polars' compressor makes a new encoder (a zeroed hash table) and zeroes a
/// worst-case output buffer for every page, ~3% of the ingest.
struct PageCompressor {
    encoder: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl PageCompressor {
    fn compress(
        &mut self,
        page: polars_parquet::write::Page,
    ) -> PolarsResult<polars_parquet::write::CompressedPage> {
        use polars_parquet::parquet::compression::Compression;
        use polars_parquet::parquet::page::DataPageHeader;
        use polars_parquet::parquet::CowBuffer;
        use polars_parquet::write::{
            compress, CompressedDataPage, CompressedPage, CompressionOptions, Page,
        };
        let page = match page {
            Page::Data(page) => page,
            dict => return Ok(compress(dict, vec![], CompressionOptions::Snappy)?),
        };
        let header = page.header().clone();
        let levels = match &header {
            DataPageHeader::V1(_) => 0,
            DataPageHeader::V2(v2) => {
                (v2.repetition_levels_byte_length + v2.definition_levels_byte_length) as usize
            }
        };
        let buffer = page.buffer();
        let body = &buffer[levels..];
        let bound = snap::raw::max_compress_len(body.len());
        if self.scratch.len() < bound {
            self.scratch.resize(bound, 0);
        }
        let len = (self.encoder.compress(body, &mut self.scratch))
            .map_err(|e| PolarsError::ComputeError(format!("snappy: {e}").into()))?;
        let mut compressed = Vec::with_capacity(levels + len);
        compressed.extend_from_slice(&buffer[..levels]);
        compressed.extend_from_slice(&self.scratch[..len]);
        let uncompressed = buffer.len();
        let rows = page.num_rows.unwrap_or_default();
        Ok(CompressedPage::Data(CompressedDataPage::new(
            header,
            CowBuffer::Owned(compressed),
            Compression::Snappy,
            uncompressed,
            page.descriptor,
            rows,
        )))
    }
}

impl LakeFileWriter {
    pub fn create(path: &Path, like: &DataFrame) -> PolarsResult<Self> {
        Self::open(path, like, true)
    }

    /// For a file a step writes for itself and reads back once: no
    /// compression (Snappy's time is not paid back) and no statistics
    /// (nothing prunes by them; without them the transform took 7% less time).
    pub fn scratch(path: &Path, like: &DataFrame) -> PolarsResult<Self> {
        Self::open(path, like, false)
    }

    fn open(path: &Path, like: &DataFrame, lasting: bool) -> PolarsResult<Self> {
        use polars_parquet::write::{
            CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions,
        };
        let schema = like.schema().to_arrow(CompatLevel::newest());
        let file_options = WriteOptions {
            statistics: if lasting {
                StatisticsOptions::default()
            } else {
                StatisticsOptions::empty()
            },
            version: Version::V2,
            compression: if lasting {
                CompressionOptions::Snappy
            } else {
                CompressionOptions::Uncompressed
            },
            data_page_size: None,
        };
        let file = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
        let options = vec![file_options; schema.len()];
        let writer = FileWriter::try_new(file, schema, file_options)?;
        Ok(LakeFileWriter {
            writer,
            options,
            snappy: PageCompressor {
                encoder: snap::raw::Encoder::new(),
                scratch: Vec::new(),
            },
        })
    }

    /// Leaves out the min/max statistics of these columns (null counts stay):
    /// the bounds of JSON documents, log text or hashes prune nothing, and
    /// computing them cost ~3% of the ingest.
    pub fn without_min_max(mut self, columns: &[&str]) -> Self {
        let names = self.writer.schema().iter_names();
        for (options, name) in self.options.iter_mut().zip(names) {
            if columns.contains(&name.as_str()) {
                options.statistics.min_value = false;
                options.statistics.max_value = false;
            }
        }
        self
    }

    /// One row group per chunk of `df`, a column at a time.
    pub fn write(&mut self, df: &DataFrame) -> PolarsResult<()> {
        use polars_parquet::write::{compress, CompressionOptions};
        let fields = self.writer.parquet_schema().fields().to_vec();
        for batch in df.iter_chunks(CompatLevel::newest(), false) {
            let rows = batch.len() as u64;
            let mut columns = Vec::with_capacity(fields.len());
            for ((array, field), options) in batch
                .into_arrays()
                .into_iter()
                .zip(&fields)
                .zip(&self.options)
            {
                for pages in encode_column(array, field, *options)? {
                    let compressed = pages.into_iter().map(|page| match options.compression {
                        CompressionOptions::Snappy => self.snappy.compress(page?),
                        other => Ok(compress(page?, vec![], other)?),
                    });
                    columns.push(compressed.collect::<PolarsResult<Vec<_>>>()?);
                }
            }
            self.write_group(rows, &columns)?;
        }
        Ok(())
    }

    /// Like `write`, but a row group's columns are encoded and compressed at
    /// once (one task per column), then written in order: for one large frame
    /// on otherwise idle cores. The mirror, which writes several segments at
    /// once, gained nothing from it and held every page of a row group.
    pub fn write_parallel(&mut self, df: &DataFrame) -> PolarsResult<()> {
        use polars_parquet::write::{compress, CompressedPage, ParquetType, WriteOptions};
        let fields = self.writer.parquet_schema().fields().to_vec();
        let encode = |((array, field), options): ((&ArrayRef, &ParquetType), &WriteOptions)| {
            encode_column(array.clone(), field, *options)?
                .into_iter()
                .map(|pages| {
                    pages
                        .map(|page| Ok(compress(page?, vec![], options.compression)?))
                        .collect::<PolarsResult<Vec<CompressedPage>>>()
                })
                .collect::<PolarsResult<Vec<_>>>()
        };
        for batch in df.iter_chunks(CompatLevel::newest(), false) {
            if batch.is_empty() {
                continue;
            }
            let columns: Vec<Vec<Vec<CompressedPage>>> = (batch.columns().par_iter())
                .zip(fields.par_iter())
                .zip(self.options.par_iter())
                .map(encode)
                .collect::<PolarsResult<_>>()?;
            let columns: Vec<_> = columns.into_iter().flatten().collect();
            self.write_group(batch.len() as u64, &columns)?;
        }
        Ok(())
    }

    /// Writes a row group of compressed column chunks, in schema order.
    fn write_group(
        &mut self,
        rows: u64,
        columns: &[Vec<polars_parquet::write::CompressedPage>],
    ) -> PolarsResult<()> {
        use polars_parquet::write::{
            fallible_streaming_iterator::convert, DynIter, DynStreamingIterator,
        };
        let group = DynIter::new(columns.iter().map(|pages| {
            Ok(DynStreamingIterator::new(convert(
                pages.iter().map(PolarsResult::Ok),
            )))
        }));
        self.writer.write(rows, group)
    }

    /// Ends the file and waits until its bytes are on disk.
    pub fn finish(self) -> PolarsResult<()> {
        self.end()?.sync_data()?;
        Ok(())
    }

    /// Ends a scratch file, read back by the same process and never after a
    /// crash: its bytes need not reach the disk.
    pub fn finish_scratch(self) -> PolarsResult<()> {
        self.end().map(drop)
    }

    fn end(mut self) -> PolarsResult<File> {
        self.writer.end(None)?;
        let file = self.writer.into_inner();
        Ok(file.into_inner().map_err(|e| e.into_error())?)
    }
}

/// Distinct values up to which a text column chunk is written as a
/// dictionary and indices: names, types, outcomes and versions repeat on
/// every row (a few distinct values per row group), and their plain bytes
/// were a third of what Snappy compressed on ingest.
const DICTIONARY_VALUES: usize = 64;

/// A column's pages: text with few distinct values as a dictionary (see
/// [`DICTIONARY_VALUES`]), anything else plain.
fn encode_column(
    array: ArrayRef,
    field: &polars_parquet::write::ParquetType,
    options: polars_parquet::write::WriteOptions,
) -> PolarsResult<
    Vec<polars_parquet::write::DynIter<'static, PolarsResult<polars_parquet::write::Page>>>,
> {
    use polars_arrow::array::Utf8ViewArray;
    use polars_parquet::write::{array_to_columns, Encoding};
    let text = array.as_any().downcast_ref::<Utf8ViewArray>();
    match text.and_then(|text| dictionary_of(text, DICTIONARY_VALUES)) {
        Some(dictionary) => array_to_columns(
            dictionary.boxed(),
            field.clone(),
            options,
            &[Encoding::RleDictionary],
        ),
        None => array_to_columns(array, field.clone(), options, &[Encoding::Plain]),
    }
}

/// `text` as indices into its distinct values (in order of first appearance),
/// or `None` when it holds more than `limit` of them (or nothing but nulls).
/// Equal values are found by their views: a string of at most 12 bytes is
/// all in its view, a longer one is compared when length and prefix match.
fn dictionary_of(
    text: &polars_arrow::array::Utf8ViewArray,
    limit: usize,
) -> Option<polars_arrow::array::DictionaryArray<u32>> {
    use polars_arrow::array::{
        Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray, View,
    };
    use polars_arrow::datatypes::{ArrowDataType, IntegerType};
    let buffers = text.data_buffers();
    let same = |a: &View, b: &View| {
        a.as_u128() == b.as_u128()
            || (a.length > View::MAX_INLINE_SIZE
                && a.length == b.length
                && a.prefix == b.prefix
                // SAFETY: the views are the array's own, over its own buffers.
                && unsafe { a.get_slice_unchecked(buffers) == b.get_slice_unchecked(buffers) })
    };
    // Each distinct value's view and first row.
    let mut distinct: Vec<(View, usize)> = Vec::new();
    let mut keys: Vec<u32> = Vec::with_capacity(text.len());
    // Rows tend to repeat the row before (one object's source, one script's run).
    let mut last: Option<(View, u32)> = None;
    for (row, view) in text.views().iter().enumerate() {
        if text.is_null(row) {
            keys.push(0);
            continue;
        }
        let key = match last {
            Some((previous, key)) if same(&previous, view) => key,
            _ => {
                let key = match distinct.iter().position(|(d, _)| same(d, view)) {
                    Some(key) => key,
                    None if distinct.len() == limit => return None,
                    None => {
                        distinct.push((*view, row));
                        distinct.len() - 1
                    }
                } as u32;
                last = Some((*view, key));
                key
            }
        };
        keys.push(key);
    }
    if distinct.is_empty() {
        return None;
    }
    let mut values = MutableBinaryViewArray::<str>::with_capacity(distinct.len());
    for (_, row) in &distinct {
        values.push_value(text.value(*row));
    }
    let values: Utf8ViewArray = values.freeze();
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), text.validity().cloned());
    let dtype =
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(text.dtype().clone()), false);
    DictionaryArray::try_new(dtype, keys, values.boxed()).ok()
}

/// Lake files that the manifest owns and whose `date=` partition can hold
/// events of the window. Only owned files: a killed mirror leaves files no
/// entry names, which its rerun removes or rewrites.
pub fn lake_files(lake_dir: &Path, window: &Window) -> Result<Vec<String>> {
    let manifest = super::manifest::Manifest::load(lake_dir)?;
    let owned: std::collections::BTreeSet<&str> = manifest
        .objects
        .values()
        .flat_map(|e| e.files.iter().map(String::as_str))
        .collect();
    let mut files = Vec::new();
    for rel in owned {
        let Some((day, _)) = rel.strip_prefix("date=").and_then(|r| r.split_once('/')) else {
            continue;
        };
        let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
            continue;
        };
        if window.may_hold_day(day) {
            files.push(lake_dir.join(rel).to_string_lossy().into_owned());
        }
    }
    Ok(files)
}

/// Whether a lake row's event time is inside the window.
pub fn in_window(window: &Window) -> Expr {
    let time = || col("EventTimestampMs");
    let from = window.from.map(|f| time().gt_eq(lit(f.timestamp_millis())));
    let to = window.to.map(|t| time().lt(lit(t.timestamp_millis())));
    [from, to].into_iter().flatten().fold(lit(true), Expr::and)
}

/// Every lake row of the window's partitions, lazily; `None` when there are none.
pub fn scan_lake(lake_dir: &Path, window: &Window) -> Result<Option<LazyFrame>> {
    let files = lake_files(lake_dir, window)?;
    if files.is_empty() {
        return Ok(None);
    }
    let paths: Vec<PlRefPath> = files.iter().map(|f| PlRefPath::new(f.as_str())).collect();
    let lf = LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
        .map_err(|e| anyhow::anyhow!("cannot read the lake {}: {e}", lake_dir.display()))?;
    Ok(Some(lf))
}

/// `columns` of one lake file, read eagerly on the calling thread: a step
/// reads many small files one task each, which is several times faster than a
/// lazy scan's per-file setup.
pub fn read_lake_file(path: &str, columns: &[&str]) -> Result<DataFrame> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    ParquetReader::new(file)
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .read_parallel(ParallelStrategy::None)
        .finish()
        .map_err(|e| {
            anyhow::anyhow!("cannot read {path}: {e}; remove it and run `tracecost mirror` again")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_the_mirror_writes_are_its_own() {
        let stem = object_stem("20251118/x.log.gz");
        let ours = [
            "segment-00ff00ff00ff00ff.parquet".to_string(),
            format!("{stem}.parquet"),
            format!("{stem}.object"),
            format!("{stem}.tail.reason.json"),
            "segment-00ff00ff00ff00ff.jsonl".into(),
            tmp_path(Path::new("segment-00ff00ff00ff00ff.parquet"))
                .to_string_lossy()
                .into_owned(),
            "._manifest.json.tmp-1-2".into(),
        ];
        for name in &ours {
            assert!(is_mirror_name(name), "{name}");
        }
        for name in [
            "notes.txt",
            "a.parquet",
            "x-123.parquet",
            "keep-00FF00FF00FF00FF.parquet",
            ".draft.tmp-1",
            "-00ff00ff00ff00ff.parquet",
        ] {
            assert!(!is_mirror_name(name), "{name}");
        }
    }

    #[test]
    fn hostile_keys_stay_inside_the_lake() {
        for key in ["../../etc/passwd", "/abs/x.log.gz", "a/../../b", "..", ""] {
            let stem = object_stem(key);
            assert!(
                !stem.contains('/') && !stem.contains(".."),
                "{key} -> {stem}"
            );
            assert!(!stem.is_empty());
        }
        assert_ne!(object_stem("a/x.log.gz"), object_stem("b/x.log.gz"));
        assert!(
            object_stem("20251118/20251118T204500Z_20251118T205000Z_1a2b.log.gz")
                .starts_with("20251118T204500Z_20251118T205000Z_1a2b-")
        );
    }

    #[test]
    fn text_with_few_values_becomes_a_dictionary_of_the_same_rows() {
        use polars_arrow::array::Utf8ViewArray;
        // Long values that share length and prefix, short (inline) ones, nulls.
        let values = [
            Some("experiment-origin-a"),
            Some("experiment-origin-b"),
            None,
            Some("ok"),
            Some("experiment-origin-a"),
            Some("ok"),
            Some(""),
            None,
            Some("experiment-origin-b"),
        ];
        let text = Utf8ViewArray::from_slice(values);
        let dictionary = dictionary_of(&text, 4).expect("4 distinct values");
        let keys = dictionary.keys();
        let distinct = dictionary.values();
        let distinct = distinct.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        assert_eq!(distinct.len(), 4);
        let decoded: Vec<Option<&str>> = (0..keys.len())
            .map(|i| keys.get(i).map(|k| distinct.value(k as usize)))
            .collect();
        assert_eq!(decoded, values);

        assert!(dictionary_of(&text, 3).is_none(), "over the limit");
        assert!(dictionary_of(&Utf8ViewArray::from_slice([None::<&str>, None]), 4).is_none());
    }

    #[test]
    fn files_with_dictionaries_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let n = 1000;
        let mut df = df!(
            "few" => (0..n).map(|i| (i % 3 != 0).then(|| ["do", "worker"][i % 2])).collect::<Vec<_>>(),
            "many" => (0..n).map(|i| format!("request-{i:08}")).collect::<Vec<_>>(),
            "number" => (0..n as i64).collect::<Vec<_>>(),
        )
        .unwrap();
        write_parquet(&mut df, &path).unwrap();
        let back = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert!(back.equals_missing(&df));
        let meta = polars_parquet::read::read_metadata(&mut File::open(&path).unwrap()).unwrap();
        let with_dictionary = |name: &str| {
            let mut chunks = meta.row_groups[0].columns_under_root_iter(name).unwrap();
            chunks.next().unwrap().dictionary_page_offset().is_some()
        };
        assert!(with_dictionary("few"));
        assert!(!with_dictionary("many") && !with_dictionary("number"));
    }

    #[test]
    fn partition_names_follow_the_utc_day() {
        assert_eq!(partition_dir(0), "date=1970-01-01");
        assert_eq!(partition_dir(20410), "date=2025-11-18");
    }
}
