//! HTTP/1.x, the registry's catch-all: each direction of a connection
//! gets a request parser on its first bytes ([`RequestStream`], which
//! recognises requests by content, on any port). A direction that is not
//! requests is dropped (server responses, TLS after a cleartext start),
//! except when it looks like text: its first [`text::STREAM_SCAN_MAX`]
//! bytes are kept as a [`StreamPayload`] (SIP, custom telemetry
//! protocols) to be scanned with the same detectors.

use super::text::TextKeep;
use super::{AppConfig, AppProto, Closed, Cx, Dissector, Probe, Role, Seg, Verdict};
use crate::http::{NotRequests, RequestStream};

pub const PROTO: AppProto = AppProto { name: "http1", probe: |_| Probe::Yes, new: |cfg| Box::new(Http1::new(cfg)) };

/// One direction's state.
struct Dir {
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    rs: RequestStream,
    /// Bytes kept of a non-HTTP text stream.
    other: TextKeep,
}

/// HTTP/1.x requests of both directions of a connection.
pub struct Http1 {
    cfg: AppConfig,
    dirs: [Option<Dir>; 2],
    /// TLS after a cleartext start was counted (once per connection).
    starttls: bool,
}

impl Http1 {
    pub fn new(cfg: &AppConfig) -> Self {
        Http1 { cfg: *cfg, dirs: [None, None], starttls: false }
    }

    fn dir(&mut self, seg: &Seg<'_>) -> &mut Dir {
        let limits = self.cfg.http;
        self.dirs[seg.role.index()].get_or_insert_with(|| {
            let mut rs = RequestStream::new(limits);
            if seg.midstream {
                rs.picked_up_midstream();
            }
            Dir { src: seg.src, dst: seg.dst, rs, other: TextKeep::default() }
        })
    }
}

impl Dissector for Http1 {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        let d = self.dir(&seg);
        if d.rs.ignored() == Some(NotRequests::Other) {
            return d.other.keep(cx.out, &seg);
        }
        let interest = d.rs.feed(seg.src, seg.dst, seg.chunk, &mut cx.out.requests);
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

    fn gap(&mut self, cx: &mut Cx<'_>, role: Role, len: u64) {
        if let Some(d) = self.dirs[role.index()].as_mut()
            && !d.other.gap()
        {
            d.rs.gap(d.src, d.dst, len, &mut cx.out.requests);
        }
    }

    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], _last: bool) -> Closed {
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
