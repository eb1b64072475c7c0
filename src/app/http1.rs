//! HTTP/1.x, the registry's catch-all: each direction of a connection
//! gets a request parser on its first bytes ([`RequestStream`], which
//! recognises requests by content, on any port). A direction that is not
//! requests is dropped (server responses, TLS after a cleartext start),
//! except when it looks like text: its first [`text::STREAM_SCAN_MAX`]
//! bytes are kept as a [`StreamPayload`] (SIP, custom telemetry
//! protocols) to be scanned with the same detectors.

use super::text::TextKeep;
use super::{AppConfig, AppProto, Closed, Cx, Dissector, Probe, Role, Seg, Verdict};
use crate::app::http2::PREFACE;
use crate::http::{NotRequests, RequestStream};

pub const PROTO: AppProto = AppProto { name: "http1", probe: |_| Probe::Yes, new: |cfg| Box::new(Http1::new(cfg)) };

/// One direction's state.
struct Dir {
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    rs: RequestStream,
    /// Bytes kept of a non-HTTP text stream.
    other: TextKeep,
    /// A request asked to switch to HTTP/2 (`Upgrade: h2c`): the client's
    /// connection preface, once the server agreed, starts HTTP/2 frames.
    upgrade_h2c: bool,
}

/// HTTP/1.x requests of both directions of a connection.
pub struct Http1 {
    cfg: AppConfig,
    /// Boxed: a connection that sent a byte costs little.
    dirs: [Option<Box<Dir>>; 2],
    /// TLS after a cleartext start was counted (once per connection).
    starttls: bool,
    /// After `Upgrade: h2c`, the connection's HTTP/2 (the client's side).
    h2: Option<Box<crate::app::http2::Http2>>,
}

impl Http1 {
    pub fn new(cfg: &AppConfig) -> Self {
        Http1 { cfg: *cfg, dirs: [None, None], starttls: false, h2: None }
    }

    fn dir(&mut self, seg: &Seg<'_>) -> &mut Dir {
        let limits = self.cfg.http;
        self.dirs[seg.role.index()].get_or_insert_with(|| {
            let mut rs = RequestStream::new(limits);
            if seg.midstream {
                rs.picked_up_midstream();
            }
            Box::new(Dir { src: seg.src, dst: seg.dst, rs, other: TextKeep::default(), upgrade_h2c: false })
        })
    }
}

impl Dissector for Http1 {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        if let Some(h2) = self.h2.as_mut() {
            return if seg.role == Role::Client { h2.data(cx, seg) } else { Verdict::DropDir };
        }
        let cfg = self.cfg;
        let d = self.dir(&seg);
        if d.upgrade_h2c && seg.chunk.data.starts_with(&PREFACE[..seg.chunk.data.len().min(PREFACE.len())]) {
            // The switch (RFC 7540 3.2): the upgrade request was stream 1;
            // what follows the preface is HTTP/2.
            let mut h2 = Box::new(crate::app::http2::Http2::new(&cfg));
            let v = h2.data(cx, seg);
            self.h2 = Some(h2);
            return v;
        }
        if d.rs.ignored() == Some(NotRequests::Other) {
            return d.other.keep(cx.out, &seg);
        }
        let before = cx.out.requests.len();
        let interest = d.rs.feed(seg.src, seg.dst, seg.chunk, &mut cx.out.requests);
        d.upgrade_h2c |= cx.out.requests[before..].iter().any(|r| {
            r.header("upgrade")
                .is_some_and(|v| v.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c")))
        });
        if interest == crate::flow::Interest::Inspect {
            return Verdict::Continue;
        }
        // The chunk that revealed the direction is not inspected either.
        let n = seg.chunk.data.len() as u64;
        match d.rs.ignored() {
            Some(NotRequests::Tls) => {
                let st = &mut cx.out.stats;
                if !std::mem::replace(&mut self.starttls, true) {
                    st.tls.connections += 1;
                    super::tls::count_unsupported(&mut st.tls, super::tls::STARTTLS, 0);
                }
                if let Some(u) = st.tls.unsupported.iter_mut().find(|u| u.0 == super::tls::STARTTLS) {
                    u.2 += n;
                }
                if let Some(name) = super::tls::handshake::client_hello_sni(seg.chunk.data) {
                    st.server_name(&name);
                }
                Verdict::DropDir
            }
            Some(NotRequests::HttpResponses) => {
                cx.out.stats.response_bytes += n;
                Verdict::DropDir
            }
            _ => d.other.keep(cx.out, &seg),
        }
    }

    fn held(&self) -> usize {
        let dirs: usize = self.dirs.iter().flatten().map(|d| d.rs.held() + d.other.held()).sum();
        dirs + self.h2.as_ref().map_or(0, |h| h.held())
    }

    fn shed(&mut self, cx: &mut Cx<'_>, why: &str) {
        for d in self.dirs.iter_mut().flatten() {
            d.rs.shed(why, &mut cx.out.requests);
            d.other.shed(cx.out);
        }
        if let Some(h2) = self.h2.as_mut() {
            h2.shed(cx, why);
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, role: Role, len: u64) {
        if let Some(d) = self.dirs[role.index()].as_mut()
            && !d.other.gap()
        {
            d.rs.gap(d.src, d.dst, len, &mut cx.out.requests);
        }
    }

    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], last: bool) -> Closed {
        if let Some(h2) = self.h2.as_mut() {
            h2.close(cx, [0, 0], last);
        }
        for (i, dir) in self.dirs.iter_mut().enumerate() {
            let Some(d) = dir.as_mut() else { continue };
            d.other.flush(cx.out);
            let st = &mut cx.out.stats;
            match d.rs.ignored() {
                Some(NotRequests::Tls) => {
                    if let Some(u) = st.tls.unsupported.iter_mut().find(|u| u.0 == super::tls::STARTTLS) {
                        u.2 += ignored[i];
                    }
                }
                Some(NotRequests::HttpResponses) => st.response_bytes += ignored[i],
                Some(NotRequests::Other) => st.other_bytes += ignored[i],
                None => d.rs.close(d.src, d.dst, &mut cx.out.requests),
            }
        }
        Closed::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppLayer;
    use crate::app::tls::keys::KeyStore;
    use crate::flow::Chunk;
    use crate::util::Timestamp;

    /// `Upgrade: h2c`: the upgrade request is HTTP/1.1; after the 101, the
    /// client's preface starts HTTP/2 frames, read as requests too.
    #[test]
    fn upgrade_to_h2c_switches_to_http2() {
        let mut app = AppLayer::new(AppConfig::default(), KeyStore::new(Default::default()));
        let mut d = Http1::new(&app.cfg);
        let (c, s) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:8080".parse().unwrap());
        let up = b"GET /first HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
        let mut frames = PREFACE.to_vec();
        frames.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS
        let block = [0x82, 0x87, 0x00, 5, b':', b'p', b'a', b't', b'h', 4, b'/', b'n', b'e', b'w'];
        frames.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x5, 0, 0, 0, 3]);
        frames.extend_from_slice(&block);
        let reply = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
        for (role, data) in [(Role::Client, &up[..]), (Role::Server, &reply[..]), (Role::Client, &frames[..])] {
            let (src, dst) = if role == Role::Client { (c, s) } else { (s, c) };
            let chunk = Chunk { data, frame: 1, ts: Timestamp::default() };
            let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
            d.data(&mut cx, Seg { role, src, dst, midstream: false, chunk });
        }
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.close(&mut cx, [0, 0], true);
        let got: Vec<(String, &str, Option<u32>)> =
            app.out.requests.iter().map(|r| (r.uri(), r.protocol(), r.stream_id)).collect();
        assert_eq!(got, [("/first".to_string(), "http/1.1", None), ("/new".to_string(), "http/2", Some(3))]);
    }

    /// A connection that sent a byte costs little: what most of a flood
    /// is made of stays small (boxed directions, boxed pending bodies).
    #[test]
    fn idle_state_stays_small() {
        assert!(std::mem::size_of::<Http1>() <= 128, "{}", std::mem::size_of::<Http1>());
        assert!(std::mem::size_of::<Dir>() <= 256, "{}", std::mem::size_of::<Dir>());
    }
}
