//! decode: link layers and IP, from a captured frame to a transport
//! segment with its addresses.
//!
//! Input: a [`Frame`]. Output: a [`Packet`] borrowing the frame's bytes, or
//! the reason it carries nothing to inspect, counted in [`DecodeStats`].
//! Link layers: Ethernet (+VLAN/QinQ, by etherparse), Linux SLL and SLL2,
//! raw IP (101, 228, 229 and libpcap's 12/14), BSD NULL and LOOP, NFLOG,
//! Cisco HDLC, PPP, Apple PKTAP and PPI (their inner link type), IEEE
//! 802.11 data frames bare, with radiotap or with PPI ([`wifi`]; protected
//! frames counted, not read). Between link and IP: MPLS, PPPoE, LLC/SNAP.
//! Tunnels, followed to the innermost packet: IP-in-IP, 6in4, GRE, VXLAN,
//! GTP-U, Teredo, L2TPv2 ([`encap`]). IPv4 and IPv6 fragments are reassembled
//! ([`defrag`]). An unsupported link type is reported once per interface
//! by the caller through [`Decoded::Unsupported`]; its frames are counted,
//! never silently dropped.
//!
//! Per-frame bookkeeping is O(1) whatever the capture holds: link types
//! and unsupported interfaces are found by hash (keyed: the values come
//! from the file), never by a scan of those seen.
//!
//! Never: copy a payload, except the bytes of fragmented datagrams.

pub mod defrag;
pub mod encap;
pub mod wifi;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TcpSlice, UdpSlice};

use crate::capture::{Frame, Linktype};
use defrag::{Defrag, DefragLimits, FragKey};
use encap::{Inner, L2tp};
use wifi::Wifi;

/// Raw IP as libpcap writes it on some BSDs and old Linux (DLT_RAW values).
const LINKTYPE_RAW_12: Linktype = Linktype(12);
const LINKTYPE_RAW_14: Linktype = Linktype(14);
const LINKTYPE_PPP: Linktype = Linktype(9);
const LINKTYPE_PPP_HDLC: Linktype = Linktype(50);
const LINKTYPE_C_HDLC: Linktype = Linktype(104);
/// Apple's PKTAP: a header naming the process, then a packet of the
/// link type it names.
const LINKTYPE_PKTAP: Linktype = Linktype(crate::capture::appmeta::LINKTYPE_PKTAP);
const LINKTYPE_IEEE802_11: Linktype = Linktype(105);
const LINKTYPE_IEEE802_11_RADIOTAP: Linktype = Linktype(127);
/// Per-Packet Information: a header, then a packet of the link type it
/// names (802.11 in practice).
const LINKTYPE_PPI: Linktype = Linktype(192);
/// Most encapsulations followed in one frame (tunnels in tunnels).
const MAX_ENCAP_DEPTH: usize = 8;
/// Interface and link type pairs remembered as unsupported (to report
/// each once): twice the interfaces of a pcapng section
/// ([`crate::capture::MAX_INTERFACES`]). Beyond it, frames of new pairs
/// are still counted in [`DecodeStats::unsupported`] but no longer
/// reported as new.
pub const MAX_UNSUPPORTED_TRACKED: usize = 1 << 17;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
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
    /// The frame's link type is not supported. `first` is `Some(n)` the
    /// first time it is seen on this interface: the n-th such interface
    /// and link type pair of the capture (see
    /// [`DecodeStats::unsupported_interfaces`]).
    Unsupported {
        first: Option<u64>,
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
    /// Fragments held for reassembly, and datagrams rebuilt from them.
    pub ip_fragments: u64,
    pub reassembled: u64,
    /// Frames whose packet was inside a tunnel or MPLS/PPPoE.
    pub encapsulated: u64,
    pub too_deep: u64,
    pub malformed: u64,
    pub truncated: u64,
    /// Frames of unsupported link types.
    pub unsupported: u64,
    /// Protected (encrypted) 802.11 data frames.
    pub wifi_protected: u64,
    /// Distinct interface and link type pairs of those frames, counted up
    /// to [`MAX_UNSUPPORTED_TRACKED`].
    pub unsupported_interfaces: u64,
}

/// Decodes frames; holds counters and fragments awaiting reassembly.
#[derive(Debug, Default)]
pub struct Decoder {
    pub stats: DecodeStats,
    /// Where each link type sits in `stats.by_link`.
    link_index: HashMap<i32, usize>,
    /// The link type of the previous frame and its index: most captures
    /// have one, so most frames need no hashing.
    last_link: Option<(Linktype, usize)>,
    /// (interface, link type) pairs reported (`Linktype` is not `Hash`).
    unsupported_seen: HashSet<(u32, i32)>,
    pub defrag: Defrag,
    /// The last reassembled datagram (the packet returned borrows it).
    scratch: Vec<u8>,
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
        LINKTYPE_PPP | LINKTYPE_PPP_HDLC => "PPP",
        LINKTYPE_IEEE802_11 => "IEEE802_11",
        LINKTYPE_C_HDLC => "C_HDLC",
        LINKTYPE_IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
        Linktype::NFLOG => "NFLOG",
        LINKTYPE_PKTAP => "PKTAP",
        LINKTYPE_PPI => "PPI",
        _ => return format!("link type {}", l.0),
    };
    format!("{name} ({})", l.0)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::with_limits(DefragLimits::default())
    }

    pub fn with_limits(limits: DefragLimits) -> Self {
        Decoder { defrag: Defrag::new(limits), ..Default::default() }
    }

    fn count_link(&mut self, l: Linktype) {
        let i = match self.last_link {
            Some((k, i)) if k == l => i,
            _ => {
                let by_link = &mut self.stats.by_link;
                let i = *self.link_index.entry(l.0).or_insert_with(|| {
                    by_link.push((l, 0));
                    by_link.len() - 1
                });
                self.last_link = Some((l, i));
                i
            }
        };
        if let Some((_, n)) = self.stats.by_link.get_mut(i) {
            *n += 1;
        }
    }

    /// The first layer inside the link header, or why there is none.
    fn link_layer<'a>(&mut self, frame: &Frame<'a>) -> Result<Inner<'a>, Decoded<'a>> {
        self.link_layer_in(frame, false)
    }

    /// [`Decoder::link_layer`]; `nested` for the packet a PKTAP or PPI
    /// header carries (a PKTAP or PPI inside one is not followed).
    fn link_layer_in<'a>(&mut self, frame: &Frame<'a>, nested: bool) -> Result<Inner<'a>, Decoded<'a>> {
        let data = frame.data;
        let inner = match frame.link {
            Linktype::ETHERNET => Some(Inner::Ethernet(data)),
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => {
                Some(Inner::Ip(data))
            }
            Linktype::LINUX_SLL => be16(data, 14).map(|p| Inner::EtherType(p, &data[SLL_HEADER_LEN.min(data.len())..])),
            Linktype::LINUX_SLL2 => {
                be16(data, 0).map(|p| Inner::EtherType(p, &data[SLL2_HEADER_LEN.min(data.len())..]))
            }
            Linktype::NULL | Linktype::LOOP => {
                let Some(h) = data.get(..NULL_HEADER_LEN) else {
                    self.stats.malformed += 1;
                    return Err(Decoded::Skipped);
                };
                let h = [h[0], h[1], h[2], h[3]];
                // NULL is in the capturing host's byte order, LOOP in
                // network order; accept either for both, as Wireshark does.
                let fam = [u32::from_le_bytes(h), u32::from_be_bytes(h)];
                let rest = &data[NULL_HEADER_LEN..];
                if fam.contains(&AF_INET) {
                    Some(Inner::EtherType(encap::ETHERTYPE_IPV4, rest))
                } else if fam.iter().any(|f| AF_INET6.contains(f)) {
                    Some(Inner::EtherType(encap::ETHERTYPE_IPV6, rest))
                } else {
                    self.stats.not_ip += 1;
                    return Err(Decoded::Skipped);
                }
            }
            Linktype::NFLOG => encap::nflog(data),
            LINKTYPE_C_HDLC => encap::cisco_hdlc(data),
            LINKTYPE_PPP | LINKTYPE_PPP_HDLC => encap::ppp_frame(data),
            LINKTYPE_IEEE802_11 => return self.wifi(wifi::ieee80211(data)),
            LINKTYPE_IEEE802_11_RADIOTAP => return self.wifi(wifi::radiotap(data)),
            LINKTYPE_PPI if !nested => match wifi::ppi(data) {
                Ok(p) => {
                    let link = Linktype(i32::try_from(p.dlt).unwrap_or(-1));
                    return self.link_layer_in(&Frame { link, data: p.frame, ..*frame }, true);
                }
                Err(bad) => return self.wifi(bad),
            },
            LINKTYPE_PKTAP if !nested => {
                let h = crate::capture::appmeta::pktap_header(data);
                let Some(h) = h.filter(|h| h.record_type == crate::capture::appmeta::PTH_TYPE_PACKET) else {
                    if h.is_none() {
                        self.stats.malformed += 1;
                    } else {
                        self.stats.not_ip += 1;
                    }
                    return Err(Decoded::Skipped);
                };
                let link = Linktype(i32::try_from(h.dlt).unwrap_or(-1));
                let inner = Frame { link, data: &data[h.len..], ..*frame };
                return self.link_layer_in(&inner, true);
            }
            other => {
                self.stats.unsupported += 1;
                let key = (frame.interface, other.0);
                let first = (self.unsupported_seen.len() < MAX_UNSUPPORTED_TRACKED
                    && self.unsupported_seen.insert(key))
                .then(|| {
                    self.stats.unsupported_interfaces += 1;
                    self.stats.unsupported_interfaces
                });
                return Err(Decoded::Unsupported { first });
            }
        };
        inner.ok_or_else(|| {
            self.stats.not_ip += 1;
            Decoded::Skipped
        })
    }

    /// An 802.11 frame's payload, or why there is none (counted).
    fn wifi<'a>(&mut self, w: Wifi<'a>) -> Result<Inner<'a>, Decoded<'a>> {
        let s = &mut self.stats;
        match w {
            Wifi::Data(inner) => return Ok(inner),
            Wifi::FirstOfMany(inner) => {
                // The A-MSDU's other packets are not read: like bytes past
                // a snapshot length.
                s.truncated += 1;
                return Ok(inner);
            }
            Wifi::NotIp => s.not_ip += 1,
            Wifi::Protected => s.wifi_protected += 1,
            Wifi::Truncated => s.truncated += 1,
            Wifi::Malformed => s.malformed += 1,
        }
        Err(Decoded::Skipped)
    }

    /// Decodes one frame to its innermost TCP or UDP packet. The packet
    /// borrows the frame, or the decoder when it was reassembled from
    /// fragments.
    pub fn decode<'s, 'a: 's>(&'s mut self, frame: &Frame<'a>) -> Decoded<'s> {
        self.count_link(frame.link);
        let mut next: Inner<'s> = match self.link_layer(frame) {
            Ok(i) => i,
            Err(d) => return d,
        };
        let Decoder { stats, defrag, scratch, .. } = self;
        let mut scratch: Option<&'s mut Vec<u8>> = Some(scratch);
        for depth in 0..MAX_ENCAP_DEPTH {
            if depth == 1 {
                stats.encapsulated += 1;
            }
            let plain = match next {
                Inner::Ethernet(b) if b.get(12..14) == Some(&[0x08, 0x00]) => plain_ip(&b[14..], 4),
                Inner::Ethernet(b) if b.get(12..14) == Some(&[0x86, 0xdd]) => plain_ip(&b[14..], 6),
                Inner::EtherType(encap::ETHERTYPE_IPV4, b) => plain_ip(b, 4),
                Inner::EtherType(encap::ETHERTYPE_IPV6, b) => plain_ip(b, 6),
                Inner::Ip(b) => plain_ip(b, b.first().map_or(0, |v| v >> 4)),
                _ => None,
            };
            let ip = match plain {
                Some(ip) => ip,
                None => {
                    let Some(ip) = sliced(next, stats) else { return Decoded::Skipped };
                    match ip {
                        Sliced::Ip(ip) => ip,
                        Sliced::Next(inner) => {
                            next = inner;
                            continue;
                        }
                    }
                }
            };
            let (proto, payload, missing): (u8, &'s [u8], u32) = match ip.fragment {
                None => (ip.proto, ip.payload, ip.missing),
                Some(f) => {
                    stats.ip_fragments += 1;
                    let Some(buf) = scratch.take() else {
                        // A fragment inside a reassembled datagram: one
                        // reassembly per frame is enough for real traffic.
                        return Decoded::Skipped;
                    };
                    let key = FragKey { src: ip.src, dst: ip.dst, proto: ip.proto, id: f.id };
                    if !defrag.add(key, frame.ts, f.offset, f.more, ip.payload, buf) {
                        return Decoded::Skipped;
                    }
                    stats.reassembled += 1;
                    let whole: &'s Vec<u8> = buf;
                    (ip.proto, whole.as_slice(), 0)
                }
            };
            match proto {
                IPPROTO_TCP => {
                    let Ok(t) = TcpSlice::from_slice(payload) else {
                        stats.truncated += 1;
                        return Decoded::Skipped;
                    };
                    stats.tcp += 1;
                    if missing > 0 {
                        stats.truncated += 1;
                    }
                    return Decoded::Packet(Packet {
                        src: ip.src,
                        dst: ip.dst,
                        transport: Transport::Tcp(TcpSegment {
                            src_port: t.source_port(),
                            dst_port: t.destination_port(),
                            seq: t.sequence_number(),
                            ack: t.acknowledgment_number(),
                            flags: TcpFlags { syn: t.syn(), ack: t.ack(), fin: t.fin(), rst: t.rst() },
                            payload: t.payload(),
                            missing,
                        }),
                    });
                }
                IPPROTO_UDP => {
                    let Ok(u) = UdpSlice::from_slice_lax(payload) else {
                        stats.truncated += 1;
                        return Decoded::Skipped;
                    };
                    let (sp, dp, data) = (u.source_port(), u.destination_port(), u.payload());
                    let tunnel = if dp == encap::PORT_VXLAN || sp == encap::PORT_VXLAN {
                        encap::vxlan(data)
                    } else if dp == encap::PORT_GTP_U || sp == encap::PORT_GTP_U {
                        encap::gtp_u(data)
                    } else if dp == encap::PORT_TEREDO || sp == encap::PORT_TEREDO {
                        encap::teredo(data)
                    } else if dp == encap::PORT_L2TP || sp == encap::PORT_L2TP {
                        match encap::l2tp(data) {
                            Some(L2tp::Ip(inner)) => Some(inner),
                            Some(L2tp::NotIp) => {
                                stats.not_ip += 1;
                                return Decoded::Skipped;
                            }
                            None => None,
                        }
                    } else {
                        encap::teredo_any_port(data)
                    };
                    if let Some(inner) = tunnel {
                        next = inner;
                        continue;
                    }
                    stats.udp += 1;
                    return Decoded::Packet(Packet {
                        src: ip.src,
                        dst: ip.dst,
                        transport: Transport::Udp(UdpDatagram { src_port: sp, dst_port: dp, payload: data }),
                    });
                }
                IPPROTO_IPIP | IPPROTO_IPV6 => next = Inner::Ip(payload),
                IPPROTO_GRE => match encap::gre(payload) {
                    Some(inner) => next = inner,
                    None => {
                        stats.other_ip += 1;
                        return Decoded::Skipped;
                    }
                },
                _ => {
                    stats.other_ip += 1;
                    return Decoded::Skipped;
                }
            }
        }
        stats.too_deep += 1;
        Decoded::Skipped
    }
}

/// What etherparse reads in one layer: an IP layer, or an inner layer that
/// is ours to read.
enum Sliced<'a> {
    Ip(IpLayer<'a>),
    Next(Inner<'a>),
}

/// One layer through etherparse; `None` (counted) when it is not IP.
fn sliced<'a>(next: Inner<'a>, stats: &mut DecodeStats) -> Option<Sliced<'a>> {
    let sliced = match next {
        Inner::Ethernet(b) => match LaxSlicedPacket::from_ethernet(b) {
            Ok(s) => s,
            Err(_) => {
                stats.malformed += 1;
                return None;
            }
        },
        Inner::EtherType(t, b) => match shim(t, b) {
            Shim::Next(Some(inner)) => return Some(Sliced::Next(inner)),
            Shim::Next(None) => {
                stats.malformed += 1;
                return None;
            }
            Shim::Slice => LaxSlicedPacket::from_ether_type(EtherType(t), b),
        },
        Inner::Ip(b) => match LaxSlicedPacket::from_ip(b) {
            Ok(s) => s,
            Err(_) => {
                stats.malformed += 1;
                return None;
            }
        },
    };
    let Some(net) = &sliced.net else {
        // etherparse stops at EtherTypes it does not know: MPLS, PPPoE,
        // LLC lengths after a VLAN tag. Take over there.
        if let Some(ep) = sliced.ether_payload()
            && let Shim::Next(Some(inner)) = shim(ep.ether_type.0, ep.payload)
        {
            return Some(Sliced::Next(inner));
        }
        stats.not_ip += 1;
        return None;
    };
    let ip = ip_layer(net);
    if ip.is_none() {
        stats.not_ip += 1;
    }
    ip.map(Sliced::Ip)
}

/// The IP layer of a plain IPv4 or IPv6 packet (`version`) carrying TCP
/// or UDP, read without etherparse (which moves a 328-byte value per
/// frame): no IPv4 options or IPv6 extension headers, not a fragment, all
/// its bytes captured. Anything else is `None`, left to etherparse; what
/// it reads, it reads as [`ip_layer`] would (tested against it).
fn plain_ip(b: &[u8], version: u8) -> Option<IpLayer<'_>> {
    let (src, dst, proto, payload) = match version {
        4 => {
            let h = b.get(..20)?;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // Version 4 with five words of header; neither "more
            // fragments" nor an offset.
            if h[0] != 0x45 || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 || total < 20 || total > b.len() {
                return None;
            }
            let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
            let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
            (src, dst, h[9], &b[20..total])
        }
        6 => {
            let h = b.get(..40)?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // A zero length is a jumbogram's or a TSO capture's.
            if h[0] >> 4 != 6 || len == 0 || 40 + len > b.len() {
                return None;
            }
            let addr = |a: &[u8]| IpAddr::from(<[u8; 16]>::try_from(a).unwrap_or_default());
            (addr(&h[8..24]), addr(&h[24..40]), h[6], &b[40..40 + len])
        }
        _ => return None,
    };
    matches!(proto, IPPROTO_TCP | IPPROTO_UDP).then_some(IpLayer {
        src,
        dst,
        proto,
        payload,
        fragment: None,
        missing: 0,
    })
}

/// What to do with bytes after an EtherType.
enum Shim<'a> {
    /// One of ours (MPLS, PPPoE, LLC, bridged Ethernet): its inner layer.
    Next(Option<Inner<'a>>),
    /// etherparse reads it (IP, VLAN, ...).
    Slice,
}

fn shim(t: u16, b: &[u8]) -> Shim<'_> {
    match t {
        encap::ETHERTYPE_MPLS | encap::ETHERTYPE_MPLS_MULTICAST => Shim::Next(encap::mpls(b)),
        encap::ETHERTYPE_PPPOE_SESSION => Shim::Next(encap::pppoe_session(b)),
        encap::ETHERTYPE_TRANSPARENT_BRIDGING => Shim::Next(Some(Inner::Ethernet(b))),
        t if t < encap::ETHERTYPE_MIN => Shim::Next(encap::llc_snap(b)),
        _ => Shim::Slice,
    }
}

/// Where a fragment sits in its datagram.
#[derive(Clone, Copy, Debug)]
struct Fragment {
    id: u32,
    offset: usize,
    more: bool,
}

/// The parts of an IP layer we use.
struct IpLayer<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload: &'a [u8],
    fragment: Option<Fragment>,
    /// Payload bytes announced but not captured (snaplen).
    missing: u32,
}

fn ip_layer<'a>(net: &LaxNetSlice<'a>) -> Option<IpLayer<'a>> {
    match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let p = v4.payload();
            let hl = usize::from(h.ihl()) * 4;
            // Total length 0 is what TSO captures show: no claim.
            let claimed = usize::from(h.total_len()).checked_sub(hl).filter(|_| h.total_len() != 0);
            let missing = match claimed {
                Some(c) if p.incomplete => c.saturating_sub(p.payload.len()) as u32,
                _ => 0,
            };
            let fragment = p.fragmented.then(|| Fragment {
                id: u32::from(h.identification()),
                offset: usize::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
            });
            Some(IpLayer {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                proto: p.ip_number.0,
                payload: p.payload,
                fragment,
                missing,
            })
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let p = v6.payload();
            let fragment = if p.fragmented {
                ipv6_fragment(v6.extensions().first_header().map(|n| n.0), v6.extensions().slice())
            } else {
                None
            };
            Some(IpLayer {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                proto: p.ip_number.0,
                payload: p.payload,
                fragment,
                missing: 0,
            })
        }
        LaxNetSlice::Arp(_) => None,
    }
}

/// Finds the fragment header among IPv6 extension headers.
fn ipv6_fragment(first: Option<u8>, mut exts: &[u8]) -> Option<Fragment> {
    let mut next = first?;
    loop {
        if next == IPV6_FRAGMENT {
            let f = exts.get(..8)?;
            let off = u16::from_be_bytes([f[2], f[3]]);
            return Some(Fragment {
                id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                offset: usize::from(off >> 3) * 8,
                more: off & 1 == 1,
            });
        }
        let len =
            if next == IPV6_AH { (usize::from(*exts.get(1)?) + 2) * 4 } else { (usize::from(*exts.get(1)?) + 1) * 8 };
        next = *exts.first()?;
        exts = exts.get(len..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Timestamp;

    fn frame(link: i32, interface: u32) -> Frame<'static> {
        Frame {
            number: 1,
            ts: Timestamp::default(),
            link: Linktype(link),
            interface,
            data: b"",
            orig_len: 0,
            app: None,
            block: None,
        }
    }

    #[test]
    fn link_types_counted_in_order_of_first_appearance() {
        let mut d = Decoder::new();
        for l in [1, 147, 1, 1, 148, 147, 1] {
            d.decode(&frame(l, 0));
        }
        let got: Vec<(i32, u64)> = d.stats.by_link.iter().map(|(l, n)| (l.0, *n)).collect();
        assert_eq!(got, vec![(1, 4), (147, 2), (148, 1)]);
    }

    #[test]
    fn each_unsupported_interface_and_link_type_is_numbered_once() {
        let mut d = Decoder::new();
        let mut firsts = Vec::new();
        for (l, i) in [(147, 0), (147, 0), (147, 1), (148, 0), (147, 1), (148, 0), (147, 2)] {
            match d.decode(&frame(l, i)) {
                Decoded::Unsupported { first } => firsts.push(first),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(firsts, vec![Some(1), None, Some(2), Some(3), None, None, Some(4)]);
        assert_eq!(d.stats.unsupported, 7);
        assert_eq!(d.stats.unsupported_interfaces, 4);
    }

    #[test]
    fn unsupported_pairs_tracked_up_to_the_cap() {
        let mut d = Decoder::new();
        let n = MAX_UNSUPPORTED_TRACKED as u32 + 5;
        let new =
            (0..n).filter(|&i| matches!(d.decode(&frame(147, i)), Decoded::Unsupported { first: Some(_) })).count();
        assert_eq!(new, MAX_UNSUPPORTED_TRACKED);
        assert_eq!(d.stats.unsupported, u64::from(n));
        assert_eq!(d.unsupported_seen.len(), MAX_UNSUPPORTED_TRACKED);
    }

    /// The fast path reads what it takes exactly as etherparse does: over
    /// random mutations of IPv4 and IPv6 headers (lengths, flags, options,
    /// extension headers, protocols, truncation), with and without an
    /// Ethernet header. And it takes the common case.
    #[test]
    fn plain_ip_agrees_with_etherparse() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || crate::util::xorshift(&mut x);
        let (mut taken, mut tries) = (0, 0);
        for round in 0..40_000 {
            let v6 = round % 2 == 1;
            let payload_len = (next() % 80) as usize;
            let mut p = if v6 {
                let mut h = vec![0x60, 0, 0, 0];
                h.extend_from_slice(&(payload_len as u16).to_be_bytes());
                h.extend_from_slice(&[6, 64]);
                h.extend((0..32).map(|_| next() as u8));
                h
            } else {
                let total = (20 + payload_len) as u16;
                let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
                h[2..4].copy_from_slice(&total.to_be_bytes());
                h.extend((0..8).map(|_| next() as u8));
                h
            };
            p.extend((0..payload_len).map(|_| next() as u8));
            // Mutations: some bytes of the header, the protocol, the length.
            for _ in 0..(next() % 3) {
                let at = (next() % if v6 { 8 } else { 12 }) as usize;
                p[at] = match next() % 4 {
                    0 => next() as u8,
                    1 => p[at] ^ (1 << (next() % 8)),
                    2 => [0, 6, 17, 43, 44, 58, 60][(next() % 7) as usize],
                    _ => 0,
                };
            }
            if next() % 4 == 0 {
                p.truncate((next() as usize) % (p.len() + 1));
            } else if next() % 4 == 0 {
                p.extend((0..next() % 8).map(|_| 0u8)); // padding
            }
            let version = p.first().map_or(0, |v| v >> 4);
            let mut eth = vec![0u8; 12];
            eth.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
            eth.extend_from_slice(&p);
            for (inner, bytes) in [(Inner::Ip(&p), &p[..]), (Inner::Ethernet(&eth), &eth[14..])] {
                let want = if matches!(inner, Inner::Ip(_)) {
                    version
                } else if v6 {
                    6
                } else {
                    4
                };
                tries += 1;
                let Some(fast) = plain_ip(bytes, want) else { continue };
                taken += 1;
                let mut stats = DecodeStats::default();
                let Some(Sliced::Ip(slow)) = sliced(inner, &mut stats) else {
                    panic!("etherparse refused what the fast path took: {p:02x?}")
                };
                assert_eq!((fast.src, fast.dst, fast.proto), (slow.src, slow.dst, slow.proto), "{p:02x?}");
                assert_eq!(fast.payload.as_ptr(), slow.payload.as_ptr(), "{p:02x?}");
                assert_eq!(fast.payload.len(), slow.payload.len(), "{p:02x?}");
                assert_eq!((slow.fragment.is_none(), slow.missing), (true, 0), "{p:02x?}");
            }
        }
        // Most unmutated packets take the fast path.
        assert!(taken * 4 > tries, "{taken} of {tries}");
    }
}
