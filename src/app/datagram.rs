//! The datagram entry of the application layer: one UDP payload at a
//! time. DNS answers teach host names, DNS queries are scanned by name,
//! HTTP over UDP (SSDP) is a request, QUIC is counted (not decrypted
//! yet), other text is kept as a stream payload.

use std::net::SocketAddr;

use super::dns::{self, Names};
use super::{Emit, StreamPayload, text};
use crate::util::Timestamp;

/// Bytes of one text UDP datagram scanned.
const UDP_SCAN_MAX: usize = 8 << 10;

/// DNS ports whose answers name hosts (DNS, mDNS, LLMNR).
const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

const QUIC_PORT: u16 = 443;
/// QUIC versions recognised in long headers: v1, v2, and drafts.
fn quic_version(v: u32) -> bool {
    v == 1 || v == 0x6b33_43cf || v >> 8 == 0x00ff_0000
}

/// Is this a QUIC packet? A long header with a known version on any
/// port, or a short header (fixed bit set) to or from UDP 443.
pub fn looks_quic(payload: &[u8], src_port: u16, dst_port: u16) -> bool {
    let Some(&first) = payload.first() else { return false };
    if first & 0x40 == 0 {
        return false;
    }
    if first & 0x80 != 0
        && let Some(v) = payload.get(1..5)
        && quic_version(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    {
        return true;
    }
    src_port == QUIC_PORT || dst_port == QUIC_PORT
}

/// One UDP datagram as decoded.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub frame: u64,
    pub ts: Timestamp,
}

pub fn dispatch(out: &mut Emit, d: Datagram<'_>, names: &mut Names) {
    let (sp, dp) = (d.src.port(), d.dst.port());
    let stats = &mut out.stats;
    if DNS_PORTS.contains(&sp) {
        names.learn(d.payload);
        stats.udp_bytes += d.payload.len() as u64;
    } else if DNS_PORTS.contains(&dp) {
        if let Some(q) = dns::query_name(d.payload) {
            out.streams.push(StreamPayload {
                src: d.src,
                dst: d.dst,
                frame: d.frame,
                ts: d.ts,
                data: q.into_bytes(),
                dns_query: true,
                tls: None,
            });
        }
    } else if let Some(req) = crate::http::datagram_request(d.payload, d.src, d.dst, d.frame, d.ts) {
        // HTTP over UDP (SSDP's M-SEARCH and NOTIFY).
        out.requests.push(req);
    } else if looks_quic(d.payload, sp, dp) {
        stats.quic_packets += 1;
        stats.quic_bytes += d.payload.len() as u64;
    } else if text::looks_text(d.payload) {
        let keep = d.payload.len().min(UDP_SCAN_MAX);
        stats.udp_bytes += (d.payload.len() - keep) as u64;
        out.streams.push(StreamPayload {
            src: d.src,
            dst: d.dst,
            frame: d.frame,
            ts: d.ts,
            data: d.payload[..keep].to_vec(),
            dns_query: false,
            tls: None,
        });
    } else {
        stats.udp_bytes += d.payload.len() as u64;
    }
}
