//! A Markdown (GitHub) table: a header, an alignment per column, rows of text.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

impl Align {
    fn rule(self) -> &'static str {
        match self {
            Align::Left => "---|",
            Align::Right => "---:|",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = (S, Align)>) -> Self {
        let (headers, align) = columns.into_iter().map(|(h, a)| (h.into(), a)).unzip();
        Table {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have a cell per column.
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(row.len(), self.headers.len(), "a cell per column");
        self.rows.push(row);
    }

    /// The table's lines, each ending in a newline.
    pub fn render(&self) -> String {
        let mut out = line(&self.headers);
        out.push('|');
        for a in &self.align {
            out.push_str(a.rule());
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

fn line(cells: &[String]) -> String {
    let mut out = String::from("|");
    for cell in cells {
        out.push(' ');
        out.push_str(&escape(cell));
        out.push_str(" |");
    }
    out.push('\n');
    out
}

/// A cell's text on one line, its `|` escaped: either would end the cell
/// (or the row) early. Backslashes are escaped first, so that a `\|` in the
/// text stays text.
fn escape(cell: &str) -> Cow<'_, str> {
    if !cell.contains(['|', '\n', '\r', '\\']) {
        return Cow::Borrowed(cell);
    }
    Cow::Owned(
        cell.replace('\\', "\\\\")
            .replace("\r\n", " ")
            .replace(['\n', '\r'], " ")
            .replace('|', "\\|"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_header_rule_and_rows() {
        let mut t = Table::new([("name", Align::Left), ("n", Align::Right)]);
        t.push(vec!["a".into(), "1".into()]);
        t.push(vec![String::new(), "22".into()]);
        assert_eq!(
            t.render(),
            "| name | n |\n|---|---:|\n| a | 1 |\n|  | 22 |\n"
        );
    }

    #[test]
    fn a_pipe_or_line_break_in_a_cell_stays_in_its_cell() {
        let mut t = Table::new([("a|b", Align::Left)]);
        t.push(vec!["x | y\r\nz\nw".into()]);
        assert_eq!(t.render(), "| a\\|b |\n|---|\n| x \\| y z w |\n");
        let mut t = Table::new([("a\\|b", Align::Left)]);
        t.push(vec!["C:\\x".into()]);
        assert_eq!(t.render(), "| a\\\\\\|b |\n|---|\n| C:\\\\x |\n");
    }

    #[test]
    #[should_panic(expected = "a cell per column")]
    fn a_row_of_the_wrong_width_is_refused() {
        Table::new([("a", Align::Left)]).push(vec![]);
    }
}
