//! Review of issue 15's speed pass (commits after 0fb5ebb), which claims
//! output identical to the code before it and to itself for every `-j`.
//! Each test here is an input on which the claim was checked: those that
//! fail show where the new code behaves differently from the old.
mod support;

use std::io::Write;
use std::path::Path;

use serde_json::Value;
use support::{Link, Net, Wrap, ts};
use teleaudit::capture::Linktype;
use teleaudit::capture::writer::{PcapWriter, PcapngWriter};

const IMEI: &str = "356938035643809";

/// The binary under test; `SPEED_PASS_BIN` runs these tests against
/// another build (the code before issue 15's speed pass, built from
/// 0fb5ebb, on which they pass).
fn run(path: &Path, jobs: &str) -> String {
    let bin = std::env::var_os("SPEED_PASS_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_teleaudit").into());
    let out = std::process::Command::new(bin)
        .args(["scan", "--format", "jsonl", "-j", jobs])
        .arg(path)
        .output()
        .expect("run teleaudit");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "teleaudit died: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 JSON Lines")
}

/// The JSON Lines with the run's timings and memory taken out.
fn steady(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            strip(&mut v);
            v
        })
        .collect()
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("elapsed_seconds");
            m.remove("peak_memory_bytes");
            m.remove("elapsed_secs");
            for x in m.values_mut() {
                strip(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

fn peak(jsonl: &str) -> u64 {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .and_then(|s| s["peak_memory_bytes"].as_u64())
        .expect("summary with peak_memory_bytes")
}

fn findings(jsonl: &str) -> Vec<Value> {
    steady(jsonl).into_iter().filter(|v| v["type"] == "finding").collect()
}

fn tcp_frame(sport: u16, seq: u32, payload: &[u8], pad_to: usize) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&1u32.to_be_bytes());
    tcp.extend_from_slice(&[0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]); // ACK
    tcp.extend_from_slice(payload);
    let ip = support::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, 0, 0, false, &tcp);
    let mut f = Link::Ethernet.frame(&ip);
    // Ethernet padding after the IP packet (its total length says where
    // the packet ends).
    f.resize(pad_to.max(f.len()), 0);
    f
}

/// With `-j 2` the workers read payloads in the reader's buffers, and a
/// round holds every buffer one of its payloads is in. A round ends after
/// 2048 frames or 1 MiB of payload, so frames that are large but carry
/// little payload (Ethernet padding here; a bare ACK beside large frames
/// of other protocols does the same) pin 2048 frames' worth of buffers
/// per round, where the copy before pinned their payloads only (none
/// here). 64 KiB frames: 128 MiB held per round; with 256 KiB records
/// (libpcap's snaplen) it is 512 MiB per round, more with larger records
/// (up to 64 MiB each are accepted).
#[test]
fn large_frames_with_small_payloads_do_not_pin_the_readers_buffers() {
    let dir = support::tmpdir("speed-pass-pinned");
    // Bare ACKs, then segments of five bytes: a round counts the buffers
    // its payloads are the first to point into, not only their bytes.
    for (name, payload) in [("acks", &b""[..]), ("small", &b"hello"[..])] {
        let path = dir.join(format!("padded-{name}.pcap"));
        let mut w = PcapWriter::new(
            std::io::BufWriter::new(std::fs::File::create(&path).unwrap()),
            Linktype::ETHERNET,
            false,
            false,
        )
        .unwrap();
        for i in 0..2040u32 {
            // Many connections, each frame padded to 64 KiB.
            let frame = tcp_frame(40_000 + (i % 500) as u16, i, payload, 64 << 10);
            w.packet(ts(1_700_000_000 + i64::from(i), 0), &frame).unwrap();
        }
        w.into_inner().flush().unwrap();
        let one = run(&path, "1");
        let two = run(&path, "2");
        assert_eq!(steady(&one), steady(&two), "{name}: -j 1 and -j 2 differ");
        let (p1, p2) = (peak(&one), peak(&two));
        // The old code copied no more than the payloads here: both runs
        // peak alike.
        assert!(p2 < p1 + (48 << 20), "{name}: -j 2 peaked at {} MiB, -j 1 at {} MiB", p2 >> 20, p1 >> 20);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTP uploads of an IMEI seen through every wrapping the decoder
/// unwraps (GRE, VXLAN, GTP-U, IP-in-IP, IPv4 fragments reassembled in
/// the decoder's scratch buffer), plain IPv4 and IPv6 beside them, frames
/// of every size up to records larger than the reader's window, in pcap,
/// pcapng and gzip-compressed pcapng: `-j 1`, `-j 2` and `-j 3` give the
/// same JSON Lines.
#[test]
fn every_worker_count_gives_the_same_lines_on_wrapped_fragmented_and_huge_frames() {
    let mut net = Net::default();
    let mut n = 0u32;
    let request = |i: u32, body_len: usize| {
        let mut body = format!("imei={IMEI}&i={i}&pad=").into_bytes();
        body.resize(body_len, b'x');
        let mut r = format!(
            "POST /u{i} HTTP/1.1\r\nHost: h{}.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            i % 7,
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(&body);
        r
    };
    for round in 0..40u32 {
        for (client, server) in [("10.1.0.1:41000", "192.0.2.80:80"), ("[2001:db8::1]:41000", "[2001:db8::80]:80")] {
            n += 1;
            let port = 41_000 + (n % 2000) as u16;
            let client = client.replace("41000", &port.to_string());
            let len = [40, 300, 1200, 9000, 70_000][(n % 5) as usize];
            let mut one = Net::default();
            one.http(
                ts(1_700_000_000 + i64::from(n), 0),
                &client,
                server,
                &request(n, len),
                b"HTTP/1.1 204 No Content\r\n\r\n",
                n * 7919,
            );
            let wrap =
                [None, Some(Wrap::Gre), Some(Wrap::Vxlan), Some(Wrap::GtpU), Some(Wrap::IpInIp), Some(Wrap::Fragments)]
                    [(round % 6) as usize];
            for (t, p) in one.packets {
                match wrap {
                    Some(w) if p[0] >> 4 == 4 => {
                        for q in w.apply(&p, (n & 0xffff) as u16) {
                            net.push(t, q);
                        }
                    }
                    _ => net.push(t, p),
                }
            }
        }
    }
    // A few huge records (a TSO capture's 60 KiB segments and a 2 MiB
    // one, larger than the reader's 1 MiB window).
    for (i, len) in [(0u32, 60_000usize), (1, 2 << 20), (2, 65_000)] {
        let frame = tcp_frame(50_000 + i as u16, 1, format!("GET /h?imei={IMEI} HTTP/1.1\r\n\r\n").as_bytes(), len);
        let ip = frame[14..].to_vec();
        let mut padded = ip.clone();
        padded.resize(len, 0);
        net.push(ts(1_800_000_000 + i64::from(i), 0), padded);
    }
    let dir = support::tmpdir("speed-pass-jobs");
    let pcap = support::pcap(&net, Link::Ethernet, false, false);
    let pcapng = support::pcapng(&net, &[(Link::Ethernet, 6), (Link::Raw, 9), (Link::LinuxSll, 6)], true);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&pcapng).unwrap();
    let gz = gz.finish().unwrap();
    for (name, bytes) in [("a.pcap", &pcap), ("a.pcapng", &pcapng), ("a.pcapng.gz", &gz)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let one = steady(&run(&path, "1"));
        let found = one.iter().filter(|v| v["type"] == "finding").count();
        assert!(found >= 80, "{name}: {found} findings");
        for jobs in ["2", "3"] {
            let other = steady(&run(&path, jobs));
            assert_eq!(one.len(), other.len(), "{name}: -j 1 and -j {jobs} give different line counts");
            for (a, b) in one.iter().zip(&other) {
                assert_eq!(a, b, "{name}: -j 1 and -j {jobs}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gzip body damaged near its start (a capture gap, a flipped bit):
/// the bytes inflated before the damage are read for identifiers. Before
/// issue 15 the IMEI at the body's start was found; the pre-sized output
/// buffer makes the first read take everything before the damage, and the
/// error drops it (see `codec::compress` tests).
#[test]
fn an_imei_before_damage_in_a_gzip_body_is_still_found() {
    let mut plain = Vec::new();
    let mut x = 1u64;
    while plain.len() < 200_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        plain.extend_from_slice(format!("imei={IMEI}&n={}&", x >> 20).as_bytes());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let mut gz = gz.finish().unwrap();
    for b in &mut gz[100..164] {
        *b = 0xff;
    }
    let mut req = format!(
        "POST /collect HTTP/1.1\r\nHost: t.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    req.extend_from_slice(&gz);
    let mut net = Net::default();
    net.http(ts(1_700_000_000, 0), "10.0.0.1:40000", "192.0.2.1:80", &req, b"HTTP/1.1 204 No Content\r\n\r\n", 1000);
    let dir = support::tmpdir("speed-pass-gzip");
    let path = dir.join("damaged.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let out = run(&path, "1");
    let _ = std::fs::remove_dir_all(&dir);
    let imeis = findings(&out).into_iter().filter(|f| f["kind"] == "imei").count();
    assert!(imeis > 0, "no IMEI found in the bytes before the damage:\n{out}");
}

/// pcapng read in pieces with large blocks between small ones, and
/// frames held by workers: `-j 2` reads the same frames as `-j 1`
/// (pcapng, a section's blocks larger than the window).
#[test]
fn pcapng_with_blocks_larger_than_the_window_reads_alike_for_every_worker_count() {
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype::RAW, 6).unwrap();
    let mut net = Net::default();
    for i in 0..300u32 {
        let port = 30_000 + i as u16;
        net.http(
            ts(1_700_000_000 + i64::from(i), 0),
            &format!("10.2.0.1:{port}"),
            "192.0.2.9:80",
            format!("GET /p?imei={IMEI}&i={i} HTTP/1.1\r\nHost: p.example\r\n\r\n").as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            i * 31,
        );
    }
    for (i, (t, p)) in net.packets.iter().enumerate() {
        w.packet(0, *t, p).unwrap();
        if i % 97 == 0 {
            // A large frame of another protocol between them.
            let big = support::ipv4([10, 9, 9, 9], [10, 9, 9, 8], 1, 0, 0, false, &vec![0u8; 1_200_000]);
            w.packet(0, *t, &big).unwrap();
        }
    }
    let dir = support::tmpdir("speed-pass-pcapng");
    let path = dir.join("big.pcapng");
    std::fs::write(&path, w.into_inner()).unwrap();
    let one = steady(&run(&path, "1"));
    let two = steady(&run(&path, "2"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(one, two);
    assert!(one.iter().filter(|v| v["type"] == "finding").count() >= 300);
}
