//! Hostile captures for the capture and decode layers (issue 11): files
//! small enough to write in a test, crafted so that per-record state or
//! per-problem records would grow without bound, or so that bookkeeping
//! per frame would be linear in what is already held. Each generator
//! writes what a capture writer makes; nothing is hand-copied bytes.

use teleaudit::capture::Linktype;
use teleaudit::capture::writer::{PcapWriter, PcapngWriter};
use teleaudit::util::Timestamp;

use super::{Net, ipv4, ts, wiko};

/// A link type no decoder handles (LINKTYPE_USER0).
pub const UNSUPPORTED_LINK: Linktype = Linktype(147);
/// Link types `teleaudit` decodes (decode/mod.rs); skipped when many
/// distinct unsupported ones are wanted.
const DECODED_LINKS: [i32; 18] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276, 105, 127, 192, 258];
/// The time of every hostile record: one instant, so no timeout ever
/// thins out what is held.
const T: i64 = 1_500_000_000;

/// pcapng: one section with one Ethernet interface, then `n` enhanced
/// packet blocks that each name interface 7, which the section never
/// describes.
pub fn missing_interface_blocks(n: usize) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::with_capacity(n * 36 + 64));
    w.section(false).expect("vec");
    w.interface(Linktype::ETHERNET, 6).expect("vec");
    for i in 0..n {
        w.packet(7, ts(T, (i % 1_000_000) as u32), b"x").expect("vec");
    }
    w.into_inner()
}

/// pcapng: `n` interfaces described, all of an unsupported link type,
/// then one packet on each.
pub fn unsupported_interfaces(n: usize) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::with_capacity(n * 68 + 64));
    w.section(false).expect("vec");
    for _ in 0..n {
        w.interface(UNSUPPORTED_LINK, 6).expect("vec");
    }
    for i in 0..n {
        w.packet(i as u32, ts(T, 0), b"frame").expect("vec");
    }
    w.into_inner()
}

/// pcapng: up to `n` interfaces, each of its own unsupported link type
/// (all 16-bit values but those decoded), then `per` rounds of one
/// packet on each interface.
pub fn distinct_link_types(n: usize, per: usize) -> Vec<u8> {
    let links: Vec<i32> = (0..=i32::from(u16::MAX)).filter(|l| !DECODED_LINKS.contains(l)).take(n).collect();
    let mut w = PcapngWriter::new(Vec::with_capacity(links.len() * (per + 1) * 36 + 64));
    w.section(false).expect("vec");
    for &l in &links {
        w.interface(Linktype(l), 6).expect("vec");
    }
    for _ in 0..per {
        for i in 0..links.len() {
            w.packet(i as u32, ts(T, 0), b"frame").expect("vec");
        }
    }
    w.into_inner()
}

const HOSTILE_SRC: [u8; 4] = [198, 51, 100, 66];
const HOSTILE_DST: [u8; 4] = [203, 0, 113, 99];
const IPPROTO_UDP: u8 = 17;

/// Raw-IP packets: `n` one-byte fragments of one UDP datagram, each at
/// its own 8-byte slot (offsets cycle through all 8,191 slots), none the
/// last, so the datagram never completes and holds ever more disjoint
/// ranges.
pub fn one_byte_fragments(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| ipv4(HOSTILE_SRC, HOSTILE_DST, IPPROTO_UDP, 0x4242, (1 + i % 8190) * 8, true, b"z")).collect()
}

/// Raw-IP packets: the first fragment of `n` distinct datagrams (ids
/// and source addresses vary), none ever completed.
pub fn never_complete(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let src = [10, 66, (i >> 16) as u8, (i >> 8) as u8];
            ipv4(src, HOSTILE_DST, IPPROTO_UDP, i as u16, 0, true, &[0u8; 16])
        })
        .collect()
}

/// The HTTP request with an IMEI that must still be found.
pub fn imei_request() -> Vec<u8> {
    format!(
        "GET /collect?imei={}&model=LENNY3 HTTP/1.1\r\nHost: t.example\r\nUser-Agent: hostile-capture\r\n\r\n",
        wiko::IMEI1
    )
    .into_bytes()
}

/// A whole HTTP exchange carrying [`imei_request`], with the request's
/// data segment cut into IPv4 fragments of 16 bytes sent last first.
pub fn fragmented_imei_exchange(t: Timestamp) -> Vec<Vec<u8>> {
    let mut net = Net::default();
    net.http(
        t,
        "10.20.0.23:41000",
        "203.0.113.10:80",
        &imei_request(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        7,
    );
    let request = imei_request();
    let mut out = Vec::new();
    for (_, p) in &net.packets {
        let hl = usize::from(p[0] & 0x0f) * 4;
        // The client's data segment: the only packet that carries the
        // request line.
        if !p.windows(14).any(|w| w == b"GET /collect?i") {
            out.push(p.clone());
            continue;
        }
        debug_assert!(p.len() > hl + request.len());
        let (src, dst) = ([p[12], p[13], p[14], p[15]], [p[16], p[17], p[18], p[19]]);
        let body = &p[hl..];
        let pieces: Vec<(usize, &[u8])> = body.chunks(16).enumerate().map(|(i, c)| (i * 16, c)).collect();
        let last = pieces.len() - 1;
        for (i, (off, c)) in pieces.into_iter().enumerate().rev() {
            out.push(ipv4(src, dst, p[9], 0x1717, off, i != last, c));
        }
    }
    out
}

/// Legacy pcap, raw IP, every packet at the hostile instant then the
/// fragmented IMEI exchange one second later.
pub fn raw_pcap(hostile: &[Vec<u8>], with_imei: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), Linktype::RAW, false, false).expect("vec");
    for p in hostile {
        w.packet(ts(T, 0), p).expect("vec");
    }
    if with_imei {
        for p in fragmented_imei_exchange(ts(T + 1, 0)) {
            w.packet(ts(T + 1, 0), &p).expect("vec");
        }
    }
    w.into_inner()
}

/// Runs `teleaudit scan --format jsonl` on `bytes` written to a file of
/// its own; the output records, in order.
pub fn scan_jsonl(name: &str, bytes: &[u8]) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("teleaudit-hostile-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write capture");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["scan", "--format", "jsonl"])
        .arg(&path)
        .output()
        .expect("run teleaudit");
    let _ = std::fs::remove_file(&path);
    assert!(matches!(out.status.code(), Some(0..=2)), "teleaudit died: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The records of one type.
pub fn of_type<'a>(records: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// Peak resident memory the run reported.
pub fn peak_memory(records: &[serde_json::Value]) -> u64 {
    let s = of_type(records, "summary");
    s.first().and_then(|s| s["peak_memory_bytes"].as_u64()).expect("summary with peak_memory_bytes")
}
