//! Hostile TCP captures for the flow layer (issue 11): a SYN flood of
//! many connections, a flood of one-byte out-of-order segments, flows
//! crafted to collide under an unkeyed FNV-1a table hash, and a SYN flood
//! with a real HTTP upload inside it. Everything is raw IPv4 (link type
//! RAW) written straight to any `Write`, so the full-size captures of the
//! issue (millions of packets) are quick to make too.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use teleaudit::capture::Linktype;
use teleaudit::capture::writer::PcapWriter;
use teleaudit::util::Timestamp;

/// The server every hostile flow goes to.
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 80), 80);
/// The phone whose upload hides in a flood.
pub const PHONE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 20, 0, 23), 41_000);
pub const IMEI: &str = "356938035643809";

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

/// One raw IPv4 TCP packet (checksums left zero: readers do not check).
pub fn tcp(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&src.port().to_be_bytes());
    t.extend_from_slice(&dst.port().to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    super::ipv4(src.ip().octets(), dst.ip().octets(), 6, 0, 0, false, &t)
}

/// Where generated packets go: a capture, or a fuzz seed.
pub trait Out {
    fn packet(&mut self, ip: &[u8]);
}

/// A capture being written: packets 1 µs apart from a fixed start.
pub struct Writer<W: Write> {
    w: PcapWriter<W>,
    micros: i64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Writer { w: PcapWriter::new(out, Linktype::RAW, false, false).expect("write header"), micros: 0 }
    }

    pub fn into_inner(self) -> W {
        self.w.into_inner()
    }
}

impl<W: Write> Out for Writer<W> {
    fn packet(&mut self, ip: &[u8]) {
        let t = Timestamp::new(1_700_000_000 + self.micros / 1_000_000, (self.micros % 1_000_000) as u32 * 1000);
        self.w.packet(t, ip).expect("write packet");
        self.micros += 1;
    }
}

/// An input of the `packets` fuzz target (`teleaudit::harness::packets`):
/// a byte choosing raw IP, then each packet after its one-byte length.
pub struct FuzzSeed(pub Vec<u8>);

impl Default for FuzzSeed {
    fn default() -> Self {
        // Index 1 of the harness's link types: RAW (101).
        FuzzSeed(vec![1])
    }
}

impl Out for FuzzSeed {
    fn packet(&mut self, ip: &[u8]) {
        let len = u8::try_from(ip.len()).expect("seed packets fit a one-byte length");
        self.0.push(len);
        self.0.extend_from_slice(ip);
    }
}

/// The `i`-th flooding client: a distinct address and port per flow.
pub fn flood_client(i: usize) -> SocketAddrV4 {
    let ip = 0x0a00_0000u32 + 1 + (i as u32 / 50_000);
    SocketAddrV4::new(Ipv4Addr::from(ip), 10_000 + (i % 50_000) as u16)
}

/// `n` SYNs from distinct clients, none answered: `n` connections that
/// never send a byte.
pub fn syn_flood(w: &mut impl Out, n: usize) {
    for i in 0..n {
        w.packet(&tcp(flood_client(i), SERVER, i as u32, 0, SYN, b""));
    }
}

/// `flows` connections, each opened with a SYN and then sent `segments`
/// one-byte segments, every one ahead of a byte never sent: nothing is
/// ever in order, nothing adjacent can be merged, and every segment is
/// held until a limit gives up on the holes. The flows are interleaved.
pub fn one_byte_out_of_order(w: &mut impl Out, flows: usize, segments: usize) {
    one_byte_segments(w, flows, segments, 2);
}

/// As [`one_byte_out_of_order`], `stride` bytes apart (1: adjacent, the
/// first byte of the stream missing).
pub fn one_byte_segments(w: &mut impl Out, flows: usize, segments: usize, stride: u32) {
    let isn = 1000u32;
    for f in 0..flows {
        w.packet(&tcp(flood_client(f), SERVER, isn, 0, SYN, b""));
    }
    for s in 0..segments {
        // Data starts at isn + 1; that byte never comes.
        let seq = isn.wrapping_add(2).wrapping_add((s as u32).wrapping_mul(stride));
        for f in 0..flows {
            w.packet(&tcp(flood_client(f), SERVER, seq, 1, PSH_ACK, b"x"));
        }
    }
}

/// A phone's HTTP upload of an IMEI, handshake to close, with `before`
/// SYNs of other clients sent before it and `during` between the two
/// halves of its request: the phone's connection is among the oldest
/// when the flood fills the table.
pub fn syn_flood_with_upload(w: &mut impl Out, before: usize, during: usize) {
    syn_flood(w, before);
    let (c, s) = (PHONE, SERVER);
    let (ci, si) = handshake(w);
    let req = upload_request();
    let (head, tail) = req.split_at(40);
    w.packet(&tcp(c, s, ci, si, PSH_ACK, head));
    for i in before..before + during {
        w.packet(&tcp(flood_client(i), SERVER, i as u32, 0, SYN, b""));
    }
    w.packet(&tcp(c, s, ci + head.len() as u32, si, PSH_ACK, tail));
    finish_upload(w, ci + req.len() as u32, si);
}

/// The phone's upload one byte a segment, out of order: the first half
/// backwards, the rest forwards, every seventh byte sent twice and every
/// eleventh followed by a copy with another byte (the first copy wins),
/// the request's first byte last.
pub fn scrambled_upload(w: &mut impl Out) {
    let (c, s) = (PHONE, SERVER);
    let (ci, si) = handshake(w);
    let req = upload_request();
    let n = req.len();
    let order = (1..n / 2).rev().chain(n / 2..n);
    for (k, i) in order.enumerate() {
        let seq = ci + i as u32;
        w.packet(&tcp(c, s, seq, si, PSH_ACK, &req[i..=i]));
        if k % 7 == 0 {
            w.packet(&tcp(c, s, seq, si, PSH_ACK, &req[i..=i]));
        }
        if k % 11 == 0 {
            w.packet(&tcp(c, s, seq, si, PSH_ACK, b"\0"));
        }
    }
    w.packet(&tcp(c, s, ci, si, PSH_ACK, &req[..1]));
    finish_upload(w, ci + n as u32, si);
}

/// The phone's handshake; returns the first data sequence numbers.
fn handshake(w: &mut impl Out) -> (u32, u32) {
    let (c, s) = (PHONE, SERVER);
    let (ci, si) = (7_000u32, 9_000u32);
    w.packet(&tcp(c, s, ci, 0, SYN, b""));
    w.packet(&tcp(s, c, si, ci + 1, SYN | ACK, b""));
    w.packet(&tcp(c, s, ci + 1, si + 1, ACK, b""));
    (ci + 1, si + 1)
}

fn upload_request() -> Vec<u8> {
    let body = format!("imei={IMEI}&model=LENNY3");
    format!(
        "POST /collect HTTP/1.1\r\nHost: stats.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The server's answer and both FINs, `c` and `s` the next sequence
/// numbers of client and server.
fn finish_upload(w: &mut impl Out, c: u32, s: u32) {
    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    w.packet(&tcp(SERVER, PHONE, s, c, PSH_ACK, answer));
    let s = s + answer.len() as u32;
    w.packet(&tcp(PHONE, SERVER, c, s, FIN_ACK, b""));
    w.packet(&tcp(SERVER, PHONE, s, c + 1, FIN_ACK, b""));
}

/// FNV-1a 64, the flow table's hash before issue 11, fed exactly what
/// std's `Hash` feeds a hasher.
#[derive(Default)]
pub struct Fnv1a(u64);

const FNV_PRIME: u64 = 0x0100_0000_01b3;
const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { FNV_BASIS } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(FNV_PRIME);
        }
        self.0 = h;
    }
}

/// The bytes std's `Hash` feeds a hasher for a value.
#[derive(Default)]
struct Recorder(Vec<u8>);

impl Hasher for Recorder {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn fed<T: Hash>(v: &T) -> Vec<u8> {
    let mut r = Recorder::default();
    v.hash(&mut r);
    r.0
}

/// A flow key as the table forms it: the lower address first.
pub fn key(a: SocketAddrV4, b: SocketAddrV4) -> (SocketAddr, SocketAddr) {
    let (a, b) = (SocketAddr::V4(a), SocketAddr::V4(b));
    if a <= b { (a, b) } else { (b, a) }
}

pub fn fnv1a<T: Hash>(v: &T) -> u64 {
    let mut h = Fnv1a::default();
    v.hash(&mut h);
    h.finish()
}

/// The low bits every colliding key shares.
pub const COLLIDE_BITS: u32 = 16;
pub const COLLIDE_TARGET: u64 = 0x5a5a;

/// `n` clients whose flow keys with [`SERVER`] all share the low
/// [`COLLIDE_BITS`] bits of their FNV-1a hash. A hashbrown table takes
/// its bucket from the low bits, so all of them pile into a few buckets
/// and every insert probes past the others.
///
/// How: FNV-1a's low k bits depend only on the low k bits of its state
/// and on the bytes, each step a bijection mod 2^k. So the bytes after
/// the client's port (the server's address) can be undone mod 2^16 to a
/// state the port's two bytes must reach, and for most client addresses
/// some port reaches it.
pub fn fnv_colliding_clients(n: usize) -> Vec<SocketAddrV4> {
    let mask = (1u64 << COLLIDE_BITS) - 1;
    let inverse = {
        // The inverse of the (odd) prime mod 2^64, by Newton's iteration.
        let mut x = FNV_PRIME;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(FNV_PRIME.wrapping_mul(x)));
        }
        x
    };
    // Where the client's port sits in what the key feeds the hasher.
    let probe = |port: u16| fed(&key(SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 0), port), SERVER));
    let (zero, ones) = (probe(0), probe(0xffff));
    let at = zero.iter().zip(&ones).position(|(a, b)| a != b).expect("port is hashed");
    assert_eq!(probe(0x1234)[at..at + 2], 0x1234u16.to_ne_bytes(), "port fed as two native-order bytes");
    let mut out = Vec::with_capacity(n);
    let mut ip = 0x0a01_0000u32;
    while out.len() < n {
        ip += 1;
        let bytes = fed(&key(SocketAddrV4::new(Ipv4Addr::from(ip), 0), SERVER));
        let mut s = FNV_BASIS;
        for b in &bytes[..at] {
            s = (s ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
        // The state right after the port bytes that ends on the target.
        let mut want = COLLIDE_TARGET;
        for b in bytes[at + 2..].iter().rev() {
            want = (want.wrapping_mul(inverse) ^ u64::from(*b)) & mask;
        }
        let before_last = want.wrapping_mul(inverse) & mask;
        for b1 in 0..=255u64 {
            let u = ((s ^ b1).wrapping_mul(FNV_PRIME)) & mask;
            let b2 = u ^ before_last;
            if b2 < 256 {
                let port = u16::from_ne_bytes([b1 as u8, b2 as u8]);
                if port != 0 {
                    out.push(SocketAddrV4::new(Ipv4Addr::from(ip), port));
                    break;
                }
            }
        }
    }
    out
}

/// One SYN from each client to [`SERVER`], then one data byte each (so
/// every connection is looked up again).
pub fn colliding_flows(w: &mut impl Out, clients: &[SocketAddrV4]) {
    for (i, c) in clients.iter().enumerate() {
        w.packet(&tcp(*c, SERVER, i as u32, 0, SYN, b""));
    }
    for (i, c) in clients.iter().enumerate() {
        w.packet(&tcp(*c, SERVER, (i as u32).wrapping_add(1), 1, PSH_ACK, b"z"));
    }
}
