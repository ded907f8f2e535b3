//! A small gzip object inflated in one call (libdeflate), its text then
//! parsed in place: no streaming state, no copy into a read buffer. Only
//! when every byte of the object is gzip members that decode cleanly and the
//! text fits in [`MAX_TEXT`]; anything else (trailing junk, a corrupt member,
//! a larger object) goes to the streaming decoder (`gz.rs`), which keeps what
//! decodes and reports the rest exactly as before.

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE as NO_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS as SUCCESS,
};

/// Largest compressed object read whole (a Logpush object is a few KB to a
/// few MB gzipped).
pub const MAX_GZIP: usize = 4 << 20;
/// Largest text inflated whole: per mirror thread, the buffer holding it
/// stays allocated for the next object.
pub const MAX_TEXT: usize = 32 << 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// libdeflate's decompressor (~32 KB of tables), one per thread.
struct Decompressor(NonNull<libdeflate_decompressor>);

enum Member {
    /// Bytes of input read and of text written.
    Done(usize, usize),
    TooSmall,
    Bad,
}

impl Decompressor {
    fn new() -> Self {
        // SAFETY: no preconditions; a null return (out of memory) is checked.
        let p = unsafe { libdeflate_alloc_decompressor() };
        Decompressor(NonNull::new(p).expect("libdeflate: out of memory for a decompressor"))
    }

    /// The first gzip member of `input` into `out`.
    fn member(&mut self, input: &[u8], out: &mut [u8]) -> Member {
        let (mut read, mut written) = (0usize, 0usize);
        // SAFETY: the pointers and lengths come from live slices, which
        // libdeflate reads and writes only within; the decompressor is ours
        // alone (`&mut self`).
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut read,
                &mut written,
            )
        };
        match result {
            SUCCESS => Member::Done(read, written),
            NO_SPACE => Member::TooSmall,
            _ => Member::Bad,
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// A thread's decompressor and text buffer, handed on to its next object.
pub struct Inflater {
    decompressor: Decompressor,
    /// Initialised (zeroed once when grown); `len` is its capacity in use.
    text: Vec<u8>,
}

thread_local! {
    static INFLATERS: std::cell::RefCell<Vec<Inflater>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Inflater {
    /// This thread's inflater (a new one the first time).
    pub fn take() -> Self {
        INFLATERS
            .with(|pool| pool.borrow_mut().pop())
            .unwrap_or_else(|| Inflater {
                decompressor: Decompressor::new(),
                text: Vec::new(),
            })
    }

    /// Gives the inflater back to its thread.
    pub fn give_back(self) {
        INFLATERS.with(|pool| pool.borrow_mut().push(self));
    }

    /// The text of `gzip`, every byte of which must be gzip members that
    /// decode and whose text fits in [`MAX_TEXT`]; else `None`.
    pub fn inflate(&mut self, gzip: &[u8]) -> Option<&[u8]> {
        // The last member's size, from its trailer: the whole text when the
        // object is one member, as Logpush's are.
        let last = gzip
            .last_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        let mut size = last.max(self.text.len()).clamp(64 << 10, MAX_TEXT);
        loop {
            if self.text.len() < size {
                self.text.resize(size, 0);
            }
            match self.members(gzip) {
                Ok(len) => return Some(&self.text[..len]),
                Err(true) if size < MAX_TEXT => size = (size * 4).min(MAX_TEXT),
                Err(_) => return None,
            }
        }
    }

    /// Every member of `gzip` one after the other; `Err(true)`: the text
    /// buffer is too small, `Err(false)`: not gzip throughout.
    fn members(&mut self, gzip: &[u8]) -> Result<usize, bool> {
        let (mut read, mut written) = (0, 0);
        while read < gzip.len() {
            let rest = &gzip[read..];
            if !rest.starts_with(&GZIP_MAGIC) {
                return Err(false);
            }
            match (self.decompressor).member(rest, &mut self.text[written..]) {
                Member::Done(r, w) => (read, written) = (read + r, written + w),
                Member::TooSmall => return Err(true),
                Member::Bad => return Err(false),
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_member_several_members_and_a_large_text() {
        let mut i = Inflater::take();
        assert_eq!(i.inflate(&gz(b"a\nb\n")), Some(&b"a\nb\n"[..]));
        let two = [gz(b"one\n"), gz(b"two\n")].concat();
        assert_eq!(i.inflate(&two), Some(&b"one\ntwo\n"[..]));
        // Compresses ~1000x: the buffer grows past its first guess.
        let big = vec![b'x'; 3 << 20];
        assert_eq!(i.inflate(&gz(&big)).map(<[u8]>::len), Some(big.len()));
        i.give_back();
    }

    #[test]
    fn anything_but_clean_members_goes_to_the_streaming_decoder() {
        let mut i = Inflater::take();
        let good = gz(b"line\n");
        let junk = [good.clone(), b"junk".to_vec()].concat();
        let padded = [good.clone(), vec![0; 512]].concat();
        let mut corrupt = good.clone();
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0xff;
        let truncated = good[..good.len() - 3].to_vec();
        let too_long = gz(&vec![b'y'; MAX_TEXT + 1]);
        for (what, bytes) in [
            ("junk after a member", junk),
            ("padding", padded),
            ("a corrupt member", corrupt),
            ("a truncated member", truncated),
            ("text over the cap", too_long),
            ("no gzip at all", b"plain\n".to_vec()),
        ] {
            assert_eq!(i.inflate(&bytes), None, "{what}");
        }
        assert_eq!(
            i.inflate(&good),
            Some(&b"line\n"[..]),
            "still usable after failures"
        );
    }
}
