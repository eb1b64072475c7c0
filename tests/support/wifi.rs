//! Link layers and tunnels of issue 14 around the IP packets of a [`Net`]:
//! IEEE 802.11 data frames (LLC/SNAP) bare, behind radiotap or PPI
//! headers, written as pcap of link type 105, 127 or 192; and L2TPv2 data
//! and control messages over UDP 1701. Field layouts are those of IEEE
//! 802.11-2020 section 9.2, radiotap.org, the PPI specification (CACE
//! Technologies, 2007) and RFC 2661 section 3.1.

use teleaudit::capture::Linktype;
use teleaudit::capture::writer::PcapWriter;

use super::{Net, ipv4_udp};

pub const LINKTYPE_IEEE802_11: Linktype = Linktype(105);
pub const LINKTYPE_RADIOTAP: Linktype = Linktype(127);
pub const LINKTYPE_PPI: Linktype = Linktype(192);

/// Frame Control, first byte: Data, QoS Data, Null, QoS Null, Beacon.
pub const DATA: u8 = 0x08;
pub const QOS_DATA: u8 = 0x88;
pub const NULL: u8 = 0x48;
pub const QOS_NULL: u8 = 0xc8;
pub const BEACON: u8 = 0x80;
/// Frame Control flags.
pub const TO_DS: u8 = 0x01;
pub const FROM_DS: u8 = 0x02;
pub const PROTECTED: u8 = 0x40;
pub const ORDER: u8 = 0x80;

const STA: [u8; 6] = [0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56];
const BSSID: [u8; 6] = [0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
const ROUTER: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
/// Bytes where an FCS would be (not a real CRC: teleaudit does not check it).
const FCS: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

/// An 802.11 frame of Frame Control `fc0`/`fc1` around `body` (already
/// LLC/SNAP or ciphertext): addresses, sequence control, address 4 when
/// both DS bits are set, QoS Control for QoS subtypes, HT Control when
/// Order is set on QoS data.
pub fn frame(fc0: u8, fc1: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![fc0, fc1, 0x2c, 0x00];
    // Receiver, transmitter, then the other end: the station sends to
    // the access point (ToDS), the access point to the station.
    let (a1, a2) = if fc1 & (TO_DS | FROM_DS) == FROM_DS { (STA, BSSID) } else { (BSSID, STA) };
    f.extend_from_slice(&a1);
    f.extend_from_slice(&a2);
    f.extend_from_slice(&ROUTER);
    f.extend_from_slice(&[0x10, 0x00]);
    if fc1 & (TO_DS | FROM_DS) == TO_DS | FROM_DS {
        f.extend_from_slice(&STA);
    }
    if (fc0 >> 2) & 3 == 2 && fc0 & 0x80 != 0 {
        f.extend_from_slice(&[0x00, 0x00]);
        if fc1 & ORDER != 0 {
            f.extend_from_slice(&[0; 4]);
        }
    }
    f.extend_from_slice(body);
    f
}

/// LLC/SNAP (RFC 1042) with the EtherType of `ip` before it.
pub fn snap(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0xaa, 0xaa, 0x03, 0, 0, 0];
    b.extend_from_slice(&ethertype.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A data frame carrying one IP packet.
pub fn data(fc0: u8, fc1: u8, ip: &[u8]) -> Vec<u8> {
    let ethertype = if ip.first().is_some_and(|b| b >> 4 == 6) { 0x86dd } else { 0x0800 };
    frame(fc0, fc1, &snap(ethertype, ip))
}

/// A radiotap header (present: TSFT, Flags, Rate, as real drivers put
/// first) before `frame`, with an FCS after it when `fcs`.
pub fn radiotap(frame: &[u8], fcs: bool) -> Vec<u8> {
    let mut r = vec![0x00, 0x00, 0, 0, 0x07, 0x00, 0x00, 0x00];
    r.extend_from_slice(&1_700_000_000_000_000u64.to_le_bytes());
    r.push(if fcs { 0x10 } else { 0x00 });
    r.push(0x0c); // 6 Mb/s
    let n = r.len() as u16;
    r[2..4].copy_from_slice(&n.to_le_bytes());
    r.extend_from_slice(frame);
    if fcs {
        r.extend_from_slice(&FCS);
    }
    r
}

/// A PPI header naming 802.11, with an 802.11-Common field (its flags
/// saying whether an FCS follows), before `frame`.
pub fn ppi(frame: &[u8], fcs: bool) -> Vec<u8> {
    let mut common = vec![0; 20];
    common[8] = u8::from(fcs);
    common[12..14].copy_from_slice(&2437u16.to_le_bytes()); // channel 6
    let mut p = vec![0x00, 0x00];
    p.extend_from_slice(&((8 + 4 + common.len()) as u16).to_le_bytes());
    p.extend_from_slice(&105u32.to_le_bytes());
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&(common.len() as u16).to_le_bytes());
    p.extend_from_slice(&common);
    p.extend_from_slice(frame);
    if fcs {
        p.extend_from_slice(&FCS);
    }
    p
}

/// A pcap of link type `link` with one frame per packet of `net`, made
/// from the IP packet by `wrap`.
pub fn pcap(net: &Net, link: Linktype, wrap: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link, false, false).expect("vec");
    for (t, p) in &net.packets {
        w.packet(*t, &wrap(p)).expect("vec");
    }
    w.into_inner()
}

/// The L2TP access concentrator and network server of the tunnels.
pub const LAC: [u8; 4] = [198, 51, 100, 1];
pub const LNS: [u8; 4] = [198, 51, 100, 2];

/// How an L2TPv2 data message is written.
#[derive(Clone, Copy, Debug)]
pub struct L2tpForm {
    /// Length field (L bit).
    pub length: bool,
    /// Ns and Nr (S bit).
    pub sequence: bool,
    /// Offset Size with this many pad bytes (O bit).
    pub offset: Option<u16>,
    /// PPP address and control `FF 03`.
    pub address_control: bool,
    /// Protocol field compressed to one byte (RFC 1661 PFC).
    pub compressed: bool,
}

impl L2tpForm {
    /// As most LACs send data: no optional field, `FF 03`, two-byte protocol.
    pub const PLAIN: L2tpForm =
        L2tpForm { length: false, sequence: false, offset: None, address_control: true, compressed: false };
    /// Every optional field, PPP compressed.
    pub const FULL: L2tpForm =
        L2tpForm { length: true, sequence: true, offset: Some(3), address_control: false, compressed: true };
}

/// An L2TPv2 data message carrying PPP protocol `proto` with `payload`.
pub fn l2tp_data(form: L2tpForm, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags: u16 = 0x0002;
    let mut m = vec![0, 0];
    if form.length {
        flags |= 0x4000;
        m.extend_from_slice(&[0, 0]);
    }
    m.extend_from_slice(&[0x12, 0x34, 0x00, 0x07]); // tunnel, session
    if form.sequence {
        flags |= 0x0800;
        m.extend_from_slice(&[0, 5, 0, 9]);
    }
    if let Some(pad) = form.offset {
        flags |= 0x0200;
        m.extend_from_slice(&pad.to_be_bytes());
        m.extend(std::iter::repeat_n(0u8, usize::from(pad)));
    }
    m[..2].copy_from_slice(&flags.to_be_bytes());
    if form.address_control {
        m.extend_from_slice(&[0xff, 0x03]);
    }
    if form.compressed && proto < 0x100 {
        m.push(proto as u8);
    } else {
        m.extend_from_slice(&proto.to_be_bytes());
    }
    m.extend_from_slice(payload);
    if form.length {
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
    }
    m
}

/// An IP packet in PPP in an L2TPv2 data message in UDP 1701 in IPv4.
pub fn l2tp(form: L2tpForm, ip: &[u8]) -> Vec<u8> {
    let proto = if ip.first().is_some_and(|b| b >> 4 == 6) { 0x0057 } else { 0x0021 };
    ipv4_udp(LAC, LNS, 1701, 1701, &l2tp_data(form, proto, ip))
}

/// An L2TPv2 control message (T, L, S set) whose AVPs are `avps`, in UDP
/// 1701 in IPv4.
pub fn l2tp_control(avps: &[u8]) -> Vec<u8> {
    let mut m = vec![0xc8, 0x02, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 1];
    m.extend_from_slice(avps);
    let n = m.len() as u16;
    m[2..4].copy_from_slice(&n.to_be_bytes());
    ipv4_udp(LAC, LNS, 1701, 1701, &m)
}

/// An AVP (RFC 2661 section 4.1): mandatory bit, vendor 0, `kind`, `value`.
pub fn avp(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut a = (0x8000u16 | (6 + value.len()) as u16).to_be_bytes().to_vec();
    a.extend_from_slice(&[0, 0]);
    a.extend_from_slice(&kind.to_be_bytes());
    a.extend_from_slice(value);
    a
}

/// Every packet of `inner` wrapped by `wrap`, at the same times, appended
/// to `outer`.
pub fn wrap_into(outer: &mut Net, inner: &Net, wrap: impl Fn(&[u8]) -> Vec<u8>) {
    for (t, p) in &inner.packets {
        outer.push(*t, wrap(p));
    }
}
