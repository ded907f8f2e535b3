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

fn push_cell(out: &mut String, c: &Cell) {
    match c {
        Cell::Text(s) => push_text(out, s, true),
        Cell::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Float(v) => out.push_str(&number(*v)),
        Cell::Bool(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Null => {}
    }
}

pub fn render(t: &Table) -> String {
    let mut out = String::with_capacity(64 * (t.rows.len() + 1) * t.columns.len().max(1));
    for (i, (name, _)) in t.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_text(&mut out, name, false);
    }
    out.push_str("\r\n");
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
