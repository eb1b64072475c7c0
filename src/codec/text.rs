//! Value codecs: percent-decoding and `k=v` pairs, base64, hex, and the
//! test that decoded bytes are text (inflating gzip or zlib first).
//!
//! Input: a value's bytes or text. Output: the decoded text, or `None`
//! when the value does not decode to text.

use std::borrow::Cow;

use base64::Engine as _;

use super::compress::{Coding, decompress, looks_gzip, looks_zlib};

/// Shortest value tried as base64: shorter strings are too often words.
pub const MIN_BASE64_LEN: usize = 12;
/// Share of printable characters a decoded base64 value needs to be
/// taken as text.
const MIN_PRINTABLE_RATIO: f32 = 0.9;
/// Output cap when a value decodes to compressed bytes (gzip or zlib
/// inside base64): more is cut, as bodies are.
pub const MAX_NESTED_INFLATE: usize = 1 << 20;

/// Percent-decoding as in form bodies (`+` is a space). Returns whether a
/// `%` escape was undone.
pub fn url_decode(s: &[u8]) -> (String, bool) {
    let (text, esc) = url_decoded(s);
    (text.into_owned(), esc)
}

/// [`url_decode`], borrowing `s` when there is nothing to decode and it
/// is UTF-8 (most keys and values).
pub fn url_decoded(s: &[u8]) -> (Cow<'_, str>, bool) {
    if memchr::memchr2(b'%', b'+', s).is_none() {
        return (crate::util::lossy(s), false);
    }
    let plus: Cow<[u8]> = if s.contains(&b'+') {
        Cow::Owned(s.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect())
    } else {
        Cow::Borrowed(s)
    };
    let had_escape = s.windows(3).any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
    let decoded: Cow<[u8]> = percent_encoding::percent_decode(&plus).into();
    (Cow::Owned(crate::util::lossy(&decoded).into_owned()), had_escape)
}

/// Splits `a=1&b=2` into decoded pairs with whether each was escaped;
/// keys and values borrow `s` where nothing was decoded.
pub fn parse_pairs(s: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>, bool)> + '_ {
    s.split(|b| *b == b'&' || *b == b';').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = match memchr::memchr(b'=', p) {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &b""[..]),
        };
        let (k, _) = url_decoded(k);
        let (v, esc) = url_decoded(v);
        (trimmed(k), v, esc)
    })
}

/// `s` trimmed: borrowed still if it was, owned text copied only when
/// there is anything to trim.
pub fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
    }
}

/// Decodes `s` as base64 (standard or URL-safe, any padding) when it looks
/// like base64 and decodes to printable text.
pub fn try_base64(s: &str) -> Option<String> {
    decode_base64(s).map(|d| d.text)
}

/// Text that bytes turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The compression undone to reach it (`gzip`, `zlib`), if any.
    pub coding: Option<&'static str>,
    pub text: String,
    /// Inflating went past [`MAX_NESTED_INFLATE`]: `text` is its start.
    pub cut: bool,
}

/// Bytes to text when they are text: as they are, or inflated when they
/// are gzip or zlib.
pub fn bytes_to_text(bytes: Vec<u8>) -> Option<Decoded> {
    let inflate = |c: Coding| {
        let (out, err) = decompress(c, &bytes, MAX_NESTED_INFLATE);
        let cut = matches!(err, Some(super::compress::DecodeBodyError::TooLarge { .. }));
        (err.is_none() || cut || !out.is_empty()).then_some((out, cut))
    };
    let (coding, bytes, cut) = if looks_gzip(&bytes) {
        let (out, cut) = inflate(Coding::Gzip).unwrap_or_default();
        (Some("gzip"), out, cut)
    } else if looks_zlib(&bytes) && bytes.len() > 2 {
        match inflate(Coding::Deflate) {
            Some((out, cut)) => (Some("zlib"), out, cut),
            None => (None, bytes, false),
        }
    } else {
        (None, bytes, false)
    };
    let text = String::from_utf8(bytes).ok()?;
    let printable = text.chars().filter(|c| !c.is_control() || c.is_whitespace()).count();
    (printable as f32 >= text.chars().count() as f32 * MIN_PRINTABLE_RATIO && !text.is_empty()).then_some(Decoded {
        coding,
        text,
        cut,
    })
}

/// Decodes `s` as base64 (standard or URL-safe, any padding) when it looks
/// like base64 and decodes to text, possibly through gzip or zlib.
pub fn decode_base64(s: &str) -> Option<Decoded> {
    let t = s.trim();
    if t.len() < MIN_BASE64_LEN || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b)) {
        return None;
    }
    // A value of digits or hex only is a number or a hash, not base64.
    if t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let body = t.trim_end_matches('=');
    let bytes = if body.contains(['-', '_']) {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).ok()?
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(body).ok()?
    };
    bytes_to_text(bytes)
}

/// Decodes `s` as hex (even length, at least 16 digits) to text.
pub fn decode_hex(s: &str) -> Option<String> {
    let t = s.trim();
    if t.len() < 16 || !t.len().is_multiple_of(2) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Hashes are hex of random bytes: they fail the text check below.
    let bytes = hex::decode(t).ok()?;
    bytes_to_text(bytes).filter(|d| d.coding.is_none()).map(|d| d.text)
}
