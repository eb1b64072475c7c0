//! SIP (RFC 3261): messages over UDP (one per datagram) and TCP (framed
//! by Content-Length), inside any tunnel the decoder opens (GTP-U for an
//! IMS core). A request is what its sender said and is scanned; a
//! response is what the network answered (`100 Trying`, a `401` that
//! echoes the IMSI, a `200` with the registered numbers): counted, never
//! scanned, so the network's words are not reported as the device's.
//!
//! Headers are parsed with their compact forms (`f:`, `t:`, `m:`, `i:`...)
//! expanded; identities are taken apart by `extract::sip`. Limits: a
//! message is at most [`MAX_MESSAGE`] bytes; past it the direction is
//! counted, not read.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{AppProto, Closed, Cx, Dissector, Probe, Role, Seg, Verdict};
use crate::finding::TlsInfo;
use crate::util::Timestamp;

/// Largest SIP message read (head and body).
pub const MAX_MESSAGE: usize = 64 << 10;

pub const PROTO: AppProto = AppProto { name: "sip", probe, new: |_| Box::new(SipTcp::default()) };

/// Request methods (RFC 3261, 3262, 3265, 3311, 3428, 3515, 3903, 6086).
const METHODS: [&str; 14] = [
    "REGISTER",
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "MESSAGE",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "PRACK",
    "UPDATE",
    "REFER",
    "INFO",
];

/// Does `data` start a SIP message: a status line (`SIP/2.0 200`) or a
/// request line whose target is a SIP, SIPS or TEL URI?
pub fn starts_sip(data: &[u8]) -> bool {
    if data.starts_with(b"SIP/2.0 ") {
        return true;
    }
    let Some(sp) = data.iter().take(10).position(|&b| b == b' ') else { return false };
    let Ok(method) = std::str::from_utf8(&data[..sp]) else { return false };
    if !METHODS.contains(&method) {
        return false;
    }
    let rest = &data[sp + 1..];
    let uri = rest.len() >= 4 && (rest[..4].eq_ignore_ascii_case(b"sip:") || rest[..4].eq_ignore_ascii_case(b"tel:"));
    uri || rest.get(..5).is_some_and(|s| s.eq_ignore_ascii_case(b"sips:"))
}

fn probe(seg: &Seg<'_>) -> Probe {
    let d = seg.chunk.data;
    if starts_sip(d) {
        Probe::Yes
    } else if d.len() < 12
        && (b"SIP/2.0 ".starts_with(&d[..d.len().min(8)]) || METHODS.iter().any(|m| m.as_bytes().starts_with(d)))
    {
        Probe::NeedMore
    } else {
        Probe::No
    }
}

/// The first line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// One SIP message.
#[derive(Clone, Debug)]
pub struct SipMessage {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frame: u64,
    pub ts: Timestamp,
    pub start: Start,
    /// Headers in order, names in their full form (`f` -> `From`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Over TCP or UDP.
    pub transport: &'static str,
    /// The TLS session it was decrypted from; `None` in clear.
    pub tls: Option<Arc<TlsInfo>>,
    /// Damage seen (a body shorter than its Content-Length).
    pub notes: Vec<String>,
    /// The app that sent it, when the capture says.
    pub app: Option<Arc<crate::finding::AppRef>>,
}

impl SipMessage {
    /// The first header of that name (case-insensitive, full form).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match &self.start {
            Start::Request { uri, .. } => Some(uri),
            Start::Response { .. } => None,
        }
    }

    /// The host of the Request-URI (`sip:user@host;params`), the domain
    /// the request is for.
    pub fn host(&self) -> Option<String> {
        let uri = self.uri()?;
        let rest = uri.split_once(':')?.1;
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let host = host.split([';', '?', '>']).next()?;
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?,
            None => {
                host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
            }
        };
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    }
}

/// The full name of a compact header form (RFC 3261 7.3.3 and the
/// extensions that define one).
fn full_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'c' => "Content-Type",
        b'd' => "Request-Disposition",
        b'e' => "Content-Encoding",
        b'f' => "From",
        b'i' => "Call-ID",
        b'j' => "Reject-Contact",
        b'k' => "Supported",
        b'l' => "Content-Length",
        b'm' => "Contact",
        b'n' => "Identity-Info",
        b'o' => "Event",
        b'r' => "Refer-To",
        b's' => "Subject",
        b't' => "To",
        b'u' => "Allow-Events",
        b'v' => "Via",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        _ => name,
    }
}

/// Where the head ends: after the blank line (CRLF CRLF, or LF LF).
fn head_end(data: &[u8]) -> Option<usize> {
    if let Some(i) = crate::util::finders::CRLF_CRLF.find(data) {
        return Some(i + 4);
    }
    crate::util::finders::LF_LF.find(data).map(|i| i + 2)
}

/// A parsed head: start line, headers (continuation lines joined).
fn parse_head(head: &[u8]) -> Option<(Start, Vec<(String, String)>)> {
    let text = crate::util::lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next()?;
    let start = if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code.parse().ok().filter(|c| (100..700).contains(c))?;
        Start::Response { code, reason: reason.to_string() }
    } else {
        let mut parts = first.splitn(3, ' ');
        let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return None;
        }
        Start::Request { method: method.to_string(), uri: uri.to_string() }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            continue;
        }
        headers.push((full_name(name).to_string(), value.trim().to_string()));
    }
    Some((start, headers))
}

fn content_length(headers: &[(String, String)]) -> Option<usize> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("Content-Length")).and_then(|(_, v)| v.trim().parse().ok())
}

/// Where a message came from.
pub struct Origin {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frame: u64,
    pub ts: Timestamp,
    pub transport: &'static str,
}

/// One message from a datagram (its body is the rest of the datagram, up
/// to Content-Length), or `None` when the head does not parse.
pub fn parse_datagram(data: &[u8], at: Origin) -> Option<SipMessage> {
    let data = &data[..data.len().min(MAX_MESSAGE)];
    let end = head_end(data).unwrap_or(data.len());
    let (start, headers) = parse_head(&data[..end])?;
    let rest = &data[end..];
    let mut notes = Vec::new();
    let body = match content_length(&headers) {
        Some(n) if n <= rest.len() => &rest[..n],
        Some(n) => {
            notes.push(format!("SIP body shorter ({} bytes) than its Content-Length ({n})", rest.len()));
            rest
        }
        None => rest,
    };
    Some(SipMessage {
        app: None,
        src: at.src,
        dst: at.dst,
        frame: at.frame,
        ts: at.ts,
        start,
        headers,
        body: body.to_vec(),
        transport: at.transport,
        tls: None,
        notes,
    })
}

/// Hands a message to the output; the SMS a `MESSAGE` carries
/// (`application/vnd.3gpp.sms`: RP-DATA and its TPDU, TS 24.341) is
/// decoded and joined with its other parts. Damage is noted on the
/// message.
pub fn push(out: &mut super::Emit, mut m: SipMessage) {
    let is_sms = m.method() == Some("MESSAGE")
        && m.header("Content-Type")
            .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/vnd.3gpp.sms"));
    if is_sms && let Some(&first) = m.body.first() {
        // RP-MTI 0: RP-DATA from the phone; 1: from the network.
        let uplink = first & 0x07 == 0;
        match super::sms::from_rpdu(&m.body, uplink) {
            Ok(Some(part)) => {
                let mut done = Vec::new();
                out.ims_sms.push(part, &mut done);
                for sms in done {
                    out.telephony.push(super::Telephony {
                        app: None,
                        src: m.src,
                        dst: m.dst,
                        frame: m.frame,
                        ts: m.ts,
                        what: super::TelephonyEvent::Sms { sms, via: "ims" },
                    });
                }
            }
            Ok(None) => {}
            Err(e) if e.is_malformed() => m.notes.push(format!("SMS in the MESSAGE body not decoded: {e}")),
            Err(_) => {}
        }
    }
    out.sip.push(m);
}

/// One direction of a SIP connection: bytes of the message being read.
#[derive(Default)]
struct Dir {
    buf: Vec<u8>,
    frame: u64,
    ts: Timestamp,
    /// The stream stopped being SIP (or a message passed the limit).
    dead: bool,
    /// After a gap: bytes are skipped to the next line that starts a
    /// message.
    resync: bool,
}

/// Where the first line that starts a SIP message begins, if any.
fn next_start(buf: &[u8]) -> Option<usize> {
    if starts_sip(buf) {
        return Some(0);
    }
    memchr::memchr_iter(b'\n', buf).map(|i| i + 1).find(|&i| starts_sip(&buf[i..]))
}

/// SIP over TCP: both directions framed into messages.
#[derive(Default)]
pub struct SipTcp {
    dirs: [Dir; 2],
}

impl SipTcp {
    /// Cuts whole messages off the direction's buffer.
    fn messages(&mut self, cx: &mut Cx<'_>, seg: &Seg<'_>) {
        let d = &mut self.dirs[seg.role.index()];
        if d.resync {
            match next_start(&d.buf) {
                Some(at) => {
                    if at > 0 {
                        cx.out.stats.other_bytes += at as u64;
                        d.buf.drain(..at);
                        // The message starts in the newest bytes (or just
                        // before them).
                        (d.frame, d.ts) = (seg.chunk.frame, seg.chunk.ts);
                    }
                    d.resync = false;
                }
                None => {
                    // Keep a possible start of a line cut at the end.
                    let keep = d.buf.len().saturating_sub(16);
                    cx.out.stats.other_bytes += keep as u64;
                    d.buf.drain(..keep);
                    return;
                }
            }
        }
        loop {
            // Keep-alive CRLFs between messages (RFC 5626 4.4.1).
            let skip = d.buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            if skip > 0 {
                d.buf.drain(..skip);
            }
            if d.buf.is_empty() {
                return;
            }
            let Some(end) = head_end(&d.buf) else {
                if d.buf.len() > MAX_MESSAGE {
                    d.dead = true;
                    cx.out.stats.other_bytes += d.buf.len() as u64;
                    d.buf = Vec::new();
                }
                return;
            };
            let Some((_, headers)) = parse_head(&d.buf[..end]) else {
                d.dead = true;
                cx.out.stats.other_bytes += d.buf.len() as u64;
                d.buf = Vec::new();
                return;
            };
            let len = content_length(&headers).unwrap_or(0);
            let total = end.saturating_add(len);
            if total > MAX_MESSAGE {
                d.dead = true;
                cx.out.stats.other_bytes += d.buf.len() as u64;
                d.buf = Vec::new();
                return;
            }
            if d.buf.len() < total {
                return;
            }
            let at = Origin { src: seg.src, dst: seg.dst, frame: d.frame, ts: d.ts, transport: "tcp" };
            if let Some(m) = parse_datagram(&d.buf[..total], at) {
                push(cx.out, m);
            }
            d.buf.drain(..total);
            (d.frame, d.ts) = (seg.chunk.frame, seg.chunk.ts);
        }
    }
}

impl Dissector for SipTcp {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        let d = &mut self.dirs[seg.role.index()];
        if d.dead {
            cx.out.stats.other_bytes += seg.chunk.data.len() as u64;
            return Verdict::DropDir;
        }
        if d.buf.is_empty() {
            (d.frame, d.ts) = (seg.chunk.frame, seg.chunk.ts);
        }
        d.buf.extend_from_slice(seg.chunk.data);
        self.messages(cx, &seg);
        if self.dirs[seg.role.index()].dead { Verdict::DropDir } else { Verdict::Continue }
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, role: Role, _len: u64) {
        // A message cut by a gap cannot be framed again: start afresh at
        // the next bytes that begin a message.
        let d = &mut self.dirs[role.index()];
        d.buf.clear();
        d.resync = true;
    }

    fn close(&mut self, _cx: &mut Cx<'_>, _ignored: [u64; 2], _last: bool) -> Closed {
        Closed::Done
    }

    fn held(&self) -> usize {
        self.dirs.iter().map(|d| d.buf.capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Origin {
        Origin {
            src: "10.0.0.1:5060".parse().unwrap(),
            dst: "10.0.0.2:5060".parse().unwrap(),
            frame: 1,
            ts: Timestamp::default(),
            transport: "udp",
        }
    }

    #[test]
    fn requests_responses_and_compact_headers() {
        let m = parse_datagram(
            b"REGISTER sip:ims.example SIP/2.0\r\nf: <sip:+33612345678@ims.example>;tag=1\r\nm: <sip:[2001:db8::1]:5060>\r\n  ;expires=600\r\nl: 0\r\n\r\n",
            at(),
        )
        .unwrap();
        assert_eq!(m.method(), Some("REGISTER"));
        assert_eq!(m.header("from"), Some("<sip:+33612345678@ims.example>;tag=1"));
        assert_eq!(m.header("Contact"), Some("<sip:[2001:db8::1]:5060> ;expires=600"));
        assert_eq!(m.host().as_deref(), Some("ims.example"));
        let r = parse_datagram(b"SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", at()).unwrap();
        assert_eq!(r.start, Start::Response { code: 401, reason: "Unauthorized".into() });
        assert!(!r.is_request());
        assert!(parse_datagram(b"GET / HTTP/1.1\r\n\r\n", at()).is_none());
        assert!(starts_sip(b"OPTIONS sip:x SIP/2.0\r\n") && !starts_sip(b"OPTIONS / HTTP/1.1\r\n"));
        assert!(starts_sip(b"MESSAGE tel:+331 SIP/2.0\r\n"));
    }

    /// Over TCP, a gap in the middle of a message: the bytes after it are
    /// skipped to the next message, which is read whole.
    #[test]
    fn tcp_resyncs_after_a_gap() {
        use crate::app::{AppConfig, AppLayer, Cx, tls::keys::KeyStore};
        use crate::flow::Chunk;
        let mut app = AppLayer::new(AppConfig::default(), KeyStore::new(Default::default()));
        let mut d = SipTcp::default();
        let (src, dst) = ("10.0.0.1:5060".parse().unwrap(), "10.0.0.2:5060".parse().unwrap());
        let one = b"REGISTER sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        let two = b"INVITE sip:b SIP/2.0\r\nl: 0\r\n\r\n";
        let feed = |d: &mut SipTcp, app: &mut AppLayer, data: &[u8], frame| {
            let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
            let chunk = Chunk { data, frame, ts: Timestamp::default() };
            d.data(&mut cx, Seg { role: Role::Client, src, dst, midstream: false, chunk })
        };
        feed(&mut d, &mut app, one, 1);
        feed(&mut d, &mut app, &two[..10], 2);
        {
            let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
            d.gap(&mut cx, Role::Client, 100);
        }
        feed(&mut d, &mut app, b"ody of something cut\r\n", 3);
        assert_eq!(feed(&mut d, &mut app, two, 4), Verdict::Continue);
        let methods: Vec<Option<&str>> = app.out.sip.iter().map(|m| m.method()).collect();
        assert_eq!(methods, [Some("REGISTER"), Some("INVITE")]);
        assert_eq!(app.out.sip[1].frame, 4);
    }

    #[test]
    fn every_truncation_parses_or_fails_cleanly() {
        let msg = b"MESSAGE sip:+1555@ims SIP/2.0\r\nc: application/vnd.3gpp.sms\r\nl: 4\r\n\r\nabcd";
        for n in 0..=msg.len() {
            let _ = parse_datagram(&msg[..n], at());
        }
        let m = parse_datagram(msg, at()).unwrap();
        assert_eq!(m.body, b"abcd");
        assert_eq!(m.header("Content-Type"), Some("application/vnd.3gpp.sms"));
    }
}
