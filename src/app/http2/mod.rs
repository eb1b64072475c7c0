//! http2: HTTP/2 requests, inside TLS (ALPN h2) and in clear with prior
//! knowledge (h2c, recognised by the client's connection preface, on any
//! port).
//!
//! Input: both directions of a connection. The client's frames are read
//! for requests: HEADERS (with PADDED and PRIORITY) joined with its
//! CONTINUATION frames until END_HEADERS and decoded with the client's
//! HPACK table, then DATA until END_STREAM. The server's frames are read
//! only for what keeps the decoders in step: its header blocks (HEADERS,
//! CONTINUATION, PUSH_PROMISE) go through the server's HPACK table, its
//! SETTINGS bound the client's table; response bodies are not kept.
//! Output: one [`HttpRequest`] per stream, `version` 2, `stream_id` set,
//! the body through the same decoding as HTTP/1.x.
//!
//! Limits: frame size, header block size, open streams per connection,
//! body bytes per request and for all open requests of a connection
//! together (the HTTP body limit); HPACK's own ([`hpack::Limits`]).
//! A broken header block loses that direction's HPACK state: its requests
//! still open are emitted with a note, the rest of the direction counted.
//!
//! Never: trust a length, let a peer open unbounded streams, panic.

pub mod hpack;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{AppConfig, AppProto, Closed, Cx, Dissector, Probe, Role, Seg, Verdict};
use crate::http::{Head, HttpRequest, finish_request};
use crate::util::Timestamp;

/// The client connection preface (RFC 9113 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
/// Largest frame read; RFC 9113 allows up to 2^24-1 once SETTINGS say so.
pub const MAX_FRAME: usize = 1 << 20;
/// Largest header block (HEADERS plus CONTINUATION) joined.
pub const MAX_HEADER_BLOCK: usize = 256 << 10;
/// Client streams open at once per connection; more are not read.
pub const MAX_STREAMS: usize = 1024;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
const SETTINGS_HEADER_TABLE_SIZE: u16 = 1;

pub const PROTO: AppProto = AppProto { name: "http2", probe, new: |cfg| Box::new(Http2::new(cfg)) };

/// The client's preface, or the start of it.
fn probe(seg: &Seg<'_>) -> Probe {
    let d = seg.chunk.data;
    if d.len() >= PREFACE.len() {
        if d.starts_with(PREFACE) { Probe::Yes } else { Probe::No }
    } else if PREFACE.starts_with(d) && !d.is_empty() {
        Probe::NeedMore
    } else {
        Probe::No
    }
}

/// Where a frame started.
#[derive(Clone, Copy, Debug, Default)]
struct At {
    frame: u64,
    ts: Timestamp,
}

/// A header block being joined: HEADERS or PUSH_PROMISE, then
/// CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    bytes: Vec<u8>,
    at: At,
}

/// One direction.
struct Side {
    /// A frame split across segments.
    buf: Vec<u8>,
    buf_at: At,
    /// Preface bytes still to skip (the client's).
    preface: usize,
    hpack: hpack::Decoder,
    block: Option<Block>,
    /// The HPACK state is lost, or framing broke: only counted from now.
    dead: bool,
}

impl Side {
    fn new(preface: usize) -> Side {
        Side {
            buf: Vec::new(),
            buf_at: At::default(),
            preface,
            hpack: hpack::Decoder::new(hpack::Limits::default()),
            block: None,
            dead: false,
        }
    }
}

/// A client stream whose request is being read.
struct Stream {
    head: Head,
    raw: Vec<u8>,
    cut: u64,
    at: At,
    notes: Vec<String>,
}

/// One HTTP/2 connection.
pub struct Http2 {
    cfg: AppConfig,
    sides: [Side; 2],
    streams: BTreeMap<u32, Stream>,
    /// Body bytes held by the open streams, together.
    body_bytes: usize,
    client: Option<(SocketAddr, SocketAddr)>,
}

/// Splits a frame payload's padding off (PADDED flag): the pad length
/// byte, then data, then that many padding bytes.
fn unpad(flags: u8, p: &[u8]) -> Option<&[u8]> {
    if flags & PADDED == 0 {
        return Some(p);
    }
    let (&n, rest) = p.split_first()?;
    rest.len().checked_sub(usize::from(n)).map(|end| &rest[..end])
}

impl Http2 {
    pub fn new(cfg: &AppConfig) -> Self {
        Http2 {
            cfg: *cfg,
            sides: [Side::new(PREFACE.len()), Side::new(0)],
            streams: BTreeMap::new(),
            body_bytes: 0,
            client: None,
        }
    }

    /// Cuts a direction's bytes into frames.
    fn feed(&mut self, cx: &mut Cx<'_>, role: Role, mut data: &[u8], at: At) {
        let r = role.index();
        let skip = self.sides[r].preface.min(data.len());
        self.sides[r].preface -= skip;
        data = &data[skip..];
        while !data.is_empty() && !self.sides[r].dead {
            let side = &mut self.sides[r];
            if side.buf.is_empty() && data.len() >= FRAME_HEADER {
                let len = frame_len(data);
                if len > MAX_FRAME {
                    self.broken(cx, role, format!("HTTP/2 frame of {len} bytes over the {MAX_FRAME}-byte limit"));
                    break;
                }
                if data.len() >= FRAME_HEADER + len {
                    let (frame, rest) = data.split_at(FRAME_HEADER + len);
                    self.frame(cx, role, frame, at);
                    data = rest;
                    continue;
                }
            }
            if side.buf.is_empty() {
                side.buf_at = at;
            }
            let want = if side.buf.len() < FRAME_HEADER {
                FRAME_HEADER - side.buf.len()
            } else {
                FRAME_HEADER + frame_len(&side.buf) - side.buf.len()
            };
            let n = want.min(data.len());
            side.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if side.buf.len() == FRAME_HEADER && frame_len(&side.buf) > MAX_FRAME {
                let len = frame_len(&side.buf);
                self.broken(cx, role, format!("HTTP/2 frame of {len} bytes over the {MAX_FRAME}-byte limit"));
                break;
            }
            if side.buf.len() >= FRAME_HEADER && side.buf.len() == FRAME_HEADER + frame_len(&side.buf) {
                let frame = std::mem::take(&mut side.buf);
                let at = side.buf_at;
                self.frame(cx, role, &frame, at);
            }
        }
        if self.sides[r].dead && role == Role::Client {
            cx.out.stats.http2_bytes += data.len() as u64;
        }
    }

    /// One whole frame (header and payload).
    fn frame(&mut self, cx: &mut Cx<'_>, role: Role, f: &[u8], at: At) {
        let (kind, flags) = (f[3], f[4]);
        let stream = u32::from_be_bytes([f[5], f[6], f[7], f[8]]) & 0x7fff_ffff;
        let payload = &f[FRAME_HEADER..];
        let r = role.index();
        // A header block in progress takes only its CONTINUATION frames.
        if self.sides[r].block.is_some() && kind != CONTINUATION {
            self.broken(cx, role, "HTTP/2 header block interrupted by another frame".to_string());
            return;
        }
        match kind {
            HEADERS | PUSH_PROMISE => {
                let Some(mut p) = unpad(flags, payload) else {
                    return self.broken(cx, role, "HTTP/2 padding longer than its frame".to_string());
                };
                if kind == HEADERS && flags & PRIORITY != 0 {
                    p = p.get(5..).unwrap_or_default();
                }
                if kind == PUSH_PROMISE {
                    p = p.get(4..).unwrap_or_default();
                }
                if p.len() > MAX_HEADER_BLOCK {
                    return self.broken(
                        cx,
                        role,
                        format!("HTTP/2 header block over the {MAX_HEADER_BLOCK}-byte limit"),
                    );
                }
                let end_stream = kind == HEADERS && flags & END_STREAM != 0;
                self.sides[r].block = Some(Block { stream, end_stream, bytes: p.to_vec(), at });
                if flags & END_HEADERS != 0 {
                    self.end_block(cx, role);
                }
            }
            CONTINUATION => {
                let Some(b) = self.sides[r].block.as_mut() else {
                    return self.broken(cx, role, "HTTP/2 CONTINUATION without a header block".to_string());
                };
                if b.bytes.len() + payload.len() > MAX_HEADER_BLOCK {
                    return self.broken(
                        cx,
                        role,
                        format!("HTTP/2 header block over the {MAX_HEADER_BLOCK}-byte limit"),
                    );
                }
                b.bytes.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    self.end_block(cx, role);
                }
            }
            DATA if role == Role::Client => {
                let Some(p) = unpad(flags, payload) else { return };
                let max = self.cfg.http.max_body;
                if let Some(s) = self.streams.get_mut(&stream) {
                    // Each body up to the inspection limit, and all the
                    // open ones of a connection together too: many
                    // streams hold no more than one HTTP/1.x body would.
                    let room = max.saturating_sub(s.raw.len()).min(max.saturating_sub(self.body_bytes));
                    let k = room.min(p.len());
                    s.raw.extend_from_slice(&p[..k]);
                    s.cut += (p.len() - k) as u64;
                    self.body_bytes += k;
                }
                if flags & END_STREAM != 0 {
                    self.emit(cx, stream, None);
                }
            }
            DATA => cx.out.stats.response_bytes += payload.len() as u64,
            // Types this reader does not know carry nothing it needs.
            k if k > CONTINUATION => cx.out.stats.http2.unknown_frame_bytes += payload.len() as u64,
            RST_STREAM => self.emit(cx, stream, Some("stream reset before it ended".to_string())),
            SETTINGS if flags & ACK == 0 => {
                // Each setting binds the decoder of the other direction's
                // header blocks.
                for s in payload.chunks_exact(6) {
                    if u16::from_be_bytes([s[0], s[1]]) == SETTINGS_HEADER_TABLE_SIZE {
                        let v = u32::from_be_bytes([s[2], s[3], s[4], s[5]]) as usize;
                        self.sides[role.peer().index()].hpack.set_settings_max(v);
                    }
                }
            }
            _ => {}
        }
    }

    /// A whole header block: decoded (for the client's, a request's head).
    fn end_block(&mut self, cx: &mut Cx<'_>, role: Role) {
        let r = role.index();
        let Some(b) = self.sides[r].block.take() else { return };
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let keep = role == Role::Client;
        let res = self.sides[r].hpack.decode(&b.bytes, &mut |n, v| {
            if keep {
                fields.push((n.to_vec(), v.to_vec()));
            }
        });
        if let Err(e) = res {
            cx.out.stats.http2.bad_blocks += 1;
            let why = format!("HTTP/2 header block not decoded ({e}); HPACK state lost");
            if keep && !fields.is_empty() && !self.streams.contains_key(&b.stream) && self.streams.len() < MAX_STREAMS {
                // What was decoded before the error is reported, never a
                // guess at the rest (a capture picked up mid-connection
                // references table entries it never saw).
                let head = head(fields);
                self.streams.insert(b.stream, Stream { head, raw: Vec::new(), cut: 0, at: b.at, notes: Vec::new() });
            }
            return self.broken(cx, role, why);
        }
        if !keep {
            return;
        }
        if self.streams.contains_key(&b.stream) {
            // Trailers of a request still open: its body has ended.
            if b.end_stream {
                self.emit(cx, b.stream, None);
            }
            return;
        }
        if self.streams.len() >= MAX_STREAMS {
            cx.out.stats.http2.streams_over_limit += 1;
            return;
        }
        cx.out.stats.http2.streams += 1;
        self.streams
            .insert(b.stream, Stream { head: head(fields), raw: Vec::new(), cut: 0, at: b.at, notes: Vec::new() });
        if b.end_stream {
            self.emit(cx, b.stream, None);
        }
    }

    /// The request of `stream`, ended (or cut short, with a note).
    fn emit(&mut self, cx: &mut Cx<'_>, stream: u32, note: Option<String>) {
        let Some(mut s) = self.streams.remove(&stream) else { return };
        self.body_bytes -= s.raw.len();
        let Some((src, dst)) = self.client else { return };
        s.notes.extend(note);
        let mut req = HttpRequest {
            app: None,
            head: s.head,
            body: Vec::new(),
            decoded: Vec::new(),
            frame: s.at.frame,
            ts: s.at.ts,
            src,
            dst,
            notes: s.notes,
            tls: None,
            stream_id: Some(stream),
        };
        finish_request(&mut req, s.raw, s.cut, self.cfg.http);
        cx.out.requests.push(req);
    }

    /// The direction cannot be read on: its open requests are emitted
    /// with the reason, the rest is counted.
    fn broken(&mut self, cx: &mut Cx<'_>, role: Role, why: String) {
        let side = &mut self.sides[role.index()];
        side.dead = true;
        side.block = None;
        side.buf = Vec::new();
        if role == Role::Client {
            let open: Vec<u32> = self.streams.keys().copied().collect();
            for s in open {
                self.emit(cx, s, Some(why.clone()));
            }
        }
    }
}

fn frame_len(h: &[u8]) -> usize {
    (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2])
}

/// A request head from decoded fields: pseudo-headers give the request
/// line (`:authority` stands for Host when there is none).
fn head(fields: Vec<(Vec<u8>, Vec<u8>)>) -> Head {
    let mut method = String::new();
    let mut target = Vec::new();
    let mut authority = None;
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for (n, v) in fields {
        match n.as_slice() {
            b":method" => method = crate::util::lossy(&v).into_owned(),
            b":path" => target = v,
            b":authority" => authority = Some(v),
            n if n.starts_with(b":") => {}
            n => headers.push((crate::util::lossy(n).into_owned(), v)),
        }
    }
    if let Some(a) = authority
        && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        headers.insert(0, ("host".to_string(), a));
    }
    // Cookies may come as several fields; they are one header, joined
    // with "; " (RFC 9113 8.2.3).
    if headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cookie")).count() > 1 {
        let mut joined = Vec::new();
        headers.retain(|(n, v)| {
            if !n.eq_ignore_ascii_case("cookie") {
                return true;
            }
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(v);
            false
        });
        headers.push(("cookie".to_string(), joined));
    }
    Head { method, target, version: Some(2), headers: headers.into_iter().collect(), lenient: false }
}

impl Http2 {
    /// Bytes held: frames split across segments, header blocks being
    /// joined, open streams' bodies, the HPACK tables.
    pub fn held(&self) -> usize {
        let sides: usize = self
            .sides
            .iter()
            .map(|s| s.buf.capacity() + s.block.as_ref().map_or(0, |b| b.bytes.capacity()) + s.hpack.table_bytes())
            .sum();
        sides + self.streams.values().map(|s| s.raw.capacity()).sum::<usize>()
    }

    /// Sends out the open streams' requests with what they have (noted);
    /// their later frames are counted, not read.
    pub fn shed(&mut self, cx: &mut Cx<'_>, why: &str) {
        let open: Vec<u32> = self.streams.keys().copied().collect();
        for s in open {
            self.emit(cx, s, Some(format!("request sent out before its end: {why}")));
        }
    }
}

impl Dissector for Http2 {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        if seg.role == Role::Client && self.client.is_none() {
            self.client = Some((seg.src, seg.dst));
            cx.out.stats.http2.connections += 1;
        }
        let at = At { frame: seg.chunk.frame, ts: seg.chunk.ts };
        self.feed(cx, seg.role, seg.chunk.data, at);
        if self.sides[seg.role.index()].dead { Verdict::DropDir } else { Verdict::Continue }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, role: Role, len: u64) {
        if !self.sides[role.index()].dead {
            self.broken(cx, role, format!("{len} bytes of the connection were not captured; HPACK state lost"));
        }
    }

    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], _last: bool) -> Closed {
        cx.out.stats.http2_bytes += ignored[0];
        cx.out.stats.response_bytes += ignored[1];
        let open: Vec<u32> = self.streams.keys().copied().collect();
        for s in open {
            self.emit(cx, s, Some("stream not ended when the connection closed".to_string()));
        }
        Closed::Done
    }
}

#[cfg(test)]
mod tests;
