//! Request bodies: the chunked transfer coding as an incremental decoder.
//! Content-Encoding decompression is a shared codec: [`crate::codec::compress`].

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
