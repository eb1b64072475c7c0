//! Request bodies: the chunked transfer coding as an incremental decoder,
//! and Content-Encoding decompression (gzip, deflate with or without a
//! zlib header, brotli, zstd) under an output limit.

use std::io::Read;

/// Incremental chunked-body decoder: feed wire bytes, get payload bytes.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    /// Partial size or trailer line.
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Result of feeding the chunked decoder.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkedStep {
    /// All input used; more is needed.
    More,
    /// The body ended; `usize` bytes of the input were used.
    Done(usize),
    /// The coding is broken at this input position.
    Invalid(usize),
}

impl Chunked {
    /// Decodes `input`, appending payload through `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) -> ChunkedStep {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Size | ChunkState::Trailer => {
                    let rest = &input[i..];
                    let (line_part, complete) = match memchr::memchr(b'\n', rest) {
                        Some(n) => (&rest[..=n], true),
                        None => (rest, false),
                    };
                    if self.line.len() + line_part.len() > MAX_CHUNK_LINE {
                        return ChunkedStep::Invalid(i);
                    }
                    self.line.extend_from_slice(line_part);
                    i += line_part.len();
                    if !complete {
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    if self.state == ChunkState::Trailer {
                        if line.trim_ascii().is_empty() {
                            self.state = ChunkState::Done;
                            return ChunkedStep::Done(i);
                        }
                        continue;
                    }
                    let trimmed = line.trim_ascii_start();
                    let mut with_crlf = trimmed.trim_ascii_end().to_vec();
                    with_crlf.extend_from_slice(b"\r\n");
                    match httparse::parse_chunk_size(&with_crlf) {
                        Ok(httparse::Status::Complete((_, 0))) => self.state = ChunkState::Trailer,
                        Ok(httparse::Status::Complete((_, n))) => self.state = ChunkState::Data(n),
                        _ => return ChunkedStep::Invalid(i),
                    }
                }
                ChunkState::Data(left) => {
                    let take = (left.min((input.len() - i) as u64)) as usize;
                    out(&input[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    // CRLF after the chunk data; tolerate a bare LF.
                    match input[i] {
                        b'\r' => i += 1,
                        b'\n' => {
                            i += 1;
                            self.state = ChunkState::Size;
                        }
                        _ => self.state = ChunkState::Size,
                    }
                }
                ChunkState::Done => return ChunkedStep::Done(i),
            }
        }
        ChunkedStep::More
    }
}

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
    let mut out = Vec::new();
    let name = coding.name();
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        // HTTP "deflate" is zlib per the RFC, raw deflate in practice: sniff.
        Coding::Deflate if looks_zlib(input) => Box::new(flate2::read::ZlibDecoder::new(input)),
        Coding::Deflate => Box::new(flate2::read::DeflateDecoder::new(input)),
        Coding::Brotli => Box::new(brotli_decompressor::Decompressor::new(input, BROTLI_BUFFER)),
        Coding::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(d) => Box::new(d),
            Err(e) => return (out, Some(DecodeBodyError::Corrupt { coding: name, reason: e.to_string() })),
        },
    };
    let res = reader.take(limit as u64 + 1).read_to_end(&mut out);
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

    fn dechunk_in_pieces(wire: &[u8], piece: usize) -> (Vec<u8>, ChunkedStep) {
        let mut c = Chunked::default();
        let mut body = Vec::new();
        let mut last = ChunkedStep::More;
        let mut used = 0;
        for p in wire.chunks(piece.max(1)) {
            last = c.feed(p, &mut |b| body.extend_from_slice(b));
            if let ChunkedStep::Done(n) = last {
                used += n;
                break;
            }
            used += p.len();
        }
        let _ = used;
        (body, last)
    }

    #[test]
    fn chunked_in_every_split() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
        for piece in 1..=wire.len() {
            let (body, step) = dechunk_in_pieces(wire, piece);
            assert_eq!(body, b"Wikipedia", "piece size {piece}");
            assert!(matches!(step, ChunkedStep::Done(_)), "piece size {piece}");
        }
    }

    #[test]
    fn chunked_reports_where_it_breaks() {
        let mut c = Chunked::default();
        assert_eq!(c.feed(b"zz\r\n", &mut |_| {}), ChunkedStep::Invalid(4));
    }

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
}
