//! Pure parsers for the headers that wrap IP: link headers etherparse does
//! not read (NFLOG, Cisco HDLC, BSD NULL/LOOP, SLL/SLL2), shims between
//! Ethernet and IP (MPLS, PPPoE, LLC/SNAP), and tunnels (GRE, VXLAN,
//! GTP-U, Teredo, L2TP). Each takes the bytes after the outer header and says
//! what comes next, or `None` when the bytes are not that header.

/// What an encapsulation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    /// A full Ethernet frame.
    Ethernet(&'a [u8]),
    /// Bytes after an EtherType-identified header.
    EtherType(u16, &'a [u8]),
    /// An IPv4 or IPv6 packet.
    Ip(&'a [u8]),
}

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub const ETHERTYPE_TRANSPARENT_BRIDGING: u16 = 0x6558;
/// EtherType values below this are IEEE 802.3 lengths (LLC follows).
pub const ETHERTYPE_MIN: u16 = 0x0600;

pub const PORT_VXLAN: u16 = 4789;
pub const PORT_GTP_U: u16 = 2152;
pub const PORT_TEREDO: u16 = 3544;
pub const PORT_L2TP: u16 = 1701;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const MPLS_LABEL_LEN: usize = 4;
const MAX_MPLS_LABELS: usize = 16;
const PPPOE_HEADER_LEN: usize = 6;
const NFLOG_HEADER_LEN: usize = 4;
const NFULA_PAYLOAD: u16 = 9;
const VXLAN_HEADER_LEN: usize = 8;
const GTP_HEADER_LEN: usize = 8;
const GTP_G_PDU: u8 = 0xff;
/// L2TP header flags (RFC 2661 section 3.1): control message, Length,
/// Ns/Nr, Offset Size present; the version in the low nibble.
const L2TP_T: u16 = 0x8000;
const L2TP_L: u16 = 0x4000;
const L2TP_S: u16 = 0x0800;
const L2TP_O: u16 = 0x0200;
const L2TP_VERSION_MASK: u16 = 0x000f;
const L2TP_VERSION_2: u16 = 2;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// By the first nibble: IPv4 or IPv6 bytes.
fn ip_by_version(b: &[u8]) -> Option<Inner<'_>> {
    matches!(b.first()? >> 4, 4 | 6).then_some(Inner::Ip(b))
}

/// A PPP protocol number to what follows.
fn ppp(proto: u16, rest: &[u8]) -> Option<Inner<'_>> {
    match proto {
        PPP_IPV4 => Some(Inner::EtherType(ETHERTYPE_IPV4, rest)),
        PPP_IPV6 => Some(Inner::EtherType(ETHERTYPE_IPV6, rest)),
        _ => None,
    }
}

/// MPLS label stack (RFC 3032): labels up to the bottom of stack, then IP
/// by version nibble, or a pseudowire control word then Ethernet.
pub fn mpls(b: &[u8]) -> Option<Inner<'_>> {
    let mut at = 0;
    for _ in 0..MAX_MPLS_LABELS {
        let label = b.get(at..at + MPLS_LABEL_LEN)?;
        at += MPLS_LABEL_LEN;
        if label[2] & 1 == 1 {
            let rest = &b[at..];
            return match rest.first()? >> 4 {
                4 | 6 => Some(Inner::Ip(rest)),
                // RFC 4385 control word (first nibble 0), then Ethernet.
                0 => Some(Inner::Ethernet(rest.get(4..)?)),
                _ => None,
            };
        }
    }
    None
}

/// A PPP protocol field, compressed to one byte when odd (RFC 1661 PFC),
/// then what it carries.
fn ppp_protocol(b: &[u8]) -> Option<Inner<'_>> {
    let first = *b.first()?;
    if first & 1 == 1 { ppp(u16::from(first), b.get(1..)?) } else { ppp(be16(b, 0)?, b.get(2..)?) }
}

/// PPPoE session stage (RFC 2516): header, then a PPP protocol.
pub fn pppoe_session(b: &[u8]) -> Option<Inner<'_>> {
    ppp_protocol(b.get(PPPOE_HEADER_LEN..)?)
}

/// IEEE 802.2 LLC with SNAP (`AA AA 03`, OUI, EtherType).
pub fn llc_snap(b: &[u8]) -> Option<Inner<'_>> {
    if b.get(..3)? != [0xaa, 0xaa, 0x03] {
        return None;
    }
    Some(Inner::EtherType(be16(b, 6)?, b.get(8..)?))
}

/// Linux NFLOG (link type 239): a 4-byte header, then TLVs (length and type
/// in host byte order, little-endian on every capture we know of, padded
/// to 4 bytes); the packet is the NFULA_PAYLOAD TLV.
pub fn nflog(b: &[u8]) -> Option<Inner<'_>> {
    let mut at = NFLOG_HEADER_LEN;
    while at + 4 <= b.len() {
        let len = usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
        let kind = u16::from_le_bytes([b[at + 2], b[at + 3]]);
        if len < 4 {
            return None;
        }
        if kind == NFULA_PAYLOAD {
            return ip_by_version(b.get(at + 4..at + len.min(b.len() - at))?);
        }
        at += len.next_multiple_of(4);
    }
    None
}

/// Cisco HDLC (link type 104): address, control, EtherType.
pub fn cisco_hdlc(b: &[u8]) -> Option<Inner<'_>> {
    Some(Inner::EtherType(be16(b, 2)?, b.get(4..)?))
}

/// PPP in HDLC-like framing (link type 9, 50): optional `FF 03`, protocol.
pub fn ppp_frame(b: &[u8]) -> Option<Inner<'_>> {
    let b = if b.starts_with(&[0xff, 0x03]) { &b[2..] } else { b };
    ppp_protocol(b)
}

/// GRE (RFC 2784/2890; version 1 as in PPTP): flags say which optional
/// fields follow; the protocol is an EtherType (or PPP for version 1).
pub fn gre(b: &[u8]) -> Option<Inner<'_>> {
    let flags = be16(b, 0)?;
    let proto = be16(b, 2)?;
    let version = flags & 0x7;
    let mut at = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        if flags & bit != 0 {
            at += 4;
        }
    }
    if version == 1 && flags & 0x0080 != 0 {
        at += 4; // acknowledgment number
    }
    let rest = b.get(at..)?;
    match (version, proto) {
        (0, ETHERTYPE_TRANSPARENT_BRIDGING) => Some(Inner::Ethernet(rest)),
        (0, t) => Some(Inner::EtherType(t, rest)),
        (1, 0x880b) => ppp_frame(rest),
        _ => None,
    }
}

/// VXLAN (RFC 7348): 8-byte header with the I flag, then Ethernet.
pub fn vxlan(b: &[u8]) -> Option<Inner<'_>> {
    (b.first()? & 0x08 != 0).then_some(())?;
    Some(Inner::Ethernet(b.get(VXLAN_HEADER_LEN..)?))
}

/// GTP-U (3GPP TS 29.281): version 1 G-PDU, optional sequence/N-PDU/
/// extension fields and extension headers, then the user's IP packet.
pub fn gtp_u(b: &[u8]) -> Option<Inner<'_>> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *b.get(1)? != GTP_G_PDU {
        return None;
    }
    let mut at = GTP_HEADER_LEN;
    if flags & 0x07 != 0 {
        let mut next_ext = *b.get(at + 3)?;
        at += 4;
        while next_ext != 0 {
            let len = usize::from(*b.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next_ext = *b.get(at + len - 1)?;
            at += len;
        }
    }
    ip_by_version(b.get(at..)?)
}

/// Teredo (RFC 4380): optional authentication and origin indication
/// headers, then IPv6.
pub fn teredo(b: &[u8]) -> Option<Inner<'_>> {
    let mut b = b;
    if b.starts_with(&[0x00, 0x01]) {
        let id_len = usize::from(*b.get(2)?);
        let auth_len = usize::from(*b.get(3)?);
        b = b.get(4 + id_len + auth_len + 9..)?;
    }
    if b.starts_with(&[0x00, 0x00]) {
        b = b.get(8..)?;
    }
    (b.first()? >> 4 == 6 && b.len() >= 40).then_some(Inner::Ip(b))
}

/// Teredo on any UDP port (relays use any): only when the inner IPv6
/// header's payload length accounts for exactly the rest of the datagram
/// and its next header is TCP, UDP, ICMPv6 or "no next header".
pub fn teredo_any_port(b: &[u8]) -> Option<Inner<'_>> {
    let Inner::Ip(ip) = teredo(b)? else { return None };
    let plen = usize::from(be16(ip, 4)?);
    (plen + 40 == ip.len() && matches!(ip[6], 6 | 17 | 58 | 59)).then_some(Inner::Ip(ip))
}

/// What an L2TP message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2tp<'a> {
    /// A data message carrying an IPv4 or IPv6 packet in PPP.
    Ip(Inner<'a>),
    /// A control message, or a data message carrying PPP's own
    /// negotiation (LCP, IPCP, authentication): nothing of IP.
    NotIp,
}

/// L2TP version 2 (RFC 2661) over UDP: flags say which optional fields
/// follow (Length, Ns/Nr, Offset Size and its padding); a data message
/// carries a PPP frame (optional `FF 03`, protocol, compressed or not).
/// `None` when the bytes are not L2TPv2 (L2TPv3's data header has a
/// session cookie whose length only the tunnel's set-up says: not read).
pub fn l2tp(b: &[u8]) -> Option<L2tp<'_>> {
    let flags = be16(b, 0)?;
    if flags & L2TP_VERSION_MASK != L2TP_VERSION_2 {
        return None;
    }
    if flags & L2TP_T != 0 {
        return Some(L2tp::NotIp);
    }
    let mut at = 2;
    let mut end = b.len();
    if flags & L2TP_L != 0 {
        // The message length; a capture may hold less (snaplen).
        end = end.min(usize::from(be16(b, at)?));
        at += 2;
    }
    at += 4; // tunnel and session ids
    if flags & L2TP_S != 0 {
        at += 4;
    }
    if flags & L2TP_O != 0 {
        at += 2 + usize::from(be16(b, at)?);
    }
    let ppp = b.get(at..end)?;
    Some(ppp_frame(ppp).map_or(L2tp::NotIp, L2tp::Ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn mpls_to_ip_and_pseudowire() {
        assert_eq!(mpls(&[0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x45, 0]), Some(Inner::Ip(&[0x45, 0])));
        assert_eq!(mpls(&[0, 0, 0x11, 64, 0, 0, 0, 0, 1, 2]), Some(Inner::Ethernet(&[1, 2])));
        assert_eq!(mpls(&[0, 0, 0x10, 64]), None);
    }

    #[test]
    fn pppoe_llc_hdlc() {
        assert_eq!(pppoe_session(&[0x11, 0, 0, 1, 0, 4, 0, 0x21, 0x45]), Some(Inner::EtherType(0x0800, &[0x45])));
        // Protocol field compressed to one byte.
        assert_eq!(pppoe_session(&[0x11, 0, 0, 1, 0, 4, 0x21, 0x45]), Some(Inner::EtherType(0x0800, &[0x45])));
        assert_eq!(llc_snap(&[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00, 0x45]), Some(Inner::EtherType(0x0800, &[0x45])));
        assert_eq!(cisco_hdlc(&[0x0f, 0, 0x08, 0x00, 0x45]), Some(Inner::EtherType(0x0800, &[0x45])));
    }

    #[test]
    fn nflog_payload_tlv() {
        let mut b = vec![2, 0, 0, 0];
        b.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // some TLV
        b.extend_from_slice(&[8, 0, 9, 0]);
        b.extend_from_slice(V4);
        assert_eq!(nflog(&b), Some(Inner::Ip(V4)));
    }

    #[test]
    fn gre_vxlan_gtp_teredo() {
        assert_eq!(gre(&[0x20, 0, 0x08, 0, 0, 0, 0, 1, 0x45]), Some(Inner::EtherType(0x0800, &[0x45])));
        assert_eq!(vxlan(&[8, 0, 0, 0, 0, 0, 1, 0, 9]), Some(Inner::Ethernet(&[9])));
        let mut g = vec![0x30, 0xff, 0, 4, 0, 0, 0, 1];
        g.extend_from_slice(V4);
        assert_eq!(gtp_u(&g), Some(Inner::Ip(V4)));
        let mut g = vec![0x34, 0xff, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0];
        g.extend_from_slice(V4);
        assert_eq!(gtp_u(&g), Some(Inner::Ip(V4)));
        let mut t = vec![0, 0, 1, 2, 3, 4, 5, 6];
        t.extend_from_slice(&[0x60; 40]);
        assert!(matches!(teredo(&t), Some(Inner::Ip(_))));
        assert_eq!(teredo(&[0x45; 50]), None);
    }

    #[test]
    fn l2tp_data_control_and_optional_fields() {
        let ip = Some(L2tp::Ip(Inner::EtherType(0x0800, V4)));
        // Data, no optional fields, FF 03 then protocol 0x0021.
        assert_eq!(l2tp(&[0x00, 0x02, 0, 1, 0, 2, 0xff, 0x03, 0, 0x21, 0x45, 0, 0, 20]), ip);
        // Length (bounds the message), Ns/Nr, Offset Size 2 and its pad;
        // PPP without FF 03, protocol compressed to one byte.
        let mut m = vec![0x4a, 0x02, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 2, 9, 9, 0x21];
        m.extend_from_slice(V4);
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
        m.extend_from_slice(&[7, 7]); // past the Length: not the message's
        assert_eq!(l2tp(&m), ip);
        // IPv6 (0x0057).
        assert_eq!(l2tp(&[0x00, 0x02, 0, 1, 0, 2, 0, 0x57, 0x60]), Some(L2tp::Ip(Inner::EtherType(0x86dd, &[0x60]))));
        // Control (T, L, S set), LCP in a data message.
        assert_eq!(l2tp(&[0xc8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]), Some(L2tp::NotIp));
        assert_eq!(l2tp(&[0x00, 0x02, 0, 1, 0, 2, 0xff, 0x03, 0xc0, 0x21, 1]), Some(L2tp::NotIp));
        // Not version 2; an offset past the end; a Length before the payload.
        assert_eq!(l2tp(&[0x00, 0x03, 0, 0, 0, 1, 0x45]), None);
        assert_eq!(l2tp(&[0x02, 0x02, 0, 1, 0, 2, 0, 200, 0x21]), None);
        assert_eq!(l2tp(&[0x40, 0x02, 0, 2, 0, 1, 0, 2, 0x21, 0x45]), None);
    }
}
