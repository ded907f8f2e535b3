//! CSV for spreadsheets: RFC 4180 (header, CRLF, quotes doubled), `.`
//! decimals, no scientific notation, and text from the data that a
//! spreadsheet would run as a formula neutralised with a leading `'`.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use super::tables::{typed_frame, Cell, Table};
use crate::io::atomic::tmp_path;

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

/// Keeps a spreadsheet from evaluating text that starts like a formula.
fn needs_neutralising(text: &str) -> bool {
    matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// Appends a text field, quoted when it must be; text from the data is
/// neutralised first.
fn push_text(out: &mut String, text: &str, from_data: bool) {
    let prefix = if from_data && needs_neutralising(text) {
        "'"
    } else {
        ""
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(prefix);
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(prefix);
        out.push_str(text);
    }
}

/// A field to write, borrowed from a table's cell or a frame's column.
enum Field<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

fn push_field(out: &mut String, f: Field) {
    match f {
        Field::Text(s) => push_text(out, s, true),
        Field::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Field::Float(v) => out.push_str(&number(v)),
        Field::Bool(v) => {
            let _ = write!(out, "{v}");
        }
        Field::Null => {}
    }
}

fn push_cell(out: &mut String, c: &Cell) {
    push_field(
        out,
        match c {
            Cell::Text(s) => Field::Text(s),
            Cell::Int(v) => Field::Int(*v),
            Cell::Float(v) => Field::Float(*v),
            Cell::Bool(v) => Field::Bool(*v),
            Cell::Null => Field::Null,
        },
    );
}

fn push_header<'a>(out: &mut String, names: impl Iterator<Item = &'a str>) {
    for (i, name) in names.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_text(out, name, false);
    }
    out.push_str("\r\n");
}

pub fn render(t: &Table) -> String {
    let mut out = String::with_capacity(64 * (t.rows.len() + 1) * t.columns.len().max(1));
    push_header(&mut out, t.columns.iter().map(|(name, _)| name.as_str()));
    for row in &t.rows {
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_cell(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

/// A CSV file written from frames, a block of rows at a time, under a
/// temporary name until `commit`: the same text as `render` of
/// `tables::from_frame`, without a cell per field in memory (the requests
/// table at 4x the benchmark archive took 1 GB that way).
pub struct CsvFile {
    file: BufWriter<fs::File>,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl CsvFile {
    /// Creates the file with the header of `like`'s columns.
    pub fn create(dest: &Path, like: &DataFrame) -> Result<Self> {
        let tmp = tmp_path(dest);
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot write {}", dest.display()))?;
        let mut csv = CsvFile {
            file: BufWriter::new(file),
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        let mut header = String::new();
        push_header(
            &mut header,
            like.get_column_names().into_iter().map(|n| n.as_str()),
        );
        csv.write(&header)?;
        Ok(csv)
    }

    fn write(&mut self, text: &str) -> Result<()> {
        self.file
            .write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", self.dest.display()))
    }

    /// Appends the rows of `df`.
    pub fn append(&mut self, df: &DataFrame) -> Result<()> {
        let df = typed_frame(df)?;
        let mut fields = df
            .columns()
            .iter()
            .map(|c| -> PolarsResult<Box<dyn Iterator<Item = Field> + '_>> {
                Ok(match c.dtype() {
                    DataType::Boolean => {
                        Box::new(c.bool()?.iter().map(|v| v.map_or(Field::Null, Field::Bool)))
                    }
                    DataType::Float64 => {
                        Box::new(c.f64()?.iter().map(|v| v.map_or(Field::Null, Field::Float)))
                    }
                    DataType::Int64 => {
                        Box::new(c.i64()?.iter().map(|v| v.map_or(Field::Null, Field::Int)))
                    }
                    _ => Box::new(c.str()?.iter().map(|v| v.map_or(Field::Null, Field::Text))),
                })
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let mut out = String::with_capacity(1 << 17);
        for _ in 0..df.height() {
            for (i, column) in fields.iter_mut().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_field(&mut out, column.next().expect("columns of one frame"));
            }
            out.push_str("\r\n");
            if out.len() >= 1 << 16 {
                self.write(&out)?;
                out.clear();
            }
        }
        self.write(&out)
    }

    pub fn commit(mut self) -> Result<()> {
        self.committed = true;
        let done = (|| -> std::io::Result<()> {
            self.file.flush()?;
            self.file.get_ref().sync_data()?;
            fs::rename(&self.tmp, &self.dest)
        })();
        if done.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        done.with_context(|| format!("cannot write {}", self.dest.display()))
    }
}

impl Drop for CsvFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
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
    fn text_is_quoted_and_formulas_neutralised() {
        let t = Table {
            name: "t",
            columns: vec![("a".into(), Kind::Text), ("b".into(), Kind::Float)],
            rows: vec![
                vec![Cell::Text("=HYPERLINK(\"x\")".into()), Cell::Float(-1.5)],
                vec![Cell::Text("a,b".into()), Cell::Null],
                vec![Cell::Text("@SUM(A1)".into()), Cell::Float(3.0)],
                vec![Cell::Text("plain".into()), Cell::Float(0.25)],
            ],
        };
        assert_eq!(
            render(&t),
            "a,b\r\n\"'=HYPERLINK(\"\"x\"\")\",-1.5\r\n\"a,b\",\r\n'@SUM(A1),3\r\nplain,0.25\r\n"
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
