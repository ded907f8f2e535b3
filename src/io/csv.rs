//! CSV files: the `csv` crate writing into an [`AtomicFile`], so readers see
//! the old file or the whole new one, and a drop before `commit` leaves nothing.
//! Tables for people are spreadsheet CSV: RFC 4180 (header, CRLF, quotes
//! doubled), `.` decimals, no scientific notation, and text from the data that
//! a spreadsheet would run as a formula neutralised with a leading `'`.

use std::fmt::{self, Write as _};
use std::ops::{Deref, DerefMut};
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
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

/// Up to 6 decimals, trailing zeros dropped: `1035.033333`, `0.1932`, `42`.
pub fn number(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Text from the data, written with a leading `'` when it starts like a
/// formula, so that a spreadsheet shows it instead of running it.
pub struct Neutralised<'a>(pub &'a str);

impl fmt::Display for Neutralised<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if matches!(
            self.0.chars().next(),
            Some('=' | '+' | '-' | '@' | '\t' | '\r')
        ) {
            f.write_char('\'')?;
        }
        f.write_str(self.0)
    }
}

/// A field to write, borrowed from a table's cell or a frame's column.
pub enum Field<'a> {
    Text(Neutralised<'a>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Field::Text(s) => s.fmt(f),
            Field::Int(v) => v.fmt(f),
            Field::Float(v) => f.write_str(&number(*v)),
            Field::Bool(v) => v.fmt(f),
            Field::Null => Ok(()),
        }
    }
}

/// RFC 4180 with CRLF line ends, as spreadsheets expect.
pub fn format() -> csv::WriterBuilder {
    let mut format = csv::WriterBuilder::new();
    format.terminator(csv::Terminator::CRLF);
    format
}

/// Writes one record, each field's text made in `scratch`.
pub fn write_row<'a, W: std::io::Write>(
    w: &mut csv::Writer<W>,
    scratch: &mut String,
    fields: impl IntoIterator<Item = Field<'a>>,
) -> csv::Result<()> {
    for field in fields {
        scratch.clear();
        let _ = write!(scratch, "{field}");
        w.write_field(scratch.as_bytes())?;
    }
    w.write_record(None::<&[u8]>)
}

/// A CSV file written from frames, a block of rows at a time, under a
/// temporary name until `commit`: the same text as `render` of
/// `report::tables::from_frame`, without a cell per field in memory, which the
/// requests table of a large archive would not fit in.
pub struct CsvFile {
    file: AtomicCsv,
    scratch: String,
}

impl CsvFile {
    /// Creates the file with the header of `like`'s columns.
    pub fn create(dest: &Path, like: &DataFrame) -> Result<Self> {
        let mut file = AtomicCsv::create(dest, &format())?;
        file.write_record(like.get_column_names().into_iter().map(|n| n.as_str()))
            .with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(CsvFile {
            file,
            scratch: String::new(),
        })
    }

    /// Appends the rows of `df`.
    pub fn append(&mut self, df: &DataFrame) -> Result<()> {
        let df = typed_frame(df)?;
        let mut columns = df
            .columns()
            .iter()
            .map(fields)
            .collect::<PolarsResult<Vec<_>>>()?;
        for _ in 0..df.height() {
            let row = columns
                .iter_mut()
                .map(|c| c.next().expect("columns of one frame"));
            write_row(&mut self.file, &mut self.scratch, row)
                .with_context(|| format!("cannot write {}", self.file.dest().display()))?;
        }
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        self.file.commit()
    }
}

/// A typed column's values as fields.
fn fields(c: &Column) -> PolarsResult<Box<dyn Iterator<Item = Field<'_>> + '_>> {
    Ok(match c.dtype() {
        DataType::Boolean => Box::new(c.bool()?.iter().map(|v| v.map_or(Field::Null, Field::Bool))),
        DataType::Float64 => Box::new(c.f64()?.iter().map(|v| v.map_or(Field::Null, Field::Float))),
        DataType::Int64 => Box::new(c.i64()?.iter().map(|v| v.map_or(Field::Null, Field::Int))),
        _ => Box::new(
            c.str()?
                .iter()
                .map(|v| v.map_or(Field::Null, |s| Field::Text(Neutralised(s)))),
        ),
    })
}

/// Columns cast to the four types a CSV field is written from: booleans,
/// floats, integers (as i64) and text (everything else).
pub fn typed_frame(df: &DataFrame) -> PolarsResult<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| {
            let s = c.as_materialized_series();
            let kind = match s.dtype() {
                DataType::Boolean => DataType::Boolean,
                DataType::Float32 | DataType::Float64 => DataType::Float64,
                d if d.is_integer() => DataType::Int64,
                _ => DataType::String,
            };
            Ok(s.cast(&kind)?.into_column())
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(df.height(), columns)
}

/// Writes a frame whole as a spreadsheet CSV (see [`CsvFile`]).
pub fn write_frame(dest: &Path, df: &DataFrame) -> Result<()> {
    let mut file = CsvFile::create(dest, df)?;
    file.append(df)?;
    file.commit()
}

/// A CSV log appended a record at a time, each flushed and synced, so a
/// killed writer loses at most the record it was writing; a torn last line
/// (no line end) is cut off when the log is opened again.
pub struct Appender {
    path: std::path::PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl Appender {
    /// Opens `path` for appending; a new (or empty) file gets `header`.
    pub fn open(path: &Path, header: &[&str]) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        cut_torn_tail(&file).with_context(|| format!("cannot repair {}", path.display()))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let mut appender = Appender {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new().from_writer(file),
        };
        if empty {
            appender.append(header)?;
        }
        Ok(appender)
    }

    pub fn append<S: AsRef<[u8]>>(&mut self, fields: &[S]) -> Result<()> {
        let written = (self
            .writer
            .write_record(fields)
            .map_err(std::io::Error::from))
        .and_then(|()| self.writer.flush())
        .and_then(|()| self.writer.get_ref().sync_data());
        written.with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

/// Truncates a file after its last line end: what a kill during a write left.
fn cut_torn_tail(file: &std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut reader = file;
    let tail = len.min(64 * 1024);
    reader.seek(SeekFrom::Start(len - tail))?;
    let mut buf = Vec::with_capacity(tail as usize);
    reader.take(tail).read_to_end(&mut buf)?;
    if buf.last() == Some(&b'\n') {
        return Ok(());
    }
    let keep = match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => len - tail + i as u64 + 1,
        None if tail == len => 0,
        None => return Ok(()),
    };
    file.set_len(keep)
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

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(number(1035.0333333333), "1035.033333");
        assert_eq!(number(0.1932), "0.1932");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(1.5e-7), "0");
        assert_eq!(number(12_345_678.9), "12345678.9");
        assert_eq!(number(-0.0000001), "0");
        assert_eq!(number(-2.5), "-2.5");
    }

    #[test]
    fn formulas_are_neutralised_and_other_text_kept() {
        for (text, shown) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=1", "a=1"),
            ("", ""),
        ] {
            assert_eq!(Neutralised(text).to_string(), shown);
        }
    }

    #[test]
    fn an_appender_writes_the_header_once_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let mut log = Appender::open(&path, &["a", "b"]).unwrap();
        log.append(&["1", "x,y"]).unwrap();
        drop(log);
        let mut torn = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut torn, b"2,par").unwrap();
        let mut log = Appender::open(&path, &["a", "b"]).unwrap();
        log.append(&["3", "z"]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a,b\n1,\"x,y\"\n3,z\n");
    }
}
