//! http: HTTP/1.x requests rebuilt from one direction of a TCP stream.
//!
//! Input: in-order stream pieces (bytes with their frame, and gaps).
//! Output: [`HttpRequest`]s with their head and de-chunked, decompressed
//! body. A direction is recognised as HTTP by its content (a request line),
//! on any port; a direction that starts otherwise (TLS, a server's
//! responses, other protocols) is declared uninteresting so the flow layer
//! stops copying it. After a gap the parser resynchronises at the next
//! request line and never joins bytes across the gap.
//!
//! Body lengths follow RFC 9112 section 6.3 ([`body::framing`]). When the
//! length cannot be known (a malformed Content-Length such as `+12`,
//! `12, 13` or `2^64`; a Transfer-Encoding that does not end in chunked; a
//! chunked body that breaks), the request is noted and the bytes that
//! follow are its body up to the next request line, found at a line start
//! or glued to the body's last byte (`...imei=1POST /next HTTP/1.1`), or
//! to the end of the direction: nothing goes unscanned, and the request
//! after it is still read.
//!
//! Limits ([`HttpLimits`]): head bytes, body bytes inspected, decompressed
//! size, codings undone. Hitting one adds a note to the request, never a
//! silent cut.
//!
//! Never: look at server responses, buffer past the limits.

pub mod body;
pub mod head;

use std::net::SocketAddr;

use crate::codec::compress::{self, Coding};
use crate::flow::{Chunk, Interest};
use crate::util::Timestamp;
use body::{Chunked, ChunkedStep, Framing};
pub use head::{Head, Headers};

/// Named size limits of request parsing.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Request line plus headers.
    pub max_head: usize,
    /// Body bytes kept for inspection (after de-chunking, before
    /// decompression); the rest is counted and skipped.
    pub max_body: usize,
    /// Output of decompressing a body.
    pub max_decoded: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits { max_head: 64 << 10, max_body: 1 << 20, max_decoded: 8 << 20 }
    }
}

/// Most codings (content and transfer codings together) undone on one
/// body: the outermost are undone, the rest noted. Also what keeps a
/// decoding chain within [`crate::extract::MAX_CHAIN`].
pub const MAX_CODINGS: usize = 4;

/// One rebuilt request.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub head: Head,
    /// Body after de-chunking and decompression (up to the limits).
    pub body: Vec<u8>,
    /// Content codings undone, outer first (e.g. `["gzip"]`).
    pub decoded: Vec<&'static str>,
    /// Frame carrying the first byte of the request, and its time.
    pub frame: u64,
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Limits hit and damage seen (gaps, cut bodies, bad codings).
    pub notes: Vec<String>,
    /// The TLS session it was decrypted from; `None` in clear.
    pub tls: Option<std::sync::Arc<crate::finding::TlsInfo>>,
    /// The HTTP/2 stream that carried it; `None` for HTTP/1.x.
    pub stream_id: Option<u32>,
    /// The app its connection is attributed to (set by the application
    /// layer once the dissector made it).
    pub app: Option<std::sync::Arc<crate::finding::AppRef>>,
}

impl HttpRequest {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The Host header without its port, lower-cased.
    pub fn host(&self) -> Option<String> {
        host_name(&crate::util::lossy(self.header("host")?.trim_ascii()))
    }

    /// The target as text (bytes that are not UTF-8 shown as U+FFFD).
    pub fn uri(&self) -> String {
        crate::util::lossy(&self.head.target).into_owned()
    }

    /// The protocol name reports use: `http/1.1`, `http/1.0`, `http/0.9`.
    pub fn protocol(&self) -> &'static str {
        match self.head.version {
            Some(2) => "http/2",
            Some(1) => "http/1.1",
            Some(0) => "http/1.0",
            Some(_) => "http/1.x",
            None => "http/0.9",
        }
    }

    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| crate::util::lossy(v).trim().to_string())
    }
}

/// A Host header's name without its port, lower-cased (a bracketed
/// IPv6 literal keeps its brackets).
fn host_name(h: &str) -> Option<String> {
    // Cut, then lower-cased in the one copy (ASCII lower-casing moves no
    // byte).
    let name = if h.starts_with('[') {
        let inner = h.split(']').next().unwrap_or("");
        let mut name = String::with_capacity(inner.len() + 1);
        name.push_str(inner);
        name.make_ascii_lowercase();
        name.push(']');
        name
    } else {
        h.split(':').next().unwrap_or("").to_ascii_lowercase()
    };
    (!name.is_empty()).then_some(name)
}

/// Finishes a request whose raw body (after de-chunking or HTTP/2 DATA
/// frames, up to the inspection limit; `cut` bytes beyond it) is `raw`:
/// notes the cut, undoes the declared content codings (or the one the
/// bytes announce) within the limits, and sets the body. Shared by
/// HTTP/1.x and HTTP/2.
pub fn finish_request(req: &mut HttpRequest, raw: Vec<u8>, cut: u64, limits: HttpLimits) {
    finish_coded(req, raw, cut, &[], limits);
}

/// [`finish_request`] for a body sent with transfer codings besides
/// chunked (`Transfer-Encoding: gzip, chunked`): they were applied after
/// the content codings, so they are undone first.
fn finish_coded(req: &mut HttpRequest, raw: Vec<u8>, cut: u64, transfer: &[Coding], limits: HttpLimits) {
    if cut > 0 {
        req.notes
            .push(format!("body cut at the {}-byte inspection limit ({cut} bytes not inspected)", limits.max_body));
    }
    let declared: Vec<String> = req
        .header("content-encoding")
        .map(|v| crate::util::lossy(v).split(',').map(|t| t.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let mut codings = Vec::new();
    for t in declared.iter().filter(|t| !t.is_empty() && *t != "identity") {
        match Coding::from_token(t) {
            Some(c) => codings.push(c),
            None => req
                .notes
                .push(format!("content encoding {} not decoded; body inspected as sent", body::shown(t.as_bytes()))),
        }
    }
    // Nothing declared, yet the bytes announce a coding: trust them.
    if codings.is_empty() && transfer.is_empty() {
        codings.extend(Coding::sniff(&raw));
    }
    codings.extend_from_slice(transfer);
    if codings.len() > MAX_CODINGS {
        let n = codings.len();
        req.notes.push(format!("{n} codings declared; only the outermost {MAX_CODINGS} undone"));
        codings.drain(..n - MAX_CODINGS);
    }
    let mut body = raw;
    // Codings apply in the order listed: undo them from the last.
    for c in codings.into_iter().rev() {
        // A declared coding the bytes deny (gzip without its magic) was
        // not applied: devices do send plain bodies under gzip labels.
        let denied = match c {
            Coding::Gzip | Coding::Zstd => Coding::sniff(&body) != Some(c),
            _ => false,
        };
        if denied {
            req.notes.push(format!("declared {} but sent plain; inspected as sent", c.name()));
            continue;
        }
        let (plain, err) = compress::decompress(c, &body, limits.max_decoded);
        match err {
            Some(e @ compress::DecodeBodyError::Corrupt { .. }) if plain.is_empty() => {
                req.notes.push(format!("{e}; body inspected as sent"));
            }
            err => {
                if let Some(e) = err {
                    req.notes.push(e.to_string());
                }
                req.decoded.push(c.name());
                body = plain;
            }
        }
    }
    req.body = body;
}

/// A request carried whole in one UDP datagram (SSDP's `M-SEARCH * HTTP/1.1`
/// and `NOTIFY`, UPnP devices announcing themselves): its head, and what
/// follows as body. `None` when the datagram does not start with a request
/// line.
pub fn datagram_request(
    payload: &[u8],
    src: SocketAddr,
    dst: SocketAddr,
    frame: u64,
    ts: Timestamp,
) -> Option<HttpRequest> {
    let line_end = memchr::memchr(b'\n', payload)?;
    head::split_request_line(&payload[..line_end]).filter(|l| l.version.is_some())?;
    let end = crate::util::finders::CRLF_CRLF.find(payload).map(|i| i + 4).unwrap_or(payload.len());
    let head = head::parse_head(&payload[..end]).or_else(|| head::parse_head_lenient(&payload[..end]))?;
    let body = payload[end..].to_vec();
    Some(HttpRequest {
        app: None,
        head,
        body,
        decoded: Vec::new(),
        frame,
        ts,
        src,
        dst,
        notes: Vec::new(),
        tls: None,
        stream_id: None,
    })
}

/// Why a direction is not parsed as requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRequests {
    Tls,
    HttpResponses,
    Other,
}

impl NotRequests {
    fn classify(first: &[u8]) -> Self {
        if first.first() == Some(&0x16) && first.get(1) == Some(&0x03) {
            NotRequests::Tls
        } else if first.starts_with(b"HTTP/") {
            NotRequests::HttpResponses
        } else {
            NotRequests::Other
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Head,
    Body,
    /// Skipping to the next line that may start a request.
    Resync,
    Ignored(NotRequests),
}

#[derive(Debug)]
enum BodyKind {
    Length(u64),
    Chunked(Chunked),
    /// Length unknown: the body runs to the next request line.
    UntilRequest(HeldLine),
}

/// The line a body of unknown length is in, held until it is known not to
/// hold the next request line, with the frames its bytes came in (the
/// last [`HELD_FRAMES`]: a request line spread over more frames is dated
/// by the oldest kept).
#[derive(Debug, Default)]
struct HeldLine {
    line: Vec<u8>,
    /// (offset in `line`, frame, time) where each frame's bytes start.
    frames: std::collections::VecDeque<(usize, u64, Timestamp)>,
}

/// Frame starts remembered in a [`HeldLine`].
const HELD_FRAMES: usize = 64;

impl HeldLine {
    fn push(&mut self, part: &[u8], chunk: &Chunk<'_>) {
        if self.frames.back().is_none_or(|f| f.1 != chunk.frame) {
            if self.frames.len() == HELD_FRAMES {
                self.frames.pop_front();
            }
            self.frames.push_back((self.line.len(), chunk.frame, chunk.ts));
        }
        self.line.extend_from_slice(part);
    }

    /// The frame and time of the byte at `pos`.
    fn frame_at(&self, pos: usize) -> (u64, Timestamp) {
        let f = self.frames.iter().rev().find(|f| f.0 <= pos).or(self.frames.front());
        f.map_or((0, Timestamp::default()), |f| (f.1, f.2))
    }

    /// Drops the first `n` bytes (already kept as body).
    fn drop_front(&mut self, n: usize) {
        self.line.drain(..n);
        while self.frames.get(1).is_some_and(|f| f.0 <= n) {
            self.frames.pop_front();
        }
        for f in &mut self.frames {
            f.0 = f.0.saturating_sub(n);
        }
    }

    fn clear(&mut self) {
        self.line.clear();
        self.frames.clear();
    }
}

#[derive(Debug)]
struct Pending {
    req: HttpRequest,
    kind: BodyKind,
    /// Transfer codings besides chunked, in the order applied.
    transfer: Vec<Coding>,
    raw: Vec<u8>,
    /// Body bytes seen beyond `max_body`.
    cut: u64,
    /// The request went out early ([`RequestStream::shed`]): the rest of
    /// its body is followed for its framing only.
    shed: bool,
}

/// Keeps body bytes for inspection up to `max`; counts the rest.
fn keep_body(raw: &mut Vec<u8>, cut: &mut u64, max: usize, b: &[u8]) {
    let room = max.saturating_sub(raw.len());
    let (kept, over) = b.split_at(room.min(b.len()));
    raw.extend_from_slice(kept);
    *cut = cut.saturating_add(over.len() as u64);
}

/// The request parser of one client-to-server direction.
#[derive(Debug)]
pub struct RequestStream {
    limits: HttpLimits,
    mode: Mode,
    /// Head bytes gathered so far.
    buf: Vec<u8>,
    buf_frame: u64,
    buf_ts: Timestamp,
    /// The request whose body is being read (boxed: most connections
    /// never have one, and each costs its table slot).
    pending: Option<Box<Pending>>,
    /// A request was seen, or a gap happened: unknown bytes are skipped
    /// (resync), not a reason to give the direction up.
    committed: bool,
    /// For a stream picked up in its middle: bytes left to find a request
    /// line before the direction is given up as not HTTP.
    probation: Option<u64>,
    /// Its first bytes, to say what it was if it is given up.
    first: Vec<u8>,
    pub requests: u64,
}

/// Bytes of a stream picked up in its middle searched for a request line.
pub const MIDSTREAM_SEARCH: u64 = 64 << 10;

impl RequestStream {
    pub fn new(limits: HttpLimits) -> Self {
        RequestStream {
            limits,
            mode: Mode::Head,
            buf: Vec::new(),
            buf_frame: 0,
            buf_ts: Timestamp::default(),
            pending: None,
            committed: false,
            probation: None,
            first: Vec::new(),
            requests: 0,
        }
    }

    /// The stream was picked up in its middle (no handshake): its first
    /// bytes may be the tail of a request, so unknown bytes are skipped to
    /// the next request line, for up to [`MIDSTREAM_SEARCH`] bytes, rather
    /// than giving the direction up at once.
    pub fn picked_up_midstream(&mut self) {
        self.committed = true;
        self.probation = Some(MIDSTREAM_SEARCH);
    }

    /// Why this direction is not parsed, once that is known.
    pub fn ignored(&self) -> Option<NotRequests> {
        match self.mode {
            Mode::Ignored(r) => Some(r),
            _ => None,
        }
    }

    /// Feeds in-order bytes; completed requests are pushed to `out`.
    pub fn feed(&mut self, src: SocketAddr, dst: SocketAddr, chunk: Chunk<'_>, out: &mut Vec<HttpRequest>) -> Interest {
        if self.first.len() < 8 {
            let take = (8 - self.first.len()).min(chunk.data.len());
            self.first.extend_from_slice(&chunk.data[..take]);
        }
        let mut rest = chunk.data;
        while !rest.is_empty() {
            let used = match self.mode {
                Mode::Ignored(_) => return Interest::Ignore,
                Mode::Resync => match memchr::memchr(b'\n', rest) {
                    Some(n) => {
                        self.mode = Mode::Head;
                        n + 1
                    }
                    None => rest.len(),
                },
                Mode::Head => self.feed_head(src, dst, chunk, rest, out),
                Mode::Body => self.feed_body(chunk, rest, out),
            };
            rest = &rest[used..];
            if let Some(left) = self.probation.as_mut() {
                *left = left.saturating_sub(used as u64);
                if *left == 0 && self.mode != Mode::Body {
                    self.mode = Mode::Ignored(NotRequests::classify(&self.first));
                    self.buf.clear();
                }
            }
        }
        match self.mode {
            Mode::Ignored(_) => Interest::Ignore,
            _ => Interest::Inspect,
        }
    }

    fn feed_head(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        chunk: Chunk<'_>,
        rest: &[u8],
        out: &mut Vec<HttpRequest>,
    ) -> usize {
        if self.buf.is_empty() {
            // Blank lines between requests (after a body) are allowed.
            let blank = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            if blank > 0 {
                return blank;
            }
            self.buf_frame = chunk.frame;
            self.buf_ts = chunk.ts;
        }
        let mut scan_from = self.buf.len().saturating_sub(3);
        let take = rest.len().min(self.limits.max_head.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&rest[..take]);
        let appended = self.buf.len();
        if !self.check_start() {
            return take;
        }
        if self.buf.len() != appended {
            // Lines were dropped: the earlier scan position is stale.
            scan_from = 0;
        }
        let hay = &self.buf[scan_from..];
        use crate::util::finders::{LF_CRLF, LF_LF};
        let end = [(&LF_CRLF, 3), (&LF_LF, 2)]
            .iter()
            .filter_map(|(finder, len)| finder.find(hay).map(|p| scan_from + p + len))
            .min()
            .or_else(|| {
                // An HTTP/0.9 request is its request line alone.
                let nl = memchr::memchr(b'\n', &self.buf)?;
                head::split_request_line(&self.buf[..nl]).filter(|l| l.version.is_none()).map(|_| nl + 1)
            });
        let Some(end) = end else {
            if self.buf.len() >= self.limits.max_head {
                let limit = self.limits.max_head;
                self.emit_cut(
                    src,
                    dst,
                    format!("request head over the {limit}-byte limit; headers after it not read"),
                    out,
                );
                self.mode = Mode::Resync;
            }
            return take;
        };
        let after = self.buf.split_off(end);
        let head_bytes = std::mem::take(&mut self.buf);
        // Bytes of `rest` after the head are not consumed yet: give back.
        let given_back = after.len();
        let Some(head) = head::parse_head(&head_bytes) else {
            self.mode = Mode::Resync;
            return take.saturating_sub(given_back);
        };
        self.committed = true;
        self.probation = None;
        self.start_body(src, dst, head, out);
        take.saturating_sub(given_back)
    }

    /// Checks that the buffer starts like a request; drops lines that do
    /// not. Returns true when the buffer holds a plausible request start.
    fn check_start(&mut self) -> bool {
        loop {
            let line_end = memchr::memchr(b'\n', &self.buf);
            let first = &self.buf[..line_end.unwrap_or(self.buf.len())];
            let ok = head::may_start_request(first) && line_end.is_none_or(|_| head::is_request_line(first));
            if ok {
                return !self.buf.is_empty();
            }
            if !self.committed {
                self.mode = Mode::Ignored(NotRequests::classify(&self.buf));
                self.buf.clear();
                return false;
            }
            match line_end {
                Some(n) => {
                    self.buf.drain(..=n);
                    if self.buf.is_empty() {
                        return false;
                    }
                }
                None => {
                    self.buf.clear();
                    self.mode = Mode::Resync;
                    return false;
                }
            }
        }
    }

    /// A request with this head, starting where the buffered bytes did.
    fn new_request(&self, src: SocketAddr, dst: SocketAddr, head: Head) -> HttpRequest {
        HttpRequest {
            app: None,
            head,
            body: Vec::new(),
            decoded: Vec::new(),
            frame: self.buf_frame,
            ts: self.buf_ts,
            src,
            dst,
            notes: Vec::new(),
            tls: None,
            stream_id: None,
        }
    }

    fn start_body(&mut self, src: SocketAddr, dst: SocketAddr, head: Head, out: &mut Vec<HttpRequest>) {
        let mut req = self.new_request(src, dst, head);
        let f = body::framing(&req.head.headers);
        req.notes.extend(f.notes);
        let kind = match f.framing {
            Framing::Length(n) => BodyKind::Length(n),
            Framing::Chunked => BodyKind::Chunked(Chunked::default()),
            Framing::Unknown => BodyKind::UntilRequest(HeldLine::default()),
            Framing::None => {
                self.requests += 1;
                out.push(req);
                self.mode = Mode::Head;
                return;
            }
        };
        self.pending = Some(Box::new(Pending { req, kind, transfer: f.codings, raw: Vec::new(), cut: 0, shed: false }));
        self.mode = Mode::Body;
    }

    fn feed_body(&mut self, chunk: Chunk<'_>, rest: &[u8], out: &mut Vec<HttpRequest>) -> usize {
        let Some(p) = self.pending.as_mut() else {
            self.mode = Mode::Head;
            return 0;
        };
        let max = if p.shed { 0 } else { self.limits.max_body };
        let (used, done) = match &mut p.kind {
            BodyKind::Length(left) => {
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                keep_body(&mut p.raw, &mut p.cut, max, &rest[..take]);
                *left = left.saturating_sub(take as u64);
                (take, *left == 0)
            }
            BodyKind::Chunked(dec) => {
                let (raw, cut) = (&mut p.raw, &mut p.cut);
                match dec.feed(rest, &mut |b| keep_body(raw, cut, max, b)) {
                    ChunkedStep::More => (rest.len(), false),
                    ChunkedStep::Done(n) => (n, true),
                    ChunkedStep::Invalid(n) => {
                        // What follows is still the body's: read it as a
                        // body of unknown length, from the broken line on.
                        p.req.notes.push(format!(
                            "chunked body is malformed after {} bytes: the bytes up to the next request line are read as the body",
                            p.raw.len().saturating_add(usize::try_from(p.cut).unwrap_or(usize::MAX))
                        ));
                        let line = dec.take_line();
                        p.kind = BodyKind::UntilRequest(HeldLine::default());
                        self.feed_until_request(Chunk { data: &line, ..chunk }, &line, out);
                        // The caller goes on from `n`, in the body or, if
                        // the broken line was a request line, in its head.
                        return n;
                    }
                }
            }
            BodyKind::UntilRequest(_) => return self.feed_until_request(chunk, rest, out),
        };
        if done {
            self.finish_body(out);
        }
        used
    }

    /// A body of unknown length: whole lines are body bytes until one is
    /// (or ends with) a request line; that line starts the next head.
    /// Returns the bytes of `rest` used (all, unless a request line was
    /// found: then up to the end of that line, which moves to the head
    /// buffer).
    fn feed_until_request(&mut self, chunk: Chunk<'_>, rest: &[u8], out: &mut Vec<HttpRequest>) -> usize {
        let (mut max_body, max_head) = (self.limits.max_body, self.limits.max_head);
        let Some(p) = self.pending.as_mut() else { return rest.len() };
        if p.shed {
            max_body = 0;
        }
        let BodyKind::UntilRequest(h) = &mut p.kind else { return rest.len() };
        let mut i = 0;
        while i < rest.len() {
            let (part, complete) = match memchr::memchr(b'\n', &rest[i..]) {
                Some(n) => (&rest[i..=i + n], true),
                None => (&rest[i..], false),
            };
            h.push(part, &chunk);
            i += part.len();
            if !complete {
                // A request line is shorter than a head: of a longer line
                // only the tail may hold one. Cut at twice the limit, so
                // that the copying is amortised.
                if h.line.len() >= max_head.saturating_mul(2).max(2) {
                    let cut_at = h.line.len() - max_head;
                    keep_body(&mut p.raw, &mut p.cut, max_body, &h.line[..cut_at]);
                    h.drop_front(cut_at);
                }
                continue;
            }
            let start = head::request_line_in(&h.line).filter(|s| h.line.len() - s < max_head);
            let Some(start) = start else {
                keep_body(&mut p.raw, &mut p.cut, max_body, &h.line);
                h.clear();
                continue;
            };
            let (frame, ts) = h.frame_at(start);
            let line = std::mem::take(&mut h.line);
            keep_body(&mut p.raw, &mut p.cut, max_body, &line[..start]);
            self.finish_body(out);
            self.buf = line[start..].to_vec();
            (self.buf_frame, self.buf_ts) = (frame, ts);
            return i;
        }
        i
    }

    fn finish_body(&mut self, out: &mut Vec<HttpRequest>) {
        self.mode = Mode::Head;
        let Some(Pending { mut req, kind, transfer, mut raw, mut cut, shed }) = self.pending.take().map(|p| *p) else {
            return;
        };
        if shed {
            // It went out already.
            return;
        }
        if let BodyKind::UntilRequest(h) = kind {
            keep_body(&mut raw, &mut cut, self.limits.max_body, &h.line);
        }
        finish_coded(&mut req, raw, cut, &transfer, self.limits);
        self.requests += 1;
        out.push(req);
    }

    /// Bytes this parser holds (its buffers' capacity).
    pub fn held(&self) -> usize {
        let pending = self.pending.as_ref().map_or(0, |p| {
            let line = match &p.kind {
                BodyKind::UntilRequest(h) => h.line.capacity(),
                _ => 0,
            };
            p.raw.capacity() + line + p.req.body.capacity()
        });
        self.buf.capacity() + self.first.capacity() + pending
    }

    /// Gives memory back when all connections together hold too much: a
    /// request whose body is being gathered goes out now with what it has
    /// (noted), and the rest of its body is followed for its framing
    /// only, so the next request is still found.
    pub fn shed(&mut self, note: &str, out: &mut Vec<HttpRequest>) {
        self.first = Vec::new();
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        let Some(p) = self.pending.as_mut().filter(|p| !p.shed) else { return };
        let mut req = p.req.clone();
        let mut raw = std::mem::take(&mut p.raw);
        if let BodyKind::UntilRequest(h) = &mut p.kind {
            keep_body(&mut raw, &mut p.cut, self.limits.max_body, &h.line);
            h.line = Vec::new();
            h.frames.clear();
        }
        req.notes.push(format!("body inspected after {} bytes, before its end: {note}", raw.len()));
        finish_coded(&mut req, raw, std::mem::take(&mut p.cut), &p.transfer, self.limits);
        p.shed = true;
        self.requests += 1;
        out.push(req);
    }

    /// Emits what a head cut short holds, if it has a request line.
    fn emit_cut(&mut self, src: SocketAddr, dst: SocketAddr, note: String, out: &mut Vec<HttpRequest>) {
        let bytes = std::mem::take(&mut self.buf);
        if let Some(head) = head::parse_head_lenient(&bytes) {
            self.requests += 1;
            let mut req = self.new_request(src, dst, head);
            req.notes.push(note);
            out.push(req);
        }
    }

    /// `len` bytes of the direction were never captured.
    pub fn gap(&mut self, src: SocketAddr, dst: SocketAddr, len: u64, out: &mut Vec<HttpRequest>) {
        match self.mode {
            Mode::Ignored(_) => return,
            Mode::Head if !self.buf.is_empty() => {
                self.emit_cut(src, dst, format!("request head cut by a gap of {len} bytes"), out);
            }
            Mode::Body => {
                if let Some(p) = self.pending.as_mut() {
                    if let BodyKind::Length(left) = &mut p.kind
                        && len < *left
                    {
                        *left -= len; // len < left: no wrap
                        p.req.notes.push(format!("{len} bytes of the body were not captured"));
                        return;
                    }
                    p.req.notes.push(format!("body cut by a gap of {len} bytes"));
                }
                self.finish_body(out);
            }
            _ => {}
        }
        self.committed = true;
        self.buf.clear();
        self.mode = Mode::Head;
    }

    /// End of the stream: emits a request still in progress.
    pub fn close(&mut self, src: SocketAddr, dst: SocketAddr, out: &mut Vec<HttpRequest>) {
        match self.mode {
            Mode::Head if !self.buf.is_empty() && self.committed_or_request_line() => {
                self.emit_cut(src, dst, "request head cut short at the end of the stream".to_string(), out);
            }
            Mode::Body => {
                // A body of unknown length ends with the stream: not cut.
                if let Some(p) = self.pending.as_mut()
                    && !matches!(p.kind, BodyKind::UntilRequest(_))
                {
                    p.req.notes.push("body cut short at the end of the stream".to_string());
                }
                self.finish_body(out);
            }
            _ => {}
        }
    }

    fn committed_or_request_line(&self) -> bool {
        let line_end = memchr::memchr(b'\n', &self.buf).unwrap_or(self.buf.len());
        head::is_request_line(&self.buf[..line_end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `host_name` gives what the reading before it gave (lower-cased
    /// whole, then cut).
    #[test]
    fn host_names_are_cut_as_before() {
        fn before(h: &str) -> Option<String> {
            let h = h.to_ascii_lowercase();
            let name = if h.starts_with('[') {
                h.split(']').next().map(|s| format!("{s}]")).unwrap_or(h.clone())
            } else {
                h.split(':').next().unwrap_or("").to_string()
            };
            (!name.is_empty()).then_some(name)
        }
        let parts = ["[", "]", ":", "A", "b", "É", "8", "::1", "Example.COM", ""];
        let mut x = 0x9e37_79b9u64;
        for _ in 0..20_000 {
            crate::util::xorshift(&mut x);
            let h: String = (0..x % 7).map(|i| parts[((x >> (i * 4)) % parts.len() as u64) as usize]).collect();
            assert_eq!(host_name(&h), before(&h), "{h:?}");
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Feeds `wire` split into pieces of `n` bytes (each its own frame).
    fn parse_split(wire: &[u8], n: usize) -> Vec<HttpRequest> {
        let mut rs = RequestStream::new(HttpLimits::default());
        let mut out = Vec::new();
        let (s, d) = (addr("10.0.0.2:40000"), addr("1.2.3.4:80"));
        for (i, piece) in wire.chunks(n.max(1)).enumerate() {
            let c = Chunk { data: piece, frame: i as u64 + 1, ts: Timestamp::default() };
            rs.feed(s, d, c, &mut out);
        }
        rs.close(s, d, &mut out);
        out
    }

    const PIPELINE: &[u8] = b"GET /a?imei=1 HTTP/1.1\r\nHost: x.example\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x.example\r\nContent-Length: 5\r\n\r\nhello\
POST /c HTTP/1.1\r\nHost: y.example:8080\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

    /// A request shed in the middle of its body goes out with what it had;
    /// the rest of its body is skipped by its framing, for each framing,
    /// and the next request is read whole.
    #[test]
    fn shed_body_goes_out_early_and_framing_is_kept() {
        let (s, d) = (addr("10.0.0.2:40000"), addr("1.2.3.4:80"));
        let next = b"GET /next?imei=356938035643809 HTTP/1.1\r\nHost: x\r\n\r\n".as_slice();
        let cases: [(&[u8], &[u8], &[u8]); 3] = [
            (b"POST /a HTTP/1.1\r\nContent-Length: 20\r\n\r\n", b"imei=356938", b"035643809"),
            (
                b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"14\r\nimei=356938",
                b"035643809\r\n0\r\n\r\n",
            ),
            (b"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"imei=356938", b"035643809\r\n"),
        ];
        for (head, first, rest) in cases {
            let mut rs = RequestStream::new(HttpLimits::default());
            let mut out = Vec::new();
            let c = |data, frame| Chunk { data, frame, ts: Timestamp::default() };
            rs.feed(s, d, c(head, 1), &mut out);
            rs.feed(s, d, c(first, 2), &mut out);
            assert!(out.is_empty());
            assert!(rs.held() > 0);
            rs.shed("memory limit", &mut out);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].body, b"imei=356938", "{:?}", crate::util::lossy(head));
            assert!(out[0].notes.iter().any(|n| n.contains("before its end: memory limit")), "{:?}", out[0].notes);
            rs.feed(s, d, c(rest, 3), &mut out);
            rs.feed(s, d, c(next, 4), &mut out);
            rs.close(s, d, &mut out);
            assert_eq!(out.len(), 2, "{:?}", out.iter().map(|r| r.uri()).collect::<Vec<_>>());
            assert_eq!(out[1].uri(), "/next?imei=356938035643809");
            assert_eq!(out[1].frame, 4);
        }
    }

    #[test]
    fn pipelined_requests_in_every_chunking() {
        for n in 1..=PIPELINE.len() {
            let reqs = parse_split(PIPELINE, n);
            let got: Vec<(String, String, Vec<u8>)> =
                reqs.iter().map(|r| (r.head.method.clone(), r.uri(), r.body.clone())).collect();
            assert_eq!(
                got,
                vec![
                    ("GET".into(), "/a?imei=1".into(), vec![]),
                    ("POST".into(), "/b".into(), b"hello".to_vec()),
                    ("POST".into(), "/c".into(), b"abcde".to_vec()),
                ],
                "chunk size {n}"
            );
            assert_eq!(reqs[2].host().as_deref(), Some("y.example"));
            assert!(reqs.iter().all(|r| r.notes.is_empty()), "chunk size {n}");
        }
    }

    fn one(head: &str, body: &[u8]) -> HttpRequest {
        let mut wire = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        wire.extend_from_slice(body);
        let mut r = parse_split(&wire, 7);
        assert_eq!(r.len(), 1);
        r.remove(0)
    }

    #[test]
    fn content_encodings_declared_lying_and_sniffed() {
        let br = hex_bytes("8b0980696d65693d33353639333830333536343338303903");
        let r = one("POST /a HTTP/1.1\r\nContent-Encoding: br\r\n", &br);
        assert_eq!((r.body.as_slice(), r.decoded.clone()), (&b"imei=356938035643809"[..], vec!["br"]));
        let r = one("POST /a HTTP/1.1\r\nContent-Encoding: gzip\r\n", b"imei=1");
        assert_eq!(r.body, b"imei=1");
        assert!(r.notes[0].contains("declared gzip but sent plain"), "{:?}", r.notes);
        let zst = hex_bytes("28b52ffd0458a10000696d65693d333536393338303335363433383039d29b152b");
        let r = one("POST /a HTTP/1.1\r\n", &zst);
        assert_eq!((r.body.as_slice(), r.decoded.clone()), (&b"imei=356938035643809"[..], vec!["zstd"]));
        let r = one("POST /a HTTP/1.1\r\nContent-Encoding: compress\r\n", b"x");
        assert!(r.notes[0].contains("not decoded"));
    }

    fn hex_bytes(h: &str) -> Vec<u8> {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn smuggling_shapes_are_noted() {
        let r = parse_split(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n",
            4,
        );
        assert_eq!(r.iter().map(|r| r.uri()).collect::<Vec<_>>(), vec!["/a", "/b"]);
        assert_eq!(r[0].body, b"abc");
        assert!(
            r[0].notes[0].contains("\"3, 5\" is not a valid length (a list of different values)"),
            "{:?}",
            r[0].notes
        );
        let r = parse_split(b"POST /a HTTP/1.1\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 5);
        assert_eq!(r.iter().map(|r| r.uri()).collect::<Vec<_>>(), vec!["/a", "/b"]);
        assert!(r[0].notes[0].contains("chunked is used"));
    }

    /// A malformed length: the body is what comes before the next request
    /// line, at a line start or glued to the body, in every chunking; the
    /// request after it is read as usual.
    #[test]
    fn unknown_length_body_runs_to_the_next_request_line() {
        for value in
            ["+12", "-5", "12, 13", "0x10", "9223372036854775808", "18446744073709551616", "123456789012345678901"]
        {
            for sep in ["", "\r\n", "\n\r\nline two\r\n"] {
                let wire = format!(
                    "POST /a HTTP/1.1\r\nContent-Length: {value}\r\n\r\nimei=356938035643809{sep}POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /c HTTP/1.1\r\n\r\n"
                );
                for n in 1..=wire.len() {
                    let r = parse_split(wire.as_bytes(), n);
                    let got: Vec<(String, Vec<u8>)> = r.iter().map(|r| (r.uri(), r.body.clone())).collect();
                    let first = format!("imei=356938035643809{sep}").into_bytes();
                    assert_eq!(
                        got,
                        [("/a".into(), first), ("/b".into(), b"ok".to_vec()), ("/c".into(), vec![])],
                        "{value:?} {sep:?} chunk {n}"
                    );
                    assert!(r[0].notes[0].starts_with(&format!("Content-Length \"{value}\" is not a valid length")));
                    assert_eq!(r[0].notes.len(), 1, "{:?}", r[0].notes);
                    assert!(r[1..].iter().all(|r| r.notes.is_empty()));
                    assert_eq!(r[1].frame, 1 + (wire.find("POST /b").unwrap() / n) as u64, "chunk {n}");
                }
            }
        }
        // No request follows: the rest of the direction is the body, up to
        // the inspection limit, and not said to be cut short.
        let mut wire = b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec();
        wire.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
        let r = parse_split(&wire, 1000);
        assert_eq!((r.len(), r[0].body.len()), (1, 1 << 20));
        assert_eq!(r[0].notes.len(), 2, "{:?}", r[0].notes);
        assert!(r[0].notes[1].contains("(10 bytes not inspected)"), "{:?}", r[0].notes);
        // Found after a line longer than a head.
        let mut wire = b"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec();
        wire.extend(std::iter::repeat_n(b'y', 300_000));
        wire.extend_from_slice(b"GET /b HTTP/1.1\r\n\r\n");
        let r = parse_split(&wire, 999);
        assert_eq!(
            r.iter().map(|r| (r.uri(), r.body.len())).collect::<Vec<_>>(),
            [("/a".into(), 300_000), ("/b".into(), 0)]
        );
    }

    /// Chunked declared, plain body sent: the broken chunk line and what
    /// follows are the body, up to the next request line.
    #[test]
    fn broken_chunked_body_is_read_to_the_next_request() {
        let wire = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nimei=356938035643809\r\nmore\r\nGET /b HTTP/1.1\r\n\r\n";
        for n in 1..=wire.len() {
            let r = parse_split(wire, n);
            let got: Vec<(String, Vec<u8>)> = r.iter().map(|r| (r.uri(), r.body.clone())).collect();
            assert_eq!(
                got,
                [("/a".into(), b"abcimei=356938035643809\r\nmore\r\n".to_vec()), ("/b".into(), vec![])],
                "{n}"
            );
            assert!(r[0].notes[0].starts_with("chunked body is malformed after 3 bytes"), "{:?}", r[0].notes);
        }
        // The broken line is itself the next request.
        let r = parse_split(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 4);
        assert_eq!(r.iter().map(|r| r.uri()).collect::<Vec<_>>(), ["/a", "/b"]);
    }

    /// Transfer codings besides chunked are undone; one that does not end
    /// in chunked leaves the length unknown.
    #[test]
    fn transfer_codings_undone_or_noted() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"imei=356938035643809").unwrap();
        let gz = gz.finish().unwrap();
        let mut wire =
            format!("POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{:x}\r\n", gz.len()).into_bytes();
        wire.extend_from_slice(&gz);
        wire.extend_from_slice(b"\r\n0\r\n\r\n");
        let r = parse_split(&wire, 5);
        assert_eq!((r[0].body.as_slice(), r[0].decoded.clone()), (&b"imei=356938035643809"[..], vec!["gzip"]));
        let r = parse_split(b"POST /a HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nimei=1\r\nGET /b HTTP/1.1\r\n\r\n", 3);
        assert_eq!(
            r.iter().map(|r| (r.uri(), r.body.clone())).collect::<Vec<_>>(),
            [("/a".into(), b"imei=1\r\n".to_vec()), ("/b".into(), vec![])]
        );
        assert!(r[0].notes.iter().any(|n| n.contains("\"identity\" does not end in chunked")), "{:?}", r[0].notes);
        let many =
            format!("POST /a HTTP/1.1\r\nContent-Encoding: {}\r\nContent-Length: 1\r\n\r\nx", ["br"; 50].join(", "));
        let r = parse_split(many.as_bytes(), 64);
        assert!(r[0].notes.iter().any(|n| n == "50 codings declared; only the outermost 4 undone"), "{:?}", r[0].notes);
        assert!(r[0].notes.len() <= 1 + MAX_CODINGS, "{:?}", r[0].notes);
    }

    #[test]
    fn stream_picked_up_midstream_resyncs() {
        let wire: &[u8] = b"e of an earlier body\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
        let c = Chunk { data: wire, frame: 1, ts: Timestamp::default() };
        let (s, d) = (addr("10.0.0.1:1"), addr("10.0.0.2:80"));
        let mut out = Vec::new();
        let mut rs = RequestStream::new(HttpLimits::default());
        rs.picked_up_midstream();
        assert_eq!(rs.feed(s, d, c, &mut out), Interest::Inspect);
        assert_eq!(out.iter().map(|r| r.uri()).collect::<Vec<_>>(), vec!["/x"]);
        // With its handshake seen, a stream that starts otherwise is not HTTP.
        let mut rs = RequestStream::new(HttpLimits::default());
        assert_eq!(rs.feed(s, d, c, &mut out), Interest::Ignore);
        // Picked up mid-stream but never HTTP: given up after the budget.
        let mut rs = RequestStream::new(HttpLimits::default());
        rs.picked_up_midstream();
        let noise = vec![b'x'; MIDSTREAM_SEARCH as usize + 10];
        let c = Chunk { data: &noise, frame: 2, ts: Timestamp::default() };
        assert_eq!(rs.feed(s, d, c, &mut out), Interest::Ignore);
    }

    #[test]
    fn ssdp_datagram_is_a_request() {
        let (s, d) = (addr("10.0.0.1:1900"), addr("239.255.255.250:1900"));
        let m = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nST: ssdp:all\r\n\r\n";
        let r = datagram_request(m, s, d, 7, Timestamp::default()).expect("a request");
        assert_eq!((r.head.method.as_str(), r.uri(), r.frame), ("M-SEARCH", "*".to_string(), 7));
        assert!(datagram_request(b"{\"type\":\"alive\"}", s, d, 1, Timestamp::default()).is_none());
    }

    #[test]
    fn frame_of_first_byte() {
        // 10-byte pieces: the second request starts at byte 41 (frame 5).
        let reqs = parse_split(PIPELINE, 10);
        assert_eq!(reqs[0].frame, 1);
        assert_eq!(reqs[1].frame, 5);
    }

    #[test]
    fn tls_and_responses_are_ignored() {
        let mut rs = RequestStream::new(HttpLimits::default());
        let mut out = Vec::new();
        let c = Chunk { data: b"\x16\x03\x01\x00\xa5\x01", frame: 1, ts: Timestamp::default() };
        assert_eq!(rs.feed(addr("1.1.1.1:1"), addr("2.2.2.2:443"), c, &mut out), Interest::Ignore);
        assert_eq!(rs.ignored(), Some(NotRequests::Tls));
        let mut rs = RequestStream::new(HttpLimits::default());
        let c = Chunk { data: b"HTTP/1.1 200 OK\r\n", frame: 1, ts: Timestamp::default() };
        assert_eq!(rs.feed(addr("1.1.1.1:80"), addr("2.2.2.2:1"), c, &mut out), Interest::Ignore);
        assert_eq!(rs.ignored(), Some(NotRequests::HttpResponses));
        assert!(out.is_empty());
    }

    #[test]
    fn gap_resyncs_at_next_request_without_joining() {
        let mut rs = RequestStream::new(HttpLimits::default());
        let mut out = Vec::new();
        let (s, d) = (addr("10.0.0.2:40000"), addr("1.2.3.4:80"));
        let c = |data: &'static [u8], frame| Chunk { data, frame, ts: Timestamp::default() };
        rs.feed(s, d, c(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /tw", 1), &mut out);
        rs.gap(s, d, 100, &mut out);
        rs.feed(s, d, c(b"o HTTP/1.1\r\nHost: a\r\n\r\nGET /three HTTP/1.1\r\n\r\n", 3), &mut out);
        let uris: Vec<String> = out.iter().map(|r| r.uri()).collect();
        assert_eq!(uris, vec!["/one", "/tw", "/three"]);
        assert!(out[1].notes[0].contains("gap"));
        assert_eq!(out[2].frame, 3);
    }
}
