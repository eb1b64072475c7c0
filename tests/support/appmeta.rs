//! Captures carrying app attribution as PCAPdroid and Apple PKTAP write
//! it: PCAPdroid trailers in pcap (`dump_packet_pcap`), PCAPdroid uid map
//! blocks and `u-<uid>` comments in pcapng (`dump_pcapng_uid_mapping`,
//! `dump_packet_pcapng`), and PKTAP headers (`struct pktap_header`).

use teleaudit::capture::Linktype;
use teleaudit::capture::appmeta::{PCAPDROID_PEN, PCAPDROID_TRAILER_MAGIC, crc32};
use teleaudit::capture::writer::{PcapWriter, PcapngWriter};

use std::net::{IpAddr, SocketAddr};

use super::Net;

/// One IP packet as PCAPdroid dumps it with extensions: a zeroed Ethernet
/// header, the packet, zero padding to 4 bytes, the trailer and its FCS
/// (little-endian, as on Android). `bad_crc` flips the FCS.
pub fn pcapdroid_frame(ip: &[u8], uid: i32, app_name: &str, bad_crc: bool) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&(if v6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
    f.extend_from_slice(ip);
    f.resize(f.len().next_multiple_of(4), 0);
    f.extend_from_slice(&PCAPDROID_TRAILER_MAGIC.to_be_bytes());
    f.extend_from_slice(&uid.to_be_bytes());
    let mut name = [0u8; 20];
    let n = app_name.len().min(19);
    name[..n].copy_from_slice(&app_name.as_bytes()[..n]);
    f.extend_from_slice(&name);
    let crc = crc32(&f) ^ u32::from(bad_crc);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// A PCAPdroid pcap export: packet `i` from app `apps[owner(i)]`.
pub fn pcapdroid_pcap(net: &Net, apps: &[(i32, &str)], owner: impl Fn(usize) -> usize, bad_crc: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), Linktype::ETHERNET, false, false).expect("vec");
    for (i, (t, p)) in net.packets.iter().enumerate() {
        let (uid, name) = apps[owner(i)];
        w.packet(*t, &pcapdroid_frame(p, uid, name, bad_crc)).expect("vec");
    }
    w.into_inner()
}

/// The body of a PCAPdroid uid map custom block after its PEN, padded.
pub fn uid_map(uid: i32, package: &str, app_name: &str) -> Vec<u8> {
    let mut d = vec![1, 0, 1, 0];
    d.extend_from_slice(&uid.to_le_bytes());
    d.push(package.len() as u8);
    d.push(app_name.len() as u8);
    d.extend_from_slice(package.as_bytes());
    d.extend_from_slice(app_name.as_bytes());
    d
}

/// A PCAPdroid pcapng export (raw IP): a uid map block before each app's
/// first packet, unless `truncate_maps`, which cuts each block's names
/// short; every packet commented `u-<uid>`.
pub fn pcapdroid_pcapng(
    net: &Net,
    apps: &[(i32, &str, &str)],
    owner: impl Fn(usize) -> usize,
    truncate_maps: bool,
) -> Vec<u8> {
    pcapdroid_pcapng_of(net, apps, |i| Some(owner(i)), truncate_maps)
}

/// As [`pcapdroid_pcapng`], packets of no app (`owner` gives `None`)
/// written without a comment.
pub fn pcapdroid_pcapng_of(
    net: &Net,
    apps: &[(i32, &str, &str)],
    owner: impl Fn(usize) -> Option<usize>,
    truncate_maps: bool,
) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).expect("vec");
    w.interface(Linktype::RAW, 6).expect("vec");
    let mut mapped = vec![false; apps.len()];
    for (i, (t, p)) in net.packets.iter().enumerate() {
        let Some(k) = owner(i) else {
            w.packet(0, *t, p).expect("vec");
            continue;
        };
        let (uid, package, app) = apps[k];
        if !std::mem::replace(&mut mapped[k], true) {
            let mut m = uid_map(uid, package, app);
            if truncate_maps {
                m.truncate(12);
            }
            w.custom(PCAPDROID_PEN, &m).expect("vec");
        }
        let comment = format!("u-{uid}");
        w.packet_with_options(0, *t, p, &[(1, comment.as_bytes())]).expect("vec");
    }
    w.into_inner()
}

/// What a packet is, for tests that leave some uncommented.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Syn,
    /// A TCP segment with no payload that is not a SYN (ACK, FIN).
    Bare,
    Data,
    Udp,
}

/// The TCP or UDP ends of an IP packet, and what it is.
pub fn ends(ip: &[u8]) -> Option<((SocketAddr, SocketAddr), Kind)> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ip(ip).ok()?;
    let (s, d): (IpAddr, IpAddr) = match p.net? {
        NetSlice::Ipv4(h) => (h.header().source_addr().into(), h.header().destination_addr().into()),
        NetSlice::Ipv6(h) => (h.header().source_addr().into(), h.header().destination_addr().into()),
        _ => return None,
    };
    let (sp, dp, kind) = match p.transport? {
        TransportSlice::Tcp(t) if t.syn() => (t.source_port(), t.destination_port(), Kind::Syn),
        TransportSlice::Tcp(t) if t.payload().is_empty() => (t.source_port(), t.destination_port(), Kind::Bare),
        TransportSlice::Tcp(t) => (t.source_port(), t.destination_port(), Kind::Data),
        TransportSlice::Udp(u) => (u.source_port(), u.destination_port(), Kind::Udp),
        _ => return None,
    };
    Some(((SocketAddr::new(s, sp), SocketAddr::new(d, dp)), kind))
}

/// A PKTAP header (108 bytes, little-endian) for a packet of `dlt`.
pub fn pktap_header(dlt: u32, pid: i32, comm: &str, epid: i32, ecomm: &str) -> Vec<u8> {
    let mut h = vec![0u8; 108];
    h[0..4].copy_from_slice(&108u32.to_le_bytes());
    h[4..8].copy_from_slice(&1u32.to_le_bytes());
    h[8..12].copy_from_slice(&dlt.to_le_bytes());
    h[12..15].copy_from_slice(b"en0");
    h[52..56].copy_from_slice(&pid.to_le_bytes());
    h[56..56 + comm.len().min(16)].copy_from_slice(&comm.as_bytes()[..comm.len().min(16)]);
    h[84..88].copy_from_slice(&epid.to_le_bytes());
    h[88..88 + ecomm.len().min(16)].copy_from_slice(&ecomm.as_bytes()[..ecomm.len().min(16)]);
    h
}
