//! Test support: builds IP conversations (TCP with handshakes, segments
//! and acks; UDP DNS answers) and writes them as captures with any link
//! layer, byte order and container. The bundled fixtures, the integration
//! tests and the benchmark all use it, so what the tests read is what a
//! capture writer made, never hand-copied bytes.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use teleaudit::capture::Linktype;
use teleaudit::capture::writer::{PcapWriter, PcapngWriter};
use teleaudit::util::Timestamp;

/// IP-layer packets with their times, in capture order.
#[derive(Default, Clone)]
pub struct Net {
    pub packets: Vec<(Timestamp, Vec<u8>)>,
}

/// One TCP connection's sequence state.
#[derive(Clone, Copy)]
pub struct Tcp {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub cseq: u32,
    pub sseq: u32,
}

const WINDOW: u16 = 65_535;

fn tcp_packet(src: SocketAddr, dst: SocketAddr, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    macro_rules! finish {
        ($b:expr) => {{
            let mut b = $b.tcp(src.port(), dst.port(), seq, WINDOW);
            if let Some(a) = ack {
                b = b.ack(a);
            }
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('F') {
                b = b.fin();
            }
            if flags.contains('R') {
                b = b.rst();
            }
            if flags.contains('P') {
                b = b.psh();
            }
            b.write(&mut out, payload).expect("write to vec");
        }};
    }
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => finish!(PacketBuilder::ipv4(s.octets(), d.octets(), 64)),
        (IpAddr::V6(s), IpAddr::V6(d)) => finish!(PacketBuilder::ipv6(s.octets(), d.octets(), 64)),
        _ => panic!("mixed address families"),
    }
    out
}

fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload)
            .expect("write to vec"),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            .udp(src.port(), dst.port())
            .write(&mut out, payload)
            .expect("write to vec"),
        _ => panic!("mixed address families"),
    }
    out
}

/// `../shared/corpus-extra` (or `$TELEAUDIT_CORPUS_EXTRA`, or beside
/// `$TELEAUDIT_CORPUS`), when it is there; outside CI a test skips
/// without it, in CI its absence fails.
/// Says on the terminal that a test skipped part of its work (a corpus
/// or a tool missing): written to stderr itself, which `cargo test`
/// does not capture, so a skip is seen, not only with `--nocapture`.
pub fn skip(why: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: SKIPPED {why}");
}

/// A fresh temporary folder for one test (this process, this name).
pub fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The public corpus: `$TELEAUDIT_CORPUS` (set by .ci/run), else
/// `../shared/corpus`; outside CI a test skips (and says so) without it,
/// in CI its absence fails the test.
pub fn corpus() -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = std::env::var_os("TELEAUDIT_CORPUS")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([root.join("../shared/corpus"), root.join("../../shared/corpus")])
        .find(|c| c.is_dir());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but the corpus is missing");
        skip(format_args!("corpus not found: skipped outside CI"));
    }
    found
}

pub fn corpus_extra() -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("TELEAUDIT_CORPUS_EXTRA").map(std::path::PathBuf::from),
        std::env::var_os("TELEAUDIT_CORPUS").map(|c| std::path::PathBuf::from(c).join("../corpus-extra")),
        Some(root.join("../shared/corpus-extra")),
        Some(root.join("../../shared/corpus-extra")),
    ];
    let found = candidates.into_iter().flatten().find(|c| c.is_dir());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but corpus-extra is missing");
        skip(format_args!("corpus-extra not found: skipped outside CI"));
    }
    found
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

pub fn ts(secs: i64, micros: u32) -> Timestamp {
    Timestamp::new(secs, micros * 1000)
}

fn later(t: Timestamp, micros: u32) -> Timestamp {
    let n = t.nanos as u64 + micros as u64 * 1000;
    Timestamp::new(t.secs + (n / 1_000_000_000) as i64, (n % 1_000_000_000) as u32)
}

impl Net {
    pub fn push(&mut self, t: Timestamp, p: Vec<u8>) {
        self.packets.push((t, p));
    }

    /// Opens a connection with a three-way handshake at `t`.
    pub fn connect(&mut self, t: Timestamp, client: &str, server: &str, isn_c: u32, isn_s: u32) -> Tcp {
        let (c, s) = (addr(client), addr(server));
        self.push(t, tcp_packet(c, s, isn_c, None, "S", b""));
        self.push(later(t, 20_000), tcp_packet(s, c, isn_s, Some(isn_c.wrapping_add(1)), "S", b""));
        self.push(later(t, 40_000), tcp_packet(c, s, isn_c.wrapping_add(1), Some(isn_s.wrapping_add(1)), "", b""));
        Tcp { client: c, server: s, cseq: isn_c.wrapping_add(1), sseq: isn_s.wrapping_add(1) }
    }

    /// Client sends `data` in segments of at most `mss` bytes, then the
    /// server acknowledges.
    pub fn send(&mut self, t: Timestamp, conn: &mut Tcp, data: &[u8], mss: usize) {
        self.segments(t, conn, data, mss, true);
    }

    /// Server answers with `data`, then the client acknowledges.
    pub fn reply(&mut self, t: Timestamp, conn: &mut Tcp, data: &[u8], mss: usize) {
        self.segments(t, conn, data, mss, false);
    }

    fn segments(&mut self, t: Timestamp, conn: &mut Tcp, data: &[u8], mss: usize, from_client: bool) {
        let (src, dst) = if from_client { (conn.client, conn.server) } else { (conn.server, conn.client) };
        let (mut seq, ack) = if from_client { (conn.cseq, conn.sseq) } else { (conn.sseq, conn.cseq) };
        let mut at = t;
        for piece in data.chunks(mss.max(1)) {
            self.push(at, tcp_packet(src, dst, seq, Some(ack), "P", piece));
            seq = seq.wrapping_add(piece.len() as u32);
            at = later(at, 100);
        }
        let ack_delay = if from_client { 20_000 } else { 1_000 };
        self.push(later(at, ack_delay), tcp_packet(dst, src, ack, Some(seq), "", b""));
        if from_client {
            conn.cseq = seq;
        } else {
            conn.sseq = seq;
        }
    }

    /// Both sides close with FIN.
    pub fn close(&mut self, t: Timestamp, conn: &mut Tcp) {
        self.push(t, tcp_packet(conn.client, conn.server, conn.cseq, Some(conn.sseq), "F", b""));
        conn.cseq = conn.cseq.wrapping_add(1);
        self.push(later(t, 20_000), tcp_packet(conn.server, conn.client, conn.sseq, Some(conn.cseq), "F", b""));
        conn.sseq = conn.sseq.wrapping_add(1);
        self.push(later(t, 40_000), tcp_packet(conn.client, conn.server, conn.cseq, Some(conn.sseq), "", b""));
    }

    /// A DNS query and its answer (`name` A `ip`).
    pub fn dns(&mut self, t: Timestamp, client: &str, resolver: &str, name: &str, ip: [u8; 4]) {
        let (c, r) = (addr(client), addr(resolver));
        let mut q = vec![0x5a, 0x17, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1;
        a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        a.extend_from_slice(&ip);
        self.push(t, udp_packet(c, r, &q));
        self.push(later(t, 15_000), udp_packet(r, c, &a));
    }

    /// A whole HTTP exchange on a new connection.
    pub fn http(&mut self, t: Timestamp, client: &str, server: &str, request: &[u8], response: &[u8], isn: u32) {
        let mut c = self.connect(t, client, server, isn, isn ^ 0x5a5a_5a5a);
        self.send(later(t, 60_000), &mut c, request, 1400);
        self.reply(later(t, 120_000), &mut c, response, 1400);
        self.close(later(t, 200_000), &mut c);
    }
}

/// Link layers the writer can put around IP packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    /// Ethernet with 802.1Q tags (two: QinQ).
    Vlan(u8),
    LinuxSll,
    LinuxSll2,
    Raw,
    Null,
    Loop,
}

impl Link {
    pub fn linktype(self) -> Linktype {
        match self {
            Link::Ethernet | Link::Vlan(_) => Linktype::ETHERNET,
            Link::LinuxSll => Linktype::LINUX_SLL,
            Link::LinuxSll2 => Linktype::LINUX_SLL2,
            Link::Raw => Linktype::RAW,
            Link::Null => Linktype::NULL,
            Link::Loop => Linktype::LOOP,
        }
    }

    /// Wraps one IP packet.
    pub fn frame(self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        let mut f = Vec::with_capacity(ip.len() + 24);
        match self {
            Link::Ethernet | Link::Vlan(_) => {
                f.extend_from_slice(&[0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
                f.extend_from_slice(&[0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56]);
                if let Link::Vlan(n) = self {
                    for i in 0..n {
                        let tpid: u16 = if i + 1 < n { 0x88a8 } else { 0x8100 };
                        f.extend_from_slice(&tpid.to_be_bytes());
                        f.extend_from_slice(&(100 + u16::from(i)).to_be_bytes());
                    }
                }
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll => {
                f.extend_from_slice(&[0, 4, 0, 1, 0, 6, 0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56, 0, 0]);
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll2 => {
                f.extend_from_slice(&ethertype.to_be_bytes());
                f.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56, 0, 0]);
            }
            Link::Raw => {}
            Link::Null => f.extend_from_slice(&(if v6 { 30u32 } else { 2u32 }).to_le_bytes()),
            Link::Loop => f.extend_from_slice(&(if v6 { 24u32 } else { 2u32 }).to_be_bytes()),
        }
        f.extend_from_slice(ip);
        f
    }
}

/// Legacy pcap of the packets.
pub fn pcap(net: &Net, link: Link, big_endian: bool, nanos: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link.linktype(), big_endian, nanos).expect("vec");
    for (t, p) in &net.packets {
        w.packet(*t, &link.frame(p)).expect("vec");
    }
    w.into_inner()
}

/// pcapng of the packets: interface `i % links.len()` carries packet `i`,
/// each interface with its own link type; `tsresol` per interface.
pub fn pcapng(net: &Net, links: &[(Link, u8)], big_endian: bool) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new());
    w.section(big_endian).expect("vec");
    for (l, res) in links {
        w.interface(l.linktype(), *res).expect("vec");
    }
    for (i, (t, p)) in net.packets.iter().enumerate() {
        let k = i % links.len();
        w.packet(k as u32, *t, &links[k].0.frame(p)).expect("vec");
    }
    w.into_inner()
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn pseudo_random(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

pub mod appmeta;
pub mod hostile_capture;
pub mod hostile_flow;
pub mod hostile_output;
pub mod telephony;
pub mod tls;
pub mod wifi;
pub mod wiko;

/// A raw IPv4 header around `payload` (checksum left zero: readers of
/// captures do not check it).
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag_offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    let flags_off = ((frag_offset / 8) as u16) | if more { 0x2000 } else { 0 };
    h.extend_from_slice(&flags_off.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

/// A UDP datagram (checksum zero) inside IPv4.
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(src, dst, 17, 0, 0, false, &u)
}

/// The ways a device's packets get wrapped on the way to a capture point.
#[derive(Clone, Copy, Debug)]
pub enum Wrap {
    Gre,
    Vxlan,
    GtpU,
    IpInIp,
    /// IPv4 fragments, last fragment first.
    Fragments,
}

impl Wrap {
    /// Wraps one IP packet; may give several packets (fragments).
    pub fn apply(self, ip: &[u8], id: u16) -> Vec<Vec<u8>> {
        let (a, b) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        match self {
            Wrap::Gre => {
                let mut g = vec![0, 0, 0x08, 0x00];
                g.extend_from_slice(ip);
                vec![ipv4(a, b, 47, id, 0, false, &g)]
            }
            Wrap::Vxlan => {
                let mut v = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
                v.extend_from_slice(&Link::Ethernet.frame(ip));
                vec![ipv4_udp(a, b, 50_000, 4789, &v)]
            }
            Wrap::GtpU => {
                let mut g = vec![0x30, 0xff];
                g.extend_from_slice(&(ip.len() as u16).to_be_bytes());
                g.extend_from_slice(&[0, 0, 0x12, 0x34]);
                g.extend_from_slice(ip);
                vec![ipv4_udp(a, b, 2152, 2152, &g)]
            }
            Wrap::IpInIp => vec![ipv4(a, b, 4, id, 0, false, ip)],
            Wrap::Fragments => {
                let hl = usize::from(ip[0] & 0x0f) * 4;
                let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
                let body = &ip[hl..];
                if body.len() <= 64 {
                    return vec![ip.to_vec()];
                }
                let cut = 48;
                vec![
                    ipv4(src, dst, ip[9], id, cut, false, &body[cut..]),
                    ipv4(src, dst, ip[9], id, 0, true, &body[..cut]),
                ]
            }
        }
    }
}
pub mod hostile_http;

/// A pcapng Decryption Secrets Block (type 0x0A) of TLS key log lines,
/// little-endian like the section [`pcapng`] writes.
pub fn decryption_secrets_block(keylog: &[u8]) -> Vec<u8> {
    const DSB: u32 = 0x0000_000A;
    const TLS_KEY_LOG: u32 = 0x544c_534b;
    let padded = keylog.len().div_ceil(4) * 4;
    let total = (20 + padded) as u32;
    let mut b = Vec::with_capacity(total as usize);
    for v in [DSB, total, TLS_KEY_LOG, keylog.len() as u32] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(keylog);
    b.resize(16 + padded, 0);
    b.extend_from_slice(&total.to_le_bytes());
    b
}
