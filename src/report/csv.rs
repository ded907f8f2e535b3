//! CSV for spreadsheets: RFC 4180 (header, CRLF, quotes doubled), `.`
//! decimals, no scientific notation, and text from the data that a
//! spreadsheet would run as a formula neutralised with a leading `'`.

use std::fmt::{self, Write as _};
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::tables::{typed_frame, Cell, Table};
use crate::io::csv::AtomicCsv;

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
enum Field<'a> {
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

impl<'a> From<&'a Cell> for Field<'a> {
    fn from(c: &'a Cell) -> Self {
        match c {
            Cell::Text(s) => Field::Text(Neutralised(s)),
            Cell::Int(v) => Field::Int(*v),
            Cell::Float(v) => Field::Float(*v),
            Cell::Bool(v) => Field::Bool(*v),
            Cell::Null => Field::Null,
        }
    }
}

fn format() -> csv::WriterBuilder {
    let mut format = csv::WriterBuilder::new();
    format.terminator(csv::Terminator::CRLF);
    format
}

/// Writes one record, each field's text made in `scratch`.
fn write_row<'a, W: std::io::Write>(
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

pub fn render(t: &Table) -> String {
    let mut w = format().from_writer(Vec::new());
    let written = (|| -> csv::Result<Vec<u8>> {
        w.write_record(t.columns.iter().map(|(name, _)| name))?;
        let mut scratch = String::new();
        for row in &t.rows {
            write_row(&mut w, &mut scratch, row.iter().map(Field::from))?;
        }
        Ok(w.into_inner().map_err(|e| e.into_error())?)
    })();
    let bytes = written.expect("CSV in memory: no I/O to fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 text")
}

/// A CSV file written from frames, a block of rows at a time, under a
/// temporary name until `commit`: the same text as `render` of
/// `tables::from_frame`, without a cell per field in memory, which the
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tables::Kind;

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
    fn text_is_quoted_and_formulas_neutralised() {
        let t = Table {
            name: "t",
            columns: vec![("a".into(), Kind::Text), ("b,c".into(), Kind::Float)],
            rows: vec![
                vec![Cell::Text("=HYPERLINK(\"x\")".into()), Cell::Float(-1.5)],
                vec![Cell::Text("a,b".into()), Cell::Null],
                vec![Cell::Text("@SUM(A1)".into()), Cell::Float(3.0)],
                vec![Cell::Text("two\nlines".into()), Cell::Int(-7)],
                vec![Cell::Text("plain".into()), Cell::Float(0.25)],
            ],
        };
        assert_eq!(
            render(&t),
            "a,\"b,c\"\r\n\"'=HYPERLINK(\"\"x\"\")\",-1.5\r\n\"a,b\",\r\n'@SUM(A1),3\r\n\"two\nlines\",-7\r\n\
             plain,0.25\r\n"
        );
    }

    #[test]
    fn a_frame_streamed_in_blocks_reads_as_its_table_rendered() {
        let df = df! {
            "id" => ["=1+1", "a,b", "say \"hi\"", "plain"],
            "n" => [Some(1i32), None, Some(-3), Some(4)],
            "x" => [Some(0.1932f64), Some(-0.0), None, Some(1e7)],
            "ok" => [Some(true), Some(false), None, Some(true)],
        }
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut csv = CsvFile::create(&path, &df).unwrap();
        csv.append(&df.slice(0, 3)).unwrap();
        csv.append(&df.slice(3, 1)).unwrap();
        csv.commit().unwrap();
        let table = crate::report::tables::from_frame("t", &df).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&table));
    }
}
