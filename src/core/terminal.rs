//! What reaches a terminal: text from the input (keys, lines, parser errors
//! quoting them) may hold escape sequences that would drive the terminal.

use std::borrow::Cow;

/// Characters that reorder the text around them (bidirectional overrides
/// and isolates): shown, they would make a line read other than it is.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `text` with every control character escaped (`\u{1b}`, `\n`), so a
/// message is one line and shows what the bytes were; bidirectional
/// controls too.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Columns of the terminal: `COLUMNS` when set, else the size of the
/// terminal on stdout, else 100.
pub fn width() -> usize {
    let given = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok());
    given
        .or_else(stdout_columns)
        .filter(|&w: &usize| w >= 20)
        .unwrap_or(100)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn stdout_columns() -> Option<usize> {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn stdout_columns() -> Option<usize> {
    None
}

/// `text` cut at spaces into lines of at most `width` columns (a longer
/// word stays whole), every line after the first indented by `indent` spaces.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let words = text.trim_start_matches(' ');
    let mut line = " ".repeat(text.len() - words.len());
    let mut out = String::new();
    let mut fresh = true;
    for word in words.split(' ') {
        if !fresh && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// `text` within `width` columns: cut with `…` when longer.
pub fn cut(text: &str, width: usize) -> String {
    match text.chars().count() > width {
        true => (text.chars().take(width.saturating_sub(1)).chain(['…'])).collect(),
        false => text.to_string(),
    }
}

/// An aligned text table within `width` columns: the widest text columns
/// (those not `right`-aligned) give up characters first, each cell cut with
/// `…`, down to its header's width; cells are made printable.
pub fn fit_table(headers: &[&str], right: &[bool], rows: &[Vec<String>], width: usize) -> String {
    let len = |s: &str| s.chars().count();
    let rows: Vec<Vec<String>> = (rows.iter())
        .map(|r| r.iter().map(|c| printable(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| len(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(len(cell));
        }
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while total(&widths) > width {
        let widest = (0..widths.len())
            .filter(|&i| !right[i] && widths[i] > len(headers[i]).max(4))
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    let cell = |text: &str, i: usize| {
        let text = cut(text, widths[i]);
        match right[i] {
            true => format!("{text:>w$}", w = widths[i]),
            false => format!("{text:<w$}", w = widths[i]),
        }
    };
    let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string() + "\n";
    let mut out = line(
        headers
            .iter()
            .enumerate()
            .map(|(i, h)| cell(h, i))
            .collect(),
    );
    for row in &rows {
        out += &line(row.iter().enumerate().map(|(i, c)| cell(c, i)).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrapped_text_keeps_to_its_width_and_indents() {
        let text = "current (179 requests): fetch-executor 100%, origin-do-on-fetch-result 99%";
        let out = super::wrap(text, 30, 4);
        assert_eq!(
            out,
            "current (179 requests):\n    fetch-executor 100%,\n    origin-do-on-fetch-result\n    99%\n"
        );
        assert_eq!(super::wrap("short", 30, 4), "short\n");
        assert_eq!(super::wrap("  two words", 8, 4), "  two\n    words\n");
    }

    #[test]
    fn a_table_fits_its_width_by_cutting_text_columns() {
        let rows = vec![
            vec!["a-very-long-script-name".to_string(), "12345".to_string()],
            vec!["short".to_string(), "7".to_string()],
        ];
        let out = super::fit_table(&["script", "legs"], &[false, true], &rows, 16);
        for line in out.lines() {
            assert!(line.chars().count() <= 16, "{line:?}");
        }
        assert!(out.contains("a-very-l…  12345"), "{out}");
        assert!(out.contains("short          7"), "{out}");
        let wide = super::fit_table(&["script", "legs"], &[false, true], &rows, 100);
        assert!(wide.contains("a-very-long-script-name  12345"), "{wide}");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(super::printable("plain é ⛅️"), "plain é ⛅️");
        assert_eq!(
            super::printable("a\u{1b}[31mred\nb\u{7}"),
            "a\\u{1b}[31mred\\nb\\u{7}"
        );
        assert_eq!(super::printable("ab\u{202e}cd"), "ab\\u{202e}cd");
    }
}
