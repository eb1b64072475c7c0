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

/// Does a datagram between these ports teach host names (a DNS answer,
/// read by [`dispatch`])?
pub fn teaches_names(src_port: u16, dst_port: u16) -> bool {
    src_port != GSMTAP_PORT && dst_port != GSMTAP_PORT && DNS_PORTS.contains(&src_port)
}

const QUIC_PORT: u16 = 443;
/// GSMTAP (osmocom): GSM air-interface frames copied into UDP.
pub const GSMTAP_PORT: u16 = 4729;

/// Hands what a GSMTAP datagram yielded to the output, dated by it.
pub fn gsmtap_events(
    out: &mut Emit,
    events: Vec<super::sms::Event>,
    at: (SocketAddr, SocketAddr, u64, crate::util::Timestamp),
) {
    use super::{Telephony, TelephonyEvent};
    for e in events {
        let what = match e {
            super::sms::Event::Sms(sms) => TelephonyEvent::Sms { sms, via: "gsmtap" },
            super::sms::Event::Identity { kind, value, uplink, message } => {
                TelephonyEvent::Identity { kind, value, uplink, message }
            }
        };
        out.telephony.push(Telephony { app: None, src: at.0, dst: at.1, frame: at.2, ts: at.3, what });
    }
}
/// QUIC versions recognised in long headers: v1, v2, and drafts.
fn quic_version(v: u32) -> bool {
    v == 1 || v == 0x6b33_43cf || v >> 8 == 0x00ff_0000
}

/// Is this a QUIC packet? A long header with a known version on any
/// port, or a short header (fixed bit set) to or from UDP 443 that is not
/// text (every ASCII letter has the fixed bit).
pub fn looks_quic(payload: &[u8], src_port: u16, dst_port: u16) -> bool {
    let Some(&first) = payload.first() else { return false };
    if first & 0x40 == 0 {
        return false;
    }
    if first & 0x80 != 0 {
        return payload.get(1..5).is_some_and(|v| quic_version(u32::from_be_bytes([v[0], v[1], v[2], v[3]])));
    }
    (src_port == QUIC_PORT || dst_port == QUIC_PORT) && !utf8_text(payload)
}

/// Text that is valid UTF-8 in its first bytes: random bytes pass the
/// printable-share test of [`text::looks_text`] but almost never this.
fn utf8_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(256)];
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A character cut at the end of the head is fine.
        Err(e) => e.error_len().is_none(),
    };
    valid && text::looks_text(b)
}

/// QUIC packets in one datagram: long-header packets (Initial, 0-RTT,
/// Handshake) may be coalesced, each with its length; a short-header
/// packet or a Retry takes the rest (RFC 9000 12.2, 17.2).
pub fn quic_packets(mut b: &[u8]) -> u64 {
    let mut n = 0;
    while let Some(&first) = b.first() {
        n += 1;
        if first & 0x80 == 0 {
            break;
        }
        let Some(h) = super::quic::long_header(b) else { break };
        b = &b[h.end.min(b.len())..];
    }
    n
}

/// One UDP datagram as decoded.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub frame: u64,
    pub ts: Timestamp,
    /// The app the capture tool named for its packet.
    pub app: Option<&'a std::sync::Arc<crate::finding::AppRef>>,
}

pub fn dispatch(out: &mut Emit, d: Datagram<'_>, names: &mut Names, quic: &mut super::quic::Initials) {
    let (sp, dp) = (d.src.port(), d.dst.port());
    let stats = &mut out.stats;
    if DNS_PORTS.contains(&sp) {
        names.learn(d.payload);
        stats.udp_bytes += d.payload.len() as u64;
    } else if DNS_PORTS.contains(&dp) {
        if let Some(q) = dns::query_name(d.payload) {
            out.streams.push(StreamPayload {
                app: None,
                src: d.src,
                dst: d.dst,
                frame: d.frame,
                ts: d.ts,
                data: q.into_bytes(),
                dns_query: true,
                tls: None,
                binary: false,
            });
        }
    } else if super::sip::starts_sip(d.payload)
        && let Some(m) = super::sip::parse_datagram(
            d.payload,
            super::sip::Origin { src: d.src, dst: d.dst, frame: d.frame, ts: d.ts, transport: "udp" },
        )
    {
        super::sip::push(out, m);
    } else if let Some(req) = crate::http::datagram_request(d.payload, d.src, d.dst, d.frame, d.ts) {
        // HTTP over UDP (SSDP's M-SEARCH and NOTIFY).
        out.requests.push(req);
    } else if looks_quic(d.payload, sp, dp) {
        stats.quic_packets += quic_packets(d.payload);
        stats.quic_bytes += d.payload.len() as u64;
        if let Some(name) = quic.datagram(d.payload) {
            stats.quic_name(&name);
        }
    } else if text::looks_text(d.payload) || out.keep_binary {
        // Text is scanned; other bytes only when a device profile is
        // loaded (its byte forms are searched in them).
        let binary = !text::looks_text(d.payload);
        let keep = d.payload.len().min(UDP_SCAN_MAX);
        stats.udp_bytes += (d.payload.len() - keep) as u64;
        out.streams.push(StreamPayload {
            app: None,
            src: d.src,
            dst: d.dst,
            frame: d.frame,
            ts: d.ts,
            data: d.payload[..keep].to_vec(),
            dns_query: false,
            tls: None,
            binary,
        });
    } else {
        stats.udp_bytes += d.payload.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 long-header packet of `kind` with `payload_len` bytes after
    /// its length field (and an empty token for an Initial).
    fn long(kind: u8, payload_len: usize) -> Vec<u8> {
        let mut p = vec![0xc0 | (kind << 4), 0, 0, 0, 1, 4, 1, 2, 3, 4, 0];
        if kind == 0 {
            p.push(0);
        }
        p.extend_from_slice(&[0x40 | (payload_len >> 8) as u8, payload_len as u8]);
        p.extend(std::iter::repeat_n(0xaa, payload_len));
        p
    }

    #[test]
    fn coalesced_quic_packets_are_counted_one_by_one() {
        let mut d = long(0, 300);
        d.extend(long(2, 100));
        assert!(looks_quic(&d, 50000, 443));
        assert_eq!(quic_packets(&d), 2);
        // A short-header packet after them takes the rest.
        d.extend_from_slice(&[0x40, 1, 2, 3]);
        assert_eq!(quic_packets(&d), 3);
        // Cut anywhere: counted, never a panic.
        for cut in 0..d.len() {
            assert!(quic_packets(&d[..cut]) <= 3);
        }
        assert!(!looks_quic(b"GET / HTTP/1.1", 50000, 8080));
        // Text to UDP 443 is not QUIC; random bytes with the fixed bit are.
        assert!(!looks_quic(b"NOTIFY * HTTP/1.1\r\nimei: 356938035643809\r\n", 50000, 443));
        let short: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x40).collect();
        assert!(looks_quic(&short, 50000, 443));
    }
}
