//! The Parquet writer of every file tracecost writes, built on
//! `polars-parquet`'s page-level API (pinned in Cargo.toml): it chooses each
//! column's encoding itself and reuses one Snappy encoder per file, which
//! polars' own `ParquetWriter` does not allow (measurements in bench/NOTES.md).
//!
//! Moving to a newer polars: the calls into `polars_parquet::write`
//! (`FileWriter`, `array_to_columns`, `compress`, `Page`/`CompressedPage`) are
//! all in this file; `tests/parquet.rs` (every column type, each way of
//! writing, read back by polars and pyarrow) and the DuckDB test of the lake
//! check the result.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

#[cfg(doc)]
use super::atomic::commit_all;
use super::atomic::AtomicFile;

/// Rows per Parquet row group, in the lake and every output; it also bounds
/// the rows a step holds at once (per date on ingest, per block on read).
pub const ROW_GROUP: usize = 50_000;

/// Writes a frame as a Parquet file, atomically, with the lake's encodings.
pub fn write_parquet(df: &mut DataFrame, dest: &Path) -> Result<()> {
    let mut file = AtomicParquet::create(dest, df)?;
    file.write(df)?;
    file.commit()
}

/// A Parquet file written through an [`AtomicFile`]: readers see the old
/// file or the whole new one, and a drop before `commit` leaves nothing.
pub struct AtomicParquet {
    writer: ParquetWriter<AtomicFile>,
    dest: PathBuf,
}

impl AtomicParquet {
    /// Columns and types come from `like`.
    pub fn create(dest: &Path, like: &DataFrame) -> Result<Self> {
        let file = AtomicFile::create(dest)?;
        let writer = ParquetWriter::lasting(file, like)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))?;
        Ok(AtomicParquet {
            writer,
            dest: dest.to_path_buf(),
        })
    }

    /// Appends `df` in row groups of `ROW_GROUP` rows.
    pub fn write(&mut self, df: &mut DataFrame) -> Result<()> {
        df.rechunk_mut_par();
        for start in (0..df.height()).step_by(ROW_GROUP) {
            (self.writer)
                .write_parallel(&df.slice(start as i64, ROW_GROUP))
                .map_err(|e| self.failed(e))?;
        }
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        self.finish()?.commit()
    }

    /// Ends the Parquet file; the caller commits it, with others ([`commit_all`]).
    pub fn finish(self) -> Result<AtomicFile> {
        let dest = self.dest;
        (self.writer.finish()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))
    }

    fn failed(&self, e: PolarsError) -> anyhow::Error {
        anyhow::anyhow!("cannot write {}: {e}", self.dest.display())
    }
}

/// The Parquet writer of the lake (and of the steps after it), over any sink. Columns are written
/// plain, or as a dictionary when text has few distinct values (see
/// [`encode_column`]), instead of polars' estimate of each column's
/// cardinality for every row group. Snappy: the fastest ingest of Snappy, LZ4
/// and zstd, and every Parquet reader supports it.
pub struct ParquetWriter<W: Write> {
    writer: polars_parquet::write::FileWriter<io::BufWriter<W>>,
    /// Per column: compression and statistics (see `without_min_max`).
    options: Vec<polars_parquet::write::WriteOptions>,
    snappy: PageCompressor,
}

/// Snappy for the pages of one file with one encoder and one scratch buffer:
/// polars' compressor makes a new encoder (a zeroed hash table) and zeroes a
/// worst-case output buffer for every page.
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

impl<W: Write> ParquetWriter<W> {
    /// For a file that stays: Snappy and statistics.
    pub fn lasting(sink: W, like: &DataFrame) -> PolarsResult<Self> {
        Self::open(sink, like, true)
    }

    /// For a file a step writes for itself and reads back once: no
    /// compression (Snappy's time is not paid back) and no statistics
    /// (nothing prunes by them).
    pub fn scratch(sink: W, like: &DataFrame) -> PolarsResult<Self> {
        Self::open(sink, like, false)
    }

    fn open(sink: W, like: &DataFrame, lasting: bool) -> PolarsResult<Self> {
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
        // A step may hold a scratch writer per partition open at once.
        let buffer = if lasting { 1 << 20 } else { 64 << 10 };
        let file = io::BufWriter::with_capacity(buffer, sink);
        let options = vec![file_options; schema.len()];
        let writer = FileWriter::try_new(file, schema, file_options)?;
        Ok(ParquetWriter {
            writer,
            options,
            snappy: PageCompressor {
                encoder: snap::raw::Encoder::new(),
                scratch: Vec::new(),
            },
        })
    }

    /// Leaves out the min/max statistics of these columns (null counts stay):
    /// the bounds of JSON documents, log text or hashes prune nothing.
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
    /// on otherwise idle cores; not for the mirror, which writes several
    /// segments at once and would hold every page of a row group.
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

    /// Ends the file and hands back the sink (an [`AtomicFile`] to commit,
    /// or a scratch file read back by the same process).
    pub fn finish(mut self) -> PolarsResult<W> {
        self.writer.end(None)?;
        let buffered = self.writer.into_inner();
        Ok(buffered.into_inner().map_err(|e| e.into_error())?)
    }
}

/// Distinct values up to which a text column chunk is written as a
/// dictionary and indices: names, types, outcomes and versions repeat on
/// every row (a few distinct values per row group), and written plain they
/// are most of what Snappy must compress.
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

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

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
}
