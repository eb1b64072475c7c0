//! util: small types every stage shares, so that none borrows them from
//! another: capture [`Timestamp`]s and the [`FnvHasher`] of hot maps
//! whose keys the run's configuration chooses.
//!
//! Input and output: none of their own; plain values.
//!
//! Never: depend on a pipeline stage.

mod time;

/// memchr finders of the fixed strings searched for request by request,
/// built once: `memmem::find` builds one per call, which costs more than
/// searching a short haystack.
pub mod finders {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;

    pub static SCHEME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("://"));
    pub static CRLF_CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\r\n\r\n"));
    pub static LF_CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\n\r\n"));
    pub static LF_LF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\n\n"));
}

use std::hash::Hasher;

pub use time::{Rendered, Timestamp, render_addr};

/// FNV-1a, unkeyed: only for tables whose keys come from the run's own
/// configuration (profile forms, rule keys), never from a capture. Its
/// collisions are easy to craft (its low bits depend only on the low bits
/// of its state), so tables keyed by what a capture chooses (connections,
/// addresses, names, session ids) use std's `RandomState`, SipHash with
/// random keys: 200,000 crafted connections took 64 s under FNV-1a.
#[derive(Default)]
pub struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// One step of a xorshift generator (Marsaglia's 13/7/17): the varied
/// inputs of the differential tests, from a seed.
#[cfg(test)]
pub(crate) fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// [`String::from_utf8_lossy`], with the validation of the standard
/// library's `str::from_utf8` (words of ASCII at a time) first: the
/// lossy reading checks byte by byte even when all is valid, as nearly
/// all of a capture's text is.
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

#[cfg(test)]
mod lossy_tests {
    #[test]
    fn lossy_reads_as_from_utf8_lossy_does() {
        let parts: [&[u8]; 8] =
            [b"abc", "é".as_bytes(), b"\xff", b"\xe2\x82", "€".as_bytes(), b"\xc0\x80", b"\0", b"z"];
        let mut x = 7u64;
        for _ in 0..20_000 {
            crate::util::xorshift(&mut x);
            let b: Vec<u8> = (0..(x % 12)).flat_map(|i| parts[((x >> (i * 3)) % 8) as usize].iter().copied()).collect();
            assert_eq!(super::lossy(&b), String::from_utf8_lossy(&b), "{b:?}");
        }
    }
}
