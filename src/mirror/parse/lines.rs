//! Lines of a decompressed object, read in place from the reader's buffer,
//! with a cap on their length: a line longer than the cap is reported by its
//! length and first bytes and never held whole, so one hostile line (a
//! gigabyte of NUL bytes compresses to a megabyte) cannot exhaust memory.

use std::io::{self, BufRead};

/// Bytes kept of an over-long line to show what it was.
pub const HEAD: usize = 256;

/// One line without its `\n`.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Line(&'a [u8]),
    /// Longer than the cap: its length and first [`HEAD`] bytes.
    TooLong {
        len: u64,
        head: &'a [u8],
    },
}

/// Calls `f` with every line and its number (from 1). Only a line that
/// straddles two buffers is copied, and only up to `max` bytes.
pub fn for_each_line(
    text: &mut dyn BufRead,
    max: usize,
    mut f: impl FnMut(u64, Piece) -> io::Result<()>,
) -> io::Result<()> {
    let mut partial = Partial {
        text: Excerpt::default(),
        max,
    };
    let mut line_no = 0;
    loop {
        let chunk = text.fill_buf()?;
        if chunk.is_empty() {
            if partial.text.len > 0 {
                f(line_no + 1, partial.piece())?;
            }
            return Ok(());
        }
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + end];
            line_no += 1;
            if partial.text.len == 0 {
                f(line_no, capped(line, max))?;
            } else {
                partial.extend(line);
                f(line_no, partial.piece())?;
                partial.clear();
            }
            start += end + 1;
        }
        partial.extend(&chunk[start..]);
        let used = chunk.len();
        text.consume(used);
    }
}

fn capped(line: &[u8], max: usize) -> Piece<'_> {
    if line.len() <= max {
        Piece::Line(line)
    } else {
        Piece::TooLong {
            len: line.len() as u64,
            head: &line[..HEAD.min(line.len())],
        }
    }
}

/// Bytes as delivered, whole up to a cap, else the first [`HEAD`] of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Excerpt {
    pub bytes: Vec<u8>,
    /// Length of the whole text; more than `bytes.len()` when cut.
    pub len: u64,
}

impl Excerpt {
    pub fn push(&mut self, part: &[u8], max: usize) {
        self.len += part.len() as u64;
        if self.len <= max as u64 {
            self.bytes.extend_from_slice(part);
        } else {
            let room = HEAD.saturating_sub(self.bytes.len());
            self.bytes.extend_from_slice(&part[..room.min(part.len())]);
            self.bytes.truncate(HEAD);
        }
    }

    pub fn whole(bytes: &[u8]) -> Self {
        Excerpt {
            bytes: bytes.to_vec(),
            len: bytes.len() as u64,
        }
    }
}

/// The start of a line that continues in the next buffer.
struct Partial {
    text: Excerpt,
    max: usize,
}

impl Partial {
    fn extend(&mut self, part: &[u8]) {
        self.text.push(part, self.max);
    }

    fn piece(&self) -> Piece<'_> {
        if self.text.len <= self.max as u64 {
            Piece::Line(&self.text.bytes)
        } else {
            Piece::TooLong {
                len: self.text.len,
                head: &self.text.bytes,
            }
        }
    }

    fn clear(&mut self) {
        self.text.bytes.clear();
        // A buffer grown for a long line is not kept for the next ones.
        self.text.bytes.shrink_to(64 * 1024);
        self.text.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &[u8], capacity: usize, max: usize) -> Vec<(u64, String)> {
        let mut reader = io::BufReader::with_capacity(capacity, text);
        let mut out = Vec::new();
        for_each_line(&mut reader, max, |no, piece| {
            out.push((
                no,
                match piece {
                    Piece::Line(l) => String::from_utf8(l.to_vec()).unwrap(),
                    Piece::TooLong { len, head } => {
                        format!("long {len} {}", String::from_utf8_lossy(head))
                    }
                },
            ));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_are_split_the_same_across_buffer_boundaries() {
        let text = b"a\nbb\r\n\nccc\ndddd\n\neeeee";
        for capacity in 1..=text.len() + 1 {
            let got: Vec<String> = split(text, capacity, 100)
                .into_iter()
                .map(|(_, l)| l)
                .collect();
            assert_eq!(
                got,
                ["a", "bb\r", "", "ccc", "dddd", "", "eeeee"],
                "{capacity}"
            );
        }
    }

    #[test]
    fn a_line_over_the_cap_is_reported_by_length_and_head_in_every_buffering() {
        let long = "x".repeat(HEAD + 50);
        let text = format!("ok\n{long}\nyes\n{long}");
        for capacity in [1, 7, 64, 300, 10_000] {
            let got = split(text.as_bytes(), capacity, HEAD);
            let head = "x".repeat(HEAD);
            let want = [
                (1, "ok".to_string()),
                (2, format!("long {} {head}", HEAD + 50)),
                (3, "yes".into()),
                (4, format!("long {} {head}", HEAD + 50)),
            ];
            assert_eq!(got, want, "{capacity}");
        }
    }

    #[test]
    fn a_gigabyte_line_is_never_held() {
        // A reader that yields 1 GiB of NUL bytes without a newline, then "a".
        struct Zeros(u64, Vec<u8>, bool);
        impl io::Read for Zeros {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                unreachable!()
            }
        }
        impl BufRead for Zeros {
            fn fill_buf(&mut self) -> io::Result<&[u8]> {
                if self.0 > 0 {
                    Ok(&self.1)
                } else if !self.2 {
                    Ok(b"\na")
                } else {
                    Ok(&[])
                }
            }
            fn consume(&mut self, n: usize) {
                if self.0 > 0 {
                    self.0 -= 1;
                } else {
                    assert_eq!(n, 2);
                    self.2 = true;
                }
            }
        }
        let mut zeros = Zeros(1 << 14, vec![0; 1 << 16], false);
        let mut seen = Vec::new();
        for_each_line(&mut zeros, 1 << 20, |no, piece| {
            seen.push(match piece {
                Piece::Line(l) => (no, l.len() as u64, l.to_vec()),
                Piece::TooLong { len, head } => (no, len, head.to_vec()),
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(seen[0], (1, 1 << 30, vec![0; HEAD]));
        assert_eq!(seen[1], (2, 1, b"a".to_vec()));
    }
}
