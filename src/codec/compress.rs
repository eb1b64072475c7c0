//! Content-Encoding decompression: gzip, deflate with or without a zlib
//! header, brotli and zstd, under an output limit, and sniffing of the
//! codings whose bytes announce themselves.
//!
//! Input: compressed bytes and a limit. Output: the bytes decoded up to
//! the limit, with a [`DecodeBodyError`] when it stopped short.

use std::io::Read;

/// A content coding we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// A Content-Encoding token.
    pub fn from_token(t: &str) -> Option<Coding> {
        match t.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            "br" => Some(Coding::Brotli),
            "zstd" => Some(Coding::Zstd),
            _ => None,
        }
    }

    /// The coding the bytes themselves announce (brotli has no magic).
    pub fn sniff(b: &[u8]) -> Option<Coding> {
        if looks_gzip(b) {
            Some(Coding::Gzip)
        } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Coding::Zstd)
        } else {
            None
        }
    }
}

/// Read buffer of the brotli decoder.
const BROTLI_BUFFER: usize = 4096;

/// Why decompression stopped short.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeBodyError {
    #[error("{coding} body is corrupt: {reason}")]
    Corrupt { coding: &'static str, reason: String },
    #[error("{coding} body expands past the {limit}-byte output limit (kept the first {limit} bytes)")]
    TooLarge { coding: &'static str, limit: usize },
}

/// Does `b` start like a gzip member?
pub fn looks_gzip(b: &[u8]) -> bool {
    b.len() >= 10 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8
}

/// Does `b` start with a zlib header (RFC 1950)?
pub fn looks_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

/// Decompresses `input` into at most `limit` bytes. On error the bytes
/// decoded so far are returned with it.
pub fn decompress(coding: Coding, input: &[u8], limit: usize) -> (Vec<u8>, Option<DecodeBodyError>) {
    match coding {
        Coding::Gzip | Coding::Deflate => {
            if let Some(done) = KEPT.with(|k| {
                let mut k = k.try_borrow_mut().ok()?;
                Some(k.decompress(coding, input, limit))
            }) {
                return done;
            }
        }
        Coding::Brotli | Coding::Zstd => {}
    }
    fresh(coding, input, limit)
}

/// [`decompress`] by new decoders (for brotli and zstd always; for
/// gzip and deflate when the kept ones are in use).
fn fresh(coding: Coding, input: &[u8], limit: usize) -> (Vec<u8>, Option<DecodeBodyError>) {
    let out = Vec::new();
    let name = coding.name();
    // The bufread decoders read the input in place (the read ones copy it
    // through a buffer of their own).
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        // HTTP "deflate" is zlib per the RFC, raw deflate in practice: sniff.
        Coding::Deflate if looks_zlib(input) => Box::new(flate2::bufread::ZlibDecoder::new(input)),
        Coding::Deflate => Box::new(flate2::bufread::DeflateDecoder::new(input)),
        Coding::Brotli => Box::new(brotli_decompressor::Decompressor::new(input, BROTLI_BUFFER)),
        Coding::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(d) => Box::new(d),
            Err(e) => return (out, Some(DecodeBodyError::Corrupt { coding: name, reason: e.to_string() })),
        },
    };
    read_within(reader, out, name, limit)
}

/// Input a kept decoder reads: a copy of the body (a decoder kept past
/// one call cannot borrow it).
type Input = std::io::Cursor<Vec<u8>>;

/// Largest copied input kept for the next body: a larger one is let go.
const KEPT_INPUT: usize = 64 << 10;

/// Gzip and deflate decoders kept per thread from one body to the next:
/// making one (zlib-rs allocates and zeroes its state, then a 32 KiB
/// window) costs more than inflating a small body; a reset costs little.
#[derive(Default)]
struct Kept {
    gzip: Option<flate2::bufread::GzDecoder<Input>>,
    zlib: Option<flate2::bufread::ZlibDecoder<Input>>,
    raw: Option<flate2::bufread::DeflateDecoder<Input>>,
    /// The copy of the last input, for the next (taken while in use).
    spare: Vec<u8>,
}

thread_local! {
    static KEPT: std::cell::RefCell<Kept> = std::cell::RefCell::new(Kept::default());
}

impl Kept {
    /// [`decompress`] of gzip or deflate, by a kept decoder reset to
    /// `input`: the same bytes and errors as new decoders give.
    fn decompress(&mut self, coding: Coding, input: &[u8], limit: usize) -> (Vec<u8>, Option<DecodeBodyError>) {
        let mut copy = std::mem::take(&mut self.spare);
        copy.clear();
        copy.extend_from_slice(input);
        let copy = Input::new(copy);
        let name = coding.name();
        let (done, used) = match coding {
            Coding::Gzip => reuse(&mut self.gzip, copy, |gz| read_within(Members(gz), Vec::new(), name, limit)),
            _ if looks_zlib(input) => reuse(&mut self.zlib, copy, |z| read_within(z, Vec::new(), name, limit)),
            _ => reuse(&mut self.raw, copy, |d| read_within(d, Vec::new(), name, limit)),
        };
        let used = used.into_inner();
        if used.capacity() <= KEPT_INPUT {
            self.spare = used;
        }
        done
    }
}

/// A decoder that can be kept: made on an input, reset to another.
trait Resettable: Read + Sized {
    fn new(input: Input) -> Self;
    /// Resets all its state and swaps `input` in; the old input back.
    fn reset(&mut self, input: Input) -> Input;
}

macro_rules! resettable {
    ($($t:ty),*) => {$(
        impl Resettable for $t {
            fn new(input: Input) -> Self {
                <$t>::new(input)
            }
            fn reset(&mut self, input: Input) -> Input {
                <$t>::reset(self, input)
            }
        }
    )*};
}

resettable!(
    flate2::bufread::GzDecoder<Input>,
    flate2::bufread::ZlibDecoder<Input>,
    flate2::bufread::DeflateDecoder<Input>
);

/// `read` by the decoder kept in `slot` (made there the first time),
/// reset to `input`; what it read, and `input` back.
fn reuse<D: Resettable, T>(slot: &mut Option<D>, input: Input, read: impl FnOnce(&mut D) -> T) -> (T, Input) {
    let d = match slot {
        Some(d) => {
            d.reset(input);
            d
        }
        None => slot.insert(D::new(input)),
    };
    let done = read(d);
    (done, d.reset(Input::default()))
}

/// A gzip decoder read member after member, as `MultiGzDecoder` reads
/// them: where one member ends and input is left, the decoder is reset
/// to the rest (whose header it then reads, or fails on).
struct Members<'a>(&'a mut flate2::bufread::GzDecoder<Input>);

impl Read for Members<'_> {
    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.0.read(into)?;
            let rest = {
                let c = self.0.get_ref();
                usize::try_from(c.position()).map_or(0, |p| c.get_ref().len().saturating_sub(p))
            };
            if n > 0 || into.is_empty() || rest == 0 {
                return Ok(n);
            }
            let at = std::mem::take(self.0.get_mut());
            self.0.reset(at);
        }
    }
}

/// Reads `reader` to its end into `out`, up to `limit` bytes; on error,
/// what was decoded so far comes back with it. `out` starts empty and
/// grows: a read that fails loses what it inflated, so reads stay small
/// (a large first read would lose all that came before the damage).
fn read_within(
    reader: impl Read,
    mut out: Vec<u8>,
    name: &'static str,
    limit: usize,
) -> (Vec<u8>, Option<DecodeBodyError>) {
    let res = reader.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1)).read_to_end(&mut out);
    match res {
        Err(e) => (out, Some(DecodeBodyError::Corrupt { coding: name, reason: e.to_string() })),
        Ok(_) if out.len() > limit => {
            out.truncate(limit);
            (out, Some(DecodeBodyError::TooLarge { coding: name, limit }))
        }
        Ok(_) => (out, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_and_both_deflates() {
        let plain = b"imei=356938035643809&x=1".repeat(3);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(Coding::Gzip, &gz, 1 << 20), (plain.clone(), None));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&plain).unwrap();
        assert_eq!(decompress(Coding::Deflate, &z.finish().unwrap(), 1 << 20), (plain.clone(), None));
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&plain).unwrap();
        assert_eq!(decompress(Coding::Deflate, &d.finish().unwrap(), 1 << 20), (plain, None));
    }

    #[test]
    fn brotli_and_zstd() {
        // Python `brotli.compress(b"imei=356938035643809")` and `printf ... | zstd -c`.
        let br = hex::decode("8b0980696d65693d33353639333830333536343338303903").unwrap();
        assert_eq!(decompress(Coding::Brotli, &br, 1 << 20), (b"imei=356938035643809".to_vec(), None));
        let zst = hex::decode("28b52ffd0458a10000696d65693d333536393338303335363433383039d29b152b").unwrap();
        assert_eq!(Coding::sniff(&zst), Some(Coding::Zstd));
        assert_eq!(decompress(Coding::Zstd, &zst, 1 << 20), (b"imei=356938035643809".to_vec(), None));
        assert!(decompress(Coding::Zstd, b"\x28\xb5\x2f\xfd garbage", 100).1.is_some());
    }

    #[test]
    fn bomb_is_cut_at_the_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let gz = gz.finish().unwrap();
        let (out, err) = decompress(Coding::Gzip, &gz, 1000);
        assert_eq!(out.len(), 1000);
        assert!(matches!(err, Some(DecodeBodyError::TooLarge { limit: 1000, .. })));
    }

    /// Decoders kept from body to body give what new ones give: bytes and
    /// error, for gzip of one to three members (with and without a file
    /// name), zlib and raw deflate, whole, with bytes after them, cut
    /// short, with a byte changed, under small and large limits, in an
    /// order that reuses each decoder after errors and cuts.
    #[test]
    fn kept_decoders_decode_as_new_ones() {
        let mut x = 0x0dec_0de5_u64;
        let mut plains: Vec<Vec<u8>> = vec![Vec::new(), b"imei=356938035643809".to_vec()];
        for n in [3, 200, 5000] {
            let mut p = Vec::new();
            while p.len() < n {
                p.extend_from_slice(format!("k{}={}&", crate::util::xorshift(&mut x) % 97, x >> 40).as_bytes());
            }
            plains.push(p);
        }
        let mut streams: Vec<(Coding, Vec<u8>)> = Vec::new();
        for p in &plains {
            let gz = |p: &[u8], named: bool| {
                let b = if named { flate2::GzBuilder::new().filename("a.txt") } else { flate2::GzBuilder::new() };
                let mut e = b.write(Vec::new(), flate2::Compression::default());
                e.write_all(p).unwrap();
                e.finish().unwrap()
            };
            let one = gz(p, false);
            streams.push((Coding::Gzip, one.clone()));
            streams.push((Coding::Gzip, [gz(p, true), gz(b"imsi=208150123456789", false)].concat()));
            streams.push((Coding::Gzip, [one.clone(), gz(b"x", true), one.clone()].concat()));
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(p).unwrap();
            streams.push((Coding::Deflate, z.finish().unwrap()));
            let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            d.write_all(p).unwrap();
            streams.push((Coding::Deflate, d.finish().unwrap()));
        }
        let mut kept = Kept::default();
        let mut damaged = 0;
        for round in 0..6000 {
            let (coding, whole) = &streams[(crate::util::xorshift(&mut x) % streams.len() as u64) as usize];
            let mut input = whole.clone();
            let r = crate::util::xorshift(&mut x);
            match r % 5 {
                0 => {}
                1 => input.extend_from_slice(&[0x1f, 0x8b, 8, 0, (r >> 8) as u8][..1 + (r >> 16) as usize % 5]),
                2 => input.truncate((r >> 8) as usize % (whole.len() + 1)),
                3 if !input.is_empty() => {
                    let at = (r >> 8) as usize % input.len();
                    input[at] ^= 1 << ((r >> 40) % 8);
                }
                _ => input.extend_from_slice(b"\0\0garbage"),
            }
            let limit = if round % 3 == 0 { 1 + (r >> 20) as usize % 300 } else { 1 << 20 };
            let now = kept.decompress(*coding, &input, limit);
            let new = fresh(*coding, &input, limit);
            damaged += usize::from(new.1.is_some());
            assert_eq!(now, new, "{coding:?} {input:02x?} limit {limit}");
        }
        assert!(damaged > 1000, "{damaged}");
    }

    /// The decoder before issue 15's change: `read` decoders into an
    /// empty Vec, otherwise as [`decompress`].
    fn decompress_before(coding: Coding, input: &[u8], limit: usize) -> (Vec<u8>, Option<DecodeBodyError>) {
        let reader: Box<dyn Read + '_> = match coding {
            Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Coding::Deflate if looks_zlib(input) => Box::new(flate2::read::ZlibDecoder::new(input)),
            Coding::Deflate => Box::new(flate2::read::DeflateDecoder::new(input)),
            _ => unreachable!("gzip and deflate only"),
        };
        read_within(reader, Vec::new(), coding.name(), limit)
    }

    /// A compressed body damaged part way (a capture gap, a flipped bit):
    /// "on error the bytes decoded so far are returned". Before issue 15
    /// the bytes inflated before the damage came back (an IMEI sent before
    /// it was still found); the pre-sized output makes the first read take
    /// all that inflates before the damage, and the error drops it.
    #[test]
    fn damaged_body_returns_what_was_decoded_before_as_it_did() {
        let mut plain = Vec::new();
        let mut x = 1u64;
        while plain.len() < 600_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            plain.extend_from_slice(format!("imei=356938035643809&n={}&", x >> 20).as_bytes());
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        for at in [100, 5000] {
            let mut gz = gz.clone();
            for b in &mut gz[at..at + 64] {
                *b = 0xff;
            }
            let before = decompress_before(Coding::Gzip, &gz, 1 << 20);
            let now = decompress(Coding::Gzip, &gz, 1 << 20);
            assert!(before.1.is_some() && now.1.is_some(), "both see the damage");
            assert!(before.0.starts_with(b"imei=356938035643809"), "the old decoder returned {} bytes", before.0.len());
            assert_eq!(now.0.len(), before.0.len(), "bytes decoded before damage at {at}");
            assert_eq!(now, before);
        }
    }
}
