//! CSV for spreadsheets: RFC 4180 (header, CRLF, quotes doubled), `.`
//! decimals, no scientific notation, and text from the data that a
//! spreadsheet would run as a formula neutralised with a leading `'`.

use std::fmt::Write as _;

use super::tables::{Cell, Table};

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
pub fn neutralise(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => quote(&neutralise(s)),
        Cell::Int(v) => v.to_string(),
        Cell::Float(v) => number(*v),
        Cell::Bool(v) => v.to_string(),
        Cell::Null => String::new(),
    }
}

pub fn render(t: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = t.columns.iter().map(|(n, _)| quote(n)).collect();
    let _ = write!(out, "{}\r\n", header.join(","));
    for row in &t.rows {
        let fields: Vec<String> = row.iter().map(cell).collect();
        let _ = write!(out, "{}\r\n", fields.join(","));
    }
    out
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
}
