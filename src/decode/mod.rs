//! decode: link layers and IP, from a captured frame to a transport
//! segment with its addresses.
//!
//! Input: a [`Frame`]. Output: a [`Packet`] borrowing the frame's bytes, or
//! the reason it carries nothing to inspect, counted in [`DecodeStats`].
//! Link layers: Ethernet (+VLAN/QinQ, by etherparse), Linux SLL and SLL2,
//! raw IP (101, 228, 229 and libpcap's 12/14), BSD NULL and LOOP.
//! An unsupported link type is reported once per interface by the caller
//! through [`Decoded::Unsupported`]; its frames are counted, never silently
//! dropped.
//!
//! Never: keep state across packets beyond counters, or copy payloads.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::capture::{Frame, Linktype};

/// Raw IP as libpcap writes it on some BSDs and old Linux (DLT_RAW values).
const LINKTYPE_RAW_12: Linktype = Linktype(12);
const LINKTYPE_RAW_14: Linktype = Linktype(14);
// Named for messages only; not decoded yet.
const LINKTYPE_PPP: Linktype = Linktype(9);
const LINKTYPE_IEEE802_11: Linktype = Linktype(105);
const LINKTYPE_C_HDLC: Linktype = Linktype(104);
const LINKTYPE_IEEE802_11_RADIOTAP: Linktype = Linktype(127);
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;
/// Address families in a BSD NULL/LOOP header: IPv4 everywhere, IPv6 as
/// Linux (10), NetBSD/OpenBSD (24), FreeBSD (28) and Darwin (30) number it.
const AF_INET: u32 = 2;
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// TCP flags we act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture does not hold
    /// (snaplen): the flow layer records them as a gap.
    pub missing: u32,
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
}

/// An IP packet with a TCP or UDP payload.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
}

/// The outcome of decoding one frame.
#[derive(Debug)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// Nothing for us (ARP, ICMP, other IP protocols, fragments): counted.
    Skipped,
    /// The frame's link type is not supported; `first` is true the first
    /// time it is seen on this interface.
    Unsupported {
        first: bool,
    },
}

/// Counters of what decoding saw, for the capture-quality summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames by link type, in order of first appearance.
    pub by_link: Vec<(Linktype, u64)>,
    pub tcp: u64,
    pub udp: u64,
    pub not_ip: u64,
    pub other_ip: u64,
    pub ip_fragments: u64,
    pub malformed: u64,
    pub truncated: u64,
    pub unsupported: u64,
}

/// Decodes frames; holds only counters.
#[derive(Debug, Default)]
pub struct Decoder {
    pub stats: DecodeStats,
    unsupported_seen: Vec<(u32, Linktype)>,
}

/// Human name of a link type for messages.
pub fn link_name(l: Linktype) -> String {
    let name = match l {
        Linktype::NULL => "NULL",
        Linktype::ETHERNET => "ETHERNET",
        Linktype::RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => "RAW",
        Linktype::LOOP => "LOOP",
        Linktype::LINUX_SLL => "LINUX_SLL",
        Linktype::LINUX_SLL2 => "LINUX_SLL2",
        Linktype::IPV4 => "IPV4",
        Linktype::IPV6 => "IPV6",
        LINKTYPE_PPP => "PPP",
        LINKTYPE_IEEE802_11 => "IEEE802_11",
        LINKTYPE_C_HDLC => "C_HDLC",
        LINKTYPE_IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
        Linktype::NFLOG => "NFLOG",
        _ => return format!("link type {}", l.0),
    };
    format!("{name} ({})", l.0)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    fn count_link(&mut self, l: Linktype) {
        match self.stats.by_link.iter_mut().find(|(k, _)| *k == l) {
            Some((_, n)) => *n += 1,
            None => self.stats.by_link.push((l, 1)),
        }
    }

    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Decoded<'a> {
        self.count_link(frame.link);
        let data = frame.data;
        let sliced = match frame.link {
            Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => {
                LaxSlicedPacket::from_ip(data).ok()
            }
            Linktype::LINUX_SLL => be16(data, 14)
                .map(|p| LaxSlicedPacket::from_ether_type(EtherType(p), &data[SLL_HEADER_LEN.min(data.len())..])),
            Linktype::LINUX_SLL2 => be16(data, 0)
                .map(|p| LaxSlicedPacket::from_ether_type(EtherType(p), &data[SLL2_HEADER_LEN.min(data.len())..])),
            Linktype::NULL | Linktype::LOOP => {
                let Some(h) = data.get(..NULL_HEADER_LEN) else {
                    self.stats.malformed += 1;
                    return Decoded::Skipped;
                };
                let h = [h[0], h[1], h[2], h[3]];
                // NULL is in the capturing host's byte order, LOOP in
                // network order; accept either for both, as Wireshark does.
                let fam = [u32::from_le_bytes(h), u32::from_be_bytes(h)];
                let rest = &data[NULL_HEADER_LEN..];
                if fam.contains(&AF_INET) {
                    Some(LaxSlicedPacket::from_ether_type(EtherType::IPV4, rest))
                } else if fam.iter().any(|f| AF_INET6.contains(f)) {
                    Some(LaxSlicedPacket::from_ether_type(EtherType::IPV6, rest))
                } else {
                    self.stats.not_ip += 1;
                    return Decoded::Skipped;
                }
            }
            other => {
                self.stats.unsupported += 1;
                let key = (frame.interface, other);
                let first = !self.unsupported_seen.contains(&key);
                if first {
                    self.unsupported_seen.push(key);
                }
                return Decoded::Unsupported { first };
            }
        };
        let Some(p) = sliced else {
            self.stats.malformed += 1;
            return Decoded::Skipped;
        };
        self.ip_layers(&p)
    }

    fn ip_layers<'a>(&mut self, p: &LaxSlicedPacket<'a>) -> Decoded<'a> {
        let (src, dst, ip_payload, claimed) = match &p.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                let hl = usize::from(h.ihl()) * 4;
                // Total length 0 is what TSO captures show: no claim.
                let claimed = usize::from(h.total_len()).checked_sub(hl).filter(|_| h.total_len() != 0);
                (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), v4.payload(), claimed)
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), v6.payload(), None)
            }
            Some(LaxNetSlice::Arp(_)) | None => {
                self.stats.not_ip += 1;
                return Decoded::Skipped;
            }
        };
        if ip_payload.fragmented {
            self.stats.ip_fragments += 1;
            return Decoded::Skipped;
        }
        let transport = match &p.transport {
            Some(TransportSlice::Tcp(t)) => {
                self.stats.tcp += 1;
                let payload = t.payload();
                let hdr = usize::from(t.data_offset()) * 4;
                let missing = match claimed {
                    Some(c) if ip_payload.incomplete => c.saturating_sub(hdr + payload.len()) as u32,
                    _ => 0,
                };
                if missing > 0 {
                    self.stats.truncated += 1;
                }
                Transport::Tcp(TcpSegment {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags: TcpFlags { syn: t.syn(), ack: t.ack(), fin: t.fin(), rst: t.rst() },
                    payload,
                    missing,
                })
            }
            Some(TransportSlice::Udp(u)) => {
                self.stats.udp += 1;
                Transport::Udp(UdpDatagram {
                    src_port: u.source_port(),
                    dst_port: u.destination_port(),
                    payload: u.payload(),
                })
            }
            Some(_) => {
                self.stats.other_ip += 1;
                return Decoded::Skipped;
            }
            None => {
                if ip_payload.incomplete {
                    self.stats.truncated += 1;
                } else {
                    self.stats.other_ip += 1;
                }
                return Decoded::Skipped;
            }
        };
        Decoded::Packet(Packet { src, dst, transport })
    }
}
