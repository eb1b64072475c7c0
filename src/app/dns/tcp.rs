//! DNS over TCP (port 53 on either side): the first query name of the
//! client's direction is scanned like those sent over UDP; the rest of
//! the connection is counted, not kept.

use crate::app::{AppProto, Closed, Cx, Dissector, Probe, Role, Seg, StreamPayload, Verdict};

const DNS_PORT: u16 = 53;

pub const TCP_PROTO: AppProto = AppProto { name: "dns", probe, new: |_| Box::new(DnsTcp) };

/// Port 53 on either side and a first message that is not HTTP (port 53
/// is a classic way through firewalls: HTTP there stays HTTP) and starts
/// with a length that can hold a DNS header.
fn probe(seg: &Seg<'_>) -> Probe {
    let d = seg.chunk.data;
    if seg.src.port() != DNS_PORT && seg.dst.port() != DNS_PORT {
        return Probe::No;
    }
    if crate::app::http1_side(d).is_some() {
        return Probe::No;
    }
    match d {
        [a, b, ..] if usize::from(u16::from_be_bytes([*a, *b])) >= DNS_HEADER => Probe::Yes,
        [_] => Probe::NeedMore,
        _ => Probe::No,
    }
}

const DNS_HEADER: usize = 12;

struct DnsTcp;

impl Dissector for DnsTcp {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        let data = seg.chunk.data;
        if seg.dst.port() == DNS_PORT {
            // A 2-byte length, then a message.
            let len = data.get(..2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let msg = len.and_then(|n| data.get(2..2 + n));
            if let Some(q) = msg.and_then(super::query_name) {
                cx.out.streams.push(StreamPayload {
                    app: None,
                    src: seg.src,
                    dst: seg.dst,
                    frame: seg.chunk.frame,
                    ts: seg.chunk.ts,
                    data: q.into_bytes(),
                    dns_query: true,
                    tls: None,
                    binary: false,
                });
            }
        }
        cx.out.stats.other_bytes += data.len() as u64;
        Verdict::DropDir
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, _role: Role, _len: u64) {}

    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], _last: bool) -> Closed {
        cx.out.stats.other_bytes += ignored[0] + ignored[1];
        Closed::Done
    }
}
