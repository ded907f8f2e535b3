//! What reaches a terminal: text from the input (keys, lines, parser errors
//! quoting them) may hold escape sequences that would drive the terminal.

use std::borrow::Cow;

/// `text` with every control character escaped (`\u{1b}`, `\n`), so a
/// message is one line and shows what the bytes were.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(super::printable("plain é ⛅️"), "plain é ⛅️");
        assert_eq!(
            super::printable("a\u{1b}[31mred\nb\u{7}"),
            "a\\u{1b}[31mred\\nb\\u{7}"
        );
    }
}
