//! Request bodies: how a body is delimited ([`framing`], from the
//! Content-Length and Transfer-Encoding headers, RFC 9112 section 6.3),
//! and the chunked transfer coding as an incremental decoder.
//! Content-Encoding decompression is a shared codec: [`crate::codec::compress`].

use crate::codec::compress::Coding;

/// Largest Content-Length taken as a body length (`i64::MAX`): a longer
/// one no signed 64-bit counter holds, and servers do not honour it.
pub const MAX_CONTENT_LENGTH: u64 = i64::MAX as u64;
/// Most bytes of a header value repeated in a note.
pub const SHOWN_MAX: usize = 40;

/// How a request's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (no length, or a length of 0).
    None,
    Length(u64),
    Chunked,
    /// The length cannot be known (a malformed Content-Length, a
    /// Transfer-Encoding that does not end in chunked): the body is what
    /// comes before the next request line, or the rest of the direction,
    /// as Suricata and Zeek read it; nothing is dropped unscanned.
    Unknown,
}

/// A request's framing with what else the headers say about its body.
#[derive(Debug, PartialEq, Eq)]
pub struct BodyFraming {
    pub framing: Framing,
    /// Transfer codings other than the final chunked, in the order
    /// applied: the body is undone through them (last first).
    pub codings: Vec<Coding>,
    /// What was wrong or ambiguous, for the request's notes.
    pub notes: Vec<String>,
}

/// Why a Content-Length value is not a length.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadLength {
    #[error("empty")]
    Empty,
    #[error("not decimal digits")]
    NotDigits,
    #[error("over the largest length, 2^63 - 1")]
    TooLarge,
    #[error("a list of different values")]
    Different,
}

/// A Content-Length value (all the request's Content-Length headers
/// joined by commas, as RFC 9110 section 5.3 combines them): `1*DIGIT`,
/// or a list of members that are all the same length (RFC 9110 section
/// 8.6 lets a recipient take `12, 12` as 12). Never overflows: 20 digits
/// or more are [`BadLength::TooLarge`].
pub fn content_length(value: &[u8]) -> Result<u64, BadLength> {
    let mut length = None;
    for member in value.split(|b| *b == b',') {
        let m = member.trim_ascii();
        if m.is_empty() {
            continue; // empty list elements do not count (RFC 9110 5.6.1)
        }
        if !m.iter().all(u8::is_ascii_digit) {
            return Err(BadLength::NotDigits);
        }
        let n = m
            .iter()
            .try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .filter(|n| *n <= MAX_CONTENT_LENGTH)
            .ok_or(BadLength::TooLarge)?;
        match length {
            Some(l) if l != n => return Err(BadLength::Different),
            _ => length = Some(n),
        }
    }
    length.ok_or(BadLength::Empty)
}

/// A header value as a note shows it: quoted, its first [`SHOWN_MAX`]
/// bytes, control, quote and non-ASCII bytes escaped (`\x1b`).
pub fn shown(v: &[u8]) -> String {
    let s: String =
        v[..v.len().min(SHOWN_MAX)].iter().flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
    format!("\"{s}{}\"", if v.len() > SHOWN_MAX { "..." } else { "" })
}

/// What the notes of an unknown length say happens to the bytes.
const READ_TO_NEXT_REQUEST: &str = "the bytes up to the next request line are read as the body";

/// All values of the headers named `name`, joined by `, `.
fn joined(headers: &super::Headers, name: &str) -> Option<Vec<u8>> {
    let mut values = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim_ascii());
    let first = values.next()?.to_vec();
    Some(values.fold(first, |mut all, v| {
        all.extend_from_slice(b", ");
        all.extend_from_slice(v);
        all
    }))
}

/// The framing of a request with these headers (RFC 9112 section 6.3):
/// Transfer-Encoding wins over Content-Length; a Transfer-Encoding that
/// does not end in chunked, or a Content-Length that is not a length,
/// leaves the length unknown. Each such case is noted.
pub fn framing(headers: &super::Headers) -> BodyFraming {
    let mut notes = Vec::new();
    let mut codings = Vec::new();
    let length = joined(headers, "content-length");
    if let Some(te) = joined(headers, "transfer-encoding") {
        let tokens: Vec<String> = crate::util::lossy(&te)
            .split(',')
            .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some((last, before)) = tokens.split_last() {
            let chunked = last == "chunked";
            let applied = if chunked { before } else { &tokens[..] };
            for t in applied.iter().filter(|t| *t != "identity") {
                match Coding::from_token(t) {
                    Some(c) => codings.push(c),
                    None => notes
                        .push(format!("transfer coding {} not decoded; body inspected as sent", shown(t.as_bytes()))),
                }
            }
            if length.is_some() {
                notes.push(if chunked {
                    "both Transfer-Encoding: chunked and Content-Length; chunked is used".to_string()
                } else {
                    "both Transfer-Encoding and Content-Length; the Content-Length is ignored".to_string()
                });
            }
            if chunked {
                return BodyFraming { framing: Framing::Chunked, codings, notes };
            }
            notes.push(format!("Transfer-Encoding {} does not end in chunked: {READ_TO_NEXT_REQUEST}", shown(&te)));
            return BodyFraming { framing: Framing::Unknown, codings, notes };
        }
        notes.push("empty Transfer-Encoding ignored".to_string());
    }
    let framing = match length.as_deref().map(content_length) {
        None | Some(Ok(0)) => Framing::None,
        Some(Ok(n)) => Framing::Length(n),
        Some(Err(e)) => {
            let v = length.as_deref().unwrap_or_default();
            notes.push(format!("Content-Length {} is not a valid length ({e}): {READ_TO_NEXT_REQUEST}", shown(v)));
            Framing::Unknown
        }
    };
    BodyFraming { framing, codings, notes }
}

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
    /// The coding is broken at this input position: the input from
    /// there on, after [`Chunked::take_line`], was not decoded.
    Invalid(usize),
}

impl Chunked {
    /// After [`ChunkedStep::Invalid`]: the bytes of the line that broke
    /// the coding, read before the position it names (a device that
    /// declared chunked and sent its body plain: these are body bytes).
    pub fn take_line(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.line)
    }

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
                    if self.line.len().saturating_add(line_part.len()) > MAX_CHUNK_LINE {
                        return ChunkedStep::Invalid(i);
                    }
                    self.line.extend_from_slice(line_part);
                    i += line_part.len();
                    if !complete {
                        continue;
                    }
                    if self.state == ChunkState::Trailer {
                        let end = self.line.trim_ascii().is_empty();
                        self.line.clear();
                        if end {
                            self.state = ChunkState::Done;
                            return ChunkedStep::Done(i);
                        }
                        continue;
                    }
                    let mut with_crlf = self.line.trim_ascii().to_vec();
                    with_crlf.extend_from_slice(b"\r\n");
                    match httparse::parse_chunk_size(&with_crlf) {
                        Ok(httparse::Status::Complete((_, 0))) => self.state = ChunkState::Trailer,
                        Ok(httparse::Status::Complete((_, n))) => self.state = ChunkState::Data(n),
                        // The line stays for `take_line`.
                        _ => return ChunkedStep::Invalid(i),
                    }
                    self.line.clear();
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
        assert_eq!(c.feed(b"zz\r\nrest", &mut |_| {}), ChunkedStep::Invalid(4));
        assert_eq!(c.take_line(), b"zz\r\n");
    }

    #[test]
    fn content_lengths_valid_and_not() {
        assert_eq!(content_length(b"12"), Ok(12));
        assert_eq!(content_length(b"12, 12"), Ok(12));
        assert_eq!(content_length(b"0012"), Ok(12));
        assert_eq!(content_length(b"9223372036854775807"), Ok(i64::MAX as u64));
        for (v, e) in [
            (&b"9223372036854775808"[..], BadLength::TooLarge),
            (b"18446744073709551616", BadLength::TooLarge),
            (b"12345678901234567890", BadLength::TooLarge),
            (b"-5", BadLength::NotDigits),
            (b"+12", BadLength::NotDigits),
            (b"0x10", BadLength::NotDigits),
            (b"1 2", BadLength::NotDigits),
            (b"12, 13", BadLength::Different),
            (b"", BadLength::Empty),
            (b" , ", BadLength::Empty),
        ] {
            assert_eq!(content_length(v), Err(e), "{}", shown(v));
        }
    }

    fn headers(h: &[(&str, &str)]) -> crate::http::Headers {
        h.iter().map(|(n, v)| (n, v.as_bytes())).collect()
    }

    #[test]
    fn framing_by_rfc_9112() {
        let f = |h: &[(&str, &str)]| framing(&headers(h));
        assert_eq!(f(&[("Content-Length", "5")]).framing, Framing::Length(5));
        assert_eq!(
            f(&[("Content-Length", "5"), ("content-length", "5")]),
            framing(&headers(&[("Content-Length", "5")]))
        );
        assert_eq!(f(&[("Content-Length", "0")]).framing, Framing::None);
        assert_eq!(f(&[]).framing, Framing::None);
        let two = f(&[("Content-Length", "3"), ("Content-Length", "5")]);
        assert_eq!(two.framing, Framing::Unknown);
        assert!(
            two.notes[0].starts_with("Content-Length \"3, 5\" is not a valid length (a list of different"),
            "{two:?}"
        );
        let both = f(&[("Transfer-Encoding", "chunked"), ("Content-Length", "+3")]);
        assert_eq!(both.framing, Framing::Chunked);
        assert_eq!(both.notes, ["both Transfer-Encoding: chunked and Content-Length; chunked is used"]);
        let gz = f(&[("Transfer-Encoding", "gzip, chunked")]);
        assert_eq!((gz.framing, gz.codings, gz.notes.len()), (Framing::Chunked, vec![Coding::Gzip], 0));
        let unknown = f(&[("Transfer-Encoding", "x-custom;q=1, Chunked")]);
        assert_eq!(unknown.framing, Framing::Chunked);
        assert_eq!(unknown.notes, ["transfer coding \"x-custom\" not decoded; body inspected as sent"]);
        let last = f(&[("Transfer-Encoding", "chunked, gzip"), ("Content-Length", "5")]);
        assert_eq!((last.framing, &last.codings[..]), (Framing::Unknown, &[Coding::Gzip][..]));
        assert!(last.notes.iter().any(|n| n.contains("does not end in chunked")), "{last:?}");
        assert_eq!(f(&[("Transfer-Encoding", " "), ("Content-Length", "2")]).framing, Framing::Length(2));
    }

    #[test]
    fn notes_show_a_bounded_escaped_value() {
        assert_eq!(shown(b"+12"), "\"+12\"");
        assert_eq!(shown(b"1\x1b[2J\"\n"), "\"1\\x1b[2J\\\"\\n\"");
        let long = shown(&[b'9'; 100]);
        assert_eq!(long, format!("\"{}...\"", "9".repeat(SHOWN_MAX)));
    }
}
