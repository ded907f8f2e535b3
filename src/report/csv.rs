//! The report's tables as spreadsheet CSV (the format is `io::csv`'s).

use super::tables::{Cell, Table};
use crate::io::csv::{format, write_row, Field, Neutralised};
pub use crate::io::csv::{number, CsvFile};

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

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;
    use crate::report::tables::Kind;

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
