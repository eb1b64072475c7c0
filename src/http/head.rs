//! Pure parsing of a request head (request line and headers): httparse
//! first, then a lenient fallback for what real devices send and httparse
//! refuses (non-UTF-8 bytes in the target, spaces before a colon, a head
//! cut short). Functions take bytes and return a value; no stream state.

/// Most headers a request may carry before the rest are dropped (noted).
pub const MAX_HEADERS: usize = 128;

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (lossy UTF-8 for display; bytes kept).
    pub target: Vec<u8>,
    /// `Some(1)` for HTTP/1.1, `Some(0)` for HTTP/1.0, `None` for HTTP/0.9.
    pub version: Option<u8>,
    pub headers: Headers,
    /// True when httparse refused the head and the fallback read it.
    pub lenient: bool,
}

/// A head's header lines in order: names and values each in one buffer
/// (two allocations for a head, not two per header).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    names: String,
    values: Vec<u8>,
    /// Per header, where its name and its value end (each starts where
    /// the one before ended).
    ends: Vec<(u32, u32)>,
}

impl Headers {
    /// Room for `n` headers whose names and values take these bytes.
    pub fn with_capacity(n: usize, names: usize, values: usize) -> Self {
        Headers { names: String::with_capacity(names), values: Vec::with_capacity(values), ends: Vec::with_capacity(n) }
    }

    /// Adds a header; past 4 GiB of names or values (a head is at most a
    /// few hundred KiB under the HTTP limits) it is dropped.
    pub fn push(&mut self, name: &str, value: &[u8]) {
        let (Ok(n), Ok(v)) =
            (u32::try_from(self.names.len() + name.len()), u32::try_from(self.values.len() + value.len()))
        else {
            return;
        };
        self.names.push_str(name);
        self.values.extend_from_slice(value);
        self.ends.push((n, v));
    }

    /// Adds to the value of the last header (a folded line), as [`push`].
    ///
    /// [`push`]: Headers::push
    fn extend_last(&mut self, more: &[u8]) {
        let Ok(v) = u32::try_from(self.values.len() + more.len()) else { return };
        if let Some(last) = self.ends.last_mut() {
            self.values.extend_from_slice(more);
            last.1 = v;
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th header's name and value.
    pub fn get(&self, i: usize) -> Option<(&str, &[u8])> {
        let (n, v) = *self.ends.get(i)?;
        let (n0, v0) = if i == 0 { (0, 0) } else { self.ends[i - 1] };
        Some((&self.names[n0 as usize..n as usize], &self.values[v0 as usize..v as usize]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let mut from = (0, 0);
        self.ends.iter().map(move |&(n, v)| {
            let (n, v) = (n as usize, v as usize);
            let h = (&self.names[from.0..n], &self.values[from.1..v]);
            from = (n, v);
            h
        })
    }
}

impl<'a> Extend<(&'a str, &'a [u8])> for Headers {
    fn extend<T: IntoIterator<Item = (&'a str, &'a [u8])>>(&mut self, iter: T) {
        for (n, v) in iter {
            self.push(n, v);
        }
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for Headers {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        let mut h = Headers::default();
        for (n, v) in iter {
            h.push(n.as_ref(), v.as_ref());
        }
        h
    }
}

/// Longest method token we accept when recognising a request by content.
const MAX_METHOD_LEN: usize = 20;
/// Shortest method token: `GET`, `PUT`. Shorter upper-case words followed
/// by a space are more often other protocols (Zeek and Suricata agree).
const MIN_METHOD_LEN: usize = 3;

/// A request line split into method, target and version token (`None`
/// for HTTP/0.9 lines, which have none).
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: Option<&'a [u8]>,
}

/// Splits `METHOD SP target [SP HTTP/...]` (line end excluded). The
/// method is an upper-case token; with a version token the target may be
/// empty (`OPTIONS HTTP/1.1`, as Zeek logs it) and the version may be cut
/// (`HTTP/1.`); without one (HTTP/0.9) the target must look like one (`/`,
/// `*`, or an absolute URI), so SMTP, FTP or SIP lines are not taken for
/// requests. This is how a stream is recognised as HTTP on any port.
pub fn split_request_line(line: &[u8]) -> Option<RequestLine<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sp = memchr::memchr(b' ', line)?;
    let method = &line[..sp];
    if !(MIN_METHOD_LEN..=MAX_METHOD_LEN).contains(&method.len())
        || !method[0].is_ascii_uppercase()
        || !method.iter().all(|b| b.is_ascii_uppercase() || *b == b'-' || *b == b'_')
    {
        return None;
    }
    let rest = line[sp + 1..].trim_ascii();
    let (target, version) = match memchr::memrchr(b' ', rest) {
        Some(v) if rest[v + 1..].starts_with(b"HTTP/") => (rest[..v].trim_ascii(), Some(&rest[v + 1..])),
        None if rest.starts_with(b"HTTP/") => (&rest[..0], Some(rest)),
        _ => (rest, None),
    };
    if version.is_none()
        && !(target.starts_with(b"/")
            || target == b"*"
            || target.starts_with(b"http://")
            || target.starts_with(b"https://"))
    {
        return None;
    }
    Some(RequestLine { method, target, version })
}

/// Methods a request line may be recognised by when it is glued to the
/// end of other bytes (see [`request_line_in`]).
pub const KNOWN_METHODS: [&[u8]; 9] =
    [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"];

/// Where a request line with a version starts in `line` (one line, its
/// line end optional): at 0 when the line is one, or, when the line ends
/// like one (`.. POST /next HTTP/1.1`), where a known method starts after
/// other bytes with no line end between (a body of unknown length that
/// ran straight into the next request). Used to end a body whose length
/// is not known.
pub fn request_line_in(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if split_request_line(line).is_some_and(|l| l.version.is_some()) {
        return Some(0);
    }
    let v = memchr::memrchr(b' ', line)?;
    if !line[v + 1..].starts_with(b"HTTP/") {
        return None;
    }
    let t = memchr::memrchr(b' ', &line[..v])?;
    let target = &line[t + 1..v];
    if !(target.starts_with(b"/")
        || target == b"*"
        || target.starts_with(b"http://")
        || target.starts_with(b"https://"))
    {
        return None;
    }
    let before = &line[..t];
    let m = KNOWN_METHODS.iter().find(|m| before.ends_with(m))?;
    Some(before.len() - m.len())
}

/// Is `line` (without its line end) a request line? See
/// [`split_request_line`].
pub fn is_request_line(line: &[u8]) -> bool {
    split_request_line(line).is_some()
}

/// Could `prefix` still become a request line? Used on the first bytes of
/// a direction, before a whole line has arrived.
pub fn may_start_request(prefix: &[u8]) -> bool {
    for (i, b) in prefix.iter().enumerate() {
        if *b == b' ' {
            return i > 0;
        }
        if i >= MAX_METHOD_LEN || !(b.is_ascii_uppercase() || (i > 0 && (*b == b'-' || *b == b'_'))) {
            return false;
        }
    }
    true
}

/// Parses a complete head (`bytes` ends with the blank line).
pub fn parse_head(bytes: &[u8]) -> Option<Head> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_multiple_spaces_in_request_line_delimiters(true);
    cfg.ignore_invalid_headers_in_requests(true);
    match cfg.parse_request(&mut req, bytes) {
        // httparse skips header lines it finds invalid (a control byte in
        // a value): one of them may be the Content-Length, so a head that
        // lost any is read by the fallback, which keeps every line.
        Ok(httparse::Status::Complete(n)) if every_line_read(&bytes[..n], req.headers.len(), bytes) => Some(Head {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().as_bytes().to_vec(),
            version: req.version,
            headers: {
                let (names, values) =
                    req.headers.iter().fold((0, 0), |(n, v), h| (n + h.name.len(), v + h.value.len()));
                let mut all = Headers::with_capacity(req.headers.len(), names, values);
                all.extend(req.headers.iter().map(|h| (h.name, h.value)));
                all
            },
            lenient: false,
        }),
        _ => parse_head_lenient(bytes),
    }
}

/// Did httparse read every header line of `head` (the bytes it took, of
/// `bytes`) as one of its `headers`? Yes at once when the head has no
/// other lines than the request line, the headers and the blank line;
/// else by counting the header lines as the fallback reads them.
fn every_line_read(head: &[u8], headers: usize, bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).count() == headers + 2 || header_lines(bytes) == headers
}

/// The header lines of a head (continuation lines not counted), as far
/// as the fallback reads them.
fn header_lines(bytes: &[u8]) -> usize {
    bytes
        .split(|b| *b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .take(MAX_HEADERS)
        .filter(|l| !matches!(l[0], b' ' | b'\t') && l.contains(&b':'))
        .count()
}

/// Reads a head line by line, accepting any bytes; also works on a head
/// that was cut short (the headers read so far are kept).
pub fn parse_head_lenient(bytes: &[u8]) -> Option<Head> {
    let mut lines = bytes.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next()?;
    let rl = split_request_line(first)?;
    let method = crate::util::lossy(rl.method).into_owned();
    let target = rl.target;
    // `HTTP/1.1` -> 1; a cut version (`HTTP/1.`) counts as 1.x.
    let version = rl.version.map(|v| v.get(7).filter(|d| d.is_ascii_digit()).map_or(1, |d| d - b'0'));
    let mut headers = Headers::default();
    for line in lines {
        if line.is_empty() || headers.len() >= MAX_HEADERS {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // Obsolete line folding: continue the previous value.
            headers.extend_last(b" ");
            headers.extend_last(line.trim_ascii());
            continue;
        }
        if let Some(c) = memchr::memchr(b':', line) {
            headers.push(&crate::util::lossy(line[..c].trim_ascii()), line[c + 1..].trim_ascii());
        }
    }
    Some(Head { method, target: target.trim_ascii().to_vec(), version, headers, lenient: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_request_lines() {
        assert!(is_request_line(b"GET /a?b=c HTTP/1.1\r"));
        assert!(is_request_line(b"POST http://h/x HTTP/1.0"));
        assert!(is_request_line(b"GET /index.html"));
        assert!(!is_request_line(b"HTTP/1.1 200 OK"));
        assert!(!is_request_line(b"\x16\x03\x01\x02\x00 x"));
        assert!(!is_request_line(b"get / HTTP/1.1"));
        assert!(!is_request_line(b"T /zeek.html"));
        assert!(!is_request_line(b"EHLO mail.example.org"));
        assert!(!is_request_line(b"INVITE sip:bob@example.org SIP/2.0"));
        assert!(is_request_line(b"GET / HTTP/1."));
        assert!(is_request_line(b"OPTIONS HTTP/1.1"));
    }

    #[test]
    fn request_lines_found_at_a_line_start_or_glued_to_a_body() {
        assert_eq!(request_line_in(b"GET /a HTTP/1.1\r\n"), Some(0));
        assert_eq!(request_line_in(b"imei=356938035643809POST /next HTTP/1.1\r\n"), Some(20));
        assert_eq!(request_line_in(b"x=1GET * HTTP/1.0"), Some(3));
        // A line of body text, an HTTP/0.9 line, an unknown glued method.
        assert_eq!(request_line_in(b"imei=356938035643809&a=b\r\n"), None);
        assert_eq!(request_line_in(b"GET /index.html\n"), None);
        assert_eq!(request_line_in(b"x=1FETCH /a HTTP/1.1"), None);
        assert_eq!(request_line_in(b"x=1POST a HTTP/1.1"), None);
        assert_eq!(request_line_in(b""), None);
    }

    #[test]
    fn prefix_check_rejects_tls_and_responses_early() {
        assert!(may_start_request(b"GE"));
        assert!(may_start_request(b"POST /"));
        assert!(!may_start_request(b"\x16\x03"));
        assert!(!may_start_request(b"HTTP/1.1"));
        assert!(!may_start_request(b" GET"));
    }

    #[test]
    fn httparse_then_fallback_for_non_utf8_target() {
        let h = parse_head(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((h.method.as_str(), h.target.as_slice(), h.version), ("GET", &b"/a?x=1"[..], Some(1)));
        assert!(!h.lenient);
        let h = parse_head(b"GET /a?n=\xe9t\xe9 HTTP/1.1\r\nHost : h\r\n\r\n").unwrap();
        assert_eq!(h.target, b"/a?n=\xe9t\xe9");
        assert_eq!(h.headers.iter().collect::<Vec<_>>(), vec![("Host", &b"h"[..])]);
        assert!(h.lenient);
        // A header line httparse would skip is kept.
        let h = parse_head(b"POST / HTTP/1.1\r\nContent-Length: 1\x1b[2J\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(h.headers.get(0), Some(("Content-Length", &b"1\x1b[2J"[..])));
        assert!(h.lenient);
    }

    #[test]
    fn odd_request_lines_as_zeek_logs_them() {
        let h = parse_head_lenient(b"OPTIONS HTTP/1.1\nHost: x\n\n").unwrap();
        assert_eq!((h.target.as_slice(), h.version), (&b""[..], Some(1)));
        let h = parse_head(b"GET / HTTP/1.\nHost: x\n\n").unwrap();
        assert_eq!((h.method.as_str(), h.target.as_slice()), ("GET", &b"/"[..]));
    }

    #[test]
    fn cut_head_keeps_what_arrived() {
        let h = parse_head_lenient(b"GET /login?client_mac=a4:5e HTTP/1.1\r\nHost: x\r\nRefe").unwrap();
        assert_eq!(h.target, b"/login?client_mac=a4:5e");
        assert_eq!(h.headers.len(), 1);
    }

    /// `every_line_read`'s shortcut (newlines = headers + 2) accepts only
    /// heads the line count before it accepted: random heads of header
    /// lines, lines httparse skips, folded lines, bare `\n`, `\r` alone,
    /// empty names and values, blank lines before the request line.
    #[test]
    fn line_count_shortcut_agrees_with_header_lines() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || crate::util::xorshift(&mut x);
        let pieces: [&[u8]; 16] = [
            b"Host: h",
            b"A:",
            b":v",
            b"X-Y: a\x01b",
            b" folded",
            b"\tfold",
            b"NoColon",
            b"A : b",
            b"B:\rc",
            b"C: \xe9t\xe9",
            b"Content-Length: 3",
            b"D:  x  ",
            b"E:\x7f",
            b"F\x00: g",
            b"G: h\r",
            b"",
        ];
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut h = Vec::new();
            for _ in 0..next() % 3 {
                h.extend_from_slice(if next() % 2 == 0 { b"\r\n" } else { b"\n" });
            }
            h.extend_from_slice(b"GET /a HTTP/1.1");
            let eol = |h: &mut Vec<u8>, r: u64| {
                h.extend_from_slice(match r % 4 {
                    0 => b"\n",
                    1 => b"\r",
                    _ => b"\r\n",
                })
            };
            eol(&mut h, next());
            for _ in 0..next() % 6 {
                h.extend_from_slice(pieces[(next() % 16) as usize]);
                eol(&mut h, next());
            }
            h.extend_from_slice(if next() % 2 == 0 { b"\r\n" } else { b"\n" });
            let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut storage);
            let mut cfg = httparse::ParserConfig::default();
            cfg.allow_multiple_spaces_in_request_line_delimiters(true);
            cfg.ignore_invalid_headers_in_requests(true);
            if let Ok(httparse::Status::Complete(n)) = cfg.parse_request(&mut req, &h) {
                let before = req.headers.len() == header_lines(&h);
                let now = every_line_read(&h[..n], req.headers.len(), &h);
                taken += usize::from(now);
                assert_eq!(now, before, "{:?}", crate::util::lossy(&h));
            }
        }
        assert!(taken > 1000, "{taken}");
    }
}
