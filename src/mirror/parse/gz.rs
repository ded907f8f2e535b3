//! Gzip members one after another, stopping at what does not decode instead
//! of failing the object: Logpush objects are one member, concatenated files
//! several, and a copy may end in padding or junk (`zcat` reads such a file,
//! `gzip -t` passes it). What decoded stays; the rest is reported as a tail
//! (its offset in the compressed object and why), for the quarantine.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use flate2::bufread::GzDecoder;

/// Where decoding stopped early, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// Offset of the first byte not decoded, in the compressed object.
    pub offset: u64,
    pub reason: String,
}

/// Counts the bytes consumed from the compressed input.
struct Counted<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.consumed += n as u64;
        self.inner.consume(n);
    }
}

pub struct GzMembers<R> {
    member: Option<GzDecoder<Counted<R>>>,
    /// Where the current member starts.
    start: u64,
    decoded: u64,
    /// Set by the source's reader when the source itself failed: that is
    /// an error to retry, not bad content.
    source_failed: Arc<AtomicBool>,
    tail: Option<Tail>,
}

impl<R: BufRead> GzMembers<R> {
    pub fn new(input: R, source_failed: Arc<AtomicBool>) -> Self {
        let counted = Counted {
            inner: input,
            consumed: 0,
        };
        GzMembers {
            member: Some(GzDecoder::new(counted)),
            start: 0,
            decoded: 0,
            source_failed,
            tail: None,
        }
    }

    /// Where decoding stopped before the end of the input, if it did.
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    /// After a member's end: the next member, the end, or a tail.
    fn next_member(&mut self, done: GzDecoder<Counted<R>>) -> io::Result<()> {
        let mut input = done.into_inner();
        let offset = input.consumed;
        let rest = input.fill_buf()?;
        if rest.is_empty() {
            return Ok(());
        }
        if rest.starts_with(&[0x1f, 0x8b]) {
            self.start = offset;
            self.member = Some(GzDecoder::new(input));
            return Ok(());
        }
        let (zeros, len) = count_rest(&mut input)?;
        let what = if zeros == len {
            "zero bytes (padding)"
        } else {
            "bytes that are not gzip"
        };
        self.tail = Some(Tail {
            offset,
            reason: format!("{len} {what} after the last gzip member, at byte {offset}"),
        });
        Ok(())
    }
}

/// Reads the input to its end: how many bytes are zero, of how many.
fn count_rest(input: &mut impl BufRead) -> io::Result<(u64, u64)> {
    let (mut zeros, mut len) = (0u64, 0u64);
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok((zeros, len));
        }
        zeros += chunk.iter().filter(|&&b| b == 0).count() as u64;
        len += chunk.len() as u64;
        let n = chunk.len();
        input.consume(n);
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(member) = self.member.as_mut() {
            match member.read(buf) {
                Ok(0) if buf.is_empty() => return Ok(0),
                Ok(0) => {
                    let done = self.member.take().expect("a member is open");
                    self.next_member(done)?;
                }
                Ok(n) => {
                    self.decoded += n as u64;
                    return Ok(n);
                }
                Err(e) if self.source_failed.load(Ordering::Relaxed) || self.decoded == 0 => {
                    return Err(e)
                }
                Err(e) => {
                    // Bytes of this member were already handed on: they
                    // stay, and the member is quarantined from its start.
                    self.member = None;
                    self.tail = Some(Tail {
                        offset: self.start,
                        reason: format!(
                            "corrupt gzip member at byte {} ({e}): the lines before it are kept",
                            self.start
                        ),
                    });
                }
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn decode(bytes: &[u8]) -> (io::Result<Vec<u8>>, Option<Tail>) {
        let mut r = GzMembers::new(bytes, Arc::new(AtomicBool::new(false)));
        let mut out = Vec::new();
        let got = r.read_to_end(&mut out).map(|_| out);
        (got, r.tail().cloned())
    }

    #[test]
    fn members_are_read_one_after_another() {
        let mut bytes = gz(b"a\nb\n");
        bytes.extend(gz(b"c\n"));
        let (text, tail) = decode(&bytes);
        assert_eq!(text.unwrap(), b"a\nb\nc\n");
        assert_eq!(tail, None);
    }

    #[test]
    fn padding_and_junk_after_the_last_member_are_a_tail_and_the_text_stays() {
        let one = gz(b"a\nb\n");
        for (extra, what) in [
            (vec![0u8; 512], "zero bytes"),
            (b"junk!".to_vec(), "not gzip"),
        ] {
            let mut bytes = one.clone();
            bytes.extend(&extra);
            let (text, tail) = decode(&bytes);
            assert_eq!(text.unwrap(), b"a\nb\n");
            let tail = tail.unwrap();
            assert_eq!(tail.offset, one.len() as u64);
            assert!(tail.reason.contains(what), "{}", tail.reason);
        }
    }

    #[test]
    fn a_corrupt_second_member_keeps_the_first() {
        let first = gz(b"a\n");
        let mut second = gz(&b"b\n".repeat(1000));
        let mid = second.len() / 2;
        second[mid..mid + 8].fill(0xff);
        let bytes = [first.clone(), second].concat();
        let (text, tail) = decode(&bytes);
        let text = text.unwrap();
        assert!(text.starts_with(b"a\n"), "{text:?}");
        assert_eq!(tail.unwrap().offset, first.len() as u64);
    }

    #[test]
    fn a_stream_that_never_decodes_is_an_error() {
        let mut bytes = gz(b"a\n");
        bytes[10..].fill(0xff);
        assert!(decode(&bytes).0.is_err());
    }
}
